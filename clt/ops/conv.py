"""Convolution, pooling, normalisation, upsampling and RNN-cell ops on device arrays
(``kernels/conv.cl.mako``), without autograd.

Convolution runs as im2col + the batched GEMM of :mod:`clt.ops.matmul`: the column matrix of a
chunk of images is written by one kernel, then one GEMM launch multiplies every image (and group)
by the weights. Backward passes never scatter: grad-input is a GEMM into columns followed by a
*gather* col2im (each input pixel sums the column entries that read it), grad-weight a GEMM over
the batch, so no kernel needs float atomics and results are deterministic. Grouped convolutions
with one input channel per group (depthwise) use direct kernels instead. Pooling, upsampling and
normalisation backward kernels are gathers as well.

Inputs are made contiguous (a no-op for the usual NCHW tensors) except where a kernel reads
strides directly (im2col).
"""
from __future__ import annotations

import functools
import math
from typing import Any, Sequence

import numpy as np
import pyopencl.cltypes as cltypes

from clt import dtypes as D
from clt.backend.device import Device
from clt.dtypes import DType
from clt.errors import DTypeError, ShapeError
from clt.ops import elementwise as ew
from clt.ops import matmul as mm
from clt.ops.array import Array

TEMPLATE = "conv.cl.mako"
FLOAT_DTYPES = ("float16", "float32", "float64")
# Scratch budget of one im2col chunk: larger batches are processed in chunks of images so the
# column matrix never exceeds it (a batch of 256 3x3x64 28x28 images would need ~460 MB).
COL_BUDGET_BYTES = 64 << 20
_GPU_LOCAL = 256
_GPU_MAX_GROUPS = 4096


@functools.lru_cache(maxsize=1024)
def _long4(a: int, b: int, c: int, d: int) -> np.ndarray:
    return np.array((a, b, c, d), dtype=cltypes.long4)


def _kernel(dev: Device, kdef: str, op: str, dtype: DType, **params: Any) -> Any:
    out = params.get("out_dtype")
    tag = dtype.tag + ("_" + D.as_dtype(out).tag if out else "")
    return dev.kernels.get(TEMPLATE, kdef, name=f"clt_conv_{op}_{tag}", dtype=dtype.name,
                           style=dev.caps.style, **params)


def _launch_flat(dev: Device, kernel: Any, total: int, cpu_items: int, *args: Any) -> None:
    """CPU: ``cpu_items`` work-items of local size 1; GPU: a grid-stride loop over ``total``."""
    if dev.caps.style == "cpu":
        if cpu_items > 0:
            dev.launch(kernel, (cpu_items,), (1,), *args)
    elif total > 0:
        groups = min(-(-total // _GPU_LOCAL), _GPU_MAX_GROUPS)
        dev.launch(kernel, (groups * _GPU_LOCAL,), (_GPU_LOCAL,), *args)


def check_float(op: str, *arrays: Array | None) -> DType:
    """Same floating dtype and device for every array (None skipped); return the dtype."""
    arrs = [a for a in arrays if a is not None]
    ew.check_same_device(arrs, op)
    dt = arrs[0].dtype
    if dt.name not in FLOAT_DTYPES:
        raise DTypeError(f"{op}: expected a floating point tensor (float16, float32 or float64), "
                         f"got {dt.name}")
    for a in arrs[1:]:
        if a.dtype is not dt:
            raise DTypeError(f"{op}: expected all tensors to have dtype {dt.name}, got "
                             f"{a.dtype.name}")
    D.check_device_dtype(dt, arrs[0].device)
    return dt


def _view(x: Array, shape: Sequence[int], strides: Sequence[int], offset: int | None = None
          ) -> Array:
    return Array(x.storage, tuple(shape), tuple(strides),
                 x.offset if offset is None else offset, x.dtype)


def _dense(x: Array) -> Array:
    return ew.contiguous(x)


def _dense0(x: Array) -> Array:
    """Contiguous and starting at element 0 of its buffer (for kernels without offsets)."""
    if x.is_contiguous() and x.offset == 0:
        return x
    out = Array.empty(x.device, x.shape, x.dtype)
    return ew.launch_map("copy", "a", out, [x])


# ---------------------------------------------------------------------------------------------
# convolution geometry

def conv_out_size(size: int, kernel: int, stride: int, pad_lo: int, pad_hi: int,
                  dilation: int) -> int:
    """Output length of a convolution along one dim (may be <= 0 for invalid settings)."""
    return (size + pad_lo + pad_hi - dilation * (kernel - 1) - 1) // stride + 1


def _use_direct(groups: int, cg: int, cout: int) -> bool:
    # depthwise (one input channel per group): the GEMM per group would be 1 x K, so a direct
    # kernel is both simpler and faster
    return groups > 1 and cg == 1


def _chunk(n: int, per_image: int) -> int:
    return max(1, min(n, COL_BUDGET_BYTES // max(1, per_image)))


def _is_pointwise(kh: int, kw: int, stride: tuple, padding: tuple) -> bool:
    return kh == 1 and kw == 1 and stride == (1, 1) and not any(padding)


def _im2col(x: Array, n0: int, m: int, col: Array, col_sr: int, col_sn: int,
            kh: int, kw: int, oh: int, ow: int, stride: tuple, pad: tuple, dil: tuple) -> None:
    dev = x.device
    _, C, H, W = x.shape
    R = C * kh * kw
    kernel = _kernel(dev, "im2col", "im2col", x.dtype)
    nsplit = max(1, min(m, -(-4 * dev.info.compute_units // max(R, 1))))
    st = x.strides
    _launch_flat(dev, kernel, R * m * oh * ow, R * nsplit,
                 x.buffer, x.offset + n0 * st[0], _long4(*st), col.buffer, col.offset,
                 col_sr, col_sn, C, H, W, kh, kw, oh, ow, stride[0], stride[1], pad[0], pad[1],
                 dil[0], dil[1], m, nsplit)


def _direct_args(x_shape: tuple, w_shape: tuple, out_hw: tuple, stride: tuple, pad: tuple,
                 dil: tuple, groups: int) -> list[int]:
    N, C, H, W = x_shape
    Cout, Cg, KH, KW = w_shape
    return [C, H, W, Cout, Cg, Cout // groups, KH, KW, out_hw[0], out_hw[1], stride[0],
            stride[1], pad[0], pad[1], dil[0], dil[1], N]


def conv2d(x: Array, w: Array, bias: Array | None, stride: tuple[int, int],
           padding: tuple[int, ...], dilation: tuple[int, int], groups: int,
           out_hw: tuple[int, int] | None = None) -> Array:
    """2-D cross-correlation of ``x`` (N, C, H, W) with ``w`` (Cout, C/groups, KH, KW).

    Args:
        padding: (top, left) symmetric, or (top, bottom, left, right) zero padding.
        out_hw: the output size; by default computed from the padding. Giving it lets callers
            use the forward convolution as the adjoint of a transposed one (whose bottom/right
            padding is implied).

    Returns:
        (N, Cout, OH, OW), a new contiguous array.
    """
    dt = check_float("conv2d", x, w, bias)
    dev = x.device
    N, C, H, W = x.shape
    Cout, Cg, KH, KW = w.shape
    if len(padding) == 4:
        pt, pb, pl, pr = padding
    else:
        pt, pb, pl, pr = padding[0], padding[0], padding[1], padding[1]
    if out_hw is None:
        OH = conv_out_size(H, KH, stride[0], pt, pb, dilation[0])
        OW = conv_out_size(W, KW, stride[1], pl, pr, dilation[1])
    else:
        OH, OW = out_hw
    if OH <= 0 or OW <= 0:
        raise ShapeError(f"conv2d: calculated output size ({Cout}x{max(OH, 0)}x{max(OW, 0)}) is "
                         f"too small for input of shape {x.shape} and kernel {KH}x{KW}")
    y = Array.empty(dev, (N, Cout, OH, OW), dt)
    if y.numel == 0:
        return y
    w = _dense(w)
    if Cg == 0:
        return ew.copy_(y, _view(bias, y.shape, (0, 1, 0, 0))) if bias is not None else \
            ew.fill_(y, 0)
    pad = (pt, pl)
    if _use_direct(groups, Cg, Cout):
        x, w = _dense0(x), _dense0(w)
        bias = _dense0(bias) if bias is not None else None
        kernel = _kernel(dev, "dconv_fwd", "dconv_fwd", dt)
        args = _direct_args(x.shape, w.shape, (OH, OW), stride, pad, dilation, groups)
        _launch_flat(dev, kernel, y.numel, N * Cout, x.buffer, w.buffer,
                     bias.buffer if bias is not None else w.buffer, int(bias is not None),
                     y.buffer, *args)
        return y
    if bias is not None and not bias.is_contiguous():
        bias = _dense(bias)
    G, Cog, Kg, P = groups, Cout // groups, Cg * KH * KW, OH * OW
    R = C * KH * KW
    wv = _view(w, (1, G, Cog, Kg), (0, Cog * Kg, Kg, 1))
    pointwise = _is_pointwise(KH, KW, stride, pad) and (OH, OW) == (H, W)
    if pointwise:
        x = _dense(x)
    nb = N if pointwise else _chunk(N, R * P * dt.itemsize)
    col = None if pointwise else Array.empty(dev, (nb * R * P,), dt)
    for n0 in range(0, N, nb):
        m = min(nb, N - n0)
        if pointwise:
            b = _view(x, (m, G, Kg, P), (C * P, Kg * P, P, 1), x.offset + n0 * C * P)
        else:
            _im2col(x, n0, m, col, P, R * P, KH, KW, OH, OW, stride, pad, dilation)
            b = _view(col, (m, G, Kg, P), (R * P, Kg * P, P, 1), 0)
        out = _view(y, (m, G, Cog, P), (Cout * P, Cog * P, P, 1), n0 * Cout * P)
        c = None
        if bias is not None:
            c = _view(bias, (m, G, Cog, P), (0, Cog, 1, 0))
        mm.gemm(wv, b, out, beta=1 if c is not None else 0, c=c)
    return y


def _transposed_nc(gy: Array) -> Array:
    """``gy`` (N, C, OH, OW) copied to (C, N, OH*OW), so that a group of channels over a chunk of
    images is one row-major matrix (the GEMMs then sum over the batch as their inner dim)."""
    N, Cout, OH, OW = gy.shape
    gyt = Array.empty(gy.device, (Cout, N, OH * OW), gy.dtype)
    ew.copy_(_view(gyt, (N, Cout, OH, OW), (OH * OW, N * OH * OW, OW, 1), 0), gy)
    return gyt


def _backward_chunks(x: Array | None, gyt: Array, w: Array, gx: Array | None,
                     gw: Array | None, in_hw: tuple[int, int], out_hw: tuple[int, int],
                     stride: tuple, padding: tuple, dilation: tuple, groups: int) -> None:
    """Input and/or weight gradients from the transposed output gradient ``gyt`` (Cout, N, P),
    a chunk of images at a time. Per chunk the column matrix is (R, m*P), R = C*KH*KW rows:
    weight grad: col = im2col(x), gW_g^T = col_g @ gyt_g^T (accumulated over chunks);
    input grad: col = W_g^T @ gyt_g (the same buffer, reused), then col2im into gx."""
    Cout, N, P = gyt.shape
    _, Cg, KH, KW = w.shape
    H, W = in_hw
    OH, OW = out_hw
    G, Cog, Kg = groups, Cout // groups, Cg * KH * KW
    C = Cg * groups
    R = C * KH * KW
    dt, dev = gyt.dtype, gyt.device
    ct = _compute(dt)
    half_acc = gx is not None and ct is not dt
    nb = _chunk(N, R * P * dt.itemsize + (C * H * W * 4 if half_acc else 0))
    col = Array.empty(dev, (R * nb * P,), dt)
    acc = None
    if gx is not None:
        acc = gx if not half_acc else Array.empty(dev, (nb, C, H, W), ct)
        c2i = _kernel(dev, "col2im", "col2im", dt, out_dtype=ct.name)
    gwt = _view(gw, (G, Kg, Cog), (Cog * Kg, 1, Kg)) if gw is not None else None
    for n0 in range(0, N, nb):
        m = min(nb, N - n0)
        a_gyt = _view(gyt, (G, Cog, m * P), (Cog * N * P, N * P, 1), n0 * P)
        if gw is not None:
            _im2col(x, n0, m, col, m * P, P, KH, KW, OH, OW, stride, padding, dilation)
            cv = _view(col, (G, Kg, m * P), (Kg * m * P, m * P, 1), 0)
            bt = _view(gyt, (G, m * P, Cog), (Cog * N * P, 1, N * P), n0 * P)
            if n0 == 0:
                mm.gemm(cv, bt, gwt)
            else:
                mm.gemm(cv, bt, gwt, beta=1, c=gwt)
        if gx is not None:
            wt = _view(w, (G, Kg, Cog), (Cog * Kg, 1, Kg))
            mm.gemm(wt, a_gyt, _view(col, (G, Kg, m * P), (Kg * m * P, m * P, 1), 0))
            off = n0 * C * H * W if not half_acc else 0
            _launch_flat(dev, c2i, m * C * H * W, m * C, col.buffer, 0, m * P, P, acc.buffer,
                         off, C, H, W, KH, KW, OH, OW, stride[0], stride[1], padding[0],
                         padding[1], dilation[0], dilation[1], m)
            if half_acc:
                ew.copy_(_view(gx, (m, C, H, W), gx.strides, n0 * C * H * W),
                         _view(acc, (m, C, H, W), acc.strides, 0))


def conv2d_backward(x: Array, w: Array, gy: Array, stride: tuple[int, int],
                    padding: tuple[int, int], dilation: tuple[int, int], groups: int,
                    need_input: bool = True, need_weight: bool = True
                    ) -> tuple[Array | None, Array | None]:
    """Both gradients of :func:`conv2d` at once, sharing the transposed output gradient.

    Returns:
        (grad_input or None, grad_weight or None).
    """
    gx = gw = None
    if not (need_input or need_weight):
        return gx, gw
    dt = check_float("conv2d_backward", x, w, gy)
    Cout, Cg, KH, KW = w.shape
    direct = _use_direct(groups, Cg, Cout)
    pointwise = _is_pointwise(KH, KW, stride, padding) and x.shape[2:] == gy.shape[2:]
    if direct or (pointwise and not need_weight) or x.numel == 0 or gy.numel == 0:
        if need_input:
            gx = conv2d_input_grad(gy, w, x.shape[2:], stride, padding, dilation, groups)
        if need_weight:
            gw = conv2d_weight_grad(x, gy, (KH, KW), stride, padding, dilation, groups)
        return gx, gw
    dev = x.device
    gy, w = _dense(gy), _dense(w)
    gyt = _transposed_nc(gy)
    if need_weight:
        gw = Array.empty(dev, w.shape, dt)
    if need_input:
        gx = Array.empty(dev, x.shape, dt)
        if pointwise:
            _pointwise_input_grad(gy, w, gx, groups)
    _backward_chunks(x, gyt, w, gx if need_input and not pointwise else None, gw,
                     x.shape[2:], gy.shape[2:], stride, padding, dilation, groups)
    return gx, gw


def _pointwise_input_grad(gy: Array, w: Array, gx: Array, groups: int) -> None:
    """1x1, stride 1, no padding: gx_n = W^T gy_n for every image, one batched GEMM."""
    N, Cout, H, W = gy.shape
    Cg = w.shape[1]
    G, Cog, P = groups, Cout // groups, H * W
    C = Cg * G
    wt = _view(w, (1, G, Cg, Cog), (0, Cog * Cg, 1, Cg))
    mm.gemm(wt, _view(gy, (N, G, Cog, P), (Cout * P, Cog * P, P, 1)),
            _view(gx, (N, G, Cg, P), (C * P, Cg * P, P, 1)))


def conv2d_input_grad(gy: Array, w: Array, input_hw: tuple[int, int], stride: tuple[int, int],
                      padding: tuple[int, int], dilation: tuple[int, int], groups: int) -> Array:
    """Gradient of :func:`conv2d` with respect to its input (also the transposed convolution).

    Args:
        gy: (N, Cout, OH, OW) gradient of the output.
        w: (Cout, C/groups, KH, KW).
        input_hw: (H, W) of the input.
        padding: (top, left) padding of the forward convolution.

    Returns:
        (N, C, H, W) with C = w.shape[1] * groups.
    """
    dt = check_float("conv2d_input_grad", gy, w)
    dev = gy.device
    N, Cout, OH, OW = gy.shape
    _, Cg, KH, KW = w.shape
    H, W = input_hw
    C = Cg * groups
    gx = Array.empty(dev, (N, C, H, W), dt)
    if gx.numel == 0:
        return gx
    if gy.numel == 0 or Cout == 0:
        return ew.fill_(gx, 0)
    gy, w = _dense(gy), _dense(w)
    if _use_direct(groups, Cg, Cout):
        gy, w = _dense0(gy), _dense0(w)
        kernel = _kernel(dev, "dconv_bwd_input", "dconv_bwd_input", dt)
        args = _direct_args(gx.shape, w.shape, (OH, OW), stride, padding, dilation, groups)
        _launch_flat(dev, kernel, gx.numel, N * C, gy.buffer, w.buffer, gx.buffer, *args)
        return gx
    if _is_pointwise(KH, KW, stride, padding) and (H, W) == (OH, OW):
        _pointwise_input_grad(gy, w, gx, groups)
        return gx
    _backward_chunks(None, _transposed_nc(gy), w, gx, None, (H, W), (OH, OW), stride, padding,
                     dilation, groups)
    return gx


def conv2d_weight_grad(x: Array, gy: Array, kernel_hw: tuple[int, int], stride: tuple[int, int],
                       padding: tuple[int, int], dilation: tuple[int, int], groups: int
                       ) -> Array:
    """Gradient of :func:`conv2d` with respect to its weight: (Cout, C/groups, KH, KW).

    The sum over the batch is the GEMM's inner dimension, so it needs no reduction kernel: the
    output gradient is first copied to (Cout, N, OH*OW) so each group is one row-major matrix.
    """
    dt = check_float("conv2d_weight_grad", x, gy)
    dev = x.device
    N, C, H, W = x.shape
    _, Cout, OH, OW = gy.shape
    KH, KW = kernel_hw
    Cg = C // groups
    gw = Array.empty(dev, (Cout, Cg, KH, KW), dt)
    if gw.numel == 0:
        return gw
    if N == 0 or OH * OW == 0:
        return ew.fill_(gw, 0)
    if _use_direct(groups, Cg, Cout):
        x, gy = _dense0(x), _dense0(gy)
        kernel = _kernel(dev, "dconv_bwd_weight", "dconv_bwd_weight", dt)
        args = _direct_args(x.shape, gw.shape, (OH, OW), stride, padding, dilation, groups)
        _launch_flat(dev, kernel, gw.numel, gw.numel, x.buffer, gy.buffer, gw.buffer, *args)
        return gw
    w_shape = Array(gw.storage, gw.shape, gw.strides, 0, dt)
    _backward_chunks(x, _transposed_nc(_dense(gy)), w_shape, None, gw, (H, W), (OH, OW), stride,
                     padding, dilation, groups)
    return gw


def channel_sum(x: Array) -> Array:
    """Per-channel sums of ``x`` (N, C, *) in its compute dtype (float for half): shape (C,)."""
    dt = check_float("channel_sum", x)
    dev = x.device
    x = _dense0(x)
    N, C = x.shape[0], x.shape[1]
    L = math.prod(x.shape[2:])
    ct = D.float32 if dt is D.float16 else dt
    out = Array.empty(dev, (C,), ct)
    if C == 0:
        return out
    if N * L == 0:
        return ew.fill_(out, 0)
    kernel = _kernel(dev, "channel_sum", "channel_sum", dt)
    if dev.caps.style == "cpu":
        dev.launch(kernel, (C,), (1,), x.buffer, out.buffer, N, C, L)
    else:
        dev.launch(kernel, (C * _GPU_LOCAL,), (_GPU_LOCAL,), x.buffer, out.buffer, N, C, L)
    return out


# ---------------------------------------------------------------------------------------------
# pooling

def _scatter(dev: Device, dt: DType) -> bool:
    """Backward kernels scatter within a work-item's own plane on CPUs (no division per input
    pixel); GPUs, and half storage (whose sums need float accumulators), gather instead."""
    return dev.caps.style == "cpu" and dt.name != "float16"


def _cpu_split(dev: Device, planes: int, rows: int) -> int:
    """Row blocks per plane so that every compute unit gets several work-items."""
    return max(1, min(rows, -(-4 * dev.info.compute_units // max(planes, 1))))


def pool_out_size(size: int, kernel: int, stride: int, pad: int, dilation: int,
                  ceil_mode: bool) -> int:
    """PyTorch's pooling output length (a window must start inside the input or left pad)."""
    span = size + 2 * pad - dilation * (kernel - 1) - 1
    out = (span + (stride - 1 if ceil_mode else 0)) // stride + 1
    if ceil_mode and (out - 1) * stride >= size + pad:
        out -= 1
    return out


def _planes(x: Array) -> tuple[Array, int, int, int]:
    x = _dense0(x)
    H, W = x.shape[-2], x.shape[-1]
    return x, math.prod(x.shape[:-2]), H, W


def pool2d(x: Array, mode: str, kernel: tuple[int, int], stride: tuple[int, int],
           padding: tuple[int, int], dilation: tuple[int, int], ceil_mode: bool,
           count_include_pad: bool = True, divisor: int = 0) -> tuple[Array, Array | None]:
    """Max or average pooling over the last two dims of ``x`` (*, H, W).

    Returns:
        (out, indices): indices (int64, flat ``h * W + w`` per plane) only for ``mode="max"``.
    """
    dt = check_float(f"{mode}_pool2d", x)
    dev = x.device
    x, planes, H, W = _planes(x)
    OH = pool_out_size(H, kernel[0], stride[0], padding[0], dilation[0], ceil_mode)
    OW = pool_out_size(W, kernel[1], stride[1], padding[1], dilation[1], ceil_mode)
    if OH <= 0 or OW <= 0:
        raise ShapeError(f"{mode}_pool2d: output size is too small: given input of shape "
                         f"{x.shape}, the output would be {OH}x{OW}")
    shape = x.shape[:-2] + (OH, OW)
    y = Array.empty(dev, shape, dt)
    idx = Array.empty(dev, shape, D.int64) if mode == "max" else None
    if y.numel == 0:
        return y, idx
    fast22 = (dev.caps.style == "cpu" and tuple(kernel) == (2, 2) and tuple(stride) == (2, 2)
              and tuple(padding) == (0, 0) and tuple(dilation) == (1, 1) and 2 * OH <= H
              and 2 * OW <= W and (mode == "max" or divisor in (0, 4)))
    kern = _kernel(dev, "pool2d_fwd", f"{mode}pool{'22' if fast22 else ''}_fwd", dt, mode=mode,
                   fast22=fast22)
    nsplit = _cpu_split(dev, planes, OH)
    _launch_flat(dev, kern, y.numel, planes * nsplit, x.buffer, y.buffer,
                 (idx if idx is not None else y).buffer, planes, H, W, OH, OW, kernel[0],
                 kernel[1], stride[0], stride[1], padding[0], padding[1], dilation[0],
                 dilation[1], int(count_include_pad), int(divisor), nsplit)
    return y, idx


def pool2d_backward(gy: Array, idx: Array | None, input_shape: tuple[int, ...], mode: str,
                    kernel: tuple[int, int], stride: tuple[int, int], padding: tuple[int, int],
                    dilation: tuple[int, int], count_include_pad: bool = True, divisor: int = 0
                    ) -> Array:
    """Gradient of :func:`pool2d` with respect to its input (a gather, no atomics)."""
    dt = check_float(f"{mode}_pool2d_backward", gy)
    dev = gy.device
    gy, planes, OH, OW = _planes(gy)
    H, W = input_shape[-2], input_shape[-1]
    gx = Array.empty(dev, tuple(input_shape), dt)
    if gx.numel == 0:
        return gx
    scatter = _scatter(dev, dt)
    kern = _kernel(dev, "pool2d_bwd", f"{mode}pool_bwd", dt, mode=mode, scatter=scatter)
    nsplit = 1 if scatter else _cpu_split(dev, planes, H)
    _launch_flat(dev, kern, gx.numel, planes * nsplit, gy.buffer,
                 (_dense0(idx) if idx is not None else gy).buffer, gx.buffer, planes, H, W, OH,
                 OW, kernel[0], kernel[1], stride[0], stride[1], padding[0], padding[1],
                 dilation[0], dilation[1], int(count_include_pad), int(divisor), nsplit)
    return gx


def plane_gather(src: Array, idx: Array) -> Array:
    """``out[..., o] = src[..., idx[..., o]]`` per plane of the last two dims (idx int64 flat)."""
    dt = check_float("max_pool2d_double_backward", src)
    dev = src.device
    src, idx = _dense0(src), _dense0(idx)
    out = Array.empty(dev, idx.shape, dt)
    total = out.numel
    if total == 0:
        return out
    n_src = src.shape[-2] * src.shape[-1]
    n_out = idx.shape[-2] * idx.shape[-1]
    kern = _kernel(dev, "plane_gather", "plane_gather", dt)
    items = min(total, 4 * dev.info.compute_units)
    chunk = -(-total // items)
    _launch_flat(dev, kern, total, -(-total // chunk), src.buffer, idx.buffer, out.buffer, total,
                 n_src, n_out, chunk)
    return out


def adaptive_pool2d(x: Array, mode: str, output_size: tuple[int, int]
                    ) -> tuple[Array, Array | None]:
    """Adaptive max/avg pooling of (*, H, W) to (*, OH, OW) with PyTorch's windows."""
    dt = check_float(f"adaptive_{mode}_pool2d", x)
    dev = x.device
    x, planes, H, W = _planes(x)
    OH, OW = output_size
    shape = x.shape[:-2] + (OH, OW)
    y = Array.empty(dev, shape, dt)
    idx = Array.empty(dev, shape, D.int64) if mode == "max" else None
    if y.numel == 0:
        return y, idx
    kern = _kernel(dev, "adaptive_pool2d_fwd", f"adaptive_{mode}pool_fwd", dt, mode=mode)
    nsplit = _cpu_split(dev, planes, OH)
    _launch_flat(dev, kern, y.numel, planes * nsplit, x.buffer, y.buffer,
                 (idx if idx is not None else y).buffer, planes, H, W, OH, OW, nsplit)
    return y, idx


def adaptive_pool2d_backward(gy: Array, idx: Array | None, input_shape: tuple[int, ...],
                             mode: str) -> Array:
    """Gradient of :func:`adaptive_pool2d` (a gather over the windows holding each input)."""
    dt = check_float(f"adaptive_{mode}_pool2d_backward", gy)
    dev = gy.device
    gy, planes, OH, OW = _planes(gy)
    H, W = input_shape[-2], input_shape[-1]
    gx = Array.empty(dev, tuple(input_shape), dt)
    if gx.numel == 0:
        return gx
    scatter = _scatter(dev, dt)
    kern = _kernel(dev, "adaptive_pool2d_bwd", f"adaptive_{mode}pool_bwd", dt, mode=mode,
                   scatter=scatter)
    nsplit = 1 if scatter else _cpu_split(dev, planes, H)
    _launch_flat(dev, kern, gx.numel, planes * nsplit, gy.buffer,
                 (_dense0(idx) if idx is not None else gy).buffer, gx.buffer, planes, H, W, OH,
                 OW, nsplit)
    return gx


# ---------------------------------------------------------------------------------------------
# upsampling

def _interp_scale(mode: str, align_corners: bool, size_in: int, size_out: int,
                  scale_factor: float | None, dt: DType) -> float:
    """The source-per-destination step, computed as PyTorch does (float for nearest)."""
    if mode == "bilinear" and align_corners:
        return (size_in - 1) / (size_out - 1) if size_out > 1 else 0.0
    r = 1.0 / scale_factor if scale_factor else size_in / size_out
    if mode != "bilinear" or dt.name != "float64":
        r = float(np.float32(r))
    return r


def upsample2d(x: Array, size: tuple[int, int], mode: str, align_corners: bool,
               scales: tuple[float | None, float | None] = (None, None)) -> Array:
    """Resize the last two dims of ``x`` to ``size`` (nearest, nearest_exact or bilinear).

    ``scales`` are the user's scale factors (used for the source index, as PyTorch does when
    ``recompute_scale_factor`` is not set), else None.
    """
    dt = check_float(f"upsample_{mode}2d", x)
    dev = x.device
    x, planes, H, W = _planes(x)
    OH, OW = size
    y = Array.empty(dev, x.shape[:-2] + (OH, OW), dt)
    if y.numel == 0:
        return y
    rh = _interp_scale(mode, align_corners, H, OH, scales[0], dt)
    rw = _interp_scale(mode, align_corners, W, OW, scales[1], dt)
    align = bool(align_corners) and mode == "bilinear"
    kern = _kernel(dev, "upsample2d_fwd", f"up_{mode}{'_ac' if align else ''}_fwd", dt,
                   mode=mode, align_corners=align)
    nsplit = _cpu_split(dev, planes, OH)
    _launch_flat(dev, kern, y.numel, planes * nsplit, x.buffer, y.buffer, planes, H, W, OH, OW,
                 rh, rw, nsplit)
    return y


def upsample2d_backward(gy: Array, input_shape: tuple[int, ...], mode: str, align_corners: bool,
                        scales: tuple[float | None, float | None] = (None, None)) -> Array:
    """Gradient of :func:`upsample2d` with respect to its input (a gather)."""
    dt = check_float(f"upsample_{mode}2d_backward", gy)
    dev = gy.device
    gy, planes, OH, OW = _planes(gy)
    H, W = input_shape[-2], input_shape[-1]
    gx = Array.empty(dev, tuple(input_shape), dt)
    if gx.numel == 0:
        return gx
    rh = _interp_scale(mode, align_corners, H, OH, scales[0], dt)
    rw = _interp_scale(mode, align_corners, W, OW, scales[1], dt)
    align = bool(align_corners) and mode == "bilinear"
    scatter = _scatter(dev, dt)
    kern = _kernel(dev, "upsample2d_bwd", f"up_{mode}{'_ac' if align else ''}_bwd", dt,
                   mode=mode, align_corners=align, scatter=scatter)
    nsplit = 1 if scatter else _cpu_split(dev, planes, H)
    _launch_flat(dev, kern, gx.numel, planes * nsplit, gy.buffer, gx.buffer, planes, H, W, OH,
                 OW, rh, rw, nsplit)
    return gx


# ---------------------------------------------------------------------------------------------
# normalisation

def _ncl(x: Array) -> tuple[Array, int, int, int]:
    x = _dense0(x)
    return x, x.shape[0], x.shape[1], math.prod(x.shape[2:])


def _compute(dt: DType) -> DType:
    return D.float32 if dt is D.float16 else dt


def batch_norm(x: Array, weight: Array | None, bias: Array | None, running_mean: Array | None,
               running_var: Array | None, training: bool, momentum: float, eps: float
               ) -> tuple[Array, Array]:
    """Batch normalisation of (N, C, *) over every dim but C.

    In training the batch statistics are used and the running statistics (if given) updated in
    place; otherwise the running statistics are used.

    Returns:
        (y, save): save (2, C) in the compute dtype holds the mean and 1/std that were used.
    """
    dt = check_float("batch_norm", x, weight, bias, running_mean, running_var)
    dev = x.device
    x, N, C, L = _ncl(x)
    ct = _compute(dt)
    y = Array.empty(dev, x.shape, dt)
    coef = Array.empty(dev, (2, C), ct)
    save = Array.empty(dev, (2, C), ct)
    if C == 0:
        return y, save
    affine = weight is not None
    has_running = running_mean is not None
    for a in (running_mean, running_var):
        if a is not None and not (a.is_contiguous() and a.offset == 0):
            raise ShapeError("batch_norm: running statistics must be contiguous tensors")
    if has_running:
        running_mean.bump_version()
        running_var.bump_version()
    w = _dense0(weight) if affine else x
    b = _dense0(bias) if bias is not None else None
    if affine and b is None:
        b = Array.empty(dev, (C,), dt)
        ew.fill_(b, 0)
    rm = running_mean if has_running else x
    rv = running_var if has_running else x
    kern = _kernel(dev, "bn_stats", "bn_stats", dt)
    args = (x.buffer, N, C, L, w.buffer, (b if b is not None else x).buffer, int(affine),
            rm.buffer, rv.buffer, int(has_running and training), int(training), float(eps),
            float(momentum), coef.buffer, save.buffer)
    if dev.caps.style == "cpu":
        dev.launch(kern, (C,), (1,), *args)
    else:
        dev.launch(kern, (C * _GPU_LOCAL,), (_GPU_LOCAL,), *args)
    _chan_affine(x, None, coef, y)
    return y, save


def _chan_affine(a: Array, b: Array | None, coef: Array, out: Array) -> None:
    dev = a.device
    N, C = a.shape[0], a.shape[1]
    L = math.prod(a.shape[2:])
    if out.numel == 0:
        return
    two = b is not None
    kern = _kernel(dev, "chan_affine", "chan_affine2" if two else "chan_affine", a.dtype,
                   two=two)
    rows = N * C
    nsplit = max(1, min(-(-L // 1024), -(-4 * dev.info.compute_units // rows)))
    _launch_flat(dev, kern, out.numel, rows * nsplit, a.buffer, (b if two else a).buffer,
                 coef.buffer, out.buffer, N, C, L, nsplit)


def batch_norm_backward(g: Array, x: Array, weight: Array | None, save: Array, training: bool
                        ) -> tuple[Array, Array]:
    """Gradients of :func:`batch_norm`: (grad_input, param_grads) with param_grads (2, C) in the
    compute dtype (row 0: weight, row 1: bias)."""
    dt = check_float("batch_norm_backward", g, x, weight)
    dev = x.device
    x, N, C, L = _ncl(x)
    g = _dense0(g)
    ct = _compute(dt)
    gx = Array.empty(dev, x.shape, dt)
    coef = Array.empty(dev, (3, C), ct)
    pg = Array.empty(dev, (2, C), ct)
    if C == 0:
        return gx, pg
    affine = weight is not None
    w = _dense0(weight) if affine else x
    kern = _kernel(dev, "bn_bwd_reduce", "bn_bwd_reduce", dt)
    args = (g.buffer, x.buffer, N, C, L, w.buffer, int(affine), int(training), save.buffer,
            coef.buffer, pg.buffer)
    if dev.caps.style == "cpu":
        dev.launch(kern, (C,), (1,), *args)
    else:
        dev.launch(kern, (C * _GPU_LOCAL,), (_GPU_LOCAL,), *args)
    _chan_affine(g, x, coef, gx)
    return gx, pg


def row_norm(x: Array, rows: int, groups: int, hw: int, weight: Array | None,
             bias: Array | None, eps: float) -> tuple[Array, Array]:
    """Normalise ``rows`` contiguous rows of ``x`` (layer norm: groups = hw = 1; group norm: a
    row is one (sample, group), hw the spatial size, the affine index the channel).

    Returns:
        (y, save): save (2, rows) in the compute dtype holds each row's mean and 1/std.
    """
    dt = check_float("layer_norm" if groups == 1 else "group_norm", x, weight, bias)
    dev = x.device
    x = _dense0(x)
    L = x.numel // rows if rows else 0
    ct = _compute(dt)
    y = Array.empty(dev, x.shape, dt)
    save = Array.empty(dev, (2, rows), ct)
    if rows == 0:
        return y, save
    if L == 0:
        return y, ew.fill_(save, 0)
    w = _dense0(weight) if weight is not None else x
    b = _dense0(bias) if bias is not None else x
    kern = _kernel(dev, "rownorm_fwd", "rownorm_fwd", dt)
    args = (x.buffer, y.buffer, rows, L, groups, hw, w.buffer, int(weight is not None),
            b.buffer, int(bias is not None), float(eps), save.buffer)
    if dev.caps.style == "cpu":
        dev.launch(kern, (rows,), (1,), *args)
    else:
        dev.launch(kern, (rows * _GPU_LOCAL,), (_GPU_LOCAL,), *args)
    return y, save


def row_norm_backward(g: Array, x: Array, rows: int, groups: int, hw: int, weight: Array | None,
                      save: Array, n_params: int, need_input: bool = True,
                      need_params: bool = True) -> tuple[Array | None, Array | None]:
    """Gradients of :func:`row_norm`: grad_input and param_grads (2, n_params) in the compute
    dtype (row 0: weight, row 1: bias), each only when asked for."""
    dt = check_float("norm_backward", g, x, weight)
    dev = x.device
    x, g = _dense0(x), _dense0(g)
    L = x.numel // rows if rows else 0
    ct = _compute(dt)
    gx = pg = None
    if need_input:
        gx = Array.empty(dev, x.shape, dt)
        if rows and L:
            w = _dense0(weight) if weight is not None else x
            kern = _kernel(dev, "rownorm_bwd", "rownorm_bwd", dt)
            args = (g.buffer, x.buffer, gx.buffer, rows, L, groups, hw, w.buffer,
                    int(weight is not None), save.buffer)
            if dev.caps.style == "cpu":
                dev.launch(kern, (rows,), (1,), *args)
            else:
                dev.launch(kern, (rows * _GPU_LOCAL,), (_GPU_LOCAL,), *args)
    if need_params and n_params:
        pg = Array.empty(dev, (2, n_params), ct)
        if rows and L:
            kern = _kernel(dev, "rownorm_param_grad", "rownorm_param_grad", dt)
            _launch_flat(dev, kern, n_params, n_params, g.buffer, x.buffer, rows, L, groups, hw,
                         n_params, save.buffer, pg.buffer)
        else:
            ew.fill_(pg, 0)
    return gx, pg


# ---------------------------------------------------------------------------------------------
# recurrent cells

def _rows_arg(x: Array, width: int, what: str) -> tuple[Array, int]:
    """(array, row stride) for an (N, width) operand whose rows are contiguous."""
    if x.ndim != 2 or x.shape[1] != width:
        raise ShapeError(f"{what}: expected shape (N, {width}), got {x.shape}")
    if x.strides[1] != 1 and x.shape[1] > 1:
        x = ew.contiguous(x)
    return x, x.strides[0] if x.shape[0] > 1 else width


def _cell_launch(dev: Device, kernel: Any, n: int, h: int, *args: Any) -> None:
    rpi = max(1, -(-n // (4 * dev.info.compute_units)))
    _launch_flat(dev, kernel, n * h, -(-n // rpi), *args, n, h, rpi)


def lstm_cell(gx: Array, gh: Array, c0: Array) -> tuple[Array, Array, Array]:
    """One LSTM step from gate pre-activations gx + gh (N, 4H), gate order i, f, g, o.

    Returns:
        (h, c, act): new states (N, H) and the activated gates (N, 4H) for
        :func:`lstm_cell_backward`.
    """
    dt = check_float("lstm_cell", gx, gh, c0)
    dev = gx.device
    N, H = c0.shape
    gx, gx_s = _rows_arg(gx, 4 * H, "lstm_cell gx")
    gh, gh_s = _rows_arg(_dense0(gh), 4 * H, "lstm_cell gh")
    c0 = _dense0(c0)
    h = Array.empty(dev, (N, H), dt)
    c = Array.empty(dev, (N, H), dt)
    act = Array.empty(dev, (N, 4 * H), dt)
    if N * H:
        kern = _kernel(dev, "lstm_fwd", "lstm_fwd", dt)
        _cell_launch(dev, kern, N, H, gx.buffer, gx.offset, gx_s, gh.buffer, gh_s, c0.buffer,
                     h.buffer, c.buffer, act.buffer)
    return h, c, act


def lstm_cell_backward(dh: Array | None, dc: Array | None, act: Array, c0: Array, c: Array
                       ) -> tuple[Array, Array]:
    """Gradients of :func:`lstm_cell`: (dgates (N, 4H) for both gx and gh, dc0 (N, H))."""
    dt = check_float("lstm_cell_backward", act, c0, c, dh, dc)
    dev = act.device
    N, H = c0.shape
    dh = _dense0(dh) if dh is not None else None
    dc = _dense0(dc) if dc is not None else None
    dgates = Array.empty(dev, (N, 4 * H), dt)
    dc0 = Array.empty(dev, (N, H), dt)
    if N * H:
        kern = _kernel(dev, "lstm_bwd", "lstm_bwd", dt)
        _cell_launch(dev, kern, N, H, (dh if dh is not None else act).buffer,
                     int(dh is not None), (dc if dc is not None else act).buffer,
                     int(dc is not None), act.buffer, _dense0(c0).buffer, _dense0(c).buffer,
                     dgates.buffer, dc0.buffer)
    return dgates, dc0


def gru_cell(gx: Array, gh: Array, h0: Array) -> tuple[Array, Array]:
    """One GRU step from gx (N, 3H) and gh (N, 3H, including the hidden bias), gate order
    r, z, n. Returns (h, act) with act (N, 4H) = r, z, n, hn for :func:`gru_cell_backward`."""
    dt = check_float("gru_cell", gx, gh, h0)
    dev = gx.device
    N, H = h0.shape
    gx, gx_s = _rows_arg(gx, 3 * H, "gru_cell gx")
    gh, gh_s = _rows_arg(_dense0(gh), 3 * H, "gru_cell gh")
    h0 = _dense0(h0)
    h = Array.empty(dev, (N, H), dt)
    act = Array.empty(dev, (N, 4 * H), dt)
    if N * H:
        kern = _kernel(dev, "gru_fwd", "gru_fwd", dt)
        _cell_launch(dev, kern, N, H, gx.buffer, gx.offset, gx_s, gh.buffer, gh_s, h0.buffer,
                     h.buffer, act.buffer)
    return h, act


def gru_cell_backward(dh: Array, act: Array, h0: Array) -> tuple[Array, Array, Array]:
    """Gradients of :func:`gru_cell`: (dgx (N, 3H), dgh (N, 3H), dh0 (N, H))."""
    dt = check_float("gru_cell_backward", dh, act, h0)
    dev = act.device
    N, H = h0.shape
    dgx = Array.empty(dev, (N, 3 * H), dt)
    dgh = Array.empty(dev, (N, 3 * H), dt)
    dh0 = Array.empty(dev, (N, H), dt)
    if N * H:
        kern = _kernel(dev, "gru_bwd", "gru_bwd", dt)
        _cell_launch(dev, kern, N, H, _dense0(dh).buffer, act.buffer, _dense0(h0).buffer,
                     dgx.buffer, dgh.buffer, dh0.buffer)
    return dgx, dgh, dh0
