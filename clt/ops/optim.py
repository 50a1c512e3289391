"""Fused optimizer updates and the gradient unscale of mixed precision (``kernels/optim.cl.mako``).

Every update is one pass over memory per parameter (gradient sign, weight decay, moment buffers
and the parameter write fused), and one kernel launch serves up to :data:`TENSORS_PER_LAUNCH`
parameters, so a model with many small tensors pays few launches. Nothing here waits for the
device. Hyper-parameters travel as scalar kernel arguments: one build per (optimizer, dtype,
style) serves every learning rate, shape and option combination.

Conventions shared by every ``*_step``:

* ``params`` and ``grads`` are parallel lists of Arrays (a single Array is accepted too). A
  parameter may be any view; so may its gradient (a strided one is copied to a dense temporary).
* State buffers come as parallel lists of contiguous Arrays of the parameter's shape and dtype,
  made by the caller (the optimizer classes). A buffer that a configuration does not use is
  ``None`` (the whole list, or every entry: the option is shared by one call).
* Step-dependent factors (bias corrections) are computed by the caller from its host-side step
  counter and shared by the call; callers with parameters at different steps make one call per
  step count.
* ``maximize`` flips the gradient's sign inside the kernel; it never touches ``g`` in memory.
"""
from __future__ import annotations

import functools
from typing import Any, Sequence

from clt import dtypes as D
from clt.backend.device import Device
from clt.errors import DeviceError, DTypeError, ShapeError
from clt.ops import elementwise as ew
from clt.ops.array import Array

TEMPLATE = "optim.cl.mako"
#: tensors updated by one launch: 8 keeps the biggest argument list (RMSprop: 5 buffers, 2
#: offsets and a length per tensor) under the 1024 bytes every OpenCL device must accept
TENSORS_PER_LAUNCH = 8
_VW = 8                 # vector width of the CPU-style loop: chunks are multiples of it
_MIN_CHUNK = 4096       # below this a work-item's loop overhead shows
_MAX_CHUNK = 4096
_GPU_LOCAL = 256
_GPU_MAX_GROUPS = 1024


@functools.lru_cache(maxsize=4096)
def geometry(max_n: int, tensors: int, style: str, compute_units: int
             ) -> tuple[tuple[int, int], tuple[int, int], int]:
    """``(global_size, local_size, chunk)`` of a launch over ``tensors`` rows, the longest
    ``max_n`` elements.

    CPU style: a few contiguous chunks per compute unit for the longest tensor, local size
    fixed at (1, 1) so PoCL compiles the kernel once for every size. GPU style: 256-wide
    groups, a grid-stride loop per row, capped so big tensors reuse threads.
    """
    if style == "cpu":
        # a few chunks per compute unit, but no bigger than _MAX_CHUNK: PoCL spreads the
        # work-items of all rows over its threads, and a handful of huge chunks (one row's)
        # balance badly -- fused SGD on the MLP's 0.5 M parameters ran at 25 GB/s that way
        per = -(-max_n // (4 * max(1, compute_units)))
        chunk = min(_MAX_CHUNK, max(_MIN_CHUNK, -(-per // _VW) * _VW))
        return (tensors, -(-max_n // chunk)), (1, 1), chunk
    groups = min(-(-max_n // _GPU_LOCAL), _GPU_MAX_GROUPS)
    return (groups * _GPU_LOCAL, tensors), (_GPU_LOCAL, 1), 1


def _kernel(device: Device, op: str, dtype: D.DType) -> Any:
    return device.kernels.get(TEMPLATE, op, name=f"clt_optim_{op}_{dtype.tag}", dtype=dtype.name,
                              style=device.caps.style, k=TENSORS_PER_LAUNCH)


def check_param(op: str, p: Array, g: Array | None, states: Sequence[Array | None] = ()
                ) -> Device:
    """Validate a parameter, its gradient and its state buffers before anything is enqueued.

    Raises:
        DTypeError: a non-float parameter, a gradient or buffer of another dtype, float64 on a
            device without fp64.
        ShapeError: a gradient or buffer whose shape differs from the parameter's, or a
            non-contiguous buffer.
        DeviceError: operands on different devices.
    """
    if not p.dtype.is_floating_point:
        raise DTypeError(f"{op}: can only update floating point parameters, got {p.dtype.name}")
    dev = p.device
    D.check_device_dtype(p.dtype, dev)
    if g is not None:
        _check_operand(op, p, g, "grad")
    for k, s in enumerate(states):
        if s is not None:
            _check_operand(op, p, s, f"state buffer {k}")
            if not s.is_contiguous():
                raise ShapeError(f"{op}: state buffer {k} must be contiguous (strides "
                                 f"{s.strides})")
    return dev


def _check_operand(op: str, p: Array, x: Array, what: str) -> None:
    if x.device is not p.device:
        raise DeviceError(f"{op}: the parameter is on {p.device} but its {what} is on {x.device}")
    if x.dtype is not p.dtype:
        raise DTypeError(f"{op}: the parameter has dtype {p.dtype.name} but its {what} has dtype "
                         f"{x.dtype.name}")
    if x.shape != p.shape:
        raise ShapeError(f"{op}: the parameter has shape {p.shape} but its {what} has shape "
                         f"{x.shape}")


def _as_list(x: Any, n: int | None = None) -> list:
    if x is None:
        return [None] * (n or 0)
    if isinstance(x, Array):
        return [x]
    return list(x)


def _run(op: str, params: Any, grads: Any, state_lists: Sequence[Any],
         scalars: Sequence[Any]) -> None:
    """Validate everything, then launch ``op`` over the parameters, TENSORS_PER_LAUNCH at a time.

    ``state_lists`` holds one list (or None) per state buffer kind, in kernel order.
    """
    params, grads = _as_list(params), _as_list(grads)
    if len(grads) != len(params):
        raise ValueError(f"{op}: {len(params)} parameters but {len(grads)} gradients")
    states = [_as_list(s, len(params)) for s in state_lists]
    for k, s in enumerate(states):
        if len(s) != len(params):
            raise ValueError(f"{op}: {len(params)} parameters but {len(s)} state buffers {k}")
        if any(x is None for x in s) and any(x is not None for x in s):
            raise ValueError(f"{op}: state buffer {k} is given for some parameters only")
    rows = list(zip(params, grads, *states))
    for p, g, *sts in rows:
        check_param(op, p, g, sts)
    groups: dict[tuple, list] = {}
    for row in rows:
        if row[0].numel:
            groups.setdefault((row[0].device, row[0].dtype), []).append(row)
    for (dev, dtype), items in groups.items():
        _launch(dev, op, dtype, items, scalars)
    for p, g, *sts in rows:
        p.bump_version()
        for s in sts:
            if s is not None:
                s.bump_version()


def _launch(dev: Device, op: str, dtype: D.DType, items: list, scalars: Sequence[Any]) -> None:
    kernel = _kernel(dev, op, dtype)
    copies = []
    prepared = []
    for p, g, *sts in items:
        work = p
        if not p.is_contiguous():
            work = ew.contiguous(p)
            copies.append((p, work))
        prepared.append((work, ew.contiguous(g), sts))
    # similar sizes share a launch, so few work-items idle
    prepared.sort(key=lambda it: -it[0].numel)
    style, cus = dev.caps.style, dev.info.compute_units
    for start in range(0, len(prepared), TENSORS_PER_LAUNCH):
        batch = prepared[start:start + TENSORS_PER_LAUNCH]
        args: list[Any] = []
        for slot in range(TENSORS_PER_LAUNCH):
            work, g, sts = batch[slot] if slot < len(batch) else batch[0]
            args += [work.buffer, work.offset, g.buffer, g.offset]
            args += [(s if s is not None else work).buffer for s in sts]
            args.append(work.numel if slot < len(batch) else 0)
        gsize, lsize, chunk = geometry(batch[0][0].numel, len(batch), style, cus)
        dev.launch(kernel, gsize, lsize, *args, *scalars, chunk)
    for p, work in copies:
        ew.copy_(p, work)


def sgd_step(params: Any, grads: Any, momentum_buffers: Any, *, lr: float, momentum: float,
             dampening: float, nesterov: bool, weight_decay: float, maximize: bool,
             first: bool) -> None:
    """SGD updates (PyTorch's semantics), ``ceil(len(params) / 8)`` launches.

    ``momentum_buffers`` is None without momentum; ``first`` says they hold nothing yet (the
    first step copies the gradient into them, without dampening).
    """
    bufs = _as_list(momentum_buffers, len(_as_list(params)))
    _run("sgd", params, grads, [bufs],
         [-1.0 if maximize else 1.0, weight_decay, lr, momentum, 1.0 - dampening,
          int(any(b is not None for b in bufs)), int(first), int(nesterov)])


def adam_step(params: Any, grads: Any, exp_avgs: Any, exp_avg_sqs: Any, max_exp_avg_sqs: Any,
              *, lr: float, beta1: float, beta2: float, eps: float, weight_decay: float,
              decoupled: bool, maximize: bool, step: int) -> None:
    """Adam (``decoupled=False``) or AdamW (``decoupled=True``) updates at step ``step`` >= 1.

    AMSGrad is on when ``max_exp_avg_sqs`` is given.
    """
    n = len(_as_list(params))
    vmax = _as_list(max_exp_avg_sqs, n)
    bc1 = 1.0 - beta1 ** step
    bc2_sqrt = (1.0 - beta2 ** step) ** 0.5
    _run("adam", params, grads, [exp_avgs, exp_avg_sqs, vmax],
         [-1.0 if maximize else 1.0, 0.0 if decoupled else weight_decay,
          1.0 - lr * weight_decay if decoupled else 1.0, 1.0 - beta1, beta2, 1.0 - beta2,
          lr / bc1, bc2_sqrt, eps, int(any(v is not None for v in vmax))])


def rmsprop_step(params: Any, grads: Any, square_avgs: Any, grad_avgs: Any,
                 momentum_buffers: Any, *, lr: float, alpha: float, eps: float,
                 weight_decay: float, momentum: float, maximize: bool) -> None:
    """RMSprop updates; centered when ``grad_avgs`` are given, with momentum when
    ``momentum_buffers`` are."""
    n = len(_as_list(params))
    gavg, bufs = _as_list(grad_avgs, n), _as_list(momentum_buffers, n)
    _run("rmsprop", params, grads, [square_avgs, gavg, bufs],
         [-1.0 if maximize else 1.0, weight_decay, lr, alpha, 1.0 - alpha, eps, momentum,
          int(any(x is not None for x in gavg)), int(any(x is not None for x in bufs))])


def adagrad_step(params: Any, grads: Any, state_sums: Any, *, lr: float, lr_decay: float,
                 weight_decay: float, eps: float, maximize: bool, step: int) -> None:
    """Adagrad updates at step ``step`` >= 1."""
    clr = lr / (1.0 + (step - 1) * lr_decay)
    _run("adagrad", params, grads, [state_sums], [-1.0 if maximize else 1.0, weight_decay, clr,
                                                  eps])


def adadelta_step(params: Any, grads: Any, square_avgs: Any, acc_deltas: Any, *, lr: float,
                  rho: float, eps: float, weight_decay: float, maximize: bool) -> None:
    """Adadelta updates."""
    _run("adadelta", params, grads, [square_avgs, acc_deltas],
         [-1.0 if maximize else 1.0, weight_decay, lr, rho, 1.0 - rho, eps])


def lion_step(params: Any, grads: Any, exp_avgs: Any, *, lr: float, beta1: float, beta2: float,
              weight_decay: float, maximize: bool) -> None:
    """Lion updates (decoupled weight decay)."""
    _run("lion", params, grads, [exp_avgs],
         [-1.0 if maximize else 1.0, 1.0 - lr * weight_decay, lr, beta1, 1.0 - beta1, beta2,
          1.0 - beta2])


def unscale_(grads: Any, found_inf: Array, inv_scale: float) -> None:
    """``g *= inv_scale`` in place for every gradient, setting ``found_inf[0] = 1`` if any holds
    an inf or NaN (checked before scaling, as PyTorch). ``ceil(len(grads) / 8)`` launches.

    ``found_inf`` is a one-element int32 array on the gradients' device that the caller zeroes
    once per step; the flag only ever goes from 0 to 1, so it can collect many checks.
    """
    grads = _as_list(grads)
    if found_inf.dtype is not D.int32 or found_inf.numel != 1 or found_inf.offset:
        raise DTypeError(f"unscale_: found_inf must be one int32 element at offset 0, got "
                         f"{found_inf.dtype.name} of shape {found_inf.shape}")
    by_dtype: dict[D.DType, list[Array]] = {}
    for g in grads:
        if not g.dtype.is_floating_point:
            raise DTypeError(f"unscale_: gradients must be floating point, got {g.dtype.name}")
        if g.device is not found_inf.device:
            raise DeviceError(f"unscale_: a gradient is on {g.device} but found_inf is on "
                              f"{found_inf.device}")
        if g.numel:
            by_dtype.setdefault(g.dtype, []).append(g)
    dev = found_inf.device
    style, cus = dev.caps.style, dev.info.compute_units
    for dtype, gs in by_dtype.items():
        kernel = _kernel(dev, "unscale", dtype)
        works = [(g, g if g.is_contiguous() else ew.contiguous(g)) for g in gs]
        works.sort(key=lambda gw: -gw[1].numel)
        for start in range(0, len(works), TENSORS_PER_LAUNCH):
            batch = works[start:start + TENSORS_PER_LAUNCH]
            args: list[Any] = []
            for slot in range(TENSORS_PER_LAUNCH):
                w = batch[slot][1] if slot < len(batch) else batch[0][1]
                args += [w.buffer, w.offset, w.numel if slot < len(batch) else 0]
            gsize, lsize, chunk = geometry(batch[0][1].numel, len(batch), style, cus)
            dev.launch(kernel, gsize, lsize, *args, found_inf.buffer, inv_scale, chunk)
        for g, w in works:
            if w is not g:
                ew.copy_(g, w)
            g.bump_version()
