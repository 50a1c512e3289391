"""Manipulation functions: broadcasting, concat/stack/unstack, axis moves, reshape (with the
standard's ``copy=``), flip, roll, squeeze, repeat and tile, over :mod:`clt.functions`."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from clt import dtypes as D
from clt.array_api._helpers import (AxisError, array, axes, axis as one_axis, broadcast_shapes,
                                    integer, promote)
from clt.functions import elementwise as E
from clt.functions import shape as S
from clt.functions import shape_ops as SO
from clt.functions.creation import tensor
from clt.ops import shapes
from clt.tensor import Tensor

__all__ = ["broadcast_arrays", "broadcast_to", "broadcast_shapes", "concat", "expand_dims",
           "flip", "moveaxis", "permute_dims", "repeat", "reshape", "roll", "squeeze", "stack",
           "tile", "unstack"]


def broadcast_arrays(*arrays: Tensor) -> list[Tensor]:
    """Views of the arrays broadcast to their common shape.

    Args:
        *arrays: the arrays.

    Returns:
        A list of broadcast views.
    """
    xs = [array(a, "broadcast_arrays", "arrays") for a in arrays]
    if not xs:
        return []
    shape = broadcast_shapes(*(a.shape for a in xs))
    return [S.broadcast_to(a, shape) for a in xs]


def broadcast_to(x: Tensor, /, shape: Sequence[int]) -> Tensor:
    """A view of ``x`` broadcast to ``shape``.

    Args:
        x: the array.
        shape: the target shape.

    Returns:
        The view.
    """
    x = array(x, "broadcast_to")
    return S.broadcast_to(x, tuple(integer(s, "broadcast_to", "shape") for s in shape))


def _common(xs: list[Tensor], fn: str) -> list[Tensor]:
    """The arrays converted to their promoted dtype (the standard promotes across all)."""
    dt = promote(*(x.dtype for x in xs))
    return [x if x.dtype is dt else E.to_dtype(x, dt) for x in xs]


def concat(arrays: Sequence[Tensor], /, *, axis: int | None = 0) -> Tensor:
    """Join arrays along an existing axis (``axis=None``: flatten them first).

    Args:
        arrays: arrays with equal shapes except along ``axis``.
        axis: the axis, or None.

    Returns:
        The joined array, in the promoted dtype.
    """
    xs = [array(a, "concat", "arrays") for a in arrays]
    if not xs:
        raise ValueError("concat(): need at least one array")
    if axis is None:
        return SO.cat(_common([x.reshape(-1) for x in xs], "concat"), 0)
    ndim = xs[0].ndim
    if ndim == 0:
        raise ValueError("concat(): 0-d arrays cannot be concatenated (use axis=None or stack)")
    for x in xs:
        if x.ndim != ndim:
            raise ValueError(f"concat(): arrays must have the same number of dims, got shapes "
                             f"{[tuple(a.shape) for a in xs]}")
    d = one_axis(axis, ndim, "concat")
    return SO.cat(_common(xs, "concat"), d)


def stack(arrays: Sequence[Tensor], /, *, axis: int = 0) -> Tensor:
    """Join equal-shaped arrays along a new axis.

    Args:
        arrays: arrays of one shape.
        axis: the position of the new axis in the result.

    Returns:
        The stacked array, in the promoted dtype.
    """
    xs = [array(a, "stack", "arrays") for a in arrays]
    if not xs:
        raise ValueError("stack(): need at least one array")
    d = one_axis(axis, xs[0].ndim + 1, "stack")
    return SO.stack(_common(xs, "stack"), d)


def unstack(x: Tensor, /, *, axis: int = 0) -> tuple[Tensor, ...]:
    """Split ``x`` into views along ``axis``.

    Args:
        x: an array with at least one dim.
        axis: the axis to split along.

    Returns:
        A tuple of ``x.shape[axis]`` views.
    """
    x = array(x, "unstack")
    if x.ndim == 0:
        raise ValueError("unstack(): x must have at least one dim")
    return S.unbind(x, one_axis(axis, x.ndim, "unstack"))


def expand_dims(x: Tensor, /, axis: int = 0) -> Tensor:
    """A view of ``x`` with a new axis of size 1 at ``axis``.

    Args:
        x: the array.
        axis: the position of the new axis, in ``[-x.ndim - 1, x.ndim]``.

    Returns:
        The view.
    """
    x = array(x, "expand_dims")
    return S.unsqueeze(x, one_axis(axis, x.ndim + 1, "expand_dims"))


def flip(x: Tensor, /, *, axis: Any = None) -> Tensor:
    """A copy of ``x`` with the order of elements reversed along ``axis``.

    Args:
        x: the array.
        axis: an axis, a tuple of axes, or None for every axis.

    Returns:
        The flipped copy.
    """
    x = array(x, "flip")
    dims = axes(axis, x.ndim, "flip")
    return SO.flip(x, dims) if dims else E.clone(x)


def moveaxis(x: Tensor, source: Any, destination: Any, /) -> Tensor:
    """A view of ``x`` with axes moved to new positions.

    Args:
        x: the array.
        source: an axis or a tuple of axes.
        destination: their new positions (as many as ``source``).

    Returns:
        The view.
    """
    x = array(x, "moveaxis")
    src = source if isinstance(source, (tuple, list)) else (source,)
    dst = destination if isinstance(destination, (tuple, list)) else (destination,)
    if len(src) != len(dst):
        raise ValueError(f"moveaxis(): source {tuple(src)} and destination {tuple(dst)} must "
                         "have the same number of axes")
    s = [one_axis(a, x.ndim, "moveaxis") for a in src]
    t = [one_axis(a, x.ndim, "moveaxis") for a in dst]
    if len(set(s)) != len(s) or len(set(t)) != len(t):
        raise AxisError(f"moveaxis(): repeated axis in {tuple(src)} or {tuple(dst)}")
    return S.movedim(x, tuple(s), tuple(t))


def permute_dims(x: Tensor, /, axes: Sequence[int]) -> Tensor:
    """A view of ``x`` with its axes permuted.

    Args:
        x: the array.
        axes: a permutation of ``range(x.ndim)``.

    Returns:
        The view.
    """
    x = array(x, "permute_dims")
    perm = tuple(one_axis(a, x.ndim, "permute_dims") for a in axes)
    if sorted(perm) != list(range(x.ndim)):
        raise ValueError(f"permute_dims(): axes {tuple(axes)} are not a permutation of the "
                         f"{x.ndim} axes")
    return S.permute(x, perm)


def reshape(x: Tensor, /, shape: Sequence[int], *, copy: bool | None = None) -> Tensor:
    """``x`` with a new shape (one entry may be -1).

    Args:
        x: the array.
        shape: the new shape.
        copy: True always copies; False never does and raises ValueError when the strides of
            ``x`` do not allow a view; None returns a view when possible.

    Returns:
        The reshaped array.
    """
    x = array(x, "reshape")
    if isinstance(shape, int) or hasattr(shape, "__index__"):
        shape = (shape,)
    target = shapes.infer_reshape(tuple(integer(s, "reshape", "shape") for s in shape),
                                  x.numel())
    if copy is False and shapes.view_strides(tuple(x.shape), x._data.strides, target) is None:
        raise ValueError(f"reshape(copy=False): an array of shape {tuple(x.shape)} with "
                         f"strides {x._data.strides} cannot be viewed as {target}")
    out = S.reshape(x, target)
    return E.clone(out) if copy and out._data.storage is x._data.storage else out


def roll(x: Tensor, /, shift: Any, *, axis: Any = None) -> Tensor:
    """A copy of ``x`` with elements shifted cyclically.

    Args:
        x: the array.
        shift: an int, or a tuple of ints (one per axis in ``axis``).
        axis: an axis, a tuple of axes, or None to roll the flattened array.

    Returns:
        The rolled copy.
    """
    x = array(x, "roll")
    if isinstance(shift, (tuple, list)):
        shift = tuple(integer(s, "roll", "shift") for s in shift)
    else:
        shift = integer(shift, "roll", "shift")
    if axis is None:
        if isinstance(shift, tuple):
            if len(shift) != 1:
                raise ValueError("roll(): a tuple shift needs a tuple axis of the same length")
            shift = shift[0]
        return SO.roll(x, shift, None)
    if isinstance(axis, (tuple, list)):
        dims = tuple(one_axis(a, x.ndim, "roll") for a in axis)
        if isinstance(shift, int):
            shift = (shift,) * len(dims)
        if len(shift) != len(dims):
            raise ValueError(f"roll(): shift {shift} and axis {tuple(axis)} differ in length")
        return SO.roll(x, shift, dims)
    d = one_axis(axis, x.ndim, "roll")
    if isinstance(shift, tuple):
        if len(shift) != 1:
            raise ValueError("roll(): a tuple shift needs a tuple axis of the same length")
        shift = shift[0]
    return SO.roll(x, shift, d)


def squeeze(x: Tensor, /, axis: Any) -> Tensor:
    """A view of ``x`` without the given size-1 axes.

    Args:
        x: the array.
        axis: an axis or a tuple of axes, each of size 1.

    Returns:
        The view.

    Raises:
        ValueError: an axis whose size is not 1.
    """
    x = array(x, "squeeze")
    dims = axes(axis, x.ndim, "squeeze")
    for d in dims:
        if x.shape[d] != 1:
            raise ValueError(f"squeeze(): axis {d} has size {x.shape[d]}, not 1 (shape "
                             f"{tuple(x.shape)})")
    return S.squeeze(x, dims) if dims else x.reshape(tuple(x.shape))


def tile(x: Tensor, repetitions: Sequence[int], /) -> Tensor:
    """``x`` repeated ``repetitions[k]`` times along each axis.

    Args:
        x: the array.
        repetitions: one non-negative int per axis (shorter tuples are padded with leading 1s,
            longer ones add leading axes).

    Returns:
        The tiled copy.
    """
    x = array(x, "tile")
    reps = tuple(integer(r, "tile", "repetitions") for r in repetitions)
    if any(r < 0 for r in reps):
        raise ValueError(f"tile(): repetitions must be non-negative, got {reps}")
    return SO.tile(x, reps)


def repeat(x: Tensor, repeats: Any, /, *, axis: int | None = None) -> Tensor:
    """Each element of ``x`` repeated along ``axis`` (numpy's ``repeat``, not PyTorch's).

    With an array of counts the output length depends on the data: the counts are read back
    (one sync) and the gather index built on the host.

    Args:
        x: the array.
        repeats: an int, or a 1-d int array of one count per element along ``axis``.
        axis: the axis, or None to repeat the flattened array.

    Returns:
        The repeated copy.
    """
    x = array(x, "repeat")
    if axis is None:
        x = x.reshape(-1)
        d = 0
    else:
        d = one_axis(axis, x.ndim, "repeat")
    n = x.shape[d]
    if isinstance(repeats, Tensor):
        if not repeats.dtype.is_integer:
            raise TypeError(f"repeat(): repeats must have an integer dtype, got "
                            f"{repeats.dtype.name}")
        counts = repeats.numpy().reshape(-1)
        if counts.size == 1:
            repeats = int(counts[0])
        else:
            if counts.size != n:
                raise ValueError(f"repeat(): {counts.size} repeats for an axis of size {n}")
            if (counts < 0).any():
                raise ValueError("repeat(): repeats must be non-negative")
            index = tensor(np.repeat(np.arange(n, dtype=np.int64), counts), dtype=D.int64,
                           device=x.device)
            return x[(slice(None),) * d + (index,)]
    r = integer(repeats, "repeat", "repeats")
    if r < 0:
        raise ValueError(f"repeat(): repeats must be non-negative, got {r}")
    # (.., n, ..) -> (.., n, r, ..) by a broadcast view, then merged: one copy
    shape = tuple(x.shape)
    view = x.reshape(shape[:d + 1] + (1,) + shape[d + 1:])
    expanded = view.expand(*(shape[:d + 1] + (r,) + shape[d + 1:]))
    return expanded.reshape(shape[:d] + (n * r,) + shape[d + 1:])
