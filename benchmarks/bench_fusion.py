"""Fused kernels against their unfused equivalents on the MLP and CNN training steps, closely.

The suite's ``fusion.*`` workloads (:mod:`benchmarks.workloads.fusion`) give a quick figure;
this runs the same steps (fused, unfused, and each fused path off alone) in many rounds. In a
round every setting is sampled right next to a sample of the fused step, so each ratio compares
steps a fraction of a second apart and load that drifts on a shared machine mostly cancels. For
each setting it prints wall and device (kernel, from :mod:`clt.profiler`) time per step, the
median of the paired ratios and the ratio of the fastest samples, and kernels per step.

Run: ``python -m benchmarks.bench_fusion [--rounds 20] [--only mlp cnn] [--no-breakdown]``.
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


def _sample(step: Callable[[], None], device: Any, calls: int) -> tuple[float, float, float]:
    """Wall seconds per step (``calls`` steps and one sync), then device seconds and kernels
    per step from ``calls`` more steps under the profiler."""
    import clt

    start = time.perf_counter()
    for _ in range(calls):
        step()
    device.synchronize()
    wall = (time.perf_counter() - start) / calls
    with clt.profiler.profile(device) as prof:
        for _ in range(calls):
            step()
    return wall, prof.device_seconds / calls, sum(s.calls for s in prof.stats.values()) / calls


def _measure(name: str, steps: dict[str, Callable[[], None]], device: Any, rounds: int,
             calls: int) -> None:
    """Each round samples every setting right next to a sample of the fused step (which goes
    first alternates), so each ratio compares steps a fraction of a second apart; prints the
    median of those paired ratios and the ratio of the fastest samples (load only adds time)."""
    others = [k for k in steps if k != "fused"]
    for fn in steps.values():       # kernel builds and first-launch JIT out of the way
        for _ in range(3):
            fn()
    device.synchronize()
    got: dict[str, list[tuple[float, float, float]]] = {k: [] for k in steps}
    pairs: dict[str, list[tuple[float, float]]] = {k: [] for k in others}
    for r in range(rounds):
        for k in others:
            order = ("fused", k) if r % 2 == 0 else (k, "fused")
            s = {o: _sample(steps[o], device, calls) for o in order}
            got["fused"].append(s["fused"])
            got[k].append(s[k])
            pairs[k].append((s[k][0] / s["fused"][0], s[k][1] / s["fused"][1]))
    print(f"\n{name}: {rounds} rounds x {calls} steps per sample; ratios are setting / fused "
          "(> 1: fusion saves time)")
    print(f"  {'setting':17s} {'wall ms':>8s} {'min ms':>7s} {'paired':>6s} {'spread':>11s} "
          f"{'of mins':>7s} {'dev ms':>7s} {'dev min':>7s} {'paired':>6s} {'of mins':>7s} "
          f"{'kernels':>7s}")
    fw, fd = min(x[0] for x in got["fused"]), min(x[1] for x in got["fused"])
    for k in steps:
        w = [x[0] for x in got[k]]
        d = [x[1] for x in got[k]]
        pw = [p[0] for p in pairs.get(k, [(1.0, 1.0)])]
        pd = [p[1] for p in pairs.get(k, [(1.0, 1.0)])]
        print(f"  {k:17s} {statistics.median(w) * 1e3:8.3f} {min(w) * 1e3:7.3f} "
              f"{statistics.median(pw):6.3f} {min(pw):5.2f}..{max(pw):<5.2f} {min(w) / fw:7.3f} "
              f"{statistics.median(d) * 1e3:7.3f} {min(d) * 1e3:7.3f} {statistics.median(pd):6.3f} "
              f"{min(d) / fd:7.3f} {got[k][-1][2]:7.0f}")


def main(argv: Sequence[str] | None = None) -> int:
    """Fused against unfused MLP / CNN steps, in many interleaved rounds (see the module doc)."""
    import clt

    p = argparse.ArgumentParser(prog="python -m benchmarks.bench_fusion",
                                description="fused vs unfused training steps, interleaved")
    p.add_argument("--rounds", type=int, default=20, help="interleaved rounds (default 20)")
    p.add_argument("--only", nargs="*", choices=("mlp", "mlp_adam", "cnn"),
                   default=["mlp", "mlp_adam", "cnn"], help="which steps")
    p.add_argument("--no-breakdown", action="store_true", help="skip the one-path-off settings")
    p.add_argument("--device", default=None, help="clt device selector")
    args = p.parse_args(argv)
    device = clt.device(args.device) if args.device else clt.get_default_device()
    ctx: Any = types.SimpleNamespace(device=device)
    print(f"device: {device}; load average at start: {os.getloadavg()}")
    # (model, optimizer, input shape, steps per sample: short samples keep pairs close in time)
    cases = {"mlp": (lambda: mlp_model(ctx), "sgd", (128, MLP_SIZES[0]), 5),
             "mlp_adam": (lambda: mlp_model(ctx), "adam", (128, MLP_SIZES[0]), 5),
             "cnn": (lambda: cnn_model(ctx), "sgd", (64, 1, 28, 28), 1)}
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
