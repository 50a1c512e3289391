"""Tensor-level random functions and methods (clt.rand, clt.manual_seed, Tensor.uniform_, ...)."""
from __future__ import annotations

import numpy as np
import pytest

import clt
from clt.errors import DTypeError, ShapeError
from tests.test_ops_random import ref_normal, ref_u64, ref_uniform


def test_manual_seed_gives_the_reference_stream(device):
    g = clt.manual_seed(7)
    assert g is clt.default_generator and clt.initial_seed() == 7
    a = clt.rand(3, 5, device=device)
    assert tuple(a.shape) == (3, 5) and a.dtype is clt.float32 and a.device is device
    np.testing.assert_array_equal(a.numpy().ravel(), ref_uniform(7, 0, 15, np.float32))
    b = clt.randn((10,), device=device)      # a size tuple works too; continues the stream
    np.testing.assert_allclose(b.numpy(), ref_normal(7, 4, 10, np.float32), rtol=1e-5,
                               atol=1e-5)
    clt.manual_seed(7)
    np.testing.assert_array_equal(clt.rand(15, device=device).numpy(), a.numpy().ravel())


def test_rng_state_and_generators(device):
    clt.manual_seed(3)
    state = clt.get_rng_state()
    x = clt.rand(6, device=device).numpy()
    clt.set_rng_state(state)
    np.testing.assert_array_equal(clt.rand(6, device=device).numpy(), x)
    g = clt.Generator().manual_seed(3)
    np.testing.assert_array_equal(clt.rand(6, generator=g, device=device).numpy(), x)
    s = clt.seed()
    assert clt.initial_seed() == s


def test_dtype_device_requires_grad(device):
    x = clt.rand(2, 2, dtype=clt.float16, device=device, requires_grad=True)
    assert x.dtype is clt.float16 and x.requires_grad and x.is_leaf
    y = clt.randn(4, dtype="float64", device=device) if device.supports_fp64 else None
    assert y is None or y.dtype is clt.float64
    assert clt.rand(0, 3, device=device).shape == (0, 3)
    assert clt.rand((), device=device).shape == ()


def test_like_functions(device):
    base = clt.zeros(2, 3, dtype=clt.float16, device=device)
    assert clt.rand_like(base).dtype is clt.float16
    assert tuple(clt.randn_like(base, dtype=clt.float32).shape) == (2, 3)
    r = clt.randint_like(clt.zeros(50, dtype=clt.int32, device=device), 3, 6)
    assert r.dtype is clt.int32 and set(r.numpy().tolist()) <= {3, 4, 5}
    h = clt.randint_like(base, 4).numpy()
    assert h.min() >= 0 and h.max() <= 3


def test_randint_signatures(device):
    clt.manual_seed(11)
    a = clt.randint(10, (300,), device=device)
    assert a.dtype is clt.int64
    lo_hi = [(0 + ((x * 10) >> 64)) for x in ref_u64(11, 0, 300)]
    assert a.tolist() == lo_hi
    b = clt.randint(-5, 5, (2, 3), device=device).numpy()
    assert b.shape == (2, 3) and b.min() >= -5 and b.max() < 5
    c = clt.randint(low=2, high=4, size=(100,), dtype=clt.uint8, device=device).numpy()
    assert c.dtype == np.uint8 and set(c.tolist()) == {2, 3}
    assert clt.randint(3, size=(5,), device=device).shape == (5,)
    with pytest.raises(TypeError, match="missing required arguments"):
        clt.randint(5)
    with pytest.raises(TypeError, match="'size' must be a tuple of ints"):
        clt.randint(0, 10, 5)
    with pytest.raises(ValueError, match="random_ expects 'from' to be less than 'to'"):
        clt.randint(3, 3, (2,), device=device)


def test_randperm(device):
    p = clt.randperm(20, device=device)
    assert p.dtype is clt.int64 and sorted(p.tolist()) == list(range(20))
    assert clt.randperm(5, dtype=clt.int32, device=device).dtype is clt.int32
    assert clt.randperm(0, device=device).shape == (0,)


def test_normal_forms_and_gradients(device):
    mean = clt.tensor([0.0, 10.0, 100.0], device=device, requires_grad=True)
    std = clt.tensor([1.0, 0.0, 1.0], device=device)
    clt.manual_seed(5)
    out = clt.normal(mean, std)
    z = ref_normal(5, 0, 3, np.float32)
    np.testing.assert_allclose(out.detach().numpy(), [z[0], 10.0, 100 + z[2]], rtol=1e-5,
                               atol=1e-5)
    out.backward(clt.ones_like(out))          # torch: sampling is not differentiable
    np.testing.assert_array_equal(mean.grad.numpy(), np.zeros(3, np.float32))
    assert clt.normal(2.0, std).shape == (3,)
    assert clt.normal(mean.detach(), 2.0).shape == (3,)
    n = clt.normal(1.0, 0.5, (1000,), device=device).numpy()
    assert abs(n.mean() - 1) < 0.1 and abs(n.std() - 0.5) < 0.1
    with pytest.raises(TypeError, match="size is required"):
        clt.normal(0.0, 1.0)
    with pytest.raises(TypeError, match="size is only allowed"):
        clt.normal(mean, 1.0, (3,))
    with pytest.raises(ValueError, match="normal expects std >= 0.0"):
        clt.normal(0.0, -1.0, (2,), device=device)


def test_bernoulli_and_multinomial(device):
    p = clt.tensor([0.0, 1.0, 0.0, 1.0], device=device)
    np.testing.assert_array_equal(clt.bernoulli(p).numpy(), [0, 1, 0, 1])
    np.testing.assert_array_equal(p.bernoulli().numpy(), [0, 1, 0, 1])
    ones = clt.bernoulli(clt.zeros(5, device=device), 1.0)
    assert ones.numpy().tolist() == [1, 1, 1, 1, 1]
    x = clt.zeros(1000, dtype=clt.int64, device=device).bernoulli_(0.25)
    assert x.dtype is clt.int64 and 0.15 < x.numpy().mean() < 0.35
    w = clt.tensor([0.0, 1.0, 0.0, 3.0], device=device)
    s = clt.multinomial(w, 200, replacement=True).numpy()
    assert set(s.tolist()) == {1, 3}
    assert sorted(w.multinomial(2).tolist()) == [1, 3]


def test_inplace_methods_return_self_and_fill(device):
    x = clt.empty(4, 100, device=device)
    assert x.uniform_(2, 3) is x
    h = x.numpy()
    assert h.min() >= 2 and h.max() < 3
    x.uniform_(**{"from": -1, "to": 0})
    assert x.numpy().max() < 0
    assert x.normal_(5.0, 0.1) is x and abs(x.numpy().mean() - 5) < 0.05
    assert x.exponential_(2.0).numpy().min() >= 0
    assert abs(np.median(x.cauchy_(3.0, 0.1).numpy()) - 3) < 0.2
    assert x.log_normal_(0.0, 0.1).numpy().min() > 0
    i = clt.empty(400, dtype=clt.int16, device=device)
    assert i.geometric_(0.5).numpy().min() >= 1
    assert set(i.random_(3).numpy().tolist()) == {0, 1, 2}
    assert set(i.random_(5, 7).numpy().tolist()) == {5, 6}
    assert i.random_(**{"from": 1, "to": 2}).numpy().tolist() == [1] * 400
    big = i.random_().numpy()
    assert big.min() >= 0 and big.max() > 20000
    f = clt.empty(400, device=device).random_()
    assert f.numpy().max() <= 2 ** 24 and (f.numpy() == np.round(f.numpy())).all()


def test_inplace_on_a_view_fills_in_logical_order(device):
    base = clt.zeros(4, 6, device=device)
    clt.manual_seed(21)
    base.t()[1:5:2].uniform_()
    h = base.numpy()
    np.testing.assert_array_equal(h[:, 1:5:2].T.ravel(), ref_uniform(21, 0, 8, np.float32))
    assert (h[:, [0, 2, 4, 5]] == 0).all()


def test_inplace_and_autograd(device):
    leaf = clt.zeros(3, device=device, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        leaf.uniform_()
    with clt.no_grad():
        leaf.normal_()                          # initialisers run under no_grad
    assert leaf.requires_grad and leaf.is_leaf
    a = clt.ones(3, device=device, requires_grad=True)
    y = a * 2
    y.bernoulli_(1.0)
    (y * 3).backward(clt.ones_like(y))         # the fill cut y's dependence on a
    assert a.grad is None or not a.grad.numpy().any()
    np.testing.assert_array_equal(y.detach().numpy(), [1, 1, 1])


def test_out_arguments(device):
    out = clt.empty(2, 3, device=device)
    clt.manual_seed(1)
    r = clt.rand(2, 3, out=out, device=device)
    assert r is out
    np.testing.assert_array_equal(out.numpy().ravel(), ref_uniform(1, 0, 6, np.float32))
    with pytest.raises(ShapeError, match=r"out has shape \(2, 3\) but the result has shape"):
        clt.randn(4, out=out, device=device)


def test_errors(device):
    with pytest.raises(DTypeError, match="rand: expected a floating point dtype, got int32"):
        clt.rand(3, dtype=clt.int32, device=device)
    with pytest.raises(DTypeError, match="randn: expected a floating point dtype"):
        clt.randn(3, dtype=clt.bool, device=device)
    with pytest.raises(DTypeError, match="normal_ expects a floating point tensor"):
        clt.zeros(2, dtype=clt.int64, device=device).normal_()
    with pytest.raises(ValueError, match=r"uniform_ expects to return a \[from, to\) range"):
        clt.zeros(2, device=device).uniform_(1, 0)
    with pytest.raises(TypeError, match="unexpected keyword argument 'lo'"):
        clt.zeros(2, device=device).uniform_(lo=1)
    with pytest.raises(ValueError, match=r"bernoulli_ expects p to be in \[0, 1\]"):
        clt.zeros(2, device=device).bernoulli_(2.0)
    with pytest.raises(TypeError, match="generator must be a clt.Generator"):
        clt.rand(2, generator="seed", device=device)
