#!/usr/bin/python3
"""Writes the docqa data set's dataset-source indices (the JSON-lines format of docs/ingress.md):

  OUT_DIR/documents.jsonl   the ReadDocument source: {"key": "q00-d03", "file": "docs/d03.jpg", "label": ...}
  OUT_DIR/questions.jsonl   the ReadQuestion source: {"key": "q00-d03", "file": "audio/q00.wav", "label": ...}

One line per item of labels/items.csv (288), both indices in the same order: items.csv's order
shuffled with a fixed seed (ORDER_SEED). items.csv lists the items question by question, hardest
first, so a replay in its order made the first half minute of observed accuracy read far below the
set's (and SLOMet False AccuracyBelowFloor until the window filled); shuffled, any prefix is a
sample of the whole set. Both sources carry the item's key, so their parts join by it, and its
labelled answer. Files are relative to OUT_DIR, where the indices
are. Run by build_data.sh after the set has passed its SHA256SUMS check.
  /usr/bin/python3 make_index.py OUT_DIR
"""
import csv
import json
import os
import random
import sys

ORDER_SEED = 20261202


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: make_index.py OUT_DIR")
    out = sys.argv[1]
    with open(os.path.join(out, "labels", "documents.json")) as f:
        docs = {d["id"]: d["file"] for d in json.load(f)}
    with open(os.path.join(out, "labels", "questions.csv")) as f:
        questions = {q["id"]: q["file"] for q in csv.DictReader(f)}
    with open(os.path.join(out, "labels", "items.csv")) as f:
        items = list(csv.DictReader(f))
    random.Random(ORDER_SEED).shuffle(items)
    for name, files, column in (("documents", docs, "doc"), ("questions", questions, "question")):
        with open(os.path.join(out, f"{name}.jsonl"), "w") as f:
            for it in items:
                f.write(json.dumps({"key": it["id"], "file": files[it[column]], "label": it["answer"]}) + "\n")


if __name__ == "__main__":
    main()
