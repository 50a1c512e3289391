"""Argument checking shared by the array API wrappers: arrays, axes, devices, promotion."""
from __future__ import annotations

import operator
from typing import Any, Sequence

import numpy as np

from clt import dtypes as D
from clt.backend.device import Device, device as select_device
from clt.errors import ShapeError
from clt.tensor import Tensor


class AxisError(ShapeError, IndexError):
    """An axis out of range or repeated (both a ``ValueError`` and an ``IndexError``, as numpy's
    ``AxisError``)."""


def array(x: Any, fn: str, name: str = "x") -> Tensor:
    """``x`` itself if it is an array of this namespace (a :class:`clt.Tensor`), else TypeError."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{fn}(): {name} must be an array (clt.Tensor), got {type(x).__name__}; "
                        "convert it with clt.array_api.asarray")
    return x


def device_of(device: Any) -> Device:
    """The :class:`~clt.backend.Device` named by a ``device=`` argument (None: the default)."""
    return select_device(device)


def integer(value: Any, fn: str, name: str) -> int:
    """``value`` as a Python int (bools refused), else TypeError."""
    if isinstance(value, bool):
        raise TypeError(f"{fn}(): {name} must be an integer, got bool")
    try:
        return operator.index(value)
    except TypeError:
        raise TypeError(f"{fn}(): {name} must be an integer, got {type(value).__name__}") from None


def axis(ax: Any, ndim: int, fn: str) -> int:
    """One axis normalised to ``[0, ndim)``."""
    a = integer(ax, fn, "axis")
    if not -ndim <= a < ndim:
        raise AxisError(f"{fn}(): axis {a} is out of bounds for an array of dimension {ndim}")
    return a % ndim if ndim else a


def axes(ax: Any, ndim: int, fn: str) -> tuple[int, ...]:
    """``axis=`` as a sorted tuple of normalised axes; None means every axis."""
    if ax is None:
        return tuple(range(ndim))
    items = ax if isinstance(ax, (tuple, list)) else (ax,)
    out = tuple(axis(a, ndim, fn) for a in items)
    if len(set(out)) != len(out):
        raise AxisError(f"{fn}(): repeated axis in {tuple(items)}")
    return tuple(sorted(out))


def shape_arg(shape: Any, fn: str) -> tuple[int, ...]:
    """A ``shape`` argument (an int or a sequence of ints) as a tuple of non-negative ints."""
    if isinstance(shape, (int,)) and not isinstance(shape, bool) or hasattr(shape, "__index__"):
        shape = (shape,)
    dims = tuple(integer(s, fn, "shape") for s in shape)
    if any(s < 0 for s in dims):
        raise ValueError(f"{fn}(): negative dimensions are not allowed, got shape {dims}")
    return dims


def promote(*dtypes: D.DType) -> D.DType:
    """The array API promotion of array dtypes (every operand counts, whatever its rank)."""
    out = dtypes[0]
    for dt in dtypes[1:]:
        out = D.promote_types(out, dt)
    return out


def operands(fn: str, *xs: Any) -> tuple[Any, ...]:
    """Operands of an elementwise function prepared so that clt's kernels give the standard's
    result dtype.

    clt follows PyTorch, where a 0-d tensor does not promote a dimensioned one
    (``float32[n] + float64[]`` is float32); the standard promotes by dtype alone. Viewing such
    a 0-d operand as shape ``(1,)`` changes nothing about the result shape (the other operand
    has at least one dim) and makes it count, without a copy.
    """
    arrays = [x for x in xs if isinstance(x, Tensor)]
    if not arrays:
        raise TypeError(f"{fn}(): expected at least one array argument, got "
                        f"{', '.join(type(x).__name__ for x in xs)}")
    if len(arrays) < 2 or all(a.ndim for a in arrays) or not any(a.ndim for a in arrays):
        return xs
    if D.result_type(*arrays) is promote(*(a.dtype for a in arrays)):
        return xs
    return tuple(x.reshape(1) if isinstance(x, Tensor) and x.ndim == 0 else x for x in xs)


def check_scalars(fn: str, *xs: Any) -> None:
    """Refuse operands that are neither arrays nor real scalars (complex, strings...); numpy's
    real scalars pass, as Python's do."""
    for x in xs:
        if isinstance(x, (Tensor, bool, int, float)):
            continue
        if isinstance(x, np.generic) and x.dtype.kind in "biuf":
            continue
        if isinstance(x, complex) or isinstance(x, np.generic) and x.dtype.kind == "c":
            raise TypeError(f"{fn}(): complex numbers are not supported (clt has no complex "
                            "dtypes)")
        raise TypeError(f"{fn}(): expected arrays or Python scalars, got {type(x).__name__}")


def broadcast_shapes(*shapes: Sequence[int]) -> tuple[int, ...]:
    """The shape that arrays of the given shapes broadcast to.

    Args:
        *shapes: the shapes.

    Returns:
        The broadcast shape.

    Raises:
        ValueError: shapes that do not broadcast.
    """
    from clt.ops import shapes as S

    return tuple(S.broadcast_shapes(*(tuple(s) for s in shapes)))
