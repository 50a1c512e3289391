"""OpenCL backend: devices, memory, kernel rendering and building. Imports nothing else of clt
but errors and its own modules."""
from clt.backend.capabilities import Capabilities
from clt.backend.device import (Device, device, device_infos, devices, get_default_device,
                                set_default_device, synchronize)
from clt.backend.info import DeviceInfo
from clt.backend.program import KernelCache, find_kernel_dir, render

__all__ = ["Capabilities", "Device", "DeviceInfo", "KernelCache", "device", "device_infos",
           "devices", "find_kernel_dir", "get_default_device", "render", "set_default_device",
           "synchronize"]
