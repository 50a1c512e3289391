"""nn.init: distributions (moments and bounds), gains and fans, determinism, errors."""
from __future__ import annotations

import math

import numpy as np
import pytest

import clt
import clt.nn as nn
from clt.nn import init


def host(x):
    return x.detach().numpy()


def test_calculate_gain():
    assert init.calculate_gain("linear") == 1 and init.calculate_gain("conv2d") == 1
    assert init.calculate_gain("sigmoid") == 1
    assert init.calculate_gain("tanh") == pytest.approx(5 / 3)
    assert init.calculate_gain("relu") == pytest.approx(math.sqrt(2))
    assert init.calculate_gain("leaky_relu") == pytest.approx(math.sqrt(2 / (1 + 0.01 ** 2)))
    assert init.calculate_gain("leaky_relu", 0.2) == pytest.approx(math.sqrt(2 / 1.04))
    assert init.calculate_gain("selu") == 0.75
    with pytest.raises(ValueError, match="Unsupported nonlinearity gelu"):
        init.calculate_gain("gelu")
    with pytest.raises(ValueError, match="negative_slope"):
        init.calculate_gain("leaky_relu", "x")


def test_fans(device):
    w = clt.empty(16, 8, 3, 3, device=device)
    assert init._calculate_fan_in_and_fan_out(w) == (72, 144)
    assert init._calculate_fan_in_and_fan_out(clt.empty(5, 7, device=device)) == (7, 5)
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init._calculate_fan_in_and_fan_out(clt.empty(5, device=device))
    with pytest.raises(ValueError, match="Mode fan_avg not supported"):
        init.kaiming_uniform_(w, mode="fan_avg")


def test_uniform_normal_constant(device):
    clt.manual_seed(0)
    w = clt.empty(200, 300, device=device)
    v = host(init.uniform_(w, -2.0, 3.0))
    assert v.min() >= -2 and v.max() < 3 and abs(v.mean() - 0.5) < 0.02
    v = host(init.normal_(w, 1.0, 2.0))
    assert abs(v.mean() - 1) < 0.02 and abs(v.std() - 2) < 0.02
    assert (host(init.constant_(w, 0.5)) == 0.5).all()
    assert (host(init.zeros_(w)) == 0).all() and (host(init.ones_(w)) == 1).all()


def test_trunc_normal(device):
    clt.manual_seed(1)
    w = clt.empty(400, 250, device=device)
    v = host(init.trunc_normal_(w, mean=0.5, std=2.0, a=-1.0, b=3.0))
    assert v.min() >= -1.0 and v.max() <= 3.0
    # moments of N(0.5, 2^2) truncated to [-1, 3] (closed form)
    alpha, beta = (-1 - 0.5) / 2, (3 - 0.5) / 2
    phi = lambda z: math.exp(-z * z / 2) / math.sqrt(2 * math.pi)   # noqa: E731
    cdf = lambda z: 0.5 * (1 + math.erf(z / math.sqrt(2)))         # noqa: E731
    z = cdf(beta) - cdf(alpha)
    mean = 0.5 + 2 * (phi(alpha) - phi(beta)) / z
    var = 4 * (1 + (alpha * phi(alpha) - beta * phi(beta)) / z
               - ((phi(alpha) - phi(beta)) / z) ** 2)
    assert abs(v.mean() - mean) < 0.01 and abs(v.std() - math.sqrt(var)) < 0.01
    with pytest.raises(ValueError, match="a < b"):
        init.trunc_normal_(w, a=1.0, b=0.0)


def test_xavier_and_kaiming(device):
    clt.manual_seed(2)
    w = clt.empty(300, 200, device=device)
    bound = math.sqrt(6 / 500)
    v = host(init.xavier_uniform_(w))
    assert np.abs(v).max() <= bound and abs(v.std() - bound / math.sqrt(3)) < 0.01 * bound * 10
    v = host(init.xavier_normal_(w, gain=2.0))
    assert abs(v.std() - 2 * math.sqrt(2 / 500)) < 0.003
    v = host(init.kaiming_uniform_(w, nonlinearity="relu"))
    kb = math.sqrt(2) * math.sqrt(3 / 200)
    assert np.abs(v).max() <= kb and abs(v.std() - kb / math.sqrt(3)) < 0.003
    v = host(init.kaiming_normal_(w, mode="fan_out", nonlinearity="relu"))
    assert abs(v.std() - math.sqrt(2 / 300)) < 0.002
    with pytest.warns(UserWarning, match="zero-element"):
        init.kaiming_uniform_(clt.empty(0, 3, device=device))


def test_eye_dirac_orthogonal(device):
    e = init.eye_(clt.empty(3, 5, device=device))
    np.testing.assert_array_equal(host(e), np.eye(3, 5))
    with pytest.raises(ValueError, match="Only tensors with 2 dimensions are supported"):
        init.eye_(clt.empty(2, 2, 2, device=device))
    d = host(init.dirac_(clt.empty(4, 2, 3, 3, device=device), groups=2))
    expect = np.zeros((4, 2, 3, 3))
    for g in range(2):
        for k in range(2):
            expect[g * 2 + k, k, 1, 1] = 1
    np.testing.assert_array_equal(d, expect)
    with pytest.raises(ValueError, match="3, 4, or 5 dimensions"):
        init.dirac_(clt.empty(3, 3, device=device))
    for shape in [(6, 4), (4, 6), (3, 2, 2)]:
        q = host(init.orthogonal_(clt.empty(*shape, device=device), gain=2.0))
        flat = q.reshape(shape[0], -1)
        small = min(flat.shape)
        gram = flat @ flat.T if flat.shape[0] == small else flat.T @ flat
        np.testing.assert_allclose(gram, 4 * np.eye(small), atol=1e-5)


def test_sparse(device):
    clt.manual_seed(5)
    w = host(init.sparse_(clt.empty(10, 6, device=device), sparsity=0.3))
    assert ((w == 0).sum(0) >= 3).all()


def test_init_is_deterministic_and_untracked(device):
    w = nn.Parameter(clt.empty(4, 5, device=device))
    clt.manual_seed(9)
    a = host(init.kaiming_uniform_(w)).copy()
    clt.manual_seed(9)
    b = host(init.kaiming_uniform_(w))
    np.testing.assert_array_equal(a, b)
    assert w.grad_fn is None and w.requires_grad      # in place under no_grad, still a leaf
    g = clt.Generator().manual_seed(9) if hasattr(clt, "Generator") else None
    if g is not None:
        c = host(init.kaiming_uniform_(w, generator=g))
        np.testing.assert_array_equal(a, c)


def test_init_rejects_non_tensors_and_ints(device):
    with pytest.raises(TypeError, match="expected a Tensor"):
        init.normal_(np.zeros(3))
    with pytest.raises(TypeError):
        init.uniform_(clt.zeros(3, dtype=clt.int32, device=device))


def test_gains_and_fans_against_torch(device):
    torch = pytest.importorskip("torch")
    for nl, param in [("linear", None), ("conv3d", None), ("sigmoid", None), ("tanh", None),
                      ("relu", None), ("leaky_relu", None), ("leaky_relu", 0.3), ("selu", None)]:
        assert init.calculate_gain(nl, param) == pytest.approx(
            torch.nn.init.calculate_gain(nl, param))
    for shape in [(5, 7), (16, 8, 3, 3), (4, 2, 5)]:
        assert init._calculate_fan_in_and_fan_out(clt.empty(*shape, device=device)) == \
            torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(*shape))
