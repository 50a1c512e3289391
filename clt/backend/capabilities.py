"""One capability table per device: every vendor and driver difference that kernels care about.

Kernels and ops consult :class:`Capabilities` to pick variants (chunked CPU loops or coalesced GPU
strides, tile sizes, native half); nowhere else in clt checks a vendor name.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from clt.backend.info import DeviceInfo


def cache_dir() -> Path:
    """clt's user cache folder (``$CLT_CACHE_DIR``, else ``$XDG_CACHE_HOME/clt``)."""
    explicit = os.environ.get("CLT_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "clt"


@dataclass(frozen=True)
class Capabilities:
    """What kernels may assume about a device, with the reason for every non-default choice."""

    style: str                  # "cpu": each work-item walks a contiguous chunk; "gpu": coalesced
    fp16_compute: bool          # half arithmetic runs natively (else half is computed as float)
    fp64: bool
    float_atomics: bool         # never required by clt kernels; recorded for users
    ew_chunk: int               # elements per work-item in elementwise kernels
    ew_local_size: int          # fixed work-group size (PoCL re-JITs for every new size)
    reduce_local_size: int
    quirks: tuple[str, ...] = field(default=())
    # keep program binaries in clt's disk cache; PoCL spends as long producing a program's
    # binary as building it (~0.25-0.5 s) while its own kernel cache rebuilds a seen program
    # in ~25 ms, so there clt caches only the rendered source
    binary_cache: bool = True

    def as_dict(self) -> dict[str, Any]:
        """The table as a plain dict (for JSON output)."""
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def capabilities_for(info: DeviceInfo, probe: dict[str, Any] | None = None) -> Capabilities:
    """Derive a device's capability table from its info record and (optionally) a probe."""
    quirks = []
    name, vendor, platform = info.name.lower(), info.vendor.lower(), info.platform.lower()
    fp16 = info.fp16
    fp64 = info.fp64
    if "nvidia" in vendor or "nvidia" in platform:
        # NVIDIA's driver runs half arithmetic without reporting cl_khr_fp16
        fp16 = True
        quirks.append("nvidia: half arithmetic works without cl_khr_fp16")
    if "intel" in vendor and "arc" in name:
        fp64 = False
        quirks.append("intel arc: no fp64")
    pocl = "portable computing language" in platform or "pocl" in platform
    if pocl:
        quirks.append("pocl: built-ins (fma, fmax) are calls, not inlined; avoid them in hot loops")
    if probe:
        if "fp16_ok" in probe:
            fp16 = bool(probe["fp16_ok"])
        if "fp64_ok" in probe:
            fp64 = bool(probe["fp64_ok"])
    if info.type == "gpu":
        caps = Capabilities(style="gpu", fp16_compute=fp16, fp64=fp64, float_atomics=False,
                            ew_chunk=4, ew_local_size=min(256, info.max_work_group_size),
                            reduce_local_size=min(256, info.max_work_group_size),
                            quirks=tuple(quirks))
    else:
        # CPU drivers: contiguous chunks vectorise; GPU-style strided loops run ~30x slower
        caps = Capabilities(style="cpu", fp16_compute=False, fp64=fp64, float_atomics=False,
                            ew_chunk=4096, ew_local_size=1, reduce_local_size=1,
                            quirks=tuple(quirks))
    if pocl:
        caps = replace(caps, binary_cache=False)
    env_style = os.environ.get("CLT_KERNEL_STYLE")
    if env_style in ("cpu", "gpu"):
        caps = replace(caps, style=env_style)
    return caps


def _probe_path() -> Path:
    return cache_dir() / "probe.json"


def probe_key(info: DeviceInfo) -> str:
    """The cache key of a device's probe results: platform, device name and driver version."""
    return f"{info.platform}|{info.name}|{info.driver_version}"


def load_probe(info: DeviceInfo) -> dict[str, Any] | None:
    """Probe results cached for this device and driver, or None."""
    try:
        return json.loads(_probe_path().read_text()).get(probe_key(info))
    except (OSError, ValueError):
        return None


def save_probe(info: DeviceInfo, result: dict[str, Any]) -> None:
    """Store a device's probe results in the user cache (atomic write)."""
    path = _probe_path()
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        data = {}
    data[probe_key(info)] = result
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True))
    os.replace(tmp, path)
