"""Pooling: ``F.max_pool1d/2d``, ``F.avg_pool1d/2d``, ``F.adaptive_{avg,max}_pool1d/2d``.

Inputs are (N, C, H, W) or (C, H, W) for the 2-D forms and (N, C, L) or (C, L) for the 1-D
ones (pooled as 2-D with a height of 1). Max-pooling indices are flat positions in each
input plane (``h * W + w``), as PyTorch returns them.
"""
from __future__ import annotations

from typing import Any

from clt.errors import DTypeError, ShapeError
from clt.functions import conv as C
from clt.nn._functional.conv import ntuple
from clt.ops.conv import pool_out_size
from clt.tensor import Tensor

__all__ = ["max_pool1d", "max_pool2d", "max_pool1d_with_indices", "max_pool2d_with_indices",
           "avg_pool1d", "avg_pool2d", "adaptive_avg_pool1d", "adaptive_avg_pool2d",
           "adaptive_max_pool1d", "adaptive_max_pool2d", "adaptive_max_pool1d_with_indices",
           "adaptive_max_pool2d_with_indices"]


def _dims(t: Tensor) -> str:
    return "[" + ", ".join(str(s) for s in t.shape) + "]"


def _check_input(fn: str, x: Any, nd: int) -> None:
    if not isinstance(x, Tensor):
        raise TypeError(f"{fn}(): argument 'input' must be Tensor, not {type(x).__name__}")
    if x.ndim not in (nd + 1, nd + 2):
        raise ShapeError(f"{fn}: Expected {nd + 1}D or {nd + 2}D (batch mode) tensor for input, "
                         f"but got input of size: {_dims(x)}")
    if not x.dtype.is_floating_point:
        raise DTypeError(f"{fn}: expected a floating point input, got {x.dtype.name}")
    if any(s == 0 for s in x.shape[-nd - 1:]):
        raise ShapeError(f"{fn}: Expected input's non-batch dimensions to have positive "
                         f"length, but input has a shape of {_dims(x)}")


def _as2d(x: Tensor, nd: int) -> Tensor:
    return x.unsqueeze(-2) if nd == 1 else x


def _back(y: Tensor, nd: int) -> Tensor:
    return y.squeeze(-2) if nd == 1 else y


def _pool_geometry(fn: str, x: Tensor, nd: int, kernel_size: Any, stride: Any, padding: Any,
                   dilation: Any, ceil_mode: bool, dilated: bool = True) -> C.PoolSpec:
    k = ntuple(kernel_size, nd, "kernel_size", fn)
    s = k if stride is None or (not isinstance(stride, int) and len(stride) == 0) else \
        ntuple(stride, nd, "stride", fn)
    p = ntuple(padding, nd, "padding", fn)
    d = ntuple(dilation, nd, "dilation", fn)
    if any(v <= 0 for v in k):
        raise ValueError(f"{fn}: kernel_size must be greater than zero, but got {list(k)}")
    if any(v <= 0 for v in s):
        raise ValueError(f"{fn}: stride should be greater than zero, but got {list(s)}")
    if any(v <= 0 for v in d):
        raise ValueError(f"{fn}: dilation should be greater than zero, but got {list(d)}")
    for kk, pp, dd in zip(k, p, d):
        if pp < 0:
            raise ValueError(f"{fn}: negative padding is not supported, got {list(p)}")
        if dilated and pp > ((kk - 1) * dd + 1) // 2:
            raise ValueError(f"pad should be at most half of effective kernel size, but got "
                             f"pad={pp}, kernel_size={kk} and dilation={dd}")
        if not dilated and pp > kk // 2:
            raise ValueError(f"pad should be at most half of kernel size, but got pad={pp} and "
                             f"kernel_size={kk}")
    if nd == 1:
        k, s, p, d = (1,) + k, (1,) + s, (0,) + p, (1,) + d
    out = [pool_out_size(n, kk, ss, pp, dd, ceil_mode) for n, kk, ss, pp, dd in zip(
        x.shape[-2:] if nd == 2 else (1, x.shape[-1]), k, s, p, d)]
    if any(o <= 0 for o in out):
        sizes = "x".join(str(v) for v in x.shape[-nd - 1:])
        outs = "x".join(str(v) for v in (x.shape[-nd - 1],) + tuple(out[2 - nd:]))
        raise ShapeError(f"Given input size: ({sizes}). Calculated output size: ({outs}). "
                         "Output size is too small")
    return C.PoolSpec(k, s, p, d, bool(ceil_mode))


def _max_pool(fn: str, nd: int, input: Tensor, kernel_size: Any, stride: Any, padding: Any,
              dilation: Any, ceil_mode: bool) -> tuple[Tensor, Tensor]:
    _check_input(fn, input, nd)
    x = _as2d(input, nd)
    spec = _pool_geometry(fn, x, nd, kernel_size, stride, padding, dilation, ceil_mode)
    y, idx = C.MaxPool2dFn.apply(x, spec)
    return _back(y, nd), _back(idx, nd)


def max_pool2d_with_indices(input: Tensor, kernel_size: Any, stride: Any = None,
                            padding: Any = 0, dilation: Any = 1, ceil_mode: bool = False,
                            return_indices: bool = True) -> tuple[Tensor, Tensor]:
    """:func:`max_pool2d` returning (values, indices).

    Args:
        input: The input tensor.
        kernel_size: Window size (an int or (kH, kW)).
        stride: Window step (default: ``kernel_size``).
        padding: Implicit -inf padding on both sides.
        dilation: Spacing between window elements.
        ceil_mode: Whether to round the output size up.
        return_indices: Ignored; indices are always returned.

    Returns:
        ``(values, indices)``, the indices into each flattened H*W plane.

    Raises:
        ShapeError: If the input rank is wrong or the output size would be < 1.
        ValueError: If the kernel, stride, padding or dilation is invalid.

    Shape:
        - input: (N, C, H, W) or (C, H, W)
        - output: (N, C, H_out, W_out) or (C, H_out, W_out)
    """
    return _max_pool("max_pool2d", 2, input, kernel_size, stride, padding, dilation, ceil_mode)


def max_pool1d_with_indices(input: Tensor, kernel_size: Any, stride: Any = None,
                            padding: Any = 0, dilation: Any = 1, ceil_mode: bool = False,
                            return_indices: bool = True) -> tuple[Tensor, Tensor]:
    """:func:`max_pool1d` returning (values, indices).

    Args:
        input: The input tensor.
        kernel_size: Window size (an int or (kL,)).
        stride: Window step (default: ``kernel_size``).
        padding: Implicit -inf padding on both sides.
        dilation: Spacing between window elements.
        ceil_mode: Whether to round the output size up.
        return_indices: Ignored; indices are always returned.

    Returns:
        ``(values, indices)``.

    Raises:
        ShapeError: If the input rank is wrong or the output size would be < 1.
        ValueError: If the kernel, stride, padding or dilation is invalid.

    Shape:
        - input: (N, C, L) or (C, L)
        - output: (N, C, L_out) or (C, L_out)
    """
    return _max_pool("max_pool1d", 1, input, kernel_size, stride, padding, dilation, ceil_mode)


def max_pool2d(input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0,
               dilation: Any = 1, ceil_mode: bool = False, return_indices: bool = False) -> Any:
    """2-D max pooling of (N, C, H, W) or (C, H, W).

    Args:
        kernel_size: window size (int or (kH, kW)).
        stride: window step (default: kernel_size).
        padding: implicit -inf padding on both sides (at most half the effective kernel).
        dilation: spacing between window elements.
        ceil_mode: round the output size up (a window must still start inside the input or
            its left padding).
        return_indices: also return the argmax positions (for ``MaxUnpool``-style use).

    Raises:
        ShapeError: wrong input rank or an output size that would be < 1.
        ValueError: bad kernel, stride, padding or dilation.
    """
    y, idx = max_pool2d_with_indices(input, kernel_size, stride, padding, dilation, ceil_mode)
    return (y, idx) if return_indices else y


def max_pool1d(input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0,
               dilation: Any = 1, ceil_mode: bool = False, return_indices: bool = False) -> Any:
    """1-D max pooling of (N, C, L) or (C, L); arguments as :func:`max_pool2d`.

    Args:
        input: The input tensor.
        kernel_size: Window size (an int or (kL,)).
        stride: Window step (default: ``kernel_size``).
        padding: Implicit -inf padding on both sides.
        dilation: Spacing between window elements.
        ceil_mode: Whether to round the output size up.
        return_indices: Whether to also return the argmax indices.

    Returns:
        The pooled tensor, or ``(values, indices)``.

    Raises:
        ShapeError: If the input rank is wrong or the output size would be < 1.
        ValueError: If the kernel, stride, padding or dilation is invalid.

    Shape:
        - input: (N, C, L) or (C, L)
        - output: (N, C, L_out) or (C, L_out)
    """
    y, idx = max_pool1d_with_indices(input, kernel_size, stride, padding, dilation, ceil_mode)
    return (y, idx) if return_indices else y


def _avg_pool(fn: str, nd: int, input: Tensor, kernel_size: Any, stride: Any, padding: Any,
              ceil_mode: bool, count_include_pad: bool, divisor_override: Any) -> Tensor:
    _check_input(fn, input, nd)
    if divisor_override is not None and int(divisor_override) == 0:
        raise ValueError("divisor must be not zero")
    x = _as2d(input, nd)
    spec = _pool_geometry(fn, x, nd, kernel_size, stride, padding, 1, ceil_mode, dilated=False)
    spec = C.PoolSpec(spec.kernel, spec.stride, spec.padding, spec.dilation, spec.ceil_mode,
                      bool(count_include_pad), int(divisor_override or 0))
    return _back(C.AvgPool2dFn.apply(x, spec), nd)


def avg_pool2d(input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0,
               ceil_mode: bool = False, count_include_pad: bool = True,
               divisor_override: int | None = None) -> Tensor:
    """2-D average pooling of (N, C, H, W) or (C, H, W).

    Args:
        count_include_pad: count the zero padding in the divisor.
        divisor_override: divide every window sum by this instead.
    """
    return _avg_pool("avg_pool2d", 2, input, kernel_size, stride, padding, ceil_mode,
                     count_include_pad, divisor_override)


def avg_pool1d(input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0,
               ceil_mode: bool = False, count_include_pad: bool = True) -> Tensor:
    """1-D average pooling of (N, C, L) or (C, L); arguments as :func:`avg_pool2d`.

    Args:
        input: The input tensor.
        kernel_size: Window length.
        stride: Window step (default: ``kernel_size``).
        padding: Implicit zero padding on both sides.
        ceil_mode: Whether to round the output size up.
        count_include_pad: Whether the zero padding counts in the divisor.

    Returns:
        The pooled tensor.

    Shape:
        - input: (N, C, L) or (C, L)
        - output: (N, C, L_out) or (C, L_out)
    """
    return _avg_pool("avg_pool1d", 1, input, kernel_size, stride, padding, ceil_mode,
                     count_include_pad, None)


def _adaptive_size(fn: str, x: Tensor, output_size: Any, nd: int) -> tuple[int, int]:
    if isinstance(output_size, int) or output_size is None:
        sizes = (output_size,) * nd
    else:
        sizes = tuple(output_size)
        if len(sizes) != nd:
            raise ValueError(f"{fn}: output_size must be an int or a tuple of {nd} values, "
                             f"got {output_size!r}")
    in_sizes = tuple(x.shape[-nd:])
    out = tuple(i if s is None else int(s) for s, i in zip(sizes, in_sizes))
    if any(o < 0 for o in out):
        raise ValueError(f"{fn}: elements of output_size must be non-negative, got "
                         f"{list(out)}")
    return (1,) + out if nd == 1 else out


def _adaptive(fn: str, nd: int, mode: str, input: Tensor, output_size: Any) -> Any:
    _check_input(fn, input, nd)
    size = _adaptive_size(fn, input, output_size, nd)
    x = _as2d(input, nd)
    if mode == "avg":
        return _back(C.AdaptiveAvgPool2dFn.apply(x, size), nd)
    y, idx = C.AdaptiveMaxPool2dFn.apply(x, size)
    return _back(y, nd), _back(idx, nd)


def adaptive_avg_pool2d(input: Tensor, output_size: Any) -> Tensor:
    """Average pooling to a fixed output size (windows [floor(i*H/OH), ceil((i+1)*H/OH)));
    an entry of None keeps that input size.

    Args:
        input: The input tensor.
        output_size: Target size (an int or (OH, OW)); None entries keep the input size.

    Returns:
        The pooled tensor.

    Raises:
        ValueError: If ``output_size`` has the wrong length or a negative entry.

    Shape:
        - input: (N, C, H, W) or (C, H, W)
        - output: (N, C, OH, OW) or (C, OH, OW)
    """
    return _adaptive("adaptive_avg_pool2d", 2, "avg", input, output_size)


def adaptive_avg_pool1d(input: Tensor, output_size: Any) -> Tensor:
    """1-D :func:`adaptive_avg_pool2d` over (N, C, L) or (C, L).

    Args:
        input: The input tensor.
        output_size: Target size (an int); None entries keep the input size.

    Returns:
        The pooled tensor.

    Raises:
        ValueError: If ``output_size`` has the wrong length or a negative entry.

    Shape:
        - input: (N, C, L) or (C, L)
        - output: (N, C, OL) or (C, OL)
    """
    return _adaptive("adaptive_avg_pool1d", 1, "avg", input, output_size)


def adaptive_max_pool2d_with_indices(input: Tensor, output_size: Any,
                                     return_indices: bool = True) -> tuple[Tensor, Tensor]:
    """Adaptive 2-D max pooling that also returns the argmax indices.

    Args:
        input: A (N, C, H, W) or (C, H, W) tensor.
        output_size: Target ``(OH, OW)`` or one int; None entries keep the input size.
        return_indices: Ignored; indices are always returned.

    Returns:
        ``(output, indices)``, the indices into each flattened H*W plane.

    Raises:
        ValueError: If ``output_size`` has the wrong length or a negative entry.

    Shape:
        - input: (N, C, H, W) or (C, H, W)
        - output: (N, C, OH, OW) or (C, OH, OW)
    """
    return _adaptive("adaptive_max_pool2d", 2, "max", input, output_size)


def adaptive_max_pool1d_with_indices(input: Tensor, output_size: Any,
                                     return_indices: bool = True) -> tuple[Tensor, Tensor]:
    """Adaptive 1-D max pooling that also returns the argmax indices.

    Args:
        input: A (N, C, L) or (C, L) tensor.
        output_size: Target length.
        return_indices: Ignored; indices are always returned.

    Returns:
        ``(output, indices)``.

    Raises:
        ValueError: If ``output_size`` is negative.

    Shape:
        - input: (N, C, L) or (C, L)
        - output: (N, C, OL) or (C, OL)
    """
    return _adaptive("adaptive_max_pool1d", 1, "max", input, output_size)


def adaptive_max_pool2d(input: Tensor, output_size: Any, return_indices: bool = False) -> Any:
    """Max pooling to a fixed output size; optionally with the argmax indices.

    Args:
        input: The input tensor.
        output_size: Target size (an int or (OH, OW)); None entries keep the input size.
        return_indices: Whether to also return the argmax indices.

    Returns:
        The pooled tensor, or ``(values, indices)``.

    Raises:
        ValueError: If ``output_size`` has the wrong length or a negative entry.

    Shape:
        - input: (N, C, H, W) or (C, H, W)
        - output: (N, C, OH, OW) or (C, OH, OW)
    """
    y, idx = adaptive_max_pool2d_with_indices(input, output_size)
    return (y, idx) if return_indices else y


def adaptive_max_pool1d(input: Tensor, output_size: Any, return_indices: bool = False) -> Any:
    """1-D :func:`adaptive_max_pool2d` over (N, C, L) or (C, L).

    Args:
        input: The input tensor.
        output_size: Target size (an int); None entries keep the input size.
        return_indices: Whether to also return the argmax indices.

    Returns:
        The pooled tensor, or ``(values, indices)``.

    Raises:
        ValueError: If ``output_size`` has the wrong length or a negative entry.

    Shape:
        - input: (N, C, L) or (C, L)
        - output: (N, C, OL) or (C, OL)
    """
    y, idx = adaptive_max_pool1d_with_indices(input, output_size)
    return (y, idx) if return_indices else y
