"""The device layer: enumeration, selection, info, memory pool, copies, synchronisation."""
from __future__ import annotations

import dataclasses
import importlib
import json
import os
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pyopencl as cl
import pytest

import clt.backend as B
from clt.backend.capabilities import capabilities_for
from clt.backend.memory import parse_bytes
from clt.errors import CLTError, DeviceError, DeviceNotFoundError, OutOfMemoryError

device_mod = importlib.import_module("clt.backend.device")  # the name `device` is the function
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_python(code: str, env: dict | None = None,
               timeout: float = 120) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter that imports clt from this checkout."""
    full = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""))
    full.update(env or {})
    for key in [k for k, v in full.items() if v is None]:
        del full[key]
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=full, cwd="/",
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def private(device):
    """A second Device on the same OpenCL device: its own context, queue, pool and caches."""
    return B.Device(device.cl_device, device.info)


@pytest.fixture
def reset_default(monkeypatch):
    """Forget the default device for one test, and restore it afterwards."""
    monkeypatch.setattr(device_mod, "_default", None)


# -- enumeration and selection ---------------------------------------------------------------

def test_infos_number_every_device_in_order():
    infos = B.device_infos()
    assert [i.id for i in infos] == [f"cl:{n}" for n in range(len(infos))]
    assert [i.index for i in infos] == list(range(len(infos)))
    # platform order, then device order within a platform
    pairs = [(i.platform_index, i.device_index) for i in infos]
    assert pairs == sorted(pairs)


def test_info_is_frozen_and_sane(device):
    info = device.info
    with pytest.raises(dataclasses.FrozenInstanceError):
        info.name = "x"
    assert info.type in ("gpu", "cpu", "accelerator", "other")
    assert info.compute_units >= 1 and info.max_work_group_size >= 1
    assert 0 < info.max_alloc_bytes <= info.global_mem_bytes
    assert info.global_mem_mib == info.global_mem_bytes // (1 << 20)
    assert isinstance(info.extensions, tuple)
    assert info.fp64 == ("cl_khr_fp64" in info.extensions) or info.fp64
    assert hash(info) == hash(dataclasses.replace(info))


def test_every_selector_form(device):
    info = device.info
    same = [info.index, np.int64(info.index), info.id, info.id.upper(), str(info.index),
            f"{info.platform_index}:{info.device_index}", device]
    for sel in same:
        assert B.device(sel) is device, sel
    # a type or a name fragment selects the first device that matches
    for sel in (info.type, info.type.upper(), info.name[:6].lower(), info.name[:6].upper(),
                info.vendor[:5], info.platform[:8].lower()):
        picked = B.device(sel)
        assert sel.lower() in (picked.info.type + picked.info.name + picked.info.vendor
                               + picked.info.platform + picked.info.platform_version).lower()
        assert picked.info.index <= info.index or picked is device


def test_pocl_is_selectable_by_name():
    pocl = [i for i in B.device_infos() if "pocl" in i.platform_version.lower()]
    if not pocl:
        pytest.skip("no PoCL device")
    assert B.device("pocl").info.index == pocl[0].index
    assert B.device("PoCL").info.index == pocl[0].index


@pytest.mark.parametrize("bad", ["cl:99", "99", "7:3", "no-such-device-xyz"])
def test_bad_selector_lists_what_exists(bad):
    with pytest.raises(DeviceNotFoundError) as err:
        B.device(bad)
    msg = str(err.value)
    assert repr(bad) in msg
    for info in B.device_infos():
        assert info.id in msg and info.name in msg
    assert "cl:N" in msg                       # says how to select
    assert isinstance(err.value, LookupError) and isinstance(err.value, CLTError)


@pytest.mark.parametrize("bad", [1.5, True, object(), [0]])
def test_selector_of_wrong_type(bad):
    with pytest.raises(DeviceError, match="not a device selector"):
        B.device(bad)


def test_clt_device_env_picks_default(monkeypatch, reset_default):
    last = B.device_infos()[-1]
    monkeypatch.setenv("CLT_DEVICE", last.id)
    assert B.get_default_device().info.index == last.index
    assert B.device().info.index == last.index
    assert B.default_device_index() == (last.index, f"CLT_DEVICE={last.id}")


def test_clt_device_env_that_matches_nothing(monkeypatch, reset_default):
    monkeypatch.setenv("CLT_DEVICE", "nothing-like-this")
    with pytest.raises(DeviceNotFoundError, match="CLT_DEVICE='nothing-like-this'.*available"):
        B.get_default_device()


def test_default_is_first_gpu_else_first(monkeypatch):
    monkeypatch.delenv("CLT_DEVICE", raising=False)
    base = B.device_infos()[0]
    fake = [dataclasses.replace(base, id=f"cl:{n}", index=n, device_index=n, type=t)
            for n, t in enumerate(["cpu", "accelerator", "gpu", "gpu"])]
    monkeypatch.setattr(device_mod, "_enumerate", lambda: [(None, i) for i in fake])
    assert device_mod.default_device_index() == (2, "first GPU")
    fake[2:] = [dataclasses.replace(fake[2], type="cpu")]
    assert device_mod.default_device_index()[0] == 0


def test_set_default_device(device, reset_default):
    assert B.set_default_device(device.id) is device
    assert B.get_default_device() is device
    assert B.set_default_device(None) is B.get_default_device()


def test_devices_lists_all_as_singletons():
    devs = B.devices()
    assert [d.id for d in devs] == [i.id for i in B.device_infos()]
    assert all(B.device(d.id) is d for d in devs)


def test_device_owns_its_resources(device):
    assert device.context is not None and device.queue is not None
    assert device.queue.device == device.cl_device
    assert device.kernels is not None and device.memory is not None
    assert device.caps == capabilities_for(device.info, B.capabilities.load_probe(device.info)) \
        or device.caps.style in ("cpu", "gpu")
    assert device.id in repr(device) and device.name in str(device)


def test_profiling_on_request(device):
    import pyopencl as cl
    dev = B.Device(device.cl_device, device.info, profiling=True)
    assert dev.profiling
    assert dev.queue.properties & cl.command_queue_properties.PROFILING_ENABLE
    host = np.arange(16, dtype=np.float32)
    buf = dev.allocate(host.nbytes)
    event = dev.upload(buf, host, blocking=False)
    event.wait()
    assert event.profile.end >= event.profile.start


def test_capability_table_takes_probe_and_env(device, monkeypatch):
    info = device.info
    assert capabilities_for(info, {"fp64_ok": False}).fp64 is False
    assert capabilities_for(info, {"fp16_ok": True}).fp16_compute in (True, False)
    monkeypatch.setenv("CLT_KERNEL_STYLE", "gpu")
    assert capabilities_for(info).style == "gpu"
    monkeypatch.setenv("CLT_KERNEL_STYLE", "cpu")
    assert capabilities_for(info).style == "cpu"
    assert capabilities_for(info).as_dict()["style"] == "cpu"


# -- memory ----------------------------------------------------------------------------------

def test_pool_reuses_freed_blocks(private):
    mem = private.memory
    assert private.memory_allocated() == 0 and private.memory_reserved() == 0
    buf = private.allocate(1 << 20)
    assert private.memory_allocated() >= 1 << 20
    reserved = private.memory_reserved()
    del buf
    assert private.memory_allocated() == 0
    assert private.memory_reserved() == reserved          # cached, not returned
    assert mem.cached_blocks == 1
    buf = private.allocate(1 << 20)                          # same bin: reuses the block
    assert private.memory_reserved() == reserved and mem.cached_blocks == 0
    assert mem.num_allocs == 2
    del buf
    private.empty_cache()
    assert private.memory_reserved() == 0 and mem.cached_blocks == 0


def test_peak_and_stats(private):
    a = private.allocate(3 << 20)
    b = private.allocate(1 << 20)
    peak = private.max_memory_allocated()
    assert peak == private.memory_allocated() >= 4 << 20
    del a, b
    assert private.max_memory_allocated() == peak
    private.reset_peak_memory_stats()
    assert private.max_memory_allocated() == private.memory_allocated() == 0
    stats = private.memory_stats()
    assert stats["num_allocs"] == 2 and stats["peak_bytes"] == 0
    assert set(stats) >= {"allocated_bytes", "reserved_bytes", "cached_blocks", "num_ooms",
                          "limit_bytes"}


def test_zero_byte_allocation_works(private):
    buf = private.allocate(0)
    assert buf.size >= 1


@pytest.mark.parametrize("limit", [8 << 20, None], ids=["8MiB-limit", "device-limit"])
def test_allocation_of_exactly_the_largest_size(device, limit):
    """The pool rounds sizes up to its bins; where that bin is above the driver's limit, the
    largest legal request is served outside the pool instead of failing."""
    info = device.info
    if limit is None:
        if info.max_alloc_bytes > 4 << 30:
            pytest.skip("the device's largest allocation is too large for a quick test")
    else:   # the same logic with a small limit, whatever the device
        info = dataclasses.replace(info, max_alloc_bytes=limit)
    dev = B.Device(device.cl_device, info)
    size = info.max_alloc_bytes
    buf = dev.allocate(size)
    assert dev.memory_allocated() == size == dev.memory_reserved()
    assert dev.memory.cached_blocks == 0
    host = np.arange(16, dtype=np.uint8)
    dev.upload(buf, host, offset_bytes=size - 16, blocking=True)
    back = np.empty_like(host)
    dev.download(back, buf, offset_bytes=size - 16)
    assert (back == host).all()
    del buf
    assert dev.memory_allocated() == 0 and dev.memory_reserved() == 0
    with pytest.raises(OutOfMemoryError, match="largest single allocation"):
        dev.allocate(size + 1)


def test_oom_above_max_alloc_names_device_and_bytes(private):
    private_buf = private.allocate(1 << 20)
    asked = private.info.max_alloc_bytes + 1
    with pytest.raises(OutOfMemoryError) as err:
        private.allocate(asked)
    msg = str(err.value)
    assert private.id in msg and private.name in msg
    assert str(asked) in msg and "in use" in msg and str(private.memory_allocated()) in msg
    assert isinstance(err.value, MemoryError)
    del private_buf
    check_still_works(private)


def test_oom_over_budget_frees_cache_and_retries(private):
    mem = private.memory
    mem.limit_bytes = 8 << 20
    a = private.allocate(3 << 20)
    b = private.allocate(3 << 20)
    with pytest.raises(OutOfMemoryError, match=r"out of memory allocating 3145728 bytes.*in use"):
        private.allocate(3 << 20)
    assert mem.num_ooms == 1
    del b                                   # now cached: in the pool but not in use
    assert mem.cached_blocks == 1
    c = private.allocate(4 << 20)           # fits only once the cached block is freed
    assert mem.cached_blocks == 0
    assert private.memory_reserved() <= mem.limit_bytes
    del a, c
    check_still_works(private)


def test_driver_failure_on_a_seen_size_retries_and_names_the_device(private, monkeypatch):
    mem = private.memory
    del_me = private.allocate(4096)       # a size the hot path then knows
    del del_me
    held = private.allocate(4096)         # reuses the cached block: no driver call
    calls = []

    def refuse(buf):
        calls.append(buf)
        raise cl.MemoryError("clEnqueueFillBuffer", cl.status_code.MEM_OBJECT_ALLOCATION_FAILURE,
                             "simulated")
    monkeypatch.setattr(mem, "_touch", refuse)
    with pytest.raises(OutOfMemoryError, match=r"out of memory allocating 4096 bytes") as err:
        private.allocate(4096)            # a fresh block: the driver (simulated) refuses
    assert private.id in str(err.value) and len(calls) == 2      # retried once
    assert mem.num_ooms == 1
    monkeypatch.undo()
    del held
    check_still_works(private)


def test_oom_beyond_global_memory(private):
    """Lazily-allocating drivers (PoCL) accept more than their memory; the budget refuses it."""
    chunk = min(private.info.max_alloc_bytes, private.info.global_mem_bytes // 4)
    held = []
    with pytest.raises(OutOfMemoryError) as err:
        for _ in range(private.info.global_mem_bytes // chunk + 2):
            held.append(private.allocate(chunk))
    assert str(chunk) in str(err.value) and private.id in str(err.value)
    assert len(held) >= 1
    held.clear()
    private.empty_cache()
    check_still_works(private)


def test_memory_limit_env(device, monkeypatch):
    monkeypatch.setenv("CLT_MEMORY_LIMIT", "64M")
    assert B.Device(device.cl_device, device.info).memory.limit_bytes == 64 << 20
    assert parse_bytes("1024") == 1024 and parse_bytes("2G") == 2 << 30
    assert parse_bytes("1.5k") == 1536 and parse_bytes("512MiB") == 512 << 20
    with pytest.raises(ValueError, match="not a byte count"):
        parse_bytes("lots")


def check_still_works(dev):
    """Allocate, upload, run a kernel and read back: the device survived."""
    from clt.backend.probe import check_device
    check_device(dev)


# -- copies ----------------------------------------------------------------------------------

def test_host_device_roundtrip_blocking(device):
    host = np.arange(1000, dtype=np.float32)
    buf = device.allocate(host.nbytes)
    device.upload(buf, host, blocking=True)
    out = np.empty_like(host)
    device.download(out, buf, blocking=True)
    np.testing.assert_array_equal(out, host)


def test_host_device_roundtrip_nonblocking(device):
    host = np.random.default_rng(0).standard_normal(1 << 16).astype(np.float32)
    buf = device.allocate(host.nbytes)
    up = device.upload(buf, host, blocking=False)
    out = np.zeros_like(host)
    down = device.download(out, buf, blocking=False)
    down.wait()
    up.wait()
    np.testing.assert_array_equal(out, host)


def test_offsets_and_empty_copies(device):
    host = np.arange(64, dtype=np.int32)
    buf = device.allocate(host.nbytes)
    device.upload(buf, host[:32], blocking=True)
    device.upload(buf, host[32:], offset_bytes=128, blocking=True)
    part = np.empty(8, np.int32)
    device.download(part, buf, offset_bytes=40 * 4)
    np.testing.assert_array_equal(part, host[40:48])
    device.upload(buf, host[:0], blocking=True).wait()
    device.download(part[:0], buf).wait()


def test_device_side_copy(device):
    host = np.arange(256, dtype=np.float32)
    src, dst = device.allocate(host.nbytes), device.allocate(host.nbytes)
    device.upload(src, host, blocking=True)
    B.copy_between(device, dst, device, src, 128 * 4, dst_offset=0, src_offset=128 * 4,
                   blocking=True)
    out = np.empty(128, np.float32)
    device.download(out, dst)
    np.testing.assert_array_equal(out, host[128:])


@pytest.mark.parametrize("blocking", [True, False], ids=["blocking", "nonblocking"])
def test_copy_across_contexts(device, private, blocking):
    host = np.random.default_rng(1).standard_normal(4096).astype(np.float32)
    src = device.allocate(host.nbytes)
    device.upload(src, host, blocking=True)
    dst = private.allocate(host.nbytes)
    event = B.copy_between(private, dst, device, src, 1024 * 4, dst_offset=512 * 4,
                           src_offset=100 * 4, blocking=blocking)
    private.synchronize()
    event.wait()
    out = np.empty(1024, np.float32)
    private.download(out, dst, offset_bytes=512 * 4)
    np.testing.assert_array_equal(out, host[100:1124])
    B.copy_between(private, dst, device, src, 0).wait()


def test_many_nonblocking_cross_context_copies_in_order(device, private):
    """Copies chained on the destination queue keep their order; nothing deadlocks."""
    src = device.allocate(4 * 64)
    dst = private.allocate(4 * 64)
    for k in range(20):
        device.upload(src, np.full(64, k, np.float32), blocking=True)
        B.copy_between(private, dst, device, src, 4 * 64, blocking=False)
    B.synchronize(private)
    out = np.empty(64, np.float32)
    private.download(out, dst)
    assert (out == 19).all()


def test_synchronize_forms(device):
    B.synchronize()
    B.synchronize(device)
    B.synchronize(device.id)
    B.synchronize(device=device.info.index)
    B.synchronize("all")
    device.synchronize()


def test_threads_share_one_device(device):
    """Selection from several threads at once returns one object (the registry is locked)."""
    got, errors = [], []

    def pick():
        try:
            got.append(B.device(device.id))
        except Exception as exc:   # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=pick) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and all(d is device for d in got)


# -- environments without devices, and with two -----------------------------------------------

NO_ICD = {"OCL_ICD_VENDORS": "/nonexistent", "OCL_ICD_FILENAMES": None}


def test_import_without_any_opencl_platform():
    """pyopencl's bundled ICD loader also scans its own folder (where pocl-binary-distribution
    registers PoCL), so an empty OCL_ICD_VENDORS folder is not enough: a non-directory path
    makes the loader look nowhere else."""
    proc = run_python("""
        import json
        import clt
        import clt.backend as B
        from clt.cli.devices import main
        out = {"infos": len(B.device_infos()), "devices": len(B.devices())}
        for name, call in [("device", lambda: clt.device()), ("default", B.get_default_device),
                           ("select", lambda: B.device("cl:0")),
                           ("tensor", lambda: clt.tensor([1.0, 2.0]))]:
            try:
                call()
                out[name] = "no error"
            except clt.NoOpenCLError as exc:
                out[name] = str(exc)
        out["cli"] = main([])
        print(json.dumps(out))
    """, env=NO_ICD)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["infos"] == 0 and out["devices"] == 0
    for key in ("device", "default", "select", "tensor"):
        assert "no OpenCL device found" in out[key], (key, out[key])
        assert "pocl-binary-distribution" in out[key] and "NVIDIA" in out[key], out[key]
    assert out["cli"] == 1
    assert "no OpenCL device found" in proc.stderr


@pytest.mark.multidevice
def test_two_pocl_devices_in_one_process():
    if not any("pocl" in i.platform_version.lower() for i in B.device_infos()):
        pytest.skip("needs PoCL")
    proc = run_python("""
        import json
        import numpy as np
        import clt.backend as B
        from clt.backend.probe import check_device
        devs = [d for d in B.devices() if "pocl" in d.info.platform_version.lower()]
        for d in devs:
            check_device(d)
        a, b = devs[0], devs[1]
        host = np.arange(1000, dtype=np.float32)
        src, dst = a.allocate(host.nbytes), b.allocate(host.nbytes)
        a.upload(src, host, blocking=True)
        B.copy_between(b, dst, a, src, host.nbytes, blocking=False)
        B.synchronize("all")
        out = np.empty_like(host)
        b.download(out, dst)
        print(json.dumps({"ids": [d.id for d in devs], "same": bool((out == host).all()),
                          "contexts": len({id(d.context) for d in devs})}))
    """, env={"POCL_DEVICES": "pthread pthread"})
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert len(out["ids"]) == 2 and out["same"] and out["contexts"] == 2
