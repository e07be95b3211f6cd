import numpy as np
import pytest

import ckpt

# Every ckpt dtype NumPy has, with the ckpt name it is stored as.
NUMPY_TYPES = [
    ("bool", "BOOL"), ("uint8", "U8"), ("int8", "I8"), ("int16", "I16"), ("uint16", "U16"),
    ("float16", "F16"), ("int32", "I32"), ("uint32", "U32"), ("float32", "F32"),
    ("float64", "F64"), ("int64", "I64"), ("uint64", "U64"),
]


def sample(dtype, shape, seed=0):
    rng = np.random.default_rng(seed)
    if dtype == "bool":
        return rng.random(shape) < 0.5
    if np.dtype(dtype).kind == "f":
        return rng.standard_normal(shape).astype(dtype)
    info = np.iinfo(dtype)
    return rng.integers(info.min, info.max, size=shape, dtype=dtype, endpoint=True)


@pytest.mark.parametrize("np_dtype,ckpt_dtype", NUMPY_TYPES)
def test_every_numpy_dtype_round_trips(store, np_dtype, ckpt_dtype):
    a = sample(np_dtype, (33, 70))  # several 4 KiB chunks, a ragged tail
    info = store.save("r", 1, {"a": a})
    assert info.tensor_count == 1 and info.logical_bytes == a.nbytes
    back = store.load("r@1")
    assert back["a"].dtype == np.dtype(np_dtype)
    assert back["a"].shape == a.shape
    np.testing.assert_array_equal(back["a"], a)
    assert back.dtypes == {"a": ckpt_dtype}
    assert store.show("r@1").entries[0].dtype == ckpt_dtype


@pytest.mark.parametrize("raw_dtype,view", [("BF16", "uint16"), ("F8_E4M3", "uint8"),
                                            ("F8_E5M2", "uint8")])
def test_types_numpy_lacks_come_back_as_raw_views(store, raw_dtype, view):
    bits = sample(view, (50, 9), seed=3)
    store.save("r", 1, {"w": bits}, dtypes={"w": raw_dtype})
    back = store.load("r@1")
    assert back.dtypes["w"] == raw_dtype
    assert back["w"].dtype == np.dtype(view)
    np.testing.assert_array_equal(back["w"], bits)
    # Saving what was loaded with its recorded dtypes keeps the type.
    store.save("r", 2, back, dtypes=back.dtypes)
    assert store.show("r@2").entries[0].dtype == raw_dtype
    assert store.diff("r@1", "r@2").changed == ()


def test_dtype_override_must_match_element_size(store):
    with pytest.raises(ValueError, match="BF16"):
        store.save("r", 1, {"w": np.zeros(4, np.float32)}, dtypes={"w": "BF16"})
    with pytest.raises(ValueError, match="unknown dtype"):
        store.save("r", 1, {"w": np.zeros(4, np.uint16)}, dtypes={"w": "BF17"})


def test_scalars_empty_arrays_blobs_and_metadata(store):
    tensors = {"scalar": np.array(3.5, np.float64), "empty": np.zeros((0, 4), np.int32),
               "v": np.arange(10, dtype=np.int64)}
    info = store.save("run-a", 7, tensors, blobs={"rng": b"\x00\x01state", "pos": bytearray(b"42")},
                      metrics={"loss": 1.25}, attrs={"git": "3f2a1c"})
    assert info.ref == "run-a@7" and info.blob_count == 2
    back = store.load("run-a")
    assert back["scalar"].shape == () and back["scalar"] == 3.5
    assert back["empty"].shape == (0, 4)
    np.testing.assert_array_equal(back["v"], tensors["v"])
    assert back.blobs == {"rng": b"\x00\x01state", "pos": b"42"}
    assert back.metrics == {"loss": 1.25} and back.attrs == {"git": "3f2a1c"}
    assert (back.run, back.step, back.id) == ("run-a", 7, info.id)
    assert list(back) == ["scalar", "empty", "v"]


def test_memoryview_and_bytes_are_buffers(store):
    raw = bytearray(range(256)) * 40
    store.save("r", 1, {"mv": memoryview(raw), "b": bytes(raw[:100])})
    back = store.load("r@1")
    assert back["mv"].dtype == np.uint8 and back["mv"].tobytes() == bytes(raw)
    assert back["b"].tobytes() == bytes(raw[:100])
    # A memoryview cast to another format keeps its element type.
    f = np.linspace(0, 1, 300, dtype=np.float32)
    store.save("r", 2, {"f": memoryview(f.tobytes()).cast("f")})
    np.testing.assert_array_equal(store.load("r@2")["f"], f)


def test_save_reads_the_callers_memory_in_place(store):
    # During the save the bytearray stays exported to the save (so cannot be
    # resized): the bytes are read where they are, not from a copy made first.
    raw = bytearray(np.random.default_rng(1).bytes(1 << 20))
    seen = []

    def progress(done, total):
        try:
            raw.append(0)
            raw.pop()
            seen.append("resized")
        except BufferError:
            seen.append("exported")

    store.save("r", 1, {"t": memoryview(raw)}, progress=progress)
    assert seen and set(seen) == {"exported"}
    raw.append(0)  # released once save returned
    assert store.load("r@1")["t"].tobytes() == bytes(raw[:-1])


def test_read_only_numpy_arrays_and_memmaps_are_saved(store, tmp_path):
    a = np.arange(5000, dtype=np.float32)
    a.setflags(write=False)
    m = np.memmap(tmp_path / "m.bin", dtype=np.int16, mode="w+", shape=(3000,))
    m[:] = np.arange(3000, dtype=np.int16)
    store.save("r", 1, {"a": a, "m": m})
    back = store.load("r@1")
    np.testing.assert_array_equal(back["a"], a)
    np.testing.assert_array_equal(back["m"], m)


def test_non_contiguous_and_unsupported_buffers_are_refused(store):
    a = np.zeros((10, 10), np.float32)
    with pytest.raises(ValueError, match="not C-contiguous"):
        store.save("r", 1, {"t": a[:, ::2]})
    with pytest.raises(ValueError, match="not C-contiguous"):
        store.save("r", 1, {"t": a.T})
    with pytest.raises(ValueError, match="unsupported element format"):
        store.save("r", 1, {"t": np.zeros(3, np.complex64)})
    with pytest.raises(ValueError, match="unsupported element format"):
        store.save("r", 1, {"t": np.zeros(3, ">f4")})
    with pytest.raises(TypeError, match="buffer protocol"):
        store.save("r", 1, {"t": [1.0, 2.0]})
    with pytest.raises(ValueError, match="step"):
        store.save("r", -1, {"t": a})
    with pytest.raises(TypeError):
        store.save("r", 1, {"t": a}, metrics={"loss": "low"})
    assert store.log() == []


def test_tensor_into_out_and_read_range(store):
    a = sample("float32", (64, 100), seed=5)
    store.save("r", 1, {"a": a}, blobs={"b": b"hello world"})
    out = np.empty_like(a)
    assert store.tensor("r@1", "a", out=out) is out
    np.testing.assert_array_equal(out, a)
    np.testing.assert_array_equal(store.tensor("r", "a"), a)
    assert store.tensor("r", "b").tobytes() == b"hello world"
    row = 17
    got = store.read_range("r@1", "a", row * 400, 400)
    assert got == a[row].tobytes()
    with pytest.raises(ValueError, match="bytes"):
        store.tensor("r@1", "a", out=np.empty(10, np.float32))
    ro = np.empty_like(a)
    ro.setflags(write=False)
    with pytest.raises(ValueError, match="writable"):
        store.tensor("r@1", "a", out=ro)
    with pytest.raises(ckpt.InvalidArgumentError):
        store.read_range("r@1", "a", a.nbytes - 4, 8)


def test_unchanged_tensors_reuse_the_parent(store):
    frozen = sample("float32", (128, 64), seed=7)
    head = sample("float32", (8, 8), seed=8)
    store.save("r", 1, {"frozen": frozen, "head": head})
    info = store.save("r", 2, {"frozen": frozen, "head": head + 1}, unchanged=["frozen"])
    assert info.shared_bytes >= frozen.nbytes
    np.testing.assert_array_equal(store.load("r@2")["frozen"], frozen)
    with pytest.raises(ValueError, match="not in tensors"):
        store.save("r", 3, {"head": head}, unchanged=["frozen"])


def test_numpy_scalars_are_metrics(store):
    info = store.save("r", 1, {"a": np.zeros(2)}, metrics={"loss": np.float32(0.5), "n": 3})
    assert info.metrics == {"loss": 0.5, "n": 3.0}
    with pytest.raises(TypeError, match="attrs"):
        store.save("r", 2, {"a": np.zeros(2)}, attrs={"git": 3})
    with pytest.raises(TypeError, match="names must be str"):
        store.save("r", 2, {1: np.zeros(2)})
