"""Shared fixtures: the OpenCL devices under test (narrowed by CLT_TEST_DEVICES)."""
from __future__ import annotations

import os

import numpy as np
import pytest

import clt.backend as B


def _selected() -> list:
    infos = B.device_infos()
    wanted = os.environ.get("CLT_TEST_DEVICES")
    if not wanted:
        # every device by default, but only one per physical device: duplicated PoCL
        # pthread devices add run time without adding coverage
        seen, out = set(), []
        for i in infos:
            key = (i.platform, i.name)
            if key not in seen:
                seen.add(key)
                out.append(i.id)
        return out
    return [B.device(w.strip()).id for w in wanted.split(",") if w.strip()]


_IDS = _selected()


@pytest.fixture(params=_IDS or [pytest.param(None, marks=pytest.mark.skip(
    reason="no OpenCL device (pip install pocl-binary-distribution)"))],
    ids=lambda d: d or "none", scope="session")
def device(request):
    """Each selected OpenCL device in turn, as a clt Device."""
    dev = B.device(request.param)
    yield dev


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


def skip_if_no_fp64(device, dtype) -> None:
    if np.dtype(getattr(dtype, "np", dtype)) == np.float64 and not device.supports_fp64:
        pytest.skip(f"{device} lacks fp64")


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """Report how many OpenCL programs this run built (cold-cache cost) and how many came from
    the disk cache."""
    from clt.backend.program import STATS

    terminalreporter.write_line(
        f"clt kernels: {STATS.programs_built} programs built, {STATS.disk_hits} loaded from the "
        f"disk cache, {STATS.build_seconds:.1f} s spent building")
