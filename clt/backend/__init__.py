"""OpenCL backend: devices, memory, kernel rendering and building.

Imports nothing of clt but :mod:`clt.errors` and its own modules. Importing it never touches
the OpenCL driver; enumeration happens at the first call that needs a device.
"""
from clt.backend.capabilities import Capabilities, cache_dir
from clt.backend.device import (Device, copy_between, default_device_index, device,
                                device_infos, devices, get_default_device, set_default_device,
                                synchronize)
from clt.backend.info import DeviceInfo
from clt.backend.logs import configure_from_env as _configure_logging
from clt.backend.program import STATS, KernelCache, find_kernel_dir, render
from clt.backend.aot import register_warmup, warmup, warmups
from clt.backend import fusion

_configure_logging()

__all__ = ["Capabilities", "Device", "DeviceInfo", "KernelCache", "STATS", "cache_dir",
           "copy_between", "default_device_index", "device", "device_infos", "devices",
           "find_kernel_dir", "fusion", "get_default_device", "register_warmup", "render",
           "set_default_device", "synchronize", "warmup", "warmups"]
