"""Pooled device memory with statistics and out-of-memory recovery.

The pool is pyopencl's ``MemoryPool``. Every buffer it takes from the driver is touched at once
(a one-byte fill, as pyopencl's ``ImmediateAllocator`` does), so a driver that allocates lazily
(PoCL, NVIDIA) reports out-of-memory at allocation time instead of at some later kernel launch.
The fill goes on the device's *current* queue, so it stays ordered before the kernels that use
the buffer even after the device swaps queues (``Device.set_profiling``).

PoCL does not enforce the global memory size it reports (its buffers are host ``malloc``\\ s that
Linux overcommits), so the pool also keeps its own budget: by default the device's reported
global memory, overridable with ``CLT_MEMORY_LIMIT`` (bytes, or with a K/M/G suffix; ``0`` turns
the budget off). Going over the budget raises :class:`clt.OutOfMemoryError` the same way a
driver failure does.
"""
from __future__ import annotations

import logging
import os
import threading
import warnings
import weakref
from typing import Any

import numpy as np
import pyopencl as cl
import pyopencl.tools

from clt.errors import OutOfMemoryError

log = logging.getLogger("clt.memory")

_OOM_CODES = {cl.status_code.MEM_OBJECT_ALLOCATION_FAILURE, cl.status_code.OUT_OF_RESOURCES,
              cl.status_code.OUT_OF_HOST_MEMORY, cl.status_code.INVALID_BUFFER_SIZE}
_SUFFIX = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


def _is_oom(exc: Exception) -> bool:
    code = getattr(exc, "code", None)
    if code in _OOM_CODES:
        return True
    return isinstance(exc, cl.MemoryError)


def parse_bytes(text: str) -> int:
    """``"1024"``, ``"512M"``, ``"4G"`` or ``"1.5g"`` as a number of bytes."""
    t = text.strip().lower().removesuffix("b").removesuffix("i")
    scale = _SUFFIX.get(t[-1:], 1)
    if scale != 1:
        t = t[:-1]
    try:
        value = float(t)
    except ValueError:
        raise ValueError(f"not a byte count: {text!r} (use e.g. 1073741824, 512M or 4G)") from None
    if value < 0:
        raise ValueError(f"not a byte count: {text!r} (negative)")
    return int(value * scale)


def _fmt(nbytes: int) -> str:
    if nbytes >= 1 << 30:
        return f"{nbytes} bytes ({nbytes / (1 << 30):.2f} GiB)"
    if nbytes >= 1 << 20:
        return f"{nbytes} bytes ({nbytes / (1 << 20):.1f} MiB)"
    return f"{nbytes} bytes"


_ZERO = np.zeros(1, np.uint8)


class _UnpooledBuffer(cl.Buffer):
    """A buffer too large for the pool's bins; a subclass only so that it can be weakly referenced
    (its release updates the pool's statistics)."""


class MemoryPool:
    """Reuses freed device buffers (binned by size) so that ops do not allocate per call.

    ``allocate`` returns a pooled buffer; dropping the last reference returns it to the pool.
    Requests whose bin would exceed the device's largest allocation are served unpooled.
    """

    def __init__(self, device: Any) -> None:
        self._device = device
        with warnings.catch_warnings():
            # pyopencl warns that a deferred allocator defers failures; _touch undoes that
            warnings.simplefilter("ignore", UserWarning)
            self._pool = cl.tools.MemoryPool(cl.tools.DeferredAllocator(device.context))
        self._lock = threading.Lock()
        self._unpooled_bytes = 0     # large buffers outside the pool, freed directly
        self._fits: dict[int, int] = {}   # request size -> its pooled bin size (hot path)
        self.peak_bytes = 0
        self.num_allocs = 0
        self.num_ooms = 0
        env = os.environ.get("CLT_MEMORY_LIMIT")
        if env is not None and env.strip():
            self.limit_bytes = parse_bytes(env)
        else:
            self.limit_bytes = int(device.info.global_mem_bytes)

    # -- allocation -------------------------------------------------------------------------
    def allocate(self, nbytes: int) -> cl.Buffer:
        """A buffer of at least ``nbytes`` (at least 1 byte: OpenCL has no empty buffers).

        Raises:
            OutOfMemoryError: more than one allocation may hold, more than the memory budget,
                or the driver failed, even after the cached blocks were freed and the
                allocation retried once.
        """
        nbytes = max(int(nbytes), 1)
        size = self._fits.get(nbytes)
        first: OutOfMemoryError | None = None
        if size is not None:
            # hot path (a pooled size seen before): one lock, no budget arithmetic unless close
            limit = self.limit_bytes
            pool = self._pool
            if not limit or pool.managed_bytes + self._unpooled_bytes + size <= limit:
                with self._lock:
                    held = pool.held_blocks
                    buf = pool.allocate(nbytes)
                    fresh = pool.held_blocks >= held
                    self.num_allocs += 1
                    in_use = pool.active_bytes + self._unpooled_bytes
                    if in_use > self.peak_bytes:
                        self.peak_bytes = in_use
                if not fresh:
                    return buf
                try:
                    self._touch(buf)
                    return buf
                except cl.Error as exc:
                    if not _is_oom(exc):
                        raise
                    del buf
                    with self._lock:
                        self.num_allocs -= 1
                    first = OutOfMemoryError(f"the driver refused: {exc}")
        info = self._device.info
        if info.max_alloc_bytes and nbytes > info.max_alloc_bytes:
            self.num_ooms += 1
            raise OutOfMemoryError(
                f"{self._device}: cannot allocate {_fmt(nbytes)}: more than the device's largest "
                f"single allocation ({_fmt(info.max_alloc_bytes)}); "
                f"{_fmt(self.allocated_bytes)} in use")
        size = self._pool.alloc_size(self._pool.bin_number(nbytes))
        pooled = not info.max_alloc_bytes or size <= info.max_alloc_bytes
        if not pooled:
            size = nbytes
        elif len(self._fits) < 4096:
            self._fits[nbytes] = size
        try:
            if first is not None:    # the hot path's try failed: go straight to the retry
                raise first
            buf = self._try_allocate(nbytes, size, pooled)
        except OutOfMemoryError as failed:
            first = failed
            # cached blocks are memory the driver could give to this request: free, retry once
            log.debug("%s: out of memory for %d bytes; freeing %d cached bytes and retrying",
                      self._device, nbytes, self.reserved_bytes - self.allocated_bytes)
            self._pool.free_held()
            try:
                buf = self._try_allocate(nbytes, size, pooled)
            except OutOfMemoryError as exc:
                self.num_ooms += 1
                raise OutOfMemoryError(
                    f"{self._device}: out of memory allocating {_fmt(nbytes)}; "
                    f"{_fmt(self.allocated_bytes)} in use, {_fmt(self.reserved_bytes)} reserved; "
                    f"{exc.args[0]} (cached blocks were freed and the allocation retried; "
                    "free tensors, use smaller batches, or set CLT_MEMORY_LIMIT)") from first
        with self._lock:
            self.num_allocs += 1
            in_use = self.allocated_bytes
            if in_use > self.peak_bytes:
                self.peak_bytes = in_use
        return buf

    def _try_allocate(self, nbytes: int, size: int, pooled: bool) -> cl.Buffer:
        if self.limit_bytes:
            if self.allocated_bytes + size > self.limit_bytes:
                raise OutOfMemoryError(
                    f"the budget of {_fmt(self.limit_bytes)} (the device's global memory, or "
                    "CLT_MEMORY_LIMIT) would be exceeded")
            if self.reserved_bytes + size > self.limit_bytes:
                self._pool.free_held()    # cached blocks count against the budget: drop them
        try:
            if pooled:
                with self._lock:
                    held = self._pool.held_blocks
                    buf = self._pool.allocate(nbytes)
                    reused = self._pool.held_blocks < held
                if not reused:
                    self._touch(buf)
                return buf
            buf = _UnpooledBuffer(self._device.context, cl.mem_flags.READ_WRITE, nbytes)
            self._touch(buf)
        except cl.Error as exc:
            if not _is_oom(exc):
                raise
            raise OutOfMemoryError(f"the driver refused: {exc}") from exc
        with self._lock:
            self._unpooled_bytes += nbytes
        weakref.finalize(buf, self._release_unpooled, nbytes)
        return buf

    def _touch(self, buf: cl.Buffer) -> None:
        # lazy drivers allocate at first use: use it now, so that they fail here, not later
        cl.enqueue_fill_buffer(self._device.queue, buf, _ZERO, 0, 1)

    def _release_unpooled(self, nbytes: int) -> None:
        with self._lock:
            self._unpooled_bytes -= nbytes

    # -- statistics -------------------------------------------------------------------------
    @property
    def allocated_bytes(self) -> int:
        """Bytes in buffers that are in use (pooled ones rounded up to the pool's bin sizes)."""
        return int(self._pool.active_bytes) + self._unpooled_bytes

    @property
    def reserved_bytes(self) -> int:
        """Bytes the pool holds from the driver: in use plus cached for reuse."""
        return int(self._pool.managed_bytes) + self._unpooled_bytes

    @property
    def cached_blocks(self) -> int:
        """How many freed blocks the pool holds for reuse."""
        return int(self._pool.held_blocks)

    def empty_cache(self) -> None:
        """Return cached (unused) blocks to the driver."""
        self._pool.free_held()

    def reset_peak(self) -> None:
        """Restart the peak statistic from the bytes in use now."""
        self.peak_bytes = self.allocated_bytes

    def stats(self) -> dict[str, int]:
        """Counters in the spirit of ``torch.cuda.memory_stats`` (bytes and counts)."""
        return {"allocated_bytes": self.allocated_bytes, "reserved_bytes": self.reserved_bytes,
                "peak_bytes": self.peak_bytes, "cached_blocks": self.cached_blocks,
                "num_allocs": self.num_allocs, "num_ooms": self.num_ooms,
                "limit_bytes": self.limit_bytes}
