"""Sharded saves: one checkpoint written by 4 rank processes into one store.

For the fine-tune and embedding series of bench/gen (six checkpoints of real
training each), every checkpoint is saved three ways, tools taking turns:

  ckpt-1     one process saves the whole checkpoint (ckpt.Store.save)
  ckpt-4     4 rank processes each save their shard of it into one store:
             every 2-D tensor split by rows into 4 pieces, the 1-D and
             scalar tensors saved whole by every rank (replicated)
  torch-4    the same 4 ranks each torch.save their shard (rows and the
             replicated tensors) to a file of their own, then fsync: what a
             per-rank file writer such as DCP's amounts to

The ranks are long-lived processes that read and slice their data before
the clock starts; a save is timed from the moment all ranks are told to go
until the last one is done (for ckpt-4: the checkpoint is committed).
Reports stored bytes after all six (du -sb), the median time of saves 2..6
as ratios, and checks that checkpoint 6 of ckpt-4 loads back assembled,
bit-exact. Run through bench/sharded/run_sharded_bench.sh.
"""

import argparse
import json
import multiprocessing as mp
import os
import statistics
import struct
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from pybench import add_common_args, du, run  # noqa: E402

WORLD = 4
NP_DTYPES = {"F32": (np.float32, None), "I64": (np.int64, None), "F16": (np.float16, None),
             "BF16": (np.uint16, "BF16")}


def read_safetensors(path):
    raw = Path(path).read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    body = memoryview(raw)[8 + n:]
    out, dtypes = {}, {}
    for name, h in header.items():
        if name == "__metadata__":
            continue
        a, b = h["data_offsets"]
        np_dtype, ckpt_dtype = NP_DTYPES[h["dtype"]]
        out[name] = np.frombuffer(body[a:b], dtype=np_dtype).reshape(h["shape"]).copy()
        if ckpt_dtype:
            dtypes[name] = ckpt_dtype
    return out, dtypes


def rows(n, rank):
    base, extra = divmod(n, WORLD)
    start = rank * base + min(rank, extra)
    return start, base + (1 if rank < extra else 0)


def shard_of(tensors, rank):
    """{name: (array, global_shape, offsets) or array} for one rank."""
    out = {}
    for name, a in tensors.items():
        if a.ndim == 2 and a.shape[0] >= WORLD:
            r0, rn = rows(a.shape[0], rank)
            out[name] = (np.ascontiguousarray(a[r0:r0 + rn]), a.shape, (r0, 0))
        else:
            out[name] = a
    return out


def rank_main(rank, conn, store_path, torch_dir, store_options):
    import ckpt
    import torch
    store = ckpt.Store(store_path, create=True, **store_options)
    shard, dtypes, step = None, None, None
    while True:
        cmd = conn.recv()
        if cmd[0] == "prepare":
            _, path, step = cmd
            tensors, dtypes = read_safetensors(path)
            shard = shard_of(tensors, rank)
            conn.send("ready")
        elif cmd[0] == "ckpt-4":
            values = {n: (ckpt.Shard(*v) if isinstance(v, tuple) else v) for n, v in shard.items()}
            t0, c0 = time.perf_counter(), time.process_time()
            store.save("bench", step, values, dtypes=dtypes, rank=rank, world_size=WORLD)
            conn.send(("done", time.perf_counter() - t0, time.process_time() - c0))
        elif cmd[0] == "torch-4":
            t0 = time.perf_counter()
            state = {n: torch.from_numpy(v[0] if isinstance(v, tuple) else v)
                     for n, v in shard.items()}
            with open(f"{torch_dir}/ckpt-{step}-rank{rank}.pt", "wb") as f:
                torch.save(state, f)
                f.flush()
                os.fsync(f.fileno())
            conn.send(("done", time.perf_counter() - t0, time.process_time() - c0))
        else:
            store.close()
            conn.send("bye")
            return


def run_scenario(sc, files, work, store_options, rank_store_options):
    import ckpt
    d = {k: work / sc / k for k in ("ckpt-1", "ckpt-4", "torch-4")}
    for p in d.values():
        p.mkdir(parents=True)
    ctx = mp.get_context("spawn")
    pipes, procs = [], []
    for r in range(WORLD):
        parent, child = ctx.Pipe()
        p = ctx.Process(target=rank_main, args=(r, child, str(d["ckpt-4"] / "store"),
                                                str(d["torch-4"]), rank_store_options))
        p.start()
        pipes.append(parent)
        procs.append(p)
    single = ckpt.Store(str(d["ckpt-1"] / "store"), create=True, **store_options)
    times = {"ckpt-1": [], "ckpt-4": [], "torch-4": []}
    # Per save: each rank's own wall and CPU seconds; the single process's CPU.
    rank_times = {"ckpt-4": [], "torch-4": []}
    rank_cpu = {"ckpt-4": [], "torch-4": []}
    single_cpu = []
    for k, f in enumerate(files, 1):
        for c in pipes:
            c.send(("prepare", str(f), k))
        for c in pipes:
            assert c.recv() == "ready"
        for tool in ("ckpt-4", "torch-4"):
            t0 = time.perf_counter()
            for c in pipes:
                c.send((tool,))
            replies = [c.recv() for c in pipes]
            times[tool].append(time.perf_counter() - t0)
            assert all(r[0] == "done" for r in replies)
            rank_times[tool].append([r[1] for r in replies])
            rank_cpu[tool].append([r[2] for r in replies])
        tensors, dtypes = read_safetensors(f)
        t0, c0 = time.perf_counter(), time.process_time()
        single.save("bench", k, tensors, dtypes=dtypes)
        times["ckpt-1"].append(time.perf_counter() - t0)
        single_cpu.append(time.process_time() - c0)
    for c in pipes:
        c.send(("exit",))
        assert c.recv() == "bye"
    for p in procs:
        p.join()
    single.close()
    with ckpt.Store(str(d["ckpt-4"] / "store"), read_only=True) as s:
        ck = s.load("bench@6")
        identical = ck.info.world_size == WORLD and all(
            np.asarray(ck[n]).tobytes() == a.tobytes() for n, a in tensors.items())
    return {"times": times, "rank_seconds": rank_times, "rank_cpu_seconds": rank_cpu,
            "single_cpu_seconds": single_cpu, "stored": {k: du(p) for k, p in d.items()},
            "logical_bytes": sum(a.nbytes for a in tensors.values()), "identical": identical}


def report(results, machine, args):
    med = lambda xs: statistics.median(xs[1:])  # noqa: E731
    lines = [f"Machine: {machine['cpu']}, {machine['cores']} cores, {machine['ram_gib']:.0f} GiB "
             f"RAM, {machine['fs']}. Data: bench/gen, {args.size_mb * args.scale:.0f} MB per "
             f"checkpoint, 6 per scenario, split among {WORLD} rank processes (2-D tensors by "
             f"rows, the rest replicated). Saves: median of 2..6.", "",
             "| scenario | stored 4 ranks / 1 process | save 4 ranks / 1 process "
             "| save 4 ranks / torch.save per rank | stored torch.save per rank | bit-exact |",
             "|---|---|---|---|---|---|"]
    for sc, r in results.items():
        s, t = r["stored"], r["times"]
        lines.append("| {} | {:.3f} ({:.0f} / {:.0f} MiB) | {:.2f} ({:.3f} / {:.3f} s) | "
                     "{:.2f} ({:.3f} s) | {:.0f} MiB | {} |".format(
                         sc, s["ckpt-4"] / s["ckpt-1"], s["ckpt-4"] / 2**20, s["ckpt-1"] / 2**20,
                         med(t["ckpt-4"]) / med(t["ckpt-1"]), med(t["ckpt-4"]), med(t["ckpt-1"]),
                         med(t["ckpt-4"]) / med(t["torch-4"]), med(t["torch-4"]),
                         s["torch-4"] / 2**20, "yes" if r["identical"] else "NO"))
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_args(ap, "finetune,embedding", "bench/results/sharded-latest")
    ap.add_argument("--delta-depth", type=int, default=None,
                    help="delta_max_depth of the stores (default: the library's)")
    ap.add_argument("--rank-threads", type=int, default=None,
                    help="threads of each rank's store (default: the library's, one per core)")
    args = ap.parse_args()
    options = {} if args.delta_depth is None else {"delta_max_depth": args.delta_depth}
    rank_options = dict(options)
    if args.rank_threads is not None:
        rank_options["threads"] = args.rank_threads
    run(args, "ckpt-sharded-bench-",
        lambda sc, files, work: run_scenario(sc, files, work, options, rank_options),
        lambda results, machine: report(results, machine, args))


if __name__ == "__main__":
    main()
