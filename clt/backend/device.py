"""The :class:`Device` abstraction, device discovery and selection."""
from __future__ import annotations

import os
import threading
from typing import Any, Sequence, Union

import numpy as np
import pyopencl as cl

from clt.backend.capabilities import Capabilities, capabilities_for, load_probe
from clt.backend.info import DeviceInfo
from clt.backend.memory import MemoryPool
from clt.backend.program import DEFAULT_OPTIONS, KernelCache
from clt.errors import DeviceError, DeviceNotFoundError, NoOpenCLError

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
        self.cl_device = cl_device
        self.info = info
        if profiling is None:
            profiling = os.environ.get("CLT_PROFILE", "0") == "1"
        self.profiling = profiling
        self.context = cl.Context([cl_device])
        props = cl.command_queue_properties.PROFILING_ENABLE if profiling else 0
        self.queue = cl.CommandQueue(self.context, properties=props)
        self.memory = MemoryPool(self)
        self.kernels = KernelCache(self, build_options)
        self.caps: Capabilities = capabilities_for(info, load_probe(info))
        self._lock = threading.Lock()

    # -- identity ---------------------------------------------------------------------------
    @property
    def id(self) -> str:
        return self.info.id

    @property
    def name(self) -> str:
        return self.info.name

    @property
    def type(self) -> str:
        return self.info.type

    @property
    def supports_fp64(self) -> bool:
        return self.caps.fp64

    @property
    def supports_fp16(self) -> bool:
        return self.caps.fp16_compute

    def __repr__(self) -> str:
        return f"Device({self.info.id!r}, {self.info.name!r}, platform={self.info.platform!r})"

    def __str__(self) -> str:
        return f"{self.info.id} ({self.info.name}, {self.info.platform})"

    # -- work -------------------------------------------------------------------------------
    def synchronize(self) -> None:
        """Wait until every command enqueued on this device has finished."""
        self.queue.finish()

    def launch(self, kernel: cl.Kernel, global_size: Sequence[int],
               local_size: Sequence[int] | None, *args: Any) -> cl.Event:
        """Set ``args`` and enqueue ``kernel``; never waits."""
        kernel.set_args(*args)
        return cl.enqueue_nd_range_kernel(self.queue, kernel, global_size, local_size)

    # -- memory -----------------------------------------------------------------------------
    def allocate(self, nbytes: int) -> cl.Buffer:
        """A pooled buffer of ``nbytes``; raises :class:`clt.OutOfMemoryError` if it can't."""
        return self.memory.allocate(nbytes)

    def memory_allocated(self) -> int:
        return self.memory.allocated_bytes

    def memory_reserved(self) -> int:
        return self.memory.reserved_bytes

    def max_memory_allocated(self) -> int:
        return self.memory.peak_bytes

    def empty_cache(self) -> None:
        self.memory.empty_cache()

    def upload(self, buf: cl.Buffer, host: np.ndarray, offset_bytes: int = 0,
               blocking: bool = False) -> cl.Event:
        """Copy a contiguous host array into ``buf`` (non-blocking unless asked).

        A non-blocking upload keeps a reference to ``host`` until it completes.
        """
        host = np.ascontiguousarray(host)
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
    return "available: " + "; ".join(
        f"{i.id} = {i.name} [{i.type}, {i.platform}]" for i in infos)


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
    return [i for i in infos
            if s in i.name.lower() or s in i.vendor.lower() or s in i.platform.lower()]


def device(selector: DeviceLike = None) -> Device:
    """Select a device.

    Args:
        selector: a :class:`Device`; ``None`` for the default device; an int or ``"cl:N"``
            (index over all platforms); ``"P:D"`` (platform and device index); ``"gpu"``,
            ``"cpu"`` or ``"accelerator"``; or a case-insensitive substring of the device,
            vendor or platform name (``"pocl"``, ``"nvidia"``). The first match wins.

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


def synchronize(dev: DeviceLike = None) -> None:
    """Wait for all work on ``dev`` (default device), or on every opened device if ``"all"``."""
    if dev == "all":
        for d in list(_devices.values()):
            d.synchronize()
        return
    device(dev).synchronize()
