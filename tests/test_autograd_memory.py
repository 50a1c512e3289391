"""What the autograd graph keeps alive: in-place activations without copies, outputs saved alone
by ops whose gradient needs only them, and contexts emptied as soon as their backward ran."""
from __future__ import annotations

import numpy as np
import pytest

import clt
import clt.nn.functional as F
from clt.autograd import Function


def _x(device, rng, shape=(4, 8, 6, 6), requires_grad=True):
    return clt.tensor(rng.standard_normal(shape).astype(np.float32), device=device,
                      requires_grad=requires_grad)


@pytest.mark.parametrize("how", ["functional", "method", "module"])
def test_inplace_relu_allocates_nothing_and_matches_torch(device, rng, how):
    torch = pytest.importorskip("torch")
    host = rng.standard_normal((4, 8, 6, 6)).astype(np.float32)
    x = clt.tensor(host, device=device, requires_grad=True)
    h = x * 2                                   # a non-leaf, as a BatchNorm output
    device.synchronize()
    before = device.memory.allocated_bytes
    out = {"functional": lambda t: F.relu(t, inplace=True), "method": lambda t: t.relu_(),
           "module": clt.nn.ReLU(inplace=True)}[how](h)
    assert out is h and device.memory.allocated_bytes == before    # no clone, no saved copy
    (out * out).sum().backward()
    tx = torch.tensor(host, requires_grad=True)
    th = tx * 2
    (torch.relu_(th) * th).sum().backward()
    np.testing.assert_allclose(h.detach().numpy(), th.detach().numpy())
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-6)


@pytest.mark.parametrize("op", ["sigmoid", "tanh", "exp", "sqrt"])
def test_inplace_y_only_ops_match_numpy(device, rng, op):
    host = np.abs(rng.standard_normal(7).astype(np.float32)) + 0.1
    x = clt.tensor(host, device=device, requires_grad=True)
    y = getattr(x * 1, op + "_")()
    (y * y).sum().backward()
    f = {"sigmoid": lambda v: 1 / (1 + np.exp(-v)), "tanh": np.tanh, "exp": np.exp,
         "sqrt": np.sqrt}[op](host)
    df = {"sigmoid": f * (1 - f), "tanh": 1 - f * f, "exp": f, "sqrt": 0.5 / f}[op]
    np.testing.assert_allclose(y.detach().numpy(), f, rtol=1e-5)
    np.testing.assert_allclose(x.grad.numpy(), 2 * f * df, rtol=1e-4)


def test_saved_output_modified_in_place_raises(device, rng):
    # exp keeps only its result (as PyTorch), so changing the result breaks its backward...
    x = _x(device, rng, (6,))
    y = x.exp()
    y.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()
    # ...and an in-place relu on a tensor another op saved is caught the same way
    x = _x(device, rng, (6,))
    y = x.exp()
    y.relu_()
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()
    # sin keeps its input, so its result may change
    x = _x(device, rng, (6,))
    y = x.sin()
    y.mul_(2)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.cos(x.detach().numpy()), rtol=1e-5)


def test_backward_frees_what_contexts_hold(device, rng):
    x = _x(device, rng, (8, 16, 16, 16))     # large enough that the pool's rounding is noise
    y, idx = F.max_pool2d(x, 2, return_indices=True)
    loss = (y * y).sum()
    del idx
    node = y.grad_fn
    assert node.ctx.idx is not None
    device.synchronize()
    in_use = device.memory.allocated_bytes
    loss.backward()       # loss, y and their graph stay alive: only the contexts let go
    device.synchronize()
    grad_bytes = x.numel() * 4
    idx_bytes = y.numel() * 8
    assert device.memory.allocated_bytes < in_use + grad_bytes - idx_bytes // 2
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        node.ctx.idx
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        loss.backward()
    with pytest.raises(AttributeError):
        clt.autograd.function.Context().missing


def test_retain_graph_keeps_contexts(device, rng):
    x = _x(device, rng)
    loss = F.max_pool2d(x, 2).relu().sum()
    loss.backward(retain_graph=True)
    first = x.grad.numpy().copy()
    loss.backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * first)


def test_user_function_attributes_stay(device, rng):
    class Scale(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.k = clt.full(tuple(x.shape), 3.0, device=x.device)
            return x * ctx.k

        @staticmethod
        def backward(ctx, g):
            return g * ctx.k

    x = _x(device, rng, (3,))
    y = Scale.apply(x)
    y.sum().backward()
    assert y.grad_fn.ctx.k is not None           # as in PyTorch: a user's ctx is left alone
    np.testing.assert_allclose(x.grad.numpy(), 3.0)
