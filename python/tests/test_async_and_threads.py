import threading
import time

import numpy as np
import pytest

import ckpt


def test_save_async_copies_so_arrays_may_change_at_once(store):
    rng = np.random.default_rng(0)
    arrays = {f"t{i}": rng.standard_normal((256, 256)).astype(np.float32) for i in range(4)}
    before = {k: v.copy() for k, v in arrays.items()}
    handle = store.save_async("r", 1, arrays, metrics={"loss": 0.5})
    for v in arrays.values():  # the optimizer step, in place
        v *= -3.0
        v += 1.0
    info = handle.result(timeout=60)
    assert handle.done() and info.ref == "r@1" and info.metrics == {"loss": 0.5}
    assert handle.result() == info  # every call returns the same
    back = store.load("r@1")
    for k in arrays:
        np.testing.assert_array_equal(back[k], before[k])
        assert not np.array_equal(back[k], arrays[k])


def test_save_async_commits_in_order_and_reports_errors(store):
    a = np.arange(1000, dtype=np.int32)
    handles = [store.save_async("r", s, {"a": a + s}) for s in (1, 2, 3)]
    dup = store.save_async("r", 2, {"a": a})
    assert [h.result().step for h in handles] == [1, 2, 3]
    with pytest.raises(ckpt.AlreadyExistsError, match="r@2"):
        dup.result()
    assert [c.step for c in store.log("r")] == [1, 2, 3]
    # Parents follow submission order.
    assert store.show("r@3").info.parent_id == store.show("r@2").info.id
    # Argument errors raise at once.
    with pytest.raises(ckpt.InvalidArgumentError):
        store.save_async("bad name!", 1, {"a": a})


def test_close_waits_for_queued_saves(store_path):
    s = ckpt.Store(store_path, create=True)
    a = np.ones((512, 512), np.float32)
    handles = [s.save_async("r", i, {"a": a * i}) for i in range(3)]
    s.close()
    assert all(h.done() for h in handles)
    with ckpt.Store(store_path, read_only=True) as r:
        assert [c.step for c in r.log("r")] == [0, 1, 2]
        np.testing.assert_array_equal(r.load("r@2")["a"], a * 2)


def test_save_releases_the_gil(store_path):
    # A Python thread keeps running while a large save is in C++: the loop in
    # the main thread observes iterations spread over most of the save.
    data = np.random.default_rng(0).standard_normal(24 << 20 >> 2).astype(np.float32)
    with ckpt.Store(store_path, create=True, threads=1) as s:
        span = {}
        started = threading.Event()

        def saver():
            started.set()
            span["t0"] = time.monotonic()
            s.save("r", 1, {"big": data})
            span["t1"] = time.monotonic()

        t = threading.Thread(target=saver)
        t.start()
        started.wait()
        ticks = []
        while t.is_alive():
            ticks.append(time.monotonic())
        t.join()
        t0, t1 = span["t0"], span["t1"]
        assert t1 - t0 > 0.05, "save too quick to tell; make it larger"
        during = [x for x in ticks if t0 <= x <= t1]
        assert during, "no Python code ran during the save"
        assert max(during) - min(during) > 0.5 * (t1 - t0)
