"""Differentiable convolution, pooling, normalisation, upsampling and RNN-cell functions.

Each op is a :class:`~clt.autograd.Function` whose ``forward`` runs kernels from
:mod:`clt.ops.conv`. Backward passes are themselves Functions of this module, so ``create_graph``
works: convolution, its input gradient (the transposed convolution) and its weight gradient are
each other's adjoints; every linear backward (pooling, upsampling) has its forward as adjoint;
normalisation backward uses fused kernels, or composed differentiable ops when a graph of the
backward is being recorded.

These are the building blocks; argument checking and PyTorch's calling conventions live in
``clt.nn.functional`` (``clt/nn/_functional/``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from clt import dtypes as D
from clt.autograd.function import Function
from clt.autograd.grad_mode import STATE
from clt.backend.fusion import fusion_enabled
from clt.functions.elementwise import to_dtype
from clt.ops import conv as K
from clt.ops import elementwise as ew
from clt.ops.array import Array
from clt.tensor import Tensor


@dataclass(frozen=True)
class ConvSpec:
    """Geometry of a 2-D convolution: stride, (top, left) padding, dilation, groups."""

    stride: tuple[int, int]
    padding: tuple[int, int]
    dilation: tuple[int, int]
    groups: int

    def args(self) -> tuple:
        """The geometry as positional arguments for the ``clt.ops.conv`` kernels.

        Returns:
            ``(stride, padding, dilation, groups)``.
        """
        return self.stride, self.padding, self.dilation, self.groups


def _as_dtype(a: Array, dt: D.DType) -> Array:
    return a if a.dtype is dt else ew.cast(a, dt)


# ---------------------------------------------------------------------------------------------
# convolution: the three mutually adjoint ops

class Conv2dFn(Function):
    """``y = conv2d(x, w) + b`` with an explicit output size."""

    @staticmethod
    def forward(ctx, x: Tensor, w: Tensor, b: Tensor | None, spec: ConvSpec,
                out_hw: tuple[int, int]) -> Array:
        """Run the conv2d kernel; saves ``x`` and ``w`` for backward."""
        ctx.spec, ctx.in_hw, ctx.k_hw = spec, tuple(x.shape[2:]), tuple(w.shape[2:])
        ctx.save_for_backward(x, w)
        s = spec
        if b is None or fusion_enabled("bias"):   # the bias added in the kernel's epilogue
            return K.conv2d(x._data, w._data, b._data if b is not None else None, s.stride,
                            s.padding, s.dilation, s.groups, out_hw)
        y = K.conv2d(x._data, w._data, None, s.stride, s.padding, s.dilation, s.groups, out_hw)
        ba = b._data
        return ew.binary("add", y, ba.view((1, ba.shape[0], 1, 1), (0, ba.strides[0], 0, 0)))

    @staticmethod
    def backward(ctx, gy: Tensor) -> tuple:
        """Gradients of ``x``, ``w`` and ``b`` (as differentiable Functions when a graph is
        recorded)."""
        x, w = ctx.saved_tensors
        need = ctx.needs_input_grad
        gb = channel_sum(gy) if need[2] else None
        if STATE.enabled:   # create_graph: the gradients as differentiable functions
            gx = ConvInputGradFn.apply(gy, w, ctx.spec, ctx.in_hw) if need[0] else None
            gw = ConvWeightGradFn.apply(x, gy, ctx.spec, ctx.k_hw) if need[1] else None
            return gx, gw, gb, None, None
        s = ctx.spec
        gxa, gwa = K.conv2d_backward(x._data, w._data, gy._data, s.stride, s.padding,
                                     s.dilation, s.groups, need[0], need[1])
        return (Tensor(gxa) if gxa is not None else None,
                Tensor(gwa) if gwa is not None else None, gb, None, None)


class ConvInputGradFn(Function):
    """``conv2d``'s gradient with respect to its input: the transposed convolution of ``gy``."""

    @staticmethod
    def forward(ctx, gy: Tensor, w: Tensor, spec: ConvSpec, in_hw: tuple[int, int]) -> Array:
        """Run the transposed-convolution kernel on ``gy`` to the input size ``in_hw``."""
        ctx.spec, ctx.out_hw = spec, tuple(gy.shape[2:])
        ctx.save_for_backward(gy, w)
        s = spec
        return K.conv2d_input_grad(gy._data, w._data, in_hw, s.stride, s.padding, s.dilation,
                                   s.groups)

    @staticmethod
    def backward(ctx, g: Tensor) -> tuple:
        """Gradients of ``gy`` (a conv2d) and ``w`` (a weight gradient)."""
        gy, w = ctx.saved_tensors
        need = ctx.needs_input_grad
        ggy = Conv2dFn.apply(g, w, None, ctx.spec, ctx.out_hw) if need[0] else None
        gw = ConvWeightGradFn.apply(g, gy, ctx.spec, tuple(w.shape[2:])) if need[1] else None
        return ggy, gw, None, None


class ConvWeightGradFn(Function):
    """``conv2d``'s gradient with respect to its weight."""

    @staticmethod
    def forward(ctx, x: Tensor, gy: Tensor, spec: ConvSpec, k_hw: tuple[int, int]) -> Array:
        """Run the weight-gradient kernel for a kernel of size ``k_hw``."""
        ctx.spec, ctx.in_hw, ctx.out_hw = spec, tuple(x.shape[2:]), tuple(gy.shape[2:])
        ctx.save_for_backward(x, gy)
        s = spec
        return K.conv2d_weight_grad(x._data, gy._data, k_hw, s.stride, s.padding, s.dilation,
                                    s.groups)

    @staticmethod
    def backward(ctx, g: Tensor) -> tuple:
        """Gradients of ``x`` (an input gradient) and ``gy`` (a conv2d)."""
        x, gy = ctx.saved_tensors
        need = ctx.needs_input_grad
        gx = ConvInputGradFn.apply(gy, g, ctx.spec, ctx.in_hw) if need[0] else None
        ggy = Conv2dFn.apply(x, g, None, ctx.spec, ctx.out_hw) if need[1] else None
        return gx, ggy, None, None


class ChannelSumFn(Function):
    """Sum of (N, C, *) over every dim but 1: the bias gradient of a convolution."""

    @staticmethod
    def forward(ctx, x: Tensor) -> Array:
        """Sum every dim but 1, in ``x``'s dtype."""
        ctx.shape = tuple(x.shape)
        return _as_dtype(K.channel_sum(x._data), x.dtype)

    @staticmethod
    def backward(ctx, g: Tensor) -> tuple:
        """Broadcast ``g`` back to the input shape."""
        shape = ctx.shape
        view = (1, shape[1]) + (1,) * (len(shape) - 2)
        return (g.reshape(view).expand(shape),)


def channel_sum(x: Tensor) -> Tensor:
    """Per-channel sum of an (N, C, *) tensor (differentiable)."""
    return ChannelSumFn.apply(x)


# ---------------------------------------------------------------------------------------------
# pooling

@dataclass(frozen=True)
class PoolSpec:
    """Geometry of a 2-D pooling window.

    Attributes:
        kernel: Window (height, width).
        stride: Step (height, width).
        padding: Implicit padding (top, left).
        dilation: Spacing of window elements.
        ceil_mode: Whether the output size rounds up.
        count_include_pad: Whether average pooling counts padded elements.
        divisor: Fixed divisor for average pooling (0: use the window count).
    """
    kernel: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int]
    dilation: tuple[int, int]
    ceil_mode: bool = False
    count_include_pad: bool = True
    divisor: int = 0


class MaxPool2dFn(Function):
    """Max pooling over the last two dims; returns (values, int64 indices)."""

    @staticmethod
    def forward(ctx, x: Tensor, spec: PoolSpec) -> tuple[Array, Tensor]:
        """Run the max-pool kernel; the indices are marked non-differentiable."""
        y, idx = K.pool2d(x._data, "max", spec.kernel, spec.stride, spec.padding,
                          spec.dilation, spec.ceil_mode)
        idx_t = Tensor(idx)
        ctx.mark_non_differentiable(idx_t)
        ctx.spec, ctx.in_shape, ctx.idx = spec, tuple(x.shape), idx_t
        return y, idx_t

    @staticmethod
    def backward(ctx, gy: Tensor, _gidx: Any = None) -> tuple:
        """Route ``gy`` to the argmax positions (``MaxPoolGradFn``)."""
        return MaxPoolGradFn.apply(gy, ctx.idx, ctx.in_shape, ctx.spec, False), None


class MaxPoolGradFn(Function):
    """Gradient of (adaptive) max pooling: gy routed to the recorded argmax positions."""

    @staticmethod
    def forward(ctx, gy: Tensor, idx: Tensor, in_shape: tuple, spec: Any, adaptive: bool
                ) -> Array:
        """Route ``gy`` to the argmax positions ``idx`` in a tensor of ``in_shape``."""
        ctx.idx = idx
        if adaptive:
            return K.adaptive_pool2d_backward(gy._data, idx._data, in_shape, "max")
        return K.pool2d_backward(gy._data, idx._data, in_shape, "max", spec.kernel,
                                 spec.stride, spec.padding, spec.dilation)

    @staticmethod
    def backward(ctx, g: Tensor) -> tuple:
        """Gather ``g`` at the indices (``PlaneGatherFn``): the gradient of ``gy``."""
        return PlaneGatherFn.apply(g, ctx.idx), None, None, None, None


class PlaneGatherFn(Function):
    """``out[..., o] = src[..., idx[..., o]]`` per plane (adjoint of the max-pool gradient)."""

    @staticmethod
    def forward(ctx, src: Tensor, idx: Tensor) -> Array:
        """Gather ``src`` at ``idx`` per plane."""
        ctx.idx, ctx.shape = idx, tuple(src.shape)
        return K.plane_gather(src._data, idx._data)

    @staticmethod
    def backward(ctx, g: Tensor) -> tuple:
        """Scatter ``g`` back to the source positions (the gradient of ``src``)."""
        return MaxPoolGradFn.apply(g, ctx.idx, ctx.shape, None, True), None


class AvgPool2dFn(Function):
    """Average pooling over the last two dims with a :class:`PoolSpec`."""
    @staticmethod
    def forward(ctx, x: Tensor, spec: PoolSpec) -> Array:
        """Run the average-pool kernel."""
        ctx.spec, ctx.in_shape = spec, tuple(x.shape)
        y, _ = K.pool2d(x._data, "avg", spec.kernel, spec.stride, spec.padding, (1, 1),
                        spec.ceil_mode, spec.count_include_pad, spec.divisor)
        return y

    @staticmethod
    def backward(ctx, gy: Tensor) -> tuple:
        """Spread ``gy`` over each window (``AvgPoolGradFn``)."""
        return AvgPoolGradFn.apply(gy, ctx.in_shape, ctx.spec), None


class AvgPoolGradFn(Function):
    """Gradient of average pooling: ``gy`` spread evenly over each window."""
    @staticmethod
    def forward(ctx, gy: Tensor, in_shape: tuple, spec: PoolSpec) -> Array:
        """Run the average-pool backward kernel to a tensor of ``in_shape``."""
        ctx.spec = spec
        return K.pool2d_backward(gy._data, None, in_shape, "avg", spec.kernel, spec.stride,
                                 spec.padding, (1, 1), spec.count_include_pad, spec.divisor)

    @staticmethod
    def backward(ctx, g: Tensor) -> tuple:
        # average pooling is linear: its gradient's adjoint is the pooling itself
        """Average-pool ``g`` (the op is linear, so its adjoint is the pooling)."""
        return AvgPool2dFn.apply(g, ctx.spec), None, None


class AdaptiveMaxPool2dFn(Function):
    """Adaptive max pooling to a fixed (OH, OW); returns (values, int64 indices)."""
    @staticmethod
    def forward(ctx, x: Tensor, size: tuple[int, int]) -> tuple[Array, Tensor]:
        """Run the adaptive max-pool kernel; the indices are marked non-differentiable."""
        y, idx = K.adaptive_pool2d(x._data, "max", size)
        idx_t = Tensor(idx)
        ctx.mark_non_differentiable(idx_t)
        ctx.idx, ctx.in_shape = idx_t, tuple(x.shape)
        return y, idx_t

    @staticmethod
    def backward(ctx, gy: Tensor, _gidx: Any = None) -> tuple:
        """Route ``gy`` to the argmax positions (``MaxPoolGradFn``)."""
        return MaxPoolGradFn.apply(gy, ctx.idx, ctx.in_shape, None, True), None


class AdaptiveAvgPool2dFn(Function):
    """Adaptive average pooling to a fixed (OH, OW)."""
    @staticmethod
    def forward(ctx, x: Tensor, size: tuple[int, int]) -> Array:
        """Run the adaptive average-pool kernel."""
        ctx.in_shape, ctx.size = tuple(x.shape), size
        return K.adaptive_pool2d(x._data, "avg", size)[0]

    @staticmethod
    def backward(ctx, gy: Tensor) -> tuple:
        """Spread ``gy`` over each window (``AdaptiveAvgPoolGradFn``)."""
        return AdaptiveAvgPoolGradFn.apply(gy, ctx.in_shape), None


class AdaptiveAvgPoolGradFn(Function):
    """Gradient of adaptive average pooling."""
    @staticmethod
    def forward(ctx, gy: Tensor, in_shape: tuple) -> Array:
        """Run the adaptive average-pool backward kernel to a tensor of ``in_shape``."""
        ctx.size = tuple(gy.shape[-2:])
        return K.adaptive_pool2d_backward(gy._data, None, in_shape, "avg")

    @staticmethod
    def backward(ctx, g: Tensor) -> tuple:
        """Adaptive-average-pool ``g`` (the adjoint of this linear op)."""
        return AdaptiveAvgPool2dFn.apply(g, ctx.size), None


# ---------------------------------------------------------------------------------------------
# upsampling

@dataclass(frozen=True)
class InterpSpec:
    """How to resample in :class:`UpsampleFn`.

    Attributes:
        mode: ``"nearest"``, ``"nearest_exact"`` or ``"bilinear"``.
        align_corners: Whether corner pixels map onto each other (bilinear).
        scales: Per-dim output-to-input scale, or None to derive it from the sizes.
    """
    mode: str                       # "nearest", "nearest_exact" or "bilinear"
    align_corners: bool
    scales: tuple[float | None, float | None]


class UpsampleFn(Function):
    """2-D resampling of (N, C, H, W) to a given (OH, OW)."""
    @staticmethod
    def forward(ctx, x: Tensor, size: tuple[int, int], spec: InterpSpec) -> Array:
        """Run the upsampling kernel."""
        ctx.in_shape, ctx.size, ctx.spec = tuple(x.shape), size, spec
        return K.upsample2d(x._data, size, spec.mode, spec.align_corners, spec.scales)

    @staticmethod
    def backward(ctx, gy: Tensor) -> tuple:
        """Accumulate ``gy`` back onto the input grid (``UpsampleGradFn``)."""
        return UpsampleGradFn.apply(gy, ctx.in_shape, ctx.spec), None, None


class UpsampleGradFn(Function):
    """Gradient of :class:`UpsampleFn`."""
    @staticmethod
    def forward(ctx, gy: Tensor, in_shape: tuple, spec: InterpSpec) -> Array:
        """Run the upsampling backward kernel to a tensor of ``in_shape``."""
        ctx.size, ctx.spec = tuple(gy.shape[-2:]), spec
        return K.upsample2d_backward(gy._data, in_shape, spec.mode, spec.align_corners,
                                     spec.scales)

    @staticmethod
    def backward(ctx, g: Tensor) -> tuple:
        """Upsample ``g`` (the adjoint of this linear op)."""
        return UpsampleFn.apply(g, ctx.size, ctx.spec), None, None


# ---------------------------------------------------------------------------------------------
# normalisation

def _bcast_c(v: Tensor, ndim: int) -> Tensor:
    """A (C,) tensor viewed to broadcast against (N, C, *) with ``ndim`` dims."""
    return v.reshape((1, v.shape[0]) + (1,) * (ndim - 2))


class BatchNormFn(Function):
    """Batch normalisation of (N, C, *) (fused statistics, apply and backward kernels)."""

    @staticmethod
    def forward(ctx, x: Tensor, w: Tensor | None, b: Tensor | None, rm: Tensor | None,
                rv: Tensor | None, training: bool, momentum: float, eps: float) -> Array:
        """Run the fused batch-norm kernels (updating ``rm``/``rv`` in training)."""
        y, save = K.batch_norm(x._data, w._data if w is not None else None,
                               b._data if b is not None else None,
                               rm._data if rm is not None else None,
                               rv._data if rv is not None else None, training, momentum, eps)
        ctx.save_for_backward(x, w)
        ctx.save, ctx.training, ctx.eps = save, training, eps
        ctx.has_b = b is not None
        return y

    @staticmethod
    def backward(ctx, g: Tensor) -> tuple:
        """Gradients of ``x``, ``w`` and ``b`` (fused kernels, or composed ops when a graph is
        recorded)."""
        x, w = ctx.saved_tensors
        need = ctx.needs_input_grad
        if STATE.enabled:   # create_graph: a differentiable composition
            gx, gw, gb = _batch_norm_backward_composed(g, x, w, ctx)
        else:
            gxa, pg = K.batch_norm_backward(g._data, x._data, w._data if w is not None else None,
                                            ctx.save, ctx.training)
            gx = Tensor(gxa)
            gw = Tensor(_as_dtype(_row(pg, 0), x.dtype)) if need[1] else None
            gb = Tensor(_as_dtype(_row(pg, 1), x.dtype)) if need[2] else None
        return (gx if need[0] else None, gw if need[1] else None, gb if need[2] else None,
                None, None, None, None, None)


def _row(a: Array, i: int) -> Array:
    n = a.shape[1]
    return a.view((n,), (1,), a.offset + i * n)


def _batch_norm_backward_composed(g: Tensor, x: Tensor, w: Tensor | None, ctx: Any) -> tuple:
    nd = x.ndim
    m = x.numel() // x.shape[1]
    if ctx.training:
        mean = _bcast_c(channel_sum(x), nd) / m
        xc = x - mean
        var = _bcast_c(channel_sum(xc * xc), nd) / m
        invstd = (var + ctx.eps) ** -0.5
    else:
        save = Tensor(_as_dtype(ctx.save, x.dtype))
        xc = x - _bcast_c(save[0], nd)
        invstd = _bcast_c(save[1], nd)
    xhat = xc * invstd
    scale = invstd * _bcast_c(w, nd) if w is not None else invstd
    if ctx.training:
        gsum = _bcast_c(channel_sum(g), nd) / m
        gxsum = _bcast_c(channel_sum(g * xhat), nd) / m
        gx = (g - gsum - xhat * gxsum) * scale
    else:
        gx = g * scale
    return gx, channel_sum(g * xhat), channel_sum(g)


class RowNormFn(Function):
    """Layer norm (``layer``) or group norm of ``rows`` contiguous rows of ``x``.

    ``w``/``b`` hold one value per affine index (LayerNorm: the normalized shape, flattened;
    GroupNorm: the channels) and are given with their own shapes.
    """

    @staticmethod
    def forward(ctx, x: Tensor, w: Tensor | None, b: Tensor | None, rows: int, groups: int,
                hw: int, eps: float, layer: bool) -> Array:
        """Run the fused row-normalisation kernel."""
        ctx.layer = layer
        y, save = K.row_norm(x._data, rows, groups, hw, w._data if w is not None else None,
                             b._data if b is not None else None, eps)
        ctx.save_for_backward(x, w)
        ctx.save, ctx.geom, ctx.eps = save, (rows, groups, hw), eps
        ctx.pshape = tuple(w.shape) if w is not None else tuple(b.shape) if b is not None else ()
        return y

    @staticmethod
    def backward(ctx, g: Tensor) -> tuple:
        """Gradients of ``x``, ``w`` and ``b`` (fused kernels, or composed ops when a graph is
        recorded)."""
        x, w = ctx.saved_tensors
        need = ctx.needs_input_grad
        rows, groups, hw = ctx.geom
        if STATE.enabled:
            gx, gw, gb = _row_norm_backward_composed(g, x, w, ctx)
        else:
            n_params = 0
            for p in ctx.pshape:
                n_params = (n_params or 1) * p
            gxa, pg = K.row_norm_backward(g._data, x._data, rows, groups, hw,
                                          w._data if w is not None else None, ctx.save,
                                          n_params if (need[1] or need[2]) else 0,
                                          need_input=need[0], need_params=need[1] or need[2])
            gx = Tensor(gxa) if gxa is not None else None
            gw = gb = None
            if pg is not None:
                gw = Tensor(_as_dtype(_row(pg, 0), x.dtype)).reshape(ctx.pshape)
                gb = Tensor(_as_dtype(_row(pg, 1), x.dtype)).reshape(ctx.pshape)
        return (gx if need[0] else None, gw if need[1] else None, gb if need[2] else None,
                None, None, None, None, None)


def _row_norm_backward_composed(g: Tensor, x: Tensor, w: Tensor | None, ctx: Any) -> tuple:
    rows, groups, hw = ctx.geom
    shape = tuple(x.shape)
    n_per_row = x.numel() // rows

    def row_mean(t: Tensor) -> Tensor:   # (1, rows, L) -> per-row mean, broadcastable
        return channel_sum(t.reshape(1, rows, n_per_row)).reshape(1, rows, 1) / n_per_row

    xr = x.reshape(1, rows, n_per_row)
    xc = xr - row_mean(xr)
    rstd = (row_mean(xc * xc) + ctx.eps) ** -0.5
    xhat = (xc * rstd).reshape(shape)
    if ctx.layer:   # w has the trailing shape of x
        gw_in = g * w if w is not None else g
        gwr = gw_in.reshape(1, rows, n_per_row)
        gx = (gwr - row_mean(gwr) - xc * rstd * row_mean(gwr * xc * rstd)) * rstd
        lead = rows
        gxh = (g * xhat).reshape(lead, -1)
        pgw = channel_sum(gxh.reshape(lead, gxh.shape[1], 1))
        pgb = channel_sum(g.reshape(lead, -1, 1))
        pshape = tuple(ctx.pshape)
        return gx.reshape(shape), pgw.reshape(pshape) if pshape else None, \
            pgb.reshape(pshape) if pshape else None
    n, c = shape[0], shape[1]
    gw_in = g * _bcast_c(w, len(shape)) if w is not None else g
    gwr = gw_in.reshape(1, rows, n_per_row)
    gx = (gwr - row_mean(gwr) - xc * rstd * row_mean(gwr * xc * rstd)) * rstd
    pgw = channel_sum((g * xhat).reshape(n, c, -1))
    pgb = channel_sum(g.reshape(n, c, -1))
    return gx.reshape(shape), pgw, pgb


# ---------------------------------------------------------------------------------------------
# recurrent cells and the concatenation they need

class CatFn(Function):
    """Concatenate tensors along ``dim`` (differentiable; the gradient is a view per input)."""

    @staticmethod
    def forward(ctx, dim: int, *xs: Tensor) -> Array:
        """Copy each input into its slice of a new array along ``dim``."""
        first = xs[0]
        shape = list(first.shape)
        shape[dim] = sum(x.shape[dim] for x in xs)
        out = Array.empty(first.device, tuple(shape), first.dtype)
        ctx.dim, ctx.sizes = dim, tuple(x.shape[dim] for x in xs)
        start = 0
        for x in xs:
            n = x.shape[dim]
            if n:
                ew.copy_(_narrow_view(out, dim, start, n), x._data)
            start += n
        return out

    @staticmethod
    def backward(ctx, g: Tensor) -> tuple:
        """Slice ``g`` back into one view per input (None for ``dim``)."""
        grads: list[Any] = [None]
        start = 0
        for n, need in zip(ctx.sizes, ctx.needs_input_grad[1:]):
            grads.append(g.narrow(ctx.dim, start, n) if need else None)
            start += n
        return tuple(grads)


def _narrow_view(a: Array, dim: int, start: int, n: int) -> Array:
    shape = list(a.shape)
    shape[dim] = n
    return a.view(tuple(shape), a.strides, a.offset + start * a.strides[dim])


def cat(tensors: Any, dim: int = 0) -> Tensor:
    """Concatenate same-shaped (but for ``dim``) tensors along ``dim``."""
    tensors = tuple(tensors)
    d = dim % tensors[0].ndim
    return CatFn.apply(d, *tensors)


def stack(tensors: Any, dim: int = 0) -> Tensor:
    """Stack same-shaped tensors along a new dim ``dim``."""
    return cat([t.unsqueeze(dim) for t in tensors], dim)


class LSTMCellFn(Function):
    """(h, c) of one LSTM step from gate pre-activations gx, gh (N, 4H) and the cell state c0."""

    @staticmethod
    def forward(ctx, gx: Tensor, gh: Tensor, c0: Tensor) -> tuple[Array, Array]:
        """Run the fused LSTM cell kernel; returns ``(h, c)``."""
        h, c, act = K.lstm_cell(gx._data, gh._data, c0._data)
        ctx.save_for_backward(gx, gh, c0)
        ctx.act, ctx.c = act, c
        return h, c

    @staticmethod
    def backward(ctx, dh: Tensor | None, dc: Tensor | None) -> tuple:
        """Gradients of ``gx``, ``gh`` and ``c0`` from ``dh`` and ``dc`` (either may be None)."""
        gx, gh, c0 = ctx.saved_tensors
        if STATE.enabled:
            return _lstm_backward_composed(gx, gh, c0, dh, dc)
        dgates, dc0 = K.lstm_cell_backward(dh._data if dh is not None else None,
                                           dc._data if dc is not None else None, ctx.act,
                                           c0._data, ctx.c)
        dg = Tensor(dgates)
        need = ctx.needs_input_grad
        return (dg if need[0] else None, dg if need[1] else None,
                Tensor(dc0) if need[2] else None)


def _lstm_backward_composed(gx: Tensor, gh: Tensor, c0: Tensor, dh: Tensor | None,
                            dc: Tensor | None) -> tuple:
    hs = c0.shape[1]
    z = gx + gh
    i, f = z[:, :hs].sigmoid(), z[:, hs:2 * hs].sigmoid()
    g, o = z[:, 2 * hs:3 * hs].tanh(), z[:, 3 * hs:].sigmoid()
    tc = (f * c0 + i * g).tanh()
    dct = dc if dc is not None else None
    if dh is not None:
        term = dh * o * (1 - tc * tc)
        dct = term if dct is None else dct + term
    zeros = c0 * 0
    dct = dct if dct is not None else zeros
    do = dh * tc * o * (1 - o) if dh is not None else zeros
    dgates = cat([dct * g * i * (1 - i), dct * c0 * f * (1 - f), dct * i * (1 - g * g), do], 1)
    return dgates, dgates, dct * f


class GRUCellFn(Function):
    """h of one GRU step from gx (N, 3H), gh (N, 3H, hidden bias included) and h0."""

    @staticmethod
    def forward(ctx, gx: Tensor, gh: Tensor, h0: Tensor) -> Array:
        """Run the fused GRU cell kernel; returns ``h``."""
        h, act = K.gru_cell(gx._data, gh._data, h0._data)
        ctx.save_for_backward(gx, gh, h0)
        ctx.act = act
        return h

    @staticmethod
    def backward(ctx, dh: Tensor) -> tuple:
        """Gradients of ``gx``, ``gh`` and ``h0`` from ``dh``."""
        gx, gh, h0 = ctx.saved_tensors
        if STATE.enabled:
            return _gru_backward_composed(gx, gh, h0, dh)
        dgx, dgh, dh0 = K.gru_cell_backward(dh._data, ctx.act, h0._data)
        need = ctx.needs_input_grad
        return (Tensor(dgx) if need[0] else None, Tensor(dgh) if need[1] else None,
                Tensor(dh0) if need[2] else None)


def _gru_backward_composed(gx: Tensor, gh: Tensor, h0: Tensor, dh: Tensor) -> tuple:
    hs = h0.shape[1]
    r = (gx[:, :hs] + gh[:, :hs]).sigmoid()
    z = (gx[:, hs:2 * hs] + gh[:, hs:2 * hs]).sigmoid()
    hn = gh[:, 2 * hs:]
    n = (gx[:, 2 * hs:] + r * hn).tanh()
    dan = dh * (1 - z) * (1 - n * n)
    daz = dh * (h0 - n) * z * (1 - z)
    dar = dan * hn * r * (1 - r)
    return cat([dar, daz, dan], 1), cat([dar, daz, dan * r], 1), dh * z


__all__: list[str] = []
del to_dtype
