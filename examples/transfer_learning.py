"""Transfer learning: a pre-built model with loaded weights, frozen features, a new head.

The "pre-trained" weights come from a checkpoint file (here we make one by training a CIFAR
ResNet-20 on digits 0-4 for a moment; with torchvision weights exported to safetensors the same
``load_state_dict`` call applies). Then the feature extractor is frozen and a fresh head learns
digits 5-9.

    python examples/transfer_learning.py [--quick]
"""
from __future__ import annotations

import argparse
import os
import tempfile

import numpy as np

import clt
import clt.nn as nn
from clt.data import ArrayDataset, DataLoader, Digits
from clt.models import resnet20


def subset(ds: Digits, classes: range) -> ArrayDataset:
    keep = np.isin(ds.targets, list(classes))
    x = np.repeat(ds.data[keep], 3, axis=1)            # 3 channels, as ResNet expects
    return ArrayDataset(x, ds.targets[keep] - classes.start)


def fit(model: nn.Module, data: ArrayDataset, params: list, steps: int, device) -> None:
    opt = clt.optim.Adam(params, lr=3e-3)
    loss_fn = nn.CrossEntropyLoss()
    model.train()
    done = 0
    while done < steps:
        for x, y in DataLoader(data, batch_size=32, shuffle=True, generator=done, device=device):
            opt.zero_grad()
            loss_fn(model(x), y).backward()
            opt.step()
            done += 1
            if done >= steps:
                break


def accuracy(model: nn.Module, data: ArrayDataset, device) -> float:
    model.eval()
    correct = 0
    with clt.no_grad():
        for x, y in DataLoader(data, batch_size=256, device=device):
            correct += int((model(x).argmax(1) == y).sum().item())
    return correct / len(data)


def main(argv: list[str] | None = None) -> float:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    device = clt.get_default_device()
    clt.manual_seed(0)
    steps = 15 if args.quick else 150
    first = subset(Digits(train=True), range(0, 5))
    pretrained = resnet20(num_classes=5).to(device)
    fit(pretrained, first, list(pretrained.parameters()), steps, device)
    path = os.path.join(tempfile.mkdtemp(prefix="clt-tl-"), "resnet20_digits04.safetensors")
    clt.save(pretrained.state_dict(), path)

    model = resnet20(num_classes=5).to(device)
    model.load_state_dict(clt.load(path, map_location=device))
    for p in model.parameters():
        p.requires_grad_(False)                       # freeze the feature extractor
    model.fc = nn.Linear(model.fc.in_features, 5).to(device)   # a new head for digits 5-9
    second_train = subset(Digits(train=True), range(5, 10))
    second_test = subset(Digits(train=False), range(5, 10))
    fit(model, second_train, list(model.fc.parameters()), steps, device)
    acc = accuracy(model, second_test, device)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    print(f"fine-tuned head ({trainable} trainable of {model.num_parameters()} parameters): "
          f"test accuracy on digits 5-9 = {acc:.3f}")
    return acc


if __name__ == "__main__":
    main()
