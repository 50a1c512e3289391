"""``Trainer``: fit / evaluate / predict with callbacks, progress, checkpoints and history.

The plain PyTorch loop works as-is with clt; the Trainer is what you use to skip writing it.
It never syncs with the device inside a step except every ``log_every`` steps (to show the
running loss) and at the end of each epoch.
"""
from __future__ import annotations

import math
import random
import sys
import time
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from clt.train.callbacks import Callback
from clt.train.history import History


def _to_device(obj: Any, device: Any) -> Any:
    from clt.tensor import Tensor

    if isinstance(obj, Tensor):
        return obj if obj.device is device else obj.to(device)
    if isinstance(obj, np.ndarray):
        from clt.functions.creation import tensor

        return tensor(obj, device=device)
    if isinstance(obj, (list, tuple)):
        return type(obj)(_to_device(o, device) for o in obj)
    if isinstance(obj, dict):
        return {k: _to_device(v, device) for k, v in obj.items()}
    return obj


def seed_everything(seed: int) -> None:
    """Seed clt's device RNG, numpy's global RNG and Python's ``random``.

    Args:
        seed: The seed (taken modulo 2**32 for numpy).
    """
    from clt.ops import random as R

    R.manual_seed(seed)
    np.random.seed(seed % 2**32)
    random.seed(seed)


class Trainer:
    """Train and evaluate a model.

    Args:
        model: the :class:`clt.nn.Module`.
        optimizer: a :mod:`clt.optim` optimizer.
        loss_fn: ``loss_fn(output, target) -> scalar tensor``.
        metrics: ``{name: clt.metrics.Metric}`` computed on validation (and ``evaluate``) data.
        device: where the model and batches live (default: the model's device).
        devices: several devices for data parallelism (uses ``clt.parallel.DataParallel``).
        scheduler: an LR scheduler; stepped per ``"epoch"`` or per ``"step"``
            (``ReduceLROnPlateau`` gets the monitored value).
        scheduler_monitor: the log key fed to ``ReduceLROnPlateau`` (default ``val_loss``).
        callbacks: :class:`~clt.train.callbacks.Callback` instances.
        grad_accum_steps: accumulate gradients over this many batches per optimizer step.
        clip_grad_norm: clip the total gradient norm to this before each step.
        clip_grad_value: clip every gradient element to this magnitude before each step.
        amp: run forward passes under ``clt.autocast`` with a ``GradScaler``.
        seed: seed every RNG before training, for reproducible runs.
        progress: show a tqdm progress bar with loss, metrics and throughput.
        log_every: steps between reads of the running loss (each read is a device sync).
    """

    def __init__(self, model: Any, optimizer: Any = None, loss_fn: Callable | None = None, *,
                 metrics: dict[str, Any] | None = None, device: Any = None,
                 devices: Sequence[Any] | None = None, scheduler: Any = None,
                 scheduler_interval: str = "epoch", scheduler_monitor: str = "val_loss",
                 callbacks: Iterable[Callback] = (), grad_accum_steps: int = 1,
                 clip_grad_norm: float | None = None, clip_grad_value: float | None = None,
                 amp: bool = False, seed: int | None = None, progress: bool = True,
                 log_every: int = 20) -> None:
        if grad_accum_steps < 1:
            raise ValueError(f"grad_accum_steps must be >= 1, got {grad_accum_steps}")
        if scheduler_interval not in ("epoch", "step"):
            raise ValueError(f"scheduler_interval must be 'epoch' or 'step', got "
                             f"{scheduler_interval!r}")
        if log_every < 1:
            raise ValueError(f"log_every must be >= 1, got {log_every}")
        if seed is not None:
            seed_everything(seed)
        self.seed = seed
        self.model = model
        self.devices = list(devices) if devices else None
        if self.devices and len(self.devices) > 1:
            from clt.parallel import DataParallel

            self.model = model if isinstance(model, DataParallel) else DataParallel(
                model, devices=self.devices)
        from clt.backend.device import device as select

        self.rank = 0
        dist = _distributed()
        if dist is not None:
            # one process per rank: wrap in DDP; only rank 0 shows progress and writes files
            self.rank = dist.get_rank()
            if not isinstance(self.model, dist.DistributedDataParallel):
                self.model = dist.DistributedDataParallel(self.model, device=device)
            progress = progress and self.rank == 0
        if device is not None:
            self.device = select(device)
            self.model.to(self.device)
        else:
            first = next(iter(model.parameters()), None)
            self.device = first.device if first is not None else select(None)
        self.optimizer, self.loss_fn = optimizer, loss_fn
        self.metrics = dict(metrics or {})
        self.scheduler, self.scheduler_interval = scheduler, scheduler_interval
        self.scheduler_monitor = scheduler_monitor
        self.callbacks = list(callbacks)
        self.grad_accum_steps = grad_accum_steps
        self.clip_grad_norm, self.clip_grad_value = clip_grad_norm, clip_grad_value
        self.amp = amp
        self.scaler = None
        if amp:
            from clt.amp import GradScaler

            self.scaler = GradScaler()
        self.progress, self.log_every = progress, log_every
        self.history = History()
        self.epoch = 0
        self.global_step = 0
        self.stop_training = False

    # -- steps (override for custom batches) ------------------------------------------------------
    def unpack(self, batch: Any) -> tuple[Any, Any]:
        """Split a batch into (inputs, target); default: ``(x, y)`` pairs.

        Args:
            batch: A 2-item tuple/list, or a dict with ``input`` (and optional ``target``).

        Returns:
            ``(inputs, target)``.

        Raises:
            ValueError: For any other batch layout.
        """
        if isinstance(batch, (list, tuple)) and len(batch) == 2:
            return batch[0], batch[1]
        if isinstance(batch, dict) and "input" in batch:
            return batch["input"], batch.get("target")
        raise ValueError("Trainer expects (input, target) batches; override Trainer.unpack "
                         f"for batches of type {type(batch).__name__}")

    def forward(self, inputs: Any) -> Any:
        """Run the model on one batch's inputs (a tuple is unpacked into positional arguments).

        Args:
            inputs: The input part of a batch.

        Returns:
            The model's output.
        """
        return self.model(*inputs) if isinstance(inputs, tuple) else self.model(inputs)

    def _autocast(self) -> Any:
        if not self.amp:
            import contextlib

            return contextlib.nullcontext()
        from clt.amp import autocast

        return autocast(self.device)

    def training_step(self, batch: Any) -> Any:
        """Forward and backward for one batch; returns the (detached) loss.

        Args:
            batch: One batch from the training data.

        Returns:
            The loss, detached.
        """
        x, y = self.unpack(_to_device(batch, self.device))
        with self._autocast():
            out = self.forward(x)
            loss = self.loss_fn(out, y)
        scaled = loss / self.grad_accum_steps if self.grad_accum_steps > 1 else loss
        if self.scaler is not None:
            scaled = self.scaler.scale(scaled)
        scaled.backward()
        return loss.detach()

    def _optimizer_step(self) -> None:
        if self.scaler is not None:
            self.scaler.unscale_(self.optimizer)
        params = [p for g in self.optimizer.param_groups for p in g["params"]]
        if self.clip_grad_norm is not None or self.clip_grad_value is not None:
            from clt.nn import utils

            if self.clip_grad_norm is not None:
                utils.clip_grad_norm_(params, self.clip_grad_norm)
            if self.clip_grad_value is not None:
                utils.clip_grad_value_(params, self.clip_grad_value)
        if self.scaler is not None:
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            self.optimizer.step()
        self.optimizer.zero_grad()
        if self.scheduler is not None and self.scheduler_interval == "step":
            self.scheduler.step()

    # -- loops --------------------------------------------------------------------------------
    def fit(self, train_data: Iterable, epochs: int = 1, val_data: Iterable | None = None,
            resume_from: str | None = None) -> History:
        """Train for ``epochs`` epochs (counting epochs already done when resuming).

        Args:
            train_data: An iterable of batches (usually a DataLoader).
            epochs: The epoch to stop after (a total, not a count added to a resumed run).
            val_data: Optional batches evaluated after each epoch (logged with a ``val_`` prefix).
            resume_from: Optional checkpoint path to restore before training.

        Returns:
            The :class:`History` of per-epoch logs (loss, val metrics, lr, time, throughput).

        Raises:
            ValueError: If the Trainer has no optimizer or no loss_fn.
        """
        if self.optimizer is None or self.loss_fn is None:
            raise ValueError("Trainer.fit needs an optimizer and a loss_fn")
        self._train_data = train_data      # checkpoints record its shuffling state
        if resume_from is not None:
            self.load_checkpoint(resume_from, train_data)
        self.stop_training = False
        for cb in self.callbacks:
            cb.on_fit_start(self)
        start_epoch = self.epoch
        for epoch in range(start_epoch + 1, epochs + 1):
            self.epoch = epoch
            for cb in self.callbacks:
                cb.on_epoch_start(self, epoch)
            logs = self._train_epoch(train_data, epoch, epochs)
            if val_data is not None:
                logs.update({f"val_{k}": v for k, v in self.evaluate(val_data).items()})
            logs["lr"] = self.optimizer.param_groups[0]["lr"]
            if self.scheduler is not None and self.scheduler_interval == "epoch":
                if type(self.scheduler).__name__ == "ReduceLROnPlateau":
                    if self.scheduler_monitor not in logs:
                        raise KeyError(f"ReduceLROnPlateau monitors '{self.scheduler_monitor}' "
                                       f"but the epoch logs only have {sorted(logs)}")
                    self.scheduler.step(logs[self.scheduler_monitor])
                else:
                    self.scheduler.step()
            self.history.log(epoch, logs)
            for cb in self.callbacks:
                cb.on_epoch_end(self, epoch, logs)
            if self.stop_training:
                break
        for cb in self.callbacks:
            cb.on_fit_end(self)
        return self.history

    def _bar(self, total: int | None, desc: str) -> Any:
        if not self.progress:
            return None
        try:
            from tqdm.auto import tqdm
        except ImportError:
            return None
        return tqdm(total=total, desc=desc, leave=False, file=sys.stderr, dynamic_ncols=True)

    def _train_epoch(self, data: Iterable, epoch: int, epochs: int) -> dict[str, float]:
        self.model.train()
        sampler = getattr(data, "sampler", None)
        if hasattr(sampler, "set_epoch"):
            sampler.set_epoch(epoch)
        try:
            total = len(data)  # type: ignore[arg-type]
        except TypeError:
            total = None
        bar = self._bar(total, f"epoch {epoch}/{epochs}")
        running = None
        n_batches = n_samples = 0
        start = time.perf_counter()
        self.optimizer.zero_grad()
        pending = 0
        for step, batch in enumerate(data, 1):
            loss = self.training_step(batch)
            running = loss if running is None else running + loss
            n_batches += 1
            n_samples += _batch_len(batch)
            pending += 1
            if pending == self.grad_accum_steps:
                self._optimizer_step()
                pending = 0
            self.global_step += 1
            if bar is not None:
                bar.update(1)
                if step % self.log_every == 0:
                    rate = n_samples / (time.perf_counter() - start)
                    bar.set_postfix(loss=f"{running.item() / n_batches:.4f}",
                                    samples_s=f"{rate:.0f}")
            logs_b = {"loss": loss}
            for cb in self.callbacks:
                cb.on_batch_end(self, self.global_step, logs_b)
            if self.stop_training:
                break
        if pending:
            self._optimizer_step()
        if bar is not None:
            bar.close()
        elapsed = time.perf_counter() - start
        mean_loss = running.item() / n_batches if running is not None else math.nan
        return {"loss": mean_loss, "epoch_time": elapsed,
                "samples_per_s": n_samples / elapsed if elapsed > 0 else math.nan}

    def evaluate(self, data: Iterable) -> dict[str, float]:
        """Mean loss (if a loss_fn is set) and every metric over ``data``, in eval mode.

        Args:
            data: An iterable of batches.

        Returns:
            The mean ``"loss"`` (when a loss_fn is set) and one value per metric, by name.
        """
        from clt.autograd.grad_mode import no_grad

        was_training = self.model.training
        self.model.eval()
        for m in self.metrics.values():
            m.reset()
        total, n = None, 0
        with no_grad():
            for batch in data:
                x, y = self.unpack(_to_device(batch, self.device))
                with self._autocast():
                    out = self.forward(x)
                if self.loss_fn is not None:
                    loss = self.loss_fn(out, y).detach() * _batch_len(batch)
                    total = loss if total is None else total + loss
                n += _batch_len(batch)
                for m in self.metrics.values():
                    m.update(out, y)
        self.model.train(was_training)
        result = {}
        if total is not None and n:
            result["loss"] = total.item() / n
        for name, m in self.metrics.items():
            val = m.compute()
            result[name] = float(val) if np.ndim(val) == 0 else val
        return result

    def predict(self, data: Iterable) -> Any:
        """Model outputs for every batch of ``data``, concatenated along dim 0.

        Args:
            data: An iterable of batches (targets, if present, are ignored).

        Returns:
            The concatenated outputs.
        """
        from clt.autograd.grad_mode import no_grad

        was_training = self.model.training
        self.model.eval()
        outs = []
        with no_grad():
            for batch in data:
                x = batch
                if isinstance(batch, (list, tuple)) and len(batch) == 2:
                    x = batch[0]
                with self._autocast():
                    outs.append(self.forward(_to_device(x, self.device)))
        self.model.train(was_training)
        if not outs:
            raise ValueError("predict: the data yielded no batches")
        import clt

        return clt.cat(outs) if len(outs) > 1 else outs[0]

    # -- checkpoints --------------------------------------------------------------------------
    def state_dict(self, data: Any = None) -> dict[str, Any]:
        """Everything needed to resume: model, optimizer, scheduler, scaler, epoch, history,
        callbacks and RNG states.

        Args:
            data: The training data (a DataLoader); its sampler's RNG state is saved when it has
                one.

        Returns:
            A dict for :func:`clt.save`.
        """
        from clt.ops import random as R

        state = {"model": self.model.state_dict(), "epoch": self.epoch,
                 "global_step": self.global_step, "history": self.history.state_dict(),
                 "rng": {"clt": R.get_rng_state(), "numpy": _np_state(np.random.get_state()),
                         "python": list(random.getstate()[1])},
                 "callbacks": [cb.state_dict() for cb in self.callbacks]}
        if self.optimizer is not None:
            state["optimizer"] = self.optimizer.state_dict()
        if self.scheduler is not None:
            state["scheduler"] = self.scheduler.state_dict()
        if self.scaler is not None:
            state["scaler"] = self.scaler.state_dict()
        sampler_rng = _sampler_rng(data)
        if sampler_rng is not None:
            state["sampler_rng"] = sampler_rng.bit_generator.state
        return state

    def save_checkpoint(self, path: str, epoch: int | None = None, data: Any = None) -> None:
        """Write model, optimizer, scheduler, epoch, history and RNG state to ``path``.

        Under MPI only rank 0 writes (every rank holds the same state).

        Args:
            path: The file to write.
            epoch: Overrides the recorded epoch.
            data: The training data whose sampler RNG state to save (default: the data given to
                ``fit``).
        """
        from clt.serialization import save

        if self.rank != 0:
            return
        state = self.state_dict(data if data is not None else getattr(self, "_train_data",
                                                                      None))
        if epoch is not None:
            state["epoch"] = epoch
        save(state, path)

    def load_checkpoint(self, path: str, data: Any = None) -> None:
        """Restore everything :meth:`save_checkpoint` wrote, so training continues exactly.

        Args:
            path: A file written by :meth:`save_checkpoint`.
            data: The training data whose sampler RNG state to restore.
        """
        from clt.ops import random as R
        from clt.serialization import load

        state = load(path, map_location=self.device)
        self.model.load_state_dict(state["model"])
        if self.optimizer is not None and "optimizer" in state:
            self.optimizer.load_state_dict(state["optimizer"])
        if self.scheduler is not None and "scheduler" in state:
            self.scheduler.load_state_dict(state["scheduler"])
        if self.scaler is not None and "scaler" in state:
            self.scaler.load_state_dict(state["scaler"])
        self.epoch, self.global_step = int(state["epoch"]), int(state["global_step"])
        self.history.load_state_dict(state["history"])
        R.set_rng_state(state["rng"]["clt"])
        np.random.set_state(_np_state_back(state["rng"]["numpy"]))
        random.setstate((3, tuple(state["rng"]["python"]), None))
        for cb, s in zip(self.callbacks, state.get("callbacks", [])):
            cb.load_state_dict(s)
        rng = _sampler_rng(data)
        if rng is not None and "sampler_rng" in state:
            rng.bit_generator.state = state["sampler_rng"]


def _distributed() -> Any:
    """``clt.distributed`` if a process group with more than one rank is running, else None."""
    import sys as _sys

    dist = _sys.modules.get("clt.distributed")
    if dist is None or not dist.is_initialized() or dist.get_world_size() < 2:
        return None
    return dist


def _sampler_rng(data: Any) -> Any:
    sampler = getattr(data, "sampler", None)
    return getattr(sampler, "_rng", None)


def _np_state(state: tuple) -> list:
    return [state[0], state[1].astype(np.uint32), int(state[2]), int(state[3]), float(state[4])]


def _np_state_back(state: list) -> tuple:
    return (state[0], np.asarray(state[1], dtype=np.uint32), int(state[2]), int(state[3]),
            float(state[4]))


def _batch_len(batch: Any) -> int:
    first = batch[0] if isinstance(batch, (list, tuple)) else batch
    if isinstance(first, dict):
        first = next(iter(first.values()))
    try:
        return len(first)
    except TypeError:
        return 1
