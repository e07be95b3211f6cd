"""ckpt.torch: PyTorch training state in a ckpt store, in place of torch.save / torch.load.

``save(store, run, step, state)`` stores any nesting of dicts, OrderedDicts,
lists and tuples whose leaves are tensors, NumPy arrays or plain values
(``model.state_dict()``, ``optimizer.state_dict()``, scheduler and GradScaler
state, RNG states, epoch and data-loader position) as one checkpoint; only
chunks that changed since the parent are written. ``load(store, ref)`` returns
the same structure: same container types, int and str keys, tuples, floats
(NaN and inf included), None, bool, bytes, and tensors of the same dtype and
shape, tied tensors tied again. Nothing is pickled, so loading never runs
code. :class:`CheckpointManager` saves every N steps in the background under
a retention policy stored in the store.

Importing this module needs torch.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping, Optional, Sequence, Tuple, Union

import torch

from ._errors import NotFoundError
from ._store import SaveHandle, Store
from ._torch_tree import (
    STRUCTURE_BLOB,
    flatten,
    storage_key,
    tensor_from_array,
    torch_dtype_of_ckpt,
    unflatten,
)
from ._types import CheckpointInfo, RetentionPolicy, Shard

__all__ = ["CheckpointManager", "STRUCTURE_BLOB", "frozen_parameters", "load", "save"]

Unchanged = Union[None, str, torch.Tensor, torch.nn.Module,
                  Iterable[Union[str, torch.Tensor, torch.nn.Module]]]


Placements = Optional[Mapping[str, Tuple[Sequence[int], Sequence[int]]]]


def _distributed(rank: Optional[int], world_size: Optional[int]) -> Tuple[int, int]:
    """rank and world size: as given, else torch.distributed's when it is
    initialised, else 0 of 1."""
    dist = torch.distributed
    initialised = dist.is_available() and dist.is_initialized()
    if rank is None:
        rank = dist.get_rank() if initialised else 0
    if world_size is None:
        world_size = dist.get_world_size() if initialised else 1
    return rank, world_size


def save(store: Store, run: str, step: int, state: Any, *,
         metrics: Optional[Mapping[str, float]] = None,
         attrs: Optional[Mapping[str, str]] = None, parent: Optional[str] = None,
         async_: bool = False, unchanged: Unchanged = None,
         rank: Optional[int] = None, world_size: Optional[int] = None,
         placements: Placements = None, local: Iterable[str] = ()
         ) -> Union[CheckpointInfo, SaveHandle]:
    """Saves ``state`` as checkpoint ``run@step``.

    Each distinct tensor or NumPy array becomes a store entry named by its
    path, keys joined with ``.`` (``{"model": model.state_dict()}`` gives
    ``model.fc.weight``): what ``ckpt ls`` lists and ``ckpt export`` writes.
    Contiguous CPU tensors are read in place (bf16 included); others are
    copied to contiguous CPU memory first. Tensors that are the same view of
    the same storage (tied weights) are stored once. Plain values go into a
    JSON structure saved as blob ``STRUCTURE_BLOB``; ``bytes`` leaves become
    blobs.

    ``unchanged`` marks tensors equal to the parent's, which are then neither
    read nor hashed: entry names, tensors (matched by their storage), or a
    ``torch.nn.Module`` (its parameters with ``requires_grad=False``, i.e.
    frozen ones). Marks for tensors the parent lacks (first save, new shape
    or dtype) are dropped. A wrong mark stores the parent's bytes.

    Many ranks (``rank`` of ``world_size``, by default torch.distributed's
    when it is initialised) each save their part of one checkpoint, which
    appears when the last rank has saved. ``placements`` maps entry names to
    ``(global_shape, offsets)``: that tensor is this rank's piece of a
    global tensor (a row or column shard, any box). Other tensors are
    replicated: every rank that saves one must hold the same bytes, and it
    is stored once. Entry names that equal or start with a prefix in
    ``local`` (``"rng"``, ``"loader"``) are private to the rank, as is the
    structure (each rank loads its own back).

    Returns the :class:`ckpt.CheckpointInfo`; with ``async_=True`` a
    :class:`ckpt.SaveHandle` as soon as the tensors are copied into the
    store's staging area (the caller may then change them).

    Raises ``TypeError`` for a value it cannot store (complex or sparse
    tensors, functions, other classes) and ``ValueError`` for entry-name
    collisions after joining keys or a tensor on the ``meta`` device, both
    naming the offending path, before anything is written; and the
    :class:`ckpt.Error` subclasses of :meth:`ckpt.Store.save`.
    """
    flat = flatten(state)
    rank, world_size = _distributed(rank, world_size)
    hints = _unchanged_entries(store, run, parent, flat, unchanged)
    blobs = dict(flat.blobs)
    blobs[STRUCTURE_BLOB] = flat.structure_json()
    tensors: dict = dict(flat.tensors)
    for name, (global_shape, offsets) in (placements or {}).items():
        if name not in tensors:
            raise ValueError(f"placements names {name!r}, which is no tensor entry of this state")
        tensors[name] = Shard(tensors[name], tuple(global_shape), tuple(offsets))
    prefixes = [local] if isinstance(local, str) else list(local)
    private = {n for n in list(tensors) + list(blobs)
               if any(n == p or n.startswith(p + ".") for p in prefixes)}
    if world_size > 1:
        private.add(STRUCTURE_BLOB)
    kwargs = dict(blobs=blobs, metrics=metrics, attrs=attrs, parent=parent, unchanged=hints,
                  dtypes=flat.dtypes, rank=rank, world_size=world_size, local=private)
    if async_:
        return store.save_async(run, step, tensors, **kwargs)
    return store.save(run, step, tensors, **kwargs)


def load(store: Store, ref: str, *, map_location: Any = "cpu", rank: Optional[int] = None,
         boxes: Placements = None) -> Any:
    """Loads checkpoint ``ref`` as saved by :func:`save`; every byte is checked
    against its hash.

    Returns the saved structure, with tensors on ``map_location`` (a device or
    device string; CPU tensors share memory with nothing else). A checkpoint
    not saved by ckpt.torch (``ckpt import`` of a safetensors file, or
    ``Store.save``) comes back as a dict of entry name -> tensor, with blobs
    as ``bytes`` and tensors of a dtype this torch lacks as NumPy arrays.

    A sharded checkpoint comes back as rank ``rank`` saved it (by default
    torch.distributed's rank when it is initialised, else 0): its structure
    and private entries, with every sharded tensor put together whole, or,
    for names in ``boxes`` (``{name: (offsets, shape)}``), only that box: a
    job of another world size reads just its own shard. The rank must be
    one the checkpoint was saved by.

    Raises :class:`ckpt.NotFoundError`, :class:`ckpt.CorruptionError`, or
    ``ValueError`` for a structure this version cannot read or a rank the
    checkpoint has no state of.
    """
    info = store.show(ref).info
    saved_by, ref = info.world_size, info.id  # the id pins it if the ref moves meanwhile
    rank = _distributed(rank, None)[0] if saved_by > 1 else None
    if rank is not None and rank >= saved_by:
        raise ValueError(f"{ref} was saved by {saved_by} ranks, so it has no state of rank "
                         f"{rank}; pass rank= (0..{saved_by - 1}) for the structure and "
                         f"private entries, and boxes= for this rank's part of each tensor")
    ck = store.load(ref, rank=rank, boxes=boxes)
    structure = ck.blobs.get(STRUCTURE_BLOB)
    if structure is not None:
        return unflatten(structure, ck, ck.blobs, map_location)
    return _flat_state(ck, map_location)


def frozen_parameters(module: torch.nn.Module) -> list:
    """The parameters of ``module`` with ``requires_grad=False``, for ``unchanged``."""
    return [p for p in module.parameters() if not p.requires_grad]


def _flat_state(ck: Any, map_location: Any) -> dict:
    out: dict = {}
    for name, array in ck.items():
        dtype = torch_dtype_of_ckpt(ck.dtypes[name])
        # A dtype this torch lacks (torch 1.13 has no U16..U64): the NumPy array.
        out[name] = array if dtype is None else tensor_from_array(array, dtype, map_location)
    out.update(ck.blobs)
    return out


def _unchanged_entries(store: Store, run: str, parent: Optional[str], flat: Any,
                       unchanged: Unchanged) -> set:
    if unchanged is None:
        return set()
    if isinstance(unchanged, (str, torch.Tensor, torch.nn.Module)):
        unchanged = [unchanged]
    names, keys = set(), set()
    for u in unchanged:
        if isinstance(u, str):
            if u not in flat.tensors:
                raise ValueError(f"unchanged names {u!r}, which is no tensor entry of this state")
            names.add(u)
        elif isinstance(u, torch.Tensor):
            keys.add(storage_key(u))
        elif isinstance(u, torch.nn.Module):
            keys.update(storage_key(p) for p in frozen_parameters(u))
        else:
            raise TypeError(f"unchanged: expected entry names, tensors or modules, "
                            f"got {type(u).__name__}")
    names.update(n for n, k in flat.tensor_keys.items() if k in keys)
    if not names:
        return set()
    try:
        detail = store.show(parent if parent is not None else run)
    except NotFoundError:
        if parent is not None:
            raise
        return set()  # the run's first checkpoint: nothing to reuse
    previous = {e.name: e for e in detail.entries if not e.is_blob}
    return {n for n in names if n in previous
            and previous[n].dtype == flat.entry_dtypes[n]
            and tuple(previous[n].shape) == tuple(flat.tensors[n].shape)}


class CheckpointManager:
    """Saves a training run's state every ``every_steps`` steps and restores the latest.

    ``store_or_path`` is a :class:`ckpt.Store` (left open by :meth:`close`) or
    a directory, opened with ``create=True`` and ``store_options`` and closed
    by :meth:`close`. ``policy`` is the run's retention policy, as keyword
    arguments of :meth:`ckpt.Store.set_policy` (``dict(keep_last=3,
    keep_best=[(2, "loss", "min")])``) or a :class:`ckpt.RetentionPolicy`;
    it is stored in the store, so ``ckpt gc`` from cron applies the same
    rules (and ``gc_every_saves`` in ``store_options`` runs gc from here).

    With ``async_`` (the default) a save returns once the tensors are staged;
    saves commit in order, and the error of a failed one is raised by the
    next call to :meth:`save`, :meth:`wait`, :meth:`latest_step`,
    :meth:`restore` or :meth:`close`.
    """

    def __init__(self, store_or_path: Union[Store, str], run: str, *,
                 every_steps: Optional[int] = None,
                 policy: Union[None, Mapping[str, Any], RetentionPolicy] = None,
                 async_: bool = True, **store_options: Any) -> None:
        if every_steps is not None and (not isinstance(every_steps, int) or every_steps <= 0):
            raise ValueError(f"every_steps must be a positive int, got {every_steps!r}")
        if isinstance(store_or_path, Store):
            if store_options:
                raise TypeError("store options apply only when the manager opens the store")
            self.store, self._owns_store = store_or_path, False
        else:
            self.store, self._owns_store = Store(str(store_or_path), create=True,
                                                 **store_options), True
        self.run, self.every_steps, self.async_ = run, every_steps, bool(async_)
        self._pending: list = []
        try:
            if policy is not None:
                rules = dict(policy.__dict__) if isinstance(policy, RetentionPolicy) else dict(policy)
                if "keep_within_seconds" in rules:
                    rules["keep_within"] = rules.pop("keep_within_seconds")
                self.store.set_policy(run, **rules)
        except BaseException:
            self._release()
            raise

    def due(self, step: int) -> bool:
        """True if ``step`` is one the manager saves at (every ``every_steps``)."""
        return self.every_steps is None or step % self.every_steps == 0

    def save(self, step: int, state: Any, *, metrics: Optional[Mapping[str, float]] = None,
             force: bool = False, unchanged: Unchanged = None
             ) -> Union[None, CheckpointInfo, SaveHandle]:
        """Saves ``state`` as ``run@step`` if the step is due (or ``force``);
        returns None when it is not, else what :func:`save` returns."""
        if not (force or self.due(step)):
            return None
        self._raise_finished()
        result = save(self.store, self.run, step, state, metrics=metrics, async_=self.async_,
                      unchanged=unchanged)
        if self.async_:
            self._pending.append(result)
        return result

    def wait(self) -> None:
        """Waits until every save is durable; raises the first failed one's error."""
        pending, self._pending = self._pending, []
        first_error = None
        for handle in pending:
            try:
                handle.result()
            except Exception as e:  # keep waiting for the others, then raise
                first_error = first_error or e
        if first_error is not None:
            raise first_error

    def latest_step(self) -> Optional[int]:
        """The step of the run's latest checkpoint, or None if it has none."""
        self.wait()
        try:
            history = self.store.log(self.run)
        except NotFoundError:
            return None
        return history[-1].step if history else None

    def restore(self, step: Optional[int] = None, *, map_location: Any = "cpu") -> Any:
        """Loads ``run@step`` (the latest if None); None if the run has no checkpoint."""
        if step is None:
            step = self.latest_step()
            if step is None:
                return None
        else:
            self.wait()
        return load(self.store, f"{self.run}@{step}", map_location=map_location)

    def close(self) -> None:
        """Waits for pending saves, then closes the store if the manager opened it."""
        try:
            self.wait()
        finally:
            self._release()

    def __enter__(self) -> "CheckpointManager":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return (f"CheckpointManager({self.store.path!r}, run={self.run!r}, "
                f"every_steps={self.every_steps}, pending={len(self._pending)})")

    def _raise_finished(self) -> None:
        done, pending = [], []
        for handle in self._pending:
            (done if handle.done() else pending).append(handle)
        self._pending = pending
        for i, handle in enumerate(done):
            try:
                handle.result()
            except Exception:
                self._pending[:0] = done[i + 1:]  # their errors are raised later
                raise

    def _release(self) -> None:
        if self._owns_store:
            self.store.close()
