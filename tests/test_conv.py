"""Convolutions: F.conv1d/conv2d/conv_transpose1d/conv_transpose2d and the Conv layers.

References are direct numpy loops on small shapes; gradients are checked by central differences
(float64) and, where PyTorch is installed, against it.
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

import clt
import clt.nn as nn
import clt.nn.functional as F
from clt.autograd import gradcheck
from clt.errors import DTypeError, ShapeError
from clt.ops import conv as K
from tests.conftest import skip_if_no_fp64


def ref_conv2d(x, w, b=None, stride=(1, 1), pad=(0, 0, 0, 0), dil=(1, 1), groups=1):
    """Direct cross-correlation; pad = (top, bottom, left, right)."""
    n, c, h, wd = x.shape
    cout, cg, kh, kw = w.shape
    pt, pb, pl, pr = pad
    xp = np.zeros((n, c, h + pt + pb, wd + pl + pr), np.float64)
    xp[:, :, pt:pt + h, pl:pl + wd] = x
    oh = (h + pt + pb - dil[0] * (kh - 1) - 1) // stride[0] + 1
    ow = (wd + pl + pr - dil[1] * (kw - 1) - 1) // stride[1] + 1
    y = np.zeros((n, cout, oh, ow))
    cog = cout // groups
    for co in range(cout):
        g = co // cog
        for i in range(oh):
            for j in range(ow):
                for ci in range(cg):
                    for a in range(kh):
                        for bb in range(kw):
                            y[:, co, i, j] += (xp[:, g * cg + ci, i * stride[0] + a * dil[0],
                                                  j * stride[1] + bb * dil[1]] * w[co, ci, a, bb])
        if b is not None:
            y[:, co] += b[co]
    return y


def ref_conv_transpose2d(x, w, stride, pad, opad, dil, groups):
    """Scatter form of the transposed convolution (the adjoint of ref_conv2d)."""
    n, cin, h, wd = x.shape
    _, cog, kh, kw = w.shape
    oh = (h - 1) * stride[0] - 2 * pad[0] + dil[0] * (kh - 1) + opad[0] + 1
    ow = (wd - 1) * stride[1] - 2 * pad[1] + dil[1] * (kw - 1) + opad[1] + 1
    y = np.zeros((n, cog * groups, oh + 2 * pad[0] + kh * dil[0], ow + 2 * pad[1] + kw * dil[1]))
    cig = cin // groups
    for ci in range(cin):
        g = ci // cig
        for co in range(cog):
            for i in range(h):
                for j in range(wd):
                    for a in range(kh):
                        for bb in range(kw):
                            y[:, g * cog + co, i * stride[0] + a * dil[0],
                              j * stride[1] + bb * dil[1]] += x[:, ci, i, j] * w[ci, co, a, bb]
    return y[:, :, pad[0]:pad[0] + oh, pad[1]:pad[1] + ow]


def t(a, dtype=None, grad=False, device=None):
    return clt.tensor(np.asarray(a), dtype=dtype, requires_grad=grad, device=device)


def styled_device(device, style):
    """Another Device on the same OpenCL device whose capability table asks for ``style``
    kernels, so the GPU variants run (and are tested) on a CPU driver too."""
    from clt.backend.device import Device

    dev = Device(device.cl_device, device.info)
    dev.caps = dataclasses.replace(dev.caps, style=style)
    return dev


def close(a, b, dtype):
    tol = {"float16": 2e-2, "float32": 2e-4, "float64": 1e-10}[np.dtype(dtype).name]
    np.testing.assert_allclose(np.asarray(a, np.float64), b, rtol=tol, atol=tol * 4)


# (N, C, H, W, Cout, groups, kernel, stride, padding (F arg), dilation, bias)
CASES = [
    (2, 3, 7, 6, 4, 1, (3, 3), (1, 1), 1, (1, 1), True),
    (2, 4, 9, 8, 6, 2, (3, 2), (2, 1), (0, 1), (1, 2), True),
    (1, 4, 7, 7, 8, 4, (3, 3), (1, 2), 1, (1, 1), False),       # depthwise (multiplier 2)
    (2, 3, 5, 6, 4, 1, (1, 1), (1, 1), 0, (1, 1), True),        # pointwise: no im2col
    (2, 2, 6, 5, 3, 1, (2, 4), (1, 1), "same", (1, 1), True),   # asymmetric 'same'
    (1, 2, 8, 8, 2, 1, (3, 3), (3, 3), 2, (2, 1), False),
    (3, 2, 5, 5, 4, 2, (2, 2), (1, 1), "valid", (2, 2), True),
    (2, 4, 5, 5, 6, 2, (1, 1), (1, 1), 0, (1, 1), True),        # grouped pointwise
]


def _pad4(padding, kernel, dil):
    if padding == "valid":
        return (0, 0, 0, 0)
    if padding == "same":
        tot = [d * (k - 1) for k, d in zip(kernel, dil)]
        return (tot[0] // 2, tot[0] - tot[0] // 2, tot[1] // 2, tot[1] - tot[1] // 2)
    p = (padding, padding) if isinstance(padding, int) else padding
    return (p[0], p[0], p[1], p[1])


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c[:4]}-g{c[5]}-k{c[6]}-s{c[7]}-p{c[8]}")
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_conv2d_matches_direct_loops(device, rng, case, dtype):
    skip_if_no_fp64(device, dtype)
    n, c, h, w_, cout, groups, k, s, p, d, bias = case
    x = rng.standard_normal((n, c, h, w_))
    w = rng.standard_normal((cout, c // groups) + k)
    b = rng.standard_normal(cout) if bias else None
    y = F.conv2d(t(x, dtype), t(w, dtype), t(b, dtype) if bias else None, s, p, d, groups)
    assert y.dtype.name == dtype
    close(y.numpy(), ref_conv2d(x, w, b, s, _pad4(p, k, d), d, groups), dtype)


def test_conv2d_float16(device, rng):
    x = rng.standard_normal((2, 4, 6, 5)).astype(np.float16)
    w = (rng.standard_normal((6, 2, 3, 3)) * 0.3).astype(np.float16)
    X, W = t(x, grad=True), t(w, grad=True)
    y = F.conv2d(X, W, None, 1, 1, 1, 2)
    assert y.dtype is clt.float16
    ref = ref_conv2d(x.astype(np.float64), w.astype(np.float64), None, (1, 1), (1, 1, 1, 1),
                     (1, 1), 2)
    np.testing.assert_allclose(y.detach().numpy().astype(np.float64), ref, atol=3e-2, rtol=1e-2)
    g = rng.standard_normal(y.shape).astype(np.float16)
    y.backward(t(g))
    # adjoint identities with float64 references (half storage, float accumulation)
    lhs = float((ref * g).sum())
    assert X.grad.dtype is clt.float16 and W.grad.dtype is clt.float16
    assert abs(float((X.grad.numpy().astype(np.float64) * x).sum()) - lhs) < 0.05 * abs(lhs) + 1
    assert abs(float((W.grad.numpy().astype(np.float64) * w).sum()) - lhs) < 0.05 * abs(lhs) + 1


def test_conv2d_noncontiguous_and_unbatched(device, rng):
    x = rng.standard_normal((3, 6, 5, 4)).astype(np.float32)      # read as (N, C, W, H)
    w = rng.standard_normal((2, 6, 3, 2)).astype(np.float32)
    xt = t(x).transpose(2, 3)                                      # a transposed view
    y = F.conv2d(xt, t(w), padding=1)
    close(y.numpy(), ref_conv2d(x.transpose(0, 1, 3, 2), w, None, (1, 1), (1, 1, 1, 1)),
          np.float32)
    xs = t(x)[::2, :, 1:, ::2]                                     # strided slices
    close(F.conv2d(xs, t(w)).numpy(), ref_conv2d(x[::2, :, 1:, ::2], w), np.float32)
    y1 = F.conv2d(t(x[0]), t(w))                                   # unbatched (C, H, W)
    assert tuple(y1.shape) == (2, 3, 3)
    close(y1.numpy(), ref_conv2d(x[:1], w)[0], np.float32)


def test_conv2d_empty_batch(device):
    x = clt.zeros((0, 3, 5, 5))
    y = F.conv2d(x, clt.ones((4, 3, 3, 3)), clt.ones(4))
    assert tuple(y.shape) == (0, 4, 3, 3)


def test_conv2d_column_chunks_match(device, rng, monkeypatch):
    """A tiny im2col budget forces one image per chunk; results must not change."""
    x = rng.standard_normal((5, 3, 6, 6))
    w = rng.standard_normal((4, 3, 3, 3))
    X, W = t(x, "float32", True), t(w, "float32", True)
    y = F.conv2d(X, W, padding=1)
    y.backward(clt.ones_like(y))
    full = (y.detach().numpy(), X.grad.numpy(), W.grad.numpy())
    monkeypatch.setattr(K, "COL_BUDGET_BYTES", 64)
    X2, W2 = t(x, "float32", True), t(w, "float32", True)
    y2 = F.conv2d(X2, W2, padding=1)
    y2.backward(clt.ones_like(y2))
    for a, b in zip(full, (y2.detach().numpy(), X2.grad.numpy(), W2.grad.numpy())):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("case", [CASES[0], CASES[1], CASES[2], CASES[4], CASES[5], CASES[7]],
                         ids=["basic", "groups-strided-dilated", "depthwise", "same", "s3",
                              "pointwise-groups"])
def test_conv2d_gradcheck(device, rng, case):
    skip_if_no_fp64(device, "float64")
    n, c, h, w_, cout, groups, k, s, p, d, bias = case
    x = t(rng.standard_normal((min(n, 2), c, h, w_)), "float64", True)
    w = t(rng.standard_normal((cout, c // groups) + k), "float64", True)
    b = t(rng.standard_normal(cout), "float64", True) if bias else None
    args = [x, w] + ([b] if bias else [])
    assert gradcheck(lambda *a: F.conv2d(a[0], a[1], a[2] if bias else None, s, p, d, groups),
                     args)


def test_conv2d_double_backward(device, rng):
    skip_if_no_fp64(device, "float64")
    if not hasattr(clt.Tensor, "sum"):
        pytest.skip("needs Tensor.sum (reductions)")
    from clt.autograd import gradgradcheck

    x = t(rng.standard_normal((1, 2, 4, 4)), "float64", True)
    w = t(rng.standard_normal((2, 1, 2, 2)), "float64", True)
    assert gradgradcheck(lambda a, b: F.conv2d(a, b, None, 1, 1, 1, 2), [x, w])


@pytest.mark.parametrize("kw", [dict(stride=2, padding=1, output_padding=1),
                                dict(stride=(2, 3), padding=(0, 1), output_padding=(1, 0),
                                     dilation=(1, 2)),
                                dict(stride=1, groups=2, padding=1)],
                         ids=["s2-op1", "dilated", "groups"])
def test_conv_transpose2d(device, rng, kw):
    skip_if_no_fp64(device, "float64")
    groups = kw.get("groups", 1)
    x = rng.standard_normal((2, 4, 4, 3))
    w = rng.standard_normal((4, 3, 3, 2))
    b = rng.standard_normal(3 * groups)
    y = F.conv_transpose2d(t(x), t(w), t(b), **kw)
    full = dict(stride=(1, 1), padding=(0, 0), output_padding=(0, 0), dilation=(1, 1))
    for key, v in kw.items():
        if key != "groups":
            full[key] = (v, v) if isinstance(v, int) else v
    ref = ref_conv_transpose2d(x, w, full["stride"], full["padding"], full["output_padding"],
                               full["dilation"], groups) + b.reshape(1, -1, 1, 1)
    close(y.numpy(), ref, np.float64)
    assert gradcheck(lambda a, c, e: F.conv_transpose2d(a, c, e, **kw),
                     [t(x[:1], grad=True), t(w, grad=True), t(b, grad=True)])


def test_conv1d_and_conv_transpose1d(device, rng):
    skip_if_no_fp64(device, "float64")
    x = rng.standard_normal((2, 4, 9))
    w = rng.standard_normal((3, 4, 3))
    y = F.conv1d(t(x), t(w), stride=2, padding=2, dilation=2)
    ref = ref_conv2d(x[:, :, None], w[:, :, None], None, (1, 2), (0, 0, 2, 2), (1, 2))[:, :, 0]
    close(y.numpy(), ref, np.float64)
    assert gradcheck(lambda a, b: F.conv1d(a, b, None, 2, 2, 2), [t(x, grad=True),
                                                                  t(w, grad=True)])
    wt = rng.standard_normal((4, 2, 3))
    yt = F.conv_transpose1d(t(x), t(wt), stride=2, output_padding=1)
    reft = ref_conv_transpose2d(x[:, :, None], wt[:, :, None], (1, 2), (0, 0), (0, 1), (1, 1), 1)
    close(yt.numpy(), reft[:, :, 0], np.float64)


def test_conv_layers_match_torch(device, rng):
    torch = pytest.importorskip("torch")
    skip_if_no_fp64(device, "float64")
    specs = [(nn.Conv2d, torch.nn.Conv2d, (4, 6, 3), dict(stride=2, padding=1, groups=2)),
             (nn.Conv2d, torch.nn.Conv2d, (4, 4, (2, 3)), dict(padding="same", dilation=2)),
             (nn.Conv1d, torch.nn.Conv1d, (4, 5, 3), dict(padding=1, bias=False)),
             (nn.ConvTranspose2d, torch.nn.ConvTranspose2d, (4, 6, 3),
              dict(stride=2, padding=1, output_padding=1, groups=2)),
             (nn.ConvTranspose1d, torch.nn.ConvTranspose1d, (4, 3, 4), dict(stride=3))]
    for ours, theirs, args, kw in specs:
        tm = theirs(*args, **kw).double()
        cm = ours(*args, dtype=clt.float64, **kw)
        assert repr(cm) == repr(tm)
        cm.load_state_dict({k: t(v.detach().numpy()) for k, v in tm.state_dict().items()})
        shape = (2, 4, 7, 6) if ours in (nn.Conv2d, nn.ConvTranspose2d) else (2, 4, 9)
        x = rng.standard_normal(shape)
        tx = torch.tensor(x, requires_grad=True)
        cx = t(x, grad=True)
        ty, cy = tm(tx), cm(cx)
        g = rng.standard_normal(tuple(ty.shape))
        ty.backward(torch.tensor(g))
        cy.backward(t(g))
        np.testing.assert_allclose(cy.detach().numpy(), ty.detach().numpy(), atol=1e-10)
        np.testing.assert_allclose(cx.grad.numpy(), tx.grad.numpy(), atol=1e-10)
        for name, p in tm.named_parameters():
            np.testing.assert_allclose(dict(cm.named_parameters())[name].grad.numpy(),
                                       p.grad.numpy(), atol=1e-9)


def test_conv_transpose_output_size(device):
    m = nn.ConvTranspose2d(2, 3, 3, stride=2, padding=1)
    x = clt.zeros((1, 2, 5, 5))
    assert tuple(m(x).shape) == (1, 3, 9, 9)
    assert tuple(m(x, output_size=(10, 10)).shape) == (1, 3, 10, 10)
    with pytest.raises(ValueError, match="requested an output size of \\[11, 11\\], but valid "
                                         "sizes range from \\[9, 9\\] to \\[10, 10\\]"):
        m(x, output_size=(11, 11))


def test_conv2d_padding_modes(device, rng):
    torch = pytest.importorskip("torch")
    if not hasattr(F, "pad"):
        pytest.skip("F.pad not available")
    x = rng.standard_normal((1, 2, 5, 6)).astype(np.float32)
    try:
        F.pad(t(x), (1, 1, 1, 1), mode="reflect")
    except (AttributeError, NotImplementedError) as exc:   # F.pad's index ops not built yet
        pytest.skip(f"F.pad(mode='reflect') unavailable: {exc}")
    for mode in ("reflect", "replicate", "circular"):
        tm = torch.nn.Conv2d(2, 3, 3, padding=1, padding_mode=mode)
        cm = nn.Conv2d(2, 3, 3, padding=1, padding_mode=mode)
        cm.load_state_dict({k: t(v.detach().numpy()) for k, v in tm.state_dict().items()})
        np.testing.assert_allclose(cm(t(x)).detach().numpy(),
                                   tm(torch.tensor(x)).detach().numpy(), atol=1e-5)


def test_conv2d_init_and_repr(device):
    clt.manual_seed(0)
    m = nn.Conv2d(3, 8, 3, padding=1)
    assert tuple(m.weight.shape) == (8, 3, 3, 3) and tuple(m.bias.shape) == (8,)
    bound = 1 / math.sqrt(27)
    w, b = m.weight.detach().numpy(), m.bias.detach().numpy()
    assert np.abs(w).max() <= bound + 1e-7 and np.abs(w).max() > bound * 0.8
    assert np.abs(b).max() <= bound + 1e-7
    assert repr(m) == "Conv2d(3, 8, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))"
    assert repr(nn.Conv2d(4, 4, 3, groups=4, bias=False, padding_mode="reflect")) == (
        "Conv2d(4, 4, kernel_size=(3, 3), stride=(1, 1), groups=4, bias=False, "
        "padding_mode=reflect)")
    m64 = nn.Conv2d(1, 2, 3, dtype=clt.float64) if clt.device().supports_fp64 else None
    if m64 is not None:
        assert m64.weight.dtype is clt.float64


def test_conv_errors(device):
    x = clt.zeros((4, 3, 28, 28))
    with pytest.raises(ShapeError, match=r"Given groups=1, weight of size \[8, 1, 3, 3\], "
                                         r"expected input\[4, 3, 28, 28\] to have 1 channels, "
                                         r"but got 3 channels instead"):
        nn.Conv2d(1, 8, 3)(x)
    with pytest.raises(ShapeError, match=r"Expected 3D \(unbatched\) or 4D \(batched\) input "
                                         r"to conv2d, but got input of size: \[3, 28\]"):
        F.conv2d(clt.zeros((3, 28)), clt.zeros((8, 3, 3, 3)))
    with pytest.raises(ShapeError, match="expected weight to be divisible by 2"):
        F.conv2d(x, clt.zeros((3, 1, 3, 3)), groups=2)
    with pytest.raises(ShapeError, match=r"expected bias to be 1-dimensional with 8 elements, "
                                         r"but got bias of size \[5\]"):
        F.conv2d(x, clt.zeros((8, 3, 3, 3)), clt.zeros(5))
    with pytest.raises(ShapeError, match=r"Kernel size can't be greater than actual input "
                                         r"size"):
        F.conv2d(clt.zeros((1, 1, 2, 2)), clt.zeros((1, 1, 3, 3)))
    with pytest.raises(ValueError, match="non-positive stride is not supported"):
        F.conv2d(x, clt.zeros((8, 3, 3, 3)), stride=0)
    with pytest.raises(ValueError, match="negative padding is not supported"):
        F.conv2d(x, clt.zeros((8, 3, 3, 3)), padding=-1)
    with pytest.raises(ValueError, match="padding='same' is not supported for strided"):
        F.conv2d(x, clt.zeros((8, 3, 3, 3)), stride=2, padding="same")
    with pytest.raises(ValueError, match="Invalid padding string 'full'"):
        F.conv2d(x, clt.zeros((8, 3, 3, 3)), padding="full")
    with pytest.raises(ValueError, match="in_channels must be divisible by groups"):
        nn.Conv2d(3, 6, 3, groups=2)
    with pytest.raises(ValueError, match="padding_mode must be one of"):
        nn.Conv2d(3, 6, 3, padding_mode="mirror")
    with pytest.raises(ValueError, match="output padding must be smaller than either stride"):
        F.conv_transpose2d(x, clt.zeros((3, 2, 3, 3)), output_padding=1)
    with pytest.raises(DTypeError, match=r"Input type \(float32\) and weight type \(float16\)"):
        F.conv2d(x, clt.zeros((8, 3, 3, 3), dtype=clt.float16))
    with pytest.raises(DTypeError, match="expected a floating point input"):
        F.conv2d(clt.zeros((1, 3, 5, 5), dtype=clt.int32), clt.zeros((1, 3, 3, 3),
                                                                     dtype=clt.int32))


def test_gpu_style_conv_kernels(device, rng):
    """The GPU variants of im2col, col2im and the direct kernels, run on this device."""
    gdev = styled_device(device, "gpu")
    x = rng.standard_normal((2, 4, 6, 5)).astype(np.float32)
    for w_shape, groups in (((6, 2, 3, 2), 2), ((8, 1, 3, 3), 4)):
        w = rng.standard_normal(w_shape).astype(np.float32)
        X, W = t(x, grad=True, device=gdev), t(w, grad=True, device=gdev)
        y = F.conv2d(X, W, None, (2, 1), 1, (1, 2), groups)
        close(y.detach().numpy(), ref_conv2d(x, w, None, (2, 1), (1, 1, 1, 1), (1, 2), groups),
              np.float32)
        g = rng.standard_normal(tuple(y.shape)).astype(np.float32)
        y.backward(t(g, device=gdev))
        # adjoint identities: <conv(x), g> == <x, dconv/dx^T g> == <w, dconv/dw^T g>
        lhs = float((ref_conv2d(x, w, None, (2, 1), (1, 1, 1, 1), (1, 2), groups) * g).sum())
        assert abs(lhs - float((X.grad.numpy() * x).sum())) < 1e-3 * max(1, abs(lhs))
        assert abs(lhs - float((W.grad.numpy() * w).sum())) < 1e-3 * max(1, abs(lhs))
