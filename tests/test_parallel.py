"""Data parallelism over two PoCL devices (POCL_DEVICES="pthread pthread"), in subprocesses."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

WORKER = Path(__file__).parent / "scripts" / "dp_worker.py"
ROOT = Path(__file__).resolve().parent.parent


def run(mode: str) -> dict:
    import clt

    if not any("portable computing language" in i.platform.lower() for i in clt.device_infos()):
        pytest.skip("needs the PoCL driver to make two devices")
    env = dict(os.environ, POCL_DEVICES="pthread pthread",
               PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.pop("CLT_DEVICE", None)
    proc = subprocess.run([sys.executable, str(WORKER), mode], env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_two_devices_match_one_device():
    out = run("correctness")
    assert out["diff"] < 1e-5
    assert sum(out["split"]) == 48 and min(out["split"]) > 0


def test_slow_device_gets_smaller_share():
    out = run("balance")
    assert out["shares"][1] < out["shares"][0], out
    assert out["split"][1] < out["split"][0], out


def test_trainer_with_devices():
    out = run("trainer")
    assert len(out["loss"]) == 2 and out["loss"][1] < out["loss"][0]
    assert len(out["split"]) == 2
