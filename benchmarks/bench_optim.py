"""Optimizer step throughput: fused kernels against the device's copy bandwidth.

An optimizer step is memory-bound: per float32 element Adam reads p, g, m, v and writes p, m, v,
28 bytes; the ideal step time is bytes / copy bandwidth. Each figure is a whole ``opt.step()``
over a parameter set (default: 10M float32 elements split over 20 tensors) timed by wall clock
around a device synchronisation, so launch and Python overhead count. PyTorch's CPU optimizers
(``foreach`` implementation) on the same machine are measured for comparison when installed.

Run: ``python -m benchmarks --only optim`` or ``python -m benchmarks.bench_optim [--numel N]``.
"""
from __future__ import annotations

import argparse
import sys
import time
from typing import Any

import numpy as np

from benchmarks.harness import dump_json, env_info, measure, print_table, record

# (name, class name, options, bytes moved per element / itemsize, state buffers)
CASES = [
    ("SGD", "SGD", dict(lr=0.01), 3),
    ("SGD momentum", "SGD", dict(lr=0.01, momentum=0.9), 5),
    ("Adam", "Adam", dict(lr=1e-3), 7),
    ("AdamW amsgrad", "AdamW", dict(lr=1e-3, amsgrad=True), 9),
    ("RMSprop centered+momentum", "RMSprop", dict(lr=1e-3, centered=True, momentum=0.9), 9),
    ("Adagrad", "Adagrad", dict(lr=1e-2), 5),
    ("Adadelta", "Adadelta", dict(), 7),
    ("Lion", "Lion", dict(lr=1e-4), 5),
]
QUICK = ("SGD momentum", "Adam")


def copy_bandwidth(device: Any, nbytes: int) -> float:
    """Achieved device copy bandwidth in B/s (read + write counted), by enqueue_copy."""
    import pyopencl as cl

    src, dst = device.allocate(nbytes), device.allocate(nbytes)
    t = measure(lambda: cl.enqueue_copy(device.queue, dst, src, byte_count=nbytes),
                device.synchronize, repeat=7)
    return 2 * nbytes / t["median"]


def _split(numel: int, tensors: int) -> list[int]:
    base = numel // tensors
    return [base + (1 if i < numel % tensors else 0) for i in range(tensors)]


def run(device: Any, quick: bool = False, env: dict | None = None, numel: int | None = None,
        tensors: int = 20, names: tuple[str, ...] | None = None) -> list[dict]:
    import clt
    import clt.nn
    import clt.optim

    numel = numel or (2_000_000 if quick else 10_000_000)
    sizes = _split(numel, tensors)
    label = f"{numel / 1e6:g}M f32 in {tensors} tensors"
    rng = np.random.default_rng(0)
    host = [rng.standard_normal(s).astype(np.float32) for s in sizes]
    grads = [rng.standard_normal(s).astype(np.float32) * 1e-3 for s in sizes]
    limit = copy_bandwidth(device, 4 * numel)
    rows = [record(f"copy f32 (device limit), {label}", "clt",
                   {"median": 1.0, "min": 1.0, "max": 1.0}, unit="B/s", amount=limit, env=env)]
    wanted = names or (QUICK if quick else tuple(c[0] for c in CASES))
    for name, cls_name, opts, per_elem in CASES:
        if name not in wanted:
            continue
        params = [clt.nn.Parameter(clt.tensor(h, device=device)) for h in host]
        for p, g in zip(params, grads):
            p.grad = clt.tensor(g, device=device)
        opt = getattr(clt.optim, cls_name)(params, **opts)
        opt.step()                                   # state creation and kernel build
        amount = per_elem * 4 * numel
        t = measure(opt.step, device.synchronize, warmup=2, repeat=7)
        # host cost alone: enqueueing the launches without waiting for them
        start = time.perf_counter()
        for _ in range(5):
            opt.step()
        enqueue = (time.perf_counter() - start) / 5
        device.synchronize()
        rows.append(record(f"{name} step, {label}", "clt", t, unit="B/s", amount=amount,
                           limit=limit, env=env,
                           extra={"ms_per_step": t["median"] * 1e3,
                                  "enqueue_ms_per_step": enqueue * 1e3,
                                  "launches_per_step": tensors}))
        del params, opt
        rows += _torch_row(cls_name, opts, host, grads, amount, limit, f"{name} step, {label}")
    return rows


def _torch_row(cls_name: str, opts: dict, host: list, grads: list, amount: int, limit: float,
               workload: str) -> list[dict]:
    """PyTorch on the host CPU (foreach), and on CUDA (fused) where a GPU is visible."""
    try:
        import torch
    except ImportError:
        return []
    if not hasattr(torch.optim, cls_name):
        return []
    rows = []
    params = [torch.nn.Parameter(torch.from_numpy(h.copy())) for h in host]
    for p, g in zip(params, grads):
        p.grad = torch.from_numpy(g)
    best = None
    for threads in (1, 2):     # the faster of 1 and 2 threads (OpenMP spin-waits when shared)
        torch.set_num_threads(threads)
        opt = getattr(torch.optim, cls_name)(params, foreach=True, **opts)
        opt.step()
        t = measure(opt.step, repeat=5)
        if best is None or t["median"] < best[0]["median"]:
            best = (t, threads)
    rows.append(record(workload, f"torch-cpu foreach ({best[1]} thr)", best[0], unit="B/s",
                       amount=amount, limit=limit))
    if torch.cuda.is_available():
        params = [torch.nn.Parameter(torch.from_numpy(h).cuda()) for h in host]
        for p, g in zip(params, grads):
            p.grad = torch.from_numpy(g).cuda()
        kind = "fused" if cls_name in ("Adam", "AdamW", "SGD") else "foreach"
        opt = getattr(torch.optim, cls_name)(params, **{kind: True}, **opts)
        opt.step()
        t = measure(opt.step, torch.cuda.synchronize, repeat=7)
        rows.append(record(workload, f"torch-cuda {kind}", t, unit="B/s", amount=amount,
                           limit=limit))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_optim",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--numel", type=int, default=10_000_000)
    parser.add_argument("--tensors", type=int, default=20)
    parser.add_argument("--only", action="append", help="optimizer case names (repeatable)")
    parser.add_argument("--device", default=None)
    parser.add_argument("--json", metavar="PATH", help="write JSON lines here ('-' = stdout)")
    parser.add_argument("--no-torch", action="store_true", help="skip the PyTorch rows")
    args = parser.parse_args(argv)
    if args.no_torch:
        sys.modules["torch"] = None     # makes `import torch` raise ImportError

    import clt

    device = clt.device(args.device)
    env = env_info(device)
    print(f"device: {env['device']} ({env['platform']})", file=sys.stderr)
    rows = run(device, env=env, numel=args.numel, tensors=args.tensors,
               names=tuple(args.only) if args.only else None)
    print_table(rows, file=sys.stderr if args.json == "-" else sys.stdout)
    if args.json:
        dump_json(rows, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
