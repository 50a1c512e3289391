"""Evaluation metrics computed on the device, streaming over batches.

Each metric class keeps running statistics as device tensors: ``update(preds, target)`` per batch
(no host sync), ``compute()`` at the end (one small read), ``reset()`` between epochs.
Classification metrics share one device-side confusion matrix, so accuracy, precision, recall
and F1 equal scikit-learn's on the same predictions. Function forms (``accuracy(preds, target)``)
compute from one batch.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from clt import dtypes as D
from clt.errors import ShapeError
from clt.ops import elementwise as ew
from clt.ops import index as I
from clt.ops import reduce as R
from clt.ops.array import Array
from clt.ops.transfer import to_numpy
from clt.tensor import Tensor

_AVERAGES = ("micro", "macro", "weighted", "binary", None, "none")


def _arr(x: Any, device: Any = None) -> Array:
    if isinstance(x, Tensor):
        return x._data
    if isinstance(x, Array):
        return x
    from clt.functions.creation import tensor as make

    return make(np.asarray(x), device=device)._data


def _labels(preds: Array, target: Array, task: str, threshold: float) -> Array:
    """Predicted class labels (int64) from labels, probabilities or logits."""
    if preds.dtype.is_floating_point:
        if preds.ndim == target.ndim + 1:
            return R.argmax(preds, 1 if preds.ndim > 1 else 0)
        if preds.shape == target.shape and task == "binary":
            return ew.cast(ew.binary("ge", preds, threshold), D.int64)
        raise ShapeError(f"predictions of shape {preds.shape} don't match targets of shape "
                         f"{target.shape}: expected the same shape (labels, or binary "
                         "probabilities) or one extra class dim (scores)")
    if preds.shape != target.shape:
        raise ShapeError(f"predicted labels of shape {preds.shape} don't match targets of shape "
                         f"{target.shape}")
    return preds if preds.dtype is D.int64 else ew.cast(preds, D.int64)


class Metric:
    """Base class: ``update`` per batch, ``compute`` at the end, ``reset`` to start over."""

    higher_is_better = True

    def update(self, preds: Any, target: Any) -> None:
        """Accumulate one batch.

        Args:
            preds: Predictions for the batch.
            target: Targets for the batch.

        Raises:
            NotImplementedError: In the base class.
        """
        raise NotImplementedError

    def compute(self) -> Any:
        """The metric over every batch since the last reset.

        Returns:
            The metric value.

        Raises:
            NotImplementedError: In the base class.
        """
        raise NotImplementedError

    def reset(self) -> None:
        """Forget every batch seen so far.

        Raises:
            NotImplementedError: In the base class.
        """
        raise NotImplementedError

    def __call__(self, preds: Any, target: Any) -> Any:
        """Update with one batch and return the metric over everything seen so far."""
        self.update(preds, target)
        return self.compute()


class ConfusionMatrix(Metric):
    """Counts ``[true class, predicted class]`` (rows: targets), accumulated on the device.

    Args:
        num_classes: number of classes (2 for binary).
        task: "multiclass" or "binary" (binary float predictions are thresholded).
        threshold: probability threshold for binary float predictions.
        ignore_index: target value to skip.
    """

    def __init__(self, num_classes: int, task: str = "multiclass", threshold: float = 0.5,
                 ignore_index: int | None = None) -> None:
        if not isinstance(num_classes, int) or num_classes < 2:
            raise ValueError(f"num_classes must be an integer >= 2, got {num_classes}")
        if task not in ("multiclass", "binary"):
            raise ValueError(f"task must be 'multiclass' or 'binary', got {task!r}")
        if not 0 <= threshold <= 1:
            raise ValueError(f"threshold must be in [0, 1], got {threshold}")
        self.num_classes, self.task = num_classes, task
        self.threshold, self.ignore_index = threshold, ignore_index
        self._cm: Array | None = None

    def reset(self) -> None:
        """Forget the accumulated counts."""
        self._cm = None

    def update(self, preds: Any, target: Any) -> None:
        """Accumulate one batch.

        Args:
            preds: Class labels, class scores with a class dim at 1, or (binary) probabilities; a
                Tensor or array-like.
            target: Integer class labels.

        Raises:
            ShapeError: If the shapes of ``preds`` and ``target`` don't match.
        """
        t = _arr(target)
        p = _labels(_arr(preds, t.device), t, self.task, self.threshold)
        t = t if t.dtype is D.int64 else ew.cast(t, D.int64)
        c = self.num_classes
        if self._cm is None:
            self._cm = ew.fill_(Array.empty(t.device, (c * c,), D.int64), 0)
        flat = ew.binary("add", ew.binary("mul", t, c), p)
        ones = ew.fill_(Array.empty(t.device, t.shape, D.int64), 1)
        if self.ignore_index is not None:
            keep = ew.binary("ne", t, self.ignore_index)
            ones = ew.cast(keep, D.int64)
            flat = ew.where(keep, flat, 0)
        n = flat.numel
        I.index_add_(self._cm, 0, flat.view((n,), (1,)) if flat.is_contiguous() else
                     ew.contiguous(flat).view((n,), (1,)), ones.view((n,), (1,))
                     if ones.is_contiguous() else ew.contiguous(ones).view((n,), (1,)))

    def compute(self) -> Tensor:
        """The accumulated counts, as a device tensor.

        Returns:
            An int64 tensor of shape (num_classes, num_classes), rows indexed by target.

        Raises:
            RuntimeError: If called before ``update``.
        """
        if self._cm is None:
            raise RuntimeError(f"{type(self).__name__}.compute() called before update()")
        c = self.num_classes
        return Tensor(self._cm.view((c, c), (c, 1)))

    def counts(self) -> np.ndarray:
        """The accumulated counts, copied to the host.

        Returns:
            An int64 array of shape (num_classes, num_classes), rows indexed by target.
        """
        return self.compute().numpy()


def _prf(cm: np.ndarray, average: str | None, what: str, pos_label: int = 1,
         zero_division: float = 0.0) -> Any:
    tp = np.diag(cm).astype(np.float64)
    pred = cm.sum(0).astype(np.float64)
    true = cm.sum(1).astype(np.float64)

    def ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(den > 0, num / np.where(den > 0, den, 1), zero_division)

    if average == "micro":
        tp_s, pred_s, true_s = tp.sum(), pred.sum(), true.sum()
        p, r = ratio(np.array(tp_s), np.array(pred_s)), ratio(np.array(tp_s), np.array(true_s))
    elif average == "binary":
        p = ratio(tp[pos_label], pred[pos_label])
        r = ratio(tp[pos_label], true[pos_label])
    else:
        p, r = ratio(tp, pred), ratio(tp, true)
    if what == "precision":
        val = p
    elif what == "recall":
        val = r
    else:
        val = ratio(2 * p * r, p + r)
    if average in ("macro", "weighted"):
        present = true > 0
        if average == "macro":
            labels = present | (pred > 0)
            return float(np.mean(val[labels])) if labels.any() else zero_division
        w = true / true.sum() if true.sum() else true
        return float(np.sum(val * w))
    if average in (None, "none"):
        return val
    return float(val)


class _PRF(ConfusionMatrix):
    what = ""

    def __init__(self, num_classes: int, average: str | None = "macro",
                 task: str = "multiclass", threshold: float = 0.5, pos_label: int = 1,
                 zero_division: float = 0.0, ignore_index: int | None = None) -> None:
        if average not in _AVERAGES:
            raise ValueError(f"average must be one of {_AVERAGES}, got {average!r}")
        if average == "binary" and num_classes != 2:
            raise ValueError("average='binary' needs num_classes=2")
        super().__init__(num_classes, task, threshold, ignore_index)
        self.average, self.pos_label, self.zero_division = average, pos_label, zero_division

    def compute(self) -> Any:   # type: ignore[override]
        return _prf(super().compute().numpy(), self.average, self.what, self.pos_label,
                    self.zero_division)


class Precision(_PRF):
    """Precision: tp / (tp + fp), averaged "micro", "macro", "weighted", "binary" or None."""

    what = "precision"


class Recall(_PRF):
    """Recall: tp / (tp + fn), averaged like :class:`Precision`."""

    what = "recall"


class F1Score(_PRF):
    """F1: harmonic mean of precision and recall, averaged like :class:`Precision`."""

    what = "f1"


class Accuracy(Metric):
    """Fraction of correct predictions; ``top_k`` > 1 counts a hit among the k best scores."""

    def __init__(self, top_k: int = 1, task: str = "multiclass", threshold: float = 0.5,
                 ignore_index: int | None = None) -> None:
        if not isinstance(top_k, int) or top_k < 1:
            raise ValueError(f"top_k must be a positive integer, got {top_k}")
        self.top_k, self.task, self.threshold, self.ignore_index = top_k, task, threshold, \
            ignore_index
        self.reset()

    def reset(self) -> None:
        """Forget the accumulated counts."""
        self._correct: Array | None = None
        self._total: Array | None = None
        self._total_host = 0

    def update(self, preds: Any, target: Any) -> None:
        """Accumulate one batch.

        Args:
            preds: Class labels, class scores with a class dim at 1, or (binary) probabilities; a
                Tensor or array-like. Top-k needs scores.
            target: Integer class labels.

        Raises:
            ShapeError: If the shapes don't match, or ``top_k > 1`` without a class dim.
        """
        t = _arr(target)
        p = _arr(preds, t.device)
        t = t if t.dtype is D.int64 else ew.cast(t, D.int64)
        if self.top_k > 1:
            if p.ndim != t.ndim + 1:
                raise ShapeError(f"top-k accuracy needs scores with a class dim; got "
                                 f"predictions {p.shape} for targets {t.shape}")
            _, idx = R.topk(p, self.top_k, dim=1)
            hit = R.any(ew.binary("eq", idx, t.view(t.shape[:1] + (1,) + t.shape[1:],
                                                    t.strides[:1] + (0,) + t.strides[1:])),
                        dim=1)
        else:
            hit = ew.binary("eq", _labels(p, t, self.task, self.threshold), t)
        valid = None
        if self.ignore_index is not None:
            valid = ew.binary("ne", t, self.ignore_index)
            hit = ew.binary("logical_and", hit, valid)
        correct = R.sum(hit, dtype=D.int64)
        total = R.sum(valid, dtype=D.int64) if valid is not None else None
        self._correct = correct if self._correct is None else ew.binary("add", self._correct,
                                                                        correct)
        if total is None:
            self._total_host += t.numel
        else:
            self._total = total if self._total is None else ew.binary("add", self._total, total)

    def compute(self) -> float:
        """The fraction of (non-ignored) targets predicted correctly.

        Returns:
            The accuracy in [0, 1]; 0.0 when no target was counted.

        Raises:
            RuntimeError: If called before ``update``.
        """
        if self._correct is None:
            raise RuntimeError("Accuracy.compute() called before update()")
        correct = int(to_numpy(self._correct))
        total = int(to_numpy(self._total)) if self._total is not None else 0
        total += self._total_host
        return correct / total if total else 0.0


class _Regression(Metric):
    higher_is_better = False

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self._sums: dict[str, Array] = {}
        self._n = 0

    def _add(self, name: str, value: Array) -> None:
        s = R.sum(value, dtype=D.float64 if value.device.supports_fp64 else D.float32)
        self._sums[name] = s if name not in self._sums else ew.binary("add", self._sums[name], s)

    def update(self, preds: Any, target: Any) -> None:
        t = _arr(target)
        p = _arr(preds, t.device)
        if p.shape != t.shape:
            raise ShapeError(f"predictions of shape {p.shape} don't match targets of shape "
                             f"{t.shape}")
        diff = ew.binary("sub", p, t)
        self._add("sq", ew.binary("mul", diff, diff))
        self._add("abs", ew.unary("abs", diff))
        self._add("t", t)
        self._add("tt", ew.binary("mul", t, t))
        self._n += t.numel

    def _host(self) -> dict[str, float]:
        if not self._n:
            raise RuntimeError(f"{type(self).__name__}.compute() called before update()")
        return {k: float(to_numpy(v)) for k, v in self._sums.items()}


class MeanSquaredError(_Regression):
    """Mean of ``(preds - target) ** 2`` over every element seen."""
    def compute(self) -> float:
        """The mean squared error so far.

        Returns:
            The MSE.

        Raises:
            RuntimeError: If called before ``update``.
        """
        return self._host()["sq"] / self._n


class MeanAbsoluteError(_Regression):
    """Mean of ``|preds - target|`` over every element seen."""
    def compute(self) -> float:
        """The mean absolute error so far.

        Returns:
            The MAE.

        Raises:
            RuntimeError: If called before ``update``.
        """
        return self._host()["abs"] / self._n


class R2Score(_Regression):
    """Coefficient of determination, 1 - SS_res / SS_tot."""

    higher_is_better = True

    def compute(self) -> float:
        """The R^2 score so far.

        Returns:
            ``1 - SS_res / SS_tot``; NaN when the targets have no variance.

        Raises:
            RuntimeError: If called before ``update``.
        """
        h = self._host()
        ss_tot = h["tt"] - h["t"] ** 2 / self._n
        return 1.0 - h["sq"] / ss_tot if ss_tot > 0 else float("nan")


class AUROC(Metric):
    """Area under the ROC curve for binary scores (ties averaged, as scikit-learn).

    Scores and labels are kept on the device; ``compute`` sorts them there and reads the sorted
    arrays back once to sum the curve.
    """

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Forget the stored scores and labels."""
        self._scores: list[Array] = []
        self._labels: list[Array] = []

    def update(self, preds: Any, target: Any) -> None:
        """Accumulate one batch.

        Args:
            preds: Binary scores shaped like ``target``, or (N, 2) whose column 1 is used.
            target: Binary labels (nonzero is positive).

        Raises:
            ShapeError: If scores and labels have different shapes.
        """
        t = _arr(target)
        p = _arr(preds, t.device)
        if p.ndim == 2 and p.shape[1] == 2:
            p = p.view((p.shape[0],), (p.strides[0],), p.offset + p.strides[1])
        if p.shape != t.shape:
            raise ShapeError(f"AUROC: scores of shape {p.shape} don't match labels {t.shape}")
        self._scores.append(ew.contiguous(p))
        self._labels.append(ew.contiguous(t))

    def compute(self) -> float:
        """The area under the ROC curve of all stored scores.

        Returns:
            The AUROC.

        Raises:
            RuntimeError: If called before ``update``.
            ValueError: If the labels hold only one class.
        """
        if not self._scores:
            raise RuntimeError("AUROC.compute() called before update()")
        from clt.ops import shape_ops as S

        s = S.cat(self._scores) if len(self._scores) > 1 else self._scores[0]
        y = S.cat(self._labels) if len(self._labels) > 1 else self._labels[0]
        values, order = R.sort(s)
        labels = I.index_select(y, 0, order)
        return _auc_sorted(to_numpy(values).astype(np.float64), to_numpy(labels) != 0)


def _auc_sorted(scores: np.ndarray, pos: np.ndarray) -> float:
    n_pos, n_neg = int(pos.sum()), int((~pos).sum())
    if n_pos == 0 or n_neg == 0:
        raise ValueError("Only one class present in y_true. ROC AUC score is not defined in "
                         "that case.")
    # average ranks over ties (Mann-Whitney U)
    starts = np.r_[0, np.flatnonzero(np.diff(scores)) + 1]
    ends = np.r_[starts[1:], len(scores)]
    ranks = np.empty(len(scores))
    for s, e in zip(starts, ends):
        ranks[s:e] = (s + e + 1) / 2.0
    return float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


# -- functional forms -------------------------------------------------------------------------

def _one_shot(metric: Metric, preds: Any, target: Any) -> Any:
    metric.update(preds, target)
    return metric.compute()


def confusion_matrix(preds: Any, target: Any, num_classes: int, **kw: Any) -> Tensor:
    """Confusion matrix of one batch (rows: true class).

    Args:
        preds: Class labels, class scores (class dim 1), or binary probabilities.
        target: Integer class labels.
        num_classes: Number of classes.
        **kw: ``task``, ``threshold``, ``ignore_index`` of :class:`ConfusionMatrix`.

    Returns:
        An int64 tensor (num_classes, num_classes).
    """
    return _one_shot(ConfusionMatrix(num_classes, **kw), preds, target)


def accuracy(preds: Any, target: Any, top_k: int = 1, **kw: Any) -> float:
    """Accuracy (or top-k accuracy) of one batch.

    Args:
        preds: Class labels, class scores (class dim 1), or binary probabilities.
        target: Integer class labels.
        top_k: Count a hit when the target is among the ``top_k`` highest scores.
        **kw: ``task``, ``threshold``, ``ignore_index`` of :class:`Accuracy`.

    Returns:
        The accuracy in [0, 1].
    """
    return _one_shot(Accuracy(top_k=top_k, **kw), preds, target)


def precision(preds: Any, target: Any, num_classes: int, average: str | None = "macro",
              **kw: Any) -> Any:
    """Precision of one batch (see :class:`Precision`).

    Args:
        preds: Class labels, class scores (class dim 1), or binary probabilities.
        target: Integer class labels.
        num_classes: Number of classes.
        average: ``"macro"``, ``"micro"``, ``"weighted"``, ``"binary"``, or None for per-class
            values.
        **kw: ``task``, ``threshold``, ``pos_label``, ``zero_division``, ``ignore_index`` of
            :class:`Precision`.

    Returns:
        A float, or a per-class array when ``average`` is None.

    Raises:
        ValueError: If ``average`` is unknown, or ``"binary"`` with ``num_classes != 2``.
    """
    return _one_shot(Precision(num_classes, average, **kw), preds, target)


def recall(preds: Any, target: Any, num_classes: int, average: str | None = "macro",
           **kw: Any) -> Any:
    """Recall of one batch (see :class:`Recall`).

    Args:
        preds: Class labels, class scores (class dim 1), or binary probabilities.
        target: Integer class labels.
        num_classes: Number of classes.
        average: ``"macro"``, ``"micro"``, ``"weighted"``, ``"binary"``, or None for per-class
            values.
        **kw: ``task``, ``threshold``, ``pos_label``, ``zero_division``, ``ignore_index`` of
            :class:`Recall`.

    Returns:
        A float, or a per-class array when ``average`` is None.

    Raises:
        ValueError: If ``average`` is unknown, or ``"binary"`` with ``num_classes != 2``.
    """
    return _one_shot(Recall(num_classes, average, **kw), preds, target)


def f1_score(preds: Any, target: Any, num_classes: int, average: str | None = "macro",
             **kw: Any) -> Any:
    """F1 score of one batch (see :class:`F1Score`).

    Args:
        preds: Class labels, class scores (class dim 1), or binary probabilities.
        target: Integer class labels.
        num_classes: Number of classes.
        average: ``"macro"``, ``"micro"``, ``"weighted"``, ``"binary"``, or None for per-class
            values.
        **kw: ``task``, ``threshold``, ``pos_label``, ``zero_division``, ``ignore_index`` of
            :class:`F1Score`.

    Returns:
        A float, or a per-class array when ``average`` is None.

    Raises:
        ValueError: If ``average`` is unknown, or ``"binary"`` with ``num_classes != 2``.
    """
    return _one_shot(F1Score(num_classes, average, **kw), preds, target)


def roc_auc(preds: Any, target: Any) -> float:
    """ROC AUC of binary scores.

    Args:
        preds: Binary scores (or (N, 2) scores whose column 1 is used).
        target: Binary labels.

    Returns:
        The area under the ROC curve.

    Raises:
        ValueError: If the labels hold only one class.
    """
    return _one_shot(AUROC(), preds, target)


def mean_squared_error(preds: Any, target: Any) -> float:
    """Mean squared error of one batch.

    Args:
        preds: Predictions.
        target: Targets of the same shape.

    Returns:
        The MSE.

    Raises:
        ShapeError: If the shapes differ.
    """
    return _one_shot(MeanSquaredError(), preds, target)


def mean_absolute_error(preds: Any, target: Any) -> float:
    """Mean absolute error of one batch.

    Args:
        preds: Predictions.
        target: Targets of the same shape.

    Returns:
        The MAE.

    Raises:
        ShapeError: If the shapes differ.
    """
    return _one_shot(MeanAbsoluteError(), preds, target)


def r2_score(preds: Any, target: Any) -> float:
    """R^2 (coefficient of determination) of one batch.

    Args:
        preds: Predictions.
        target: Targets of the same shape.

    Returns:
        ``1 - SS_res / SS_tot``; NaN when the targets have no variance.

    Raises:
        ShapeError: If the shapes differ.
    """
    return _one_shot(R2Score(), preds, target)


def classification_report(cm: Any, class_names: list[str] | None = None) -> str:
    """A text table of per-class precision, recall, F1 and support from a confusion matrix.

    Args:
        cm: A confusion matrix (rows: true class), as a Tensor or array-like.
        class_names: Row labels (default: the class indices).

    Returns:
        The table as text.
    """
    cm = cm.numpy() if isinstance(cm, Tensor) else np.asarray(cm)
    names = class_names or [str(i) for i in range(len(cm))]
    p, r, f = (_prf(cm, None, w) for w in ("precision", "recall", "f1"))
    support = cm.sum(1)
    width = max(12, max(len(n) for n in names) + 2)
    lines = [f"{'':>{width}} precision    recall  f1-score   support", ""]
    for i, n in enumerate(names):
        lines.append(f"{n:>{width}} {p[i]:9.4f} {r[i]:9.4f} {f[i]:9.4f} {support[i]:9d}")
    total = support.sum()
    acc = np.trace(cm) / total if total else 0.0
    lines += ["", f"{'accuracy':>{width}} {'':9} {'':9} {acc:9.4f} {total:9d}"]
    for avg in ("macro", "weighted"):
        vals = [_prf(cm, avg, w) for w in ("precision", "recall", "f1")]
        lines.append(f"{avg + ' avg':>{width}} {vals[0]:9.4f} {vals[1]:9.4f} {vals[2]:9.4f} "
                     f"{total:9d}")
    return "\n".join(lines)
