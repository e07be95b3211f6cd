"""Bit-exact resume: a run resumed in a fresh process from its step-N
checkpoint ends exactly where the uninterrupted run ended."""

import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
import ckpt  # noqa: E402
import ckpt.torch as ct  # noqa: E402

SCRIPT = Path(__file__).with_name("train_resume.py")


def run_script(store_path, mode, via):
    p = subprocess.run([sys.executable, "-P", str(SCRIPT), store_path, mode, "--via", via],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, f"{mode} --via {via} failed:\n{p.stderr}"


def assert_bit_equal(a, b, path="state"):
    assert type(a) is type(b), f"{path}: {type(a)} vs {type(b)}"
    if isinstance(a, torch.Tensor):
        assert a.dtype == b.dtype and a.shape == b.shape, path
        assert a.numpy().tobytes() == b.numpy().tobytes(), f"{path}: tensors differ"
    elif isinstance(a, dict):
        assert list(a.keys()) == list(b.keys()), path
        for k in a:
            assert_bit_equal(a[k], b[k], f"{path}[{k!r}]")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            assert_bit_equal(x, y, f"{path}[{i}]")
    elif hasattr(a, "tobytes"):  # NumPy arrays (the NumPy RNG state)
        assert a.dtype == b.dtype and a.tobytes() == b.tobytes(), path
    else:
        assert repr(a) == repr(b), f"{path}: {a!r} vs {b!r}"


@pytest.mark.parametrize("via", ["direct", "manager"])
def test_resume_in_a_fresh_process_is_bit_exact(tmp_path, via):
    store_path = str(tmp_path / "store")
    run_script(store_path, "first", via)
    run_script(store_path, "resume", via)
    with ckpt.Store(store_path) as store:
        first = ct.load(store, f"{via}-first-final")
        resumed = ct.load(store, f"{via}-resume-final")
        if via == "manager":
            assert [c.step for c in store.log(f"{via}-train")] == [3, 6, 9, 12]
            assert store.get_policy(f"{via}-train").keep_last == 2
    assert first["step"] == resumed["step"] == 13
    assert len(first["losses"]) == 13
    # Every parameter, optimizer moment, scheduler field, loader position,
    # RNG state and loss, bit for bit.
    assert_bit_equal(first, resumed)
    # Training went on after the checkpoint: the comparison covers M real steps.
    with ckpt.Store(store_path) as store:
        at_n = ct.load(store, f"{via}-train@6")
    assert at_n["losses"] == first["losses"][:6]
    assert not torch.equal(at_n["model"]["head.weight"], first["model"]["head.weight"])
