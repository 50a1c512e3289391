"""A data-quality report for a dataset: class balance, NaN/Inf, ranges, constant features,
duplicate samples."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class DataReport:
    """Summary statistics and warnings about a dataset, as printed by ``str()``.

    Attributes:
        n_samples: Number of samples.
        feature_shape: Shape of one sample's features.
        nan_count: Number of NaN values.
        inf_count: Number of infinite values.
        min: Smallest finite value.
        max: Largest finite value.
        mean: Mean of the finite values.
        std: Standard deviation of the finite values.
        constant_features: Indices of flattened features with zero standard deviation.
        duplicate_samples: Number of samples that repeat another one.
        class_counts: Samples per class label, when labels were given.
        warnings: Human-readable problems found.
    """
    n_samples: int
    feature_shape: tuple
    nan_count: int
    inf_count: int
    min: float
    max: float
    mean: float
    std: float
    constant_features: list[int]
    duplicate_samples: int
    class_counts: dict[int, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        lines = [f"samples: {self.n_samples}, feature shape: {self.feature_shape}",
                 f"values: min {self.min:.4g}, max {self.max:.4g}, mean {self.mean:.4g}, "
                 f"std {self.std:.4g}",
                 f"NaN: {self.nan_count}, Inf: {self.inf_count}",
                 f"constant features: {len(self.constant_features)}",
                 f"duplicate samples: {self.duplicate_samples}"]
        if self.class_counts:
            total = sum(self.class_counts.values())
            lines.append("classes: " + ", ".join(
                f"{k}: {v} ({100 * v / total:.1f}%)" for k, v in sorted(self.class_counts.items())))
        lines += [f"WARNING: {w}" for w in self.warnings]
        return "\n".join(lines)


def _arrays(data: Any) -> tuple[np.ndarray, np.ndarray | None]:
    if isinstance(data, tuple) and len(data) == 2:
        x, y = data
    elif hasattr(data, "data") and hasattr(data, "targets"):
        x, y = data.data, data.targets
    elif hasattr(data, "tensors"):
        x = data.tensors[0]
        y = data.tensors[1] if len(data.tensors) > 1 else None
    elif hasattr(data, "__getitem__") and hasattr(data, "__len__"):
        samples = [data[i] for i in range(len(data))]
        if isinstance(samples[0], tuple):
            x = np.stack([np.asarray(s[0]) for s in samples])
            y = np.asarray([s[1] for s in samples])
        else:
            x, y = np.stack([np.asarray(s) for s in samples]), None
    else:
        x, y = data, None
    conv = (lambda a: a.detach().cpu() if hasattr(a, "detach") else np.asarray(a))
    return conv(x), (None if y is None else conv(y))


def data_report(data: Any, imbalance_ratio: float = 3.0) -> DataReport:
    """Inspect ``data`` (a dataset, an ``(x, y)`` pair or an array) for common problems.

    Args:
        data: A dataset of ``(x, y)`` samples, an ``(x, y)`` pair, or an array.
        imbalance_ratio: Warn when the largest class exceeds this multiple of the smallest.

    Returns:
        The :class:`DataReport`.
    """
    x, y = _arrays(data)
    flat = x.reshape(len(x), -1).astype(np.float64)
    finite = np.isfinite(flat)
    vals = flat[finite]
    std = flat.std(0) if len(flat) else np.zeros(0)
    constant = np.flatnonzero(np.nan_to_num(std) == 0).tolist()
    _, counts = np.unique(flat, axis=0, return_counts=True) if len(flat) else (None, np.zeros(0))
    dups = int((counts - 1).sum()) if len(counts) else 0
    rep = DataReport(len(x), tuple(x.shape[1:]), int(np.isnan(flat).sum()),
                     int(np.isinf(flat).sum()), float(vals.min()) if vals.size else np.nan,
                     float(vals.max()) if vals.size else np.nan,
                     float(vals.mean()) if vals.size else np.nan,
                     float(vals.std()) if vals.size else np.nan, constant, dups)
    if y is not None and np.asarray(y).dtype.kind in "iub":
        cls, cnt = np.unique(np.asarray(y), return_counts=True)
        rep.class_counts = {int(c): int(n) for c, n in zip(cls, cnt)}
        if len(cnt) > 1 and cnt.max() > imbalance_ratio * cnt.min():
            rep.warnings.append(f"class imbalance: largest class has {cnt.max()} samples, "
                                f"smallest {cnt.min()}")
    if rep.nan_count or rep.inf_count:
        rep.warnings.append(f"{rep.nan_count} NaN and {rep.inf_count} Inf values")
    if constant:
        rep.warnings.append(f"{len(constant)} constant features (carry no information)")
    if dups:
        rep.warnings.append(f"{dups} duplicate samples")
    if vals.size and (abs(rep.mean) > 10 or rep.std > 100):
        rep.warnings.append("values are far from zero mean / unit scale: consider normalising")
    return rep
