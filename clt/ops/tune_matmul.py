"""The GEMM auto-tuner: search ``matmul.cl.mako``'s tile sizes and blocking on one device.

Run through :func:`clt.backend.tuning.tune_gemm` or ``clt-devices --tune``. Candidates are
applied with :func:`clt.backend.tuning.override`, so they go through the same plans and kernels
as ordinary calls; each is checked against numpy on awkward shapes before it is timed, and one
that fails to build, run or match is skipped. The search is greedy, one axis at a time (the
register tile first: every tile is a kernel build plus a first-launch JIT, ~1-2 s on PoCL; then
the blocking choices, which need no rebuild), within a time budget.
"""
from __future__ import annotations

import math
import statistics
import time
from typing import Any, Callable, Sequence

import numpy as np

from clt.backend import tuning
from clt.backend.device import Device
from clt.ops import matmul as mm
from clt.ops.array import Array
from clt.ops.transfer import from_numpy, to_numpy

# (M, K, N, a transposed, b transposed): squares plus the products of an MLP training step
CPU_SIZES = ((256, 256, 256, False, False), (512, 512, 512, False, False),
             (1024, 1024, 1024, False, False), (128, 784, 512, False, True),
             (512, 128, 784, True, False))
GPU_SIZES = ((512, 512, 512, False, False), (1024, 1024, 1024, False, False),
             (2048, 2048, 2048, False, False), (4096, 4096, 4096, False, False),
             (128, 784, 512, False, True))
CHECKS = ((37, 29, 45, False, False), (70, 130, 33, False, True), (9, 300, 130, True, False))


def default_space(device: Device) -> list[tuple[str, list[Any]]]:
    """The axes searched on ``device``, most promising values first."""
    if device.caps.style == "gpu":
        info = device.info

        def fits(t: dict[str, int]) -> bool:
            threads = (t["tn"] // t["wn"]) * (t["tm"] // t["wm"])
            local = 4 * t["tk"] * (t["tm"] + t["tn"] + 2)
            return threads <= info.max_work_group_size and local <= info.local_mem_bytes

        default = [dict(tm=64, tn=64, tk=16, wm=4, wn=4), dict(tm=64, tn=64, tk=8, wm=4, wn=4),
                   dict(tm=32, tn=32, tk=16, wm=2, wn=2), dict(tm=64, tn=64, tk=32, wm=4, wn=4),
                   dict(tm=128, tn=64, tk=16, wm=8, wn=4), dict(tm=64, tn=128, tk=16, wm=4, wn=8)]
        large = [dict(tm=128, tn=128, tk=16, wm=8, wn=8), dict(tm=128, tn=128, tk=8, wm=8, wn=8),
                 dict(tm=128, tn=64, tk=16, wm=8, wn=4), dict(tm=128, tn=128, tk=32, wm=8, wn=8)]
        return [("gpu_tiles.default", [t for t in default if fits(t)]),
                ("gpu_tiles.large", [t for t in large if fits(t)])]
    # AVX2 has 16 vector registers: mr * nv accumulators + nv B vectors + 1 broadcast <= 16;
    # 16-wide tiles fit AVX-512's 32 registers (a CPU driver may target either)
    tiles = [dict(mr=6, nv=2, vw=8), dict(mr=4, nv=3, vw=8), dict(mr=8, nv=1, vw=8),
             dict(mr=12, nv=1, vw=8), dict(mr=4, nv=2, vw=8), dict(mr=3, nv=4, vw=8),
             dict(mr=6, nv=1, vw=16), dict(mr=8, nv=1, vw=16), dict(mr=12, nv=1, vw=16),
             dict(mr=8, nv=2, vw=16), dict(mr=12, nv=2, vw=16)]
    return [("cpu_tiles.float32", tiles),
            ("cpu_blocking.max_tiles", [4, 16, 2]),
            ("cpu_blocking.items_per_cu", [4, 16]),
            ("cpu_blocking.a_block_bytes", [192 << 10, 768 << 10]),
            ("cpu_blocking.pack_a_min", [1 << 18, 1 << 23]),
            ("cpu_blocking.pack_b_min", [1 << 14, 1 << 18])]


def _defaults(device: Device) -> dict[str, Any]:
    cpu, gpu, blk = mm._settings(0)
    if device.caps.style == "gpu":
        return {"gpu_tiles": {k: gpu[k] for k in ("default", "large")}}
    return {"cpu_tiles": {"float32": cpu["float32"]}, "cpu_blocking": blk}


def _operands(device: Device, case: Sequence[Any], rng: np.random.Generator
              ) -> tuple[np.ndarray, np.ndarray, Array, Array]:
    m, k, n = case[:3]
    ta, tb = (case[3], case[4]) if len(case) == 5 else (False, False)
    a = rng.standard_normal((k, m) if ta else (m, k)).astype(np.float32)
    b = rng.standard_normal((n, k) if tb else (k, n)).astype(np.float32)
    da, db = from_numpy(device, a), from_numpy(device, b)
    if ta:
        a, da = a.T, mm.transpose_last(da)
    if tb:
        b, db = b.T, mm.transpose_last(db)
    return a, b, da, db


def _check(device: Device) -> None:
    """Raise if the parameters in force give wrong products on awkward shapes."""
    rng = np.random.default_rng(1)
    for case in CHECKS:
        a, b, da, db = _operands(device, case, rng)
        got = to_numpy(mm.gemm(da, db))
        want = a @ b
        err = float(np.abs(got - want).max() / max(1.0, float(np.abs(want).max())))
        if not err < 1e-4:
            raise ValueError(f"wrong result for {case[:3]} (relative error {err:.2g})")


def _timer(device: Device, sizes: Sequence[Sequence[Any]], repeat: int, min_time: float
           ) -> Callable[[], float]:
    rng = np.random.default_rng(0)
    problems = []
    for case in sizes:
        _, _, da, db = _operands(device, case, rng)
        out = Array.empty(device, (da.shape[0], db.shape[1]), da.dtype)
        problems.append((2.0 * case[0] * case[1] * case[2], da, db, out))

    def score() -> float:
        """Geometric mean over the problems of the best sample's GFLOP/s."""
        logs = []
        for flops, da, db, out in problems:
            mm.gemm(da, db, out=out)       # plan, build and first-launch JIT outside the timing
            device.synchronize()
            best = math.inf
            for _ in range(repeat):
                n, start = 0, time.perf_counter()
                while True:
                    mm.gemm(da, db, out=out)
                    n += 1
                    device.synchronize()
                    elapsed = time.perf_counter() - start
                    if elapsed >= min_time:
                        break
                best = min(best, elapsed / n)
            logs.append(math.log(flops / best / 1e9))
        return math.exp(sum(logs) / len(logs))
    return score


def _diff(params: dict[str, Any], base: dict[str, Any]) -> dict[str, Any]:
    """What ``params`` changes from ``base``: whole tiles, single blocking values."""
    out: dict[str, Any] = {}
    for section, values in params.items():
        for key, value in values.items():
            if base.get(section, {}).get(key) != value:
                out.setdefault(section, {})[key] = value
    return out


def tune_gemm(device: Device, sizes: Sequence[Sequence[Any]] | None = None,
              budget_s: float = 90.0, space: Sequence[tuple[str, list[Any]]] | None = None,
              save: bool = True, progress: Callable[[str], None] | None = None,
              repeat: int = 3, min_time: float | None = None, min_gain: float = 0.03,
              confirm: int = 3) -> dict[str, Any]:
    """Search float32 GEMM parameters on ``device``; see :func:`clt.backend.tuning.tune_gemm`.

    Args:
        repeat: timed samples per problem (the best counts).
        min_time: seconds each sample loops for (default 20 ms on CPUs, 5 ms on GPUs).
        min_gain: the winner is stored only if it beats the defaults by this fraction; else
            the entry records that the defaults are best.
        confirm: rounds of re-measuring the winner against the defaults (medians decide).
    """
    if budget_s <= 0:
        raise tuning.TuningError(f"budget_s must be positive, got {budget_s}")
    gpu = device.caps.style == "gpu"
    sizes = list(sizes or (GPU_SIZES if gpu else CPU_SIZES))
    for case in sizes:
        if len(case) not in (3, 5) or any(int(x) <= 0 for x in case[:3]):
            raise tuning.TuningError(f"sizes must be (M, K, N) or (M, K, N, ta, tb) with "
                                     f"positive M, K, N; got {case!r}")
    axes = list(space if space is not None else default_space(device))
    start = time.perf_counter()
    base = _defaults(device)
    score = _timer(device, sizes, repeat, min_time or (0.005 if gpu else 0.02))
    info = device.info

    def evaluate(params: dict[str, Any]) -> float:
        with tuning.override(info, "gemm", _diff(params, base)):
            _check(device)
            return score()

    if progress:
        progress(f"tuning GEMM on {device} over {len(sizes)} problems, budget {budget_s:.0f} s")
    best, best_score, trials = tuning.coordinate_search(base, axes, evaluate, budget_s,
                                                        progress)
    default_score = trials[0]["score"]
    if best != base and confirm > 0:
        # a search keeps whichever candidate had a lucky sample: measure the winner and the
        # defaults again, alternately, and keep the winner only if it holds up
        pairs = [(evaluate(base), evaluate(best)) for _ in range(confirm)]
        default_score = statistics.median(p[0] for p in pairs)
        best_score = statistics.median(p[1] for p in pairs)
        if progress:
            progress(f"  confirmed: defaults {default_score:.1f}, best {best_score:.1f}")
    chosen = _diff(best, base) if best_score >= default_score * (1 + min_gain) else {}
    result = {"device": info.name, "driver": info.driver_version, "style": device.caps.style,
              "sizes": [list(c) for c in sizes], "default_score": default_score,
              "best_score": best_score if chosen else default_score,
              "speedup": (best_score / default_score) if chosen else 1.0,
              "best": chosen, "trials": trials, "seconds": time.perf_counter() - start,
              "saved": None}
    if save:
        meta = {k: result[k] for k in ("default_score", "best_score", "speedup", "sizes",
                                       "seconds")}
        meta["unit"] = "GFLOP/s (geometric mean)"
        result["saved"] = str(tuning.save_entry(info, "gemm", chosen, meta))
    return result
