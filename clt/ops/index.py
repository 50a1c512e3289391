"""Indexing ops on device arrays (``kernels/index.cl.mako``).

Gathers (index_select, gather, take, take_along_dim, embedding, advanced indexing reads) and
scatters (scatter, index_copy, index_fill, one_hot, advanced indexing writes) are one kernel,
``take``: it copies raw element bits, so one build per (item size, index types, side) serves every
dtype, shape and layout. Index operands are read in place with any strides and broadcasting.

Scatter reductions (scatter_add, scatter_reduce, index_add, index_put with accumulate, the
embedding backward) are deterministic and use no float atomics: every source element gets a key
(its target's position), the (key, source offset) pairs are merge-sorted stably on the device, and
each target row sums its segment of entries in source order -- the same order, and so the same
bits, as a sequential loop, on every run.

Bad indices: kernels check every index on the device and never touch memory outside the tensors;
the first bad one is recorded in a small per-device buffer (``device._index_error``) and raised
as ``IndexError`` by :func:`check_index_errors`, which every download (``transfer.to_numpy``)
calls. Indices given as Python lists or numpy arrays are checked on the host before upload.

Sync points (documented, unavoidable: the output size depends on the data): masked_select,
nonzero, boolean-mask indexing and ``one_hot(num_classes=-1)`` read a count (or the maximum)
back from the device before they allocate their result.
"""
from __future__ import annotations

import functools
import math
from typing import Any, Sequence

import numpy as np
import pyopencl.cltypes as cltypes

from clt import dtypes as D
from clt.backend.device import Device
from clt.dtypes import DType
from clt.errors import DeviceError, DTypeError, ShapeError
from clt.ops import elementwise as ew
from clt.ops import shapes
from clt.ops.array import Array

MAX_RANK = 8
TEMPLATE = "index.cl.mako"
_ELEM = {1: "uchar", 2: "ushort", 4: "uint", 8: "ulong"}
_BITS = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}
_IDX_CTYPE = {"int32": "int", "int64": "long"}
_SORT_BLOCK = 32
REDUCTIONS = ("sum", "prod", "mean", "amax", "amin")


# ---------------------------------------------------------------------------------------------
# the per-device index-error slot

class _ErrorSlot:
    """A device's 24-byte error buffer (int code, int operand, long value, long size) and the
    meaning of each code: (op name, the dimension each index operand indexes)."""

    def __init__(self, device: Device) -> None:
        self.buffer = device.allocate(24)
        device.upload(self.buffer, np.zeros(6, np.int32), blocking=True)
        self.codes: dict[tuple[str, tuple[int, ...]], int] = {}
        self.meaning: list[tuple[str, tuple[int, ...]]] = []
        self.dirty = False     # a checking kernel ran since the last read

    def code(self, op: str, dims: Sequence[int]) -> int:
        key = (op, tuple(dims))
        code = self.codes.get(key)
        if code is None:
            self.meaning.append(key)
            code = self.codes[key] = len(self.meaning)
        return code


def error_slot(device: Device) -> _ErrorSlot:
    """The device's index-error slot (created on first use); kernels that check indices take
    ``slot.buffer`` and ``slot.code(op, dims)`` and the caller sets ``slot.dirty``."""
    slot = getattr(device, "_index_error", None)
    if slot is None:
        slot = device._index_error = _ErrorSlot(device)
    return slot


_slot = error_slot     # the name clt.ops.loss imports


def check_index_errors(device: Device) -> None:
    """Raise the ``IndexError`` an index kernel recorded on ``device`` since the last check.

    Costs one small blocking read, and only if an index kernel ran since the last check; the
    slot is cleared, so each bad index is reported once.
    """
    slot = getattr(device, "_index_error", None)
    if slot is None or not slot.dirty:
        return
    host = np.zeros(6, np.int32)
    device.download(host, slot.buffer, blocking=True)
    slot.dirty = False
    code = int(host[0])
    if code == 0:
        return
    device.upload(slot.buffer, np.zeros(6, np.int32), blocking=True)
    op, dims = slot.meaning[code - 1]
    value, size = (int(v) for v in host[2:].view(np.int64))
    raise IndexError(f"{op}: index {value} is out of bounds for dimension {dims[host[1]]} "
                     f"with size {size}")


# ---------------------------------------------------------------------------------------------
# launch geometry

def _kernel_style(device: Device) -> str:
    return "chunked" if device.caps.style == "cpu" else "strided"


def _geometry_1d(n: int, device: Device, style: str, min_chunk: int) -> tuple[int, tuple, int]:
    """(global size, local size, chunk) for ``n`` items; local sizes never vary with n (PoCL
    re-JITs a kernel for every new work-group size)."""
    if style == "strided":
        return min(-(-n // 256) * 256, 256 * 1024), (256,), 0
    if device.caps.style == "cpu":
        parts = max(1, min(-(-n // min_chunk), 4 * device.info.compute_units))
        chunk = -(-n // parts)
        return -(-n // chunk), (1,), chunk
    # chunked ranges on a GPU (compaction): many short ranges
    parts = max(1, min(-(-n // 16), 16384))
    chunk = -(-n // parts)
    return -(-(-(-n // chunk)) // 256) * 256, (256,), chunk


@functools.lru_cache(maxsize=4096)
def _plan(shape: tuple[int, ...], stride_sets: tuple[tuple[int, ...], ...], collapse: bool
          ) -> tuple | None:
    """Rank-8 padded (shape, strides per operand); None when more than 8 dims remain."""
    if collapse:
        cshape, cstrides = shapes.collapse(shape, stride_sets)
    elif shape:
        cshape, cstrides = shape, list(stride_sets)
    else:
        cshape, cstrides = (1,), [(0,) for _ in stride_sets]
    if len(cshape) > MAX_RANK:
        return None
    pad = MAX_RANK - len(cshape)
    shape8 = np.array((1,) * pad + tuple(cshape), dtype=cltypes.ulong8)
    strides8 = [np.array((0,) * pad + tuple(st), dtype=cltypes.long8) for st in cstrides]
    return shape8, strides8


def _long8(values: Sequence[int]) -> np.ndarray:
    return np.array(tuple(values) + (0,) * (MAX_RANK - len(values)), dtype=cltypes.long8)


# (buffer, or None for a virtual operand; offset; strides over the iteration space)
Operand = tuple[Any, int, Sequence[int]]


def _run(device: Device, kernel: Any, shape: Sequence[int], operands: Sequence[Operand],
         tail: Sequence[Any], style: str, collapse: bool = True, min_chunk: int = 1024) -> bool:
    """Enqueue ``kernel`` over ``shape``; splits the leading dim while more than 8 dims remain.

    Returns False (and launches nothing) only for a non-collapsing space of more than 8 dims
    when splitting is not allowed (``collapse=False``).
    """
    shape = tuple(shape)
    n = math.prod(shape)
    if n == 0:
        return True
    plan = _plan(shape, tuple(tuple(st) for _, _, st in operands), collapse)
    if plan is None:
        if not collapse:
            return False
        for i in range(shape[0]):
            sub = [(buf, off + i * st[0], st[1:]) for buf, off, st in operands]
            _run(device, kernel, shape[1:], sub, tail, style, collapse, min_chunk)
        return True
    shape8, strides8 = plan
    gsize, lsize, chunk = _geometry_1d(n, device, style, min_chunk)
    args: list[Any] = []
    for (buf, off, _), st8 in zip(operands, strides8):
        if buf is not None:
            args.append(buf)
        args += [off, st8]
    args += list(tail)
    args += [shape8, n, chunk]
    device.launch(kernel, (gsize,), lsize, *args)
    return True


# ---------------------------------------------------------------------------------------------
# index operands

class Index:
    """One index operand of a take/keys kernel: ``v = idx[...]`` must be in ``[0, size)`` (after
    adding ``size`` to negatives when wrapping) and moves the access by ``v * mul`` elements."""

    __slots__ = ("array", "strides", "size", "mul", "dim")

    def __init__(self, array: Array, strides: Sequence[int], size: int, mul: int, dim: int
                 ) -> None:
        self.array, self.strides, self.size, self.mul, self.dim = (
            array, tuple(strides), int(size), int(mul), int(dim))


def _check_index_dtype(idx: Array, op: str) -> None:
    if idx.dtype.name not in _IDX_CTYPE:
        raise DTypeError(f"{op}: expected an index of dtype int64 or int32, got {idx.dtype.name}")


def as_index(device: Device, index: Any, op: str, size: int | None = None, dim: int = 0,
             wrap: bool = False) -> Array:
    """``index`` as an int32/int64 device array.

    Arrays are checked for dtype and device only (their values are checked by the kernels);
    Python ints, lists and numpy arrays are range-checked here on the host against ``size``
    (negative values allowed when ``wrap``) and uploaded as int64.
    """
    if isinstance(index, Array):
        _check_index_dtype(index, op)
        if index.device is not device:
            raise DeviceError(f"{op}: the index is on {index.device}, the tensor on {device}")
        return index
    host = np.asarray(index)
    if host.dtype.kind not in "iu":
        if host.size == 0 and host.dtype.kind == "f":    # [] parses as float64
            host = host.astype(np.int64)
        else:
            raise DTypeError(f"{op}: expected integer indices, got {host.dtype} values")
    host = host.astype(np.int64, copy=False)
    if size is not None and host.size:
        lo = -size if wrap else 0
        bad = host[(host < lo) | (host >= size)]
        if bad.size:
            raise IndexError(f"{op}: index {int(bad.flat[0])} is out of bounds for dimension "
                             f"{dim} with size {size}")
    return _upload(device, host, D.int64)


def _upload(device: Device, host: np.ndarray, dtype: DType) -> Array:
    """A non-blocking upload (no round trip); the storage keeps the host copy alive until done."""
    data = np.array(host, dtype=dtype.np, order="C")     # a private copy
    out = Array.empty(device, data.shape, dtype)
    out.storage.pending = (device.upload(out.buffer, data, blocking=False), data)
    return out


def _check_same_device(arrays: Sequence[Any], op: str) -> Device:
    return ew.check_same_device([a for a in arrays if isinstance(a, Array)], op)


# ---------------------------------------------------------------------------------------------
# the take kernel: gathers and scatters

def _scalar_bits(value: Any, dtype: DType, op: str) -> int:
    """The storage bits of ``value`` converted to ``dtype`` (as a scalar kernel argument)."""
    if isinstance(value, Array):
        raise DTypeError(f"{op}: expected a Python scalar value, got an array")
    if not isinstance(value, (bool, int, float, np.number, np.bool_)):
        raise DTypeError(f"{op}: value must be a number, got {type(value).__name__}")
    with np.errstate(all="ignore"):
        host = np.array(value).astype(dtype.np)
    return int(host.view(_BITS[dtype.itemsize]))


def take(op: str, side: str, shape: Sequence[int], dst: Operand, src: Operand | int,
         indices: Sequence[Index], wrap: bool, dtype: DType) -> None:
    """Enqueue one indexed copy over the iteration space ``shape``.

    ``side="src"``: ``dst[p] = src[p + sum(v_m * mul_m)]`` (a gather; bad indices give 0).
    ``side="dst"``: ``dst[p + sum(v_m * mul_m)] = src[p]`` (a scatter; bad indices are skipped);
    ``src`` may be an int, the storage bits of a scalar (:func:`_scalar_bits`).
    Operands are (buffer, offset, strides over ``shape``). Bad indices set the device error slot.
    """
    if math.prod(shape) == 0:
        return
    if len(indices) > MAX_RANK:
        raise IndexError(f"{op}: at most {MAX_RANK} index tensors are supported, "
                         f"got {len(indices)}")
    device = indices[0].array.device
    scalar = not isinstance(src, tuple)
    idx_types = tuple(_IDX_CTYPE[ix.array.dtype.name] for ix in indices)
    elem = _ELEM[dtype.itemsize]
    style = _kernel_style(device)
    tags = "".join(t[0] for t in idx_types)
    kernel = device.kernels.get(
        TEMPLATE, "take", name=f"clt_index_take_{side}{'_s' if scalar else ''}_{elem}_{tags}",
        elem=elem, idx_types=idx_types, side=side, scalar=scalar, style=style)
    slot = error_slot(device)
    operands = [dst] + ([] if scalar else [src])
    operands += [(ix.array.buffer, ix.array.offset, ix.strides) for ix in indices]
    tail: list[Any] = [src] if scalar else []
    tail += [_long8([ix.size for ix in indices]), _long8([ix.mul for ix in indices]),
             int(wrap), slot.code(op, [ix.dim for ix in indices]), slot.buffer]
    _run(device, kernel, shape, operands, tail, style)
    slot.dirty = True


# ---------------------------------------------------------------------------------------------
# deterministic scatter reductions: keys, stable merge sort, segmented reduce

def accumulate(op: str, target: Array, width: int, outer: Sequence[int],
               key_strides: Sequence[int], indices: Sequence[Index], src: Array,
               src_strides: Sequence[int], src_qst: int, reduce: str = "sum",
               include_self: bool = True, alpha: Any = 1, inplace: bool = False,
               wrap: bool = False) -> Array:
    """Reduce ``src`` into ``target`` at indexed positions, deterministically.

    ``target`` is viewed as rows x ``width``: its trailing dims holding ``width`` elements are
    the "inner" part shared by every source row. For each point e of the ``outer``
    space, its target row is ``sum(e_d * key_strides_d) + sum(v_m * mul_m)`` (row-major over the
    target's outer dims) and its source row starts at ``src.offset + sum(e_d * src_strides_d)``;
    the inner element q of a source row is ``q * src_qst`` further on.

    Returns the result: ``target`` itself when ``inplace`` (written back if it is not
    contiguous), else a new contiguous array.
    """
    device = target.device
    m = math.prod(outer)
    if inplace and target.is_contiguous():
        out = target
    else:
        out = ew.copy_(Array.empty(device, target.shape, target.dtype), target)
    if m == 0 or target.numel == 0:
        return _finish(target, out, inplace)
    style = _kernel_style(device)
    keys = _sorted_keys(op, device, outer, key_strides, indices, src, src_strides, wrap, style)
    dtype = target.dtype
    kernel = device.kernels.get(
        TEMPLATE, "segment_reduce", name=f"clt_index_{reduce}_{dtype.tag}", dtype=dtype.name,
        op=reduce, style=style)
    alpha = ew._scalar(alpha, dtype if not dtype.is_bool else D.uint8)
    gsize, lsize, chunk = _geometry_1d(m if style == "chunked" else m * width, device, style,
                                       max(1, 4096 // width))
    device.launch(kernel, (gsize,), lsize, out.buffer, out.offset, src.buffer, src_qst,
                  keys[0].buffer, keys[1].buffer, m, width, int(include_self), alpha, chunk)
    return _finish(target, out, inplace)


def _finish(target: Array, out: Array, inplace: bool) -> Array:
    if not inplace:
        return out
    if out is not target:
        ew.copy_(target, out)
    else:
        target.bump_version()
    return target


def _sorted_keys(op: str, device: Device, outer, key_strides, indices, src: Array,
                 src_strides, wrap: bool, style: str) -> tuple[Array, Array]:
    """(keys, source offsets) over ``outer``, sorted by key, stably."""
    m = math.prod(outer)
    key, val = Array.empty(device, (m,), D.int64), Array.empty(device, (m,), D.int64)
    cont = shapes.contiguous_strides(outer)
    idx_types = tuple(_IDX_CTYPE[ix.array.dtype.name] for ix in indices)
    tags = "".join(t[0] for t in idx_types)
    kernel = device.kernels.get(TEMPLATE, "keys", name=f"clt_index_keys_{tags}",
                                idx_types=idx_types, style=style)
    slot = error_slot(device)
    operands = [(key.buffer, 0, cont), (val.buffer, 0, cont), (None, 0, tuple(key_strides)),
                (None, src.offset, tuple(src_strides))]
    operands += [(ix.array.buffer, ix.array.offset, ix.strides) for ix in indices]
    tail = [_long8([ix.size for ix in indices]), _long8([ix.mul for ix in indices]), int(wrap),
            slot.code(op, [ix.dim for ix in indices]), slot.buffer]
    _run(device, kernel, outer, operands, tail, style)
    slot.dirty = True
    if m == 1:
        return key, val
    blocks = device.kernels.get(TEMPLATE, "sort_blocks", name=f"clt_index_sort{_SORT_BLOCK}",
                                block=_SORT_BLOCK)
    nblocks = -(-m // _SORT_BLOCK)
    lsize = (1,) if device.caps.style == "cpu" else (256,)
    device.launch(blocks, (-(-nblocks // lsize[0]) * lsize[0],), lsize, key.buffer, val.buffer, m)
    width = _SORT_BLOCK
    if width < m:
        merge = device.kernels.get(TEMPLATE, "merge_pass", name=f"clt_index_merge_{style}",
                                   style=style)
        key2, val2 = Array.empty(device, (m,), D.int64), Array.empty(device, (m,), D.int64)
        gsize, lsize, chunk = _geometry_1d(m, device, style, 1024)
        while width < m:
            device.launch(merge, (gsize,), lsize, key.buffer, val.buffer, key2.buffer,
                          val2.buffer, m, width, chunk)
            key, val, key2, val2 = key2, val2, key, val
            width *= 2
    return key, val


def _inner_stride(x: Array, start: int) -> tuple[Array, int]:
    """``x`` (or a contiguous copy) and the single stride that walks its dims from ``start`` on
    in row-major order."""
    inner_shape, inner_strides = x.shape[start:], x.strides[start:]
    if math.prod(inner_shape) <= 1:
        return x, 0
    cshape, (cst,) = shapes.collapse(inner_shape, [inner_strides])
    if len(cshape) == 1:
        return x, cst[0]
    x = ew.contiguous(x)
    return x, 1


# ---------------------------------------------------------------------------------------------
# dim-wise gathers

def _index_1d(x: Array, dim: int, index: Any, op: str) -> tuple[int, Array, int]:
    """Normalised dim, 0-d/1-d index array and the size it indexes, for index_* ops."""
    d = shapes.normalize_dim(dim, x.ndim)
    size = x.shape[d] if x.ndim else 1
    idx = as_index(x.device, index, op, size, d)
    if idx.ndim > 1:
        raise IndexError(f"{op}: index is supposed to be a vector (0-d or 1-d), "
                         f"got shape {idx.shape}")
    if size == 0 and idx.numel:
        raise IndexError(f"{op}: cannot index into dimension {d} of size 0 "
                         f"(shape {x.shape}) with {idx.numel} indices")
    return d, idx, size


def _dim_stride(x: Array, d: int) -> int:
    return x.strides[d] if x.ndim else 0


def _slice_space(x: Array, d: int, idx: Array, size: int) -> tuple[tuple, list[int], Index]:
    """The space of ``x`` with dim ``d`` replaced by the entries of a 0-d/1-d index: its shape,
    x's strides over it (0 along ``d``) and the index operand."""
    if x.ndim == 0:
        return idx.shape, [0] * idx.ndim, Index(idx, idx.strides, size, 0, d)
    shape = x.shape[:d] + (idx.numel,) + x.shape[d + 1:]
    ist = [0] * x.ndim
    ist[d] = idx.strides[0] if idx.ndim else 0
    return shape, _without_dim(x.strides, d, x.ndim), Index(idx, ist, size, x.strides[d], d)


def _without_dim(strides: Sequence[int], d: int, ndim: int) -> list[int]:
    """``strides`` over an ``ndim``-dim space with dim ``d`` (the indexed one) zeroed: the
    passthrough part of a gather/scatter along ``d`` (missing dims of a 0-d tensor are 0)."""
    return [strides[k] if k < len(strides) and k != d else 0 for k in range(ndim)]


def index_select(x: Array, dim: int, index: Any) -> Array:
    """Rows of ``x`` along ``dim`` picked by a 0-d/1-d int index (no negative indices).

    Raises:
        DTypeError: the index is not int32/int64. IndexError: it is not 0-d/1-d, or (at the next
        download for device indices) a value is outside ``[0, x.shape[dim])``.
    """
    d, idx, size = _index_1d(x, dim, index, "index_select()")
    shape, xst, ix = _slice_space(x, d, idx, size)
    out = Array.empty(x.device, shape, x.dtype)
    take("index_select()", "src", shape, (out.buffer, 0, out.strides),
         (x.buffer, x.offset, xst), [ix], False, x.dtype)
    return out


def _check_gather_shapes(x: Array, d: int, idx: Array, op: str, src: Array | None = None
                         ) -> None:
    if idx.ndim != x.ndim and not (idx.ndim <= 1 and x.ndim <= 1):
        raise ShapeError(f"{op}: index tensor must have the same number of dimensions as input "
                         f"tensor, got index {idx.shape} and input {x.shape}")
    if src is not None and src.ndim != idx.ndim and not (idx.ndim <= 1 and src.ndim <= 1):
        raise ShapeError(f"{op}: index tensor must have the same number of dimensions as src "
                         f"tensor, got index {idx.shape} and src {src.shape}")
    for k in range(idx.ndim):
        if k != d and x.ndim and idx.shape[k] > x.shape[k]:
            raise ShapeError(f"{op}: size does not match at dimension {k}: expected index "
                             f"{idx.shape} to be no larger than self {x.shape} apart from "
                             f"dimension {d}")
        if src is not None and src.ndim and idx.shape[k] > src.shape[k]:
            raise ShapeError(f"{op}: size does not match at dimension {k}: expected index "
                             f"{idx.shape} to be no larger than src {src.shape}")


def gather(x: Array, dim: int, index: Any) -> Array:
    """``out[i][j][k] = x[index[i][j][k]][j][k]`` (for dim 0), PyTorch's ``gather``.

    ``index`` has x's rank and is no larger than x except along ``dim``; no negative indices.
    """
    op = "gather()"
    d = shapes.normalize_dim(dim, x.ndim)
    size = x.shape[d] if x.ndim else 1
    idx = as_index(x.device, index, op, size, d)
    _check_gather_shapes(x, d, idx, op)
    out = Array.empty(x.device, idx.shape, x.dtype)
    xst = _without_dim(x.strides, d, idx.ndim)
    take(op, "src", idx.shape, (out.buffer, 0, out.strides), (x.buffer, x.offset, xst),
         [Index(idx, idx.strides, size, _dim_stride(x, d), d)], False, x.dtype)
    return out


def take_flat(x: Array, index: Any) -> Array:
    """PyTorch's ``take``: ``x`` read as its row-major 1-d flattening; negative indices wrap."""
    op = "take()"
    idx = as_index(x.device, index, op, x.numel, 0, wrap=True)
    if x.numel == 0 and idx.numel:
        raise IndexError(f"{op}: cannot take {idx.numel} elements from an empty tensor")
    flat = ew.contiguous(x)
    out = Array.empty(x.device, idx.shape, x.dtype)
    take(op, "src", idx.shape, (out.buffer, 0, out.strides),
         (flat.buffer, flat.offset, (0,) * idx.ndim), [Index(idx, idx.strides, x.numel, 1, 0)],
         True, x.dtype)
    return out


def take_along_dim(x: Array, indices: Any, dim: int | None = None) -> Array:
    """Gather along ``dim`` with x and indices broadcast against each other except along ``dim``;
    ``dim=None`` reads x flattened (PyTorch's ``take_along_dim``)."""
    op = "take_along_dim()"
    idx = as_index(x.device, indices, op)
    if dim is None:
        flat = ew.contiguous(x)
        return gather(flat.view((x.numel,), (1,)), 0, idx.view((idx.numel,), (1,))
                      if idx.is_contiguous() else ew.contiguous(idx).view((idx.numel,), (1,)))
    d = shapes.normalize_dim(dim, x.ndim)
    if idx.ndim != x.ndim:
        raise ShapeError(f"{op}: input and indices should have the same number of dimensions, "
                         f"got input {x.shape} and indices {idx.shape}")
    if x.ndim == 0:
        return gather(x, 0, idx)
    xs, js = list(x.shape), list(idx.shape)
    xs[d] = js[d] = 1
    try:
        b = list(shapes.broadcast_shapes(tuple(xs), tuple(js)))
    except ShapeError as exc:
        raise ShapeError(f"{op}: input {x.shape} and indices {idx.shape} cannot be broadcast "
                         f"apart from dimension {d}") from exc
    bx, bi = list(b), list(b)
    bx[d], bi[d] = x.shape[d], idx.shape[d]
    xv = x.view(tuple(bx), shapes.broadcast_strides(x.shape, x.strides, tuple(bx)))
    iv = idx.view(tuple(bi), shapes.broadcast_strides(idx.shape, idx.strides, tuple(bi)))
    return gather(xv, d, iv)


def embedding(index: Any, weight: Array) -> Array:
    """Rows of the 2-d ``weight`` picked by an int index of any shape: shape index.shape + (D,)."""
    op = "embedding()"
    if weight.ndim != 2:
        raise ShapeError(f"{op}: weight must be 2-d (num_embeddings, embedding_dim), "
                         f"got shape {weight.shape}")
    n, dcols = weight.shape
    idx = as_index(weight.device, index, op, n, 0)
    if n == 0 and idx.numel:
        raise IndexError(f"{op}: the weight has no rows")
    shape = idx.shape + (dcols,)
    out = Array.empty(weight.device, shape, weight.dtype)
    take(op, "src", shape, (out.buffer, 0, out.strides),
         (weight.buffer, weight.offset, (0,) * idx.ndim + (weight.strides[1],)),
         [Index(idx, idx.strides + (0,), n, weight.strides[0], 0)], False, weight.dtype)
    return out


def embedding_backward(grad: Array, index: Any, num_weights: int,
                       padding_idx: int | None = None) -> Array:
    """Gradient of :func:`embedding` w.r.t. the weight: grad rows summed per index, in index
    order (deterministic), into a (num_weights, D) array; the padding row gets none."""
    op = "embedding_backward()"
    idx = as_index(grad.device, index, op, num_weights, 0)
    if grad.shape[:-1] != idx.shape or grad.ndim != idx.ndim + 1:
        raise ShapeError(f"{op}: grad of shape {grad.shape} does not match index shape "
                         f"{idx.shape} + (embedding_dim,)")
    dcols = grad.shape[-1]
    target = ew.fill_(Array.empty(grad.device, (num_weights, dcols), grad.dtype), 0)
    grad, qst = _inner_stride(grad, grad.ndim - 1)
    out = accumulate(op, target, dcols, idx.shape, (0,) * idx.ndim,
                     [Index(idx, idx.strides, num_weights, 1, 0)], grad, grad.strides[:-1], qst,
                     inplace=True)
    if padding_idx is not None:
        p = padding_idx % num_weights if num_weights else 0
        ew.fill_(out.view((dcols,), (1,), out.offset + p * dcols), 0)
    return out


# ---------------------------------------------------------------------------------------------
# dim-wise scatters

def _scatter_checks(x: Array, dim: int, index: Any, src: Any, op: str
                    ) -> tuple[int, Array, Array | None]:
    d = shapes.normalize_dim(dim, x.ndim)
    size = x.shape[d] if x.ndim else 1
    idx = as_index(x.device, index, op, size, d)
    if isinstance(src, Array):
        _check_same_device([x, src, idx], op)
        if src.dtype is not x.dtype:
            raise DTypeError(f"{op}: expected self.dtype to be equal to src.dtype, got "
                             f"{x.dtype.name} and {src.dtype.name}")
        _check_gather_shapes(x, d, idx, op, src)
        return d, idx, src
    _check_gather_shapes(x, d, idx, op)
    return d, idx, None


def scatter_(x: Array, dim: int, index: Any, src: Any, reduce: str | None = None) -> Array:
    """In place: ``x[index[i][j]][j] = src[i][j]`` (dim 0); ``src`` an array or a scalar.

    ``reduce="add"``/``"multiply"`` combine instead (deterministically). With duplicate indices
    and no reduce, which write wins is unspecified (as in PyTorch).
    """
    op = "scatter()"
    if reduce is not None:
        if reduce not in ("add", "multiply"):
            raise ValueError(f"{op}: reduce argument must be either add or multiply, "
                             f"got {reduce!r}")
        return scatter_reduce_(x, dim, index, src, "sum" if reduce == "add" else "prod")
    d, idx, srca = _scatter_checks(x, dim, index, src, op)
    xst = _without_dim(x.strides, d, idx.ndim)
    ix = Index(idx, idx.strides, x.shape[d] if x.ndim else 1, _dim_stride(x, d), d)
    if srca is None:
        source: Operand | int = _scalar_bits(src, x.dtype, op)
    else:
        source = (srca.buffer, srca.offset, _leading(srca, idx.ndim))
    take(op, "dst", idx.shape, (x.buffer, x.offset, xst), source, [ix], False, x.dtype)
    x.bump_version()
    return x


def _leading(a: Array, ndim: int) -> tuple[int, ...]:
    """Strides of ``a`` over a space of ``ndim`` dims no larger than it (0-d a: zeros)."""
    return a.strides[:ndim] if a.ndim else (0,) * ndim


def scatter(x: Array, dim: int, index: Any, src: Any, reduce: str | None = None) -> Array:
    """Out-of-place :func:`scatter_`."""
    return scatter_(_copy(x), dim, index, src, reduce)


def _copy(x: Array) -> Array:
    return ew.copy_(Array.empty(x.device, x.shape, x.dtype), x)


def scatter_reduce_(x: Array, dim: int, index: Any, src: Any, reduce: str,
                    include_self: bool = True) -> Array:
    """In place, deterministic: ``x[index[i][j]][j] = reduce(x[...], src[i][j], ...)`` (dim 0).

    ``reduce``: "sum", "prod", "mean", "amax", "amin". Entries meeting at one target combine in
    source order, so results are bit-identical run to run.
    """
    return _scatter_reduce(x, dim, index, src, reduce, include_self, True)


def scatter_reduce(x: Array, dim: int, index: Any, src: Any, reduce: str,
                   include_self: bool = True) -> Array:
    """Out-of-place :func:`scatter_reduce_`."""
    return _scatter_reduce(x, dim, index, src, reduce, include_self, False)


def _scatter_reduce(x: Array, dim: int, index: Any, src: Any, reduce: str, include_self: bool,
                    inplace: bool) -> Array:
    op = "scatter_reduce()"
    if reduce not in REDUCTIONS:
        raise ValueError(f"{op}: reduce argument must be one of {', '.join(REDUCTIONS)}, "
                         f"got {reduce!r}")
    if not isinstance(src, Array):
        d0 = shapes.normalize_dim(dim, x.ndim)
        idx0 = as_index(x.device, index, op, x.shape[d0] if x.ndim else 1, d0)
        src = ew.fill_(Array.empty(x.device, idx0.shape, x.dtype), src)
        index = idx0
    d, idx, srca = _scatter_checks(x, dim, index, src, op)
    # key = row-major position in x (all dims are "outer": rows of width 1)
    cont = shapes.contiguous_strides(x.shape)
    kst = _without_dim(cont, d, idx.ndim)
    ix = Index(idx, idx.strides, x.shape[d] if x.ndim else 1, cont[d] if x.ndim else 0, d)
    return accumulate(op, x, 1, idx.shape, kst, [ix], srca, _leading(srca, idx.ndim), 0, reduce,
                      include_self, 1, inplace)


def scatter_add_(x: Array, dim: int, index: Any, src: Array) -> Array:
    """In place, deterministic ``scatter_reduce_(..., "sum")``."""
    return _scatter_reduce(x, dim, index, src, "sum", True, True)


def scatter_add(x: Array, dim: int, index: Any, src: Array) -> Array:
    """Out-of-place :func:`scatter_add_`."""
    return _scatter_reduce(x, dim, index, src, "sum", True, False)


def _index_source_checks(x: Array, d: int, idx: Array, source: Array, op: str) -> None:
    _check_same_device([x, source, idx], op)
    if source.dtype is not x.dtype:
        raise DTypeError(f"{op}: self ({x.dtype.name}) and source ({source.dtype.name}) must "
                         "have the same dtype")
    expect = x.shape[:d] + (idx.numel,) + x.shape[d + 1:] if x.ndim else (idx.numel,)
    if source.shape != expect and not (x.ndim == 0 and source.numel == idx.numel <= 1):
        raise ShapeError(f"{op}: source of shape {source.shape} does not match self {x.shape} "
                         f"with dimension {d} of size {idx.numel} (expected {expect})")


def index_add_(x: Array, dim: int, index: Any, source: Array, alpha: Any = 1) -> Array:
    """In place, deterministic: ``x[..., index[i], ...] += alpha * source[..., i, ...]``."""
    return _index_add(x, dim, index, source, alpha, True)


def index_add(x: Array, dim: int, index: Any, source: Array, alpha: Any = 1) -> Array:
    """Out-of-place :func:`index_add_`."""
    return _index_add(x, dim, index, source, alpha, False)


def _index_add(x: Array, dim: int, index: Any, source: Array, alpha: Any, inplace: bool
               ) -> Array:
    op = "index_add()"
    d, idx, size = _index_1d(x, dim, index, op)
    _index_source_checks(x, d, idx, source, op)
    if x.ndim == 0:
        src = source.view((idx.numel,), (source.strides[0] if source.ndim else 0,))
        ist = idx.strides if idx.ndim else (0,)
        return accumulate(op, x, 1, (idx.numel,), (0,), [Index(idx, ist, 1, 0, 0)], src,
                          src.strides, 0, "sum", True, alpha, inplace)
    outer = x.shape[:d] + (idx.numel,)
    cont = shapes.contiguous_strides(x.shape[:d + 1])
    kst = cont[:d] + (0,)
    ist = (0,) * d + (idx.strides[0] if idx.ndim else 0,)
    src, qst = _inner_stride(source, d + 1)
    width = math.prod(x.shape[d + 1:])
    return accumulate(op, x, width, outer, kst, [Index(idx, ist, size, 1, d)], src,
                      src.strides[:d + 1], qst, "sum", True, alpha, inplace)


def index_copy_(x: Array, dim: int, index: Any, source: Array) -> Array:
    """In place: ``x[..., index[i], ...] = source[..., i, ...]`` (duplicates: unspecified)."""
    op = "index_copy()"
    d, idx, size = _index_1d(x, dim, index, op)
    _index_source_checks(x, d, idx, source, op)
    shape, xst, ix = _slice_space(x, d, idx, size)
    sst = source.strides if source.ndim == len(shape) else (0,) * len(shape)
    take(op, "dst", shape, (x.buffer, x.offset, xst), (source.buffer, source.offset, sst), [ix],
         False, x.dtype)
    x.bump_version()
    return x


def index_copy(x: Array, dim: int, index: Any, source: Array) -> Array:
    """Out-of-place :func:`index_copy_`."""
    return index_copy_(_copy(x), dim, index, source)


def index_fill_(x: Array, dim: int, index: Any, value: Any) -> Array:
    """In place: ``x[..., index[i], ...] = value`` for a scalar (or 0-d array) value."""
    op = "index_fill()"
    d, idx, size = _index_1d(x, dim, index, op)
    shape, xst, ix = _slice_space(x, d, idx, size)
    ixs = [ix]
    if isinstance(value, Array):
        if value.ndim:
            raise ShapeError(f"{op}: only supports a 0-dimensional value tensor, got one of "
                             f"shape {value.shape}")
        value = _cast_to(value, x.dtype)
        take(op, "dst", shape, (x.buffer, x.offset, xst),
             (value.buffer, value.offset, (0,) * len(shape)), ixs, False, x.dtype)
    else:
        take(op, "dst", shape, (x.buffer, x.offset, xst), _scalar_bits(value, x.dtype, op), ixs,
             False, x.dtype)
    x.bump_version()
    return x


def index_fill(x: Array, dim: int, index: Any, value: Any) -> Array:
    """Out-of-place :func:`index_fill_`."""
    return index_fill_(_copy(x), dim, index, value)


def _cast_to(x: Array, dtype: DType) -> Array:
    return x if x.dtype is dtype else ew.cast(x, dtype)


def one_hot(index: Any, num_classes: int = -1) -> Array:
    """int64 one-hot encoding, shape index.shape + (num_classes,).

    ``num_classes=-1`` uses max(index) + 1, which reads the index back to the host (a sync).
    """
    op = "one_hot()"
    if not isinstance(index, Array):
        raise DTypeError(f"{op}: expected an int64 or int32 index array, got "
                         f"{type(index).__name__}")
    _check_index_dtype(index, op)
    idx, device = index, index.device
    if num_classes == -1:
        if idx.numel == 0:
            raise ValueError(f"{op}: can not infer the number of classes from an empty tensor")
        from clt.ops.transfer import to_numpy    # imported here: transfer imports this module

        host = to_numpy(idx)
        if host.min() < 0:
            raise IndexError(f"{op}: class values must be non-negative, got {int(host.min())}")
        num_classes = int(host.max()) + 1
    elif num_classes < 0:
        raise ValueError(f"{op}: num_classes must be -1 or non-negative, got {num_classes}")
    elif num_classes == 0 and idx.numel:
        raise IndexError(f"{op}: class values must be smaller than num_classes=0")
    out = ew.fill_(Array.empty(device, idx.shape + (num_classes,), D.int64), 0)
    take(op, "dst", idx.shape, (out.buffer, out.offset, out.strides[:-1]), 1,
         [Index(idx, idx.strides, num_classes, 1, -1)], False, D.int64)
    return out


# ---------------------------------------------------------------------------------------------
# masks

def _check_mask(mask: Array, op: str) -> None:
    if not isinstance(mask, Array) or not mask.dtype.is_bool:
        got = mask.dtype.name if isinstance(mask, Array) else type(mask).__name__
        raise DTypeError(f"{op}: expected a bool mask, got {got}")


def masked_fill_(x: Array, mask: Array, value: Any) -> Array:
    """In place: ``x[mask] = value``; ``mask`` (bool) broadcasts to x; value a scalar or 0-d."""
    op = "masked_fill_()"
    _check_mask(mask, op)
    _check_same_device([x, mask, value], op)
    if shapes.broadcast_shapes(x.shape, mask.shape) != x.shape:
        raise ShapeError(f"{op}: mask of shape {mask.shape} cannot be broadcast to the tensor's "
                         f"shape {x.shape}")
    _masked_fill_into(x, x, mask, value, op)
    x.bump_version()
    return x


def masked_fill(x: Array, mask: Array, value: Any) -> Array:
    """``where(mask, value, x)`` with x's dtype; x and mask broadcast."""
    op = "masked_fill()"
    _check_mask(mask, op)
    _check_same_device([x, mask, value], op)
    out = Array.empty(x.device, shapes.broadcast_shapes(x.shape, mask.shape), x.dtype)
    return _masked_fill_into(out, x, mask, value, op)


def _masked_fill_into(out: Array, x: Array, mask: Array, value: Any, op: str) -> Array:
    dt = x.dtype
    if isinstance(value, Array):
        if value.ndim:
            raise ShapeError(f"{op}: only supports a 0-dimensional value tensor, got one of "
                             f"shape {value.shape}")
        return ew.launch_map("masked_fill", "(b != 0) ? c : a", out, [x, mask, value],
                             (dt.compute, "uchar", dt.compute))
    if not isinstance(value, (bool, int, float, np.number, np.bool_)):
        raise DTypeError(f"{op}: value must be a number or a 0-d tensor, got "
                         f"{type(value).__name__}")
    sdt = dt if not dt.is_bool else D.uint8
    return ew.launch_map("masked_fill", "(b != 0) ? s0 : a", out, [x, mask],
                         (dt.compute, "uchar"), [ew._scalar(value, sdt)], sdt)


def _compact(op: str, pred: Array, shape: tuple[int, ...], select: Array | None) -> Array:
    """Positions (nonzero) or values (masked_select) where ``pred`` (broadcast to ``shape``) is
    nonzero. Reads the per-range counts back to the host (the one sync)."""
    device = pred.device
    n = math.prod(shape)
    nd = len(shape)
    collapse = select is not None
    pst = shapes.broadcast_strides(pred.shape, pred.strides, shape)
    operands = [(pred.buffer, pred.offset, pst)]
    if select is not None:
        operands.append((select.buffer, select.offset,
                         shapes.broadcast_strides(select.shape, select.strides, shape)))
    if n == 0:
        return Array.empty(device, (0,) if select is not None else (0, nd),
                           select.dtype if select is not None else D.int64)
    if _plan(shape, tuple(tuple(st) for _, _, st in operands), collapse) is None:
        if select is None:
            raise ShapeError(f"{op}: supports at most {MAX_RANK} dims, got {nd}")
        # more than 8 non-mergeable dims: compact dense copies instead
        pred = ew.contiguous(pred.view(shape, pst))
        sel = select.view(shape, operands[1][2])
        return _compact(op, pred.view((n,), (1,)), (n,),
                        ew.contiguous(sel).view((n,), (1,)))
    gsize, _, _ = _geometry_1d(n, device, "chunked", 4096)
    counts = Array.empty(device, (gsize,), D.int64)
    kcount = device.kernels.get(TEMPLATE, "count", name=f"clt_index_count_{pred.dtype.tag}",
                                dtype=pred.dtype.name)
    _run(device, kcount, shape, operands[:1], [counts.buffer], "chunked", collapse, 4096)
    host = np.empty(gsize, np.int64)
    device.download(host, counts.buffer, blocking=True)      # the sync point
    offsets = np.zeros(gsize, np.int64)
    np.cumsum(host[:-1], out=offsets[1:])
    total = int(offsets[-1] + host[-1])
    if select is not None:
        out = Array.empty(device, (total,), select.dtype)
        elem = _ELEM[select.dtype.itemsize]
        tail: list[Any] = [out.buffer]
        name = f"clt_index_select_{pred.dtype.tag}_{elem}"
    else:
        out = Array.empty(device, (total, nd), D.int64)
        elem = "long"
        tail = [out.buffer, nd]
        name = f"clt_index_nonzero_{pred.dtype.tag}"
    if total == 0 or (select is None and nd == 0):
        return out
    offs = _upload(device, offsets, D.int64)
    kcompact = device.kernels.get(TEMPLATE, "compact", name=name,
                                  mode="select" if select is not None else "nonzero",
                                  pdtype=pred.dtype.name, elem=elem)
    _run(device, kcompact, shape, operands, tail + [offs.buffer], "chunked", collapse, 4096)
    return out


def masked_select(x: Array, mask: Array) -> Array:
    """The elements of ``x`` where the bool ``mask`` is true (both broadcast), as a 1-d array.

    Sync point: the number of selected elements is read back before the result is allocated.
    """
    op = "masked_select()"
    _check_mask(mask, op)
    _check_same_device([x, mask], op)
    shape = shapes.broadcast_shapes(x.shape, mask.shape)
    return _compact(op, mask, shape, x)


def nonzero(x: Array, as_tuple: bool = False) -> Array | tuple[Array, ...]:
    """Indices of the nonzero elements of ``x`` as an int64 (count, x.ndim) array, in row-major
    order; ``as_tuple`` gives one 1-d array per dim (a 0-d x counts as 1-d).

    Sync point: the count is read back before the result is allocated.
    """
    out = _compact("nonzero()", x, x.shape, None)
    if not as_tuple:
        return out
    if x.ndim == 0:
        cnt = out.shape[0]
        return (ew.fill_(Array.empty(x.device, (cnt,), D.int64), 0),)
    return tuple(out.view((out.shape[0],), (x.ndim,), out.offset + k) for k in range(x.ndim))


def count_nonzero(x: Array) -> int:
    """Number of nonzero elements (a sync; for masks whose count the host needs)."""
    return _compact("count_nonzero()", x, x.shape, None).shape[0]


# ---------------------------------------------------------------------------------------------
# advanced indexing: x[index] and x[index] = value with PyTorch's rules

class _Mask:
    """A boolean index item: a device array, or host data (known, so no sync to count it)."""

    __slots__ = ("array", "host")

    def __init__(self, array: Array | None, host: np.ndarray | None) -> None:
        self.array, self.host = array, host

    @property
    def shape(self) -> tuple[int, ...]:
        return self.array.shape if self.array is not None else self.host.shape

    @property
    def ndim(self) -> int:
        return len(self.shape)


class _HostIndex:
    """An integer index array given as host data (range-checked on the host)."""

    __slots__ = ("host",)

    def __init__(self, host: np.ndarray) -> None:
        self.host = host


def key_items(index: Any) -> list[Any]:
    """The items of an indexing key, by PyTorch's rule: a tuple, or a short list holding slices,
    None, Ellipsis, arrays or sequences, is a multi-dim key; anything else is one item."""
    if isinstance(index, tuple):
        return list(index)
    if isinstance(index, list) and len(index) < 32 and any(
            isinstance(it, (Array, list, tuple, slice, np.ndarray)) or it is None
            or it is Ellipsis for it in index):
        return list(index)
    return [index]


def _items(index: Any, op: str) -> list[Any]:
    raw = key_items(index)
    items: list[Any] = []
    for it in raw:
        if it is None or it is Ellipsis or isinstance(it, slice):
            items.append(it)
        elif isinstance(it, (bool, np.bool_)):
            items.append(_Mask(None, np.array(bool(it))))
        elif isinstance(it, (int, np.integer)):
            items.append(int(it))
        elif isinstance(it, Array):
            if it.dtype.is_bool:
                items.append(_Mask(it, None))
            elif it.dtype.name in _IDX_CTYPE:
                items.append(it)
            else:
                raise IndexError(f"{op}: tensors used as indices must be long, int or bool "
                                 f"tensors, got {it.dtype.name}")
        else:
            host = np.asarray(it)
            if host.dtype == np.bool_:
                items.append(_Mask(None, host))
            elif host.dtype.kind in "iu" or (host.size == 0 and host.dtype.kind == "f"):
                items.append(_HostIndex(host.astype(np.int64)))
            else:
                raise IndexError(f"{op}: only integers, slices, None, Ellipsis and integer or "
                                 f"boolean arrays are valid indices, got {it!r}")
    return items


class _Parsed:
    """The view left by the basic items, and the advanced index operands over its dims."""

    def __init__(self, view: Array, adv: list[tuple[int, Any, int]], masks: list[tuple[int, _Mask]],
                 zero_d: set[int]) -> None:
        self.view = view
        self.adv = adv        # (view dim, Array | _HostIndex, original dim)
        self.masks = masks    # (first view dim, mask): not yet turned into index arrays
        self.zero_d = zero_d  # view dims indexed by 0-d int arrays (selects, for placement)


def _parse(x: Array, index: Any, op: str) -> _Parsed:
    items = _items(index, op)
    if sum(it is Ellipsis for it in items) > 1:
        raise IndexError(f"{op}: an index can only have a single ellipsis ('...')")
    used = sum(it.ndim if isinstance(it, _Mask) else 0 if it is None or it is Ellipsis else 1
               for it in items)
    if used > x.ndim:
        raise IndexError(f"{op}: too many indices for tensor of dimension {x.ndim}")
    if Ellipsis in items:
        at = next(k for k, it in enumerate(items) if it is Ellipsis)
        items[at:at + 1] = [slice(None)] * (x.ndim - used)
    else:
        items += [slice(None)] * (x.ndim - used)
    shape: list[int] = []
    strides: list[int] = []
    offset = x.offset
    adv: list[tuple[int, Any, int]] = []
    masks: list[tuple[int, _Mask]] = []
    zero_d: set[int] = set()
    d = 0
    for it in items:
        if it is None:
            shape.append(1)
            strides.append(0)
        elif isinstance(it, int):
            size = x.shape[d]
            if not -size <= it < size:
                raise IndexError(f"{op}: index {it} is out of bounds for dimension {d} with "
                                 f"size {size}")
            offset += (it % size) * x.strides[d]
            d += 1
        elif isinstance(it, slice):
            if it.step is not None and it.step <= 0:
                raise ValueError(f"{op}: step must be greater than zero, got {it.step}")
            start, stop, step = it.indices(x.shape[d])
            n = len(range(start, stop, step))
            if n:
                offset += start * x.strides[d]
            shape.append(n)
            strides.append(x.strides[d] * step)
            d += 1
        elif isinstance(it, _Mask):
            k = it.ndim
            want = x.shape[d:d + k]
            if it.shape != want:
                raise IndexError(f"{op}: the shape of the mask {it.shape} at index {d} does not "
                                 f"match the shape of the indexed tensor {x.shape}")
            if k == 0:      # a 0-d mask adds a dim of size 1, indexed by [0] or []
                shape.append(1)
                strides.append(0)
            else:
                shape += want
                strides += x.strides[d:d + k]
            masks.append((len(shape) - max(k, 1), it))
            d += k
        else:
            if isinstance(it, _HostIndex):
                size = x.shape[d]
                bad = it.host[(it.host < -size) | (it.host >= size)]
                if bad.size:
                    raise IndexError(f"{op}: index {int(bad.flat[0])} is out of bounds for "
                                     f"dimension {d} with size {size}")
            elif it.device is not x.device:
                ew.check_same_device([x, it], op)
            if (it.host.ndim if isinstance(it, _HostIndex) else it.ndim) == 0:
                zero_d.add(len(shape))
            adv.append((len(shape), it, d))
            shape.append(x.shape[d])
            strides.append(x.strides[d])
            d += 1
    return _Parsed(x.view(tuple(shape), tuple(strides), offset), adv, masks, zero_d)


def _resolve(p: _Parsed, op: str) -> list[tuple[int, Array, int]]:
    """Every advanced operand as a device index array, in view-dim order (masks become their
    nonzero columns: a sync for device masks)."""
    device = p.view.device
    out = []
    for vd, it, d in p.adv:
        if isinstance(it, _HostIndex):
            it = as_index(device, it.host, op)
        out.append((vd, it, d))
    for vd, mask in p.masks:
        k = mask.ndim
        if mask.host is not None:
            cols = np.nonzero(mask.host) if k else (np.zeros(int(mask.host), np.int64),)
            for c, col in enumerate(cols):
                out.append((vd + c, as_index(device, col, op), vd + c))
        elif k == 0:
            cnt = count_nonzero(mask.array)
            out.append((vd, ew.fill_(Array.empty(device, (cnt,), D.int64), 0), vd))
        else:
            nz = nonzero(mask.array)
            for c in range(k):
                col = nz.view((nz.shape[0],), (k,), nz.offset + c)
                out.append((vd + c, col, vd + c))
    out.sort(key=lambda t: t[0])
    return out


class _Layout:
    """Where the result's dims come from: the broadcast advanced shape B goes at ``pos`` among
    the view's other dims ``rest`` (or first, when the advanced dims are not adjacent)."""

    def __init__(self, p: _Parsed, adv: list[tuple[int, Array, int]], op: str) -> None:
        view = p.view
        try:
            self.bshape = shapes.broadcast_shapes(*(a.shape for _, a, _ in adv))
        except ShapeError:
            shown = ", ".join(str(list(a.shape)) for _, a, _ in adv)
            raise IndexError(f"{op}: shape mismatch: indexing tensors could not be broadcast "
                             f"together with shapes {shown}") from None
        adv_dims = [vd for vd, _, _ in adv]
        self.rest = [k for k in range(view.ndim) if k not in adv_dims]
        # 0-d int tensors act as selects in PyTorch: they do not count for adjacency
        placed = [vd for vd in adv_dims if vd not in p.zero_d]
        adjacent = placed and placed == list(range(placed[0], placed[0] + len(placed)))
        self.pos = sum(1 for k in self.rest if k < placed[0]) if adjacent else 0
        nb = len(self.bshape)
        rs = [view.shape[k] for k in self.rest]
        self.shape = tuple(rs[:self.pos]) + self.bshape + tuple(rs[self.pos:])
        rst = [view.strides[k] for k in self.rest]
        # strides of the view's passthrough dims over the result (0 on the B dims)
        self.view_strides = tuple(rst[:self.pos]) + (0,) * nb + tuple(rst[self.pos:])
        self.indices = []
        for vd, a, d in adv:
            bst = shapes.broadcast_strides(a.shape, a.strides, self.bshape)
            st = (0,) * self.pos + bst + (0,) * (len(self.rest) - self.pos)
            self.indices.append(Index(a, st, view.shape[vd], view.strides[vd], d))
        self.adv_dims = adv_dims


def advanced_get(x: Array, index: Any) -> Array:
    """``x[index]`` with NumPy/PyTorch indexing: ints, slices (step > 0), None, Ellipsis, int
    arrays (broadcast together; negative values wrap), bool masks and lists of those.

    Basic-only indices return a view; anything advanced returns a new array. Advanced dims go
    where the first advanced index was if all advanced indices are adjacent (0-d int arrays and
    ints act as selects, as in PyTorch), else first. Bool masks cost a sync (nonzero).
    """
    op = "__getitem__"
    p = _parse(x, index, op)
    if not p.adv and not p.masks:
        return p.view
    adv = _resolve(p, op)
    lay = _Layout(p, adv, op)
    out = Array.empty(x.device, lay.shape, x.dtype)
    take(op, "src", lay.shape, (out.buffer, 0, out.strides),
         (p.view.buffer, p.view.offset, lay.view_strides), lay.indices, True, x.dtype)
    return out


def advanced_set(x: Array, index: Any, value: Any, accumulate_: bool = False) -> Array:
    """``x[index] = value`` in place (value a scalar or an array broadcastable to ``x[index]``'s
    shape, converted to x's dtype); with ``accumulate_`` add into x instead, deterministically.

    Duplicate indices without accumulate: which write wins is unspecified (as in PyTorch). A
    single bool mask with a scalar or 0-d value needs no sync (a masked fill).
    """
    op = "index_put_()"
    p = _parse(x, index, op)
    if isinstance(value, Array):
        ew.check_same_device([x, value], op)
    view = p.view
    if not p.adv and not p.masks:
        if accumulate_:
            _add_into(view, value, op)
        elif isinstance(value, Array):
            ew.copy_(view, _broadcastable(value, view.shape, op))
        else:
            ew.fill_(view, _number(value, op))
        x.bump_version()
        return x
    scalar_like = not isinstance(value, Array) or value.ndim == 0
    if not p.adv and len(p.masks) == 1 and p.masks[0][1].ndim and scalar_like \
            and not accumulate_:
        vd, mask = p.masks[0]
        m = mask.array if mask.array is not None else as_mask(x.device, mask.host)
        mst = (0,) * vd + m.strides + (0,) * (view.ndim - vd - m.ndim)
        _masked_fill_into(view, view, m.view(view.shape, mst), _number(value, op), op)
        x.bump_version()
        return x
    adv = _resolve(p, op)
    lay = _Layout(p, adv, op)
    if accumulate_:
        _index_put_accumulate(x, view, lay, value, op)
        return x
    if isinstance(value, Array):
        v = _cast_to(_broadcastable(value, lay.shape, op), x.dtype)
        source: Operand | int = (v.buffer, v.offset,
                                 shapes.broadcast_strides(v.shape, v.strides, lay.shape))
    else:
        source = _scalar_bits(_number(value, op), x.dtype, op)
    take(op, "dst", lay.shape, (view.buffer, view.offset, lay.view_strides), source,
         lay.indices, True, x.dtype)
    x.bump_version()
    return x


def _number(value: Any, op: str) -> Any:
    if isinstance(value, Array):
        return value
    if not isinstance(value, (bool, int, float, np.number, np.bool_)):
        raise DTypeError(f"{op}: value must be a number or a tensor, got {type(value).__name__}")
    return value


def _broadcastable(value: Array, shape: tuple[int, ...], op: str) -> Array:
    try:
        shapes.broadcast_strides(value.shape, value.strides, shape)
    except ShapeError:
        raise ShapeError(f"{op}: shape mismatch: value tensor of shape {value.shape} cannot be "
                         f"broadcast to indexing result of shape {shape}") from None
    return value


def as_mask(device: Device, host: np.ndarray) -> Array:
    """Upload a host bool array (non-blocking)."""
    return _upload(device, host, D.bool_)


def _add_into(view: Array, value: Any, op: str) -> None:
    if isinstance(value, Array):
        _broadcastable(value, view.shape, op)
    dt = view.dtype
    ew.map_op("add", "a + b", [view, value], dt, dt if not dt.is_bool else D.uint8, out=view)


def _index_put_accumulate(x: Array, view: Array, lay: _Layout, value: Any, op: str) -> None:
    if isinstance(value, Array):
        v = _cast_to(_broadcastable(value, lay.shape, op), x.dtype)
        v = v.view(lay.shape, shapes.broadcast_strides(v.shape, v.strides, lay.shape))
    else:
        v = ew.fill_(Array.empty(x.device, (), x.dtype), _number(value, op))
        v = v.view(lay.shape, (0,) * len(lay.shape))
    # trailing view dims after the last advanced one are the rows' inner part, in order at the
    # end of the result too
    m = view.ndim - 1 - max(lay.adv_dims)
    nres = len(lay.shape)
    outer = lay.shape[:nres - m]
    cont = shapes.contiguous_strides(view.shape[:view.ndim - m])
    rest_outer = [k for k in lay.rest if k < view.ndim - m]
    rcs = [cont[k] for k in rest_outer]
    nb = len(lay.bshape)
    kst = tuple(rcs[:lay.pos]) + (0,) * nb + tuple(rcs[lay.pos:])
    indices = [Index(ix.array, ix.strides[:nres - m], ix.size, cont[vd], ix.dim)
               for ix, vd in zip(lay.indices, lay.adv_dims)]
    v, qst = _inner_stride(v, nres - m)
    width = math.prod(view.shape[view.ndim - m:])
    accumulate(op, view, width, outer, kst, indices, v, v.strides[:nres - m], qst, "sum", True,
               1, True, True)
    x.bump_version()


def index_put_(x: Array, indices: Sequence[Any], values: Any, accumulate: bool = False) -> Array:
    """PyTorch's ``index_put_``: ``indices`` is a tuple of index arrays (None = the whole dim)."""
    items = tuple(slice(None) if it is None else it for it in indices)
    return advanced_set(x, items, values, accumulate)


def index_put(x: Array, indices: Sequence[Any], values: Any, accumulate: bool = False) -> Array:
    """Out-of-place :func:`index_put_`."""
    return index_put_(_copy(x), indices, values, accumulate)
