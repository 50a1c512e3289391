"""Parameter initialisation (``clt.nn.init``), with PyTorch's names, formulas and defaults.

Every function fills its tensor in place under ``no_grad`` from the device random generator
(``clt.ops.random``, Philox: the same seed gives the same numbers on every device), and returns
the tensor. ``generator=`` takes a ``clt.Generator``; the default is the global one that
``clt.manual_seed`` seeds. ``orthogonal_`` is the exception that computes on the host: it draws
its normal matrix on the device, then takes a QR decomposition with numpy (init is not a hot
path and clt has no device QR).
"""
from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from clt.autograd.grad_mode import no_grad
from clt.ops import elementwise as ew
from clt.ops import random as R
from clt.ops import transfer
from clt.tensor import Tensor

__all__ = ["calculate_gain", "uniform_", "normal_", "trunc_normal_", "constant_", "ones_",
           "zeros_", "eye_", "dirac_", "xavier_uniform_", "xavier_normal_", "kaiming_uniform_",
           "kaiming_normal_", "orthogonal_", "sparse_"]

_LINEAR = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
           "conv_transpose3d", "sigmoid")


def _check(tensor: Any, fn: str) -> Tensor:
    if not isinstance(tensor, Tensor):
        raise TypeError(f"{fn}: expected a Tensor, got {type(tensor).__name__}")
    return tensor


def _check_float(tensor: Tensor, fn: str) -> None:
    if not tensor.dtype.is_floating_point:
        from clt.errors import DTypeError

        raise DTypeError(f"{fn}: expected a floating point tensor, got {tensor.dtype.name}")


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The recommended gain for a nonlinearity (``linear``, ``conv*``, ``sigmoid``: 1,
    ``tanh``: 5/3, ``relu``: sqrt(2), ``leaky_relu``: sqrt(2 / (1 + slope^2)), ``selu``: 3/4).

    Args:
        nonlinearity: The nonlinearity's name.
        param: Negative slope for ``leaky_relu`` (default 0.01).

    Returns:
        The gain.

    Raises:
        ValueError: If the nonlinearity is unknown or ``param`` is not a number.
    """
    if nonlinearity in _LINEAR:
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif isinstance(param, (int, float)) and not isinstance(param, bool):
            slope = param
        else:
            raise ValueError(f"negative_slope {param} not a valid number")
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity == "selu":
        # a value that keeps SELU nets self-normalising in practice (PyTorch's choice)
        return 3.0 / 4
    raise ValueError(f"Unsupported nonlinearity {nonlinearity}")


def _calculate_fan_in_and_fan_out(tensor: Tensor) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight: dims 1 and 0 times the receptive field (dims 2..)."""
    if tensor.dim() < 2:
        raise ValueError("Fan in and fan out can not be computed for tensor with fewer than 2 "
                         "dimensions")
    receptive = 1
    for s in tensor.shape[2:]:
        receptive *= s
    return tensor.shape[1] * receptive, tensor.shape[0] * receptive


def _calculate_correct_fan(tensor: Tensor, mode: str) -> int:
    mode = mode.lower()
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"Mode {mode} not supported, please use one of fan_in, fan_out")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0,
             generator: Any = None) -> Tensor:
    """Fill with values from U(a, b).

    Args:
        tensor: The tensor to fill in place (no autograd record).
        a: Lower bound.
        b: Upper bound.
        generator: A clt Generator (or None for the default one).

    Returns:
        ``tensor``.
    """
    _check(tensor, "uniform_")
    with no_grad():
        R.uniform_(tensor._data, a, b, generator)
    return tensor


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0,
            generator: Any = None) -> Tensor:
    """Fill with values from N(mean, std^2).

    Args:
        tensor: The tensor to fill in place (no autograd record).
        mean: Mean.
        std: Standard deviation.
        generator: A clt Generator (or None for the default one).

    Returns:
        ``tensor``.
    """
    _check(tensor, "normal_")
    with no_grad():
        R.normal_(tensor._data, mean, std, generator)
    return tensor


def _horner(coeffs: tuple[float, ...], var: str) -> str:
    expr = f"(T){coeffs[0]!r}"
    for c in coeffs[1:]:
        expr = f"((T){c!r} + ({expr}) * {var})"
    return expr


# Giles, "Approximating the erfinv function" (GPU Computing Gems, 2011): two polynomials in
# w = -log(1 - x^2); ~1e-7 relative error, plenty for initialisation in float64 too.
_W = "(-log(((T)1 - a) * ((T)1 + a)))"
_ERFINV = (f"(({_W} < (T)5 ? "
           + _horner((2.81022636e-08, 3.43273939e-07, -3.5233877e-06, -4.39150654e-06,
                      0.00021858087, -0.00125372503, -0.00417768164, 0.246640727, 1.50140941),
                     f"({_W} - (T)2.5)")
           + " : "
           + _horner((-0.000200214257, 0.000100950558, 0.00134934322, -0.00367342844,
                      0.00573950773, -0.0076224613, 0.00943887047, 1.00167406, 2.83297682),
                     f"(sqrt({_W}) - (T)3)")
           + ") * a)")


def trunc_normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0, a: float = -2.0,
                  b: float = 2.0, generator: Any = None) -> Tensor:
    """Fill with N(mean, std^2) truncated to [a, b] (inverse-CDF sampling, as PyTorch).

    Args:
        tensor: The tensor to fill in place (no autograd record).
        mean: Mean of the untruncated normal.
        std: Standard deviation of the untruncated normal.
        a: Lower cut-off.
        b: Upper cut-off.
        generator: A clt Generator (or None for the default one).

    Returns:
        ``tensor``.
    """
    _check(tensor, "trunc_normal_")
    _check_float(tensor, "trunc_normal_")
    if not a < b:
        raise ValueError(f"trunc_normal_: expected a < b, got a={a} b={b}")

    def norm_cdf(x: float) -> float:
        return (1.0 + math.erf(x / math.sqrt(2.0))) / 2.0

    if mean < a - 2 * std or mean > b + 2 * std:
        warnings.warn("mean is more than 2 std from [a, b] in nn.init.trunc_normal_. The "
                      "distribution of values may be incorrect.", stacklevel=2)
    lo, hi = norm_cdf((a - mean) / std), norm_cdf((b - mean) / std)
    x = tensor._data
    with no_grad():
        R.uniform_(x, 2 * lo - 1, 2 * hi - 1, generator)
        # erfinv, scale, shift and clamp in one pass (the clamp catches rounding at the ends)
        expr = f"CLT_MIN(CLT_MAX({_ERFINV} * s0 + s1, s2), s3)"
        ew.map_op("trunc_normal", expr, [x, std * math.sqrt(2.0), mean, a, b], x.dtype,
                  x.dtype, out=x)
    return tensor


def constant_(tensor: Tensor, val: float) -> Tensor:
    """Fill with ``val``.

    Args:
        tensor: The tensor to fill in place (no autograd record).
        val: The fill value.

    Returns:
        ``tensor``.
    """
    _check(tensor, "constant_")
    with no_grad():
        ew.fill_(tensor._data, val)
    return tensor


def ones_(tensor: Tensor) -> Tensor:
    """Fill with ones.

    Args:
        tensor: The tensor to fill in place (no autograd record).

    Returns:
        ``tensor``.
    """
    return constant_(tensor, 1.0)


def zeros_(tensor: Tensor) -> Tensor:
    """Fill with zeros.

    Args:
        tensor: The tensor to fill in place (no autograd record).

    Returns:
        ``tensor``.
    """
    return constant_(tensor, 0.0)


def eye_(tensor: Tensor) -> Tensor:
    """Fill a 2-D tensor with the identity (ones on the main diagonal).

    Args:
        tensor: The tensor to fill in place (no autograd record).

    Returns:
        ``tensor``.

    Raises:
        ValueError: If ``tensor`` is not 2-D.
    """
    _check(tensor, "eye_")
    if tensor.ndim != 2:
        raise ValueError("Only tensors with 2 dimensions are supported")
    x = tensor._data
    with no_grad():
        ew.fill_(x, 0)
        k = min(x.shape)
        if k:
            ew.fill_(x.view((k,), (x.strides[0] + x.strides[1],), x.offset), 1)
    return tensor


def dirac_(tensor: Tensor, groups: int = 1) -> Tensor:
    """Fill a 3/4/5-D conv weight with the Dirac delta: convolving with it keeps the input
    channels (per group).

    Args:
        tensor: The tensor to fill in place (no autograd record).
        groups: Number of groups; dim 0 must be divisible by it.

    Returns:
        ``tensor``.

    Raises:
        ValueError: If ``tensor`` is not 3-5-D or dim 0 is not divisible by ``groups``.
    """
    _check(tensor, "dirac_")
    if tensor.ndim not in (3, 4, 5):
        raise ValueError("Only tensors with 3, 4, or 5 dimensions are supported")
    sizes = tensor.shape
    if groups < 1 or sizes[0] % groups != 0:
        raise ValueError("dim 0 must be divisible by groups")
    out_per_group = sizes[0] // groups
    k = min(out_per_group, sizes[1])
    x = tensor._data
    with no_grad():
        ew.fill_(x, 0)
        centre = sum((s // 2) * st for s, st in zip(sizes[2:], x.strides[2:]))
        for g in range(groups):
            if k:
                off = x.offset + g * out_per_group * x.strides[0] + centre
                ew.fill_(x.view((k,), (x.strides[0] + x.strides[1],), off), 1)
    return tensor


def xavier_uniform_(tensor: Tensor, gain: float = 1.0, generator: Any = None) -> Tensor:
    """Glorot uniform: U(-b, b) with b = gain * sqrt(6 / (fan_in + fan_out)).

    Args:
        tensor: The tensor to fill in place (no autograd record).
        gain: Scale factor.
        generator: A clt Generator (or None for the default one).

    Returns:
        ``tensor``.
    """
    fan_in, fan_out = _calculate_fan_in_and_fan_out(_check(tensor, "xavier_uniform_"))
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    bound = math.sqrt(3.0) * std
    return uniform_(tensor, -bound, bound, generator)


def xavier_normal_(tensor: Tensor, gain: float = 1.0, generator: Any = None) -> Tensor:
    """Glorot normal: N(0, std^2) with std = gain * sqrt(2 / (fan_in + fan_out)).

    Args:
        tensor: The tensor to fill in place (no autograd record).
        gain: Scale factor.
        generator: A clt Generator (or None for the default one).

    Returns:
        ``tensor``.
    """
    fan_in, fan_out = _calculate_fan_in_and_fan_out(_check(tensor, "xavier_normal_"))
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    return normal_(tensor, 0.0, std, generator)


def kaiming_uniform_(tensor: Tensor, a: float = 0, mode: str = "fan_in",
                     nonlinearity: str = "leaky_relu", generator: Any = None) -> Tensor:
    """He uniform: U(-b, b) with b = gain * sqrt(3 / fan) (gain from ``nonlinearity``, ``a``).

    Args:
        tensor: The tensor to fill in place (no autograd record).
        a: Negative slope of the leaky ReLU (used by ``calculate_gain``).
        mode: ``"fan_in"`` (keeps forward variance) or ``"fan_out"`` (keeps backward variance).
        nonlinearity: Name passed to :func:`calculate_gain`.
        generator: A clt Generator (or None for the default one).

    Returns:
        ``tensor``.

    Raises:
        ValueError: If ``mode`` or ``nonlinearity`` is not recognised.
    """
    _check(tensor, "kaiming_uniform_")
    if 0 in tuple(tensor.shape):
        warnings.warn("Initializing zero-element tensors is a no-op", stacklevel=2)
        return tensor
    fan = _calculate_correct_fan(tensor, mode)
    gain = calculate_gain(nonlinearity, a)
    bound = math.sqrt(3.0) * gain / math.sqrt(fan)
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(tensor: Tensor, a: float = 0, mode: str = "fan_in",
                    nonlinearity: str = "leaky_relu", generator: Any = None) -> Tensor:
    """He normal: N(0, std^2) with std = gain / sqrt(fan).

    Args:
        tensor: The tensor to fill in place (no autograd record).
        a: Negative slope of the leaky ReLU (used by ``calculate_gain``).
        mode: ``"fan_in"`` (keeps forward variance) or ``"fan_out"`` (keeps backward variance).
        nonlinearity: Name passed to :func:`calculate_gain`.
        generator: A clt Generator (or None for the default one).

    Returns:
        ``tensor``.

    Raises:
        ValueError: If ``mode`` or ``nonlinearity`` is not recognised.
    """
    _check(tensor, "kaiming_normal_")
    if 0 in tuple(tensor.shape):
        warnings.warn("Initializing zero-element tensors is a no-op", stacklevel=2)
        return tensor
    fan = _calculate_correct_fan(tensor, mode)
    std = calculate_gain(nonlinearity, a) / math.sqrt(fan)
    return normal_(tensor, 0.0, std, generator)


def orthogonal_(tensor: Tensor, gain: float = 1.0, generator: Any = None) -> Tensor:
    """A (semi-)orthogonal matrix (Saxe et al. 2013), reshaped to ``tensor`` (>= 2 dims).

    The normal matrix comes from the device generator; its QR decomposition runs on the host
    with numpy (documented exception: init is not a hot path).

    Args:
        tensor: The tensor to fill in place (no autograd record).
        gain: Scale factor.
        generator: A clt Generator (or None for the default one).

    Returns:
        ``tensor``.

    Raises:
        ValueError: If ``tensor`` has fewer than 2 dims.
    """
    _check(tensor, "orthogonal_")
    _check_float(tensor, "orthogonal_")
    if tensor.ndim < 2:
        raise ValueError("Only tensors with 2 or more dimensions are supported")
    if tensor.numel() == 0:
        return tensor
    rows = tensor.shape[0]
    cols = tensor.numel() // rows
    x = tensor._data
    with no_grad():
        from clt.ops.array import Array

        noise = R.normal_(Array.empty(x.device, (rows, cols), x.dtype), 0.0, 1.0, generator)
        flat = transfer.to_numpy(noise).astype(np.float64)
        if rows < cols:
            flat = flat.T
        q, r = np.linalg.qr(flat)
        # make Q unique (uniformly distributed) by fixing the signs of R's diagonal
        d = np.sign(np.diag(r))
        d[d == 0] = 1
        q = q * d
        if rows < cols:
            q = q.T
        q = np.ascontiguousarray((q * gain).reshape(tuple(tensor.shape)).astype(x.dtype.np))
        ew.copy_(x, transfer.from_numpy(x.device, q, x.dtype))
    return tensor


def sparse_(tensor: Tensor, sparsity: float, std: float = 0.01, generator: Any = None
            ) -> Tensor:
    """A 2-D matrix from N(0, std^2) with a fraction ``sparsity`` of each column zeroed.

    The zeroed rows per column come from the device generator's stream, permuted on the host.

    Args:
        tensor: The tensor to fill in place (no autograd record).
        sparsity: Fraction of each column to zero.
        std: Standard deviation of the non-zero values.
        generator: A clt Generator (or None for the default one).

    Returns:
        ``tensor``.

    Raises:
        ValueError: If ``tensor`` is not 2-D.
    """
    _check(tensor, "sparse_")
    if tensor.ndim != 2:
        raise ValueError("Only tensors with 2 dimensions are supported")
    rows, cols = tensor.shape
    num_zeros = int(math.ceil(sparsity * rows))
    x = tensor._data
    with no_grad():
        R.normal_(x, 0.0, std, generator)
        if num_zeros and cols:
            host = transfer.to_numpy(x)
            for c in range(cols):
                perm = transfer.to_numpy(R.randperm(x.device, rows, generator=generator))
                host[perm[:num_zeros], c] = 0
            ew.copy_(x, transfer.from_numpy(x.device, np.ascontiguousarray(host), x.dtype))
    return tensor
