"""Differentiable elementwise math on Tensors, with PyTorch names, broadcasting and promotion.

Pattern used by every family in ``clt.functions``: a :class:`~clt.autograd.Function` per op whose
``forward`` runs raw ops on device Arrays and whose ``backward`` returns Tensors. When backward
runs without ``create_graph`` (grad mode off), it uses one fused kernel per gradient; with
``create_graph`` it composes differentiable Tensor ops so the gradient can be differentiated.
"""
from __future__ import annotations

import math
from typing import Any

from clt import dtypes as D
from clt.autograd.function import Function
from clt.autograd.grad_mode import STATE
from clt.backend.fusion import fusion_enabled
from clt.errors import DTypeError
from clt.functions._util import arr, check_out_grad, needs_grad, same_device, scalar_or_tensor
from clt.ops import elementwise as ew
from clt.ops import shapes
from clt.ops.array import Array
from clt.tensor import Tensor, tensor_method

# -----------------------------------------------------------------------------------------------
# gradient plumbing


class _SumTo(Function):
    """Sum a broadcast gradient back to ``shape`` (backward of broadcasting)."""

    @staticmethod
    def forward(ctx, g: Tensor, shape: tuple) -> Array:
        ctx.in_shape = tuple(g.shape)
        return sum_to_array(g._data, shape)

    @staticmethod
    def backward(ctx, gg: Tensor) -> tuple:
        return expand(gg, ctx.in_shape), None


def sum_to_array(g: Array, shape: tuple) -> Array:
    """Reduce ``g`` over the dims that were broadcast to produce it from ``shape``.

    Args:
        g: The broadcast array.
        shape: The shape it was broadcast from.

    Returns:
        The reduced array, of ``shape``.
    """
    shape = tuple(shape)
    if g.shape == shape:
        return g
    from clt.ops import reduce as R

    lead = g.ndim - len(shape)
    dims = tuple(range(lead)) + tuple(
        lead + i for i, s in enumerate(shape) if s == 1 and g.shape[lead + i] != 1)
    out = R.sum(g, dims, keepdim=True) if dims else g
    return out.view(shape, shapes.contiguous_strides(shape), out.offset) \
        if out.is_contiguous() else ew.contiguous(out).view(
            shape, shapes.contiguous_strides(shape), 0)


def sum_to(g: Tensor, shape: tuple) -> Tensor:
    """Sum a broadcast gradient back down to ``shape`` (differentiable).

    Args:
        g: The gradient, of a shape ``shape`` broadcasts to.
        shape: The target shape.

    Returns:
        ``g`` itself if it already has ``shape``, else the reduced tensor.
    """
    if tuple(g.shape) == tuple(shape):
        return g
    return _SumTo.apply(g, tuple(shape))


def reduce_grad(g: Tensor | None, x: Any) -> Tensor | None:
    """Shape and dtype of a gradient matched to the input ``x`` it belongs to.

    Args:
        g: The gradient, or None.
        x: The input it belongs to (non-tensors give None).

    Returns:
        ``g`` summed to ``x``'s shape and cast to its dtype, or None.
    """
    if g is None or not isinstance(x, Tensor):
        return None
    g = sum_to(g, tuple(x.shape))
    if g.dtype is not x.dtype:
        g = to_dtype(g, x.dtype)
    return g


class _Expand(Function):
    @staticmethod
    def forward(ctx, x: Tensor, shape: tuple) -> Array:
        ctx.in_shape = tuple(x.shape)
        a = x._data
        return a.view(shape, shapes.broadcast_strides(a.shape, a.strides, shape))

    @staticmethod
    def backward(ctx, g: Tensor) -> tuple:
        return sum_to(g, ctx.in_shape), None


def expand(x: Tensor, shape: tuple) -> Tensor:
    """A broadcast view of ``x`` with ``shape`` (no copy; backward sums over the broadcast dims).

    Args:
        x: The tensor.
        shape: The target shape; ``x.shape`` must broadcast to it.

    Returns:
        ``x`` itself if the shape already matches, else the expanded view.
    """
    shape = tuple(shape)
    return x if tuple(x.shape) == shape else _Expand.apply(x, shape)


class _Cast(Function):
    @staticmethod
    def forward(ctx, x: Tensor, dtype: D.DType) -> Array:
        ctx.in_dtype = x.dtype
        return ew.cast(x._data, dtype)

    @staticmethod
    def backward(ctx, g: Tensor) -> tuple:
        return to_dtype(g, ctx.in_dtype), None


def to_dtype(x: Tensor, dtype: Any) -> Tensor:
    """``x`` converted to ``dtype`` (the same tensor if it already has it).

    Args:
        x: The tensor.
        dtype: The target dtype.

    Returns:
        ``x`` or the converted tensor (differentiable).
    """
    dtype = D.as_dtype(dtype)
    if x.dtype is dtype:
        return x
    return _Cast.apply(x, dtype)


def _run(op: str, fn_cls: type, args: tuple, out: Tensor | None, raw: Any) -> Tensor:
    """Common tail: ``out=`` handling, else autograd-aware apply."""
    if out is not None:
        check_out_grad(op, *args)
        raw(out._data)
        return out
    return fn_cls.apply(*args)


# -----------------------------------------------------------------------------------------------
# binary ops

def _binary_grads(op: str, g: Tensor, a: Any, b: Any, out: Tensor | None, alpha: Any
                  ) -> tuple[Any, Any]:
    """Gradients of a binary op as differentiable Tensor expressions."""
    if op == "add":
        return g, (g if alpha == 1 else g * alpha)
    if op == "sub":
        return g, (-g if alpha == 1 else g * (-alpha))
    if op == "mul":
        return g * b, g * a
    if op == "div":
        return g / b, -g * a / (b * b)
    if op == "pow":
        ga = g * b * pow(a, b - 1) if isinstance(a, Tensor) else None
        gb = None
        if isinstance(b, Tensor):
            la = log(where(a > 0, a, 1)) if isinstance(a, Tensor) else math.log(a) if a > 0 else 0
            gb = g * pow(a, b) * la
        return ga, gb
    if op in ("maximum", "minimum"):
        sel = (a > b) if op == "maximum" else (a < b)
        tie = (a == b)
        w = to_dtype(sel, g.dtype) + to_dtype(tie, g.dtype) * 0.5
        return g * w, g * (1 - w)
    if op == "atan2":
        den = a * a + b * b
        return g * b / den, -g * a / den
    if op == "remainder":
        return g, -g * floor_divide(a, b)
    if op == "fmod":
        return g, -g * trunc(div(a, b))
    if op == "hypot":
        return g * a / out, g * b / out
    if op == "xlogy":
        return g * log(b), g * a / b
    raise RuntimeError(f"the derivative for '{op}' is not implemented")


# fused first-order gradients: a = upstream grad, b = lhs, c = rhs (s0 = alpha)
_FUSED_BINARY = {
    "mul": ("a * c", "a * b"),
    "div": ("a / c", "-a * b / (c * c)"),
}


class _BinaryFn(Function):
    op = ""

    @classmethod
    def forward(cls, ctx, a: Any, b: Any, alpha: Any = 1) -> Array:
        ctx.a, ctx.b, ctx.alpha = a, b, alpha
        if cls.op in ("mul", "div", "pow", "maximum", "minimum", "atan2", "remainder", "fmod",
                      "xlogy", "hypot"):
            ctx.save_for_backward(*(x for x in (a, b) if isinstance(x, Tensor)))
        bb = arr(b)
        if alpha != 1:
            bb = ew.binary("mul", bb, alpha)
        out = ew.binary(cls.op, arr(a), bb)
        if cls.op == "hypot":
            ctx.out = Tensor(out)
        return out

    @classmethod
    def backward(cls, ctx, g: Tensor) -> tuple:
        a, b = ctx.a, ctx.b
        ctx.saved_tensors   # version check: raise if a saved input was modified in place
        fused = _FUSED_BINARY.get(cls.op)
        if fused is not None and not STATE.enabled and all(isinstance(x, Tensor) for x in (a, b)):
            res = D.result_type(a, b)
            ga = gb = None
            if ctx.needs_input_grad[0]:
                ga = Tensor(ew.map_op(cls.op + "_bw_a", fused[0], [g._data, a._data, b._data],
                                      res, res))
            if ctx.needs_input_grad[1]:
                gb = Tensor(ew.map_op(cls.op + "_bw_b", fused[1], [g._data, a._data, b._data],
                                      res, res))
        else:
            out = getattr(ctx, "out", None)
            ga, gb = _binary_grads(cls.op, g, a, b, None if out is None else ctx.output(out),
                                   ctx.alpha)
        return reduce_grad(ga, a), reduce_grad(gb, b), None


def _binary_class(op: str) -> type:
    name = "".join(p.capitalize() for p in op.split("_"))
    return type(name, (_BinaryFn,), {"op": op})


_BINARY_FNS = {op: _binary_class(op) for op in (
    "add", "sub", "mul", "div", "pow", "maximum", "minimum", "atan2", "remainder", "fmod",
    "hypot", "xlogy")}


_SCALARS = (int, float, bool)


def _binary(op: str, a: Any, b: Any, out: Tensor | None = None, alpha: Any = 1) -> Tensor:
    # hot path: no autograd, no out=, no alpha (devices are checked by the ops layer's key)
    if out is None and alpha == 1:
        ta, tb = a.__class__ is Tensor, b.__class__ is Tensor
        if (ta or b.__class__ in _SCALARS) and (tb or a.__class__ in _SCALARS) and not (
                STATE.enabled and ((ta and a.requires_grad) or (tb and b.requires_grad))):
            if not (ta and tb) or a._data.storage.device is b._data.storage.device:
                return Tensor(ew.binary(op, a._data if ta else a, b._data if tb else b))
    a, b = scalar_or_tensor(a, op), scalar_or_tensor(b, op)
    if not isinstance(a, Tensor) and not isinstance(b, Tensor):
        raise TypeError(f"{op}(): expected at least one Tensor argument")
    same_device(op, a, b)
    fn = _BINARY_FNS.get(op)
    if fn is None or out is not None or not needs_grad(a, b) or not (
            D.result_type(a, b).is_floating_point or op == "div"):
        if out is not None:
            check_out_grad(op, a, b)
        bb = arr(b)
        if alpha != 1:
            bb = ew.binary("mul", bb, alpha)
        res = ew.binary(op, arr(a), bb, out=None if out is None else out._data)
        return out if out is not None else Tensor(res)
    return fn.apply(a, b, alpha)


def add(input: Any, other: Any, *, alpha: Any = 1, out: Tensor | None = None) -> Tensor:
    """``input + alpha * other`` with broadcasting and type promotion.

    Args:
        input: The first operand (a Tensor or a number).
        other: The second operand, broadcast against ``input``.
        alpha: Multiplier of ``other``.
        out: Optional tensor to write the result into (not differentiable).

    Returns:
        The elementwise result.
    """
    return _binary("add", input, other, out, alpha)


def sub(input: Any, other: Any, *, alpha: Any = 1, out: Tensor | None = None) -> Tensor:
    """``input - alpha * other``.

    Args:
        input: The first operand (a Tensor or a number).
        other: The second operand, broadcast against ``input``.
        alpha: Multiplier of ``other``.
        out: Optional tensor to write the result into (not differentiable).

    Returns:
        The elementwise result.
    """
    return _binary("sub", input, other, out, alpha)


def mul(input: Any, other: Any, *, out: Tensor | None = None) -> Tensor:
    """Elementwise product.

    Args:
        input: The first operand (a Tensor or a number).
        other: The second operand, broadcast against ``input``.
        out: Optional tensor to write the result into (not differentiable).

    Returns:
        The elementwise result.
    """
    return _binary("mul", input, other, out)


def div(input: Any, other: Any, *, rounding_mode: str | None = None,
        out: Tensor | None = None) -> Tensor:
    """True division (ints give floats); ``rounding_mode`` "trunc" or "floor" rounds.

    Args:
        input: The first operand (a Tensor or a number).
        other: The second operand, broadcast against ``input``.
        rounding_mode: None (true division), ``"trunc"`` or ``"floor"``.
        out: Optional tensor to write the result into (not differentiable).

    Returns:
        The elementwise result.

    Raises:
        ValueError: If ``rounding_mode`` is not one of those.
    """
    if rounding_mode is None:
        return _binary("div", input, other, out)
    if rounding_mode == "floor":
        return floor_divide(input, other, out=out)
    if rounding_mode == "trunc":
        return _binary("div_trunc", input, other, out)
    raise ValueError(f"div expected rounding_mode to be one of None, 'trunc', or 'floor' but "
                     f"found '{rounding_mode}'")


def true_divide(input: Any, other: Any, *, out: Tensor | None = None) -> Tensor:
    """Alias of ``div`` with no rounding mode: ``input / other``.

    Args:
        input: The first operand.
        other: The second operand (broadcast against ``input``).
        out: Optional tensor to write the result into.

    Returns:
        The elementwise result.
    """
    return div(input, other, out=out)


def floor_divide(input: Any, other: Any, *, out: Tensor | None = None) -> Tensor:
    """Division rounded toward negative infinity (Python's ``//``); not differentiable.

    Args:
        input: The first operand (a Tensor or a number).
        other: The second operand, broadcast against ``input``.
        out: Optional tensor to write the result into (not differentiable).

    Returns:
        The elementwise result.
    """
    return _binary("floor_divide", input, other, out)


def remainder(input: Any, other: Any, *, out: Tensor | None = None) -> Tensor:
    """Python-style modulus (the result has the sign of the divisor).

    Args:
        input: The first operand (a Tensor or a number).
        other: The second operand, broadcast against ``input``.
        out: Optional tensor to write the result into (not differentiable).

    Returns:
        The elementwise result.
    """
    return _binary("remainder", input, other, out)


def fmod(input: Any, other: Any, *, out: Tensor | None = None) -> Tensor:
    """C-style modulus (the result has the sign of the dividend).

    Args:
        input: The first operand (a Tensor or a number).
        other: The second operand, broadcast against ``input``.
        out: Optional tensor to write the result into (not differentiable).

    Returns:
        The elementwise result.
    """
    return _binary("fmod", input, other, out)


def pow(input: Any, exponent: Any, *, out: Tensor | None = None) -> Tensor:
    """``input ** exponent``; integer tensors to negative integer powers are refused.

    Args:
        input: The base (a Tensor or a number).
        exponent: The exponent (a Tensor or a number).
        out: Optional tensor to write the result into (not differentiable).

    Returns:
        The elementwise result.

    Raises:
        RuntimeError: For an integer tensor to a negative integer power.
    """
    if (isinstance(input, Tensor) and not input.dtype.is_floating_point
            and isinstance(exponent, int) and not isinstance(exponent, bool) and exponent < 0):
        raise RuntimeError("Integers to negative integer powers are not allowed.")
    if (isinstance(input, Tensor) and not isinstance(exponent, Tensor) and exponent == 2
            and out is None):
        return mul(input, input)
    return _binary("pow", input, exponent, out)


def maximum(input: Tensor, other: Tensor, *, out: Tensor | None = None) -> Tensor:
    """Elementwise maximum (NaN propagates).

    Args:
        input: The first operand (a Tensor or a number).
        other: The second operand, broadcast against ``input``.
        out: Optional tensor to write the result into (not differentiable).

    Returns:
        The elementwise result.
    """
    return _binary("maximum", input, other, out)


def minimum(input: Tensor, other: Tensor, *, out: Tensor | None = None) -> Tensor:
    """Elementwise minimum (NaN propagates).

    Args:
        input: The first operand (a Tensor or a number).
        other: The second operand, broadcast against ``input``.
        out: Optional tensor to write the result into (not differentiable).

    Returns:
        The elementwise result.
    """
    return _binary("minimum", input, other, out)


def fmax(input: Tensor, other: Tensor, *, out: Tensor | None = None) -> Tensor:
    """Elementwise maximum ignoring NaN; not differentiable.

    Args:
        input: The first operand (a Tensor or a number).
        other: The second operand, broadcast against ``input``.
        out: Optional tensor to write the result into (not differentiable).

    Returns:
        The elementwise result.
    """
    return _binary("fmax", input, other, out)


def fmin(input: Tensor, other: Tensor, *, out: Tensor | None = None) -> Tensor:
    """Elementwise minimum ignoring NaN; not differentiable.

    Args:
        input: The first operand.
        other: The second operand (broadcast against ``input``).
        out: Optional tensor to write the result into.

    Returns:
        The elementwise result.
    """
    return _binary("fmin", input, other, out)


def atan2(input: Tensor, other: Tensor, *, out: Tensor | None = None) -> Tensor:
    """Elementwise ``atan(input / other)`` with the quadrant from both signs.

    Args:
        input: The first operand.
        other: The second operand (broadcast against ``input``).
        out: Optional tensor to write the result into.

    Returns:
        The elementwise result.
    """
    return _binary("atan2", input, other, out)


def hypot(input: Tensor, other: Tensor, *, out: Tensor | None = None) -> Tensor:
    """Elementwise ``sqrt(input**2 + other**2)``.

    Args:
        input: The first operand.
        other: The second operand (broadcast against ``input``).
        out: Optional tensor to write the result into.

    Returns:
        The elementwise result.
    """
    return _binary("hypot", input, other, out)


def xlogy(input: Any, other: Any, *, out: Tensor | None = None) -> Tensor:
    """``input * log(other)``, 0 where input is 0.

    Args:
        input: The first operand (a Tensor or a number).
        other: The second operand, broadcast against ``input``.
        out: Optional tensor to write the result into (not differentiable).

    Returns:
        The elementwise result.
    """
    return _binary("xlogy", input, other, out)


def copysign(input: Any, other: Any, *, out: Tensor | None = None) -> Tensor:
    """``|input|`` with the sign of ``other``, elementwise.

    Args:
        input: The first operand.
        other: The second operand (broadcast against ``input``).
        out: Optional tensor to write the result into.

    Returns:
        The elementwise result.
    """
    return _binary("copysign", input, other, out)


def _nograd_binary(op: str) -> Any:
    def fn(input: Any, other: Any, *, out: Tensor | None = None) -> Tensor:
        return _binary(op, input, other, out)
    fn.__name__ = op
    fn.__doc__ = f"Elementwise ``{op}`` (not differentiable)."
    return fn


eq, ne, lt, le, gt, ge = (_nograd_binary(op) for op in ("eq", "ne", "lt", "le", "gt", "ge"))
logical_and, logical_or, logical_xor = (_nograd_binary(op) for op in (
    "logical_and", "logical_or", "logical_xor"))
bitwise_and, bitwise_or, bitwise_xor = (_nograd_binary(op) for op in (
    "bitwise_and", "bitwise_or", "bitwise_xor"))
bitwise_left_shift, bitwise_right_shift = (_nograd_binary(op) for op in (
    "bitwise_left_shift", "bitwise_right_shift"))
greater, greater_equal, less, less_equal, not_equal = gt, ge, lt, le, ne


# -----------------------------------------------------------------------------------------------
# unary ops: (fused first-order gradient over a=grad, b=x, c=y ; Tensor-level formula)

_LN2, _LN10 = math.log(2.0), math.log(10.0)
_UNARY_GRADS: dict[str, tuple[str | None, Any]] = {
    "exp": ("a * c", lambda g, x, y: g * y),
    "expm1": ("a * (c + 1)", lambda g, x, y: g * (y + 1)),
    "exp2": (f"a * c * (T){_LN2}", lambda g, x, y: g * y * _LN2),
    "log": ("a / b", lambda g, x, y: g / x),
    "log1p": ("a / (b + 1)", lambda g, x, y: g / (x + 1)),
    "log2": (f"a / (b * (T){_LN2})", lambda g, x, y: g / (x * _LN2)),
    "log10": (f"a / (b * (T){_LN10})", lambda g, x, y: g / (x * _LN10)),
    "sqrt": ("a / (2 * c)", lambda g, x, y: g / (y * 2)),
    "rsqrt": ("(T)-0.5 * a * c * c * c", lambda g, x, y: g * y * y * y * -0.5),
    "sin": ("a * cos(b)", lambda g, x, y: g * cos(x)),
    "cos": ("-a * sin(b)", lambda g, x, y: -g * sin(x)),
    "tan": ("a * (1 + c * c)", lambda g, x, y: g * (y * y + 1)),
    "tanh": ("a * (1 - c * c)", lambda g, x, y: g * (1 - y * y)),
    "sigmoid": ("a * c * (1 - c)", lambda g, x, y: g * y * (1 - y)),
    "erf": ("a * (T)1.1283791670955126 * exp(-b * b)",
            lambda g, x, y: g * exp(-x * x) * 1.1283791670955126),
    "erfc": ("-a * (T)1.1283791670955126 * exp(-b * b)",
             lambda g, x, y: g * exp(-x * x) * -1.1283791670955126),
    "reciprocal": ("-a * c * c", lambda g, x, y: -g * y * y),
    "asin": ("a / sqrt(1 - b * b)", lambda g, x, y: g / sqrt(1 - x * x)),
    "acos": ("-a / sqrt(1 - b * b)", lambda g, x, y: -g / sqrt(1 - x * x)),
    "atan": ("a / (1 + b * b)", lambda g, x, y: g / (x * x + 1)),
    "sinh": ("a * cosh(b)", lambda g, x, y: g * cosh(x)),
    "cosh": ("a * sinh(b)", lambda g, x, y: g * sinh(x)),
    "asinh": ("a / sqrt(b * b + 1)", lambda g, x, y: g / sqrt(x * x + 1)),
    "acosh": ("a / sqrt(b * b - 1)", lambda g, x, y: g / sqrt(x * x - 1)),
    "atanh": ("a / (1 - b * b)", lambda g, x, y: g / (1 - x * x)),
    "neg": ("-a", lambda g, x, y: -g),
    "positive": ("a", lambda g, x, y: g),
    "abs": ("(b > 0 ? a : (b < 0 ? -a : (T)0))", lambda g, x, y: g * sign(x)),
    "relu": ("(c > 0 ? a : (T)0)", lambda g, x, y: g * to_dtype(y > 0, g.dtype)),
    "square": ("2 * a * b", lambda g, x, y: g * x * 2),
    "frac": ("a", lambda g, x, y: g),
    "silu": ("a * ((T)1 / ((T)1 + exp(-b))) * (1 + b * (1 - (T)1 / ((T)1 + exp(-b))))",
             lambda g, x, y: g * sigmoid(x) * (1 + x * (1 - sigmoid(x)))),
    "gelu": ("a * ((T)0.5 * (1 + erf(b * (T)0.70710678118654752)) + "
             "b * (T)0.3989422804014327 * exp((T)-0.5 * b * b))",
             lambda g, x, y: g * ((1 + erf(x * 0.70710678118654752)) * 0.5
                                  + x * exp(x * x * -0.5) * 0.3989422804014327)),
    "gelu_tanh": (None, None),
    "mish": ("a * (tanh(b > 20 ? b : log1p(exp(b))) + b * ((T)1 / ((T)1 + exp(-b))) * "
             "(1 - tanh(b > 20 ? b : log1p(exp(b))) * tanh(b > 20 ? b : log1p(exp(b)))))", None),
    "logsigmoid": ("a * ((T)1 / ((T)1 + exp(b)))", lambda g, x, y: g * sigmoid(-x)),
    "sign": ("(T)0", lambda g, x, y: g * 0),
    "floor": ("(T)0", lambda g, x, y: g * 0), "ceil": ("(T)0", lambda g, x, y: g * 0),
    "round": ("(T)0", lambda g, x, y: g * 0), "trunc": ("(T)0", lambda g, x, y: g * 0),
}


def _gelu_tanh_grad(g: Tensor, x: Tensor, y: Tensor) -> Tensor:
    k = 0.79788456080286535588
    inner = (x + x * x * x * 0.044715) * k
    t = tanh(inner)
    return g * ((1 + t) * 0.5 + x * 0.5 * (1 - t * t) * k * (1 + x * x * 0.134145))


_UNARY_GRADS["gelu_tanh"] = (
    "a * ((T)0.5 * (1 + tanh((T)0.79788456080286535588 * (b + (T)0.044715 * b * b * b))) + "
    "(T)0.5 * b * (1 - tanh((T)0.79788456080286535588 * (b + (T)0.044715 * b * b * b)) * "
    "tanh((T)0.79788456080286535588 * (b + (T)0.044715 * b * b * b))) * "
    "(T)0.79788456080286535588 * (1 + (T)0.134145 * b * b))", _gelu_tanh_grad)


def _mish_grad(g: Tensor, x: Tensor, y: Tensor) -> Tensor:
    t = tanh(softplus_t(x))
    return g * (t + x * sigmoid(x) * (1 - t * t))


_UNARY_GRADS["mish"] = (_UNARY_GRADS["mish"][0], _mish_grad)


# ops whose gradient (fused and composed) reads only the result y, never the input x: backward
# keeps y alone, and their in-place forms overwrite the input and keep that (see apply_inplace)
_Y_ONLY = frozenset({"relu", "exp", "expm1", "exp2", "sqrt", "rsqrt", "tan", "tanh", "sigmoid",
                     "reciprocal"})


class _UnaryFn(Function):
    op = ""

    @classmethod
    def forward(cls, ctx, x: Tensor) -> Array:
        y = ew.unary(cls.op, x._data)
        if cls.op in _Y_ONLY:   # as PyTorch: only the result is kept (and version-checked)
            ctx.save_for_backward(Tensor(y))
        else:
            ctx.save_for_backward(x)
            ctx.y = Tensor(y)
        return y

    @classmethod
    def backward(cls, ctx, g: Tensor) -> tuple:
        (saved,) = ctx.saved_tensors
        # a y-only gradient reads no x: y stands in for it (same shape and dtype)
        x, y = (saved, saved) if cls.op in _Y_ONLY else (saved, ctx.y)
        y = ctx.output(y)       # under create_graph: y's own history is this node
        fused, formula = _UNARY_GRADS[cls.op]
        if STATE.enabled or fused is None or (
                formula is not None and not fusion_enabled("activation")):
            if formula is None:
                raise RuntimeError(f"the derivative of {cls.op} is not implemented")
            return (reduce_grad(formula(g, x, y), x),)
        dt = y.dtype
        return (Tensor(ew.map_op(cls.op + "_bw", fused, [g._data, x._data, y._data], dt, dt)),)


_UNARY_FNS = {op: type("".join(p.capitalize() for p in op.split("_")), (_UnaryFn,), {"op": op})
              for op in _UNARY_GRADS}


class _UnaryInplaceFn(_UnaryFn):
    """``x.op_()`` for a y-only op: the result overwrites ``x`` and is what backward keeps, so
    the in-place form holds no second copy (as PyTorch's ``relu_``)."""

    @classmethod
    def forward(cls, ctx, x: Tensor) -> Array:
        ew.unary(cls.op, x._data, out=x._data)      # bumps the version: x's old savers see it
        ctx.save_for_backward(Tensor(x._data))      # a version-checked alias without grad_fn
        return x._data


_UNARY_INPLACE_FNS = {op: type(_UNARY_FNS[op].__name__ + "Inplace", (_UnaryInplaceFn,),
                               {"op": op}) for op in _Y_ONLY}


def _unary(op: str, x: Tensor, out: Tensor | None = None) -> Tensor:
    if out is None and x.__class__ is Tensor and not (STATE.enabled and x.requires_grad):
        return Tensor(ew.unary(op, x._data))
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}(): argument 'input' must be Tensor, not {type(x).__name__}")
    if out is not None:
        check_out_grad(op, x)
        ew.unary(op, x._data, out=out._data)
        return out
    fn = _UNARY_FNS.get(op)
    if fn is None or not needs_grad(x):
        return Tensor(ew.unary(op, x._data))
    return fn.apply(x)


def _make_unary(op: str, doc: str) -> Any:
    def fn(input: Tensor, *, out: Tensor | None = None) -> Tensor:
        return _unary(op, input, out)
    fn.__name__ = op
    fn.__qualname__ = op
    fn.__doc__ = doc
    return fn


_UNARY_DOCS = {
    "exp": "e to the power of each element.", "expm1": "``exp(x) - 1``, accurate near 0.",
    "exp2": "2 to the power of each element.", "log": "Natural logarithm.",
    "log1p": "``log(1 + x)``, accurate near 0.", "log2": "Base-2 logarithm.",
    "log10": "Base-10 logarithm.", "sqrt": "Square root.", "rsqrt": "``1 / sqrt(x)``.",
    "sin": "Sine.", "cos": "Cosine.", "tan": "Tangent.", "tanh": "Hyperbolic tangent.",
    "sigmoid": "Logistic sigmoid ``1 / (1 + exp(-x))``.", "erf": "Error function.",
    "erfc": "Complementary error function.", "reciprocal": "``1 / x``.",
    "asin": "Arcsine.", "acos": "Arccosine.", "atan": "Arctangent.", "sinh": "Hyperbolic sine.",
    "cosh": "Hyperbolic cosine.", "asinh": "Inverse hyperbolic sine.",
    "acosh": "Inverse hyperbolic cosine.", "atanh": "Inverse hyperbolic tangent.",
    "neg": "Negation.", "positive": "The input itself.", "abs": "Absolute value.",
    "relu": "``max(x, 0)``.", "square": "``x * x``.", "frac": "Fractional part ``x - trunc(x)``.",
    "silu": "SiLU / swish ``x * sigmoid(x)``.", "gelu": "GELU with the exact erf form.",
    "gelu_tanh": "GELU with the tanh approximation.", "mish": "Mish ``x * tanh(softplus(x))``.",
    "logsigmoid": "``log(sigmoid(x))``, stable.", "sign": "Sign (-1, 0 or 1; NaN stays NaN).",
    "floor": "Round down.", "ceil": "Round up.", "round": "Round half to even.",
    "trunc": "Round toward zero.", "lgamma": "Log of the absolute gamma function.",
}
for _op, _doc in _UNARY_DOCS.items():
    globals()[_op] = _make_unary(_op, _doc)
_INPLACE_UNARY = {globals()[_op]: _op for _op in _Y_ONLY}    # public function -> op
negative, absolute, fix, arctan, arcsin, arccos = (
    globals()["neg"], globals()["abs"], globals()["trunc"], globals()["atan"],
    globals()["asin"], globals()["acos"])


def _bool_unary(op: str) -> Any:
    def fn(input: Tensor) -> Tensor:
        return Tensor(ew.unary(op, input._data))
    fn.__name__ = op
    fn.__doc__ = f"Elementwise ``{op}``, as a bool tensor."
    return fn


isnan, isinf, isfinite, logical_not, signbit, isposinf, isneginf = (_bool_unary(op) for op in (
    "isnan", "isinf", "isfinite", "logical_not", "signbit", "isposinf", "isneginf"))


def bitwise_not(input: Tensor) -> Tensor:
    """``~x`` for integer tensors; logical not for bool tensors.

    Args:
        input: An integer or bool tensor.

    Returns:
        The result, of ``input``'s shape and dtype.
    """
    if input.dtype.is_floating_point:
        raise DTypeError(f"bitwise_not is not supported for floating point dtype {input.dtype}")
    if input.dtype.is_bool:
        return logical_not(input)
    return Tensor(ew.map_op("bitwise_not", "~a", [input._data], input.dtype, input.dtype))


# -----------------------------------------------------------------------------------------------
# ternary and parametrised ops


class _Where(Function):
    @staticmethod
    def forward(ctx, cond: Tensor, a: Any, b: Any) -> Array:
        ctx.cond, ctx.a, ctx.b = cond, a, b
        return ew.where(cond._data, arr(a), arr(b))

    @staticmethod
    def backward(ctx, g: Tensor) -> tuple:
        z = zeros_scalar(g)
        ga = where(ctx.cond, g, z) if isinstance(ctx.a, Tensor) and ctx.a.requires_grad else None
        gb = where(ctx.cond, z, g) if isinstance(ctx.b, Tensor) and ctx.b.requires_grad else None
        return None, reduce_grad(ga, ctx.a), reduce_grad(gb, ctx.b)


def zeros_scalar(g: Tensor) -> Any:
    """The zero scalar of ``g``'s dtype kind.

    Args:
        g: A tensor.

    Returns:
        ``0.0`` for floating-point ``g``, else ``0``.
    """
    return 0.0 if g.dtype.is_floating_point else 0


def where(condition: Tensor, input: Any = None, other: Any = None, *,
          out: Tensor | None = None) -> Any:
    """``input`` where ``condition`` holds, else ``other`` (both may be scalars).

    With only ``condition``, the same as ``nonzero(condition, as_tuple=True)``.
    """
    if input is None and other is None:
        from clt.functions import index as I   # noqa: provided by the index family

        return I.nonzero(condition, as_tuple=True)
    input, other = scalar_or_tensor(input, "where"), scalar_or_tensor(other, "where")
    same_device("where", condition, input, other)
    if not condition.dtype.is_bool:
        raise DTypeError(f"where expected condition to be a boolean tensor, but got a tensor "
                         f"with dtype {condition.dtype.name}")
    if out is not None:
        check_out_grad("where", input, other)
        ew.where(condition._data, arr(input), arr(other), out=out._data)
        return out
    if needs_grad(input, other):
        return _Where.apply(condition, input, other)
    return Tensor(ew.where(condition._data, arr(input), arr(other)))


def clamp(input: Tensor, min: Any = None, max: Any = None, *, out: Tensor | None = None
          ) -> Tensor:
    """Clamp into ``[min, max]`` (each bound a number, a tensor or None).

    Args:
        input: The tensor.
        min: Lower bound (a number, a tensor, or None).
        max: Upper bound (a number, a tensor, or None).
        out: Optional tensor to write the result into (not differentiable).

    Returns:
        The clamped tensor.
    """
    if min is None and max is None:
        raise RuntimeError("torch.clamp: At least one of 'min' or 'max' must not be None")
    if out is not None or not needs_grad(input, min, max):
        if out is not None:
            check_out_grad("clamp", input, min, max)
        res = ew.clamp(input._data, arr(min), arr(max), out=None if out is None else out._data)
        return out if out is not None else Tensor(res)
    res = input
    if min is not None:
        res = where(res < min, min, res) if not isinstance(min, Tensor) else maximum(res, min)
    if max is not None:
        res = where(res > max, max, res) if not isinstance(max, Tensor) else minimum(res, max)
    return res


clip = clamp


def clamp_min(input: Tensor, min: Any) -> Tensor:
    """Clamp from below: ``max(input, min)``.

    Args:
        input: The tensor.
        min: The lower bound (a scalar or a tensor).

    Returns:
        The clamped tensor.
    """
    return clamp(input, min=min)


def clamp_max(input: Tensor, max: Any) -> Tensor:
    """Clamp from above: ``min(input, max)``.

    Args:
        input: The tensor.
        max: The upper bound (a scalar or a tensor).

    Returns:
        The clamped tensor.
    """
    return clamp(input, max=max)


def lerp(input: Tensor, end: Tensor, weight: Any, *, out: Tensor | None = None) -> Tensor:
    """``input + weight * (end - input)``.

    Args:
        input: The start values.
        end: The end values.
        weight: The interpolation weight (a number or a tensor).
        out: Optional tensor to write the result into (not differentiable).

    Returns:
        The elementwise result.
    """
    if out is not None or not needs_grad(input, end, weight):
        res = ew.lerp(input._data, end._data, arr(weight), out=None if out is None else out._data)
        return out if out is not None else Tensor(res)
    return input + (end - input) * weight


def nan_to_num(input: Tensor, nan: float = 0.0, posinf: float | None = None,
               neginf: float | None = None, *, out: Tensor | None = None) -> Tensor:
    """Replace NaN, +inf and -inf by finite numbers.

    Args:
        input: The tensor.
        nan: Replacement for NaN.
        posinf: Replacement for +inf (default: the dtype's largest finite value).
        neginf: Replacement for -inf (default: the dtype's lowest finite value).
        out: Optional tensor to write the result into (not differentiable).

    Returns:
        The tensor with finite values.
    """
    res = ew.nan_to_num(input._data, nan, posinf, neginf, out=None if out is None else out._data)
    return out if out is not None else Tensor(res)


class _Activation(Function):
    @staticmethod
    def forward(ctx, x: Tensor, op: str, *params: float) -> Array:
        ctx.op, ctx.params = op, params
        y = ew.activation(op, x._data, *params)
        ctx.save_for_backward(x)
        ctx.y = Tensor(y)
        return y

    @staticmethod
    def backward(ctx, g: Tensor) -> tuple:
        (x,) = ctx.saved_tensors
        op, p, y = ctx.op, ctx.params, ctx.y
        nones = (None,) * (1 + len(p))
        if not STATE.enabled and fusion_enabled("activation"):
            fused = {
                "leaky_relu": "(b > 0 ? a : a * s0)",
                "elu": "(b > 0 ? a : a * (c + s0))",
                "softplus": "(b * s0 > s1 ? a : a * ((T)1 / ((T)1 + exp(-b * s0))))",
                "hardtanh": "((b > s0 && b < s1) ? a : (T)0)",
                "threshold": "(b > s0 ? a : (T)0)",
                "hardsigmoid": "((b > -3 && b < 3) ? a / 6 : (T)0)",
                "hardswish": "(b < -3 ? (T)0 : (b > 3 ? a : a * (2 * b + 3) / 6))",
                "selu": "(b > 0 ? a * (T)1.0507009873554804934193349852946 : "
                        "a * (c + (T)1.7580993408473768599402175208123))",
            }[op]
            scal = {"leaky_relu": p[:1], "elu": p[:1], "softplus": p[:2], "hardtanh": p[:2],
                    "threshold": p[:1]}.get(op, ())
            dt = x.dtype
            return (Tensor(ew.map_op(op + "_bw", fused,
                                     [g._data, x._data, y._data] + list(scal), dt, dt)),) + nones
        gx = _activation_grad(op, p, g, x, ctx.output(y))
        return (gx,) + nones


def _activation_grad(op: str, p: tuple, g: Tensor, x: Tensor, y: Tensor) -> Tensor:
    f = lambda cond: to_dtype(cond, g.dtype)   # noqa: E731
    if op == "leaky_relu":
        return g * (f(x > 0) + f(x <= 0) * p[0])
    if op == "elu":
        return g * (f(x > 0) + f(x <= 0) * (y + p[0]))
    if op == "softplus":
        return g * where(x * p[0] > p[1], 1.0, sigmoid(x * p[0]))
    if op == "hardtanh":
        return g * f(logical_and(x > p[0], x < p[1]))
    if op == "threshold":
        return g * f(x > p[0])
    if op == "hardsigmoid":
        return g * f(logical_and(x > -3, x < 3)) / 6
    if op == "hardswish":
        return g * where(x < -3, 0.0, where(x > 3, 1.0, (x * 2 + 3) / 6))
    if op == "selu":
        return g * where(x > 0, 1.0507009873554804934193349852946,
                         y + 1.7580993408473768599402175208123)
    raise RuntimeError(f"the derivative of {op} is not implemented")


def activation(op: str, input: Tensor, *params: float) -> Tensor:
    """Parametrised activation (see ``clt.ops.elementwise.activation``)."""
    if needs_grad(input):
        return _Activation.apply(input, op, *params)
    return Tensor(ew.activation(op, input._data, *params))


def leaky_relu_t(x: Tensor, negative_slope: float = 0.01) -> Tensor:
    """Leaky ReLU through the fused activation kernel.

    Args:
        x: The tensor.
        negative_slope: Slope for negative inputs.

    Returns:
        The activated tensor.
    """
    return activation("leaky_relu", x, negative_slope)


def softplus_t(x: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """Softplus through the fused activation kernel.

    Args:
        x: The tensor.
        beta: ``log(1 + exp(beta * x)) / beta``.
        threshold: Above ``beta * x > threshold`` the output is ``x``.

    Returns:
        The activated tensor.
    """
    return activation("softplus", x, beta, threshold)


# -----------------------------------------------------------------------------------------------
# Tensor methods and operators

def _rev(fn: Any) -> Any:
    def r(self: Tensor, other: Any) -> Tensor:
        return fn(other, self)
    return r


def _inplace(fn: Any, name: str) -> Any:
    def method(self: Tensor, *args: Any, **kwargs: Any) -> Tensor:
        if not args and not kwargs and fn in _INPLACE_UNARY:
            return apply_inplace(self, fn, name)
        return apply_inplace(self, lambda t: fn(t, *args, **kwargs), name)
    method.__name__ = name
    return method


def apply_inplace(self: Tensor, compute: Any, name: str) -> Tensor:
    """Run ``compute(self)`` and write the result into ``self``, keeping autograd correct."""
    if STATE.enabled and self.requires_grad and self.is_leaf:
        raise RuntimeError("a leaf Variable that requires grad is being used in an in-place "
                           f"operation ({name}).")
    if STATE.enabled and self._base is not None and self._base.requires_grad:
        raise RuntimeError(f"{name}: in-place operations on a view of a tensor that requires "
                           "grad are not supported; use the out-of-place form")
    op = _INPLACE_UNARY.get(compute)
    if op is not None and STATE.enabled and self.requires_grad and \
            self.dtype.is_floating_point:
        result = _UNARY_INPLACE_FNS[op].apply(self)
        self.grad_fn, self._output_nr = result.grad_fn, result._output_nr
        return self
    result = compute(clone(self) if STATE.enabled and self.requires_grad else self)
    if result.dtype is not self.dtype and D.promote_types(result.dtype, self.dtype) is not \
            self.dtype:
        raise RuntimeError(f"result type {result.dtype.name} can't be cast to the desired output "
                           f"type {self.dtype.name}")
    if tuple(result.shape) != tuple(self.shape):
        raise RuntimeError(f"output with shape {list(self.shape)} doesn't match the broadcast "
                           f"shape {list(result.shape)}")
    ew.copy_(self._data, result._data)
    if result.requires_grad and STATE.enabled:
        self.requires_grad = True
        self.grad_fn, self._output_nr = result.grad_fn, result._output_nr
    return self


class _Clone(Function):
    @staticmethod
    def forward(ctx, x: Tensor) -> Array:
        out = Array.empty(x.device, x.shape, x.dtype)
        return ew.launch_map("copy", "a", out, [x._data])

    @staticmethod
    def backward(ctx, g: Tensor) -> tuple:
        return (g,)


def clone(input: Tensor, *, memory_format: Any = None) -> Tensor:
    """A copy with its own (contiguous) storage; differentiable.

    Args:
        input: The tensor.
        memory_format: Accepted for PyTorch compatibility.

    Returns:
        The copy.
    """
    return _Clone.apply(input)


_METHODS = {
    "add": add, "sub": sub, "subtract": sub, "mul": mul, "multiply": mul, "div": div,
    "divide": div, "true_divide": true_divide, "floor_divide": floor_divide,
    "remainder": remainder, "fmod": fmod, "pow": pow, "maximum": maximum, "minimum": minimum,
    "fmax": fmax, "fmin": fmin, "atan2": atan2, "hypot": hypot, "xlogy": xlogy,
    "copysign": copysign, "eq": eq, "ne": ne, "lt": lt, "le": le, "gt": gt, "ge": ge,
    "greater": gt, "greater_equal": ge, "less": lt, "less_equal": le, "not_equal": ne,
    "logical_and": logical_and, "logical_or": logical_or, "logical_xor": logical_xor,
    "logical_not": logical_not, "bitwise_and": bitwise_and, "bitwise_or": bitwise_or,
    "bitwise_xor": bitwise_xor, "bitwise_not": bitwise_not, "isnan": isnan, "isinf": isinf,
    "isfinite": isfinite, "signbit": signbit, "isposinf": isposinf, "isneginf": isneginf,
    "clamp": clamp, "clip": clamp, "clamp_min": clamp_min, "clamp_max": clamp_max,
    "lerp": lerp, "nan_to_num": nan_to_num, "clone": clone,
    "where": lambda self, condition, other: where(condition, self, other),
}
for _name in _UNARY_DOCS:
    _METHODS[_name] = globals()[_name]
_METHODS.update(negative=globals()["neg"], absolute=globals()["abs"], fix=globals()["trunc"],
                arctan=globals()["atan"], arcsin=globals()["asin"], arccos=globals()["acos"])

for _name, _fn in _METHODS.items():
    tensor_method(_name)(_fn)
    if _name not in ("where", "clone", "isnan", "isinf", "isfinite", "signbit", "eq", "ne",
                     "lt", "le", "gt", "ge", "greater", "greater_equal", "less", "less_equal",
                     "not_equal", "isposinf", "isneginf", "nan_to_num"):
        tensor_method(_name + "_")(_inplace(_fn, _name + "_"))
for _cmp in ("eq", "ne", "lt", "le", "gt", "ge", "logical_and", "logical_or", "logical_xor",
             "logical_not", "nan_to_num"):
    tensor_method(_cmp + "_")(_inplace(globals()[_cmp], _cmp + "_"))

_OPERATORS = {
    "__add__": add, "__radd__": _rev(add), "__sub__": sub, "__rsub__": _rev(sub),
    "__mul__": mul, "__rmul__": _rev(mul), "__truediv__": div, "__rtruediv__": _rev(div),
    "__floordiv__": floor_divide, "__rfloordiv__": _rev(floor_divide),
    "__mod__": remainder, "__rmod__": _rev(remainder), "__pow__": pow, "__rpow__": _rev(pow),
    "__eq__": eq, "__ne__": ne, "__lt__": lt, "__le__": le, "__gt__": gt, "__ge__": ge,
    "__and__": bitwise_and, "__rand__": _rev(bitwise_and), "__or__": bitwise_or,
    "__ror__": _rev(bitwise_or), "__xor__": bitwise_xor, "__rxor__": _rev(bitwise_xor),
    "__lshift__": bitwise_left_shift, "__rshift__": bitwise_right_shift,
    "__neg__": globals()["neg"], "__abs__": globals()["abs"], "__invert__": bitwise_not,
    "__pos__": globals()["positive"],
}
for _name, _fn in _OPERATORS.items():
    tensor_method(_name)(_fn)
for _name, _op in (("__iadd__", add), ("__isub__", sub), ("__imul__", mul),
                   ("__itruediv__", div), ("__ifloordiv__", floor_divide),
                   ("__imod__", remainder), ("__ipow__", pow), ("__iand__", bitwise_and),
                   ("__ior__", bitwise_or), ("__ixor__", bitwise_xor)):
    tensor_method(_name)(_inplace(_op, _name))


tensor_method("type_as")(lambda self, other: to_dtype(self, other.dtype))
tensor_method("float")(lambda self: to_dtype(self, D.float32))
tensor_method("double")(lambda self: to_dtype(self, D.float64))
tensor_method("half")(lambda self: to_dtype(self, D.float16))
tensor_method("int")(lambda self: to_dtype(self, D.int32))
tensor_method("long")(lambda self: to_dtype(self, D.int64))
tensor_method("short")(lambda self: to_dtype(self, D.int16))
tensor_method("char")(lambda self: to_dtype(self, D.int8))
tensor_method("byte")(lambda self: to_dtype(self, D.uint8))
tensor_method("bool")(lambda self: to_dtype(self, D.bool_))


# -----------------------------------------------------------------------------------------------
# fused three-input ops

class _AddCMul(Function):
    @staticmethod
    def forward(ctx, x: Tensor, t1: Tensor, t2: Tensor, value: float) -> Array:
        ctx.save_for_backward(t1, t2)
        ctx.value, ctx.shapes = value, (x, t1, t2)
        res = D.result_type(x, t1, t2)
        return ew.map_op("addcmul", "a + s0 * b * c", [x._data, t1._data, t2._data, value],
                         res, res)

    @staticmethod
    def backward(ctx, g: Tensor) -> tuple:
        t1, t2 = ctx.saved_tensors
        x = ctx.shapes[0]
        return (reduce_grad(g, x), reduce_grad(g * t2 * ctx.value, t1),
                reduce_grad(g * t1 * ctx.value, t2), None)


class _AddCDiv(Function):
    @staticmethod
    def forward(ctx, x: Tensor, t1: Tensor, t2: Tensor, value: float) -> Array:
        ctx.save_for_backward(t1, t2)
        ctx.value, ctx.x = value, x
        res = D.result_type(x, t1, t2)
        return ew.map_op("addcdiv", "a + s0 * b / c", [x._data, t1._data, t2._data, value],
                         res, res)

    @staticmethod
    def backward(ctx, g: Tensor) -> tuple:
        t1, t2 = ctx.saved_tensors
        return (reduce_grad(g, ctx.x), reduce_grad(g * ctx.value / t2, t1),
                reduce_grad(-g * t1 * ctx.value / (t2 * t2), t2), None)


@tensor_method("addcmul")
def addcmul(input: Tensor, tensor1: Tensor, tensor2: Tensor, *, value: float = 1) -> Tensor:
    """``input + value * tensor1 * tensor2`` in one kernel.

    Args:
        input: The tensor added to.
        tensor1: First factor.
        tensor2: Second factor.
        value: Scale of the product.

    Returns:
        The result, broadcast over all operands.
    """
    same_device("addcmul", input, tensor1, tensor2)
    return _AddCMul.apply(input, tensor1, tensor2, value)


@tensor_method("addcdiv")
def addcdiv(input: Tensor, tensor1: Tensor, tensor2: Tensor, *, value: float = 1) -> Tensor:
    """``input + value * tensor1 / tensor2`` in one kernel.

    Args:
        input: The tensor added to.
        tensor1: The numerator.
        tensor2: The denominator.
        value: Scale of the quotient.

    Returns:
        The result, broadcast over all operands.
    """
    same_device("addcdiv", input, tensor1, tensor2)
    return _AddCDiv.apply(input, tensor1, tensor2, value)


tensor_method("addcmul_")(_inplace(addcmul, "addcmul_"))
tensor_method("addcdiv_")(_inplace(addcdiv, "addcdiv_"))
