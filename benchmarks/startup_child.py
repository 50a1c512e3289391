"""One MLP training step in a fresh process, timed phase by phase (run by the startup workload).

``python -m benchmarks.startup_child [--impl clt|torch] [--device SEL]`` prints one JSON object:
seconds to import, to open the device, to build the model, for the first training step (kernel
builds and first-launch JITs land here when the caches are empty) and for the second, plus how
many programs were built or loaded from the disk cache. The parent chooses the cache folders
through the environment (``CLT_CACHE_DIR``, ``POCL_CACHE_DIR``, ``XDG_CACHE_HOME``).
"""
from __future__ import annotations

import time

START = time.perf_counter()

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402

import numpy as np  # noqa: E402

SIZES = (784, 512, 256, 10)
BATCH = 128


def run_clt(selector: str | None) -> dict:
    import clt
    import clt.nn as nn
    import clt.nn.functional as F
    from clt.backend import STATS
    from clt.optim import SGD

    t_import = time.perf_counter()
    dev = clt.device(selector)
    t_device = time.perf_counter()
    clt.manual_seed(0)
    d = SIZES
    model = nn.Sequential(nn.Linear(d[0], d[1], device=dev), nn.ReLU(),
                          nn.Linear(d[1], d[2], device=dev), nn.ReLU(),
                          nn.Linear(d[2], d[3], device=dev))
    opt = SGD(model.parameters(), lr=0.01, momentum=0.9)
    rng = np.random.default_rng(0)
    x = clt.tensor(rng.standard_normal((BATCH, d[0])).astype(np.float32), device=dev)
    y = clt.tensor(rng.integers(0, 10, BATCH), device=dev)
    dev.synchronize()
    t_model = time.perf_counter()

    def step() -> None:
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
    step()
    dev.synchronize()
    t_first = time.perf_counter()
    step()
    dev.synchronize()
    t_second = time.perf_counter()
    return {"import_s": t_import - START, "device_s": t_device - t_import,
            "model_s": t_model - t_device, "first_step_s": t_first - t_model,
            "second_step_s": t_second - t_first, "to_first_step_s": t_first - START,
            "programs_built": STATS.programs_built, "source_hits": STATS.source_hits,
            "disk_hits": STATS.disk_hits,
            "build_seconds": STATS.build_seconds, "device": dev.info.name}


def run_torch() -> dict:
    import torch

    t_import = time.perf_counter()
    torch.manual_seed(0)
    tn = torch.nn
    d = SIZES
    model = tn.Sequential(tn.Linear(d[0], d[1]), tn.ReLU(), tn.Linear(d[1], d[2]), tn.ReLU(),
                          tn.Linear(d[2], d[3]))
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x, y = torch.randn(BATCH, d[0]), torch.randint(0, 10, (BATCH,))
    t_model = time.perf_counter()

    def step() -> None:
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    step()
    t_first = time.perf_counter()
    step()
    t_second = time.perf_counter()
    return {"import_s": t_import - START, "device_s": 0.0, "model_s": t_model - t_import,
            "first_step_s": t_first - t_model, "second_step_s": t_second - t_first,
            "to_first_step_s": t_first - START}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.startup_child")
    parser.add_argument("--impl", choices=("clt", "torch"), default="clt")
    parser.add_argument("--device", default=None)
    args = parser.parse_args(argv)
    result = run_clt(args.device) if args.impl == "clt" else run_torch()
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
