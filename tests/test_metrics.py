"""Metrics on device vs scikit-learn on the same predictions."""
from __future__ import annotations

import numpy as np
import pytest

import clt
from clt import metrics as M

sk = pytest.importorskip("sklearn.metrics")


@pytest.fixture
def data(rng):
    n, c = 200, 4
    target = rng.integers(0, c, n)
    scores = rng.standard_normal((n, c)).astype(np.float32)
    scores[np.arange(n), target] += 1.0          # better than chance
    return scores, target, c


def test_classification_matches_sklearn(device, data):
    scores, target, c = data
    pred = scores.argmax(1)
    ts, tt = clt.tensor(scores, device=device), clt.tensor(target, device=device)
    assert M.accuracy(ts, tt) == pytest.approx(sk.accuracy_score(target, pred))
    np.testing.assert_array_equal(M.confusion_matrix(ts, tt, c).numpy(),
                                  sk.confusion_matrix(target, pred, labels=range(c)))
    for avg in ("micro", "macro", "weighted"):
        assert M.precision(ts, tt, c, avg) == pytest.approx(
            sk.precision_score(target, pred, average=avg, zero_division=0))
        assert M.recall(ts, tt, c, avg) == pytest.approx(
            sk.recall_score(target, pred, average=avg, zero_division=0))
        assert M.f1_score(ts, tt, c, avg) == pytest.approx(
            sk.f1_score(target, pred, average=avg, zero_division=0))
    np.testing.assert_allclose(M.f1_score(ts, tt, c, None),
                               sk.f1_score(target, pred, average=None, zero_division=0))
    assert M.accuracy(ts, tt, top_k=2) == pytest.approx(
        sk.top_k_accuracy_score(target, scores, k=2))


def test_streaming_equals_one_shot(device, data):
    scores, target, c = data
    acc, f1, cm = M.Accuracy(), M.F1Score(c, "macro"), M.ConfusionMatrix(c)
    for s in range(0, len(target), 64):
        b = clt.tensor(scores[s:s + 64], device=device)
        y = clt.tensor(target[s:s + 64], device=device)
        for m in (acc, f1, cm):
            m.update(b, y)
    pred = scores.argmax(1)
    assert acc.compute() == pytest.approx(sk.accuracy_score(target, pred))
    assert f1.compute() == pytest.approx(sk.f1_score(target, pred, average="macro"))
    cm.reset()
    with pytest.raises(RuntimeError, match="before update"):
        cm.compute()


def test_binary_and_auc(device, rng):
    y = rng.integers(0, 2, 300)
    p = np.clip(rng.random(300) * 0.6 + 0.4 * y, 0, 1).astype(np.float32)
    p[:20] = 0.5                                   # ties
    tp, ty = clt.tensor(p, device=device), clt.tensor(y, device=device)
    assert M.roc_auc(tp, ty) == pytest.approx(sk.roc_auc_score(y, p))
    assert M.precision(tp, ty, 2, "binary", task="binary") == pytest.approx(
        sk.precision_score(y, (p >= 0.5).astype(int)))
    with pytest.raises(ValueError, match="Only one class"):
        M.roc_auc(tp, clt.zeros(300, dtype=clt.int64, device=device))


def test_regression(device, rng):
    t = rng.standard_normal(100).astype(np.float32)
    p = (t + 0.3 * rng.standard_normal(100)).astype(np.float32)
    tp, tt = clt.tensor(p, device=device), clt.tensor(t, device=device)
    assert M.mean_squared_error(tp, tt) == pytest.approx(sk.mean_squared_error(t, p), rel=1e-5)
    assert M.mean_absolute_error(tp, tt) == pytest.approx(sk.mean_absolute_error(t, p), rel=1e-5)
    assert M.r2_score(tp, tt) == pytest.approx(sk.r2_score(t, p), rel=1e-4)


def test_bad_input(device):
    with pytest.raises(ValueError, match="num_classes"):
        M.ConfusionMatrix(1)
    with pytest.raises(ValueError, match="average"):
        M.Precision(3, average="mean")
    with pytest.raises(clt.ShapeError, match="don't match"):
        M.accuracy(clt.ones(3, 4, 2, device=device), clt.zeros(3, dtype=clt.int64,
                                                                device=device))


def test_report(device, data):
    scores, target, c = data
    cm = M.confusion_matrix(clt.tensor(scores, device=device), clt.tensor(target, device=device), c)
    text = M.classification_report(cm, ["a", "b", "c", "d"])
    assert "macro avg" in text and "accuracy" in text
