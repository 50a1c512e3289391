"""Mixed precision: autocast (a no-op without native fp16; its mechanism with fp16 faked) and
GradScaler (loss scaling, inf/NaN skip, scale growth and backoff, checkpoints)."""
from __future__ import annotations

import dataclasses
import threading

import numpy as np
import pytest

import clt
import clt.nn
import clt.nn.functional as F
from clt.amp import GradScaler, autocast, autocast_args, autocast_dtype_for
from clt.errors import DTypeError, PerformanceWarning
from clt.ops import optim as O
from clt.ops import transfer
from clt.optim import SGD, Adam


@pytest.fixture
def fp16_device(device, monkeypatch):
    """The device with ``caps.fp16_compute`` forced on: autocast's decisions can be tested on
    PoCL (half storage works everywhere; only the speed claim is faked)."""
    monkeypatch.setattr(device, "caps", dataclasses.replace(device.caps, fp16_compute=True))
    return device


@pytest.fixture
def gpu_style(device, monkeypatch):
    """The device told to use the GPU-style (grid-stride) kernel variants."""
    monkeypatch.setattr(device, "caps", dataclasses.replace(device.caps, style="gpu"))
    # elementwise launch plans and kernels memoized for the real style must not be reused
    monkeypatch.setattr(device.kernels, "plans", {})
    monkeypatch.setattr(device.kernels, "fast", {})
    return device


# -----------------------------------------------------------------------------------------------
# autocast

def test_autocast_is_a_noop_without_native_fp16(device):
    if device.caps.fp16_compute:
        pytest.skip(f"{device} computes float16 natively")
    a = clt.ones(4, 4, device=device)
    with pytest.warns(PerformanceWarning, match="no native float16 arithmetic"):
        with clt.autocast(device):
            assert clt.amp.is_autocast_enabled()
            assert autocast_dtype_for("matmul", device) is None
            out = a @ a
            lin = F.linear(a, a)
    assert out.dtype == clt.float32 and lin.dtype == clt.float32
    np.testing.assert_allclose(out.numpy(), 4.0)
    assert not clt.amp.is_autocast_enabled()


def test_autocast_categories(fp16_device):
    dev = fp16_device
    assert autocast_dtype_for("matmul", dev) is None        # outside any region
    with autocast():
        assert autocast_dtype_for("matmul", dev) is clt.float16
        assert autocast_dtype_for("conv2d", dev) is clt.float16
        assert autocast_dtype_for("softmax", dev) is clt.float32
        assert autocast_dtype_for("add", dev) is None
        with autocast(enabled=False):
            assert autocast_dtype_for("matmul", dev) is None
            assert not clt.amp.is_autocast_enabled()
        assert autocast_dtype_for("linear", dev) is clt.float16
    with autocast(dev):
        assert autocast_dtype_for("linear", dev) is clt.float16


def test_autocast_args_casts_down_and_up(fp16_device):
    dev = fp16_device
    x32 = clt.ones(3, device=dev)
    x16 = clt.ones(3, dtype=clt.float16, device=dev)
    x64 = clt.ones(3, dtype=clt.float64, device=dev) if dev.supports_fp64 else x32
    i = clt.ones(3, dtype=clt.int32, device=dev)
    with autocast():
        a, b, c, none = autocast_args("linear", x32, i, x16, None)
        assert (a.dtype, b.dtype, c.dtype, none) == (clt.float16, clt.int32, clt.float16, None)
        up16, keep32, keep64 = autocast_args("softmax", x16, x32, x64)
        assert up16.dtype == clt.float32 and keep32 is x32 and keep64 is x64
    assert autocast_args("linear", x32)[0] is x32


def test_autocast_matmul_and_linear_run_in_float16_with_float32_grads(fp16_device, rng):
    dev = fp16_device
    xh = rng.standard_normal((8, 16)).astype(np.float32)
    wh = (rng.standard_normal((4, 16)) / 4).astype(np.float32)
    x = clt.tensor(xh, device=dev)
    w = clt.nn.Parameter(clt.tensor(wh, device=dev))
    with autocast():
        y = F.linear(x, w)
        z = x @ w.t()
    assert y.dtype == clt.float16 and z.dtype == clt.float16
    ref = xh.astype(np.float64) @ wh.T
    np.testing.assert_allclose(y.detach().numpy(), ref, rtol=1e-2, atol=1e-2)
    np.testing.assert_allclose(z.detach().numpy(), ref, rtol=1e-2, atol=1e-2)
    y.backward(clt.ones(8, 4, dtype=clt.float16, device=dev))
    assert w.grad.dtype == clt.float32          # the master weight keeps float32 gradients
    np.testing.assert_allclose(w.grad.numpy(), np.ones((4, 8)) @ xh, rtol=1e-2, atol=1e-2)


def test_autocast_reuses_the_cast_of_a_parameter(fp16_device):
    dev = fp16_device
    w = clt.nn.Parameter(clt.ones(2, 2, device=dev))
    with autocast():
        (a,) = autocast_args("mm", w)
        (b,) = autocast_args("mm", w)
        assert a is b
        with clt.no_grad():
            w.mul_(2)                          # a new version: cast again
        (c,) = autocast_args("mm", w)
        assert c is not a
        np.testing.assert_allclose(c.detach().numpy(), 2.0)
    with autocast(cache_enabled=False):
        assert autocast_args("mm", w)[0] is not autocast_args("mm", w)[0]


def test_autocast_as_decorator_and_thread_local(fp16_device):
    dev = fp16_device

    @autocast()
    def inside():
        return autocast_dtype_for("matmul", dev)

    assert inside() is clt.float16
    assert autocast_dtype_for("matmul", dev) is None
    seen = []
    with autocast():
        t = threading.Thread(target=lambda: seen.append(autocast_dtype_for("matmul", dev)))
        t.start()
        t.join()
    assert seen == [None]


def test_autocast_rejects_other_dtypes():
    with pytest.raises(DTypeError, match="float16 only"):
        autocast(dtype=clt.float32)
    autocast(dtype=clt.float32, enabled=False)       # a disabled region may name any dtype


# -----------------------------------------------------------------------------------------------
# the fused unscale kernel

@pytest.mark.parametrize("n", [1, 7, 8, 9, 4097, 70001])
@pytest.mark.parametrize("bad", [None, "first", "middle", "last"])
def test_unscale_kernel_flags_inf_and_nan(device, n, bad, rng):
    g = rng.standard_normal(n).astype(np.float32)
    if bad is not None:
        idx = {"first": 0, "middle": n // 2, "last": n - 1}[bad]
        g[idx] = np.nan if n % 2 else -np.inf
    arr = transfer.from_numpy(device, g)
    flag = transfer.from_numpy(device, np.zeros(1, np.int32))
    O.unscale_(arr, flag, 0.25)
    assert int(transfer.to_numpy(flag)[0]) == (bad is not None)
    np.testing.assert_array_equal(transfer.to_numpy(arr), g * np.float32(0.25))


@pytest.mark.parametrize("dtype", [np.float16, np.float64], ids=["float16", "float64"])
def test_unscale_kernel_other_dtypes(device, dtype, rng):
    if dtype == np.float64 and not device.supports_fp64:
        pytest.skip("no fp64")
    g = rng.standard_normal(1001).astype(dtype)
    arr = transfer.from_numpy(device, g)
    flag = transfer.from_numpy(device, np.zeros(1, np.int32))
    O.unscale_(arr, flag, 0.5)
    assert int(transfer.to_numpy(flag)[0]) == 0
    np.testing.assert_array_equal(transfer.to_numpy(arr), (g * dtype(0.5)).astype(dtype))
    g[1000] = np.inf
    O.unscale_(transfer.from_numpy(device, g), flag, 0.5)
    assert int(transfer.to_numpy(flag)[0]) == 1


def test_unscale_kernel_gpu_style(gpu_style, rng):
    g = rng.standard_normal(3000).astype(np.float32)
    g[2999] = np.inf
    arr = transfer.from_numpy(gpu_style, g)
    flag = transfer.from_numpy(gpu_style, np.zeros(1, np.int32))
    O.unscale_(arr, flag, 2.0)
    assert int(transfer.to_numpy(flag)[0]) == 1
    np.testing.assert_array_equal(transfer.to_numpy(arr)[:-1], g[:-1] * 2)


def test_unscale_kernel_rejects_bad_flag(device):
    arr = transfer.from_numpy(device, np.ones(4, np.float32))
    with pytest.raises(DTypeError, match="found_inf must be one int32"):
        O.unscale_(arr, transfer.from_numpy(device, np.zeros(1, np.float32)), 1.0)


# -----------------------------------------------------------------------------------------------
# GradScaler

def _setup(device, grads, lr=0.5, init_scale=1024.0, **kw):
    params = [clt.nn.Parameter(clt.ones(len(g), device=device)) for g in grads]
    opt = SGD(params, lr=lr)
    scaler = GradScaler(init_scale=init_scale, **kw)
    return params, opt, scaler


def _set_scaled_grads(params, grads, scale):
    for p, g in zip(params, grads):
        p.grad = clt.tensor(np.asarray(g, np.float32) * np.float32(scale), device=p.device)


def test_scale_multiplies_the_loss(device):
    scaler = GradScaler()
    loss = clt.tensor(1.5, device=device)
    assert scaler.scale(loss).item() == 1.5 * 2 ** 16
    half = clt.tensor(2.0, dtype=clt.float16, device=device)
    scaled = scaler.scale(half)
    assert scaled.dtype == clt.float32 and scaled.item() == 2.0 * 2 ** 16   # > half's max
    pair = scaler.scale([loss, loss])
    assert isinstance(pair, list) and pair[1].item() == 1.5 * 2 ** 16


def test_scaled_backward_then_step_gives_the_unscaled_update(device):
    w = clt.nn.Parameter(clt.tensor([1.0, -2.0, 3.0], device=device))
    opt = SGD([w], lr=0.1)
    scaler = GradScaler(init_scale=256.0)
    loss = (w * w).sum() if hasattr(clt, "sum") else (w * w)
    scaler.scale(loss).backward(None if loss.ndim == 0 else clt.ones(3, device=device))
    np.testing.assert_allclose(w.grad.numpy(), 256 * 2 * np.array([1.0, -2.0, 3.0]))
    scaler.step(opt)
    scaler.update()
    np.testing.assert_allclose(w.detach().numpy(), np.array([1.0, -2.0, 3.0]) * (1 - 0.2),
                               rtol=1e-6)
    assert scaler.get_scale() == 256.0


def test_unscale_then_step(device):
    grads = [[1.0, 2.0], [3.0]]
    params, opt, scaler = _setup(device, grads)
    _set_scaled_grads(params, grads, scaler.get_scale())
    scaler.unscale_(opt)
    for p, g in zip(params, grads):
        np.testing.assert_allclose(p.grad.numpy(), g)      # true gradients, e.g. for clipping
    scaler.step(opt)
    scaler.update()
    np.testing.assert_allclose(params[0].detach().numpy(), [0.5, 0.0])
    np.testing.assert_allclose(params[1].detach().numpy(), [-0.5])


@pytest.mark.parametrize("bad", [np.inf, -np.inf, np.nan])
def test_inf_or_nan_skips_the_step_and_backs_off(device, bad):
    grads = [[1.0, 2.0], [3.0, bad]]
    params, opt, scaler = _setup(device, grads, backoff_factor=0.25)
    adam = Adam([clt.nn.Parameter(clt.ones(2, device=device))])
    _set_scaled_grads(params, grads, scaler.get_scale())
    assert scaler.step(opt) is None
    scaler.update()
    for p in params:
        np.testing.assert_array_equal(p.detach().numpy(), 1.0)     # untouched
    assert scaler.get_scale() == 1024.0 * 0.25
    assert scaler.state_dict()["_growth_tracker"] == 0
    assert opt._opt_step_count == 0 and adam.state == {}


def test_scale_grows_after_growth_interval_clean_steps(device):
    grads = [[1.0]]
    params, opt, scaler = _setup(device, grads, growth_interval=3, growth_factor=4.0)
    scales = []
    for k in range(7):
        _set_scaled_grads(params, grads if k != 4 else [[np.inf]], scaler.get_scale())
        scaler.step(opt)
        scaler.update()
        scales.append(scaler.get_scale())
    assert scales == [1024.0, 1024.0, 4096.0, 4096.0, 2048.0, 2048.0, 2048.0]


def test_one_host_read_per_step(device, monkeypatch):
    grads = [[1.0, 2.0]] * 5
    params, opt, scaler = _setup(device, grads)
    _set_scaled_grads(params, grads, scaler.get_scale())
    reads = []
    real = transfer.to_numpy
    monkeypatch.setattr(transfer, "to_numpy", lambda a: reads.append(a) or real(a))
    scaler.scale(clt.tensor(1.0, device=device))
    scaler.step(opt)
    scaler.update()
    assert len(reads) == 1


def test_float16_gradients(device):
    p = clt.nn.Parameter(clt.ones(9, dtype=clt.float16, device=device))
    opt = SGD([p], lr=0.5)
    scaler = GradScaler(init_scale=2.0 ** 10)
    p.grad = clt.full((9,), 2.0 ** 10, dtype=clt.float16, device=device)
    scaler.step(opt)
    scaler.update()
    np.testing.assert_array_equal(p.detach().numpy(), 0.5)


def test_stage_errors(device):
    grads = [[1.0]]
    params, opt, scaler = _setup(device, grads)
    with pytest.raises(RuntimeError, match="No inf checks were recorded prior to update"):
        scaler.update()
    _set_scaled_grads(params, grads, 1.0)
    scaler.unscale_(opt)
    with pytest.raises(RuntimeError, match="already been called on this optimizer"):
        scaler.unscale_(opt)
    scaler.step(opt)
    with pytest.raises(RuntimeError, match="step\\(\\) has already been called"):
        scaler.step(opt)
    with pytest.raises(RuntimeError, match="unscale_\\(\\) is being called after step"):
        scaler.unscale_(opt)
    scaler.update()
    with pytest.raises(RuntimeError, match="Closure use is not currently supported"):
        scaler.step(opt, closure=lambda: 0.0)
    empty = SGD([clt.nn.Parameter(clt.ones(1, device=device))], lr=0.1)
    with pytest.raises(RuntimeError, match="No inf checks were recorded for this optimizer"):
        scaler.step(empty)


def test_disabled_scaler_passes_through(device):
    grads = [[1.0]]
    params, opt, scaler = _setup(device, grads, enabled=False)
    loss = clt.tensor(3.0, device=device)
    assert scaler.scale(loss) is loss and scaler.get_scale() == 1.0
    _set_scaled_grads(params, grads, 1.0)
    scaler.unscale_(opt)
    scaler.step(opt)
    scaler.update()
    np.testing.assert_allclose(params[0].detach().numpy(), 0.5)
    assert scaler.state_dict() == {}


def test_state_dict_round_trip_and_update_with_new_scale(device):
    grads = [[1.0]]
    params, opt, scaler = _setup(device, grads, growth_interval=5)
    for _ in range(2):
        _set_scaled_grads(params, grads, scaler.get_scale())
        scaler.step(opt)
        scaler.update()
    sd = scaler.state_dict()
    assert sd == {"scale": 1024.0, "growth_factor": 2.0, "backoff_factor": 0.5,
                  "growth_interval": 5, "_growth_tracker": 2}
    other = GradScaler()
    other.load_state_dict(sd)
    assert other.state_dict() == sd
    with pytest.raises(RuntimeError, match="source state dict is empty"):
        other.load_state_dict({})
    other.update(new_scale=8.0)
    assert other.get_scale() == 8.0


@pytest.mark.parametrize("kw, match", [
    (dict(growth_factor=1.0), "growth factor must be > 1.0"),
    (dict(backoff_factor=1.0), "backoff factor must be < 1.0"),
    (dict(growth_interval=0), "growth_interval must be a positive integer"),
    (dict(init_scale=0.0), "init_scale must be positive"),
], ids=lambda x: x if isinstance(x, str) else "")
def test_bad_arguments(kw, match):
    with pytest.raises(ValueError, match=match):
        GradScaler(**kw)


def test_autocast_reaches_conv_softmax_losses_and_norms(fp16_device):
    import clt.nn.functional as F

    dev = fp16_device
    x = clt.randn(2, 3, 8, 8, device=dev)
    w = clt.randn(4, 3, 3, 3, device=dev)
    with clt.autocast(dev):
        y = F.conv2d(x, w, padding=1)
        assert y.dtype == clt.float16                      # lower-precision op
        assert clt.softmax(y, dim=1).dtype == clt.float32  # float32 op casts float16 up
        assert F.layer_norm(y, (8,)).dtype == clt.float32
        logits = y.flatten(1)[:, :5]
        loss = F.cross_entropy(logits, clt.tensor([1, 3], device=dev))
        assert loss.dtype == clt.float32
