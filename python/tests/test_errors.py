import os
from pathlib import Path

import numpy as np
import pytest

import ckpt


def test_error_hierarchy():
    assert issubclass(ckpt.NotFoundError, ckpt.Error) and issubclass(ckpt.NotFoundError, KeyError)
    assert issubclass(ckpt.InvalidArgumentError, ValueError)
    assert issubclass(ckpt.NoSpaceError, ckpt.StoreIOError)
    assert issubclass(ckpt.StoreIOError, OSError)
    for cls in (ckpt.AlreadyExistsError, ckpt.CorruptionError, ckpt.BusyError,
                ckpt.VersionMismatchError, ckpt.NotSupportedError, ckpt.AbortedError):
        assert issubclass(cls, ckpt.Error)


def test_not_found(store):
    store.save("r", 1, {"a": np.zeros(3)})
    with pytest.raises(ckpt.NotFoundError) as e:
        store.load("nope@1")
    assert "nope" in str(e.value) and e.value.code == 1 and e.value.code_name == "not found"
    assert e.value.message == str(e.value)
    with pytest.raises(KeyError):
        store.tensor("r@1", "missing")
    with pytest.raises(ckpt.NotFoundError, match="missing-tag"):
        store.untag("missing-tag")
    with pytest.raises(ckpt.NotFoundError):
        store.log("no-such-run")


def test_open_missing_store_and_create_twice(tmp_path):
    with pytest.raises(ckpt.NotFoundError):
        ckpt.Store(str(tmp_path / "none"))
    ckpt.Store(str(tmp_path / "s"), create=True).close()
    with pytest.raises(ckpt.AlreadyExistsError):
        ckpt.Store(str(tmp_path / "s"), create=True, error_if_exists=True)
    with pytest.raises(TypeError):
        ckpt.Store(str(tmp_path / "s"), chunk_sise=4096)


def test_already_exists_and_invalid_argument(store):
    a = np.zeros(10, np.float32)
    store.save("r", 1, {"a": a})
    with pytest.raises(ckpt.AlreadyExistsError, match="r@1"):
        store.save("r", 1, {"a": a})
    with pytest.raises(ckpt.InvalidArgumentError) as e:
        store.save("bad name!", 1, {"a": a})
    assert isinstance(e.value, ValueError) and e.value.code_name == "invalid argument"
    store.save("r", 2, {"a": a})
    store.tag("r@1", "best")
    with pytest.raises(ckpt.AlreadyExistsError):
        store.tag("r@2", "best")


def test_read_only_store_refuses_writes(store_path):
    ckpt.Store(store_path, create=True).close()
    with ckpt.Store(store_path, read_only=True) as s:
        with pytest.raises(ckpt.NotSupportedError):
            s.save("r", 1, {"a": np.zeros(3)})


def test_damaged_pack_raises_corruption(store_path):
    data = np.random.default_rng(0).standard_normal(20000).astype(np.float64)
    with ckpt.Store(store_path, create=True, chunk_size=4096) as s:
        s.save("r", 1, {"a": data})
    packs = [p for p in (Path(store_path) / "packs").rglob("*") if p.is_file()]
    assert packs, sorted(str(p) for p in Path(store_path).rglob("*"))
    biggest = max(packs, key=lambda p: p.stat().st_size)
    raw = bytearray(biggest.read_bytes())
    for i in range(len(raw) // 4, len(raw) // 2, 512):
        raw[i] ^= 0xFF
    os.chmod(biggest, 0o644)
    biggest.write_bytes(bytes(raw))
    with ckpt.Store(store_path) as s:
        with pytest.raises(ckpt.CorruptionError) as e:
            s.load("r@1")
        assert e.value.code_name == "corruption" and e.value.message
        report = s.verify(read_data=True)
        assert not report.ok
        assert any("r@1" in p.checkpoints for p in report.problems)


def test_closed_store_raises(store_path):
    s = ckpt.Store(store_path, create=True)
    s.save("r", 1, {"a": np.zeros(3)})
    s.close()
    s.close()  # idempotent
    assert s.closed
    for call in (lambda: s.load("r@1"), lambda: s.save("r", 2, {"a": np.zeros(3)}),
                 lambda: s.log(), s.stats, lambda: s.config):
        with pytest.raises(ValueError, match="closed"):
            call()
    with ckpt.Store(store_path) as s2:
        pass
    with pytest.raises(ValueError, match="closed"):
        s2.log()
