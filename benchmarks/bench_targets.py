"""The tensor issue's memory-bound targets in one quick run, as fractions of the copy bandwidth
measured in the same run: ``a + b`` and a fused 3-input op on 16M float32 (>= 85%), a full sum
over 16M float32 (>= 75%), a row-wise softmax over (4096, 1024) (>= 60%), plus the dispatch
cost of a small op (<= 20 us). Wall time around a device sync, median of repeats.

    python -m benchmarks.bench_targets
"""
from __future__ import annotations

import statistics
import time

import pyopencl as cl

import clt


def _wall(dev, fn, reps: int = 15) -> float:
    fn()
    dev.synchronize()
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        dev.synchronize()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    dev = clt.get_default_device()
    n = 16 * 1024 * 1024
    a, b, c = (clt.rand(n, device=dev) for _ in range(3))
    m = clt.rand(4096, 1024, device=dev)
    src, dst = dev.allocate(4 * n), dev.allocate(4 * n)
    copy = 8 * n / _wall(dev, lambda: cl.enqueue_copy(dev.queue, dst, src, byte_count=4 * n))
    rows = [("a + b 16M", 12 * n, lambda: a + b, 0.85),
            ("a + 0.5*b*c 16M", 16 * n, lambda: clt.addcmul(a, b, c, value=0.5), 0.85),
            ("sum 16M", 4 * n, lambda: a.sum(), 0.75),
            ("softmax (4096, 1024)", 8 * 4096 * 1024, lambda: m.softmax(1), 0.60)]
    print(f"device {dev}; copy bandwidth {copy / 1e9:.1f} GB/s")
    for name, nbytes, fn, target in rows:
        rate = nbytes / _wall(dev, fn)
        frac = rate / copy
        print(f"{name:<22} {rate / 1e9:6.1f} GB/s  {frac:5.0%} of copy  "
              f"(target {target:.0%}: {'met' if frac >= target else 'MISSED'})")
    s1, s2 = clt.ones(16, device=dev), clt.ones(16, device=dev)
    for _ in range(200):
        s1 + s2
    dev.synchronize()
    t = time.perf_counter()
    for _ in range(5000):
        s1 + s2
    dev.synchronize()
    us = (time.perf_counter() - t) / 5000 * 1e6
    print(f"{'dispatch a + b (16)':<22} {us:6.1f} us/op (target 20 us: "
          f"{'met' if us <= 20 else 'MISSED'})")


if __name__ == "__main__":
    main()
