"""``F.conv1d``, ``F.conv2d``, ``F.conv_transpose1d``, ``F.conv_transpose2d``.

Every argument is checked here, with PyTorch's wording, before any kernel runs; the work is done
by the differentiable functions of :mod:`clt.functions.conv`. 1-D convolutions are 2-D ones with a
height of 1; unbatched inputs gain a batch dim of 1.
"""
from __future__ import annotations

from typing import Any

from clt.errors import DeviceError, DTypeError, ShapeError
from clt.functions import conv as C
from clt.ops.conv import conv_out_size
from clt.tensor import Tensor

__all__ = ["conv1d", "conv2d", "conv_transpose1d", "conv_transpose2d"]


def ntuple(value: Any, n: int, name: str, fn: str) -> tuple[int, ...]:
    """``value`` as an n-tuple of ints (an int is repeated), with a clear error otherwise.

    Args:
        value: An int, or a sequence of ``n`` ints.
        n: The tuple length.
        name: The argument name, for the message.
        fn: The function name, for the message.

    Returns:
        The tuple.

    Raises:
        TypeError: If ``value`` is neither an int nor a sequence of ints.
        ValueError: If the sequence has the wrong length.
    """
    if isinstance(value, bool):
        raise TypeError(f"{fn}(): {name} must be an int or a tuple of {n} ints, got {value!r}")
    if isinstance(value, int) or hasattr(value, "__index__") and not isinstance(value, Tensor):
        return (int(value),) * n
    try:
        out = tuple(int(v) for v in value)
    except TypeError:
        raise TypeError(f"{fn}(): {name} must be an int or a tuple of {n} ints, got "
                        f"{value!r}") from None
    if len(out) == 1:
        out = out * n
    if len(out) != n:
        raise ValueError(f"{fn}(): expected {name} to be a single integer value or a list of {n} "
                         f"values to match the convolution dimensions, but got {name}="
                         f"{list(out)}")
    return out


def _size(t: Tensor) -> str:
    return "[" + ", ".join(str(s) for s in t.shape) + "]"


def check_operands(fn: str, input: Any, weight: Any, bias: Any) -> None:
    """Types, dtypes and devices of input, weight and bias.

    Args:
        fn: The function name, for the message.
        input: The input tensor.
        weight: The weight tensor.
        bias: The bias tensor, or None.

    Raises:
        TypeError: If an operand is not a Tensor.
        DTypeError: If the input is not floating point or the dtypes differ.
        DeviceError: If the operands are on different devices.
    """
    for name, t in (("input", input), ("weight", weight)):
        if not isinstance(t, Tensor):
            raise TypeError(f"{fn}(): argument '{name}' must be Tensor, not {type(t).__name__}")
    if bias is not None and not isinstance(bias, Tensor):
        raise TypeError(f"{fn}(): argument 'bias' must be Tensor, not {type(bias).__name__}")
    if not input.dtype.is_floating_point:
        raise DTypeError(f"{fn}(): expected a floating point input, got {input.dtype.name}")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is None:
            continue
        if t.dtype is not input.dtype:
            raise DTypeError(f"Input type ({input.dtype.name}) and {name} type "
                             f"({t.dtype.name}) should be the same")
        if t.device is not input.device:
            raise DeviceError(f"{fn}(): input is on {input.device} but {name} is on "
                              f"{t.device}; move them with .to(device)")


def _check_geometry(fn: str, stride: tuple, dilation: tuple, groups: Any) -> None:
    if isinstance(groups, bool) or not isinstance(groups, int):
        raise TypeError(f"{fn}(): groups must be an int, got {groups!r}")
    if groups <= 0:
        raise ValueError("non-positive groups is not supported")
    if any(s <= 0 for s in stride):
        raise ValueError("non-positive stride is not supported")
    if any(d <= 0 for d in dilation):
        raise ValueError("dilation should be greater than zero")


def _resolve_padding(fn: str, padding: Any, kernel: tuple, stride: tuple, dilation: tuple,
                     nd: int) -> tuple[int, ...]:
    """(top, bottom, left, right) padding; 'same' may be asymmetric, as in PyTorch."""
    if isinstance(padding, str):
        if padding == "valid":
            return (0,) * 4
        if padding == "same":
            if any(s != 1 for s in stride):
                raise ValueError("padding='same' is not supported for strided convolutions")
            pads = []
            for k, d in zip(kernel, dilation):
                total = d * (k - 1)
                pads += [total // 2, total - total // 2]
            return tuple(pads)
        raise ValueError(f"Invalid padding string '{padding}', should be one of "
                         "{'valid', 'same'}")
    p = ntuple(padding, nd, "padding", fn)
    if any(v < 0 for v in p):
        raise ValueError("negative padding is not supported")
    if nd == 1:
        return (0, 0, p[0], p[0])
    return (p[0], p[0], p[1], p[1])


def _batched(fn: str, input: Tensor, nd: int) -> tuple[Tensor, bool]:
    if input.ndim == nd + 2:
        return input, False
    if input.ndim == nd + 1:
        return input.unsqueeze(0), True
    raise ShapeError(f"Expected {nd + 1}D (unbatched) or {nd + 2}D (batched) input to {fn}, "
                     f"but got input of size: {_size(input)}")


def _conv(fn: str, nd: int, input: Tensor, weight: Tensor, bias: Tensor | None, stride: Any,
          padding: Any, dilation: Any, groups: int) -> Tensor:
    from clt.amp import autocast_args

    input, weight, bias = autocast_args(fn, input, weight, bias)
    check_operands(fn, input, weight, bias)
    if weight.ndim != nd + 2:
        raise ShapeError(f"{fn}(): weight must be {nd + 2}-D (out_channels, in_channels/groups"
                         f", {'kH, kW' if nd == 2 else 'kW'}), got weight of size "
                         f"{_size(weight)}")
    stride = ntuple(stride, nd, "stride", fn)
    dilation = ntuple(dilation, nd, "dilation", fn)
    _check_geometry(fn, stride, dilation, groups)
    x, unbatched = _batched(fn, input, nd)
    kernel = tuple(weight.shape[2:])
    pad4 = _resolve_padding(fn, padding, kernel, stride, dilation, nd)
    cout, cg = weight.shape[0], weight.shape[1]
    if cout % groups:
        raise ShapeError(f"Given groups={groups}, expected weight to be divisible by {groups} "
                         f"at dimension 0, but got weight of size {_size(weight)} instead")
    if x.shape[1] != cg * groups:
        raise ShapeError(f"Given groups={groups}, weight of size {_size(weight)}, expected "
                         f"input{_size(x)} to have {cg * groups} channels, but got "
                         f"{x.shape[1]} channels instead")
    if bias is not None and (bias.ndim != 1 or bias.shape[0] != cout):
        raise ShapeError(f"Given weight of size {_size(weight)}, expected bias to be "
                         f"1-dimensional with {cout} elements, but got bias of size "
                         f"{_size(bias)} instead")
    if nd == 1:
        x = x.unsqueeze(2)
        weight = weight.unsqueeze(2)
        stride, dilation, kernel = (1,) + stride, (1,) + dilation, (1,) + kernel
    H, W = x.shape[2], x.shape[3]
    padded = (H + pad4[0] + pad4[1], W + pad4[2] + pad4[3])
    span = tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation))
    if padded[0] < span[0] or padded[1] < span[1]:
        dims = padded[nd == 1:]
        spans = span[nd == 1:]
        raise ShapeError(f"Calculated padded input size per channel: "
                         f"({' x '.join(str(v) for v in dims)}). Kernel size: "
                         f"({' x '.join(str(v) for v in spans)}). Kernel size can't be "
                         "greater than actual input size")
    oh = conv_out_size(H, kernel[0], stride[0], pad4[0], pad4[1], dilation[0])
    ow = conv_out_size(W, kernel[1], stride[1], pad4[2], pad4[3], dilation[1])
    spec = C.ConvSpec(stride, (pad4[0], pad4[2]), dilation, groups)
    y = C.Conv2dFn.apply(x, weight, bias, spec, (oh, ow))
    if nd == 1:
        y = y.squeeze(2)
    return y.squeeze(0) if unbatched else y


def conv2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: Any = 1,
           padding: Any = 0, dilation: Any = 1, groups: int = 1) -> Tensor:
    """2-D convolution (cross-correlation) over an input of shape (N, C, H, W) or (C, H, W).

    Args:
        weight: (out_channels, in_channels / groups, kH, kW).
        bias: optional (out_channels,).
        stride: int or (sH, sW).
        dilation: int or (dH, dW).
        padding: int, (pH, pW), ``"valid"`` or ``"same"`` (stride 1; asymmetric for even
            kernels, extra padding at the bottom/right, as PyTorch).
        groups: split input and output channels into this many groups (``groups ==
            in_channels`` is a depthwise convolution, computed by a direct kernel).

    Returns:
        (N, out_channels, H_out, W_out).

    Raises:
        ShapeError: the input's rank or channels do not fit the weight, the bias size is wrong,
            or the padded input is smaller than the (dilated) kernel.
        DTypeError, DeviceError: operands differ in dtype or device.
        ValueError: non-positive stride, dilation or groups, negative padding, bad padding
            string.
    """
    return _conv("conv2d", 2, input, weight, bias, stride, padding, dilation, groups)


def conv1d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: Any = 1,
           padding: Any = 0, dilation: Any = 1, groups: int = 1) -> Tensor:
    """1-D convolution over (N, C, L) or (C, L); weight (out_channels, in_channels / groups,
    kW). Arguments as :func:`conv2d`.

    Args:
        input: Input (N, C_in, L) or (C_in, L).
        weight: Weight (out_channels, in_channels / groups, kW).
        bias: Optional bias (out_channels,).
        stride: An int or (sW,).
        padding: An int, (pW,), ``"valid"`` or ``"same"``.
        dilation: An int or (dW,).
        groups: Number of channel groups.

    Returns:
        The output (N, out_channels, L_out) or (out_channels, L_out).
    """
    return _conv("conv1d", 1, input, weight, bias, stride, padding, dilation, groups)


def _conv_transpose(fn: str, nd: int, input: Tensor, weight: Tensor, bias: Tensor | None,
                    stride: Any, padding: Any, output_padding: Any, groups: int, dilation: Any
                    ) -> Tensor:
    from clt.amp import autocast_args

    input, weight, bias = autocast_args(fn, input, weight, bias)
    check_operands(fn, input, weight, bias)
    if weight.ndim != nd + 2:
        raise ShapeError(f"{fn}(): weight must be {nd + 2}-D (in_channels, out_channels/groups"
                         f", {'kH, kW' if nd == 2 else 'kW'}), got weight of size "
                         f"{_size(weight)}")
    stride = ntuple(stride, nd, "stride", fn)
    dilation = ntuple(dilation, nd, "dilation", fn)
    pad = ntuple(padding, nd, "padding", fn)
    opad = ntuple(output_padding, nd, "output_padding", fn)
    _check_geometry(fn, stride, dilation, groups)
    if any(p < 0 for p in pad):
        raise ValueError("negative padding is not supported")
    if any(p < 0 for p in opad):
        raise ValueError("negative output_padding is not supported")
    for op, s, d in zip(opad, stride, dilation):
        if op >= s and op >= d:
            raise ValueError(f"output padding must be smaller than either stride or dilation, "
                             f"but got output_padding={list(opad)}, stride={list(stride)}, "
                             f"dilation={list(dilation)}")
    x, unbatched = _batched(fn, input, nd)
    cin, cog = weight.shape[0], weight.shape[1]
    if cin % groups:
        raise ShapeError(f"Given groups={groups}, expected weight to be divisible by {groups} "
                         f"at dimension 0, but got weight of size {_size(weight)} instead")
    if x.shape[1] != cin:
        raise ShapeError(f"Given transposed=1, weight of size {_size(weight)}, expected "
                         f"input{_size(x)} to have {cin} channels, but got {x.shape[1]} "
                         "channels instead")
    cout = cog * groups
    if bias is not None and (bias.ndim != 1 or bias.shape[0] != cout):
        raise ShapeError(f"Given transposed=1, weight of size {_size(weight)}, expected bias "
                         f"to be 1-dimensional with {cout} elements, but got bias of size "
                         f"{_size(bias)} instead")
    kernel = tuple(weight.shape[2:])
    if nd == 1:
        x, weight = x.unsqueeze(2), weight.unsqueeze(2)
        stride, dilation, pad, opad = ((1,) + stride, (1,) + dilation, (0,) + pad,
                                       (0,) + opad)
        kernel = (1,) + kernel
    out_hw = tuple((i - 1) * s - 2 * p + d * (k - 1) + op + 1 for i, s, p, d, k, op in zip(
        x.shape[2:], stride, pad, dilation, kernel, opad))
    if any(o <= 0 for o in out_hw):
        raise ShapeError(f"{fn}(): the output size {list(out_hw[nd == 1:])} computed for input "
                         f"of size {_size(input)} is not positive")
    spec = C.ConvSpec(stride, pad, dilation, groups)
    y = C.ConvInputGradFn.apply(x, weight, spec, out_hw)
    if bias is not None:
        y = y + bias.reshape(1, cout, 1, 1)
    if nd == 1:
        y = y.squeeze(2)
    return y.squeeze(0) if unbatched else y


def conv_transpose2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: Any = 1,
                     padding: Any = 0, output_padding: Any = 0, groups: int = 1,
                     dilation: Any = 1) -> Tensor:
    """2-D transposed convolution (the gradient of :func:`conv2d` with respect to its input).

    Args:
        weight: (in_channels, out_channels / groups, kH, kW).
        output_padding: extra size added to one side of the output (< stride or < dilation).

    Returns:
        (N, out_channels, H_out, W_out) with
        H_out = (H - 1) * stride - 2 * padding + dilation * (kH - 1) + output_padding + 1.
    """
    return _conv_transpose("conv_transpose2d", 2, input, weight, bias, stride, padding,
                           output_padding, groups, dilation)


def conv_transpose1d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: Any = 1,
                     padding: Any = 0, output_padding: Any = 0, groups: int = 1,
                     dilation: Any = 1) -> Tensor:
    """1-D transposed convolution over (N, C, L) or (C, L); see :func:`conv_transpose2d`.

    Args:
        input: Input (N, C_in, L) or (C_in, L).
        weight: Weight (in_channels, out_channels / groups, kW).
        bias: Optional bias (out_channels,).
        stride: An int or (sW,).
        padding: An int or (pW,).
        output_padding: Extra size added to one side of the output.
        groups: Number of channel groups.
        dilation: An int or (dW,).

    Returns:
        The output (N, out_channels, L_out) or (out_channels, L_out).
    """
    return _conv_transpose("conv_transpose1d", 1, input, weight, bias, stride, padding,
                           output_padding, groups, dilation)
