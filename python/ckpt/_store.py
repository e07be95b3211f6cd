"""ckpt.Store: a checkpoint store on disk, over the C++ library."""

from __future__ import annotations

import numbers
import time
from typing import Any, Callable, Iterable, Mapping, Optional, Sequence, Tuple, Union

from . import _ckpt
from ._types import (
    Checkpoint,
    CheckpointDetail,
    CheckpointInfo,
    Diff,
    EntryChange,
    EntryInfo,
    GcReport,
    RetentionDecision,
    RetentionPolicy,
    RunInfo,
    Shard,
    StoreConfig,
    StoreStats,
    TensorDiff,
    VerifyProblem,
    VerifyReport,
    _build,
    _entry,
    _optional,
)

Buffer = Any  # anything with the buffer protocol: numpy.ndarray, memoryview, bytes...


class SaveHandle:
    """The outcome of ``Store.save_async``: a save running in the background."""

    def __init__(self, handle: "_ckpt._SaveHandle") -> None:
        self._handle = handle

    def done(self) -> bool:
        """True once the save has finished (``result`` would not block)."""
        return self._handle.ready()

    def result(self, timeout: Optional[float] = None) -> CheckpointInfo:
        """Waits for the save and returns its :class:`CheckpointInfo`.

        Raises the save's error (a :class:`ckpt.Error` subclass, e.g.
        ``AlreadyExistsError``), or ``TimeoutError`` if ``timeout`` seconds
        pass first (the save goes on; call again). Every call returns the same.
        """
        if timeout is not None:
            deadline = time.monotonic() + timeout
            pause = 0.001
            while not self._handle.ready():
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"save not finished after {timeout} s")
                time.sleep(min(pause, left))
                pause = min(pause * 2, 0.05)
        return CheckpointInfo._from(self._handle.wait())

    def __repr__(self) -> str:
        return f"SaveHandle(done={self.done()})"


def _policy_rules(keep_last: int, keep_every: int, keep_within: Union[None, int, float, str],
                  keep_hourly: int, keep_daily: int, keep_weekly: int, keep_monthly: int,
                  keep_best: Iterable[Tuple[int, str, str]]) -> dict:
    if isinstance(keep_within, str):
        within = _ckpt.parse_duration_seconds(keep_within)
    elif keep_within is None:
        within = 0
    else:
        within = int(keep_within)
    rules = dict(keep_last=keep_last, keep_every=keep_every, keep_within_seconds=within,
                 keep_hourly=keep_hourly, keep_daily=keep_daily, keep_weekly=keep_weekly,
                 keep_monthly=keep_monthly, keep_best=[tuple(b) for b in keep_best])
    for k, v in rules.items():
        if k != "keep_best" and (not isinstance(v, int) or v < 0):
            raise ValueError(f"{k} must be a non-negative int, got {v!r}")
    return rules


class Store:
    """An incremental, content-addressed checkpoint store in directory ``path``,
    or in object storage if ``path`` is ``"s3://BUCKET/PREFIX"`` (endpoint,
    region and credentials from ``AWS_ENDPOINT_URL``, ``AWS_REGION``,
    ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``; ``cache_dir`` is where
    this host keeps its copy of the index, see the C++ ``StoreOptions``).

    ``Store(path, create=True)`` creates it if missing. Options (keyword only):
    ``chunk_size``, ``zstd_level`` and ``delta_max_depth`` are persisted at
    creation (ignored when opening); ``threads`` (0 = all cores),
    ``read_only``, ``lock_timeout_ms``, ``pack_target_size``,
    ``gc_every_saves``, ``auto_gc_grace_seconds``, ``async_staging_bytes``,
    ``error_if_exists`` apply to this handle. See the C++ ``StoreOptions``.

    Refs name a checkpoint: ``"RUN@STEP"``, ``"RUN"`` (its latest), a tag, or
    a unique id prefix. A Store is safe to use from many threads; it is a
    context manager, and ``close()`` waits for queued ``save_async`` saves.
    Any method of a closed store raises ``ValueError``. Library errors raise
    subclasses of :class:`ckpt.Error`.
    """

    def __init__(self, path: str, create: bool = False, *, read_only: bool = False,
                 error_if_exists: bool = False, chunk_size: Optional[int] = None,
                 zstd_level: Optional[int] = None, delta_max_depth: Optional[int] = None,
                 threads: Optional[int] = None, lock_timeout_ms: Optional[int] = None,
                 pack_target_size: Optional[int] = None, gc_every_saves: Optional[int] = None,
                 auto_gc_grace_seconds: Optional[int] = None,
                 async_staging_bytes: Optional[int] = None,
                 cache_dir: Optional[str] = None) -> None:
        opts = dict(create=bool(create), read_only=bool(read_only),
                    error_if_exists=bool(error_if_exists), chunk_size=chunk_size,
                    zstd_level=zstd_level, delta_max_depth=delta_max_depth, threads=threads,
                    lock_timeout_ms=lock_timeout_ms, pack_target_size=pack_target_size,
                    gc_every_saves=gc_every_saves, auto_gc_grace_seconds=auto_gc_grace_seconds,
                    async_staging_bytes=async_staging_bytes,
                    cache_dir=None if cache_dir is None else str(cache_dir))
        self.path = str(path)
        self._s = _ckpt._Store(self.path, {k: v for k, v in opts.items() if v is not None})

    # -- lifetime ---------------------------------------------------------
    def close(self) -> None:
        """Waits for queued background saves, then releases the store. Idempotent."""
        self._s.close()

    @property
    def closed(self) -> bool:
        return self._s.closed

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({self.path!r}{', closed' if self.closed else ''})"

    @property
    def config(self) -> StoreConfig:
        """The persisted settings (chunk size, zstd level, delta depth, id)."""
        return _build(StoreConfig, self._s.config())

    # -- saving -----------------------------------------------------------
    def save(self, run: str, step: int, tensors: Mapping[str, Buffer], *,
             blobs: Optional[Mapping[str, Buffer]] = None,
             metrics: Optional[Mapping[str, float]] = None,
             attrs: Optional[Mapping[str, str]] = None, parent: Optional[str] = None,
             unchanged: Iterable[str] = (),
             dtypes: Optional[Mapping[str, str]] = None,
             progress: Optional[Callable[[int, int], None]] = None,
             rank: int = 0, world_size: int = 1, local: Iterable[str] = ()) -> CheckpointInfo:
        """Saves checkpoint ``run@step`` and returns its :class:`CheckpointInfo`.

        ``tensors`` maps names to C-contiguous buffers (NumPy arrays,
        memoryviews...): they are read in place, without a copy, and must not
        change until ``save`` returns. The dtype comes from the buffer's
        format (bool, (u)int8..64, float16/32/64); ``dtypes`` overrides it per
        tensor with a ckpt dtype name of the same element size, e.g.
        ``{"w": "BF16"}`` for a uint16 array holding bfloat16 bits.
        ``blobs`` maps names to byte buffers stored verbatim (RNG state...).
        ``metrics`` (name -> float) and ``attrs`` (name -> str) are metadata;
        ``parent`` is a ref (default: the run's latest checkpoint).
        ``unchanged`` names tensors equal to the parent's (frozen weights):
        their bytes are not read at all. The GIL is released while saving;
        ``progress(done, total)`` (bytes) is called as the save goes on, and
        an exception it raises is raised by ``save`` once the save is over.

        Sharded checkpoints: with ``world_size`` > 1 this call saves the
        shard of rank ``rank``; each of the ``world_size`` ranks (processes
        on any host sharing the store) saves its own, and the checkpoint
        appears, whole, when the last one is saved. Until then the returned
        info has an empty ``id`` and ``shards_missing`` > 0. A value of
        ``tensors`` may be a :class:`ckpt.Shard` (a piece of a global tensor)
        or a list of them; a plain array saved by several ranks must be the
        same on each (replicated) and is stored once; names in ``local``
        (tensors or blobs) are private to this rank and read back as
        ``"rank<R>/<name>"`` (or by ``load(ref, rank=R)``).

        Raises ``AlreadyExistsError`` (run@step exists), ``InvalidArgumentError``
        (bad names, duplicate entries, shards that do not fit: another world
        size, overlapping pieces, a replicated tensor that differs between
        ranks), ``NotFoundError`` (parent),
        ``NotSupportedError`` (read-only store), ``ValueError`` (a buffer that
        is not C-contiguous or of an unsupported format), ``TypeError``.
        """
        return CheckpointInfo._from(self._s.save(*self._save_args(
            run, step, tensors, blobs, metrics, attrs, parent, unchanged, dtypes, rank,
            world_size, local), progress))

    def save_async(self, run: str, step: int, tensors: Mapping[str, Buffer], *,
                   blobs: Optional[Mapping[str, Buffer]] = None,
                   metrics: Optional[Mapping[str, float]] = None,
                   attrs: Optional[Mapping[str, str]] = None, parent: Optional[str] = None,
                   unchanged: Iterable[str] = (),
                   dtypes: Optional[Mapping[str, str]] = None,
                   rank: int = 0, world_size: int = 1, local: Iterable[str] = ()) -> SaveHandle:
        """Like :meth:`save`, in the background; returns a :class:`SaveHandle`.

        Copies the tensors and blobs into the store's staging area
        (``async_staging_bytes``) and returns: from then on the arrays may be
        changed. Saves of one Store commit in submission order. Argument errors
        raise at once; the save's own errors come from ``handle.result()``.
        """
        return SaveHandle(self._s.save_async(*self._save_args(
            run, step, tensors, blobs, metrics, attrs, parent, unchanged, dtypes, rank,
            world_size, local)))

    @staticmethod
    def _save_args(run, step, tensors, blobs, metrics, attrs, parent, unchanged, dtypes,
                   rank=0, world_size=1, local=()):
        if not isinstance(run, str):
            raise TypeError(f"run must be a str, got {type(run).__name__}")
        if isinstance(step, bool) or not isinstance(step, int) or step < 0:
            raise ValueError(f"step must be a non-negative int, got {step!r}")
        tensors = dict(tensors)
        for what, d, value_types in (("tensors", tensors, None), ("blobs", blobs or {}, None),
                                     ("metrics", metrics or {}, (numbers.Real,)),
                                     ("attrs", attrs or {}, (str,))):
            for k, v in d.items():
                if not isinstance(k, str):
                    raise TypeError(f"{what}: names must be str, got {k!r}")
                if value_types and (isinstance(v, bool) or not isinstance(v, value_types)):
                    raise TypeError(f"{what}[{k!r}]: expected a {value_types[0].__name__}, "
                                    f"got {type(v).__name__}")
        unchanged = set([unchanged] if isinstance(unchanged, str) else unchanged)
        unknown = unchanged - set(tensors)
        if unknown:
            raise ValueError(f"unchanged names tensors not in tensors: {sorted(unknown)}")
        for what, v in (("rank", rank), ("world_size", world_size)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise ValueError(f"{what} must be a non-negative int, got {v!r}")
        if not rank < world_size:
            raise ValueError(f"rank {rank} is not below world_size {world_size}")
        local = set([local] if isinstance(local, str) else local)
        unknown = local - set(tensors) - set(blobs or {})
        if unknown:
            raise ValueError(f"local names entries not in tensors or blobs: {sorted(unknown)}")
        whole, pieces = {}, []
        for name, value in tensors.items():
            shards = value if isinstance(value, (list, tuple)) and value and all(
                isinstance(x, Shard) for x in value) else [value] if isinstance(value, Shard) \
                else None
            if shards is None:
                whole[name] = value
                continue
            if name in local:
                raise ValueError(f"tensors[{name!r}]: a piece of a global tensor cannot be local")
            for sh in shards:
                pieces.append((name, sh.array, [int(d) for d in sh.global_shape],
                               [int(o) for o in sh.offsets]))
        return (run, step, whole, pieces, dict(blobs or {}), dict(metrics or {}),
                dict(attrs or {}), _optional(parent), unchanged, dict(dtypes or {}), local,
                rank, world_size)

    # -- loading ----------------------------------------------------------
    def load(self, ref: str, *, rank: Optional[int] = None,
             boxes: Optional[Mapping[str, Tuple[Sequence[int], Sequence[int]]]] = None
             ) -> Checkpoint:
        """Loads every tensor and blob of ``ref``; every byte is checked against its hash.

        Returns a :class:`Checkpoint`: a dict of tensor name -> new NumPy
        array, with ``.blobs`` (name -> bytes), ``.dtypes`` (name -> ckpt
        dtype) and ``.info``. BF16 / F8 tensors come back as raw uint16 /
        uint8 arrays (see ``Checkpoint``).

        A sharded checkpoint loads as its global tensors, each put together
        from its pieces, and the rank-local entries of every rank as
        ``"rank<R>/<name>"``; with ``rank=R`` only rank R's, under their own
        names. ``boxes`` maps tensor names to ``(offsets, shape)``: only that
        box of the tensor is read (a rank's own shard, for any world size).

        Raises ``NotFoundError`` (also for a region of a global tensor that no
        piece covers), ``CorruptionError`` (naming the pack, chunk, checkpoint
        and tensor), ``InvalidArgumentError`` for a box outside its tensor.
        """
        if rank is not None and (isinstance(rank, bool) or not isinstance(rank, int) or rank < 0):
            raise ValueError(f"rank must be a non-negative int, got {rank!r}")
        info, entries, data = self._s.load(
            ref, -1 if rank is None else rank,
            {k: ([int(o) for o in v[0]], [int(d) for d in v[1]]) for k, v in (boxes or {}).items()})
        ck = Checkpoint()
        ck.info = CheckpointInfo._from(info)
        ck.blobs, ck.dtypes = {}, {}
        for e in entries:
            if e["is_blob"]:
                ck.blobs[e["name"]] = data[e["name"]]
            else:
                ck[e["name"]] = data[e["name"]]
                ck.dtypes[e["name"]] = e["dtype"]
        return ck

    def tensor(self, ref: str, name: str, out: Optional[Buffer] = None, *,
               box: Optional[Tuple[Sequence[int], Sequence[int]]] = None) -> Any:
        """Loads one tensor (or blob) of ``ref``.

        Into ``out`` if given (a writable C-contiguous buffer of exactly the
        entry's byte length, e.g. a preallocated array), which is returned;
        else into a new NumPy array (uint8 for a blob). With ``box=(offsets,
        shape)``, only that box of the tensor, as a new array of that shape,
        decoding only the chunks it overlaps: how a job of any world size
        reads its own shard of a sharded checkpoint (works on any tensor).
        Raises ``NotFoundError`` for an unknown ref or name or a region no
        piece covers, ``InvalidArgumentError`` for a box outside the tensor,
        ``ValueError`` for a wrong-sized or read-only ``out``.
        """
        if box is not None:
            if out is not None:
                raise ValueError("tensor: give out or box, not both")
            offsets, shape = box
            return self._s.tensor_box(ref, name, [int(o) for o in offsets],
                                      [int(d) for d in shape])
        return self._s.tensor(ref, name, out)

    def read_range(self, ref: str, name: str, offset: int, length: int) -> bytes:
        """Returns bytes ``[offset, offset+length)`` of entry ``name``, reading only
        the chunks that overlap. Raises ``InvalidArgumentError`` past the end."""
        if offset < 0 or length < 0:
            raise ValueError("offset and length must be non-negative")
        return self._s.read_range(ref, name, offset, length)

    # -- history ----------------------------------------------------------
    def log(self, run: Optional[str] = None) -> list:
        """Lists the checkpoints of ``run`` by step (every run's when None) as
        :class:`CheckpointInfo`. Raises ``NotFoundError`` for an unknown run."""
        return [CheckpointInfo._from(d) for d in self._s.log(_optional(run))]

    def runs(self) -> list:
        """Lists every run as :class:`RunInfo`, sorted by name."""
        return [_build(RunInfo, d) for d in self._s.runs()]

    def show(self, ref: str) -> CheckpointDetail:
        """Returns the info and the entry list of ``ref`` (no tensor bytes)."""
        info, entries = self._s.show(ref)
        return CheckpointDetail(CheckpointInfo._from(info), tuple(_entry(e) for e in entries))

    def diff(self, a: str, b: str, values: bool = False) -> Diff:
        """Compares checkpoints ``a`` and ``b`` by chunk ids, reading no tensor bytes.

        With ``values=True``, also by value: ``Diff.values`` holds a
        :class:`TensorDiff` per tensor of both with the same dtype and shape
        (elements changed, max and mean ``|b - a|``, ``rel_l2`` =
        ``||b - a|| / ||a||``). Only chunks whose ids differ are compared; a
        tensor with none is not read, and a changed one's other chunks are
        read from ``a`` only, for ``||a||``. Every chunk read is checked
        against its hash; the GIL is released meanwhile.
        """
        da, db = self.show(a), self.show(b)
        chunk_size = self.config.chunk_size
        old = {e.name: e for e in da.entries}
        new = {e.name: e for e in db.entries}
        added = tuple(EntryChange(n, e.byte_length) for n, e in new.items() if n not in old)
        removed = tuple(EntryChange(n) for n in old if n not in new)
        changed, unchanged = [], 0
        for n, e in new.items():
            if n not in old:
                continue
            o = old[n]
            typed = (o.is_blob, o.dtype, o.shape) != (e.is_blob, e.dtype, e.shape)
            lengths = _chunk_lengths(e, chunk_size)
            nbytes = sum(ln for i, ln in enumerate(lengths)
                         if i >= len(o.chunk_ids) or o.chunk_ids[i] != e.chunk_ids[i])
            if typed or nbytes:
                changed.append(EntryChange(n, nbytes, typed))
            else:
                unchanged += 1
        total = sum(c.bytes_changed for c in added) + sum(c.bytes_changed for c in changed)
        tensors = ()
        if values:
            # By id: the two checkpoints just described, even if a ref moved since.
            d = self._s.diff_values(da.info.id, db.info.id)
            tensors = tuple(TensorDiff(**dict(t, shape=tuple(t["shape"]))) for t in d["tensors"])
        return Diff(added, removed, tuple(changed), unchanged, total,
                    sum(e.byte_length for e in db.entries), tensors)

    # -- management -------------------------------------------------------
    def tag(self, ref: str, name: str) -> None:
        """Points tag ``name`` at ``ref``. Raises ``AlreadyExistsError`` if it names another."""
        self._s.tag(ref, name)

    def untag(self, name: str) -> None:
        """Removes tag ``name``. Raises ``NotFoundError``."""
        self._s.untag(name)

    def rm(self, ref: str) -> None:
        """Removes checkpoint ``ref`` and its tags; gc reclaims its space."""
        self._s.rm(ref)

    def set_policy(self, run: Optional[str], *, keep_last: int = 0, keep_every: int = 0,
                   keep_within: Union[None, int, str] = None, keep_hourly: int = 0,
                   keep_daily: int = 0, keep_weekly: int = 0, keep_monthly: int = 0,
                   keep_best: Sequence[Tuple[int, str, str]] = ()) -> None:
        """Stores the retention policy of ``run`` (``None``: the store-wide default).

        A checkpoint is kept if any rule keeps it; tags are always kept.
        ``keep_within`` is seconds or a duration like ``"48h"``, ``"7d"``;
        ``keep_best`` is ``[(count, metric, "min"|"max"), ...]``. At least one
        rule is required (``InvalidArgumentError``).
        """
        self._s.set_policy(_optional(run), _policy_rules(
            keep_last, keep_every, keep_within, keep_hourly, keep_daily, keep_weekly,
            keep_monthly, keep_best))

    def unset_policy(self, run: Optional[str]) -> None:
        """Removes the policy of ``run`` (``None``: the default). Raises ``NotFoundError``."""
        self._s.unset_policy(_optional(run))

    def get_policy(self, run: Optional[str]) -> RetentionPolicy:
        """Returns the stored policy of ``run`` (``None``: the default)."""
        d = self._s.get_policy(_optional(run))
        d["keep_best"] = tuple(tuple(b) for b in d["keep_best"])
        return RetentionPolicy(**d)

    def gc(self, dry_run: bool = False, *, run: Optional[str] = None,
           repack_threshold: float = 0.5, grace_seconds: int = 3600,
           log_snapshot_records: int = 1000) -> GcReport:
        """Applies the stored retention policies and reclaims space.

        ``dry_run`` only plans: ``report.decisions`` lists every checkpoint
        with the rules keeping it. ``run`` limits removal to one run. Packs
        are deleted ``grace_seconds`` after gc stopped using them. In object
        storage, gc writes a snapshot of the index once the index log has
        grown by ``log_snapshot_records`` records since the last (0: never).
        """
        d = self._s.gc(bool(dry_run), _optional(run), None, float(repack_threshold),
                       int(grace_seconds), int(log_snapshot_records))
        d["decisions"] = tuple(RetentionDecision(CheckpointInfo._from(x["checkpoint"]),
                                                 tuple(x["reasons"])) for x in d["decisions"])
        d["runs_without_policy"] = tuple(d["runs_without_policy"])
        d["step_seconds"] = tuple(tuple(s) for s in d["step_seconds"])
        return GcReport(**d)

    def verify(self, read_data: bool = False) -> VerifyReport:
        """Checks the store; with ``read_data`` reads and hashes every chunk.
        Problems are in the report (``report.ok``), not raised."""
        d = self._s.verify(bool(read_data))
        d["problems"] = tuple(VerifyProblem(p["code"], p["message"], tuple(p["checkpoints"]),
                                            tuple(p["tensors"])) for p in d["problems"])
        return VerifyReport(**d)

    def stats(self) -> StoreStats:
        """Sizes and counts of the whole store."""
        return _build(StoreStats, self._s.stats())


def _chunk_lengths(e: EntryInfo, chunk_size: int) -> list:
    """Byte length of each chunk of ``e`` as the store cut it (as the CLI's diff does)."""
    n = len(e.chunk_ids)
    if n == 0:
        return []
    elem = 1 if e.is_blob else _ckpt.dtype_size(e.dtype)
    cut = max(elem, chunk_size // elem * elem)
    if -(-e.byte_length // cut) != n:
        cut = -(-e.byte_length // n)
    out, off = [], 0
    for _ in range(n):
        ln = min(cut, e.byte_length - off) if off < e.byte_length else 0
        out.append(ln)
        off += ln
    return out
