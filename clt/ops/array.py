"""The raw strided device array that ops work on (no autograd)."""
from __future__ import annotations

from typing import Any, Sequence

import pyopencl as cl

from clt.backend.device import Device
from clt.dtypes import DType
from clt.ops import shapes


class Storage:
    """A pooled device buffer shared by all views of it, with a version counter.

    The version counts in-place writes, so autograd can tell that a saved tensor was modified.
    """

    __slots__ = ("buffer", "nbytes", "device", "version", "pending", "__weakref__")

    def __init__(self, device: Device, nbytes: int) -> None:
        self.device = device
        self.nbytes = nbytes
        self.buffer: cl.Buffer = device.allocate(nbytes)
        self.version = 0
        self.pending: Any = None    # a non-blocking upload's event, kept alive with its host array


class Array:
    """``storage`` viewed with ``shape``, ``strides`` (in elements), ``offset`` and ``dtype``."""

    __slots__ = ("storage", "shape", "strides", "offset", "dtype")

    def __init__(self, storage: Storage, shape: Sequence[int], strides: Sequence[int],
                 offset: int, dtype: DType) -> None:
        self.storage = storage
        self.shape = tuple(shape)
        self.strides = tuple(strides)
        self.offset = int(offset)
        self.dtype = dtype

    @classmethod
    def empty(cls, device: Device, shape: Sequence[int], dtype: DType) -> "Array":
        """A new contiguous array with uninitialized storage.

        Args:
            device: The device to allocate on.
            shape: The shape.
            dtype: The element type.

        Returns:
            The array.
        """
        shape = tuple(shape)
        n = shapes.numel(shape)
        return cls(Storage(device, n * dtype.itemsize), shape, shapes.contiguous_strides(shape),
                   0, dtype)

    @property
    def device(self) -> Device:
        """The device that holds the storage."""
        return self.storage.device

    @property
    def buffer(self) -> cl.Buffer:
        """The OpenCL buffer of the storage."""
        return self.storage.buffer

    @property
    def ndim(self) -> int:
        """The number of dims."""
        return len(self.shape)

    @property
    def numel(self) -> int:
        """The number of elements."""
        return shapes.numel(self.shape)

    @property
    def nbytes(self) -> int:
        """Bytes the elements of this view occupy."""
        return self.numel * self.dtype.itemsize

    def is_contiguous(self) -> bool:
        """Whether the view is row-major with no gaps.

        Returns:
            True for a C-contiguous view.
        """
        return shapes.is_contiguous(self.shape, self.strides)

    def view(self, shape: Sequence[int], strides: Sequence[int], offset: int | None = None
             ) -> "Array":
        """Another view of the same storage."""
        return Array(self.storage, shape, strides, self.offset if offset is None else offset,
                     self.dtype)

    def bump_version(self) -> None:
        """Increment the storage's version counter (after an in-place write), so autograd can detect
        stale saved tensors."""
        self.storage.version += 1

    def __repr__(self) -> str:
        return (f"Array(shape={self.shape}, strides={self.strides}, offset={self.offset}, "
                f"dtype={self.dtype.name}, device={self.device.id})")
