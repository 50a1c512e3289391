"""Tensor-level matrix products: values against numpy, gradients by gradcheck, operators."""
from __future__ import annotations

import numpy as np
import pytest

import clt
from clt.autograd import gradcheck
from clt.errors import DeviceError, DTypeError, ShapeError
from clt.functions.linalg import linear


def t64(device, x, requires_grad=True):
    dt = clt.float64 if device.supports_fp64 else clt.float32
    return clt.tensor(np.asarray(x), dtype=dt, device=device, requires_grad=requires_grad)


def rand(device, rng, *shape, requires_grad=True):
    return t64(device, rng.uniform(-1.5, 1.5, size=shape), requires_grad)


def host(t):
    return t.detach().numpy()


@pytest.mark.parametrize("sa,sb", [((3, 4), (4, 2)), ((4,), (4,)), ((4,), (4, 3)),
                                   ((2, 4), (4,)), ((2, 3, 4), (4, 2)), ((3, 4), (2, 4, 2)),
                                   ((2, 1, 3, 4), (3, 4, 2)), ((2, 3, 4), (4,)),
                                   ((4,), (2, 4, 3))], ids=str)
def test_matmul_gradcheck(device, rng, sa, sb):
    a, b = rand(device, rng, *sa), rand(device, rng, *sb)
    np.testing.assert_allclose(host(clt.matmul(a, b)), np.matmul(host(a), host(b)),
                               rtol=1e-5, atol=1e-5)
    assert gradcheck(clt.matmul, (a, b))


def test_matmul_transposed_and_sliced_inputs_gradcheck(device, rng):
    a, b = rand(device, rng, 5, 3), rand(device, rng, 4, 10)
    assert gradcheck(lambda x, y: x.t() @ y[:, ::2].t(), (a, b))


def test_operators_and_methods(device, rng):
    a = rand(device, rng, 3, 4, requires_grad=False)
    b = rand(device, rng, 4, 2, requires_grad=False)
    want = host(a) @ host(b)
    for got in (a @ b, a.matmul(b), a.mm(b), clt.mm(a, b)):
        np.testing.assert_allclose(host(got), want, rtol=1e-6, atol=1e-6)
    v = rand(device, rng, 4, requires_grad=False)
    np.testing.assert_allclose(host(a.mv(v)), host(a) @ host(v), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(host(v.dot(v)), host(v) @ host(v), rtol=1e-6)
    np.testing.assert_allclose(host(v.outer(v)), np.outer(host(v), host(v)), rtol=1e-6)
    x = rand(device, rng, 2, 3, 4, requires_grad=False)
    np.testing.assert_allclose(host(x.bmm(x.transpose(1, 2))),
                               host(x) @ host(x).transpose(0, 2, 1), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(host(clt.inner(x, a)), np.inner(host(x), host(a)), rtol=1e-6,
                               atol=1e-6)


def test_rmatmul_with_numpy_left_operand_is_refused_or_works(device, rng):
    a = rand(device, rng, 3, 3, requires_grad=False)
    np.testing.assert_allclose(host(a.__rmatmul__(a)), host(a) @ host(a), rtol=1e-6, atol=1e-6)


def test_mm_bmm_mv_dot_outer_gradcheck(device, rng):
    a, b = rand(device, rng, 3, 4), rand(device, rng, 4, 2)
    assert gradcheck(clt.mm, (a, b))
    x, y = rand(device, rng, 2, 3, 4), rand(device, rng, 2, 4, 2)
    assert gradcheck(clt.bmm, (x, y))
    v = rand(device, rng, 4)
    assert gradcheck(clt.mv, (a, v))
    w = rand(device, rng, 4)
    assert gradcheck(clt.dot, (v, w))
    assert gradcheck(clt.outer, (v, rand(device, rng, 3)))


@pytest.mark.parametrize("cshape", [(2,), (3, 1), (3, 2), ()], ids=str)
def test_addmm_gradcheck(device, rng, cshape):
    c, a, b = rand(device, rng, *cshape), rand(device, rng, 3, 4), rand(device, rng, 4, 2)
    got = clt.addmm(c, a, b, beta=0.5, alpha=-2.0)
    np.testing.assert_allclose(host(got), 0.5 * host(c) - 2 * host(a) @ host(b), rtol=1e-5,
                               atol=1e-5)
    assert gradcheck(lambda c_, a_, b_: clt.addmm(c_, a_, b_, beta=0.5, alpha=-2.0), (c, a, b))


def test_baddbmm_gradcheck(device, rng):
    c, a, b = rand(device, rng, 2, 1, 3), rand(device, rng, 2, 2, 4), rand(device, rng, 2, 4, 3)
    assert gradcheck(lambda c_, a_, b_: clt.baddbmm(c_, a_, b_, beta=2.0, alpha=0.5), (c, a, b))


def test_addmm_in_place_method(device, rng):
    c = rand(device, rng, 3, 2, requires_grad=False)
    a = rand(device, rng, 3, 4, requires_grad=False)
    b = rand(device, rng, 4, 2, requires_grad=False)
    want = host(c) + host(a) @ host(b)
    c.addmm_(a, b)
    np.testing.assert_allclose(host(c), want, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("xshape", [(5, 4), (2, 3, 4), (4,)], ids=str)
@pytest.mark.parametrize("bias", [True, False])
def test_linear_gradcheck(device, rng, xshape, bias):
    x, w = rand(device, rng, *xshape), rand(device, rng, 3, 4)
    b = rand(device, rng, 3) if bias else None
    want = host(x) @ host(w).T + (host(b) if bias else 0)
    np.testing.assert_allclose(host(linear(x, w, b)), want, rtol=1e-5, atol=1e-5)
    if bias:
        assert gradcheck(linear, (x, w, b))
    else:
        assert gradcheck(lambda x_, w_: linear(x_, w_), (x, w))


def test_linear_matches_manual_backward(device, rng):
    # the MLP case: batch 8, 5 -> 3 features; gradients against numpy
    xh, wh, bh = rng.standard_normal((8, 5)), rng.standard_normal((3, 5)), rng.standard_normal(3)
    x, w, b = (t64(device, v) for v in (xh, wh, bh))
    y = linear(x, w, b)
    gh = rng.standard_normal((8, 3))
    y.backward(t64(device, gh, False))
    np.testing.assert_allclose(host(x.grad), gh @ wh, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(host(w.grad), gh.T @ xh, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(host(b.grad), gh.sum(0), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("eq,shapes", [
    ("ij,jk->ik", [(3, 4), (4, 2)]), ("bij,bjk->bik", [(2, 3, 4), (2, 4, 2)]),
    ("ij->ji", [(3, 4)]), ("ii->i", [(3, 3)]), ("ij->", [(3, 4)]), ("i,j->ij", [(3,), (2,)]),
    ("ij,j->i", [(3, 4), (4,)]), ("bi,i->b", [(3, 1), (4,)]),
    ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 2)]),
    ("...ij,...jk", [(2, 3, 4), (4, 2)]), ("iij,jk->ik", [(3, 3, 2), (2, 4)]),
], ids=lambda v: v if isinstance(v, str) else "")
def test_einsum_gradcheck(device, rng, eq, shapes):
    xs = [rand(device, rng, *s) for s in shapes]
    np.testing.assert_allclose(host(clt.einsum(eq, *xs)), np.einsum(eq, *[host(x) for x in xs]),
                               rtol=1e-5, atol=1e-5)
    assert gradcheck(lambda *a: clt.einsum(eq, *a), xs)


def test_double_backward_through_matmul(device, rng):
    from clt.autograd import grad

    a, b = rand(device, rng, 3, 4), rand(device, rng, 4, 2)

    def first(a_, b_):
        # gradcheck evaluates perturbed copies under no_grad: differentiate them anyway
        with clt.enable_grad():
            a_, b_ = (x if x.requires_grad else x.detach().requires_grad_() for x in (a_, b_))
            y = a_ @ b_
            s = clt.einsum("ij,ij->", y, y)
            return grad([s], [a_, b_], create_graph=True)

    assert gradcheck(first, (a, b))


def test_no_grad_and_out(device, rng):
    a, b = rand(device, rng, 3, 4), rand(device, rng, 4, 2)
    with clt.no_grad():
        y = a @ b
    assert y.grad_fn is None and not y.requires_grad
    out = clt.empty((3, 2), dtype=a.dtype, device=device)
    with pytest.raises(RuntimeError, match="out="):
        clt.matmul(a, b, out=out)
    r = clt.matmul(a.detach(), b.detach(), out=out)
    assert r is out
    np.testing.assert_allclose(host(out), host(a) @ host(b), rtol=1e-6, atol=1e-6)


def test_errors(device, rng):
    a = clt.ones((2, 3), device=device)
    with pytest.raises(ShapeError, match=r"\(2x3 and 2x3\)"):
        a @ a
    with pytest.raises(DTypeError, match="same dtype"):
        a @ clt.ones((3, 2), dtype=clt.float16, device=device)
    with pytest.raises(ShapeError, match="mat2 must be a matrix"):
        clt.addmm(a, a, a.t().t()[0])
    with pytest.raises(TypeError, match="Tensor"):
        clt.matmul(a, np.ones((3, 2)))
    other = clt.Device(device.cl_device, device.info)
    b = clt.ones((3, 2), device=other)
    with pytest.raises(DeviceError, match="same device"):
        a @ b


def test_int_matmul_has_no_grad_path(device):
    a = clt.tensor(np.arange(6).reshape(2, 3), device=device)
    b = clt.tensor(np.arange(6).reshape(3, 2), device=device)
    np.testing.assert_array_equal((a @ b).numpy(), np.arange(6).reshape(2, 3) @
                                  np.arange(6).reshape(3, 2))
