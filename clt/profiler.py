"""Per-kernel device time from OpenCL profiling events.

    with clt.profiler.profile() as prof:
        train_step()
    print(prof.table())
    prof.export_chrome_trace("trace.json")

Events are resolved in batches while recording, so memory stays bounded in long runs: the
aggregates are exact, and the last ``max_events`` events are kept for the trace.
"""
from __future__ import annotations

import collections
import json
import time
from dataclasses import dataclass, field
from typing import Any, Iterable


@dataclass
class KernelStats:
    """Timing totals of one kernel name.

    Attributes:
        name: The kernel name.
        calls: Number of launches.
        total_ns: Total device time, in ns.
        min_ns: Shortest launch, in ns.
        max_ns: Longest launch, in ns.
    """
    name: str
    calls: int = 0
    total_ns: int = 0
    min_ns: int = 1 << 62
    max_ns: int = 0

    @property
    def mean_ns(self) -> float:
        """Mean device time per launch, in ns (0 with no calls)."""
        return self.total_ns / self.calls if self.calls else 0.0


@dataclass
class _Trace:
    name: str
    device: str
    start: int
    end: int


@dataclass
class profile:
    """Context manager recording every kernel launched on ``devices`` (default device).

    Args:
        devices: the devices to record (a Device, a selector, or a list).
        max_events: how many individual events to keep for the Chrome trace.
        flush_every: unresolved events kept before the oldest are resolved (a sync).
    """

    devices: Any = None
    max_events: int = 100_000
    flush_every: int = 4096
    stats: dict[str, KernelStats] = field(default_factory=dict)

    def __post_init__(self) -> None:
        from clt.backend.device import device as select

        devs = self.devices if isinstance(self.devices, (list, tuple)) else [self.devices]
        self._devices = [select(d) for d in devs]
        self._pending: collections.deque = collections.deque()
        self._trace: collections.deque = collections.deque(maxlen=self.max_events)
        self._was_profiling: dict[Any, bool] = {}
        self.wall_s = 0.0
        self.peak_bytes: dict[str, int] = {}

    def __enter__(self) -> "profile":
        for d in self._devices:
            self._was_profiling[d] = d.profiling
            d.set_profiling(True)
            d.memory.reset_peak()
            d.profiler = self
        self._start = time.perf_counter()
        return self

    def __exit__(self, *exc: Any) -> None:
        for d in self._devices:
            d.synchronize()
        self.wall_s = time.perf_counter() - self._start
        self._flush(len(self._pending))
        for d in self._devices:
            d.profiler = None
            self.peak_bytes[d.id] = d.memory.peak_bytes
            d.set_profiling(self._was_profiling[d])

    def record(self, device: Any, name: str, event: Any) -> None:
        """Queue a kernel's event for timing (called by the device on each launch).

        Args:
            device: The device that launched the kernel.
            name: The kernel name.
            event: The OpenCL event of the launch.
        """
        self._pending.append((device.id, name, event))
        if len(self._pending) > self.flush_every:
            self._flush(self.flush_every // 2)

    def _flush(self, n: int) -> None:
        for _ in range(min(n, len(self._pending))):
            dev, name, ev = self._pending.popleft()
            ev.wait()
            start, end = ev.profile.start, ev.profile.end
            s = self.stats.get(name)
            if s is None:
                s = self.stats[name] = KernelStats(name)
            dt = end - start
            s.calls += 1
            s.total_ns += dt
            s.min_ns, s.max_ns = min(s.min_ns, dt), max(s.max_ns, dt)
            self._trace.append(_Trace(name, dev, start, end))

    @property
    def device_seconds(self) -> float:
        """Total device time of every timed kernel, in seconds."""
        return sum(s.total_ns for s in self.stats.values()) * 1e-9

    def key_averages(self) -> list[KernelStats]:
        """The per-kernel statistics, by total device time, largest first.

        Returns:
            A list of :class:`KernelStats`.
        """
        return sorted(self.stats.values(), key=lambda s: s.total_ns, reverse=True)

    def table(self, row_limit: int = 25) -> str:
        """Kernels sorted by total device time, with calls, mean and share of device time.

        Args:
            row_limit: Maximum number of kernel rows.

        Returns:
            The table as text, with totals and memory high-water marks.
        """
        total = max(self.device_seconds, 1e-12)
        rows = [f"{'kernel':<40} {'calls':>7} {'total ms':>10} {'mean us':>10} {'%':>6}"]
        for s in self.key_averages()[:row_limit]:
            rows.append(f"{s.name[:40]:<40} {s.calls:>7} {s.total_ns / 1e6:>10.3f} "
                        f"{s.mean_ns / 1e3:>10.1f} {100 * s.total_ns * 1e-9 / total:>6.1f}")
        host = max(self.wall_s - self.device_seconds, 0.0)
        rows.append(f"device time {self.device_seconds * 1e3:.2f} ms, wall {self.wall_s * 1e3:.2f}"
                    f" ms, host overhead/idle ~{host * 1e3:.2f} ms")
        for dev, peak in self.peak_bytes.items():
            rows.append(f"{dev}: memory high-water {peak / 2**20:.1f} MiB")
        return "\n".join(rows)

    def export_chrome_trace(self, path: str) -> None:
        """Write the kept events as Chrome trace JSON (chrome://tracing, Perfetto).

        Args:
            path: The JSON file to write.
        """
        events = []
        t0 = min((t.start for t in self._trace), default=0)
        for t in self._trace:
            events.append({"name": t.name, "ph": "X", "pid": t.device, "tid": "queue",
                           "ts": (t.start - t0) / 1e3, "dur": (t.end - t.start) / 1e3})
        with open(path, "w") as fh:
            json.dump({"traceEvents": events, "displayTimeUnit": "ms"}, fh)


def profile_devices(devices: Iterable[Any]) -> profile:
    """A :class:`profile` over several devices.

    Args:
        devices: The devices to profile.

    Returns:
        The (not yet entered) profile context manager.
    """
    return profile(list(devices))
