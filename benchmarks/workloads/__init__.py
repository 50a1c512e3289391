"""Workload definitions of the suite, one module per group; :data:`WORKLOADS` lists them all.

Helpers here add the peer implementations to a case in one call each, recording why a peer is
absent instead of failing.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from benchmarks.core import Case, Context, Impl, Workload
from benchmarks.peers import THREADS


def clt_impl(ctx: Context, fn: Callable[[], Any]) -> Impl:
    return Impl(fn, sync=ctx.device.synchronize)


def tensor(ctx: Context, host: np.ndarray, requires_grad: bool = False) -> Any:
    import clt

    return clt.tensor(host, device=ctx.device, requires_grad=requires_grad)


def add_numpy(case: Case, ctx: Context, fn: Callable[[], Any], blas: bool = False) -> None:
    """numpy; BLAS-backed work at each thread count (numpy-1t, numpy-2t)."""
    if "numpy" not in ctx.peers.wanted:
        case.skipped["numpy"] = "not selected (--peers)"
        return
    if not blas:
        case.impls["numpy"] = Impl(fn)
        return
    for n in THREADS:
        limit = ctx.peers.blas_threads(n)
        if limit is None:
            case.impls["numpy"] = Impl(fn)
            return
        case.impls[f"numpy-{n}t"] = Impl(fn, prepare=limit)


def add_torch(case: Case, ctx: Context, make: Callable[[Any], Callable[[], Any]]) -> None:
    """PyTorch CPU at 1 and 2 threads; ``make(torch)`` sets up and returns the call."""
    torch = ctx.peers.torch
    if torch is None:
        case.skipped["torch"] = ctx.peers.reasons.get("torch", "not installed")
        return
    try:
        fn = make(torch)
    except Exception as exc:
        case.skipped["torch"] = f"{type(exc).__name__}: {exc}"[:200]
        return
    for n in THREADS:
        case.impls[f"torch-{n}t"] = Impl(fn, prepare=ctx.peers.torch_threads(n))


def add_tinygrad(case: Case, ctx: Context, make: Callable[[Any], Callable[[], Any]],
                 note: str = "") -> None:
    """tinygrad on its OpenCL backend; ``make(tinygrad)`` returns a call that realizes."""
    tg = ctx.peers.tinygrad
    if tg is None:
        case.skipped["tinygrad"] = ctx.peers.reasons.get("tinygrad", "not installed")
        return
    try:
        fn = make(tg)
    except Exception as exc:
        case.skipped["tinygrad"] = f"{type(exc).__name__}: {exc}"[:200]
        return
    case.impls["tinygrad-cl"] = Impl(fn, sync=ctx.peers.tinygrad_sync, note=note)


def add_pyopencl(case: Case, ctx: Context, make: Callable[[Any, Any], Callable[[], Any]],
                 name: str = "pyopencl.array") -> None:
    """pyopencl.array on clt's context; ``make(cla, queue)`` returns the call."""
    pair = ctx.peers.cla
    if pair is None:
        case.skipped[name] = ctx.peers.reasons.get("pyopencl", "not available")
        return
    cla, queue = pair
    try:
        fn = make(cla, queue)
    except Exception as exc:
        case.skipped[name] = f"{type(exc).__name__}: {exc}"[:200]
        return
    case.impls[name] = Impl(fn, sync=queue.finish)


def _all() -> list[Workload]:
    from benchmarks.workloads import memory, matmul, conv, training, resnet_memory, fusion, system

    out: list[Workload] = []
    for mod in (memory, matmul, conv, training, resnet_memory, fusion, system):
        out += mod.WORKLOADS
    return out


WORKLOADS: list[Workload] = _all()
