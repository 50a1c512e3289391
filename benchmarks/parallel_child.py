"""Child process of bench_parallel: one configuration, prints one JSON line."""
import json
import sys
import time

import numpy as np

import clt
import clt.nn as nn

kind, n, steps, batch = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
model_name = sys.argv[5] if len(sys.argv) > 5 else "mlp"


def build():
    clt.manual_seed(0)
    if model_name == "mlp":
        return nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 256), nn.ReLU(),
                             nn.Linear(256, 10)), (784,)
    return nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(64 * 7 * 7, 10)), (1, 28, 28)


rng = np.random.default_rng(0)
allreduce = [0.0]
if kind == "dp":
    from clt.parallel import DataParallel

    devs = clt.devices()[:n]
    net, shape = build()
    model = DataParallel(net, devices=devs) if n > 1 else net.to(devs[0])
    dev = devs[0]
    local_batch = batch
    rank = 0
else:
    import clt.distributed as dist

    dist.init_process_group()
    rank = dist.get_rank()
    dev = dist.device_for_rank()
    net, shape = build()
    net.to(dev)
    model = dist.DistributedDataParallel(net) if n > 1 else net
    local_batch = batch // n
    if n > 1:
        finish = model._finish

        def timed():
            t = time.perf_counter()
            finish()
            allreduce[0] += time.perf_counter() - t
        object.__setattr__(model, "_finish", timed)
x = clt.tensor(rng.standard_normal((local_batch,) + shape).astype(np.float32), device=dev)
y = clt.tensor(rng.integers(0, 10, local_batch), device=dev)
opt = clt.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
loss_fn = nn.CrossEntropyLoss()


def step():
    opt.zero_grad()
    loss_fn(model(x), y).backward()
    opt.step()


for _ in range(3):
    step()
clt.synchronize("all")
allreduce[0] = 0.0
t = time.perf_counter()
for _ in range(steps):
    step()
clt.synchronize("all")
dt = time.perf_counter() - t
if rank == 0:
    print(json.dumps({"kind": kind, "n": n, "model": model_name,
                      "samples_per_s": batch * steps / dt,
                      "allreduce_s_per_step": allreduce[0] / steps,
                      "split": getattr(getattr(model, "balancer", None), "last_split", None)}))
