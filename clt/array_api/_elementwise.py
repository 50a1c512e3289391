"""Elementwise functions with the standard's names, signatures and type promotion.

Each function is a thin wrapper over :mod:`clt.functions.elementwise` (so the kernels, and the
autograd support, are clt's own); the wrapper only adapts promotion (see
:func:`clt.array_api._helpers.operands`). Functions the standard defines for floating point
inputs also accept integers and return the default floating dtype, as PyTorch.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from clt import dtypes as D
from clt.array_api._helpers import array, check_scalars, operands
from clt.functions import elementwise as E
from clt.functions.creation import zeros_like
from clt.ops import elementwise as ew
from clt.tensor import Tensor

__all__: list[str] = []


def _unary(name: str, fn: Callable[[Tensor], Tensor], doc: str) -> Callable[[Tensor], Tensor]:
    def f(x: Tensor, /) -> Tensor:
        return fn(array(x, name))
    f.__name__ = f.__qualname__ = name
    f.__doc__ = (f"{doc}\n\n    Args:\n        x: the input array.\n\n    Returns:\n"
                 "        The elementwise result.\n    ")
    f.__module__ = "clt.array_api"
    globals()[name] = f
    __all__.append(name)
    return f


def _binary(name: str, fn: Callable[[Any, Any], Tensor], doc: str
            ) -> Callable[[Any, Any], Tensor]:
    def f(x1: Any, x2: Any, /) -> Tensor:
        check_scalars(name, x1, x2)
        return fn(*operands(name, x1, x2))
    f.__name__ = f.__qualname__ = name
    f.__doc__ = (f"{doc}\n\n    Args:\n        x1: the first input (an array or a Python "
                 "scalar).\n        x2: the second input (an array or a Python scalar); "
                 "the two broadcast and promote.\n\n    Returns:\n        The elementwise "
                 "result.\n    ")
    f.__module__ = "clt.array_api"
    globals()[name] = f
    __all__.append(name)
    return f


for _name, _doc in (
        ("acos", "Inverse cosine."), ("acosh", "Inverse hyperbolic cosine."),
        ("asin", "Inverse sine."), ("asinh", "Inverse hyperbolic sine."),
        ("atan", "Inverse tangent."), ("atanh", "Inverse hyperbolic tangent."),
        ("cos", "Cosine."), ("cosh", "Hyperbolic cosine."), ("exp", "``e ** x``."),
        ("expm1", "``exp(x) - 1``, accurate near 0."), ("log", "Natural logarithm."),
        ("log1p", "``log(1 + x)``, accurate near 0."), ("log2", "Base-2 logarithm."),
        ("log10", "Base-10 logarithm."), ("sin", "Sine."), ("sinh", "Hyperbolic sine."),
        ("sqrt", "Square root."), ("tan", "Tangent."), ("tanh", "Hyperbolic tangent."),
        ("ceil", "Round up (integers are returned unchanged)."),
        ("floor", "Round down (integers are returned unchanged)."),
        ("trunc", "Round toward zero (integers are returned unchanged)."),
        ("round", "Round to the nearest integer, halves to even."),
        ("sign", "-1, 0 or 1 by the sign of ``x`` (NaN stays NaN)."),
        ("square", "``x * x``."), ("abs", "Absolute value."),
        ("reciprocal", "``1 / x`` (2024.12 revision)."),
        ("isfinite", "True where ``x`` is finite."), ("isinf", "True where ``x`` is +-inf."),
        ("isnan", "True where ``x`` is NaN."), ("signbit", "True where the sign bit is set."),
        ("logical_not", "Logical NOT (non-zero is True)."), ("positive", "``+x``."),
        ("negative", "``-x``.")):
    _unary(_name, getattr(E, {"negative": "neg"}.get(_name, _name)), _doc)


def _bitwise_invert(x: Tensor) -> Tensor:
    return E.bitwise_not(x)


_unary("bitwise_invert", _bitwise_invert, "``~x`` for integers, logical NOT for bools.")
_unary("conj", E.clone, "Complex conjugate: a copy of ``x`` (clt has no complex dtypes).")
_unary("real", E.clone, "Real part: a copy of ``x`` (clt has no complex dtypes).")
_unary("imag", lambda x: zeros_like(x), "Imaginary part: zeros (clt has no complex dtypes).")

for _name, _fn, _doc in (
        ("add", E.add, "``x1 + x2``."), ("subtract", E.sub, "``x1 - x2``."),
        ("multiply", E.mul, "``x1 * x2``."),
        ("divide", E.div, "True division ``x1 / x2`` (integers give the default floating "
                          "dtype)."),
        ("floor_divide", E.floor_divide, "``x1 // x2``, rounded toward negative infinity."),
        ("remainder", E.remainder, "``x1 % x2`` with the sign of ``x2``, as Python's."),
        ("pow", E.pow, "``x1 ** x2``."),
        ("atan2", E.atan2, "The angle of the point ``(x2, x1)``."),
        ("hypot", E.hypot, "``sqrt(x1**2 + x2**2)`` without undue overflow."),
        ("copysign", E.copysign, "``x1``'s magnitude with ``x2``'s sign."),
        ("maximum", E.maximum, "Elementwise maximum (NaN propagates)."),
        ("minimum", E.minimum, "Elementwise minimum (NaN propagates)."),
        ("equal", E.eq, "``x1 == x2``."), ("not_equal", E.ne, "``x1 != x2``."),
        ("greater", E.gt, "``x1 > x2``."), ("greater_equal", E.ge, "``x1 >= x2``."),
        ("less", E.lt, "``x1 < x2``."), ("less_equal", E.le, "``x1 <= x2``."),
        ("logical_and", E.logical_and, "Logical AND (non-zero is True)."),
        ("logical_or", E.logical_or, "Logical OR (non-zero is True)."),
        ("logical_xor", E.logical_xor, "Logical XOR (non-zero is True)."),
        ("bitwise_and", E.bitwise_and, "``x1 & x2`` (integers and bools)."),
        ("bitwise_or", E.bitwise_or, "``x1 | x2`` (integers and bools)."),
        ("bitwise_xor", E.bitwise_xor, "``x1 ^ x2`` (integers and bools)."),
        ("bitwise_left_shift", E.bitwise_left_shift, "``x1 << x2`` (integers)."),
        ("bitwise_right_shift", E.bitwise_right_shift, "``x1 >> x2`` (integers).")):
    _binary(_name, _fn, _doc)


def _float_result(*xs: Any) -> D.DType:
    res = D.result_type(*xs)
    return res if res.is_floating_point else D.get_default_dtype()


def _arr(x: Any) -> Any:
    return x._data if isinstance(x, Tensor) else x


# logaddexp has no clt function: one expression in clt's elementwise kernel family. Equal
# arguments are special-cased so that inf + inf stays inf (the general form gives inf - inf).
_LOGADDEXP = ("(a == b ? a + (T)0.693147180559945309417 : "
              "CLT_MAX(a, b) + log1p(exp(-fabs(a - b))))")


def _logaddexp(a: Any, b: Any) -> Tensor:
    res = _float_result(a, b)
    return Tensor(ew.map_op("logaddexp", _LOGADDEXP, [_arr(a), _arr(b)], res, res))


def _nextafter(a: Any, b: Any) -> Tensor:
    res = D.result_type(a, b)
    if not res.is_floating_point:
        raise TypeError(f"nextafter(): floating point inputs required, got {res.name}")
    return Tensor(ew.map_op("nextafter", "nextafter(a, b)", [_arr(a), _arr(b)], res, res))


_binary("logaddexp", _logaddexp, "``log(exp(x1) + exp(x2))`` without overflow.")
_binary("nextafter", _nextafter, "The next representable value after ``x1`` toward ``x2`` "
                                 "(2024.12 revision).")


def clip(x: Tensor, /, min: Any = None, max: Any = None) -> Tensor:  # noqa: A002
    """Clamp ``x`` into ``[min, max]``; the result keeps ``x``'s dtype.

    Args:
        x: the input array.
        min: the lower bound (a scalar, an array broadcasting with ``x``, or None).
        max: the upper bound (a scalar, an array broadcasting with ``x``, or None).

    Returns:
        The clipped array (a copy of ``x`` when both bounds are None).
    """
    x = array(x, "clip")
    check_scalars("clip", *(b for b in (min, max) if b is not None))
    if min is None and max is None:
        return E.clone(x)
    bounds = [E.to_dtype(b, x.dtype) if isinstance(b, Tensor) and b.dtype is not x.dtype else b
              for b in (min, max)]
    if x.dtype.is_integer:
        info = np.iinfo(x.dtype.np)
        # out-of-range scalar bounds would wrap in x's dtype: saturate them first
        bounds = [b if not isinstance(b, (int, float)) or isinstance(b, bool) else
                  (info.min if b < info.min else info.max if b > info.max else b)
                  for b in bounds]
    out = E.clamp(x, *bounds)
    return out if out.dtype is x.dtype else E.to_dtype(out, x.dtype)


__all__ += ["clip"]
