"""ckpt: an incremental, content-addressed checkpoint store for training.

Python bindings of libckpt. Open a store with :class:`Store`, save NumPy
arrays (or any C-contiguous buffer) with ``Store.save`` / ``Store.save_async``,
load them back with ``Store.load``. Library errors raise subclasses of
:class:`Error`: ``NotFoundError`` (also a ``KeyError``), ``AlreadyExistsError``,
``InvalidArgumentError`` (also a ``ValueError``), ``CorruptionError``,
``StoreIOError`` / ``NoSpaceError`` (also ``OSError``), ``BusyError``,
``VersionMismatchError``, ``NotSupportedError``, ``AbortedError``.
"""

from ._errors import (
    AbortedError,
    AlreadyExistsError,
    BusyError,
    CorruptionError,
    Error,
    InvalidArgumentError,
    NoSpaceError,
    NotFoundError,
    NotSupportedError,
    StoreIOError,
    VersionMismatchError,
)
from ._store import SaveHandle, Store
from ._types import (
    NUMPY_DTYPES,
    RAW_DTYPES,
    Checkpoint,
    CheckpointDetail,
    CheckpointInfo,
    Diff,
    EntryChange,
    EntryInfo,
    GcReport,
    RetentionDecision,
    RetentionPolicy,
    PieceInfo,
    RunInfo,
    Shard,
    StoreConfig,
    StoreStats,
    TensorDiff,
    VerifyProblem,
    VerifyReport,
)

__version__ = "0.1.0"

__all__ = [
    "AbortedError", "AlreadyExistsError", "BusyError", "Checkpoint", "CheckpointDetail",
    "CheckpointInfo", "CorruptionError", "Diff", "EntryChange", "EntryInfo", "Error",
    "GcReport", "InvalidArgumentError", "NUMPY_DTYPES", "NoSpaceError", "NotFoundError",
    "NotSupportedError", "PieceInfo", "RAW_DTYPES", "RetentionDecision", "RetentionPolicy",
    "RunInfo", "SaveHandle", "Shard", "Store", "StoreConfig", "StoreIOError", "StoreStats",
    "TensorDiff", "VerifyProblem", "VerifyReport", "VersionMismatchError",
]
