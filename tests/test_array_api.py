"""Conformance of ``clt.array_api`` with the array API standard (2023.12), checked against
``array_api_strict``, the reference implementation: the namespace's names and signatures, result
dtypes and promotion tables, broadcasting, copy semantics, special values (NaN, inf, signed
zeros) and empty arrays, with hypothesis drawing shapes and values.

Kernel builds dominate the run time on a cold cache, so values are checked on one dtype per
function (float32, or int64/bool where floats don't apply); dtype and promotion rules are
checked on every dtype pair with *empty* arrays, which decide the result dtype without
launching (or building) a kernel. Linalg and the Tensor protocol live in
test_array_api_linalg.py, scikit-learn in test_array_api_sklearn.py.
"""
from __future__ import annotations

import inspect
import math

import numpy as np
import pytest

strict = pytest.importorskip("array_api_strict")
hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.extra import numpy as hnp  # noqa: E402

import clt  # noqa: E402
import clt.array_api as xp  # noqa: E402

SETTINGS = settings(max_examples=15, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])

# -----------------------------------------------------------------------------------------------
# the standard, 2023.12 revision

STANDARD_2023_12 = """
e inf nan newaxis pi
arange asarray empty empty_like eye from_dlpack full full_like linspace meshgrid ones ones_like
tril triu zeros zeros_like
astype can_cast finfo iinfo isdtype result_type
bool int8 int16 int32 int64 uint8 uint16 uint32 uint64 float32 float64 complex64 complex128
abs acos acosh add asin asinh atan atan2 atanh bitwise_and bitwise_left_shift bitwise_invert
bitwise_or bitwise_right_shift bitwise_xor ceil clip conj copysign cos cosh divide equal exp
expm1 floor floor_divide greater greater_equal hypot imag isfinite isinf isnan less less_equal
log log1p log2 log10 logaddexp logical_and logical_not logical_or logical_xor maximum minimum
multiply negative not_equal positive pow real remainder round sign signbit sin sinh square sqrt
subtract tan tanh trunc
take __array_namespace_info__ matmul matrix_transpose tensordot vecdot
broadcast_arrays broadcast_to concat expand_dims flip moveaxis permute_dims repeat reshape roll
squeeze stack tile unstack
argmax argmin nonzero searchsorted where unique_all unique_counts unique_inverse unique_values
argsort sort cumulative_sum max mean min prod std sum var all any
""".split()
LINALG_2023_12 = """cholesky cross det diagonal eigh eigvalsh inv matmul matrix_norm matrix_power
matrix_rank matrix_transpose outer pinv qr slogdet solve svd svdvals tensordot trace vecdot
vector_norm""".split()
FFT_2023_12 = """fft ifft fftn ifftn rfft irfft rfftn irfftn hfft ihfft fftfreq rfftfreq fftshift
ifftshift""".split()
# documented deviations (docs/array_api.md): dtypes clt does not have
MISSING_DTYPES = {"uint16", "uint32", "uint64", "complex64", "complex128"}
# later revisions' functions the namespace also has
EXTRAS = ["cumulative_prod", "count_nonzero", "take_along_axis", "reciprocal", "nextafter"]

DTYPES = ["bool", "int8", "int16", "int32", "int64", "uint8", "float32", "float64"]


@pytest.fixture(scope="module", autouse=True)
def strict_2023_12():
    strict.set_array_api_strict_flags(api_version="2023.12")
    yield
    strict.reset_array_api_strict_flags()


@pytest.fixture(scope="module")
def dev():
    d = clt.get_default_device()
    if not d.info.fp64:
        pytest.skip("the reference comparisons use float64 (device lacks cl_khr_fp64)")
    return d


def pair(a, device=None):
    """The same host data as a clt array and an array_api_strict array."""
    a = np.asarray(a)
    return xp.asarray(a, device=device), strict.asarray(a)


def host(x):
    return x.numpy() if isinstance(x, clt.Tensor) else np.from_dlpack(x)


def same(ours, ref, *, rtol=3e-6, atol=0.0, dtype=True, zeros=False):
    """``ours`` (clt) equals ``ref`` (strict) in shape, dtype and values (NaN == NaN)."""
    assert isinstance(ours, clt.Tensor), type(ours)
    o, r = host(ours), host(ref)
    assert o.shape == r.shape, (o.shape, r.shape)
    if dtype:
        assert o.dtype == r.dtype, (o.dtype, r.dtype)
    if r.dtype.kind == "f":
        np.testing.assert_allclose(o.astype(r.dtype), r, rtol=rtol, atol=atol, equal_nan=True)
        if zeros:
            z = (r == 0)
            np.testing.assert_array_equal(np.signbit(o[z]), np.signbit(r[z]),
                                          err_msg="signed zeros differ")
    else:
        np.testing.assert_array_equal(o, r)


def layout(a, how):
    """``a`` on the device in the requested memory layout (values unchanged)."""
    a = np.asarray(a)
    if how == "transposed" and a.ndim >= 2:
        return xp.permute_dims(xp.asarray(np.ascontiguousarray(a.T)), tuple(range(a.ndim))[::-1])
    if how == "strided" and a.ndim >= 1:
        return xp.asarray(np.repeat(a, 2, axis=0))[::2]
    return xp.asarray(a)


LAYOUTS = st.sampled_from(["contiguous", "transposed", "strided"])
SPECIAL = [0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 2.5, -3.0, np.inf, -np.inf, np.nan]
F32 = st.one_of(st.floats(-20, 20, width=32), st.sampled_from(SPECIAL))
SHAPES = hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4)


# -----------------------------------------------------------------------------------------------
# names, signatures, the namespace protocol

def test_namespace_has_every_standard_name():
    missing = [n for n in STANDARD_2023_12 if not hasattr(xp, n) and n not in MISSING_DTYPES]
    assert not missing
    assert not [n for n in MISSING_DTYPES if hasattr(xp, n)]
    assert [n for n in LINALG_2023_12 if not hasattr(xp.linalg, n)] == []
    assert [n for n in FFT_2023_12 if not hasattr(xp.fft, n)] == []
    assert all(hasattr(xp, n) for n in EXTRAS)
    assert xp.__array_api_version__ == "2023.12"
    assert set(xp.__all__) >= set(STANDARD_2023_12) - MISSING_DTYPES
    assert (xp.e, xp.pi, xp.newaxis) == (math.e, math.pi, None)
    assert math.isinf(xp.inf) and xp.inf > 0 and math.isnan(xp.nan)


def _callables():
    out = []
    for n in STANDARD_2023_12 + EXTRAS:
        f = getattr(xp, n, None)
        if callable(f) and not isinstance(f, clt.DType):
            out.append(("", n))
    out += [("linalg.", n) for n in LINALG_2023_12] + [("fft.", n) for n in FFT_2023_12]
    return out


_KIND_OK = {   # ours may be more permissive than the reference: callable in every way it is
    inspect.Parameter.POSITIONAL_ONLY: {inspect.Parameter.POSITIONAL_ONLY,
                                        inspect.Parameter.POSITIONAL_OR_KEYWORD},
    inspect.Parameter.KEYWORD_ONLY: {inspect.Parameter.KEYWORD_ONLY,
                                     inspect.Parameter.POSITIONAL_OR_KEYWORD},
}


@pytest.mark.parametrize("prefix,name", _callables(), ids=lambda v: v)
def test_signature_matches_reference(prefix, name):
    ours = getattr(xp.linalg if prefix == "linalg." else xp.fft if prefix == "fft." else xp,
                   name)
    ref = getattr(strict.linalg if prefix == "linalg." else strict.fft if prefix == "fft."
                  else strict, name)
    po, pr = inspect.signature(ours).parameters, inspect.signature(ref).parameters
    assert list(po) == list(pr), f"{prefix}{name}: {list(po)} != {list(pr)}"
    for p in pr.values():
        q = po[p.name]
        assert q.kind in _KIND_OK.get(p.kind, {p.kind}), f"{prefix}{name}({p.name}) kind"
        if p.default is not inspect.Parameter.empty and "Undef" not in repr(p.default):
            assert q.default == p.default, f"{prefix}{name}({p.name}) default"


def test_array_namespace_protocol(dev):
    x = xp.ones(3)
    assert x.__array_namespace__() is xp
    for version in (None, "2021.12", "2022.12", "2023.12"):
        assert x.__array_namespace__(api_version=version) is xp
    with pytest.raises(ValueError, match="2099.12"):
        x.__array_namespace__(api_version="2099.12")
    assert clt.ones(2).__array_namespace__() is xp       # every clt tensor has it
    y = xp.reshape(xp.arange(6, dtype=xp.float32), (2, 3))
    assert y.ndim == 2 and y.shape == (2, 3) and isinstance(y.shape, tuple)
    assert y.dtype == xp.float32 and y.device is dev
    assert y.mT.shape == (3, 2) and y.T.shape == (3, 2)
    assert y.to_device(dev) is y
    assert y.to_device(dev.id) is y
    with pytest.raises(ValueError, match="stream"):
        y.to_device(dev, stream=1)


def test_array_namespace_info(dev):
    info = xp.__array_namespace_info__()
    ref = strict.__array_namespace_info__()
    assert info.capabilities() == ref.capabilities()
    assert info.default_device() is clt.get_default_device()
    assert dev in info.devices()
    defaults = info.default_dtypes(device=dev)
    assert set(defaults) == set(ref.default_dtypes())
    assert defaults["real floating"] is xp.float32       # PyTorch's default (strict: float64)
    assert defaults["integral"] is xp.int64 and defaults["indexing"] is xp.int64
    assert defaults["complex floating"] is None
    assert set(info.dtypes(device=dev)) == set(DTYPES)
    for kind in ("bool", "signed integer", "unsigned integer", "integral", "real floating",
                 "numeric", ("bool", "real floating")):
        expect = {n for n in ref.dtypes(kind=kind) if n not in MISSING_DTYPES}
        assert set(info.dtypes(device=dev, kind=kind)) == expect, kind
    assert info.dtypes(kind="complex floating") == {}


# -----------------------------------------------------------------------------------------------
# dtypes: isdtype, can_cast, result_type, finfo/iinfo, astype

KINDS = ["bool", "signed integer", "unsigned integer", "integral", "real floating",
         "complex floating", "numeric"]


def test_isdtype_matches_reference():
    for name in DTYPES:
        for kind in KINDS + [(k, "bool") for k in KINDS] + DTYPES:
            rk = getattr(strict, kind) if kind in DTYPES else \
                tuple(k if k not in DTYPES else getattr(strict, k) for k in kind) \
                if isinstance(kind, tuple) else kind
            ok = getattr(xp, kind) if kind in DTYPES else kind
            assert xp.isdtype(getattr(xp, name), ok) == strict.isdtype(getattr(strict, name), rk)
    with pytest.raises(ValueError, match="unknown kind"):
        xp.isdtype(xp.int8, "integer")
    with pytest.raises(TypeError):
        xp.isdtype(xp.int8, 3)


def _strict_result(a, b):
    try:
        return strict.result_type(getattr(strict, a), getattr(strict, b))
    except TypeError:
        return None


def test_result_type_and_can_cast_tables():
    for a in DTYPES:
        for b in DTYPES:
            ref = _strict_result(a, b)
            ours = xp.result_type(getattr(xp, a), getattr(xp, b))
            if ref is not None:      # defined by the standard: must match
                assert ours.name == np.dtype(ref._np_dtype).name, (a, b)
            else:                    # mixed kinds: PyTorch's choice
                assert ours is clt.promote_types(getattr(xp, a), getattr(xp, b)), (a, b)
            assert xp.can_cast(getattr(xp, a), getattr(xp, b)) == \
                strict.can_cast(getattr(strict, a), getattr(strict, b)), (a, b)
    x8 = xp.asarray([1], dtype=xp.int8)
    assert xp.result_type(x8, xp.asarray(1, dtype=xp.int64)) is xp.int64   # 0-d counts
    assert xp.result_type(x8, 1) is xp.int8 and xp.result_type(x8, 1.0) is xp.float32
    assert xp.result_type(xp.bool, True) is xp.bool
    assert xp.can_cast(x8, xp.int16)
    with pytest.raises(TypeError):
        xp.result_type()
    with pytest.raises(TypeError, match="complex"):
        xp.result_type(x8, 1j)


def test_finfo_iinfo_match_reference():
    for name in ("float32", "float64"):
        o, r = xp.finfo(getattr(xp, name)), strict.finfo(getattr(strict, name))
        for attr in ("bits", "eps", "max", "min", "smallest_normal"):
            assert getattr(o, attr) == getattr(r, attr), (name, attr)
        assert o.dtype is getattr(xp, name)
    assert xp.finfo(xp.ones(1)).bits == 32
    for name in ("int8", "int16", "int32", "int64", "uint8"):
        o, r = xp.iinfo(getattr(xp, name)), strict.iinfo(getattr(strict, name))
        assert (o.bits, o.max, o.min) == (r.bits, r.max, r.min)
    with pytest.raises(TypeError, match="floating"):
        xp.finfo(xp.int32)
    with pytest.raises(TypeError, match="integer"):
        xp.iinfo(xp.float32)


def test_astype_copy_and_device(dev):
    x = xp.asarray([1.5, -2.5, 3.0])
    assert xp.astype(x, xp.float32, copy=False) is x
    y = xp.astype(x, xp.float32)
    assert y is not x and y._data.storage is not x._data.storage
    ref = strict.asarray([1.5, -2.5, 3.0], dtype=strict.float32)
    same(xp.astype(x, xp.int64), strict.astype(ref, strict.int64))
    same(xp.astype(x, xp.bool), strict.astype(strict.asarray([1.5, -2.5, 3.0]), strict.bool))
    assert xp.astype(x, xp.float32, copy=False, device=dev) is x


def test_binary_promotion_on_every_dtype_pair(dev):
    """Result dtypes of arithmetic on empty arrays: rank never matters (unlike PyTorch)."""
    for a in DTYPES:
        for b in DTYPES:
            ref = _strict_result(a, b)
            if ref is None or "bool" in (a, b):
                continue
            want = np.dtype(ref._np_dtype).name
            for sa, sb in (((0,), (0,)), ((0,), ()), ((), (0,))):
                x1 = xp.empty(sa, dtype=getattr(xp, a))     # empty(()) is uninitialised: no
                x2 = xp.empty(sb, dtype=getattr(xp, b))     # kernel, and neither has the op
                for fn in ("add", "multiply", "maximum", "subtract"):
                    out = getattr(xp, fn)(x1, x2)
                    assert out.dtype.name == want and out.shape == (0,), (fn, a, sa, b, sb)
                assert xp.equal(x1, x2).dtype is xp.bool
                assert xp.where(xp.empty((0,), dtype=xp.bool), x1, x2).dtype.name == want


# -----------------------------------------------------------------------------------------------
# creation

def test_asarray_copy_semantics(dev):
    x = xp.asarray([1.0, 2.0])
    assert xp.asarray(x) is x and xp.asarray(x, copy=False) is x
    c = xp.asarray(x, copy=True)
    assert c is not x and c._data.storage is not x._data.storage
    c[0] = 5.0
    assert float(x[0]) == 1.0
    with pytest.raises(ValueError, match="copy"):
        xp.asarray(x, dtype=xp.float64, copy=False)
    with pytest.raises(ValueError, match="host memory"):
        xp.asarray(np.ones(3), copy=False)
    assert xp.asarray(x, dtype=xp.float64).dtype is xp.float64
    with pytest.raises(TypeError, match="complex"):
        xp.asarray([1j])


@pytest.mark.parametrize("obj", [True, 3, 2.5, [1, 2], [[1.0, 2.0]], [True, False], [],
                                 np.arange(3, dtype=np.int16), np.float64(1.5),
                                 np.ones((2, 0), np.uint8)], ids=repr)
def test_asarray_infers_dtypes_as_the_reference(obj, dev):
    ours, ref = xp.asarray(obj), strict.asarray(obj)
    r = host(ref)
    want = "float32" if r.dtype == np.float64 and not isinstance(obj, (np.ndarray,
                                                                       np.generic)) else None
    same(ours, ref, dtype=want is None)
    if want:      # Python floats give the default floating dtype: float32 (strict: float64)
        assert ours.dtype.name == want


def test_ranges_and_fills(dev):
    same(xp.arange(5), strict.arange(5))
    same(xp.arange(2, 11, 3), strict.arange(2, 11, 3))
    same(xp.arange(5, 0, -2), strict.arange(5, 0, -2))
    same(xp.arange(5, 0), strict.arange(5, 0))                    # empty, no error
    same(xp.arange(0.0, 1.0, 0.25, dtype=xp.float32),
         strict.arange(0.0, 1.0, 0.25, dtype=strict.float32))
    same(xp.arange(0.5, 3, dtype=xp.float32), strict.arange(0.5, 3, dtype=strict.float32))
    assert xp.arange(1.0, 2.0, 0.5).dtype is xp.float32
    with pytest.raises(ValueError):
        xp.arange(0, 3, 0)
    f32 = strict.float32
    same(xp.linspace(0.0, 1.0, 5), strict.linspace(0.0, 1.0, 5, dtype=f32))
    same(xp.linspace(2, 3, 4, endpoint=False), strict.linspace(2, 3, 4, endpoint=False,
                                                               dtype=f32), rtol=1e-6)
    same(xp.linspace(0, 1, 0), strict.linspace(0, 1, 0, dtype=f32))
    same(xp.linspace(1, 2, 1), strict.linspace(1, 2, 1, dtype=f32))
    for n, m, k in ((3, None, 0), (3, 5, 2), (4, 2, -1), (2, 3, 7), (0, 0, 0)):
        same(xp.eye(n, m, k=k), strict.eye(n, m, k=k, dtype=f32))
    same(xp.full((2, 3), 7), strict.full((2, 3), 7))
    same(xp.full(2, True), strict.full(2, True))
    assert xp.full((1,), 1.5).dtype is xp.float32
    same(xp.zeros(3, dtype=xp.int64), strict.zeros(3, dtype=strict.int64))
    same(xp.ones((2, 2), dtype=xp.bool), strict.ones((2, 2), dtype=strict.bool))
    assert xp.empty((2, 0, 3)).shape == (2, 0, 3)
    a, r = pair(np.arange(6, dtype=np.int64).reshape(2, 3))
    same(xp.zeros_like(a), strict.zeros_like(r))
    same(xp.ones_like(a, dtype=xp.float32), strict.ones_like(r, dtype=strict.float32))
    same(xp.full_like(a, 4), strict.full_like(r, 4))
    assert xp.empty_like(a).shape == (2, 3) and xp.empty_like(a).dtype is xp.int64
    for k in (-1, 0, 1, 5):
        same(xp.tril(a, k=k), strict.tril(r, k=k))
        same(xp.triu(a, k=k), strict.triu(r, k=k))
    with pytest.raises(ValueError, match="negative"):
        xp.zeros((2, -1))


def test_meshgrid(dev):
    a, ra = pair(np.arange(3, dtype=np.int64))
    b, rb = pair(np.arange(2, dtype=np.int64) * 10)
    c, rc = pair(np.arange(4, dtype=np.int64))
    for indexing in ("xy", "ij"):
        for ours, ref in zip(xp.meshgrid(a, b, c, indexing=indexing),
                             strict.meshgrid(ra, rb, rc, indexing=indexing)):
            same(ours, ref)
    assert xp.meshgrid() == []
    with pytest.raises(ValueError, match="indexing"):
        xp.meshgrid(a, indexing="ji")


def test_dlpack(dev):
    x = xp.asarray([[1.0, 2.0], [3.0, 4.0]])
    np.testing.assert_array_equal(np.from_dlpack(x, device="cpu"), [[1, 2], [3, 4]])
    assert x.__dlpack_device__() == (4, dev.info.index)
    with pytest.raises(BufferError, match="OpenCL device memory"):
        np.from_dlpack(x)
    with pytest.raises(BufferError, match="copy"):
        x.__dlpack__(dl_device=(1, 0), copy=False)
    y = xp.from_dlpack(np.arange(4, dtype=np.int16))
    assert y.dtype is xp.int16 and y.tolist() == [0, 1, 2, 3]
    assert xp.from_dlpack(x) is x
    assert xp.from_dlpack(x, copy=True) is not x
    with pytest.raises(BufferError):
        xp.from_dlpack(np.ones(2), copy=False)
    same(xp.from_dlpack(strict.asarray([1.5, 2.5])), strict.asarray([1.5, 2.5]))


# -----------------------------------------------------------------------------------------------
# elementwise functions: values (hypothesis), special cases, signed zeros

FLOAT_UNARY = ["acos", "acosh", "asin", "asinh", "atan", "atanh", "cos", "cosh", "exp",
               "expm1", "log", "log1p", "log2", "log10", "sin", "sinh", "sqrt", "tan", "tanh",
               "abs", "ceil", "floor", "round", "trunc", "sign", "square", "negative",
               "positive", "isfinite", "isinf", "isnan", "signbit", "conj", "real"]
# results whose signed zeros follow the standard's special cases exactly
ZERO_EXACT_UNARY = {"asin", "asinh", "atan", "atanh", "expm1", "log1p", "sin", "sinh", "sqrt",
                    "tan", "tanh", "abs", "ceil", "floor", "round", "trunc", "negative",
                    "positive", "square"}
# ULP tolerance: OpenCL's float32 built-ins may differ from numpy by a few ulp
RTOL = {"cosh": 2e-6, "sinh": 2e-6, "exp": 2e-6, "expm1": 2e-6, "tan": 4e-6, "acosh": 2e-6}


@pytest.mark.parametrize("name", FLOAT_UNARY)
@SETTINGS
@given(data=hnp.arrays(np.float32, SHAPES, elements=F32), how=LAYOUTS)
def test_unary_float32(name, data, how, dev):
    with np.errstate(all="ignore"):
        ref = getattr(strict, name)(strict.asarray(data))
    same(getattr(xp, name)(layout(data, how)), ref, rtol=RTOL.get(name, 1e-6), atol=1e-7,
         zeros=name in ZERO_EXACT_UNARY)


def test_unary_special_values_and_signed_zeros(dev):
    data = np.array(SPECIAL + [1e-30, -1e-30, 1.5, -1.5, 3.5], np.float32)
    for name in FLOAT_UNARY:
        with np.errstate(all="ignore"):
            ref = getattr(strict, name)(strict.asarray(data))
        same(getattr(xp, name)(xp.asarray(data)), ref, rtol=RTOL.get(name, 1e-6), atol=0,
             zeros=name in ZERO_EXACT_UNARY)


# integer semantics only where they differ from the float kernels' (each costs a build)
INT_UNARY = ["abs", "sign", "negative", "bitwise_invert"]


@SETTINGS
@given(data=hnp.arrays(np.int64, SHAPES, elements=st.integers(-1000, 1000)))
def test_unary_int64(data, dev):
    x, r = xp.asarray(data), strict.asarray(data)
    for name in INT_UNARY:
        same(getattr(xp, name)(x), getattr(strict, name)(r))


def test_imag_of_real_input_is_zero(dev):
    # strict refuses real input; for real x the imaginary part is 0 (2024.12 allows it)
    x = xp.asarray([1.5, -np.inf, np.nan])
    out = xp.imag(x)
    assert out.dtype is xp.float32 and out.tolist() == [0.0, 0.0, 0.0]


def test_unary_bool(dev):
    x, r = pair(np.array([[True, False], [False, False]]))
    for name in ("logical_not", "bitwise_invert"):
        same(getattr(xp, name)(x), getattr(strict, name)(r))


FLOAT_BINARY = ["add", "subtract", "multiply", "divide", "floor_divide", "remainder", "pow",
                "maximum", "minimum", "atan2", "hypot", "copysign", "logaddexp", "equal",
                "not_equal", "greater", "greater_equal", "less", "less_equal"]
ZERO_EXACT_BINARY = {"add", "subtract", "multiply", "divide", "floor_divide", "remainder",
                     "atan2", "copysign", "pow"}


@pytest.mark.parametrize("name", FLOAT_BINARY)
@SETTINGS
@given(shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=3, max_side=3),
       data=st.data(), how=LAYOUTS)
def test_binary_float32(name, shapes, data, how, dev):
    s1, s2 = shapes.input_shapes
    a = data.draw(hnp.arrays(np.float32, s1, elements=F32), label="x1")
    b = data.draw(hnp.arrays(np.float32, s2, elements=F32), label="x2")
    with np.errstate(all="ignore"):
        ref = getattr(strict, name)(strict.asarray(a), strict.asarray(b))
    rtol = 3e-6 if name in ("pow", "logaddexp", "hypot", "atan2") else 1e-6
    same(getattr(xp, name)(layout(a, how), xp.asarray(b)), ref, rtol=rtol, atol=1e-7)


def test_binary_special_values_and_signed_zeros(dev):
    """Every pair of special values (NaN, +-inf, +-0, ...), signed zeros included."""
    v = np.array(SPECIAL, np.float32)
    a, b = np.repeat(v, len(v)), np.tile(v, len(v))
    for name in FLOAT_BINARY:
        with np.errstate(all="ignore"):
            ref = getattr(strict, name)(strict.asarray(a), strict.asarray(b))
        same(getattr(xp, name)(xp.asarray(a), xp.asarray(b)), ref, rtol=3e-6,
             zeros=name in ZERO_EXACT_BINARY)


INT_BINARY = ["add", "floor_divide", "remainder", "bitwise_and", "bitwise_or", "bitwise_xor"]


@SETTINGS
@given(shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=3, max_side=3),
       data=st.data())
def test_binary_int64(shapes, data, dev):
    s1, s2 = shapes.input_shapes
    a = data.draw(hnp.arrays(np.int64, s1, elements=st.integers(-500, 500)), label="x1")
    b = data.draw(hnp.arrays(np.int64, s2, elements=st.integers(-500, 500).filter(bool)),
                  label="x2")
    x1, x2 = xp.asarray(a), xp.asarray(b)
    r1, r2 = strict.asarray(a), strict.asarray(b)
    for name in INT_BINARY:
        same(getattr(xp, name)(x1, x2), getattr(strict, name)(r1, r2))
    sh = data.draw(hnp.arrays(np.int64, s2, elements=st.integers(0, 40)), label="shift")
    for name in ("bitwise_left_shift", "bitwise_right_shift"):
        same(getattr(xp, name)(x1, xp.asarray(sh)), getattr(strict, name)(r1, strict.asarray(sh)))
    ex = data.draw(hnp.arrays(np.int64, s2, elements=st.integers(0, 5)), label="exponent")
    same(xp.pow(x1, xp.asarray(ex)), strict.pow(r1, strict.asarray(ex)))


def test_logical_bool(dev):
    a = np.array([True, True, False, False])
    b = np.array([True, False, True, False])
    for name in ("logical_and", "logical_or", "logical_xor", "bitwise_xor"):
        same(getattr(xp, name)(xp.asarray(a), xp.asarray(b)),
             getattr(strict, name)(strict.asarray(a), strict.asarray(b)))


def test_python_scalars_and_zero_d_promotion(dev):
    x8 = xp.asarray([1, 2, 100], dtype=xp.int8)
    big = xp.asarray(1000, dtype=xp.int64)
    out = xp.add(x8, big)                    # the 0-d int64 counts: int64, no wrap
    assert out.dtype is xp.int64 and out.tolist() == [1001, 1002, 1100]
    f32, f64 = xp.empty((0,)), xp.empty((), dtype=xp.float64)
    assert xp.multiply(f32, f64).dtype is xp.float64
    assert xp.where(xp.empty((0,), dtype=xp.bool), f32, f64).dtype is xp.float64
    assert xp.add(f32, 1).dtype is xp.float32 and xp.add(1.5, f32).dtype is xp.float32
    assert xp.add(xp.empty((0,), dtype=xp.int8), 3).dtype is xp.int8
    assert xp.add(f32, xp.empty((), dtype=xp.int8)).dtype is xp.float32
    assert xp.multiply(f32, np.float32(2)).dtype is xp.float32   # numpy scalars act as Python's
    # operators keep PyTorch's rule (a documented deviation)
    assert (f32 * f64).dtype is xp.float32
    with pytest.raises(TypeError, match="at least one array"):
        xp.add(1, 2)
    with pytest.raises(TypeError, match="complex"):
        xp.add(f32, 1j)


def test_clip(dev):
    a = np.array([-5, -1, 0, 3, 9], np.int64)
    x, r = pair(a)
    same(xp.clip(x, -2, 4), strict.clip(r, -2, 4))
    same(xp.clip(x, max=1), strict.clip(r, max=1))
    same(xp.clip(x), strict.clip(r))
    lo, rlo = pair(np.array([0, 0, 1, 1, 1], np.int64))
    same(xp.clip(x, lo, 2), strict.clip(r, rlo, 2))
    i8, r8 = pair(a.astype(np.int8))
    same(xp.clip(i8, -1000, 1000), strict.clip(r8, -1000, 1000))   # bounds beyond int8
    f, rf = pair(np.array([np.nan, -np.inf, 0.5, 2.0, -0.0], np.float32))
    same(xp.clip(f, 0.0, 1.0), strict.clip(rf, 0.0, 1.0))


def test_extra_elementwise(dev):
    a, ra = pair(np.array([0.5, -2.0, 4.0], np.float32))
    b = np.array([1.0, -np.inf, 4.0], np.float32)
    strict.set_array_api_strict_flags(api_version="2024.12")
    try:
        same(xp.reciprocal(a), strict.reciprocal(ra))
        same(xp.nextafter(a, xp.asarray(b)), strict.nextafter(ra, strict.asarray(b)))
    finally:
        strict.set_array_api_strict_flags(api_version="2023.12")


# -----------------------------------------------------------------------------------------------
# statistics and utilities

AXES = st.sampled_from([None, 0, -1, (0, -1), (), (1,)])


def _axis_ok(axis, ndim):
    items = () if axis is None else axis if isinstance(axis, tuple) else (axis,)
    return all(-ndim <= a < ndim for a in items) and len({a % ndim for a in items}) == len(items)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")     # numpy on empty slices
@SETTINGS
@given(data=hnp.arrays(np.float32, hnp.array_shapes(min_dims=1, max_dims=3, min_side=0,
                                                    max_side=4),
                       elements=st.floats(-10, 10, width=32)),
       axis=AXES, keepdims=st.booleans(), how=LAYOUTS)
def test_float_reductions(data, axis, keepdims, how, dev):
    hypothesis.assume(_axis_ok(axis, data.ndim))
    x, r = layout(data, how), strict.asarray(data)
    kw = dict(axis=axis, keepdims=keepdims)
    with np.errstate(all="ignore"):
        for name in ("sum", "prod", "mean", "all", "any"):
            same(getattr(xp, name)(x, **kw), getattr(strict, name)(r, **kw), rtol=2e-5,
                 atol=2e-5)
        for c in (0.0, 1.0):
            same(xp.var(x, correction=c, **kw), strict.var(r, correction=c, **kw), rtol=2e-4,
                 atol=1e-5)
            same(xp.std(x, correction=c, **kw), strict.std(r, correction=c, **kw), rtol=2e-4,
                 atol=1e-5)
        for name in ("max", "min"):
            try:
                ref = getattr(strict, name)(r, **kw)
            except ValueError:
                with pytest.raises(ValueError):
                    getattr(xp, name)(x, **kw)
                continue
            same(getattr(xp, name)(x, **kw), ref)


@SETTINGS
@given(data=hnp.arrays(np.int64, hnp.array_shapes(min_dims=1, max_dims=3, min_side=0,
                                                  max_side=4),
                       elements=st.integers(-50, 50)),
       axis=AXES, keepdims=st.booleans())
def test_int_reductions(data, axis, keepdims, dev):
    hypothesis.assume(_axis_ok(axis, data.ndim))
    x, r = xp.asarray(data), strict.asarray(data)
    kw = dict(axis=axis, keepdims=keepdims)
    for name in ("sum", "prod"):
        same(getattr(xp, name)(x, **kw), getattr(strict, name)(r, **kw))
    same(xp.sum(x, dtype=xp.float32, **kw), strict.sum(r, dtype=strict.float32, **kw))
    if data.size and (axis is None or all(data.shape[a] for a in np.atleast_1d(axis))):
        same(xp.max(x, **kw), strict.max(r, **kw))


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_reduction_special_cases(dev):
    x, r = pair(np.array([[1.0, np.nan, 2.0], [np.inf, -np.inf, 0.0]], np.float32))
    for name in ("sum", "prod", "mean", "max", "min", "all", "any"):
        for axis in (None, 0, 1):
            with np.errstate(all="ignore"):
                same(getattr(xp, name)(x, axis=axis), getattr(strict, name)(r, axis=axis))
    e, re_ = pair(np.zeros((0, 3), np.float32))
    for name in ("sum", "prod", "mean", "all", "any"):
        with np.errstate(all="ignore"):
            same(getattr(xp, name)(e, axis=0), getattr(strict, name)(re_, axis=0))
            same(getattr(xp, name)(e), getattr(strict, name)(re_))
    with pytest.raises(ValueError):
        xp.max(e)
    assert xp.sum(xp.empty((0,), dtype=xp.bool)).dtype is xp.int64   # strict refuses bool
    # documented: no uint64 in clt, so uint8 sums are int64 (strict: uint64)
    assert xp.sum(xp.empty((0,), dtype=xp.uint8)).dtype is xp.int64
    with pytest.raises(TypeError, match="floating"):
        xp.mean(xp.asarray([1, 2]))
    with pytest.raises(IndexError):
        xp.sum(x, axis=2)
    with pytest.raises(ValueError, match="repeated"):
        xp.sum(x, axis=(0, -2))


@SETTINGS
@given(data=hnp.arrays(np.float32, hnp.array_shapes(min_dims=1, max_dims=3, min_side=0,
                                                    max_side=4),
                       elements=st.floats(-5, 5, width=32)),
       axis=st.integers(-3, 2), include_initial=st.booleans())
def test_cumulative_sum(data, axis, include_initial, dev):
    hypothesis.assume(-data.ndim <= axis < data.ndim)
    x, r = xp.asarray(data), strict.asarray(data)
    same(xp.cumulative_sum(x, axis=axis, include_initial=include_initial),
         strict.cumulative_sum(r, axis=axis, include_initial=include_initial), rtol=1e-5,
         atol=1e-5)
    i, ri = pair((data * 3).astype(np.int64))
    same(xp.cumulative_sum(i, axis=axis, include_initial=include_initial),
         strict.cumulative_sum(ri, axis=axis, include_initial=include_initial))


def test_cumulative_sum_rules(dev):
    x = xp.asarray([True, True, False])        # strict refuses bool; numpy's rule: int64
    assert xp.cumulative_sum(x).tolist() == [1, 2, 2] and xp.cumulative_sum(x).dtype is xp.int64
    with pytest.raises(ValueError, match="axis"):
        xp.cumulative_sum(xp.ones((2, 2)))
    strict.set_array_api_strict_flags(api_version="2024.12")
    try:
        f, rf = pair(np.array([[1.0, 2.0], [3.0, 4.0]], np.float32))
        same(xp.cumulative_prod(f, axis=1, include_initial=True),
             strict.cumulative_prod(rf, axis=1, include_initial=True))
        same(xp.count_nonzero(f, axis=0, keepdims=True),
             strict.count_nonzero(rf, axis=0, keepdims=True))
    finally:
        strict.set_array_api_strict_flags(api_version="2023.12")


# -----------------------------------------------------------------------------------------------
# searching, sorting, sets

@SETTINGS
@given(data=hnp.arrays(np.float32, hnp.array_shapes(min_dims=1, max_dims=3, min_side=1,
                                                    max_side=4),
                       elements=st.sampled_from([0.0, 1.0, -1.0, 2.0, np.nan, -np.inf])),
       axis=st.sampled_from([None, 0, -1]), keepdims=st.booleans(),
       descending=st.booleans(), how=LAYOUTS)
def test_search_and_sort(data, axis, keepdims, descending, how, dev):
    x, r = layout(data, how), strict.asarray(data)
    for name in ("argmax", "argmin"):
        same(getattr(xp, name)(x, axis=axis, keepdims=keepdims),
             getattr(strict, name)(r, axis=axis, keepdims=keepdims))
    ax = -1 if axis is None else axis
    same(xp.sort(x, axis=ax, descending=descending),
         strict.sort(r, axis=ax, descending=descending))
    same(xp.argsort(x, axis=ax, descending=descending),        # stable: ties keep their order
         strict.argsort(r, axis=ax, descending=descending))
    for ours, ref in zip(xp.nonzero(x), strict.nonzero(r)):
        same(ours, ref)


@SETTINGS
@given(data=hnp.arrays(np.float32, hnp.array_shapes(min_dims=0, max_dims=3, min_side=0,
                                                    max_side=4),
                       elements=st.sampled_from([0.0, -0.0, 1.0, 2.5, -1.0, np.nan, np.inf])))
def test_unique(data, dev):
    x, r = xp.asarray(data), strict.asarray(data)
    same(xp.unique_values(x), strict.unique_values(r))
    for ours, ref in zip(xp.unique_counts(x), strict.unique_counts(r)):
        same(ours, ref)
    for ours, ref in zip(xp.unique_inverse(x), strict.unique_inverse(r)):
        same(ours, ref)
    for ours, ref in zip(xp.unique_all(x), strict.unique_all(r)):
        same(ours, ref)
    res = xp.unique_all(x)
    assert res._fields == ("values", "indices", "inverse_indices", "counts")
    if data.size:     # values[inverse] rebuilds x
        np.testing.assert_array_equal(host(res.values)[host(res.inverse_indices)], data)


def test_unique_ints(dev):
    x, r = pair(np.array([[3, 1, 3], [2, 1, 1]], np.int64))
    for ours, ref in zip(xp.unique_all(x), strict.unique_all(r)):
        same(ours, ref)


@SETTINGS
@given(sorted_=hnp.arrays(np.float32, st.integers(0, 6),
                          elements=st.sampled_from([0.0, 1.0, 2.0, 3.0, np.nan])),
       values=hnp.arrays(np.float32, hnp.array_shapes(min_dims=0, max_dims=2, max_side=3),
                         elements=st.sampled_from([-1.0, 0.0, 0.5, 1.0, 3.0, 9.0, np.nan])),
       side=st.sampled_from(["left", "right"]))
def test_searchsorted(sorted_, values, side, dev):
    s = np.sort(sorted_)
    same(xp.searchsorted(xp.asarray(s), xp.asarray(values), side=side),
         strict.searchsorted(strict.asarray(s), strict.asarray(values), side=side))
    perm = np.argsort(s)[::-1].copy()
    shuffled = s[perm]
    same(xp.searchsorted(xp.asarray(shuffled), xp.asarray(values), side=side,
                         sorter=xp.asarray(np.argsort(shuffled, kind="stable"))),
         strict.searchsorted(strict.asarray(shuffled), strict.asarray(values), side=side,
                             sorter=strict.asarray(np.argsort(shuffled, kind="stable"))))


def test_where_and_take(dev):
    c = np.array([[True, False, True]])
    a, b = np.arange(3, dtype=np.float32), np.array([[10.0], [20.0]], np.float32)
    same(xp.where(xp.asarray(c), xp.asarray(a), xp.asarray(b)),
         strict.where(strict.asarray(c), strict.asarray(a), strict.asarray(b)))
    m, rm = pair(np.arange(12, dtype=np.int64).reshape(3, 4))
    idx = np.array([2, -1, 0, 0], np.int64)
    same(xp.take(m, xp.asarray(idx), axis=1), strict.take(rm, strict.asarray(idx), axis=1))
    same(xp.take(m, xp.asarray(idx[:3]), axis=0),
         strict.take(rm, strict.asarray(idx[:3]), axis=0))
    v, rv = pair(np.array([5.0, 6.0, 7.0], np.float32))
    same(xp.take(v, xp.asarray(np.array([1, 1], np.int32))),
         strict.take(rv, strict.asarray(np.array([1, 1], np.int32))))
    with pytest.raises(ValueError, match="axis"):
        xp.take(m, xp.asarray(idx))
    ti = np.array([[0, 3], [1, -1], [2, 2]], np.int64)
    strict.set_array_api_strict_flags(api_version="2024.12")
    try:
        same(xp.take_along_axis(m, xp.asarray(ti), axis=1),
             strict.take_along_axis(rm, strict.asarray(ti), axis=1))
    finally:
        strict.set_array_api_strict_flags(api_version="2023.12")
    with pytest.raises(ValueError, match="0-d"):
        xp.nonzero(xp.asarray(1.0))


# -----------------------------------------------------------------------------------------------
# manipulation

def test_manipulation(dev):
    a = np.arange(24, dtype=np.int64).reshape(2, 3, 4)
    x, r = pair(a)
    same(xp.reshape(x, (4, -1)), strict.reshape(r, (4, -1)))
    v = xp.reshape(x, (6, 4), copy=False)
    assert v._data.storage is x._data.storage
    c = xp.reshape(x, (6, 4), copy=True)
    assert c._data.storage is not x._data.storage
    with pytest.raises(ValueError, match="copy=False"):
        xp.reshape(xp.permute_dims(x, (2, 1, 0)), (24,), copy=False)
    same(xp.reshape(xp.permute_dims(x, (2, 1, 0)), (24,)),
         strict.reshape(strict.permute_dims(r, (2, 1, 0)), (24,)))
    same(xp.permute_dims(x, (1, 0, 2)), strict.permute_dims(r, (1, 0, 2)))
    same(xp.moveaxis(x, 0, -1), strict.moveaxis(r, 0, -1))
    same(xp.moveaxis(x, (0, 1), (2, 0)), strict.moveaxis(r, (0, 1), (2, 0)))
    same(xp.expand_dims(x, axis=-1), strict.expand_dims(r, axis=-1))
    same(xp.expand_dims(x, axis=0), strict.expand_dims(r, axis=0))
    one = xp.expand_dims(x, axis=1)
    same(xp.squeeze(one, axis=1), strict.squeeze(strict.expand_dims(r, axis=1), axis=1))
    with pytest.raises(ValueError, match="size"):
        xp.squeeze(x, axis=0)
    for axis in (None, 0, (0, 2), -1):
        same(xp.flip(x, axis=axis), strict.flip(r, axis=axis))
    for shift, axis in ((2, None), (-1, 0), ((1, 2), (0, 2)), (5, 1)):
        same(xp.roll(x, shift, axis=axis), strict.roll(r, shift, axis=axis))
    same(xp.tile(x, (2, 1)), strict.tile(r, (2, 1)))
    same(xp.tile(x, (2, 1, 1, 2)), strict.tile(r, (2, 1, 1, 2)))
    for reps, axis in ((2, None), (3, 1), (0, 2)):
        same(xp.repeat(x, reps, axis=axis), strict.repeat(r, reps, axis=axis))
    counts = np.array([1, 0, 2], np.int64)
    same(xp.repeat(x, xp.asarray(counts), axis=1), strict.repeat(r, strict.asarray(counts),
                                                                 axis=1))
    for axis in (0, 1, -1):
        same(xp.concat([x, x], axis=axis), strict.concat([r, r], axis=axis))
        same(xp.stack([x, x, x], axis=axis), strict.stack([r, r, r], axis=axis))
        for ours, ref in zip(xp.unstack(x, axis=axis), strict.unstack(r, axis=axis)):
            same(ours, ref)
    same(xp.concat([x, x], axis=None), strict.concat([r, r], axis=None))
    f, rf = pair(np.ones((2, 1, 4), np.int64))
    same(xp.concat([x, f], axis=1), strict.concat([r, rf], axis=1))
    assert xp.concat([xp.empty((0, 2), dtype=xp.int8),          # promotes (empty: no kernel)
                      xp.empty((0, 2), dtype=xp.int16)]).dtype is xp.int16
    same(xp.broadcast_to(f, (3, 2, 5, 4)), strict.broadcast_to(rf, (3, 2, 5, 4)))
    for ours, ref in zip(xp.broadcast_arrays(x, f), strict.broadcast_arrays(r, rf)):
        same(ours, ref)
    same(xp.matrix_transpose(x), strict.matrix_transpose(r))
    with pytest.raises(IndexError):
        xp.flip(x, axis=3)


@SETTINGS
@given(shapes=hnp.mutually_broadcastable_shapes(num_shapes=3, max_dims=4, max_side=3))
def test_broadcast_shapes_and_arrays(shapes, dev):
    arrays = [np.zeros(s, np.int8) for s in shapes.input_shapes]
    assert xp.broadcast_shapes(*shapes.input_shapes) == shapes.result_shape
    outs = xp.broadcast_arrays(*[xp.asarray(a) for a in arrays])
    assert [tuple(o.shape) for o in outs] == [shapes.result_shape] * 3


# -----------------------------------------------------------------------------------------------
# the namespace is clt: autograd flows through it, and every function is tested here

def test_autograd_through_the_namespace(dev):
    x = clt.tensor([1.0, -2.0, 3.0], requires_grad=True)
    xp.sum(xp.multiply(x, x)).backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0, -4.0, 6.0])


def test_every_function_is_exercised_by_the_tests():
    from pathlib import Path

    here = Path(__file__).parent
    text = "".join(p.read_text() for p in sorted(here.glob("test_array_api*.py")))
    names = [n for n in xp.__all__ if callable(getattr(xp, n)) and
             not isinstance(getattr(xp, n), clt.DType)]
    names += [f"linalg.{n}" for n in xp.linalg.__all__] + [f"fft.{n}" for n in xp.fft.__all__]
    untested = [n for n in names if f"xp.{n}(" not in text and f'"{n.split(".")[-1]}"' not in text]
    assert not untested


@pytest.mark.filterwarnings("ignore::RuntimeWarning")     # numpy: 0 / 0 in the reference
def test_array_object_indexing_and_operators(dev):
    a = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    x, r = pair(a)
    E = Ellipsis
    for key in ((1, E), (-1, E), (0, 2, E), (slice(None), 1, E), (E, 0),
                (slice(1, None), None, 2, E), (0, slice(0, 3, 2), E), (slice(1, 2), E), (E,)):
        same(x[key], r[key])
    mask = np.array([[True, False, True], [False, False, True]])
    same(x[xp.asarray(mask)], r[strict.asarray(mask)])           # boolean indexing
    with pytest.raises(IndexError):
        x[2]
    y, ry = pair(a.copy())
    y[0, 1, ...] = 5.0
    ry[0, 1, ...] = 5.0
    y[xp.asarray(mask)] = -1.0
    ry[strict.asarray(mask)] = -1.0
    same(y, ry)
    for op in ("__add__", "__sub__", "__mul__", "__truediv__", "__floordiv__", "__mod__",
               "__pow__", "__lt__", "__ge__", "__eq__", "__ne__"):
        same(getattr(x, op)(x), getattr(r, op)(r))
    same(x * 2.0, r * 2.0)
    same(2.0 - x, 2.0 - r)
    same(-x, -r)
    same(abs(-x), abs(-r))
    same(x @ xp.permute_dims(x, (0, 2, 1)), r @ strict.permute_dims(r, (0, 2, 1)))
    i, ri = pair(np.array([1, 2, 3], np.int64))
    j, rj = pair(np.array([2, 6, 1], np.int64))
    same(~i, ~ri)
    same(i << j, ri << rj)
    same(i & j, ri & rj)
    assert float(x[0, 0, 1]) == 1.0 and int(i[2]) == 3 and bool(x[0, 0, 1])
    assert [0, 1, 2, 3][i[1]] == 2                                 # __index__
    with pytest.raises((TypeError, ValueError, RuntimeError)):
        bool(x)


def test_array_api_compat_sees_the_namespace(dev):
    compat = pytest.importorskip("array_api_compat")
    x = xp.asarray([[1.0, 2.0]])
    assert compat.array_namespace(x) is xp
    assert compat.is_array_api_obj(x)
    assert compat.device(x) is dev
    assert compat.size(x) == 2
    assert compat.to_device(x, dev) is x
