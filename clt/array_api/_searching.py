"""Searching, sorting, set and indexing functions: argmax, argmin, nonzero, searchsorted, where,
sort, argsort, the four ``unique_*`` functions, take and take_along_axis.

``nonzero`` and ``unique_*`` have data-dependent output shapes: each reads one count back from
the device (the namespace reports ``"data-dependent shapes": True``). ``unique_*`` sort the
flattened input once on the device and derive everything else from that sort.
"""
from __future__ import annotations

from typing import Any, NamedTuple

from clt import dtypes as D
from clt.array_api._helpers import array, axis as one_axis, check_scalars, operands
from clt.functions import elementwise as E
from clt.functions import index as FI
from clt.functions import reduce as FR
from clt.functions import shape_ops as SO
from clt.functions.creation import full, tensor
from clt.ops import elementwise as ew
from clt.ops import reduce as R
from clt.ops import index as OI
from clt.ops.array import Array
from clt.tensor import Tensor

__all__ = ["argmax", "argmin", "nonzero", "searchsorted", "where", "sort", "argsort",
           "unique_all", "unique_counts", "unique_inverse", "unique_values", "take",
           "take_along_axis"]


def _arg(kind: str, x: Tensor, axis: Any, keepdims: bool) -> Tensor:
    x = array(x, kind)
    if x.numel() == 0:
        raise ValueError(f"{kind}(): attempt to get {kind} of an empty array (shape "
                         f"{tuple(x.shape)})")
    d = None if axis is None else one_axis(axis, x.ndim, kind) if x.ndim else None
    fn = FR.argmax if kind == "argmax" else FR.argmin
    return fn(x, d, keepdims)


def argmax(x: Tensor, /, *, axis: int | None = None, keepdims: bool = False) -> Tensor:
    """Index of the first maximum along ``axis`` (of the flattened array when None).

    Args:
        x: the input array (NaN counts as the maximum).
        axis: the axis, or None to search the flattened array.
        keepdims: keep the searched axis (or every axis, for None) with size 1.

    Returns:
        An int64 array.
    """
    return _arg("argmax", x, axis, keepdims)


def argmin(x: Tensor, /, *, axis: int | None = None, keepdims: bool = False) -> Tensor:
    """Index of the first minimum along ``axis`` (of the flattened array when None).

    Args:
        x: the input array (NaN counts as the minimum).
        axis: the axis, or None to search the flattened array.
        keepdims: keep the searched axis (or every axis, for None) with size 1.

    Returns:
        An int64 array.
    """
    return _arg("argmin", x, axis, keepdims)


def nonzero(x: Tensor, /) -> tuple[Tensor, ...]:
    """Indices of the non-zero elements, one int64 array per dim, in row-major order.

    Args:
        x: an array with at least one dim.

    Returns:
        A tuple of ``x.ndim`` 1-d int64 arrays.

    Raises:
        ValueError: a 0-d input.
    """
    x = array(x, "nonzero")
    if x.ndim == 0:
        raise ValueError("nonzero(): x must have at least one dim (0-d input is not allowed)")
    return tuple(FI.nonzero(x, as_tuple=True))


def where(condition: Tensor, x1: Any, x2: Any, /) -> Tensor:
    """``x1`` where ``condition`` is True, else ``x2``.

    Args:
        condition: a bool array.
        x1: the values where the condition holds (an array or a Python scalar).
        x2: the values elsewhere (an array or a Python scalar); all three broadcast.

    Returns:
        The promoted result.
    """
    condition = array(condition, "where", "condition")
    check_scalars("where", x1, x2)
    if not isinstance(x1, Tensor) and not isinstance(x2, Tensor):
        dt = D.result_type(x1, x2)
        return E.where(condition, full((), x1, dtype=dt, device=condition.device), x2)
    return E.where(condition, *operands("where", x1, x2))


# one comparison kernel per side; NaN sorts last, as in sort()
_BEFORE = {"left": "(a < b) || (b != b && a == a)", "right": "(a <= b) || (b != b)"}
_CHUNK = 1 << 22      # comparison elements per launch group, to bound the temporary


def searchsorted(x1: Tensor, x2: Any, /, *, side: str = "left",
                 sorter: Tensor | None = None) -> Tensor:
    """Insertion points of ``x2``'s values into the sorted 1-d ``x1``.

    Runs on the device as a count of the elements before each value (one comparison pass and
    one sum): O(len(x1) * x2.size) work, which is cheap for the short sorted arrays this is
    used with (bin edges, quantiles).

    Args:
        x1: a 1-d array, sorted ascending (NaN last) unless ``sorter`` is given.
        x2: the values to insert (an array or a Python scalar).
        side: ``"left"`` gives the first suitable index, ``"right"`` the last.
        sorter: int indices that sort ``x1``.

    Returns:
        An int64 array of ``x2``'s shape.
    """
    x1 = array(x1, "searchsorted", "x1")
    if x1.ndim != 1:
        raise ValueError(f"searchsorted(): x1 must be 1-d, got shape {tuple(x1.shape)}")
    if side not in _BEFORE:
        raise ValueError(f"searchsorted(): side must be 'left' or 'right', got {side!r}")
    check_scalars("searchsorted", x2)
    if not isinstance(x2, Tensor):
        x2 = full((), x2, dtype=D.result_type(x1, x2), device=x1.device)
    if sorter is not None:
        x1 = take(x1, array(sorter, "searchsorted", "sorter"))
    n = x1.shape[0]
    shape = tuple(x2.shape)
    if x2.numel() == 0 or n == 0:
        return full(shape, 0, dtype=D.int64, device=x1.device)
    compute = D.promote_types(x1.dtype, x2.dtype)
    flat = x2.reshape(-1)
    per = max(1, _CHUNK // n)
    parts = []
    for start in range(0, flat.shape[0], per):
        v = flat[start:start + per].reshape(-1, 1)
        before = ew.map_op("searchsorted_" + side, _BEFORE[side], [x1._data, v._data], D.bool_,
                           compute)
        parts.append(FR.sum(Tensor(before), 1))
    out = parts[0] if len(parts) == 1 else SO.cat(parts)
    return out.reshape(shape)


def sort(x: Tensor, /, *, axis: int = -1, descending: bool = False,
         stable: bool = True) -> Tensor:
    """Sorted copy of ``x`` along ``axis`` (NaN last ascending, first descending).

    Args:
        x: the input array.
        axis: the axis to sort along.
        descending: sort in descending order.
        stable: kept for the standard's signature; the sort is always stable.

    Returns:
        The sorted array.
    """
    x = array(x, "sort")
    d = one_axis(axis, x.ndim, "sort") if x.ndim else 0
    return FR.sort(x, d, bool(descending), True).values


def argsort(x: Tensor, /, *, axis: int = -1, descending: bool = False,
            stable: bool = True) -> Tensor:
    """Indices that sort ``x`` along ``axis``; equal elements keep their order.

    Args:
        x: the input array.
        axis: the axis to sort along.
        descending: sort in descending order (equal elements still keep their order).
        stable: kept for the standard's signature; the sort is always stable.

    Returns:
        An int64 array of ``x``'s shape.
    """
    x = array(x, "argsort")
    d = one_axis(axis, x.ndim, "argsort") if x.ndim else 0
    return FR.argsort(x, d, bool(descending), True)


class UniqueAllResult(NamedTuple):
    """The result of :func:`unique_all`."""

    values: Tensor
    indices: Tensor
    inverse_indices: Tensor
    counts: Tensor


class UniqueCountsResult(NamedTuple):
    """The result of :func:`unique_counts`."""

    values: Tensor
    counts: Tensor


class UniqueInverseResult(NamedTuple):
    """The result of :func:`unique_inverse`."""

    values: Tensor
    inverse_indices: Tensor


class _Groups(NamedTuple):
    order: Tensor      # the permutation that sorts the flattened input
    starts: Tensor     # int64 positions (in sorted order) where a new value begins
    values: Tensor     # the sorted flattened input
    n: int


def _groups(x: Tensor, fn: str) -> _Groups:
    """Stable sort of the flattened ``x`` and the positions where a new value starts there.

    NaN != NaN, so every NaN starts a group of its own, as the standard asks.
    """
    flat = array(x, fn).reshape(-1)
    n = flat.shape[0]
    res = R.sort(flat._data, 0, False, True)
    values, order = Tensor(res.values), Tensor(res.indices)
    if n == 0:
        empty = Tensor(Array.empty(x.device, (0,), D.int64))
        return _Groups(order, empty, values, 0)
    first = full((1,), True, dtype=D.bool_, device=x.device)
    new = SO.cat([first, E.ne(values[1:], values[:-1])])
    (starts,) = FI.nonzero(new, as_tuple=True)      # the one read-back: the number of groups
    return _Groups(order, starts, values, n)


def _counts(g: _Groups) -> Tensor:
    ends = SO.cat([g.starts[1:], tensor([g.n], dtype=D.int64, device=g.starts.device)])
    return E.sub(ends, g.starts)


def _inverse(g: _Groups, shape: tuple) -> Tensor:
    dev = g.values.device
    if g.n == 0:
        return Tensor(Array.empty(dev, shape, D.int64))
    new = full((g.n,), 0, dtype=D.int64, device=dev)
    new[g.starts] = 1
    group = E.sub(Tensor(R.cumsum(new._data, 0)), 1)      # group id of each sorted element
    inv = Tensor(Array.empty(dev, (g.n,), D.int64))
    inv[g.order] = group
    return inv.reshape(shape)


def _values(g: _Groups) -> Tensor:
    return g.values[g.starts] if g.n else g.values


def unique_values(x: Tensor, /) -> Tensor:
    """The distinct values of ``x``, sorted (each NaN is distinct).

    Args:
        x: the input array (any shape).

    Returns:
        A 1-d array.
    """
    return _values(_groups(x, "unique_values"))


def unique_counts(x: Tensor, /) -> UniqueCountsResult:
    """The distinct values of ``x`` and how often each occurs.

    Args:
        x: the input array (any shape).

    Returns:
        ``(values, counts)``: 1-d arrays, counts int64.
    """
    g = _groups(x, "unique_counts")
    return UniqueCountsResult(_values(g), _counts(g))


def unique_inverse(x: Tensor, /) -> UniqueInverseResult:
    """The distinct values of ``x`` and, for each element of ``x``, the index of its value.

    Args:
        x: the input array (any shape).

    Returns:
        ``(values, inverse_indices)``; ``values[inverse_indices]`` equals ``x``
        (``inverse_indices`` has ``x``'s shape).
    """
    g = _groups(x, "unique_inverse")
    return UniqueInverseResult(_values(g), _inverse(g, tuple(x.shape)))


def unique_all(x: Tensor, /) -> UniqueAllResult:
    """The distinct values of ``x`` with first indices, inverse indices and counts.

    Args:
        x: the input array (any shape).

    Returns:
        ``(values, indices, inverse_indices, counts)``: ``indices`` are the first occurrences
        in the flattened ``x``; all index arrays are int64.
    """
    g = _groups(x, "unique_all")
    first = g.order[g.starts] if g.n else g.order
    return UniqueAllResult(_values(g), first, _inverse(g, tuple(x.shape)), _counts(g))


def take(x: Tensor, indices: Tensor, /, *, axis: int | None = None) -> Tensor:
    """Elements of ``x`` at ``indices`` along ``axis``; negative indices count from the end.

    Args:
        x: the input array.
        indices: a 1-d int array.
        axis: the axis (may be None only for 1-d ``x``).

    Returns:
        ``x`` with ``axis`` replaced by ``len(indices)`` entries.
    """
    x = array(x, "take")
    indices = array(indices, "take", "indices")
    if axis is None:
        if x.ndim != 1:
            raise ValueError(f"take(): axis is required for arrays with {x.ndim} dims")
        d = 0
    else:
        d = one_axis(axis, x.ndim, "take")
    if not indices.dtype.is_integer:
        raise TypeError(f"take(): indices must have an integer dtype, got {indices.dtype.name}")
    if indices.ndim != 1:
        raise ValueError(f"take(): indices must be 1-d, got shape {tuple(indices.shape)}")
    if indices.dtype not in (D.int32, D.int64):   # uint8 keys would index as masks
        indices = E.to_dtype(indices, D.int64)
    return x[(slice(None),) * d + (indices,)]


def take_along_axis(x: Tensor, indices: Tensor, /, *, axis: int = -1) -> Tensor:
    """Values of ``x`` at ``indices`` along ``axis`` (2024.12 revision).

    Args:
        x: the input array.
        indices: an int array with ``x``'s number of dims, broadcasting with ``x`` except
            along ``axis``; negative indices count from the end.
        axis: the axis.

    Returns:
        The gathered values, with ``indices``' size along ``axis``.
    """
    x = array(x, "take_along_axis")
    indices = array(indices, "take_along_axis", "indices")
    d = one_axis(axis, x.ndim, "take_along_axis")
    if not indices.dtype.is_integer:
        raise TypeError("take_along_axis(): indices must have an integer dtype, got "
                        f"{indices.dtype.name}")
    n = x.shape[d]
    idx = E.where(indices < 0, E.add(indices, n), indices) if n else indices
    return Tensor(OI.take_along_dim(x._data, idx._data, d))
