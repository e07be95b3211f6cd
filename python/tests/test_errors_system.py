"""The exceptions of a store in trouble: busy, from a newer version, out of space."""

import ctypes
import fcntl
import os
from pathlib import Path

import numpy as np
import pytest

import ckpt


def test_busy_store_raises_busy_error(store_path):
    with ckpt.Store(store_path, create=True, lock_timeout_ms=50) as s:
        s.save("r", 1, {"w": np.ones(16, np.float32)})
        # Another writer holds the index lock (flock: per open file, so this
        # conflicts with the library's own descriptor in this process too).
        with open(Path(store_path) / "index.lock", "a") as holder:
            fcntl.flock(holder, fcntl.LOCK_EX)
            with pytest.raises(ckpt.BusyError, match="busy"):
                s.save("r", 2, {"w": np.zeros(16, np.float32)})
            fcntl.flock(holder, fcntl.LOCK_UN)
        s.save("r", 2, {"w": np.zeros(16, np.float32)})
        assert [c.step for c in s.log("r")] == [1, 2]


def test_store_from_a_newer_version_raises_version_mismatch(store_path):
    ckpt.Store(store_path, create=True).close()
    config = Path(store_path) / "config"
    text = config.read_text()
    assert "format_version=" in text
    config.write_text("".join(
        "format_version=99\n" if line.startswith("format_version=") else line + "\n"
        for line in text.splitlines()))
    with pytest.raises(ckpt.VersionMismatchError, match="99"):
        ckpt.Store(store_path)


def _mount_tmpfs(path, size):
    libc = ctypes.CDLL(None, use_errno=True)
    return libc.mount(b"tmpfs", str(path).encode(), b"tmpfs", 0,
                      f"size={size}".encode()) == 0


def test_full_disk_raises_no_space_and_keeps_what_was_committed(tmp_path):
    mnt = tmp_path / "small"
    mnt.mkdir()
    if os.geteuid() != 0 or not _mount_tmpfs(mnt, 6 << 20):
        pytest.skip("needs root to mount a small tmpfs (the C++ suite injects ENOSPC too)")
    try:
        rng = np.random.default_rng(0)
        kept = {}
        with ckpt.Store(str(mnt / "store"), create=True) as s:
            with pytest.raises(ckpt.NoSpaceError) as e:
                for step in range(1, 100):
                    w = rng.standard_normal(256 * 1024).astype(np.float32)  # 1 MiB, incompressible
                    s.save("r", step, {"w": w})
                    kept[step] = w
            assert isinstance(e.value, OSError)
            assert kept, "the first save already failed"
        with ckpt.Store(str(mnt / "store")) as s:
            assert [c.step for c in s.log("r")] == sorted(kept)
            assert s.verify(read_data=True).ok
            for step, w in kept.items():
                assert (s.load(f"r@{step}")["w"] == w).all()
    finally:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.umount2(str(mnt).encode(), 2)  # MNT_DETACH
