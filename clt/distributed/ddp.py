"""``DistributedDataParallel``: one model replica per MPI rank, gradients averaged in buckets
that are all-reduced while the rest of the backward pass is still running."""
from __future__ import annotations

import contextlib
from typing import Any, Iterator

import numpy as np

from clt.autograd.engine import queue_callback, register_post_accumulate_grad_hook
from clt.nn.module import Module, ModuleWrapper
from clt.ops.transfer import to_numpy
from clt.tensor import Tensor


class _Bucket:
    def __init__(self, params: list) -> None:
        self.params = params
        self.ready = 0
        self.request: Any = None
        self.send: np.ndarray | None = None
        self.recv: np.ndarray | None = None


class DistributedDataParallel(ModuleWrapper):
    """Wrap ``module`` so that each ``backward`` averages gradients over all ranks.

    At construction every rank checks that the model has the same structure as rank 0's (a clear
    error names the first difference) and takes rank 0's parameters and buffers. During
    backward, parameters are grouped in buckets of about ``bucket_cap_mb``; when every gradient
    of a bucket is accumulated, the bucket is packed, copied to the host and all-reduced with a
    non-blocking MPI call, overlapping communication with the rest of the backward pass. The
    averaged gradients are written back when backward finishes.

    Args:
        module: the model, already on this rank's device.
        bucket_cap_mb: target bucket size.
        broadcast_buffers: copy rank 0's buffers (e.g. BatchNorm statistics) every forward.
    """

    def __init__(self, module: Module, device: Any = None, bucket_cap_mb: float = 25.0,
                 broadcast_buffers: bool = True, check_structure: bool = True) -> None:
        super().__init__()
        from clt import distributed as dist

        if not dist.is_initialized():
            raise dist.DistributedError("DistributedDataParallel needs "
                                        "clt.distributed.init_process_group() first")
        if device is not None:
            module.to(device)
        self.module = module
        self.broadcast_buffers = broadcast_buffers
        object.__setattr__(self, "_sync_enabled", True)
        params = [p for p in module.parameters() if p.requires_grad]
        if check_structure:
            self._check_structure()
        self._broadcast_state()
        cap = bucket_cap_mb * 2 ** 20
        buckets, current, size = [], [], 0
        for p in reversed(params):           # gradients arrive roughly in reverse order
            if current and (size + p.nbytes > cap or p.dtype is not current[0].dtype):
                buckets.append(_Bucket(current))
                current, size = [], 0
            current.append(p)
            size += p.nbytes
        if current:
            buckets.append(_Bucket(current))
        object.__setattr__(self, "_buckets", buckets)
        object.__setattr__(self, "_bucket_of", {id(p): b for b in buckets for p in b.params})
        object.__setattr__(self, "_pending", False)
        for p in params:
            register_post_accumulate_grad_hook(p, self._grad_ready)

    # -- set-up ------------------------------------------------------------------------------
    def _check_structure(self) -> None:
        from clt import distributed as dist

        mine = [(n, tuple(p.shape), p.dtype.name) for n, p in self.module.named_parameters()]
        allsig = dist.all_gather_object(mine)
        for rank, sig in enumerate(allsig):
            if sig != allsig[0]:
                diff = next(((a, b) for a, b in zip(allsig[0], sig) if a != b),
                            (f"{len(allsig[0])} parameters", f"{len(sig)} parameters"))
                raise dist.DistributedError(
                    f"model structure differs between rank 0 and rank {rank}: rank 0 has "
                    f"{diff[0]}, rank {rank} has {diff[1]}")

    def _broadcast_state(self) -> None:
        from clt import distributed as dist

        for t in list(self.module.parameters()) + [b for b in self.module.buffers()]:
            dist.broadcast(t, 0)

    # -- gradient sync -------------------------------------------------------------------------
    @contextlib.contextmanager
    def no_sync(self) -> Iterator[None]:
        """Accumulate gradients locally (no communication) inside this block."""
        object.__setattr__(self, "_sync_enabled", False)
        try:
            yield
        finally:
            object.__setattr__(self, "_sync_enabled", True)

    def _grad_ready(self, p: Tensor) -> None:
        if not self._sync_enabled:
            return
        if not self._pending:
            object.__setattr__(self, "_pending", True)
            queue_callback(self._finish)
        b = self._bucket_of[id(p)]
        b.ready += 1
        if b.ready == len(b.params):
            self._launch(b)

    def _launch(self, b: _Bucket) -> None:
        from clt import distributed as dist

        MPI = dist._mpi()
        b.send = np.concatenate([to_numpy(p.grad._data).ravel() for p in b.params])
        b.recv = np.empty_like(b.send)
        b.request = dist._comm().Iallreduce(b.send, b.recv, op=MPI.SUM)

    def _finish(self) -> None:
        from clt import distributed as dist
        from clt.functions.creation import tensor as make

        object.__setattr__(self, "_pending", False)
        world = dist.get_world_size()
        for i, b in enumerate(self._buckets):
            if b.request is None:
                if 0 < b.ready < len(b.params):
                    missing = [p for p in b.params if p.grad is None]
                    for p in missing:     # unused parameters contribute zero gradients
                        p.grad = make(np.zeros(tuple(p.shape), p.dtype.np), device=p.device)
                    self._launch(b)
                else:
                    continue
            dist.wait(b.request, f"gradient all-reduce (bucket {i})")
            avg = (b.recv / world).astype(b.send.dtype)
            off = 0
            for p in b.params:
                n = p.numel()
                dist._write(p.grad, avg[off:off + n].reshape(tuple(p.shape)))
                off += n
            b.request, b.ready, b.send, b.recv = None, 0, None, None

    # -- forward -----------------------------------------------------------------------------
    def forward(self, *inputs: Any, **kwargs: Any) -> Any:
        """Broadcast buffers from rank 0 (if ``broadcast_buffers``) and run the wrapped module."""
        if self.broadcast_buffers:
            from clt import distributed as dist

            for b in self.module.buffers():
                dist.broadcast(b, 0)
        return self.module(*inputs, **kwargs)


    def extra_repr(self) -> str:
        """The world size and the number of gradient buckets.

        Returns:
            A short description for ``repr()``.
        """
        from clt import distributed as dist

        return f"world_size={dist.get_world_size()}, buckets={len(self._buckets)}"

