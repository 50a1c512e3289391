"""Run by tests/test_parallel.py in a subprocess with POCL_DEVICES="pthread pthread"."""
import json
import sys

import numpy as np

import clt
import clt.nn as nn
from clt.parallel import DataParallel

mode = sys.argv[1]
devs = clt.devices()
assert len(devs) >= 2, f"expected two devices, got {devs}"
rng = np.random.default_rng(0)
X = rng.standard_normal((48, 10)).astype(np.float32)
Y = rng.integers(0, 3, 48)


def make():
    clt.manual_seed(0)
    return nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Linear(32, 3))


def train(model, steps, extra=None):
    opt = clt.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    for _ in range(steps):
        x = clt.tensor(X, device=devs[0])
        y = clt.tensor(Y, device=devs[0])
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    return [p.detach().numpy() for p in model.parameters()]


if mode == "correctness":
    single = train(make().to(devs[0]), 5)
    dp = DataParallel(make(), devices=devs[:2])
    multi = train(dp, 5)
    diff = max(float(np.abs(a - b).max()) for a, b in zip(single, multi))
    print(json.dumps({"diff": diff, "split": dp.balancer.last_split}))
elif mode == "balance":
    dp = DataParallel(make(), devices=devs[:2], rebalance_every=2)
    slow = clt.randn(384, 384, device=devs[1])

    def burn(module, inputs, output):       # make device 1 artificially slow
        for _ in range(12):
            slow @ slow
        return output
    dp._replicas[0].register_forward_hook(burn)
    train(dp, 24)
    print(json.dumps({"shares": dp.balancer.shares.tolist(), "split": dp.balancer.last_split}))
elif mode == "trainer":
    from clt.data import DataLoader, TensorDataset
    from clt.train import Trainer

    model = make()
    tr = Trainer(model, clt.optim.SGD(model.parameters(), lr=0.1), nn.CrossEntropyLoss(),
                 devices=devs[:2], progress=False)
    hist = tr.fit(DataLoader(TensorDataset(X, Y), batch_size=16, device=devs[0]), epochs=2)
    print(json.dumps({"loss": hist["loss"], "split": tr.model.balancer.last_split}))
