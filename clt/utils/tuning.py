"""Hyper-parameter help: an LR range test and grid/random search over k-fold CV."""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any, Callable, Iterable

import numpy as np


@dataclass
class LRFinderResult:
    """The learning rates tried by the LR finder and the smoothed loss at each.

    Attributes:
        lrs: The learning rates, increasing.
        losses: The smoothed loss at each learning rate.
    """
    lrs: list[float]
    losses: list[float]

    def suggestion(self) -> float:
        """The LR where the smoothed loss falls fastest (steepest negative slope)."""
        if len(self.losses) < 3:
            return self.lrs[int(np.argmin(self.losses))]
        loss = np.asarray(self.losses)
        grads = np.gradient(loss, np.log10(self.lrs))
        return float(self.lrs[int(np.argmin(grads[:-1]))])

    def plot(self, path: str) -> str:
        """Save a log-scale plot of loss against learning rate, marking the suggestion.

        Args:
            path: The image file to write.

        Returns:
            ``path``.
        """
        from clt.utils.plots import _plt

        plt = _plt()
        fig, ax = plt.subplots(figsize=(6, 4))
        ax.plot(self.lrs, self.losses)
        ax.set_xscale("log")
        ax.axvline(self.suggestion(), color="red", linestyle="--", label="suggested")
        ax.set_xlabel("learning rate")
        ax.set_ylabel("loss (smoothed)")
        ax.legend()
        fig.tight_layout()
        fig.savefig(path, dpi=100)
        plt.close(fig)
        return path


def lr_range_test(model: Any, optimizer: Any, loss_fn: Callable, data: Iterable,
                  start_lr: float = 1e-6, end_lr: float = 1.0, num_iter: int = 100,
                  smooth: float = 0.05, diverge: float = 4.0) -> LRFinderResult:
    """Train with an exponentially growing LR and record the loss (Smith's LR range test).

    The model's and optimizer's state are restored afterwards. Stops early when the loss
    exceeds ``diverge`` times the best loss.

    Args:
        model: The model to train.
        optimizer: Its optimizer; the lr of every group is overwritten during the test.
        loss_fn: ``loss_fn(output, target)``.
        data: An iterable of ``(input, target)`` batches (cycled if shorter than ``num_iter``).
        start_lr: The first learning rate.
        end_lr: The last learning rate.
        num_iter: Number of steps.
        smooth: Weight of the newest loss in the exponential smoothing.
        diverge: Stop when the smoothed loss exceeds this multiple of the best.

    Returns:
        The :class:`LRFinderResult`.

    Raises:
        ValueError: Unless ``0 < start_lr < end_lr``.
    """
    if not 0 < start_lr < end_lr:
        raise ValueError(f"need 0 < start_lr < end_lr, got {start_lr}, {end_lr}")
    model_state = {k: v.clone() for k, v in model.state_dict().items()}
    opt_state = optimizer.state_dict()
    gamma = (end_lr / start_lr) ** (1 / max(num_iter - 1, 1))
    lrs, losses = [], []
    avg, best = None, math.inf
    it = iter(data)
    model.train()
    try:
        for i in range(num_iter):
            try:
                x, y = next(it)
            except StopIteration:
                it = iter(data)
                x, y = next(it)
            lr = start_lr * gamma ** i
            for g in optimizer.param_groups:
                g["lr"] = lr
            optimizer.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            optimizer.step()
            value = loss.item()
            avg = value if avg is None else smooth * value + (1 - smooth) * avg
            lrs.append(lr)
            losses.append(avg)
            best = min(best, avg)
            if not math.isfinite(avg) or avg > diverge * best:
                break
    finally:
        model.load_state_dict(model_state)
        optimizer.load_state_dict(opt_state)
    return LRFinderResult(lrs, losses)


def _configs(grid: dict[str, list], n_random: int | None, seed: int) -> list[dict]:
    keys = list(grid)
    allc = [dict(zip(keys, vals)) for vals in itertools.product(*(grid[k] for k in keys))]
    if n_random is None or n_random >= len(allc):
        return allc
    rng = np.random.default_rng(seed)
    return [allc[i] for i in rng.choice(len(allc), n_random, replace=False)]


def search(param_grid: dict[str, list], make_trainer: Callable[[dict, int], Any], dataset: Any,
           *, metric: str = "loss", mode: str = "min", n_splits: int = 3, epochs: int = 3,
           batch_size: int = 64, labels: Any = None, n_random: int | None = None,
           seed: int = 0) -> dict[str, Any]:
    """Grid search (or ``n_random`` random configs) scored by k-fold cross-validation.

    Args:
        make_trainer: ``make_trainer(config, fold) -> Trainer`` with a fresh model.

    Returns:
        ``{"best": config, "best_score": x, "results": [(config, mean, std), ...]}``.
    """
    from clt.train.validation import cross_validate

    if mode not in ("min", "max"):
        raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
    results = []
    for cfg in _configs(param_grid, n_random, seed):
        cv = cross_validate(lambda k, cfg=cfg: make_trainer(cfg, k), dataset, n_splits=n_splits,
                            epochs=epochs, batch_size=batch_size, labels=labels, seed=seed)
        if metric not in cv["mean"]:
            raise KeyError(f"metric '{metric}' not among the evaluated {sorted(cv['mean'])}")
        results.append((cfg, cv["mean"][metric], cv["std"][metric]))
    pick = min if mode == "min" else max
    best = pick(results, key=lambda r: r[1])
    return {"best": best[0], "best_score": best[1], "results": results}
