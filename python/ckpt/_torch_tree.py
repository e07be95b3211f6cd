"""The state tree of ckpt.torch: a nesting of containers turned into store entries and back.

A training state (``model.state_dict()``, ``optimizer.state_dict()``, RNG
states, counters...) is split into

* one store entry per distinct tensor or NumPy array, named by its path with
  the keys joined by ``.`` (``model.fc.weight``, ``optimizer.state.0.exp_avg``),
  read in place when it is a contiguous CPU tensor;
* one blob per ``bytes`` / ``bytearray`` leaf, named the same way;
* a JSON document, the *structure*, saved as blob :data:`STRUCTURE_BLOB`, that
  records every container and plain value and points at those entries.

Nothing is pickled: loading builds containers, numbers, strings and tensors,
and never runs code. The JSON format is described in docs/python.md.
"""

from __future__ import annotations

import collections
import json
import math
from typing import Any, Dict, List, Optional, Set, Tuple

import numpy as np
import torch

FORMAT = "ckpt.torch/1"
STRUCTURE_BLOB = "__ckpt_torch__.json"

# torch dtype -> ckpt dtype name. Newer torch builds add unsigned and float8
# types; they map when present.
_TORCH_TO_CKPT: Dict[torch.dtype, str] = {
    torch.bool: "BOOL", torch.uint8: "U8", torch.int8: "I8", torch.int16: "I16",
    torch.int32: "I32", torch.int64: "I64", torch.float16: "F16",
    torch.bfloat16: "BF16", torch.float32: "F32", torch.float64: "F64",
}
for _attr, _name in (("uint16", "U16"), ("uint32", "U32"), ("uint64", "U64"),
                     ("float8_e5m2", "F8_E5M2"), ("float8_e4m3fn", "F8_E4M3")):
    if isinstance(getattr(torch, _attr, None), torch.dtype):
        _TORCH_TO_CKPT[getattr(torch, _attr)] = _name

# Types NumPy cannot hold: the tensor is handed over (and read back) as the
# same-sized signed integer tensor, and the ckpt dtype name says what it is.
_VIEW_AS: Dict[torch.dtype, torch.dtype] = {torch.bfloat16: torch.int16}
for _attr in ("float8_e5m2", "float8_e4m3fn"):
    if isinstance(getattr(torch, _attr, None), torch.dtype):
        _VIEW_AS[getattr(torch, _attr)] = torch.int8

_TORCH_DTYPE_BY_NAME = {str(d).replace("torch.", ""): d for d in _TORCH_TO_CKPT}
_TORCH_DTYPE_BY_CKPT = {c: d for d, c in _TORCH_TO_CKPT.items()}
_NUMPY_KINDS = {"b", "i", "u", "f"}
_CKPT_OF_NUMPY = {np.dtype(n): c for c, n in (
    ("BOOL", "bool"), ("U8", "uint8"), ("I8", "int8"), ("I16", "int16"), ("U16", "uint16"),
    ("F16", "float16"), ("I32", "int32"), ("U32", "uint32"), ("F32", "float32"),
    ("F64", "float64"), ("I64", "int64"), ("U64", "uint64"))}


def torch_dtype(name: str) -> torch.dtype:
    """The torch dtype a structure names ("bfloat16" -> torch.bfloat16)."""
    d = _TORCH_DTYPE_BY_NAME.get(name)
    if d is None:
        raise ValueError(f"this torch build has no dtype {name!r}")
    return d


def torch_dtype_of_ckpt(name: str) -> Optional[torch.dtype]:
    """The torch dtype of a ckpt dtype name ("BF16"), None if this torch lacks it."""
    return _TORCH_DTYPE_BY_CKPT.get(name)


def tensor_from_array(a: np.ndarray, dtype: torch.dtype, map_location: Optional[Any]
                      ) -> torch.Tensor:
    """A loaded entry as a tensor of ``dtype`` on ``map_location``, sharing
    the array's memory on the CPU. Arrays of types NumPy lacks arrive as raw
    unsigned integers: they are reinterpreted as the carrier integer type,
    then as ``dtype``, without a copy."""
    carrier = _VIEW_AS.get(dtype)
    if carrier is None:
        t = torch.from_numpy(a)
    else:
        t = torch.from_numpy(a.view(np.int16 if carrier is torch.int16 else np.int8)).view(dtype)
    if map_location is not None and str(map_location) != "cpu":
        t = t.to(map_location)
    return t


def _describe_path(path: Tuple[Any, ...]) -> str:
    return "state" + "".join(f"[{k!r}]" for k in path)


def _entry_name(path: Tuple[Any, ...]) -> str:
    return ".".join(str(k) for k in path) if path else "state"


class Flattened:
    """What :func:`flatten` found: entries to save and the structure naming them."""

    def __init__(self) -> None:
        self.tensors: Dict[str, Any] = {}  # entry name -> buffer (read in place)
        self.dtypes: Dict[str, str] = {}  # entry name -> ckpt dtype, where NumPy lacks it
        self.entry_dtypes: Dict[str, str] = {}  # entry name -> ckpt dtype, every tensor
        self.blobs: Dict[str, bytes] = {}
        self.tensor_keys: Dict[str, Tuple] = {}  # entry name -> storage key of the tensor
        self.structure: Any = None
        # The contiguous copies made here must live until the save has read them.
        self.keepalive: List[Any] = []

    def structure_json(self) -> bytes:
        doc = {"format": FORMAT, "state": self.structure}
        return json.dumps(doc, separators=(",", ":"), allow_nan=False).encode()


def storage_key(t: torch.Tensor) -> Tuple:
    """Identifies a tensor's exact view of its storage: two tensors with the
    same key hold the same bytes at the same place (tied weights)."""
    return (t.device.type, t.data_ptr(), t.dtype, tuple(t.shape), t.stride())


def flatten(state: Any) -> Flattened:
    """Splits ``state`` into entries and a structure. Raises TypeError or
    ValueError, naming the offending leaf's path, for what it cannot store."""
    out = Flattened()
    names: Dict[str, Tuple] = {STRUCTURE_BLOB: ("<structure>",)}
    tied: Dict[Tuple, str] = {}
    out.structure = _Encoder(out, names, tied).node(state, ())
    return out


class _Encoder:
    def __init__(self, out: Flattened, names: Dict[str, Tuple], tied: Dict[Tuple, str]) -> None:
        self.out, self.names, self.tied = out, names, tied
        self.active: Set[int] = set()  # containers being encoded, to refuse cycles

    def claim(self, path: Tuple) -> str:
        name = _entry_name(path)
        if not name or len(name.encode("utf-8", "surrogatepass")) > 4096:
            raise ValueError(f"{_describe_path(path)}: its entry name {name!r} must be "
                             f"1..4096 bytes of UTF-8")
        other = self.names.get(name)
        if other is not None:
            first = "the structure blob" if other == ("<structure>",) else _describe_path(other)
            raise ValueError(f"{_describe_path(path)}: its entry name {name!r} is also the "
                             f"name of {first} (names join keys with '.'); rename a key")
        self.names[name] = path
        return name

    def node(self, x: Any, path: Tuple) -> Any:
        t = type(x)
        if x is None or t in (bool, str, int):
            return x
        if t is float:
            return x if math.isfinite(x) else {"float": repr(x)}
        if isinstance(x, torch.Tensor):
            return self.tensor(x, path)
        if isinstance(x, np.ndarray):
            return self.ndarray(x, path)
        if isinstance(x, np.generic):
            return self.np_scalar(x, path)
        if t in (bytes, bytearray):
            self.out.blobs[self.claim(path)] = x
            return {t.__name__: _entry_name(path)}
        if t is torch.Size:
            return {"size": list(x)}
        if t is torch.dtype:
            return {"torch_dtype": str(x).replace("torch.", "")}
        if t is torch.device:
            return {"device": str(x)}
        if t in (dict, collections.OrderedDict, list, tuple):
            if id(x) in self.active:
                raise ValueError(f"{_describe_path(path)}: the state contains itself")
            self.active.add(id(x))
            try:
                return self.container(x, path)
            finally:
                self.active.discard(id(x))
        raise TypeError(f"{_describe_path(path)}: cannot store a value of type "
                        f"{t.__module__}.{t.__qualname__} (ckpt.torch stores tensors, NumPy "
                        f"arrays, dict, OrderedDict, list, tuple, str, int, float, bool, None, "
                        f"bytes; it never pickles)")

    def container(self, x: Any, path: Tuple) -> Any:
        if isinstance(x, (list, tuple)):
            items = [self.node(v, path + (i,)) for i, v in enumerate(x)]
            return {type(x).__name__: items}
        pairs = []
        for k, v in x.items():
            if not (k is None or type(k) in (str, int, bool, float)):
                raise TypeError(f"{_describe_path(path)}: key {k!r} of type "
                                f"{type(k).__name__} (keys must be str, int, float, bool or None)")
            pairs.append([self.node(k, path), self.node(v, path + (k,))])
        if type(x) is dict:
            return {"dict": pairs}
        node = {"odict": pairs}
        meta = getattr(x, "_metadata", None)  # module versions, set by state_dict()
        if meta is not None:
            node["metadata"] = self.node(meta, path + ("_metadata",))
        return node

    def tensor(self, t: torch.Tensor, path: Tuple) -> Any:
        where = _describe_path(path)
        if t.layout != torch.strided:
            raise TypeError(f"{where}: {t.layout} tensors are not supported (use .to_dense())")
        if t.is_quantized:
            raise TypeError(f"{where}: quantized tensors are not supported")
        if t.device.type == "meta":
            raise ValueError(f"{where}: tensor on device 'meta' has no data to save")
        ckpt_dtype = _TORCH_TO_CKPT.get(t.dtype)
        if ckpt_dtype is None:
            raise TypeError(f"{where}: dtype {t.dtype} is not supported (ckpt stores "
                            f"{', '.join(sorted(str(d) for d in _TORCH_TO_CKPT))})")
        node = {"tensor": None, "dtype": str(t.dtype).replace("torch.", ""),
                "shape": list(t.shape)}
        if t.requires_grad:
            node["requires_grad"] = True
        key = storage_key(t)
        if key in self.tied:
            node["tensor"] = self.tied[key]
            return node
        name = self.claim(path)
        self.tied[key] = name
        node["tensor"] = name
        self.out.tensor_keys[name] = key
        self.out.entry_dtypes[name] = ckpt_dtype
        data = t.detach()
        if data.device.type != "cpu":
            try:
                data = data.to("cpu")
            except Exception as e:  # a backend that cannot copy out
                raise ValueError(f"{where}: cannot read a tensor on device {t.device}: {e}")
        if data.is_conj():
            data = data.resolve_conj()
        if data.is_neg():
            data = data.resolve_neg()
        if not data.is_contiguous():
            data = data.contiguous()
        if data.dtype in _VIEW_AS:
            data = data.view(_VIEW_AS[data.dtype])
            self.out.dtypes[name] = ckpt_dtype
        array = data.numpy()
        self.out.keepalive.append(data)
        self.out.tensors[name] = array
        return node

    def ndarray(self, a: np.ndarray, path: Tuple) -> Any:
        where = _describe_path(path)
        if a.dtype.byteorder == ">" or a.dtype.newbyteorder("=") not in _CKPT_OF_NUMPY:
            raise TypeError(f"{where}: NumPy dtype {a.dtype} is not supported (ckpt stores "
                            f"bool, (u)int8..64, float16/32/64, little-endian)")
        name = self.claim(path)
        if not a.flags.c_contiguous:
            a = np.ascontiguousarray(a)
        self.out.tensors[name] = a
        self.out.entry_dtypes[name] = _CKPT_OF_NUMPY[a.dtype.newbyteorder("=")]
        return {"ndarray": name, "dtype": a.dtype.str, "shape": list(a.shape)}

    def np_scalar(self, x: np.generic, path: Tuple) -> Any:
        if x.dtype.kind not in _NUMPY_KINDS:
            raise TypeError(f"{_describe_path(path)}: NumPy scalar of dtype {x.dtype} "
                            f"is not supported")
        return {"npscalar": x.dtype.str, "value": self.node(x.item(), path)}


def unflatten(structure: bytes, entries: Dict[str, Any], blobs: Dict[str, bytes],
              map_location: Optional[Any]) -> Any:
    """Rebuilds the state from a structure blob and the loaded entries
    (NumPy arrays by entry name) and blobs."""
    try:
        doc = json.loads(structure)
    except ValueError as e:
        raise ValueError(f"structure blob {STRUCTURE_BLOB} is not JSON: {e}") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        fmt = doc.get("format") if isinstance(doc, dict) else None
        raise ValueError(f"structure blob {STRUCTURE_BLOB} has format {fmt!r}; "
                         f"this package reads {FORMAT!r}")
    return _Decoder(entries, blobs, map_location).node(doc["state"])


class _Decoder:
    def __init__(self, entries: Dict[str, Any], blobs: Dict[str, bytes],
                 map_location: Optional[Any]) -> None:
        self.entries, self.blobs, self.map_location = entries, blobs, map_location
        self.tensors: Dict[str, torch.Tensor] = {}  # tied tensors come back as one object

    def node(self, n: Any) -> Any:
        if n is None or isinstance(n, (bool, int, float, str)):
            return n
        if isinstance(n, list):
            raise ValueError("malformed structure: a bare JSON list")
        if len(n) == 0:
            raise ValueError("malformed structure: an empty JSON object")
        if "tensor" in n:
            return self.tensor(n)
        kind, value = next(iter(n.items()))
        if kind == "list":
            return [self.node(v) for v in value]
        if kind == "tuple":
            return tuple(self.node(v) for v in value)
        if kind == "dict":
            return {self.node(k): self.node(v) for k, v in value}
        if kind == "odict":
            d = collections.OrderedDict((self.node(k), self.node(v)) for k, v in value)
            if "metadata" in n:
                d._metadata = self.node(n["metadata"])  # type: ignore[attr-defined]
            return d
        if kind == "float":
            return float(value)
        if kind == "ndarray":
            a = self.entry(value)
            return a.view(np.dtype(n["dtype"])).reshape(n["shape"])
        if kind == "npscalar":
            return np.dtype(value).type(self.node(n["value"]))
        if kind in ("bytes", "bytearray"):
            if value not in self.blobs:
                raise ValueError(f"malformed structure: no blob {value!r}")
            b = self.blobs[value]
            return bytearray(b) if kind == "bytearray" else bytes(b)
        if kind == "size":
            return torch.Size(value)
        if kind == "torch_dtype":
            return torch_dtype(value)
        if kind == "device":
            return torch.device(value)
        raise ValueError(f"malformed structure: unknown node kind {kind!r}")

    def entry(self, name: str) -> np.ndarray:
        a = self.entries.get(name)
        if a is None:
            raise ValueError(f"malformed structure: the checkpoint has no tensor {name!r}")
        return a

    def tensor(self, n: Dict[str, Any]) -> torch.Tensor:
        name = n["tensor"]
        t = self.tensors.get(name)
        if t is not None:
            return t
        t = tensor_from_array(self.entry(name), torch_dtype(n["dtype"]), self.map_location)
        # A piece of a sharded tensor comes back whole, or as the box the
        # caller asked for: then the array's shape is the one that holds.
        if t.numel() == math.prod(n["shape"]):
            t = t.reshape(n["shape"])
        if n.get("requires_grad"):
            t.requires_grad_(True)
        self.tensors[name] = t
        return t
