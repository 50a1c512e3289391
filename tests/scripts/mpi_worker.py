"""Run by tests/test_distributed.py under mpiexec."""
import json
import sys
import time

import numpy as np

import clt
import clt.distributed as dist
import clt.nn as nn

mode, out_path = sys.argv[1], sys.argv[2]
dist.init_process_group(timeout=float(sys.argv[3]) if len(sys.argv) > 3 else 60)
rank, world = dist.get_rank(), dist.get_world_size()
dev = dist.device_for_rank()
rng = np.random.default_rng(0)
X = rng.standard_normal((32, 10)).astype(np.float32)
Y = rng.integers(0, 3, 32)


def model(width=16):
    clt.manual_seed(rank)          # different init per rank: DDP must take rank 0's
    return nn.Sequential(nn.Linear(10, width), nn.Tanh(), nn.Linear(width, 3)).to(dev)


if mode == "correctness":
    m = model()
    ddp = dist.DistributedDataParallel(m, bucket_cap_mb=0.0005)   # several buckets
    opt = clt.optim.SGD(ddp.parameters(), lr=0.1, momentum=0.9)
    lo, hi = rank * 32 // world, (rank + 1) * 32 // world
    for _ in range(4):
        opt.zero_grad()
        out = ddp(clt.tensor(X[lo:hi], device=dev))
        nn.functional.cross_entropy(out, clt.tensor(Y[lo:hi], device=dev)).backward()
        opt.step()
    if rank == 0:
        np.savez(out_path, *[p.detach().numpy() for p in m.parameters()])
elif mode == "mismatch":
    try:
        dist.DistributedDataParallel(model(16 if rank == 0 else 17))
    except dist.DistributedError as exc:
        print(json.dumps({"rank": rank, "error": str(exc)}))
elif mode == "hang":
    if rank == 1:
        time.sleep(60)                 # a hung rank
    dist.barrier()
if mode == "trainer":
    from clt.data import DataLoader, DistributedSampler, TensorDataset
    from clt.train import ModelCheckpoint, Trainer
    import os

    ds = TensorDataset(X, Y)
    loader = DataLoader(ds, batch_size=8, sampler=DistributedSampler(ds, shuffle=True, seed=0),
                        device=dev)
    m = model()
    ck = os.path.dirname(out_path) + f"/ck"
    tr = Trainer(m, clt.optim.SGD(m.parameters(), lr=0.1), nn.CrossEntropyLoss(),
                 callbacks=[ModelCheckpoint(ck, monitor=None)], progress=True)
    hist = tr.fit(loader, epochs=2)
    print(json.dumps({"rank": rank, "loss": hist["loss"], "ddp": type(tr.model).__name__,
                      "files": sorted(os.listdir(ck)) if os.path.isdir(ck) else []}))
if mode == "die":
    if rank == 1:
        import os
        os._exit(3)                    # a rank that dies without a word
    dist.barrier()
print(f"rank {rank} finished", flush=True)
