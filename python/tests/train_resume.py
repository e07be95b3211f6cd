"""A small real training run that checkpoints through ckpt.torch and resumes.

Run by test_torch_resume.py in fresh processes:

  train_resume.py STORE first  --via direct|manager   trains 0..N, saves at N, trains to N+M
  train_resume.py STORE resume --via direct|manager   loads step N, trains to N+M

Both save their final state (parameters, optimizer, scheduler, losses) as
run ``<via>-<mode>-final`` at step N+M for the test to compare bit for bit.
The run uses dropout, AdamW, an LR scheduler and a shuffling data loader, so
that a resume is exact only if every piece of state (the RNGs of torch,
NumPy and ``random`` included) comes back exactly.
"""

import random
import sys

import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset

import ckpt
import ckpt.torch as ct

N, M, EVERY = 6, 7, 3


class Model(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.block = torch.nn.TransformerEncoderLayer(d_model=16, nhead=2, dim_feedforward=32,
                                                      dropout=0.1, batch_first=True)
        self.head = torch.nn.Linear(16, 3)

    def forward(self, x):
        return self.head(self.block(x).mean(dim=1))


class ResumableLoader:
    """A shuffling DataLoader whose position can be saved mid-epoch: the
    generator's state at the start of the epoch and the batches taken since."""

    def __init__(self, dataset, generator: torch.Generator) -> None:
        self.loader = DataLoader(dataset, batch_size=8, shuffle=True, generator=generator)
        self.generator = generator
        self.epoch, self.position = 0, 0
        self._start_epoch()

    def _start_epoch(self) -> None:
        self.epoch_start = self.generator.get_state()
        self.iterator = iter(self.loader)

    def next(self):
        try:
            batch = next(self.iterator)
        except StopIteration:
            self.epoch, self.position = self.epoch + 1, 0
            self._start_epoch()
            batch = next(self.iterator)
        self.position += 1
        return batch

    def state_dict(self):
        return {"epoch": self.epoch, "position": self.position, "generator": self.epoch_start}

    def load_state_dict(self, state) -> None:
        self.generator.set_state(state["generator"])
        self._start_epoch()
        self.epoch = state["epoch"]
        for _ in range(state["position"]):
            next(self.iterator)
        self.position = state["position"]


def build(seed: int):
    torch.manual_seed(seed)
    features = torch.randn(64, 4, 16, generator=torch.Generator().manual_seed(1))
    labels = torch.randint(0, 3, (64,), generator=torch.Generator().manual_seed(2))
    model = Model()
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.01)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=4, gamma=0.7)
    loader = ResumableLoader(TensorDataset(features, labels), torch.Generator().manual_seed(3))
    return model, optimizer, scheduler, loader


def train_step(model, optimizer, scheduler, loader) -> float:
    x, y = loader.next()
    # Extra randomness from NumPy and `random`, as augmentation code would use.
    x = x * float(np.random.uniform(0.9, 1.1)) + random.gauss(0.0, 0.01)
    loss = torch.nn.functional.cross_entropy(model(x), y)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    scheduler.step()
    return loss.item()


def full_state(step, model, optimizer, scheduler, loader, losses):
    return {"step": step, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(), "loader": loader.state_dict(),
            "rng": {"torch": torch.get_rng_state(), "numpy": np.random.get_state(),
                    "python": random.getstate()},
            "losses": list(losses)}


def restore(state, model, optimizer, scheduler, loader):
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    loader.load_state_dict(state["loader"])
    torch.set_rng_state(state["rng"]["torch"])
    np.random.set_state(state["rng"]["numpy"])
    random.setstate(state["rng"]["python"])
    return list(state["losses"])


def main(store_path: str, mode: str, via: str) -> None:
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    np.random.seed(4)
    random.seed(5)
    run = f"{via}-train"
    with ckpt.Store(store_path, create=True) as store:
        manager = ct.CheckpointManager(store, run, every_steps=EVERY, async_=True,
                                       policy=dict(keep_last=2)) if via == "manager" else None
        # A different initialisation on resume: everything must come from the checkpoint.
        model, optimizer, scheduler, loader = build(seed=10 if mode == "first" else 99)
        model.train()
        losses, step = [], 0
        if mode == "resume":
            state = manager.restore(N) if manager else ct.load(store, f"{run}@{N}")
            losses = restore(state, model, optimizer, scheduler, loader)
            step = state["step"]
        while step < N + M:
            losses.append(train_step(model, optimizer, scheduler, loader))
            step += 1
            if mode == "first":
                state = full_state(step, model, optimizer, scheduler, loader, losses)
                if manager:
                    manager.save(step, state, metrics={"loss": losses[-1]})
                elif step == N:
                    ct.save(store, run, step, state, metrics={"loss": losses[-1]})
        if manager:
            manager.close()
        final = full_state(step, model, optimizer, scheduler, loader, losses)
        ct.save(store, f"{via}-{mode}-final", step, final)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[4] if sys.argv[3:4] == ["--via"] else "direct")
