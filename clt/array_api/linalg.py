"""The array API ``linalg`` extension (``clt.array_api.linalg``).

On the device: ``matmul``, ``matrix_transpose``, ``tensordot``, ``vecdot``, ``outer``,
``cross``, ``diagonal``, ``trace``, ``vector_norm``, ``matrix_power`` (for ``n >= 0``) and
``matrix_norm`` for ``ord`` in ``'fro'``, 1, -1, inf and -inf.

On the host: the decompositions and everything built on them (``cholesky``, ``qr``, ``eigh``,
``eigvalsh``, ``svd``, ``svdvals``, ``inv``, ``solve``, ``det``, ``slogdet``, ``pinv``,
``matrix_rank``, ``matrix_norm`` for ``ord`` in 2, -2 and ``'nuc'``, ``matrix_power`` for
``n < 0``). They download the input, run ``numpy.linalg`` in the input's dtype (float16 in
float32) and upload the result, and every call emits a :class:`clt.errors.PerformanceWarning`
so the round trip is never silent. Inputs must have a floating point dtype, as the standard
asks.
"""
from __future__ import annotations

import math
import warnings
from typing import Any, Callable, NamedTuple

import numpy as np

from clt import dtypes as D
from clt.array_api._helpers import array, axes as norm_axes, integer
from clt.array_api._linear_algebra import matmul, matrix_transpose, same_dtype, tensordot, vecdot
from clt.errors import PerformanceWarning
from clt.functions import elementwise as E
from clt.functions import linalg as L
from clt.functions import shape_ops as SO
from clt.functions.creation import tensor
from clt.functions import reduce as FR
from clt.tensor import Tensor

__all__ = ["cholesky", "cross", "det", "diagonal", "eigh", "eigvalsh", "inv", "matmul",
           "matrix_norm", "matrix_power", "matrix_rank", "matrix_transpose", "outer", "pinv",
           "qr", "slogdet", "solve", "svd", "svdvals", "tensordot", "trace", "vecdot",
           "vector_norm"]


class EighResult(NamedTuple):
    """The result of :func:`eigh`."""

    eigenvalues: Tensor
    eigenvectors: Tensor


class QRResult(NamedTuple):
    """The result of :func:`qr`."""

    Q: Tensor
    R: Tensor


class SlogdetResult(NamedTuple):
    """The result of :func:`slogdet`."""

    sign: Tensor
    logabsdet: Tensor


class SVDResult(NamedTuple):
    """The result of :func:`svd`."""

    U: Tensor
    S: Tensor
    Vh: Tensor


# -----------------------------------------------------------------------------------------------
# the host path

def _floating(fn: str, *xs: Tensor) -> list[Tensor]:
    xs = same_dtype(fn, *xs)
    if not xs[0].dtype.is_floating_point:
        raise TypeError(f"linalg.{fn}(): floating point input required, got {xs[0].dtype.name}")
    return xs


def _matrices(fn: str, x: Tensor, square: bool = True) -> Tensor:
    x = array(x, f"linalg.{fn}")
    if x.ndim < 2:
        raise ValueError(f"linalg.{fn}(): x must have at least 2 dims, got shape "
                         f"{tuple(x.shape)}")
    if square and x.shape[-1] != x.shape[-2]:
        raise ValueError(f"linalg.{fn}(): x must be (a stack of) square matrices, got shape "
                         f"{tuple(x.shape)}")
    return _floating(fn, x)[0]


def _host(fn: str, compute: Callable[..., Any], *xs: Tensor) -> Any:
    """Run ``compute`` on the host copies of ``xs``; results go back in ``xs[0]``'s dtype."""
    warnings.warn(f"clt.array_api.linalg.{fn} runs on the host: the input is downloaded, "
                  f"numpy.linalg.{fn} computes, and the result is uploaded", PerformanceWarning,
                  stacklevel=3)
    dt, dev = xs[0].dtype, xs[0].device
    work = np.float32 if dt is D.float16 else dt.np
    host = [x.detach().numpy().astype(work, copy=False) for x in xs]
    res = compute(*host)

    def up(a: Any) -> Tensor:
        return tensor(np.asarray(a), dtype=dt, device=dev)

    if isinstance(res, tuple):
        return tuple(up(a) for a in res)
    return up(res)


def cholesky(x: Tensor, /, *, upper: bool = False) -> Tensor:
    """Cholesky factor of symmetric positive definite matrices (host path).

    Args:
        x: a (stack of) square floating point matrices.
        upper: return the upper factor ``U`` (``x = U^T U``) instead of the lower ``L``
            (``x = L L^T``).

    Returns:
        The factor.
    """
    x = _matrices("cholesky", x)
    out = _host("cholesky", np.linalg.cholesky, x)
    return E.clone(out.mT) if upper else out


def det(x: Tensor, /) -> Tensor:
    """Determinants (host path).

    Args:
        x: a (stack of) square floating point matrices.

    Returns:
        The determinants.
    """
    return _host("det", np.linalg.det, _matrices("det", x))


def slogdet(x: Tensor, /) -> SlogdetResult:
    """Sign and natural log of the absolute value of determinants (host path).

    Args:
        x: a (stack of) square floating point matrices.

    Returns:
        ``(sign, logabsdet)``.
    """
    return SlogdetResult(*_host("slogdet", lambda a: tuple(np.linalg.slogdet(a)),
                                _matrices("slogdet", x)))


def eigh(x: Tensor, /) -> EighResult:
    """Eigenvalues (ascending) and eigenvectors of symmetric matrices (host path).

    Args:
        x: a (stack of) symmetric floating point matrices (the lower triangle is used).

    Returns:
        ``(eigenvalues, eigenvectors)``, the eigenvectors as columns.
    """
    return EighResult(*_host("eigh", lambda a: tuple(np.linalg.eigh(a)), _matrices("eigh", x)))


def eigvalsh(x: Tensor, /) -> Tensor:
    """Eigenvalues (ascending) of symmetric matrices (host path).

    Args:
        x: a (stack of) symmetric floating point matrices (the lower triangle is used).

    Returns:
        The eigenvalues.
    """
    return _host("eigvalsh", np.linalg.eigvalsh, _matrices("eigvalsh", x))


def inv(x: Tensor, /) -> Tensor:
    """Matrix inverses (host path).

    Args:
        x: a (stack of) invertible square floating point matrices.

    Returns:
        The inverses.
    """
    return _host("inv", np.linalg.inv, _matrices("inv", x))


def pinv(x: Tensor, /, *, rtol: Any = None) -> Tensor:
    """Moore-Penrose pseudo-inverses (host path).

    Args:
        x: a (stack of) floating point matrices.
        rtol: singular values below ``rtol * largest`` count as zero (default:
            ``max(M, N) * eps``); a float or an array broadcasting with the stack.

    Returns:
        The pseudo-inverses, of shape ``(..., N, M)``.
    """
    x = _matrices("pinv", x, square=False)
    tol = _rtol(rtol, x)
    return _host("pinv", lambda a: np.linalg.pinv(a, rtol=tol), x)


def _rtol(rtol: Any, x: Tensor) -> Any:
    if rtol is None:
        return max(x.shape[-2:]) * float(np.finfo(x.dtype.np).eps)
    if isinstance(rtol, Tensor):
        return rtol.detach().numpy()[..., None]
    return float(rtol)


def matrix_rank(x: Tensor, /, *, rtol: Any = None) -> Tensor:
    """Ranks: the number of singular values above ``rtol`` times the largest (host path).

    Args:
        x: a (stack of) floating point matrices.
        rtol: the relative tolerance (default: ``max(M, N) * eps``), a float or an array.

    Returns:
        int64 ranks.
    """
    x = _matrices("matrix_rank", x, square=False)
    tol = _rtol(rtol, x)

    def rank(a: np.ndarray) -> np.ndarray:
        s = np.linalg.svd(a, compute_uv=False)
        top = s.max(axis=-1, keepdims=True) if s.shape[-1] else np.zeros(s.shape[:-1] + (1,))
        return np.count_nonzero(s > top * tol, axis=-1)

    out = _host("matrix_rank", rank, x)
    return E.to_dtype(out, D.int64) if out.dtype is not D.int64 else out


def qr(x: Tensor, /, *, mode: str = "reduced") -> QRResult:
    """QR decompositions (host path).

    Args:
        x: a (stack of) floating point matrices.
        mode: ``"reduced"`` (Q is M x K, R is K x N, K = min(M, N)) or ``"complete"``
            (Q is M x M).

    Returns:
        ``(Q, R)``.
    """
    if mode not in ("reduced", "complete"):
        raise ValueError(f"linalg.qr(): mode must be 'reduced' or 'complete', got {mode!r}")
    x = _matrices("qr", x, square=False)
    return QRResult(*_host("qr", lambda a: tuple(np.linalg.qr(a, mode=mode)), x))


def solve(x1: Tensor, x2: Tensor, /) -> Tensor:
    """Solutions ``X`` of ``x1 @ X = x2`` (host path).

    Args:
        x1: a (stack of) invertible square floating point matrices.
        x2: the right-hand sides: a vector when 1-d, else a (stack of) matrices; the stacks
            broadcast.

    Returns:
        The solutions, in the promoted dtype.
    """
    x1 = _matrices("solve", x1)
    x2 = array(x2, "linalg.solve", "x2")
    x1, x2 = _floating("solve", x1, x2)
    return _host("solve", np.linalg.solve, x1, x2)


def svd(x: Tensor, /, *, full_matrices: bool = True) -> SVDResult:
    """Singular value decompositions ``x = U @ diag(S) @ Vh`` (host path).

    Args:
        x: a (stack of) floating point matrices.
        full_matrices: square ``U`` and ``Vh`` if True, else their first ``min(M, N)``
            columns / rows.

    Returns:
        ``(U, S, Vh)`` with ``S`` descending.
    """
    x = _matrices("svd", x, square=False)
    return SVDResult(*_host("svd", lambda a: tuple(np.linalg.svd(a, full_matrices=full_matrices)),
                            x))


def svdvals(x: Tensor, /) -> Tensor:
    """Singular values, descending (host path).

    Args:
        x: a (stack of) floating point matrices.

    Returns:
        The singular values.
    """
    x = _matrices("svdvals", x, square=False)
    return _host("svdvals", lambda a: np.linalg.svd(a, compute_uv=False), x)


# -----------------------------------------------------------------------------------------------
# on the device

def outer(x1: Tensor, x2: Tensor, /) -> Tensor:
    """Outer product of two vectors.

    Args:
        x1: a 1-d array of length M.
        x2: a 1-d array of length N.

    Returns:
        The (M, N) product, in the promoted dtype.
    """
    x1, x2 = array(x1, "linalg.outer", "x1"), array(x2, "linalg.outer", "x2")
    if x1.ndim != 1 or x2.ndim != 1:
        raise ValueError(f"linalg.outer(): 1-d arrays required, got shapes {tuple(x1.shape)} "
                         f"and {tuple(x2.shape)}")
    return L.outer(*same_dtype("outer", x1, x2))


def cross(x1: Tensor, x2: Tensor, /, *, axis: int = -1) -> Tensor:
    """Cross products of 3-element vectors along ``axis``.

    Args:
        x1: the first array (size 3 along ``axis``).
        x2: the second array (size 3 along ``axis``); the other axes broadcast.
        axis: the axis holding the vectors, counted in the broadcast shape (negative:
            from the end).

    Returns:
        The cross products, in the promoted dtype.
    """
    x1, x2 = array(x1, "linalg.cross", "x1"), array(x2, "linalg.cross", "x2")
    a = integer(axis, "linalg.cross", "axis")
    if x1.ndim == 0 or x2.ndim == 0:
        raise ValueError("linalg.cross(): 0-d arrays are not allowed")
    if a >= 0:
        if x1.ndim != x2.ndim:
            raise ValueError("linalg.cross(): a non-negative axis needs arrays of equal rank")
        a -= x1.ndim
    if not -min(x1.ndim, x2.ndim) <= a < 0 or x1.shape[a] != 3 or x2.shape[a] != 3:
        raise ValueError(f"linalg.cross(): shapes {tuple(x1.shape)} and {tuple(x2.shape)} need "
                         f"3 elements along axis {axis}")
    x1, x2 = same_dtype("cross", x1, x2)
    u = [x1.select(a, i) for i in range(3)]
    v = [x2.select(a, i) for i in range(3)]
    parts = [E.sub(E.mul(u[1], v[2]), E.mul(u[2], v[1])),
             E.sub(E.mul(u[2], v[0]), E.mul(u[0], v[2])),
             E.sub(E.mul(u[0], v[1]), E.mul(u[1], v[0]))]
    return SO.stack(parts, a)


def diagonal(x: Tensor, /, *, offset: int = 0) -> Tensor:
    """A view of the ``offset``-th diagonals of the last two axes.

    Args:
        x: an array with at least 2 dims.
        offset: 0 for the main diagonal, positive above it, negative below.

    Returns:
        The view, with the diagonal as its last axis.
    """
    x = array(x, "linalg.diagonal")
    if x.ndim < 2:
        raise ValueError(f"linalg.diagonal(): x must have at least 2 dims, got shape "
                         f"{tuple(x.shape)}")
    return SO.diagonal(x, integer(offset, "linalg.diagonal", "offset"), -2, -1)


def trace(x: Tensor, /, *, offset: int = 0, dtype: Any = None) -> Tensor:
    """Sums of the ``offset``-th diagonals of the last two axes.

    Args:
        x: a numeric array with at least 2 dims.
        offset: 0 for the main diagonal, positive above it, negative below.
        dtype: the result dtype (default as :func:`clt.array_api.sum`).

    Returns:
        The traces.
    """
    from clt.array_api._statistics import sum as xsum

    return xsum(diagonal(x, offset=offset), axis=-1, dtype=dtype)


def vector_norm(x: Tensor, /, *, axis: Any = None, keepdims: bool = False,
                ord: Any = 2) -> Tensor:  # noqa: A002
    """Vector p-norms over ``axis``.

    Args:
        x: a floating point array.
        axis: an axis, a tuple of axes, or None for every axis.
        keepdims: keep the reduced axes with size 1.
        ord: the order p (any real number, ``inf`` or ``-inf``; 0 counts non-zeros).

    Returns:
        The norms, in ``x``'s dtype.
    """
    x = array(x, "linalg.vector_norm")
    if not x.dtype.is_floating_point:
        raise TypeError(f"linalg.vector_norm(): floating point input required, got "
                        f"{x.dtype.name}")
    if isinstance(ord, bool) or not isinstance(ord, (int, float)):
        raise ValueError(f"linalg.vector_norm(): ord must be a number, got {ord!r}")
    dims = norm_axes(axis, x.ndim, "linalg.vector_norm")
    if x.ndim == 0:
        return E.abs(x) if ord != 0 else E.to_dtype(E.ne(x, 0), x.dtype)
    return FR.norm(x, float(ord), dims, keepdims)


def matrix_norm(x: Tensor, /, *, keepdims: bool = False, ord: Any = "fro") -> Tensor:  # noqa: A002
    """Matrix norms of the last two axes.

    ``'fro'``, 1, -1, inf and -inf run on the device; 2, -2 and ``'nuc'`` need singular values
    and run on the host (see :func:`svdvals`).

    Args:
        x: a (stack of) floating point matrices.
        keepdims: keep the last two axes with size 1.
        ord: ``'fro'``, ``'nuc'``, 1, -1, 2, -2, ``inf`` or ``-inf``.

    Returns:
        The norms.
    """
    x = _matrices("matrix_norm", x, square=False)
    if ord == "fro":
        out = FR.norm(x, 2.0, (x.ndim - 2, x.ndim - 1), False)
    elif ord in (1, -1, math.inf, -math.inf):
        along = -2 if ord in (1, -1) else -1     # 1: max column sum, inf: max row sum
        sums = FR.sum(E.abs(x), x.ndim + along)
        out = (FR.amax if ord > 0 else FR.amin)(sums, sums.ndim - 1)
    elif ord in (2, -2, "nuc"):
        s = svdvals(x)
        if ord == "nuc":
            out = FR.sum(s, s.ndim - 1)
        else:
            out = (FR.amax if ord == 2 else FR.amin)(s, s.ndim - 1)
    else:
        raise ValueError(f"linalg.matrix_norm(): unsupported ord {ord!r}")
    return out.reshape(tuple(out.shape) + (1, 1)) if keepdims else out


def matrix_power(x: Tensor, n: int, /) -> Tensor:
    """``x`` multiplied by itself ``n`` times (by repeated squaring, on the device).

    Args:
        x: a (stack of) square matrices.
        n: the power; 0 gives identities, negative powers invert ``x`` first (host path).

    Returns:
        The powers.
    """
    x = array(x, "linalg.matrix_power")
    n = integer(n, "linalg.matrix_power", "n")
    if x.ndim < 2 or x.shape[-1] != x.shape[-2]:
        raise ValueError(f"linalg.matrix_power(): x must be (a stack of) square matrices, got "
                         f"shape {tuple(x.shape)}")
    if n == 0:
        from clt.array_api._creation import eye

        ident = eye(x.shape[-1], dtype=x.dtype, device=x.device)
        return E.clone(ident.broadcast_to(tuple(x.shape)))
    if n < 0:
        x, n = inv(x), -n
    result, base = None, x
    while True:
        if n & 1:
            result = base if result is None else matmul(result, base)
        n >>= 1
        if not n:
            break
        base = matmul(base, base)
    return result if result is not x else E.clone(x)
