"""The tuning database (clt.backend.tuning) and the GEMM tuner, with a tiny search space.

No timing assertions: scores are whatever the (shared, noisy) machine gives; the tests check
what is stored, read back, ignored and used.
"""
from __future__ import annotations

import json

import numpy as np
import pytest

from clt.backend import tuning
from clt.backend.capabilities import probe_key
from clt.ops import matmul as mm
from clt.ops.transfer import from_numpy, to_numpy


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """An empty user cache for each test; the in-process memo is reset around it."""
    monkeypatch.setenv("CLT_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv("CLT_TUNING", raising=False)
    tuning.reset_cache()
    yield tmp_path
    tuning.reset_cache()


def _tile(device):
    """The CPU float32 tile or GPU default tile the next plan for ``device`` will use."""
    cpu, gpu, _ = mm._settings(tuning.lookup_id(device.info, "gemm"))
    return cpu["float32"] if device.caps.style == "cpu" else gpu["default"]


def _other_tile(device):
    if device.caps.style == "cpu":
        return "cpu_tiles", "float32", dict(mr=4, nv=2, vw=8)
    return "gpu_tiles", "default", dict(tm=32, tn=32, tk=16, wm=2, wn=2)


def test_untuned_device_uses_the_defaults(device, cache):
    assert tuning.lookup(device.info, "gemm") is None
    assert tuning.lookup_id(device.info, "gemm") == 0
    cpu, gpu, blk = mm._settings(0)
    assert cpu == {k: dict(v) for k, v in mm.CPU_TILES.items()}
    assert gpu == {k: dict(v) for k, v in mm.GPU_TILES.items()}
    assert blk == dict(mm.CPU_BLOCKING)


def test_save_then_lookup_round_trip(device, cache):
    section, which, tile = _other_tile(device)
    params = {section: {which: tile}, "cpu_blocking": {"max_tiles": 4}}
    path = tuning.save_entry(device.info, "gemm", params, {"speedup": 1.5})
    assert path == cache / "tuning.json"
    entry = json.loads(path.read_text())[probe_key(device.info)]["gemm"]
    assert entry["params"] == params and entry["speedup"] == 1.5
    assert entry["driver"] == device.info.driver_version
    assert tuning.lookup(device.info, "gemm") == params
    assert _tile(device) == tile
    # and products with the tuned tile are still right
    rng = np.random.default_rng(0)
    a = rng.standard_normal((37, 29)).astype(np.float32)
    b = rng.standard_normal((29, 45)).astype(np.float32)
    got = to_numpy(mm.gemm(from_numpy(device, a), from_numpy(device, b)))
    np.testing.assert_allclose(got, a @ b, rtol=1e-4, atol=1e-4)


def test_stale_corrupt_or_disabled_entries_fall_back(device, cache, monkeypatch):
    section, which, tile = _other_tile(device)
    tuning.save_entry(device.info, "gemm", {section: {which: tile}})
    path = cache / "tuning.json"
    data = json.loads(path.read_text())
    data[probe_key(device.info)]["gemm"]["template"] = "0123456789abcdef"   # older template
    path.write_text(json.dumps(data))
    tuning.reset_cache()
    assert tuning.lookup(device.info, "gemm") is None
    path.write_text("{not json")
    tuning.reset_cache()
    assert tuning.lookup(device.info, "gemm") is None
    tuning.save_entry(device.info, "gemm", {section: {which: tile}})
    monkeypatch.setenv("CLT_TUNING", "0")
    tuning.reset_cache()
    assert tuning.lookup(device.info, "gemm") is None
    assert _tile(device) != tile


def test_malformed_tiles_are_ignored_by_matmul(device, cache):
    section, which, tile = _other_tile(device)
    bad = dict(tile, **({"vw": 3} if section == "cpu_tiles" else {"wm": 5}))
    tuning.save_entry(device.info, "gemm", {section: {which: bad}})
    assert _tile(device) != bad
    with pytest.raises(tuning.TuningError, match="nested dicts of ints"):
        tuning.save_entry(device.info, "gemm", {section: {which: {"mr": 1.5}}})


def test_runtime_setting_wins_over_database(device, cache, monkeypatch):
    tuning.save_entry(device.info, "gemm", {"cpu_blocking": {"pack_a_min": 7}})
    _, _, blk = mm._settings(tuning.lookup_id(device.info, "gemm"))
    assert blk["pack_a_min"] == 7
    monkeypatch.setitem(mm.CPU_BLOCKING, "pack_a_min", 0)     # what tests do to force paths
    _, _, blk = mm._settings(tuning.lookup_id(device.info, "gemm"))
    assert blk["pack_a_min"] == 0


def test_override_and_forget(device, cache):
    section, which, tile = _other_tile(device)
    with tuning.override(device.info, "gemm", {section: {which: tile}}):
        assert _tile(device) == tile
    assert tuning.lookup(device.info, "gemm") is None
    tuning.save_entry(device.info, "gemm", {section: {which: tile}})
    with tuning.override(device.info, "gemm", None):     # defaults, whatever is stored
        assert tuning.lookup_id(device.info, "gemm") == 0
    assert tuning.forget(device.info, "gemm") == 1
    assert tuning.lookup(device.info, "gemm") is None


def test_tune_gemm_tiny_space(device, cache, monkeypatch):
    from clt.ops import tune_matmul

    section, which, tile = _other_tile(device)
    real_timer = tune_matmul._timer

    def rigged_timer(dev, sizes, repeat, min_time):
        measure = real_timer(dev, sizes, 1, 0.0)     # runs the GEMMs with the candidate

        def score():
            measure()
            return 2.0 if _tile(dev) == tile else 1.0   # make the candidate win, whatever
        return score
    monkeypatch.setattr(tune_matmul, "_timer", rigged_timer)
    lines = []
    result = tuning.tune_gemm(device, sizes=[(64, 48, 80)], budget_s=60,
                              space=[(f"{section}.{which}", [tile])], progress=lines.append)
    assert [t.get("error") for t in result["trials"]] == [None, None]
    assert result["best"] == {section: {which: tile}}
    assert result["default_score"] == 1.0 and result["best_score"] == 2.0
    assert result["speedup"] == 2.0
    assert result["saved"] == str(cache / "tuning.json")
    assert tuning.lookup(device.info, "gemm") == result["best"]
    assert any("defaults" in line for line in lines)


def test_tune_gemm_keeps_defaults_and_skips_failing_candidates(device, cache):
    section, which, tile = _other_tile(device)
    broken = dict(tile, **({"mr": 100} if section == "cpu_tiles" else {"tm": 4096}))
    result = tuning.tune_gemm(device, sizes=[(32, 32, 32)], budget_s=60,
                              space=[(f"{section}.{which}", [broken])], min_gain=10.0)
    assert result["best"] == {} and result["speedup"] == 1.0
    assert tuning.lookup(device.info, "gemm") is None


def test_tune_rejects_bad_arguments(device, cache):
    with pytest.raises(tuning.TuningError, match="sizes"):
        tuning.tune_gemm(device, sizes=[(0, 4, 4)], budget_s=5, space=[])
    with pytest.raises(tuning.TuningError, match="budget_s"):
        tuning.tune_gemm(device, sizes=[(4, 4, 4)], budget_s=0, space=[])
    with pytest.raises(tuning.TuningError, match="no tuner registered for 'nope'"):
        tuning.tune(device, "nope")


def test_coordinate_search_keeps_best_and_respects_budget():
    base = {"s": {"a": 1, "b": 1}}
    scores = {(1, 1): 1.0, (2, 1): 3.0, (3, 1): 2.0, (2, 5): 4.0}

    def score(p):
        key = (p["s"]["a"], p["s"]["b"])
        if key not in scores:
            raise RuntimeError("unbuildable")
        return scores[key]
    best, value, trials = tuning.coordinate_search(
        base, [("s.a", [2, 3]), ("s.b", [7, 5])], score, budget_s=60)
    assert best == {"s": {"a": 2, "b": 5}} and value == 4.0
    assert sum("error" in t for t in trials) == 1
    best, value, trials = tuning.coordinate_search(base, [("s.a", [2, 3])], score, budget_s=0)
    assert best == base and len(trials) == 1


def test_clt_devices_tune_flag(device, cache, monkeypatch, capsys):
    from clt.cli import devices as cli
    from clt.ops import tune_matmul

    monkeypatch.setattr(tune_matmul, "CPU_SIZES", ((32, 40, 48, False, True),))
    monkeypatch.setattr(tune_matmul, "GPU_SIZES", ((32, 40, 48, False, True),))
    monkeypatch.setattr(tune_matmul, "default_space", lambda dev: [])
    assert cli.main(["--tune", "--tune-budget", "5", "--device", device.id, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    result = doc["tune"][device.id]
    assert "error" not in result and result["default_score"] > 0
    assert result["saved"] == str(cache / "tuning.json")
    assert cli.main(["--tune", "--tune-budget", "5", "--device", device.id]) == 0
    assert "GFLOP/s vs" in capsys.readouterr().out
