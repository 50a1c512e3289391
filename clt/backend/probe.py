"""Checking that a device works and measuring it (``kernels/probe.cl.mako``).

:func:`check_device` runs a real kernel and compares its result: a device whose driver lists it
but cannot compile or run is not "working". :func:`probe_device` measures copy bandwidth and
multiply-add throughput, and finds out by running kernels (not by reading extension strings)
whether half and double arithmetic work; the result is cached per device and driver and feeds
the capability table.
"""
from __future__ import annotations

import time
from typing import Any, Callable

import numpy as np
import pyopencl as cl

from clt.backend.capabilities import save_probe
from clt.backend.device import Device
from clt.errors import CLTError

TEMPLATE = "probe.cl.mako"


class DeviceCheckError(CLTError, RuntimeError):
    """A device built or ran the check kernel but got a wrong result."""


def _upload(dev: Device, host: np.ndarray) -> cl.Buffer:
    buf = dev.allocate(host.nbytes)
    dev.upload(buf, host, blocking=True)
    return buf


def check_device(dev: Device, n: int = 1027) -> None:
    """Build and run ``out = a * b + c`` on ``dev`` and compare every element with numpy.

    Raises:
        KernelBuildError: the driver could not compile the kernel.
        DeviceCheckError: the kernel ran but produced a wrong result.
        pyopencl.Error: the driver failed otherwise.
    """
    rng = np.random.default_rng(0)
    a, b, c = (rng.standard_normal(n).astype(np.float32) for _ in range(3))
    kernel = dev.kernels.get(TEMPLATE, "check", name="clt_probe_check")
    bufs = [_upload(dev, x) for x in (a, b, c)]
    out = dev.allocate(a.nbytes)
    dev.launch(kernel, (n,), None, *bufs, out, n)
    host = np.empty_like(a)
    dev.download(host, out, blocking=True)
    expect = a * b + c
    bad = ~np.isclose(host, expect, rtol=1e-5, atol=1e-6)
    if bad.any():
        i = int(np.argmax(bad))
        raise DeviceCheckError(f"{dev}: check kernel gave {int(bad.sum())} wrong values of {n}, "
                               f"e.g. out[{i}] = {host[i]!r}, expected {expect[i]!r}")


def _best_time(dev: Device, run: Callable[[], Any], repeat: int) -> float:
    run()
    dev.synchronize()   # first launch: PoCL compiles the work-group function here
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        dev.synchronize()
        best = min(best, time.perf_counter() - start)
    return best


def measure_copy(dev: Device, nbytes: int | None = None, repeat: int = 5) -> float:
    """Achieved device-memory copy bandwidth in GB/s (bytes read + bytes written, 1e9 B/s)."""
    if nbytes is None:
        budget = dev.info.max_alloc_bytes or (64 << 20)
        nbytes = min(64 << 20 if dev.caps.style == "cpu" else 256 << 20, budget // 2)
    n4 = nbytes // 16
    nbytes = n4 * 16
    src, dst = dev.allocate(nbytes), dev.allocate(nbytes)
    cl.enqueue_fill_buffer(dev.queue, src, np.float32(1), 0, nbytes)
    style = dev.caps.style
    kernel = dev.kernels.get(TEMPLATE, "copy", name=f"clt_probe_copy_{style}", style=style)
    if style == "cpu":
        chunk = -(-n4 // (8 * dev.info.compute_units))
        gsize, lsize = (-(-n4 // chunk),), None
    else:
        chunk = 1
        gsize, lsize = (-(-n4 // 256) * 256,), (256,)

    def run() -> None:
        dev.launch(kernel, gsize, lsize, src, dst, n4, chunk)

    return 2 * nbytes / _best_time(dev, run, repeat) / 1e9


def measure_fma(dev: Device, repeat: int = 3) -> dict[str, Any]:
    """Sustained float32 multiply-add throughput in GFLOP/s (an FMA counts as 2 flops)."""
    width = 8 if dev.caps.style == "cpu" else 4
    chains = 8
    if dev.caps.style == "cpu":
        items = 64 * dev.info.compute_units
        iters = 4096
    else:
        items = 2048 * max(1, dev.info.compute_units)
        iters = 1024
    kernel = dev.kernels.get(TEMPLATE, "fma", name=f"clt_probe_fma_f32x{width}", width=width,
                             chains=chains)
    out = dev.allocate(items * 4)

    def run() -> None:
        dev.launch(kernel, (items,), None, out, 0.9999, 1e-4, iters)

    seconds = _best_time(dev, run, repeat)
    # grow the work until one launch takes >= 20 ms, so launch overhead does not count
    while seconds < 0.02 and iters < (1 << 22):
        iters *= 4
        seconds = _best_time(dev, run, repeat)
    flops = 2.0 * width * chains * iters * items
    return {"fma_gflops": flops / seconds / 1e9, "fma_vector_width": width}


def check_half(dev: Device) -> tuple[bool, str]:
    """Whether native half arithmetic compiles, runs and gives half-precision results."""
    a = np.array([0.5, -2.0, 3.0, 2048.0 / 1.5 - 0.25 / 1.5], np.float32)
    expect = ((a.astype(np.float16) * np.float16(1.5) + np.float16(0.25))
              + np.float16(1)) + np.float16(1)
    try:
        kernel = dev.kernels.get(TEMPLATE, "half_arith", name="clt_probe_half")
        buf, out = _upload(dev, a), dev.allocate(a.nbytes)
        dev.launch(kernel, (a.size,), None, buf, out, a.size)
        host = np.empty_like(a)
        dev.download(host, out, blocking=True)
    except Exception as exc:   # a refusal to build is the answer, not a failure of the probe
        return False, f"{type(exc).__name__}: {str(exc).splitlines()[0]}"
    if not np.allclose(host, expect.astype(np.float32), rtol=2e-3, atol=2e-3):
        return False, f"wrong results {host.tolist()} (expected {expect.tolist()})"
    return True, "per-operation half rounding" if host[-1] == expect[-1] else "computed in float"


def check_double(dev: Device) -> tuple[bool, str]:
    """Whether double arithmetic compiles, runs and keeps double precision."""
    a = np.array([1.0, 3.0, -7.5, 1e3], np.float64)
    try:
        kernel = dev.kernels.get(TEMPLATE, "double_arith", name="clt_probe_double")
        buf, out = _upload(dev, a), dev.allocate(a.nbytes)
        dev.launch(kernel, (a.size,), None, buf, out, a.size)
        host = np.empty_like(a)
        dev.download(host, out, blocking=True)
    except Exception as exc:
        return False, f"{type(exc).__name__}: {str(exc).splitlines()[0]}"
    expect = (a + 1e-10) - a
    if not np.allclose(host, expect, rtol=1e-6, atol=1e-16):
        return False, f"wrong results {host.tolist()} (expected {expect.tolist()})"
    return True, "ok"


def probe_device(dev: Device, save: bool = True) -> dict[str, Any]:
    """Measure ``dev`` and (by default) cache the result for its device and driver.

    Returns:
        ``copy_gbps``, ``fma_gflops``, ``fma_vector_width``, ``fp16_ok``, ``fp16_note``,
        ``fp64_ok``, ``fp64_note``, ``seconds`` (probe duration) and ``when`` (Unix time).
    """
    start = time.perf_counter()
    result: dict[str, Any] = {"copy_gbps": measure_copy(dev)}
    result.update(measure_fma(dev))
    result["fp16_ok"], result["fp16_note"] = check_half(dev)
    result["fp64_ok"], result["fp64_note"] = check_double(dev)
    result["seconds"] = time.perf_counter() - start
    result["when"] = time.time()
    if save:
        save_probe(dev.info, result)
    return result
