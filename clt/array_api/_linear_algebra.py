"""The linear algebra functions of the main namespace (matmul, matrix_transpose, tensordot,
vecdot), shared with the ``linalg`` extension. All run on the device through clt's GEMM."""
from __future__ import annotations

from typing import Any, Sequence

from clt.array_api._helpers import AxisError, array, integer, promote
from clt.functions import elementwise as E
from clt.functions import linalg as L
from clt.tensor import Tensor

__all__ = ["matmul", "matrix_transpose", "tensordot", "vecdot"]


def same_dtype(fn: str, *xs: Tensor) -> list[Tensor]:
    """The arrays in their promoted dtype (clt's GEMM wants equal dtypes); bool is refused."""
    dt = promote(*(x.dtype for x in xs))
    if dt.is_bool:
        raise TypeError(f"{fn}(): numeric arrays required, got bool")
    return [x if x.dtype is dt else E.to_dtype(x, dt) for x in xs]


def matmul(x1: Tensor, x2: Tensor, /) -> Tensor:
    """Matrix product with numpy's rules for 1-d operands and broadcast batch dims.

    Args:
        x1: the first operand (at least 1-d).
        x2: the second operand (at least 1-d).

    Returns:
        The product, in the promoted dtype.
    """
    x1, x2 = array(x1, "matmul", "x1"), array(x2, "matmul", "x2")
    if x1.ndim == 0 or x2.ndim == 0:
        raise ValueError(f"matmul(): 0-d operands are not allowed (shapes {tuple(x1.shape)} "
                         f"and {tuple(x2.shape)})")
    return L.matmul(*same_dtype("matmul", x1, x2))


def matrix_transpose(x: Tensor, /) -> Tensor:
    """A view of ``x`` with its last two axes swapped.

    Args:
        x: an array with at least 2 dims.

    Returns:
        The view.
    """
    x = array(x, "matrix_transpose")
    if x.ndim < 2:
        raise ValueError(f"matrix_transpose(): x must have at least 2 dims, got shape "
                         f"{tuple(x.shape)}")
    return x.mT


def tensordot(x1: Tensor, x2: Tensor, /, *, axes: Any = 2) -> Tensor:
    """Sum of products over the given axes (one GEMM after moving the axes into place).

    Args:
        x1: the first array.
        x2: the second array.
        axes: an int ``n`` (the last ``n`` axes of ``x1`` with the first ``n`` of ``x2``), or
            two sequences of axes to contract pairwise.

    Returns:
        An array with the free axes of ``x1`` followed by those of ``x2``.
    """
    x1, x2 = array(x1, "tensordot", "x1"), array(x2, "tensordot", "x2")
    if isinstance(axes, (tuple, list)):
        if len(axes) != 2:
            raise ValueError(f"tensordot(): axes must be an int or two sequences, got {axes!r}")
        a1 = [_ax(a, x1.ndim) for a in _seq(axes[0])]
        a2 = [_ax(a, x2.ndim) for a in _seq(axes[1])]
        if len(a1) != len(a2):
            raise ValueError(f"tensordot(): {len(a1)} axes of x1 against {len(a2)} of x2")
    else:
        n = integer(axes, "tensordot", "axes")
        if n < 0 or n > min(x1.ndim, x2.ndim):
            raise ValueError(f"tensordot(): axes={n} does not fit shapes {tuple(x1.shape)} "
                             f"and {tuple(x2.shape)}")
        a1, a2 = list(range(x1.ndim - n, x1.ndim)), list(range(n))
    for i, j in zip(a1, a2):
        if x1.shape[i] != x2.shape[j]:
            raise ValueError(f"tensordot(): contracted axes differ in size: x1 axis {i} has "
                             f"{x1.shape[i]}, x2 axis {j} has {x2.shape[j]}")
    if len(set(a1)) != len(a1) or len(set(a2)) != len(a2):
        raise AxisError(f"tensordot(): repeated axis in {axes!r}")
    x1, x2 = same_dtype("tensordot", x1, x2)
    free1 = [i for i in range(x1.ndim) if i not in a1]
    free2 = [j for j in range(x2.ndim) if j not in a2]
    k = 1
    for i in a1:
        k *= x1.shape[i]
    m = 1
    for i in free1:
        m *= x1.shape[i]
    n2 = 1
    for j in free2:
        n2 *= x2.shape[j]
    lhs = x1.permute(*(free1 + a1)).reshape(m, k)
    rhs = x2.permute(*(a2 + free2)).reshape(k, n2)
    out_shape = tuple(x1.shape[i] for i in free1) + tuple(x2.shape[j] for j in free2)
    return L.matmul(lhs, rhs).reshape(out_shape)


def _seq(a: Any) -> Sequence[Any]:
    return a if isinstance(a, (tuple, list)) else (a,)


def _ax(a: Any, ndim: int) -> int:
    a = integer(a, "tensordot", "axes")
    if not -ndim <= a < ndim:
        raise AxisError(f"tensordot(): axis {a} is out of bounds for {ndim} dims")
    return a % ndim


def vecdot(x1: Tensor, x2: Tensor, /, *, axis: int = -1) -> Tensor:
    """Dot products of vectors along ``axis``, broadcasting the other axes (a batched GEMV).

    Args:
        x1: the first array.
        x2: the second array; ``x1`` and ``x2`` broadcast and have the same size along
            ``axis``.
        axis: the axis, counted from the end (negative) in the broadcast shape.

    Returns:
        The dot products, in the promoted dtype.
    """
    x1, x2 = array(x1, "vecdot", "x1"), array(x2, "vecdot", "x2")
    a = integer(axis, "vecdot", "axis")
    if x1.ndim == 0 or x2.ndim == 0:
        raise ValueError("vecdot(): 0-d operands are not allowed")
    if not -min(x1.ndim, x2.ndim) <= a < 0:
        if a >= 0 and x1.ndim == x2.ndim and a < x1.ndim:
            a -= x1.ndim
        else:
            raise AxisError(f"vecdot(): axis {axis} is out of bounds for shapes "
                            f"{tuple(x1.shape)} and {tuple(x2.shape)}")
    if x1.shape[a] != x2.shape[a]:
        raise ValueError(f"vecdot(): x1 has {x1.shape[a]} elements along axis {axis}, x2 has "
                         f"{x2.shape[a]}")
    x1, x2 = same_dtype("vecdot", x1, x2)
    v1 = x1.movedim(a, -1).unsqueeze(-2)        # (..., 1, K)
    v2 = x2.movedim(a, -1).unsqueeze(-1)        # (..., K, 1)
    return L.matmul(v1, v2)[..., 0, 0]
