"""A 2-rank torch.distributed (gloo, CPU) training job that checkpoints its
sharded state through ckpt.torch, and its resume in one process.

Run by test_torch_distributed.py in fresh processes:

  dist_job.py STORE INIT_FILE rank R     rank R of 2: trains steps 0..N, saves at
                                         N, trains to N+M; rank 0 writes the
                                         final parameters to STORE/final-dist.npz
  dist_job.py STORE - resume             one process: loads step N and emulates
                                         both ranks to N+M; writes final-single.npz

The ranks average gradients with all_reduce (data parallel, each rank its
own shuffled batches from a generator of its own) and keep the AdamW
moments sharded by rows, ZeRO-style: at the save each rank holds, and saves
as a piece of the global tensor, only its half of every moment of a 2-D
parameter. The model and the 1-D moments are replicated; each rank's data
generator is private to it. The resume reads the whole moments put
together from both ranks' pieces and each rank's generator, and must end
bit for bit where the 2-rank job did.
"""

import sys

import numpy as np
import torch

import ckpt
import ckpt.torch as ct

N, M, WORLD = 5, 6, 2


def make_model() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(8, 13), torch.nn.Tanh(), torch.nn.Linear(13, 3))


def batch(generator: torch.Generator):
    x = torch.randn(6, 8, generator=generator)
    y = torch.randint(0, 3, (6,), generator=generator)
    return x, y


def grads_of(model, x, y):
    model.zero_grad()
    torch.nn.functional.cross_entropy(model(x), y).backward()
    return [p.grad.clone() for p in model.parameters()]


def rows_of(rank: int, n: int):
    half = (n + 1) // 2
    return (0, half) if rank == 0 else (half, n - half)


def sharded_state(model, opt, generator, step, rank):
    """What rank `rank` holds at a save: the model, its rows of each 2-D moment."""
    full = opt.state_dict()
    state = {"state": {}, "param_groups": full["param_groups"]}
    placements = {}
    for i, s in full["state"].items():
        state["state"][i] = dict(s)
        for key in ("exp_avg", "exp_avg_sq"):
            t = s[key]
            if t.dim() == 2:
                r0, rn = rows_of(rank, t.shape[0])
                state["state"][i][key] = t[r0:r0 + rn].clone()
                placements[f"optimizer.state.{i}.{key}"] = (tuple(t.shape), (r0, 0))
    return ({"model": model.state_dict(), "optimizer": state, "rng": generator.get_state(),
             "step": step}, placements)


def train_rank(store_path: str, init_file: str, rank: int) -> None:
    torch.distributed.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank,
                                         world_size=WORLD)
    model = make_model()
    opt = torch.optim.AdamW(model.parameters(), lr=0.05)
    generator = torch.Generator().manual_seed(100 + rank)
    store = ckpt.Store(store_path, create=True)
    for step in range(N + M):
        if step == N:
            state, placements = sharded_state(model, opt, generator, step, rank)
            ct.save(store, "job", N, state, placements=placements, local=["rng"])
        x, y = batch(generator)
        grads = grads_of(model, x, y)
        for p, g in zip(model.parameters(), grads):
            torch.distributed.all_reduce(g)
            p.grad = g / WORLD
        opt.step()
    store.close()
    torch.distributed.barrier()
    if rank == 0:
        np.savez(f"{store_path}/final-dist.npz", *[p.detach().numpy() for p in model.parameters()])
    torch.distributed.destroy_process_group()


def resume(store_path: str) -> None:
    store = ckpt.Store(store_path)
    views = [ct.load(store, f"job@{N}", rank=r) for r in range(WORLD)]
    model = make_model()
    model.load_state_dict(views[0]["model"])
    opt = torch.optim.AdamW(model.parameters(), lr=0.05)
    opt.load_state_dict(views[0]["optimizer"])
    generators = []
    for v in views:
        g = torch.Generator()
        g.set_state(v["rng"])
        generators.append(g)
    assert views[0]["step"] == N
    for _ in range(N, N + M):
        per_rank = [grads_of(model, *batch(g)) for g in generators]
        for p, g0, g1 in zip(model.parameters(), *per_rank):
            p.grad = (g0 + g1) / WORLD  # what all_reduce's sum of two gives
        opt.step()
    np.savez(f"{store_path}/final-single.npz", *[p.detach().numpy() for p in model.parameters()])


if __name__ == "__main__":
    path, init, mode = sys.argv[1], sys.argv[2], sys.argv[3]
    if mode == "rank":
        train_rank(path, init, int(sys.argv[4]))
    else:
        resume(path)
