"""ckpt.torch against torch.save in a training loop's shoes.

For each scenario of bench/gen (real training, six checkpoints each), the
checkpoints become PyTorch state dicts ({"model": ..., "optimizer": {"state",
"param_groups"}, "step"}) held in memory, as in a trainer. Each is then saved,
one after another, by

  ckpt        ckpt.torch.save (sync) into a fresh store
  ckpt-async  ckpt.torch.save(async_=True): time until it returns (what the
              loop is blocked for) and until the save is durable
  torch.save  torch.save to one file per checkpoint, then fsync (what
              trainers do today)
  ckpt-cli    `ckpt import` of the same data as a safetensors file (the C++
              path, for the binding's overhead)

then checkpoint 6 is loaded back by each (ckpt.torch.load / torch.load),
each load in a fresh process as a resumed job does it (only the call is
timed, with the minor page faults it took), tools taking turns, and checked
bit-exact once. Reports bytes on disk after all 6 (du -sb), the median of
saves 2..6 and the median load, as ratios to torch.save in the same run. Run
through bench/torch/run_torch_bench.sh.
"""

import argparse
import collections
import json
import os
import statistics
import struct
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

import ckpt
import ckpt.torch as ct

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from pybench import add_common_args, du, run  # noqa: E402

SCENARIOS = ["finetune", "frozen", "embedding", "bf16"]
ST_DTYPES = {"F32": torch.float32, "BF16": torch.bfloat16, "I64": torch.int64,
             "F16": torch.float16}


def read_safetensors(path):
    raw = bytearray(Path(path).read_bytes())
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    body = memoryview(raw)[8 + n:]
    out = {}
    for name, h in header.items():
        if name == "__metadata__":
            continue
        a, b = h["data_offsets"]
        dtype = ST_DTYPES[h["dtype"]]
        carrier = torch.int16 if dtype is torch.bfloat16 else dtype
        t = torch.frombuffer(body[a:b], dtype=carrier) if b > a else torch.empty(0, dtype=carrier)
        out[name] = t.view(dtype).reshape(h["shape"]).clone()  # owns its memory, like a model's
    return out


def as_state_dict(flat, step):
    """bench/gen's flat names -> what model/optimizer.state_dict() would give."""
    model = collections.OrderedDict()
    moments = {}
    for name, t in flat.items():
        for kind in ("exp_avg_sq", "exp_avg"):
            prefix = f"optimizer.{kind}."
            if name.startswith(prefix):
                moments.setdefault(name[len(prefix):], {})[kind] = t
                break
        else:
            if name != "optimizer.step":
                model[name] = t
    state, params = {}, []
    for i, pname in enumerate(model):
        params.append(i)
        if pname in moments:
            state[i] = {"step": torch.tensor(float(step)), **moments[pname]}
    group = {"lr": 2e-5, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0.01,
             "amsgrad": False, "maximize": False, "foreach": None, "capturable": False,
             "params": params}
    return {"model": model, "optimizer": {"state": state, "param_groups": [group]},
            "step": step}


def frozen_names(state):
    """Model tensors without optimizer state: the frozen backbone."""
    with_state = set(state["optimizer"]["state"])
    return [f"model.{n}" for i, n in enumerate(state["model"]) if i not in with_state]


def timed(fn):
    t0 = time.perf_counter()
    r = fn()
    return time.perf_counter() - t0, r


def torch_save_fsync(state, path):
    with open(path, "wb") as f:
        torch.save(state, f)
        f.flush()
        os.fsync(f.fileno())


def flat_bytes(state):
    out = []

    def walk(x):
        if isinstance(x, torch.Tensor):
            out.append(x.contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
        elif isinstance(x, dict):
            for v in x.values():
                walk(v)
        elif isinstance(x, (list, tuple)):
            for v in x:
                walk(v)
    walk(state)
    return b"".join(out)


# Run by a fresh interpreter: times one load of checkpoint 6 and prints
# {"seconds", "minflt"}. A fresh process is what a resumed job loads in; in a
# long-lived one the allocator may hand back pages freed earlier, already
# faulted in, which favours whichever tool happens to get them.
LOAD_ONCE = '''
import json, resource, sys, time
import torch, ckpt, ckpt.torch as ct
tool, where = sys.argv[1], sys.argv[2]
store = ckpt.Store(where, read_only=True) if tool == "ckpt" else None
f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
t0 = time.perf_counter()
back = ct.load(store, "bench@6") if store else torch.load(where)
t = time.perf_counter() - t0
print(json.dumps({"seconds": t, "minflt": resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0}))
'''


def load_in_fresh_process(tool, where):
    out = subprocess.run([sys.executable, "-P", "-c", LOAD_ONCE, tool, str(where)], check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out.splitlines()[-1])


def run_scenario(sc, files, work, args):
    states = [as_state_dict(read_safetensors(f), k + 1) for k, f in enumerate(files)]
    logical = sum(t.numel() * t.element_size() for t in states[-1]["model"].values()) + sum(
        t.numel() * t.element_size() for s in states[-1]["optimizer"]["state"].values()
        for t in s.values())
    hints = frozen_names(states[0]) if sc == "frozen" else None
    tools = ["ckpt", "ckpt-async", "torch.save", "ckpt-cli"] + (["ckpt-nohint"] if hints else [])
    d = {k: work / sc / k for k in tools}
    for p in d.values():
        p.mkdir(parents=True)
    r = {"logical_bytes": logical, "save": {}, "block": [], "durable": [], "load": {}}
    s_sync = ckpt.Store(str(d["ckpt"] / "store"), create=True)
    s_async = ckpt.Store(str(d["ckpt-async"] / "store"), create=True)
    cli_store = d["ckpt-cli"] / "store"
    subprocess.run([args.ckpt, "--store", str(cli_store), "init"], check=True,
                   capture_output=True)
    r["save"] = {"ckpt": [], "torch.save": [], "ckpt-cli": [], "ckpt-nohint": []}
    s_plain = ckpt.Store(str(d["ckpt-nohint"] / "store"), create=True) if hints else None
    for k, state in enumerate(states, 1):
        t, _ = timed(lambda: ct.save(s_sync, "bench", k, state, unchanged=hints))
        r["save"]["ckpt"].append(t)
        t0 = time.perf_counter()
        h = ct.save(s_async, "bench", k, state, async_=True, unchanged=hints)
        t1 = time.perf_counter()
        h.result()
        t2 = time.perf_counter()
        r["block"].append(t1 - t0)
        r["durable"].append(t2 - t0)
        t, _ = timed(lambda: torch_save_fsync(state, d["torch.save"] / f"ckpt-{k}.pt"))
        r["save"]["torch.save"].append(t)
        t, _ = timed(lambda: subprocess.run(
            [args.ckpt, "--store", str(cli_store), "import", "--run", "bench", "--step", str(k),
             str(files[k - 1])], check=True, capture_output=True))
        r["save"]["ckpt-cli"].append(t)
        if s_plain:  # the frozen scenario without marks: what the binding costs
            t, _ = timed(lambda: ct.save(s_plain, "bench", k, state))
            r["save"]["ckpt-nohint"].append(t)
    if s_plain:
        s_plain.close()
    else:
        r["save"]["ckpt-nohint"] = r["save"]["ckpt"]
    s_sync.close()
    s_async.close()
    r["stored"] = {k: du(p) for k, p in d.items()}
    # Load checkpoint 6 in fresh processes, tools taking turns; check bit-exact once.
    r["load"] = {"ckpt": [], "torch.load": []}
    r["load_minflt"] = {"ckpt": [], "torch.load": []}
    where = {"ckpt": d["ckpt"] / "store", "torch.load": d["torch.save"] / "ckpt-6.pt"}
    for rep in range(args.repeat):
        for tool in ("ckpt", "torch.load"):
            once = load_in_fresh_process("ckpt" if tool == "ckpt" else "torch", where[tool])
            r["load"][tool].append(once["seconds"])
            r["load_minflt"][tool].append(once["minflt"])
    expect = flat_bytes(states[-1])
    with ckpt.Store(str(where["ckpt"]), read_only=True) as s:
        r["ckpt_identical"] = flat_bytes(ct.load(s, "bench@6")) == expect
    r["torch_identical"] = flat_bytes(torch.load(where["torch.load"])) == expect
    del states
    return r


def med(xs):
    return statistics.median(xs)


def report(results, machine, args):
    lines = [f"Machine: {machine['cpu']}, {machine['cores']} cores, "
             f"{machine['ram_gib']:.0f} GiB RAM, {machine['fs']}; {machine['os']}; "
             f"torch {torch.__version__}, NumPy {np.__version__}.",
             f"Data: bench/gen, {args.size_mb * args.scale:.0f} MB per checkpoint, 6 checkpoints "
             f"per scenario, as state dicts in memory. Saves: median of 2..6; load of "
             f"checkpoint 6: median of {args.repeat}, each in a fresh process (only the call "
             f"timed), warm page cache for both.", "",
             "| scenario | stored ckpt / torch.save | sync save ckpt / torch.save "
             "| async blocks / torch.save | async durable / torch.save "
             "| load ckpt / torch.load (s; page faults) | binding: Python save / `ckpt import` | bit-exact |",
             "|---|---|---|---|---|---|---|---|"]
    for sc, r in results.items():
        ts = med(r["save"]["torch.save"][1:])
        lines.append("| {} | {:.2f} ({:.0f} / {:.0f} MiB) | {:.2f} ({:.3f} / {:.3f} s) | "
                     "{:.3f} ({:.4f} s) | {:.2f} ({:.3f} s) | {:.2f} ({:.3f} / {:.3f} s; {:.1f}k / {:.1f}k) | "
                     "{:.2f} ({:.3f} / {:.3f} s) | {} |".format(
                         sc, r["stored"]["ckpt"] / r["stored"]["torch.save"],
                         r["stored"]["ckpt"] / 2**20, r["stored"]["torch.save"] / 2**20,
                         med(r["save"]["ckpt"][1:]) / ts, med(r["save"]["ckpt"][1:]), ts,
                         med(r["block"][1:]) / ts, med(r["block"][1:]),
                         med(r["durable"][1:]) / ts, med(r["durable"][1:]),
                         med(r["load"]["ckpt"]) / med(r["load"]["torch.load"]),
                         med(r["load"]["ckpt"]), med(r["load"]["torch.load"]),
                         med(r["load_minflt"]["ckpt"]) / 1e3,
                         med(r["load_minflt"]["torch.load"]) / 1e3,
                         med(r["save"]["ckpt-nohint"][1:]) / med(r["save"]["ckpt-cli"][1:]),
                         med(r["save"]["ckpt-nohint"][1:]), med(r["save"]["ckpt-cli"][1:]),
                         "yes" if r["ckpt_identical"] and r["torch_identical"] else "NO"))
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_args(ap, ",".join(SCENARIOS), "bench/results/torch-latest")
    ap.add_argument("--ckpt", default="build/tools/ckpt")
    ap.add_argument("--repeat", type=int, default=5, help="loads of checkpoint 6 per tool")
    args = ap.parse_args()
    run(args, "ckpt-torch-bench-", lambda sc, files, work: run_scenario(sc, files, work, args),
        lambda results, machine: report(results, machine, args))


if __name__ == "__main__":
    main()
