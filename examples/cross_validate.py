"""5-fold stratified cross-validation of an MLP on the 8x8 digits, one fresh model per fold.

    python examples/cross_validate.py [--quick]
"""
from __future__ import annotations

import argparse

import numpy as np

import clt
import clt.nn as nn
from clt import metrics
from clt.data import ArrayDataset, Digits
from clt.train import Trainer, cross_validate, format_cv


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    full = Digits(train=None, flat=True)
    data = ArrayDataset(full.data, full.targets)
    device = clt.get_default_device()

    def make_trainer(fold: int) -> Trainer:
        clt.manual_seed(fold)
        model = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10)).to(device)
        return Trainer(model, clt.optim.Adam(model.parameters(), lr=5e-3),
                       nn.CrossEntropyLoss(), metrics={"acc": metrics.Accuracy()},
                       progress=False, device=device)

    result = cross_validate(make_trainer, data, n_splits=3 if args.quick else 5,
                            epochs=3 if args.quick else 15, batch_size=64,
                            labels=np.asarray(full.targets))
    for i, fold in enumerate(result["folds"]):
        print(f"fold {i}: loss {fold['loss']:.4f} acc {fold['acc']:.4f}")
    print(format_cv(result))
    return result


if __name__ == "__main__":
    main()
