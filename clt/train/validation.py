"""Hold-out and k-fold cross-validation that train a fresh model per fold."""
from __future__ import annotations

import math
from typing import Any, Callable, Iterator, Sequence

import numpy as np


class KFold:
    """Split ``n`` samples into ``n_splits`` folds (train indices, test indices)."""

    def __init__(self, n_splits: int = 5, shuffle: bool = False, random_state: int | None = None
                 ) -> None:
        if not isinstance(n_splits, int) or n_splits < 2:
            raise ValueError(f"k-fold cross-validation requires at least one train/test split "
                             f"by setting n_splits=2 or more, got n_splits={n_splits}.")
        self.n_splits, self.shuffle, self.random_state = n_splits, shuffle, random_state

    def split(self, X: Any, y: Any = None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield the train and test indices of each fold (contiguous folds, after an optional
        shuffle).

        Args:
            X: The samples; only ``len(X)`` is used.
            y: Ignored.

        Returns:
            An iterator of ``(train_indices, test_indices)`` arrays.

        Raises:
            ValueError: If ``n_splits`` exceeds the number of samples.
        """
        n = len(X)
        if self.n_splits > n:
            raise ValueError(f"Cannot have number of splits n_splits={self.n_splits} greater "
                             f"than the number of samples: n_samples={n}.")
        idx = np.arange(n)
        if self.shuffle:
            np.random.default_rng(self.random_state).shuffle(idx)
        sizes = np.full(self.n_splits, n // self.n_splits)
        sizes[: n % self.n_splits] += 1
        start = 0
        for size in sizes:
            test = idx[start:start + size]
            yield np.concatenate([idx[:start], idx[start + size:]]), test
            start += size


class StratifiedKFold(KFold):
    """K folds that keep each class's proportion (round-robin assignment per class)."""

    def split(self, X: Any, y: Any = None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield the train and test indices of each fold, keeping class proportions.

        Args:
            X: The samples (unused beyond the labels' length).
            y: The class labels.

        Returns:
            An iterator of ``(train_indices, test_indices)`` arrays.

        Raises:
            ValueError: If ``y`` is None.
        """
        if y is None:
            raise ValueError("StratifiedKFold.split needs the labels y")
        y = np.asarray(y)
        counts = np.bincount(np.unique(y, return_inverse=True)[1])
        if counts.min() < self.n_splits:
            import warnings

            warnings.warn(f"The least populated class in y has only {counts.min()} members, "
                          f"which is less than n_splits={self.n_splits}.", UserWarning)
        rng = np.random.default_rng(self.random_state)
        fold_of = np.empty(len(y), dtype=np.int64)
        offset = 0
        for cls in np.unique(y):
            members = np.flatnonzero(y == cls)
            if self.shuffle:
                rng.shuffle(members)
            fold_of[members] = (np.arange(len(members)) + offset) % self.n_splits
            offset += len(members)
        for k in range(self.n_splits):
            yield np.flatnonzero(fold_of != k), np.flatnonzero(fold_of == k)


def train_test_split(n: int, test_size: float = 0.2, seed: int | None = None,
                     stratify: Sequence[int] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Hold-out split of ``range(n)`` into (train indices, test indices).

    Args:
        n: Number of samples.
        test_size: Fraction of samples in the test split, in (0, 1).
        seed: Seed for the shuffle.
        stratify: Optional labels whose class proportions both splits keep.

    Returns:
        ``(train_indices, test_indices)``.

    Raises:
        ValueError: If ``test_size`` is not in (0, 1).
    """
    if not 0 < test_size < 1:
        raise ValueError(f"test_size must be in (0, 1), got {test_size}")
    rng = np.random.default_rng(seed)
    if stratify is None:
        perm = rng.permutation(n)
        k = int(math.ceil(n * test_size))
        return np.sort(perm[k:]), np.sort(perm[:k])
    y = np.asarray(stratify)
    test = []
    for cls in np.unique(y):
        members = rng.permutation(np.flatnonzero(y == cls))
        test.extend(members[:int(round(len(members) * test_size))])
    test = np.sort(np.array(test, dtype=np.int64))
    return np.setdiff1d(np.arange(n), test), test


def cross_validate(make_trainer: Callable[[int], Any], dataset: Any, *, n_splits: int = 5,
                   epochs: int = 5, batch_size: int = 64, labels: Sequence[int] | None = None,
                   shuffle: bool = True, seed: int = 0, loader_kwargs: dict | None = None
                   ) -> dict[str, Any]:
    """K-fold cross-validation: a fresh Trainer (and model) per fold.

    Args:
        make_trainer: ``make_trainer(fold) -> Trainer`` building a new model and optimizer.
        dataset: a map-style dataset.
        labels: class labels for stratified folds (``StratifiedKFold``); else ``KFold``.

    Returns:
        ``{"folds": [metrics per fold], "mean": {...}, "std": {...}}``.
    """
    from clt.data import DataLoader, Subset

    splitter = (StratifiedKFold if labels is not None else KFold)(n_splits, shuffle, seed)
    folds = []
    for k, (train_idx, test_idx) in enumerate(splitter.split(np.arange(len(dataset)), labels)):
        trainer = make_trainer(k)
        kw = dict(loader_kwargs or {})
        train = DataLoader(Subset(dataset, train_idx.tolist()), batch_size=batch_size,
                           shuffle=True, generator=seed + k, device=trainer.device, **kw)
        test = DataLoader(Subset(dataset, test_idx.tolist()), batch_size=batch_size,
                          device=trainer.device, **kw)
        trainer.fit(train, epochs=epochs)
        folds.append(trainer.evaluate(test))
    keys = [k for k in folds[0] if isinstance(folds[0][k], float)]
    mean = {k: float(np.mean([f[k] for f in folds])) for k in keys}
    std = {k: float(np.std([f[k] for f in folds])) for k in keys}
    return {"folds": folds, "mean": mean, "std": std}


def format_cv(result: dict[str, Any]) -> str:
    """``name: mean ± std`` lines for a :func:`cross_validate` result.

    Args:
        result: A dict with ``mean`` and ``std`` entries keyed by metric name.

    Returns:
        One line per metric.
    """
    return "\n".join(f"{k}: {result['mean'][k]:.4f} ± {result['std'][k]:.4f}"
                     for k in result["mean"])
