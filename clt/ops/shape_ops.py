"""Shape ops that copy, and the views they are built from, on device arrays.

No kernel of its own: every copy is the elementwise copy (``ew.copy_``) between views, which
reads any strides, negative ones included. So ``cat`` is one launch per input into a narrowed
view of the output, ``flip`` a copy from a negative-stride view, ``repeat`` one copy from a view
with zero strides, and ``pad`` a fill plus copies of (reversed, expanded or shifted) border views.

Views (no copy): narrow, select, split, chunk, unbind, diagonal, unfold.
"""
from __future__ import annotations

import itertools
from typing import Any, Sequence

from clt import dtypes as D
from clt.errors import ShapeError
from clt.ops import elementwise as ew
from clt.ops import shapes
from clt.ops.array import Array


# ---------------------------------------------------------------------------------------------
# views

def narrow(x: Array, dim: int, start: int, length: int) -> Array:
    """The view ``x[..., start:start+length, ...]`` along ``dim`` (negative start wraps)."""
    d = shapes.normalize_dim(dim, x.ndim)
    if x.ndim == 0:
        raise ShapeError("narrow() cannot be applied to a 0-dim tensor")
    size = x.shape[d]
    if not -size <= start <= size:
        raise IndexError(f"narrow(): start {start} is out of range for dimension {d} of size "
                         f"{size}")
    if start < 0:
        start += size
    if length < 0 or start + length > size:
        raise ShapeError(f"narrow(): start ({start}) + length ({length}) exceeds dimension "
                         f"{d} of size {size}")
    return _narrow(x, d, start, length)


def _narrow(x: Array, d: int, start: int, length: int, step: int = 1) -> Array:
    shape = list(x.shape)
    strides = list(x.strides)
    shape[d] = length
    strides[d] *= step
    return x.view(tuple(shape), tuple(strides), x.offset + (start * x.strides[d] if length else 0))


def select(x: Array, dim: int, index: int) -> Array:
    """The view ``x[..., index, ...]`` (dim removed; negative index wraps)."""
    d = shapes.normalize_dim(dim, x.ndim)
    if x.ndim == 0:
        raise IndexError("select() cannot be applied to a 0-dim tensor")
    size = x.shape[d]
    if not -size <= index < size:
        raise IndexError(f"select(): index {index} out of range for dimension {d} of size {size}")
    index %= size
    return x.view(x.shape[:d] + x.shape[d + 1:], x.strides[:d] + x.strides[d + 1:],
                  x.offset + index * x.strides[d])


def split(x: Array, split_size_or_sections: int | Sequence[int], dim: int = 0
          ) -> tuple[Array, ...]:
    """Views of consecutive pieces along ``dim``: of ``split_size`` each (the last may be
    smaller), or of the given section sizes (which must sum to the dim's size)."""
    d = shapes.normalize_dim(dim, x.ndim)
    if x.ndim == 0:
        raise ShapeError("split() expects at least a 1-dimensional tensor")
    size = x.shape[d]
    if isinstance(split_size_or_sections, int) or hasattr(split_size_or_sections, "__index__"):
        step = int(split_size_or_sections)
        if step < 0 or (step == 0 and size > 0):
            raise ShapeError(f"split(): split_size must be positive (it can only be 0 if the "
                             f"dimension size is 0), got {step} for size {size}")
        sizes = [min(step, size - s) for s in range(0, size, step)] if size else [0]
    else:
        sizes = [int(s) for s in split_size_or_sections]
        if any(s < 0 for s in sizes) or sum(sizes) != size:
            raise ShapeError(f"split_with_sizes expects split_sizes to sum exactly to {size} "
                             f"(input tensor's size at dimension {d}), but got split_sizes="
                             f"{sizes}")
    out, start = [], 0
    for s in sizes:
        out.append(_narrow(x, d, start, s))
        start += s
    return tuple(out)


def chunk(x: Array, chunks: int, dim: int = 0) -> tuple[Array, ...]:
    """``chunks`` views (fewer if the size does not allow) of ceil(size / chunks) each."""
    if chunks <= 0:
        raise ShapeError(f"chunk expects `chunks` to be greater than 0, got: {chunks}")
    d = shapes.normalize_dim(dim, x.ndim)
    if x.ndim == 0:
        raise ShapeError("chunk() expects at least a 1-dimensional tensor")
    size = x.shape[d]
    if size == 0:
        return tuple(_narrow(x, d, 0, 0) for _ in range(chunks))
    return split(x, -(-size // chunks), d)


def unbind(x: Array, dim: int = 0) -> tuple[Array, ...]:
    """Views of every slice along ``dim`` (dim removed)."""
    d = shapes.normalize_dim(dim, x.ndim)
    if x.ndim == 0:
        raise ShapeError("unbind() cannot be applied to a 0-dim tensor")
    return tuple(select(x, d, i) for i in range(x.shape[d]))


def diagonal(x: Array, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Array:
    """View of the diagonal of the (dim1, dim2) planes, appended as the last dim; ``offset`` > 0
    is above the main diagonal (along dim2)."""
    if x.ndim < 2:
        raise ShapeError(f"diagonal() needs at least 2 dimensions, got shape {x.shape}")
    d1, d2 = shapes.normalize_dim(dim1, x.ndim), shapes.normalize_dim(dim2, x.ndim)
    if d1 == d2:
        raise ShapeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    n1, n2 = x.shape[d1], x.shape[d2]
    if offset >= 0:
        n = max(0, min(n1, n2 - offset))
        start = offset * x.strides[d2]
    else:
        n = max(0, min(n1 + offset, n2))
        start = -offset * x.strides[d1]
    keep = [k for k in range(x.ndim) if k not in (d1, d2)]
    shape = tuple(x.shape[k] for k in keep) + (n,)
    strides = tuple(x.strides[k] for k in keep) + (x.strides[d1] + x.strides[d2],)
    return x.view(shape, strides, x.offset + (start if n else 0))


_diagonal = diagonal     # diag() has a parameter of that name


def unfold(x: Array, dimension: int, size: int, step: int) -> Array:
    """View of all windows of ``size`` elements, ``step`` apart, along ``dimension``; the window
    becomes a new last dim (PyTorch's ``Tensor.unfold``)."""
    if step <= 0:
        raise ShapeError(f"unfold(): step is {step} but must be > 0")
    if size < 0:
        raise ShapeError(f"unfold(): size is {size} but must be >= 0")
    if x.ndim == 0:
        if size > 1:
            raise ShapeError(f"unfold(): maximum size for tensor at dimension 0 is 1 but size "
                             f"is {size}")
        return x.view((size,), (0,))
    d = shapes.normalize_dim(dimension, x.ndim)
    if size > x.shape[d]:
        raise ShapeError(f"unfold(): maximum size for tensor at dimension {d} is {x.shape[d]} "
                         f"but size is {size}")
    n = (x.shape[d] - size) // step + 1
    shape = list(x.shape)
    strides = list(x.strides)
    shape[d] = n
    strides[d] = x.strides[d] * step
    return x.view(tuple(shape) + (size,), tuple(strides) + (x.strides[d],))


# ---------------------------------------------------------------------------------------------
# copies

def _empty(x: Array, shape: Sequence[int], dtype: D.DType | None = None) -> Array:
    return Array.empty(x.device, tuple(shape), dtype or x.dtype)


def cat(arrays: Sequence[Array], dim: int = 0) -> Array:
    """Concatenate along ``dim``; dtypes promote as in PyTorch; 1-d empty arrays (shape (0,))
    are skipped, as PyTorch does. One copy launch per non-empty input."""
    arrays = list(arrays)
    if not arrays:
        raise ShapeError("cat() expects a non-empty list of tensors")
    ew.check_same_device(arrays, "cat()")
    dtype = arrays[0].dtype
    for a in arrays[1:]:
        dtype = D.promote_types(dtype, a.dtype)
    for i, a in enumerate(arrays):
        if a.ndim == 0:
            raise ShapeError(f"cat(): zero-dimensional tensor (at position {i}) cannot be "
                             "concatenated")
    used = [(i, a) for i, a in enumerate(arrays) if a.shape != (0,)]
    if not used:
        return _empty(arrays[0], (0,), dtype)
    ref_i, ref = used[0]
    d = shapes.normalize_dim(dim, ref.ndim)
    total = 0
    for i, a in used:
        if a.ndim != ref.ndim:
            raise ShapeError(f"cat(): tensors must have same number of dimensions: got "
                             f"{ref.ndim} and {a.ndim}")
        for k in range(ref.ndim):
            if k != d and a.shape[k] != ref.shape[k]:
                raise ShapeError(f"cat(): sizes of tensors must match except in dimension {d}. "
                                 f"Expected size {ref.shape[k]} but got size {a.shape[k]} for "
                                 f"tensor number {i} in the list")
        total += a.shape[d]
    out = _empty(ref, ref.shape[:d] + (total,) + ref.shape[d + 1:], dtype)
    start = 0
    for _, a in used:
        n = a.shape[d]
        if n:
            ew.copy_(_narrow(out, d, start, n), a)
        start += n
    return out


def stack(arrays: Sequence[Array], dim: int = 0) -> Array:
    """Join equal-shaped arrays along a new dim ``dim``."""
    arrays = list(arrays)
    if not arrays:
        raise ShapeError("stack() expects a non-empty list of tensors")
    ew.check_same_device(arrays, "stack()")
    ref = arrays[0]
    for i, a in enumerate(arrays[1:], 1):
        if a.shape != ref.shape:
            raise ShapeError(f"stack expects each tensor to be equal size, but got "
                             f"{list(ref.shape)} at entry 0 and {list(a.shape)} at entry {i}")
    d = shapes.normalize_dim(dim, ref.ndim + 1)
    dtype = ref.dtype
    for a in arrays[1:]:
        dtype = D.promote_types(dtype, a.dtype)
    out = _empty(ref, ref.shape[:d] + (len(arrays),) + ref.shape[d:], dtype)
    for i, a in enumerate(arrays):
        ew.copy_(select(out, d, i), a)
    return out


def flip(x: Array, dims: int | Sequence[int]) -> Array:
    """A copy with the order of elements reversed along ``dims``."""
    ds = shapes.normalize_dims(dims, x.ndim)
    shape, strides, offset = x.shape, list(x.strides), x.offset
    for d in ds:
        if shape[d] > 1:
            offset += (shape[d] - 1) * strides[d]
        strides[d] = -strides[d]
    return _copy_of(x.view(shape, tuple(strides), offset))


def _copy_of(view: Array) -> Array:
    return ew.copy_(_empty(view, view.shape), view)


def roll(x: Array, shifts: int | Sequence[int], dims: int | Sequence[int] | None = None
         ) -> Array:
    """Elements shifted cyclically by ``shifts`` along ``dims`` (None: the flattened array)."""
    if dims is None:
        if not isinstance(shifts, int) and len(shifts) != 1:
            raise ShapeError(f"roll(): shifts and dimensions must align; with dims=None give one "
                             f"shift, got {tuple(shifts)}")
        flat = ew.contiguous(x)
        s = shifts if isinstance(shifts, int) else shifts[0]
        out = roll(flat.view((x.numel,), (1,)), s, 0)
        return out.view(x.shape, shapes.contiguous_strides(x.shape))
    shifts_t = (shifts,) if isinstance(shifts, int) else tuple(shifts)
    dims_t = (dims,) if isinstance(dims, int) else tuple(dims)
    if len(shifts_t) != len(dims_t):
        raise ShapeError(f"roll(): shifts and dimensions must align. shifts: {len(shifts_t)}, "
                         f"dims: {len(dims_t)}")
    if x.ndim == 0:
        raise ShapeError("roll() on a 0-dim tensor needs dims=None")
    # a dim may appear twice: its shifts add up
    total: dict[int, int] = {}
    for s, d in zip(shifts_t, dims_t):
        d = shapes.normalize_dim(d, x.ndim)
        total[d] = total.get(d, 0) + int(s)
    out = _empty(x, x.shape)
    if x.numel == 0:
        return out
    parts = []
    for d, s in total.items():
        n = x.shape[d]
        s %= n
        # (dst start, src start, length) for the two pieces of this dim
        parts.append([(d, s, 0, n - s), (d, 0, n - s, s)])
    for combo in itertools.product(*parts):
        if any(length == 0 for _, _, _, length in combo):
            continue
        dst, src = out, x
        for d, ds, ss, length in combo:
            dst, src = _narrow(dst, d, ds, length), _narrow(src, d, ss, length)
        ew.copy_(dst, src)
    return out


def repeat(x: Array, sizes: Sequence[int]) -> Array:
    """PyTorch's ``Tensor.repeat``: x tiled ``sizes[k]`` times along each dim (sizes may add
    leading dims). One copy from a zero-stride view."""
    sizes = tuple(int(s) for s in sizes)
    if len(sizes) < x.ndim:
        raise ShapeError(f"repeat(): number of dimensions of repeat dims ({len(sizes)}) can not "
                         f"be smaller than number of dimensions of tensor ({x.ndim})")
    if any(s < 0 for s in sizes):
        raise ShapeError(f"repeat(): repeats must be non-negative, got {sizes}")
    lead = len(sizes) - x.ndim
    xshape = (1,) * lead + x.shape
    xstrides = (0,) * lead + x.strides
    out_shape = tuple(r * s for r, s in zip(sizes, xshape))
    out = _empty(x, out_shape)
    if out.numel == 0:
        return out
    # out viewed as (r0, s0, r1, s1, ...): every r-dim of the source view has stride 0
    pairs = tuple(v for r, s in zip(sizes, xshape) for v in (r, s))
    ocont = shapes.contiguous_strides(pairs)
    src_strides = tuple(v for st in xstrides for v in (0, st))
    ew.copy_(out.view(pairs, ocont, 0), x.view(pairs, src_strides))
    return out


def tile(x: Array, dims: Sequence[int]) -> Array:
    """PyTorch's ``tile``: like :func:`repeat`, with ``dims`` padded with leading 1s."""
    dims = tuple(int(r) for r in dims)
    if len(dims) < x.ndim:
        dims = (1,) * (x.ndim - len(dims)) + dims
    return repeat(x, dims)


PAD_MODES = ("constant", "reflect", "replicate", "circular")


def pad(x: Array, pad: Sequence[int], mode: str = "constant", value: Any = 0) -> Array:
    """``torch.nn.functional.pad``: ``pad`` = (left, right) for the last dim, then (top, bottom)
    for the one before, ... Constant padding may be negative (crops).

    Modes: constant, reflect (mirror without the edge), replicate (edge value), circular (wrap).
    """
    pad = tuple(int(p) for p in pad)
    if mode not in PAD_MODES:
        raise ValueError(f"pad(): mode must be one of {', '.join(PAD_MODES)}, got {mode!r}")
    if len(pad) % 2:
        raise ShapeError(f"pad(): padding length must be divisible by 2, got {len(pad)}")
    if len(pad) // 2 > x.ndim:
        raise ShapeError(f"pad(): padding length too large: {len(pad)} values for a tensor of "
                         f"{x.ndim} dims")
    if mode != "constant" and value != 0:
        raise ValueError(f"pad(): padding mode {mode!r} doesn't take in value argument")
    lr = {x.ndim - 1 - k: (pad[2 * k], pad[2 * k + 1]) for k in range(len(pad) // 2)}
    out_shape = list(x.shape)
    for d, (lo, hi) in lr.items():
        out_shape[d] = x.shape[d] + lo + hi
        if out_shape[d] < 0:
            raise ShapeError(f"pad(): the input size {x.shape[d]} plus negative padding "
                             f"{lo} and {hi} resulted in a negative output size at dim {d}")
        if mode != "constant":
            _check_mode_pad(mode, x, d, lo, hi)
    out = _empty(x, out_shape)
    if out.numel == 0:
        return out
    if mode == "constant":
        ew.fill_(out, value)
    # the interior: x (cropped where padding is negative) into out
    dst, src = out, x
    for d, (lo, hi) in lr.items():
        n = x.shape[d] + min(lo, 0) + min(hi, 0)
        dst = _narrow(dst, d, max(lo, 0), n)
        src = _narrow(src, d, max(-lo, 0), n)
    if src.numel:
        ew.copy_(dst, src)
    if mode == "constant":
        return out
    # borders, one dim at a time over the full extent of the others: whatever an earlier dim
    # left in a corner is overwritten by a later dim from its (by then correct) interior
    for d, (lo, hi) in lr.items():
        n = x.shape[d]
        if lo:
            ew.copy_(_narrow(out, d, 0, lo), _border_source(out, d, lo, n, lo, mode, True))
        if hi:
            ew.copy_(_narrow(out, d, lo + n, hi), _border_source(out, d, lo, n, hi, mode, False))
    return out


def _check_mode_pad(mode: str, x: Array, d: int, lo: int, hi: int) -> None:
    n = x.shape[d]
    if lo < 0 or hi < 0:
        raise ShapeError(f"pad(): negative padding ({lo}, {hi}) is only supported in constant "
                         "mode")
    if mode == "reflect" and (lo >= n or hi >= n) and (lo or hi):
        raise ShapeError(f"pad(): padding size should be less than the corresponding input "
                         f"dimension, but got: padding ({lo}, {hi}) at dimension {d} of input "
                         f"{list(x.shape)}")
    if mode == "replicate" and n == 0 and (lo or hi):
        raise ShapeError(f"pad(): cannot replicate-pad an empty dimension {d} of input "
                         f"{list(x.shape)}")
    if mode == "circular" and (lo > n or hi > n):
        raise ShapeError(f"pad(): padding value causes wrapping around more than once: "
                         f"({lo}, {hi}) at dimension {d} of size {n}")


def _border_source(out: Array, d: int, lo: int, n: int, width: int, mode: str, left: bool
                   ) -> Array:
    """The view of ``out``'s interior along ``d`` that fills a border of ``width``."""
    if mode == "replicate":
        edge = _narrow(out, d, lo if left else lo + n - 1, 1)
        shape = list(edge.shape)
        shape[d] = width
        return edge.view(tuple(shape), shapes.broadcast_strides(edge.shape, edge.strides,
                                                                tuple(shape)))
    if mode == "circular":
        return _narrow(out, d, lo + n - width if left else lo, width)
    # reflect: the border mirrors the interior around the edge element (which is not repeated)
    if left:    # out[lo-1-k] = out[lo+1+k]: reversed view starting at lo+width
        return _narrow(out, d, lo + width, width, -1)
    return _narrow(out, d, lo + n - 2, width, -1)   # out[lo+n+k] = out[lo+n-2-k]


def _tri(op: str, x: Array, diagonal: int, out: Array) -> Array:
    if x.ndim < 2:
        raise ShapeError(f"{op}: input tensor must have at least 2 dimensions, got shape "
                         f"{x.shape}")
    rows, cols = x.shape[-2:]
    keep = "<=" if op.startswith("tril") else ">="
    # lin is the row-major position of the element: its column is lin % cols
    expr = (f"(((long)(lin % (ulong)s0) - (long)((lin / (ulong)s0) % (ulong)s1)) {keep} s2) "
            "? a : (T)0")
    return ew.launch_map(op.rstrip("_"), expr, out, [x], None, [cols, rows, int(diagonal)],
                         D.int64)


def tril(x: Array, diagonal: int = 0) -> Array:
    """Lower triangle of the last two dims (elements with col - row <= diagonal), rest zero."""
    return _tri("tril", x, diagonal, _empty(x, x.shape))


def triu(x: Array, diagonal: int = 0) -> Array:
    """Upper triangle of the last two dims (elements with col - row >= diagonal), rest zero."""
    return _tri("triu", x, diagonal, _empty(x, x.shape))


def tril_(x: Array, diagonal: int = 0) -> Array:
    """In-place :func:`tril`."""
    _tri("tril_", x, diagonal, x)
    x.bump_version()
    return x


def triu_(x: Array, diagonal: int = 0) -> Array:
    """In-place :func:`triu`."""
    _tri("triu_", x, diagonal, x)
    x.bump_version()
    return x


def diag(x: Array, diagonal: int = 0) -> Array:
    """1-d x: a square matrix with x on the ``diagonal``-th diagonal; 2-d x: a copy of that
    diagonal."""
    if x.ndim == 1:
        n = x.shape[0] + abs(diagonal)
        out = ew.fill_(_empty(x, (n, n)), 0)
        ew.copy_(_diagonal(out, diagonal), x)
        return out
    if x.ndim == 2:
        return _copy_of(_diagonal(x, diagonal))
    raise ShapeError(f"diag(): supports 1D or 2D tensors, got {x.ndim}D")


def diag_embed(x: Array, offset: int = 0, dim1: int = -2, dim2: int = -1) -> Array:
    """Matrices (in dims dim1, dim2 of the result) with x's last dim on their ``offset``-th
    diagonal; other elements zero."""
    nd = x.ndim + 1
    d1, d2 = shapes.normalize_dim(dim1, nd), shapes.normalize_dim(dim2, nd)
    if d1 == d2:
        raise ShapeError(f"diag_embed(): diagonal dimensions cannot be identical {dim1}, {dim2}")
    n = (x.shape[-1] if x.ndim else 1) + abs(offset)
    batch = iter(x.shape[:-1])
    shape = tuple(n if k in (d1, d2) else next(batch) for k in range(nd))
    out = ew.fill_(_empty(x, shape), 0)
    src = x if x.ndim else x.view((1,), (0,))
    ew.copy_(diagonal(out, offset, d1, d2), src)
    return out
