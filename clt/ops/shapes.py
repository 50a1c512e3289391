"""Pure-Python shape and stride arithmetic (broadcasting, views, dim normalisation).

Nothing here touches OpenCL, so all of it is testable without a device.
"""
from __future__ import annotations

import math
from typing import Iterable, Sequence

from clt.errors import ShapeError

Shape = tuple[int, ...]


def as_shape(shape: Iterable[int] | int) -> Shape:
    """Normalise ``shape`` (an int, a sequence, or ``size(*args)`` style) to a tuple of ints."""
    if isinstance(shape, int) or hasattr(shape, "__index__"):
        shape = (shape,)
    out = []
    for s in shape:
        try:
            s = int(s.__index__())
        except AttributeError:
            raise ShapeError(f"shape entries must be integers, got {s!r} in {tuple(shape)}") from None
        if s < 0:
            raise ShapeError(f"negative dimension {s} in shape {tuple(shape)}")
        out.append(s)
    return tuple(out)


def numel(shape: Sequence[int]) -> int:
    """The number of elements of a shape.

    Args:
        shape: The dims.

    Returns:
        Their product (1 for ``()``).
    """
    return math.prod(shape)


def contiguous_strides(shape: Sequence[int]) -> Shape:
    """Row-major strides, in elements."""
    strides, acc = [], 1
    for s in reversed(shape):
        strides.append(acc)
        acc *= max(s, 1)
    return tuple(reversed(strides))


def is_contiguous(shape: Sequence[int], strides: Sequence[int]) -> bool:
    """True when the view is row-major dense (size-1 dims may have any stride)."""
    expected = 1
    for s, st in zip(reversed(shape), reversed(strides)):
        if s == 0:
            return True
        if s != 1 and st != expected:
            return False
        expected *= s
    return True


def broadcast_shapes(*shapes: Sequence[int]) -> Shape:
    """The broadcast of ``shapes`` by the NumPy/PyTorch rules."""
    ndim = max((len(s) for s in shapes), default=0)
    out = [1] * ndim
    for shape in shapes:
        for i, s in enumerate(shape, ndim - len(shape)):
            if s == out[i] or s == 1:
                continue
            if out[i] == 1:
                out[i] = s
            else:
                raise ShapeError(
                    f"shapes {' and '.join(str(tuple(x)) for x in shapes)} cannot be broadcast "
                    f"(dimension {i - ndim}: {out[i]} vs {s})")
    return tuple(out)


def broadcast_strides(shape: Sequence[int], strides: Sequence[int], target: Sequence[int]
                      ) -> Shape:
    """Strides that view ``shape``/``strides`` as ``target`` (0 where broadcast)."""
    lead = len(target) - len(shape)
    if lead < 0:
        raise ShapeError(f"cannot broadcast shape {tuple(shape)} to {tuple(target)}")
    out = [0] * lead
    for s, st, t in zip(shape, strides, target[lead:]):
        if s == t:
            out.append(st if t != 1 else 0)
        elif s == 1:
            out.append(0)
        else:
            raise ShapeError(f"cannot broadcast shape {tuple(shape)} to {tuple(target)}")
    return tuple(out)


def collapse(shape: Sequence[int], stride_sets: Sequence[Sequence[int]]
             ) -> tuple[Shape, list[Shape]]:
    """Merge adjacent dims that are contiguous in every operand; drop size-1 dims.

    Returns the shortest equivalent (shape, [strides per operand]); rank 0 becomes ``(1,)``.
    """
    dims = [(s, [st[i] for st in stride_sets]) for i, s in enumerate(shape) if s != 1]
    if not dims:
        return (1,), [(0,) for _ in stride_sets]
    out_shape = [dims[0][0]]
    out_strides = [[st] for st in dims[0][1]]
    for s, sts in dims[1:]:
        if all(prev[-1] == st * s for prev, st in zip(out_strides, sts)):
            out_shape[-1] *= s
            for prev, st in zip(out_strides, sts):
                prev[-1] = st
        else:
            out_shape.append(s)
            for prev, st in zip(out_strides, sts):
                prev.append(st)
    return tuple(out_shape), [tuple(x) for x in out_strides]


def normalize_dim(dim: int, ndim: int, what: str = "dim") -> int:
    """Map a possibly negative ``dim`` into ``range(ndim)`` (0-d tensors accept 0 and -1)."""
    try:
        dim = int(dim.__index__())
    except AttributeError:
        raise ShapeError(f"{what} must be an integer, got {dim!r}") from None
    n = max(ndim, 1)
    if not -n <= dim < n:
        raise ShapeError(f"{what} {dim} out of range for a tensor of {ndim} dimensions "
                         f"(expected {-n} to {n - 1})")
    return dim % n


def normalize_dims(dims: int | Sequence[int] | None, ndim: int) -> tuple[int, ...]:
    """Normalise a dim or tuple of dims; ``None`` means all dims. Duplicates are refused."""
    if dims is None:
        return tuple(range(ndim))
    if isinstance(dims, int) or hasattr(dims, "__index__"):
        dims = (dims,)
    out = tuple(normalize_dim(d, ndim) for d in dims)
    if len(set(out)) != len(out):
        raise ShapeError(f"dims {tuple(dims)} repeat a dimension")
    return out if ndim > 0 else ()


def infer_reshape(shape: Sequence[int], total: int) -> Shape:
    """Resolve one ``-1`` entry in a target shape for a tensor of ``total`` elements."""
    shape = list(shape)
    neg = [i for i, s in enumerate(shape) if s == -1]
    if len(neg) > 1:
        raise ShapeError(f"only one dimension can be -1, got shape {tuple(shape)}")
    if any(s < -1 for s in shape):
        raise ShapeError(f"invalid shape {tuple(shape)}")
    known = math.prod(s for s in shape if s != -1)
    if neg:
        if known == 0 or total % known:
            raise ShapeError(f"shape {tuple(shape)} is invalid for input of size {total}")
        shape[neg[0]] = total // known
    elif known != total:
        raise ShapeError(f"shape {tuple(shape)} is invalid for input of size {total}")
    return tuple(shape)


def view_strides(old_shape: Sequence[int], old_strides: Sequence[int], new_shape: Sequence[int]
                 ) -> Shape | None:
    """Strides that let ``new_shape`` view the same memory, or None if a copy is needed.

    Follows PyTorch's ``computeStride``: dims may be split or merged only where memory is linear.
    """
    if numel(old_shape) == 0:
        return contiguous_strides(new_shape)
    new_strides = [0] * len(new_shape)
    view_d = len(new_shape) - 1
    chunk_base_stride = old_strides[-1] if old_strides else 1
    tensor_numel, view_numel = 1, 1
    for tensor_d in range(len(old_shape) - 1, -1, -1):
        tensor_numel *= old_shape[tensor_d]
        if tensor_d == 0 or (old_shape[tensor_d - 1] != 1 and
                             old_strides[tensor_d - 1] != tensor_numel * chunk_base_stride):
            while view_d >= 0 and (view_numel < tensor_numel or new_shape[view_d] == 1):
                new_strides[view_d] = view_numel * chunk_base_stride
                view_numel *= new_shape[view_d]
                view_d -= 1
            if view_numel != tensor_numel:
                return None
            if tensor_d > 0:
                chunk_base_stride = old_strides[tensor_d - 1]
                tensor_numel, view_numel = 1, 1
    if view_d != -1:
        return None
    return tuple(new_strides)
