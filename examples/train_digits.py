"""Train an MLP and a small CNN on scikit-learn's 8x8 digits with clt, on any OpenCL device.

Shows: datasets and loaders with prefetch to the device, a Trainer with a progress bar,
validation metrics, early stopping and checkpoints, a learning-curve PNG, a confusion matrix and
a classification report, and saving/loading the trained model.

    python examples/train_digits.py                # both models, ~30 s on a 2-core CPU (PoCL)
    python examples/train_digits.py --quick        # fewer epochs (used by the tests)
    CLT_DEVICE=gpu python examples/train_digits.py # pick another device
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time

import clt
import clt.nn as nn
from clt import metrics
from clt.data import DataLoader, Digits
from clt.train import EarlyStopping, ModelCheckpoint, Trainer
from clt.utils.plots import plot_confusion_matrix


def mlp() -> nn.Module:
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 128), nn.ReLU(), nn.Dropout(0.1),
                         nn.Linear(128, 10))


def cnn() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(32 * 4 * 4, 64), nn.ReLU(), nn.Linear(64, 10))


def run(name: str, model: nn.Module, epochs: int, out_dir: str, device: clt.Device) -> float:
    train_set, test_set = Digits(train=True), Digits(train=False)
    train = DataLoader(train_set, batch_size=32, shuffle=True, generator=0, device=device)
    test = DataLoader(test_set, batch_size=256, device=device)
    model = model.to(device)
    optimizer = clt.optim.Adam(model.parameters(), lr=3e-3)
    scheduler = clt.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs)
    ckpt_dir = os.path.join(out_dir, f"{name}_ckpt")
    trainer = Trainer(model, optimizer, nn.CrossEntropyLoss(), scheduler=scheduler,
                      metrics={"acc": metrics.Accuracy(), "f1": metrics.F1Score(10, "macro")},
                      callbacks=[EarlyStopping("val_acc", mode="max", patience=8),
                                 ModelCheckpoint(ckpt_dir, monitor="val_acc", mode="max")],
                      seed=0)
    start = time.perf_counter()
    history = trainer.fit(train, epochs=epochs, val_data=test)
    print(f"\n[{name}] trained {len(history.epochs)} epochs in {time.perf_counter() - start:.1f} s")
    print(history.summary())
    history.plot(os.path.join(out_dir, f"{name}_curves.png"), title=f"{name} on digits")

    # reload the best checkpoint into a fresh model and evaluate it
    best = (mlp if name == "mlp" else cnn)().to(device)
    best.load_state_dict(clt.load(os.path.join(ckpt_dir, "best.ckpt"), map_location=device)
                         ["model"])
    evaluator = Trainer(best, loss_fn=nn.CrossEntropyLoss(), progress=False,
                        metrics={"acc": metrics.Accuracy(),
                                 "cm": metrics.ConfusionMatrix(10)})
    result = evaluator.evaluate(test)
    print(f"[{name}] best checkpoint: test accuracy {result['acc']:.4f}")
    print(metrics.classification_report(result["cm"]))
    plot_confusion_matrix(result["cm"], os.path.join(out_dir, f"{name}_confusion.png"))
    clt.save(best.state_dict(), os.path.join(out_dir, f"{name}.safetensors"))
    return result["acc"]


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few epochs (for tests)")
    parser.add_argument("--model", choices=["mlp", "cnn", "both"], default="both")
    parser.add_argument("--out", default=None, help="folder for plots and checkpoints")
    args = parser.parse_args(argv)
    device = clt.get_default_device()
    print(f"device: {device}")
    out_dir = args.out or tempfile.mkdtemp(prefix="clt-digits-")
    results = {}
    for name, build, epochs in (("mlp", mlp, 6 if args.quick else 30),
                                ("cnn", cnn, 4 if args.quick else 20)):
        if args.model in (name, "both"):
            results[name] = run(name, build(), epochs, out_dir, device)
    print(f"outputs in {out_dir}: {sorted(os.listdir(out_dir))}")
    return results


if __name__ == "__main__":
    main()
