"""Differentiable reductions, scans, softmax and sorting on Tensors (PyTorch names).

Values come from the ``clt.ops.reduce`` kernels; index-selecting ops (``max``/``min`` along a
dim, ``sort``, ``topk``) take their values with ``gather`` so their gradients flow back through
``gather``'s backward. Backward formulas use differentiable Tensor ops, so double backward works.
"""
from __future__ import annotations

import math
from typing import Any, NamedTuple

from clt.autograd.function import Function
from clt.functions._util import needs_grad
from clt.functions.elementwise import to_dtype, where
from clt.ops import reduce as R
from clt.ops import shapes
from clt.ops.array import Array
from clt.tensor import Tensor, tensor_method

__all__ = ["sum", "mean", "prod", "max", "min", "amax", "amin", "argmax", "argmin", "var",
           "std", "var_mean", "std_mean", "norm", "logsumexp", "softmax", "log_softmax", "any",
           "all", "count_nonzero", "cumsum", "cumprod", "sort", "argsort", "topk", "median",
           "aminmax", "nansum", "msort"]


class ValuesIndices(NamedTuple):
    """``(values, indices)`` as returned by ``max(dim=...)``, ``sort`` and ``topk``."""

    values: Tensor
    indices: Tensor


def _dims(x: Tensor, dim: Any) -> tuple[int, ...]:
    if dim is None or dim == ():
        return tuple(range(x.ndim))
    return shapes.normalize_dims(dim, x.ndim)


def _expand_back(g: Tensor, x_shape: tuple, dims: tuple[int, ...], keepdim: bool) -> Tensor:
    """A reduced gradient viewed with size-1 reduced dims, broadcast to the input shape."""
    if not keepdim and dims:
        shape = list(g.shape)
        for d in sorted(dims):
            shape.insert(d, 1)
        g = g.reshape(tuple(shape))
    return g.expand(*x_shape) if tuple(g.shape) != tuple(x_shape) else g


def _count(x: Tensor, dims: tuple[int, ...]) -> int:
    return math.prod(x.shape[d] for d in dims) if x.ndim else 1


class _Sum(Function):
    @staticmethod
    def forward(ctx, x: Tensor, dim: Any, keepdim: bool, dtype: Any) -> Array:
        ctx.shape, ctx.dims, ctx.keepdim, ctx.in_dtype = tuple(x.shape), _dims(x, dim), keepdim, \
            x.dtype
        return R.sum(x._data, dim, keepdim, dtype)

    @staticmethod
    def backward(ctx, g: Tensor) -> tuple:
        g = _expand_back(g, ctx.shape, ctx.dims, ctx.keepdim)
        return to_dtype(g, ctx.in_dtype), None, None, None


class _Mean(Function):
    @staticmethod
    def forward(ctx, x: Tensor, dim: Any, keepdim: bool, dtype: Any) -> Array:
        ctx.shape, ctx.dims, ctx.keepdim, ctx.in_dtype = tuple(x.shape), _dims(x, dim), keepdim, \
            x.dtype
        ctx.n = _count(x, ctx.dims)
        return R.mean(x._data, dim, keepdim, dtype)

    @staticmethod
    def backward(ctx, g: Tensor) -> tuple:
        g = _expand_back(g, ctx.shape, ctx.dims, ctx.keepdim) / builtins_max(ctx.n, 1)
        return to_dtype(g, ctx.in_dtype), None, None, None


class _Prod(Function):
    @staticmethod
    def forward(ctx, x: Tensor, dim: Any, keepdim: bool, dtype: Any) -> Array:
        ctx.save_for_backward(x)
        ctx.dims, ctx.keepdim, ctx.dim, ctx.dtype = _dims(x, dim), keepdim, dim, dtype
        out = R.prod(x._data, dim, keepdim, dtype)
        ctx.out = Tensor(out)
        return out

    @staticmethod
    def backward(ctx, g: Tensor) -> tuple:
        (x,) = ctx.saved_tensors
        shape = tuple(x.shape)
        out = _expand_back(ctx.output(ctx.out), shape, ctx.dims, ctx.keepdim)
        g = _expand_back(g, shape, ctx.dims, ctx.keepdim)
        zero = x == 0
        nzeros = _expand_back(sum(zero, ctx.dim, ctx.keepdim), shape, ctx.dims, ctx.keepdim)
        others = _expand_back(prod(where(zero, 1.0, x), ctx.dim, ctx.keepdim), shape, ctx.dims,
                              ctx.keepdim)
        safe = where(zero, 1.0, x)
        # no zero: out / x; exactly one zero: the product of the others at the zero; else 0
        local = where(nzeros == 0, out / safe, where((nzeros == 1).logical_and(zero), others, 0.0))
        return to_dtype(g * local, x.dtype), None, None, None


def _reduce_call(fn: type, raw: Any, input: Tensor, dim: Any, keepdim: bool, dtype: Any
                 ) -> Tensor:
    if needs_grad(input):
        return fn.apply(input, dim, keepdim, dtype)
    return Tensor(raw(input._data, dim, keepdim, dtype))


@tensor_method("sum")
def sum(input: Tensor, dim: Any = None, keepdim: bool = False, *, dtype: Any = None) -> Tensor:
    """Sum over ``dim`` (an int, a tuple, or None for all); bool/int sums are int64.

    Args:
        input: The tensor.
        dim: The dim(s) to reduce (an int or a tuple); None reduces every dim.
        keepdim: Whether to keep reduced dims with size 1.
        dtype: If given, ``input`` is cast to this dtype first.

    Returns:
        The reduced tensor.
    """
    return _reduce_call(_Sum, R.sum, input, dim, keepdim, dtype)


@tensor_method("nansum")
def nansum(input: Tensor, dim: Any = None, keepdim: bool = False, *, dtype: Any = None
           ) -> Tensor:
    """Sum treating NaN as zero.

    Args:
        input: The tensor.
        dim: The dim(s) to reduce (an int or a tuple); None reduces every dim.
        keepdim: Whether to keep reduced dims with size 1.
        dtype: If given, ``input`` is cast to this dtype first.

    Returns:
        The reduced tensor.
    """
    if input.dtype.is_floating_point:
        input = where(input != input, 0.0, input)
    return sum(input, dim, keepdim, dtype=dtype)


@tensor_method("mean")
def mean(input: Tensor, dim: Any = None, keepdim: bool = False, *, dtype: Any = None) -> Tensor:
    """Mean over ``dim``; floating point inputs only (or pass ``dtype``).

    Args:
        input: The tensor.
        dim: The dim(s) to reduce (an int or a tuple); None reduces every dim.
        keepdim: Whether to keep reduced dims with size 1.
        dtype: If given, ``input`` is cast to this dtype first.

    Returns:
        The reduced tensor.
    """
    return _reduce_call(_Mean, R.mean, input, dim, keepdim, dtype)


@tensor_method("prod")
def prod(input: Tensor, dim: Any = None, keepdim: bool = False, *, dtype: Any = None) -> Tensor:
    """Product over ``dim``; the gradient is exact with zeros in the input.

    Args:
        input: The tensor.
        dim: The dim to reduce; None reduces every dim.
        keepdim: Whether to keep reduced dims with size 1.
        dtype: If given, ``input`` is cast to this dtype first.

    Returns:
        The reduced tensor.
    """
    return _reduce_call(_Prod, R.prod, input, dim, keepdim, dtype)


class _AMax(Function):
    """amax/amin: the gradient is shared equally by tied extremes (as PyTorch)."""

    @staticmethod
    def forward(ctx, x: Tensor, dim: Any, keepdim: bool, kind: str) -> Array:
        ctx.save_for_backward(x)
        ctx.dims, ctx.keepdim, ctx.dim = _dims(x, dim), keepdim, dim
        out = (R.amax if kind == "max" else R.amin)(x._data, dim if dim is not None else (),
                                                    keepdim)
        ctx.out = Tensor(out)
        return out

    @staticmethod
    def backward(ctx, g: Tensor) -> tuple:
        (x,) = ctx.saved_tensors
        shape = tuple(x.shape)
        hit = to_dtype(x == _expand_back(ctx.out, shape, ctx.dims, ctx.keepdim), g.dtype)
        count = _expand_back(sum(hit, ctx.dim, ctx.keepdim), shape, ctx.dims, ctx.keepdim)
        return _expand_back(g, shape, ctx.dims, ctx.keepdim) * hit / count, None, None, None


@tensor_method("amax")
def amax(input: Tensor, dim: Any = (), keepdim: bool = False) -> Tensor:
    """Maximum over ``dim`` (several dims allowed); NaN propagates.

    Args:
        input: The tensor.
        dim: The dim(s) to reduce (an int or a tuple); None reduces every dim.
        keepdim: Whether to keep reduced dims with size 1.

    Returns:
        The reduced tensor.
    """
    dim = None if dim == () else dim
    if needs_grad(input):
        return _AMax.apply(input, dim, keepdim, "max")
    return Tensor(R.amax(input._data, () if dim is None else dim, keepdim))


@tensor_method("amin")
def amin(input: Tensor, dim: Any = (), keepdim: bool = False) -> Tensor:
    """Minimum over ``dim`` (several dims allowed); NaN propagates.

    Args:
        input: The tensor.
        dim: The dim(s) to reduce (an int or a tuple); None reduces every dim.
        keepdim: Whether to keep reduced dims with size 1.

    Returns:
        The reduced tensor.
    """
    dim = None if dim == () else dim
    if needs_grad(input):
        return _AMax.apply(input, dim, keepdim, "min")
    return Tensor(R.amin(input._data, () if dim is None else dim, keepdim))


def _select_values(input: Tensor, idx: Array, dim: int, keepdim: bool) -> Tensor:
    """Values at ``idx`` along ``dim`` via gather, so autograd routes gradients by index."""
    from clt.functions.index import gather

    d = shapes.normalize_dim(dim, input.ndim)
    index = Tensor(idx)
    if not keepdim and input.ndim:
        index = index.unsqueeze(d)
    out = gather(input, d, index)
    return out.squeeze(d) if not keepdim and input.ndim else out


def _minmax(kind: str, input: Tensor, dim: Any, keepdim: bool, other: Any) -> Any:
    if other is not None and isinstance(dim, Tensor):
        raise TypeError(f"{kind}(): pass either dim or other, not both")
    if isinstance(dim, Tensor):
        from clt.functions.elementwise import maximum, minimum

        return (maximum if kind == "max" else minimum)(input, dim)
    if dim is None:
        return amax(input) if kind == "max" else amin(input)
    res = (R.max if kind == "max" else R.min)(input._data, dim, keepdim)
    if input.ndim == 0:
        return ValuesIndices(input * 1 if needs_grad(input) else Tensor(res.values),
                             Tensor(res.indices))
    values = _select_values(input, res.indices, dim, keepdim) if needs_grad(input) else \
        Tensor(res.values)
    return ValuesIndices(values, Tensor(res.indices))


@tensor_method("max")
def max(input: Tensor, dim: Any = None, keepdim: bool = False, *, other: Any = None) -> Any:
    """The maximum; with ``dim``, ``(values, indices)`` (first index of ties); with a tensor
    as second argument, the elementwise maximum.

    Args:
        input: The tensor.
        dim: None for the max of all elements, an int for per-dim values and indices, or a tensor
            (as ``other``).
        keepdim: Whether to keep reduced dims with size 1.
        other: A tensor for the elementwise maximum.

    Returns:
        A 0-d tensor, ``(values, indices)``, or the elementwise result.
    """
    return _minmax("max", input, dim if other is None else other, keepdim, None)


@tensor_method("min")
def min(input: Tensor, dim: Any = None, keepdim: bool = False, *, other: Any = None) -> Any:
    """The minimum; with ``dim``, ``(values, indices)``; with a tensor, elementwise minimum.

    Args:
        input: The tensor.
        dim: None for the min of all elements, an int for per-dim values and indices, or a tensor
            (as ``other``).
        keepdim: Whether to keep reduced dims with size 1.
        other: A tensor for the elementwise minimum.

    Returns:
        A 0-d tensor, ``(values, indices)``, or the elementwise result.
    """
    return _minmax("min", input, dim if other is None else other, keepdim, None)


@tensor_method("aminmax")
def aminmax(input: Tensor, *, dim: int | None = None, keepdim: bool = False) -> tuple:
    """The minimum and maximum, over ``dim`` or all elements.

    Args:
        input: The tensor.
        dim: The dim to reduce; None reduces every dim.
        keepdim: Whether to keep the reduced dim with size 1.

    Returns:
        ``(min, max)``.
    """
    return amin(input, dim if dim is not None else (), keepdim), amax(
        input, dim if dim is not None else (), keepdim)


@tensor_method("argmax")
def argmax(input: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    """Index of the maximum (over the flattened tensor if ``dim`` is None).

    Args:
        input: The tensor.
        dim: The dim to reduce; None reduces the flattened tensor.
        keepdim: Whether to keep reduced dims with size 1.

    Returns:
        An int64 tensor of indices.
    """
    return Tensor(R.argmax(input._data, dim, keepdim))


@tensor_method("argmin")
def argmin(input: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    """Index of the minimum (over the flattened tensor if ``dim`` is None).

    Args:
        input: The tensor.
        dim: The dim to reduce; None reduces the flattened tensor.
        keepdim: Whether to keep reduced dims with size 1.

    Returns:
        An int64 tensor of indices.
    """
    return Tensor(R.argmin(input._data, dim, keepdim))


def _correction(correction: Any, unbiased: Any) -> float:
    if correction is not None and unbiased is not None:
        raise ValueError("var/std: pass either correction or unbiased, not both")
    if correction is None:
        return 1.0 if unbiased is None or unbiased else 0.0
    return float(correction)


@tensor_method("var")
def var(input: Tensor, dim: Any = None, unbiased: Any = None, keepdim: bool = False, *,
        correction: Any = None) -> Tensor:
    """Variance with Bessel's ``correction`` (default 1).

    Args:
        input: The tensor.
        dim: The dim(s) to reduce (an int or a tuple); None reduces every dim.
        unbiased: Legacy flag: True means ``correction=1``, False ``correction=0``.
        keepdim: Whether to keep reduced dims with size 1.
        correction: Subtracted from the element count in the divisor (default 1).

    Returns:
        The reduced tensor.

    Raises:
        ValueError: If both ``unbiased`` and ``correction`` are given.
    """
    if isinstance(dim, bool):          # legacy positional form x.var(unbiased)
        dim, unbiased = None, dim
    c = _correction(correction, unbiased)
    if needs_grad(input):
        mu = mean(input, dim, keepdim=True)
        n = _count(input, _dims(input, dim))
        d = input - mu
        return sum(d * d, dim, keepdim) / builtins_max(n - c, 0)
    return Tensor(R.var(input._data, dim, correction=c, keepdim=keepdim))


def builtins_max(a: float, b: float) -> float:
    """The larger of two numbers (Python's ``max``, which ``clt.max`` shadows here).

    Args:
        a: A number.
        b: A number.

    Returns:
        ``a`` if ``a > b`` else ``b``.
    """
    return a if a > b else b


@tensor_method("std")
def std(input: Tensor, dim: Any = None, unbiased: Any = None, keepdim: bool = False, *,
        correction: Any = None) -> Tensor:
    """Standard deviation with Bessel's ``correction`` (default 1).

    Args:
        input: The tensor.
        dim: The dim(s) to reduce (an int or a tuple); None reduces every dim.
        unbiased: Legacy flag: True means ``correction=1``, False ``correction=0``.
        keepdim: Whether to keep reduced dims with size 1.
        correction: Subtracted from the element count in the divisor (default 1).

    Returns:
        The reduced tensor.

    Raises:
        ValueError: If both ``unbiased`` and ``correction`` are given.
    """
    if isinstance(dim, bool):          # legacy positional form x.var(unbiased)
        dim, unbiased = None, dim
    c = _correction(correction, unbiased)
    if needs_grad(input):
        from clt.functions.elementwise import sqrt

        return sqrt(var(input, dim, keepdim=keepdim, correction=c))
    return Tensor(R.std(input._data, dim, correction=c, keepdim=keepdim))


def var_mean(input: Tensor, dim: Any = None, *, correction: Any = None, keepdim: bool = False
             ) -> tuple:
    """The variance and the mean over ``dim``.

    Args:
        input: The tensor.
        dim: The dim(s) to reduce; None reduces every dim.
        correction: Bessel's correction for the variance (default 1).
        keepdim: Whether to keep the reduced dims with size 1.

    Returns:
        ``(var, mean)``.
    """
    return var(input, dim, keepdim=keepdim, correction=correction), mean(input, dim, keepdim)


def std_mean(input: Tensor, dim: Any = None, *, correction: Any = None, keepdim: bool = False
             ) -> tuple:
    """The standard deviation and the mean over ``dim``.

    Args:
        input: The tensor.
        dim: The dim(s) to reduce; None reduces every dim.
        correction: Bessel's correction (default 1).
        keepdim: Whether to keep the reduced dims with size 1.

    Returns:
        ``(std, mean)``.
    """
    return std(input, dim, keepdim=keepdim, correction=correction), mean(input, dim, keepdim)


@tensor_method("norm")
def norm(input: Tensor, p: Any = "fro", dim: Any = None, keepdim: bool = False,
         dtype: Any = None) -> Tensor:
    """Vector p-norm (p = 2, 1, inf, -inf, 0, any real) or Frobenius norm over ``dim``.

    Args:
        input: The tensor.
        p: The order (a number, ``inf``, ``-inf``, or ``"fro"``).
        dim: The dim(s) to reduce (an int or a tuple); None reduces every dim.
        keepdim: Whether to keep reduced dims with size 1.
        dtype: If given, ``input`` is cast to this dtype first.

    Returns:
        The norm.
    """
    if not needs_grad(input):
        return Tensor(R.norm(input._data, p, dim, keepdim, dtype))
    from clt.functions.elementwise import abs as _abs, pow as _pow, sqrt

    if p in ("fro", 2, 2.0):
        return sqrt(sum(input * input, dim, keepdim))
    a = _abs(input)
    if p in (1, 1.0):
        return sum(a, dim, keepdim)
    if p == math.inf:
        return amax(a, dim if dim is not None else (), keepdim)
    if p == -math.inf:
        return amin(a, dim if dim is not None else (), keepdim)
    if p == 0:
        return sum(to_dtype(a != 0, input.dtype), dim, keepdim)
    return _pow(sum(_pow(a, p), dim, keepdim), 1.0 / p)


class _LogSumExp(Function):
    @staticmethod
    def forward(ctx, x: Tensor, dim: Any, keepdim: bool) -> Array:
        ctx.save_for_backward(x)
        ctx.dims, ctx.keepdim = _dims(x, dim), keepdim
        out = R.logsumexp(x._data, dim, keepdim)
        ctx.out = Tensor(out)
        return out

    @staticmethod
    def backward(ctx, g: Tensor) -> tuple:
        from clt.functions.elementwise import exp

        (x,) = ctx.saved_tensors
        shape = tuple(x.shape)
        out = _expand_back(ctx.output(ctx.out), shape, ctx.dims, ctx.keepdim)
        return _expand_back(g, shape, ctx.dims, ctx.keepdim) * exp(x - out), None, None


@tensor_method("logsumexp")
def logsumexp(input: Tensor, dim: Any, keepdim: bool = False) -> Tensor:
    """``log(sum(exp(x)))`` over ``dim``, computed stably.

    Args:
        input: The tensor.
        dim: The dim(s) to reduce (an int or a tuple); None reduces every dim.
        keepdim: Whether to keep reduced dims with size 1.

    Returns:
        The reduced tensor.
    """
    if needs_grad(input):
        return _LogSumExp.apply(input, dim, keepdim)
    return Tensor(R.logsumexp(input._data, dim, keepdim))


class _Softmax(Function):
    @staticmethod
    def forward(ctx, x: Tensor, dim: int, dtype: Any, log: bool) -> Array:
        ctx.dim, ctx.log, ctx.in_dtype = dim, log, x.dtype
        out = (R.log_softmax if log else R.softmax)(x._data, dim, dtype)
        ctx.out = Tensor(out)
        return out

    @staticmethod
    def backward(ctx, g: Tensor) -> tuple:
        from clt.functions.elementwise import exp

        y = ctx.output(ctx.out)     # under create_graph: differentiated through this op again
        if ctx.log:
            gx = g - exp(y) * sum(g, ctx.dim, keepdim=True)
        else:
            gx = y * (g - sum(g * y, ctx.dim, keepdim=True))
        return to_dtype(gx, ctx.in_dtype), None, None, None


def _amp(category: str, *args: Any) -> tuple:
    from clt.amp import autocast_args   # amp sits above this layer: import at call time

    return autocast_args(category, *args)


def _softmax_dim(input: Tensor, dim: Any) -> int:
    if dim is None:
        # PyTorch's legacy implicit dim: 0 for 0/1/3-d inputs, else 1
        dim = 0 if input.ndim in (0, 1, 3) else 1
    return shapes.normalize_dim(dim, input.ndim)


def _normalise(op: str, input: Tensor, dim: Any, dtype: Any) -> Tensor:
    (input,) = _amp(op, input)
    d = _softmax_dim(input, dim)
    log = op == "log_softmax"
    if needs_grad(input):
        return _Softmax.apply(input, d, dtype, log)
    return Tensor((R.log_softmax if log else R.softmax)(input._data, d, dtype))


@tensor_method("softmax")
def softmax(input: Tensor, dim: Any = None, dtype: Any = None) -> Tensor:
    """``exp(x) / sum(exp(x))`` along ``dim`` (stable: the max is subtracted first).

    Args:
        input: The tensor.
        dim: The dim to normalise over.
        dtype: If given, ``input`` is cast to this dtype first.

    Returns:
        A tensor of ``input``'s shape.
    """
    return _normalise("softmax", input, dim, dtype)


@tensor_method("log_softmax")
def log_softmax(input: Tensor, dim: Any = None, dtype: Any = None) -> Tensor:
    """``x - logsumexp(x)`` along ``dim``.

    Args:
        input: The tensor.
        dim: The dim to normalise over.
        dtype: If given, ``input`` is cast to this dtype first.

    Returns:
        A tensor of ``input``'s shape.
    """
    return _normalise("log_softmax", input, dim, dtype)


@tensor_method("any")
def any(input: Tensor, dim: Any = None, keepdim: bool = False) -> Tensor:
    """Whether any element (along ``dim``) is nonzero.

    Args:
        input: The tensor.
        dim: The dim(s) to reduce (an int or a tuple); None reduces every dim.
        keepdim: Whether to keep reduced dims with size 1.

    Returns:
        A bool tensor.
    """
    return Tensor(R.any(input._data, dim, keepdim))


@tensor_method("all")
def all(input: Tensor, dim: Any = None, keepdim: bool = False) -> Tensor:
    """Whether every element (along ``dim``) is nonzero.

    Args:
        input: The tensor.
        dim: The dim(s) to reduce (an int or a tuple); None reduces every dim.
        keepdim: Whether to keep reduced dims with size 1.

    Returns:
        A bool tensor.
    """
    return Tensor(R.all(input._data, dim, keepdim))


@tensor_method("count_nonzero")
def count_nonzero(input: Tensor, dim: Any = None) -> Tensor:
    """How many elements (along ``dim``) are nonzero.

    Args:
        input: The tensor.
        dim: The dim(s) to reduce (an int or a tuple); None reduces every dim.

    Returns:
        An int64 tensor.
    """
    return Tensor(R.count_nonzero(input._data, dim))


class _CumSum(Function):
    @staticmethod
    def forward(ctx, x: Tensor, dim: int, dtype: Any) -> Array:
        ctx.dim, ctx.in_dtype = dim, x.dtype
        return R.cumsum(x._data, dim, dtype)

    @staticmethod
    def backward(ctx, g: Tensor) -> tuple:
        return to_dtype(_reverse_cumsum(g, ctx.dim), ctx.in_dtype), None, None


def _reverse_cumsum(g: Tensor, dim: int) -> Tensor:
    return cumsum(g.flip(dim), dim).flip(dim)


class _CumProd(Function):
    @staticmethod
    def forward(ctx, x: Tensor, dim: int, dtype: Any) -> Array:
        ctx.save_for_backward(x)
        ctx.dim = dim
        out = R.cumprod(x._data, dim, dtype)
        ctx.out = Tensor(out)
        return out

    @staticmethod
    def backward(ctx, g: Tensor) -> tuple:
        (x,) = ctx.saved_tensors
        d = ctx.dim
        n = x.shape[d] if x.ndim else 1
        if n <= 64:
            # exact with zeros: d out_j / d x_i = prod_{k<=j, k!=i} x_k, built column by column
            cols = []
            for i in range(n):
                xi_one = where(_onehot_mask(x, d, i), 1.0, x)
                partial = cumprod(xi_one, d)
                mask = _after_mask(x, d, i)
                cols.append(sum(g * partial * mask, d, keepdim=True))
            from clt.functions.shape_ops import cat

            return cat(cols, d), None, None
        safe = where(x == 0, 1.0, x)
        return _reverse_cumsum(g * ctx.output(ctx.out), d) / safe, None, None


def _onehot_mask(x: Tensor, dim: int, i: int) -> Tensor:
    from clt.functions.creation_ops import arange

    n = x.shape[dim] if x.ndim else 1
    shape = [1] * builtins_max(x.ndim, 1)
    shape[dim] = n
    return (arange(n, device=x.device) == i).reshape(tuple(shape))


def _after_mask(x: Tensor, dim: int, i: int) -> Tensor:
    from clt.functions.creation_ops import arange

    n = x.shape[dim] if x.ndim else 1
    shape = [1] * builtins_max(x.ndim, 1)
    shape[dim] = n
    return to_dtype((arange(n, device=x.device) >= i).reshape(tuple(shape)), x.dtype)


@tensor_method("cumsum")
def cumsum(input: Tensor, dim: int, *, dtype: Any = None) -> Tensor:
    """Cumulative sum along ``dim``.

    Args:
        input: The tensor.
        dim: The dim to work along.
        dtype: If given, ``input`` is cast to this dtype first.

    Returns:
        A tensor of ``input``'s shape.
    """
    d = shapes.normalize_dim(dim, input.ndim)
    if needs_grad(input):
        return _CumSum.apply(input, d, dtype)
    return Tensor(R.cumsum(input._data, d, dtype))


@tensor_method("cumprod")
def cumprod(input: Tensor, dim: int, *, dtype: Any = None) -> Tensor:
    """Cumulative product along ``dim``.

    Args:
        input: The tensor.
        dim: The dim to work along.
        dtype: If given, ``input`` is cast to this dtype first.

    Returns:
        A tensor of ``input``'s shape.
    """
    d = shapes.normalize_dim(dim, input.ndim)
    if needs_grad(input):
        return _CumProd.apply(input, d, dtype)
    return Tensor(R.cumprod(input._data, d, dtype))


@tensor_method("sort")
def sort(input: Tensor, dim: int = -1, descending: bool = False, stable: bool = False
         ) -> ValuesIndices:
    """Sorted values and their indices along ``dim`` (NaN sorts last ascending).

    Args:
        input: The tensor.
        dim: The dim to work along.
        descending: Whether to sort largest first.
        stable: Whether equal elements keep their order.

    Returns:
        ``(values, indices)``.
    """
    res = R.sort(input._data, dim, descending, stable)
    if needs_grad(input) and input.ndim:
        return ValuesIndices(_select_values(input, res.indices, dim, True), Tensor(res.indices))
    return ValuesIndices(Tensor(res.values), Tensor(res.indices))


@tensor_method("msort")
def msort(input: Tensor) -> Tensor:
    """Sort along dim 0 (``sort(input, 0).values``).

    Args:
        input: The tensor.

    Returns:
        The sorted values.
    """
    return sort(input, 0).values


@tensor_method("argsort")
def argsort(input: Tensor, dim: int = -1, descending: bool = False, stable: bool = False
            ) -> Tensor:
    """Indices that sort ``input`` along ``dim``.

    Args:
        input: The tensor.
        dim: The dim to work along.
        descending: Whether to sort largest first.
        stable: Whether equal elements keep their order.

    Returns:
        An int64 tensor of indices.
    """
    return Tensor(R.argsort(input._data, dim, descending, stable))


@tensor_method("topk")
def topk(input: Tensor, k: int, dim: int = -1, largest: bool = True, sorted: bool = True
         ) -> ValuesIndices:
    """The ``k`` largest (or smallest) values along ``dim`` and their indices.

    Args:
        input: The tensor.
        k: How many values.
        dim: The dim to work along.
        largest: Whether to take the largest (True) or smallest values.
        sorted: Whether the results are in sorted order.

    Returns:
        ``(values, indices)``.
    """
    res = R.topk(input._data, k, dim, largest, sorted)
    if needs_grad(input) and input.ndim:
        return ValuesIndices(_select_values(input, res.indices, dim, True), Tensor(res.indices))
    return ValuesIndices(Tensor(res.values), Tensor(res.indices))


@tensor_method("median")
def median(input: Tensor, dim: Any = None, keepdim: bool = False) -> Any:
    """The lower median (of all elements, or ``(values, indices)`` along ``dim``).

    Args:
        input: The tensor.
        dim: The dim to reduce; None reduces the flattened tensor.
        keepdim: Whether to keep reduced dims with size 1.

    Returns:
        A 0-d tensor, or ``(values, indices)`` along ``dim``.
    """
    if dim is None:
        flat = input.reshape(-1)
        if flat.numel() == 0:
            raise RuntimeError("median() cannot compute the median of an empty tensor")
        vals = sort(flat).values
        return vals[(flat.numel() - 1) // 2]
    d = shapes.normalize_dim(dim, input.ndim)
    n = input.shape[d]
    res = sort(input, d)
    k = (n - 1) // 2
    values = res.values.narrow(d, k, 1)
    indices = res.indices.narrow(d, k, 1)
    if not keepdim:
        values, indices = values.squeeze(d), indices.squeeze(d)
    return ValuesIndices(values, indices)

