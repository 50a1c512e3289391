"""Gradient clipping without host round trips.

The total norm is computed on the device: one norm reduction per gradient, each written into one
slot of a small vector, then the norm of that vector. The clip coefficient
``min(max_norm / (total + 1e-6), 1)`` stays on the device and every gradient is multiplied by it
in place, so clipping never waits for the device (except ``error_if_nonfinite=True``, which has
to read the norm back).
"""
from __future__ import annotations

import math
from typing import Any, Iterable

from clt import dtypes as D
from clt.autograd.grad_mode import no_grad
from clt.ops import elementwise as ew
from clt.ops import reduce as R
from clt.ops import transfer
from clt.ops.array import Array
from clt.tensor import Tensor

__all__ = ["clip_grad_norm_", "clip_grad_norm", "clip_grad_value_", "clip_grads_with_norm_",
           "get_total_norm"]


def _as_list(tensors: Any) -> list:
    if isinstance(tensors, Tensor):
        return [tensors]
    return list(tensors)


def _grads(parameters: Any) -> list[Tensor]:
    return [p.grad for p in _as_list(parameters) if p.grad is not None]


def _norm_type(norm_type: Any) -> float:
    if isinstance(norm_type, str):
        if norm_type in ("inf", "-inf"):
            return float(norm_type)
        raise ValueError(f"norm_type must be a number or 'inf', got {norm_type!r}")
    return float(norm_type)


@no_grad()
def get_total_norm(tensors: Iterable[Tensor] | Tensor, norm_type: float | str = 2.0,
                   error_if_nonfinite: bool = False, foreach: bool | None = None) -> Tensor:
    """The ``norm_type``-norm of all ``tensors`` together, as a 0-d tensor on the first one's
    device (0 if there are none).

    Args:
        tensors: A tensor or an iterable of tensors.
        norm_type: Order of the norm (a number or ``"inf"``).
        error_if_nonfinite: Whether to raise if the norm is NaN or infinite (reads it back).
        foreach: Accepted for PyTorch compatibility; ignored.

    Returns:
        The total norm, a 0-d tensor.

    Raises:
        ValueError: If ``norm_type`` is not a number or ``"inf"``.
        RuntimeError: If ``error_if_nonfinite`` and the norm is not finite.
    """
    tensors = [t for t in _as_list(tensors) if t is not None]
    p = _norm_type(norm_type)
    if not tensors:
        from clt.functions.creation import tensor

        return tensor(0.0)
    dev = tensors[0].device
    dtype = tensors[0].dtype
    for t in tensors[1:]:
        dtype = D.promote_types(dtype, t.dtype)
    # one slot per tensor; each slot is its own norm (the norm of norms is the total norm)
    norms = Array.empty(dev, (len(tensors),), dtype)
    for i, t in enumerate(tensors):
        if t.numel() == 0:
            ew.fill_(norms.view((), (), i), 0)
            continue
        n = R.norm(t._data, p)
        if t.device is not dev:
            n = transfer.to_device(n, dev)
        ew.copy_(norms.view((), (), i), n)
    total = Tensor(R.norm(norms, p))
    if error_if_nonfinite:
        value = total.item()   # the documented sync
        if not math.isfinite(value):
            raise RuntimeError(
                f"The total norm of order {p} for gradients from `parameters` is non-finite, so "
                "it cannot be clipped. To disable this error and scale the gradients by the "
                "non-finite norm anyway, set `error_if_nonfinite=False`")
    return total


@no_grad()
def clip_grads_with_norm_(parameters: Iterable[Tensor] | Tensor, max_norm: float,
                          total_norm: Tensor, foreach: bool | None = None) -> None:
    """Scale the gradients in place by ``min(max_norm / (total_norm + 1e-6), 1)``.

    Args:
        parameters: A tensor or an iterable of tensors whose ``.grad`` to scale.
        max_norm: The largest allowed total norm.
        total_norm: The total norm, e.g. from :func:`get_total_norm`.
        foreach: Accepted for PyTorch compatibility; ignored.
    """
    grads = _grads(parameters)
    if not grads:
        return
    coef = ew.map_op("clip_coef", "CLT_MIN(s0 / (a + (T)1e-6), (T)1)",
                     [total_norm._data, float(max_norm)], total_norm.dtype, total_norm.dtype)
    for g in grads:
        c = coef if g.device is coef.device else transfer.to_device(coef, g.device)
        ew.binary("mul", g._data, c if c.dtype is g.dtype else ew.cast(c, g.dtype),
                  out=g._data)


def clip_grad_norm_(parameters: Iterable[Tensor] | Tensor, max_norm: float,
                    norm_type: float | str = 2.0, error_if_nonfinite: bool = False,
                    foreach: bool | None = None) -> Tensor:
    """Clip the gradients of ``parameters`` so that their total norm is at most ``max_norm``.

    Args:
        parameters: tensors (or one tensor) whose ``.grad`` is clipped in place.
        max_norm: the largest allowed total norm.
        norm_type: p of the norm; ``float('inf')`` or ``'inf'`` for the max norm.
        error_if_nonfinite: raise if the total norm is NaN or infinite (reads it back).
        foreach: accepted for compatibility; clt always computes on the device.

    Returns:
        The total norm of the gradients before clipping (a 0-d tensor, not synchronised).
    """
    parameters = _as_list(parameters)
    total = get_total_norm(_grads(parameters), norm_type, error_if_nonfinite, foreach)
    clip_grads_with_norm_(parameters, max_norm, total, foreach)
    return total


def clip_grad_norm(parameters: Iterable[Tensor] | Tensor, max_norm: float,
                   norm_type: float | str = 2.0, error_if_nonfinite: bool = False,
                   foreach: bool | None = None) -> Tensor:
    """Deprecated alias of :func:`clip_grad_norm_` (kept as PyTorch keeps it).

    Args:
        parameters: A tensor or an iterable of tensors whose ``.grad`` to clip.
        max_norm: The largest allowed total norm.
        norm_type: Order of the norm (a number or ``"inf"``).
        error_if_nonfinite: Whether to raise if the norm is NaN or infinite.
        foreach: Accepted for PyTorch compatibility; ignored.

    Returns:
        The total norm before clipping, a 0-d tensor.
    """
    return clip_grad_norm_(parameters, max_norm, norm_type, error_if_nonfinite, foreach)


@no_grad()
def clip_grad_value_(parameters: Iterable[Tensor] | Tensor, clip_value: float,
                     foreach: bool | None = None) -> None:
    """Clamp every gradient element into ``[-clip_value, clip_value]`` in place.

    Args:
        parameters: A tensor or an iterable of tensors whose ``.grad`` to clamp.
        clip_value: The bound.
        foreach: Accepted for PyTorch compatibility; ignored.
    """
    clip_value = float(clip_value)
    for g in _grads(parameters):
        ew.clamp(g._data, -clip_value, clip_value, out=g._data)
