"""``parameters_to_vector`` and ``vector_to_parameters``."""
from __future__ import annotations

from typing import Iterable

from clt.autograd.function import Function
from clt.functions._util import needs_grad
from clt.ops import elementwise as ew
from clt.ops import shapes
from clt.ops.array import Array
from clt.tensor import Tensor

__all__ = ["parameters_to_vector", "vector_to_parameters"]


def _check_device(tensors: list[Tensor]) -> None:
    if tensors and any(t.device is not tensors[0].device for t in tensors):
        raise RuntimeError("Found two parameters on different devices, this is currently not "
                           "supported.")


class _Flatten(Function):
    """Concatenate flattened tensors into one vector (differentiable)."""

    @staticmethod
    def forward(ctx, *tensors: Tensor) -> Array:
        ctx.shapes = [tuple(t.shape) for t in tensors]
        total = sum(t.numel() for t in tensors)
        out = Array.empty(tensors[0].device, (total,), tensors[0].dtype)
        pos = 0
        for t in tensors:
            n = t.numel()
            if n:
                ew.copy_(out.view(t._data.shape, shapes.contiguous_strides(t._data.shape), pos),
                         t._data)
            pos += n
        return out

    @staticmethod
    def backward(ctx, g: Tensor) -> tuple:
        grads, pos = [], 0
        for shape in ctx.shapes:
            n = shapes.numel(shape)
            grads.append(g[pos:pos + n].reshape(shape))
            pos += n
        return tuple(grads)


def parameters_to_vector(parameters: Iterable[Tensor]) -> Tensor:
    """All parameters flattened and concatenated into one 1-D tensor.

    Args:
        parameters: The parameters, all on one device and of one dtype.

    Returns:
        A 1-D tensor.

    Raises:
        RuntimeError: If there are no parameters or they are on different devices.
        TypeError: If the dtypes differ.
    """
    params = list(parameters)
    if not params:
        raise RuntimeError("parameters_to_vector: expected a non-empty list of tensors")
    _check_device(params)
    dt = params[0].dtype
    if any(p.dtype is not dt for p in params):
        raise TypeError("parameters_to_vector: all parameters must have the same dtype, got "
                        + ", ".join(sorted({p.dtype.name for p in params})))
    if needs_grad(*params):
        return _Flatten.apply(*params)
    return Tensor(_Flatten.forward(_Ctx(), *params))


class _Ctx:
    pass


def vector_to_parameters(vec: Tensor, parameters: Iterable[Tensor]) -> None:
    """Make each parameter a view of its slice of ``vec`` (PyTorch assigns ``param.data``).

    Args:
        vec: A 1-D tensor with as many elements as the parameters together.
        parameters: The parameters to point at ``vec``.

    Raises:
        TypeError: If ``vec`` is not a Tensor.
        RuntimeError: If ``vec``'s size does not match, or the parameters are on different devices.
    """
    if not isinstance(vec, Tensor):
        raise TypeError(f"expected clt.Tensor, but got: {type(vec).__name__}")
    params = list(parameters)
    _check_device(params + [vec])
    total = sum(p.numel() for p in params)
    if vec.ndim != 1 or vec.numel() != total:
        raise RuntimeError(f"vector_to_parameters: vec of shape {tuple(vec.shape)} does not "
                           f"hold the {total} elements of the parameters")
    src = vec.detach()
    if not src.is_contiguous():
        src = Tensor(ew.contiguous(src._data))
    pos = 0
    for p in params:
        n = p.numel()
        a = src._data
        p.data = Tensor(a.view(tuple(p.shape), shapes.contiguous_strides(tuple(p.shape)),
                               a.offset + pos))
        pos += n
