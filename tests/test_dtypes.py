"""dtype objects and PyTorch's type promotion rules."""
from __future__ import annotations

import numpy as np
import pytest

import clt
from clt import dtypes as D


def test_dtype_objects():
    assert clt.float32 == np.float32 and clt.float32 == "float32" and clt.float32 == D.float32
    assert clt.float == clt.float32 and clt.long == clt.int64 and clt.bool == D.bool_
    assert repr(clt.float16) == "clt.float16"
    assert clt.float64.itemsize == 8 and clt.float16.is_floating_point
    assert not clt.int8.is_floating_point and clt.int8.is_signed and not clt.uint8.is_signed
    with pytest.raises(clt.DTypeError, match="unsupported dtype complex64"):
        D.as_dtype(np.complex64)


@pytest.mark.parametrize("a,b,want", [
    ("bool", "bool", "bool"), ("bool", "uint8", "uint8"), ("uint8", "int8", "int16"),
    ("int16", "int32", "int32"), ("int32", "int64", "int64"), ("int64", "float16", "float16"),
    ("uint8", "float32", "float32"), ("float16", "float32", "float32"),
    ("float32", "float64", "float64"), ("bool", "float16", "float16")])
def test_promote_types(a, b, want):
    assert D.promote_types(a, b) is D.as_dtype(want)
    assert D.promote_types(b, a) is D.as_dtype(want)


def test_result_type_scalars_and_zero_dim(device):
    i8 = clt.tensor(np.array([1], np.int8), device=device)
    f16 = clt.tensor(np.array([1], np.float16), device=device)
    assert D.result_type(i8, 5) is clt.int8
    assert D.result_type(i8, 5.0) is clt.float32
    assert D.result_type(f16, 5.0) is clt.float16
    assert D.result_type(i8, True) is clt.int8
    assert D.result_type(clt.tensor(True, device=device), 3) is clt.int64
    assert D.result_type(i8, clt.tensor(np.float64(1.0), device=device)) is clt.float64 \
        if device.supports_fp64 else True
    assert D.result_type(f16, clt.tensor(1.0, device=device)) is clt.float16
    with pytest.raises(clt.DTypeError):
        D.result_type("a", i8)


def test_default_dtype_switch(device):
    try:
        clt.set_default_dtype(clt.float64)
        if device.supports_fp64:
            assert clt.tensor([1.0], device=device).dtype == clt.float64
    finally:
        clt.set_default_dtype(clt.float32)
    with pytest.raises(clt.DTypeError):
        clt.set_default_dtype(clt.int32)


@pytest.mark.parametrize("src", ["float32", "float16", "int32", "uint8", "bool", "int64"])
@pytest.mark.parametrize("dst", ["float32", "float16", "int32", "int8", "bool", "int64"])
def test_casts_match_numpy(device, src, dst):
    vals = np.array([0, 1, -2, 3.7, -3.7, 100], np.float64)
    x = vals.astype(src)
    got = clt.tensor(x, device=device).to(dst).numpy()
    with np.errstate(invalid="ignore", over="ignore"):
        want = x.astype(dst)
    if src in ("float32", "float16") and dst in ("int8", "uint8"):
        want = np.trunc(x).astype(np.int64).astype(dst)
    np.testing.assert_array_equal(got, want)
