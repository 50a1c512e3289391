"""``F.linear``, ``F.bilinear`` and ``F.identity``-style helpers."""
from __future__ import annotations

from typing import Any

from clt.amp import autocast_args
from clt.errors import DeviceError, DTypeError, ShapeError
from clt.tensor import Tensor

__all__ = ["linear", "bilinear"]


def _check_operands(fn: str, input: Any, weight: Any, bias: Any) -> None:
    for name, t in (("input", input), ("weight", weight)):
        if not isinstance(t, Tensor):
            raise TypeError(f"{fn}(): argument '{name}' must be Tensor, not {type(t).__name__}")
    if bias is not None and not isinstance(bias, Tensor):
        raise TypeError(f"{fn}(): argument 'bias' must be Tensor, not {type(bias).__name__}")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is None:
            continue
        if t.dtype is not input.dtype:
            raise DTypeError(f"{fn}(): expected input and {name} to have the same dtype, but "
                             f"got input {input.dtype.name} and {name} {t.dtype.name}")
        if t.device is not input.device:
            raise DeviceError(f"{fn}(): input is on {input.device} but {name} is on "
                              f"{t.device}; move them with .to(device)")


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``input @ weight.T + bias``: one GEMM with the bias added in its epilogue.

    Args:
        input: Input (*, in_features).
        weight: Weight (out_features, in_features).
        bias: Optional bias (out_features,).

    Returns:
        The output (*, out_features).

    Shape:
        input (*, in_features), weight (out_features, in_features), bias (out_features,);
        output (*, out_features).
    """
    input, weight, bias = autocast_args("linear", input, weight, bias)   # under clt.autocast
    _check_operands("linear", input, weight, bias)
    if weight.ndim not in (1, 2):
        raise ShapeError(f"linear(): weight must be 1-D or 2-D, got shape {tuple(weight.shape)}")
    if input.ndim == 0:
        raise ShapeError("linear(): input must have at least 1 dimension, got a 0-d tensor")
    if input.shape[-1] != weight.shape[-1]:
        raise ShapeError(f"linear(): input of shape {tuple(input.shape)} has last dimension "
                         f"{input.shape[-1]}, but weight of shape {tuple(weight.shape)} "
                         f"expects in_features={weight.shape[-1]}")
    if bias is not None and weight.ndim == 2 and bias.ndim and bias.shape[-1] not in (
            1, weight.shape[0]):
        raise ShapeError(f"linear(): bias of shape {tuple(bias.shape)} does not match "
                         f"out_features={weight.shape[0]}")
    from clt.functions import linalg   # the matmul family

    return linalg.linear(input, weight, bias)


def bilinear(input1: Tensor, input2: Tensor, weight: Tensor, bias: Tensor | None = None
             ) -> Tensor:
    """``y[..., o] = sum_ij x1[..., i] W[o, i, j] x2[..., j] + b[o]``.

    Args:
        input1: First input (*, in1).
        input2: Second input (*, in2).
        weight: Weight (out, in1, in2).
        bias: Optional bias (out,).

    Returns:
        The output (*, out).

    Shape:
        input1 (*, in1), input2 (*, in2), weight (out, in1, in2), bias (out,); output (*, out).
    """
    _check_operands("bilinear", input1, weight, bias)
    _check_operands("bilinear", input2, weight, None)
    if weight.ndim != 3:
        raise ShapeError(f"bilinear(): weight must be 3-D (out, in1, in2), got shape "
                         f"{tuple(weight.shape)}")
    out_f, in1, in2 = weight.shape
    if input1.ndim == 0 or input1.shape[-1] != in1:
        raise ShapeError(f"bilinear(): input1 of shape {tuple(input1.shape)} must end in "
                         f"in1_features={in1}")
    if input2.ndim == 0 or input2.shape[-1] != in2:
        raise ShapeError(f"bilinear(): input2 of shape {tuple(input2.shape)} must end in "
                         f"in2_features={in2}")
    if tuple(input1.shape[:-1]) != tuple(input2.shape[:-1]):
        raise ShapeError(f"bilinear(): input1 {tuple(input1.shape)} and input2 "
                         f"{tuple(input2.shape)} must have the same leading dimensions")
    if bias is not None and tuple(bias.shape) != (out_f,):
        raise ShapeError(f"bilinear(): bias must have shape ({out_f},), got "
                         f"{tuple(bias.shape)}")
    lead = tuple(input1.shape[:-1])
    x1 = input1.reshape(-1, in1)
    x2 = input2.reshape(-1, in2)
    # (N, in1) @ (in1, out * in2) -> (N, out, in2), then contract in2 against x2: one GEMM
    w = weight.permute(1, 0, 2).reshape(in1, out_f * in2)
    t = x1.matmul(w).reshape(-1, out_f, in2)
    y = t.matmul(x2.unsqueeze(-1)).squeeze(-1)
    if bias is not None:
        y = y + bias
    return y.reshape(lead + (out_f,))
