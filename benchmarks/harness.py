"""Timing helpers shared by the benchmark modules.

Every figure is the median of repeated runs after warm-up, with the spread (min/max) and the
device and library versions recorded next to it. Device work is timed by wall clock around a
device synchronisation, so queueing and launch overhead count, as users see them.
"""
from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import time
from typing import Any, Callable

import numpy as np

RESULTS: list[dict[str, Any]] = []


def env_info(device: Any = None) -> dict[str, Any]:
    """Machine, device and library versions to store with every result."""
    import pyopencl as cl

    info = {"python": platform.python_version(), "numpy": np.__version__,
            "pyopencl": cl.VERSION_TEXT, "machine": platform.machine(),
            "cpus": os.cpu_count()}
    if device is not None:
        i = device.info
        info.update(device=i.name, platform=i.platform, driver=i.driver_version,
                    device_id=i.id)
    return info


def measure(fn: Callable[[], Any], sync: Callable[[], Any] | None = None, *,
            warmup: int = 2, repeat: int = 7, min_time: float = 0.0) -> dict[str, float]:
    """Median/min/max seconds of ``fn()`` (followed by ``sync()``), after ``warmup`` calls.

    With ``min_time``, each sample calls ``fn`` in batches until that long has passed and
    syncs once per batch, so tiny ops are timed as an eager loop runs them (enqueue after
    enqueue), not as one host round trip each.
    """
    for _ in range(warmup):
        fn()
    if sync:
        sync()
    samples = []
    for _ in range(repeat):
        n, start, batch = 0, time.perf_counter(), 1
        while True:
            for _ in range(batch):
                fn()
            n += batch
            if sync:
                sync()
            elapsed = time.perf_counter() - start
            if elapsed >= min_time:
                break
            batch = min(batch * 2, 1024)
        samples.append(elapsed / n)
    return {"median": statistics.median(samples), "min": min(samples), "max": max(samples)}


def record(workload: str, impl: str, seconds: dict[str, float], *, unit: str,
           amount: float, limit: float | None = None, extra: dict | None = None,
           env: dict | None = None) -> dict[str, Any]:
    """Store one result: ``amount`` units of work (bytes, FLOPs, samples) in ``seconds``."""
    rate = amount / seconds["median"]
    row = {"workload": workload, "impl": impl, "unit": unit, "rate": rate,
           "seconds": seconds["median"], "spread": [seconds["min"], seconds["max"]]}
    if limit:
        row["fraction_of_limit"] = rate / limit
    if extra:
        row.update(extra)
    if env:
        row["env"] = env
    RESULTS.append(row)
    return row


def human(rate: float, unit: str) -> str:
    scale = {"B/s": (1e9, "GB/s"), "FLOP/s": (1e9, "GFLOP/s"), "samples/s": (1e3, "k samples/s"),
             "s": (1e-6, "us")}
    div, name = scale.get(unit, (1, unit))
    if unit == "s":
        return f"{rate / div:.1f} {name}"
    return f"{rate / div:.1f} {name}"


def print_table(rows: list[dict[str, Any]], file: Any = sys.stdout) -> None:
    """Rows grouped by workload, each impl with its rate and ratio to clt."""
    by_wl: dict[str, list] = {}
    for r in rows:
        by_wl.setdefault(r["workload"], []).append(r)
    for wl, rs in by_wl.items():
        clt_row = next((r for r in rs if r["impl"] == "clt"), None)
        print(f"{wl}", file=file)
        for r in rs:
            ratio = ""
            if clt_row is not None and r is not clt_row and r["rate"]:
                ratio = f"  (clt/{r['impl']} = {clt_row['rate'] / r['rate']:.2f}x)"
            limit = (f"  [{100 * r['fraction_of_limit']:.0f}% of limit]"
                     if "fraction_of_limit" in r else "")
            spread = r.get("spread")
            sp = f" spread {spread[0] * 1e3:.2f}-{spread[1] * 1e3:.2f} ms" if spread else ""
            print(f"  {r['impl']:<22} {human(r['rate'], r['unit']):>16}{limit}{ratio}{sp}",
                  file=file)


def dump_json(rows: list[dict[str, Any]], path: str | None) -> None:
    text = "\n".join(json.dumps(r, default=str) for r in rows)
    if path in (None, "-"):
        print(text)
    else:
        with open(path, "w") as fh:
            fh.write(text + "\n")


def numpy_threads(n: int | None):
    """Context manager limiting OpenBLAS/OpenMP threads (no-op without threadpoolctl)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        import contextlib

        return contextlib.nullcontext()
    return threadpool_limits(n)
