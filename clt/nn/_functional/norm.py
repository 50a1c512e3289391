"""Normalisation: ``F.batch_norm``, ``F.layer_norm``, ``F.group_norm``, ``F.instance_norm``.

Statistics, normalisation and the affine transform run as fused kernels (a reduction kernel per
channel or row, then one pass over the data); backward likewise.
"""
from __future__ import annotations

import math
from typing import Any, Sequence

from clt.errors import DeviceError, DTypeError, ShapeError
from clt.functions import conv as C
from clt.tensor import Tensor
from clt.amp import autocast_args

__all__ = ["batch_norm", "layer_norm", "group_norm", "instance_norm"]


def _dims(shape: Sequence[int]) -> str:
    return "[" + ", ".join(str(s) for s in shape) + "]"


def _check(fn: str, input: Any, **tensors: Any) -> None:
    if not isinstance(input, Tensor):
        raise TypeError(f"{fn}(): argument 'input' must be Tensor, not {type(input).__name__}")
    if not input.dtype.is_floating_point:
        raise DTypeError(f"{fn}(): expected a floating point input, got {input.dtype.name}")
    for name, t in tensors.items():
        if t is None:
            continue
        if not isinstance(t, Tensor):
            raise TypeError(f"{fn}(): argument '{name}' must be Tensor, not {type(t).__name__}")
        if t.dtype is not input.dtype:
            raise DTypeError(f"{fn}(): expected {name} to have dtype {input.dtype.name} like "
                             f"the input, got {t.dtype.name}")
        if t.device is not input.device:
            raise DeviceError(f"{fn}(): input is on {input.device} but {name} is on "
                              f"{t.device}")


def _fill_affine(weight: Tensor | None, bias: Tensor | None, n: int, like: Tensor
                 ) -> tuple[Tensor | None, Tensor | None]:
    """The kernels take both affine tensors or neither: fill in ones / zeros for a missing one."""
    from clt.functions.creation import ones, zeros

    if weight is None and bias is not None:
        weight = ones(tuple(bias.shape), dtype=like.dtype, device=like.device)
    if bias is None and weight is not None:
        bias = zeros(tuple(weight.shape), dtype=like.dtype, device=like.device)
    return weight, bias


def batch_norm(input: Tensor, running_mean: Tensor | None, running_var: Tensor | None,
               weight: Tensor | None = None, bias: Tensor | None = None,
               training: bool = False, momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Batch normalisation of (N, C, *) over every dim but C.

    In training (or without running statistics) the batch mean and biased variance normalise;
    the running statistics are updated in place as ``(1 - momentum) * r + momentum * batch``
    with the unbiased batch variance. Otherwise the running statistics are used.

    Args:
        input: Input (N, C, *).
        running_mean: Running mean (C,), or None.
        running_var: Running variance (C,), or None.
        weight: Optional scale (C,).
        bias: Optional shift (C,).
        training: Whether to use (and update the running statistics with) batch statistics.
        momentum: Weight of the batch statistics in the running-statistics update.
        eps: Added to the variance.

    Returns:
        The normalised tensor, of ``input``'s shape.

    Raises:
        ShapeError: fewer than 2 dims, parameter/statistics sizes that differ from C, or a
            single value per channel in training.
    """
    input, weight, bias = autocast_args("batch_norm", input, weight, bias)
    _check("batch_norm", input, running_mean=running_mean, running_var=running_var,
           weight=weight, bias=bias)
    if input.ndim < 2:
        raise ShapeError(f"batch_norm: expected input with at least 2 dims (N, C, *), got "
                         f"input of size {_dims(input.shape)}")
    c = input.shape[1]
    for name, t in (("running_mean", running_mean), ("running_var", running_var),
                    ("weight", weight), ("bias", bias)):
        if t is not None and t.numel() != c:
            raise ShapeError(f"{name} should contain {c} elements not {t.numel()}")
    if (running_mean is None) != (running_var is None):
        raise ValueError("batch_norm: running_mean and running_var must both be given or both "
                         "be None")
    use_batch = training or running_mean is None
    if use_batch and input.numel() // max(c, 1) <= 1 and input.numel():
        raise ShapeError(f"Expected more than 1 value per channel when training, got input size "
                         f"{_dims(input.shape)}")
    if input.numel() == 0:   # an empty batch: empty output, statistics untouched (PyTorch)
        from clt.functions.elementwise import clone

        return clone(input)
    weight, bias = _fill_affine(weight, bias, c, input)
    # training with running stats updates them; evaluation reads them; without any, the batch
    # statistics normalise in both modes (PyTorch's track_running_stats=False)
    return C.BatchNormFn.apply(input, weight, bias, running_mean, running_var, use_batch,
                               float(momentum), float(eps))


def layer_norm(input: Tensor, normalized_shape: Sequence[int] | int,
               weight: Tensor | None = None, bias: Tensor | None = None,
               eps: float = 1e-5) -> Tensor:
    """Normalise over the trailing ``normalized_shape`` dims, then ``* weight + bias``
    (each of ``normalized_shape``).

    Args:
        input: Input whose trailing dims are ``normalized_shape``.
        normalized_shape: The trailing dims to normalise over.
        weight: Optional scale of shape ``normalized_shape``.
        bias: Optional shift of shape ``normalized_shape``.
        eps: Added to the variance.

    Returns:
        The normalised tensor, of ``input``'s shape.
    """
    input, weight, bias = autocast_args("layer_norm", input, weight, bias)
    _check("layer_norm", input, weight=weight, bias=bias)
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(
        int(s) for s in normalized_shape)
    k = len(shape)
    if k == 0 or input.ndim < k or tuple(input.shape[input.ndim - k:]) != shape:
        raise ShapeError(f"Given normalized_shape={list(shape)}, expected input with shape "
                         f"[*, {', '.join(str(s) for s in shape)}], but got input of size"
                         f"{_dims(input.shape)}")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and tuple(t.shape) != shape:
            raise ShapeError(f"layer_norm: expected {name} of shape {list(shape)}, got "
                             f"{_dims(t.shape)}")
    weight, bias = _fill_affine(weight, bias, math.prod(shape), input)
    rows = input.numel() // math.prod(shape) if math.prod(shape) else 0
    return C.RowNormFn.apply(input, weight, bias, rows, 1, 1, float(eps), True)


def group_norm(input: Tensor, num_groups: int, weight: Tensor | None = None,
               bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    """Normalise (N, C, *) over each group of C / num_groups channels (and all positions),
    then apply a per-channel ``weight`` and ``bias``.

    Args:
        input: Input (N, C, *).
        num_groups: Number of groups; must divide C.
        weight: Optional per-channel scale (C,).
        bias: Optional per-channel shift (C,).
        eps: Added to the variance.

    Returns:
        The normalised tensor, of ``input``'s shape.
    """
    input, weight, bias = autocast_args("group_norm", input, weight, bias)
    _check("group_norm", input, weight=weight, bias=bias)
    if input.ndim < 2:
        raise ShapeError(f"group_norm: expected input with at least 2 dims (N, C, *), got "
                         f"input of size {_dims(input.shape)}")
    if isinstance(num_groups, bool) or not isinstance(num_groups, int) or num_groups <= 0:
        raise ValueError(f"group_norm: num_groups must be a positive int, got {num_groups!r}")
    n, c = input.shape[0], input.shape[1]
    if c % num_groups:
        raise ShapeError(f"Expected number of channels in input to be divisible by num_groups, "
                         f"but got input of shape {_dims(input.shape)} and num_groups="
                         f"{num_groups}")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and tuple(t.shape) != (c,):
            raise ShapeError(f"group_norm: expected {name} to be a vector of size equal to the "
                             f"number of channels in input ({c}), but got {name} of shape "
                             f"{_dims(t.shape)}")
    weight, bias = _fill_affine(weight, bias, c, input)
    hw = math.prod(input.shape[2:])
    return C.RowNormFn.apply(input, weight, bias, n * num_groups, num_groups, hw, float(eps),
                             False)


def instance_norm(input: Tensor, running_mean: Tensor | None = None,
                  running_var: Tensor | None = None, weight: Tensor | None = None,
                  bias: Tensor | None = None, use_input_stats: bool = True,
                  momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Normalise each (sample, channel) plane of (N, C, *) on its own statistics.

    Only ``use_input_stats=True`` without running statistics is supported (the default of
    ``InstanceNorm`` layers).

    Args:
        input: Input (N, C, *) with at least 3 dims.
        running_mean: Must be None.
        running_var: Must be None.
        weight: Optional per-channel scale (C,).
        bias: Optional per-channel shift (C,).
        use_input_stats: Must be True.
        momentum: Unused (no running statistics).
        eps: Added to the variance.

    Returns:
        The normalised tensor, of ``input``'s shape.
    """
    _check("instance_norm", input, weight=weight, bias=bias)
    if running_mean is not None or running_var is not None or not use_input_stats:
        raise NotImplementedError("instance_norm: running statistics are not supported; use "
                                  "batch_norm or group_norm")
    if input.ndim < 3:
        raise ShapeError(f"instance_norm: expected input with at least 3 dims (N, C, *), got "
                         f"input of size {_dims(input.shape)}")
    return group_norm(input, input.shape[1], weight, bias, eps)
