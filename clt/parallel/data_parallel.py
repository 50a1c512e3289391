"""Data parallelism over several OpenCL devices in one process.

``DataParallel(module, devices)`` keeps the module (the master copy) on ``devices[0]`` and a
replica on every other device. Each forward:

1. broadcasts the master's parameters to the replicas as ONE packed transfer per device and
   dtype (a differentiable op: in backward, the replicas' gradients come back to the master the
   same way, packed, and are summed into the master's ``.grad`` -- the all-reduce);
2. splits the batch along ``dim`` in shares proportional to each device's measured speed;
3. runs every replica's forward; the host only enqueues, so the devices compute concurrently;
4. gathers the outputs on ``output_device`` (differentiable).

The optimizer steps the master's parameters only; the next forward broadcasts them, so replicas
are always identical to the master. Buffers (BatchNorm running statistics) are broadcast from the
master each forward and updates made by replicas are discarded: the master's statistics come from
its own shard, exactly as PyTorch's ``nn.DataParallel``. Devices that share a context copy
device-to-device; others stage through the host.
"""
from __future__ import annotations

import copy
from collections import OrderedDict
from typing import Any, Sequence

import numpy as np
import pyopencl as cl

from clt.autograd.function import Function
from clt.backend.device import Device, device as select
from clt.nn.module import Module, ModuleWrapper
from clt.ops import elementwise as ew
from clt.ops.array import Array
from clt.ops.transfer import to_numpy
from clt.tensor import Tensor


def _pack(arrays: Sequence[Array], device: Device) -> Array:
    """Copy arrays (same dtype, one device) into one flat buffer: one kernel each, no sync."""
    total = sum(a.numel for a in arrays)
    flat = Array.empty(device, (total,), arrays[0].dtype)
    off = 0
    for a in arrays:
        n = a.numel
        if n:
            ew.copy_(flat.view(a.shape, _contig(a.shape), off), a)
        off += n
    return flat


def _contig(shape: tuple) -> tuple:
    from clt.ops.shapes import contiguous_strides

    return contiguous_strides(shape)


def _unpack(flat: Array, shapes: Sequence[tuple]) -> list[Array]:
    out, off = [], 0
    for shape in shapes:
        n = int(np.prod(shape)) if shape else 1
        out.append(flat.view(shape, _contig(shape), off))
        off += n
    return out


def transfer_flat(flat: Array, dst: Device) -> Array:
    """Move a flat array to ``dst``: device-to-device within a context, else via the host.

    Args:
        flat: A 1-D array.
        dst: The destination device.

    Returns:
        ``flat`` itself if already on ``dst``, else a copy there.
    """
    src = flat.device
    if dst is src:
        return flat
    out = Array.empty(dst, flat.shape, flat.dtype)
    if src.context == dst.context:
        src.synchronize()
        cl.enqueue_copy(dst.queue, out.buffer, flat.buffer, byte_count=flat.nbytes)
        return out
    host = to_numpy(flat)                       # waits for src's queue
    dst.upload(out.buffer, host, blocking=False)
    out.storage.pending = host
    return out


def _grouped(arrays: Sequence[Array]) -> dict[Any, list[int]]:
    groups: dict[Any, list[int]] = OrderedDict()
    for i, a in enumerate(arrays):
        groups.setdefault(a.dtype, []).append(i)
    return groups


def broadcast_arrays(arrays: Sequence[Array], dst: Device) -> list[Array]:
    """Copies of ``arrays`` on ``dst``, one packed transfer per dtype.

    Args:
        arrays: Arrays on one device.
        dst: The destination device.

    Returns:
        One copy per array, in order.
    """
    out: list[Array | None] = [None] * len(arrays)
    for _, idx in _grouped(arrays).items():
        flat = transfer_flat(_pack([arrays[i] for i in idx], arrays[idx[0]].device), dst)
        for i, a in zip(idx, _unpack(flat, [arrays[i].shape for i in idx])):
            out[i] = a
    return out   # type: ignore[return-value]


class _Broadcast(Function):
    """Master parameters -> replica tensors; backward sums replica gradients into the master."""

    @staticmethod
    def forward(ctx, dst: Device, *params: Tensor) -> tuple:
        ctx.src, ctx.dst = params[0].device, dst
        return tuple(broadcast_arrays([p._data for p in params], dst))

    @staticmethod
    def backward(ctx, *grads: Tensor) -> tuple:
        moved = broadcast_arrays([g._data for g in grads], ctx.src)
        return (None,) + tuple(Tensor(m) for m in moved)


class Balancer:
    """Batch shares per device, proportional to each device's measured speed.

    On measuring steps every kernel launched on the devices is recorded (the profiler hook of
    :meth:`Device.launch`) until the next forward; a device's speed is its shard size divided by
    its *busy* time (the sum of its kernels' device times), so waiting for another device's data
    does not count against it.
    """

    def __init__(self, devices: Sequence[Device], shares: Sequence[float] | None = None,
                 every: int = 10, smoothing: float = 0.5) -> None:
        self.devices = list(devices)
        n = len(self.devices)
        self.fixed = shares is not None
        s = np.asarray(shares if shares is not None else [1.0] * n, dtype=np.float64)
        if len(s) != n or (s <= 0).any():
            raise ValueError(f"shares must be {n} positive numbers, got {list(s)}")
        self.shares = s / s.sum()
        self.every, self.smoothing = every, smoothing
        self.step = 0
        self._events: dict[str, list] = {}
        self._recording = False
        self._sizes: list[int] = []
        self.last_split: list[int] = []
        self.device_times: list[float] = []

    def split(self, n: int) -> list[int]:
        """Split a batch of ``n`` samples across the devices in proportion to their shares.

        Args:
            n: The batch size.

        Returns:
            One chunk size per device, summing to ``n`` (each at least 1 when ``n`` allows).
        """
        k = len(self.devices)
        if n < k:
            sizes = [1] * n + [0] * (k - n)
        else:
            raw = self.shares * n
            sizes = np.maximum(np.floor(raw).astype(int), 1)
            while sizes.sum() < n:
                sizes[int(np.argmax(raw - sizes))] += 1
            while sizes.sum() > n:
                sizes[int(np.argmax(sizes))] -= 1
            sizes = sizes.tolist()
        self.last_split = sizes
        return sizes

    def record(self, device: Device, name: str, event: Any) -> None:
        """Profiler hook: called by ``Device.launch`` while recording.

        Args:
            device: The device that launched the kernel.
            name: The kernel name (unused).
            event: The launch's OpenCL event.
        """
        self._events.setdefault(device.id, []).append(event)

    def begin_step(self, sizes: list[int]) -> None:
        """Fold in the previous measured step, then start recording this one if it's due.

        Args:
            sizes: The chunk size given to each device in this step.
        """
        if self._recording:
            for d in self.devices:
                if d.profiler is self:
                    d.profiler = None
            self._recording = False
            times = []
            for d in self.devices:
                busy = 0
                for ev in self._events.get(d.id, ()):
                    ev.wait()
                    busy += ev.profile.end - ev.profile.start
                times.append(max(busy * 1e-9, 1e-9))
            self._events = {}
            if all(t > 1e-9 for t in times):
                self.device_times = times
                n = np.maximum(np.asarray(self._sizes, dtype=np.float64), 1)
                speed = n / np.asarray(times)
                target = speed / speed.sum()
                self.shares = (1 - self.smoothing) * self.shares + self.smoothing * target
                self.shares /= self.shares.sum()
        self._sizes = sizes
        due = not self.fixed and self.step % self.every == 0
        if due and all(d.profiler is None for d in self.devices):   # never displace a user's
            for d in self.devices:
                d.profiler = self
            self._recording = True
        self.step += 1


def replicate(module: Module, device: Device) -> Module:
    """A structural copy of ``module`` whose parameters/buffers will be set per forward.

    Args:
        module: The module to copy.
        device: The device the replica serves.

    Returns:
        The replica.
    """
    memo: dict[int, Module] = {}

    def clone(m: Module) -> Module:
        if id(m) in memo:
            return memo[id(m)]
        new = copy.copy(m)
        memo[id(m)] = new
        object.__setattr__(new, "_parameters", OrderedDict((k, None) for k in m._parameters))
        object.__setattr__(new, "_buffers", OrderedDict((k, None) for k in m._buffers))
        object.__setattr__(new, "_modules", OrderedDict(
            (k, clone(c) if c is not None else None) for k, c in m._modules.items()))
        return new

    return clone(module)


class DataParallel(ModuleWrapper):
    """Split each batch across ``devices`` and run one replica of ``module`` per device.

    Args:
        module: the model; it is moved to ``devices[0]`` (its parameters are the master copy).
        devices: Devices or selectors (default: every device).
        output_device: where outputs are gathered (default ``devices[0]``).
        dim: the batch dim to split.
        shares: fixed relative batch shares per device; default: measured and re-balanced
            every ``rebalance_every`` steps.

    Attributes:
        balancer.last_split: the batch sizes of the last forward; ``balancer.shares`` the shares.
    """

    def __init__(self, module: Module, devices: Sequence[Any] | None = None,
                 output_device: Any = None, dim: int = 0, shares: Sequence[float] | None = None,
                 rebalance_every: int = 10) -> None:
        super().__init__()
        from clt.backend.device import devices as all_devices

        devs = [select(d) for d in devices] if devices is not None else all_devices()
        if not devs:
            raise ValueError("DataParallel needs at least one device")
        if len({id(d) for d in devs}) != len(devs):
            raise ValueError(f"DataParallel: devices repeat: {[d.id for d in devs]}")
        self.device_list = devs
        self.output_device = select(output_device) if output_device is not None else devs[0]
        self.dim = dim
        module.to(devs[0])
        self.module = module
        object.__setattr__(self, "_replicas", [replicate(module, d) for d in devs[1:]])
        for d in devs:
            d.set_profiling(True)      # the balancer reads kernels' device times
        object.__setattr__(self, "balancer", Balancer(devs, shares, rebalance_every))

    def _sync_replica(self, replica: Module, dev: Device) -> None:
        names = [(m, k) for _, m in self.module.named_modules() for k, p in m._parameters.items()
                 if p is not None]
        rep_mods = dict(zip([id(m) for _, m in self.module.named_modules()],
                            [m for _, m in replica.named_modules()]))
        params = [m._parameters[k] for m, k in names]
        if params:
            copies = _Broadcast.apply(dev, *params)
            copies = copies if isinstance(copies, tuple) else (copies,)
            for (m, k), t in zip(names, copies):
                rep_mods[id(m)]._parameters[k] = t
        bufs = [(m, k) for _, m in self.module.named_modules() for k, b in m._buffers.items()
                if b is not None]
        if bufs:
            moved = broadcast_arrays([m._buffers[k]._data for m, k in bufs], dev)
            for (m, k), a in zip(bufs, moved):
                rep_mods[id(m)]._buffers[k] = Tensor(a)
        for (_, m), (_, r) in zip(self.module.named_modules(), replica.named_modules()):
            object.__setattr__(r, "training", m.training)

    def forward(self, *inputs: Any) -> Any:
        """Split the inputs along ``dim``, run the replicas on their devices, and gather the outputs
        on ``output_device``."""
        if len(self.device_list) == 1:
            return self.module(*inputs)
        x0 = inputs[0]
        n = x0.shape[self.dim]
        sizes = self.balancer.split(n)
        self.balancer.begin_step(sizes)
        outs = []
        start = 0
        for i, (dev, size) in enumerate(zip(self.device_list, sizes)):
            if size == 0:
                continue
            chunk = [t.narrow(self.dim, start, size) if isinstance(t, Tensor) else t
                     for t in inputs]
            start += size
            if i == 0:
                out = self.module(*chunk)
            else:
                replica = self._replicas[i - 1]
                self._sync_replica(replica, dev)
                out = replica(*[c.to(dev) if isinstance(c, Tensor) else c for c in chunk])
            outs.append(out)
        return gather(outs, self.output_device, self.dim)

    def extra_repr(self) -> str:
        """The device ids and the split dim.

        Returns:
            A short description for ``repr()``.
        """
        return f"devices={[d.id for d in self.device_list]}, dim={self.dim}"


def gather(outputs: Sequence[Any], device: Device, dim: int = 0) -> Any:
    """Concatenate per-device outputs on ``device`` (tensors, or tuples/dicts of them).

    Args:
        outputs: One output per device, of the same structure.
        device: Where to put the result.
        dim: The dim to concatenate along.

    Returns:
        The gathered output.

    Raises:
        TypeError: If an output is not a Tensor, tuple, list or dict.
    """
    import clt

    first = outputs[0]
    if isinstance(first, Tensor):
        moved = [o.to(device) for o in outputs]
        return clt.cat(moved, dim) if len(moved) > 1 else moved[0]
    if isinstance(first, (tuple, list)):
        return type(first)(gather([o[i] for o in outputs], device, dim) for i in range(len(first)))
    if isinstance(first, dict):
        return {k: gather([o[k] for o in outputs], device, dim) for k in first}
    raise TypeError(f"DataParallel can't gather outputs of type {type(first).__name__}")


def scatter(x: Tensor, devices: Sequence[Any], dim: int = 0,
            sizes: Sequence[int] | None = None) -> list[Tensor]:
    """Split ``x`` along ``dim`` and move the pieces to ``devices``.

    Args:
        x: The tensor to split.
        devices: The target devices (anything ``clt.device`` accepts).
        dim: The dim to split along.
        sizes: Chunk sizes (default: as equal as possible).

    Returns:
        One chunk per device.

    Raises:
        ValueError: If ``sizes`` doesn't add up to ``x.shape[dim]``.
    """
    devs = [select(d) for d in devices]
    n = x.shape[dim]
    if sizes is None:
        base, extra = divmod(n, len(devs))
        sizes = [base + (i < extra) for i in range(len(devs))]
    if sum(sizes) != n:
        raise ValueError(f"scatter sizes {list(sizes)} don't add up to {n}")
    out, start = [], 0
    for d, s in zip(devs, sizes):
        out.append(x.narrow(dim, start, s).to(d))
        start += s
    return out
