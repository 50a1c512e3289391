"""Pooling, upsampling and normalisation: numpy references, gradcheck, PyTorch oracle, errors."""
from __future__ import annotations

import math

import numpy as np
import pytest

import clt
import clt.nn as nn
import clt.nn.functional as F
from clt.autograd import gradcheck
from clt.errors import ShapeError
from tests.conftest import skip_if_no_fp64
from tests.test_conv import styled_device


def t(a, dtype=None, grad=False):
    return clt.tensor(np.asarray(a), dtype=dtype, requires_grad=grad)


def _torch_version(torch):
    return tuple(int(v) for v in torch.__version__.split("+")[0].split(".")[:2])


def grad_of(f, x, g):
    """d<f(x), g>/dx with a graph (gradcheck evaluates under no_grad, so re-enable it)."""
    with clt.enable_grad():
        if not x.requires_grad:   # gradcheck's perturbed copies are plain tensors
            x = x.detach().requires_grad_()
        return clt.autograd.grad([f(x)], [x], [g], create_graph=True)[0]


def pool_out(n, k, s, p, d, ceil):
    span = n + 2 * p - d * (k - 1) - 1
    o = (span + (s - 1 if ceil else 0)) // s + 1
    if ceil and (o - 1) * s >= n + p:
        o -= 1
    return o


def ref_max_pool2d(x, k, s, p, d, ceil):
    n, c, h, w = x.shape
    oh, ow = pool_out(h, k[0], s[0], p[0], d[0], ceil), pool_out(w, k[1], s[1], p[1], d[1], ceil)
    y = np.full((n, c, oh, ow), -np.inf)
    idx = np.zeros((n, c, oh, ow), np.int64)
    for i in range(oh):
        for j in range(ow):
            for a in range(k[0]):
                for b in range(k[1]):
                    hh, ww = i * s[0] - p[0] + a * d[0], j * s[1] - p[1] + b * d[1]
                    if 0 <= hh < h and 0 <= ww < w:
                        v = x[:, :, hh, ww]
                        better = v > y[:, :, i, j]
                        y[:, :, i, j] = np.where(better, v, y[:, :, i, j])
                        idx[:, :, i, j] = np.where(better, hh * w + ww, idx[:, :, i, j])
    return y, idx


def ref_avg_pool2d(x, k, s, p, ceil, include_pad, divisor):
    n, c, h, w = x.shape
    oh, ow = pool_out(h, k[0], s[0], p[0], 1, ceil), pool_out(w, k[1], s[1], p[1], 1, ceil)
    y = np.zeros((n, c, oh, ow))
    for i in range(oh):
        for j in range(ow):
            h0, w0 = i * s[0] - p[0], j * s[1] - p[1]
            h1, w1 = min(h0 + k[0], h + p[0]), min(w0 + k[1], w + p[1])
            size = (h1 - h0) * (w1 - w0)
            h0, w0, h1, w1 = max(h0, 0), max(w0, 0), min(h1, h), min(w1, w)
            div = divisor or (size if include_pad else (h1 - h0) * (w1 - w0))
            y[:, :, i, j] = x[:, :, h0:h1, w0:w1].sum((2, 3)) / div
    return y


def ref_adaptive(x, out, mode):
    n, c, h, w = x.shape
    y = np.zeros((n, c) + out)
    for i in range(out[0]):
        for j in range(out[1]):
            h0, h1 = (i * h) // out[0], -(-((i + 1) * h) // out[0])
            w0, w1 = (j * w) // out[1], -(-((j + 1) * w) // out[1])
            win = x[:, :, h0:h1, w0:w1]
            y[:, :, i, j] = win.max((2, 3)) if mode == "max" else win.mean((2, 3))
    return y


POOLS = [((2, 2), (2, 2), (0, 0), (1, 1), False), ((3, 3), (2, 2), (1, 1), (1, 1), False),
         ((2, 3), (1, 2), (0, 1), (2, 1), True), ((3, 2), (2, 3), (1, 1), (1, 1), True)]


@pytest.mark.parametrize("geom", POOLS, ids=lambda g: f"k{g[0]}s{g[1]}p{g[2]}d{g[3]}c{g[4]}")
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_max_pool2d(device, rng, geom, dtype):
    skip_if_no_fp64(device, dtype)
    k, s, p, d, ceil = geom
    x = rng.standard_normal((2, 3, 9, 8))
    y, idx = F.max_pool2d(t(x, dtype), k, s, p, d, ceil_mode=ceil, return_indices=True)
    ry, ridx = ref_max_pool2d(x, k, s, p, d, ceil)
    np.testing.assert_allclose(y.numpy(), ry, rtol=1e-6)
    np.testing.assert_array_equal(idx.numpy(), ridx)
    assert idx.dtype is clt.int64


@pytest.mark.parametrize("geom", POOLS[:2] + POOLS[3:], ids=["k2", "k3p1", "ceil"])
def test_pool_gradcheck(device, rng, geom):
    skip_if_no_fp64(device, "float64")
    k, s, p, d, ceil = geom
    # distinct values so the max is unique and finite differences stay on one side
    x = t(rng.permutation(2 * 3 * 7 * 6).reshape(2, 3, 7, 6) * 0.1, "float64", True)
    assert gradcheck(lambda a: F.max_pool2d(a, k, s, p, d, ceil), [x])
    assert gradcheck(lambda a: F.avg_pool2d(a, k, s, p, ceil, False), [x])
    assert gradcheck(lambda a: F.avg_pool2d(a, k, s, p, ceil, True, 5), [x])


@pytest.mark.parametrize("include_pad", [True, False])
@pytest.mark.parametrize("divisor", [None, 3])
def test_avg_pool2d(device, rng, include_pad, divisor):
    x = rng.standard_normal((2, 3, 9, 8)).astype(np.float32)
    for k, s, p, _, ceil in POOLS:
        y = F.avg_pool2d(t(x), k, s, p, ceil, include_pad, divisor)
        ref = ref_avg_pool2d(x, k, s, p, ceil, include_pad, divisor)
        np.testing.assert_allclose(y.numpy(), ref, rtol=1e-5, atol=1e-6)


def test_pool_1d_unbatched_noncontiguous(device, rng):
    x = rng.standard_normal((2, 3, 10)).astype(np.float32)
    y, idx = F.max_pool1d(t(x), 3, 2, 1, return_indices=True)
    ry, ridx = ref_max_pool2d(x[:, :, None], (1, 3), (1, 2), (0, 1), (1, 1), False)
    np.testing.assert_allclose(y.numpy(), ry[:, :, 0])
    np.testing.assert_array_equal(idx.numpy(), ridx[:, :, 0])
    np.testing.assert_allclose(F.avg_pool1d(t(x), 4).numpy(),
                               x[:, :, :8].reshape(2, 3, 2, 4).mean(-1), rtol=1e-6)
    xt = t(np.ascontiguousarray(x.transpose(1, 0, 2))).transpose(0, 1)   # a permuted view
    np.testing.assert_allclose(F.max_pool1d(xt, 2).numpy(), x.reshape(2, 3, 5, 2).max(-1))
    x3 = rng.standard_normal((3, 6, 6)).astype(np.float32)               # unbatched 2-D
    np.testing.assert_allclose(F.max_pool2d(t(x3), 2).numpy(),
                               x3.reshape(3, 3, 2, 3, 2).max((2, 4)))


def test_max_pool_nan_and_inf(device):
    x = np.array([[[[1.0, np.nan, 3.0, 2.0], [-np.inf, -np.inf, np.nan, np.nan]]]], np.float32)
    y, idx = F.max_pool2d(t(x), 2, return_indices=True)
    assert np.isnan(y.numpy()).all()
    # PyTorch's rule `v > best || isnan(v)` keeps the last NaN of the window
    np.testing.assert_array_equal(idx.numpy().ravel(), [1, 7])
    x2 = np.full((1, 1, 2, 2), -np.inf, np.float32)
    y2, idx2 = F.max_pool2d(t(x2), 2, return_indices=True)
    assert y2.numpy().ravel()[0] == -np.inf and idx2.numpy().ravel()[0] == 0


@pytest.mark.parametrize("out", [(4, 3), (3, 5), (9, 8), (1, 1), (None, 2)])
def test_adaptive_pools(device, rng, out):
    x = rng.standard_normal((2, 3, 9, 8)).astype(np.float32)
    size = tuple(9 if o is None else o for o in out)
    np.testing.assert_allclose(F.adaptive_avg_pool2d(t(x), out).numpy(),
                               ref_adaptive(x, size, "avg"), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(F.adaptive_max_pool2d(t(x), out).numpy(),
                               ref_adaptive(x, size, "max"))


def test_adaptive_gradcheck_and_1d(device, rng):
    skip_if_no_fp64(device, "float64")
    x = t(rng.permutation(2 * 5 * 7).reshape(1, 2, 5, 7) * 0.1, "float64", True)
    assert gradcheck(lambda a: F.adaptive_avg_pool2d(a, (3, 4)), [x])
    assert gradcheck(lambda a: F.adaptive_max_pool2d(a, (2, 3)), [x])
    x1 = rng.standard_normal((2, 3, 10))
    np.testing.assert_allclose(F.adaptive_avg_pool1d(t(x1), 5).numpy(),
                               x1.reshape(2, 3, 5, 2).mean(-1), rtol=1e-12)
    y, idx = F.adaptive_max_pool1d(t(x1), 2, return_indices=True)
    np.testing.assert_allclose(y.numpy(), x1.reshape(2, 3, 2, 5).max(-1))
    assert tuple(idx.shape) == (2, 3, 2)


def test_pool_double_backward(device, rng):
    """Pooling backward is linear in the gradient; its own gradient is the pooling (or a gather
    by the argmax indices), so create_graph works."""
    skip_if_no_fp64(device, "float64")
    x = t(rng.permutation(36).reshape(1, 1, 6, 6) * 0.1, "float64", True)
    for f in (lambda a: F.max_pool2d(a, 2), lambda a: F.avg_pool2d(a, 3, 2, 1),
              lambda a: F.adaptive_max_pool2d(a, 4), lambda a: F.adaptive_avg_pool2d(a, 4),
              lambda a: F.interpolate(a, scale_factor=1.5, mode="bilinear")):
        y = f(x)
        g = t(rng.standard_normal(tuple(y.shape)), "float64", True)
        (gx,) = clt.autograd.grad([y], [x], [g], create_graph=True)
        assert gx.requires_grad
        assert gradcheck(lambda gg: grad_of(f, x, gg), [g])


def test_pools_match_torch(device, rng):
    torch = pytest.importorskip("torch")
    x = rng.standard_normal((2, 3, 11, 10)).astype(np.float32)
    tx = torch.tensor(x, requires_grad=True)
    cx = t(x, grad=True)
    cases = [(lambda m, a: m.max_pool2d(a, 3, 2, 1, ceil_mode=True)),
             (lambda m, a: m.max_pool2d(a, (2, 3), (2, 1), (1, 0), dilation=(2, 2))),
             (lambda m, a: m.avg_pool2d(a, 3, 2, 1, ceil_mode=True, count_include_pad=False)),
             (lambda m, a: m.avg_pool2d(a, 3, 3, 1, divisor_override=4)),
             (lambda m, a: m.adaptive_avg_pool2d(a, (4, 7))),
             (lambda m, a: m.adaptive_max_pool2d(a, (5, 3)))]
    for fn in cases:
        ty, cy = fn(torch.nn.functional, tx), fn(F, cx)
        g = rng.standard_normal(tuple(ty.shape)).astype(np.float32)
        ty.backward(torch.tensor(g))
        cy.backward(t(g))
        np.testing.assert_allclose(cy.detach().numpy(), ty.detach().numpy(), rtol=1e-5,
                                   atol=1e-6)
        np.testing.assert_allclose(cx.grad.numpy(), tx.grad.numpy(), rtol=1e-5, atol=1e-5)
        tx.grad, cx.grad = None, None


def test_pool_modules(device):
    assert repr(nn.MaxPool2d(2)) == ("MaxPool2d(kernel_size=2, stride=2, padding=0, "
                                     "dilation=1, ceil_mode=False)")
    assert repr(nn.AvgPool2d(3, 2, 1)) == "AvgPool2d(kernel_size=3, stride=2, padding=1)"
    assert repr(nn.AvgPool1d(3)) == "AvgPool1d(kernel_size=(3,), stride=(3,), padding=(0,))"
    assert repr(nn.AdaptiveAvgPool2d((1, 1))) == "AdaptiveAvgPool2d(output_size=(1, 1))"
    x = clt.randn(2, 3, 8, 8)
    y, idx = nn.MaxPool2d(2, return_indices=True)(x)
    assert tuple(y.shape) == (2, 3, 4, 4) and tuple(idx.shape) == (2, 3, 4, 4)
    assert tuple(nn.AdaptiveMaxPool2d(3)(x).shape) == (2, 3, 3, 3)
    assert tuple(nn.AvgPool2d(2)(x).shape) == (2, 3, 4, 4)


def test_pool_errors(device):
    x = clt.zeros((1, 2, 4, 4))
    with pytest.raises(ValueError, match="pad should be at most half of effective kernel size, "
                                         "but got pad=2, kernel_size=3 and dilation=1"):
        F.max_pool2d(x, 3, padding=2)
    with pytest.raises(ValueError, match="pad should be at most half of kernel size"):
        F.avg_pool2d(x, 2, padding=2)
    with pytest.raises(ShapeError, match=r"Given input size: \(2x4x4\). Calculated output size: "
                                         r"\(2x0x0\). Output size is too small"):
        F.max_pool2d(x, 5)
    with pytest.raises(ShapeError, match="Expected 3D or 4D"):
        F.max_pool2d(clt.zeros((4, 4)), 2)
    with pytest.raises(ValueError, match="stride should be greater than zero"):
        F.max_pool2d(x, 2, 0)
    with pytest.raises(ValueError, match="divisor must be not zero"):
        F.avg_pool2d(x, 2, divisor_override=0)


# -- upsampling ----------------------------------------------------------------------------------

def ref_interp_1d(n_in, n_out, mode, align, scale=None):
    """Interpolation matrix (n_out, n_in) following PyTorch's index rules."""
    m = np.zeros((n_out, n_in))
    r = (1.0 / scale) if scale else n_in / n_out
    for o in range(n_out):
        if mode == "nearest":
            m[o, min(int(math.floor(o * np.float32(r))), n_in - 1)] = 1
        elif mode == "nearest-exact":
            m[o, min(int(math.floor((o + 0.5) * np.float32(r))), n_in - 1)] = 1
        else:
            if align:
                src = o * (n_in - 1) / (n_out - 1) if n_out > 1 else 0.0
            else:
                src = max(r * (o + 0.5) - 0.5, 0.0)
            i0 = int(src)
            i1 = i0 + (1 if i0 < n_in - 1 else 0)
            lam = src - i0
            m[o, i0] += 1 - lam
            m[o, i1] += lam
    return m


@pytest.mark.parametrize("mode,align,size,scale", [
    ("nearest", None, (18, 16), None), ("nearest", None, (7, 13), None),
    ("nearest", None, None, (1.7, 2.3)), ("nearest-exact", None, (7, 13), None),
    ("bilinear", False, (18, 16), None), ("bilinear", True, (5, 13), None),
    ("bilinear", False, None, (1.5, 0.6)), ("bilinear", True, None, (2.0, 3.0))])
def test_interpolate(device, rng, mode, align, size, scale):
    skip_if_no_fp64(device, "float64")
    x = rng.standard_normal((2, 3, 9, 8))
    y = F.interpolate(t(x), size=size, scale_factor=scale, mode=mode, align_corners=align)
    out = size or tuple(int(math.floor(n * s)) for n, s in zip((9, 8), scale))
    mh = ref_interp_1d(9, out[0], mode, align, scale[0] if scale else None)
    mw = ref_interp_1d(8, out[1], mode, align, scale[1] if scale else None)
    np.testing.assert_allclose(y.numpy(), np.einsum("oh,nchw,pw->ncop", mh, x, mw), atol=1e-12)
    xs = t(rng.standard_normal((1, 2, 5, 4)), "float64", True)
    assert gradcheck(lambda a: F.interpolate(a, size=size, scale_factor=scale, mode=mode,
                                             align_corners=align), [xs])


def test_interpolate_1d_and_modules(device, rng):
    x = rng.standard_normal((2, 3, 6)).astype(np.float32)
    y = F.interpolate(t(x), scale_factor=2, mode="linear", align_corners=True)
    np.testing.assert_allclose(y.numpy(), np.einsum("ol,ncl->nco", ref_interp_1d(
        6, 12, "linear", True), x), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(F.interpolate(t(x), size=12).numpy(), np.repeat(x, 2, -1))
    assert repr(nn.Upsample(scale_factor=2)) == "Upsample(scale_factor=2.0, mode='nearest')"
    up = nn.UpsamplingBilinear2d(scale_factor=2)
    assert tuple(up(clt.zeros((1, 1, 3, 3))).shape) == (1, 1, 6, 6)
    with pytest.raises(ValueError, match="only one of size or scale_factor should be defined"):
        F.interpolate(t(x), size=4, scale_factor=2)
    with pytest.raises(ValueError, match="align_corners option can only be set with the "
                                         "interpolating modes"):
        F.interpolate(t(x), size=4, align_corners=True)
    with pytest.raises(ShapeError, match="mode 'bilinear' expects a 4-D input"):
        F.interpolate(t(x), size=4, mode="bilinear")
    with pytest.raises(NotImplementedError, match="bicubic"):
        F.interpolate(t(x[None]), size=4, mode="bicubic")


def test_interpolate_matches_torch(device, rng):
    torch = pytest.importorskip("torch")
    x = rng.standard_normal((2, 3, 10, 7)).astype(np.float32)
    for kw in (dict(scale_factor=2.5, mode="nearest"), dict(size=(4, 9), mode="nearest-exact"),
               dict(scale_factor=(0.7, 1.9), mode="bilinear"),
               dict(size=(13, 5), mode="bilinear", align_corners=True)):
        tx = torch.tensor(x, requires_grad=True)
        cx = t(x, grad=True)
        ty, cy = torch.nn.functional.interpolate(tx, **kw), F.interpolate(cx, **kw)
        g = rng.standard_normal(tuple(ty.shape)).astype(np.float32)
        ty.backward(torch.tensor(g))
        cy.backward(t(g))
        np.testing.assert_allclose(cy.detach().numpy(), ty.detach().numpy(), rtol=1e-5,
                                   atol=1e-5)
        np.testing.assert_allclose(cx.grad.numpy(), tx.grad.numpy(), rtol=1e-4, atol=1e-4)


def test_gpu_style_pool_and_interp_kernels(device, rng):
    """The gather (GPU) formulations of every pooling/upsampling backward, on this device."""
    x = rng.standard_normal((2, 3, 9, 8)).astype(np.float32)
    fns = [lambda a: F.max_pool2d(a, 3, 2, 1, ceil_mode=True),
           lambda a: F.avg_pool2d(a, 3, 2, 1, count_include_pad=False),
           lambda a: F.adaptive_avg_pool2d(a, (4, 5)), lambda a: F.adaptive_max_pool2d(a, 3),
           lambda a: F.interpolate(a, scale_factor=1.7, mode="bilinear"),
           lambda a: F.interpolate(a, size=(5, 11), mode="nearest")]
    results = []
    for dev in (device, styled_device(device, "gpu")):   # this device's kernels, then GPU ones
        res = []
        for f in fns:
            cx = clt.tensor(x, requires_grad=True, device=dev)
            y = f(cx)
            y.backward(clt.tensor(np.cos(np.arange(y.numel())).reshape(tuple(y.shape)),
                                  dtype="float32", device=dev))
            res.append((y.detach().numpy(), cx.grad.numpy()))
        results.append(res)
    for (y0, g0), (y1, g1) in zip(*results):
        np.testing.assert_allclose(y0, y1, rtol=1e-6)
        np.testing.assert_allclose(g0, g1, rtol=1e-5, atol=1e-6)


# -- normalisation -------------------------------------------------------------------------------

def ref_batch_norm(x, w, b, eps):
    axes = (0,) + tuple(range(2, x.ndim))
    mean = x.mean(axes, keepdims=True)
    var = x.var(axes, keepdims=True)
    shape = (1, -1) + (1,) * (x.ndim - 2)
    return (x - mean) / np.sqrt(var + eps) * w.reshape(shape) + b.reshape(shape)


@pytest.mark.parametrize("shape", [(4, 3), (3, 4, 5), (2, 3, 4, 5)], ids=str)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_batch_norm_train_and_running_stats(device, rng, shape, dtype):
    skip_if_no_fp64(device, dtype)
    x = rng.standard_normal(shape) * 2 + 1
    c = shape[1]
    m = {2: nn.BatchNorm1d, 3: nn.BatchNorm1d, 4: nn.BatchNorm2d}[len(shape)](
        c, momentum=0.2, dtype=dtype)
    with clt.no_grad():
        m.weight.copy_(t(rng.standard_normal(c), dtype))
        m.bias.copy_(t(rng.standard_normal(c), dtype))
    w, b = m.weight.detach().numpy(), m.bias.detach().numpy()
    y = m(t(x, dtype))
    tol = 1e-4 if dtype == "float32" else 1e-10
    np.testing.assert_allclose(y.detach().numpy(), ref_batch_norm(x, w, b, 1e-5), rtol=tol,
                               atol=tol)
    axes = (0,) + tuple(range(2, len(shape)))
    np.testing.assert_allclose(m.running_mean.numpy(), 0.2 * x.mean(axes), rtol=tol, atol=tol)
    np.testing.assert_allclose(m.running_var.numpy(), 0.8 + 0.2 * x.var(axes, ddof=1),
                               rtol=tol, atol=tol)
    assert int(m.num_batches_tracked.item()) == 1
    m.eval()
    rm, rv = m.running_mean.numpy(), m.running_var.numpy()
    sh = (1, -1) + (1,) * (len(shape) - 2)
    ye = m(t(x, dtype)).detach().numpy()
    np.testing.assert_allclose(ye, (x - rm.reshape(sh)) / np.sqrt(rv.reshape(sh) + 1e-5)
                               * w.reshape(sh) + b.reshape(sh), rtol=tol, atol=tol)


def test_batch_norm_momentum_none_and_untracked(device, rng):
    x1, x2 = rng.standard_normal((8, 2)), rng.standard_normal((8, 2)) + 3
    m = nn.BatchNorm1d(2, momentum=None, affine=False)
    m(t(x1, "float32"))
    m(t(x2, "float32"))
    np.testing.assert_allclose(m.running_mean.numpy(), (x1.mean(0) + x2.mean(0)) / 2,
                               rtol=1e-5)
    u = nn.BatchNorm1d(2, track_running_stats=False)
    assert u.running_mean is None and "running_mean" not in u.state_dict()
    u.eval()   # without running stats, eval uses batch statistics too
    np.testing.assert_allclose(u(t(x1, "float32")).detach().numpy(),
                               ref_batch_norm(x1, np.ones(2), np.zeros(2), 1e-5), atol=1e-5)
    assert repr(m) == ("BatchNorm1d(2, eps=1e-05, momentum=None, affine=False, bias=False, "
                       "track_running_stats=True)")


def test_batch_norm_gradcheck(device, rng):
    skip_if_no_fp64(device, "float64")
    x = t(rng.standard_normal((3, 2, 2, 2)), "float64", True)
    w = t(rng.standard_normal(2), "float64", True)
    b = t(rng.standard_normal(2), "float64", True)
    assert gradcheck(lambda a, c, d: F.batch_norm(a, None, None, c, d, True), [x, w, b])
    rm, rv = t(rng.standard_normal(2), "float64"), t(rng.random(2) + 0.5, "float64")
    assert gradcheck(lambda a, c, d: F.batch_norm(a, rm, rv, c, d, False), [x, w, b])


def test_norm_double_backward(device, rng):
    skip_if_no_fp64(device, "float64")
    x = t(rng.standard_normal((3, 2, 3)), "float64", True)
    w = t(rng.standard_normal(2), "float64", True)
    cases = [(lambda a: F.batch_norm(a, None, None, w, None, True), x),
             (lambda a: F.layer_norm(a, (3,), None, None), x),
             (lambda a: F.group_norm(a, 1, w, None), x)]
    g0 = t(rng.standard_normal((3, 2, 3)), "float64", True)
    for f, xx in cases:
        assert gradcheck(lambda gg: grad_of(f, xx, gg), [g0])
        assert gradcheck(lambda a: grad_of(f, a, g0), [xx])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_layer_norm(device, rng, dtype):
    skip_if_no_fp64(device, dtype)
    x = rng.standard_normal((2, 3, 4, 5)) * 3 + 2
    w, b = rng.standard_normal((4, 5)), rng.standard_normal((4, 5))
    y = F.layer_norm(t(x, dtype), (4, 5), t(w, dtype), t(b, dtype), 1e-5)
    mu = x.mean((2, 3), keepdims=True)
    ref = (x - mu) / np.sqrt(x.var((2, 3), keepdims=True) + 1e-5) * w + b
    tol = 1e-4 if dtype == "float32" else 1e-10
    np.testing.assert_allclose(y.numpy(), ref, rtol=tol, atol=tol)
    xs = t(x[:1, :2, :2, :3], "float64", True) if dtype == "float64" else None
    if xs is not None:
        ws = t(w[:2, :3], "float64", True)
        bs = t(b[:2, :3], "float64", True)
        assert gradcheck(lambda a, c, d: F.layer_norm(a, (2, 3), c, d), [xs, ws, bs])
        assert gradcheck(lambda a: F.layer_norm(a, 3), [xs])
    m = nn.LayerNorm((4, 5), dtype=dtype)
    assert repr(m) == "LayerNorm((4, 5), eps=1e-05, elementwise_affine=True, bias=True)"
    np.testing.assert_allclose(m(t(x[:, :, ::-1].copy(), dtype).transpose(2, 3).contiguous()
                                 .transpose(2, 3)).detach().numpy(),
                               ((x[:, :, ::-1] - x[:, :, ::-1].mean((2, 3), keepdims=True))
                                / np.sqrt(x.var((2, 3), keepdims=True) + 1e-5)), rtol=tol,
                               atol=tol)


@pytest.mark.parametrize("groups", [1, 3, 6])
def test_group_norm_and_instance_norm(device, rng, groups):
    skip_if_no_fp64(device, "float64")
    x = rng.standard_normal((2, 6, 4, 3))
    w, b = rng.standard_normal(6), rng.standard_normal(6)
    y = F.group_norm(t(x), groups, t(w), t(b))
    xg = x.reshape(2, groups, -1)
    ref = ((xg - xg.mean(-1, keepdims=True)) / np.sqrt(xg.var(-1, keepdims=True) + 1e-5))
    ref = ref.reshape(x.shape) * w.reshape(1, 6, 1, 1) + b.reshape(1, 6, 1, 1)
    np.testing.assert_allclose(y.numpy(), ref, atol=1e-10)
    xs = t(x[:1, :, :2, :2], "float64", True)
    assert gradcheck(lambda a, c, d: F.group_norm(a, groups, c, d),
                     [xs, t(w, grad=True), t(b, grad=True)])
    if groups == 6:
        np.testing.assert_allclose(nn.InstanceNorm2d(6, dtype=clt.float64)(t(x)).numpy(),
                                   (ref - b.reshape(1, 6, 1, 1)) / w.reshape(1, 6, 1, 1),
                                   atol=1e-9)


def test_norms_match_torch(device, rng):
    torch = pytest.importorskip("torch")
    x = rng.standard_normal((4, 6, 5, 3)).astype(np.float32)
    pairs = [(nn.BatchNorm2d(6, momentum=0.3), torch.nn.BatchNorm2d(6, momentum=0.3)),
             (nn.GroupNorm(3, 6), torch.nn.GroupNorm(3, 6)),
             (nn.LayerNorm((5, 3)), torch.nn.LayerNorm((5, 3))),
             (nn.BatchNorm2d(6, affine=False), torch.nn.BatchNorm2d(6, affine=False))]
    for cm, tm in pairs:
        sd = {k: v.detach().numpy() + (0.1 * rng.standard_normal(v.shape).astype(np.float32)
                                       if v.dtype.is_floating_point else 0)
              for k, v in tm.state_dict().items()}
        tm.load_state_dict({k: torch.tensor(v) for k, v in sd.items()})
        cm.load_state_dict({k: t(v) for k, v in sd.items()})
        if _torch_version(torch) >= (2, 13):   # older versions print no "bias=" for norms
            assert repr(cm) == repr(tm)
        for train in (True, False):
            cm.train(train)
            tm.train(train)
            tx, cx = torch.tensor(x, requires_grad=True), t(x, grad=True)
            ty, cy = tm(tx), cm(cx)
            g = rng.standard_normal(x.shape).astype(np.float32)
            ty.backward(torch.tensor(g))
            cy.backward(t(g))
            np.testing.assert_allclose(cy.detach().numpy(), ty.detach().numpy(), rtol=1e-4,
                                       atol=1e-4)
            np.testing.assert_allclose(cx.grad.numpy(), tx.grad.numpy(), rtol=1e-3, atol=1e-4)
            for name, p in tm.named_parameters():
                np.testing.assert_allclose(dict(cm.named_parameters())[name].grad.numpy(),
                                           p.grad.numpy(), rtol=1e-3, atol=1e-3)
                p.grad = None
            cm.zero_grad()
            for name, buf in tm.named_buffers():
                np.testing.assert_allclose(dict(cm.named_buffers())[name].numpy(),
                                           buf.numpy(), rtol=1e-5, atol=1e-6)


def test_gpu_style_norm_kernels(device, rng):
    """Work-group (GPU) reductions of the norm kernels against this device's own kernels."""
    x = rng.standard_normal((3, 4, 37)).astype(np.float32)
    fns = [lambda a, m: F.batch_norm(a, m[0], m[1], None, None, True),
           lambda a, m: F.layer_norm(a, (37,)), lambda a, m: F.group_norm(a, 2)]
    results = []
    for dev in (device, styled_device(device, "gpu")):
        res = []
        for f in fns:
            stats = (clt.tensor(np.zeros(4, np.float32), device=dev),
                     clt.tensor(np.ones(4, np.float32), device=dev))
            cx = clt.tensor(x, requires_grad=True, device=dev)
            y = f(cx, stats)
            y.backward(clt.tensor(np.sin(np.arange(y.numel())).reshape(x.shape),
                                  dtype="float32", device=dev))
            res.append((y.detach().numpy(), cx.grad.numpy(), stats[1].numpy()))
        results.append(res)
    for r0, r1 in zip(*results):
        for a, b in zip(r0, r1):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("fn", [
    lambda a: F.max_pool2d(a, 3, 2, 1), lambda a: F.avg_pool2d(a, 2),
    lambda a: F.adaptive_avg_pool2d(a, 3), lambda a: F.adaptive_max_pool2d(a, (2, 3)),
    lambda a: F.interpolate(a, scale_factor=1.5, mode="bilinear"),
    lambda a: F.interpolate(a, size=(7, 9)), lambda a: F.batch_norm(a, None, None, training=True),
    lambda a: F.layer_norm(a, (8,)), lambda a: F.group_norm(a, 2)],
    ids=["max", "avg", "adaptive-avg", "adaptive-max", "bilinear", "nearest", "batch", "layer",
         "group"])
def test_float16_and_empty(device, rng, fn):
    """Half storage (computed in float) against float32, and empty batches."""
    x = rng.standard_normal((2, 4, 6, 8)).astype(np.float32)
    x16 = t(x.astype(np.float16), grad=True)
    x32 = t(x.astype(np.float16).astype(np.float32), grad=True)
    y16, y32 = fn(x16), fn(x32)
    assert y16.dtype is clt.float16
    np.testing.assert_allclose(y16.detach().numpy().astype(np.float32), y32.detach().numpy(),
                               rtol=1e-2, atol=1e-2)
    g = np.cos(np.arange(y32.numel())).reshape(tuple(y32.shape)).astype(np.float32)
    y16.backward(t(g.astype(np.float16)))
    y32.backward(t(g))
    np.testing.assert_allclose(x16.grad.numpy().astype(np.float32), x32.grad.numpy(),
                               rtol=2e-2, atol=2e-2)
    empty = fn(t(np.zeros((0, 4, 6, 8), np.float32)))
    assert tuple(empty.shape)[0] == 0


def test_batch_norm_empty_batch_keeps_stats(device):
    m = nn.BatchNorm2d(3)
    y = m(clt.zeros((0, 3, 4, 4)))
    assert tuple(y.shape) == (0, 3, 4, 4)
    np.testing.assert_array_equal(m.running_mean.numpy(), np.zeros(3, np.float32))


def test_norm_errors(device):
    with pytest.raises(ShapeError, match=r"expected 4D input \(got 3D input"):
        nn.BatchNorm2d(3)(clt.zeros((2, 3, 4)))
    with pytest.raises(ShapeError, match="Expected more than 1 value per channel when training"):
        nn.BatchNorm1d(3)(clt.zeros((1, 3)))
    with pytest.raises(ShapeError, match="running_mean should contain 4 elements not 3"):
        F.batch_norm(clt.zeros((2, 4)), clt.zeros(3), clt.ones(3))
    with pytest.raises(ShapeError, match=r"Given normalized_shape=\[5\], expected input with "
                                         r"shape \[\*, 5\]"):
        F.layer_norm(clt.zeros((2, 4)), (5,))
    with pytest.raises(ShapeError, match="Expected number of channels in input to be divisible "
                                         "by num_groups"):
        F.group_norm(clt.zeros((2, 6, 5)), 4)
    with pytest.raises(ValueError, match=r"num_channels \(6\) must be divisible by num_groups"):
        nn.GroupNorm(4, 6)
