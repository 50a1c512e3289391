"""Elementwise math against numpy: dtypes, broadcasting, views, empty and 0-d inputs, errors."""
from __future__ import annotations

import numpy as np
import pytest

import clt
from conftest import skip_if_no_fp64

ALL = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "float32", "float64"]


def host(shape, dtype, rng, low=-5, high=5):
    dt = np.dtype(dtype)
    if dt == np.bool_:
        return rng.random(shape) > 0.5
    if dt.kind in "iu":
        lo = 0 if dt.kind == "u" else low
        return rng.integers(lo, high, size=shape).astype(dt)
    return rng.uniform(low, high, size=shape).astype(dt)


def check(got, want, rtol=1e-5, atol=1e-6, dtype=None):
    got = got.numpy() if isinstance(got, clt.Tensor) else got
    if dtype is not None:
        want = np.asarray(want).astype(dtype)
    assert got.shape == np.shape(want), (got.shape, np.shape(want))
    assert got.dtype == np.asarray(want).dtype, (got.dtype, np.asarray(want).dtype)
    if got.dtype.kind == "f":
        tol = dict(rtol=2e-3, atol=2e-3) if got.dtype == np.float16 else dict(rtol=rtol, atol=atol)
        np.testing.assert_allclose(got.astype(np.float64), np.asarray(want, np.float64), **tol)
    else:
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("dtype", ALL)
def test_add_mul_every_dtype(device, rng, dtype):
    skip_if_no_fp64(device, dtype)
    a, b = host((3, 5), dtype, rng), host((3, 5), dtype, rng)
    ta, tb = clt.tensor(a, device=device), clt.tensor(b, device=device)
    check(ta + tb, (a + b) if dtype != "bool" else (a | b))
    check(ta * tb, (a * b) if dtype != "bool" else (a & b))


@pytest.mark.parametrize("dtype", ["int8", "uint8", "int32"])
def test_integer_overflow_wraps(device, dtype):
    info = np.iinfo(dtype)
    a = np.array([info.max, info.min], dtype=dtype)
    with np.errstate(over="ignore"):
        want = a + np.array(1, dtype)
    check(clt.tensor(a, device=device) + clt.tensor(np.array([1, 1], dtype), device=device), want)


@pytest.mark.parametrize("op", ["add", "sub", "mul", "div", "pow", "maximum", "minimum",
                                "atan2", "remainder", "fmod", "floor_divide", "hypot"])
def test_binary_float_ops_broadcast(device, rng, op):
    a = host((4, 1, 3), "float32", rng, 0.5, 3)
    b = host((5, 1), "float32", rng, 0.5, 3)
    ref = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.divide,
           "pow": np.power, "maximum": np.maximum, "minimum": np.minimum, "atan2": np.arctan2,
           "remainder": np.remainder, "fmod": np.fmod, "floor_divide": np.floor_divide,
           "hypot": np.hypot}[op]
    ta, tb = clt.tensor(a, device=device), clt.tensor(b, device=device)
    check(getattr(clt, op)(ta, tb), ref(a, b), rtol=2e-5)


@pytest.mark.parametrize("dtype", ["int32", "int64"])
def test_integer_division_and_modulo_follow_python(device, dtype):
    a = np.array([-7, 7, 5, -5, 0, 9], dtype)
    b = np.array([2, -2, -3, 3, 4, 3], dtype)
    ta, tb = clt.tensor(a, device=device), clt.tensor(b, device=device)
    check(ta // tb, a // b)
    check(ta % tb, a % b)
    check(clt.div(ta, tb, rounding_mode="trunc"), np.trunc(a / b).astype(dtype))
    check(ta / tb, (a / b).astype(np.float32))
    check(clt.fmod(ta, tb), np.fmod(a, b))


def test_integer_division_by_zero_does_not_trap(device):
    a = clt.tensor([1, 2], device=device)
    z = clt.zeros(2, dtype=clt.int64, device=device)
    assert (a // z).tolist() == [0, 0]


@pytest.mark.parametrize("op", ["exp", "expm1", "log", "log1p", "log2", "log10", "sqrt", "rsqrt",
                                "sin", "cos", "tan", "tanh", "sigmoid", "erf", "reciprocal",
                                "atan", "sinh", "cosh", "asinh", "floor", "ceil", "round",
                                "trunc", "abs", "neg", "sign", "relu", "square", "frac"])
def test_unary_float(device, rng, op):
    x = host((6, 7), "float32", rng, 0.1, 2.5)
    x[0, 0], x[0, 1] = 0.5, 1.5    # round half to even
    import math
    ref = {"exp": np.exp, "expm1": np.expm1, "log": np.log, "log1p": np.log1p, "log2": np.log2,
           "log10": np.log10, "sqrt": np.sqrt, "rsqrt": lambda v: 1 / np.sqrt(v), "sin": np.sin,
           "cos": np.cos, "tan": np.tan, "tanh": np.tanh, "sigmoid": lambda v: 1 / (1 + np.exp(-v)),
           "erf": np.vectorize(math.erf), "reciprocal": lambda v: 1 / v, "atan": np.arctan,
           "sinh": np.sinh, "cosh": np.cosh, "asinh": np.arcsinh, "floor": np.floor,
           "ceil": np.ceil, "round": np.round, "trunc": np.trunc, "abs": np.abs,
           "neg": np.negative, "sign": np.sign, "relu": lambda v: np.maximum(v, 0),
           "square": np.square, "frac": lambda v: v - np.trunc(v)}[op]
    check(getattr(clt, op)(clt.tensor(x, device=device)), ref(x).astype(np.float32), rtol=1e-5)


def test_unary_int_promotes_to_float(device):
    x = clt.tensor([1, 4, 9], device=device)
    out = clt.sqrt(x)
    assert out.dtype == clt.float32
    check(out, np.array([1, 2, 3], np.float32))
    check(clt.abs(clt.tensor([-3, 2], device=device)), np.array([3, 2]))
    check(-clt.tensor(np.array([1, -2], np.int8), device=device), np.array([-1, 2], np.int8))


def test_float16_storage_computes_in_float32(device):
    a = np.array([1.5, 2.25, 65504.0, -3.0], np.float16)
    t = clt.tensor(a, device=device)
    out = t * 0.5
    assert out.dtype == clt.float16
    check(out, a * np.float16(0.5))
    check(clt.exp(clt.tensor(np.array([0.0, 1.0], np.float16), device=device)),
          np.exp(np.array([0.0, 1.0], np.float16)))


def test_float64(device, rng):
    skip_if_no_fp64(device, "float64")
    a = rng.random(10)
    check(clt.exp(clt.tensor(a, device=device)), np.exp(a), rtol=1e-12)


def test_comparisons_logical_bitwise(device, rng):
    a, b = host((3, 4), "int32", rng), host((4,), "int32", rng)
    ta, tb = clt.tensor(a, device=device), clt.tensor(b, device=device)
    for got, want in [(ta == tb, a == b), (ta != tb, a != b), (ta < tb, a < b), (ta <= tb, a <= b),
                      (ta > tb, a > b), (ta >= tb, a >= b), (ta & tb, a & b), (ta | tb, a | b),
                      (ta ^ tb, a ^ b), (~ta, ~a),
                      (clt.logical_and(ta > 0, tb > 0), (a > 0) & (b > 0)),
                      (clt.logical_not(ta > 0), ~(a > 0))]:
        check(got, want)


def test_scalars_on_either_side_and_promotion(device):
    i = clt.tensor([1, 2, 3], device=device)
    f = clt.tensor([1.0, 2.0], device=device)
    assert (i + 1).dtype == clt.int64
    assert (i + 1.5).dtype == clt.float32           # scalars pick the default float dtype
    assert (2 * f).dtype == clt.float32
    assert (i * True).dtype == clt.int64
    h = clt.tensor(np.array([1, 2], np.float16), device=device)
    assert (h + 1.0).dtype == clt.float16            # a scalar never upcasts a tensor
    assert (h + f).dtype == clt.float32
    b8 = clt.tensor(np.array([1, 2], np.int8), device=device)
    assert (b8 + clt.tensor(np.array([1, 2], np.uint8), device=device)).dtype == clt.int16
    zero_d = clt.tensor(2.5, device=device)
    assert (i * zero_d).dtype == clt.float32         # 0-d float raises the category
    assert (clt.tensor(np.array([1, 2], np.int8), device=device) + clt.tensor(5, device=device)
            ).dtype == clt.int8                       # 0-d of the same category does not
    check(10 - f, np.array([9.0, 8.0], np.float32))
    check(2 ** f, np.array([2.0, 4.0], np.float32))
    check(7 // i, np.array([7, 3, 2]))


def test_non_contiguous_inputs(device, rng):
    a = host((6, 8), "float32", rng)
    b = host((8, 6), "float32", rng)
    ta, tb = clt.tensor(a, device=device), clt.tensor(b, device=device)
    check(ta[::2, 1::3] + tb.T[::2, 1::3], a[::2, 1::3] + b.T[::2, 1::3])
    check(clt.exp(tb.T), np.exp(b.T))
    big = host((3, 4, 5, 2, 3, 2, 3, 2, 2), "float32", rng)   # rank 9 with no mergeable dims
    tbig = clt.tensor(big, device=device).permute(8, 7, 6, 5, 4, 3, 2, 1, 0)
    check(tbig * 2, big.transpose(8, 7, 6, 5, 4, 3, 2, 1, 0) * 2)


def test_empty_and_zero_dim(device):
    e = clt.zeros(0, 3, device=device)
    check(e + 1, np.zeros((0, 3), np.float32))
    check(clt.exp(e), np.zeros((0, 3), np.float32))
    s = clt.tensor(3.0, device=device)
    check(s * 2, np.float32(6.0))
    assert (s * 2).shape == ()
    check(s + clt.ones(2, device=device), np.array([4, 4], np.float32))


def test_where_clamp_lerp_nan_to_num(device, rng):
    x = host((5, 4), "float32", rng)
    t = clt.tensor(x, device=device)
    check(clt.where(t > 0, t, 0.0), np.where(x > 0, x, 0).astype(np.float32))
    check(clt.where(t > 0, 1, -1), np.where(x > 0, 1, -1))
    check(t.clamp(-1, 2), np.clip(x, -1, 2))
    check(t.clamp(min=0.5), np.maximum(x, 0.5))
    lo = clt.tensor(np.full(4, -0.5, np.float32), device=device)
    check(clt.clamp(t, lo, None), np.maximum(x, -0.5))
    e = clt.tensor(x + 1, device=device)
    check(clt.lerp(t, e, 0.25), x + 0.25 * ((x + 1) - x))
    n = clt.tensor(np.array([np.nan, np.inf, -np.inf, 1.0], np.float32), device=device)
    check(clt.nan_to_num(n), np.nan_to_num(np.array([np.nan, np.inf, -np.inf, 1.0], np.float32)))
    check(clt.isnan(n), np.array([True, False, False, False]))
    check(clt.isinf(n), np.array([False, True, True, False]))
    check(clt.isfinite(n), np.array([False, False, False, True]))
    check(clt.maximum(n, clt.zeros(4, device=device)),
          np.maximum(np.array([np.nan, np.inf, -np.inf, 1.0], np.float32), 0))


def test_activations(device, rng):
    import math
    x = host((50,), "float32", rng, -4, 4)
    t = clt.tensor(x, device=device)
    erf = np.vectorize(math.erf)
    check(clt.gelu(t), 0.5 * x * (1 + erf(x / np.sqrt(2))), rtol=1e-5, atol=1e-6, dtype=np.float32)
    check(clt.silu(t), x / (1 + np.exp(-x)), rtol=1e-5, atol=1e-6)
    check(clt.mish(t), x * np.tanh(np.log1p(np.exp(x))), rtol=1e-5, atol=1e-6)
    from clt.functions.elementwise import activation
    check(activation("leaky_relu", t, 0.1), np.where(x > 0, x, 0.1 * x))
    check(activation("elu", t, 1.0), np.where(x > 0, x, np.expm1(x)), rtol=1e-5, atol=1e-6)
    check(activation("softplus", t, 1.0, 20.0), np.log1p(np.exp(x)), rtol=1e-5, atol=1e-6)
    check(activation("hardtanh", t, -1.0, 1.0), np.clip(x, -1, 1))


def test_inplace_and_out(device, rng):
    x = host((3, 3), "float32", rng)
    t = clt.tensor(x, device=device)
    v0 = t._version
    t += 1
    t.mul_(2)
    assert t._version > v0
    check(t, (x + 1) * 2)
    view = t[:, 0]
    view.zero_()
    assert t.numpy()[:, 0].tolist() == [0, 0, 0]
    out = clt.empty(3, 3, device=device)
    r = clt.add(t, 1, out=out)
    assert r is out
    check(out, t.numpy() + 1)
    i = clt.tensor([1, 2], device=device)
    with pytest.raises(RuntimeError, match="can't be cast"):
        i.add_(1.5)
    with pytest.raises(clt.ShapeError, match="out has shape"):
        clt.add(t, 1, out=clt.empty(2, device=device))


def test_errors_name_the_problem(device):
    a, b = clt.ones(2, 3, device=device), clt.ones(4, device=device)
    with pytest.raises(clt.ShapeError, match=r"\(2, 3\) and \(4,\)"):
        a + b
    with pytest.raises(clt.DTypeError, match="bool"):
        clt.tensor([True], device=device) - clt.tensor([False], device=device)
    with pytest.raises(clt.DTypeError, match="floating point"):
        clt.ones(2, device=device) & clt.ones(2, device=device)
    with pytest.raises(TypeError, match="Tensor or a number"):
        a + "x"
    with pytest.raises(RuntimeError, match="negative integer powers"):
        clt.tensor([2], device=device) ** -1


def test_kernel_reused_across_shapes(device, rng):
    a = clt.tensor(host((7,), "float32", rng), device=device)
    a + a
    before = len(device.kernels)
    for shape in [(3,), (5, 9), (2, 3, 4)]:
        t = clt.tensor(host(shape, "float32", rng), device=device)
        t + t
        t.T + t.T
    assert len(device.kernels) == before


# -- flat (contiguous) and strided kernels ------------------------------------------------------

def _kernel_names(device, fn):
    with clt.profiler.profile(device) as prof:
        fn()
    return list(prof.stats)


@pytest.mark.parametrize("style", ["cpu", "gpu"])
def test_flat_and_strided_maps_agree(device, rng, monkeypatch, style):
    import dataclasses

    monkeypatch.setattr(device, "caps", dataclasses.replace(device.caps, style=style))
    a = rng.standard_normal((37, 41)).astype(np.float32)
    b = rng.standard_normal((37, 41)).astype(np.float32)
    x, y = clt.tensor(a, device=device), clt.tensor(b, device=device)
    cases = [
        (lambda x, y: x * y + 1.5, lambda a, b: a * b + 1.5, True),      # contiguous: flat
        (lambda x, y: x[3:] - y[:-3], lambda a, b: a[3:] - b[:-3], True),  # offsets, flat
        (lambda x, y: x.T * y.T, lambda a, b: a.T * b.T, False),         # transposed views
        (lambda x, y: x + y[0], lambda a, b: a + b[0], False),           # broadcast row
        (lambda x, y: x[:, ::2] + 1, lambda a, b: a[:, ::2] + 1, False),  # stepped slice
        (lambda x, y: (x.reshape(-1)[5:6] * 2), lambda a, b: a.reshape(-1)[5:6] * 2, True),
    ]
    for fn, ref, flat in cases:
        for _ in range(2):               # the second call replays the remembered plan
            got = fn(x, y)
            np.testing.assert_allclose(got.numpy(), ref(a, b), rtol=1e-6, atol=1e-6)
        names = _kernel_names(device, lambda: fn(x, y))
        assert names and all(n.endswith("_c") == flat for n in names), names


def test_flat_map_of_a_zero_d_and_an_empty_tensor(device):
    z = clt.tensor(np.float32(2.5), device=device)
    assert (z * z).item() == 6.25
    e = clt.zeros((0, 3), device=device)
    assert (e + e).shape == (0, 3)


@pytest.mark.parametrize("dtype", ["float32", "float16", "int64", "bool"])
def test_tiled_transposed_copies(device, rng, dtype):
    """Copies and unary maps of transposed inputs take map_t2d (CPU style): every tile edge,
    batch dims, offsets and steps against numpy."""
    skip_if_no_fp64(device, dtype)
    cases = [
        ((37, 53), lambda x: x.T, lambda h: h.T),
        ((5, 70, 45), lambda x: x.transpose(1, 2), lambda h: h.transpose(0, 2, 1)),
        ((3, 4, 33, 17), lambda x: x.permute(0, 3, 1, 2), lambda h: h.transpose(0, 3, 1, 2)),
        ((40, 50), lambda x: x.T[3:, 5:], lambda h: h.T[3:, 5:]),
        ((64, 48), lambda x: x.T[:, ::2], lambda h: h.T[:, ::2]),
        ((16, 16), lambda x: x.T, lambda h: h.T),
    ]
    for shape, fn, ref in cases:
        h = (rng.standard_normal(shape) * 10).astype(dtype)
        x = clt.tensor(h, device=device)
        for _ in range(2):
            np.testing.assert_array_equal(fn(x).contiguous().numpy(), np.ascontiguousarray(ref(h)))
    if device.caps.style == "cpu":
        x = clt.tensor(rng.standard_normal((40, 30)).astype(np.float32), device=device)
        assert _kernel_names(device, lambda: x.T.contiguous()) == ["clt_ew_copy_f32_f32_t"]
        np.testing.assert_allclose(x.T.exp().numpy(), np.exp(x.numpy().T), rtol=1e-6)
    # expressions that call the template's helper functions (integer pow, float floor division)
    h = np.arange(40 * 30).reshape(40, 30)
    i, f = clt.tensor(h, device=device), clt.tensor(h.astype(np.float32), device=device)
    np.testing.assert_array_equal((i.T ** 2).numpy(), h.T ** 2)
    np.testing.assert_array_equal((i.T // 7).numpy(), h.T // 7)
    np.testing.assert_array_equal((f.T // 7).numpy(), h.T.astype(np.float32) // 7)
