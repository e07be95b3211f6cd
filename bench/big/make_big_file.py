#!/usr/bin/python3
"""make_big_file.py PATH GIB: a safetensors file of GIB GiB of unique random
float32 values (normal), in 48 equal tensors like a model's layers; the same
bytes every time (seed 1). Written in 64 MiB pieces, so it needs no memory to
speak of."""
import json, struct, sys, numpy as np
path, gib = sys.argv[1], float(sys.argv[2])
total = int(gib * (1 << 30)) // 4 * 4
# 48 tensors of equal size (the last takes the rest), like a model's layers.
n = 48
per = total // n // 4 * 4
sizes = [per] * (n - 1) + [total - per * (n - 1)]
header, off = {}, 0
for i, s in enumerate(sizes):
    header[f"layers.{i}.weight"] = {"dtype": "F32", "shape": [s // 4], "data_offsets": [off, off + s]}
    off += s
text = json.dumps(header).encode()
text += b" " * (-len(text) % 8)
rng = np.random.default_rng(1)
with open(path, "wb") as f:
    f.write(struct.pack("<Q", len(text)) + text)
    for s in sizes:
        left = s
        while left:
            k = min(left, 64 << 20)
            f.write(rng.standard_normal(k // 4, dtype=np.float32).tobytes())
            left -= k
