"""Tensor-level ranges and eye (``clt.arange``, ``clt.linspace``, ``clt.logspace``, ``clt.eye``).

Thin wrappers over :mod:`clt.ops.creation` with PyTorch's signatures; the results are leaves.
"""
from __future__ import annotations

from typing import Any

from clt.errors import ShapeError
from clt.functions.creation import _dev, _finish
from clt.ops import creation as C
from clt.tensor import Tensor


def _scalar(x: Any) -> Any:
    return x.item() if isinstance(x, Tensor) else x


def _out(out: Tensor | None, t: Tensor, op: str) -> Tensor:
    if out is None:
        return t
    if tuple(out.shape) != tuple(t.shape):
        raise ShapeError(f"{op}(): out has shape {tuple(out.shape)} but the result has shape "
                         f"{tuple(t.shape)}")
    return out.copy_(t)


def arange(start: Any = 0, end: Any = None, step: Any = 1, *, out: Tensor | None = None,
           dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """``arange(end)``, ``arange(start, end)`` or ``arange(start, end, step)``: values from
    ``start`` up to but excluding ``end``; int64 when all arguments are integers, else the
    default float dtype; length ``ceil((end - start) / step)``.

    Args:
        start: First value, or the end when it is the only bound.
        end: The exclusive end.
        step: The spacing.
        out: Optional tensor to write the result into.
        dtype: The dtype (default: int64 for integer bounds, else the default float dtype).
        device: The device (default: the current default device).
        requires_grad: Whether the tensor records operations for autograd.

    Returns:
        A 1-D tensor.
    """
    a = C.arange(_dev(device), _scalar(start), _scalar(end), _scalar(step), dtype)
    return _out(out, _finish(Tensor(a), requires_grad), "arange")


def linspace(start: Any, end: Any, steps: int, *, out: Tensor | None = None, dtype: Any = None,
             device: Any = None, requires_grad: bool = False) -> Tensor:
    """``steps`` evenly spaced values from ``start`` to ``end`` inclusive.

    Args:
        start: First value.
        end: Last value.
        steps: Number of values.
        out: Optional tensor to write the result into.
        dtype: The dtype (default: the default float dtype).
        device: The device (default: the current default device).
        requires_grad: Whether the tensor records operations for autograd.

    Returns:
        A 1-D tensor.
    """
    a = C.linspace(_dev(device), _scalar(start), _scalar(end), steps, dtype)
    return _out(out, _finish(Tensor(a), requires_grad), "linspace")


def logspace(start: Any, end: Any, steps: int, base: float = 10.0, *,
             out: Tensor | None = None, dtype: Any = None, device: Any = None,
             requires_grad: bool = False) -> Tensor:
    """``base ** linspace(start, end, steps)``.

    Args:
        start: Exponent of the first value.
        end: Exponent of the last value.
        steps: Number of values.
        base: The base.
        out: Optional tensor to write the result into.
        dtype: The dtype (default: the default float dtype).
        device: The device (default: the current default device).
        requires_grad: Whether the tensor records operations for autograd.

    Returns:
        A 1-D tensor.
    """
    a = C.logspace(_dev(device), _scalar(start), _scalar(end), steps, base, dtype)
    return _out(out, _finish(Tensor(a), requires_grad), "logspace")


def eye(n: int, m: int | None = None, *, out: Tensor | None = None, dtype: Any = None,
        device: Any = None, requires_grad: bool = False) -> Tensor:
    """An ``n x m`` matrix (``m`` defaults to ``n``) with ones on the diagonal.

    Args:
        n: Number of rows.
        m: Number of columns (default: ``n``).
        out: Optional tensor to write the result into.
        dtype: The dtype (default: the default float dtype).
        device: The device (default: the current default device).
        requires_grad: Whether the tensor records operations for autograd.

    Returns:
        An (n, m) tensor.
    """
    a = C.eye(_dev(device), n, m, dtype)
    return _out(out, _finish(Tensor(a), requires_grad), "eye")


__all__ = ["arange", "linspace", "logspace", "eye"]
