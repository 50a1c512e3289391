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


def pytest_configure(config):
    # xdist workers inherit this: each leaves its build counts there for the summary
    if not hasattr(config, "workerinput") and "CLT_TEST_STATS_DIR" not in os.environ:
        import tempfile

        os.environ["CLT_TEST_STATS_DIR"] = tempfile.mkdtemp(prefix="clt-test-stats-")


def pytest_sessionfinish(session, exitstatus):
    from clt.backend.program import STATS

    folder = os.environ.get("CLT_TEST_STATS_DIR")
    if folder and os.path.isdir(folder):
        name = getattr(session.config, "workerinput", {}).get("workerid", "main")
        with open(os.path.join(folder, f"{name}.txt"), "w") as fh:
            fh.write(f"{STATS.programs_built} {STATS.disk_hits} {STATS.build_seconds} "
                     f"{STATS.source_hits}")


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """Report how many OpenCL programs this run built (cold-cache cost) and how many came from
    the disk cache, summed over xdist workers."""
    folder = os.environ.get("CLT_TEST_STATS_DIR")
    built = hits = sources = 0
    seconds = 0.0
    if folder and os.path.isdir(folder):
        for f in os.listdir(folder):
            b, h, t, s = open(os.path.join(folder, f)).read().split()
            built, hits, seconds = built + int(b), hits + int(h), seconds + float(t)
            sources += int(s)
    terminalreporter.write_line(
        f"clt kernels: {built} programs built ({sources} from cached sources), {hits} loaded "
        f"from cached binaries, "
        f"{seconds:.1f} s spent building (all workers)")
