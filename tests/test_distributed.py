"""Multi-process training on MPI (mpiexec -n 2): correctness, structure check, failures."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

WORKER = Path(__file__).parent / "scripts" / "mpi_worker.py"
ROOT = Path(__file__).resolve().parent.parent


def mpiexec() -> str:
    pytest.importorskip("mpi4py")
    exe = shutil.which("mpiexec", path=str(Path(sys.executable).parent)) or shutil.which(
        "mpiexec")
    if exe is None:
        pytest.skip("mpiexec not found (pip install mpich)")
    return exe


def launch(n: int, mode: str, out: Path, timeout_s: float = 60, limit: float = 180):
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    # Open MPI's mpiexec refuses to start as root (containers, CI images) unless told it may;
    # MPICH ignores these
    env.setdefault("OMPI_ALLOW_RUN_AS_ROOT", "1")
    env.setdefault("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
    return subprocess.run([mpiexec(), "-n", str(n), sys.executable, str(WORKER), mode, str(out),
                           str(timeout_s)], env=env, capture_output=True, text=True,
                          timeout=limit)


def test_two_ranks_match_one_rank(tmp_path):
    one = launch(1, "correctness", tmp_path / "one.npz")
    assert one.returncode == 0, one.stderr[-3000:]
    two = launch(2, "correctness", tmp_path / "two.npz")
    assert two.returncode == 0, two.stderr[-3000:]
    a, b = np.load(tmp_path / "one.npz"), np.load(tmp_path / "two.npz")
    for k in a.files:
        np.testing.assert_allclose(a[k], b[k], rtol=1e-5, atol=1e-6)


def test_structure_mismatch_is_detected(tmp_path):
    proc = launch(2, "mismatch", tmp_path / "x")
    errors = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    assert len(errors) == 2, proc.stdout + proc.stderr
    assert all("model structure differs between rank 0 and rank 1" in e["error"] for e in errors)


def test_hung_rank_fails_with_clear_error(tmp_path):
    start = time.monotonic()
    proc = launch(2, "hang", tmp_path / "x", timeout_s=5, limit=150)
    elapsed = time.monotonic() - start
    assert proc.returncode != 0
    assert "barrier did not complete within 5 s" in proc.stderr + proc.stdout, proc.stderr[-2000:]
    assert elapsed < 55                    # the hung rank sleeps 60 s: we did not wait for it


def test_trainer_under_mpi_writes_on_rank0_only(tmp_path):
    proc = launch(2, "trainer", tmp_path / "x")
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    assert {r["rank"] for r in rows} == {0, 1}
    assert all(r["ddp"] == "DistributedDataParallel" for r in rows)
    assert all(len(r["loss"]) == 2 for r in rows)
    assert (tmp_path / "ck" / "last.ckpt").exists()


def test_dead_rank_ends_the_job(tmp_path):
    start = time.monotonic()
    proc = launch(2, "die", tmp_path / "x", timeout_s=5, limit=120)
    assert proc.returncode != 0
    assert "rank 0 finished" not in proc.stdout      # rank 0 never got past the barrier
    assert time.monotonic() - start < 60
