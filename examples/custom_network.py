"""A non-sequential network (a residual skip connection) with a custom autograd Function.

    python examples/custom_network.py [--quick]
"""
from __future__ import annotations

import argparse

import clt
import clt.nn as nn
from clt.autograd import Function
from clt.data import DataLoader, Digits


class ScaledTanh(Function):
    """y = a * tanh(x): a custom op with its own backward (dy/dx = a * (1 - tanh(x)^2))."""

    @staticmethod
    def forward(ctx, x, a):
        y = clt.tanh(x)
        ctx.save_for_backward(y)
        ctx.a = a
        return y * a

    @staticmethod
    def backward(ctx, grad):
        (y,) = ctx.saved_tensors
        return grad * ctx.a * (1 - y * y), None


class ResidualMLP(nn.Module):
    def __init__(self, width: int = 96) -> None:
        super().__init__()
        self.inp = nn.Linear(64, width)
        self.block = nn.Sequential(nn.Linear(width, width), nn.ReLU(), nn.Linear(width, width))
        self.norm = nn.LayerNorm(width)
        self.out = nn.Linear(width, 10)

    def forward(self, x):
        h = ScaledTanh.apply(self.inp(x.flatten(1)), 1.5)
        h = self.norm(h + self.block(h))          # the skip connection
        return self.out(h)


def main(argv: list[str] | None = None) -> float:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    device = clt.get_default_device()
    clt.manual_seed(0)
    model = ResidualMLP().to(device)
    x = clt.randn(4, 64, dtype=clt.float64 if device.supports_fp64 else clt.float32,
                  device=device, requires_grad=True)
    clt.autograd.gradcheck(lambda v: ScaledTanh.apply(v, 1.5), (x,))
    print("custom Function passes gradcheck")
    opt = clt.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    train = DataLoader(Digits(train=True), batch_size=64, shuffle=True, generator=0,
                       device=device)
    test = DataLoader(Digits(train=False), batch_size=512, device=device)
    for epoch in range(2 if args.quick else 10):   # the plain PyTorch-style loop
        model.train()
        for xb, yb in train:
            opt.zero_grad()
            loss = loss_fn(model(xb), yb)
            loss.backward()
            opt.step()
        model.eval()
        correct = total = 0
        with clt.no_grad():
            for xb, yb in test:
                correct += int((model(xb).argmax(1) == yb).sum().item())
                total += len(yb)
        print(f"epoch {epoch + 1}: loss {loss.item():.4f}  test accuracy {correct / total:.4f}")
    print(model)
    return correct / total


if __name__ == "__main__":
    main()
