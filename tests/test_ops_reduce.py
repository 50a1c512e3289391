"""Reductions, scans, softmax and sorting (clt.ops.reduce) against numpy.

Each test covers many shapes, views and dims with one kernel per (op, dtype), so the whole file
builds about a hundred kernels.
"""
from __future__ import annotations

import dataclasses
import math
import os
import warnings

import numpy as np
import pytest

from clt import dtypes as D
from clt.errors import DTypeError, ShapeError
from clt.ops import reduce as R
from clt.ops import transfer as T
from clt.ops.array import Array

ALL = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "float32", "float64"]
FLOATS = ["float16", "float32", "float64"]
TOL = {"float16": dict(rtol=2e-2, atol=2e-2), "float32": dict(rtol=2e-5, atol=2e-5),
       "float64": dict(rtol=1e-10, atol=1e-10)}


# ---------------------------------------------------------------------------------------------
# helpers

def skip_if_no_fp64(device, dtype):
    if dtype == "float64" and not device.supports_fp64:
        pytest.skip(f"{device} lacks fp64")


def data(rng, shape, dtype, kind="normal"):
    dt = np.dtype(dtype)
    if dt == np.bool_:
        return rng.random(shape) < 0.5
    if kind == "prod":    # products that neither overflow nor vanish
        if dt.kind == "f":
            return (rng.uniform(0.8, 1.25, shape) * rng.choice([-1, 1], shape)).astype(dt)
        vals = [1, 2] if dt.kind == "u" else [-1, 1, 2]
        return rng.choice(vals, shape, p=[0.9, 0.1] if dt.kind == "u" else [0.45, 0.45, 0.1]
                          ).astype(dt)
    if dt.kind == "f":
        return rng.standard_normal(shape).astype(dt)
    lo = 0 if dt.kind == "u" else -3
    return rng.integers(lo, 4, shape).astype(dt)


def up(device, a):
    return T.from_numpy(device, np.asarray(a))


def down(x):
    return T.to_numpy(x)


def permute(x: Array, perm):
    return x.view([x.shape[p] for p in perm], [x.strides[p] for p in perm])


def step(x: Array, starts, steps):
    """x[s0::k0, s1::k1, ...] as a strided view."""
    shape = [len(range(s, n, k)) for s, n, k in zip(starts, x.shape, steps)]
    off = x.offset + sum(s * st for s, st in zip(starts, x.strides))
    return x.view(shape, [st * k for st, k in zip(x.strides, steps)], off)


def views(device, a):
    """(name, clt view, numpy equivalent): contiguous, permuted and stepped views of ``a``."""
    x = up(device, a)
    out = [("contig", x, a)]
    if a.ndim >= 2:
        perm = tuple(reversed(range(a.ndim)))
        out.append(("transposed", permute(x, perm), a.transpose(perm)))
        starts = [1] + [0] * (a.ndim - 1)
        steps = [2] + [1] * (a.ndim - 2) + [2]
        sl = tuple(slice(s, None, k) for s, k in zip(starts, steps))
        out.append(("stepped", step(x, starts, steps), a[sl]))
    return out


def np_dims(dim, ndim):
    if dim is None or dim == ():
        return tuple(range(ndim))
    dims = (dim,) if isinstance(dim, int) else dim
    return tuple(d % ndim for d in dims)


def close(got, want, dtype, **kw):
    tol = dict(TOL.get(dtype, dict(rtol=0, atol=0)), **kw)
    got = np.asarray(got)
    want = np.asarray(want)
    assert got.shape == want.shape, (got.shape, want.shape)
    if np.dtype(dtype).kind == "f":
        np.testing.assert_allclose(got.astype(np.float64), want.astype(np.float64),
                                   equal_nan=True, **tol)
    else:
        np.testing.assert_array_equal(got, want)


def with_gpu_style(device, fn):
    """Run ``fn`` with the device pretending to be a GPU (work-group trees, local size 64)."""
    saved = device.caps
    device.caps = dataclasses.replace(saved, style="gpu", reduce_local_size=64)
    try:
        out = fn()
        device.synchronize()
    finally:
        device.caps = saved
    return out


DIMS = [None, 0, -1, (0, 2), (1,)]


# ---------------------------------------------------------------------------------------------
# sum / prod / max / min over every dtype

@pytest.mark.parametrize("dtype", ALL)
def test_sum_prod_amax_amin(device, rng, dtype):
    skip_if_no_fp64(device, dtype)
    a = data(rng, (6, 7, 9), dtype)
    p = data(rng, (6, 7, 9), dtype, "prod")
    acc = np.float64 if np.dtype(dtype).kind == "f" else np.int64
    want_dt = dtype if np.dtype(dtype).kind == "f" else "int64"
    for (name, x, an), (_, xp, pn) in zip(views(device, a), views(device, p)):
        for dim in DIMS:
            nd = np_dims(dim, an.ndim)
            for keepdim in (False, True):
                got = R.sum(x, dim, keepdim)
                assert got.dtype.name == want_dt
                close(down(got), an.astype(acc).sum(nd, keepdims=keepdim).astype(want_dt),
                      dtype)
                close(down(R.prod(xp, dim, keepdim)),
                      pn.astype(acc).prod(nd, keepdims=keepdim).astype(want_dt), dtype)
                mx = R.amax(x, dim, keepdim)
                assert mx.dtype.name == dtype
                close(down(mx), an.max(nd, keepdims=keepdim), dtype)
                close(down(R.amin(x, dim, keepdim)), an.min(nd, keepdims=keepdim), dtype)


@pytest.mark.parametrize("dtype", ALL)
def test_max_min_with_indices(device, rng, dtype):
    skip_if_no_fp64(device, dtype)
    a = data(rng, (6, 7, 19), dtype)    # small int ranges: many ties, first index must win
    for name, x, an in views(device, a):
        for dim in (0, 1, 2, -1):
            for keepdim in (False, True):
                v, i = R.max(x, dim, keepdim)
                assert i.dtype is D.int64 and v.dtype.name == dtype
                close(down(v), an.max(dim, keepdims=keepdim), dtype)
                close(down(i), an.argmax(dim, keepdims=keepdim), "int64")
                v, i = R.min(x, dim, keepdim)
                close(down(v), an.min(dim, keepdims=keepdim), dtype)
                close(down(i), an.argmin(dim, keepdims=keepdim), "int64")
        close(down(R.argmax(x)), an.argmax(), "int64")
        close(down(R.argmin(x)), an.argmin(), "int64")
        close(down(R.argmax(x, keepdim=True)), np.reshape(an.argmax(), (1,) * an.ndim), "int64")
        close(down(R.max(x)), an.max(), dtype)
        close(down(R.min(x)), an.min(), dtype)


def test_nan_handling_in_max_and_argmax(device):
    a = np.array([[1.0, np.nan, 3.0, np.nan], [2.0, 5.0, 5.0, -1.0], [np.inf, 1, np.inf, 0]],
                 np.float32)
    x = up(device, a)
    close(down(R.amax(x, 1)), [np.nan, 5, np.inf], "float32")
    close(down(R.amin(x, 1)), [np.nan, -1, 0], "float32")
    close(down(R.argmax(x, 1)), [1, 1, 0], "int64")
    close(down(R.argmin(x, 1)), [1, 3, 3], "int64")
    assert down(R.argmax(x)) == 1 and math.isnan(down(R.max(x)))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_argmax_ties_and_nan_in_long_rows(device, rng, dtype):
    skip_if_no_fp64(device, dtype)
    a = rng.integers(0, 4, (9, 203)).astype(dtype)     # ties everywhere: first index must win
    a[2, [150, 20, 77]] = np.nan
    a[3, 200] = np.nan
    a[4, :] = 7
    x = up(device, a)
    for fn, ref in ((R.argmax, np.argmax), (R.argmin, np.argmin)):
        close(down(fn(x, 1)), ref(a, 1), "int64")
        close(down(fn(x, 0)), ref(a, 0), "int64")
    v, i = R.topk(x, 3, 1)
    wv, wi = ref_sort(a, 1, True)
    close(down(i), wi[:, :3], "int64")


def test_large_sum_is_accurate(device, rng):
    a = rng.random(1 << 21, dtype=np.float32)
    got = float(down(R.sum(up(device, a))))
    want = a.astype(np.float64).sum()
    assert abs(got - want) / want < 1e-6
    got = float(down(R.mean(up(device, a + np.float32(1000)))))
    assert abs(got - (want / a.size + 1000)) / 1000 < 1e-7


def test_sum_columns_of_tall_matrix(device, rng):
    a = rng.standard_normal((5000, 37)).astype(np.float32)   # cols mode with chunked rows
    x = up(device, a)
    close(down(R.sum(x, 0)), a.astype(np.float64).sum(0), "float32", rtol=1e-5, atol=1e-4)
    v, i = R.max(x, 0)
    close(down(i), a.argmax(0), "int64")
    close(down(R.sum(permute(x, (1, 0)), 1)), a.astype(np.float64).sum(0), "float32",
          rtol=1e-5, atol=1e-4)


def test_sum_dtype_argument(device, rng):
    a = data(rng, (4, 33), "int8")
    x = up(device, a)
    got = R.sum(x, 1, dtype="float32")
    assert got.dtype is D.float32
    close(down(got), a.astype(np.float32).sum(1), "float32")
    h = data(rng, (4, 1000), "float16")
    got = R.sum(up(device, h), 1)
    assert got.dtype is D.float16
    close(down(got), h.astype(np.float64).sum(1).astype(np.float16), "float16")
    got = R.mean(x, dtype="float32")
    close(down(got), a.astype(np.float64).mean(), "float32")


# ---------------------------------------------------------------------------------------------
# float-only reductions

@pytest.mark.parametrize("dtype", FLOATS)
def test_mean_var_std(device, rng, dtype):
    skip_if_no_fp64(device, dtype)
    a = (data(rng, (6, 7, 9), dtype) * 3 + 10).astype(dtype)
    for name, x, an in views(device, a):
        a64 = an.astype(np.float64)
        for dim in DIMS:
            nd = np_dims(dim, an.ndim)
            for keepdim in (False, True):
                close(down(R.mean(x, dim, keepdim)), a64.mean(nd, keepdims=keepdim), dtype)
                for corr in (0, 1, 2):
                    close(down(R.var(x, dim, correction=corr, keepdim=keepdim)),
                          a64.var(nd, ddof=corr, keepdims=keepdim), dtype)
                close(down(R.std(x, dim, keepdim=keepdim)), a64.std(nd, ddof=1,
                                                                    keepdims=keepdim), dtype)
    x = up(device, a)
    close(down(R.var(x, 1, unbiased=False)), a.astype(np.float64).var(1), dtype)


def test_var_of_too_few_elements(device):
    x = up(device, np.ones((3, 1), np.float32))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        close(down(R.var(x, 1)), np.ones((3, 1)).var(1, ddof=1), "float32")    # 0/0 = nan
        close(down(R.std(x, 1, correction=2)), np.full(3, np.nan), "float32")


@pytest.mark.parametrize("p", [2, 1, math.inf, -math.inf, 0, 3, 0.5, "fro"])
def test_norm_orders(device, rng, p):
    a = data(rng, (5, 7, 9), "float32")
    a[0, 0, :3] = 0
    pn = 2 if p == "fro" else p

    def ref(v, nd, keepdim):
        v = np.abs(v.astype(np.float64))
        if pn == math.inf:
            return v.max(nd, keepdims=keepdim)
        if pn == -math.inf:
            return v.min(nd, keepdims=keepdim)
        if pn == 0:
            return (v != 0).sum(nd, keepdims=keepdim).astype(np.float64)
        return (v ** pn).sum(nd, keepdims=keepdim) ** (1 / pn)

    for name, x, an in views(device, a):
        for dim in (None, 1, (0, 2)):
            for keepdim in (False, True):
                close(down(R.norm(x, p, dim, keepdim)), ref(an, np_dims(dim, 3), keepdim),
                      "float32", rtol=1e-5)


@pytest.mark.parametrize("dtype", ["float16", "float64"])
def test_norm_other_float_dtypes(device, rng, dtype):
    skip_if_no_fp64(device, dtype)
    a = data(rng, (7, 33), dtype)
    x = up(device, a)
    close(down(R.norm(x)), np.sqrt((a.astype(np.float64) ** 2).sum()), dtype)
    close(down(R.norm(x, dim=1)), np.sqrt((a.astype(np.float64) ** 2).sum(1)), dtype)


@pytest.mark.parametrize("dtype", FLOATS)
def test_logsumexp(device, rng, dtype):
    skip_if_no_fp64(device, dtype)
    a = (data(rng, (6, 7, 9), dtype) * 4).astype(dtype)
    a[0, 0, :] = -np.inf
    a[1, 1, 2] = np.inf

    def ref(v, nd, keepdim):
        v = v.astype(np.float64)
        m = v.max(nd, keepdims=True)
        m = np.where(np.isinf(m), 0, m)
        with np.errstate(divide="ignore"):
            r = np.log(np.exp(v - m).sum(nd, keepdims=True)) + m
        return r if keepdim else np.squeeze(r, nd)

    for name, x, an in views(device, a):
        for dim in (0, -1, (0, 2)):
            for keepdim in (False, True):
                close(down(R.logsumexp(x, dim, keepdim)), ref(an, np_dims(dim, 3), keepdim),
                      dtype)
    big = np.array([[1000.0, 1000.0], [-1000.0, -1001.0]], dtype)
    close(down(R.logsumexp(up(device, big), 1)), ref(big, (1,), False), dtype)


@pytest.mark.parametrize("dtype", FLOATS)
def test_softmax_and_log_softmax(device, rng, dtype):
    skip_if_no_fp64(device, dtype)
    a = (data(rng, (5, 11, 19), dtype) * 5).astype(dtype)

    def ref(v, dim, log):
        v = v.astype(np.float64)
        s = v - v.max(dim, keepdims=True)
        lse = np.log(np.exp(s).sum(dim, keepdims=True))
        return s - lse if log else np.exp(s - lse)

    for name, x, an in views(device, a):
        for dim in (0, 1, -1):
            got = R.softmax(x, dim)
            assert got.dtype.name == dtype and got.shape == an.shape
            close(down(got), ref(an, dim, False), dtype)
            close(down(R.log_softmax(x, dim)), ref(an, dim, True), dtype)
    # rows longer than 8 and contiguous (vector path), huge logits, an all -inf row
    b = np.array([[1000, 1001, 999, 0, 5, 7, 1, 2, 3, 1000], [-np.inf] * 10], dtype)
    with np.errstate(invalid="ignore"):
        close(down(R.softmax(up(device, b), 1)), ref(b, 1, False), dtype)


def test_softmax_dtype_argument(device, rng):
    a = data(rng, (4, 9), "float16")
    got = R.softmax(up(device, a), 1, dtype="float32")
    assert got.dtype is D.float32
    e = np.exp(a.astype(np.float64) - a.max(1, keepdims=True))
    close(down(got), e / e.sum(1, keepdims=True), "float32", rtol=1e-3)


# ---------------------------------------------------------------------------------------------
# boolean reductions

@pytest.mark.parametrize("dtype", ["bool", "uint8", "int32", "float32"])
def test_any_all_count_nonzero(device, rng, dtype):
    a = data(rng, (6, 7, 9), dtype)
    a = np.where(rng.random(a.shape) < 0.7, a, 0).astype(dtype)
    if dtype == "float32":
        a[0, 0, 0] = np.nan
    want_dt = "uint8" if dtype == "uint8" else "bool"
    for name, x, an in views(device, a):
        for dim in DIMS:
            nd = np_dims(dim, an.ndim)
            for keepdim in (False, True):
                got = R.any(x, dim, keepdim)
                assert got.dtype.name == want_dt
                close(down(got), (an != 0).any(nd, keepdims=keepdim).astype(want_dt), want_dt)
                close(down(R.all(x, dim, keepdim)),
                      (an != 0).all(nd, keepdims=keepdim).astype(want_dt), want_dt)
            close(down(R.count_nonzero(x, dim)), np.count_nonzero(an, nd), "int64")


# ---------------------------------------------------------------------------------------------
# scans

@pytest.mark.parametrize("dtype", ALL)
def test_cumsum(device, rng, dtype):
    skip_if_no_fp64(device, dtype)
    a = data(rng, (6, 13, 9), dtype)
    want_dt = dtype if np.dtype(dtype).kind == "f" else "int64"
    acc = np.float64 if np.dtype(dtype).kind == "f" else np.int64
    for name, x, an in views(device, a):
        for dim in (0, 1, -1):
            got = R.cumsum(x, dim)
            assert got.dtype.name == want_dt and got.shape == an.shape
            close(down(got), an.astype(acc).cumsum(dim).astype(want_dt), dtype)


@pytest.mark.parametrize("dtype", ["int32", "float32", "float64"])
def test_cumprod(device, rng, dtype):
    skip_if_no_fp64(device, dtype)
    a = data(rng, (6, 13, 9), dtype, "prod")
    want_dt = dtype if np.dtype(dtype).kind == "f" else "int64"
    acc = np.float64 if np.dtype(dtype).kind == "f" else np.int64
    for name, x, an in views(device, a):
        for dim in (0, 1, -1):
            close(down(R.cumprod(x, dim)), an.astype(acc).cumprod(dim).astype(want_dt), dtype)


def test_cumsum_long_rows(device, rng):
    a = rng.random((2, 300_000), dtype=np.float32)    # chunked: totals, prefixes, scans
    got = down(R.cumsum(up(device, a), 1))
    want = a.astype(np.float64).cumsum(1)
    np.testing.assert_allclose(got, want, rtol=2e-6)
    i = rng.integers(-5, 6, 200_001).astype(np.int32)
    close(down(R.cumsum(up(device, i), 0)), i.astype(np.int64).cumsum(), "int64")
    got = R.cumsum(up(device, i), 0, dtype="float32")
    assert got.dtype is D.float32


# ---------------------------------------------------------------------------------------------
# sorting

def ref_sort(a, dim, descending):
    """Stable sort with NaN largest (last ascending, first descending), as PyTorch."""
    a = np.moveaxis(a, dim, -1)
    key = a.astype(np.float64)
    nan = np.isnan(key)
    key = np.where(nan, 0, key)
    idx = np.empty(a.shape, np.int64)
    pos = np.arange(a.shape[-1])
    for r in np.ndindex(a.shape[:-1]):
        if descending:
            idx[r] = np.lexsort((pos, -key[r], ~nan[r]))
        else:
            idx[r] = np.lexsort((pos, key[r], nan[r]))
    vals = np.take_along_axis(a, idx, -1)
    return np.moveaxis(vals, -1, dim), np.moveaxis(idx, -1, dim)


@pytest.mark.parametrize("dtype", ["bool", "int8", "int64", "float16", "float32", "float64"])
def test_sort(device, rng, dtype):
    skip_if_no_fp64(device, dtype)
    for shape in [(5, 29), (3, 100), (4, 70, 3)]:
        a = data(rng, shape, dtype)
        if np.dtype(dtype).kind == "f":
            a.flat[::7] = np.nan
            a.flat[::11] = a.flat[3]    # ties
        for name, x, an in views(device, a):
            for dim in (-1, 0, 1):
                for desc in (False, True):
                    v, i = R.sort(x, dim, desc)
                    wv, wi = ref_sort(an, dim, desc)
                    close(down(v), wv, dtype, rtol=0, atol=0)
                    close(down(i), wi, "int64")


def test_sort_long_row_and_argsort(device, rng):
    a = rng.standard_normal(100_000).astype(np.float32)
    a[::10] = a[5]
    x = up(device, a)
    v, i = R.sort(x)
    np.testing.assert_array_equal(down(v), np.sort(a))
    np.testing.assert_array_equal(down(i), np.argsort(a, kind="stable"))
    np.testing.assert_array_equal(down(R.argsort(x, descending=True)), ref_sort(a, 0, True)[1])


def test_topk(device, rng):
    a = rng.integers(-20, 20, (6, 300)).astype(np.float32)
    a[1, 5] = np.nan
    for name, x, an in views(device, a):
        for dim in (0, 1):
            n = an.shape[dim]
            for k in sorted({0, 1, min(5, n), n}):
                for largest in (True, False):
                    v, i = R.topk(x, k, dim, largest)
                    wv, wi = ref_sort(an, dim, largest)
                    sl = tuple(slice(0, k) if d == dim else slice(None) for d in range(2))
                    close(down(v), wv[sl], "float32", rtol=0, atol=0)
                    close(down(i), wi[sl], "int64")


# ---------------------------------------------------------------------------------------------
# empty and 0-d inputs

def test_empty_reductions(device):
    e = up(device, np.zeros((0, 3), np.float32))
    close(down(R.sum(e)), 0.0, "float32")
    close(down(R.sum(e, 0)), np.zeros(3), "float32")
    close(down(R.prod(e, 0)), np.ones(3), "float32")
    assert np.isnan(down(R.mean(e)))
    assert np.isnan(down(R.var(e, 0))).all()
    close(down(R.logsumexp(e, 0)), np.full(3, -np.inf), "float32")
    assert down(R.any(e)) == False and down(R.all(e)) == True  # noqa: E712
    assert down(R.count_nonzero(e)) == 0
    assert down(R.amax(e, 1)).shape == (0,)
    v, i = R.max(e, 1)
    assert down(v).shape == (0,) and down(i).shape == (0,)
    assert down(R.norm(e)) == 0
    assert down(R.cumsum(e, 0)).shape == (0, 3)
    assert down(R.softmax(e, 0)).shape == (0, 3)
    assert down(R.sort(e, 0).values).shape == (0, 3)
    ei = up(device, np.zeros((0,), np.int32))
    assert down(R.sum(ei)) == 0 and down(R.prod(ei)) == 1


def test_empty_reductions_without_identity_raise(device):
    e = up(device, np.zeros((0, 3), np.float32))
    with pytest.raises(IndexError, match=r"max\(\): Expected reduction dim to be specified for "
                                         r"input.numel\(\) == 0"):
        R.max(e)
    with pytest.raises(IndexError, match=r"amax\(\): Expected reduction dim 0 to have non-zero"):
        R.amax(e, 0)
    with pytest.raises(IndexError, match=r"max\(\): Expected reduction dim 0 to have non-zero"):
        R.max(e, 0)
    with pytest.raises(IndexError, match=r"argmax\(\): Expected reduction dim to be specified"):
        R.argmax(e)
    with pytest.raises(IndexError, match=r"argmin\(\): Expected reduction dim 0"):
        R.argmin(e, 0)
    with pytest.raises(IndexError, match=r"cannot compute the inf norm on an empty tensor"):
        R.norm(e, math.inf, 0)


def test_zero_dim_inputs(device):
    a = np.array(2.5, np.float32)
    x = up(device, a)
    for fn in (R.sum, R.mean, R.amax, R.amin, R.prod):
        got = down(fn(x))
        assert got.shape == () and got == 2.5
    got = down(R.sum(x, 0, keepdim=True))
    assert got.shape == () and got == 2.5
    v, i = R.max(x, 0)
    assert down(v) == 2.5 and down(i) == 0 and down(i).shape == ()
    assert down(R.argmax(x)) == 0
    assert down(R.softmax(x, 0)) == 1.0 and down(R.log_softmax(x, -1)) == 0.0
    assert down(R.cumsum(x, 0)) == 2.5
    v, i = R.sort(x)
    assert down(v) == 2.5 and down(i) == 0
    assert down(R.logsumexp(x, 0)) == 2.5
    assert down(R.norm(x)) == 2.5
    assert np.isnan(down(R.var(x)))
    assert down(R.var(x, correction=0)) == 0


def test_more_than_eight_dims(device, rng):
    a = rng.standard_normal((2,) * 10).astype(np.float32)
    x = permute(up(device, a), (0, 2, 4, 6, 8, 1, 3, 5, 7, 9))
    an = a.transpose((0, 2, 4, 6, 8, 1, 3, 5, 7, 9))
    dims = (0, 2, 4, 6, 8)
    close(down(R.sum(x, dims)), an.astype(np.float64).sum(dims), "float32")
    close(down(R.amax(x, (1, 3, 5, 7, 9))), an.max((1, 3, 5, 7, 9)), "float32")


# ---------------------------------------------------------------------------------------------
# bad input

def test_bad_dims(device):
    x = up(device, np.ones((2, 3), np.float32))
    with pytest.raises(ShapeError, match=r"dim 2 out of range for a tensor of 2 dimensions"):
        R.sum(x, 2)
    with pytest.raises(ShapeError, match=r"dim -3 out of range for a tensor of 2 dimensions"):
        R.softmax(x, -3)
    with pytest.raises(ShapeError, match=r"dim 5 out of range"):
        R.cumsum(x, 5)
    with pytest.raises(ShapeError, match=r"dim 2 out of range"):
        R.sort(x, 2)
    with pytest.raises(ShapeError, match=r"repeat a dimension"):
        R.sum(x, (0, -2))
    with pytest.raises(ShapeError, match=r"single int"):
        R.max(x, (0, 1))


def test_bad_dtypes(device):
    x = up(device, np.ones((2, 3), np.int32))
    with pytest.raises(DTypeError, match=r"mean\(\): could not infer output dtype. Input dtype "
                                         r"must be either a floating point or complex dtype. "
                                         r"Got: Int"):
        R.mean(x)
    with pytest.raises(DTypeError, match=r"std and var only support floating point"):
        R.var(x)
    with pytest.raises(DTypeError, match=r"softmax\(\): expected a floating point input"):
        R.softmax(x, 1)
    with pytest.raises(DTypeError, match=r"Expected a floating point or complex tensor as input. "
                                         r"Got Int"):
        R.norm(x)
    with pytest.raises(IndexError, match=r"selected index k out of range"):
        R.topk(x, 4, 1)
    with pytest.raises(ValueError, match=r"unsupported norm type 'nuc'"):
        R.norm(up(device, np.ones(3, np.float32)), "nuc")


# ---------------------------------------------------------------------------------------------
# determinism, kernel reuse and the GPU-style code paths

def test_results_are_deterministic(device, rng):
    a = rng.standard_normal(1 << 20).astype(np.float32)
    x = up(device, a)
    first = down(R.sum(x))
    for _ in range(3):
        assert down(R.sum(x)) == first


def test_one_kernel_serves_many_shapes(device, rng):
    R.sum(up(device, np.ones((3, 4), np.float32)), 1)
    before = len(device.kernels)
    for shape in [(5, 7), (2, 3, 4), (100,), (9, 1, 9)]:
        x = up(device, rng.standard_normal(shape).astype(np.float32))
        R.sum(x, -1)
        R.sum(x)
        R.mean(x, 0)
    assert len(device.kernels) == before


def test_gpu_style_reductions(device, rng):
    a = rng.standard_normal((37, 300)).astype(np.float32)
    a[3, 7] = a[3, 9] = 50.0
    x = up(device, a)
    xt = permute(x, (1, 0))
    res = with_gpu_style(device, lambda: [R.sum(x, 1), R.sum(x, 0), R.sum(x), R.sum(xt, 1),
                                          R.max(x, 1), R.max(x, 0), R.argmax(x)])
    a64 = a.astype(np.float64)
    close(down(res[0]), a64.sum(1), "float32", atol=1e-4)
    close(down(res[1]), a64.sum(0), "float32", atol=1e-4)
    close(down(res[2]), a64.sum(), "float32", atol=1e-3)
    close(down(res[3]), a64.sum(0), "float32", atol=1e-4)
    close(down(res[4].indices), a.argmax(1), "int64")
    close(down(res[5].indices), a.argmax(0), "int64")
    close(down(res[6]), a.argmax(), "int64")


@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get("CLT_SLOW"), reason="GPU-style softmax/scan/sort kernels "
                    "with barriers take PoCL ~5 s each to build; set CLT_SLOW=1")
def test_gpu_style_paths(device, rng):
    a = rng.standard_normal((37, 300)).astype(np.float32)
    a[3, 7] = a[3, 9] = 50.0
    x = up(device, a)
    xt = permute(x, (1, 0))
    res = with_gpu_style(device, lambda: [
        R.sum(x, 1), R.sum(x, 0), R.sum(x), R.sum(xt, 1), R.max(x, 1), R.max(x, 0), R.argmax(x),
        R.softmax(x, 1), R.softmax(x, 0), R.cumsum(x, 1), R.cumsum(x, 0),
        R.sort(x, 1), R.topk(x, 3, 0)])
    a64 = a.astype(np.float64)
    close(down(res[0]), a64.sum(1), "float32", atol=1e-4)
    close(down(res[1]), a64.sum(0), "float32", atol=1e-4)
    close(down(res[2]), a64.sum(), "float32", atol=1e-3)
    close(down(res[3]), a64.sum(0), "float32", atol=1e-4)
    close(down(res[4].indices), a.argmax(1), "int64")
    close(down(res[5].indices), a.argmax(0), "int64")
    close(down(res[6]), a.argmax(), "int64")
    e = np.exp(a64 - a64.max(1, keepdims=True))
    close(down(res[7]), e / e.sum(1, keepdims=True), "float32")
    e = np.exp(a64 - a64.max(0, keepdims=True))
    close(down(res[8]), e / e.sum(0, keepdims=True), "float32")
    close(down(res[9]), a64.cumsum(1), "float32", atol=1e-4)
    close(down(res[10]), a64.cumsum(0), "float32", atol=1e-4)
    wv, wi = ref_sort(a, 1, False)
    close(down(res[11].values), wv, "float32", rtol=0, atol=0)
    close(down(res[11].indices), wi, "int64")
    wv, wi = ref_sort(a, 0, True)
    close(down(res[12].indices), wi[:3], "int64")
