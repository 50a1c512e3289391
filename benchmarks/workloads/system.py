"""Overheads: per-op dispatch cost, cold and warm start (fresh processes), in time per unit.

* ``dispatch.add``: ``a + b`` on 16 elements, enqueued back to back and synchronised once per
  sample: the host cost of one small op (Python, autograd bookkeeping, argument setting,
  enqueue), which bounds small models.
* ``startup.cold``: a fresh Python process runs the first MLP training step with *empty* kernel
  caches (``CLT_CACHE_DIR``, ``POCL_CACHE_DIR`` and ``XDG_CACHE_HOME`` point at a new temporary
  folder): imports, device, every kernel build and first-launch JIT.
* ``startup.warm``: the same in a fresh process whose caches were filled by the cold run.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.core import Case, Context, Impl, Workload
from benchmarks.workloads import add_numpy, add_pyopencl, add_tinygrad, add_torch, clt_impl

ROOT = Path(__file__).resolve().parents[2]


def build_dispatch(ctx: Context) -> Case:
    import clt

    h = np.ones(16, np.float32)
    a, b = clt.tensor(h, device=ctx.device), clt.tensor(h, device=ctx.device)
    # samples of >= 50 ms, so the one synchronisation per sample (~100 us) is amortised
    case = Case({"clt": clt_impl(ctx, lambda: a + b)}, device=ctx.device, size="16 float32",
                min_time=0.05)
    add_numpy(case, ctx, lambda: h + h)
    add_torch(case, ctx, lambda torch: (lambda t=torch.from_numpy(h): t + t))
    add_pyopencl(case, ctx, lambda cla, q: (lambda d=cla.to_device(q, h): d + d))
    add_tinygrad(case, ctx, lambda tg: (lambda t=tg.Tensor(h).realize(): (t + t).realize()),
                 note="lazy graph: schedule + realize per op")
    case.impls["enqueue-floor"] = _enqueue_floor(ctx, a, b)
    return case


def _enqueue_floor(ctx: Context, a: Any, b: Any) -> Impl:
    """The least any pyopencl program pays per launch: clt's ``a + b`` kernel given its
    arguments (``set_args``) and enqueued, into one preallocated output. clt's row minus this
    one is what clt's Python path adds (allocation, dispatch decision, autograd check)."""
    import pyopencl as cl

    from clt.ops import elementwise as ew

    dev = ctx.device
    x, y = a._data, b._data
    out = ew._binary("add", x, y)        # the undecided path, which notes the plan it ran
    plan = dev.kernels.plans[ew._LAST_PLAN_KEY[0]]
    if plan.out_st is None:      # a flat plan: buffers and offsets only
        args = (out.storage.buffer, 0, x.storage.buffer, 0, y.storage.buffer, 0, *plan.tail)
    else:
        args = (out.storage.buffer, 0, plan.out_st, x.storage.buffer, 0, plan.in_st[0],
                y.storage.buffer, 0, plan.in_st[1], *plan.tail)
    kernel, gsize, lsize = plan.kernel, plan.gsize, plan.lsize

    def launch() -> None:
        kernel.set_args(*args)
        cl.enqueue_nd_range_kernel(dev.queue, kernel, gsize, lsize)
    return Impl(launch, sync=dev.synchronize,
                note=f"{kernel.function_name}: set_args + enqueue, no allocation: the driver's "
                "floor (clt's time minus this one is clt's Python path)")


def _child(impl: str, ctx: Context, cache: Path | None, timeout: float = 600.0
           ) -> dict[str, Any]:
    env = dict(os.environ)
    # an installed package has its bytecode compiled (pip does it), so the child may write it
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    if cache is not None:
        env.update(CLT_CACHE_DIR=str(cache / "clt"), POCL_CACHE_DIR=str(cache / "pocl"),
                   XDG_CACHE_HOME=str(cache / "xdg"))
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    cmd = [sys.executable, "-m", "benchmarks.startup_child", "--impl", impl]
    if impl == "clt":
        cmd += ["--device", ctx.device.info.id]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=timeout)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        raise RuntimeError(f"startup child ({impl}) failed: {' | '.join(tail)}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _startup_case(ctx: Context, cold: bool) -> Case:
    runs = ctx.pick(1, 1, 2) if cold else ctx.pick(1, 1, 3)
    case = Case({}, size="MLP 784-512-256-10, batch 128, first step")
    if ctx.mode == "smoke" and cold:
        case.skipped["clt"] = "not measured with --smoke (a cold start builds every kernel)"
        return case
    results = []
    if ctx.mode == "smoke":
        results = [_child("clt", ctx, None)]        # the user's caches
    else:
        tmp = ctx.shared.get("startup_cache")
        if tmp is None:
            tmp = ctx.shared["startup_cache"] = Path(tempfile.mkdtemp(prefix="clt-bench-"))
            ctx.cleanup.append(lambda: shutil.rmtree(tmp, ignore_errors=True))
            if not cold:
                _child("clt", ctx, tmp / "warm")    # fill fresh caches first
        for i in range(runs):
            # every cold run gets new, empty folders; warm runs reuse the cold run's caches
            cache = tmp / (f"cold{i}" if cold else "warm")
            if not cold and not (tmp / "warm").exists():
                shutil.copytree(tmp / "cold0", tmp / "warm")
            results.append(_child("clt", ctx, cache))
    case.direct["clt"] = [r["to_first_step_s"] for r in results]
    keys = ("import_s", "device_s", "model_s", "first_step_s", "second_step_s",
            "programs_built", "source_hits", "disk_hits", "build_seconds")
    case.extra["clt"] = {"phases": {k: float(np.median([r.get(k, 0.0) for r in results]))
                                    for k in keys},
                         "cache": "empty (fresh temporary folders)" if cold else
                         ("the user's caches (--smoke)" if ctx.mode == "smoke"
                          else "warm (filled by an earlier fresh process)")}
    if ctx.mode != "smoke":
        _torch_startup(ctx, case)
    case.skipped.setdefault("tinygrad", "not measured: its cold first step takes minutes here "
                            "(see shared/POCL-NOTES.md)")
    return case


def _torch_startup(ctx: Context, case: Case) -> None:
    """PyTorch's first step in a fresh process (no kernel caches: cold = warm), measured once."""
    if ctx.peers.torch is None:
        case.skipped["torch"] = ctx.peers.reasons.get("torch", "not installed")
        return
    if "startup_torch" not in ctx.shared:
        try:
            ctx.shared["startup_torch"] = [_child("torch", ctx, None)
                                           for _ in range(ctx.pick(1, 1, 2))]
        except Exception as exc:
            ctx.shared["startup_torch"] = f"{type(exc).__name__}: {exc}"[:200]
    tr = ctx.shared["startup_torch"]
    if isinstance(tr, str):
        case.skipped["torch"] = tr
        return
    case.direct["torch"] = [r["to_first_step_s"] for r in tr]
    case.extra["torch"] = {"note": "PyTorch has no kernel caches: cold = warm (one measurement)",
                           "phases": {k: float(np.median([r[k] for r in tr]))
                                      for k in ("import_s", "first_step_s")}}


WORKLOADS = [
    Workload("dispatch.add", "per-op dispatch: a + b on 16 elements", "overhead", "us/op", None,
             build_dispatch),
    Workload("startup.cold", "first MLP train step, fresh process, empty kernel caches",
             "overhead", "s", None, lambda ctx: _startup_case(ctx, True)),
    Workload("startup.warm", "first MLP train step, fresh process, warm kernel caches",
             "overhead", "s", None, lambda ctx: _startup_case(ctx, False)),
]
