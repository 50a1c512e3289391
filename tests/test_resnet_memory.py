"""The ResNet-18 peak-memory workload's measuring code (benchmarks/workloads/resnet_memory.py).

No thresholds on the clt/torch ratio: these check that each measure counts what it says (the
resident tensors, a positive step peak, no unseen frees) on a tiny batch (2: BatchNorm needs
more than one value per channel at the 1x1 last stage).
"""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))     # the benchmarks package of this checkout

from benchmarks.core import Case, Context, Workload, measure_case  # noqa: E402
from benchmarks.workloads import resnet_memory as RM  # noqa: E402


def test_clt_measure_counts_the_resident_tensors(device):
    in_use = device.memory.allocated_bytes
    m = RM.measure_clt(device, batch=2, steps=2)
    params = m["param_bytes"]
    assert params > 40e6                    # ResNet-18's 11.2M float32 parameters
    # parameters, gradients and momentum at least; the pool rounds blocks up by < 1/16
    assert m["tensor_bytes"] >= 3 * params
    assert m["tensor_bytes"] <= m["resident_bytes"] <= m["tensor_bytes"] * 17 / 16
    assert len(m["step_peaks"]) == 2 and all(p > 0 for p in m["step_peaks"])
    assert m["step_peaks"][0] == m["step_peaks"][1]     # a steady state: the same step twice
    # the model and its state are freed afterwards (small cached constants may stay)
    assert device.memory.allocated_bytes - in_use < 4096


def test_torch_measure_sees_every_free():
    torch = pytest.importorskip("torch")
    m = RM.measure_torch(torch, batch=2, steps=2)
    assert m["resident_bytes"] == m["tensor_bytes"] >= 3 * m["param_bytes"] > 40e6
    assert all(p > 0 for p in m["step_peaks"])
    assert m["end_deltas"] == [0, 0]        # every allocation in a step freed or replaced


def test_torch_model_matches_clt_resnet18():
    torch = pytest.importorskip("torch")
    from clt.models import resnet18

    ours = sum(p.numel() for p in RM.torch_resnet18(torch).parameters())
    assert ours == sum(p.numel() for p in resnet18(num_classes=RM.CLASSES).parameters())


def test_memory_rows_are_bytes_lower_is_better():
    case = Case({}, size="s")
    case.direct = {"clt": [120.0, 100.0, 110.0], "torch-1t": [50.0, 50.0]}
    wl = Workload("mem.x", "fake", "memory use", "B", None, lambda ctx: case)
    ctx = Context(device=None, mode="smoke", peers=None, limits={}, repeat=2, min_time=0.0)
    rows = measure_case(wl, case, ctx, {"device": "d", "driver": "v"})
    clt = next(r for r in rows if r["impl"] == "clt")
    assert clt["value"] == 110.0 and clt["spread"] == [100.0, 120.0]
    assert not clt["higher_is_better"] and "seconds" not in clt
    assert clt["vs"]["torch-1t"] == pytest.approx(50 / 110)     # >1 would mean clt uses less
