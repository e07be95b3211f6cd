"""ckpt.torch on real stores: exact round trips, tied and frozen tensors,
errors that write nothing, async saves, the checkpoint manager, the CLI."""

import collections
import math
import random

import numpy as np
import pytest

torch = pytest.importorskip("torch")
import ckpt  # noqa: E402
import ckpt.torch as ct  # noqa: E402

from conftest import read_safetensors, split, write_safetensors  # noqa: E402


def bits(t):
    return t.contiguous().reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b""


def test_structure_round_trips_exactly(store):
    od = collections.OrderedDict([("b", 1), ("a", 2)])
    od._metadata = {"": {"version": 2}}
    state = {
        "ints": {0: "zero", 1: "one", "0": "string zero"},
        "tuple": (1, [2, (3,)]), "list": [None, True, False],
        "floats": [0.1, -0.0, float("nan"), float("inf"), -float("inf"), 1e308],
        "big": 2**80, "text": "naïve", "bytes": b"\x00\xff", "bytearray": bytearray(b"ab"),
        "ordered": od, "size": torch.Size([2, 3]), "dtype": torch.bfloat16,
        "device": torch.device("cpu"), "np_scalar": np.float32(1.5), "np_int": np.int64(-7),
        "np_array": np.arange(6, dtype=np.uint16).reshape(2, 3), "empty": {},
    }
    ct.save(store, "r", 1, state)
    back = ct.load(store, "r@1")
    assert list(back) == list(state)
    assert back["ints"] == {0: "zero", 1: "one", "0": "string zero"}
    assert back["tuple"] == (1, [2, (3,)]) and type(back["tuple"][1][1]) is tuple
    assert back["list"] == [None, True, False]
    f = back["floats"]
    assert f[0] == 0.1 and math.copysign(1, f[1]) == -1 and math.isnan(f[2])
    assert f[3:] == [math.inf, -math.inf, 1e308]
    assert back["big"] == 2**80 and back["text"] == "naïve"
    assert type(back["bytes"]) is bytes and back["bytes"] == b"\x00\xff"
    assert type(back["bytearray"]) is bytearray and back["bytearray"] == b"ab"
    assert type(back["ordered"]) is collections.OrderedDict
    assert list(back["ordered"].items()) == [("b", 1), ("a", 2)]
    assert back["ordered"]._metadata == {"": {"version": 2}}
    assert back["size"] == torch.Size([2, 3]) and type(back["size"]) is torch.Size
    assert back["dtype"] is torch.bfloat16 and back["device"] == torch.device("cpu")
    assert type(back["np_scalar"]) is np.float32 and back["np_scalar"] == 1.5
    assert type(back["np_int"]) is np.int64 and back["np_int"] == -7
    assert back["np_array"].dtype == np.uint16 and (back["np_array"] == state["np_array"]).all()
    assert back["empty"] == {}


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16, torch.bfloat16,
                                   torch.int8, torch.uint8, torch.int16, torch.int32,
                                   torch.int64, torch.bool])
def test_every_dtype_is_bit_exact(store, dtype):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(33, 17, generator=g) * 100
    x[0, :4] = torch.tensor([float("nan"), float("inf"), -0.0, 1e-42])
    t = x.to(dtype)
    state = {"t": t, "scalar": t[1, 1].clone(), "empty": t[:0], "strided": t.t()}
    ct.save(store, "r", 1, state)
    back = ct.load(store, "r@1")
    for k, v in state.items():
        assert back[k].dtype == dtype and back[k].shape == v.shape, k
        assert bits(back[k]) == bits(v), k
    assert back["strided"].is_contiguous()


def test_state_dicts_load_into_fresh_modules(store):
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.BatchNorm1d(8),
                                torch.nn.Linear(8, 2))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=10)
    model(torch.randn(5, 4)).sum().backward()
    opt.step()
    sched.step()
    ct.save(store, "r", 1, {"model": model.state_dict(), "opt": opt.state_dict(),
                            "sched": sched.state_dict()})
    back = ct.load(store, "r@1")
    model2 = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.BatchNorm1d(8),
                                 torch.nn.Linear(8, 2))
    model2.load_state_dict(back["model"])
    opt2 = torch.optim.AdamW(model2.parameters(), lr=1e-3)
    opt2.load_state_dict(back["opt"])
    sched2 = torch.optim.lr_scheduler.CosineAnnealingLR(opt2, T_max=10)
    sched2.load_state_dict(back["sched"])
    for k, v in model.state_dict().items():
        assert bits(model2.state_dict()[k]) == bits(v), k
    assert opt2.state_dict()["param_groups"] == opt.state_dict()["param_groups"]
    assert sched2.get_last_lr() == sched.get_last_lr()
    names = [e.name for e in store.show("r@1").entries]
    assert "model.0.weight" in names and "opt.state.0.exp_avg" in names


def test_tied_tensors_are_stored_once_and_come_back_tied(store):
    emb = torch.nn.Embedding(50, 8)
    head = torch.nn.Linear(8, 50, bias=False)
    head.weight = emb.weight
    model = torch.nn.ModuleDict({"emb": emb, "head": head})
    sd = model.state_dict()
    assert sd["emb.weight"].data_ptr() == sd["head.weight"].data_ptr()
    ct.save(store, "r", 1, sd)
    tensors = [e.name for e in store.show("r@1").entries if not e.is_blob]
    assert tensors == ["emb.weight"]
    back = ct.load(store, "r@1")
    assert back["emb.weight"] is back["head.weight"]
    model2 = torch.nn.ModuleDict({"emb": torch.nn.Embedding(50, 8),
                                  "head": torch.nn.Linear(8, 50, bias=False)})
    model2.head.weight = model2.emb.weight
    model2.load_state_dict(back)
    assert torch.equal(model2.head.weight, emb.weight)


def test_frozen_parameters_are_not_read(store):
    backbone = torch.nn.Linear(256, 256)
    head = torch.nn.Linear(256, 4)
    for p in backbone.parameters():
        p.requires_grad_(False)
    model = torch.nn.Sequential(backbone, head)
    # The first save has no parent: the marks are dropped, everything is stored.
    first = ct.save(store, "r", 1, model.state_dict(), unchanged=model)
    assert first.new_raw_bytes > 256 * 256 * 4
    with torch.no_grad():
        head.weight.add_(1.0)
    second = ct.save(store, "r", 2, model.state_dict(), unchanged=model)
    # Only the head (and the small structure blob) was read and hashed.
    assert second.new_raw_bytes < 8 * 1024
    back = ct.load(store, "r@2")
    assert torch.equal(back["0.weight"], backbone.weight)
    assert torch.equal(back["1.weight"], head.weight)
    # Marks by name and by tensor work too; a name not in the state is an error.
    third = ct.save(store, "r", 3, model.state_dict(), unchanged=["0.weight", backbone.bias])
    assert third.new_raw_bytes < 8 * 1024
    with pytest.raises(ValueError, match="no tensor entry"):
        ct.save(store, "r", 4, model.state_dict(), unchanged=["nope"])


def test_async_save_never_sees_later_writes(store):
    g = torch.Generator().manual_seed(1)
    state = {"w": torch.randn(300, 300, generator=g), "b": torch.randn(300, generator=g).bfloat16(),
             "opt": {0: {"m": torch.randn(300, 300, generator=g)}}, "arr": np.ones(1000)}
    before = {"w": state["w"].clone(), "b": state["b"].clone(),
              "m": state["opt"][0]["m"].clone(), "arr": state["arr"].copy()}
    handle = ct.save(store, "r", 1, state, async_=True)
    state["w"].mul_(-3)
    state["b"].add_(1)
    state["opt"][0]["m"].zero_()
    state["arr"][:] = 7
    info = handle.result(timeout=60)
    assert handle.done() and info.step == 1
    back = ct.load(store, "r@1")
    assert bits(back["w"]) == bits(before["w"])
    assert bits(back["b"]) == bits(before["b"])
    assert bits(back["opt"][0]["m"]) == bits(before["m"])
    assert (back["arr"] == before["arr"]).all()


class Opaque:
    pass


@pytest.mark.parametrize("state, error, message", [
    ({"w": torch.zeros(2, dtype=torch.complex64)}, TypeError, r"state\['w'\].*complex64"),
    ({"a.b": torch.zeros(1), "a": {"b": torch.ones(1)}}, ValueError,
     r"state\['a'\]\['b'\].*'a.b'.*state\['a.b'\]"),
    ({"sched": {"fn": lambda s: s}}, TypeError, r"state\['sched'\]\['fn'\].*function"),
    ({"x": [1, Opaque()]}, TypeError, r"state\['x'\]\[1\].*Opaque"),
    ({"m": torch.empty(3, device="meta")}, ValueError, r"state\['m'\].*meta"),
    ({"s": torch.zeros(3).to_sparse()}, TypeError, r"state\['s'\].*sparse"),
    ({"k": {(1, 2): 3}}, TypeError, r"state\['k'\].*key"),
    ({"__ckpt_torch__.json": torch.zeros(1)}, ValueError, "structure blob"),
    ({"o": np.array([object()])}, TypeError, r"state\['o'\].*object"),
])
def test_bad_input_raises_and_writes_nothing(store, state, error, message):
    ct.save(store, "r", 1, {"w": torch.ones(4)})
    before = store.stats()
    with pytest.raises(error, match=message):
        ct.save(store, "r", 2, state)
    assert [c.step for c in store.log("r")] == [1]
    assert store.stats() == before


def test_self_containing_state_is_refused(store):
    loop = []
    loop.append(loop)
    with pytest.raises(ValueError, match="contains itself"):
        ct.save(store, "r", 1, {"loop": loop})


def test_closed_store_raises(store_path):
    s = ckpt.Store(store_path, create=True)
    s.close()
    with pytest.raises(ValueError, match="closed"):
        ct.save(s, "r", 1, {"w": torch.ones(2)})
    with pytest.raises(ValueError, match="closed"):
        ct.load(s, "r@1")


def test_existing_step_raises_already_exists(store):
    ct.save(store, "r", 1, {"w": torch.ones(2)})
    with pytest.raises(ckpt.AlreadyExistsError):
        ct.save(store, "r", 1, {"w": torch.zeros(2)})
    assert torch.equal(ct.load(store, "r@1")["w"], torch.ones(2))


def test_manager_saves_when_due_and_restores_latest(store_path):
    with ct.CheckpointManager(store_path, "run", every_steps=5) as mgr:
        assert mgr.restore() is None and mgr.latest_step() is None
        saved = [s for s in range(1, 23) if mgr.save(s, {"s": torch.tensor(s)}) is not None]
        assert saved == [5, 10, 15, 20]
        assert mgr.save(22, {"s": torch.tensor(22)}, force=True) is not None
        assert mgr.latest_step() == 22
        assert int(mgr.restore()["s"]) == 22
        assert int(mgr.restore(10)["s"]) == 10
    with ckpt.Store(store_path) as s:
        assert [c.step for c in s.log("run")] == [5, 10, 15, 20, 22]


def test_manager_raises_a_failed_async_save(store_path):
    with ckpt.Store(store_path, create=True) as store:
        ct.save(store, "run", 2, {"w": torch.ones(2)})
        mgr = ct.CheckpointManager(store, "run", async_=True)
        mgr.save(2, {"w": torch.zeros(2)})  # run@2 exists: the background save fails
        with pytest.raises(ckpt.AlreadyExistsError):
            mgr.wait()
        mgr.close()
        assert not store.closed  # the manager did not open it


def test_manager_policy_keeps_best_two_by_loss_and_last_three(store_path, cli):
    losses = {1: 0.9, 2: 0.5, 3: 0.7, 4: 0.2, 5: 0.6, 6: 0.3, 7: 0.8, 8: 0.9, 9: 0.95, 10: 0.99}
    policy = dict(keep_last=3, keep_best=[(2, "loss", "min")])
    with ct.CheckpointManager(store_path, "run", policy=policy) as mgr:
        for step, loss in losses.items():
            mgr.save(step, {"w": torch.full((64,), float(step))}, metrics={"loss": loss})
        assert mgr.store.get_policy("run").keep_best == ((2, "loss", "min"),)
    # The policy lives in the store: the CLI's gc, as from cron, applies it.
    cli(store_path, "gc", "--grace", "0s")
    with ckpt.Store(store_path) as s:
        assert [c.step for c in s.log("run")] == [4, 6, 8, 9, 10]
        assert s.verify(read_data=True).ok
        assert torch.equal(ct.load(s, "run@6")["w"], torch.full((64,), 6.0))


def test_cli_reads_torch_checkpoints_and_torch_reads_imports(store, store_path, cli, tmp_path):
    g = torch.Generator().manual_seed(2)
    sd = {"layer.weight": torch.randn(8, 4, generator=g), "layer.bias": torch.randn(8, generator=g),
          "emb": torch.randn(16, 4, generator=g).bfloat16()}
    ct.save(store, "py", 1, {"model": sd, "step": 1})
    store.close()
    log = cli(store_path, "log", "py").stdout
    assert "py" in log
    out = tmp_path / "out.safetensors"
    cli(store_path, "export", "py@1", "--output", str(out))
    exported = read_safetensors(out)
    assert set(exported) == {"model.layer.weight", "model.layer.bias", "model.emb"}
    dtype, shape, data = exported["model.emb"]
    assert (dtype, shape, data) == ("BF16", (16, 4), bits(sd["emb"]))
    # Import a file written elsewhere; ckpt.torch loads it as a flat dict.
    src = tmp_path / "in.safetensors"
    w = torch.arange(6, dtype=torch.float32).reshape(2, 3)
    write_safetensors(src, {"w": ("F32", (2, 3), bits(w)), "h": ("BF16", (2,), bits(
        torch.tensor([1.5, -2.0]).bfloat16()))})
    cli(store_path, "import", "--run", "imported", "--step", "1", str(src))
    with ckpt.Store(store_path) as s:
        flat = ct.load(s, "imported@1")
    assert torch.equal(flat["w"], w)
    assert flat["h"].dtype == torch.bfloat16 and flat["h"].tolist() == [1.5, -2.0]


def test_rng_states_round_trip(store):
    torch.manual_seed(5)
    np.random.seed(5)
    random.seed(5)
    ct.save(store, "r", 1, {"torch": torch.get_rng_state(), "numpy": np.random.get_state(),
                            "python": random.getstate(),
                            "gen": np.random.default_rng(3).bit_generator.state})
    expected = (torch.rand(3), np.random.rand(3), random.random())
    back = ct.load(store, "r@1")
    torch.set_rng_state(back["torch"])
    np.random.set_state(back["numpy"])
    random.setstate(back["python"])
    assert torch.equal(torch.rand(3), expected[0])
    assert (np.random.rand(3) == expected[1]).all() and random.random() == expected[2]
    rng = np.random.default_rng()
    rng.bit_generator.state = back["gen"]
    assert rng.random() == np.random.default_rng(3).random()


def test_row_and_column_shards_saved_by_4_load_on_3_and_on_1(tmp_path):
    """ckpt.torch with placements: a model whose weight is row-sharded and
    whose projection is column-sharded over 4 ranks, loaded whole by one
    process and as its own boxes by each of 3."""
    torch.manual_seed(3)
    emb = torch.randn(37, 8)   # rows
    proj = torch.randn(8, 22)  # columns
    bias = torch.randn(8)      # replicated
    store = ckpt.Store(str(tmp_path / "s"), create=True)

    for r in range(4):
        (e0, en), (p0, pn) = split(37, 4)[r], split(22, 4)[r]
        state = {"model": {"emb": emb[e0:e0 + en].clone(), "proj": proj[:, p0:p0 + pn].clone(),
                           "bias": bias},
                 "rng": torch.tensor([r]), "step": 9}
        ct.save(store, "tp", 9, state, rank=r, world_size=4, local=["rng"],
                placements={"model.emb": ((37, 8), (e0, 0)), "model.proj": ((8, 22), (0, p0))})
    whole = ct.load(store, "tp@9", rank=2)
    assert torch.equal(whole["model"]["emb"], emb) and torch.equal(whole["model"]["proj"], proj)
    assert torch.equal(whole["model"]["bias"], bias)
    assert int(whole["rng"][0]) == 2 and whole["step"] == 9
    for r in range(3):
        (e0, en), (p0, pn) = split(37, 3)[r], split(22, 3)[r]
        mine = ct.load(store, "tp@9", rank=0,
                       boxes={"model.emb": ((e0, 0), (en, 8)), "model.proj": ((0, p0), (8, pn))})
        assert torch.equal(mine["model"]["emb"], emb[e0:e0 + en])
        assert torch.equal(mine["model"]["proj"], proj[:, p0:p0 + pn])
    with pytest.raises(ValueError, match="saved by 4 ranks"):
        ct.load(store, "tp@9", rank=4)
    store.close()
