"""GEMM throughput: clt's matmul ops against numpy (OpenBLAS) at 1 and 2 threads.

Square SGEMM at 256..2048 plus the products one training step of a 784-512-256-10 MLP with
batch 128 runs (forward ``x @ W.T``, backward ``grad.T @ x`` and ``grad @ W``), each in the
layout the training step uses (transposed views read in place).

Run alone: ``python -m benchmarks.bench_gemm [--quick] [--repeat N]``: one JSON line per
measurement on stdout, then a table of GFLOP/s. clt and numpy are measured interleaved, size by
size, so that load from other processes hits both alike; each figure is the median of
``repeat`` samples after warm-up, with the best sample next to it.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from typing import Any, Callable

import numpy as np

SQUARE = (256, 512, 1024, 2048)
# (name, M, K, N, a transposed?, b transposed?) for one MLP 784-512-256-10 step at batch 128
MLP = (
    ("fc1 fwd x@W1.T", 128, 784, 512, False, True),
    ("fc1 bwd g.T@x", 512, 128, 784, True, False),
    ("fc1 bwd g@W1", 128, 512, 784, False, False),
    ("fc2 fwd h@W2.T", 128, 512, 256, False, True),
    ("fc2 bwd g.T@h", 256, 128, 512, True, False),
    ("fc2 bwd g@W2", 128, 256, 512, False, False),
    ("fc3 fwd h@W3.T", 128, 256, 10, False, True),
    ("fc3 bwd g.T@h", 10, 128, 256, True, False),
    ("fc3 bwd g@W3", 128, 10, 256, False, False),
)


def _time(fn: Callable[[], Any], sync: Callable[[], Any] | None, repeat: int,
          min_time: float) -> list[tuple[float, float]]:
    """``repeat`` samples of (wall seconds, process CPU seconds) per call.

    Each sample loops until ``min_time`` passed. The CPU time counts every thread of this
    process (PoCL's workers, OpenBLAS's threads), so work per CPU-second stays meaningful when
    other processes compete for the cores and wall-clock rates do not.
    """
    samples = []
    for _ in range(repeat):
        n, start, cpu0 = 0, time.perf_counter(), time.process_time()
        while True:
            fn()
            n += 1
            if sync is not None:
                sync()
            elapsed = time.perf_counter() - start
            if elapsed >= min_time:
                break
        samples.append((elapsed / n, (time.process_time() - cpu0) / n))
    return samples


def _operands(rng: np.random.Generator, m: int, k: int, n: int, ta: bool, tb: bool, dtype: Any
              ) -> tuple[np.ndarray, np.ndarray]:
    a = rng.standard_normal((k, m) if ta else (m, k)).astype(dtype)
    b = rng.standard_normal((n, k) if tb else (k, n)).astype(dtype)
    return (a.T if ta else a), (b.T if tb else b)


def measure_case(device: Any, name: str, m: int, k: int, n: int, ta: bool, tb: bool,
                 repeat: int, threads: tuple[int, ...], dtype: Any = np.float32,
                 env: dict | None = None) -> list[dict[str, Any]]:
    """clt and numpy (per thread count) on one product; returns result rows."""
    from clt.ops import matmul as mm
    from clt.ops.transfer import from_numpy

    try:
        from threadpoolctl import threadpool_limits
    except ImportError:       # numpy at its default thread count only
        threadpool_limits = None
        threads = (0,)
    rng = np.random.default_rng(0)
    a, b = _operands(rng, m, k, n, ta, tb, dtype)
    da = from_numpy(device, np.ascontiguousarray(a.T) if ta else a)
    db = from_numpy(device, np.ascontiguousarray(b.T) if tb else b)
    if ta:
        da = mm.transpose_last(da)
    if tb:
        db = mm.transpose_last(db)
    out = mm.gemm(da, db)
    ref = a @ b
    host = np.empty_like(ref)
    from clt.ops.transfer import to_numpy
    err = float(np.abs(to_numpy(out) - ref).max() / max(1.0, float(np.abs(ref).max())))
    flops = 2.0 * m * n * k
    min_time = 0.02 if flops < 5e8 else 0.0
    impls: dict[str, Callable[[], Any]] = {"clt": lambda: mm.gemm(da, db, out=out)}
    syncs: dict[str, Any] = {"clt": device.synchronize}
    nthreads: dict[str, int] = {"clt": 0}
    for t in threads:
        key = f"numpy-{t}t" if t else "numpy"
        impls[key] = lambda: np.matmul(a, b, out=host)
        syncs[key], nthreads[key] = None, t
    for key, fn in impls.items():   # warm-up (kernel builds, first-launch JIT, thread pools)
        with _limit(threadpool_limits, nthreads[key]):
            fn()
            fn()
    device.synchronize()
    samples: dict[str, list[tuple[float, float]]] = {k2: [] for k2 in impls}
    for _ in range(repeat):       # interleaved: a burst of load hits every implementation
        for key, fn in impls.items():
            with _limit(threadpool_limits, nthreads[key]):
                samples[key] += _time(fn, syncs[key], 1, min_time)
    rows = []
    for key, smp in samples.items():
        s = [w for w, _ in smp]
        med, best = float(np.median(s)), float(min(s))
        cpu = float(np.median([c for _, c in smp]))
        row = {"workload": name, "shape": [m, k, n], "transposed": [ta, tb],
               "dtype": np.dtype(dtype).name, "impl": key, "gflops": flops / med / 1e9,
               "gflops_best": flops / best / 1e9, "gflops_per_cpu_s": flops / max(cpu, 1e-9) / 1e9,
               "cpu_per_wall": cpu / med, "seconds": med, "spread": [best, max(s)]}
        if key == "clt":
            row["max_rel_err"] = err
            if env:
                row["env"] = env
        rows.append(row)
    return rows


def _limit(limits: Any, threads: int) -> Any:
    """BLAS thread limit for a block (a no-op for clt or without threadpoolctl)."""
    if limits is None or not threads:
        return contextlib.nullcontext()
    return limits(limits=threads, user_api="blas")


def cases(quick: bool = False) -> list[tuple]:
    square = SQUARE[:2] if quick else SQUARE
    return ([(f"sgemm {n}", n, n, n, False, False) for n in square] + list(MLP))


def run(device: Any, quick: bool = False, env: dict | None = None,
        repeat: int | None = None) -> list[dict[str, Any]]:
    """Entry point of ``python -m benchmarks``: adds rows to the shared harness results."""
    from benchmarks import harness

    rows = []
    for case in cases(quick):
        for r in measure_case(device, *case, repeat=repeat or (5 if quick else 9),
                              threads=(1, 2), env=env):
            rows.append(r)
            harness.RESULTS.append({
                "workload": r["workload"], "impl": r["impl"], "unit": "FLOP/s",
                "rate": r["gflops"] * 1e9, "seconds": r["seconds"], "spread": r["spread"]})
    return rows


def print_table(rows: list[dict[str, Any]], file: Any = sys.stdout) -> None:
    """GFLOP/s per workload: clt, numpy at each thread count, clt / best numpy."""
    by: dict[str, dict[str, dict]] = {}
    for r in rows:
        by.setdefault(r["workload"], {})[r["impl"]] = r
    impls = [i for i in ("clt", "numpy-1t", "numpy-2t", "numpy")
             if any(i in v for v in by.values())]
    head = f"{'workload':<18}{'M x K x N':>16}" + "".join(f"{i:>10}" for i in impls)
    print(head + f"{'clt/best':>9}{'best-of':>8}{'clt/cpu-s':>11}{'np1/cpu-s':>11}"
          f"{'cpu/wall':>9}", file=file)
    for wl, d in by.items():
        m, k, n = next(iter(d.values()))["shape"]
        line = f"{wl:<18}{f'{m}x{k}x{n}':>16}"
        line += "".join(f"{d[i]['gflops']:>10.1f}" if i in d else f"{'-':>10}" for i in impls)
        np_rows = [v for key, v in d.items() if key.startswith("numpy")]
        if "clt" in d and np_rows:
            ratio = d["clt"]["gflops"] / max(v["gflops"] for v in np_rows)
            ratio_best = d["clt"]["gflops_best"] / max(v["gflops_best"] for v in np_rows)
            line += f"{ratio:>9.2f}{ratio_best:>8.2f}"
            np1 = d.get("numpy-1t", np_rows[0])
            line += (f"{d['clt']['gflops_per_cpu_s']:>11.1f}{np1['gflops_per_cpu_s']:>11.1f}"
                     f"{d['clt']['cpu_per_wall']:>9.2f}")
        print(line, file=file)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_gemm", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="n <= 512 and the MLP shapes")
    parser.add_argument("--repeat", type=int, default=9, help="samples per implementation")
    parser.add_argument("--device", default=None, help="clt device selector")
    parser.add_argument("--only", default=None, help="substring of the workloads to run")
    args = parser.parse_args(argv)

    import clt.backend as B
    from benchmarks.harness import env_info

    device = B.device(args.device)
    env = env_info(device)
    rows = []
    for case in cases(args.quick):
        if args.only and args.only not in case[0]:
            continue
        for r in measure_case(device, *case, repeat=args.repeat, threads=(1, 2), env=env):
            rows.append(r)
            print(json.dumps({k: v for k, v in r.items() if k != "env"} |
                             ({"device": env["device"]} if r["impl"] == "clt" else {})),
                  flush=True)
    print(f"\ndevice: {env['device']} ({env['platform']}); GFLOP/s, median of {args.repeat} "
          "interleaved samples; best-of: ratio of the best samples; */cpu-s: GFLOP per "
          "CPU-second of the process (robust to other load); cpu/wall: clt's cores in use",
          file=sys.stdout)
    print_table(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
