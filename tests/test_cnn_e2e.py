"""End to end: a small CNN learns scikit-learn's 8x8 digits to >= 98 % test accuracy.

conv3x3 -> ReLU -> max-pool -> conv3x3 -> BatchNorm -> ReLU -> adaptive average pool -> linear,
trained with momentum SGD: exercises im2col convolution forward and both backward passes, the
gather-style pooling backward, batch-norm statistics, autograd and the optimizer together.
"""
from __future__ import annotations

import time

import numpy as np
import pytest

import clt
import clt.nn as nn
import clt.nn.functional as F

pytest.importorskip("sklearn")


def digits():
    """(x_train, x_test, y_train, y_test): a 1347/450 stratified split, (N, 1, 8, 8) in [0, 1]."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    d = load_digits()
    x = (d.images / 16.0).astype(np.float32)[:, None]
    y = d.target.astype(np.int64)
    return train_test_split(x, y, test_size=0.25, random_state=0, stratify=y)


class SmallCNN(nn.Module):
    def __init__(self, device=None) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1, device=device)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1, bias=False, device=device)
        self.bn2 = nn.BatchNorm2d(32, device=device)
        self.pool = nn.AdaptiveAvgPool2d((2, 2))
        self.fc = nn.Linear(32 * 4, 10, device=device)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)          # 16 x 4 x 4
        x = self.pool(F.relu(self.bn2(self.conv2(x))))       # 32 x 2 x 2
        return self.fc(x.flatten(1))


def test_cnn_learns_digits(device):
    from clt.optim import SGD
    from clt.optim.lr_scheduler import CosineAnnealingLR

    clt.manual_seed(0)
    x_tr, x_te, y_tr, y_te = digits()
    model = SmallCNN(device)
    epochs, batch = 12, 32
    opt = SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-4)
    sched = CosineAnnealingLR(opt, T_max=epochs * -(-len(x_tr) // batch))
    rng = np.random.default_rng(0)
    start = time.perf_counter()
    model.train()
    for _ in range(epochs):
        perm = rng.permutation(len(x_tr))
        for i in range(0, len(perm), batch):
            idx = perm[i:i + batch]
            loss = F.cross_entropy(model(clt.tensor(x_tr[idx], device=device)),
                                   clt.tensor(y_tr[idx], device=device))
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
    model.eval()
    with clt.no_grad():
        logits = model(clt.tensor(x_te, device=device)).numpy()
    elapsed = time.perf_counter() - start
    acc = float((logits.argmax(1) == y_te).mean())
    print(f"CNN digits: test accuracy {acc:.4f}, last loss {loss.item():.4f}, {elapsed:.1f} s")
    assert np.isfinite(loss.item())
    assert acc >= 0.98, f"test accuracy {acc:.4f} < 0.98"
    # generous: includes kernel builds on a cold cache and a busy shared 2-core machine
    assert elapsed < 60, f"training took {elapsed:.0f} s"
