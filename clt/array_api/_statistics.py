"""Statistical and utility functions (reductions and cumulative sums) with the standard's
``axis``/``keepdims``/``dtype``/``correction`` keywords, over :mod:`clt.functions.reduce`
(differentiable where PyTorch's are).

Differences from PyTorch handled here: ``axis=()`` reduces nothing (PyTorch reads an empty dim
list as "every dim"), ``var``/``std`` default to ``correction=0``, ``max``/``min`` take tuples
of axes, and ``any``/``all`` always return bool.
"""
from __future__ import annotations

import builtins
from typing import Any

from clt import dtypes as D
from clt.array_api._dtypes import _dtype
from clt.array_api._helpers import array, axes, axis as one_axis
from clt.functions import elementwise as E
from clt.functions import shape_ops as SO
from clt.functions.creation import full
from clt.functions import reduce as FR
from clt.tensor import Tensor

__all__ = ["sum", "prod", "mean", "max", "min", "var", "std", "cumulative_sum",
           "cumulative_prod", "all", "any", "count_nonzero"]


def _sum_dtype(x: Tensor, dtype: Any, fn: str) -> D.DType:
    if dtype is not None:
        return _dtype(dtype, fn)
    return x.dtype if x.dtype.is_floating_point else D.int64


def _is_empty_axes(axis: Any) -> bool:
    return isinstance(axis, (tuple, list)) and len(axis) == 0


def _reduced(x: Tensor, axis: Any, fn: str) -> tuple[int, ...] | None:
    """The reduced axes, or None for ``axis=()`` (nothing reduced)."""
    if _is_empty_axes(axis):
        return None
    return axes(axis, x.ndim, fn)


def sum(x: Tensor, /, *, axis: Any = None, dtype: Any = None,  # noqa: A001
        keepdims: bool = False) -> Tensor:
    """Sum over ``axis``.

    Args:
        x: the input array.
        axis: an axis, a tuple of axes, or None for every axis (``()`` reduces nothing).
        dtype: the result dtype; ``x`` is converted to it first. Default: ``x``'s dtype for
            floating point input, int64 for bool and integer input.
        keepdims: keep the reduced axes with size 1.

    Returns:
        The sums.
    """
    x = array(x, "sum")
    dt = _sum_dtype(x, dtype, "sum")
    dims = _reduced(x, axis, "sum")
    if dims is None:
        return E.to_dtype(x, dt) if x.dtype is not dt else E.clone(x)
    return FR.sum(x, dims, keepdims, dtype=dt)


def prod(x: Tensor, /, *, axis: Any = None, dtype: Any = None,
         keepdims: bool = False) -> Tensor:
    """Product over ``axis``.

    Args:
        x: the input array.
        axis: an axis, a tuple of axes, or None for every axis (``()`` reduces nothing).
        dtype: the result dtype; ``x`` is converted to it first. Default: ``x``'s dtype for
            floating point input, int64 for bool and integer input.
        keepdims: keep the reduced axes with size 1.

    Returns:
        The products.
    """
    x = array(x, "prod")
    dt = _sum_dtype(x, dtype, "prod")
    dims = _reduced(x, axis, "prod")
    if dims is None:
        return E.to_dtype(x, dt) if x.dtype is not dt else E.clone(x)
    return FR.prod(x, dims, keepdims, dtype=dt)


def _float_input(x: Tensor, fn: str) -> None:
    if not x.dtype.is_floating_point:
        raise TypeError(f"{fn}(): x must have a floating point dtype, got {x.dtype.name}")


def mean(x: Tensor, /, *, axis: Any = None, keepdims: bool = False) -> Tensor:
    """Arithmetic mean over ``axis`` (NaN for an empty reduction).

    Args:
        x: a floating point array.
        axis: an axis, a tuple of axes, or None for every axis (``()`` reduces nothing).
        keepdims: keep the reduced axes with size 1.

    Returns:
        The means, in ``x``'s dtype.
    """
    x = array(x, "mean")
    _float_input(x, "mean")
    dims = _reduced(x, axis, "mean")
    if dims is None:
        return E.clone(x)
    return FR.mean(x, dims, keepdims)


def _extreme(kind: str, x: Tensor, axis: Any, keepdims: bool) -> Tensor:
    dims = _reduced(x, axis, kind)
    if dims is None:
        return E.clone(x)
    if x.numel() == 0 and (not dims or builtins.any(x.shape[d] == 0 for d in dims)):
        raise ValueError(f"{kind}(): zero-size reduction has no identity (x has shape "
                         f"{tuple(x.shape)}, axis={axis})")
    fn = FR.amax if kind == "max" else FR.amin
    return fn(x, dims, keepdims)


def max(x: Tensor, /, *, axis: Any = None, keepdims: bool = False) -> Tensor:  # noqa: A001
    """Maximum over ``axis`` (NaN propagates).

    Args:
        x: the input array.
        axis: an axis, a tuple of axes, or None for every axis (``()`` reduces nothing).
        keepdims: keep the reduced axes with size 1.

    Returns:
        The maxima.

    Raises:
        ValueError: a reduction over zero elements.
    """
    return _extreme("max", array(x, "max"), axis, keepdims)


def min(x: Tensor, /, *, axis: Any = None, keepdims: bool = False) -> Tensor:  # noqa: A001
    """Minimum over ``axis`` (NaN propagates).

    Args:
        x: the input array.
        axis: an axis, a tuple of axes, or None for every axis (``()`` reduces nothing).
        keepdims: keep the reduced axes with size 1.

    Returns:
        The minima.

    Raises:
        ValueError: a reduction over zero elements.
    """
    return _extreme("min", array(x, "min"), axis, keepdims)


def _var(kind: str, x: Tensor, axis: Any, correction: Any, keepdims: bool) -> Tensor:
    x = array(x, kind)
    _float_input(x, kind)
    if isinstance(correction, bool) or not isinstance(correction, (int, float)):
        raise TypeError(f"{kind}(): correction must be a number, got {type(correction).__name__}")
    dims = _reduced(x, axis, kind)
    if dims is None:   # one element per "reduction": 0 / (1 - correction)
        return E.div(E.sub(x, x), builtins.max(1.0 - correction, 0.0))
    fn = FR.var if kind == "var" else FR.std
    return fn(x, dims, keepdim=keepdims, correction=float(correction))


def var(x: Tensor, /, *, axis: Any = None, correction: float = 0.0,
        keepdims: bool = False) -> Tensor:
    """Variance over ``axis``: ``sum((x - mean)**2) / (N - correction)``.

    Args:
        x: a floating point array.
        axis: an axis, a tuple of axes, or None for every axis (``()`` reduces nothing).
        correction: degrees of freedom subtracted from N (0: population variance, 1: Bessel's
            correction). The default is 0, as numpy (PyTorch's is 1).
        keepdims: keep the reduced axes with size 1.

    Returns:
        The variances.
    """
    return _var("var", x, axis, correction, keepdims)


def std(x: Tensor, /, *, axis: Any = None, correction: float = 0.0,
        keepdims: bool = False) -> Tensor:
    """Standard deviation over ``axis`` (the square root of :func:`var`).

    Args:
        x: a floating point array.
        axis: an axis, a tuple of axes, or None for every axis (``()`` reduces nothing).
        correction: degrees of freedom subtracted from N (default 0).
        keepdims: keep the reduced axes with size 1.

    Returns:
        The standard deviations.
    """
    return _var("std", x, axis, correction, keepdims)


def _cumulative(kind: str, x: Tensor, axis: Any, dtype: Any, include_initial: bool) -> Tensor:
    x = array(x, kind)
    if axis is None:
        if x.ndim != 1:
            raise ValueError(f"{kind}(): axis is required for arrays with {x.ndim} dims")
        d = 0
    else:
        if x.ndim == 0:
            raise ValueError(f"{kind}(): x must have at least one dim")
        d = one_axis(axis, x.ndim, kind)
    dt = _sum_dtype(x, dtype, kind)
    src = x if x.dtype is dt else E.to_dtype(x, dt)
    fn = FR.cumsum if kind == "cumulative_sum" else FR.cumprod
    out = fn(src, d, dtype=dt)
    if include_initial:
        shape = list(x.shape)
        shape[d] = 1
        first = full(tuple(shape), 0 if kind == "cumulative_sum" else 1, dtype=dt,
                     device=x.device)
        out = SO.cat([first, out], d)
    return out


def cumulative_sum(x: Tensor, /, *, axis: int | None = None, dtype: Any = None,
                   include_initial: bool = False) -> Tensor:
    """Cumulative sum along ``axis``.

    Args:
        x: the input array.
        axis: the axis (may be None only for 1-d input).
        dtype: the result dtype (default as :func:`sum`).
        include_initial: start with the empty sum (0), making the axis one longer.

    Returns:
        The cumulative sums.
    """
    return _cumulative("cumulative_sum", x, axis, dtype, include_initial)


def cumulative_prod(x: Tensor, /, *, axis: int | None = None, dtype: Any = None,
                    include_initial: bool = False) -> Tensor:
    """Cumulative product along ``axis`` (2024.12 revision).

    Args:
        x: the input array.
        axis: the axis (may be None only for 1-d input).
        dtype: the result dtype (default as :func:`prod`).
        include_initial: start with the empty product (1), making the axis one longer.

    Returns:
        The cumulative products.
    """
    return _cumulative("cumulative_prod", x, axis, dtype, include_initial)


def _truth(kind: str, x: Tensor, axis: Any, keepdims: bool) -> Tensor:
    x = array(x, kind)
    dims = _reduced(x, axis, kind)
    if dims is None:
        return E.ne(x, 0) if not x.dtype.is_bool else E.clone(x)
    fn = FR.all if kind == "all" else FR.any
    out = fn(x, dims, keepdims)
    return out if out.dtype.is_bool else E.to_dtype(out, D.bool_)


def all(x: Tensor, /, *, axis: Any = None, keepdims: bool = False) -> Tensor:  # noqa: A001
    """Whether every element along ``axis`` is true (non-zero; NaN is true).

    Args:
        x: the input array.
        axis: an axis, a tuple of axes, or None for every axis (``()`` reduces nothing).
        keepdims: keep the reduced axes with size 1.

    Returns:
        A bool array.
    """
    return _truth("all", x, axis, keepdims)


def any(x: Tensor, /, *, axis: Any = None, keepdims: bool = False) -> Tensor:  # noqa: A001
    """Whether any element along ``axis`` is true (non-zero; NaN is true).

    Args:
        x: the input array.
        axis: an axis, a tuple of axes, or None for every axis (``()`` reduces nothing).
        keepdims: keep the reduced axes with size 1.

    Returns:
        A bool array.
    """
    return _truth("any", x, axis, keepdims)


def count_nonzero(x: Tensor, /, *, axis: Any = None, keepdims: bool = False) -> Tensor:
    """Number of non-zero elements along ``axis`` (2024.12 revision).

    Args:
        x: the input array.
        axis: an axis, a tuple of axes, or None for every axis (``()`` reduces nothing).
        keepdims: keep the reduced axes with size 1.

    Returns:
        An int64 array.
    """
    x = array(x, "count_nonzero")
    dims = _reduced(x, axis, "count_nonzero")
    if dims is None:
        return E.to_dtype(E.ne(x, 0), D.int64)
    out = FR.count_nonzero(x, dims)
    if keepdims:
        out = out.reshape(tuple(1 if i in dims else s for i, s in enumerate(x.shape)))
    return out
