"""Convolution layers: Conv1d, Conv2d, ConvTranspose1d, ConvTranspose2d."""
from __future__ import annotations

import math
from typing import Any, Sequence

from clt.functions.creation import empty
from clt.nn import functional as F
from clt.nn import init
from clt.nn._functional.conv import ntuple
from clt.nn.module import Module
from clt.nn.parameter import Parameter
from clt.tensor import Tensor

__all__ = ["Conv1d", "Conv2d", "ConvTranspose1d", "ConvTranspose2d"]

_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


def _positive_int(layer: str, name: str, v: Any) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        raise TypeError(f"{layer}: {name} must be an int, got {v!r}")
    if v <= 0:
        raise ValueError(f"{layer}: {name} must be positive, got {v}")
    return v


class _ConvNd(Module):
    """Shared state of the convolution layers (PyTorch's ``_ConvNd``)."""

    _nd = 2
    _transposed = False

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any,
                 padding: Any, dilation: Any, groups: int, bias: bool, padding_mode: str,
                 output_padding: Any = 0, device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        name, nd = type(self).__name__, self._nd
        _positive_int(name, "in_channels", in_channels)
        _positive_int(name, "out_channels", out_channels)
        if isinstance(groups, bool) or not isinstance(groups, int) or groups <= 0:
            raise ValueError("groups must be a positive integer")
        if in_channels % groups != 0:
            raise ValueError("in_channels must be divisible by groups")
        if out_channels % groups != 0:
            raise ValueError("out_channels must be divisible by groups")
        self.kernel_size = ntuple(kernel_size, nd, "kernel_size", name)
        self.stride = ntuple(stride, nd, "stride", name)
        self.dilation = ntuple(dilation, nd, "dilation", name)
        self.output_padding = ntuple(output_padding, nd, "output_padding", name)
        if any(k <= 0 for k in self.kernel_size):
            raise ValueError(f"{name}: kernel_size must be positive, got {self.kernel_size}")
        if any(s <= 0 for s in self.stride):
            raise ValueError(f"{name}: stride must be positive, got {self.stride}")
        if any(d <= 0 for d in self.dilation):
            raise ValueError(f"{name}: dilation must be positive, got {self.dilation}")
        if isinstance(padding, str):
            if padding not in ("valid", "same"):
                raise ValueError(f"Invalid padding string {padding!r}, should be one of "
                                 "{'valid', 'same'}")
            if padding == "same" and any(s != 1 for s in self.stride):
                raise ValueError("padding='same' is not supported for strided convolutions")
            self.padding = padding
        else:
            self.padding = ntuple(padding, nd, "padding", name)
            if any(p < 0 for p in self.padding):
                raise ValueError(f"{name}: padding must be non-negative, got {self.padding}")
        if padding_mode not in _PADDING_MODES:
            raise ValueError(f"padding_mode must be one of {set(_PADDING_MODES)}, but got "
                             f"padding_mode='{padding_mode}'")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.groups, self.padding_mode, self.transposed = groups, padding_mode, self._transposed
        shape = ((in_channels, out_channels // groups) if self._transposed
                 else (out_channels, in_channels // groups)) + self.kernel_size
        self.weight = Parameter(empty(shape, device=device, dtype=dtype))
        if bias:
            self.bias = Parameter(empty(out_channels, device=device, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # kaiming_uniform_(a=sqrt(5)) = U(-1/sqrt(fan_in), 1/sqrt(fan_in)), PyTorch's default;
        # see https://github.com/pytorch/pytorch/issues/57109
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in = self.weight.shape[1] * math.prod(self.kernel_size)
            if fan_in != 0:
                bound = 1 / math.sqrt(fan_in)
                init.uniform_(self.bias, -bound, bound)

    def extra_repr(self) -> str:
        nd = self._nd
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"stride={self.stride}")
        if self.padding != (0,) * nd:
            s += f", padding={self.padding}"
        if self.dilation != (1,) * nd:
            s += f", dilation={self.dilation}"
        if self.output_padding != (0,) * nd:
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s

    def _padded(self, input: Tensor) -> tuple[Tensor, Any]:
        """For padding modes other than zeros: the explicitly padded input and padding 0."""
        if self.padding_mode == "zeros":
            return input, self.padding
        pad = getattr(F, "pad", None)
        if pad is None:
            raise NotImplementedError(f"padding_mode='{self.padding_mode}' needs F.pad, which "
                                      "this build of clt does not have")
        if self.padding == "valid":
            return input, 0
        pads: list[int] = []
        for d, k, p in zip(reversed(self.dilation), reversed(self.kernel_size),
                           reversed(self.padding if self.padding != "same"
                                    else (None,) * self._nd)):
            if p is None:   # 'same'
                total = d * (k - 1)
                pads += [total // 2, total - total // 2]
            else:
                pads += [p, p]
        return pad(input, tuple(pads), mode=self.padding_mode), 0


class Conv2d(_ConvNd):
    """2-D convolution over (N, C_in, H, W) or (C_in, H, W) inputs.

    Args:
        in_channels: input channels (divisible by ``groups``).
        out_channels: output channels (divisible by ``groups``).
        kernel_size: int or (h, w).
        stride: int or (h, w).
        dilation: int or (h, w).
        padding: int, (h, w), ``"valid"`` or ``"same"`` (stride 1).
        groups: channel groups (``groups == in_channels``: depthwise).
        bias: learnable bias (default True).
        padding_mode: ``"zeros"`` or ``"reflect"``, ``"replicate"``, ``"circular"`` (these use
            ``F.pad``).

    Shape:
        Input (N, C_in, H, W); output (N, C_out, H_out, W_out) with
        H_out = floor((H + 2 * padding - dilation * (kernel - 1) - 1) / stride + 1).
    """

    _nd = 2

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1,
                 padding: Any = 0, dilation: Any = 1, groups: int = 1, bias: bool = True,
                 padding_mode: str = "zeros", device: Any = None, dtype: Any = None) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, padding_mode, 0, device, dtype)

    def forward(self, input: Tensor) -> Tensor:
        """Apply ``F.conv2d`` with this layer's weight, bias and settings (non-zero padding modes
        pad first)."""
        x, padding = self._padded(input)
        return F.conv2d(x, self.weight, self.bias, self.stride, padding, self.dilation,
                        self.groups)


class Conv1d(_ConvNd):
    """1-D convolution over (N, C_in, L) or (C_in, L) inputs; arguments as :class:`Conv2d`."""

    _nd = 1

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1,
                 padding: Any = 0, dilation: Any = 1, groups: int = 1, bias: bool = True,
                 padding_mode: str = "zeros", device: Any = None, dtype: Any = None) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, padding_mode, 0, device, dtype)

    def forward(self, input: Tensor) -> Tensor:
        """Apply ``F.conv1d`` with this layer's weight, bias and settings (non-zero padding modes
        pad first)."""
        x, padding = self._padded(input)
        return F.conv1d(x, self.weight, self.bias, self.stride, padding, self.dilation,
                        self.groups)


class _ConvTransposeNd(_ConvNd):
    _transposed = True

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any,
                 padding: Any, output_padding: Any, groups: int, bias: bool, dilation: Any,
                 padding_mode: str, device: Any, dtype: Any) -> None:
        if padding_mode != "zeros":
            raise ValueError(f'Only "zeros" padding mode is supported for '
                             f"{type(self).__name__}")
        if isinstance(padding, str):
            raise ValueError(f"{type(self).__name__}: padding must be an int or a tuple, got "
                             f"{padding!r}")
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, padding_mode, output_padding, device, dtype)

    def _output_padding(self, input: Tensor, output_size: Sequence[int] | None) -> tuple:
        if output_size is None:
            return self.output_padding
        nd = self._nd
        size = list(output_size)
        if len(size) == nd + 2 or len(size) == nd + 1 and input.ndim == nd + 1:
            size = size[-nd:]
        if len(size) != nd:
            raise ValueError(f"ConvTranspose{nd}D: for {input.ndim}D input, output_size must "
                             f"have {nd} or {nd + 2} elements (got {len(output_size)})")
        spatial = tuple(input.shape[-nd:])
        mins = [(spatial[d] - 1) * self.stride[d] - 2 * self.padding[d]
                + self.dilation[d] * (self.kernel_size[d] - 1) + 1 for d in range(nd)]
        maxs = [mins[d] + self.stride[d] - 1 for d in range(nd)]
        for d in range(nd):
            if not mins[d] <= size[d] <= maxs[d]:
                raise ValueError(f"requested an output size of {size}, but valid sizes range "
                                 f"from {mins} to {maxs} (for an input of {list(spatial)})")
        return tuple(size[d] - mins[d] for d in range(nd))


class ConvTranspose2d(_ConvTransposeNd):
    """2-D transposed convolution ("deconvolution"), the adjoint of :class:`Conv2d`.

    Shape:
        Input (N, C_in, H, W); output (N, C_out, H_out, W_out) with
        H_out = (H - 1) * stride - 2 * padding + dilation * (kernel - 1) + output_padding + 1.
        ``forward(input, output_size)`` picks output_padding to reach ``output_size``.
    """

    _nd = 2

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1,
                 padding: Any = 0, output_padding: Any = 0, groups: int = 1, bias: bool = True,
                 dilation: Any = 1, padding_mode: str = "zeros", device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride, padding,
                         output_padding, groups, bias, dilation, padding_mode, device, dtype)

    def forward(self, input: Tensor, output_size: Sequence[int] | None = None) -> Tensor:
        """Apply ``F.conv_transpose2d``; ``output_size`` (optional) picks the output padding."""
        op = self._output_padding(input, output_size)
        return F.conv_transpose2d(input, self.weight, self.bias, self.stride, self.padding, op,
                                  self.groups, self.dilation)


class ConvTranspose1d(_ConvTransposeNd):
    """1-D transposed convolution over (N, C_in, L); see :class:`ConvTranspose2d`."""

    _nd = 1

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1,
                 padding: Any = 0, output_padding: Any = 0, groups: int = 1, bias: bool = True,
                 dilation: Any = 1, padding_mode: str = "zeros", device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride, padding,
                         output_padding, groups, bias, dilation, padding_mode, device, dtype)

    def forward(self, input: Tensor, output_size: Sequence[int] | None = None) -> Tensor:
        """Apply ``F.conv_transpose1d``; ``output_size`` (optional) picks the output padding."""
        op = self._output_padding(input, output_size)
        return F.conv_transpose1d(input, self.weight, self.bias, self.stride, self.padding, op,
                                  self.groups, self.dilation)
