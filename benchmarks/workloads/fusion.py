"""What clt's fused kernels save on the MLP and CNN training steps.

Each case runs one training step (``zero_grad``, forward, cross entropy, backward, optimizer
step) on the models of :mod:`benchmarks.workloads.training`, as several implementations on
their own copies of the model (same initial weights):

* ``clt``: every fused path on (:mod:`clt.backend.fusion`), clt as shipped;
* ``clt-unfused``: every path off, so the ``clt`` row's ``vs["clt-unfused"]`` is fused speed
  over unfused speed (above 1: fusion saves time);
* ``clt-no-<path>`` (quick and full runs): one path off at a time, for the breakdown.

The builder profiles the unfused implementations for a few calls, so their rows carry
``device_s`` (kernel time per step) and ``kernels_per_call`` as the ``clt`` row does.

For a closer look, ``python -m benchmarks.bench_fusion [--rounds N]`` times every setting in
many interleaved rounds and reports per-round paired ratios with device time per step.
"""
from __future__ import annotations

from typing import Any, Callable

from benchmarks.core import Case, Context, Workload, profile_clt
from benchmarks.workloads import clt_impl
from benchmarks.workloads.training import MLP_SIZES, _data


def mlp_model(ctx: Context) -> Any:
    import clt.nn as nn

    d, kw = MLP_SIZES, dict(device=ctx.device)
    return nn.Sequential(nn.Linear(d[0], d[1], **kw), nn.ReLU(), nn.Linear(d[1], d[2], **kw),
                         nn.ReLU(), nn.Linear(d[2], d[3], **kw))


def cnn_model(ctx: Context) -> Any:
    import clt.nn as nn

    kw = dict(device=ctx.device)
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1, **kw), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1, **kw), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(64 * 7 * 7, 10, **kw))


def make_step(make_model: Callable[[], Any], optim: str, x: Any, y: Any, enabled: bool,
              only: tuple[str, ...] | None) -> Callable[[], None]:
    """A step of a fresh model (seeded alike) with the fusion paths ``only`` (all: None) set."""
    import clt
    import clt.nn.functional as F
    from clt.backend.fusion import fusion

    clt.manual_seed(0)
    model = make_model()
    opt = (clt.optim.SGD(model.parameters(), lr=0.01, momentum=0.9) if optim == "sgd"
           else clt.optim.Adam(model.parameters(), lr=1e-3))

    def step() -> None:
        with fusion(enabled, only=only):
            opt.zero_grad()
            F.cross_entropy(model(x), y).backward()
            opt.step()
    return step


def _case(ctx: Context, make_model: Callable[[], Any], optim: str, shape: tuple[int, ...],
          flops: float) -> Case:
    _, _, cx, cy = _data(ctx, shape)
    impls = {"clt": clt_impl(ctx, make_step(make_model, optim, cx, cy, True, None))}
    impls["clt-unfused"] = clt_impl(ctx, make_step(make_model, optim, cx, cy, False, None))
    if ctx.mode != "smoke":
        from clt.backend.fusion import PATHS

        for path in PATHS:
            step = make_step(make_model, optim, cx, cy, False, (path,))
            impls[f"clt-no-{path}"] = clt_impl(ctx, step)
    impls["clt"].note = "every fused path on"
    impls["clt-unfused"].note = "every fused path off (clt.backend.fusion)"
    case = Case(impls, amount=shape[0], flops=flops, device=ctx.device,
                size=f"batch {shape[0]}, {'SGD momentum' if optim == 'sgd' else 'Adam'}")
    case.notes.append("vs['clt-unfused'] > 1: the fused kernels make the step that much faster")
    _profile_unfused(ctx, case)
    return case


def _profile_unfused(ctx: Context, case: Case) -> None:
    """Device time per call of every implementation but ``clt`` (which the suite profiles)."""
    calls = ctx.pick(1, 3, 5)
    for name, impl in case.impls.items():
        if name == "clt":
            continue
        for _ in range(ctx.warmup):
            impl.fn()
        ctx.device.synchronize()
        try:
            case.extra[name] = profile_clt(case, impl, calls)
        except Exception as exc:      # the timing still stands without a profile
            case.extra[name] = {"profile_error": f"{type(exc).__name__}: {exc}"[:200]}


def build_mlp(ctx: Context, optim: str = "sgd") -> Case:
    batch, d = 128, MLP_SIZES
    flops = 3 * 2.0 * batch * sum(a * b for a, b in zip(d, d[1:]))
    return _case(ctx, lambda: mlp_model(ctx), optim, (batch, d[0]), flops)


def build_cnn(ctx: Context) -> Case:
    batch = ctx.pick(8, 64, 64)
    fwd = 2.0 * batch * (32 * 28 * 28 * 9 + 64 * 14 * 14 * 32 * 9 + 64 * 7 * 7 * 10)
    return _case(ctx, lambda: cnn_model(ctx), "sgd", (batch, 1, 28, 28), 3 * fwd)


WORKLOADS = [
    Workload("fusion.mlp", "MLP 784-512-256-10 step, SGD momentum: fused vs unfused kernels",
             "fusion", "samples/s", "flops", build_mlp),
    Workload("fusion.mlp_adam", "MLP 784-512-256-10 step, Adam: fused vs unfused kernels",
             "fusion", "samples/s", "flops", lambda ctx: build_mlp(ctx, "adam")),
    Workload("fusion.cnn", "CNN step (train.cnn's model), SGD momentum: fused vs unfused "
             "kernels", "fusion", "samples/s", "flops", build_cnn),
]
