import numpy as np
import pytest

import ckpt


def _train(store, steps):
    w = np.zeros((64, 64), np.float32)
    emb = np.random.default_rng(0).standard_normal((256, 32)).astype(np.float32)
    infos = []
    for step in steps:
        w += 0.5
        emb[step % 256] += 1  # one row of an embedding table per step
        infos.append(store.save("run", step, {"w": w, "emb": emb},
                                metrics={"loss": 10.0 / step}))
    return infos


def test_log_show_runs_stats(store):
    infos = _train(store, [1, 2, 3])
    log = store.log("run")
    assert [c.step for c in log] == [1, 2, 3] and log == store.log()
    assert all(isinstance(c, ckpt.CheckpointInfo) for c in log)
    assert "step=2" in repr(log[1])
    detail = store.show("run@2")
    assert detail.info.id == infos[1].id and detail.info.parent_id == infos[0].id
    assert [(e.name, e.dtype, e.shape) for e in detail.entries] == [
        ("w", "F32", (64, 64)), ("emb", "F32", (256, 32))]
    runs = store.runs()
    assert runs == [ckpt.RunInfo("run", 3, 3, infos[2].id)]
    st = store.stats()
    assert isinstance(st, ckpt.StoreStats) and st.checkpoints == 3 and st.runs == 1
    assert st.dedup_ratio >= 1.0
    assert store.config.chunk_size == 4096


def test_diff(store):
    _train(store, [1, 2])
    d = store.diff("run@1", "run@2")
    assert [c.name for c in d.changed] == ["w", "emb"]
    emb = next(c for c in d.changed if c.name == "emb")
    assert 0 < emb.bytes_changed <= 4096  # one row: one chunk
    assert d.added == () and d.removed == () and d.unchanged == 0
    assert d.bytes_total == (64 * 64 + 256 * 32) * 4


def test_tag_untag_rm_by_id_prefix(store):
    infos = _train(store, [1, 2, 3])
    store.tag("run@2", "best")
    assert store.show("best").info.step == 2
    assert "best" in store.log("run")[1].tags
    store.untag("best")
    with pytest.raises(ckpt.NotFoundError):
        store.show("best")
    assert store.show(infos[0].id[:12]).info.step == 1
    store.rm("run@1")
    assert [c.step for c in store.log("run")] == [2, 3]


def test_policy_and_gc(store):
    _train(store, [1, 2, 3, 4, 5, 6])
    store.set_policy("run", keep_last=2, keep_best=[(1, "loss", "max")], keep_within=None)
    p = store.get_policy("run")
    assert p.keep_last == 2 and p.keep_best == ((1, "loss", "max"),)
    plan = store.gc(dry_run=True)
    assert plan.dry_run and plan.checkpoints_removed == 3
    kept = {d.checkpoint.step: d.reasons for d in plan.decisions if d.keep}
    assert set(kept) == {1, 5, 6}
    assert len(store.log("run")) == 6
    report = store.gc(grace_seconds=0)
    assert report.checkpoints_removed == 3
    assert [c.step for c in store.log("run")] == [1, 5, 6]
    assert store.verify(read_data=True).ok
    store.set_policy(None, keep_within="48h")
    assert store.get_policy(None).keep_within_seconds == 48 * 3600
    store.unset_policy(None)
    with pytest.raises(ckpt.NotFoundError):
        store.get_policy(None)
    with pytest.raises(ckpt.InvalidArgumentError):
        store.set_policy("run")  # no rule
    with pytest.raises(ValueError):
        store.set_policy("run", keep_best=[(1, "loss", "lowest")])
    with pytest.raises(ValueError):
        store.set_policy("run", keep_within="forever")


def test_verify_report(store):
    _train(store, [1, 2])
    r = store.verify(read_data=True)
    assert r.ok and r.checkpoints_checked == 2 and r.chunks_checked > 0 and r.bytes_read > 0
