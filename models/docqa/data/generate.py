#!/usr/bin/python3
"""Generate the "spoken question about a document" dataset.

  /usr/bin/python3 generate.py OUT_DIR

Writes, under OUT_DIR (models/docqa/data/build_data.sh runs it and checks the result against the
SHA256SUMS beside this script):
  docs/dNN.jpg          document images (grey, JPEG), rendered with PIL from known fields
  audio/qNN.wav         spoken questions, 16 kHz mono s16le WAV, synthesised with espeak-ng
  labels/documents.json every document: type, fields (key, value), render parameters, full text
  labels/questions.csv  every question: id, document type, asked key, spoken text, voice, speed, SNR
  labels/items.csv      every (question, document of that type) pair with its answer: the
                        unit the join works on and end-to-end accuracy is counted over
  labels/domain.gram    JSGF grammar of every question the schema allows (ASR "grammar" variants)
  SHA256SUMS            checksums of all of the above

Run with Debian's interpreter (needs python3-pil, python3-numpy, espeak-ng, sox,
fonts-dejavu-core): a python3 earlier on PATH may not see Debian's python3-pil/python3-numpy.
Everything is seeded; the same package versions give byte-identical files.
"""
import csv
import hashlib
import io
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import wave

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

OUT = None  # the output directory, set from argv in main()
FONT_DIR = "/usr/share/fonts/truetype/dejavu"
FONTS = ["DejaVuSans", "DejaVuSerif", "DejaVuSansMono"]  # all in fonts-dejavu-core
SEED = 20241124
N_DOCS = 24
QUESTIONS_PER_KEY = 2

FIRST = ["Margaret", "Daniel", "Aisha", "Tomas", "Priya", "Henrik", "Chloe", "Mateo",
         "Ingrid", "Samuel", "Yuki", "Oliver", "Fatima", "Lucas", "Elena", "Kwame"]
LAST = ["Olsen", "Brennan", "Okafor", "Lindqvist", "Sharma", "Dubois", "Moreau", "Castillo",
        "Nakamura", "Fischer", "Hughes", "Novak", "Mensah", "Rossi", "Keller", "Walsh"]
CITIES = ["Rotterdam", "Glasgow", "Lyon", "Porto", "Leipzig", "Bergen", "Tampere", "Krakow",
          "Bologna", "Seville", "Dublin", "Graz"]
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
LETTERS = "ABCDEFGHJKLMNPRSTUVWXYZ"  # no I/O: printed codes avoid them too


def name(r):
    return f"{r.choice(FIRST)} {r.choice(LAST)}"


def date(r):
    return f"{r.randint(1, 28):02d} {r.choice(MONTHS)} {r.randint(2023, 2025)}"


def code(r, n_letters, n_digits):
    return "".join(r.choice(LETTERS) for _ in range(n_letters)) + "".join(
        str(r.randint(0, 9)) for _ in range(n_digits))


# Document types: title and (key, value generator). Keys are what the questions name.
DOC_TYPES = {
    "boarding_pass": ("BOARDING PASS", [
        ("Passenger", name),
        ("Flight", lambda r: f"{code(r, 2, 0)} {r.randint(100, 9999)}"),
        ("Gate", lambda r: f"{r.choice('ABCDEF')}{r.randint(1, 48)}"),
        ("Seat", lambda r: f"{r.randint(1, 38)}{r.choice('ABCDEF')}"),
        ("Boarding time", lambda r: f"{r.randint(5, 23):02d}:{r.choice(range(0, 60, 5)):02d}"),
        ("Terminal", lambda r: str(r.randint(1, 5))),
    ]),
    "invoice": ("INVOICE", [
        ("Invoice number", lambda r: f"INV-{r.randint(10000, 99999)}"),
        ("Customer", name),
        ("Invoice date", date),
        ("Total", lambda r: f"{r.randint(12, 4999)}.{r.randint(0, 99):02d} EUR"),
        ("Due date", date),
        ("Account number", lambda r: f"{r.randint(1000, 9999)}-{r.randint(1000, 9999)}"),
    ]),
    "hotel_booking": ("HOTEL BOOKING", [
        ("Guest", name),
        ("Room", lambda r: str(r.randint(101, 940))),
        ("Floor", lambda r: str(r.randint(1, 9))),
        ("Arrival", date),
        ("Departure", date),
        ("Confirmation number", lambda r: code(r, 3, 5)),
    ]),
    "shipping_label": ("SHIPPING LABEL", [
        ("Order number", lambda r: f"ORD-{r.randint(10000, 99999)}"),
        ("Weight", lambda r: f"{r.randint(1, 30)}.{r.randint(0, 9)} kg"),
        ("Recipient", name),
        ("City", lambda r: r.choice(CITIES)),
        ("Postal code", lambda r: f"{r.randint(1000, 9999)} {r.choice(LETTERS)}{r.choice(LETTERS)}"),
        ("Tracking number", lambda r: f"{code(r, 2, 4)} {r.randint(1000, 9999)} {r.randint(10, 99)}"),
    ]),
}
FOOTERS = ["Keep this document until the end of your journey.",
           "Questions? Contact customer service and quote the reference above.",
           "This document was generated automatically and is valid without signature.",
           "Please check all details carefully and report errors within 14 days."]
# Spoken question templates; "{k}" is the key in lower case.
TEMPLATES = ["what is the {k}", "tell me the {k}", "please read the {k}",
             "what does it say for the {k}", "can you find the {k}"]
# ASR conditions cycled over the questions: (espeak-ng voice, words per minute, SNR dB).
VOICES = ["en-us", "en-gb", "en-us+f3", "en-gb-scotland", "en-029", "en-us+m7",
          "en-gb-x-rp+f2", "en-us+m3"]
SPEEDS = [135, 150, 165, 180]
SNRS_DB = [30, 18, 14, 11, 9, 7]


def render_doc(r, doc_id, dtype):
    title, schema = DOC_TYPES[dtype]
    fields = [(k, gen(r)) for k, gen in schema]
    # Difficulty rises with the document index, with jitter, so variants spread out.
    level = (doc_id % 6) / 5.0
    font_name = FONTS[doc_id % len(FONTS)]
    size = int(round(22 - 10 * level + r.uniform(-1, 1)))       # 12..23 px glyph size
    blur = round(0.2 + 0.9 * level * r.uniform(0.6, 1.0), 2)    # Gaussian radius px
    noise = round(4 + 14 * level * r.uniform(0.6, 1.0), 1)      # sigma, grey levels
    angle = round(r.uniform(-1.0, 1.0) * (0.3 + 1.2 * level), 2)  # degrees
    quality = int(85 - 30 * level)                               # JPEG quality
    font = ImageFont.truetype(f"{FONT_DIR}/{font_name}.ttf", size)
    bold = ImageFont.truetype(f"{FONT_DIR}/{font_name}-Bold.ttf", int(size * 1.5))
    small = ImageFont.truetype(f"{FONT_DIR}/{font_name}.ttf", max(9, int(size * 0.7)))
    line_h = int(size * 1.7)
    width = int(size * 34)
    height = int(size * 3 + line_h * (len(fields) + 4))
    img = Image.new("L", (width, height), 245)
    d = ImageDraw.Draw(img)
    d.rectangle([4, 4, width - 5, height - 5], outline=60, width=2)
    y = int(size * 0.8)
    d.text((int(size * 1.2), y), title, font=bold, fill=20)
    # A barcode-like block at the top right: clutter the OCR must skip.
    bx = width - int(size * 9)
    for i in range(int(size * 7) // 3):
        if r.random() < 0.6:
            d.rectangle([bx + 3 * i, y, bx + 3 * i + 1, y + int(size * 1.4)], fill=30)
    y += int(size * 2.6)
    for k, v in fields:
        d.text((int(size * 1.2), y), f"{k}: {v}", font=font, fill=r.randint(10, 50))
        y += line_h
    y += int(line_h * 0.6)
    footer = r.choice(FOOTERS)
    d.text((int(size * 1.2), y), footer, font=small, fill=90)
    # Degrade: rotate, blur, add noise, JPEG-compress.
    img = img.rotate(angle, resample=Image.BICUBIC, expand=True, fillcolor=245)
    img = img.filter(ImageFilter.GaussianBlur(blur))
    a = np.asarray(img, dtype=np.float64)
    nrng = np.random.default_rng(SEED + doc_id)
    a = np.clip(a + nrng.normal(0.0, noise, a.shape), 0, 255).astype(np.uint8)
    img = Image.fromarray(a, "L")
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=quality, optimize=True)
    text = "\n".join([title] + [f"{k}: {v}" for k, v in fields] + [footer])
    meta = {"id": f"d{doc_id:02d}", "type": dtype, "file": f"docs/d{doc_id:02d}.jpg",
            "fields": [{"key": k, "value": v} for k, v in fields], "text": text,
            "render": {"font": font_name, "size_px": size, "blur_px": blur,
                       "noise_sigma": noise, "rotate_deg": angle, "jpeg_quality": quality,
                       "width": img.width, "height": img.height}}
    return buf.getvalue(), meta


def synth(text, voice, wpm, snr_db, seed, tmp):
    raw = os.path.join(tmp, "raw.wav")
    res = os.path.join(tmp, "16k.wav")
    subprocess.run(["espeak-ng", "-v", voice, "-s", str(wpm), "-w", raw, text], check=True)
    # 22050 Hz -> 16 kHz mono s16, 3 dB headroom, 0.4 s of silence either side.
    # -R: repeatable dither (sox seeds its dither noise randomly otherwise).
    subprocess.run(["sox", "-R", "-V1", raw, "-r", "16000", "-b", "16", "-c", "1", res,
                    "gain", "-3", "pad", "0.4", "0.4"], check=True)
    with wave.open(res) as w:
        x = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16).astype(np.float64)
    speech = x[np.abs(x) > 50]
    p = float(np.mean(speech ** 2)) if speech.size else 1.0
    rng = np.random.default_rng(seed)
    y = x + rng.standard_normal(len(x)) * np.sqrt(p / 10 ** (snr_db / 10))
    y = np.clip(np.round(y), -32768, 32767).astype(np.int16)
    buf = io.BytesIO()
    with wave.open(buf, "wb") as o:
        o.setnchannels(1)
        o.setsampwidth(2)
        o.setframerate(16000)
        o.writeframes(y.tobytes())
    return buf.getvalue(), len(y) / 16000.0


def grammar():
    keys = sorted({k.lower() for _, schema in DOC_TYPES.values() for k, _ in schema})
    leads = sorted({t.replace(" {k}", "") for t in TEMPLATES})
    return ("#JSGF V1.0;\ngrammar question;\npublic <question> = <lead> <key>;\n"
            f"<lead> = {' | '.join(leads)};\n<key> = {' | '.join(keys)};\n")


def main():
    global OUT
    if len(sys.argv) != 2:
        sys.exit("usage: generate.py OUT_DIR")
    OUT = os.path.abspath(sys.argv[1])
    for tool in ("espeak-ng", "sox"):
        if shutil.which(tool) is None:
            sys.exit(f"generate.py: {tool} not found (apt-get install {tool})")
    r = random.Random(SEED)
    for sub in ("docs", "audio", "labels"):
        os.makedirs(os.path.join(OUT, sub), exist_ok=True)
    types = list(DOC_TYPES)
    docs, questions, items = [], [], []
    for i in range(N_DOCS):
        data, meta = render_doc(r, i, types[i % len(types)])
        with open(os.path.join(OUT, meta["file"]), "wb") as f:
            f.write(data)
        docs.append(meta)
    # Every key of every document type is asked QUESTIONS_PER_KEY times, each time with a
    # random phrasing and the next voice / speed / noise condition in the cycle.
    asks = [(t, k) for t in types for k, _ in DOC_TYPES[t][1]] * QUESTIONS_PER_KEY
    r.shuffle(asks)
    with tempfile.TemporaryDirectory() as tmp:
        for qn, (dtype, key) in enumerate(asks):
            text = r.choice(TEMPLATES).format(k=key.lower())
            voice = VOICES[qn % len(VOICES)]
            wpm = SPEEDS[(qn // len(VOICES)) % len(SPEEDS)]
            snr = SNRS_DB[qn % len(SNRS_DB)]
            wav, dur = synth(text, voice, wpm, snr, SEED + 1000 + qn, tmp)
            qfile = f"audio/q{qn:02d}.wav"
            with open(os.path.join(OUT, qfile), "wb") as f:
                f.write(wav)
            questions.append({"id": f"q{qn:02d}", "doc_type": dtype, "key": key, "text": text,
                              "file": qfile, "voice": voice, "wpm": wpm, "snr_db": snr,
                              "duration_s": round(dur, 3)})
    # An item is one question asked about one document of its type: the join's unit of work.
    for q in questions:
        for d in docs:
            if d["type"] == q["doc_type"]:
                value = next(f["value"] for f in d["fields"] if f["key"] == q["key"])
                items.append({"id": f"{q['id']}-{d['id']}", "question": q["id"], "doc": d["id"],
                              "answer": value})
    with open(os.path.join(OUT, "labels/documents.json"), "w") as f:
        json.dump(docs, f, indent=1)
        f.write("\n")
    for name, rows in (("questions", questions), ("items", items)):
        with open(os.path.join(OUT, f"labels/{name}.csv"), "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(rows[0]), lineterminator="\n")
            w.writeheader()
            w.writerows(rows)
    with open(os.path.join(OUT, "labels/domain.gram"), "w") as f:
        f.write(grammar())
    files = sorted([d["file"] for d in docs] + [q["file"] for q in questions] +
                   [f"labels/{n}" for n in ("documents.json", "questions.csv", "items.csv",
                                            "domain.gram")])
    with open(os.path.join(OUT, "SHA256SUMS"), "w") as f:
        for p in files:
            with open(os.path.join(OUT, p), "rb") as g:
                f.write(f"{hashlib.sha256(g.read()).hexdigest()}  {p}\n")
    print(f"{len(docs)} documents, {len(questions)} questions, {len(items)} items "
          f"written under {OUT}")


if __name__ == "__main__":
    main()
