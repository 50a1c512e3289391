"""Tensor-level arange, linspace, logspace and eye."""
from __future__ import annotations

import numpy as np
import pytest

import clt


def test_arange_forms(device):
    assert clt.arange(5, device=device).tolist() == [0, 1, 2, 3, 4]
    assert clt.arange(5, device=device).dtype is clt.int64
    assert clt.arange(1, 4, device=device).tolist() == [1, 2, 3]
    x = clt.arange(0, 1, 0.25, device=device)
    assert x.dtype is clt.float32 and x.tolist() == [0.0, 0.25, 0.5, 0.75]
    assert clt.arange(3, dtype=clt.float16, device=device).dtype is clt.float16
    assert clt.arange(clt.tensor(3, device=device), device=device).tolist() == [0, 1, 2]
    r = clt.arange(4, device=device, requires_grad=False)
    assert r.is_leaf
    with pytest.raises(ValueError, match="step must be nonzero"):
        clt.arange(0, 3, 0, device=device)


def test_linspace_logspace_eye(device):
    np.testing.assert_allclose(clt.linspace(0, 1, 5, device=device).numpy(),
                               np.linspace(0, 1, 5), rtol=1e-6)
    np.testing.assert_allclose(clt.logspace(0, 2, 3, device=device).numpy(), [1, 10, 100],
                               rtol=1e-6)
    np.testing.assert_allclose(clt.logspace(0, 3, 4, base=2, device=device).numpy(),
                               [1, 2, 4, 8], rtol=1e-6)
    np.testing.assert_array_equal(clt.eye(3, device=device).numpy(), np.eye(3))
    e = clt.eye(2, 4, dtype=clt.bool, device=device)
    assert e.dtype is clt.bool
    np.testing.assert_array_equal(e.numpy(), np.eye(2, 4, dtype=bool))
    w = clt.eye(3, device=device, requires_grad=True)
    assert w.requires_grad and w.is_leaf


def test_out_argument(device):
    out = clt.empty(4, dtype=clt.int64, device=device)
    assert clt.arange(4, out=out, device=device) is out
    assert out.tolist() == [0, 1, 2, 3]
    with pytest.raises(clt.ShapeError, match="out has shape"):
        clt.linspace(0, 1, 3, out=out, device=device)
