"""Read-once description of an OpenCL device (:class:`DeviceInfo`)."""
from __future__ import annotations

from dataclasses import dataclass

import pyopencl as cl

_TYPES = ((cl.device_type.GPU, "gpu"), (cl.device_type.CPU, "cpu"),
          (cl.device_type.ACCELERATOR, "accelerator"))


def _get(dev: cl.Device, attr: str, default=None):
    try:
        return getattr(dev, attr)
    except (cl.Error, AttributeError):   # attribute not reported by this driver
        return default


@dataclass(frozen=True)
class DeviceInfo:
    """Capabilities of one OpenCL device, read once from the driver."""

    id: str                   # "cl:N", N counting devices over all platforms in platform order
    index: int
    platform_index: int
    device_index: int         # index within its platform
    name: str
    vendor: str
    platform: str
    platform_version: str
    driver_version: str
    version: str              # OpenCL version string of the device
    opencl_c_version: str
    type: str                 # "gpu", "cpu", "accelerator" or "other"
    compute_units: int
    clock_mhz: int
    global_mem_bytes: int
    local_mem_bytes: int
    max_alloc_bytes: int
    max_work_group_size: int
    max_work_item_sizes: tuple[int, ...]
    preferred_vector_widths: tuple[tuple[str, int], ...]
    fp16: bool
    fp64: bool
    subgroups: bool
    extensions: tuple[str, ...]

    @property
    def global_mem_mib(self) -> int:
        """Global memory in MiB."""
        return self.global_mem_bytes // (1 << 20)

    @classmethod
    def from_cl(cls, dev: cl.Device, index: int, platform_index: int, device_index: int
                ) -> "DeviceInfo":
        """Read a device's capabilities from the driver into a record."""
        ext = tuple(sorted(str(_get(dev, "extensions", "")).split()))
        dtype = _get(dev, "type", 0)
        kind = next((name for flag, name in _TYPES if dtype & flag), "other")
        widths = tuple((t, int(_get(dev, f"preferred_vector_width_{t}", 0) or 0))
                       for t in ("char", "short", "int", "long", "float", "double", "half"))
        version = str(_get(dev, "version", ""))
        subgroups = "cl_khr_subgroups" in ext or "cl_intel_subgroups" in ext or (
            version.startswith("OpenCL 3") and bool(_get(dev, "max_num_sub_groups", 0)))
        return cls(
            id=f"cl:{index}", index=index, platform_index=platform_index,
            device_index=device_index,
            name=str(_get(dev, "name", "?")).strip(),
            vendor=str(_get(dev, "vendor", "?")).strip(),
            platform=str(dev.platform.name).strip(),
            platform_version=str(_get(dev.platform, "version", "")).strip(),
            driver_version=str(_get(dev, "driver_version", "")).strip(),
            version=version.strip(),
            opencl_c_version=str(_get(dev, "opencl_c_version", "")).strip(),
            type=kind,
            compute_units=int(_get(dev, "max_compute_units", 1) or 1),
            clock_mhz=int(_get(dev, "max_clock_frequency", 0) or 0),
            global_mem_bytes=int(_get(dev, "global_mem_size", 0) or 0),
            local_mem_bytes=int(_get(dev, "local_mem_size", 0) or 0),
            max_alloc_bytes=int(_get(dev, "max_mem_alloc_size", 0) or 0),
            max_work_group_size=int(_get(dev, "max_work_group_size", 1) or 1),
            max_work_item_sizes=tuple(int(x) for x in (_get(dev, "max_work_item_sizes", ()) or ())),
            preferred_vector_widths=widths,
            fp16="cl_khr_fp16" in ext,
            fp64="cl_khr_fp64" in ext or bool(_get(dev, "double_fp_config", 0)),
            subgroups=bool(subgroups),
            extensions=ext,
        )
