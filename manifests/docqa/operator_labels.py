#!/usr/bin/python3
"""Writes the docqa operators' own labels as dataset indices beside the data set, for
`jbctl profile --data OCR=... --data SpeechRecognition=...` (docs/real-models.md):

  DATA/ocr-labels.jsonl  {"key": item, "file": "docs/dNN.jpg",  "label": the document's rendered text}
  DATA/asr-labels.jsonl  {"key": item, "file": "audio/qNN.wav", "label": the question's text}

one line per item of labels/items.csv. Usage: operator_labels.py DATA (default build/docqa-data)."""
import csv, json, os, sys

data = sys.argv[1] if len(sys.argv) > 1 else "build/docqa-data"
docs = {d["id"]: d for d in json.load(open(os.path.join(data, "labels/documents.json")))}
questions = {q["id"]: q for q in csv.DictReader(open(os.path.join(data, "labels/questions.csv")))}
items = list(csv.DictReader(open(os.path.join(data, "labels/items.csv"))))
with open(os.path.join(data, "ocr-labels.jsonl"), "w") as ocr, open(os.path.join(data, "asr-labels.jsonl"), "w") as asr:
    for it in items:
        d, q = docs[it["doc"]], questions[it["question"]]
        ocr.write(json.dumps({"key": it["id"], "file": d["file"], "label": d["text"]}) + "\n")
        asr.write(json.dumps({"key": it["id"], "file": q["file"], "label": q["text"]}) + "\n")
print(f"{len(items)} items: {data}/ocr-labels.jsonl, {data}/asr-labels.jsonl")
