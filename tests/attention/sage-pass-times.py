#!/usr/bin/env python3
"""The median of each named time per shape in the pass-time lines that
RAYLIGHT_SAGE_PASS_TIMES=1 makes the sage variant print to stderr
("sage passes H h Lq q Lk k ms: name t name t ..."), one line per shape.

    python3 tests/attention/sage-pass-times.py passes.txt
"""
import collections
import statistics
import sys

runs = collections.OrderedDict()
for line in open(sys.argv[1]):
    f = line.split()
    if len(f) < 11 or f[1] != "passes":
        continue
    runs.setdefault(" ".join(f[2:8]), []).append((f[9::2], [float(x) for x in f[10::2]]))
for shape, rows in runs.items():
    medians = [statistics.median(column) for column in zip(*(times for _, times in rows))]
    print(f"{shape} ms: " + " ".join(f"{n} {m:.4f}" for n, m in zip(rows[0][0], medians)))
