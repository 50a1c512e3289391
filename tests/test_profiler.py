"""clt.profiler: per-kernel statistics, bounded storage, Chrome trace."""
from __future__ import annotations

import json

import clt


def test_profile_counts_kernels(device, tmp_path):
    x = clt.ones(1000, device=device)
    x + x                                             # build outside the profile
    with clt.profiler.profile(device, flush_every=8, max_events=5) as prof:
        for _ in range(20):
            y = x + x
        clt.exp(y)
    names = {s.name: s for s in prof.key_averages()}
    add = [s for n, s in names.items() if "add" in n]
    assert add and add[0].calls == 20                  # exact despite flushing
    assert any("exp" in n for n in names)
    assert len(prof._trace) == 5                      # bounded trace storage
    assert "calls" in prof.table() and "memory high-water" in prof.table()
    prof.export_chrome_trace(tmp_path / "t.json")
    trace = json.loads((tmp_path / "t.json").read_text())
    assert len(trace["traceEvents"]) == 5
    assert device.profiler is None                    # recording stops on exit
