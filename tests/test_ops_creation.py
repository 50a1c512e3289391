"""Creation ops (full, zeros, ones, arange, linspace, logspace, eye) against numpy."""
from __future__ import annotations

import numpy as np
import pytest

from clt import dtypes as D
from clt.errors import DTypeError, ShapeError
from clt.ops import creation as C
from clt.ops.transfer import to_numpy
from tests.conftest import skip_if_no_fp64

ALL = [D.bool_, D.uint8, D.int8, D.int16, D.int32, D.int64, D.float16, D.float32, D.float64]


@pytest.mark.parametrize("dtype", ALL, ids=lambda d: d.name)
def test_full_zeros_ones_every_dtype(device, dtype):
    skip_if_no_fp64(device, dtype)
    for shape in [(), (0,), (3, 5)]:
        np.testing.assert_array_equal(to_numpy(C.full(device, shape, 1, dtype)),
                                      np.full(shape, 1, dtype.np))
    np.testing.assert_array_equal(to_numpy(C.zeros(device, (4,), dtype)), np.zeros(4, dtype.np))
    np.testing.assert_array_equal(to_numpy(C.ones(device, 4, dtype)), np.ones(4, dtype.np))


def test_full_infers_dtype(device):
    assert C.full(device, (2,), True).dtype is D.bool_
    assert C.full(device, (2,), 7).dtype is D.int64
    assert C.full(device, (2,), 2.5).dtype is D.get_default_dtype()
    assert C.zeros(device, (2,)).dtype is D.get_default_dtype()
    np.testing.assert_array_equal(to_numpy(C.full(device, (2, 2), -3)), np.full((2, 2), -3))


@pytest.mark.parametrize("args", [(10,), (2, 11), (2, 11, 3), (10, -3, -4), (-5, 5, 1),
                                  (0, 0), (5, 5, 2), (3, 4, 7)], ids=str)
def test_arange_int_matches_numpy(device, args):
    x = C.arange(device, *args)
    assert x.dtype is D.int64
    np.testing.assert_array_equal(to_numpy(x), np.arange(*args, dtype=np.int64))


@pytest.mark.parametrize("args", [(0.0, 1.0, 0.1), (1, 2.5, 0.5), (-1.0, -3.0, -0.3),
                                  (0, 1, 1 / 3)], ids=str)
def test_arange_float_length_and_values(device, args):
    x = C.arange(device, *args)
    assert x.dtype is D.get_default_dtype()
    ref = np.arange(*args, dtype=np.float64)
    h = to_numpy(x)
    assert h.shape == ref.shape          # ceil((end - start) / step), as torch and numpy
    np.testing.assert_allclose(h, ref, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("dtype", [D.uint8, D.int8, D.int16, D.int32, D.float16, D.float32,
                                   D.float64], ids=lambda d: d.name)
def test_arange_every_dtype(device, dtype):
    skip_if_no_fp64(device, dtype)
    x = C.arange(device, 1, 100, 3, dtype)
    assert x.dtype is dtype
    np.testing.assert_array_equal(to_numpy(x), np.arange(1, 100, 3).astype(dtype.np))


def test_arange_large_int64_exact(device):
    x = to_numpy(C.arange(device, 2 ** 40, 2 ** 40 + 5 * 2 ** 33, 2 ** 33))
    np.testing.assert_array_equal(x, np.arange(2 ** 40, 2 ** 40 + 5 * 2 ** 33, 2 ** 33))


@pytest.mark.parametrize("start,end,steps", [(0, 1, 5), (-2.5, 7, 11), (3, -3, 4), (1, 1, 3),
                                             (0, 1, 1), (0, 1, 0), (0, 1000, 1001)], ids=str)
def test_linspace_matches_numpy(device, start, end, steps):
    h = to_numpy(C.linspace(device, start, end, steps))
    ref = np.linspace(start, end, steps)
    assert h.shape == ref.shape
    np.testing.assert_allclose(h, ref, rtol=1e-6, atol=1e-6)
    if steps > 1:
        assert h[0] == np.float32(start) and h[-1] == np.float32(end)   # both ends exact


@pytest.mark.parametrize("dtype", [D.float64, D.float16, D.int64, D.int32, D.uint8],
                         ids=lambda d: d.name)
def test_linspace_dtypes(device, dtype):
    skip_if_no_fp64(device, dtype)
    h = to_numpy(C.linspace(device, 0, 10, 4, dtype))
    assert h.dtype == dtype.np
    ref = np.linspace(0, 10, 4)
    if dtype.is_floating_point:
        np.testing.assert_allclose(h, ref.astype(dtype.np), rtol=1e-3)
    else:
        np.testing.assert_array_equal(h, np.trunc(ref).astype(dtype.np))   # [0, 3, 6, 10]


def test_logspace_matches_numpy(device):
    np.testing.assert_allclose(to_numpy(C.logspace(device, 0, 3, 4)), [1, 10, 100, 1000],
                               rtol=1e-6)
    np.testing.assert_allclose(to_numpy(C.logspace(device, -1, 2, 7, base=2.0)),
                               np.logspace(-1, 2, 7, base=2.0), rtol=1e-6)
    np.testing.assert_array_equal(to_numpy(C.logspace(device, 0, 2, 3, dtype=D.int64)),
                                  [1, 10, 100])


@pytest.mark.parametrize("n,m", [(3, None), (2, 5), (5, 2), (0, 3), (1, 1)], ids=str)
@pytest.mark.parametrize("dtype", [D.float32, D.bool_, D.int64], ids=lambda d: d.name)
def test_eye_matches_numpy(device, n, m, dtype):
    x = C.eye(device, n, m, dtype)
    np.testing.assert_array_equal(to_numpy(x), np.eye(n, m, dtype=dtype.np))


def test_creation_errors(device):
    with pytest.raises(ValueError, match="step must be nonzero"):
        C.arange(device, 0, 5, 0)
    with pytest.raises(ValueError, match="upper bound and larger bound inconsistent with step "
                                         "sign"):
        C.arange(device, 0, 5, -1)
    with pytest.raises(ValueError, match="unsupported range: 0 -> inf"):
        C.arange(device, 0, float("inf"))
    with pytest.raises(DTypeError, match='"arange" is not implemented for bool'):
        C.arange(device, 5, dtype=D.bool_)
    with pytest.raises(TypeError, match="argument 'end' must be a number, not str"):
        C.arange(device, 0, "5")
    with pytest.raises(ValueError, match="number of steps must be non-negative"):
        C.linspace(device, 0, 1, -1)
    with pytest.raises(TypeError, match="argument 'steps' must be int, not float"):
        C.linspace(device, 0, 1, 2.0)
    with pytest.raises(ValueError, match="n must be greater or equal to 0, got -1"):
        C.eye(device, -1)
    with pytest.raises(ValueError, match="m must be greater or equal to 0, got -2"):
        C.eye(device, 2, -2)
    with pytest.raises(ShapeError, match="negative dimension"):
        C.full(device, (-1,), 0)
    with pytest.raises(ValueError, match="cannot fill int64 with nan"):
        C.full(device, (2,), float("nan"), D.int64)
    if not device.supports_fp64:
        with pytest.raises(DTypeError, match="float64"):
            C.zeros(device, (2,), D.float64)
