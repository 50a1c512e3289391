"""The ``linalg`` and ``fft`` extensions of ``clt.array_api`` against ``array_api_strict``.

Everything runs in float32 (the dtype the other array API tests build kernels for);
host-path decompositions run numpy.linalg on the same float32 data as the reference, so they
match it to rounding, and each must announce itself with a PerformanceWarning.
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest

strict = pytest.importorskip("array_api_strict")

import clt  # noqa: E402
import clt.array_api as xp  # noqa: E402
from clt.errors import PerformanceWarning  # noqa: E402

from test_array_api import host, pair, same  # noqa: E402


@pytest.fixture(scope="module", autouse=True)
def strict_2023_12():
    strict.set_array_api_strict_flags(api_version="2023.12")
    yield
    strict.reset_array_api_strict_flags()


@pytest.fixture(scope="module")
def dev():
    d = clt.get_default_device()
    if not d.info.fp64:
        pytest.skip("promotion checks use float64 (device lacks cl_khr_fp64)")
    return d


@pytest.fixture
def rng():
    return np.random.default_rng(7)


def randn(rng, shape):
    return rng.standard_normal(shape).astype(np.float32)


def test_matmul_shapes_and_promotion(dev, rng):
    for s1, s2 in (((3,), (3,)), ((2, 3), (3,)), ((3,), (3, 4)), ((2, 3), (3, 4)),
                   ((5, 1, 2, 3), (4, 3, 2)), ((0, 3), (3, 2)), ((2, 0), (0, 3))):
        a, b = randn(rng, s1), randn(rng, s2)
        x1, r1 = pair(a)
        x2, r2 = pair(b)
        same(xp.matmul(x1, x2), strict.matmul(r1, r2), rtol=1e-5, atol=1e-5)
        same(x1 @ x2, r1 @ r2, rtol=1e-5, atol=1e-5)
        same(xp.linalg.matmul(x1, x2), strict.linalg.matmul(r1, r2), rtol=1e-5, atol=1e-5)
    f32 = xp.empty((0, 2))
    assert xp.matmul(f32, xp.empty(2, dtype=xp.float64)).dtype is xp.float64
    i, ri = pair(np.arange(6, dtype=np.int64).reshape(2, 3))
    same(xp.matmul(i, xp.matrix_transpose(i)), strict.matmul(ri, strict.matrix_transpose(ri)))
    with pytest.raises(ValueError, match="0-d"):
        xp.matmul(xp.asarray(1.0), f32)
    with pytest.raises(ValueError):
        xp.matmul(xp.ones((2, 3)), xp.ones((2, 3)))


def test_tensordot_vecdot_outer_cross(dev, rng):
    a, b = randn(rng, (2, 3, 4)), randn(rng, (4, 3, 5))
    x1, r1 = pair(a)
    x2, r2 = pair(b)
    same(xp.tensordot(x1, x2, axes=([1, 2], [1, 0])),
         strict.tensordot(r1, r2, axes=([1, 2], [1, 0])), rtol=1e-5, atol=1e-6)
    same(xp.tensordot(x1, xp.permute_dims(x2, (1, 0, 2)), axes=0),
         strict.tensordot(r1, strict.permute_dims(r2, (1, 0, 2)), axes=0), rtol=1e-5, atol=1e-6)
    m, rm = pair(randn(rng, (4, 5)))
    same(xp.tensordot(x1, m, axes=1), strict.tensordot(r1, rm, axes=1), rtol=1e-5, atol=1e-6)
    same(xp.vecdot(x1, x1), strict.vecdot(r1, r1), rtol=1e-5, atol=1e-6)
    same(xp.linalg.vecdot(x1, x1), strict.linalg.vecdot(r1, r1), rtol=1e-5, atol=1e-6)
    same(xp.linalg.tensordot(x1, x2, axes=([1], [1])),
         strict.linalg.tensordot(r1, r2, axes=([1], [1])), rtol=1e-5, atol=1e-6)
    same(xp.linalg.matrix_transpose(x1), strict.linalg.matrix_transpose(r1))
    c, rc = pair(randn(rng, (3, 1)))
    same(xp.vecdot(x1, c, axis=-2), strict.vecdot(r1, rc, axis=-2), rtol=1e-5, atol=1e-6)
    u, ru = pair(randn(rng, 3))
    v, rv = pair(randn(rng, 4))
    same(xp.linalg.outer(u, v), strict.linalg.outer(ru, rv), rtol=1e-5, atol=1e-6)
    p, rp = pair(randn(rng, (2, 3)))
    q, rq = pair(randn(rng, (4, 1, 3)))
    same(xp.linalg.cross(p, q), strict.linalg.cross(rp, rq), rtol=1e-5, atol=1e-5)
    p0, rp0 = pair(randn(rng, (3, 2)))
    same(xp.linalg.cross(p0, xp.flip(p0), axis=-2),
         strict.linalg.cross(rp0, strict.flip(rp0), axis=-2), atol=1e-12)
    with pytest.raises(ValueError, match="3 elements"):
        xp.linalg.cross(x1, x1)
    with pytest.raises(ValueError, match="tensordot"):
        xp.tensordot(x1, x2, axes=([0], [0]))


def test_diagonal_trace_norms(dev, rng):
    a = randn(rng, (2, 3, 4))
    x, r = pair(a)
    for k in (-2, 0, 1, 5):
        same(xp.linalg.diagonal(x, offset=k), strict.linalg.diagonal(r, offset=k))
        same(xp.linalg.trace(x, offset=k), strict.linalg.trace(r, offset=k), rtol=1e-5, atol=1e-6)
    i, ri = pair(np.arange(9, dtype=np.int64).reshape(3, 3))
    same(xp.linalg.trace(i), strict.linalg.trace(ri))
    same(xp.linalg.trace(i, dtype=xp.float32), strict.linalg.trace(ri, dtype=strict.float32))
    for ordv in (2, 1, 0, np.inf, 3, -1):
        for axis in (None, 1, (0, 2)):
            for keepdims in (False, True):
                same(xp.linalg.vector_norm(x, axis=axis, keepdims=keepdims, ord=ordv),
                     strict.linalg.vector_norm(r, axis=axis, keepdims=keepdims, ord=ordv),
                     rtol=1e-5, atol=1e-6)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PerformanceWarning)
        for ordv in ("fro", "nuc", 1, -1, 2, -2, np.inf, -np.inf):
            for keepdims in (False, True):
                same(xp.linalg.matrix_norm(x, keepdims=keepdims, ord=ordv),
                     strict.linalg.matrix_norm(r, keepdims=keepdims, ord=ordv), rtol=1e-5,
                     atol=1e-6)
    with pytest.raises(TypeError, match="floating"):
        xp.linalg.vector_norm(i)
    with pytest.raises(ValueError, match="ord"):
        xp.linalg.matrix_norm(x, ord=3)


def _spd(rng, n, batch=()):
    a = randn(rng, batch + (n, n))
    return (a @ np.swapaxes(a, -1, -2) + n * np.eye(n)).astype(np.float32)


def test_host_path_decompositions_match_and_warn(dev, rng):
    a = randn(rng, (2, 4, 4))
    s = _spd(rng, 4, (2,))
    rect = randn(rng, (2, 5, 3))
    cases = [
        ("cholesky", (s,), {}), ("cholesky", (s,), {"upper": True}), ("det", (a,), {}),
        ("slogdet", (a,), {}), ("eigh", (s,), {}), ("eigvalsh", (s,), {}), ("inv", (a,), {}),
        ("pinv", (rect,), {}), ("matrix_rank", (rect,), {}), ("qr", (rect,), {}),
        ("qr", (rect,), {"mode": "complete"}), ("svd", (rect,), {}),
        ("svd", (rect,), {"full_matrices": False}), ("svdvals", (rect,), {}),
        ("solve", (a, randn(rng, (2, 4, 2))), {}),
        ("solve", (a[0], randn(rng, 4)), {}),
        ("matrix_power", (a, -2), {}),
    ]
    for name, args, kw in cases:
        ours_args = [xp.asarray(v) if isinstance(v, np.ndarray) else v for v in args]
        ref_args = [strict.asarray(v) if isinstance(v, np.ndarray) else v for v in args]
        with pytest.warns(PerformanceWarning, match=f"linalg.(inv|{name}) runs on the host"):
            ours = getattr(xp.linalg, name)(*ours_args, **kw)
        ref = getattr(strict.linalg, name)(*ref_args, **kw)
        if isinstance(ref, tuple):
            assert type(ours).__name__ == type(ref).__name__ and ours._fields == ref._fields
            for o, r in zip(ours, ref):
                same(o, r, rtol=1e-5, atol=1e-6)
        else:
            same(ours, ref, rtol=1e-5, atol=1e-6)


def test_host_path_keeps_dtype_and_refuses_ints(dev, rng):
    a = randn(rng, (3, 3)).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PerformanceWarning)
        out = xp.linalg.inv(xp.asarray(a))
        assert out.dtype is xp.float32 and out.device is dev
        np.testing.assert_allclose(host(out), np.linalg.inv(a), rtol=1e-5)
        with pytest.raises(TypeError, match="floating"):
            xp.linalg.det(xp.asarray(np.eye(2, dtype=np.int64)))
        with pytest.raises(ValueError, match="square"):
            xp.linalg.inv(xp.ones((2, 3)))
        with pytest.raises(ValueError, match="mode"):
            xp.linalg.qr(xp.ones((2, 2)), mode="r")


def test_matrix_power_on_device(dev, rng):
    a = randn(rng, (2, 3, 3))
    x, r = pair(a)
    with warnings.catch_warnings():
        warnings.simplefilter("error", PerformanceWarning)     # n >= 0 never leaves the device
        for n in (0, 1, 2, 5):
            same(xp.linalg.matrix_power(x, n), strict.linalg.matrix_power(r, n), rtol=1e-4,
                 atol=1e-5)
    with pytest.raises(ValueError, match="square"):
        xp.linalg.matrix_power(xp.ones((2, 3)), 2)


def test_fft_extension(dev):
    for n in (1, 4, 7):
        for d in (1.0, 0.5):
            same(xp.fft.fftfreq(n, d=d), strict.fft.fftfreq(n, d=d), rtol=1e-6, dtype=False)
            same(xp.fft.rfftfreq(n, d=d), strict.fft.rfftfreq(n, d=d), rtol=1e-6, dtype=False)
    assert xp.fft.fftfreq(4).dtype is xp.float32
    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    x, r = pair(a)
    for axes in (None, 0, (1,), (0, 1)):
        same(xp.fft.fftshift(x, axes=axes), strict.fft.fftshift(r, axes=axes))
        same(xp.fft.ifftshift(x, axes=axes), strict.fft.ifftshift(r, axes=axes))
    for name in ("fft", "ifft", "fftn", "ifftn", "rfft", "irfft", "rfftn", "irfftn", "hfft",
                 "ihfft"):
        with pytest.raises(NotImplementedError, match="complex"):
            getattr(xp.fft, name)(x)
    with pytest.raises(ValueError):
        xp.fft.fftfreq(0)
