"""Rendering and building kernels: errors, in-memory and on-disk caches, warm-up, logging."""
from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import textwrap
import threading

import pytest

import clt.backend as B
from clt.backend import program
from clt.backend.logs import configure_from_env
from clt.errors import KernelBuildError, KernelRenderError

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CHECK = ("probe.cl.mako", "check")

BROKEN = """\
## broken.cl.mako -- test-only templates: one that does not compile, one that does not render.
<%namespace name="common" file="common.cl.mako"/>
## bad_c(name): a kernel whose body uses an undeclared identifier.
<%def name="bad_c(name)">
__kernel void ${name}(__global float *out_g)
{
    out_g[get_global_id(0)] = undeclared_thing_42 * 2.0f;
}
</%def>
## bad_mako(name, width): uses a render-time name it was not given.
<%def name="bad_mako(name, width)">
__kernel void ${name}(__global float *out_g) { out_g[0] = ${width} + ${missing_param}; }
</%def>
## good(name, value): builds and stores value.
<%def name="good(name, value)">
__kernel void ${name}(__global float *out_g) { out_g[get_global_id(0)] = ${value}; }
</%def>
"""


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    """A private on-disk kernel cache for one test."""
    path = tmp_path / "clt-cache"
    monkeypatch.setenv("CLT_CACHE_DIR", str(path))
    return path


@pytest.fixture
def fresh(device, cache_dir):
    """A new Device (empty in-memory kernel cache) using the private disk cache."""
    return B.Device(device.cl_device, device.info)


@pytest.fixture
def kernel_dir(tmp_path, monkeypatch):
    """CLT_KERNEL_DIR pointing at a folder with common.cl.mako and the test-only broken.cl.mako."""
    path = tmp_path / "kernels"
    path.mkdir()
    shutil.copy(B.find_kernel_dir() / "common.cl.mako", path)
    (path / "broken.cl.mako").write_text(BROKEN)
    monkeypatch.setenv("CLT_KERNEL_DIR", str(path))
    program._lookup.cache_clear()
    B.render.cache_clear()
    yield path
    program._lookup.cache_clear()
    B.render.cache_clear()


# -- rendering -------------------------------------------------------------------------------

def test_kernel_dir_is_found():
    path = B.find_kernel_dir()
    assert (path / "common.cl.mako").is_file() and (path / "elementwise.cl.mako").is_file()


def test_render_is_memoized():
    params = (("name", "clt_probe_check"),)
    first = B.render(*CHECK, params)
    assert B.render(*CHECK, params) is first
    assert "__kernel void clt_probe_check(" in first


def test_render_error_names_template_def_and_params():
    with pytest.raises(KernelRenderError) as err:
        B.render("probe.cl.mako", "fma", (("name", "clt_probe_x"), ("width", 4)))
    msg = str(err.value)
    assert "probe.cl.mako:fma" in msg and "'width': 4" in msg and "clt_probe_x" in msg
    assert "chains" in msg                     # the missing argument, from the Mako traceback


def test_strict_undefined_inside_a_def(kernel_dir):
    with pytest.raises(KernelRenderError) as err:
        B.render("broken.cl.mako", "bad_mako", (("name", "k"), ("width", 3)))
    msg = str(err.value)
    assert "broken.cl.mako:bad_mako" in msg and "'width': 3" in msg
    assert "missing_param" in msg and "NameError" in msg


def test_render_errors_for_unknown_template_and_def():
    with pytest.raises(KernelRenderError, match="no_such.cl.mako"):
        B.render("no_such.cl.mako", "x", (("name", "k"),))
    with pytest.raises(KernelRenderError, match="probe.cl.mako:no_such_def"):
        B.render("probe.cl.mako", "no_such_def", (("name", "k"),))


def test_render_params_must_be_primitives():
    with pytest.raises(KernelRenderError, match="not a hashable primitive"):
        B.render(*CHECK, (("name", ["a", "list"]),))


def test_missing_kernel_dir_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("CLT_KERNEL_DIR", str(tmp_path / "nowhere"))
    program._lookup.cache_clear()
    B.render.cache_clear()
    try:
        with pytest.raises(KernelRenderError, match="probe.cl.mako"):
            B.render(*CHECK, (("name", "k"),))
    finally:
        monkeypatch.undo()
        program._lookup.cache_clear()
        B.render.cache_clear()


# -- building --------------------------------------------------------------------------------

def test_build_error_shows_device_log_options_and_numbered_source(fresh, kernel_dir):
    with pytest.raises(KernelBuildError) as err:
        fresh.kernels.get("broken.cl.mako", "bad_c", name="clt_test_bad")
    msg = str(err.value)
    assert "broken.cl.mako:bad_c" in msg and fresh.id in msg and fresh.name in msg
    assert "options: -cl-std=CL1.2" in msg
    assert "build log" in msg and "undeclared_thing_42" in msg
    assert "   3|     out_g[get_global_id(0)] = undeclared_thing_42 * 2.0f;" in msg
    assert "'name': 'clt_test_bad'" in msg
    assert fresh.kernels.builds == 0 and len(fresh.kernels) == 0
    # nothing half-built is cached: asking again fails the same way
    with pytest.raises(KernelBuildError):
        fresh.kernels.get("broken.cl.mako", "bad_c", name="clt_test_bad")


def test_each_key_builds_once(fresh):
    cache = fresh.kernels
    k1 = cache.get(*CHECK, name="clt_probe_check")
    k2 = cache.get(*CHECK, name="clt_probe_check")
    assert k1 is k2 and cache.builds == 1 and len(cache) == 1
    # options are part of the key
    k3 = cache.get(*CHECK, options=("-cl-fast-relaxed-math",), name="clt_probe_check")
    assert k3 is not k1 and cache.builds == 2 and len(cache) == 2
    assert B.KernelCache.key(*CHECK, name="clt_probe_check") in cache


def test_concurrent_requests_build_once(fresh, kernel_dir):
    results, errors = [], []

    def get():
        try:
            results.append(fresh.kernels.get("broken.cl.mako", "good", name="clt_t_g", value=1))
        except Exception as exc:   # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=get) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert fresh.kernels.builds == 1 and all(k is results[0] for k in results)


def test_prebuild_in_threads(fresh, kernel_dir):
    specs = [("broken.cl.mako", "good", {"name": f"clt_t_pre{i}", "value": i}) for i in range(3)]
    assert fresh.kernels.prebuild(specs, workers=2) == 3
    assert fresh.kernels.builds == 3 and len(fresh.kernels) == 3
    fresh.kernels.prebuild(specs, workers=1)
    assert fresh.kernels.builds == 3


def _opened(device, binaries=None):
    dev = B.Device(device.cl_device, device.info)
    dev.kernels.binaries = binaries
    return dev


def test_disk_cache_serves_a_second_device_object(device, cache_dir):
    first = _opened(device, binaries=True)
    first.kernels.get(*CHECK, name="clt_probe_check")
    assert first.kernels.builds == 1 and first.kernels.disk_hits == 0
    assert len(list((cache_dir / "programs").glob("*.bin"))) == 1
    second = _opened(device, binaries=True)
    second.kernels.get(*CHECK, name="clt_probe_check")
    assert second.kernels.builds == 0 and second.kernels.disk_hits == 1


def test_source_cache_skips_rendering(device, cache_dir, monkeypatch):
    first = _opened(device, binaries=False)
    first.kernels.get(*CHECK, name="clt_probe_check")
    assert not list((cache_dir / "programs").glob("*.bin"))
    assert len(list((cache_dir / "programs").glob("*.cl"))) == 1

    def no_render(*args):
        raise AssertionError("a cached source must not be rendered again")
    monkeypatch.setattr(program, "render", no_render)
    hits = B.STATS.source_hits
    second = _opened(device, binaries=False)
    from clt.backend.probe import check_device
    check_device(second)     # builds from the cached source and runs it
    assert second.kernels.builds == 1 and B.STATS.source_hits == hits + 1


def test_damaged_cached_source_is_rendered_again(device, cache_dir):
    first = _opened(device, binaries=False)
    first.kernels.get(*CHECK, name="clt_probe_check")
    (entry,) = (cache_dir / "programs").glob("*.cl")
    entry.write_text("__kernel void clt_probe_check(__global float *x) { not C }")
    second = _opened(device, binaries=False)
    from clt.backend.probe import check_device
    check_device(second)      # rebuilt from a fresh render, and the entry repaired
    assert "not C" not in entry.read_text()


def test_changing_a_template_changes_the_cache_key(device, cache_dir, kernel_dir):
    spec = ("broken.cl.mako", "good")
    first = _opened(device, binaries=True)
    first.kernels.get(*spec, name="clt_t_key", value=1)
    (kernel_dir / "broken.cl.mako").write_text(BROKEN.replace("= ${value};", "= ${value} + 1;"))
    os.utime(kernel_dir / "broken.cl.mako", ns=(1, 1))   # a distinct stamp however fast we are
    B.render.cache_clear()
    program._lookup.cache_clear()
    second = _opened(device, binaries=True)
    second.kernels.get(*spec, name="clt_t_key", value=1)
    assert second.kernels.builds == 1 and second.kernels.disk_hits == 0
    assert len(list((cache_dir / "programs").glob("*.bin"))) == 2


def test_binary_cache_follows_the_capability_table_and_environment(device, cache_dir,
                                                                   monkeypatch):
    dev = _opened(device)
    assert dev.kernels.binary_cache == dev.caps.binary_cache
    monkeypatch.setenv("CLT_BINARY_CACHE", "0")
    assert B.Device(device.cl_device, device.info).kernels.binary_cache is False
    monkeypatch.setenv("CLT_BINARY_CACHE", "1")
    assert B.Device(device.cl_device, device.info).kernels.binary_cache is True


def test_pocl_caches_sources_but_not_binaries(device):
    from clt.backend.capabilities import capabilities_for
    pocl = "portable computing language" in device.info.platform.lower()
    assert capabilities_for(device.info).binary_cache is not pocl


def test_corrupt_disk_entry_is_rebuilt(device, cache_dir):
    first = _opened(device, binaries=True)
    first.kernels.get(*CHECK, name="clt_probe_check")
    (entry,) = (cache_dir / "programs").glob("*.bin")
    entry.write_bytes(b"not a program binary")
    second = _opened(device, binaries=True)
    from clt.backend.probe import check_device
    check_device(second)
    assert second.kernels.builds == 1 and second.kernels.disk_hits == 0


def test_disk_cache_can_be_turned_off(device, cache_dir, monkeypatch):
    monkeypatch.setenv("CLT_DISK_CACHE", "0")
    dev = B.Device(device.cl_device, device.info)
    dev.kernels.get(*CHECK, name="clt_probe_check")
    assert not (cache_dir / "programs").exists()


SECOND_PROCESS = """
import json
import clt.backend as B
from clt.backend.probe import check_device
dev = B.device({index})
check_device(dev)
s = B.STATS
print(json.dumps({{"built": s.programs_built, "disk_hits": s.disk_hits,
                  "source_hits": s.source_hits, "seconds": s.build_seconds}}))
"""


@pytest.mark.parametrize("binaries", ["1", "0"])
def test_second_process_uses_the_disk_cache(device, tmp_path, binaries):
    env = dict(os.environ, CLT_CACHE_DIR=str(tmp_path / "clt"), CLT_BINARY_CACHE=binaries,
               PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""))
    code = textwrap.dedent(SECOND_PROCESS.format(index=device.info.index))
    runs = []
    for _ in range(2):
        proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                              text=True, timeout=120, cwd=str(tmp_path))
        assert proc.returncode == 0, proc.stderr
        runs.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    assert runs[0]["built"] == 1 and runs[0]["disk_hits"] == 0 and runs[0]["source_hits"] == 0
    if binaries == "1":
        assert runs[1]["built"] == 0 and runs[1]["disk_hits"] == 1
    else:      # compiled again (the driver's own cache may make that quick), never re-rendered
        assert runs[1]["built"] == 1 and runs[1]["source_hits"] == 1


def test_scalar_argument_dtypes_come_from_the_signature():
    src = B.render("probe.cl.mako", "fma", (("chains", 2), ("name", "clt_probe_f"),
                                            ("width", 4)))
    import numpy as np
    assert program.kernel_arg_dtypes(src, "clt_probe_f") == [None, np.float32, np.float32,
                                                             np.int32]


# -- logging and warm-up ---------------------------------------------------------------------

def test_builds_are_logged_with_their_time(fresh, caplog):
    with caplog.at_level(logging.DEBUG, logger="clt"):
        fresh.kernels.get(*CHECK, name="clt_probe_check")
    records = [r.getMessage() for r in caplog.records if r.name == "clt.kernels"]
    assert any(m.startswith("built clt_probe_check on " + fresh.id) and m.endswith(" ms")
               for m in records), records


@pytest.mark.parametrize("value,level", [("1", logging.DEBUG), ("debug", logging.DEBUG),
                                         ("info", logging.INFO), ("0", None), ("", None)])
def test_clt_debug_env_configures_the_logger(monkeypatch, value, level):
    logger = logging.getLogger("clt")
    saved_level, saved_handlers = logger.level, list(logger.handlers)
    try:
        monkeypatch.setenv("CLT_DEBUG", value)
        assert configure_from_env() == level
        configure_from_env()
        ours = [h for h in logger.handlers if getattr(h, "name", None) == "clt-debug"]
        if level is not None:
            assert logger.level == level and len(ours) == 1
    finally:
        logger.setLevel(saved_level)
        logger.handlers[:] = saved_handlers


def test_clt_debug_logs_builds_in_a_fresh_process(device, tmp_path):
    env = dict(os.environ, CLT_DEBUG="1", CLT_CACHE_DIR=str(tmp_path / "c"),
               PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""))
    code = textwrap.dedent(SECOND_PROCESS.format(index=device.info.index))
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          timeout=120, cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert f"clt.kernels DEBUG built clt_probe_check on {device.id}" in proc.stderr


def test_warmup_keeps_binaries(device, cache_dir):
    dev = _opened(device)
    seen = []
    B.register_warmup("test-binaries", lambda d: (seen.append(d.kernels.binary_cache),
                                                  d.kernels.get(*CHECK, name="clt_probe_check")))
    try:
        (rec,) = B.warmup(dev, ["test-binaries"])
    finally:
        from clt.backend import aot as warmup_mod
        warmup_mod._REGISTRY.pop("test-binaries")
    assert rec["error"] is None and seen == [True] and dev.kernels.binaries is None
    assert len(list((cache_dir / "programs").glob("*.bin"))) == 1


def test_warmup_registry(device):
    ran = []
    B.register_warmup("test-family", lambda dev: ran.append(dev))
    B.register_warmup("test-broken", lambda dev: 1 / 0)
    try:
        (ok, bad) = B.warmup(device, ["test-family", "test-broken"])
        assert ran == [device]
        assert ok["name"] == "test-family" and ok["error"] is None and ok["seconds"] >= 0
        assert "ZeroDivisionError" in bad["error"]
        with pytest.raises(KeyError, match="no-such-family"):
            B.warmup(device, ["no-such-family"])
        with pytest.raises(TypeError):
            B.register_warmup("x", "not callable")
    finally:
        program_registry = B.warmups()
        assert "test-family" in program_registry
        from clt.backend import aot as warmup_mod
        warmup_mod._REGISTRY.pop("test-family")
        warmup_mod._REGISTRY.pop("test-broken")
