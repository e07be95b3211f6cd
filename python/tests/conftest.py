import json
import os
import struct
import subprocess
from pathlib import Path

import pytest

import ckpt

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def store_path(tmp_path):
    return str(tmp_path / "store")


@pytest.fixture
def store(store_path):
    # Small chunks so that modest arrays span several chunks.
    with ckpt.Store(store_path, create=True, chunk_size=4096, threads=2) as s:
        yield s


def _cli_path():
    env = os.environ.get("CKPT_CLI")
    if env:
        if not Path(env).is_file():
            pytest.fail(f"CKPT_CLI={env} does not exist")
        return env
    default = REPO / "build" / "tools" / "ckpt"
    if not default.is_file():
        pytest.skip("the ckpt CLI is not built (set CKPT_CLI)")
    return str(default)


@pytest.fixture
def cli():
    path = _cli_path()

    def run(store_dir, *args, check=True):
        p = subprocess.run([path, "--store", store_dir, *args], capture_output=True, text=True)
        if check and p.returncode != 0:
            raise AssertionError(f"ckpt {' '.join(args)} exited {p.returncode}: {p.stderr}")
        return p

    return run


def read_safetensors(path):
    """Parses a safetensors file: {name: (dtype, shape, bytes)}."""
    raw = Path(path).read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    body = raw[8 + n:]
    out = {}
    for name, h in header.items():
        if name == "__metadata__":
            continue
        a, b = h["data_offsets"]
        out[name] = (h["dtype"], tuple(h["shape"]), body[a:b])
    return out


def write_safetensors(path, tensors):
    """tensors: {name: (dtype, shape, bytes)}."""
    header, offset, body = {}, 0, b""
    for name, (dtype, shape, data) in tensors.items():
        header[name] = {"dtype": dtype, "shape": list(shape),
                        "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        body += data
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    Path(path).write_bytes(struct.pack("<Q", len(h)) + h + body)


def split(n, parts):
    """(offset, size) of `parts` near-equal pieces of n, the first ones one
    larger (like torch.chunk): how the sharded tests cut tensors."""
    base, extra = divmod(n, parts)
    out, at = [], 0
    for p in range(parts):
        size = base + (1 if p < extra else 0)
        out.append((at, size))
        at += size
    return out

