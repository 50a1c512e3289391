"""The :class:`Device` abstraction, device discovery and selection."""
from __future__ import annotations

import atexit
import logging
import os
import threading
import time
from typing import Any, Sequence, Union

import numpy as np
import pyopencl as cl

from clt.backend.capabilities import Capabilities, capabilities_for, load_probe
from clt.backend.info import DeviceInfo
from clt.backend.memory import MemoryPool
from clt.backend.program import DEFAULT_OPTIONS, KernelCache
from clt.errors import DeviceError, DeviceNotFoundError, NoOpenCLError

log = logging.getLogger("clt.device")

INSTALL_HINT = ("install an OpenCL driver: `pip install pocl-binary-distribution` (or "
                "`pip install clt[pocl]`) for a CPU device, or your GPU vendor's OpenCL runtime "
                "(NVIDIA driver, AMD ROCm, Intel compute-runtime)")


class Device:
    """One OpenCL device with its own context, in-order queue, memory pool and kernel cache.

    Get devices with :func:`clt.device` rather than constructing them: that returns the same
    ``Device`` for the same selector, so tensors on "cl:0" always share one context.
    """

    def __init__(self, cl_device: cl.Device, info: DeviceInfo, *, profiling: bool | None = None,
                 build_options: tuple[str, ...] = DEFAULT_OPTIONS) -> None:
        start = time.perf_counter()
        self.cl_device = cl_device
        self.info = info
        if profiling is None:
            profiling = os.environ.get("CLT_PROFILE", "0") == "1"
        self.profiling = bool(profiling)
        props = cl.command_queue_properties.PROFILING_ENABLE if profiling else 0
        try:
            self.context = cl.Context([cl_device])
            self.queue = cl.CommandQueue(self.context, properties=props)
            self._transfer_queue: cl.CommandQueue | None = None
            self.profiler: Any = None      # set by clt.profiler.profile while recording
        except cl.Error as exc:
            raise DeviceError(f"cannot open {info.id} ({info.name}, {info.platform}): {exc}"
                              ) from exc
        self.memory = MemoryPool(self)
        self.kernels = KernelCache(self, build_options)
        self.caps: Capabilities = capabilities_for(info, load_probe(info))
        self._lock = threading.Lock()
        log.debug("opened %s (%s style) in %.0f ms", self, self.caps.style,
                  (time.perf_counter() - start) * 1e3)

    # -- identity ---------------------------------------------------------------------------
    @property
    def id(self) -> str:
        """The device's id, ``"cl:N"``."""
        return self.info.id

    @property
    def name(self) -> str:
        """The device name reported by the driver."""
        return self.info.name

    @property
    def type(self) -> str:
        """``"gpu"``, ``"cpu"``, ``"accelerator"`` or ``"other"``."""
        return self.info.type

    @property
    def supports_fp64(self) -> bool:
        """Whether float64 kernels can run here (from the capability table)."""
        return self.caps.fp64

    @property
    def supports_fp16(self) -> bool:
        """Whether half arithmetic runs natively here (half storage works everywhere)."""
        return self.caps.fp16_compute

    def __repr__(self) -> str:
        return f"Device({self.info.id!r}, {self.info.name!r}, platform={self.info.platform!r})"

    def __str__(self) -> str:
        return f"{self.info.id} ({self.info.name}, {self.info.platform})"

    # -- work -------------------------------------------------------------------------------
    def synchronize(self) -> None:
        """Wait until every command enqueued on this device has finished."""
        if self._transfer_queue is not None:
            self._transfer_queue.finish()
        self.queue.finish()

    @property
    def transfer_queue(self) -> cl.CommandQueue:
        """A second in-order queue for host-to-device copies that overlap compute (lazy)."""
        if self._transfer_queue is None:
            self._transfer_queue = cl.CommandQueue(self.context)
        return self._transfer_queue

    def launch(self, kernel: cl.Kernel, global_size: Sequence[int],
               local_size: Sequence[int] | None, *args: Any) -> cl.Event:
        """Set ``args`` and enqueue ``kernel``; never waits."""
        kernel.set_args(*args)
        event = cl.enqueue_nd_range_kernel(self.queue, kernel, global_size, local_size)
        if self.profiler is not None:
            self.profiler.record(self, kernel.function_name, event)
        return event

    def set_profiling(self, enabled: bool) -> None:
        """Recreate the queues with or without event profiling (waits for pending work)."""
        if bool(enabled) == self.profiling:
            return
        self.synchronize()
        props = cl.command_queue_properties.PROFILING_ENABLE if enabled else 0
        self.queue = cl.CommandQueue(self.context, properties=props)
        self._transfer_queue = None
        self.profiling = bool(enabled)

    # -- memory -----------------------------------------------------------------------------
    def allocate(self, nbytes: int) -> cl.Buffer:
        """A pooled buffer of ``nbytes``; raises :class:`clt.OutOfMemoryError` if it can't."""
        return self.memory.allocate(nbytes)

    def memory_allocated(self) -> int:
        """Bytes held by live buffers (as ``torch.cuda.memory_allocated``)."""
        return self.memory.allocated_bytes

    def memory_reserved(self) -> int:
        """Bytes taken from the driver: live buffers plus the pool's cached blocks."""
        return self.memory.reserved_bytes

    def max_memory_allocated(self) -> int:
        """The peak of :meth:`memory_allocated` since start or :meth:`reset_peak_memory_stats`."""
        return self.memory.peak_bytes

    def reset_peak_memory_stats(self) -> None:
        """Restart the peak-memory statistic from the bytes in use now."""
        self.memory.reset_peak()

    def memory_stats(self) -> dict[str, int]:
        """All pool counters: allocated, reserved, peak, cached blocks, allocations, OOMs."""
        return self.memory.stats()

    def empty_cache(self) -> None:
        """Give the pool's cached (unused) blocks back to the driver."""
        self.memory.empty_cache()

    def upload(self, buf: cl.Buffer, host: np.ndarray, offset_bytes: int = 0,
               blocking: bool = False) -> cl.Event:
        """Copy a contiguous host array into ``buf`` (non-blocking unless asked).

        A non-blocking upload keeps a reference to ``host`` until it completes.
        """
        host = np.asarray(host, order="C")
        if host.nbytes == 0:
            return cl.enqueue_marker(self.queue)
        return cl.enqueue_copy(self.queue, buf, host, dst_offset=offset_bytes,
                               is_blocking=blocking)

    def download(self, host: np.ndarray, buf: cl.Buffer, offset_bytes: int = 0,
                 blocking: bool = True) -> cl.Event:
        """Copy from ``buf`` into a contiguous host array."""
        if host.nbytes == 0:
            return cl.enqueue_marker(self.queue)
        return cl.enqueue_copy(self.queue, host, buf, src_offset=offset_bytes,
                               is_blocking=blocking)

    def copy_buffer(self, dst: cl.Buffer, src: cl.Buffer, nbytes: int, dst_offset: int = 0,
                    src_offset: int = 0) -> cl.Event:
        """Device-side copy between two buffers of this device's context."""
        if nbytes == 0:
            return cl.enqueue_marker(self.queue)
        return cl.enqueue_copy(self.queue, dst, src, byte_count=nbytes, dst_offset=dst_offset,
                               src_offset=src_offset)


class _Relay:
    """One daemon thread that opens user-event gates once the events they wait for complete.

    Cross-context copies need "start the write when the read is done" without blocking the
    caller. Event callbacks would do it, but a callback that sets a user event hung PoCL now
    and then (a driver thread calling back into Python); a plain thread that waits is safe.
    """

    def __init__(self) -> None:
        import queue

        self._jobs: "queue.SimpleQueue[tuple]" = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._registered = False

    def open_after(self, read: cl.Event, gate: cl.UserEvent, write: cl.Event) -> None:
        """Open ``gate`` when ``read`` completes; hold ``write`` until it completes too."""
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="clt-copy-relay",
                                                daemon=True)
                self._thread.start()
                if not self._registered:
                    # a daemon thread that returns from a GIL-releasing pyopencl call while
                    # the interpreter finalizes is killed inside C++ code, which aborts the
                    # process ("terminate called without an active exception"): stop it first
                    atexit.register(self.stop)
                    self._registered = True
        self._jobs.put((read, gate, write))

    def stop(self, timeout: float = 30.0) -> None:
        """Finish the queued copies and end the thread (at exit)."""
        thread = self._thread
        if thread is not None and thread.is_alive():
            self._jobs.put(None)
            thread.join(timeout)

    def _run(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            read, gate, write = job
            try:
                read.wait()
                gate.set_status(cl.command_execution_status.COMPLETE)
            except cl.Error as exc:   # a failed read fails the write instead of hanging it
                log.debug("cross-device copy: the read failed: %s", exc)
                gate.set_status(-1)
            try:
                write.wait()
            except cl.Error as exc:
                log.debug("cross-device copy: the write failed: %s", exc)
            # the two events own the staging array: release them only once both completed,
            # here, where their destructors have nothing left to wait for
            del read, gate, write


_relay = _Relay()


def copy_between(dst_device: Device, dst: cl.Buffer, src_device: Device, src: cl.Buffer,
                 nbytes: int, dst_offset: int = 0, src_offset: int = 0,
                 blocking: bool = False) -> cl.Event:
    """Copy ``nbytes`` from a buffer of ``src_device`` into one of ``dst_device``.

    On one device this is a device-side copy. Across devices (each :class:`Device` has its own
    context, and OpenCL cannot copy between contexts) the bytes go through a host staging
    array. Non-blocking, the caller never waits: the write is enqueued at once on
    ``dst_device``'s queue (so later work there is ordered after it), gated on a user event
    that a helper thread opens when the read has finished.

    Returns:
        An event on ``dst_device``'s queue that completes when the copy has landed.
    """
    if nbytes == 0:
        return cl.enqueue_marker(dst_device.queue)
    if dst_device is src_device:
        event = src_device.copy_buffer(dst, src, nbytes, dst_offset, src_offset)
        if blocking:
            event.wait()
        return event
    staging = np.empty(nbytes, np.uint8)
    read = cl.enqueue_copy(src_device.queue, staging, src, src_offset=src_offset,
                           is_blocking=blocking)
    if blocking:
        return cl.enqueue_copy(dst_device.queue, dst, staging, dst_offset=dst_offset,
                               is_blocking=True)
    gate = cl.UserEvent(dst_device.context)
    write = cl.enqueue_copy(dst_device.queue, dst, staging, dst_offset=dst_offset,
                            is_blocking=False, wait_for=[gate])
    # pyopencl's copy events keep `staging` alive and *wait in their destructor*, holding the
    # GIL: dropped by the caller before the gate opens, that would deadlock with the relay.
    # So the relay keeps them, and the caller gets a plain marker event behind the write.
    _relay.open_after(read, gate, write)
    return cl.enqueue_marker(dst_device.queue)


# ---------------------------------------------------------------------------------------------
# discovery and selection

_registry_lock = threading.RLock()
_cl_devices: list[tuple[cl.Device, DeviceInfo]] | None = None
_devices: dict[int, Device] = {}
_default: Device | None = None

DeviceLike = Union[Device, str, int, None]


def _enumerate() -> list[tuple[cl.Device, DeviceInfo]]:
    global _cl_devices
    with _registry_lock:
        if _cl_devices is None:
            found: list[tuple[cl.Device, DeviceInfo]] = []
            try:
                platforms = cl.get_platforms()
            except cl.Error:            # no ICD loader or no platform installed
                platforms = []
            for p_index, platform in enumerate(platforms):
                try:
                    devs = platform.get_devices()
                except cl.Error:        # a broken platform must not hide the others
                    continue
                for d_index, dev in enumerate(devs):
                    found.append((dev, DeviceInfo.from_cl(dev, len(found), p_index, d_index)))
            _cl_devices = found
        return _cl_devices


def device_infos() -> list[DeviceInfo]:
    """Info of every OpenCL device on every platform, in ``cl:N`` order; never raises."""
    return [info for _, info in _enumerate()]


def _get_device(index: int) -> Device:
    with _registry_lock:
        dev = _devices.get(index)
        if dev is None:
            cl_dev, info = _enumerate()[index]
            dev = _devices[index] = Device(cl_dev, info)
        return dev


def devices() -> list[Device]:
    """Every OpenCL device, as :class:`Device` objects in ``cl:N`` order."""
    return [_get_device(i) for i in range(len(_enumerate()))]


def _listing() -> str:
    infos = device_infos()
    if not infos:
        return "no OpenCL devices exist"
    return ("available: " + "; ".join(f"{i.id} = {i.name} [{i.type}, {i.platform}]"
                                      for i in infos)
            + " (select by index, 'cl:N', 'P:D', 'gpu'/'cpu', or part of a name)")


def _match(selector: str, infos: list[DeviceInfo]) -> list[DeviceInfo]:
    s = selector.strip().lower()
    if s.startswith("cl:"):
        s = s[3:]
    if s.isdigit():
        return [i for i in infos if i.index == int(s)]
    if ":" in s and all(part.isdigit() for part in s.split(":", 1)):
        p, d = (int(x) for x in s.split(":", 1))
        return [i for i in infos if i.platform_index == p and i.device_index == d]
    if s in ("gpu", "cpu", "accelerator"):
        return [i for i in infos if i.type == s]
    # the platform version is searched too: it is where PoCL spells its name ("PoCL 3.0")
    return [i for i in infos
            if any(s in field.lower() for field in (i.name, i.vendor, i.platform,
                                                    i.platform_version))]


def device(selector: DeviceLike = None) -> Device:
    """Select a device; the same selector always returns the same :class:`Device` object.

    Devices are numbered ``cl:0``, ``cl:1``, ... over every platform, in the order the OpenCL ICD
    loader lists the platforms and, within a platform, the order its driver lists the devices
    (``clt-devices`` shows the numbering).

    Args:
        selector: a :class:`Device`; ``None`` for the default device; an int or ``"cl:N"``
            (index over all platforms); ``"P:D"`` (platform and device index); ``"gpu"``,
            ``"cpu"`` or ``"accelerator"``; or a case-insensitive substring of the device,
            vendor or platform name (``"pocl"``, ``"nvidia"``, ``"intel"``). The first match
            wins.

    Raises:
        NoOpenCLError: no OpenCL platform is installed.
        DeviceNotFoundError: nothing matches; the message lists the devices that exist.
    """
    if isinstance(selector, Device):
        return selector
    if selector is None:
        return get_default_device()
    infos = device_infos()
    if not infos:
        raise NoOpenCLError(f"no OpenCL device found; {INSTALL_HINT}")
    if isinstance(selector, (int, np.integer)) and not isinstance(selector, bool):
        matches = [i for i in infos if i.index == int(selector)]
    elif isinstance(selector, str):
        matches = _match(selector, infos)
    else:
        raise DeviceError(f"not a device selector: {selector!r} (use an int, a string or a Device)")
    if not matches:
        raise DeviceNotFoundError(f"no OpenCL device matches {selector!r}; {_listing()}")
    return _get_device(matches[0].index)


_select = device   # `synchronize(device=...)` shadows the function name


def default_device_index() -> tuple[int, str]:
    """The index the default device would have, and why (env variable, first GPU, first)."""
    infos = device_infos()
    if not infos:
        raise NoOpenCLError(f"no OpenCL device found; {INSTALL_HINT}")
    env = os.environ.get("CLT_DEVICE")
    if env:
        matches = _match(env, infos)
        if not matches:
            raise DeviceNotFoundError(f"CLT_DEVICE={env!r} matches no OpenCL device; {_listing()}")
        return matches[0].index, f"CLT_DEVICE={env}"
    gpus = [i for i in infos if i.type == "gpu"]
    if gpus:
        return gpus[0].index, "first GPU"
    return infos[0].index, "first device (no GPU found)"


def get_default_device() -> Device:
    """The device used when none is given: ``CLT_DEVICE``, else the first GPU, else the first."""
    global _default
    with _registry_lock:
        if _default is None:
            _default = _get_device(default_device_index()[0])
        return _default


def set_default_device(selector: DeviceLike) -> Device:
    """Make ``selector`` the default device (``None`` resets to the automatic choice)."""
    global _default
    with _registry_lock:
        _default = None if selector is None else device(selector)
        return get_default_device()


def synchronize(device: DeviceLike = None) -> None:
    """Wait for all work on ``device`` (default: the default device).

    ``"all"`` waits for every device opened so far.
    """
    if isinstance(device, str) and device == "all":
        for d in list(_devices.values()):
            d.synchronize()
        return
    _select(device).synchronize()
