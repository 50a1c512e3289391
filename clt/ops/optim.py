"""Fused optimizer updates and the gradient unscale of mixed precision (``kernels/optim.cl.mako``).

Each function updates ONE parameter in ONE kernel launch: gradient sign, weight decay, the moment
buffers and the parameter write are a single pass over memory. Nothing here waits for the device.
Hyper-parameters travel as scalar kernel arguments, so one build per (optimizer, dtype, style)
serves every learning rate, every shape and every option combination.

Conventions shared by every ``*_step``:

* ``p`` (the parameter) may be any view; ``g`` (its gradient) too (a strided one is copied to a
  dense temporary first). State buffers are contiguous arrays of ``p``'s shape and dtype, made by
  the caller (the optimizer classes); a buffer a configuration does not use is ``None``.
* Bias corrections and other step-dependent factors are computed by the caller from its host-side
  step counter and passed in as plain floats.
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
_VW = 8                 # vector width of the CPU-style loop: chunks are multiples of it
_MIN_CHUNK = 4096       # below this a work-item's loop overhead shows
_GPU_LOCAL = 256
_GPU_MAX_GROUPS = 1024


@functools.lru_cache(maxsize=4096)
def geometry(n: int, style: str, compute_units: int) -> tuple[tuple[int], tuple[int], int]:
    """``(global_size, local_size, chunk)`` for a flat update of ``n`` elements.

    CPU style: a few contiguous chunks per compute unit (enough to balance, few enough that each
    is long), local size fixed at 1 so PoCL compiles the kernel once for every size of ``n``.
    GPU style: a grid-stride loop with 256-wide groups, capped so big tensors reuse threads.
    """
    if style == "cpu":
        per = -(-n // (4 * max(1, compute_units)))
        chunk = max(_MIN_CHUNK, -(-per // _VW) * _VW)
        return (-(-n // chunk),), (1,), chunk
    groups = min(-(-n // _GPU_LOCAL), _GPU_MAX_GROUPS)
    return (groups * _GPU_LOCAL,), (_GPU_LOCAL,), 1


def _kernel(device: Device, op: str, dtype: D.DType) -> Any:
    return device.kernels.get(TEMPLATE, op, name=f"clt_optim_{op}_{dtype.tag}", dtype=dtype.name,
                              style=device.caps.style)


def check_param(op: str, p: Array, g: Array | None, states: Sequence[Array | None] = ()
                ) -> Device:
    """Validate a parameter, its gradient and its state buffers before anything is enqueued.

    Raises:
        DTypeError: a non-float parameter, a gradient or buffer of another dtype, float64 on a
            device without fp64.
        ShapeError: a gradient or buffer whose shape differs from the parameter's.
        DeviceError: operands on different devices.
    """
    if not p.dtype.is_floating_point:
        raise DTypeError(f"{op}: can only update floating point parameters, got {p.dtype.name}")
    dev = p.device
    D.check_device_dtype(p.dtype, dev)
    for what, x in [("grad", g)] + [(f"state buffer {k}", s) for k, s in enumerate(states)]:
        if x is None:
            continue
        if x.device is not dev:
            raise DeviceError(f"{op}: the parameter is on {dev} but its {what} is on {x.device}")
        if x.dtype is not p.dtype:
            raise DTypeError(f"{op}: the parameter has dtype {p.dtype.name} but its {what} has "
                             f"dtype {x.dtype.name}")
        if x.shape != p.shape:
            raise ShapeError(f"{op}: the parameter has shape {p.shape} but its {what} has shape "
                             f"{x.shape}")
    for k, s in enumerate(states):
        if s is not None and not s.is_contiguous():
            raise ShapeError(f"{op}: state buffer {k} must be contiguous (strides {s.strides})")
    return dev


def _run(op: str, p: Array, g: Array, states: Sequence[Array | None], scalars: Sequence[Any]
         ) -> None:
    """Check, then launch ``op`` once over the parameter (through a dense copy if it is a view)."""
    dev = check_param(op, p, g, states)
    n = p.numel
    if n == 0:
        return
    work = p if p.is_contiguous() else ew.contiguous(p)
    g = ew.contiguous(g)
    # a buffer whose flag is off is never dereferenced; any valid buffer fills its slot
    bufs = [(s if s is not None else work).buffer for s in states]
    gsize, lsize, chunk = geometry(n, dev.caps.style, dev.info.compute_units)
    dev.launch(_kernel(dev, op, p.dtype), gsize, lsize, work.buffer, work.offset, g.buffer,
               g.offset, *bufs, *scalars, n, chunk)
    if work is not p:
        ew.copy_(p, work)
    p.bump_version()
    for s in states:
        if s is not None:
            s.bump_version()


def sgd_step(p: Array, g: Array, momentum_buffer: Array | None, *, lr: float, momentum: float,
             dampening: float, nesterov: bool, weight_decay: float, maximize: bool,
             first: bool) -> None:
    """One SGD update (PyTorch's semantics), in one launch.

    ``momentum_buffer`` is None without momentum; ``first`` says it holds nothing yet (the first
    step copies the gradient into it, without dampening).
    """
    _run("sgd", p, g, [momentum_buffer],
         [-1.0 if maximize else 1.0, weight_decay, lr, momentum, 1.0 - dampening,
          int(momentum_buffer is not None), int(first), int(nesterov)])


def adam_step(p: Array, g: Array, exp_avg: Array, exp_avg_sq: Array,
              max_exp_avg_sq: Array | None, *, lr: float, beta1: float, beta2: float, eps: float,
              weight_decay: float, decoupled: bool, maximize: bool, step: int) -> None:
    """One Adam (``decoupled=False``) or AdamW (``decoupled=True``) update at step ``step`` >= 1.

    AMSGrad is on when ``max_exp_avg_sq`` is given.
    """
    bc1 = 1.0 - beta1 ** step
    bc2_sqrt = (1.0 - beta2 ** step) ** 0.5
    _run("adam", p, g, [exp_avg, exp_avg_sq, max_exp_avg_sq],
         [-1.0 if maximize else 1.0, 0.0 if decoupled else weight_decay,
          1.0 - lr * weight_decay if decoupled else 1.0, 1.0 - beta1, beta2, 1.0 - beta2,
          lr / bc1, bc2_sqrt, eps, int(max_exp_avg_sq is not None)])


def rmsprop_step(p: Array, g: Array, square_avg: Array, grad_avg: Array | None,
                 momentum_buffer: Array | None, *, lr: float, alpha: float, eps: float,
                 weight_decay: float, momentum: float, maximize: bool) -> None:
    """One RMSprop update; centered when ``grad_avg`` is given, with momentum when
    ``momentum_buffer`` is."""
    _run("rmsprop", p, g, [square_avg, grad_avg, momentum_buffer],
         [-1.0 if maximize else 1.0, weight_decay, lr, alpha, 1.0 - alpha, eps, momentum,
          int(grad_avg is not None), int(momentum_buffer is not None)])


def adagrad_step(p: Array, g: Array, state_sum: Array, *, lr: float, lr_decay: float,
                 weight_decay: float, eps: float, maximize: bool, step: int) -> None:
    """One Adagrad update at step ``step`` >= 1."""
    clr = lr / (1.0 + (step - 1) * lr_decay)
    _run("adagrad", p, g, [state_sum], [-1.0 if maximize else 1.0, weight_decay, clr, eps])


def adadelta_step(p: Array, g: Array, square_avg: Array, acc_delta: Array, *, lr: float,
                  rho: float, eps: float, weight_decay: float, maximize: bool) -> None:
    """One Adadelta update."""
    _run("adadelta", p, g, [square_avg, acc_delta],
         [-1.0 if maximize else 1.0, weight_decay, lr, rho, 1.0 - rho, eps])


def lion_step(p: Array, g: Array, exp_avg: Array, *, lr: float, beta1: float, beta2: float,
              weight_decay: float, maximize: bool) -> None:
    """One Lion update (decoupled weight decay)."""
    _run("lion", p, g, [exp_avg],
         [-1.0 if maximize else 1.0, 1.0 - lr * weight_decay, lr, beta1, 1.0 - beta1, beta2,
          1.0 - beta2])


def unscale_(g: Array, found_inf: Array, inv_scale: float) -> None:
    """``g *= inv_scale`` in place, setting ``found_inf[0] = 1`` if ``g`` holds an inf or NaN.

    ``found_inf`` is a one-element int32 array the caller zeroes once per step; the flag only
    ever goes from 0 to 1, so it can collect the checks of many gradients.
    """
    if not g.dtype.is_floating_point:
        raise DTypeError(f"unscale_: gradients must be floating point, got {g.dtype.name}")
    if found_inf.dtype is not D.int32 or found_inf.numel != 1 or found_inf.offset:
        raise DTypeError(f"unscale_: found_inf must be one int32 element at offset 0, got "
                         f"{found_inf.dtype.name} of shape {found_inf.shape}")
    dev = g.device
    if found_inf.device is not dev:
        raise DeviceError(f"unscale_: the gradient is on {dev} but found_inf is on "
                          f"{found_inf.device}")
    n = g.numel
    if n == 0:
        return
    work = g if g.is_contiguous() else ew.contiguous(g)
    gsize, lsize, chunk = geometry(n, dev.caps.style, dev.info.compute_units)
    dev.launch(_kernel(dev, "unscale", g.dtype), gsize, lsize, work.buffer, work.offset,
               found_inf.buffer, inv_scale, n, chunk)
    if work is not g:
        ew.copy_(g, work)
    g.bump_version()
