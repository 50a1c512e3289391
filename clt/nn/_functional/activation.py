"""Activation functions of ``clt.nn.functional``.

They route to the fused elementwise kernels of ``clt.functions.elementwise`` (one launch forward,
one fused launch backward when no double-backward graph is needed). ``inplace=True`` writes the
result into the input (computed out of place, then copied, with the autograd graph rewired).
"""
from __future__ import annotations

import warnings
from typing import Any

from clt.errors import ShapeError
from clt.functions import elementwise as E
from clt.functions.elementwise import activation, apply_inplace
from clt.tensor import Tensor

__all__ = ["relu", "relu_", "relu6", "leaky_relu", "leaky_relu_", "elu", "elu_", "selu",
           "selu_", "celu", "celu_", "gelu", "silu", "mish", "sigmoid", "tanh", "hardtanh",
           "hardtanh_", "hardsigmoid", "hardswish", "softplus", "softsign", "tanhshrink",
           "softshrink", "hardshrink", "threshold", "threshold_", "logsigmoid", "prelu", "rrelu",
           "glu", "softmax", "log_softmax", "softmin"]


def _tensor(x: Any, fn: str) -> Tensor:
    if not isinstance(x, Tensor):
        raise TypeError(f"{fn}(): argument 'input' must be Tensor, not {type(x).__name__}")
    return x


def _float(x: Tensor, fn: str) -> Tensor:
    if not x.dtype.is_floating_point:
        from clt.errors import DTypeError

        raise DTypeError(f"{fn}(): expected a floating point input, got {x.dtype.name}")
    return x


def _run(fn: Any, input: Tensor, inplace: bool, name: str) -> Tensor:
    if inplace:
        return apply_inplace(input, fn, name + "_")
    return fn(input)


def relu(input: Tensor, inplace: bool = False) -> Tensor:
    """``max(x, 0)``.

    Args:
        input: The input tensor.
        inplace: Whether to write the result into ``input`` (and return it).

    Returns:
        A tensor of ``input``'s shape (``input`` itself when ``inplace``).
    """
    return _run(E.relu, _tensor(input, "relu"), inplace, "relu")


def relu_(input: Tensor) -> Tensor:
    """In-place :func:`relu`.

    Args:
        input: The tensor to modify.

    Returns:
        ``input``, modified.
    """
    return relu(input, inplace=True)


def relu6(input: Tensor, inplace: bool = False) -> Tensor:
    """``min(max(x, 0), 6)``.

    Args:
        input: The input tensor.
        inplace: Whether to write the result into ``input`` (and return it).

    Returns:
        A tensor of ``input``'s shape (``input`` itself when ``inplace``).
    """
    return hardtanh(input, 0.0, 6.0, inplace)


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    """``x`` if ``x > 0`` else ``negative_slope * x``.

    Args:
        input: The input tensor.
        negative_slope: Slope for negative inputs.
        inplace: Whether to write the result into ``input`` (and return it).

    Returns:
        A tensor of ``input``'s shape (``input`` itself when ``inplace``).
    """
    _float(_tensor(input, "leaky_relu"), "leaky_relu")
    return _run(lambda t: activation("leaky_relu", t, float(negative_slope)), input, inplace,
                "leaky_relu")


def leaky_relu_(input: Tensor, negative_slope: float = 0.01) -> Tensor:
    """In-place :func:`leaky_relu`.

    Args:
        input: The tensor to modify.
        negative_slope: Slope for negative inputs.

    Returns:
        ``input``, modified.
    """
    return leaky_relu(input, negative_slope, True)


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """``x`` if ``x > 0`` else ``alpha * (exp(x) - 1)``.

    Args:
        input: The input tensor.
        alpha: Scale of the negative part.
        inplace: Whether to write the result into ``input`` (and return it).

    Returns:
        A tensor of ``input``'s shape (``input`` itself when ``inplace``).
    """
    _float(_tensor(input, "elu"), "elu")
    return _run(lambda t: activation("elu", t, float(alpha)), input, inplace, "elu")


def elu_(input: Tensor, alpha: float = 1.0) -> Tensor:
    """In-place :func:`elu`.

    Args:
        input: The tensor to modify.
        alpha: Scale of the negative part.

    Returns:
        ``input``, modified.
    """
    return elu(input, alpha, True)


def selu(input: Tensor, inplace: bool = False) -> Tensor:
    """Scaled ELU with the self-normalising constants (Klambauer et al., 2017).

    Args:
        input: The input tensor.
        inplace: Whether to write the result into ``input`` (and return it).

    Returns:
        A tensor of ``input``'s shape (``input`` itself when ``inplace``).
    """
    _float(_tensor(input, "selu"), "selu")
    return _run(lambda t: activation("selu", t), input, inplace, "selu")


def selu_(input: Tensor) -> Tensor:
    """In-place :func:`selu`.

    Args:
        input: The tensor to modify.

    Returns:
        ``input``, modified.
    """
    return selu(input, True)


def celu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """``max(0, x) + min(0, alpha * (exp(x / alpha) - 1))``.

    Args:
        input: The input tensor.
        alpha: Scale of the negative part.
        inplace: Whether to write the result into ``input`` (and return it).

    Returns:
        A tensor of ``input``'s shape (``input`` itself when ``inplace``).

    Raises:
        ZeroDivisionError: If ``alpha`` is 0.
    """
    _float(_tensor(input, "celu"), "celu")
    if alpha == 0:
        raise ZeroDivisionError("ZeroDivisionError: alpha cannot be 0 for CELU")
    alpha = float(alpha)

    def fn(t: Tensor) -> Tensor:
        if alpha == 1.0:
            return activation("elu", t, 1.0)
        # celu(x, a) == a * elu(x / a, 1): reuses the fused elu kernels
        return activation("elu", t / alpha, 1.0) * alpha
    return _run(fn, input, inplace, "celu")


def celu_(input: Tensor, alpha: float = 1.0) -> Tensor:
    """In-place :func:`celu`.

    Args:
        input: The tensor to modify.
        alpha: Scale of the negative part; must not be 0.

    Returns:
        ``input``, modified.

    Raises:
        ZeroDivisionError: If ``alpha`` is 0.
    """
    return celu(input, alpha, True)


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    """Gaussian error linear unit: ``x * Phi(x)``; ``approximate='tanh'`` uses the tanh form.

    Args:
        input: The input tensor.
        approximate: ``"none"`` (exact erf form) or ``"tanh"``.

    Returns:
        A tensor of ``input``'s shape.
    """
    _tensor(input, "gelu")
    if approximate == "none":
        return E.gelu(input)
    if approximate == "tanh":
        return E.gelu_tanh(input)
    raise ValueError(f"approximate argument must be either none or tanh, got {approximate!r}")


def silu(input: Tensor, inplace: bool = False) -> Tensor:
    """``x * sigmoid(x)`` (swish).

    Args:
        input: The input tensor.
        inplace: Whether to write the result into ``input`` (and return it).

    Returns:
        A tensor of ``input``'s shape (``input`` itself when ``inplace``).
    """
    return _run(E.silu, _tensor(input, "silu"), inplace, "silu")


def mish(input: Tensor, inplace: bool = False) -> Tensor:
    """``x * tanh(softplus(x))``.

    Args:
        input: The input tensor.
        inplace: Whether to write the result into ``input`` (and return it).

    Returns:
        A tensor of ``input``'s shape (``input`` itself when ``inplace``).
    """
    return _run(E.mish, _tensor(input, "mish"), inplace, "mish")


def sigmoid(input: Tensor) -> Tensor:
    """``1 / (1 + exp(-x))``.

    Args:
        input: The input tensor.

    Returns:
        A tensor of ``input``'s shape.
    """
    return E.sigmoid(_tensor(input, "sigmoid"))


def tanh(input: Tensor) -> Tensor:
    """Hyperbolic tangent.

    Args:
        input: The input tensor.

    Returns:
        A tensor of ``input``'s shape.
    """
    return E.tanh(_tensor(input, "tanh"))


def hardtanh(input: Tensor, min_val: float = -1.0, max_val: float = 1.0,
             inplace: bool = False) -> Tensor:
    """Clamp to ``[min_val, max_val]`` (gradient 1 strictly inside, 0 outside).

    Args:
        input: The input tensor.
        min_val: Lower clamp bound.
        max_val: Upper clamp bound.
        inplace: Whether to write the result into ``input`` (and return it).

    Returns:
        A tensor of ``input``'s shape (``input`` itself when ``inplace``).

    Raises:
        ValueError: If ``min_val > max_val``.
    """
    _float(_tensor(input, "hardtanh"), "hardtanh")
    if min_val > max_val:
        raise ValueError(f"hardtanh: min_val cannot be greater than max_val, got "
                         f"min_val={min_val} max_val={max_val}")
    return _run(lambda t: activation("hardtanh", t, float(min_val), float(max_val)), input,
                inplace, "hardtanh")


def hardtanh_(input: Tensor, min_val: float = -1.0, max_val: float = 1.0) -> Tensor:
    """In-place :func:`hardtanh`.

    Args:
        input: The tensor to modify.
        min_val: Lower clamp bound.
        max_val: Upper clamp bound.

    Returns:
        ``input``, modified.

    Raises:
        ValueError: If ``min_val > max_val``.
    """
    return hardtanh(input, min_val, max_val, True)


def hardsigmoid(input: Tensor, inplace: bool = False) -> Tensor:
    """``relu6(x + 3) / 6``.

    Args:
        input: The input tensor.
        inplace: Whether to write the result into ``input`` (and return it).

    Returns:
        A tensor of ``input``'s shape (``input`` itself when ``inplace``).
    """
    _float(_tensor(input, "hardsigmoid"), "hardsigmoid")
    return _run(lambda t: activation("hardsigmoid", t), input, inplace, "hardsigmoid")


def hardswish(input: Tensor, inplace: bool = False) -> Tensor:
    """``x * relu6(x + 3) / 6`` (Howard et al., 2019).

    Args:
        input: The input tensor.
        inplace: Whether to write the result into ``input`` (and return it).

    Returns:
        A tensor of ``input``'s shape (``input`` itself when ``inplace``).
    """
    _float(_tensor(input, "hardswish"), "hardswish")
    return _run(lambda t: activation("hardswish", t), input, inplace, "hardswish")


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """``log(1 + exp(beta * x)) / beta``, linear where ``beta * x > threshold``.

    Args:
        input: The input tensor.
        beta: Sharpness: ``log(1 + exp(beta * x)) / beta``.
        threshold: Above ``beta * x > threshold`` the output is ``x``.

    Returns:
        A tensor of ``input``'s shape.
    """
    _float(_tensor(input, "softplus"), "softplus")
    return activation("softplus", input, float(beta), float(threshold))


def softsign(input: Tensor) -> Tensor:
    """``x / (1 + |x|)``.

    Args:
        input: The input tensor.

    Returns:
        A tensor of ``input``'s shape.
    """
    _tensor(input, "softsign")
    return input / (E.abs(input) + 1)


def tanhshrink(input: Tensor) -> Tensor:
    """``x - tanh(x)``.

    Args:
        input: The input tensor.

    Returns:
        A tensor of ``input``'s shape.
    """
    _tensor(input, "tanhshrink")
    return input - E.tanh(input)


def softshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    """``x - lambd`` above ``lambd``, ``x + lambd`` below ``-lambd``, else 0.

    Args:
        input: The input tensor.
        lambd: The shrink threshold.

    Returns:
        A tensor of ``input``'s shape.
    """
    _float(_tensor(input, "softshrink"), "softshrink")
    if lambd < 0:
        raise ValueError(f"lambda must be greater or equal to 0, but found to be {lambd}.")
    return E.where(input > lambd, input - lambd, E.where(input < -lambd, input + lambd, 0.0))


def hardshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    """``x`` where ``|x| > lambd``, else 0.

    Args:
        input: The input tensor.
        lambd: The shrink threshold.

    Returns:
        A tensor of ``input``'s shape.
    """
    _float(_tensor(input, "hardshrink"), "hardshrink")
    return E.where(E.abs(input) > lambd, input, 0.0)


def threshold(input: Tensor, threshold: float, value: float, inplace: bool = False) -> Tensor:
    """``x`` where ``x > threshold``, else ``value``.

    Args:
        input: The input tensor.
        threshold: Values at or below this are replaced.
        value: The replacement value.
        inplace: Whether to write the result into ``input`` (and return it).

    Returns:
        A tensor of ``input``'s shape (``input`` itself when ``inplace``).
    """
    _float(_tensor(input, "threshold"), "threshold")
    return _run(lambda t: activation("threshold", t, float(threshold), float(value)), input,
                inplace, "threshold")


def threshold_(input: Tensor, threshold: float, value: float) -> Tensor:
    """In-place :func:`threshold`.

    Args:
        input: The tensor to modify.
        threshold: Values at or below this are replaced.
        value: The replacement value.

    Returns:
        ``input``, modified.
    """
    return globals()["threshold"](input, threshold, value, True)


def logsigmoid(input: Tensor) -> Tensor:
    """``log(sigmoid(x))``, computed stably.

    Args:
        input: The input tensor.

    Returns:
        A tensor of ``input``'s shape.
    """
    return E.logsigmoid(_tensor(input, "logsigmoid"))


def prelu(input: Tensor, weight: Tensor) -> Tensor:
    """``x`` if ``x > 0`` else ``weight * x``; ``weight`` has 1 element or one per channel
    (dim 1 of the input, dim 0 for 1-D input).

    Args:
        input: The input tensor.
        weight: The slope(s): 1 element, or one per channel.

    Returns:
        A tensor of ``input``'s shape.

    Raises:
        ShapeError: If ``weight`` is not 0-D/1-D or its size doesn't match the channels.
    """
    _float(_tensor(input, "prelu"), "prelu")
    _tensor(weight, "prelu")
    if weight.ndim > 1:
        raise ShapeError(f"prelu: weight must be 0-d or 1-d, got shape {tuple(weight.shape)}")
    n = weight.numel()
    if n != 1:
        channels = input.shape[1] if input.ndim >= 2 else (input.shape[0] if input.ndim else 1)
        if n != channels:
            raise ShapeError(f"Mismatch of parameter numbers and input channel size. Found "
                             f"parameter numbers = {n} and channel size = {channels}.")
        if input.ndim >= 2:
            weight = weight.reshape((n,) + (1,) * (input.ndim - 2))
    elif weight.ndim:
        weight = weight.reshape(())
    return E.where(input > 0, input, input * weight)


def rrelu(input: Tensor, lower: float = 1.0 / 8, upper: float = 1.0 / 3,
          training: bool = False, inplace: bool = False) -> Tensor:
    """Randomised leaky ReLU: a slope from U(lower, upper) per element when training, the
    mean slope ``(lower + upper) / 2`` otherwise.

    Args:
        input: The input tensor.
        lower: Lower bound of the random slope.
        upper: Upper bound of the random slope.
        training: Whether to draw random slopes (True) or use the mean slope.
        inplace: Whether to write the result into ``input`` (and return it).

    Returns:
        A tensor of ``input``'s shape (``input`` itself when ``inplace``).
    """
    _float(_tensor(input, "rrelu"), "rrelu")
    if not training:
        return leaky_relu(input, (lower + upper) / 2, inplace)
    from clt.ops import random as R
    from clt.ops.array import Array

    slope = Tensor(R.uniform_(Array.empty(input.device, tuple(input.shape), input.dtype),
                              lower, upper))
    return _run(lambda t: E.where(t >= 0, t, t * slope), input, inplace, "rrelu")


def glu(input: Tensor, dim: int = -1) -> Tensor:
    """Gated linear unit: ``a * sigmoid(b)`` where ``a, b`` are the halves of ``dim``.

    Args:
        input: The input tensor.
        dim: The dim that is halved.

    Returns:
        A tensor with ``dim`` halved.

    Raises:
        ShapeError: If ``input`` is 0-D or the size of ``dim`` is odd.
        IndexError: If ``dim`` is out of range.
    """
    _tensor(input, "glu")
    if input.ndim == 0:
        raise ShapeError("glu does not support scalars because halving size must be even")
    d = dim % input.ndim if -input.ndim <= dim < input.ndim else None
    if d is None:
        raise IndexError(f"Dimension out of range (expected to be in range of "
                         f"[{-input.ndim}, {input.ndim - 1}], but got {dim})")
    n = input.shape[d]
    if n % 2:
        raise ShapeError(f"Halving dimension must be even, but dimension {d} is size {n}")
    a, b = input.narrow(d, 0, n // 2), input.narrow(d, n // 2, n // 2)
    return a * E.sigmoid(b)


def _softmax_dim(name: str, ndim: int, stacklevel: int) -> int:
    warnings.warn(f"Implicit dimension choice for {name} has been deprecated. Change the call "
                  "to include dim=X as an argument.", stacklevel=stacklevel)
    return 0 if ndim in (0, 1, 3) else 1


def _reduce_family() -> Any:
    from clt.functions import reduce as Rf   # the reductions family (softmax, logsumexp, ...)

    return Rf


def softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3,
            dtype: Any = None) -> Tensor:
    """``exp(x) / sum(exp(x))`` along ``dim`` (computed stably).

    Args:
        input: The input tensor.
        dim: The dim to normalise over (None: PyTorch's legacy choice, with a warning).
        dtype: If given, ``input`` is cast to this dtype first.

    Returns:
        A tensor of ``input``'s shape.
    """
    _tensor(input, "softmax")
    if dim is None:
        dim = _softmax_dim("softmax", input.ndim, _stacklevel)
    return _reduce_family().softmax(input, dim, dtype=dtype)


def log_softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3,
                dtype: Any = None) -> Tensor:
    """``x - logsumexp(x)`` along ``dim``.

    Args:
        input: The input tensor.
        dim: The dim to normalise over (None: PyTorch's legacy choice, with a warning).
        dtype: If given, ``input`` is cast to this dtype first.

    Returns:
        A tensor of ``input``'s shape.
    """
    _tensor(input, "log_softmax")
    if dim is None:
        dim = _softmax_dim("log_softmax", input.ndim, _stacklevel)
    return _reduce_family().log_softmax(input, dim, dtype=dtype)


def softmin(input: Tensor, dim: int | None = None, _stacklevel: int = 3,
            dtype: Any = None) -> Tensor:
    """``softmax(-x)`` along ``dim``.

    Args:
        input: The input tensor.
        dim: The dim to normalise over (None: PyTorch's legacy choice, with a warning).
        dtype: If given, ``input`` is cast to this dtype first.

    Returns:
        A tensor of ``input``'s shape.
    """
    _tensor(input, "softmin")
    if dim is None:
        dim = _softmax_dim("softmin", input.ndim, _stacklevel)
    return _reduce_family().softmax(-input, dim, dtype=dtype)
