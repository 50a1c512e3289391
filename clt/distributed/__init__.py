"""Several processes and hosts on MPI (mpi4py): process groups, collectives with timeouts, and
``DistributedDataParallel``.

Launch with ``mpiexec -n N python train.py``; each rank picks its device from its local rank
(:func:`device_for_rank`). Collectives stage tensors through the host and never block without a
deadline: a rank that dies or hangs makes the others fail with :class:`DistributedError` (and
abort the job) after ``timeout`` seconds instead of hanging forever.
"""
from __future__ import annotations

import os
import pickle
import sys
import time
from typing import Any

import numpy as np

from clt.errors import CLTError

_STATE: dict[str, Any] = {"comm": None, "rank": 0, "world": 1, "local_rank": 0,
                          "local_world": 1, "timeout": 300.0, "abort": True}


class DistributedError(CLTError, RuntimeError):
    """A collective failed or timed out, or ranks disagree (e.g. on the model's structure)."""


def _mpi() -> Any:
    try:
        from mpi4py import MPI
    except ImportError as exc:
        raise DistributedError("clt.distributed needs mpi4py and an MPI library: "
                               "pip install mpi4py mpich (or clt[mpi])") from exc
    return MPI


def init_process_group(backend: str = "mpi", timeout: float | None = None, comm: Any = None,
                       abort_on_error: bool = True) -> None:
    """Join the MPI job: rank, world size, and the local rank among ranks on this host.

    Args:
        backend: only "mpi".
        timeout: seconds any collective may take before :class:`DistributedError`
            (default ``$CLT_DIST_TIMEOUT`` or 300).
        comm: an mpi4py communicator (default ``COMM_WORLD``).
        abort_on_error: on a failed collective, print the error and abort the whole job
            (otherwise the ranks still waiting would hang).
    """
    if backend != "mpi":
        raise ValueError(f"unsupported backend {backend!r}: clt.distributed uses MPI (mpi4py)")
    MPI = _mpi()
    comm = comm or MPI.COMM_WORLD
    local = comm.Split_type(MPI.COMM_TYPE_SHARED)
    _STATE.update(comm=comm, rank=comm.Get_rank(), world=comm.Get_size(),
                  local_rank=local.Get_rank(), local_world=local.Get_size(),
                  abort=abort_on_error,
                  timeout=float(timeout if timeout is not None else
                                os.environ.get("CLT_DIST_TIMEOUT", 300)))


def is_initialized() -> bool:
    """Whether :func:`init_process_group` has set up MPI.

    Returns:
        True after initialization and before :func:`destroy_process_group`.
    """
    return _STATE["comm"] is not None


def destroy_process_group() -> None:
    """Forget the communicator and go back to a single process (rank 0 of 1)."""
    _STATE.update(comm=None, rank=0, world=1, local_rank=0, local_world=1)


def get_rank() -> int:
    """This process's rank (0 when not initialized).

    Returns:
        The rank.
    """
    return _STATE["rank"]


def get_world_size() -> int:
    """The number of processes (1 when not initialized).

    Returns:
        The world size.
    """
    return _STATE["world"]


def get_local_rank() -> int:
    """This process's rank among the processes on its node.

    Returns:
        The local rank.
    """
    return _STATE["local_rank"]


def is_main_process() -> bool:
    """Whether this is rank 0.

    Returns:
        True on rank 0.
    """
    return _STATE["rank"] == 0


def device_for_rank(local_rank: int | None = None) -> Any:
    """The device for this rank: GPU k for local rank k if there are GPUs, else device k.

    Args:
        local_rank: The rank on this node (default: :func:`get_local_rank`).

    Returns:
        The Device.
    """
    from clt.backend.device import devices

    devs = devices()
    gpus = [d for d in devs if d.type == "gpu"] or devs
    lr = get_local_rank() if local_rank is None else local_rank
    return gpus[lr % len(gpus)]


def _comm() -> Any:
    if _STATE["comm"] is None:
        raise DistributedError("the process group is not initialised: call "
                               "clt.distributed.init_process_group() first")
    return _STATE["comm"]


def _fail(message: str) -> None:
    err = DistributedError(f"rank {get_rank()}/{get_world_size()}: {message}")
    if _STATE["abort"] and get_world_size() > 1:
        print(f"clt.distributed: {err}; aborting the job", file=sys.stderr, flush=True)
        _comm().Abort(1)
    raise err


def wait(request: Any, what: str, timeout: float | None = None) -> Any:
    """Wait for a non-blocking MPI request, failing after ``timeout`` seconds.

    Args:
        request: An MPI request with ``test()``.
        what: Description of the operation, for the error message.
        timeout: Seconds to wait (default: the process group's timeout).

    Returns:
        The request's result.

    Raises:
        DistributedError: If the request doesn't complete in time.
    """
    deadline = time.monotonic() + (timeout if timeout is not None else _STATE["timeout"])
    delay = 1e-5
    while True:
        done, value = request.test()
        if done:
            return value
        if time.monotonic() > deadline:
            _fail(f"{what} did not complete within {timeout or _STATE['timeout']:.0f} s: "
                  "another rank may have died, hung, or skipped this collective")
        time.sleep(delay)
        delay = min(delay * 2, 1e-3)


def barrier(timeout: float | None = None) -> None:
    """Wait until every rank reaches this point (with a deadline).

    Args:
        timeout: Seconds to wait (default: the process group's timeout).

    Raises:
        DistributedError: If the process group is not initialised, or the operation times out (the
            job is aborted first when ``abort_on_error``).
    """
    wait(_comm().Ibarrier(), "barrier", timeout)


def _allreduce_np(buf: np.ndarray, what: str) -> np.ndarray:
    MPI = _mpi()
    out = np.empty_like(buf)
    wait(_comm().Iallreduce(buf, out, op=MPI.SUM), what)
    return out


def all_reduce(tensor: Any, op: str = "sum") -> Any:
    """In-place all-reduce of a tensor ("sum", "mean", "max", "min"), staged through the host.

    Args:
        tensor: A Tensor (updated in place) or an array-like.
        op: ``"sum"``, ``"mean"``, ``"max"`` or ``"min"``.

    Returns:
        ``tensor``, or the reduced array for array-like input.

    Raises:
        ValueError: If ``op`` is unknown.
        DistributedError: If the process group is not initialised, or the operation times out (the
            job is aborted first when ``abort_on_error``).
    """
    from clt.tensor import Tensor

    if op not in ("sum", "mean", "max", "min"):
        raise ValueError(f"unsupported all_reduce op {op!r}")
    host = tensor.detach().cpu() if isinstance(tensor, Tensor) else np.asarray(tensor)
    MPI = _mpi()
    out = np.empty_like(host)
    mop = {"sum": MPI.SUM, "mean": MPI.SUM, "max": MPI.MAX, "min": MPI.MIN}[op]
    wait(_comm().Iallreduce(host, out, op=mop), f"all_reduce({op})")
    if op == "mean":
        out = (out / get_world_size()).astype(host.dtype)
    if isinstance(tensor, Tensor):
        _write(tensor, out)
        return tensor
    return out


def _write(tensor: Any, host: np.ndarray) -> None:
    """Overwrite a tensor (a parameter too) with host data, outside autograd."""
    from clt.autograd.grad_mode import no_grad
    from clt.functions.creation import tensor as make

    with no_grad():
        tensor.copy_(make(host, device=tensor.device))


def broadcast(tensor: Any, src: int = 0) -> Any:
    """In-place broadcast of a tensor from rank ``src``.

    Args:
        tensor: The tensor; overwritten on every rank but ``src``.
        src: The rank whose values are sent.

    Returns:
        ``tensor``.

    Raises:
        DistributedError: If the process group is not initialised, or the operation times out (the
            job is aborted first when ``abort_on_error``).
    """
    host = np.asarray(tensor.detach().cpu(), order="C")
    wait(_comm().Ibcast(host, root=src), f"broadcast from rank {src}")
    if get_rank() != src:
        _write(tensor, host)
    return tensor


def all_gather_object(obj: Any) -> list[Any]:
    """Every rank's ``obj`` (picklable), in rank order.

    Args:
        obj: This rank's picklable object.

    Returns:
        A list with one object per rank.

    Raises:
        DistributedError: If the process group is not initialised, or the operation times out (the
            job is aborted first when ``abort_on_error``).
    """
    data = np.frombuffer(pickle.dumps(obj), dtype=np.uint8)
    sizes = np.empty(get_world_size(), dtype=np.int64)
    wait(_comm().Iallgather(np.array([data.size], np.int64), sizes), "all_gather_object sizes")
    out = np.empty(int(sizes.sum()), dtype=np.uint8)
    wait(_comm().Iallgatherv(data, (out, sizes)), "all_gather_object")
    result, off = [], 0
    for s in sizes:
        result.append(pickle.loads(out[off:off + s].tobytes()))
        off += s
    return result


def broadcast_object(obj: Any, src: int = 0) -> Any:
    """Rank ``src``'s picklable object, on every rank.

    Args:
        obj: This rank's object (only ``src``'s is kept).
        src: The rank whose object to return.

    Returns:
        ``src``'s object.
    """
    return all_gather_object(obj)[src]


from clt.distributed.ddp import DistributedDataParallel  # noqa: E402

__all__ = ["DistributedDataParallel", "DistributedError", "all_gather_object", "all_reduce",
           "barrier", "broadcast", "broadcast_object", "destroy_process_group",
           "device_for_rank", "get_local_rank", "get_rank", "get_world_size",
           "init_process_group", "is_initialized", "is_main_process", "wait"]
