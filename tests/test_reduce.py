"""Tensor-level reductions: values vs numpy, gradients by gradcheck (float64)."""
from __future__ import annotations

import numpy as np
import pytest

import clt
from clt.autograd import gradcheck


def f64(device, a, grad=True):
    dt = clt.float64 if device.supports_fp64 else clt.float32
    return clt.tensor(np.asarray(a), dtype=dt, device=device, requires_grad=grad)


@pytest.mark.parametrize("name,fn", [
    ("sum", lambda v: v.sum(1)), ("sum_multi", lambda v: v.sum((0, 2), keepdim=True)),
    ("mean", lambda v: v.mean()), ("prod", lambda v: v.prod(1)),
    ("amax", lambda v: v.amax((0, 1))), ("amin", lambda v: v.amin(2)),
    ("max_dim", lambda v: v.max(1).values), ("min_all", lambda v: v.min()),
    ("var", lambda v: v.var(1)), ("std", lambda v: v.std(correction=0)),
    ("norm2", lambda v: v.norm()), ("norm1", lambda v: v.norm(1, 2)),
    ("norm3", lambda v: v.norm(3, 1)), ("norminf", lambda v: v.norm(float("inf"), 2)),
    ("logsumexp", lambda v: v.logsumexp(1)), ("softmax", lambda v: v.softmax(2)),
    ("log_softmax", lambda v: v.log_softmax(0)), ("cumsum", lambda v: v.cumsum(1)),
    ("cumprod", lambda v: v.cumprod(2)), ("sort", lambda v: v.sort(2, descending=True).values),
    ("topk", lambda v: v.topk(2, dim=1).values), ("median", lambda v: v.median(2).values)])
def test_gradcheck(device, name, fn):
    x = f64(device, np.random.default_rng(3).uniform(0.5, 2.0, (2, 3, 4)))
    assert gradcheck(fn, (x,))


def test_prod_and_cumprod_with_zeros(device):
    x = f64(device, [[0.0, 2.0, 3.0], [1.0, 0.0, 0.0], [0.5, 2.0, 1.5]])
    assert gradcheck(lambda v: v.prod(1), (x,))
    assert gradcheck(lambda v: v.cumprod(1), (x,))


def test_amax_ties_share_the_gradient(device):
    x = f64(device, [1.0, 3.0, 3.0])
    x.amax().backward()
    np.testing.assert_allclose(x.grad.numpy(), [0, 0.5, 0.5])
    y = f64(device, [1.0, 3.0, 3.0])
    y.max(0).values.backward()                 # along a dim: the first index takes it all
    np.testing.assert_allclose(y.grad.numpy(), [0, 1, 0])


def test_values_match_numpy(device, rng):
    a = rng.standard_normal((4, 5)).astype(np.float32)
    t = clt.tensor(a, device=device)
    np.testing.assert_allclose(t.sum(0).numpy(), a.sum(0), rtol=1e-5)
    np.testing.assert_allclose(t.mean(1).numpy(), a.mean(1), rtol=1e-5)
    np.testing.assert_allclose(t.std(1).numpy(), a.std(1, ddof=1), rtol=1e-4)
    np.testing.assert_allclose(t.softmax(1).numpy().sum(1), np.ones(4), rtol=1e-5)
    v, i = t.max(1)
    np.testing.assert_array_equal(i.numpy(), a.argmax(1))
    np.testing.assert_allclose(v.numpy(), a.max(1))
    np.testing.assert_array_equal(t.argsort(1).numpy(), np.argsort(a, 1, kind="stable"))
    assert t.median().item() == pytest.approx(np.sort(a.ravel())[(a.size - 1) // 2])
    assert bool(t.any()) and not bool((t > 100).all())
    assert clt.count_nonzero(t > 0).item() == int((a > 0).sum())


def test_var_std_legacy_unbiased_flag(device):
    a = np.array([[1.0, 2.0, 4.0], [3.0, 5.0, 9.0]], np.float32)
    t = clt.tensor(a, device=device)
    assert t.var(False).item() == pytest.approx(np.var(a), rel=1e-5)      # unbiased=False
    assert t.std(True).item() == pytest.approx(np.std(a, ddof=1), rel=1e-5)
    np.testing.assert_allclose(t.var(0, unbiased=False).numpy(), np.var(a, 0), rtol=1e-5)
