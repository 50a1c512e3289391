"""Convolution throughput: a CNN training step and conv2d layers, against PyTorch CPU.

* ``cnn train``: one SGD step (forward, backward, update) of conv3x3(1->32) -> ReLU -> max-pool
  -> conv3x3(32->64) -> ReLU -> max-pool -> linear(3136->10) with cross entropy, on 28x28x1
  images in batches of 64, in samples/s. The issue's targets: >= 0.3x PyTorch CPU with 2 threads
  and >= 1.5x tinygrad's OpenCL backend (~545 samples/s measured on this machine kind).
* ``conv ...``: conv2d forward + backward (input and weight gradients) on typical layer shapes,
  in GFLOP/s (2 * N * C_out * H_out * W_out * C_in/groups * kH * kW per pass, 3 passes).

Run alone: ``python -m benchmarks.bench_conv [--quick] [--repeat N]``: one JSON line per
measurement, then a table. Implementations are measured interleaved (a burst of load from other
processes hits all of them alike); figures are medians of ``repeat`` samples after warm-up, with
the best sample next to them. PyTorch runs at 1 and 2 threads when it is installed.

On a shared machine wall-clock figures drop with the load (and PyTorch's OpenMP threads spin
when a core is taken). Each row therefore also carries ``rate_cputime``: the rate computed from
the process's CPU time divided by the threads the implementation uses (the device's compute units
for clt), an estimate of the idle-machine figure for compute-bound work that scales across cores.
"""
from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from typing import Any, Callable

import numpy as np

BATCH = 64
# (name, N, C_in, H, W, C_out, k, stride, padding, groups)
LAYERS = (
    ("conv1 mnist 1->32", 64, 1, 28, 28, 32, 3, 1, 1, 1),
    ("conv2 mnist 32->64", 64, 32, 14, 14, 64, 3, 1, 1, 1),
    ("resnet 64->64 56x56", 16, 64, 56, 56, 64, 3, 1, 1, 1),
    ("resnet 128->128 s2", 16, 128, 28, 28, 128, 3, 2, 1, 1),
    ("pointwise 128->256", 16, 128, 28, 28, 256, 1, 1, 0, 1),
    ("depthwise 128 3x3", 16, 128, 28, 28, 128, 3, 1, 1, 128),
)


def _cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _samples(fn: Callable[[], Any], sync: Callable[[], Any] | None, n: int
             ) -> tuple[float, float]:
    """(wall seconds, process CPU seconds) per call, averaged over ``n`` calls."""
    cpu, start = _cpu_seconds(), time.perf_counter()
    for _ in range(n):
        fn()
    if sync is not None:
        sync()
    return (time.perf_counter() - start) / n, (_cpu_seconds() - cpu) / n


def clt_cnn_step(device: Any) -> Callable[[], Any]:
    """A closure running one training step of the benchmark CNN on ``device``."""
    import clt
    import clt.nn as nn
    import clt.nn.functional as F
    from clt.optim import SGD

    clt.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1, device=device), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1, device=device), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(64 * 7 * 7, 10, device=device))
    opt = SGD(model.parameters(), lr=0.01, momentum=0.9)
    rng = np.random.default_rng(0)
    x = clt.tensor(rng.standard_normal((BATCH, 1, 28, 28)).astype(np.float32), device=device)
    y = clt.tensor(rng.integers(0, 10, BATCH), device=device)

    def step() -> None:
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
    return step


def torch_cnn_step(threads: int) -> Callable[[], Any] | None:
    """The same step in PyTorch on the CPU with ``threads`` threads (None without torch)."""
    try:
        import torch
    except ImportError:
        return None
    torch.manual_seed(0)
    nn = torch.nn
    model = nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Flatten(), nn.Linear(64 * 7 * 7, 10))
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x = torch.randn(BATCH, 1, 28, 28)
    y = torch.randint(0, 10, (BATCH,))

    def step() -> None:
        torch.set_num_threads(threads)
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    return step


def _layer_impls(device: Any, case: tuple) -> tuple[dict, dict, float]:
    import clt
    import clt.nn.functional as F

    _, n, c, h, w, cout, k, s, p, g = case
    rng = np.random.default_rng(0)
    xs = rng.standard_normal((n, c, h, w)).astype(np.float32)
    ws = (rng.standard_normal((cout, c // g, k, k)) * 0.1).astype(np.float32)
    oh, ow = (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1
    flops = 3 * 2.0 * n * cout * oh * ow * (c // g) * k * k
    x = clt.tensor(xs, device=device, requires_grad=True)
    wt = clt.tensor(ws, device=device, requires_grad=True)
    gy = clt.tensor(rng.standard_normal((n, cout, oh, ow)).astype(np.float32), device=device)

    def run_clt() -> None:
        x.grad = wt.grad = None
        F.conv2d(x, wt, None, s, p, 1, g).backward(gy)
    impls: dict[str, Callable[[], Any]] = {"clt": run_clt}
    syncs: dict[str, Any] = {"clt": device.synchronize}
    try:
        import torch
    except ImportError:
        return impls, syncs, flops
    tx = torch.tensor(xs, requires_grad=True)
    tw = torch.tensor(ws, requires_grad=True)
    tg = torch.tensor(np.asarray(gy.numpy()))
    for threads in (1, 2):
        def run_torch(threads: int = threads) -> None:
            torch.set_num_threads(threads)
            tx.grad = tw.grad = None
            torch.nn.functional.conv2d(tx, tw, None, s, p, 1, g).backward(tg)
        impls[f"torch-{threads}t"] = run_torch
        syncs[f"torch-{threads}t"] = None
    return impls, syncs, flops


def _threads(device: Any, impl: str) -> int:
    return int(impl.split("-")[1][:-1]) if impl.startswith("torch") else \
        max(1, device.info.compute_units)


def _interleave(impls: dict, syncs: dict, repeat: int, per_sample: int) -> dict[str, list]:
    for key, fn in impls.items():      # warm-up: kernel builds, first-launch JIT, thread pools
        fn()
        fn()
        if syncs[key]:
            syncs[key]()
    samples: dict[str, list] = {k: [] for k in impls}
    for _ in range(repeat):
        for key, fn in impls.items():
            samples[key].append(_samples(fn, syncs[key], per_sample))
    return samples


def _row(device: Any, workload: str, impl: str, unit: str, amount: float, s: list) -> dict:
    wall = [w for w, _ in s]
    cpu = float(np.median([c for _, c in s])) / _threads(device, impl)
    med, best = float(np.median(wall)), float(min(wall))
    return {"workload": workload, "impl": impl, "unit": unit, "rate": amount / med,
            "rate_best": amount / best, "rate_cputime": amount / cpu if cpu > 0 else None,
            "seconds": med, "spread": [best, max(wall)]}


def measure(device: Any, quick: bool = False, repeat: int = 7,
            env: dict | None = None) -> list[dict[str, Any]]:
    """Every workload; one row per (workload, implementation)."""
    rows: list[dict[str, Any]] = []
    impls: dict[str, Callable[[], Any]] = {"clt": clt_cnn_step(device)}
    syncs: dict[str, Any] = {"clt": device.synchronize}
    for threads in (1, 2):
        step = torch_cnn_step(threads)
        if step is not None:
            impls[f"torch-{threads}t"] = step
            syncs[f"torch-{threads}t"] = None
    samples = _interleave(impls, syncs, repeat, 3 if quick else 5)
    for key, s in samples.items():
        rows.append(_row(device, f"cnn train b{BATCH}", key, "samples/s", BATCH, s))
    for case in LAYERS[:2] if quick else LAYERS:
        impls, syncs, flops = _layer_impls(device, case)
        samples = _interleave(impls, syncs, repeat, 1 if flops > 2e9 else 3)
        for key, s in samples.items():
            rows.append(_row(device, case[0], key, "FLOP/s", flops, s) | {"shape": list(case[1:])})
    if env:
        for r in rows:
            if r["impl"] == "clt":
                r["env"] = env
    return rows


def run(device: Any, quick: bool = False, env: dict | None = None,
        repeat: int | None = None) -> list[dict[str, Any]]:
    """Entry point of ``python -m benchmarks``: adds rows to the shared harness results."""
    from benchmarks import harness

    rows = measure(device, quick, repeat or (5 if quick else 7), env)
    for r in rows:
        harness.RESULTS.append({k: v for k, v in r.items()
                                if k not in ("rate_best", "rate_cputime")})
    return rows


def print_table(rows: list[dict[str, Any]], file: Any = sys.stdout) -> None:
    by: dict[str, dict[str, dict]] = {}
    for r in rows:
        by.setdefault(r["workload"], {})[r["impl"]] = r
    impls = ["clt", "torch-1t", "torch-2t"]
    for key, title in (("rate", "wall clock (medians)"),
                       ("rate_cputime", "from CPU time per thread (idle-machine estimate)")):
        print(f"-- {title}", file=file)
        print(f"{'workload':<24}{'unit':>11}" + "".join(f"{i:>11}" for i in impls)
              + f"{'clt/1t':>8}{'clt/2t':>8}", file=file)
        for wl, d in by.items():
            unit = next(iter(d.values()))["unit"]
            scale = 1e9 if unit == "FLOP/s" else 1.0
            line = f"{wl:<24}{'GFLOP/s' if unit == 'FLOP/s' else unit:>11}"
            line += "".join(f"{d[i][key] / scale:>11.1f}" if i in d and d[i][key] else
                            f"{'-':>11}" for i in impls)
            for i in ("torch-1t", "torch-2t"):
                ok = i in d and d[i][key] and d["clt"][key]
                line += f"{d['clt'][key] / d[i][key]:>8.2f}" if ok else f"{'-':>8}"
            print(line, file=file)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_conv", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="the CNN and its two layers only")
    parser.add_argument("--repeat", type=int, default=7, help="samples per implementation")
    parser.add_argument("--device", default=None, help="clt device selector")
    args = parser.parse_args(argv)

    import clt.backend as B
    from benchmarks.harness import env_info

    device = B.device(args.device)
    env = env_info(device)
    rows = measure(device, args.quick, args.repeat, env)
    for r in rows:
        extra = {"device": env["device"]} if r["impl"] == "clt" else {}
        print(json.dumps({k: v for k, v in r.items() if k != "env"} | extra), flush=True)
    print(f"\ndevice: {env['device']} ({env['platform']}); medians of {args.repeat} interleaved "
          "samples; ratios clt / torch", file=sys.stdout)
    print_table(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
