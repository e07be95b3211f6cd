#!/usr/bin/env python3
"""Writes a synthetic checkpoint series for the gc benchmark.

OUT/ckpt-<k>.safetensors for k = 1..N: one U8 tensor per file made of
4 KiB random blocks, every block distinct across the whole series, so a
store with 4 KiB chunks holds N * blocks distinct chunks and every tool has
the same bytes to keep and to drop (nothing compresses or deduplicates).
"""
import json
import os
import struct
import sys
from pathlib import Path

BLOCK = 4096


def write_checkpoint(path: Path, k: int, blocks: int) -> None:
    size = blocks * BLOCK
    header = json.dumps({"weights": {"dtype": "U8", "shape": [size], "data_offsets": [0, size]}},
                        separators=(",", ":")).encode()
    header += b" " * (-(8 + len(header)) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(header)))
        f.write(header)
        f.write(os.urandom(size))


def main() -> None:
    out, count, blocks = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    out.mkdir(parents=True, exist_ok=True)
    for k in range(1, count + 1):
        write_checkpoint(out / f"ckpt-{k}.safetensors", k, blocks)


if __name__ == "__main__":
    main()
