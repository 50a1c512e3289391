"""Fused classification losses on device arrays (``kernels/loss.cl.mako``), without autograd.

Cross entropy (and NLL, the same kernel without the softmax) reads each row of classes once or
twice and writes the per-row loss, its 'mean' weight and the row's logsumexp; the backward kernel
recomputes the softmax from that logsumexp and writes the whole gradient in one pass. So a
training step's loss costs 3 launches forward (kernel, one sum over rows, one divide) and one
backward, for (N, C), (N, C, d1, ...) and (C,) inputs alike, read in place through strides.
"""
from __future__ import annotations

import math
from typing import NamedTuple

from clt import dtypes as D
from clt.backend.device import Device
from clt.dtypes import DType
from clt.errors import DTypeError, ShapeError
from clt.ops import elementwise as ew
from clt.ops.array import Array

TEMPLATE = "loss.cl.mako"


class Rows(NamedTuple):
    """An input viewed as ``rows = N * inner`` rows of ``C`` classes (element strides)."""

    x: Array
    n: int
    c: int
    inner: int
    s_n: int
    s_c: int
    s_s: int


def _collapse_inner(shape: tuple[int, ...], strides: tuple[int, ...]) -> int | None:
    """One stride walking all of ``shape`` row-major, or None when the dims don't merge."""
    stride = None
    expected = None
    for size, st in zip(reversed(shape), reversed(strides)):
        if size == 1:
            continue
        if expected is None:
            stride, expected = st, st * size
        elif st != expected:
            return None
        else:
            expected = st * size
    return 0 if stride is None else stride


def rows_view(x: Array, with_classes: bool = True) -> Rows:
    """``x`` of shape (C,), (N, C) or (N, C, d1, ...) as rows of classes; class-less targets
    (shape (), (N,) or (N, d1, ...)) with ``with_classes=False`` (then ``c`` is 1)."""
    shape, st = x.shape, x.strides
    if with_classes:
        if x.ndim == 1:
            return Rows(x, 1, shape[0], 1, 0, st[0], 0)
        inner_shape, inner_st = shape[2:], st[2:]
        s_s = _collapse_inner(inner_shape, inner_st)
        if s_s is None:
            x = ew.contiguous(x)
            return rows_view(x, True)
        return Rows(x, shape[0], shape[1], math.prod(inner_shape), st[0], st[1], s_s)
    if x.ndim == 0:
        return Rows(x, 1, 1, 1, 0, 0, 0)
    s_s = _collapse_inner(shape[1:], st[1:])
    if s_s is None:
        return rows_view(ew.contiguous(x), False)
    return Rows(x, shape[0], 1, math.prod(shape[1:]), st[0], 0, s_s)


def acc_dtype(dtype: DType) -> DType:
    """The dtype losses accumulate in: float64 for float64 input, else float32."""
    return D.float64 if dtype is D.float64 else D.float32


def _geometry(dev: Device, rows: int, c: int) -> tuple[tuple[int], tuple[int], int]:
    if dev.caps.style == "cpu":
        items = max(1, min(4 * dev.info.compute_units, -(-rows * max(c, 1) // 16384)))
        chunk = -(-rows // items)
        return (-(-rows // chunk),), (1,), chunk
    return (-(-rows // 64) * 64,), (64,), 1


def _target_rows(target: Array, probs: bool) -> Rows:
    return rows_view(target, True) if probs else rows_view(target, False)


def _kernel_names(x: Array, target: Array, probs: bool) -> tuple[str, dict]:
    tag = x.dtype.tag + ("p" if probs else target.dtype.tag)
    params = dict(x_dtype=x.dtype.name, t_dtype=target.dtype.name,
                  acc=acc_dtype(x.dtype).compute, probs=probs)
    return tag, params


def _check(x: Array, target: Array, weight: Array | None, probs: bool) -> None:
    if not x.dtype.is_floating_point:
        raise DTypeError(f"cross_entropy: expected floating point scores, got {x.dtype.name}")
    if probs:
        if target.dtype is not x.dtype or target.shape != x.shape:
            raise ShapeError(f"cross_entropy: probability targets must match the input's shape "
                             f"and dtype, got {target.shape} {target.dtype.name} for "
                             f"{x.shape} {x.dtype.name}")
    elif target.dtype.name not in ("int32", "int64"):
        raise DTypeError(f"cross_entropy: class-index targets must be int64 or int32, got "
                         f"{target.dtype.name}")
    if weight is not None and (weight.dtype is not x.dtype or weight.ndim != 1):
        raise DTypeError(f"cross_entropy: weight must be 1-D of dtype {x.dtype.name}, got "
                         f"{weight.shape} {weight.dtype.name}")


def cross_entropy_forward(x: Array, target: Array, weight: Array | None, ignore_index: int,
                          label_smoothing: float, logits: bool, probs: bool,
                          op: str = "cross_entropy") -> tuple[Array, Array]:
    """Per-row losses of ``x`` (rows of classes, see :func:`rows_view`).

    Returns ``(out, lse)``: ``out`` of shape (2, rows) holds the losses and the weights of the
    'mean' denominator; ``lse`` (rows,) each row's logsumexp (zeros when ``logits`` is False:
    ``x`` then holds log-probabilities, as for ``nll_loss``). Both in :func:`acc_dtype`.
    """
    from clt.ops.index import _slot    # the per-device index-error slot (shared with indexing)

    _check(x, target, weight, probs)
    xr = rows_view(x, True)
    tr = _target_rows(target, probs)
    rows = xr.n * xr.inner
    dev = x.device
    acc = acc_dtype(x.dtype)
    out = Array.empty(dev, (2, rows), acc)
    lse = Array.empty(dev, (rows,), acc)
    if rows == 0:
        return out, lse
    tag, params = _kernel_names(x, target, probs)
    kernel = dev.kernels.get(TEMPLATE, "ce_forward", name=f"clt_loss_ce_fw_{tag}", **params)
    slot = _slot(dev)
    w = weight if weight is not None else xr.x
    gsize, lsize, chunk = _geometry(dev, rows, xr.c)
    dev.launch(kernel, gsize, lsize,
               xr.x.buffer, xr.x.offset, xr.s_n, xr.s_c, xr.s_s,
               tr.x.buffer, tr.x.offset, tr.s_n, tr.s_c, tr.s_s,
               w.buffer, w.offset if weight is not None else 0,
               weight.strides[0] if weight is not None else 0, int(weight is not None),
               out.buffer, lse.buffer, slot.buffer, slot.code(f"{op}(): target", (1,)),
               rows, xr.inner, xr.c, int(ignore_index), float(label_smoothing), int(logits),
               chunk)
    if not probs:
        slot.dirty = True
    return out, lse


def cross_entropy_backward(x: Array, target: Array, weight: Array | None, lse: Array,
                           grad_out: Array, den: Array | None, ignore_index: int,
                           label_smoothing: float, logits: bool, probs: bool,
                           want_s: bool = False) -> tuple[Array, Array | None]:
    """Gradient of the losses w.r.t. ``x`` (dense, x's shape and dtype).

    ``grad_out`` is the upstream gradient: one element (reduced loss) or one per row
    (``reduction='none'``); ``den`` a 0-d/1-element array dividing it ('mean'). With ``want_s``
    also returns S (rows,), the per-row factor of the softmax term (see the template).
    """
    xr = rows_view(x, True)
    tr = _target_rows(target, probs)
    rows = xr.n * xr.inner
    dev = x.device
    acc = acc_dtype(x.dtype)
    grad = Array.empty(dev, x.shape, x.dtype)
    s_arr = Array.empty(dev, (rows,), acc) if want_s else None
    if rows == 0 or x.numel == 0:
        return grad, s_arr
    if grad_out.numel not in (1, rows):
        raise ShapeError(f"cross_entropy backward: grad_output has {grad_out.numel} elements "
                         f"for {rows} rows")
    go = grad_out if grad_out.dtype is x.dtype else ew.cast(grad_out, x.dtype)
    go = ew.contiguous(go)
    tag, params = _kernel_names(x, target, probs)
    kernel = dev.kernels.get(TEMPLATE, "ce_backward", name=f"clt_loss_ce_bw_{tag}", **params)
    gr = rows_view(grad, True)
    w = weight if weight is not None else xr.x
    d = den if den is not None else lse
    s_buf = s_arr if s_arr is not None else lse
    gsize, lsize, chunk = _geometry(dev, rows, xr.c)
    dev.launch(kernel, gsize, lsize,
               grad.buffer, gr.s_n, gr.s_c, gr.s_s,
               xr.x.buffer, xr.x.offset, xr.s_n, xr.s_c, xr.s_s,
               tr.x.buffer, tr.x.offset, tr.s_n, tr.s_c, tr.s_s,
               w.buffer, w.offset if weight is not None else 0,
               weight.strides[0] if weight is not None else 0, int(weight is not None),
               lse.buffer,
               go.buffer, go.offset, 1 if go.numel == rows and rows > 1 else 0,
               d.buffer, d.offset, int(den is not None),
               s_buf.buffer, int(want_s),
               rows, xr.inner, xr.c, int(ignore_index), float(label_smoothing), int(logits),
               chunk)
    grad.bump_version()
    return grad, s_arr
