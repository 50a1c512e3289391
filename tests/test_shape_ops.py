"""Tensor-level shape ops (clt.functions.shape_ops): results against numpy, gradients by
gradcheck (and double backward), views sharing storage."""
from __future__ import annotations

import numpy as np
import pytest

import clt
from clt.autograd import gradcheck
from clt.functions import shape_ops as SO


def t64(device, x, requires_grad=True):
    dt = clt.float64 if device.supports_fp64 else clt.float32
    return clt.tensor(np.asarray(x), dtype=dt, device=device, requires_grad=requires_grad)


def rand(device, rng, *shape):
    return t64(device, rng.uniform(-2, 2, size=shape))


def host(t):
    return t.detach().numpy()


def test_cat_stack_values_and_grads(device, rng):
    a, b, c = rand(device, rng, 2, 3), rand(device, rng, 1, 3), rand(device, rng, 2, 3)
    np.testing.assert_array_equal(host(clt.cat([a, b, c])),
                                  np.concatenate([host(a), host(b), host(c)]))
    assert gradcheck(lambda x, y: clt.cat([x, y], 0) * 2, (a, b))
    assert gradcheck(lambda x, y: clt.concat((x, y), dim=-1), (a, c))
    assert gradcheck(lambda x, y: clt.stack([x, y], 1), (a, c))
    np.testing.assert_array_equal(host(clt.stack([a, c], -1)), np.stack([host(a), host(c)], -1))


def test_cat_mixed_dtypes_grad_dtypes(device, rng):
    a = clt.tensor(rng.standard_normal((2, 2)).astype(np.float32), device=device,
                   requires_grad=True)
    b = clt.tensor(rng.standard_normal((1, 2)).astype(np.float16), device=device,
                   requires_grad=True)
    i = clt.tensor(np.ones((1, 2), np.int32), device=device)
    out = clt.cat([a, b, i])
    assert out.dtype is clt.float32
    out.backward(clt.ones(4, 2, device=device))
    assert a.grad.dtype is clt.float32 and b.grad.dtype is clt.float16
    np.testing.assert_array_equal(b.grad.numpy(), np.ones((1, 2), np.float16))
    e = clt.tensor(np.zeros(0, np.float32), device=device, requires_grad=True)
    out = clt.cat([e, a])
    out.backward(clt.ones(2, 2, device=device))
    assert e.grad.shape == (0,)


def test_hstack_vstack_dstack(device, rng):
    a, b = rng.standard_normal((2, 3)), rng.standard_normal((2, 3))
    ta, tb = t64(device, a, False), t64(device, b, False)
    for fn, ref in ((clt.hstack, np.hstack), (clt.vstack, np.vstack), (clt.dstack, np.dstack)):
        np.testing.assert_allclose(host(fn([ta, tb])), ref([a, b]))
    v, w = rng.standard_normal(3), rng.standard_normal(3)
    tv, tw = t64(device, v, False), t64(device, w, False)
    for fn, ref in ((clt.hstack, np.hstack), (clt.vstack, np.vstack), (clt.dstack, np.dstack)):
        np.testing.assert_allclose(host(fn([tv, tw])), ref([v, w]))


def test_split_chunk_are_views_with_grads(device, rng):
    x = rand(device, rng, 5, 2)
    parts = x.split([2, 3])
    assert [tuple(p.shape) for p in parts] == [(2, 2), (3, 2)]
    assert all(p._data.storage is x._data.storage for p in parts)
    assert [tuple(p.shape) for p in clt.chunk(x, 3)] == [(2, 2), (2, 2), (1, 2)]
    assert [tuple(p.shape) for p in x.split(2, 1)] == [(5, 2)]
    assert gradcheck(lambda t: clt.split(t, 2)[1] * 3, (x,))
    assert gradcheck(lambda t: t.chunk(2, 1)[0] ** 2, (x,))


@pytest.mark.parametrize("fn", [
    lambda t: t.flip(0), lambda t: clt.flip(t, (0, 1)), lambda t: clt.fliplr(t),
    lambda t: t.flipud(), lambda t: t.roll(1, 0), lambda t: clt.roll(t, (2, -1), (1, 0)),
    lambda t: t.roll(3), lambda t: t.repeat(2, 1), lambda t: t.repeat(2, 1, 3),
    lambda t: clt.tile(t, (2,)), lambda t: t.tril(), lambda t: t.triu(1), lambda t: t.tril(-1),
    lambda t: t.diagonal(), lambda t: t.diagonal(1, 1, 0), lambda t: t.diag(-1),
    lambda t: t[0].diag(1), lambda t: t.diag_embed(), lambda t: clt.diag_embed(t, 1, 0, 2),
    lambda t: t.unfold(1, 2, 1), lambda t: t.unfold(0, 2, 2),
], ids=["flip0", "flip01", "fliplr", "flipud", "roll", "roll2", "roll_flat", "repeat",
        "repeat3", "tile", "tril", "triu1", "tril-1", "diagonal", "diagonal_swapped", "diag2d",
        "diag1d", "diag_embed", "diag_embed_dims", "unfold", "unfold_step"])
def test_gradcheck(device, rng, fn):
    assert gradcheck(fn, (rand(device, rng, 3, 4),))


PAD_CASES = [(m, p) for m in ("constant", "reflect", "replicate", "circular")
             for p in ((1, 2), (2, 1, 1, 2))] + [("constant", (-1, 2, 1, 0))]


@pytest.mark.parametrize("mode,pad", PAD_CASES, ids=str)
def test_pad(device, rng, mode, pad):
    x = rand(device, rng, 3, 4)
    widths = [(0, 0), (0, 0)]
    for k in range(len(pad) // 2):
        widths[1 - k] = (pad[2 * k], pad[2 * k + 1])
    a = host(x)
    if mode == "constant":
        crop = tuple(slice(max(-lo, 0), a.shape[d] - max(-hi, 0))
                     for d, (lo, hi) in enumerate(widths))
        want = np.pad(a[crop], [(max(lo, 0), max(hi, 0)) for lo, hi in widths],
                      constant_values=0.5)
        np.testing.assert_array_equal(host(SO.pad(x, pad, value=0.5)), want)
    else:
        np_mode = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}[mode]
        np.testing.assert_array_equal(host(SO.pad(x, pad, mode)), np.pad(a, widths, np_mode))
    assert gradcheck(lambda t: SO.pad(t, pad, mode), (x,))


def first_grad(fn):
    def grad_of(t):
        with clt.enable_grad():
            if not t.requires_grad:
                t = t.detach().requires_grad_(True)
            y = fn(t)
            w = clt.tensor(np.linspace(0.5, 1.5, y.numel()).reshape(tuple(y.shape)),
                           dtype=y.dtype, device=y.device)
            return clt.autograd.grad([y], [t], [w], create_graph=True)[0]
    return grad_of


@pytest.mark.parametrize("fn", [
    lambda t: SO.pad(t, (1, 1, 2, 0), "reflect") ** 2, lambda t: t.repeat(2, 2) ** 2,
    lambda t: clt.cat([t, t * t]) ** 2, lambda t: t.unfold(1, 3, 1) ** 2,
    lambda t: t.diagonal() ** 3,
], ids=["pad", "repeat", "cat", "unfold", "diagonal"])
def test_double_backward(device, rng, fn):
    assert gradcheck(first_grad(fn), (rand(device, rng, 3, 4),))


def test_inplace_tri_and_views(device, rng):
    a = rng.standard_normal((3, 3)).astype(np.float32)
    x = clt.tensor(a, device=device)
    assert x.triu_(1) is x
    np.testing.assert_array_equal(x.numpy(), np.triu(a, 1))
    d = x.diagonal(1)
    assert d._data.storage is x._data.storage and d._base is x
    np.testing.assert_array_equal(d.numpy(), np.diagonal(np.triu(a, 1), 1))
    w = rand(device, rng, 3, 3)
    assert gradcheck(lambda t: (t * 1.0).tril_(), (w,))


def test_bad_input(device, rng):
    x = t64(device, np.ones((2, 3)), False)
    with pytest.raises(TypeError, match="expected a sequence of Tensors"):
        clt.cat([x, np.ones((2, 3))])
    with pytest.raises(clt.ShapeError, match="Expected size 3 but got size 2"):
        clt.cat([x, x.t()])
    with pytest.raises(clt.ShapeError, match="equal size"):
        clt.stack([x, x.t()])
    with pytest.raises(clt.ShapeError, match="can not be smaller"):
        x.repeat(2)
    with pytest.raises(clt.ShapeError, match="fliplr: input must be >= 2-d"):
        clt.fliplr(x[0])
    with pytest.raises(clt.ShapeError, match="sum exactly to 2"):
        x.split([1, 2])
