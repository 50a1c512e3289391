"""The suite's data model and measuring loop (used by ``benchmarks/suite.py``).

A :class:`Workload` builds a :class:`Case`: one callable per implementation (clt and each peer
and thread setting) doing the same work, plus how much work one call is (bytes moved, FLOPs,
samples). :func:`measure_case` times the implementations *interleaved*, round by round, so a
burst of load from another process hits all of them alike:

1. warm-up: two calls each (kernel builds, first-launch JIT, thread pools), then one timed call
   that sets how many calls make a sample (at least ``min_time`` long; ops run asynchronously
   on clt's queue, so a sample is N enqueues and one synchronisation: throughput, as a
   training loop sees it);
2. ``repeat`` rounds of one sample per implementation; the median is the figure, min and max
   the spread;
3. for clt, a few more calls under :func:`clt.profiler.profile`: device time per call from
   OpenCL profiling events, and the kernels that take it.
"""
from __future__ import annotations

import gc
import math
import statistics
import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable

from benchmarks.peers import family_of

# display unit -> (higher is better, scale, label)
UNITS = {
    "B/s": (True, 1e9, "GB/s"),
    "FLOP/s": (True, 1e9, "GFLOP/s"),
    "samples/s": (True, 1.0, "samples/s"),
    "s": (False, 1.0, "s"),
    "us/op": (False, 1.0, "us/op"),
    "B": (False, 1e6, "MB"),        # memory in use (samples are bytes, not seconds)
}


@dataclass
class Impl:
    """One implementation of a workload: ``fn`` does one call's work."""

    fn: Callable[[], Any]
    sync: Callable[[], Any] | None = None       # wait for asynchronous work (device queues)
    prepare: Callable[[], Any] | None = None    # before each sample (thread settings)
    note: str = ""


@dataclass
class Case:
    """What a workload's builder returns."""

    impls: dict[str, Impl]
    amount: float = 1.0             # display units per call (bytes, FLOPs, samples, ops)
    flops: float | None = None      # per call, for the FLOP/s limit and the roofline
    bytes: float | None = None      # per call (ideal traffic), for the bandwidth limit
    device: Any = None              # clt device, for profiling the clt implementation
    notes: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)   # impl -> why it is absent
    # implementations measured by the builder itself (subprocess timings): impl -> samples (s;
    # bytes for the unit "B")
    direct: dict[str, list[float]] = field(default_factory=dict)
    extra: dict[str, dict[str, Any]] = field(default_factory=dict)   # impl -> more fields
    size: str = ""                  # the problem size, for people reading the results
    min_time: float | None = None   # seconds per sample, when the run's default is too short


@dataclass
class Workload:
    key: str                        # stable id, e.g. "train.mlp"
    title: str
    group: str
    unit: str                       # a key of UNITS
    limit: str | None               # "copy" (bandwidth), "flops" (peak) or None
    build: Callable[["Context"], Case]
    quick: bool = True              # part of --quick (and --smoke)


@dataclass
class Context:
    device: Any
    mode: str                       # "smoke", "quick" or "full"
    peers: Any
    limits: dict[str, float]
    repeat: int
    min_time: float
    warmup: int = 2
    sample_budget_s: float = 20.0   # seconds of sampling per workload before rounds are cut
    # state shared between workloads of one run (e.g. the cold-start caches that the warm-start
    # workload reuses); cleanup callables run when the suite ends
    shared: dict[str, Any] = field(default_factory=dict)
    cleanup: list[Callable[[], Any]] = field(default_factory=list)

    def pick(self, smoke: Any, quick: Any, full: Any) -> Any:
        return {"smoke": smoke, "quick": quick, "full": full}[self.mode]


def _sample(impl: Impl, calls: int) -> float:
    if impl.prepare:
        impl.prepare()
    start = time.perf_counter()
    for _ in range(calls):
        impl.fn()
    if impl.sync:
        impl.sync()
    return (time.perf_counter() - start) / calls


def _warm(impl: Impl, warmup: int, min_time: float) -> tuple[int, float]:
    """Warm ``impl`` up; returns the calls per sample and the expected seconds per sample."""
    if impl.prepare:
        impl.prepare()
    for _ in range(warmup):
        impl.fn()
    if impl.sync:
        impl.sync()
    once = _sample(impl, 1)
    if once * 4 < min_time:            # a tiny op: measure its steady state more closely
        once = _sample(impl, max(1, min(64, int(min_time / max(once, 1e-7) / 8))))
    calls = max(1, min(100_000, math.ceil(min_time / max(once, 1e-7))))
    return calls, calls * once


def profile_clt(case: Case, impl: Impl, calls: int) -> dict[str, Any]:
    """Device seconds per call and the top kernels, from OpenCL profiling events."""
    import clt

    with clt.profiler.profile(case.device) as prof:
        for _ in range(calls):
            impl.fn()
    per_call = prof.device_seconds / calls
    total = max(prof.device_seconds, 1e-12)
    top = [{"kernel": s.name, "share": s.total_ns * 1e-9 / total, "calls": s.calls / calls,
            "us_per_call": s.total_ns / 1e3 / calls} for s in prof.key_averages()[:6]]
    return {"device_s": per_call, "profile_wall_s": prof.wall_s / calls, "top_kernels": top,
            "kernels_per_call": sum(s.calls for s in prof.stats.values()) / calls}


def measure_case(wl: Workload, case: Case, ctx: Context, env: dict[str, Any]
                 ) -> list[dict[str, Any]]:
    """Time every implementation of ``case``; one result row per implementation."""
    samples: dict[str, list[float]] = {k: list(v) for k, v in case.direct.items()}
    calls: dict[str, int] = {}
    errors: dict[str, str] = {}
    impls = dict(case.impls)
    min_time = max(ctx.min_time, case.min_time or 0.0)
    round_s = 0.0
    for name, impl in list(impls.items()):
        try:
            calls[name], est = _warm(impl, ctx.warmup, min_time)
            round_s += est
        except Exception as exc:
            errors[name] = _error(exc)
            impls.pop(name)
    # slow workloads (seconds per round) take fewer rounds, at least 3, to bound the run time
    fits = int(ctx.sample_budget_s / max(round_s, 1e-9))
    repeat = max(min(ctx.repeat, 3), min(ctx.repeat, fits))
    for _ in range(repeat):
        for name, impl in list(impls.items()):
            try:
                samples.setdefault(name, []).append(_sample(impl, calls[name]))
            except Exception as exc:
                errors[name] = _error(exc)
                impls.pop(name)
                samples.pop(name, None)
    prof: dict[str, Any] = {}
    if "clt" in impls and case.device is not None:
        try:
            n = max(1, min(calls["clt"], 50))
            prof = profile_clt(case, impls["clt"], n)
        except Exception as exc:
            prof = {"profile_error": _error(exc)}
    rows = [_row(wl, case, ctx, env, name, s, calls.get(name, 1),
                 prof if name == "clt" else {}, impls.get(name) or case.impls.get(name))
            for name, s in samples.items() if s]
    for name, msg in errors.items():
        rows.append(_base(wl, env, name) | {"status": "error", "error": msg})
    for name, why in case.skipped.items():
        rows.append(_base(wl, env, name) | {"status": "skipped", "reason": why})
    for r in rows:
        r["size"] = case.size
    _add_ratios(rows, wl)
    return rows


def _error(exc: BaseException) -> str:
    last = traceback.extract_tb(exc.__traceback__)[-1:] if exc.__traceback__ else []
    where = f" at {last[0].filename.rsplit('/', 1)[-1]}:{last[0].lineno}" if last else ""
    return f"{type(exc).__name__}: {exc}".splitlines()[0][:300] + where


def _base(wl: Workload, env: dict[str, Any], impl: str) -> dict[str, Any]:
    return {"workload": wl.key, "title": wl.title, "group": wl.group, "impl": impl,
            "family": family_of(impl), "unit": wl.unit,
            "device": env.get("device"), "driver": env.get("driver")}


def _row(wl: Workload, case: Case, ctx: Context, env: dict[str, Any], name: str,
         s: list[float], calls: int, prof: dict[str, Any], impl: Impl | None
         ) -> dict[str, Any]:
    higher, _, _ = UNITS[wl.unit]
    med = statistics.median(s)
    if wl.unit == "us/op":
        value, lo, hi = med * 1e6, min(s) * 1e6, max(s) * 1e6
    elif wl.unit in ("s", "B"):
        value, lo, hi = med, min(s), max(s)
    else:
        value, lo, hi = case.amount / med, case.amount / max(s), case.amount / min(s)
    row = _base(wl, env, name) | {
        "status": "ok", "value": value, "higher_is_better": higher, "spread": [lo, hi],
        "samples": len(s), "calls_per_sample": calls, "flops": case.flops, "bytes": case.bytes,
    }
    if wl.unit != "B":
        row |= {"seconds": med, "seconds_min": min(s), "seconds_max": max(s)}
    if wl.limit and wl.unit not in ("s", "us/op"):
        per_call = case.bytes if wl.limit == "copy" else case.flops
        limit = ctx.limits.get("copy_Bps" if wl.limit == "copy" else "peak_flops")
        if per_call and limit:
            row["limit_kind"] = "copy bandwidth" if wl.limit == "copy" else "peak FLOP/s"
            row["fraction_of_limit"] = per_call / med / limit
    if impl is not None and impl.note:
        row["note"] = impl.note
    if name == "clt" and case.notes:
        row["notes"] = list(case.notes)
    row.update(case.extra.get(name, {}))
    row.update(prof)
    return row


def _add_ratios(rows: list[dict[str, Any]], wl: Workload) -> None:
    """On the clt row: clt's speed relative to each implementation and to each family's best.

    A ratio above 1 means clt is faster (for rates: clt / peer; for times: peer / clt).
    """
    ok = [r for r in rows if r.get("status") == "ok"]
    clt_row = next((r for r in ok if r["impl"] == "clt"), None)
    if clt_row is None:
        return
    higher = UNITS[wl.unit][0]

    def speed(r: dict[str, Any]) -> float:
        return r["value"] if higher else 1.0 / max(r["value"], 1e-30)
    vs, best = {}, {}
    for r in ok:
        if r is clt_row:
            continue
        vs[r["impl"]] = speed(clt_row) / max(speed(r), 1e-30)
        fam = r["family"]
        if fam not in best or speed(r) > speed(best[fam]):
            best[fam] = r
    clt_row["vs"] = vs
    clt_row["vs_best"] = {fam: {"impl": r["impl"], "ratio": speed(clt_row) / max(speed(r), 1e-30)}
                          for fam, r in best.items()}


def run_workload(wl: Workload, ctx: Context, env: dict[str, Any]) -> list[dict[str, Any]]:
    """Build and measure one workload; a failure becomes an error row, never an exception."""
    start = time.perf_counter()
    try:
        case = wl.build(ctx)
    except Exception as exc:
        return [_base(wl, env, "clt") | {"status": "error", "error": _error(exc)}]
    try:
        rows = measure_case(wl, case, ctx, env)
    finally:
        del case
        gc.collect()
    for r in rows:
        r["workload_seconds"] = time.perf_counter() - start
    return rows
