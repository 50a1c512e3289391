"""Helpers shared by the differentiable function families."""
from __future__ import annotations

from typing import Any

from clt import dtypes as D
from clt.autograd.grad_mode import STATE
from clt.errors import DeviceError
from clt.ops.array import Array
from clt.tensor import Tensor


def arr(x: Any) -> Any:
    """The device Array of a Tensor; other values pass through."""
    return x._data if isinstance(x, Tensor) else x


def check_tensor(x: Any, op: str, name: str = "input") -> Tensor:
    """Check that an op's argument is a Tensor.

    Args:
        x: The argument.
        op: The op name, for the error message.
        name: The argument name, for the error message.

    Returns:
        ``x``.

    Raises:
        TypeError: If ``x`` is not a Tensor.
    """
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}(): argument '{name}' must be Tensor, not {type(x).__name__}")
    return x


def needs_grad(*xs: Any) -> bool:
    """Whether grad mode is on and any argument is a Tensor that requires grad.

    Args:
        *xs: The op's arguments.

    Returns:
        True if the op must be recorded for autograd.
    """
    return STATE.enabled and any(isinstance(x, Tensor) and x.requires_grad for x in xs)


def check_out_grad(op: str, *xs: Any) -> None:
    """Refuse ``out=`` when autograd would need to record the op.

    Args:
        op: The op name, for the error message.
        *xs: The op's arguments.

    Raises:
        RuntimeError: If grad mode is on and an argument requires grad.
    """
    if needs_grad(*xs):
        raise RuntimeError(f"{op}(): functions with out=... arguments don't support automatic "
                           "differentiation, but one of the arguments requires grad.")


def scalar_or_tensor(x: Any, op: str) -> Any:
    """Validate an operand: a Tensor or a Python/numpy scalar (0-d numpy arrays included)."""
    if isinstance(x, Tensor):
        return x
    if isinstance(x, (bool, int, float)):
        return x
    if hasattr(x, "dtype") and getattr(x, "shape", None) == ():
        return x.item()
    if hasattr(x, "__index__"):
        return int(x)
    raise TypeError(f"{op}(): expected a Tensor or a number, got {type(x).__name__}")


def same_device(op: str, *xs: Any) -> None:
    """Check that every Tensor argument is on the same device.

    Args:
        op: The op name, for the error message.
        *xs: The op's arguments; non-tensors are ignored.

    Raises:
        DeviceError: If two tensors are on different devices.
    """
    dev = None
    for x in xs:
        if isinstance(x, Tensor):
            if dev is None:
                dev = x.device
            elif x.device is not dev:
                raise DeviceError(f"{op}(): expected all tensors to be on the same device, but "
                                  f"found at least two devices, {dev} and {x.device}!")


def float_dtype(dt: D.DType) -> D.DType:
    """``dt`` if it is floating point, else the default float dtype.

    Args:
        dt: A dtype.

    Returns:
        A floating-point dtype.
    """
    return dt if dt.is_floating_point else D.get_default_dtype()


def new(data: Array) -> Tensor:
    """Wrap a device array in a Tensor with no autograd history.

    Args:
        data: The array.

    Returns:
        The tensor.
    """
    return Tensor(data)
