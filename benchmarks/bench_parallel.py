"""Scaling: samples/s on 1 vs 2 devices (DataParallel, one process) and 1 vs 2 MPI ranks (DDP),
with the time spent in the gradient all-reduce.

On the 2-core CI machine the two PoCL devices (and the two ranks) share the same two cores, so
efficiency here measures overhead, not speed-up; the figures to expect on real multi-GPU
hardware are argued from the measured all-reduce cost in the closing notes.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from benchmarks.harness import record

CHILD = Path(__file__).parent / "parallel_child.py"
ROOT = Path(__file__).resolve().parent.parent


def _run(cmd: list[str], env: dict) -> dict | None:
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        print(f"[parallel] {' '.join(cmd[-5:])} failed: {proc.stderr[-500:]}", file=sys.stderr)
        return None
    return json.loads(lines[-1])


def run(device: Any, quick: bool = False, env: dict | None = None) -> list[dict]:
    steps = 5 if quick else 20
    base = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    rows = []
    for model, batch in (("mlp", 128), ("cnn", 64)):
        results = {}
        for n in (1, 2):
            e = dict(base, POCL_DEVICES="pthread pthread")
            r = _run([sys.executable, str(CHILD), "dp", str(n), str(steps), str(batch), model], e)
            if r:
                results[f"devices={n}"] = r
        mpiexec = shutil.which("mpiexec", path=str(Path(sys.executable).parent))
        if mpiexec:
            for n in (1, 2):
                r = _run([mpiexec, "-n", str(n), sys.executable, str(CHILD), "mpi", str(n),
                          str(steps), str(batch), model], base)
                if r:
                    results[f"ranks={n}"] = r
        for name, r in results.items():
            one = results.get(name.split("=")[0] + "=1")
            eff = r["samples_per_s"] / one["samples_per_s"] if one else None
            rows.append(record(f"scaling {model} batch {batch}", name,
                               {"median": batch / r["samples_per_s"], "min": 0, "max": 0},
                               unit="samples/s", amount=batch, env=env,
                               extra={"speedup_vs_1": eff, "split": r.get("split"),
                                      "allreduce_ms_per_step": 1e3 * r["allreduce_s_per_step"]}))
    return rows


if __name__ == "__main__":
    import clt
    from benchmarks.harness import RESULTS, print_table

    run(clt.get_default_device(), quick="--quick" in sys.argv)
    print_table(RESULTS)
    for r in RESULTS:
        print(r["workload"], r["impl"], f"{r['rate']:.0f} samples/s",
              f"x{r['speedup_vs_1']:.2f}" if r["speedup_vs_1"] else "",
              f"allreduce {r['allreduce_ms_per_step']:.2f} ms/step")
