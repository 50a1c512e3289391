"""Second derivatives through ops whose gradient reads their own output (tanh's ``1 - y²``,
softmax, ELU, logsumexp, ...): under ``create_graph`` the saved output must be differentiated
through the op again, as PyTorch's saved outputs are. Checked by finite differences in float64
and, when PyTorch is installed, against it."""
from __future__ import annotations

import numpy as np
import pytest

import clt
import clt.nn.functional as F

CASES = {
    "tanh": lambda m, f, x: m.tanh(x),
    "sigmoid": lambda m, f, x: m.sigmoid(x),
    "exp": lambda m, f, x: m.exp(x),
    "sqrt": lambda m, f, x: m.sqrt(x + 2),
    "reciprocal": lambda m, f, x: m.reciprocal(x + 2),
    "tanh_inplace": lambda m, f, x: (x * 1.0).tanh_(),
    "relu_inplace": lambda m, f, x: (x * x).relu_(),
    "softmax": lambda m, f, x: f.softmax(x, dim=-1),
    "log_softmax": lambda m, f, x: f.log_softmax(x, dim=-1),
    "logsumexp": lambda m, f, x: m.logsumexp(x, -1),
    "elu": lambda m, f, x: f.elu(x),
    "selu": lambda m, f, x: f.selu(x),
    "hypot": lambda m, f, x: m.hypot(x, x * 0.5 + 1),
    "prod": lambda m, f, x: m.prod(x + 2, -1),
}
X = np.array([[0.3, -0.7, 1.2], [0.5, 0.1, -0.4]])


def _second(fn, x_host, dtype, device):
    """d/dx sum(g(x)²) where g = d/dx sum(fn(x)²), through create_graph."""
    x = clt.tensor(x_host.astype(dtype), requires_grad=True, device=device)
    (g,) = clt.autograd.grad((fn(clt, F, x) ** 2).sum(), x, create_graph=True)
    h = (g * g).sum()
    (gg,) = clt.autograd.grad(h, x)
    return h.item(), gg.numpy()


@pytest.mark.parametrize("name", sorted(CASES))
def test_second_derivative_by_finite_differences(device, name):
    if not device.supports_fp64:
        pytest.skip("needs float64 for finite differences")
    fn = CASES[name]
    _, analytic = _second(fn, X, np.float64, device)
    eps, numeric = 1e-6, np.zeros_like(X)
    for i in np.ndindex(X.shape):
        up, down = X.copy(), X.copy()
        up[i] += eps
        down[i] -= eps
        numeric[i] = (_second(fn, up, np.float64, device)[0]
                      - _second(fn, down, np.float64, device)[0]) / (2 * eps)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", sorted(CASES))
def test_second_derivative_matches_torch(device, name):
    torch = pytest.importorskip("torch")
    import torch.nn.functional as TF

    fn = CASES[name]
    _, ours = _second(fn, X, np.float32, device)
    tx = torch.tensor(X.astype(np.float32), requires_grad=True)
    (tg,) = torch.autograd.grad((fn(torch, TF, tx) ** 2).sum(), tx, create_graph=True)
    (tgg,) = torch.autograd.grad((tg * tg).sum(), tx)
    np.testing.assert_allclose(ours, tgg.numpy(), rtol=1e-4, atol=1e-5)


def test_first_order_backward_is_unchanged_by_the_link(device):
    x = clt.tensor(X.astype(np.float32), requires_grad=True, device=device)
    y = clt.tanh(x)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 1 - np.tanh(X.astype(np.float32)) ** 2,
                               rtol=1e-6, atol=1e-6)
    assert y.grad_fn is not None and x.grad.grad_fn is None
