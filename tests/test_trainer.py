"""Trainer: fit/evaluate/predict, callbacks, exact resume, accumulation, history outputs."""
from __future__ import annotations

import numpy as np
import pytest

import clt
import clt.nn as nn
from clt import metrics
from clt.data import DataLoader, TensorDataset
from clt.train import CSVLogger, EarlyStopping, LambdaCallback, ModelCheckpoint, Trainer


def blobs(n=240, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    centers = np.array([[2, 0], [-2, 1], [0, -2]], np.float32)
    x = (centers[y] + 0.6 * rng.standard_normal((n, 2))).astype(np.float32)
    return x, y


def make(device, seed=0, lr=0.05):
    clt.manual_seed(seed)
    model = nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 3)).to(device)
    opt = clt.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    return model, opt


def loaders(device, shuffle_seed=0):
    x, y = blobs()
    train = DataLoader(TensorDataset(x[:180], y[:180]), batch_size=20, shuffle=True,
                       generator=shuffle_seed, device=device)
    val = DataLoader(TensorDataset(x[180:], y[180:]), batch_size=60, device=device)
    return train, val


def test_fit_evaluate_predict(device):
    model, opt = make(device)
    train, val = loaders(device)
    tr = Trainer(model, opt, nn.CrossEntropyLoss(), metrics={"acc": metrics.Accuracy()},
                 progress=False)
    hist = tr.fit(train, epochs=4, val_data=val)
    assert hist.epochs == [1, 2, 3, 4]
    assert hist["loss"][-1] < hist["loss"][0]
    assert hist["val_acc"][-1] > 0.9
    res = tr.evaluate(val)
    assert set(res) == {"loss", "acc"} and res["acc"] == pytest.approx(hist["val_acc"][-1])
    pred = tr.predict(val)
    assert tuple(pred.shape) == (60, 3)
    assert "best val_acc" in hist.summary()


def test_resume_continues_exactly(device, tmp_path):
    def run(epochs, resume=None, ckpt_dir=None):
        model, opt = make(device)
        sched = clt.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
        train, val = loaders(device)
        cbs = [ModelCheckpoint(ckpt_dir, monitor=None)] if ckpt_dir else []
        tr = Trainer(model, opt, nn.CrossEntropyLoss(), scheduler=sched, callbacks=cbs,
                     progress=False, seed=0)
        hist = tr.fit(train, epochs=epochs, resume_from=resume)
        return hist, [p.detach().numpy() for p in model.parameters()]

    full, w_full = run(4)
    run(2, ckpt_dir=tmp_path)
    resumed, w_res = run(4, resume=str(tmp_path / "last.ckpt"))
    assert resumed.epochs == [1, 2, 3, 4]
    np.testing.assert_allclose(resumed["loss"], full["loss"], rtol=1e-6)
    for a, b in zip(w_full, w_res):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_grad_accumulation_matches_big_batch(device):
    x, y = blobs(40)
    ds = TensorDataset(x, y)
    results = []
    for bs, acc in ((40, 1), (10, 4)):
        model, _ = make(device)
        opt = clt.optim.SGD(model.parameters(), lr=0.1)
        tr = Trainer(model, opt, nn.CrossEntropyLoss(), grad_accum_steps=acc, progress=False)
        tr.fit(DataLoader(ds, batch_size=bs, device=device), epochs=1)
        results.append([p.detach().numpy() for p in model.parameters()])
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_callbacks_and_outputs(device, tmp_path):
    model, opt = make(device, lr=0.0)            # no learning: early stopping must trigger
    train, val = loaders(device)
    seen = []
    stopper = EarlyStopping("val_loss", patience=1)
    tr = Trainer(model, opt, nn.CrossEntropyLoss(), clip_grad_norm=1.0, progress=False,
                 callbacks=[stopper, CSVLogger(tmp_path / "log.csv"),
                            LambdaCallback(on_epoch_end=lambda t, e, logs: seen.append(e)),
                            ModelCheckpoint(tmp_path / "ck", monitor="val_loss")])
    hist = tr.fit(train, epochs=10, val_data=val)
    assert len(hist.epochs) < 10 and stopper.stopped_epoch is not None
    assert seen == hist.epochs
    assert (tmp_path / "log.csv").read_text().startswith("epoch,")
    assert (tmp_path / "ck" / "best.ckpt").exists() and (tmp_path / "ck" / "last.ckpt").exists()
    pytest.importorskip("matplotlib")
    png = hist.plot(str(tmp_path / "curves.png"))
    assert open(png, "rb").read(8) == b"\x89PNG\r\n\x1a\n"


def test_trainer_errors(device):
    model, opt = make(device)
    with pytest.raises(ValueError, match="grad_accum_steps"):
        Trainer(model, opt, nn.CrossEntropyLoss(), grad_accum_steps=0)
    with pytest.raises(ValueError, match="needs an optimizer"):
        Trainer(model, progress=False).fit([])
    with pytest.raises(KeyError, match="monitors 'nope'"):
        Trainer(model, opt, nn.CrossEntropyLoss(), progress=False,
                callbacks=[EarlyStopping("nope")]).fit(loaders(device)[0], epochs=1)
