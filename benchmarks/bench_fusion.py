"""Fused kernels against their unfused equivalents on the MLP and CNN training steps, closely.

The suite's ``fusion.*`` workloads (:mod:`benchmarks.workloads.fusion`) give a quick figure;
this runs the same steps (fused, unfused, and each fused path off alone) in many interleaved
rounds whose order rotates, and reports for each setting the median wall time per step, the
median of its per-round ratio to the fused step (paired, so load that drifts between rounds
cancels), the device (kernel) time per step from :mod:`clt.profiler` and kernels per step.

Run: ``python -m benchmarks.bench_fusion [--rounds 15] [--only mlp cnn] [--no-breakdown]``.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import types
from typing import Any, Callable, Sequence

from benchmarks.workloads.fusion import MLP_SIZES, _data, cnn_model, make_step, mlp_model


def _settings(breakdown: bool) -> dict[str, tuple[bool, tuple[str, ...] | None]]:
    from clt.backend.fusion import PATHS

    out = {"fused": (True, None), "unfused": (False, None)}
    if breakdown:
        out |= {f"no-{p}": (False, (p,)) for p in PATHS}
    return out


def _measure(name: str, steps: dict[str, Callable[[], None]], device: Any, rounds: int,
             calls: int) -> None:
    """Interleaved rounds (the order rotates): wall time of ``calls`` steps then one sync, and
    device time of ``calls`` more under the profiler; prints medians and paired ratios."""
    import clt

    names = list(steps)
    for fn in steps.values():       # kernel builds and first-launch JIT out of the way
        for _ in range(3):
            fn()
    device.synchronize()
    wall: dict[str, list[float]] = {k: [] for k in names}
    dev: dict[str, list[float]] = {k: [] for k in names}
    kernels: dict[str, float] = {}
    for r in range(rounds):
        for k in names[r % len(names):] + names[:r % len(names)]:
            start = time.perf_counter()
            for _ in range(calls):
                steps[k]()
            device.synchronize()
            wall[k].append((time.perf_counter() - start) / calls)
            with clt.profiler.profile(device) as prof:
                for _ in range(calls):
                    steps[k]()
            dev[k].append(prof.device_seconds / calls)
            kernels[k] = sum(s.calls for s in prof.stats.values()) / calls
    print(f"\n{name}: {rounds} rounds x {calls} steps; ratio = setting / fused, paired per round")
    print(f"  {'setting':18s} {'wall ms':>8s} {'ratio':>6s} {'(min..max)':>13s} "
          f"{'device ms':>9s} {'ratio':>6s} {'kernels':>7s}")
    for k in names:
        wr = [a / b for a, b in zip(wall[k], wall["fused"])]
        dr = [a / b for a, b in zip(dev[k], dev["fused"])]
        print(f"  {k:18s} {statistics.median(wall[k]) * 1e3:8.3f} {statistics.median(wr):6.3f} "
              f"({min(wr):5.2f}..{max(wr):5.2f}) {statistics.median(dev[k]) * 1e3:9.3f} "
              f"{statistics.median(dr):6.3f} {kernels[k]:7.0f}")


def main(argv: Sequence[str] | None = None) -> int:
    """Fused against unfused MLP / CNN steps, in many interleaved rounds (see the module doc)."""
    import clt

    p = argparse.ArgumentParser(prog="python -m benchmarks.bench_fusion",
                                description="fused vs unfused training steps, interleaved")
    p.add_argument("--rounds", type=int, default=15, help="interleaved rounds (default 15)")
    p.add_argument("--only", nargs="*", choices=("mlp", "mlp_adam", "cnn"),
                   default=["mlp", "mlp_adam", "cnn"], help="which steps")
    p.add_argument("--no-breakdown", action="store_true", help="skip the one-path-off settings")
    p.add_argument("--device", default=None, help="clt device selector")
    args = p.parse_args(argv)
    device = clt.device(args.device) if args.device else clt.get_default_device()
    ctx: Any = types.SimpleNamespace(device=device)
    print(f"device: {device}; load average at start: {os.getloadavg()}")
    cases = {"mlp": (lambda: mlp_model(ctx), "sgd", (128, MLP_SIZES[0]), 20),
             "mlp_adam": (lambda: mlp_model(ctx), "adam", (128, MLP_SIZES[0]), 20),
             "cnn": (lambda: cnn_model(ctx), "sgd", (64, 1, 28, 28), 3)}
    for key in args.only:
        make, optim, shape, calls = cases[key]
        _, _, cx, cy = _data(ctx, shape)
        steps = {k: make_step(make, optim, cx, cy, on, only)
                 for k, (on, only) in _settings(not args.no_breakdown).items()}
        _measure(f"{key} (batch {shape[0]}, {optim})", steps, device, args.rounds, calls)
    print(f"\nload average at end: {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
