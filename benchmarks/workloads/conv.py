"""conv2d forward + backward (input and weight gradients) on typical layer shapes.

FLOPs per call: 3 passes of 2 * N * C_out * H_out * W_out * (C_in / groups) * kH * kW.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from benchmarks.core import Case, Context, Workload
from benchmarks.workloads import add_torch, clt_impl


def _conv_case(ctx: Context, n: int, c: int, h: int, cout: int, k: int, stride: int, pad: int,
               groups: int = 1) -> Case:
    import clt
    import clt.nn.functional as F

    rng = np.random.default_rng(0)
    xs = rng.standard_normal((n, c, h, h)).astype(np.float32)
    ws = (rng.standard_normal((cout, c // groups, k, k)) * 0.1).astype(np.float32)
    oh = (h + 2 * pad - k) // stride + 1
    flops = 3 * 2.0 * n * cout * oh * oh * (c // groups) * k * k
    nbytes = 4.0 * (2 * xs.size + 2 * ws.size + 2 * n * cout * oh * oh)
    x = clt.tensor(xs, device=ctx.device, requires_grad=True)
    w = clt.tensor(ws, device=ctx.device, requires_grad=True)
    gy = clt.tensor(rng.standard_normal((n, cout, oh, oh)).astype(np.float32),
                    device=ctx.device)

    def step() -> None:
        x.grad = w.grad = None
        F.conv2d(x, w, None, stride, pad, 1, groups).backward(gy)
    size = (f"x {n}x{c}x{h}x{h}, w {cout}x{c // groups}x{k}x{k}, stride {stride}, pad {pad}"
            + (f", groups {groups}" if groups > 1 else ""))
    case = Case({"clt": clt_impl(ctx, step)}, amount=flops, flops=flops, bytes=nbytes,
                device=ctx.device, size=size)

    def torch_step(torch: Any):
        tx = torch.tensor(xs, requires_grad=True)
        tw = torch.tensor(ws, requires_grad=True)
        tg = torch.from_numpy(np.asarray(gy.numpy()))

        def run() -> None:
            tx.grad = tw.grad = None
            torch.nn.functional.conv2d(tx, tw, None, stride, pad, 1, groups).backward(tg)
        return run
    add_torch(case, ctx, torch_step)
    return case


def _layer(*shape: int, small: tuple[int, ...] | None = None):
    def build(ctx: Context) -> Case:
        n = shape[0] if ctx.mode != "smoke" else 2
        rest = shape[1:] if ctx.mode != "smoke" or small is None else small
        return _conv_case(ctx, n, *rest)
    return build


WORKLOADS = [
    Workload("conv.mnist1", "conv 3x3 1->32, 64 x 28x28", "conv", "FLOP/s", "flops",
             _layer(64, 1, 28, 32, 3, 1, 1)),
    Workload("conv.mnist2", "conv 3x3 32->64, 64 x 14x14", "conv", "FLOP/s", "flops",
             _layer(64, 32, 14, 64, 3, 1, 1, small=(8, 7, 16, 3, 1, 1))),
    Workload("conv.resnet64", "conv 3x3 64->64, 16 x 32x32 (ResNet stage 1, CIFAR)", "conv",
             "FLOP/s", "flops", _layer(16, 64, 32, 64, 3, 1, 1, small=(8, 8, 8, 3, 1, 1))),
    Workload("conv.resnet_s2", "conv 3x3 64->128 stride 2, 16 x 32x32", "conv", "FLOP/s",
             "flops", _layer(16, 64, 32, 128, 3, 2, 1, small=(8, 8, 16, 3, 2, 1)),
             quick=False),
    Workload("conv.pointwise", "conv 1x1 128->256, 16 x 16x16", "conv", "FLOP/s", "flops",
             _layer(16, 128, 16, 256, 1, 1, 0, small=(8, 8, 16, 1, 1, 0)), quick=False),
    Workload("conv.depthwise", "depthwise conv 3x3, 128 ch, 16 x 28x28", "conv", "FLOP/s",
             "flops", _layer(16, 128, 28, 128, 3, 1, 1, 128, small=(8, 8, 8, 3, 1, 1, 8)),
             quick=False),
]
