"""GEMM workloads: SGEMM and HGEMM at several sizes, skinny, transposed and batched shapes.

clt runs through the Tensor API (``clt.matmul(a, b, out=...)``), so its Python overhead counts.
FLOPs are 2*M*N*K per product; bytes (for the roofline) are each operand read once and the
result written once.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from benchmarks.core import Case, Context, Workload
from benchmarks.workloads import (add_numpy, add_pyopencl, add_tinygrad, add_torch, clt_impl,
                                  tensor)


def _gemm_case(ctx: Context, batch: int, m: int, k: int, n: int, dtype: Any = np.float32,
               tb: bool = False, clblast: bool = True) -> Case:
    """(batch x) (M x K) @ (K x N); ``tb``: B stored as (N x K) and read transposed."""
    import clt

    rng = np.random.default_rng(0)
    lead = (batch,) if batch > 1 else ()
    ha = rng.standard_normal(lead + (m, k)).astype(dtype)
    hb_store = rng.standard_normal(lead + ((n, k) if tb else (k, n))).astype(dtype)
    hb = np.swapaxes(hb_store, -1, -2) if tb else hb_store
    a, b_store = tensor(ctx, ha), tensor(ctx, hb_store)
    b = b_store.transpose(-1, -2) if tb else b_store
    out = clt.empty(lead + (m, n), dtype=a.dtype, device=ctx.device)
    flops = 2.0 * batch * m * n * k
    nbytes = ha.itemsize * batch * (m * k + k * n + m * n)
    size = (f"{batch} x " if batch > 1 else "") + f"{m} x {k} x {n}" + (
        ", B transposed" if tb else "") + f", {np.dtype(dtype).name}"
    case = Case({"clt": clt_impl(ctx, lambda: clt.matmul(a, b, out=out))}, amount=flops,
                flops=flops, bytes=nbytes, device=ctx.device, size=size)
    hout = np.empty(lead + (m, n), dtype)
    if dtype == np.float16 and m * n * k > 300 ** 3:
        case.skipped["numpy"] = "float16 matmul has no BLAS path in numpy (minutes at this size)"
    else:
        add_numpy(case, ctx, lambda: np.matmul(ha, hb, out=hout), blas=dtype != np.float16)

    def torch_mm(torch: Any):
        ta, tb_ = torch.from_numpy(ha), torch.from_numpy(hb_store)
        tb2 = tb_.transpose(-1, -2) if tb else tb_
        to = torch.from_numpy(hout)
        return lambda: torch.matmul(ta, tb2, out=to)
    if dtype == np.float16 and m * n * k > 600 ** 3:
        case.skipped["torch"] = ("PyTorch's CPU float16 matmul has no fast path (~7 s per "
                                 "1024^3 product here); see gemm.h512")
    else:
        add_torch(case, ctx, torch_mm)
    if clblast and batch == 1 and dtype == np.float32 and ctx.mode == "full":
        _add_clblast(case, ctx, ha, hb_store, m, k, n, tb)
    elif ctx.peers.clblast is None:
        case.skipped["clblast"] = ctx.peers.reasons.get("clblast", "not installed")
    else:
        case.skipped["clblast"] = ("full run only (CLBlast compiles for ~20-60 s at first use)"
                                   if ctx.mode != "full" else "not measured for this shape")

    def tg_mm(tg: Any):
        ta = tg.Tensor(ha).realize()
        tbb = tg.Tensor(hb_store).realize()
        tb2 = tbb.transpose(-1, -2) if tb else tbb
        return lambda: (ta @ tb2).realize()
    if dtype == np.float32:
        add_tinygrad(case, ctx, tg_mm)
    return case


def _add_clblast(case: Case, ctx: Context, ha: np.ndarray, hb: np.ndarray, m: int, k: int,
                 n: int, tb: bool) -> None:
    blast = ctx.peers.clblast
    if blast is None:
        case.skipped["clblast"] = ctx.peers.reasons.get("clblast", "not installed")
        return

    def make(cla: Any, q: Any):
        a, b = cla.to_device(q, ha), cla.to_device(q, hb)
        c = cla.zeros(q, (m, n), np.float32)
        return lambda: blast.gemm(q, m, n, k, a, b, c, a_ld=k, b_ld=(k if tb else n), c_ld=n,
                                  b_transp=tb)
    add_pyopencl(case, ctx, make, name="clblast")


def _square(n: int, dtype: Any = np.float32):
    return lambda ctx: _gemm_case(ctx, 1, *((ctx.pick(64, n, n),) * 3), dtype=dtype)


def build_skinny_tall(ctx: Context) -> Case:
    m = ctx.pick(256, 4096, 8192)
    return _gemm_case(ctx, 1, m, ctx.pick(64, 1024, 1024), 16)


def build_skinny_wide(ctx: Context) -> Case:
    n = ctx.pick(256, 4096, 8192)
    return _gemm_case(ctx, 1, 16, ctx.pick(64, 1024, 1024), n)


def build_linear(ctx: Context) -> Case:
    return _gemm_case(ctx, 1, 128, ctx.pick(64, 784, 784), ctx.pick(32, 512, 512), tb=True)


def build_batched(ctx: Context) -> Case:
    b, s = ctx.pick((4, 32), (32, 128), (64, 128))
    return _gemm_case(ctx, b, s, s, s)


def build_batched_small(ctx: Context) -> Case:
    b = ctx.pick(16, 512, 2048)
    return _gemm_case(ctx, b, 16, 16, 16)


WORKLOADS = [
    Workload("gemm.s256", "SGEMM 256 x 256 x 256", "gemm", "FLOP/s", "flops", _square(256)),
    Workload("gemm.s512", "SGEMM 512 x 512 x 512", "gemm", "FLOP/s", "flops", _square(512)),
    Workload("gemm.s1024", "SGEMM 1024 x 1024 x 1024", "gemm", "FLOP/s", "flops",
             _square(1024)),
    Workload("gemm.s2048", "SGEMM 2048 x 2048 x 2048", "gemm", "FLOP/s", "flops",
             _square(2048), quick=False),
    Workload("gemm.h512", "HGEMM 512 x 512 x 512 (float16 storage)", "gemm", "FLOP/s", "flops",
             _square(512, np.float16)),
    Workload("gemm.h1024", "HGEMM 1024 x 1024 x 1024 (float16 storage)", "gemm", "FLOP/s",
             "flops", _square(1024, np.float16), quick=False),
    Workload("gemm.tall", "skinny SGEMM (M x 1024) @ (1024 x 16)", "gemm", "FLOP/s", "flops",
             build_skinny_tall),
    Workload("gemm.wide", "skinny SGEMM (16 x 1024) @ (1024 x N)", "gemm", "FLOP/s", "flops",
             build_skinny_wide),
    Workload("gemm.linear", "x @ W.T, 128 x 784 x 512 (W read transposed)", "gemm", "FLOP/s",
             "flops", build_linear),
    Workload("gemm.batched", "batched SGEMM, B x (128 x 128 x 128)", "gemm", "FLOP/s", "flops",
             build_batched),
    Workload("gemm.batched_small", "batched SGEMM, B x (16 x 16 x 16)", "gemm", "FLOP/s",
             "flops", build_batched_small),
]
