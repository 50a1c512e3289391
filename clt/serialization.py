"""``clt.save`` / ``clt.load``: tensors, state dicts and whole checkpoints in safetensors files.

Tensors are stored in the safetensors format (readable by ``safetensors`` and PyTorch tools);
everything around them (nested dicts, lists, numbers, strings, optimizer state with integer
keys) is JSON in the file's ``__metadata__``. Nothing is pickled, so loading a file never runs
code. Files are device-agnostic: saved from one device, loaded onto any other. Writes are atomic
(temporary file, fsync, rename): a crash mid-save leaves the previous file intact.
"""
from __future__ import annotations

import json
import math
import os
import struct
import tempfile
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np

from clt import dtypes as D
from clt.errors import CLTError

_ST_DTYPES = {"bool": "BOOL", "uint8": "U8", "int8": "I8", "int16": "I16", "int32": "I32",
              "int64": "I64", "float16": "F16", "float32": "F32", "float64": "F64"}
_FROM_ST = {v: k for k, v in _ST_DTYPES.items()}
# numpy-only dtypes, for arrays stored beside tensors (e.g. RNG states)
_NP_ONLY = {np.dtype(np.uint16): "U16", np.dtype(np.uint32): "U32", np.dtype(np.uint64): "U64"}
_NP_FROM_ST = {v: k for k, v in _NP_ONLY.items()}
_FORMAT = "clt.v1"


class CheckpointError(CLTError, ValueError):
    """A file that is not a valid clt/safetensors checkpoint (corrupt, truncated, unknown)."""


def _encode(obj: Any, tensors: dict[str, np.ndarray], path: str) -> Any:
    from clt.tensor import Tensor

    if isinstance(obj, Tensor):
        key = path or "tensor"
        tensors[key] = obj.detach().cpu()
        return {"__tensor__": key}
    if isinstance(obj, np.ndarray):
        key = path or "array"
        tensors[key] = np.asarray(obj, order="C")
        return {"__ndarray__": key}
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        f = float(obj)
        return f if math.isfinite(f) else {"__float__": repr(f)}
    if isinstance(obj, dict):
        if all(isinstance(k, str) for k in obj):
            enc = {k: _encode(v, tensors, f"{path}.{k}" if path else k) for k, v in obj.items()}
            return {"__odict__": list(enc.items())} if isinstance(obj, OrderedDict) else enc
        return {"__dict__": [[_encode(k, tensors, f"{path}.k{i}"),
                              _encode(v, tensors, f"{path}.{k}" if path else str(k))]
                             for i, (k, v) in enumerate(obj.items())]}
    if isinstance(obj, (list, tuple)):
        items = [_encode(v, tensors, f"{path}.{i}" if path else str(i))
                 for i, v in enumerate(obj)]
        return items if isinstance(obj, list) else {"__tuple__": items}
    raise TypeError(f"clt.save can't store an object of type {type(obj).__name__} at "
                    f"'{path or '<root>'}' (tensors, arrays, numbers, strings, None, lists, "
                    "tuples and dicts are supported; nothing is pickled)")


def _decode(obj: Any, tensors: dict[str, Any], to_tensor: Any = None) -> Any:
    if isinstance(obj, list):
        return [_decode(v, tensors, to_tensor) for v in obj]
    if not isinstance(obj, dict):
        return obj
    if "__tensor__" in obj:
        arr = tensors[obj["__tensor__"]]
        return arr if to_tensor is None else to_tensor(arr)
    if "__ndarray__" in obj:
        return tensors[obj["__ndarray__"]]
    if "__float__" in obj:
        return float(obj["__float__"])
    if "__tuple__" in obj:
        return tuple(_decode(v, tensors, to_tensor) for v in obj["__tuple__"])
    if "__odict__" in obj:
        return OrderedDict((k, _decode(v, tensors, to_tensor)) for k, v in obj["__odict__"])
    if "__dict__" in obj:
        return {_decode(k, tensors, to_tensor): _decode(v, tensors, to_tensor)
                for k, v in obj["__dict__"]}
    return {k: _decode(v, tensors, to_tensor) for k, v in obj.items()}


def save(obj: Any, f: str | os.PathLike, metadata: dict[str, str] | None = None) -> None:
    """Save ``obj`` (a tensor, a state dict, or a nested checkpoint) to the file ``f``.

    The write is atomic: the file is complete and valid, or the previous one is untouched.

    Args:
        obj: The object to save.
        f: The destination path.
        metadata: Optional string key/value pairs stored in the header.

    Raises:
        TypeError: ``obj`` holds something that can't be stored without pickling.
    """
    tensors: dict[str, np.ndarray] = {}
    structure = _encode(obj, tensors, "")
    header: dict[str, Any] = {}
    offset = 0
    blobs = []
    for key, arr in tensors.items():
        arr = np.asarray(arr, order="C")          # (ascontiguousarray makes 0-d arrays 1-d)
        code = _NP_ONLY.get(arr.dtype) or _ST_DTYPES[D.as_dtype(arr.dtype).name]
        header[key] = {"dtype": code, "shape": list(arr.shape),
                       "data_offsets": [offset, offset + arr.nbytes]}
        blobs.append(arr)
        offset += arr.nbytes
    meta = {"format": _FORMAT, "structure": json.dumps(structure)}
    if metadata:
        meta.update({str(k): str(v) for k, v in metadata.items()})
    header["__metadata__"] = meta
    head = json.dumps(header, separators=(",", ":")).encode()
    head += b" " * (-len(head) % 8)                 # 8-byte alignment, as safetensors writes
    path = Path(f)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(struct.pack("<Q", len(head)))
            out.write(head)
            for arr in blobs:
                out.write(arr.tobytes())
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _read(path: Path) -> tuple[dict, memoryview]:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise FileNotFoundError(f"no checkpoint at {path}") from None
    if len(data) < 8:
        raise CheckpointError(f"{path} is not a safetensors/clt file: only {len(data)} bytes")
    (n,) = struct.unpack("<Q", data[:8])
    if n > len(data) - 8 or n > 100_000_000:
        raise CheckpointError(f"{path} is corrupt or truncated: header of {n} bytes in a "
                              f"{len(data)}-byte file")
    try:
        header = json.loads(data[8:8 + n].decode())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{path} is corrupt: unreadable header ({exc})") from exc
    if not isinstance(header, dict):
        raise CheckpointError(f"{path} is corrupt: header is not a JSON object")
    return header, memoryview(data)[8 + n:]


def load(f: str | os.PathLike, map_location: Any = None, *, as_numpy: bool = False) -> Any:
    """Load what :func:`save` wrote (or any safetensors file) onto ``map_location``.

    Args:
        f: the file.
        map_location: the device for the tensors (a Device or selector; default device).
        as_numpy: return numpy arrays instead of device tensors.

    Raises:
        CheckpointError: the file is corrupt, truncated or not a checkpoint.
    """
    path = Path(f)
    header, body = _read(path)
    meta = header.pop("__metadata__", {}) or {}
    arrays: dict[str, np.ndarray] = {}
    for key, spec in header.items():
        try:
            code = spec["dtype"]
            npd = _NP_FROM_ST[code] if code in _NP_FROM_ST else D.as_dtype(_FROM_ST[code]).np
            shape = tuple(int(s) for s in spec["shape"])
            start, end = (int(x) for x in spec["data_offsets"])
        except (KeyError, TypeError, ValueError) as exc:
            raise CheckpointError(f"{path}: bad entry for tensor '{key}': {spec!r}") from exc
        nbytes = int(np.prod(shape)) * npd.itemsize
        if end - start != nbytes or end > len(body) or start < 0:
            raise CheckpointError(f"{path} is corrupt or truncated: tensor '{key}' needs bytes "
                                  f"{start}..{end} of {len(body)}")
        arrays[key] = np.frombuffer(body[start:end], dtype=npd).reshape(shape).copy()
    to_tensor = None
    if not as_numpy:
        from clt.backend.device import device as select
        from clt.functions.creation import tensor as make

        dev = select(map_location)

        def to_tensor(arr: np.ndarray) -> Any:
            return make(arr, device=dev)
    if meta.get("format") == _FORMAT:
        try:
            structure = json.loads(meta["structure"])
        except (KeyError, json.JSONDecodeError) as exc:
            raise CheckpointError(f"{path} is corrupt: bad structure metadata") from exc
        return _decode(structure, arrays, to_tensor)
    order = sorted(arrays, key=lambda k: header[k]["data_offsets"][0])
    return OrderedDict((k, arrays[k] if to_tensor is None else to_tensor(arrays[k]))
                       for k in order)


def load_metadata(f: str | os.PathLike) -> dict[str, str]:
    """The string metadata stored in a file's header (without loading tensors).

    Args:
        f: A file written by :func:`save`.

    Returns:
        The metadata dict (empty if none).
    """
    header, _ = _read(Path(f))
    return dict(header.get("__metadata__", {}) or {})
