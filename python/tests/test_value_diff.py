"""Store.diff(values=True) and `ckpt diff --values --json` against NumPy.

Every float dtype the store knows (F8_E4M3, F8_E5M2, F16, BF16, F32, F64)
and integer dtypes up to the 64-bit extremes: the statistics the library
reports must equal those NumPy computes from the exported tensors, decoded
to float64 here independently of the library (bit manipulation for the
types NumPy lacks).
"""

import json
import math

import numpy as np
import pytest

import ckpt
from conftest import read_safetensors

CHUNK = 4096  # the store fixture's chunk size

FLOATS = ["F8_E4M3", "F8_E5M2", "F16", "BF16", "F32", "F64"]
INTS = ["U8", "I32", "I64", "U64"]
SIZE = {"F8_E4M3": 1, "F8_E5M2": 1, "F16": 2, "BF16": 2, "F32": 4, "F64": 8, "U8": 1,
        "I32": 4, "I64": 8, "U64": 8}
RAW = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}
INT_NP = {"U8": np.uint8, "I32": np.int32, "I64": np.int64, "U64": np.uint64}


def to_float64(dtype, raw):
    """Decodes little-endian bytes of a float dtype to float64 without ckpt."""
    if dtype == "F64":
        return np.frombuffer(raw, "<f8").copy()
    if dtype == "F32":
        return np.frombuffer(raw, "<f4").astype(np.float64)
    if dtype == "F16":
        return np.frombuffer(raw, "<f2").astype(np.float64)
    if dtype == "BF16":  # the high half of a float32 (signalling NaNs widen to quiet ones)
        f32 = (np.frombuffer(raw, "<u2").astype(np.uint32) << 16).view("<f4")
        with np.errstate(invalid="ignore"):
            return f32.astype(np.float64)
    u = np.frombuffer(raw, np.uint8)
    if dtype == "F8_E5M2":  # the high byte of a float16
        return (u.astype(np.uint16) << 8).view("<f2").astype(np.float64)
    # F8_E4M3 ("fn"): bias 7, no infinities, S.1111.111 is NaN.
    sign = np.where(u & 0x80, -1.0, 1.0)
    exp = ((u >> 3) & 0xF).astype(np.int64)
    mant = (u & 7).astype(np.float64)
    value = np.where(exp == 0, mant * 2.0**-9, (1 + mant / 8) * np.exp2(exp - 7.0))
    return np.where((u & 0x7F) == 0x7F, np.nan, sign * value)


def reference(x, y):
    """The statistics as ckpt/value_diff.h defines them, for float64 arrays."""
    changed = ~((x == y) | (np.isnan(x) & np.isnan(y)))
    with np.errstate(all="ignore"):
        d = np.where(changed, np.abs(y - x), 0.0)
    finite = np.isfinite(d)
    fd = d[finite]
    l2_diff = math.sqrt(np.sum(fd * fd))
    fa = x[np.isfinite(x)]
    l2_a = math.sqrt(np.sum(fa * fa))
    rel = 0.0 if l2_diff == 0 else (math.inf if l2_a == 0 else l2_diff / l2_a)
    return {
        "elements_changed": int(changed.sum()),
        "nonfinite_changed": int((changed & ~finite).sum()),
        "max_abs_diff": float(fd.max()) if fd.size else 0.0,
        "mean_abs_diff": float(fd.sum() / finite.sum()) if finite.sum() else 0.0,
        "l2_diff": l2_diff,
        "l2_a": l2_a,
        "rel_l2": rel,
    }


def int_reference(dtype, raw_a, raw_b):
    """Exact integer statistics with Python ints (no wrap-around)."""
    a = [int(v) for v in np.frombuffer(raw_a, INT_NP[dtype])]
    b = [int(v) for v in np.frombuffer(raw_b, INT_NP[dtype])]
    d = [abs(q - p) for p, q in zip(a, b)]
    l2_a = math.sqrt(sum(float(p) ** 2 for p in a))
    l2_diff = math.sqrt(sum(float(v) ** 2 for v in d))
    return {
        "elements_changed": sum(1 for v in d if v),
        "nonfinite_changed": 0,
        "max_abs_diff": max(d),
        "mean_abs_diff": sum(d) / len(d),
        "l2_diff": l2_diff,
        "l2_a": l2_a,
        "rel_l2": 0.0 if l2_diff == 0 else l2_diff / l2_a,
    }


def make_pair(dtype, rng):
    """Raw arrays (a, b) of a dtype: five and a half chunks, b differing from
    a in chunks 1 and 3 only, with NaNs, infinities and signed zeros."""
    size = SIZE[dtype]
    n = (5 * CHUNK + CHUNK // 2) // size
    if dtype in ("F32", "F64"):
        a = rng.standard_normal(n).astype("<f4" if size == 4 else "<f8")
        a[:4] = [np.nan, np.inf, -0.0, 0.0]
        b = a.copy()
        per_chunk = CHUNK // size
        for c in (1, 3):
            sl = slice(c * per_chunk, (c + 1) * per_chunk)
            b[sl] = np.where(rng.random(per_chunk) < 0.3, b[sl] * 1.01 + 0.5, b[sl])
        b[per_chunk:per_chunk + 4] = [np.nan, -np.inf, -0.0, 1e30]
        a[per_chunk + 2] = 0.0  # +0 -> -0: unchanged
        return a.view(RAW[size]), b.view(RAW[size])
    if dtype in INTS:
        info = np.iinfo(INT_NP[dtype])
        a = rng.integers(info.min, info.max, n, dtype=INT_NP[dtype], endpoint=True)
        a[:2] = [info.min, info.max]
        b = a.copy()
        per_chunk = CHUNK // size
        for c in (1, 3):
            sl = slice(c * per_chunk, (c + 1) * per_chunk)
            new = rng.integers(info.min, info.max, per_chunk, dtype=INT_NP[dtype], endpoint=True)
            b[sl] = np.where(rng.random(per_chunk) < 0.3, new, b[sl])
        b[per_chunk:per_chunk + 2] = [info.max, info.min]
        a[per_chunk:per_chunk + 2] = [info.min, info.max]
        return a, b
    # Small floats: every bit pattern, NaNs and infinities included.
    raw = RAW[size]
    a = rng.integers(0, np.iinfo(raw).max, n, dtype=raw, endpoint=True)
    b = a.copy()
    per_chunk = CHUNK // size
    for c in (1, 3):
        sl = slice(c * per_chunk, (c + 1) * per_chunk)
        new = rng.integers(0, np.iinfo(raw).max, per_chunk, dtype=raw, endpoint=True)
        b[sl] = np.where(rng.random(per_chunk) < 0.3, new, b[sl])
    return a, b


def save_pairs(store):
    rng = np.random.default_rng(16)
    pairs = {f"layer.{d.lower()}": (d, *make_pair(d, rng)) for d in FLOATS + INTS}
    dtypes = {n: d for n, (d, _, _) in pairs.items()}
    frozen = rng.standard_normal(3000).astype(np.float32)
    store.save("run", 1, {**{n: a for n, (_, a, _) in pairs.items()}, "frozen.w": frozen},
               dtypes=dtypes)
    store.save("run", 2, {**{n: b for n, (_, _, b) in pairs.items()}, "frozen.w": frozen},
               dtypes=dtypes)
    return pairs


def check_stats(got, dtype, ref):
    assert got["elements_changed"] == ref["elements_changed"]
    assert got["nonfinite_changed"] == ref["nonfinite_changed"]
    if dtype in INTS:
        assert got["max_abs_diff"] == ref["max_abs_diff"]  # exact, an int
        assert isinstance(got["max_abs_diff"], int)
    else:
        assert got["max_abs_diff"] == ref["max_abs_diff"]
    for k in ("mean_abs_diff", "l2_diff", "l2_a", "rel_l2"):
        assert got[k] == pytest.approx(ref[k], rel=1e-9, abs=0), k


def test_values_match_numpy_for_every_dtype(store, store_path, cli, tmp_path):
    pairs = save_pairs(store)
    # The references come from the exported files, as a user would see them.
    exported = {}
    for step in (1, 2):
        out = tmp_path / f"{step}.safetensors"
        cli(store_path, "export", f"run@{step}", "-o", str(out))
        exported[step] = read_safetensors(out)
    api = {t.name: t for t in store.diff("run@1", "run@2", values=True).values}
    js = json.loads(cli(store_path, "diff", "--values", "--json", "run@1", "run@2").stdout)
    by_name = {t["name"]: t for t in js["values"]}
    assert set(api) == set(by_name) == set(pairs) | {"frozen.w"}

    for name, (dtype, a, _) in pairs.items():
        st_dtype, shape, raw_a = exported[1][name]
        _, _, raw_b = exported[2][name]
        assert st_dtype == dtype and shape == a.shape
        if dtype in INTS:
            ref = int_reference(dtype, raw_a, raw_b)
        else:
            ref = reference(to_float64(dtype, raw_a), to_float64(dtype, raw_b))
        assert ref["elements_changed"] > 0
        t = api[name]
        assert (t.dtype, t.shape, t.elements) == (dtype, a.shape, a.size)
        assert t.fraction_changed == pytest.approx(ref["elements_changed"] / a.size)
        assert t.chunks_changed == 2
        check_stats(vars(t), dtype, ref)
        j = by_name[name]
        assert (j["dtype"], tuple(j["shape"])) == (dtype, a.shape)
        check_stats(j, dtype, ref)

    frozen = api["frozen.w"]
    assert (frozen.elements_changed, frozen.rel_l2, frozen.bytes_read) == (0, 0.0, 0)
    layers = {layer["layer"]: layer for layer in js["layers"]}
    assert layers["frozen"]["state"] == "frozen" and layers["layer"]["state"] == "moved"


def test_only_differing_chunks_of_b_are_read(store):
    a = np.arange(4 * 1024, dtype=np.float32)  # four chunks
    b = a.copy()
    b[1500] = -1
    store.save("run", 1, {"w": a, "same": a})
    store.save("run", 2, {"w": b, "same": a})
    d = store.diff("run@1", "run@2", values=True)
    w, same = d.values
    assert (w.name, w.chunks, w.chunks_changed) == ("w", 4, 1)
    assert w.bytes_read == a.nbytes + CHUNK  # all of a (its norm), one chunk of b
    assert w.max_abs_diff == 1501.0 and w.elements_changed == 1
    assert w.rel_l2 == pytest.approx(1501.0 / np.linalg.norm(a.astype(np.float64)))
    assert same.bytes_read == 0 and same.elements_changed == 0
    assert store.diff("run@1", "run@2").values == ()


def test_value_diff_lists_what_it_does_not_compare(store):
    x = np.ones(8, np.float32)
    store.save("run", 1, {"gone": x, "reshaped": x, "kept": x}, blobs={"rng": b"1"})
    store.save("run", 2, {"kept": x * 2, "reshaped": x.reshape(2, 4), "new": x},
               blobs={"rng": b"2"})
    d = store.diff("run@1", "run@2", values=True)
    assert [t.name for t in d.values] == ["kept"]
    assert d.values[0].rel_l2 == pytest.approx(1.0)
    assert [c.name for c in d.added] == ["new"] and [c.name for c in d.removed] == ["gone"]
    assert {c.name: c.type_changed for c in d.changed} == {"kept": False, "reshaped": True,
                                                          "rng": False}
    with pytest.raises(ckpt.NotFoundError):
        store.diff("run@1", "run@9", values=True)


def test_f8_decoding_of_known_values():
    # The torch cross-check below needs torch >= 2.1; these hold regardless.
    e4m3 = to_float64("F8_E4M3", bytes([0x38, 0x7E, 0xFE, 0x78, 0x08, 0x01, 0x80]))
    assert list(e4m3) == [1.0, 448.0, -448.0, 256.0, 2.0**-6, 2.0**-9, 0.0]
    assert math.copysign(1, e4m3[-1]) == -1
    assert np.isnan(to_float64("F8_E4M3", bytes([0x7F, 0xFF]))).all()
    e5m2 = to_float64("F8_E5M2", bytes([0x3C, 0x7B, 0x7C, 0xFC, 0x01]))
    assert list(e5m2) == [1.0, 57344.0, math.inf, -math.inf, 2.0**-16]
    assert np.isnan(to_float64("F8_E5M2", bytes([0x7D, 0x7F]))).all()


def test_f8_e4m3_decoding_matches_torch():
    torch = pytest.importorskip("torch")
    if not hasattr(torch, "float8_e4m3fn"):
        pytest.skip("this torch has no float8_e4m3fn")
    raw = np.arange(256, dtype=np.uint8)
    want = torch.from_numpy(raw.copy()).view(torch.float8_e4m3fn).to(torch.float64).numpy()
    np.testing.assert_array_equal(to_float64("F8_E4M3", raw.tobytes()), want)
