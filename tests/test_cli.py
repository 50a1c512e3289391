"""``clt-devices``: listing (table, JSON), --check, --probe, --warmup, errors."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time

import pyopencl as cl
import pytest

import clt.backend as B
from clt.cli import devices as cli

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    """Probe results and binaries go to a private cache, never the user's."""
    monkeypatch.setenv("CLT_CACHE_DIR", str(tmp_path / "clt-cache"))


def run_cli(capsys, *args):
    status = cli.main(list(args))
    out = capsys.readouterr()
    return status, out.out, out.err


def test_table_lists_every_device_and_the_default(capsys):
    status, out, _ = run_cli(capsys)
    assert status == 0
    lines = out.splitlines()
    header = lines[0].split()
    for column in ("id", "type", "device", "platform", "vendor", "driver", "CUs", "memory",
                   "fp16", "fp64", "probe"):
        assert column in header
    infos = B.device_infos()
    rows = [line for line in lines[1:1 + len(infos)]]
    for info, row in zip(infos, rows):
        assert info.id in row and info.name in row and info.type in row
        assert info.driver_version in row and str(info.compute_units) in row
    default_index = B.default_device_index()[0]
    assert rows[default_index].startswith("*")
    assert f"default: cl:{default_index}" in out
    assert "CLT_DEVICE=" in out and 'clt.device("cl:N")' in out


def test_listing_builds_no_program_and_opens_no_context(capsys, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the plain listing must not create contexts or build programs")

    monkeypatch.setattr(cl, "Program", refuse)
    monkeypatch.setattr(cl, "Context", refuse)
    built, hits = B.STATS.programs_built, B.STATS.disk_hits
    start = time.perf_counter()
    assert run_cli(capsys)[0] == 0
    assert run_cli(capsys, "--json")[0] == 0
    assert run_cli(capsys, "-v")[0] == 0
    elapsed = time.perf_counter() - start
    assert (B.STATS.programs_built, B.STATS.disk_hits) == (built, hits)
    print(f"three listings in-process: {elapsed * 1e3:.0f} ms")


def test_json_has_devices_caps_and_default(capsys):
    status, out, _ = run_cli(capsys, "--json")
    assert status == 0
    doc = json.loads(out)
    infos = B.device_infos()
    assert [d["id"] for d in doc["devices"]] == [i.id for i in infos]
    index, reason = B.default_device_index()
    assert doc["default"] == infos[index].id and doc["default_reason"] == reason
    for d, info in zip(doc["devices"], infos):
        assert d["name"] == info.name and d["global_mem_bytes"] == info.global_mem_bytes
        assert d["caps"]["style"] in ("cpu", "gpu") and "quirks" in d["caps"]
        assert d["default"] == (d["id"] == doc["default"])
        assert d["check"] is None


def test_verbose_shows_the_capability_table(capsys):
    status, out, _ = run_cli(capsys, "-v")
    assert status == 0
    assert "capability table:" in out and "style" in out and "extensions:" in out
    assert "probe: not run" in out


def test_check_runs_a_kernel_on_every_device(capsys):
    status, out, _ = run_cli(capsys, "--check", "--json")
    doc = json.loads(out)
    assert status == 0
    assert all(d["check"] == "ok" for d in doc["devices"])
    status, out, _ = run_cli(capsys, "--check")
    assert status == 0 and "PASS" in out and "check" in out.splitlines()[0]


def test_a_failing_device_is_reported_and_the_listing_goes_on(capsys, monkeypatch):
    from clt.backend import probe

    first = B.device_infos()[0].id

    def fake_check(dev, n=1027):
        if dev.id == first:
            raise RuntimeError("driver exploded on purpose")

    monkeypatch.setattr(probe, "check_device", fake_check)
    status, out, _ = run_cli(capsys, "--check")
    assert status == 1
    assert "FAIL" in out and f"{first} FAILED: RuntimeError: driver exploded on purpose" in out
    for info in B.device_infos():
        assert info.id in out
    status, out, _ = run_cli(capsys, "--check", "--json")
    doc = json.loads(out)
    assert doc["devices"][0]["check"].startswith("RuntimeError: driver exploded")


def test_probe_measures_and_caches(capsys, device):
    status, out, _ = run_cli(capsys, "--probe", "--device", device.id, "--json")
    assert status == 0, out
    doc = json.loads(out)
    row = doc["devices"][device.info.index]
    probe = row["probe"]
    assert probe["copy_gbps"] > 0 and probe["fma_gflops"] > 0
    assert isinstance(probe["fp16_ok"], bool) and isinstance(probe["fp64_ok"], bool)
    assert row["caps"]["fp64"] == probe["fp64_ok"]
    # fp64 is real where the driver claims it (PoCL and every GPU driver clt knows)
    if device.info.fp64:
        assert probe["fp64_ok"], probe["fp64_note"]
    # cached per device and driver: the plain listing shows it without measuring again
    assert B.capabilities.load_probe(device.info)["copy_gbps"] == probe["copy_gbps"]
    status, out, _ = run_cli(capsys)
    assert "GB/s" in out and "GFLOP/s" in out
    print(f"probe {device}: copy {probe['copy_gbps']:.1f} GB/s, "
          f"FMA {probe['fma_gflops']:.1f} GFLOP/s, fp16 {probe['fp16_ok']}, "
          f"fp64 {probe['fp64_ok']}")


def test_warmup_reports_time(capsys, device, monkeypatch):
    # binaries would double the cost of every build here (tests/test_kernel_engine.py covers it)
    monkeypatch.setattr(device.kernels, "binaries", False)
    status, out, _ = run_cli(capsys, "--warmup", "--device", device.id, "--json")
    assert status == 0, out
    doc = json.loads(out)
    report = doc["warmup"][device.id]
    names = [f["name"] for f in report["families"]]
    assert "elementwise" in names
    for fam in report["families"]:
        assert fam["error"] is None and fam["seconds"] >= 0
    ew = next(f for f in report["families"] if f["name"] == "elementwise")
    assert report["seconds"] >= ew["seconds"]
    status, out, _ = run_cli(capsys, "--warmup", "--device", device.id)
    assert status == 0 and f"warm-up on {device.id}:" in out and "elementwise" in out


def test_bad_device_option(capsys):
    status, _, err = run_cli(capsys, "--check", "--device", "no-such-device-xyz")
    assert status == 1 and "no OpenCL device matches" in err


def test_bad_clt_device_env_is_shown(capsys, monkeypatch):
    monkeypatch.setenv("CLT_DEVICE", "no-such-device-xyz")
    status, out, _ = run_cli(capsys)
    assert status == 1
    assert "default: none" in out and "no-such-device-xyz" in out


def test_console_entry_point_and_module_run():
    """The installed ``clt-devices`` script (when installed) and ``python -m`` both work."""
    env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""))
    commands = [[sys.executable, "-m", "clt.cli.devices", "--json"]]
    script = shutil.which("clt-devices") or (
        os.path.join(os.path.dirname(sys.executable), "clt-devices"))
    if os.path.exists(script):
        commands.append([script, "--json"])
    for command in commands:
        start = time.perf_counter()
        proc = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60,
                              cwd="/")
        elapsed = time.perf_counter() - start
        assert proc.returncode == 0, proc.stderr
        assert len(json.loads(proc.stdout)["devices"]) == len(B.device_infos())
        print(f"{os.path.basename(command[0])} listing in a fresh process: {elapsed:.2f} s")
