"""Training workloads: optimizer steps, MLP / CNN / ResNet-18 steps, data-loader throughput.

Model steps are forward + backward + SGD-momentum update (``opt.zero_grad(); loss.backward();
opt.step()``) on a fixed batch, in samples/s; their FLOPs (forward x 3, counted from the layer
shapes) give the fraction of peak. PyTorch runs the same model at 1 and 2 threads; tinygrad the
MLP and CNN under ``TinyJit`` (the way its training loops are written).
"""
from __future__ import annotations

import itertools
from typing import Any, Callable

import numpy as np

from benchmarks.core import Case, Context, Impl, Workload
from benchmarks.workloads import add_numpy, add_tinygrad, add_torch, clt_impl
from benchmarks.workloads.resnet_memory import torch_resnet18

MLP_SIZES = (784, 512, 256, 10)


# -- optimizers -----------------------------------------------------------------------------

def _optim_case(ctx: Context, cls: str, opts: dict[str, Any], per_elem: int) -> Case:
    import clt
    import clt.nn
    import clt.optim

    numel = ctx.pick(1 << 16, 2_000_000, 10_000_000)
    count = 20
    sizes = [numel // count + (1 if i < numel % count else 0) for i in range(count)]
    rng = np.random.default_rng(0)
    host = [rng.standard_normal(s).astype(np.float32) for s in sizes]
    grads = [rng.standard_normal(s).astype(np.float32) * 1e-3 for s in sizes]
    params = [clt.nn.Parameter(clt.tensor(h, device=ctx.device)) for h in host]
    for p, g in zip(params, grads):
        p.grad = clt.tensor(g, device=ctx.device)
    opt = getattr(clt.optim, cls)(params, **opts)
    nbytes = per_elem * 4.0 * numel
    case = Case({"clt": clt_impl(ctx, opt.step)}, amount=nbytes, bytes=nbytes,
                device=ctx.device, size=f"{numel / 1e6:g}M float32 in {count} tensors")

    def torch_opt(torch: Any):
        tp = [torch.nn.Parameter(torch.from_numpy(h.copy())) for h in host]
        for p, g in zip(tp, grads):
            p.grad = torch.from_numpy(g)
        return getattr(torch.optim, cls)(tp, foreach=True, **opts).step
    add_torch(case, ctx, torch_opt)
    return case


def build_sgd(ctx: Context) -> Case:
    return _optim_case(ctx, "SGD", dict(lr=0.01, momentum=0.9), 5)


def build_adam(ctx: Context) -> Case:
    return _optim_case(ctx, "Adam", dict(lr=1e-3), 7)


# -- models ---------------------------------------------------------------------------------

def _clt_step(model: Any, x: Any, y: Any) -> Callable[[], None]:
    import clt.nn.functional as F
    from clt.optim import SGD

    opt = SGD(model.parameters(), lr=0.01, momentum=0.9)

    def step() -> None:
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
    return step


def _torch_step(torch: Any, model: Any, x: np.ndarray, y: np.ndarray) -> Callable[[], None]:
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    tx, ty = torch.from_numpy(x), torch.from_numpy(y)

    def step() -> None:
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(tx), ty).backward()
        opt.step()
    return step


def _tinygrad_step(tg: Any, model: Callable[[Any], Any], params: list, x: np.ndarray,
                   y: np.ndarray) -> Callable[[], Any]:
    from tinygrad import TinyJit
    from tinygrad.helpers import Context as TGContext

    opt = tg.nn.optim.SGD(params, lr=0.01, momentum=0.9)
    tx, ty = tg.Tensor(x).realize(), tg.Tensor(y.astype(np.int32)).realize()

    @TinyJit
    def step(xb: Any, yb: Any) -> Any:
        with TGContext(TRAINING=1):
            opt.zero_grad()
            loss = model(xb).sparse_categorical_crossentropy(yb).backward()
            opt.step()
            return loss.realize()
    return lambda: step(tx, ty)


def _data(ctx: Context, shape: tuple[int, ...], classes: int = 10
          ) -> tuple[np.ndarray, np.ndarray, Any, Any]:
    import clt

    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape).astype(np.float32)
    y = rng.integers(0, classes, shape[0]).astype(np.int64)
    return x, y, clt.tensor(x, device=ctx.device), clt.tensor(y, device=ctx.device)


def build_mlp(ctx: Context) -> Case:
    import clt
    import clt.nn as nn

    batch = 128
    clt.manual_seed(0)
    d = MLP_SIZES
    model = nn.Sequential(nn.Linear(d[0], d[1], device=ctx.device), nn.ReLU(),
                          nn.Linear(d[1], d[2], device=ctx.device), nn.ReLU(),
                          nn.Linear(d[2], d[3], device=ctx.device))
    x, y, cx, cy = _data(ctx, (batch, d[0]))
    flops = 3 * 2.0 * batch * sum(a * b for a, b in zip(d, d[1:]))
    case = Case({"clt": clt_impl(ctx, _clt_step(model, cx, cy))}, amount=batch, flops=flops,
                device=ctx.device, size=f"batch {batch}")

    def torch_mlp(torch: Any):
        torch.manual_seed(0)
        m = torch.nn.Sequential(torch.nn.Linear(d[0], d[1]), torch.nn.ReLU(),
                                torch.nn.Linear(d[1], d[2]), torch.nn.ReLU(),
                                torch.nn.Linear(d[2], d[3]))
        return _torch_step(torch, m, x, y)
    add_torch(case, ctx, torch_mlp)

    def tg_mlp(tg: Any):
        ls = [tg.nn.Linear(a, b) for a, b in zip(d, d[1:])]

        def fwd(t: Any) -> Any:
            return ls[2](ls[1](ls[0](t).relu()).relu())
        return _tinygrad_step(tg, fwd, tg.nn.state.get_parameters(ls), x, y)
    add_tinygrad(case, ctx, tg_mlp, note="TinyJit")
    return case


def build_cnn(ctx: Context) -> Case:
    import clt
    import clt.nn as nn

    batch = ctx.pick(8, 64, 64)
    clt.manual_seed(0)
    kw = dict(device=ctx.device)
    model = nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1, **kw), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1, **kw), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(64 * 7 * 7, 10, **kw))
    x, y, cx, cy = _data(ctx, (batch, 1, 28, 28))
    fwd = 2.0 * batch * (32 * 28 * 28 * 9 + 64 * 14 * 14 * 32 * 9 + 64 * 7 * 7 * 10)
    case = Case({"clt": clt_impl(ctx, _clt_step(model, cx, cy))}, amount=batch, flops=3 * fwd,
                device=ctx.device, size=f"batch {batch}")

    def torch_cnn(torch: Any):
        torch.manual_seed(0)
        tn = torch.nn
        m = tn.Sequential(tn.Conv2d(1, 32, 3, padding=1), tn.ReLU(), tn.MaxPool2d(2),
                          tn.Conv2d(32, 64, 3, padding=1), tn.ReLU(), tn.MaxPool2d(2),
                          tn.Flatten(), tn.Linear(64 * 7 * 7, 10))
        return _torch_step(torch, m, x, y)
    add_torch(case, ctx, torch_cnn)

    def tg_cnn(tg: Any):
        c1, c2 = tg.nn.Conv2d(1, 32, 3, padding=1), tg.nn.Conv2d(32, 64, 3, padding=1)
        fc = tg.nn.Linear(64 * 7 * 7, 10)

        def fwd(t: Any) -> Any:
            t = c1(t).relu().max_pool2d(2)
            t = c2(t).relu().max_pool2d(2)
            return fc(t.flatten(1))
        return _tinygrad_step(tg, fwd, tg.nn.state.get_parameters([c1, c2, fc]), x, y)
    add_tinygrad(case, ctx, tg_cnn, note="TinyJit")
    return case


def _count_flops(model: Any, x: Any) -> float:
    """Forward FLOPs of the Conv2d and Linear layers, from their output shapes."""
    import clt
    import clt.nn as nn

    total = [0.0]

    def hook(mod: Any, inputs: Any, out: Any) -> None:
        if isinstance(mod, nn.Conv2d):
            kh, kw = mod.kernel_size
            total[0] += 2.0 * out.numel() * (mod.in_channels // mod.groups) * kh * kw
        elif isinstance(mod, nn.Linear):
            total[0] += 2.0 * out.numel() * mod.in_features
    handles = [m.register_forward_hook(hook) for m in model.modules()
               if isinstance(m, (nn.Conv2d, nn.Linear))]
    with clt.no_grad():
        model(x)
    for h in handles:
        h.remove()
    return total[0]


def _resnet_case(ctx: Context, train: bool) -> Case:
    import clt
    from clt.models import resnet18

    batch = ctx.pick(2, 16, 32)
    clt.manual_seed(0)
    model = resnet18(num_classes=10, device=ctx.device)
    x, y, cx, cy = _data(ctx, (batch, 3, 32, 32))
    fwd = _count_flops(model, cx)
    if train:
        model.train()
        fn = _clt_step(model, cx, cy)
    else:
        model.eval()

        def fn() -> Any:
            with clt.no_grad():
                return model(cx)
    case = Case({"clt": clt_impl(ctx, fn)}, amount=batch, flops=(3 if train else 1) * fwd,
                device=ctx.device, size=f"batch {batch}, 3x32x32")

    def torch_resnet(torch: Any):
        torch.manual_seed(0)
        m = torch_resnet18(torch)   # torchvision's code, in-place ReLU as clt's model
        if train:
            m.train()
            return _torch_step(torch, m, x, y)
        m.eval()
        tx = torch.from_numpy(x)

        def run() -> Any:
            with torch.no_grad():
                return m(tx)
        return run
    add_torch(case, ctx, torch_resnet)
    case.skipped["tinygrad"] = "ResNet-18 not written for tinygrad here"
    return case


# -- data loading ---------------------------------------------------------------------------

def build_loader(ctx: Context) -> Case:
    from clt.data import DataLoader, TensorDataset

    n, batch = ctx.pick((2048, 128), (60000, 128), (60000, 128))
    rng = np.random.default_rng(0)
    xs = rng.random((n, 784), dtype=np.float32)
    ys = rng.integers(0, 10, n).astype(np.int64)
    loader = DataLoader(TensorDataset(xs, ys), batch_size=batch, shuffle=True, drop_last=True,
                        device=ctx.device)
    batches = _forever(loader)
    nbytes = batch * (784 * 4 + 8)
    case = Case({"clt": clt_impl(ctx, lambda: next(batches))}, amount=batch, bytes=nbytes,
                device=ctx.device, size=f"{n} x 784 float32, batch {batch}, shuffled, to device")
    idx = _forever_indices(n, batch)

    def gather() -> tuple[np.ndarray, np.ndarray]:
        i = next(idx)
        return xs[i], ys[i]
    add_numpy(case, ctx, gather)
    case.impls["numpy"].note = "host gather only (the floor: no batching framework, no copy)"

    def torch_loader(torch: Any):
        from torch.utils.data import DataLoader as TL
        from torch.utils.data import TensorDataset as TD

        it = _forever(TL(TD(torch.from_numpy(xs), torch.from_numpy(ys)), batch_size=batch,
                         shuffle=True, drop_last=True))
        return lambda: next(it)
    add_torch(case, ctx, torch_loader)
    for k in [k for k in case.impls if k.startswith("torch")]:
        case.impls[k] = Impl(case.impls[k].fn, prepare=case.impls[k].prepare,
                             note="host batches (CPU tensors, no device copy)")
    return case


def _forever(loader: Any) -> Any:
    return itertools.chain.from_iterable(itertools.repeat(loader))


def _forever_indices(n: int, batch: int) -> Any:
    rng = np.random.default_rng(1)
    while True:
        perm = rng.permutation(n)
        for i in range(0, n - batch + 1, batch):
            yield perm[i:i + batch]


WORKLOADS = [
    Workload("optim.sgd", "SGD momentum step over a large parameter set", "optim", "B/s",
             "copy", build_sgd),
    Workload("optim.adam", "Adam step over a large parameter set", "optim", "B/s", "copy",
             build_adam),
    Workload("train.mlp", "MLP 784-512-256-10 train step, SGD momentum", "training",
             "samples/s", "flops", build_mlp),
    Workload("train.cnn", "CNN conv3x3 32 > pool > conv3x3 64 > pool > linear, 28x28x1",
             "training", "samples/s", "flops", build_cnn),
    Workload("train.resnet18_fwd", "ResNet-18 forward (inference), 32x32 input", "training",
             "samples/s", "flops", lambda ctx: _resnet_case(ctx, False)),
    Workload("train.resnet18_step", "ResNet-18 train step, 32x32 input", "training",
             "samples/s", "flops", lambda ctx: _resnet_case(ctx, True)),
    Workload("data.loader", "DataLoader throughput, MNIST-size rows", "data", "samples/s",
             "copy", build_loader),
]
