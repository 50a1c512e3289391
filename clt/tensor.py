"""The :class:`Tensor`: a device array (storage, shape, strides, offset, dtype) plus autograd state.

Math methods are attached by the layers above (``clt.functions``) through :func:`tensor_method`,
so this module stays below autograd in the layering. ``numpy()``, ``item()``, ``tolist()`` and
``cpu()`` are the only methods that wait for the device.
"""
from __future__ import annotations

from typing import Any, Callable, Iterator

import numpy as np

from clt import dtypes as D
from clt.backend.device import Device
from clt.ops import transfer
from clt.ops.array import Array


class Size(tuple):
    """A tensor shape: a tuple of ints with ``numel()``, as ``torch.Size``."""

    def numel(self) -> int:
        """The number of elements a tensor of this shape holds (1 for ``()``).

        Returns:
            The product of the dims.
        """
        n = 1
        for s in self:
            n *= s
        return n

    def __repr__(self) -> str:
        return f"clt.Size([{', '.join(str(s) for s in self)}])"

    def __getitem__(self, item):  # slicing keeps the type
        out = tuple.__getitem__(self, item)
        return Size(out) if isinstance(item, slice) else out


class Tensor:
    """A multi-dimensional array on an OpenCL device, with autograd support.

    Create tensors with :func:`clt.tensor`, :func:`clt.zeros`, :func:`clt.rand` and friends
    rather than with this constructor.
    """

    __slots__ = ("_data", "requires_grad", "grad", "grad_fn", "_output_nr", "_hooks",
                 "_retains_grad", "_base", "__weakref__")
    __array_priority__ = 1000     # numpy defers to our reflected operators

    def __init__(self, data: Array, requires_grad: bool = False, base: "Tensor | None" = None
                 ) -> None:
        self._data = data
        self.requires_grad = requires_grad
        self.grad: Tensor | None = None
        self.grad_fn: Any = None
        self._output_nr = 0
        self._hooks: list[Callable] | None = None
        self._retains_grad = False
        self._base = base

    # -- metadata -------------------------------------------------------------------------------
    @property
    def shape(self) -> Size:
        """The shape as a :class:`Size`."""
        return Size(self._data.shape)

    def size(self, dim: int | None = None) -> Size | int:
        """The shape, or the length of one dim.

        Args:
            dim: A dim (negative counts from the end), or None for the whole shape.

        Returns:
            The :class:`Size`, or the length of ``dim``.
        """
        if dim is None:
            return Size(self._data.shape)
        from clt.ops.shapes import normalize_dim

        return self._data.shape[normalize_dim(dim, self.ndim)] if self.ndim else 1

    def stride(self, dim: int | None = None) -> tuple[int, ...] | int:
        """Strides in elements, or the stride of one dim.

        Args:
            dim: A dim (negative counts from the end), or None for all strides.

        Returns:
            The tuple of strides, or the stride of ``dim``.
        """
        if dim is None:
            return self._data.strides
        from clt.ops.shapes import normalize_dim

        return self._data.strides[normalize_dim(dim, self.ndim)]

    def storage_offset(self) -> int:
        """The offset of the first element into the storage, in elements.

        Returns:
            The offset.
        """
        return self._data.offset

    @property
    def dtype(self) -> D.DType:
        """The element type."""
        return self._data.dtype

    @property
    def device(self) -> Device:
        """The OpenCL device that holds the storage."""
        return self._data.device

    @property
    def ndim(self) -> int:
        """The number of dims."""
        return len(self._data.shape)

    def dim(self) -> int:
        """The number of dims (same as :attr:`ndim`).

        Returns:
            The number of dims.
        """
        return len(self._data.shape)

    def numel(self) -> int:
        """The number of elements (also available as ``nelement``).

        Returns:
            The product of the shape.
        """
        return self._data.numel

    nelement = numel

    @property
    def itemsize(self) -> int:
        """Bytes per element."""
        return self._data.dtype.itemsize

    def element_size(self) -> int:
        """Bytes per element.

        Returns:
            The dtype's item size.
        """
        return self._data.dtype.itemsize

    @property
    def nbytes(self) -> int:
        """Bytes the elements of this view occupy (``numel() * itemsize``)."""
        return self._data.nbytes

    def is_contiguous(self) -> bool:
        """Whether the elements are laid out row-major with no gaps.

        Returns:
            True for a C-contiguous view.
        """
        return self._data.is_contiguous()

    def is_floating_point(self) -> bool:
        """Whether the dtype is a floating-point type.

        Returns:
            True for float16/float32/float64 (and other floating dtypes).
        """
        return self._data.dtype.is_floating_point

    @property
    def is_leaf(self) -> bool:
        """True when the tensor was not produced by a recorded op (``grad_fn`` is None)."""
        return self.grad_fn is None

    @property
    def _version(self) -> int:
        return self._data.storage.version

    def __len__(self) -> int:
        if not self._data.shape:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    __hash__ = object.__hash__   # identity hash: == is elementwise

    # -- host transfers (the sync points) --------------------------------------------------------
    def numpy(self) -> np.ndarray:
        """Copy to a new numpy array (waits for the device). Refuses tensors that need grad."""
        if self.requires_grad:
            raise RuntimeError("Can't call numpy() on a tensor that requires grad. "
                               "Use tensor.detach().numpy() instead.")
        return transfer.to_numpy(self._data)

    def cpu(self) -> np.ndarray:
        """The values as a numpy array on the host (clt has no CPU tensor type)."""
        return transfer.to_numpy(self._data)

    def item(self) -> Any:
        """The single value of a one-element tensor, as a Python scalar."""
        if self.numel() != 1:
            raise ValueError(f"a Tensor with {self.numel()} elements cannot be converted to "
                             "a Python scalar")
        return transfer.to_numpy(self._data).reshape(()).item()

    def tolist(self) -> Any:
        """The values as nested Python lists (waits for the device).

        Returns:
            A nested list, or a Python scalar for a 0-d tensor.
        """
        return transfer.to_numpy(self._data).tolist()

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __index__(self) -> int:
        if self.dtype.is_floating_point or self.numel() != 1:
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self.item())

    def __bool__(self) -> bool:
        if self.numel() != 1:
            raise RuntimeError(f"Boolean value of Tensor with {self.numel()} values is ambiguous")
        return bool(self.item())

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        arr = transfer.to_numpy(self._data)
        return arr if dtype is None else arr.astype(dtype)

    def __iter__(self) -> Iterator["Tensor"]:
        if not self._data.shape:
            raise TypeError("iteration over a 0-d tensor")
        for i in range(self._data.shape[0]):
            yield self[i]

    def __repr__(self) -> str:
        values = transfer.to_numpy(self._data)
        prefix = "tensor("
        if values.size == 0:
            body = f"[], size={tuple(values.shape)}" if values.ndim > 1 else "[]"
        else:
            body = np.array2string(values, separator=", ", prefix=prefix, threshold=1000,
                                   precision=4, floatmode="maxprec_equal")
        extras = [f"device='{self.device.id}'"]
        if self.dtype not in (D.float32, D.int64, D.bool_) or values.size == 0:
            extras.append(f"dtype={self.dtype!r}")
        if self.grad_fn is not None:
            extras.append(f"grad_fn=<{self.grad_fn.name()}>")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        return f"{prefix}{body}, {', '.join(extras)})"

    # -- autograd state (the engine lives in clt.autograd) ---------------------------------------
    def requires_grad_(self, requires_grad: bool = True) -> "Tensor":
        """Set ``requires_grad`` in place (leaves only, floating point only).

        Args:
            requires_grad: The new flag.

        Returns:
            self.

        Raises:
            RuntimeError: If clearing the flag on a non-leaf, or setting it on a non-float tensor.
        """
        if not self.is_leaf and not requires_grad:
            raise RuntimeError("you can only change requires_grad flags of leaf variables. If "
                               "you want to use a computed variable in a subgraph that doesn't "
                               "require differentiation use var_no_grad = var.detach().")
        if requires_grad and not self.dtype.is_floating_point:
            raise RuntimeError(f"only Tensors of floating point dtype can require gradients, "
                               f"got {self.dtype.name}")
        self.requires_grad = requires_grad
        return self

    def detach(self) -> "Tensor":
        """A tensor sharing storage that is cut out of the autograd graph."""
        return Tensor(self._data)

    def detach_(self) -> "Tensor":
        """Cut this tensor out of the autograd graph in place.

        Returns:
            This tensor, with ``grad_fn`` cleared and ``requires_grad`` False.
        """
        self.grad_fn = None
        self.requires_grad = False
        return self

    @property
    def data(self) -> "Tensor":
        """A tensor sharing this storage with no autograd history; assigning swaps the storage."""
        return Tensor(self._data)

    @data.setter
    def data(self, value: "Tensor") -> None:
        """A tensor sharing this storage with no autograd history; assigning swaps the storage."""
        self._data = value._data

    def retain_grad(self) -> None:
        """Keep ``.grad`` for this non-leaf tensor after backward."""
        if not self.requires_grad:
            raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
        self._retains_grad = True

    @property
    def retains_grad(self) -> bool:
        """Whether :meth:`retain_grad` was called on this non-leaf tensor."""
        return self._retains_grad


def tensor_method(*names: str) -> Callable[[Callable], Callable]:
    """Decorator that also attaches a function as Tensor method(s) under ``names``.

    Args:
        *names: The Tensor attribute names to attach the function under.

    Returns:
        A decorator that returns the function unchanged.
    """
    def deco(fn: Callable) -> Callable:
        for name in names:
            setattr(Tensor, name, fn)
        return fn
    return deco
