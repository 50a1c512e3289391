"""Elementwise and copy bandwidth: a+b, a fused 3-input expression, copies, dispatch cost."""
from __future__ import annotations

from typing import Any

import numpy as np

from benchmarks.harness import measure, record


def copy_bandwidth(device: Any, n: int) -> float:
    """The device's achieved copy bandwidth in B/s (read + write counted), by enqueue_copy."""
    import pyopencl as cl

    src = device.allocate(4 * n)
    dst = device.allocate(4 * n)
    t = measure(lambda: cl.enqueue_copy(device.queue, dst, src, byte_count=4 * n),
                device.synchronize, repeat=7)
    return 2 * 4 * n / t["median"]


def run(device: Any, quick: bool = False, env: dict | None = None) -> list[dict]:
    import clt

    n = (4 if quick else 16) * 1024 * 1024
    rows = []
    bw = copy_bandwidth(device, n)
    rows.append(record("copy f32 (device limit)", "clt", {"median": 8 * n / bw, "min": 0,
                                                         "max": 0}, unit="B/s", amount=8 * n,
                       env=env))
    rng = np.random.default_rng(0)
    ha, hb, hc = (rng.random(n, dtype=np.float32) for _ in range(3))
    a, b, c = (clt.tensor(h, device=device) for h in (ha, hb, hc))
    sync = device.synchronize
    rows.append(record("add 16M f32" if not quick else "add 4M f32", "clt",
                       measure(lambda: a + b, sync), unit="B/s", amount=12 * n, limit=bw,
                       env=env))
    out = np.empty_like(ha)
    rows.append(record(rows[-1]["workload"], "numpy", measure(lambda: np.add(ha, hb, out=out)),
                       unit="B/s", amount=12 * n, limit=bw))
    name = "fused a + 0.5*b*c" + (" 16M" if not quick else " 4M")
    rows.append(record(name, "clt", measure(lambda: clt.addcmul(a, b, c, value=0.5), sync),
                       unit="B/s", amount=16 * n, limit=bw, env=env))
    rows.append(record(name, "numpy", measure(lambda: ha + 0.5 * hb * hc), unit="B/s",
                       amount=16 * n, limit=bw))
    s1, s2 = clt.ones(16, device=device), clt.ones(16, device=device)
    t = measure(lambda: s1 + s2, sync, repeat=5, min_time=0.05)
    rows.append(record("dispatch: a+b on 16 elements (per op)", "clt", t, unit="ops/s",
                       amount=1, env=env, extra={"us_per_op": t["median"] * 1e6}))
    try:
        import torch

        ta, tb = torch.from_numpy(ha), torch.from_numpy(hb)
        rows.append(record(rows[1]["workload"], "torch-cpu", measure(lambda: ta + tb),
                           unit="B/s", amount=12 * n, limit=bw))
    except ImportError:
        pass
    return rows
