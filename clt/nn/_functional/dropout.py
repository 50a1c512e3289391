"""Dropout family of ``clt.nn.functional``: masks come from the device generator (Philox).

``dropout`` is one fused kernel forward (mask and scaled output together) and one fused kernel
backward (``grad * mask / (1 - p)``). The channel-wise variants draw one Bernoulli value per
(sample, channel) and broadcast it.
"""
from __future__ import annotations

from typing import Any

from clt.autograd.function import Function
from clt.autograd.grad_mode import STATE
from clt.errors import DTypeError, ShapeError
from clt.functions._util import needs_grad
from clt.functions.elementwise import apply_inplace, to_dtype
from clt.ops import elementwise as ew
from clt.ops import random as R
from clt.ops.array import Array
from clt.tensor import Tensor

__all__ = ["dropout", "dropout1d", "dropout2d", "dropout3d", "alpha_dropout",
           "feature_alpha_dropout"]

# SELU's negative saturation value, -scale * alpha (Klambauer et al., 2017)
_SELU_SAT = 1.7580993408473766


def check_p(p: Any) -> float:
    """Validate a dropout probability (as the layers' constructors and F do).

    Args:
        p: The probability.

    Returns:
        ``p`` as a float.

    Raises:
        TypeError: If ``p`` is not a number (bools included).
        ValueError: If ``p`` is outside [0, 1].
    """
    if isinstance(p, bool) or not isinstance(p, (int, float)):
        raise TypeError(f"dropout probability must be a number, got {type(p).__name__}")
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    return float(p)


def _check_input(input: Any, fn: str) -> Tensor:
    if not isinstance(input, Tensor):
        raise TypeError(f"{fn}(): argument 'input' must be Tensor, not {type(input).__name__}")
    if not input.dtype.is_floating_point:
        raise DTypeError(f"{fn}(): expected a floating point input, got {input.dtype.name}")
    return input


class _Dropout(Function):
    @staticmethod
    def forward(ctx, x: Tensor, p: float, generator: Any) -> Array:
        out, mask = R.dropout(x._data, p, generator)
        ctx.mask = Tensor(mask)
        ctx.scale = 1.0 / (1.0 - p)
        return out

    @staticmethod
    def backward(ctx, g: Tensor) -> tuple:
        if STATE.enabled:   # create_graph: differentiable form
            return g * to_dtype(ctx.mask, g.dtype) * ctx.scale, None, None
        dt = g.dtype
        return Tensor(ew.map_op("dropout_bw", "a * b * s0", [g._data, ctx.mask._data,
                                                             ctx.scale], dt, dt)), None, None


def _zeros_times(input: Tensor) -> Tensor:
    # p == 1 drops everything; multiplying keeps the graph (gradient 0), as PyTorch does
    return input * 0.0


def dropout(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False,
            generator: Any = None) -> Tensor:
    """Zero each element with probability ``p`` and scale the rest by ``1 / (1 - p)``.

    Identity when ``training`` is False or ``p == 0``.

    Args:
        input: A floating-point tensor.
        p: Drop probability, in [0, 1].
        training: Whether to apply dropout (False returns ``input`` unchanged).
        inplace: Whether to write the result into ``input``.
        generator: A clt Generator for the mask (None: the default one).

    Returns:
        A tensor of ``input``'s shape.

    Raises:
        TypeError: If ``p`` is not a number or ``input`` is not a Tensor.
        ValueError: If ``p`` is outside [0, 1].
        DTypeError: If ``input`` is not floating point.
    """
    p = check_p(p)
    _check_input(input, "dropout")
    if not training or p == 0.0:
        return input

    def fn(t: Tensor) -> Tensor:
        if p == 1.0:
            return _zeros_times(t)
        if needs_grad(t):
            return _Dropout.apply(t, p, generator)
        return Tensor(R.dropout(t._data, p, generator)[0])
    return apply_inplace(input, fn, "dropout_") if inplace else fn(input)


def _feature_noise(input: Tensor, batched_dims: int, p: float, generator: Any) -> Tensor:
    """A Bernoulli(1 - p) mask of shape (N, C, 1, ...) (or (C, 1, ...) unbatched)."""
    keep = batched_dims
    shape = tuple(input.shape[:keep]) + (1,) * (input.ndim - keep)
    return Tensor(R.bernoulli_(Array.empty(input.device, shape, input.dtype), 1.0 - p,
                               generator))


def _feature_dropout(input: Tensor, p: float, training: bool, inplace: bool, fn: str,
                     ndims: tuple[int, int], generator: Any) -> Tensor:
    p = check_p(p)
    _check_input(input, fn)
    if input.ndim not in ndims:
        raise ShapeError(f"{fn}: Expected {ndims[0]}D or {ndims[1]}D input, but received a "
                         f"{input.ndim}D input of shape {tuple(input.shape)}")
    if not training or p == 0.0:
        return input
    batched = 2 if input.ndim == ndims[1] else 1

    def run(t: Tensor) -> Tensor:
        if p == 1.0:
            return _zeros_times(t)
        noise = _feature_noise(t, batched, p, generator)
        return t * (noise * (1.0 / (1.0 - p)))
    return apply_inplace(input, run, fn + "_") if inplace else run(input)


def dropout1d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False,
              generator: Any = None) -> Tensor:
    """Zero whole channels of (N, C, L) or (C, L) input with probability ``p``.

    Args:
        input: A floating-point tensor.
        p: Drop probability, in [0, 1].
        training: Whether to apply dropout (False returns ``input`` unchanged).
        inplace: Whether to write the result into ``input``.
        generator: A clt Generator for the mask (None: the default one).

    Returns:
        A tensor of ``input``'s shape.

    Raises:
        TypeError: If ``p`` is not a number or ``input`` is not a Tensor.
        ValueError: If ``p`` is outside [0, 1].
        DTypeError: If ``input`` is not floating point.
        ShapeError: If the input rank is not one this variant accepts.
    """
    return _feature_dropout(input, p, training, inplace, "dropout1d", (2, 3), generator)


def dropout2d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False,
              generator: Any = None) -> Tensor:
    """Zero whole channels of (N, C, H, W) or (C, H, W) input with probability ``p``.

    Args:
        input: A floating-point tensor.
        p: Drop probability, in [0, 1].
        training: Whether to apply dropout (False returns ``input`` unchanged).
        inplace: Whether to write the result into ``input``.
        generator: A clt Generator for the mask (None: the default one).

    Returns:
        A tensor of ``input``'s shape.

    Raises:
        TypeError: If ``p`` is not a number or ``input`` is not a Tensor.
        ValueError: If ``p`` is outside [0, 1].
        DTypeError: If ``input`` is not floating point.
        ShapeError: If the input rank is not one this variant accepts.
    """
    return _feature_dropout(input, p, training, inplace, "dropout2d", (3, 4), generator)


def dropout3d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False,
              generator: Any = None) -> Tensor:
    """Zero whole channels of (N, C, D, H, W) or (C, D, H, W) input with probability ``p``.

    Args:
        input: A floating-point tensor.
        p: Drop probability, in [0, 1].
        training: Whether to apply dropout (False returns ``input`` unchanged).
        inplace: Whether to write the result into ``input``.
        generator: A clt Generator for the mask (None: the default one).

    Returns:
        A tensor of ``input``'s shape.

    Raises:
        TypeError: If ``p`` is not a number or ``input`` is not a Tensor.
        ValueError: If ``p`` is outside [0, 1].
        DTypeError: If ``input`` is not floating point.
        ShapeError: If the input rank is not one this variant accepts.
    """
    return _feature_dropout(input, p, training, inplace, "dropout3d", (4, 5), generator)


def _alpha(input: Tensor, p: float, training: bool, inplace: bool, feature: bool, fn: str,
           generator: Any) -> Tensor:
    """Alpha dropout: dropped values become SELU's saturation value, then an affine map keeps
    the mean and variance (PyTorch's formulas)."""
    p = check_p(p)
    _check_input(input, fn)
    if not training or p == 0.0:
        return input

    def run(t: Tensor) -> Tensor:
        if p == 1.0:
            return _zeros_times(t)
        if feature:
            if t.ndim < 2:
                raise ShapeError(f"{fn}: expected at least 2-D input (N, C, *), got shape "
                                 f"{tuple(t.shape)}")
            mask = _feature_noise(t, 2, p, generator)
        else:
            mask = Tensor(R.bernoulli_(Array.empty(t.device, tuple(t.shape), t.dtype), 1.0 - p,
                                       generator))
        a = 1.0 / ((_SELU_SAT ** 2 * p + 1) * (1 - p)) ** 0.5
        b = (mask - 1.0) * (_SELU_SAT * a) + _SELU_SAT * a * p
        return t * (mask * a) + b
    return apply_inplace(input, run, fn + "_") if inplace else run(input)


def alpha_dropout(input: Tensor, p: float = 0.5, training: bool = False,
                  inplace: bool = False, generator: Any = None) -> Tensor:
    """Dropout for SELU networks: keeps zero mean and unit variance.

    Args:
        input: A floating-point tensor.
        p: Drop probability, in [0, 1].
        training: Whether to apply dropout (False returns ``input`` unchanged).
        inplace: Whether to write the result into ``input``.
        generator: A clt Generator for the mask (None: the default one).

    Returns:
        A tensor of ``input``'s shape.

    Raises:
        TypeError: If ``p`` is not a number or ``input`` is not a Tensor.
        ValueError: If ``p`` is outside [0, 1].
        DTypeError: If ``input`` is not floating point.
    """
    return _alpha(input, p, training, inplace, False, "alpha_dropout", generator)


def feature_alpha_dropout(input: Tensor, p: float = 0.5, training: bool = False,
                          inplace: bool = False, generator: Any = None) -> Tensor:
    """Alpha dropout of whole channels.

    Args:
        input: A floating-point tensor.
        p: Drop probability, in [0, 1].
        training: Whether to apply dropout (False returns ``input`` unchanged).
        inplace: Whether to write the result into ``input``.
        generator: A clt Generator for the mask (None: the default one).

    Returns:
        A tensor of ``input``'s shape.

    Raises:
        TypeError: If ``p`` is not a number or ``input`` is not a Tensor.
        ValueError: If ``p`` is outside [0, 1].
        DTypeError: If ``input`` is not floating point.
        ShapeError: If the input rank is not one this variant accepts.
    """
    return _alpha(input, p, training, inplace, True, "feature_alpha_dropout", generator)
