"""Reductions, softmax, scans and sorts: clt.ops.reduce against the copy bandwidth and numpy.

Reductions are memory-bound, so each figure is bytes moved per second (a sum reads 4 B per
float32 element; a softmax reads 4 and writes 4), next to the device's copy bandwidth (read +
write counted) and the same operation in numpy (and PyTorch CPU when installed). Targets: a
16M-element float32 sum at >= 75% of copy bandwidth, a row-wise (4096, 1024) softmax at >= 60%.

Run: ``python -m benchmarks --only reduce`` or ``python -m benchmarks.bench_reduce``.
"""
from __future__ import annotations

import argparse
import sys
from typing import Any, Callable

import numpy as np

from benchmarks.harness import dump_json, env_info, measure, numpy_threads, print_table, record


def copy_bandwidth(device: Any, nbytes: int) -> float:
    """Achieved device copy bandwidth in B/s (read + write counted), by enqueue_copy."""
    import pyopencl as cl

    src, dst = device.allocate(nbytes), device.allocate(nbytes)
    t = measure(lambda: cl.enqueue_copy(device.queue, dst, src, byte_count=nbytes),
                device.synchronize, repeat=7)
    return 2 * nbytes / t["median"]


def _softmax_np(a: np.ndarray) -> np.ndarray:
    e = np.exp(a - a.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


def _cases(quick: bool) -> list[tuple[str, tuple[int, ...], Callable, Callable, Any, int]]:
    """(name, shape, clt op, numpy op, torch op name or None, bytes moved per element)."""
    from clt.ops import reduce as R

    big = (4 << 20,) if quick else (16 << 20,)
    mat = (1024, 1024) if quick else (4096, 1024)
    return [
        ("sum f32", big, lambda x: R.sum(x), lambda a: a.sum(), lambda t: t.sum(), 4),
        ("sum rows f32", mat, lambda x: R.sum(x, 1), lambda a: a.sum(1),
         lambda t: t.sum(1), 4),
        ("sum cols f32", mat, lambda x: R.sum(x, 0), lambda a: a.sum(0),
         lambda t: t.sum(0), 4),
        ("amax rows f32", mat, lambda x: R.amax(x, 1), lambda a: a.max(1),
         lambda t: t.amax(1), 4),
        ("argmax rows f32", mat, lambda x: R.argmax(x, 1), lambda a: a.argmax(1),
         lambda t: t.argmax(1), 4),
        ("var rows f32", mat, lambda x: R.var(x, 1), lambda a: a.var(1, ddof=1),
         lambda t: t.var(1), 8),
        ("softmax rows f32", mat, lambda x: R.softmax(x, 1), _softmax_np,
         lambda t: t.softmax(1), 8),
        ("log_softmax rows f32", mat, lambda x: R.log_softmax(x, 1),
         lambda a: np.log(_softmax_np(a)), lambda t: t.log_softmax(1), 8),
        ("softmax cols f32", mat, lambda x: R.softmax(x, 0), lambda a: _softmax_np(a.T).T,
         lambda t: t.softmax(0), 8),
        ("cumsum rows f32", mat, lambda x: R.cumsum(x, 1), lambda a: a.cumsum(1),
         lambda t: t.cumsum(1), 8),
        ("sort rows f32", mat, lambda x: R.sort(x, 1), lambda a: np.sort(a, 1, kind="stable"),
         lambda t: t.sort(dim=1, stable=True), 16),
        ("topk(5) rows f32", mat, lambda x: R.topk(x, 5, 1),
         lambda a: np.argpartition(-a, 5, 1)[:, :5], lambda t: t.topk(5, 1), 4),
    ]


def run(device: Any, quick: bool = False, env: dict | None = None,
        names: tuple[str, ...] | None = None) -> list[dict]:
    from clt.ops import transfer as T

    rng = np.random.default_rng(0)
    limit = copy_bandwidth(device, 64 << 20)
    rows = [record("copy f32 (device limit), 64 MiB", "clt", {"median": 1.0, "min": 1.0,
                   "max": 1.0}, unit="B/s", amount=limit, env=env)]
    torch = _torch()
    for name, shape, op, np_op, torch_op, per_elem in _cases(quick):
        if names and name not in names:
            continue
        a = rng.standard_normal(shape).astype(np.float32)
        x = T.from_numpy(device, a)
        amount = per_elem * a.size
        workload = f"{name} {'x'.join(map(str, shape))}"
        t = measure(lambda: op(x), device.synchronize, warmup=2, repeat=9)
        rows.append(record(workload, "clt", t, unit="B/s", amount=amount, limit=limit, env=env,
                           extra={"ms": t["median"] * 1e3}))
        best = None
        for threads in (1, 2):
            with numpy_threads(threads):
                tn = measure(lambda: np_op(a), repeat=5)
            if best is None or tn["median"] < best["median"]:
                best = tn
        rows.append(record(workload, "numpy", best, unit="B/s", amount=amount, limit=limit))
        if torch is not None:
            ta = torch.from_numpy(a)
            best = None
            for threads in (1, 2):
                torch.set_num_threads(threads)
                tt = measure(lambda: torch_op(ta), repeat=5)
                if best is None or tt["median"] < best[0]["median"]:
                    best = (tt, threads)
            rows.append(record(workload, f"torch-cpu ({best[1]} thr)", best[0], unit="B/s",
                               amount=amount, limit=limit))
    return rows


def _torch() -> Any:
    try:
        import torch
    except ImportError:
        return None
    return torch


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_reduce",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes")
    parser.add_argument("--only", action="append", help="case names (repeatable)")
    parser.add_argument("--device", default=None)
    parser.add_argument("--json", metavar="PATH", help="write JSON lines here ('-' = stdout)")
    args = parser.parse_args(argv)

    import clt

    device = clt.device(args.device)
    env = env_info(device)
    print(f"device: {env['device']} ({env['platform']})", file=sys.stderr)
    rows = run(device, quick=args.quick, env=env,
               names=tuple(args.only) if args.only else None)
    print_table(rows, file=sys.stderr if args.json == "-" else sys.stdout)
    if args.json:
        dump_json(rows, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
