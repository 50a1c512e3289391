"""``DataLoader``: batches from a dataset, built on the host, prefetched onto the device.

Workers (threads by default, or processes) fetch and collate batches as numpy arrays and never
touch OpenCL; the loader thread uploads each batch to the device without blocking, one batch
ahead, on a separate transfer queue, and orders the compute queue after it with an event, so
copies overlap with the previous step's compute where the device allows it.
"""
from __future__ import annotations

import collections
import itertools
import multiprocessing
import numbers
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from clt.data.dataset import IterableDataset
from clt.data.sampler import BatchSampler, RandomSampler, Sampler, SequentialSampler


def default_collate(batch: Sequence[Any]) -> Any:
    """Stack a list of samples into a batch: arrays stack, numbers become arrays, tuples and
    dicts are collated field by field. clt tensors are stacked on their device.

    Args:
        batch: A non-empty list of samples.

    Returns:
        The batch, with the structure of one sample.

    Raises:
        ValueError: If ``batch`` is empty.
        TypeError: If a sample holds a type that can't be collated.
    """
    if not batch:
        raise ValueError("default_collate: empty batch")
    elem = batch[0]
    from clt.tensor import Tensor

    if isinstance(elem, Tensor):
        from clt.functions.creation import tensor as make

        stack = getattr(__import__("clt"), "stack", None)
        if stack is not None:
            return stack(list(batch))
        return make(np.stack([b.detach().cpu() for b in batch]), device=elem.device)
    if isinstance(elem, np.ndarray):
        return np.stack(batch)
    if isinstance(elem, (bool, np.bool_)):
        return np.array(batch, dtype=np.bool_)
    if isinstance(elem, numbers.Integral):
        return np.array(batch, dtype=np.int64)
    if isinstance(elem, numbers.Real):
        return np.array(batch, dtype=np.float64)
    if isinstance(elem, np.generic):
        return np.array(batch)
    if isinstance(elem, (str, bytes)):
        return list(batch)
    if isinstance(elem, collections.abc.Mapping):
        return type(elem)({k: default_collate([d[k] for d in batch]) for k in elem}) \
            if not isinstance(elem, collections.OrderedDict) else collections.OrderedDict(
                (k, default_collate([d[k] for d in batch])) for k in elem)
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):
        return type(elem)(*(default_collate(s) for s in zip(*batch)))
    if isinstance(elem, (tuple, list)):
        size = len(elem)
        if any(len(b) != size for b in batch):
            raise RuntimeError("each element in list of batch should be of equal size")
        return [default_collate(s) for s in zip(*batch)] if isinstance(elem, list) else \
            tuple(default_collate(s) for s in zip(*batch))
    raise TypeError(f"default_collate: batch must contain arrays, numbers, dicts or lists; "
                    f"found {type(elem).__name__}")


def default_convert(data: Any) -> Any:
    """The ``collate_fn`` used when batching is off: returns each sample unchanged.

    Args:
        data: One sample.

    Returns:
        ``data``.
    """
    return data


def _fetch(dataset: Any, indices: list[int], collate_fn: Callable, auto_collate: bool) -> Any:
    if not auto_collate:
        return collate_fn(dataset[indices[0]])
    getitems = getattr(dataset, "__getitems__", None)
    if getitems is not None and collate_fn is default_collate:
        return getitems(indices)        # already a batch
    return collate_fn([dataset[i] for i in indices])


_PROC_STATE: dict[str, Any] = {}


def _proc_init(dataset: Any, collate_fn: Callable, auto: bool, init_fn: Callable | None,
               counter: Any) -> None:
    _PROC_STATE.update(dataset=dataset, collate=collate_fn, auto=auto)
    if init_fn is not None:
        with counter.get_lock():
            wid = counter.value
            counter.value += 1
        init_fn(wid)


def _proc_fetch(indices: list[int]) -> Any:
    s = _PROC_STATE
    return _fetch(s["dataset"], indices, s["collate"], s["auto"])


class DataLoader:
    """Iterate over ``dataset`` in batches, as ``torch.utils.data.DataLoader``.

    Args:
        dataset: a map-style :class:`Dataset` (or anything with ``__getitem__``/``__len__``)
            or an :class:`IterableDataset`.
        batch_size: samples per batch (None: no batching, samples are yielded one by one).
        shuffle: reshuffle every epoch (map-style datasets only).
        sampler: a custom index order.
        batch_sampler: custom batches (lists of indices).
        num_workers: worker threads (or processes, ``worker_mode="process"``) that fetch and
            collate batches on the host; 0 fetches in the loop itself.
        collate_fn: merges a list of samples into a batch (default: :func:`default_collate`).
        drop_last: drop the last incomplete batch.
        prefetch_factor: batches each worker keeps in flight (default 2).
        device: where batches go (default: the default device); ``None``-like ``"host"`` or
            ``to_device=False`` yields numpy batches instead.
        non_blocking: upload batches asynchronously, one batch ahead of the consumer.
        generator: seed or Generator for shuffling (reproducible epochs).
        timeout: seconds to wait for a worker's batch before raising.

    Raises:
        ValueError: on inconsistent options (e.g. ``shuffle`` with a ``sampler``).
    """

    def __init__(self, dataset: Any, batch_size: int | None = 1, shuffle: bool | None = None,
                 sampler: Sampler | Sequence[int] | None = None,
                 batch_sampler: Any = None, num_workers: int = 0,
                 collate_fn: Callable | None = None, pin_memory: bool = False,
                 drop_last: bool = False, timeout: float = 0,
                 worker_init_fn: Callable | None = None, prefetch_factor: int | None = None,
                 persistent_workers: bool = False, generator: Any = None, *,
                 device: Any = None, to_device: bool = True, non_blocking: bool = True,
                 worker_mode: str = "thread") -> None:
        if not isinstance(num_workers, int) or num_workers < 0:
            raise ValueError("num_workers option should be non-negative; use num_workers=0 to "
                             "disable multiprocessing.")
        if timeout < 0:
            raise ValueError("timeout option should be non-negative")
        if num_workers == 0 and prefetch_factor is not None:
            raise ValueError("prefetch_factor option could only be specified in multiprocessing."
                             "let num_workers > 0 to enable multiprocessing, otherwise set "
                             "prefetch_factor to None.")
        if prefetch_factor is not None and prefetch_factor < 1:
            raise ValueError(f"prefetch_factor should be a positive integer, got "
                             f"{prefetch_factor}")
        if worker_mode not in ("thread", "process"):
            raise ValueError(f"worker_mode must be 'thread' or 'process', got {worker_mode!r}")
        if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(
                batch_size, int) or batch_size <= 0):
            raise ValueError(f"batch_size should be a positive integer value, but got "
                             f"batch_size={batch_size}")
        self.dataset = dataset
        self._iterable = isinstance(dataset, IterableDataset)
        if self._iterable:
            if shuffle:
                raise ValueError("DataLoader with IterableDataset: expected unspecified shuffle "
                                 f"option, but got shuffle={shuffle}")
            if sampler is not None or batch_sampler is not None:
                raise ValueError("DataLoader with IterableDataset: expected unspecified sampler "
                                 "and batch_sampler options")
        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("batch_sampler option is mutually exclusive with batch_size, "
                                 "shuffle, sampler, and drop_last")
            batch_size, drop_last = None, False
        elif batch_size is None and drop_last:
            raise ValueError("batch_size=None option disables auto-batching and is mutually "
                             "exclusive with drop_last")
        if not self._iterable and sampler is None:
            sampler = RandomSampler(dataset, generator=generator) if shuffle else \
                SequentialSampler(dataset)
        if batch_size is not None and batch_sampler is None and not self._iterable:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)
        self.batch_size, self.drop_last = batch_size, drop_last
        self.sampler, self.batch_sampler = sampler, batch_sampler
        self.num_workers, self.timeout = num_workers, timeout
        self.prefetch_factor = 2 if prefetch_factor is None and num_workers else prefetch_factor
        self.collate_fn = collate_fn or (default_collate if (batch_size is not None or
                                                             batch_sampler is not None)
                                         else default_convert)
        self.worker_init_fn, self.worker_mode = worker_init_fn, worker_mode
        self.persistent_workers = persistent_workers
        self.pin_memory = pin_memory
        self.non_blocking = non_blocking
        self.to_device = to_device and device != "host"
        self._device_sel = device
        self._pool: Any = None

    @property
    def _auto_collation(self) -> bool:
        return self.batch_sampler is not None

    def __len__(self) -> int:
        if self._iterable:
            n = len(self.dataset)   # raises TypeError if the stream has no length
            if self.batch_size is None:
                return n
            return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
        if self.batch_sampler is not None:
            return len(self.batch_sampler)
        return len(self.sampler)

    # -- host side ----------------------------------------------------------------------------
    def _index_batches(self) -> Iterator[list[int]]:
        if self.batch_sampler is not None:
            yield from self.batch_sampler
        else:
            for i in self.sampler:
                yield [i]

    def _iterable_batches(self) -> Iterator[Any]:
        it = iter(self.dataset)
        if self.batch_size is None:
            for sample in it:
                yield self.collate_fn(sample)
            return
        while True:
            chunk = list(itertools.islice(it, self.batch_size))
            if not chunk or (self.drop_last and len(chunk) < self.batch_size):
                return
            yield self.collate_fn(chunk)

    def _make_pool(self) -> Any:
        if self.worker_mode == "thread":
            return ThreadPoolExecutor(self.num_workers, thread_name_prefix="clt-data",
                                      initializer=None)
        ctx = multiprocessing.get_context("spawn")
        counter = ctx.Value("i", 0)
        return ctx.Pool(self.num_workers, initializer=_proc_init,
                        initargs=(self.dataset, self.collate_fn, self._auto_collation,
                                  self.worker_init_fn, counter))

    def _host_batches(self) -> Iterator[Any]:
        if self._iterable:
            yield from self._iterable_batches()
            return
        auto = self._auto_collation
        if self.num_workers == 0:
            for idx in self._index_batches():
                yield _fetch(self.dataset, idx, self.collate_fn, auto)
            return
        pool = self._pool or self._make_pool()
        if self.persistent_workers:
            self._pool = pool
        depth = self.num_workers * self.prefetch_factor
        pending: collections.deque = collections.deque()
        indices = self._index_batches()
        try:
            if self.worker_mode == "thread" and self.worker_init_fn is not None:
                for w in range(self.num_workers):
                    pool.submit(self.worker_init_fn, w).result()
            for idx in itertools.islice(indices, depth):
                pending.append(self._submit(pool, idx))
            while pending:
                job = pending.popleft()
                nxt = next(indices, None)
                if nxt is not None:
                    pending.append(self._submit(pool, nxt))
                yield self._result(job)
        finally:
            if not self.persistent_workers:
                if self.worker_mode == "thread":
                    pool.shutdown(wait=False, cancel_futures=True)
                else:
                    pool.terminate()

    def _submit(self, pool: Any, idx: list[int]) -> Any:
        if self.worker_mode == "thread":
            return pool.submit(_fetch, self.dataset, idx, self.collate_fn, self._auto_collation)
        return pool.apply_async(_proc_fetch, (idx,))

    def _result(self, job: Any) -> Any:
        timeout = self.timeout or None
        try:
            return job.result(timeout) if isinstance(job, Future) else job.get(timeout)
        except (TimeoutError, multiprocessing.TimeoutError) as exc:
            raise RuntimeError(f"DataLoader timed out after {self.timeout} seconds waiting "
                               "for a worker") from exc

    # -- device side --------------------------------------------------------------------------
    def __iter__(self) -> Iterator[Any]:
        host = self._host_batches()
        if not self.to_device:
            yield from host
            return
        from clt.backend.device import device as select

        dev = select(self._device_sel)
        uploader = _Uploader(dev, self.non_blocking)
        ahead = None
        for batch in host:
            staged = uploader.stage(batch)     # enqueue the copy of this batch now
            if ahead is not None:
                yield uploader.ready(ahead)    # ...while the consumer works on the previous
            ahead = staged
        if ahead is not None:
            yield uploader.ready(ahead)

    def __del__(self) -> None:
        pool = getattr(self, "_pool", None)
        if pool is not None:
            try:
                pool.shutdown(wait=False) if hasattr(pool, "shutdown") else pool.terminate()
            except Exception:  # noqa: BLE001 -- interpreter shutdown
                pass


class _Uploader:
    """Copies numpy batches to the device on a transfer queue, ordered before compute."""

    def __init__(self, device: Any, non_blocking: bool) -> None:
        self.device, self.non_blocking = device, non_blocking

    def stage(self, batch: Any) -> Any:
        events: list = []
        self._after = None
        if self.non_blocking:
            import pyopencl as cl

            # pooled buffers may be recycled from tensors the compute queue still reads: the
            # copy waits for work enqueued so far (it still overlaps the batch consumed next)
            self._after = [cl.enqueue_marker(self.device.queue)]
        data = self._map(batch, events)
        return data, events

    def ready(self, staged: Any) -> Any:
        data, events = staged
        if events:
            import pyopencl as cl

            # the compute queue waits for the copies on the device, not the host
            cl.enqueue_barrier(self.device.queue, wait_for=events)
        return data

    def _map(self, obj: Any, events: list) -> Any:
        from clt.ops.array import Array
        from clt.tensor import Tensor

        if isinstance(obj, np.ndarray):
            from clt import dtypes as D

            dtype = D.as_dtype(obj.dtype)
            D.check_device_dtype(dtype, self.device)
            data = np.asarray(obj, order="C")
            arr = Array.empty(self.device, data.shape, dtype)
            if data.nbytes:
                q = self.device.transfer_queue if self.non_blocking else self.device.queue
                import pyopencl as cl

                ev = cl.enqueue_copy(q, arr.buffer, data, is_blocking=not self.non_blocking,
                                     wait_for=self._after)
                arr.storage.pending = (ev, data)
                if self.non_blocking:
                    events.append(ev)
            return Tensor(arr)
        if isinstance(obj, Tensor):
            return obj if obj.device is self.device else obj.to(self.device)
        if isinstance(obj, dict):
            return type(obj)((k, self._map(v, events)) for k, v in obj.items())
        if isinstance(obj, tuple) and hasattr(obj, "_fields"):
            return type(obj)(*(self._map(v, events) for v in obj))
        if isinstance(obj, (list, tuple)):
            return type(obj)(self._map(v, events) for v in obj)
        return obj
