"""Trainer callbacks: early stopping, checkpoints, LR scheduling, logging."""
from __future__ import annotations

import csv
import math
import os
from typing import Any, Callable


class Callback:
    """Hooks called by :class:`~clt.train.Trainer`; override the ones you need."""

    def on_fit_start(self, trainer: Any) -> None:
        """Called once before the first epoch.

        Args:
            trainer: The :class:`~clt.train.Trainer` running the fit.
        """

    def on_fit_end(self, trainer: Any) -> None:
        """Called once after the last epoch.

        Args:
            trainer: The :class:`~clt.train.Trainer` running the fit.
        """

    def on_epoch_start(self, trainer: Any, epoch: int) -> None:
        """Called at the start of each epoch.

        Args:
            trainer: The :class:`~clt.train.Trainer` running the fit.
            epoch: The epoch number.
        """

    def on_epoch_end(self, trainer: Any, epoch: int, logs: dict[str, float]) -> None:
        """Called after each epoch's training and validation.

        Args:
            trainer: The :class:`~clt.train.Trainer` running the fit.
            epoch: The epoch number.
            logs: The epoch's values (``loss``, ``val_loss``, metrics, ``lr``...).
        """

    def on_batch_end(self, trainer: Any, step: int, logs: dict[str, Any]) -> None:
        """Called after each training batch.

        Args:
            trainer: The :class:`~clt.train.Trainer` running the fit.
            step: The global step.
            logs: The batch's values.
        """

    def state_dict(self) -> dict[str, Any]:
        """The callback's resumable state (saved in checkpoints).

        Returns:
            A dict; empty in the base class.
        """
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore the state returned by :meth:`state_dict`.

        Args:
            state: The saved dict.
        """
        pass


def _better(mode: str, value: float, best: float, min_delta: float) -> bool:
    if math.isnan(value):
        return False
    return value < best - min_delta if mode == "min" else value > best + min_delta


def _check_mode(mode: str) -> None:
    if mode not in ("min", "max"):
        raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by ``min_delta`` for ``patience`` epochs.

    With ``restore_best_weights``, the model gets the parameters of its best epoch back.
    """

    def __init__(self, monitor: str = "val_loss", mode: str = "min", patience: int = 3,
                 min_delta: float = 0.0, restore_best_weights: bool = False) -> None:
        _check_mode(mode)
        if patience < 0:
            raise ValueError(f"patience must be >= 0, got {patience}")
        self.monitor, self.mode, self.patience = monitor, mode, patience
        self.min_delta, self.restore = abs(min_delta), restore_best_weights
        self.best = math.inf if mode == "min" else -math.inf
        self.wait, self.stopped_epoch, self._best_state = 0, None, None

    def on_epoch_end(self, trainer: Any, epoch: int, logs: dict[str, float]) -> None:
        """Track ``monitor`` and set ``trainer.stop_training`` after ``patience`` epochs without
        improvement.

        Args:
            trainer: The :class:`~clt.train.Trainer` running the fit.
            epoch: The epoch number.
            logs: The epoch's values; must contain ``monitor``.

        Raises:
            KeyError: If ``monitor`` is not in ``logs``.
        """
        if self.monitor not in logs:
            raise KeyError(f"EarlyStopping monitors '{self.monitor}', but the epoch logs only "
                           f"have {sorted(logs)}")
        value = logs[self.monitor]
        if _better(self.mode, value, self.best, self.min_delta):
            self.best, self.wait = value, 0
            if self.restore:
                self._best_state = {k: v.clone() for k, v in trainer.model.state_dict().items()}
            return
        self.wait += 1
        if self.wait > self.patience:
            self.stopped_epoch = epoch
            trainer.stop_training = True
            if self.restore and self._best_state is not None:
                trainer.model.load_state_dict(self._best_state)

    def state_dict(self) -> dict[str, Any]:
        """The best value and the epochs waited.

        Returns:
            ``{"best": ..., "wait": ...}``.
        """
        return {"best": self.best, "wait": self.wait}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore the best value and the epochs waited.

        Args:
            state: A dict from :meth:`state_dict`.
        """
        self.best, self.wait = state["best"], state["wait"]


class ModelCheckpoint(Callback):
    """Save full checkpoints (model, optimizer, scheduler, epoch, RNG state) each epoch.

    Writes ``last.ckpt`` (if ``save_last``) and ``best.ckpt`` when ``monitor`` improves.
    """

    def __init__(self, dirpath: str | os.PathLike, monitor: str | None = "val_loss",
                 mode: str = "min", save_last: bool = True, save_best: bool = True) -> None:
        _check_mode(mode)
        self.dirpath = os.fspath(dirpath)
        self.monitor, self.mode = monitor, mode
        self.save_last, self.save_best = save_last, save_best and monitor is not None
        self.best = math.inf if mode == "min" else -math.inf
        self.best_path: str | None = None

    def on_epoch_end(self, trainer: Any, epoch: int, logs: dict[str, float]) -> None:
        """Write ``last.ckpt`` and, when ``monitor`` improves, ``best.ckpt`` under ``dirpath``.

        Args:
            trainer: The :class:`~clt.train.Trainer` running the fit.
            epoch: The epoch number.
            logs: The epoch's values; must contain ``monitor`` when saving the best.

        Raises:
            KeyError: If ``save_best`` and ``monitor`` is not in ``logs``.
        """
        os.makedirs(self.dirpath, exist_ok=True)
        if self.save_last:
            trainer.save_checkpoint(os.path.join(self.dirpath, "last.ckpt"), epoch)
        if self.save_best:
            if self.monitor not in logs:
                raise KeyError(f"ModelCheckpoint monitors '{self.monitor}', but the epoch logs "
                               f"only have {sorted(logs)}")
            if _better(self.mode, logs[self.monitor], self.best, 0.0):
                self.best = logs[self.monitor]
                self.best_path = os.path.join(self.dirpath, "best.ckpt")
                trainer.save_checkpoint(self.best_path, epoch)

    def state_dict(self) -> dict[str, Any]:
        """The best monitored value.

        Returns:
            ``{"best": ...}``.
        """
        return {"best": self.best}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore the best monitored value.

        Args:
            state: A dict from :meth:`state_dict`.
        """
        self.best = state["best"]


class CSVLogger(Callback):
    """Append each epoch's logs as a CSV row."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = os.fspath(path)
        self._keys: list[str] | None = None

    def on_epoch_end(self, trainer: Any, epoch: int, logs: dict[str, float]) -> None:
        """Append ``epoch`` and the logs as a row (header written when the file is new).

        Args:
            trainer: The :class:`~clt.train.Trainer` running the fit.
            epoch: The epoch number.
            logs: The epoch's values; the columns are fixed by the first epoch's keys.
        """
        new = not os.path.exists(self.path)
        if self._keys is None:
            self._keys = ["epoch"] + sorted(logs)
        with open(self.path, "a", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=self._keys, extrasaction="ignore")
            if new:
                w.writeheader()
            w.writerow({"epoch": epoch, **logs})


class LambdaCallback(Callback):
    """A callback from plain functions: ``LambdaCallback(on_epoch_end=fn)``."""

    def __init__(self, **hooks: Callable) -> None:
        for name, fn in hooks.items():
            if not hasattr(Callback, name):
                raise ValueError(f"unknown callback hook {name!r}")
            setattr(self, name, fn)
