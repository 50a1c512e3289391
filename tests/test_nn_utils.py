"""nn.utils: gradient clipping and parameter <-> vector conversion."""
from __future__ import annotations

import math

import numpy as np
import pytest

import clt
import clt.nn as nn
from clt.autograd import gradcheck
from clt.nn.utils import (clip_grad_norm_, clip_grad_value_, get_total_norm,
                          parameters_to_vector, vector_to_parameters)


def host(x):
    return x.detach().numpy()


def params_with_grads(device, rng, scale=1.0):
    shapes = [(3, 4), (4,), (2, 3), (1,)]
    ps = []
    for s in shapes:
        p = nn.Parameter(clt.tensor(rng.standard_normal(s).astype(np.float32), device=device))
        p.grad = clt.tensor((rng.standard_normal(s) * scale).astype(np.float32), device=device)
        ps.append(p)
    return ps


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, math.inf, "inf"])
def test_clip_grad_norm(device, rng, norm_type):
    ps = params_with_grads(device, rng, scale=5.0)
    grads = [host(p.grad).copy() for p in ps]
    flat = np.concatenate([g.ravel() for g in grads])
    p_ = float(norm_type)
    ref = np.abs(flat).max() if math.isinf(p_) else (np.abs(flat) ** p_).sum() ** (1 / p_)
    total = clip_grad_norm_(ps, max_norm=1.5, norm_type=norm_type)
    assert isinstance(total, clt.Tensor) and total.shape == ()
    np.testing.assert_allclose(total.item(), ref, rtol=1e-5)
    coef = min(1.5 / (ref + 1e-6), 1.0)
    for p, g in zip(ps, grads):
        np.testing.assert_allclose(host(p.grad), g * coef, rtol=1e-5)


def test_clip_grad_norm_no_op_below_max_and_skips_missing_grads(device, rng):
    ps = params_with_grads(device, rng, scale=0.01)
    ps.append(nn.Parameter(clt.zeros(2, device=device)))     # no grad
    before = [host(p.grad).copy() for p in ps[:-1]]
    clip_grad_norm_(ps, 100.0)
    for p, g in zip(ps, before):
        np.testing.assert_allclose(host(p.grad), g, rtol=1e-6)
    assert clip_grad_norm_([nn.Parameter(clt.zeros(1, device=device))], 1.0).item() == 0.0
    # a single tensor is accepted too
    p = ps[0]
    clip_grad_norm_(p, 1e-3)
    assert np.linalg.norm(host(p.grad)) == pytest.approx(1e-3, rel=1e-3)


def test_clip_grad_norm_nonfinite(device):
    p = nn.Parameter(clt.zeros(3, device=device))
    p.grad = clt.tensor([1.0, math.nan, 2.0], device=device)
    with pytest.raises(RuntimeError, match="is non-finite, so it cannot be clipped"):
        clip_grad_norm_([p], 1.0, error_if_nonfinite=True)
    assert math.isnan(clip_grad_norm_([p], 1.0).item())


def test_get_total_norm_on_model(device, rng):
    m = nn.Sequential(nn.Linear(3, 4, device=device), nn.Linear(4, 2, device=device))
    m(clt.ones(2, 3, device=device)).backward(clt.ones(2, 2, device=device))
    ref = math.sqrt(sum((host(p.grad) ** 2).sum() for p in m.parameters()))
    assert get_total_norm([p.grad for p in m.parameters()]).item() == pytest.approx(ref,
                                                                                    rel=1e-5)


def test_clip_grad_value(device, rng):
    ps = params_with_grads(device, rng, scale=3.0)
    grads = [host(p.grad).copy() for p in ps]
    clip_grad_value_(ps, 0.5)
    for p, g in zip(ps, grads):
        np.testing.assert_array_equal(host(p.grad), np.clip(g, -0.5, 0.5))


def test_parameters_to_vector_and_back(device, rng):
    m = nn.Sequential(nn.Linear(3, 4, device=device), nn.Linear(4, 2, device=device))
    vec = parameters_to_vector(m.parameters())
    ref = np.concatenate([host(p).ravel() for p in m.parameters()])
    np.testing.assert_array_equal(host(vec), ref)
    assert vec.requires_grad
    new = rng.standard_normal(vec.numel()).astype(np.float32)
    vector_to_parameters(clt.tensor(new, device=device), m.parameters())
    np.testing.assert_array_equal(host(parameters_to_vector(m.parameters())), new)
    assert all(isinstance(p, nn.Parameter) and p.requires_grad for p in m.parameters())
    with pytest.raises(TypeError, match="expected clt.Tensor"):
        vector_to_parameters(new, m.parameters())
    with pytest.raises(RuntimeError, match="does not hold"):
        vector_to_parameters(clt.zeros(3, device=device), m.parameters())


def test_parameters_to_vector_is_differentiable(device, rng):
    dt = clt.float64 if device.supports_fp64 else clt.float32
    a = clt.tensor(rng.standard_normal((2, 2)), dtype=dt, device=device, requires_grad=True)
    b = clt.tensor(rng.standard_normal(3), dtype=dt, device=device, requires_grad=True)
    assert gradcheck(lambda x, y: parameters_to_vector([x, y]) * 2, (a, b))


def test_pad_sequence(device, rng):
    from clt.nn.utils.rnn import pad_sequence, unpad_sequence

    dt = clt.float64 if device.supports_fp64 else clt.float32
    seqs = [rng.standard_normal((n, 2)) for n in (3, 1, 2)]
    ts = [clt.tensor(s, dtype=dt, device=device, requires_grad=True) for s in seqs]
    out = pad_sequence(ts, batch_first=True, padding_value=-1.0)
    ref = np.full((3, 3, 2), -1.0)
    for i, s in enumerate(seqs):
        ref[i, :len(s)] = s
    np.testing.assert_allclose(host(out), ref)
    assert tuple(pad_sequence(ts).shape) == (3, 3, 2)
    left = host(pad_sequence(ts, batch_first=True, padding_side="left"))
    np.testing.assert_allclose(left[1, 2], seqs[1][0])
    assert gradcheck(lambda a, b, c: pad_sequence([a, b, c]), tuple(ts))
    back = unpad_sequence(out, [3, 1, 2], batch_first=True)
    for b, s in zip(back, seqs):
        np.testing.assert_allclose(host(b), s)
    with pytest.raises(ValueError, match="empty list"):
        pad_sequence([])
