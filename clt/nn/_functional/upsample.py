"""Resizing: ``F.interpolate`` (nearest, nearest-exact, linear, bilinear) and the
``F.upsample*`` aliases."""
from __future__ import annotations

import math
from typing import Any

from clt.errors import DTypeError, ShapeError
from clt.functions import conv as C
from clt.tensor import Tensor

__all__ = ["interpolate", "upsample", "upsample_nearest", "upsample_bilinear"]

_MODES = {"nearest": ("nearest", 1 | 2), "nearest-exact": ("nearest_exact", 1 | 2),
          "linear": ("bilinear", 1), "bilinear": ("bilinear", 2)}
_UNSUPPORTED = ("bicubic", "trilinear", "area")


def _dims(t: Tensor) -> str:
    return "[" + ", ".join(str(s) for s in t.shape) + "]"


def interpolate(input: Tensor, size: Any = None, scale_factor: Any = None,
                mode: str = "nearest", align_corners: bool | None = None,
                recompute_scale_factor: bool | None = None, antialias: bool = False) -> Tensor:
    """Resize (N, C, L) or (N, C, H, W) inputs, as ``torch.nn.functional.interpolate``.

    Args:
        size: output spatial size (int or tuple); exclusive with ``scale_factor``.
        scale_factor: multiplier(s) of the spatial size; the output size is
            ``floor(in * scale)``, and the scale itself maps output to input coordinates unless
            ``recompute_scale_factor`` is True.
        mode: ``"nearest"`` (PyTorch's legacy rounding), ``"nearest-exact"``, ``"linear"`` (3-D
            input) or ``"bilinear"`` (4-D input).
        align_corners: for linear modes, map corner pixels onto each other (default False).

    Raises:
        ShapeError: input rank does not fit the mode; ValueError: bad size/scale arguments;
        NotImplementedError: modes or options clt does not implement.
    """
    if not isinstance(input, Tensor):
        raise TypeError(f"interpolate(): argument 'input' must be Tensor, not "
                        f"{type(input).__name__}")
    if not input.dtype.is_floating_point:
        raise DTypeError(f"interpolate(): expected a floating point input, got "
                         f"{input.dtype.name}")
    if mode in _UNSUPPORTED:
        raise NotImplementedError(f"interpolate(): mode '{mode}' is not implemented in clt "
                                  f"(supported: {', '.join(_MODES)})")
    if mode not in _MODES:
        raise ValueError(f"interpolate(): unknown mode '{mode}'; expected one of "
                         f"{', '.join(_MODES)}")
    if antialias:
        raise NotImplementedError("interpolate(): antialias=True is not implemented")
    kernel_mode, ranks = _MODES[mode]
    nd = input.ndim - 2
    if nd not in (1, 2) or not (ranks & nd):
        raise ShapeError(f"interpolate(): mode '{mode}' expects a "
                         f"{'3-D' if ranks == 1 else '4-D' if ranks == 2 else '3-D or 4-D'} "
                         f"input (N, C, ...), got input of size {_dims(input)}")
    if align_corners is not None and kernel_mode != "bilinear":
        raise ValueError("align_corners option can only be set with the interpolating modes: "
                         "linear | bilinear | bicubic | trilinear")
    if (size is None) == (scale_factor is None):
        raise ValueError("only one of size or scale_factor should be defined" if size is not None
                         else "either size or scale_factor should be defined")
    in_sizes = tuple(input.shape[2:])
    scales: tuple[float | None, ...]
    if size is not None:
        sizes = (size,) * nd if isinstance(size, int) else tuple(int(s) for s in size)
        if len(sizes) != nd:
            raise ValueError(f"Input and output must have the same number of spatial "
                             f"dimensions, but got input with spatial dimensions of "
                             f"{list(in_sizes)} and output size of {list(sizes)}.")
        scales = (None,) * nd
    else:
        sf = (scale_factor,) * nd if isinstance(scale_factor, (int, float)) else tuple(
            scale_factor)
        if len(sf) != nd:
            raise ValueError(f"Input and scale_factor must have the same number of spatial "
                             f"dimensions, but got input with spatial dimensions of "
                             f"{list(in_sizes)} and scale_factor of shape {list(sf)}.")
        if any(float(s) <= 0 for s in sf):
            raise ValueError(f"interpolate(): scale_factor must be positive, got {list(sf)}")
        sizes = tuple(int(math.floor(float(i) * float(s))) for i, s in zip(in_sizes, sf))
        scales = (None,) * nd if recompute_scale_factor else tuple(float(s) for s in sf)
    if any(s <= 0 for s in sizes):
        raise ShapeError(f"interpolate(): output size {list(sizes)} for input of size "
                         f"{_dims(input)} must be positive")
    if any(s == 0 for s in in_sizes):
        raise ShapeError(f"interpolate(): input of size {_dims(input)} has an empty spatial dim")
    x = input.unsqueeze(2) if nd == 1 else input
    if nd == 1:
        sizes, scales = (1,) + sizes, (None,) + tuple(scales)
    spec = C.InterpSpec(kernel_mode, bool(align_corners), tuple(scales))
    y = C.UpsampleFn.apply(x, tuple(sizes), spec)
    return y.squeeze(2) if nd == 1 else y


def upsample(input: Tensor, size: Any = None, scale_factor: Any = None, mode: str = "nearest",
             align_corners: bool | None = None) -> Tensor:
    """Deprecated alias of :func:`interpolate`.

    Args:
        input: A (N, C, L) or (N, C, H, W) tensor.
        size: Output spatial size.
        scale_factor: Multiplier(s) of the spatial size (give this or ``size``).
        mode: The interpolation mode, as :func:`interpolate`.
        align_corners: For linear modes, whether corner pixels map onto each other.

    Returns:
        The resized tensor.
    """
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input: Tensor, size: Any = None, scale_factor: Any = None) -> Tensor:
    """Nearest-neighbour upsampling (deprecated alias of ``interpolate(mode='nearest')``).

    Args:
        input: A (N, C, L) or (N, C, H, W) tensor.
        size: Output spatial size.
        scale_factor: Multiplier for the spatial size (give this or ``size``).

    Returns:
        The upsampled tensor.
    """
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input: Tensor, size: Any = None, scale_factor: Any = None) -> Tensor:
    """Bilinear upsampling with ``align_corners=True`` (as PyTorch's deprecated helper).

    Args:
        input: A (N, C, H, W) tensor.
        size: Output spatial size.
        scale_factor: Multiplier(s) of the spatial size (give this or ``size``).

    Returns:
        The resized tensor.
    """
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)
