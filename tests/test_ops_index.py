"""clt.ops.index against numpy: gathers, scatters, deterministic scatter reductions, masks,
advanced indexing, and the deferred (device-side) IndexError."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from clt.backend.device import Device
from clt.errors import DTypeError, ShapeError
from clt.ops import index as I
from clt.ops.transfer import from_numpy, to_numpy
from conftest import skip_if_no_fp64

ALL = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "float32", "float64"]
LAYOUTS = ["contig", "transposed", "strided"]


def host(rng, shape, dtype="float32"):
    dt = np.dtype(dtype)
    if dt == np.bool_:
        return rng.random(shape) > 0.5
    if dt.kind in "iu":
        return rng.integers(0, 100, shape).astype(dt)
    return rng.standard_normal(shape).astype(dt)


def up(device, a, layout="contig"):
    """``a`` on the device, laid out contiguously, transposed in memory, or with a step of 2."""
    a = np.asarray(a)
    if layout == "contig" or a.ndim == 0 or a.size == 0:
        return from_numpy(device, a)
    if layout == "transposed":
        base = from_numpy(device, np.ascontiguousarray(a.T))
        return base.view(a.shape, tuple(reversed(base.strides)))
    wide = np.zeros(a.shape[:-1] + (2 * a.shape[-1] + 1,), a.dtype)
    wide[..., 1::2] = a
    base = from_numpy(device, wide)
    return base.view(a.shape, base.strides[:-1] + (2,), 1)


def raises_later(array, match):
    """A device-side bad index: reported as IndexError at the next download, exactly once."""
    with pytest.raises(IndexError, match=match):
        to_numpy(array)
    to_numpy(array)    # the slot was cleared


# ---------------------------------------------------------------------------------------------
# index_select / gather / take / take_along_dim / embedding

@pytest.mark.parametrize("dtype", ALL)
def test_index_select_every_dtype(device, rng, dtype):
    skip_if_no_fp64(device, dtype)
    a = host(rng, (5, 4), dtype)
    idx = np.array([4, 0, 0, 2])
    np.testing.assert_array_equal(to_numpy(I.index_select(up(device, a, "transposed"), 0,
                                                          up(device, idx))), a[idx])


@pytest.mark.parametrize("dim", [0, 1, -1])
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("idx_dtype", ["int32", "int64"])
def test_index_select(device, rng, dim, layout, idx_dtype):
    a = host(rng, (3, 5, 4))
    idx = rng.integers(0, a.shape[dim], 7).astype(idx_dtype)
    out = I.index_select(up(device, a, layout), dim, up(device, idx, "strided"))
    np.testing.assert_array_equal(to_numpy(out), np.take(a, idx, dim))


def test_index_select_edge_cases(device, rng):
    a = host(rng, (3, 4))
    x = up(device, a)
    assert I.index_select(x, 1, up(device, np.zeros(0, np.int64))).shape == (3, 0)
    np.testing.assert_array_equal(to_numpy(I.index_select(x, 0, up(device, np.array(2)))),
                                  a[[2]])
    np.testing.assert_array_equal(to_numpy(I.index_select(x, 1, [3, 1])), a[:, [3, 1]])
    s = up(device, np.array(5.0, np.float32))
    np.testing.assert_array_equal(to_numpy(I.index_select(s, 0, up(device, np.array([0])))), [5])


def test_index_select_bad_input(device, rng):
    x = up(device, host(rng, (3, 4)))
    with pytest.raises(DTypeError, match="expected an index of dtype int64 or int32, got float32"):
        I.index_select(x, 0, up(device, np.array([1.0], np.float32)))
    with pytest.raises(IndexError, match="supposed to be a vector"):
        I.index_select(x, 0, up(device, np.zeros((2, 2), np.int64)))
    with pytest.raises(IndexError, match="index 3 is out of bounds for dimension 0 with size 3"):
        I.index_select(x, 0, [0, 3])     # host data: checked at once
    with pytest.raises(IndexError, match="index -1 is out of bounds"):
        I.index_select(x, 1, [-1])       # no negative indices in index_select (as PyTorch)
    out = I.index_select(x, 1, up(device, np.array([1, 7, 2])))
    raises_later(out, r"index_select\(\): index 7 is out of bounds for dimension 1 with size 4")
    raises_later(I.index_select(x, 0, up(device, np.array([-2]))), "index -2 is out of bounds")


@pytest.mark.parametrize("dim", [0, 1, -1])
@pytest.mark.parametrize("layout", ["contig", "transposed"])
def test_gather(device, rng, dim, layout):
    a = host(rng, (4, 5, 3))
    ishape = [3, 4, 2]
    ishape[dim] = 6
    idx = rng.integers(0, a.shape[dim], ishape)
    out = I.gather(up(device, a, layout), dim, up(device, idx, "transposed"))
    # gather reads a[..] at index positions in idx's (smaller) extent
    sub = a[tuple(slice(0, s) if k != dim % 3 else slice(None) for k, s in enumerate(ishape))]
    np.testing.assert_array_equal(to_numpy(out), np.take_along_axis(sub, idx, dim))


def test_gather_bad_input(device, rng):
    x = up(device, host(rng, (3, 4)))
    with pytest.raises(ShapeError, match="same number of dimensions"):
        I.gather(x, 0, up(device, np.zeros(3, np.int64)))
    with pytest.raises(ShapeError, match="size does not match at dimension 1"):
        I.gather(x, 0, up(device, np.zeros((2, 5), np.int64)))
    raises_later(I.gather(x, 1, up(device, np.array([[0], [4], [1]]))),
                 r"gather\(\): index 4 is out of bounds for dimension 1 with size 4")


def test_take_and_take_along_dim(device, rng):
    a = host(rng, (3, 4))
    x = up(device, a, "transposed")
    idx = np.array([[0, -1], [11, 5]])
    np.testing.assert_array_equal(to_numpy(I.take_flat(x, up(device, idx))), np.take(a, idx))
    ti = rng.integers(0, 4, (1, 6))
    np.testing.assert_array_equal(to_numpy(I.take_along_dim(x, up(device, ti), 1)),
                                  np.take_along_axis(a, np.broadcast_to(ti, (3, 6)), 1))
    ti = rng.integers(0, 12, (5,))
    np.testing.assert_array_equal(to_numpy(I.take_along_dim(x, up(device, ti))),
                                  a.ravel()[ti])
    with pytest.raises(IndexError, match="index 12 is out of bounds"):
        I.take_flat(x, [12])


def test_embedding(device, rng):
    w = host(rng, (10, 6))
    idx = rng.integers(0, 10, (3, 4)).astype(np.int32)
    out = I.embedding(up(device, idx, "transposed"), up(device, w, "strided"))
    np.testing.assert_array_equal(to_numpy(out), w[idx])
    with pytest.raises(ShapeError, match="weight must be 2-d"):
        I.embedding(up(device, idx), up(device, host(rng, (10,))))
    raises_later(I.embedding(up(device, np.array([3, 10])), up(device, w)),
                 "index 10 is out of bounds for dimension 0 with size 10")


def test_embedding_backward_deterministic(device, rng):
    n, d = 50, 8
    idx = rng.integers(0, n, (6, 40))
    idx[:, :10] = 3                               # a popular row: a long segment
    g = (rng.standard_normal((6, 40, d)) * 10.0 ** rng.integers(-3, 4, (6, 40, 1))).astype(
        np.float32)
    gx, ix = up(device, g, "transposed"), up(device, idx)
    first = to_numpy(I.embedding_backward(gx, ix, n, padding_idx=7))
    second = to_numpy(I.embedding_backward(gx, ix, n, padding_idx=7))
    want = np.zeros((n, d), np.float32)
    np.add.at(want, idx.ravel(), g.reshape(-1, d))      # sequential, in index order
    want[7] = 0
    assert first.tobytes() == second.tobytes()
    np.testing.assert_array_equal(first, want)        # same order of additions: same bits


# ---------------------------------------------------------------------------------------------
# scatters

@pytest.mark.parametrize("dim", [0, 1])
def test_scatter_src_and_value(device, rng, dim):
    a = host(rng, (4, 5))
    # no duplicate targets: a permutation per line
    idx = np.argsort(rng.random((4, 5)), axis=dim)[:3] if dim == 0 else \
        np.argsort(rng.random((4, 5)), axis=1)[:, :3]
    src = host(rng, (4, 5))
    want = a.copy()
    np.put_along_axis(want, idx, src[:idx.shape[0], :idx.shape[1]], dim)
    x = up(device, a)
    out = I.scatter(x, dim, up(device, idx, "transposed"), up(device, src, "strided"))
    np.testing.assert_array_equal(to_numpy(out), want)
    np.testing.assert_array_equal(to_numpy(x), a)         # out of place
    want = a.copy()
    np.put_along_axis(want, idx, -2.5, dim)
    assert I.scatter_(x, dim, up(device, idx), -2.5) is x
    np.testing.assert_array_equal(to_numpy(x), want)


def test_scatter_reduce_modes_and_errors(device, rng):
    a = host(rng, (3, 4))
    idx = rng.integers(0, 3, (5, 4))
    src = host(rng, (5, 4))
    add, mul = a.copy(), a.copy()
    for i in range(5):
        for j in range(4):
            add[idx[i, j], j] += src[i, j]
            mul[idx[i, j], j] *= src[i, j]
    x, ix, sx = up(device, a), up(device, idx), up(device, src)
    np.testing.assert_array_equal(to_numpy(I.scatter(x, 0, ix, sx, reduce="add")), add)
    np.testing.assert_array_equal(to_numpy(I.scatter(x, 0, ix, sx, reduce="multiply")), mul)
    with pytest.raises(ValueError, match="add or multiply"):
        I.scatter(x, 0, ix, sx, reduce="max")
    with pytest.raises(DTypeError, match="self.dtype to be equal to src.dtype"):
        I.scatter(x, 0, ix, up(device, src.astype(np.float16)))
    with pytest.raises(ShapeError, match="no larger than src"):
        I.scatter(x, 0, ix, up(device, host(rng, (2, 4))))
    raises_later(I.scatter(x, 1, up(device, np.array([[0, 4]])), sx),
                 r"scatter\(\): index 4 is out of bounds for dimension 1 with size 4")


def reference_reduce(a, dim, idx, src, reduce, include_self):
    """A sequential scatter_reduce, in index order (as PyTorch's CPU kernel)."""
    out = a.astype(np.float64).copy()
    count = np.ones(a.shape) if include_self else np.zeros(a.shape)
    touched = np.zeros(a.shape, bool)
    for pos in np.ndindex(idx.shape):
        t = list(pos)
        t[dim] = idx[pos]
        t = tuple(t)
        v = float(src[pos])
        if not touched[t] and not include_self:
            out[t] = {"sum": 0, "mean": 0, "prod": 1, "amax": v, "amin": v}[reduce]
        touched[t] = True
        count[t] += 1
        if reduce in ("sum", "mean"):
            out[t] += v
        elif reduce == "prod":
            out[t] *= v
        elif reduce == "amax":
            out[t] = max(out[t], v)
        else:
            out[t] = min(out[t], v)
    if reduce == "mean":
        out = np.where(touched, out / np.maximum(count, 1), out)
        if a.dtype.kind in "iu":
            out = np.floor(out)
    return out.astype(a.dtype)


@pytest.mark.parametrize("reduce", I.REDUCTIONS)
@pytest.mark.parametrize("include_self", [True, False])
@pytest.mark.parametrize("dtype", ["float32", "int32"])
def test_scatter_reduce(device, rng, reduce, include_self, dtype):
    a = host(rng, (4, 3), dtype)
    idx = rng.integers(0, 4, (6, 3))
    src = host(rng, (6, 3), dtype)
    if dtype == "int32" and reduce == "prod":
        src = src % 3
    out = I.scatter_reduce(up(device, a), 0, up(device, idx), up(device, src, "transposed"),
                           reduce, include_self)
    want = reference_reduce(a, 0, idx, src, reduce, include_self)
    np.testing.assert_allclose(to_numpy(out), want, rtol=1e-5)


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64", "int64", "uint8"])
def test_scatter_add_duplicates_deterministic(device, rng, dtype):
    skip_if_no_fp64(device, dtype)
    a = host(rng, (6, 5), dtype)
    idx = rng.integers(0, 6, (300, 5))
    src = host(rng, (300, 5), dtype)
    if np.dtype(dtype).kind == "f":
        src = (src * 10.0 ** rng.integers(-3, 4, src.shape)).astype(dtype)
    x, ix, sx = up(device, a), up(device, idx), up(device, src)
    r1, r2 = to_numpy(I.scatter_add(x, 0, ix, sx)), to_numpy(I.scatter_add(x, 0, ix, sx))
    assert r1.tobytes() == r2.tobytes()
    want = a.copy()
    if dtype == "float16":   # clt sums in float32 and rounds once
        want = want.astype(np.float32)
        np.add.at(want, (idx, np.arange(5)), src.astype(np.float32))
        np.testing.assert_array_equal(r1, want.astype(np.float16))
    else:
        np.add.at(want, (idx, np.arange(5)), src)
        np.testing.assert_array_equal(r1, want)
    y = up(device, a, "transposed")
    assert I.scatter_add_(y, 0, ix, sx) is y
    np.testing.assert_array_equal(to_numpy(y), r1)


@pytest.mark.parametrize("dim", [0, 1, -1])
@pytest.mark.parametrize("layout", LAYOUTS)
def test_index_add(device, rng, dim, layout):
    a = host(rng, (3, 4, 5))
    n = 9
    idx = rng.integers(0, a.shape[dim], n)
    sshape = list(a.shape)
    sshape[dim] = n
    src = host(rng, tuple(sshape))
    want = np.moveaxis(a.copy(), dim, 0)
    np.add.at(want, idx, 2 * np.moveaxis(src, dim, 0))
    want = np.moveaxis(want, 0, dim)
    x = up(device, a, layout)
    out = I.index_add(x, dim, up(device, idx.astype(np.int32)), up(device, src, layout), alpha=2)
    np.testing.assert_array_equal(to_numpy(out), want)
    assert I.index_add_(x, dim, up(device, idx), up(device, src), 2) is x
    np.testing.assert_array_equal(to_numpy(x), want)


def test_index_add_bad_input(device, rng):
    x = up(device, host(rng, (3, 4)))
    with pytest.raises(ShapeError, match=r"expected \(2, 4\)"):
        I.index_add(x, 0, [0, 1], up(device, host(rng, (2, 3))))
    with pytest.raises(DTypeError, match="must have the same dtype"):
        I.index_add(x, 0, [0], up(device, host(rng, (1, 4), "float16")))
    raises_later(I.index_add(x, 0, up(device, np.array([3])), up(device, host(rng, (1, 4)))),
                 r"index_add\(\): index 3 is out of bounds for dimension 0 with size 3")


def test_index_copy_and_fill(device, rng):
    a = host(rng, (4, 5), "int16")
    src = host(rng, (4, 2), "int16")
    want = a.copy()
    want[:, [3, 0]] = src
    x = up(device, a)
    np.testing.assert_array_equal(to_numpy(I.index_copy(x, 1, [3, 0], up(device, src))), want)
    want = a.copy()
    want[[1, 2]] = 9
    np.testing.assert_array_equal(to_numpy(I.index_fill(x, 0, up(device, np.array([1, 2])), 9)),
                                  want)
    v = up(device, np.array(7.9, np.float32))
    assert I.index_fill_(x, 1, [4], v) is x
    a[:, 4] = 7
    np.testing.assert_array_equal(to_numpy(x), a)
    with pytest.raises(ShapeError, match="0-dimensional value"):
        I.index_fill(x, 1, [0], up(device, np.ones(2, np.float32)))


def test_one_hot(device, rng):
    idx = np.array([[0, 3], [2, 2]])
    want = np.eye(5, dtype=np.int64)[idx]
    np.testing.assert_array_equal(to_numpy(I.one_hot(up(device, idx), 5)), want)
    np.testing.assert_array_equal(to_numpy(I.one_hot(up(device, idx.astype(np.int32)))),
                                  np.eye(4, dtype=np.int64)[idx])
    with pytest.raises(ValueError, match="empty tensor"):
        I.one_hot(up(device, np.zeros(0, np.int64)))
    with pytest.raises(IndexError, match="non-negative"):
        I.one_hot(up(device, np.array([-1, 2])))
    raises_later(I.one_hot(up(device, idx), 3), "index 3 is out of bounds")


# ---------------------------------------------------------------------------------------------
# masks

@pytest.mark.parametrize("value", [2.5, True, "array"])
def test_masked_fill(device, rng, value):
    a = host(rng, (3, 4))
    m = rng.random((1, 4)) > 0.5
    v = up(device, np.array(-1.0, np.float32)) if value == "array" else value
    want = np.where(m, -1.0 if value == "array" else value, a).astype(np.float32)
    x = up(device, a, "transposed")
    np.testing.assert_array_equal(to_numpy(I.masked_fill(x, up(device, m), v)), want)
    assert I.masked_fill_(x, up(device, m), v) is x
    np.testing.assert_array_equal(to_numpy(x), want)


def test_masked_fill_dtypes_and_errors(device, rng):
    a = host(rng, (5,), "int32")
    m = rng.random(5) > 0.5
    np.testing.assert_array_equal(to_numpy(I.masked_fill(up(device, a), up(device, m), 3.7)),
                                  np.where(m, 3, a))
    with pytest.raises(DTypeError, match="expected a bool mask, got int32"):
        I.masked_fill(up(device, a), up(device, a), 0)
    with pytest.raises(ShapeError, match="cannot be broadcast to the tensor's shape"):
        I.masked_fill_(up(device, a), up(device, np.ones((2, 5), bool)), 0)
    with pytest.raises(ShapeError, match="0-dimensional value"):
        I.masked_fill(up(device, a), up(device, m), up(device, a))


@pytest.mark.parametrize("shape,mshape", [((3, 4), (3, 4)), ((3, 4), (4,)), ((1, 4), (3, 1)),
                                          ((), ()), ((0, 3), (3,)), ((2, 3, 4, 5), (3, 1, 5))],
                         ids=str)
def test_masked_select(device, rng, shape, mshape):
    a = host(rng, shape, "float16")
    m = rng.random(mshape) > 0.4
    x = up(device, a, "transposed" if len(shape) > 1 else "contig")
    b = np.broadcast_arrays(a, m)
    np.testing.assert_array_equal(to_numpy(I.masked_select(x, up(device, m))), b[0][b[1]])


@pytest.mark.parametrize("shape", [(7,), (3, 4), (2, 3, 4), (), (0, 2)], ids=str)
def test_nonzero(device, rng, shape):
    a = host(rng, shape, "int8") % 3
    x = up(device, a, "transposed" if len(shape) > 1 else "contig")
    out = I.nonzero(x)
    np.testing.assert_array_equal(to_numpy(out), np.argwhere(a))
    cols = I.nonzero(x, as_tuple=True)
    want = np.nonzero(np.atleast_1d(a))
    assert len(cols) == len(want)
    for c, w in zip(cols, want):
        np.testing.assert_array_equal(to_numpy(c), w)


def test_nonzero_floats(device):
    a = np.array([0.0, -0.0, np.nan, 1e-30, -2.0], np.float32)
    np.testing.assert_array_equal(to_numpy(I.nonzero(up(device, a))), [[2], [3], [4]])
    big = np.zeros(20000, bool)
    big[[0, 4095, 4096, 19999]] = True      # across the per-work-item ranges
    np.testing.assert_array_equal(to_numpy(I.nonzero(up(device, big))).ravel(),
                                  [0, 4095, 4096, 19999])


# ---------------------------------------------------------------------------------------------
# advanced indexing

A = np.arange(3 * 4 * 5, dtype=np.float32).reshape(3, 4, 5)
GET_CASES = [
    ([2, 0, 2],), (np.array([[0, -1], [1, 2]]),), (slice(None), [3, 0]),
    (slice(None), slice(None), [4, -5, 1]), ([0, 2], [1, 3]), ([[0], [2]], [1, 3, 0]),
    ([0, 1], slice(None), [2, 3]),                   # separated: advanced dims go first
    (Ellipsis, [1, 1]), (None, [2, 1], slice(1, 4, 2)),
    (A[:, 0, 0] > 10,), (A[:, :, 0] % 3 == 0,), (slice(None), A[0, :, 0] > 4, [1, 0, 2, 3][:1]),
    ([],), (True,), (False, 1), (1, [0, 2], slice(None)),
]


@pytest.mark.parametrize("key", GET_CASES, ids=lambda k: repr(k)[:40])
@pytest.mark.parametrize("as_arrays", [False, True])
def test_advanced_get_matches_numpy(device, key, as_arrays):
    x = up(device, A, "strided")
    k = tuple(up(device, np.array(it, dtype=bool if np.asarray(it).dtype == bool else np.int64))
              if as_arrays and isinstance(it, (list, np.ndarray)) else it for it in key)
    np.testing.assert_array_equal(to_numpy(I.advanced_get(x, k)), A[key])


def test_advanced_get_pytorch_rules(device):
    x = up(device, A)
    # PyTorch applies ints as selects first: [0, :, idx] keeps the advanced dim in place
    np.testing.assert_array_equal(to_numpy(I.advanced_get(x, (0, slice(None), [1, 2]))),
                                  A[0][:, [1, 2]])
    got = I.advanced_get(x, (slice(0, 3, 2), [0, 3], None, 2))
    np.testing.assert_array_equal(to_numpy(got), A[..., 2][::2, [0, 3], None])
    # ... and so does a 0-d integer tensor
    t = up(device, np.array(2))
    np.testing.assert_array_equal(to_numpy(I.advanced_get(x, (t, slice(None), [1, 2]))),
                                  A[2][:, [1, 2]])
    # a list holding a list is a tuple of indices (PyTorch's legacy rule)
    np.testing.assert_array_equal(to_numpy(I.advanced_get(x, [[0, 1], [2, 3]])),
                                  A[[0, 1], [2, 3]])
    # basic-only keys give a view
    v = I.advanced_get(x, (1, slice(1, 3)))
    assert v.storage is x.storage
    np.testing.assert_array_equal(to_numpy(v), A[1, 1:3])
    # a 0-d bool mask: a new dim of size 1 or 0
    assert I.advanced_get(x, (up(device, np.array(False)),)).shape == (0, 3, 4, 5)


def test_advanced_get_bad_input(device):
    x = up(device, A)
    with pytest.raises(IndexError, match="too many indices for tensor of dimension 3"):
        I.advanced_get(x, ([0], 0, 0, 0))
    with pytest.raises(IndexError, match="index 4 is out of bounds for dimension 1 with size 4"):
        I.advanced_get(x, (slice(None), [0, 4]))
    with pytest.raises(IndexError, match="could not be broadcast together"):
        I.advanced_get(x, ([0, 1], [0, 1, 2]))
    with pytest.raises(IndexError, match="must be long, int or bool tensors"):
        I.advanced_get(x, up(device, np.array([0.0], np.float32)))
    with pytest.raises(IndexError, match="valid indices"):
        I.advanced_get(x, [0.5])
    with pytest.raises(IndexError, match="shape of the mask"):
        I.advanced_get(x, np.ones((3, 5), bool))
    with pytest.raises(ValueError, match="step must be greater than zero"):
        I.advanced_get(x, ([0], slice(None, None, -1)))
    with pytest.raises(IndexError, match="single ellipsis"):
        I.advanced_get(x, (Ellipsis, [0], Ellipsis))
    raises_later(I.advanced_get(x, (slice(None), up(device, np.array([1, -5])))),
                 r"__getitem__: index -5 is out of bounds for dimension 1 with size 4")


SET_CASES = [([2, 0],), (slice(None), [3, 0], [1, 2]), ([0, 1], slice(None), [2, 3]),
             (A > 30,), (Ellipsis, [0, -1]), (1, A[1] > 25), ([[0], [2]], 1, [1, 4])]


@pytest.mark.parametrize("key", SET_CASES, ids=lambda k: repr(k)[:40])
@pytest.mark.parametrize("value", ["scalar", "array"])
def test_advanced_set_matches_numpy(device, rng, key, value):
    want = A.copy()
    shape = want[key].shape
    v = -1.5 if value == "scalar" else rng.standard_normal(shape[-1:]).astype(np.float32)
    want[key] = v
    x = up(device, A, "transposed")
    v_dev = v if value == "scalar" else up(device, v)
    assert I.advanced_set(x, key, v_dev) is x
    np.testing.assert_array_equal(to_numpy(x), want)


def test_advanced_set_conversions_and_errors(device):
    a = np.zeros((3, 4), np.int32)
    x = up(device, a)
    I.advanced_set(x, (slice(None), [1]), up(device, np.array([1.9, 2.9, -3.9], np.float32)
                                               ).view((3, 1), (1, 0)))
    a[:, [1]] = np.array([[1], [2], [-3]])
    np.testing.assert_array_equal(to_numpy(x), a)
    I.advanced_set(x, up(device, a > 0), 8)           # bool mask + scalar: a masked fill
    a[a > 0] = 8
    np.testing.assert_array_equal(to_numpy(x), a)
    with pytest.raises(ShapeError, match=r"value tensor of shape \(3,\) cannot be broadcast"):
        I.advanced_set(x, ([0, 1],), up(device, np.ones(3, np.int32)))
    with pytest.raises(DTypeError, match="must be a number or a tensor"):
        I.advanced_set(x, ([0],), "a")


def test_index_put_accumulate(device, rng):
    a = host(rng, (4, 3, 5))
    i0 = rng.integers(-4, 4, 30)
    i1 = rng.integers(0, 3, 30)
    vals = host(rng, (30, 5))
    want = a.copy()
    np.add.at(want, (i0, i1), vals)
    x = up(device, a, "strided")
    I.index_put_(x, (up(device, i0), up(device, i1)), up(device, vals), accumulate=True)
    np.testing.assert_allclose(to_numpy(x), want, rtol=1e-6)
    # a non-adjacent index and a broadcast scalar
    want2 = a.copy()
    np.add.at(want2, (i0[:, None], slice(None), i1[:, None] + 2), 1.0)
    y = up(device, a)
    I.advanced_set(y, (up(device, i0[:, None]), slice(None), up(device, i1[:, None] + 2)), 1.0,
                   accumulate_=True)
    np.testing.assert_allclose(to_numpy(y), want2, rtol=1e-6)
    ones = np.ones((4, 30, 5), np.float32)
    out = I.index_put(up(device, a), (None, up(device, i1)), up(device, ones), accumulate=True)
    want3 = a.copy()
    np.add.at(want3, (slice(None), i1), ones)
    np.testing.assert_allclose(to_numpy(out), want3, rtol=1e-6)


# ---------------------------------------------------------------------------------------------
# the strided (GPU-style) kernels, run on this device

@pytest.fixture(scope="module")
def gpu_style(device):
    """Another context on the same device whose capability table says "gpu": exercises the
    strided loops and per-entry merge of the kernels."""
    dev = Device(device.cl_device, device.info)
    dev.caps = dataclasses.replace(dev.caps, style="gpu")
    return dev


def test_gpu_style_kernels(gpu_style, rng):
    dev = gpu_style
    a = host(rng, (40, 6))
    idx = rng.integers(0, 40, 700)
    x = up(dev, a, "transposed")
    np.testing.assert_array_equal(to_numpy(I.index_select(x, 0, up(dev, idx))), a[idx])
    src = host(rng, (700, 6))
    want = a.copy()
    np.add.at(want, idx, src)
    np.testing.assert_array_equal(to_numpy(I.index_add(x, 0, up(dev, idx), up(dev, src))), want)
    m = a > 0.3
    np.testing.assert_array_equal(to_numpy(I.masked_select(x, up(dev, m))), a[m])
    np.testing.assert_array_equal(to_numpy(I.nonzero(up(dev, m))), np.argwhere(m))
    raises_later(I.gather(x, 1, up(dev, np.array([[6]] * 40))), "index 6 is out of bounds")
