"""Making tensors: from data, filled with constants, and moving between devices and dtypes."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from clt import dtypes as D
from clt.autograd.function import Function
from clt.autograd.grad_mode import STATE
from clt.backend.device import Device, device as select_device
from clt.errors import DTypeError
from clt.functions.elementwise import apply_inplace, to_dtype
from clt.ops import elementwise as ew
from clt.ops import shapes, transfer
from clt.ops.array import Array
from clt.tensor import Tensor, tensor_method


def _dev(device: Any) -> Device:
    return select_device(device)


def _infer_dtype(host: np.ndarray, data: Any) -> D.DType:
    kind = host.dtype.kind
    if kind == "b":
        return D.bool_
    if kind in "iu":
        if isinstance(data, np.ndarray) or isinstance(data, np.generic):
            return D.as_dtype(host.dtype)
        return D.int64
    if kind == "f":
        if isinstance(data, np.ndarray) or isinstance(data, np.generic):
            return D.as_dtype(host.dtype)
        return D.get_default_dtype()
    raise DTypeError(f"can't convert data of numpy dtype {host.dtype} to a clt tensor "
                     "(supported: bool, integers, floats)")


def _finish(t: Tensor, requires_grad: bool) -> Tensor:
    if requires_grad:
        t.requires_grad_(True)
    return t


def tensor(data: Any, *, dtype: Any = None, device: Any = None,
           requires_grad: bool = False) -> Tensor:
    """A new tensor copied from ``data`` (a scalar, nested lists, a numpy array or a tensor).

    Python ints become int64, floats the default float dtype (float32), bools bool; numpy
    arrays keep their dtype. Float64 on a device without fp64 raises :class:`DTypeError`.

    Args:
        data: A scalar, nested lists, a numpy array or a tensor.
        dtype: The dtype (default: inferred from ``data``).
        device: The device (default: the current default device).
        requires_grad: Whether the tensor records operations for autograd.

    Returns:
        The new tensor.
    """
    if isinstance(data, Tensor):
        dev = _dev(device) if device is not None else data.device
        out = data.detach().to(dev)
        if dtype is not None:
            out = to_dtype(out, dtype)
        out = Tensor(ew.contiguous(out._data) if out._data is not data._data else
                     ew.launch_map("copy", "a", Array.empty(dev, data.shape, out.dtype),
                                   [out._data]))
        return _finish(out, requires_grad)
    if isinstance(data, (list, tuple)) and any(isinstance(x, Tensor) for x in _flat(data)):
        data = _host_nested(data)
    host = np.asarray(data)
    if host.dtype == object:
        raise TypeError(f"can't convert {type(data).__name__} to a tensor: ragged or "
                        "non-numeric data")
    dt = D.as_dtype(dtype) if dtype is not None else _infer_dtype(host, data)
    dev = _dev(device)
    D.check_device_dtype(dt, dev)
    return _finish(Tensor(transfer.from_numpy(dev, host, dt)), requires_grad)


def _flat(data: Any):
    for x in data:
        if isinstance(x, (list, tuple)):
            yield from _flat(x)
        else:
            yield x


def _host_nested(data: Any) -> Any:
    if isinstance(data, Tensor):
        return data.detach().cpu()
    if isinstance(data, (list, tuple)):
        return [_host_nested(x) for x in data]
    return data


def as_tensor(data: Any, dtype: Any = None, device: Any = None) -> Tensor:
    """Like :func:`tensor`, but returns ``data`` itself if it already matches.

    Args:
        data: A scalar, nested lists, a numpy array or a tensor.
        dtype: The dtype (default: inferred from ``data``).
        device: The device (default: the current default device).

    Returns:
        ``data`` itself when it is a tensor with that dtype and device, else a new tensor.
    """
    if isinstance(data, Tensor):
        out = data
        if device is not None:
            out = out.to(_dev(device))
        if dtype is not None:
            out = to_dtype(out, dtype)
        return out
    return tensor(data, dtype=dtype, device=device)


def from_numpy(array: np.ndarray, device: Any = None) -> Tensor:
    """A device tensor with the values (and dtype) of a numpy array (a copy: memory differs).

    Args:
        array: The numpy array.
        device: The device (default: the current default device).

    Returns:
        The new tensor.
    """
    if not isinstance(array, np.ndarray):
        raise TypeError(f"expected np.ndarray (got {type(array).__name__})")
    return tensor(array, device=device)


def _size(size: tuple) -> tuple:
    if len(size) == 1 and isinstance(size[0], (tuple, list)) or (
            len(size) == 1 and hasattr(size[0], "__iter__")):
        size = tuple(size[0])
    return shapes.as_shape(size)


def empty(*size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False
          ) -> Tensor:
    """An uninitialised tensor.

    Args:
        *size: The shape, as ints or one sequence.
        dtype: The dtype (default: the default float dtype).
        device: The device (default: the current default device).
        requires_grad: Whether the tensor records operations for autograd.

    Returns:
        The new tensor.
    """
    dt = D.as_dtype(dtype) if dtype is not None else D.get_default_dtype()
    dev = _dev(device)
    D.check_device_dtype(dt, dev)
    return _finish(Tensor(Array.empty(dev, _size(size), dt)), requires_grad)


def full(size: Sequence[int], fill_value: Any, *, dtype: Any = None, device: Any = None,
         requires_grad: bool = False) -> Tensor:
    """A tensor filled with ``fill_value`` (dtype inferred from it if not given).

    Args:
        size: The shape.
        fill_value: The value of every element.
        dtype: The dtype (default: inferred from ``fill_value``).
        device: The device (default: the current default device).
        requires_grad: Whether the tensor records operations for autograd.

    Returns:
        The new tensor.
    """
    if dtype is None:
        dtype = D.result_type(fill_value) if not isinstance(fill_value, Tensor) else \
            fill_value.dtype
    t = empty(_size((size,)), dtype=dtype, device=device)
    ew.fill_(t._data, fill_value)
    return _finish(t, requires_grad)


def zeros(*size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False
          ) -> Tensor:
    """A tensor of zeros.

    Args:
        *size: The shape, as ints or one sequence.
        dtype: The dtype (default: the default float dtype).
        device: The device (default: the current default device).
        requires_grad: Whether the tensor records operations for autograd.

    Returns:
        The new tensor.
    """
    t = empty(*size, dtype=dtype, device=device)
    ew.fill_(t._data, 0)
    return _finish(t, requires_grad)


def ones(*size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False
         ) -> Tensor:
    """A tensor of ones.

    Args:
        *size: The shape, as ints or one sequence.
        dtype: The dtype (default: the default float dtype).
        device: The device (default: the current default device).
        requires_grad: Whether the tensor records operations for autograd.

    Returns:
        The new tensor.
    """
    t = empty(*size, dtype=dtype, device=device)
    ew.fill_(t._data, 1)
    return _finish(t, requires_grad)


def _like(input: Tensor, dtype: Any, device: Any) -> dict:
    return {"dtype": input.dtype if dtype is None else dtype,
            "device": input.device if device is None else device}


def empty_like(input: Tensor, *, dtype: Any = None, device: Any = None,
               requires_grad: bool = False) -> Tensor:
    """A new tensor with uninitialized values, with ``input``'s shape.

    Args:
        input: The tensor whose shape (and, by default, dtype and device) to use.
        dtype: The dtype; defaults to ``input.dtype``.
        device: The device; defaults to ``input.device``.
        requires_grad: Whether the new tensor records operations for autograd.

    Returns:
        The new tensor.
    """
    return empty(tuple(input.shape), requires_grad=requires_grad, **_like(input, dtype, device))


def zeros_like(input: Tensor, *, dtype: Any = None, device: Any = None,
               requires_grad: bool = False) -> Tensor:
    """A new tensor filled with zeros, with ``input``'s shape.

    Args:
        input: The tensor whose shape (and, by default, dtype and device) to use.
        dtype: The dtype; defaults to ``input.dtype``.
        device: The device; defaults to ``input.device``.
        requires_grad: Whether the new tensor records operations for autograd.

    Returns:
        The new tensor.
    """
    return zeros(tuple(input.shape), requires_grad=requires_grad, **_like(input, dtype, device))


def ones_like(input: Tensor, *, dtype: Any = None, device: Any = None,
              requires_grad: bool = False) -> Tensor:
    """A new tensor filled with ones, with ``input``'s shape.

    Args:
        input: The tensor whose shape (and, by default, dtype and device) to use.
        dtype: The dtype; defaults to ``input.dtype``.
        device: The device; defaults to ``input.device``.
        requires_grad: Whether the new tensor records operations for autograd.

    Returns:
        The new tensor.
    """
    return ones(tuple(input.shape), requires_grad=requires_grad, **_like(input, dtype, device))


def full_like(input: Tensor, fill_value: Any, *, dtype: Any = None, device: Any = None,
              requires_grad: bool = False) -> Tensor:
    """A new tensor filled with ``fill_value``, with ``input``'s shape.

    Args:
        input: The tensor whose shape (and, by default, dtype and device) to use.
        fill_value: The value of every element.
        dtype: The dtype; defaults to ``input.dtype``.
        device: The device; defaults to ``input.device``.
        requires_grad: Whether the new tensor records operations for autograd.

    Returns:
        The new tensor.
    """
    return full(tuple(input.shape), fill_value, requires_grad=requires_grad,
                **_like(input, dtype, device))


# -----------------------------------------------------------------------------------------------
# moving between devices


class _ToDevice(Function):
    @staticmethod
    def forward(ctx, x: Tensor, dev: Device, non_blocking: bool) -> Array:
        ctx.src = x.device
        return transfer.to_device(x._data, dev, blocking=not non_blocking)

    @staticmethod
    def backward(ctx, g: Tensor) -> tuple:
        return g.to(ctx.src), None, None


def _parse_to(args: tuple, kwargs: dict) -> tuple[Any, Any]:
    dev, dtype = kwargs.get("device"), kwargs.get("dtype")
    for a in args:
        if isinstance(a, Tensor):
            dev, dtype = a.device, a.dtype
        elif isinstance(a, Device) or isinstance(a, str) and not _is_dtype_name(a) or (
                isinstance(a, int) and not isinstance(a, bool)):
            dev = a
        else:
            dtype = a
    return dev, dtype


def _is_dtype_name(s: str) -> bool:
    try:
        D.as_dtype(s)
        return True
    except (DTypeError, TypeError):
        return False


@tensor_method("to")
def to(self: Tensor, *args: Any, non_blocking: bool = False, copy: bool = False,
       **kwargs: Any) -> Tensor:
    """Move to a device and/or convert dtype: ``t.to("cl:1")``, ``t.to(clt.float16)``,
    ``t.to(device, dtype)``, ``t.to(other)``. Returns ``self`` when nothing changes.

    Args:
        self: The tensor.
        *args: A device, a dtype, a device and a dtype, or a tensor to match.
        non_blocking: Accepted for PyTorch compatibility.
        copy: Whether to copy even when nothing changes.
        **kwargs: ``device=`` and/or ``dtype=``.

    Returns:
        ``self`` when nothing changes and ``copy`` is False, else a new tensor.
    """
    dev, dtype = _parse_to(args, kwargs)
    out = self
    if dtype is not None:
        dtype = D.as_dtype(dtype)
        D.check_device_dtype(dtype, _dev(dev) if dev is not None else self.device)
    if dev is not None:
        target = _dev(dev)
        if target is not self.device:
            if STATE.enabled and self.requires_grad:
                out = _ToDevice.apply(out, target, non_blocking)
            else:
                out = Tensor(transfer.to_device(out._data, target, blocking=not non_blocking))
    if dtype is not None:
        out = to_dtype(out, dtype)
    if copy and out is self:
        from clt.functions.elementwise import clone

        out = clone(self)
    return out


@tensor_method("copy_")
def copy_(self: Tensor, src: Any, non_blocking: bool = False) -> Tensor:
    """Copy ``src`` (broadcast, converted to this dtype, from any device) into ``self``.

    Args:
        self: The destination tensor.
        src: The source, broadcast to ``self``'s shape.
        non_blocking: Accepted for PyTorch compatibility.

    Returns:
        ``self``.
    """
    if not isinstance(src, Tensor):
        src = tensor(src, device=self.device)
    if src.device is not self.device:
        src = src.to(self.device, non_blocking=non_blocking)
    if STATE.enabled and (self.requires_grad or src.requires_grad):
        from clt.functions.shape import expand_method

        return apply_inplace(self, lambda t: to_dtype(expand_method(src, tuple(self.shape)),
                                                      self.dtype) + t * 0, "copy_")
    ew.copy_(self._data, src._data)
    return self


@tensor_method("fill_")
def fill_(self: Tensor, value: Any) -> Tensor:
    """Set every element to ``value``.

    Args:
        self: The tensor to fill.
        value: The fill value.

    Returns:
        ``self``.
    """
    if isinstance(value, Tensor):
        value = value.item()
    if STATE.enabled and self.requires_grad:
        return apply_inplace(self, lambda t: t * 0 + value, "fill_")
    ew.fill_(self._data, value)
    return self


@tensor_method("zero_")
def zero_(self: Tensor) -> Tensor:
    """Fill ``self`` with zeros in place (``Tensor.zero_``).

    Args:
        self: The tensor to fill.

    Returns:
        ``self``.
    """
    return fill_(self, 0)


tensor_method("new_empty")(lambda self, *size, dtype=None, device=None, requires_grad=False:
                           empty(*size, requires_grad=requires_grad, **_like(self, dtype, device)))
tensor_method("new_zeros")(lambda self, *size, dtype=None, device=None, requires_grad=False:
                           zeros(*size, requires_grad=requires_grad, **_like(self, dtype, device)))
tensor_method("new_ones")(lambda self, *size, dtype=None, device=None, requires_grad=False:
                          ones(*size, requires_grad=requires_grad, **_like(self, dtype, device)))
tensor_method("new_full")(lambda self, size, fill_value, dtype=None, device=None,
                          requires_grad=False: full(size, fill_value, requires_grad=requires_grad,
                                                    **_like(self, dtype, device)))
tensor_method("new_tensor")(lambda self, data, dtype=None, device=None, requires_grad=False:
                            tensor(data, requires_grad=requires_grad,
                                   **_like(self, dtype, device)))
