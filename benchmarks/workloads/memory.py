"""Memory-bound workloads: elementwise maps, reductions, softmax, transposed and strided copies.

Each is measured against the device's copy bandwidth with its ideal traffic (every input read
once, every output written once, float32), so 100% means "as fast as a plain copy".
"""
from __future__ import annotations

from typing import Any

import numpy as np

from benchmarks.core import Case, Context, Workload
from benchmarks.workloads import (add_numpy, add_pyopencl, add_tinygrad, add_torch, clt_impl,
                                  tensor)


def _n(ctx: Context) -> int:
    return ctx.pick(1 << 16, 4 << 20, 16 << 20)


def _side(ctx: Context) -> int:
    return ctx.pick(256, 2048, 4096)


def _label(n: int) -> str:
    return f"{n / (1 << 20):g}M" if n >= 1 << 20 else f"{n >> 10}K"


def _vectors(n: int, k: int) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.random(n, dtype=np.float32) for _ in range(k)]


def build_add(ctx: Context) -> Case:
    n = _n(ctx)
    ha, hb = _vectors(n, 2)
    a, b = tensor(ctx, ha), tensor(ctx, hb)
    case = Case({"clt": clt_impl(ctx, lambda: a + b)}, amount=12 * n, bytes=12 * n, flops=n,
                device=ctx.device, size=f"N = {_label(n)}")
    out = np.empty_like(ha)
    add_numpy(case, ctx, lambda: np.add(ha, hb, out=out))

    def torch_add(torch: Any):
        ta, tb, to = torch.from_numpy(ha), torch.from_numpy(hb), torch.empty(n)
        return lambda: torch.add(ta, tb, out=to)
    add_torch(case, ctx, torch_add)
    add_pyopencl(case, ctx, lambda cla, q: _cla_binary(cla, q, ha, hb))
    add_tinygrad(case, ctx, lambda tg: _tg_map(tg, [ha, hb], lambda x, y: x + y))
    return case


def _cla_binary(cla: Any, q: Any, ha: np.ndarray, hb: np.ndarray) -> Any:
    a, b = cla.to_device(q, ha), cla.to_device(q, hb)
    return lambda: a + b


def _tg_map(tg: Any, hosts: list[np.ndarray], fn: Any) -> Any:
    xs = [tg.Tensor(h).realize() for h in hosts]
    return lambda: fn(*xs).realize()


def build_fused3(ctx: Context) -> Case:
    n = _n(ctx)
    ha, hb, hc = _vectors(n, 3)
    import clt

    a, b, c = (tensor(ctx, h) for h in (ha, hb, hc))
    case = Case({"clt": clt_impl(ctx, lambda: clt.addcmul(a, b, c, value=0.5))},
                amount=16 * n, bytes=16 * n, flops=3 * n, device=ctx.device,
                size=f"N = {_label(n)}")
    add_numpy(case, ctx, lambda: ha + 0.5 * hb * hc)

    def torch_fused(torch: Any):
        ta, tb, tc = (torch.from_numpy(h) for h in (ha, hb, hc))
        to = torch.empty(n)
        return lambda: torch.addcmul(ta, tb, tc, value=0.5, out=to)
    add_torch(case, ctx, torch_fused)

    def cla_fused(cla: Any, q: Any):
        from pyopencl.elementwise import ElementwiseKernel

        knl = ElementwiseKernel(q.context, "const float *a, const float *b, const float *c, "
                                "float *out", "out[i] = a[i] + 0.5f * b[i] * c[i]", "bench_fma3")
        da, db, dc = (cla.to_device(q, h) for h in (ha, hb, hc))
        out = cla.empty_like(da)
        return lambda: knl(da, db, dc, out)
    add_pyopencl(case, ctx, cla_fused, name="pyopencl.elementwise")
    add_tinygrad(case, ctx, lambda tg: _tg_map(tg, [ha, hb, hc], lambda x, y, z: x + 0.5 * y * z))
    return case


def _clt_sum(x: Any, dim: int | None, notes: list[str]) -> Any:
    if hasattr(x, "sum"):
        return (lambda: x.sum()) if dim is None else (lambda: x.sum(dim=dim))
    from clt.ops import reduce as R

    notes.append("Tensor.sum not available: timed clt.ops.reduce.sum on the array")
    return lambda: R.sum(x._data, dim)


def _reduce_case(ctx: Context, shape: tuple[int, ...], dim: int | None) -> Case:
    rng = np.random.default_rng(0)
    h = rng.random(shape, dtype=np.float32)
    x = tensor(ctx, h)
    notes: list[str] = []
    fn = _clt_sum(x, dim, notes)
    n = h.size
    out_n = 1 if dim is None else n // shape[dim]
    case = Case({"clt": clt_impl(ctx, fn)}, amount=4 * (n + out_n), bytes=4 * (n + out_n),
                flops=n, device=ctx.device, notes=notes,
                size=" x ".join(str(d) for d in shape))
    add_numpy(case, ctx, (lambda: h.sum()) if dim is None else (lambda: h.sum(axis=dim)))
    add_torch(case, ctx, lambda torch: (lambda t=torch.from_numpy(h): (
        t.sum() if dim is None else t.sum(dim=dim))))
    if dim is None:
        add_pyopencl(case, ctx, lambda cla, q: (lambda d=cla.to_device(q, h): cla.sum(d)))
    add_tinygrad(case, ctx, lambda tg: _tg_map(tg, [h], (lambda t: t.sum()) if dim is None
                                               else (lambda t: t.sum(axis=dim))))
    return case


def build_sum_full(ctx: Context) -> Case:
    return _reduce_case(ctx, (_n(ctx),), None)


def build_sum_rows(ctx: Context) -> Case:
    s = _side(ctx)
    return _reduce_case(ctx, (s, s), 1)


def build_sum_cols(ctx: Context) -> Case:
    s = _side(ctx)
    return _reduce_case(ctx, (s, s), 0)


def build_softmax(ctx: Context) -> Case:
    rows, cols = ctx.pick((64, 128), (4096, 1024), (16384, 1024))
    rng = np.random.default_rng(0)
    h = rng.standard_normal((rows, cols)).astype(np.float32)
    x = tensor(ctx, h)
    notes: list[str] = []
    import clt.nn.functional as F

    try:
        F.softmax(x, dim=-1)
        fn = lambda: F.softmax(x, dim=-1)      # noqa: E731
    except Exception as exc:
        from clt.ops import reduce as R

        notes.append(f"F.softmax unavailable ({type(exc).__name__}): timed clt.ops.reduce.softmax")
        fn = lambda: R.softmax(x._data, -1)    # noqa: E731
    case = Case({"clt": clt_impl(ctx, fn)}, amount=8 * h.size, bytes=8 * h.size,
                flops=5 * h.size, device=ctx.device, notes=notes, size=f"{rows} x {cols}")

    def np_softmax() -> np.ndarray:
        e = np.exp(h - h.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)
    add_numpy(case, ctx, np_softmax)
    add_torch(case, ctx, lambda torch: (lambda t=torch.from_numpy(h): torch.softmax(t, dim=-1)))
    add_tinygrad(case, ctx, lambda tg: _tg_map(tg, [h], lambda t: t.softmax(axis=-1)))
    return case


def build_transpose(ctx: Context) -> Case:
    s = _side(ctx)
    rng = np.random.default_rng(0)
    h = rng.random((s, s), dtype=np.float32)
    x = tensor(ctx, h)
    case = Case({"clt": clt_impl(ctx, lambda: x.t().contiguous())}, amount=8 * h.size,
                bytes=8 * h.size, device=ctx.device, size=f"{s} x {s}")
    out = np.empty_like(h)
    add_numpy(case, ctx, lambda: np.copyto(out, h.T))

    def torch_t(torch: Any):
        t, o = torch.from_numpy(h), torch.empty(s, s)
        return lambda: o.copy_(t.t())
    add_torch(case, ctx, torch_t)
    add_tinygrad(case, ctx, lambda tg: _tg_map(tg, [h], lambda t: t.T.contiguous()))
    return case


def build_strided(ctx: Context) -> Case:
    s = _side(ctx)
    rng = np.random.default_rng(0)
    h = rng.random((s, 2 * s), dtype=np.float32)
    x = tensor(ctx, h)
    moved = 8 * s * s                 # half of the elements read (every other one), written once
    case = Case({"clt": clt_impl(ctx, lambda: x[:, ::2].contiguous())}, amount=moved,
                bytes=moved, device=ctx.device, size=f"{s} x {2 * s} -> {s} x {s}")
    out = np.empty((s, s), np.float32)
    add_numpy(case, ctx, lambda: np.copyto(out, h[:, ::2]))

    def torch_s(torch: Any):
        t, o = torch.from_numpy(h), torch.empty(s, s)
        return lambda: o.copy_(t[:, ::2])
    add_torch(case, ctx, torch_s)
    add_tinygrad(case, ctx, lambda tg: _tg_map(tg, [h], lambda t: t[:, ::2].contiguous()))
    return case


WORKLOADS = [
    Workload("ew.add", "a + b, float32 (3 arrays of N)", "elementwise", "B/s", "copy", build_add),
    Workload("ew.fused3", "a + 0.5*b*c fused (addcmul), float32", "elementwise", "B/s", "copy",
             build_fused3),
    Workload("reduce.full", "sum of N float32", "reduction", "B/s", "copy", build_sum_full),
    Workload("reduce.rows", "sum over rows (dim=1) of a square matrix", "reduction", "B/s",
             "copy", build_sum_rows),
    Workload("reduce.cols", "sum over columns (dim=0) of a square matrix", "reduction", "B/s",
             "copy", build_sum_cols),
    Workload("softmax.rows", "softmax over the last dim (rows of 1024)", "reduction", "B/s",
             "copy", build_softmax),
    Workload("copy.transpose", "x.t().contiguous() of a square matrix", "copy", "B/s", "copy",
             build_transpose),
    Workload("copy.strided", "x[:, ::2].contiguous()", "copy", "B/s", "copy", build_strided),
]
