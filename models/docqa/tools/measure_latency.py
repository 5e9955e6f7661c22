#!/usr/bin/python3
"""Per-item latency of each docqa variant on this machine, over exec framing v2.

  models/docqa/tools/measure_latency.py BUILD_DIR [--items N] [--reps R] [--cpu C]

Starts each variant's process pinned to CPU C (taskset) with OMP_THREAD_LIMIT=1, as the
reference run did, sends one untimed warm-up item, then the first N documents (OCR) or questions
(ASR) R times each; an item's figure is the median of its reps, p50/p75/p90 are over items
(linear interpolation). Prints them beside models/docqa/reference/variants.csv. A quick check of
a machine, not a profile: `jbctl profile` is the tool for that.
"""
import argparse
import csv
import os
import statistics
import struct
import subprocess
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REF = os.path.join(os.path.dirname(HERE), "reference", "variants.csv")


def frame(body):
    return b"JBX\x02" + struct.pack("<I", len(body)) + body


def request(key, part, data):
    return frame(b"Q" + struct.pack("<H", len(key)) + key + struct.pack("<H", 1) +
                 struct.pack("<H", len(part)) + part + struct.pack("<I", len(data)) + data)


def read_frame(f):
    head = f.read(8)
    if len(head) < 8 or head[:4] != b"JBX\x02":
        raise EOFError("no v2 frame from the model")
    (n,) = struct.unpack("<I", head[4:])
    return f.read(n)


def quantile(xs, q):
    xs = sorted(xs)
    pos = q * (len(xs) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def measure(argv, part, inputs, reps, cpu):
    env = dict(os.environ, OMP_THREAD_LIMIT="1")
    p = subprocess.Popen(["taskset", "-c", str(cpu), *argv], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, env=env)
    p.stdin.write(frame(b"H" + struct.pack("<I", 13) + b'{"framing":2}'))
    p.stdin.flush()
    read_frame(p.stdout)  # the model's hello
    p.stdin.write(request(b"warm-up", part, inputs[0]))
    p.stdin.flush()
    read_frame(p.stdout)
    per_item = []
    for i, data in enumerate(inputs):
        samples = []
        for _ in range(reps):
            t = time.perf_counter()
            p.stdin.write(request(str(i).encode(), part, data))
            p.stdin.flush()
            body = read_frame(p.stdout)
            samples.append((time.perf_counter() - t) * 1000.0)
            if body[:1] != b"A":
                raise RuntimeError(f"{argv}: error answer {body!r}")
        per_item.append(statistics.median(samples))
    p.stdin.close()
    p.wait(timeout=30)
    return [quantile(per_item, q) for q in (0.5, 0.75, 0.9)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("--items", type=int, default=8)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--cpu", type=int, default=1)
    a = ap.parse_args()
    data = os.path.join(a.build, "docqa-data")
    bin_dir = os.path.join(a.build, "models", "docqa")
    docs = [open(os.path.join(data, "docs", f"d{i:02d}.jpg"), "rb").read() for i in range(a.items)]
    qs = [open(os.path.join(data, "audio", f"q{i:02d}.wav"), "rb").read() for i in range(a.items)]
    gram = os.path.join(data, "labels", "domain.gram")
    ocr, asr = os.path.join(bin_dir, "jb-docqa-ocr"), os.path.join(bin_dir, "jb-docqa-asr")
    variants = [(f"tess-eng-x{s}", [ocr, "--scale", s], b"ReadDocument", docs) for s in ("0.5", "0.75", "1", "1.5")]
    variants += [("ps-grammar-ds3", [asr, "-jsgf", gram, "-ds", "3"], b"ReadQuestion", qs),
                 ("ps-grammar-ds2", [asr, "-jsgf", gram, "-ds", "2"], b"ReadQuestion", qs),
                 ("ps-grammar", [asr, "-jsgf", gram], b"ReadQuestion", qs)]
    ref = {r["variant"]: r for r in csv.DictReader(open(REF))}
    print(f"load average {os.getloadavg()[0]:.1f}; {a.items} items x {a.reps} reps, pinned to cpu {a.cpu}")
    print(f"{'variant':16s} {'p50':>7s} {'p75':>7s} {'p90':>7s}   reference p50/p75/p90 ms   p50 ratio")
    for name, argv, part, inputs in variants:
        p50, p75, p90 = measure(argv, part, inputs, a.reps, a.cpu)
        r = ref[name]
        print(f"{name:16s} {p50:7.1f} {p75:7.1f} {p90:7.1f}   {float(r['p50_ms']):.1f}/{float(r['p75_ms']):.1f}/"
              f"{float(r['p90_ms']):.1f}   {p50 / float(r['p50_ms']):.2f}", flush=True)


if __name__ == "__main__":
    main()
