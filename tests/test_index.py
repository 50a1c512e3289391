"""Tensor-level indexing: advanced __getitem__/__setitem__, index functions and methods, their
gradients (gradcheck, and gradgradcheck for create_graph), and device-side IndexErrors."""
from __future__ import annotations

import numpy as np
import pytest

import clt
from clt.autograd import gradcheck


def t64(device, x, requires_grad=True):
    dt = clt.float64 if device.supports_fp64 else clt.float32
    return clt.tensor(np.asarray(x), dtype=dt, device=device, requires_grad=requires_grad)


def rand(device, rng, *shape):
    return t64(device, rng.uniform(-2, 2, size=shape))


def ix(device, values, dtype=clt.int64):
    return clt.tensor(np.asarray(values), dtype=dtype, device=device)


A = np.arange(60, dtype=np.float32).reshape(3, 4, 5)


@pytest.mark.parametrize("key", [
    [2, 0], ([0, 2], [3, 1]), (slice(None), [3, 0]), (Ellipsis, [1, -1]),
    ([0, 1], slice(None), [2, 3]), (A[:, :, 0] > 20,), (slice(1, 3), A[0, :, 0] > 4),
], ids=lambda k: repr(k)[:30])
def test_getitem_advanced(device, key):
    x = clt.tensor(A, device=device)
    tkey = tuple(clt.tensor(k, device=device) if isinstance(k, (list, np.ndarray)) else k
                 for k in (key if isinstance(key, tuple) else (key,)))
    np.testing.assert_array_equal(x[tkey].numpy(), A[key])
    hkey = tuple(k.tolist() if isinstance(k, np.ndarray) else k
                 for k in (key if isinstance(key, tuple) else (key,)))
    np.testing.assert_array_equal(x[hkey].numpy(), A[key])      # host lists (masks too)


def test_getitem_pytorch_rules(device):
    x = clt.tensor(A, device=device)
    np.testing.assert_array_equal(x[0, :, [1, 2]].numpy(), A[0][:, [1, 2]])
    np.testing.assert_array_equal(x[[ix(device, [0, 1]), ix(device, [2, 3])]].numpy(),
                                  A[[0, 1], [2, 3]])
    np.testing.assert_array_equal(x[ix(device, [1, 0], clt.int32)].numpy(), A[[1, 0]])
    with pytest.raises(IndexError, match="index 3 is out of bounds for dimension 0 with size 3"):
        x[[0, 3]]
    bad = x[ix(device, [0, 3])]
    with pytest.raises(IndexError, match="index 3 is out of bounds for dimension 0 with size 3"):
        bad.numpy()


def test_setitem_advanced(device, rng):
    a = A.copy()
    x = clt.tensor(A, device=device)
    x[[0, 2], 1] = -1.0
    a[[0, 2], 1] = -1.0
    v = rng.standard_normal(5).astype(np.float32)
    x[ix(device, [1, 1]), ix(device, [0, 3])] = clt.tensor(v, device=device)
    a[[1, 1], [0, 3]] = v
    m = a > 40
    x[clt.tensor(m, device=device)] = 7          # mask + scalar: a masked fill, no sync
    a[m] = 7
    x[:, [True, False, True, False]] = clt.tensor(np.float32(0.5), device=device)
    a[:, [True, False, True, False]] = 0.5
    np.testing.assert_array_equal(x.numpy(), a)


def test_setitem_autograd(device, rng):
    x = rand(device, rng, 3, 4)
    v = rand(device, rng, 2)

    def f(x, v):
        y = x * 1.0
        y[[2, 0], 1] = v
        return y * y
    assert gradcheck(f, (x, v))


@pytest.mark.parametrize("key", [[[0, 2, 0]], (slice(None), [1, 1, 3]), ([1, 0], [0, 3]),
                                 ([[0], [2]], slice(None), [1, 0])], ids=str)
def test_getitem_gradcheck(device, rng, key):
    x = rand(device, rng, 3, 4, 2)
    assert gradcheck(lambda t: t[key], (x,))


def test_mask_getitem_and_masked_select_gradcheck(device, rng):
    x = rand(device, rng, 3, 4)
    m = clt.tensor(rng.random((3, 4)) > 0.4, device=device)
    assert gradcheck(lambda t: t[m], (x,))
    mb = clt.tensor(rng.random((4,)) > 0.4, device=device)
    assert gradcheck(lambda t: clt.masked_select(t, mb), (x,))
    np.testing.assert_array_equal(clt.masked_select(x.detach(), mb).numpy(),
                                  x.detach().numpy()[:, mb.numpy()].ravel())


def test_index_functions_gradcheck(device, rng):
    x = rand(device, rng, 4, 3)
    idx = ix(device, [3, 0, 3, 1])
    assert gradcheck(lambda t: clt.index_select(t, 0, idx), (x,))
    assert gradcheck(lambda t: t.index_select(1, ix(device, [2, 2], clt.int32)), (x,))
    g = ix(device, [[0, 2, 1], [3, 3, 0]])
    assert gradcheck(lambda t: t.gather(0, g), (x,))
    assert gradcheck(lambda t: clt.take(t, ix(device, [[-1, 5], [0, 5]])), (x,))
    assert gradcheck(lambda t: clt.take_along_dim(t, ix(device, [[0], [2], [1], [1]]), 1), (x,))
    src = rand(device, rng, 2, 3)
    assert gradcheck(lambda t, s: t.index_add(0, ix(device, [1, 1]), s, alpha=2.0), (x, src))
    assert gradcheck(lambda t, s: t.index_copy(0, ix(device, [2, 0]), s), (x, src))
    assert gradcheck(lambda t: t.index_fill(1, ix(device, [0]), -3.0), (x,))
    perm = ix(device, [[2, 0, 1], [0, 3, 2]])
    assert gradcheck(lambda t, s: t.scatter(0, perm, s), (x, src))
    assert gradcheck(lambda t, s: t.scatter_add(0, g, s), (x, src))


def first_grad(fn):
    """t -> d(fn(t))/dt with create_graph: gradcheck of it checks the double backward."""
    def grad_of(t):
        with clt.enable_grad():     # gradcheck evaluates perturbed points under no_grad
            if not t.requires_grad:
                t = t.detach().requires_grad_(True)
            y = fn(t)
            w = clt.tensor(np.linspace(0.5, 1.5, y.numel()).reshape(tuple(y.shape)),
                           dtype=y.dtype, device=y.device)
            return clt.autograd.grad([y], [t], [w], create_graph=True)[0]
    return grad_of


@pytest.mark.parametrize("fn", [
    lambda t: t.gather(0, ix(t.device, [[0, 2, 1], [3, 3, 0]])) ** 2,
    lambda t: t[[1, 1, 2]] ** 2,
    lambda t: t.index_select(1, ix(t.device, [2, 0, 2])) ** 3,
    lambda t: (t * t).scatter_add(0, ix(t.device, [[1, 1, 1]]), t[:1] * t[1:2]),
    lambda t: t.masked_fill(t > 0, 0.5) ** 2,
], ids=["gather", "getitem", "index_select", "scatter_add", "masked_fill"])
def test_double_backward(device, rng, fn):
    x = rand(device, rng, 4, 3)
    assert gradcheck(first_grad(fn), (x,))


@pytest.mark.parametrize("reduce", ["sum", "mean", "amax", "amin"])
@pytest.mark.parametrize("include_self", [True, False])
def test_scatter_reduce_gradcheck(device, rng, reduce, include_self):
    x = rand(device, rng, 3, 2)
    src = rand(device, rng, 4, 2)
    idx = ix(device, [[0, 1], [2, 1], [0, 1], [0, 0]])
    assert gradcheck(lambda t, s: t.scatter_reduce(0, idx, s, reduce, include_self=include_self),
                     (x, src))


def test_scatter_reduce_prod_has_no_autograd(device, rng):
    x = rand(device, rng, 3, 2)
    with pytest.raises(NotImplementedError, match="prod"):
        x.scatter_reduce(0, ix(device, [[0, 1]]), rand(device, rng, 1, 2), "prod")


def test_masked_fill_gradcheck_and_broadcast(device, rng):
    x = rand(device, rng, 3, 4)
    m = clt.tensor(rng.random((1, 4)) > 0.5, device=device)
    v = t64(device, 1.5)
    assert gradcheck(lambda t, val: t.masked_fill(m, val), (x, v))
    xs = rand(device, rng, 4)      # broadcast against a (3, 4) mask: gradient sums back
    m2 = clt.tensor(rng.random((3, 4)) > 0.5, device=device)
    assert gradcheck(lambda t: clt.masked_fill(t, m2, 0.0), (xs,))


def test_index_put(device, rng):
    x = rand(device, rng, 3, 4)
    v = rand(device, rng, 2)
    i0, i1 = ix(device, [2, 2]), ix(device, [1, 1])
    assert gradcheck(lambda t, val: t.index_put((i0, i1), val, accumulate=True), (x, v))
    assert gradcheck(lambda t, val: t.index_put((None, ix(device, [3])), val[:1]), (x, v))
    want = x.detach().numpy().copy()
    np.add.at(want, ([2, 2], [1, 1]), v.detach().numpy())
    np.testing.assert_allclose(x.detach().index_put((i0, i1), v.detach(), True).numpy(), want)


def test_inplace_methods(device, rng):
    a = rng.standard_normal((4, 3)).astype(np.float32)
    x = clt.tensor(a, device=device)
    idx = ix(device, [0, 0, 2])
    src = clt.tensor(np.ones((3, 3), np.float32), device=device)
    assert x.index_add_(0, idx, src) is x
    a[0] += 2
    a[2] += 1
    assert x.masked_fill_(x > 1.5, 0.0) is x
    a[a > 1.5] = 0
    x.scatter_(1, ix(device, [[2], [0], [1], [1]]), 9.0)
    a[[0, 1, 2, 3], [2, 0, 1, 1]] = 9
    x.index_fill_(0, ix(device, [3]), -1)
    a[3] = -1
    x.index_put_((ix(device, [1]),), clt.tensor(np.float32(4.0), device=device), accumulate=True)
    a[1] += 4
    np.testing.assert_array_equal(x.numpy(), a)
    # with autograd: through apply_inplace on a non-leaf
    w = rand(device, rng, 4, 3)

    def f(w):
        y = w * 2.0
        y.index_add_(0, ix(device, [1, 1]), w[:2])
        y.masked_fill_(ix(device, [[1, 0, 0]] * 4).to(clt.bool), 0.0)
        return y
    assert gradcheck(f, (w,))
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        w.index_fill_(0, ix(device, [0]), 0.0)


def test_nonzero_where_argwhere(device):
    a = np.array([[0, 1, 0], [2, 0, 3]], np.int32)
    x = clt.tensor(a, device=device)
    np.testing.assert_array_equal(clt.nonzero(x).numpy(), np.argwhere(a))
    np.testing.assert_array_equal(x.argwhere().numpy(), np.argwhere(a))
    rows, cols = clt.where(x > 0)
    np.testing.assert_array_equal(rows.numpy(), np.nonzero(a)[0])
    np.testing.assert_array_equal(cols.numpy(), np.nonzero(a)[1])
    assert len(x.nonzero(as_tuple=True)) == 2


def test_bad_input(device, rng):
    x = t64(device, np.ones((3, 4)), requires_grad=False)
    with pytest.raises(clt.DTypeError, match="int64 or int32"):
        x.index_select(0, clt.tensor([0.0], device=device))
    with pytest.raises(clt.ShapeError, match="same number of dimensions"):
        x.gather(0, ix(device, [0]))
    with pytest.raises(TypeError, match="argument 'mask' must be Tensor"):
        x.masked_fill(np.ones((3, 4), bool), 0)
    with pytest.raises(clt.DTypeError, match="bool mask"):
        x.masked_fill(ix(device, [1]), 0)
    out = x.index_select(1, ix(device, [4]))
    with pytest.raises(IndexError, match=r"index_select\(\): index 4 is out of bounds"):
        out[0, 0].item()
