"""clt's benchmark suite: ``clt-bench`` / ``python -m benchmarks``.

Measures clt against numpy, PyTorch CPU, pyopencl.array, CLBlast and tinygrad's OpenCL backend
(each where installed) on the same machine and in the same run, and every result against the
device's limits (copy bandwidth and peak FP32 FLOP/s, measured at the start and end of the
run).

    clt-bench --quick                      # about a minute: the core workloads
    clt-bench --json results.json --plot charts/ --md results.md
    clt-bench --compare old.json new.json  # regressions between two runs
    clt-bench --list                       # the workloads

Modes: ``--smoke`` (tiny sizes, every workload, seconds: for tests), ``--quick`` (the core
workloads at moderate sizes) and the default full run (every workload and peer, <= 15 min on a
2-core CPU). Figures are medians of repeated, interleaved samples after warm-up, with the spread
(min..max), device time from OpenCL profiling events, and the device, driver and library
versions recorded in the JSON.
"""
from __future__ import annotations

import argparse
import datetime
import fnmatch
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Sequence

from benchmarks.peers import FAMILIES, prepare_environment

ROOT = Path(__file__).resolve().parent.parent
# tinygrad and CLBlast compile for minutes on cold caches: full runs only, unless asked for
DEFAULT_PEERS = {"smoke": ("numpy", "torch", "pyopencl"), "quick": ("numpy", "torch", "pyopencl"),
                 "full": FAMILIES}
SCHEMA = 1
MODES = {  # repeat, min seconds per sample
    "smoke": (2, 0.002),
    "quick": (4, 0.03),
    "full": (7, 0.1),
}


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="clt-bench", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="core workloads, about a minute")
    mode.add_argument("--smoke", action="store_true",
                      help="tiny sizes, every workload, a few seconds (checks the suite)")
    p.add_argument("--json", metavar="PATH", help="write the results document ('-': stdout)")
    p.add_argument("--md", metavar="PATH", help="write a Markdown summary table")
    p.add_argument("--plot", metavar="DIR", help="write PNG charts (vs peers, roofline)")
    p.add_argument("--compare", nargs=2, metavar=("OLD", "NEW"),
                   help="compare two results files and exit (status 1 on clt regressions)")
    p.add_argument("--threshold", type=float, default=0.10,
                   help="--compare: relative slowdown counted as a regression (default 0.10)")
    p.add_argument("--only", action="append", metavar="PATTERN",
                   help="workloads to run: key, prefix or glob (e.g. gemm, 'train.*')")
    p.add_argument("--skip", action="append", metavar="PATTERN", help="workloads to leave out")
    p.add_argument("--peers", default=None,
                   help=f"peer libraries to measure, comma-separated (default: "
                        f"{','.join(FAMILIES)}; with --quick or --smoke: "
                        f"{','.join(DEFAULT_PEERS['quick'])}; '' = none)")
    p.add_argument("--device", default=None, help="clt device selector (default: clt's)")
    p.add_argument("--repeat", type=int, help="samples per implementation")
    p.add_argument("--min-time", type=float, help="seconds per sample (tiny ops loop)")
    p.add_argument("--list", action="store_true", help="list the workloads and exit")
    return p


def ctx_budget(mode: str) -> float:
    """Seconds of sampling per workload before its number of rounds is cut (minimum 3)."""
    return {"smoke": 2.0, "quick": 6.0, "full": 15.0}[mode]


def _match(key: str, patterns: Sequence[str] | None) -> bool:
    return any(key == p or key.startswith(p.rstrip(".") + ".") or fnmatch.fnmatch(key, p)
               for p in patterns or ())


def select(workloads: list, mode: str, only: Sequence[str] | None,
           skip: Sequence[str] | None) -> list:
    out = []
    for wl in workloads:
        if only:
            if not _match(wl.key, only):
                continue
        elif mode == "quick" and not wl.quick:
            continue
        if _match(wl.key, skip):
            continue
        out.append(wl)
    return out


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _loadavg() -> str | None:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return None


def _git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "-C", str(ROOT), "describe", "--always", "--dirty"],
                             capture_output=True, text=True, timeout=10)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def environment(device: Any) -> dict[str, Any]:
    import numpy as np
    import pyopencl as cl

    import clt

    i = device.info
    env = {"device": i.name, "platform": i.platform, "driver": i.driver_version,
           "device_id": i.id, "device_type": i.type, "compute_units": i.compute_units,
           "kernel_style": device.caps.style, "cpu_model": _cpu_model(),
           "cpus": os.cpu_count(), "machine": platform.machine(),
           "loadavg_start": _loadavg(), "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
           "versions": {"python": platform.python_version(), "numpy": np.__version__,
                        "pyopencl": cl.VERSION_TEXT, "clt": clt.__version__}}
    commit = _git_commit()
    if commit:
        env["versions"]["clt"] += f" ({commit})"
    try:
        import threadpoolctl

        env["versions"]["threadpoolctl"] = threadpoolctl.__version__
    except ImportError:
        pass
    return env


def measure_limits(device: Any, mode: str) -> dict[str, Any]:
    """Copy bandwidth and peak FP32 FLOP/s of ``device``, measured now with clt's probe."""
    from clt.backend.capabilities import load_probe
    from clt.backend.probe import measure_copy, measure_fma

    # best of several tries: the limit is what the hardware can do, so a burst of load from
    # another process during one try must not lower it
    nbytes = (4 << 20) if mode == "smoke" else None
    copy = measure_copy(device, nbytes, repeat=3 if mode == "smoke" else 9)
    fma = measure_fma(device, repeat=2 if mode == "smoke" else 7)
    out = {"copy_Bps": copy * 1e9, "peak_flops": fma["fma_gflops"] * 1e9,
           "source": "measured in this run (clt.backend.probe: copy kernel, FMA chains)"}
    cached = load_probe(device.info)
    if cached:
        out["probe_cached"] = {k: cached.get(k) for k in ("copy_gbps", "fma_gflops", "when")}
    return out


def _settle_limits(limits: dict[str, Any], end: dict[str, Any],
                   results: list[dict[str, Any]]) -> None:
    """Keep the higher of the start and end measurements (load only ever lowers them)."""
    for key in ("copy_Bps", "peak_flops"):
        limits[f"{key}_start"], limits[f"{key}_end"] = limits[key], end[key]
        new = max(limits[key], end[key])
        for r in results:
            if "fraction_of_limit" in r:
                kind = "copy_Bps" if r["limit_kind"] == "copy bandwidth" else "peak_flops"
                if kind == key:
                    r["fraction_of_limit"] *= limits[key] / new
        limits[key] = new
    over = sorted({r["workload"] for r in results if r.get("fraction_of_limit", 0) > 1.05})
    if over:
        limits["note"] = ("some implementations exceed the measured limits (" + ", ".join(over)
                          + "): the machine was busy while they were measured, so the limits "
                          "are underestimates")


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Run the selected workloads; returns the results document."""
    prepare_environment()
    import clt
    from benchmarks.core import Context, run_workload
    from benchmarks.peers import Peers
    from benchmarks.workloads import WORKLOADS

    mode = "smoke" if args.smoke else "quick" if args.quick else "full"
    repeat, min_time = MODES[mode]
    device = clt.device(args.device)
    started = time.perf_counter()
    env = environment(device)
    print(f"clt-bench {mode}: {env['device']} ({env['platform']}, driver {env['driver']}), "
          f"load average {env['loadavg_start']}", file=sys.stderr, flush=True)
    limits = measure_limits(device, mode)
    names = args.peers if args.peers is not None else ",".join(DEFAULT_PEERS[mode])
    wanted = {p.strip() for p in names.split(",") if p.strip()}
    peers = Peers(device, wanted)
    ctx = Context(device=device, mode=mode, peers=peers, limits=limits,
                  repeat=args.repeat or repeat, min_time=args.min_time or min_time,
                  warmup=1 if mode == "smoke" else 2,
                  sample_budget_s=ctx_budget(mode))
    chosen = select(WORKLOADS, mode, args.only, args.skip)
    results: list[dict[str, Any]] = []
    try:
        for n, wl in enumerate(chosen, 1):
            t0 = time.perf_counter()
            rows = run_workload(wl, ctx, env)
            results += rows
            clt_row = next((r for r in rows if r["impl"] == "clt"), rows[0])
            status = clt_row.get("status")
            print(f"[{n}/{len(chosen)}] {wl.key}: {status} in {time.perf_counter() - t0:.1f} s",
                  file=sys.stderr, flush=True)
    finally:
        for fn in ctx.cleanup:
            fn()
    env["loadavg_end"] = _loadavg()
    _settle_limits(limits, measure_limits(device, mode), results)
    env["versions"].update(peers.versions)
    return {"schema": SCHEMA, "suite": "clt-bench", "mode": mode,
            "started": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
            "seconds": time.perf_counter() - started, "env": env, "limits": limits,
            "peers": peers.describe(),
            "method": {"repeat": ctx.repeat, "min_time_s": ctx.min_time,
                       "warmup_calls": ctx.warmup, "statistic": "median; spread min..max",
                       "interleaved": True, "device_time": "clt.profiler (OpenCL events)"},
            "workloads": [wl.key for wl in chosen], "results": results}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from benchmarks import report

    if args.compare:
        old, new = (report.load(p) for p in args.compare)
        return 1 if report.compare(old, new, args.threshold) else 0
    if args.list:
        from benchmarks.workloads import WORKLOADS

        for wl in WORKLOADS:
            print(f"{wl.key:<22} {'quick' if wl.quick else 'full ':<6} {wl.unit:<10} {wl.title}")
        return 0
    doc = run(args)
    out = sys.stderr if args.json == "-" else sys.stdout
    report.print_report(doc, file=out)
    if args.json:
        text = json.dumps(doc, indent=1, default=str)
        if args.json == "-":
            print(text)
        else:
            Path(args.json).write_text(text + "\n")
    if args.md:
        Path(args.md).write_text(report.markdown(doc))
    if args.plot:
        for path in report.plot(doc, args.plot):
            print(f"wrote {path}", file=sys.stderr)
    return 0 if all(r.get("status") != "error" for r in doc["results"]) else 2
