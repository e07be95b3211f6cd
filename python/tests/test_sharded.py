"""Sharded checkpoints from Python: ranks save pieces of global tensors,
replicated and rank-local state; loads assemble them, boxes read any
rank's share for any world size; shards that do not fit are refused."""

import numpy as np
import pytest

import ckpt
from conftest import split


def rank_tensors(w, v, bias, rank, world):
    """Rank `rank`'s share: rows of w, columns of v, the replicated bias."""
    r0, rn = split(w.shape[0], world)[rank]
    c0, cn = split(v.shape[1], world)[rank]
    return {
        "w": ckpt.Shard(np.ascontiguousarray(w[r0:r0 + rn]), w.shape, (r0, 0)),
        "v": ckpt.Shard(np.ascontiguousarray(v[:, c0:c0 + cn]), v.shape, (0, c0)),
        "bias": bias,
        "cursor": np.array([rank * 10], dtype=np.int64),
    }


@pytest.fixture
def saved(tmp_path):
    rng = np.random.default_rng(5)
    w = rng.standard_normal((37, 16), dtype=np.float32)
    v = rng.standard_normal((10, 29), dtype=np.float32)
    bias = rng.standard_normal(16, dtype=np.float32)
    path = str(tmp_path / "store")
    infos = []
    for rank in (2, 0, 3, 1):
        with ckpt.Store(path, create=True) as s:
            infos.append(s.save("run", 1, rank_tensors(w, v, bias, rank, 4), rank=rank,
                                world_size=4, local=["cursor", "rng"],
                                blobs={"rng": bytes([rank]) * 8}, metrics={"loss": 0.5}))
    return path, infos, w, v, bias


def test_sharded_save_appears_whole_and_loads_assembled(saved):
    path, infos, w, v, bias = saved
    assert [i.shards_missing for i in infos] == [3, 2, 1, 0]
    assert infos[0].id == "" and infos[-1].id != ""
    with ckpt.Store(path) as s:
        ck = s.load("run@1")
        assert ck.info.world_size == 4
        np.testing.assert_array_equal(ck["w"], w)
        np.testing.assert_array_equal(ck["v"], v)
        np.testing.assert_array_equal(ck["bias"], bias)
        assert int(ck["rank3/cursor"][0]) == 30
        assert ck.blobs["rank2/rng"] == bytes([2]) * 8
        own = s.load("run@1", rank=1)
        assert int(own["cursor"][0]) == 10 and own.blobs["rng"] == bytes([1]) * 8
        assert "rank0/cursor" not in own
        detail = s.show("run@1")
        wi = next(e for e in detail.entries if e.name == "w")
        assert wi.shape == (37, 16) and len(wi.pieces) == 4
        assert sorted(p.writer_rank for p in wi.pieces) == [0, 1, 2, 3]


@pytest.mark.parametrize("world", [1, 3, 8])
def test_any_world_size_reads_its_own_boxes(saved, world):
    path, _, w, v, _ = saved
    with ckpt.Store(path) as s:
        for r in range(world):
            r0, rn = split(w.shape[0], world)[r]
            got = s.tensor("run@1", "w", box=((r0, 0), (rn, 16)))
            np.testing.assert_array_equal(got, w[r0:r0 + rn])
            c0, cn = split(v.shape[1], world)[r]
            got = s.tensor("run@1", "v", box=((0, c0), (10, cn)))
            np.testing.assert_array_equal(got, v[:, c0:c0 + cn])
        ck = s.load("run@1", rank=0, boxes={"w": ((5, 3), (7, 9))})
        np.testing.assert_array_equal(ck["w"], w[5:12, 3:12])


def test_shards_that_do_not_fit_are_refused(tmp_path):
    path = str(tmp_path / "store")
    a = np.zeros((4, 4), dtype=np.float32)
    with ckpt.Store(path, create=True) as s:
        s.save("run", 1, {"t": ckpt.Shard(a[:2].copy(), (4, 4), (0, 0))}, rank=0, world_size=2)
        with pytest.raises(ckpt.InvalidArgumentError, match="overlap"):
            s.save("run", 1, {"t": ckpt.Shard(a[:3].copy(), (4, 4), (1, 0))}, rank=1,
                   world_size=2)
        with pytest.raises(ckpt.InvalidArgumentError, match="world size"):
            s.save("run", 1, {"t": ckpt.Shard(a[:2].copy(), (4, 4), (2, 0))}, rank=1,
                   world_size=3)
        with pytest.raises(ckpt.InvalidArgumentError, match="passes the end"):
            s.save("run", 2, {"t": ckpt.Shard(a[:2].copy(), (4, 4), (3, 0))}, rank=0,
                   world_size=2)
        with pytest.raises(ValueError, match="below world_size"):
            s.save("run", 2, {"t": a}, rank=2, world_size=2)
        assert s.log() == []
        s.save("run", 1, {"t": ckpt.Shard(a[2:].copy(), (4, 4), (2, 0))}, rank=1, world_size=2)
        np.testing.assert_array_equal(s.load("run@1")["t"], a)
        with pytest.raises(ckpt.InvalidArgumentError):
            s.tensor("run@1", "t", box=((3, 0), (2, 4)))


def test_uncovered_region_is_a_clear_error(tmp_path):
    with ckpt.Store(str(tmp_path / "store"), create=True) as s:
        row = np.ones((1, 4), dtype=np.float32)
        s.save("run", 1, {"t": ckpt.Shard(row, (3, 4), (0, 0))}, rank=0, world_size=2)
        s.save("run", 1, {"t": ckpt.Shard(row, (3, 4), (1, 0))}, rank=1, world_size=2)
        np.testing.assert_array_equal(s.tensor("run@1", "t", box=((0, 0), (2, 4))),
                                      np.ones((2, 4), dtype=np.float32))
        with pytest.raises(ckpt.NotFoundError, match="not covered"):
            s.tensor("run@1", "t", box=((1, 0), (2, 4)))
