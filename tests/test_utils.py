"""clt.utils: activation checkpointing, summary, data report, plots, LR range test, search."""
from __future__ import annotations

import numpy as np
import pytest

import clt
import clt.nn as nn
from clt.utils import checkpoint, checkpoint_sequential, data_report, summary


def test_checkpoint_matches_plain_backward(device):
    clt.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Dropout(0.3), nn.Linear(8, 2)).to(device)
    x = clt.randn(5, 4, device=device, requires_grad=True)
    grads = []
    for use_ckpt in (False, True):
        net.zero_grad()
        x.grad = None
        clt.manual_seed(7)
        out = checkpoint(net, x) if use_ckpt else net(x)
        (out * out).sum().backward()
        grads.append([x.grad.numpy()] + [p.grad.numpy() for p in net.parameters()])
    for a, b in zip(*grads):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    out = checkpoint_sequential(net, 2, x)
    assert tuple(out.shape) == (5, 2)


def test_summary(device):
    net = nn.Sequential(nn.Linear(10, 20), nn.ReLU(), nn.Linear(20, 3)).to(device)
    s = summary(net, (4, 10))
    assert s.total_params == 10 * 20 + 20 + 20 * 3 + 3
    assert [lay.output_shape for lay in s.layers] == [(4, 20), (4, 20), (4, 3)]
    assert s.layers[0].flops == 2 * 10 * 4 * 20
    text = str(s)
    assert "total params: 283" in text and "Linear" in text


def test_data_report():
    x = np.ones((10, 3), np.float32)
    x[:, 0] = np.arange(10)
    x[3, 1] = np.nan
    x[9] = x[8]
    y = np.array([0] * 9 + [1])
    rep = data_report((x, y))
    assert rep.nan_count == 1 and rep.duplicate_samples == 1
    assert 2 in rep.constant_features and rep.class_counts == {0: 9, 1: 1}
    text = str(rep)
    assert "class imbalance" in text and "NaN" in text


def test_plots(tmp_path):
    pytest.importorskip("matplotlib")
    from clt.utils.plots import plot_confusion_matrix, plot_misclassified

    cm = np.array([[5, 1], [2, 7]])
    assert open(plot_confusion_matrix(cm, str(tmp_path / "cm.png")), "rb").read(4) == b"\x89PNG"
    imgs = np.random.default_rng(0).random((6, 1, 8, 8))
    n = plot_misclassified(imgs, np.array([0, 1, 1, 0, 2, 2]), np.array([0, 0, 1, 1, 2, 0]),
                           str(tmp_path / "wrong.png"))
    assert n == 3 and (tmp_path / "wrong.png").exists()


def test_lr_range_test_restores_state(device):
    from clt.utils.tuning import lr_range_test

    clt.manual_seed(0)
    net = nn.Linear(3, 1).to(device)
    opt = clt.optim.SGD(net.parameters(), lr=0.1)
    before = [p.detach().numpy().copy() for p in net.parameters()]
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 3)).astype(np.float32)
    y = (x @ np.array([[1.0], [-2.0], [0.5]], np.float32)).astype(np.float32)
    data = [(clt.tensor(x[i:i + 16], device=device), clt.tensor(y[i:i + 16], device=device))
            for i in range(0, 64, 16)]
    res = lr_range_test(net, opt, nn.MSELoss(), data, start_lr=1e-4, end_lr=10, num_iter=30)
    assert len(res.lrs) == len(res.losses) > 5
    assert 1e-4 <= res.suggestion() <= 10
    for a, p in zip(before, net.parameters()):
        np.testing.assert_array_equal(a, p.detach().numpy())
    assert opt.param_groups[0]["lr"] == 0.1


def test_grid_search(device):
    from clt.data import TensorDataset
    from clt.train import Trainer
    from clt.utils.tuning import search

    rng = np.random.default_rng(0)
    x = rng.standard_normal((60, 2)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)

    def make(cfg, fold):
        clt.manual_seed(fold)
        net = nn.Linear(2, 2).to(device)
        return Trainer(net, clt.optim.SGD(net.parameters(), lr=cfg["lr"]), nn.CrossEntropyLoss(),
                       progress=False, device=device)

    res = search({"lr": [1e-4, 0.5]}, make, TensorDataset(x, y), n_splits=2, epochs=3)
    assert res["best"] == {"lr": 0.5} and len(res["results"]) == 2
