"""Plots saved as PNG: confusion matrix, misclassified samples, LR range test."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np


def _plt() -> Any:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise RuntimeError("plots need matplotlib (pip install matplotlib)") from exc
    return plt


def _host(x: Any) -> np.ndarray:
    return x.detach().cpu() if hasattr(x, "detach") else np.asarray(x)


def plot_confusion_matrix(cm: Any, path: str, class_names: Sequence[str] | None = None,
                          normalize: bool = False, title: str = "confusion matrix") -> str:
    """Save a confusion matrix (rows: true class, columns: predicted) as a PNG.

    Args:
        cm: The matrix, as a Tensor or array-like.
        path: The PNG file to write.
        class_names: Axis labels (default: the class indices).
        normalize: Whether to divide each row by its sum.
        title: The figure title.

    Returns:
        ``path``.
    """
    plt = _plt()
    m = _host(cm).astype(np.float64)
    if normalize:
        m = m / np.maximum(m.sum(1, keepdims=True), 1)
    n = len(m)
    names = list(class_names) if class_names is not None else [str(i) for i in range(n)]
    fig, ax = plt.subplots(figsize=(1 + 0.6 * n, 1 + 0.6 * n))
    im = ax.imshow(m, cmap="Blues")
    fig.colorbar(im, ax=ax, fraction=0.046)
    ax.set_xticks(range(n), names, rotation=45)
    ax.set_yticks(range(n), names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    thresh = m.max() / 2 if m.size else 0
    for i in range(n):
        for j in range(n):
            ax.text(j, i, f"{m[i, j]:.2f}" if normalize else f"{int(m[i, j])}", ha="center",
                    va="center", color="white" if m[i, j] > thresh else "black", fontsize=8)
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def plot_misclassified(images: Any, preds: Any, targets: Any, path: str, max_images: int = 25,
                       class_names: Sequence[str] | None = None) -> int:
    """Save a grid of misclassified images with predicted/true labels; returns how many.

    Args:
        images: The images (N, C, H, W), (N, H, W, C) or (N, H, W).
        preds: Predicted labels (N,) or scores (N, C).
        targets: True labels (N,).
        path: The PNG file to write.
        max_images: Most images to show.
        class_names: Label names (default: the indices).

    Returns:
        The number of misclassified images.
    """
    plt = _plt()
    x, p, t = _host(images), _host(preds), _host(targets)
    if p.ndim == t.ndim + 1:
        p = p.argmax(1)
    wrong = np.flatnonzero(p != t)[:max_images]
    cols = max(1, int(np.ceil(np.sqrt(max(len(wrong), 1)))))
    rows = max(1, int(np.ceil(len(wrong) / cols)))
    fig, axes = plt.subplots(rows, cols, figsize=(1.6 * cols, 1.8 * rows), squeeze=False)
    name = (lambda i: class_names[i] if class_names else str(i))
    for ax in axes.ravel():
        ax.axis("off")
    for ax, i in zip(axes.ravel(), wrong):
        img = x[i]
        if img.ndim == 3 and img.shape[0] in (1, 3):
            img = img.transpose(1, 2, 0)
        if img.ndim == 3 and img.shape[2] == 1:
            img = img[..., 0]
        if img.ndim == 1:
            side = int(np.sqrt(img.size))
            img = img[:side * side].reshape(side, side)
        ax.imshow(img, cmap="gray" if img.ndim == 2 else None)
        ax.set_title(f"p={name(int(p[i]))} t={name(int(t[i]))}", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return len(wrong)
