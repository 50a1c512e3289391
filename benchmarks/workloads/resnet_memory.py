"""Peak memory of a ResNet-18 training step: clt's device pool against PyTorch CPU's allocator.

The measure is the same for both: the peak of the bytes *in use* (allocated and not yet freed;
cached free blocks don't count) during one training step, ``opt.zero_grad()``, forward,
cross-entropy, ``backward()``, SGD-momentum ``opt.step()``, on a fixed batch. Before the
measured step the model, the batch and one step's gradients and momentum buffers are resident
(a first step has run). Two figures per implementation:

* ``resident_bytes``: in use just before the step (parameters, buffers, gradients, momentum,
  the batch);
* ``step_peak_bytes``: the step's peak above that (activations kept for backward, workspaces,
  new gradients while the old ones are already dropped by ``zero_grad``);

and the row's value, the absolute peak, is their sum.

clt: the device pool's statistics (``Device.memory``: ``reset_peak()`` just before the step,
``peak_bytes`` after it and a synchronisation). The pool counts blocks rounded up to its bin
sizes (at most 1/16 more), so its figures are what the device really holds, not the tensors'
sizes; ``tensor_bytes`` gives the unrounded resident tensors for comparison.

PyTorch CPU has no allocator statistics, so its allocation events are read from
``torch.profiler.profile(profile_memory=True)``: every allocation and free (with its size) in
time order, summed into the bytes in use. A free of a block allocated before the profiler
started has no size, so the profiler covers a warm-up step too and only steps after it are
measured (their ``zero_grad`` then frees gradients the profiler saw allocated). The resident
bytes are the sizes of the resident tensors' storages. oneDNN's scratch memory comes from
PyTorch's CPU allocator and is included.

The torch model is torchvision's ``resnet18`` code (``ReLU(inplace=True)``, ``out += identity``),
as is clt's ``clt.models.resnet18``.
"""
from __future__ import annotations

import gc
from typing import Any

import numpy as np

from benchmarks.core import Case, Context, Workload
from benchmarks.peers import THREADS

SIZE = 32           # CIFAR-size images, as the ResNet-18 timing workloads
CLASSES = 10


def _batch(n: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return (rng.standard_normal((n, 3, SIZE, SIZE)).astype(np.float32),
            rng.integers(0, CLASSES, n).astype(np.int64))


def measure_clt(device: Any, batch: int, steps: int = 1) -> dict[str, Any]:
    """Resident bytes and per-step peaks of clt's ResNet-18 training step on ``device``.

    Args:
        device: The clt device.
        batch: Images per batch (3 x 32 x 32).
        steps: How many steps to measure (each after the warm-up step).

    Returns:
        ``resident_bytes`` (pool bytes in use before a step, beyond those in use before the
        model was built), ``step_peaks`` (per step, the peak above the bytes in use at its
        start), ``tensor_bytes`` (sizes of parameters, gradients, momentum, buffers and batch)
        and ``param_bytes``.
    """
    import clt
    import clt.nn.functional as F
    from clt.models import resnet18
    from clt.optim import SGD

    pool = device.memory
    gc.collect()
    device.synchronize()
    before = pool.allocated_bytes
    clt.manual_seed(0)
    model = resnet18(num_classes=CLASSES, device=device)
    model.train()
    opt = SGD(model.parameters(), lr=0.01, momentum=0.9)
    hx, hy = _batch(batch)
    x, y = clt.tensor(hx, device=device), clt.tensor(hy, device=device)

    def step() -> None:
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
    step()
    device.synchronize()
    gc.collect()
    resident = pool.allocated_bytes
    peaks = []
    for _ in range(steps):
        start = pool.allocated_bytes
        pool.reset_peak()
        step()
        device.synchronize()
        peaks.append(pool.peak_bytes - start)
    params = list(model.parameters())
    tensors = params + [p.grad for p in params] + list(model.buffers()) + [x, y] + [
        s["momentum_buffer"] for s in opt.state.values() if s.get("momentum_buffer") is not None]
    out = {"resident_bytes": resident - before, "step_peaks": peaks,
           "tensor_bytes": sum(t.numel() * t.element_size() for t in tensors if t is not None),
           "param_bytes": sum(p.numel() * p.element_size() for p in params)}
    del model, opt, x, y, params, tensors
    gc.collect()
    return out


def torch_resnet18(torch: Any, classes: int = CLASSES) -> Any:
    """torchvision's ``resnet18`` written with ``torch.nn`` (torchvision is not installable
    beside the CPU torch wheel here): the same code (in-place ReLU, ``out += identity``) and the
    same module names, so its state dict maps key for key onto ``clt.models.resnet18``'s."""
    tn = torch.nn

    class BasicBlock(tn.Module):
        def __init__(self, cin: int, cout: int, stride: int) -> None:
            super().__init__()
            self.conv1 = tn.Conv2d(cin, cout, 3, stride, 1, bias=False)
            self.bn1 = tn.BatchNorm2d(cout)
            self.relu = tn.ReLU(inplace=True)
            self.conv2 = tn.Conv2d(cout, cout, 3, 1, 1, bias=False)
            self.bn2 = tn.BatchNorm2d(cout)
            self.downsample = (tn.Sequential(tn.Conv2d(cin, cout, 1, stride, bias=False),
                                             tn.BatchNorm2d(cout))
                               if stride != 1 or cin != cout else None)

        def forward(self, x: Any) -> Any:
            identity = x if self.downsample is None else self.downsample(x)
            out = self.relu(self.bn1(self.conv1(x)))
            out = self.bn2(self.conv2(out))
            out += identity
            return self.relu(out)

    class ResNet(tn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv1 = tn.Conv2d(3, 64, 7, 2, 3, bias=False)
            self.bn1 = tn.BatchNorm2d(64)
            self.relu = tn.ReLU(inplace=True)
            self.maxpool = tn.MaxPool2d(3, 2, 1)
            cin = 64
            for i, (cout, stride) in enumerate(((64, 1), (128, 2), (256, 2), (512, 2)), 1):
                setattr(self, f"layer{i}", tn.Sequential(BasicBlock(cin, cout, stride),
                                                         BasicBlock(cout, cout, 1)))
                cin = cout
            self.avgpool = tn.AdaptiveAvgPool2d(1)
            self.fc = tn.Linear(512, classes)

        def forward(self, x: Any) -> Any:
            x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
            x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
            return self.fc(torch.flatten(self.avgpool(x), 1))

    return ResNet()


def _storage_bytes(tensors: list) -> int:
    seen: dict[int, int] = {}
    for t in tensors:
        if t is not None:
            s = t.untyped_storage()
            seen[s.data_ptr()] = s.nbytes()
    return sum(seen.values())


def measure_torch(torch: Any, batch: int, steps: int = 1) -> dict[str, Any]:
    """The same measure as :func:`measure_clt` for PyTorch CPU, from the profiler's allocation
    events (see the module docstring).

    Returns:
        As :func:`measure_clt`, plus ``end_deltas``: per step, the bytes in use at its end minus
        at its start (0 in a steady state: a check that no free went unseen).
    """
    from torch._C._profiler import _EventType
    from torch.profiler import ProfilerActivity, profile, record_function

    torch.manual_seed(0)
    model = torch_resnet18(torch)
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    hx, hy = _batch(batch)
    x, y = torch.from_numpy(hx), torch.from_numpy(hy)

    def step() -> None:
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    step()
    gc.collect()
    params = list(model.parameters())
    tensors = params + [p.grad for p in params] + list(model.buffers()) + [x, y] + [
        s["momentum_buffer"] for s in opt.state.values() if s.get("momentum_buffer") is not None]
    resident = _storage_bytes(tensors)
    names = [f"clt_bench_step{i}" for i in range(steps + 1)]
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        for name in names:
            with record_function(name):
                step()
    events: list[tuple[int, int]] = []
    spans: dict[str, tuple[int, int]] = {}
    todo = list(prof.profiler.kineto_results.experimental_event_tree())
    while todo:
        e = todo.pop()
        if e.tag == _EventType.Allocation:
            events.append((e.start_time_ns, e.extra_fields.alloc_size))
        elif e.name in names:
            spans[e.name] = (e.start_time_ns, e.end_time_ns)
        todo.extend(e.children)
    events.sort()
    peaks, deltas = [], []
    for name in names[1:]:       # the first profiled step frees blocks of unknown size
        t0, t1 = spans[name]
        level = peak = 0
        for t, size in events:
            if t0 <= t <= t1:
                level += size
                peak = max(peak, level)
        peaks.append(peak)
        deltas.append(level)
    return {"resident_bytes": resident, "step_peaks": peaks, "end_deltas": deltas,
            "tensor_bytes": resident, "param_bytes": _storage_bytes(params)}


def _fields(m: dict[str, Any]) -> dict[str, Any]:
    step = float(np.median(m["step_peaks"]))
    out = {"resident_bytes": m["resident_bytes"], "step_peak_bytes": step,
           "peak_bytes": m["resident_bytes"] + step, "tensor_bytes": m["tensor_bytes"],
           "param_bytes": m["param_bytes"]}
    if "end_deltas" in m:
        out["end_deltas"] = m["end_deltas"]
    return out


def build_resnet_memory(ctx: Context) -> Case:
    batch = ctx.pick(2, 16, 32)
    steps = ctx.pick(2, 3, 3)
    clt_m = measure_clt(ctx.device, batch, steps)
    case = Case({}, device=ctx.device, size=f"batch {batch}, 3x32x32, float32")
    case.direct["clt"] = [clt_m["resident_bytes"] + p for p in clt_m["step_peaks"]]
    case.extra["clt"] = _fields(clt_m)
    torch = ctx.peers.torch
    if torch is None:
        case.skipped["torch"] = ctx.peers.reasons.get("torch", "not installed")
        return case
    threads = torch.get_num_threads()
    try:
        for n in THREADS:
            torch.set_num_threads(n)
            m = measure_torch(torch, batch, steps)
            name = f"torch-{n}t"
            case.direct[name] = [m["resident_bytes"] + p for p in m["step_peaks"]]
            case.extra[name] = _fields(m)
    except Exception as exc:
        case.skipped["torch"] = f"{type(exc).__name__}: {exc}"[:200]
    finally:
        torch.set_num_threads(threads)
    ref = min((v for k, v in case.extra.items() if k.startswith("torch")),
              key=lambda f: f["peak_bytes"], default=None)
    if ref is not None:
        mine = case.extra["clt"]
        mine["peak_ratio_to_torch"] = mine["peak_bytes"] / ref["peak_bytes"]
        mine["step_peak_ratio_to_torch"] = mine["step_peak_bytes"] / max(ref["step_peak_bytes"], 1)
        case.notes.append(f"peak {mine['peak_ratio_to_torch']:.2f}x torch's; above the resident "
                          f"bytes {mine['step_peak_ratio_to_torch']:.2f}x "
                          f"({mine['step_peak_bytes'] / 1e6:.1f} MB vs "
                          f"{ref['step_peak_bytes'] / 1e6:.1f} MB)")
    return case


WORKLOADS = [
    Workload("mem.resnet18_step", "ResNet-18 train step peak memory in use, 32x32 input",
             "memory use", "B", None, build_resnet_memory),
]
