"""Typed results of ckpt.Store's methods: small frozen dataclasses."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Dict, Mapping, Optional, Tuple, Union

#: ckpt's element types (safetensors spelling) and the NumPy dtype each loads
#: as. NumPy has no bfloat16 or float8: those load as raw uint16 / uint8
#: views of the stored bytes, and ``Checkpoint.dtypes`` records the real type.
NUMPY_DTYPES: Mapping[str, str] = {
    "BOOL": "bool",
    "U8": "uint8",
    "I8": "int8",
    "F8_E5M2": "uint8",
    "F8_E4M3": "uint8",
    "I16": "int16",
    "U16": "uint16",
    "F16": "float16",
    "BF16": "uint16",
    "I32": "int32",
    "U32": "uint32",
    "F32": "float32",
    "F64": "float64",
    "I64": "int64",
    "U64": "uint64",
}

#: The ckpt dtypes NumPy cannot represent; they load as raw integer views.
RAW_DTYPES = frozenset({"BF16", "F8_E5M2", "F8_E4M3"})


def _build(cls, d: Mapping[str, Any]):
    names = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: v for k, v in d.items() if k in names})


@dataclass(frozen=True)
class CheckpointInfo:
    """A checkpoint as listed by ``Store.log`` and returned by ``Store.save``."""

    id: str
    run: str
    step: int
    parent_id: str = ""
    metrics: Dict[str, float] = field(default_factory=dict)
    attrs: Dict[str, str] = field(default_factory=dict)
    wall_time_ns: int = 0
    tags: Tuple[str, ...] = ()
    tensor_count: int = 0
    blob_count: int = 0
    logical_bytes: int = 0  #: sum of tensor and blob lengths
    new_bytes: int = 0  #: encoded chunk bytes this save added
    new_raw_bytes: int = 0  #: logical bytes of the chunks this save added
    shared_bytes: int = 0  #: logical bytes found already stored
    #: Sharded checkpoints: how many ranks wrote it (1 otherwise).
    world_size: int = 1
    #: What ``Store.save`` returns for a shard while others are still to
    #: come: the shards still missing (the checkpoint is not visible yet, and
    #: ``id`` is empty).
    shards_missing: int = 0

    @property
    def ref(self) -> str:
        """``"RUN@STEP"``, a ref naming this checkpoint."""
        return f"{self.run}@{self.step}"

    @classmethod
    def _from(cls, d: Mapping[str, Any]) -> "CheckpointInfo":
        d = dict(d)
        d["tags"] = tuple(d.get("tags", ()))
        return _build(cls, d)


@dataclass(frozen=True)
class PieceInfo:
    """One piece of a sharded tensor: its box in the global tensor and who wrote it."""

    writer_rank: int
    offsets: Tuple[int, ...]
    shape: Tuple[int, ...]
    byte_length: int


@dataclass(frozen=True)
class EntryInfo:
    """One tensor or blob of a checkpoint, without its bytes.

    In a sharded checkpoint a global tensor saved in pieces is one entry with
    its global ``shape`` and its ``pieces``; an entry private to rank R is
    named ``"rank<R>/<name>"`` and has ``local_rank`` R (-1 otherwise)."""

    name: str
    is_blob: bool
    dtype: str  #: ckpt dtype name, e.g. "F32", "BF16" ("U8" for blobs)
    shape: Tuple[int, ...]
    byte_length: int
    chunk_ids: Tuple[str, ...] = field(default=(), repr=False)
    pieces: Tuple[PieceInfo, ...] = ()
    local_rank: int = -1
    writer_rank: int = 0  #: of an entry stored whole: the lowest rank that saved it


@dataclass(frozen=True)
class Shard:
    """A piece of a global tensor, as a value of ``Store.save``'s ``tensors``:
    ``array`` holds the box of shape ``array.shape`` at ``offsets`` in a
    tensor of ``global_shape``. A list of Shards saves several pieces of one
    tensor. Pieces must not overlap, across all ranks."""

    array: Any
    global_shape: Tuple[int, ...]
    offsets: Tuple[int, ...]


@dataclass(frozen=True)
class CheckpointDetail:
    """``Store.show``: a checkpoint's info and its entries (tensors, then blobs)."""

    info: CheckpointInfo
    entries: Tuple[EntryInfo, ...]


@dataclass(frozen=True)
class EntryChange:
    name: str
    bytes_changed: int = 0  #: bytes of the new entry in chunks that differ
    type_changed: bool = False  #: kind, dtype or shape differ


@dataclass(frozen=True)
class TensorDiff:
    """How far one tensor's values moved from ``a`` to ``b`` (``Store.diff(values=True)``).

    Floats of every dtype are compared as float64: an element changed when
    ``a != b`` as numbers (``+0 == -0``, NaN equals NaN). Changed elements
    whose difference is NaN or infinite count in ``elements_changed`` and
    ``nonfinite_changed`` only; the other statistics use the finite
    differences, and ``l2_a`` the finite elements of ``a``. Integer dtypes
    are compared exactly; their ``max_abs_diff`` is an exact ``int``.
    """

    name: str
    dtype: str
    shape: Tuple[int, ...]
    elements: int
    elements_changed: int
    fraction_changed: float  #: elements_changed / elements (0 if empty)
    nonfinite_changed: int
    max_abs_diff: Union[int, float]
    mean_abs_diff: float  #: mean |b - a| over the elements with a finite difference
    l2_diff: float  #: ||b - a||_2
    l2_a: float  #: ||a||_2
    rel_l2: float  #: l2_diff / l2_a; 0 if l2_diff is 0, inf if only l2_a is
    chunks: int
    chunks_changed: int  #: chunk positions whose ids differ
    bytes_read: int  #: from both checkpoints (0 for a tensor with no changed chunk)


@dataclass(frozen=True)
class Diff:
    """``Store.diff``: what changed from checkpoint ``a`` to checkpoint ``b``."""

    added: Tuple[EntryChange, ...]
    removed: Tuple[EntryChange, ...]
    changed: Tuple[EntryChange, ...]
    unchanged: int
    bytes_changed: int  #: over changed and added entries
    bytes_total: int  #: logical bytes of ``b``
    #: With ``values=True``: every tensor of both with the same dtype and
    #: shape, in ``b``'s order (entries added, removed or retyped are in the
    #: fields above; blobs are compared by chunk only).
    values: Tuple[TensorDiff, ...] = ()


@dataclass(frozen=True)
class RunInfo:
    name: str
    checkpoint_count: int
    latest_step: int
    latest_id: str


@dataclass(frozen=True)
class StoreConfig:
    """The persisted settings a store was created with."""

    format_version: int
    chunk_size: int
    zstd_level: int
    delta_max_depth: int
    store_id: str


@dataclass(frozen=True)
class StoreStats:
    runs: int
    checkpoints: int
    tags: int
    chunks: int
    packs: int
    logical_bytes: int
    unique_raw_bytes: int
    stored_chunk_bytes: int
    pack_bytes: int
    delta_chunks: int
    delta_raw_bytes: int
    delta_stored_bytes: int
    max_delta_depth: int
    dedup_ratio: float  #: logical_bytes / unique_raw_bytes
    compression_ratio: float  #: unique_raw_bytes / stored_chunk_bytes


@dataclass(frozen=True)
class VerifyProblem:
    code: str  #: the error's code name, e.g. "corruption"
    message: str
    checkpoints: Tuple[str, ...]  #: "run@step" of each affected checkpoint
    tensors: Tuple[str, ...]  #: "run@step:tensor" of each affected entry


@dataclass(frozen=True)
class VerifyReport:
    checkpoints_checked: int
    chunks_checked: int
    bytes_read: int
    problems: Tuple[VerifyProblem, ...]
    #: shards of sharded checkpoints not complete yet, whose chunks were checked too
    pending_shards_checked: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass(frozen=True)
class RetentionDecision:
    checkpoint: CheckpointInfo
    reasons: Tuple[str, ...]  #: rules that keep it; empty = removed

    @property
    def keep(self) -> bool:
        return bool(self.reasons)


@dataclass(frozen=True)
class RetentionPolicy:
    keep_last: int = 0
    keep_every: int = 0
    keep_within_seconds: int = 0
    keep_hourly: int = 0
    keep_daily: int = 0
    keep_weekly: int = 0
    keep_monthly: int = 0
    keep_best: Tuple[Tuple[int, str, str], ...] = ()  #: (count, metric, "min"|"max")


@dataclass(frozen=True)
class GcReport:
    decisions: Tuple[RetentionDecision, ...] = field(repr=False)
    runs_without_policy: Tuple[str, ...]
    checkpoints_removed: int
    chunks_removed: int
    bytes_unreferenced: int
    packs_repacked: int
    bytes_repacked: int
    packs_damaged: int
    packs_deleted: int
    orphan_packs_deleted: int
    bytes_deleted: int
    packs_pending: int
    index_compacted: bool
    log_snapshot: int  #: log record of the index snapshot written (0: none; object storage)
    dry_run: bool
    step_seconds: Tuple[Tuple[str, float], ...] = field(repr=False)


class Checkpoint(dict):
    """``Store.load``'s result: a dict of tensor name -> NumPy array.

    Beside the tensors it carries the checkpoint's ``info``
    (:class:`CheckpointInfo`), its ``blobs`` (name -> bytes) and ``dtypes``
    (tensor name -> ckpt dtype name). For BF16 and the F8 types, which NumPy
    lacks, the array is a raw uint16 / uint8 view of the stored bytes and
    ``dtypes`` says what they are; pass ``dtypes=ckpt.dtypes`` back to
    ``Store.save`` to store them as that type again.
    """

    info: CheckpointInfo
    blobs: Dict[str, bytes]
    dtypes: Dict[str, str]

    @property
    def run(self) -> str:
        return self.info.run

    @property
    def step(self) -> int:
        return self.info.step

    @property
    def id(self) -> str:
        return self.info.id

    @property
    def metrics(self) -> Dict[str, float]:
        return self.info.metrics

    @property
    def attrs(self) -> Dict[str, str]:
        return self.info.attrs

    def __repr__(self) -> str:
        return (f"Checkpoint({self.info.run}@{self.info.step}, tensors={list(self)}, "
                f"blobs={list(self.blobs)})")


def _entry(d: Mapping[str, Any]) -> EntryInfo:
    d = dict(d)
    d["pieces"] = tuple(_build(PieceInfo, p) for p in d.get("pieces", ()))
    return _build(EntryInfo, d)


def _optional(x: Optional[str]) -> str:
    return "" if x is None else x
