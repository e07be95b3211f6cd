#!/usr/bin/python3
"""floor_files.py DIR COUNT BYTES: COUNT files of BYTES/COUNT random bytes
each, spread over 256 subdirectories of DIR as packs are, for timing the
deletion floor that gc stands on (rm of the same files and bytes)."""
import os
import sys

root, count, total = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
size, block = total // max(count, 1), os.urandom(1 << 20)
for i in range(count):
    d = os.path.join(root, "%02x" % (i % 256))
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "p%d" % i), "wb") as f:
        left = size
        while left > 0:
            f.write(block[:min(left, len(block))])
            left -= len(block)
