"""The benchmark suite's own code: a --smoke run end to end, the report, --compare, clt-bench.

No timing assertions: figures depend on the machine and its load; these tests check that every
workload runs, that the outputs parse and carry what they promise.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))     # the benchmarks package of this checkout

from benchmarks import report, suite  # noqa: E402
from benchmarks.core import Case, Context, Impl, Workload, measure_case  # noqa: E402
from benchmarks.workloads import WORKLOADS  # noqa: E402


@pytest.fixture(scope="module")
def smoke(device, tmp_path_factory):
    """One --smoke run over every workload (numpy as the only peer), with every output."""
    out = tmp_path_factory.mktemp("bench")
    args = ["--smoke", "--device", device.id, "--peers", "numpy", "--json", str(out / "r.json"),
            "--md", str(out / "r.md")]
    status = suite.main(args)
    return status, out, json.loads((out / "r.json").read_text())


def test_smoke_run_has_every_workload(smoke):
    status, _, doc = smoke
    keys = [w.key for w in WORKLOADS]
    assert doc["workloads"] == keys
    by = report.by_workload(doc["results"])
    assert list(by) == keys
    for key, rows in by.items():
        clt = [r for r in rows if r["impl"] == "clt"]
        assert len(clt) == 1, key
        row = clt[0]
        if key == "startup.cold":
            assert row["status"] == "skipped" and "--smoke" in row["reason"]
            continue
        assert row["status"] == "ok", (key, row.get("error"))
        assert row["value"] > 0 and row["samples"] >= (1 if key.startswith("startup") else 2)
        assert row["device"] == doc["env"]["device"] and row["driver"] == doc["env"]["driver"]
        lo, hi = row["spread"]
        assert min(lo, hi) <= row["value"] <= max(lo, hi)
    assert status == 0


def test_smoke_results_carry_limits_peers_and_profiles(smoke):
    _, _, doc = smoke
    assert doc["limits"]["copy_Bps"] > 0 and doc["limits"]["peak_flops"] > 0
    for field in ("device", "platform", "driver", "cpus", "loadavg_start", "versions"):
        assert doc["env"][field], field
    rows = {(r["workload"], r["impl"]): r for r in doc["results"]}
    gemm = rows[("gemm.s256", "clt")]
    assert 0 < gemm["fraction_of_limit"] and gemm["limit_kind"] == "peak FLOP/s"
    assert gemm["device_s"] > 0 and gemm["top_kernels"][0]["kernel"].startswith("clt_")
    assert rows[("ew.add", "clt")]["limit_kind"] == "copy bandwidth"
    # numpy measured and compared; peers left out are reported with a reason
    assert rows[("ew.add", "numpy")]["status"] == "ok"
    assert "numpy" in gemm["vs_best"] and gemm["vs"]
    assert rows[("ew.add", "torch")]["status"] == "skipped"
    assert rows[("train.mlp", "clt")]["flops"] > 0
    warm = rows[("startup.warm", "clt")]
    assert warm["unit"] == "s" and warm["phases"]["second_step_s"] > 0
    assert rows[("dispatch.add", "clt")]["unit"] == "us/op"


def test_report_table_markdown_and_plots(smoke, tmp_path):
    _, out, doc = smoke
    md = (out / "r.md").read_text()
    assert "| workload | clt | % of limit |" in md and "train.mlp" in md
    import io

    buf = io.StringIO()
    report.print_report(doc, file=buf)
    text = buf.getvalue()
    assert "summary" in text and "gemm.s256" in text and "kernels/call" in text
    pytest.importorskip("matplotlib")
    paths = report.plot(doc, tmp_path)
    assert tmp_path / "roofline.png" in paths
    assert any(p.name.startswith("vs_peers_") for p in paths)
    assert all(p.stat().st_size > 1000 for p in paths)


def test_compare_flags_regressions(smoke, tmp_path, capsys):
    _, out, doc = smoke
    slower = json.loads(json.dumps(doc))
    for r in slower["results"]:
        if r["impl"] == "clt" and r["workload"] == "gemm.s256":
            r["value"] /= 2                       # a rate halved: a regression
        if r["impl"] == "clt" and r["workload"] == "dispatch.add":
            r["value"] /= 2                       # a time halved: an improvement
    (tmp_path / "new.json").write_text(json.dumps(slower))
    assert suite.main(["--compare", str(out / "r.json"), str(tmp_path / "new.json")]) == 1
    text = capsys.readouterr().out
    line = next(ln for ln in text.splitlines() if ln.startswith("gemm.s256"))
    assert "REGRESSION" in line and "0.50x" in line
    line = next(ln for ln in text.splitlines() if ln.startswith("dispatch.add"))
    assert "improved" in line and "2.00x" in line
    assert suite.main(["--compare", str(out / "r.json"), str(out / "r.json")]) == 0


def test_peers_are_measured_when_installed(device, tmp_path):
    pytest.importorskip("torch")
    path = tmp_path / "r.json"
    suite.main(["--smoke", "--device", device.id, "--only", "ew.add", "--only", "dispatch",
                "--peers", "numpy,torch,pyopencl", "--json", str(path)])
    doc = json.loads(path.read_text())
    impls = {(r["workload"], r["impl"]): r["status"] for r in doc["results"]}
    for impl in ("numpy", "torch-1t", "torch-2t", "pyopencl.array"):
        assert impls[("ew.add", impl)] == "ok", impl
    clt = next(r for r in doc["results"]
               if r["workload"] == "ew.add" and r["impl"] == "clt")
    assert set(clt["vs_best"]) == {"numpy", "torch", "pyopencl"}
    assert clt["vs_best"]["torch"]["impl"] in ("torch-1t", "torch-2t")
    assert doc["env"]["versions"]["torch"]


def _fake_case(times: dict[str, float]) -> Case:
    return Case({k: Impl(lambda: None) for k in times}, amount=100.0, flops=100.0, bytes=50.0)


@pytest.mark.parametrize("unit", ["FLOP/s", "us/op"])
def test_ratios_point_the_right_way(unit, monkeypatch):
    from benchmarks import core

    times = {"clt": 1.0, "numpy": 2.0, "torch-1t": 4.0, "torch-2t": 0.5}
    monkeypatch.setattr(core, "_warm", lambda impl, warmup, min_time: (1, 0.0))
    it = iter([])

    def fake_sample(impl, calls):
        return next(it)
    monkeypatch.setattr(core, "_sample", fake_sample)
    order = list(times)
    it = iter([times[k] for _ in range(3) for k in order])
    wl = Workload("x.y", "fake", "g", unit, "flops", lambda ctx: None)
    ctx = Context(device=None, mode="smoke", peers=None,
                  limits={"peak_flops": 1000.0, "copy_Bps": 1000.0}, repeat=3, min_time=0.0)
    rows = measure_case(wl, _fake_case(times), ctx, {"device": "d", "driver": "v"})
    clt = next(r for r in rows if r["impl"] == "clt")
    if unit == "FLOP/s":     # rates: clt does 100 FLOP in 1 s, numpy in 2 s -> clt 2x faster
        assert clt["value"] == 100.0 and clt["fraction_of_limit"] == pytest.approx(0.1)
    else:                    # times: value is microseconds per op, lower is better
        assert clt["value"] == pytest.approx(1e6) and "fraction_of_limit" not in clt
    assert clt["vs"]["numpy"] == pytest.approx(2.0)
    assert clt["vs"]["torch-2t"] == pytest.approx(0.5)
    assert clt["vs_best"]["torch"] == {"impl": "torch-2t", "ratio": pytest.approx(0.5)}


def test_selection_patterns():
    keys = [w.key for w in suite.select(WORKLOADS, "full", ["gemm"], ["gemm.h*"])]
    assert keys and all(k.startswith("gemm.") and not k.startswith("gemm.h") for k in keys)
    quick = [w.key for w in suite.select(WORKLOADS, "quick", None, None)]
    assert "gemm.s2048" not in quick and "train.mlp" in quick
    assert len(suite.select(WORKLOADS, "full", None, None)) == len(WORKLOADS)
    assert len({w.key for w in WORKLOADS}) == len(WORKLOADS)


def test_clt_bench_entry_point(capsys, monkeypatch):
    from clt.cli import bench

    assert bench.find_checkout() == ROOT
    assert bench.main(["--list"]) == 0
    assert "train.mlp" in capsys.readouterr().out
    monkeypatch.setattr(bench, "find_checkout", lambda: None)    # as from a wheel
    assert bench.main(["--list"]) == 2
    assert "source checkout" in capsys.readouterr().err


def test_setup_cfg_declares_clt_bench():
    import configparser

    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    assert "clt-bench = clt.cli.bench:main" in cfg["options.entry_points"]["console_scripts"]
    assert "torch" not in cfg["options.extras_require"]["bench"]
