"""Pooled device memory with statistics and out-of-memory recovery."""
from __future__ import annotations

from typing import Any

import pyopencl as cl
import pyopencl.tools

from clt.errors import OutOfMemoryError

_OOM_CODES = {cl.status_code.MEM_OBJECT_ALLOCATION_FAILURE, cl.status_code.OUT_OF_RESOURCES,
              cl.status_code.OUT_OF_HOST_MEMORY, cl.status_code.INVALID_BUFFER_SIZE}


def _is_oom(exc: Exception) -> bool:
    code = getattr(exc, "code", None)
    if code in _OOM_CODES:
        return True
    return isinstance(exc, cl.MemoryError)


class MemoryPool:
    """Reuses freed device buffers (binned by size) so that ops do not allocate per call.

    ``allocate`` returns a pooled buffer; dropping the last reference returns it to the pool.
    """

    def __init__(self, device: Any) -> None:
        self._device = device
        self._pool = cl.tools.MemoryPool(cl.tools.ImmediateAllocator(device.queue))
        self.peak_bytes = 0
        self.num_allocs = 0

    def allocate(self, nbytes: int) -> cl.Buffer:
        """A buffer of at least ``nbytes`` (at least 1 byte: OpenCL has no empty buffers)."""
        nbytes = max(int(nbytes), 1)
        info = self._device.info
        if info.max_alloc_bytes and nbytes > info.max_alloc_bytes:
            raise OutOfMemoryError(
                f"{self._device}: cannot allocate {nbytes} bytes: more than the device's largest "
                f"single allocation ({info.max_alloc_bytes} bytes); "
                f"{self.allocated_bytes} bytes in use")
        try:
            buf = self._pool.allocate(nbytes)
        except cl.Error as exc:
            if not _is_oom(exc):
                raise
            self._pool.free_held()           # give cached blocks back and try once more
            try:
                buf = self._pool.allocate(nbytes)
            except cl.Error as exc2:
                raise OutOfMemoryError(
                    f"{self._device}: out of memory allocating {nbytes} bytes; "
                    f"{self.allocated_bytes} bytes in use, {self.reserved_bytes} reserved "
                    f"(cached blocks were freed and the allocation retried)") from exc2
        self.num_allocs += 1
        active = self._pool.active_bytes
        if active > self.peak_bytes:
            self.peak_bytes = active
        return buf

    @property
    def allocated_bytes(self) -> int:
        """Bytes in buffers that are in use (rounded up to the pool's bin sizes)."""
        return int(self._pool.active_bytes)

    @property
    def reserved_bytes(self) -> int:
        """Bytes the pool holds from the driver: in use plus cached for reuse."""
        return int(self._pool.managed_bytes)

    @property
    def cached_blocks(self) -> int:
        return int(self._pool.held_blocks)

    def empty_cache(self) -> None:
        """Return cached (unused) blocks to the driver."""
        self._pool.free_held()

    def reset_peak(self) -> None:
        self.peak_bytes = self.allocated_bytes

    def stats(self) -> dict[str, int]:
        return {"allocated_bytes": self.allocated_bytes, "reserved_bytes": self.reserved_bytes,
                "peak_bytes": self.peak_bytes, "cached_blocks": self.cached_blocks,
                "num_allocs": self.num_allocs}
