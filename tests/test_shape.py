"""Views and basic indexing against numpy, including property-based tests (hypothesis)."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import clt
from clt.ops import shapes

HSET = settings(max_examples=40, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])


def arr(shape, rng):
    return rng.standard_normal(shape).astype(np.float32)


def same(t, want):
    got = t.numpy()
    assert got.shape == want.shape
    np.testing.assert_array_equal(got, want)


def test_views_share_storage(device, rng):
    x = arr((2, 3, 4), rng)
    t = clt.tensor(x, device=device)
    for v in (t.reshape(6, 4), t.view(4, 6), t.permute(2, 0, 1), t.transpose(0, 1), t.T,
              t.mT, t[1], t[:, 1:], t[..., ::2], t.unsqueeze(0), t.flatten(), t.narrow(2, 1, 2),
              t.expand(5, 2, 3, 4), t.squeeze(), t.unflatten(2, (2, 2)), t.select(1, 0)):
        assert v._data.storage is t._data.storage
    same(t.permute(2, 0, 1), x.transpose(2, 0, 1))
    same(t.T, x.T)
    same(t.mT, np.swapaxes(x, -1, -2))
    same(t.unflatten(2, (2, -1)), x.reshape(2, 3, 2, 2))
    same(t.flatten(1), x.reshape(2, 12))
    same(t.narrow(1, 1, 2), x[:, 1:3])
    same(clt.movedim(t, 0, 2), np.moveaxis(x, 0, 2))


def test_reshape_copies_only_when_needed(device, rng):
    x = arr((4, 6), rng)
    t = clt.tensor(x, device=device)
    tt = t.T
    r = tt.reshape(24)        # not viewable: a copy
    assert r._data.storage is not t._data.storage
    same(r, x.T.reshape(24))
    with pytest.raises(RuntimeError, match="view size is not compatible"):
        tt.view(24)
    same(t[:, :3].reshape(4, 3, 1), x[:, :3].reshape(4, 3, 1))


def test_basic_indexing(device, rng):
    x = arr((5, 6, 7), rng)
    t = clt.tensor(x, device=device)
    for key in [(1,), (-1,), (slice(1, 4),), (slice(None, None, 2),), (slice(-3, None),),
                (Ellipsis, 2), (None, 1, Ellipsis, None), (slice(1, 5, 3), None, -2),
                (2, slice(None), slice(0, 7, 4)), (slice(10, 20),), (Ellipsis,)]:
        same(t[key], x[key])
    same(t[3][2][1], np.array(x[3, 2, 1]))
    with pytest.raises(IndexError, match="index 5 is out of bounds for dimension 0 with size 5"):
        t[5]
    with pytest.raises(IndexError, match="too many indices"):
        t[1, 2, 3, 4]
    with pytest.raises(ValueError, match="step must be greater than zero"):
        t[::-1]


def test_setitem(device, rng):
    x = arr((4, 5), rng)
    t = clt.tensor(x, device=device)
    t[1] = 3.0
    x[1] = 3.0
    t[:, 2:4] = clt.tensor(np.array([7.0, 8.0], np.float32), device=device)
    x[:, 2:4] = [7.0, 8.0]
    t[..., -1] = clt.ones(4, device=device)
    x[..., -1] = 1
    same(t, x)


def test_expand_broadcast_squeeze(device, rng):
    x = arr((3, 1), rng)
    t = clt.tensor(x, device=device)
    same(t.expand(2, 3, 4), np.broadcast_to(x, (2, 3, 4)))
    same(t.expand(-1, 5), np.broadcast_to(x, (3, 5)))
    same(clt.broadcast_to(t, (3, 3)), np.broadcast_to(x, (3, 3)))
    a, b = clt.broadcast_tensors(t, clt.ones(4, device=device))
    assert a.shape == (3, 4) and b.shape == (3, 4)
    same(t.squeeze(1), x[:, 0])
    same(t.squeeze(0), x)
    same(t.unsqueeze(-1), x[..., None])
    with pytest.raises(clt.ShapeError, match="cannot broadcast"):
        t.expand(3, 2, 2)


def test_zero_dim_and_empty(device):
    s = clt.tensor(5.0, device=device)
    assert s.shape == () and s.ndim == 0 and s.numel() == 1
    assert s.item() == 5.0 and float(s) == 5.0
    same(s.reshape(1), np.array([5.0], np.float32))
    same(s[None], np.array([5.0], np.float32))
    same(s[...], np.array(5.0, np.float32))
    e = clt.zeros(0, 4, device=device)
    same(e.T, np.zeros((4, 0), np.float32))
    same(e.reshape(2, 0, 2), np.zeros((2, 0, 2), np.float32))
    same(e[1:], np.zeros((0, 4), np.float32))
    assert s.flatten().shape == (1,)


def test_contiguous_and_strides(device, rng):
    x = arr((3, 4), rng)
    t = clt.tensor(x, device=device)
    assert t.is_contiguous() and t.stride() == (4, 1)
    tt = t.T
    assert not tt.is_contiguous() and tt.stride() == (1, 4)
    c = tt.contiguous()
    assert c.is_contiguous() and c.stride() == (3, 1)
    same(c, x.T)
    assert t.contiguous() is t
    assert t[1:, 2:].storage_offset() == 6


def test_shape_errors(device):
    t = clt.ones(2, 3, device=device)
    with pytest.raises(clt.ShapeError, match=r"shape \(4, 2\) is invalid for input of size 6"):
        t.reshape(4, 2)
    with pytest.raises(clt.ShapeError, match="only one dimension can be -1"):
        t.reshape(-1, -1)
    with pytest.raises(clt.ShapeError, match="dim 2 out of range"):
        t.transpose(0, 2)
    with pytest.raises(clt.ShapeError, match="permutation"):
        t.permute(0, 0)
    with pytest.raises(clt.ShapeError, match="t\\(\\) expects"):
        clt.ones(1, 2, 3, device=device).t()


# -- property-based: broadcasting and views vs numpy ------------------------------------------

dims = st.lists(st.integers(1, 4), min_size=0, max_size=4)


@HSET
@given(a=dims, b=dims, data=st.data())
def test_broadcast_shapes_match_numpy(a, b, data):
    # make them broadcastable by setting random dims to 1
    b = [1 if data.draw(st.booleans()) else x for x in b]
    try:
        want = np.broadcast_shapes(tuple(a), tuple(b))
    except ValueError:
        with pytest.raises(clt.ShapeError):
            shapes.broadcast_shapes(a, b)
        return
    assert shapes.broadcast_shapes(a, b) == want


@HSET
@given(shape=st.lists(st.integers(1, 4), min_size=1, max_size=4), data=st.data())
def test_broadcast_add_matches_numpy(device, shape, data):
    other = [1 if data.draw(st.booleans()) else s for s in shape][data.draw(
        st.integers(0, len(shape))):]
    rng = np.random.default_rng(0)
    x, y = arr(tuple(shape), rng), arr(tuple(other), rng)
    got = (clt.tensor(x, device=device) + clt.tensor(y, device=device)).numpy()
    np.testing.assert_array_equal(got, x + y)


@HSET
@given(shape=st.lists(st.integers(1, 5), min_size=1, max_size=4), data=st.data())
def test_random_views_match_numpy(device, shape, data):
    rng = np.random.default_rng(1)
    x = arr(tuple(shape), rng)
    t = clt.tensor(x, device=device)
    perm = data.draw(st.permutations(range(len(shape))))
    x, t = x.transpose(perm), t.permute(*perm)
    key = []
    for s in x.shape:
        start = data.draw(st.integers(-s, s - 1))
        step = data.draw(st.integers(1, 3))
        key.append(slice(start, None, step))
    x, t = x[tuple(key)], t[tuple(key)]
    np.testing.assert_array_equal(t.numpy(), x)
    np.testing.assert_array_equal((t * 2).numpy(), x * 2)
    np.testing.assert_array_equal(t.reshape(-1).numpy(), x.reshape(-1))
