"""Random numbers on device: Philox-4x32-10 against Random123's known answers and an independent
numpy model of the stream, on every kernel style; distributions, layouts, errors."""
from __future__ import annotations

import math

import numpy as np
import pytest

from clt import dtypes as D
from clt.backend.device import Device
from clt.errors import DTypeError, ShapeError
from clt.ops import elementwise as ew
from clt.ops import random as R
from clt.ops.array import Array
from clt.ops.transfer import from_numpy, to_numpy
from tests.conftest import skip_if_no_fp64

# ---------------------------------------------------------------------------------------------
# an independent numpy model: Philox-4x32-10 with a full 128-bit counter, written from the paper

M = (0xD2511F53, 0xCD9E8D57)
W = (0x9E3779B9, 0xBB67AE85)
MASK32 = np.uint64(0xFFFFFFFF)


def philox_ref(ctr: np.ndarray, key: tuple[int, int]) -> np.ndarray:
    """ctr: (n, 4) uint32 counters -> (n, 4) uint32 outputs."""
    c = [ctr[:, j].astype(np.uint64) for j in range(4)]
    k = [np.uint64(key[0]), np.uint64(key[1])]
    for r in range(10):
        if r:   # the key schedule is bumped before every round but the first
            k = [(k[0] + np.uint64(W[0])) & MASK32, (k[1] + np.uint64(W[1])) & MASK32]
        prod0 = c[0] * np.uint64(M[0])
        prod1 = c[2] * np.uint64(M[1])
        hi0, lo0 = prod0 >> np.uint64(32), prod0 & MASK32
        hi1, lo1 = prod1 >> np.uint64(32), prod1 & MASK32
        c = [hi1 ^ c[1] ^ k[0], lo1, hi0 ^ c[3] ^ k[1], lo0]
    return np.stack(c, axis=1).astype(np.uint32)


def ref_words(seed: int, offset: int, nblocks: int) -> np.ndarray:
    """The stream's blocks offset.. as (nblocks, 4) words: counter (lo, hi, 0, 0), key = seed."""
    blocks = [(offset + b) % 2 ** 64 for b in range(nblocks)]
    ctr = np.array([[b & 0xFFFFFFFF, b >> 32, 0, 0] for b in blocks], dtype=np.uint32)
    ctr = ctr.reshape(nblocks, 4)
    return philox_ref(ctr, (seed & 0xFFFFFFFF, seed >> 32))


def ref_u32(seed, offset, n):
    return ref_words(seed, offset, -(-n // 4)).reshape(-1)[:n]


def ref_u53(seed, offset, n):
    """53-bit uniforms from word pairs: ((w0 >> 5) * 2**26 + (w1 >> 6)) * 2**-53 (numpy's)."""
    w = ref_words(seed, offset, -(-n // 2)).reshape(-1)[:2 * n].astype(np.float64)
    return (np.floor(w[0::2] / 32) * 2.0 ** 26 + np.floor(w[1::2] / 64)) * 2.0 ** -53


def ref_u64(seed, offset, n):
    """64-bit values (w0 << 32 | w1), (w2 << 32 | w3) as Python ints."""
    w = ref_words(seed, offset, -(-n // 2)).reshape(-1).astype(object)
    return [(int(w[2 * i]) << 32) | int(w[2 * i + 1]) for i in range(n)]


def ref_uniform(seed, offset, n, dtype, lo=0.0, hi=1.0):
    if dtype == np.float64:
        u = ref_u53(seed, offset, n)
        return np.float64(lo) + (np.float64(hi) - np.float64(lo)) * u
    u = (ref_u32(seed, offset, n) >> 8).astype(np.float32) * np.float32(2.0 ** -24)
    v = np.float32(lo) + (np.float32(hi) - np.float32(lo)) * u
    if dtype == np.float16:   # float32 rounded toward zero
        h = v.astype(np.float16)
        over = np.abs(h.astype(np.float32)) > np.abs(v)
        h[over] = np.nextafter(h[over], np.float16(0))
        return h
    return v


def ref_normal(seed, offset, n, dtype):
    """Box-Muller in float64 from the same uniforms (compare with a tolerance)."""
    if dtype == np.float64:
        u = ref_u53(seed, offset, n + (n & 1))
        u1, u2 = u[0::2], u[1::2]
    else:
        w = ref_u32(seed, offset, -(-n // 4) * 4)
        u = (w >> 8).astype(np.float64) * 2.0 ** -24
        u1, u2 = u[0::2], u[1::2]
    r = np.sqrt(-2.0 * np.log(1.0 - u1))
    z = np.empty(2 * len(u1))
    z[0::2], z[1::2] = r * np.cos(2 * np.pi * u2), r * np.sin(2 * np.pi * u2)
    return z[:n]


def ref_randint(seed, offset, n, low, high):
    rng = high - low
    out = []
    for x in ref_u64(seed, offset, n):
        out.append(low + ((x * rng) >> 64))
    return np.array(out, dtype=object)


def seeded(seed, offset=0):
    return R.Generator().manual_seed(seed).set_offset(offset)


# ---------------------------------------------------------------------------------------------
# Philox itself

KAT = [  # Random123 kat_vectors: counter (4 words), key (2 words) -> output
    ((0, 0, 0, 0), (0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
    ((0xFFFFFFFF,) * 4, (0xFFFFFFFF,) * 2, (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
    ((0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344), (0xA4093822, 0x299F31D0),
     (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1)),
]


@pytest.mark.parametrize("ctr,key,expected", KAT, ids=["zeros", "ones", "pi"])
def test_reference_philox_matches_random123_kat(ctr, key, expected):
    out = philox_ref(np.array([ctr], np.uint32), key)
    assert [int(v) for v in out[0]] == list(expected)


def test_host_philox_matches_reference():
    ctrs = np.array([0, 1, 2 ** 32 - 1, 2 ** 32, 2 ** 64 - 1], dtype=np.uint64)
    key = (0x12345678, 0x9ABCDEF0)
    expect = philox_ref(np.stack([ctrs & MASK32, ctrs >> np.uint64(32), 0 * ctrs, 0 * ctrs],
                                 axis=1).astype(np.uint32), key)
    np.testing.assert_array_equal(R.philox4x32_10(ctrs, *key), expect)
    assert [int(v) for v in R.philox4x32_10(np.zeros(1, np.uint64), 0, 0)[0]] == list(KAT[0][2])


def test_host_uint64_is_the_randint_stream(device):
    g = seeded(9, 4)
    assert [int(v) for v in R.host_uint64(7, g)] == ref_u64(9, 4, 7)
    assert g.get_offset() == 8
    dev = R.random_(Array.empty(device, (7,), D.int64), -2 ** 63, None, seeded(9, 4))
    assert [(int(v) + 2 ** 63) % 2 ** 64 for v in to_numpy(dev)] == ref_u64(9, 4, 7)


def test_device_words_are_philox_kat(device):
    # the full int64 range is the raw 64-bit stream shifted by -2**63: recover the words
    x = R.random_(Array.empty(device, (2,), D.int64), -2 ** 63, None, seeded(0))
    raw = [(int(v) + 2 ** 63) % 2 ** 64 for v in to_numpy(x)]
    words = [raw[0] >> 32, raw[0] & 0xFFFFFFFF, raw[1] >> 32, raw[1] & 0xFFFFFFFF]
    assert words == list(KAT[0][2])


# ---------------------------------------------------------------------------------------------
# the device stream equals the model (this is what makes every device and driver agree)

SIZES = [1, 7, 33, 1000, 70001]   # partial blocks and vector groups, several work-items


@pytest.mark.parametrize("n", SIZES)
def test_rand_float32_bit_exact(device, n):
    seed, offset = 1234 + n, 5 * n
    x = R.rand(device, (n,), D.float32, seeded(seed, offset))
    np.testing.assert_array_equal(to_numpy(x), ref_uniform(seed, offset, n, np.float32))


@pytest.mark.parametrize("dtype", [np.float64, np.float16], ids=["float64", "float16"])
def test_rand_other_floats_bit_exact(device, dtype):
    skip_if_no_fp64(device, dtype)
    for n in (5, 3001):
        x = R.rand(device, (n,), dtype, seeded(99, 3))
        np.testing.assert_array_equal(to_numpy(x), ref_uniform(99, 3, n, dtype))


def test_counter_carries_into_high_word(device):
    # blocks 2**32 - 5 .. 2**32 + 20 straddle the 32-bit boundary inside one vector group
    off = 2 ** 32 - 5
    x = R.rand(device, (100,), D.float32, seeded(7, off))
    np.testing.assert_array_equal(to_numpy(x), ref_uniform(7, off, 100, np.float32))
    y = R.rand(device, (9,), D.float32, seeded(7, 2 ** 64 - 1))   # wraps around 2**64
    np.testing.assert_array_equal(to_numpy(y), ref_uniform(7, 2 ** 64 - 1, 9, np.float32))


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
def test_uniform_range_bit_exact(device, dtype):
    skip_if_no_fp64(device, dtype)
    x = R.uniform(device, (4, 257), -3.5, 2.25, dtype, seeded(5, 11))
    ref = ref_uniform(5, 11, 4 * 257, dtype, -3.5, 2.25).reshape(4, 257)
    np.testing.assert_array_equal(to_numpy(x), ref)
    assert (to_numpy(x) >= -3.5).all() and (to_numpy(x) < 2.25).all()


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16],
                         ids=["float32", "float64", "float16"])
def test_randn_matches_reference(device, dtype):
    skip_if_no_fp64(device, dtype)
    n = 2001
    x = to_numpy(R.randn(device, (n,), dtype, seeded(42, 8))).astype(np.float64)
    ref = ref_normal(42, 8, n, dtype)
    tol = {np.float16: 2e-3, np.float32: 1e-5, np.float64: 1e-12}[dtype]
    np.testing.assert_allclose(x, ref, rtol=tol, atol=tol)


def test_normal_mean_std_matches_reference(device):
    x = to_numpy(R.normal(device, (3, 100), 2.0, 0.5, D.float32, seeded(3)))
    np.testing.assert_allclose(x.ravel(), 2.0 + 0.5 * ref_normal(3, 0, 300, np.float32),
                               rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("low,high", [(0, 10), (-5, 3), (-2 ** 40, 2 ** 50), (0, 2 ** 63 - 1),
                                      (-2 ** 63, 2 ** 63 - 1)])
def test_randint_int64_bit_exact(device, low, high):
    x = to_numpy(R.randint(device, low, high, (1001,), None, seeded(77, 1)))
    ref = ref_randint(77, 1, 1001, low, high)
    assert [int(v) for v in x] == [int(v) for v in ref]
    assert x.min() >= low and x.max() < high


STYLE_CASES = [
    ("rand", lambda dev, g: R.rand(dev, (5, 1003), D.float32, g)),
    ("randn", lambda dev, g: R.randn(dev, (77,), D.float32, g)),
    ("randint", lambda dev, g: R.randint(dev, -100, 100, (1001,), D.int32, g)),
    ("bernoulli", lambda dev, g: R.bernoulli_(Array.empty(dev, (999,), D.uint8), 0.3, g)),
]


def test_stream_is_independent_of_kernel_style(device, monkeypatch):
    """A fresh Device forced to the other style gives the same numbers (and the model's)."""
    other = "gpu" if device.caps.style == "cpu" else "cpu"
    monkeypatch.setenv("CLT_KERNEL_STYLE", other)
    dev2 = Device(device.cl_device, device.info)
    assert dev2.caps.style == other
    for name, make in STYLE_CASES:
        a = to_numpy(make(device, seeded(2024, 17)))
        b = to_numpy(make(dev2, seeded(2024, 17)))
        if name == "randn":
            np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)
        else:
            np.testing.assert_array_equal(a, b, err_msg=name)
    np.testing.assert_array_equal(to_numpy(STYLE_CASES[0][1](dev2, seeded(2024, 17))).ravel(),
                                  ref_uniform(2024, 17, 5 * 1003, np.float32))


# ---------------------------------------------------------------------------------------------
# dtypes, layouts, shapes

INT_DTYPES = [D.bool_, D.uint8, D.int8, D.int16, D.int32, D.int64, D.float16, D.float32,
              D.float64]


@pytest.mark.parametrize("dtype", INT_DTYPES, ids=lambda d: d.name)
def test_randint_every_dtype(device, dtype):
    skip_if_no_fp64(device, dtype)
    lo, hi = (0, 2) if dtype is D.bool_ else ((0, 256) if dtype is D.uint8 else (-100, 100))
    x = R.randint(device, lo, hi, (3, 1000), dtype, seeded(8))
    assert x.dtype is dtype
    h = to_numpy(x)
    ref = ref_randint(8, 0, 3000, lo, hi).astype(np.int64).reshape(3, 1000)
    np.testing.assert_array_equal(h.astype(np.int64), ref)
    assert len(np.unique(h)) == hi - lo    # every value appears in 3000 draws


@pytest.mark.parametrize("dtype,high", [(D.bool_, 1), (D.uint8, 255), (D.int8, 127),
                                        (D.int16, 32767), (D.float16, 2 ** 11),
                                        (D.float32, 2 ** 24)], ids=lambda v: str(v))
def test_random_default_range(device, dtype, high):
    h = to_numpy(R.random_(Array.empty(device, (4000,), dtype), generator=seeded(1)))
    h = h.astype(np.int64)
    assert h.min() >= 0 and h.max() <= high
    assert h.max() > high * 0.9


def test_random_to_only_and_int64_default(device):
    h = to_numpy(R.random_(Array.empty(device, (500,), D.int64), 0, 10, seeded(1)))
    assert h.min() == 0 and h.max() == 9
    big = to_numpy(R.random_(Array.empty(device, (500,), D.int64), generator=seeded(1)))
    assert big.min() >= 0 and big.max() > 2 ** 62


def test_inplace_on_noncontiguous_view_fills_logical_order(device):
    base = from_numpy(device, np.full((6, 8), -1.0, np.float32))
    view = base.view((6, 3), (1, 16), 2)        # a transposed, strided slice: base[0:6:2, 2:].T
    R.uniform_(view, 0.0, 1.0, seeded(11))
    h = to_numpy(base)
    np.testing.assert_array_equal(h[0:6:2, 2:].T.ravel(), ref_uniform(11, 0, 18, np.float32))
    untouched = np.ones((6, 8), bool)
    untouched[0:6:2, 2:] = False
    assert (h[untouched] == -1).all()


def test_inplace_on_contiguous_slice_writes_in_place(device):
    base = from_numpy(device, np.zeros(40, np.float32))
    part = base.view((25,), (1,), 7)
    R.normal_(part, 0.0, 1.0, seeded(4))
    h = to_numpy(base)
    assert (h[:7] == 0).all() and (h[32:] == 0).all()
    np.testing.assert_allclose(h[7:32], ref_normal(4, 0, 25, np.float32), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("shape", [(0,), (3, 0), ()], ids=str)
def test_empty_and_0d(device, shape):
    g = seeded(1)
    x = R.rand(device, shape, D.float32, g)
    assert x.shape == shape
    assert to_numpy(x).shape == shape
    assert g.get_offset() == (1 if shape == () else 0)   # 0-size requests consume nothing
    assert R.randint(device, 0, 5, shape, None, g).shape == shape
    assert R.dropout(Array.empty(device, shape, D.float32), 0.5, g)[0].shape == shape


def test_shapes_and_kernel_built_once(device):
    g = seeded(0)
    R.rand(device, (2, 3, 4), D.float32, g)
    before = len(device.kernels)
    for shape in [(5,), (7, 9), (1, 1, 1, 1)]:
        assert R.rand(device, shape, D.float32, g).shape == shape
    assert len(device.kernels) == before


# ---------------------------------------------------------------------------------------------
# generator semantics

def test_same_seed_same_numbers_and_offsets_advance(device):
    a = to_numpy(R.rand(device, (10,), None, seeded(5)))
    g = seeded(5)
    b = to_numpy(R.rand(device, (10,), None, g))
    c = to_numpy(R.rand(device, (10,), None, g))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(b, c)
    assert g.get_offset() == 6          # ceil(10 / 4) blocks per request
    np.testing.assert_array_equal(c, ref_uniform(5, 3, 10, np.float32))
    assert not np.array_equal(a, to_numpy(R.rand(device, (10,), None, seeded(6))))


def test_state_roundtrip_and_default_generator(device):
    R.manual_seed(123)
    assert R.initial_seed() == 123
    state = R.get_rng_state()
    assert state.dtype == np.uint8 and state.shape == (16,)
    a = to_numpy(R.rand(device, (8,)))
    R.set_rng_state(state)
    np.testing.assert_array_equal(a, to_numpy(R.rand(device, (8,))))
    np.testing.assert_array_equal(a, ref_uniform(123, 0, 8, np.float32))
    g = R.Generator().manual_seed(123)
    g.set_state(bytes(state))
    np.testing.assert_array_equal(a, to_numpy(R.rand(device, (8,), None, g)))


def test_generator_seed_handling():
    g = R.Generator()
    assert g.initial_seed() == R.DEFAULT_SEED
    assert g.manual_seed(-1).initial_seed() == 2 ** 64 - 1
    s = g.seed()
    assert g.initial_seed() == s and 0 <= s < 2 ** 64
    with pytest.raises(ValueError, match=r"seed must be in \[-2\*\*63, 2\*\*64 - 1\]"):
        g.manual_seed(2 ** 64)
    with pytest.raises(TypeError, match="manual_seed expected an int seed, got str"):
        g.manual_seed("1")
    with pytest.raises(ValueError, match="expected a state of 16 bytes"):
        g.set_state(b"123")
    assert "seed=" in repr(g)


def test_generator_is_separate_from_default(device):
    R.manual_seed(0)
    g = seeded(0)
    R.rand(device, (100,), None, g)
    assert R.default_generator.get_offset() == 0


# ---------------------------------------------------------------------------------------------
# distributions: exact where the math is exact, statistics otherwise

def test_bernoulli_scalar_bit_exact(device):
    x = to_numpy(R.bernoulli_(Array.empty(device, (2000,), D.float32), 0.3, seeded(9)))
    ref = (ref_u32(9, 0, 2000).astype(np.uint64) < math.floor(0.3 * 2 ** 32)).astype(np.float32)
    np.testing.assert_array_equal(x, ref)
    ones = to_numpy(R.bernoulli_(Array.empty(device, (99,), D.bool_), 1.0, seeded(9)))
    zeros = to_numpy(R.bernoulli_(Array.empty(device, (99,), D.int64), 0.0, seeded(9)))
    assert ones.all() and not zeros.any()


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16],
                         ids=["float32", "float64", "float16"])
def test_bernoulli_tensor_p(device, dtype):
    skip_if_no_fp64(device, dtype)
    p = np.linspace(0, 1, 3000).astype(dtype)
    x = to_numpy(R.bernoulli(from_numpy(device, p), seeded(10)))
    assert x.dtype == dtype
    u = ref_uniform(10, 0, 3000, np.float64 if dtype == np.float64 else np.float32)
    np.testing.assert_array_equal(x, (u.astype(np.float64) < p.astype(np.float64)).astype(dtype))


def test_bernoulli_broadcast_p(device):
    p = from_numpy(device, np.array([0.0, 1.0], np.float32))
    x = to_numpy(R.bernoulli_(Array.empty(device, (50, 2), D.uint8), p, seeded(1)))
    assert (x[:, 0] == 0).all() and (x[:, 1] == 1).all()


@pytest.mark.parametrize("dtype", [np.float32, np.float16], ids=["float32", "float16"])
def test_dropout_fused_matches_reference(device, dtype, rng):
    xh = rng.standard_normal((40, 51)).astype(dtype)
    x = from_numpy(device, xh)
    out, mask = R.dropout(x, 0.25, seeded(12))
    assert out.dtype == x.dtype and mask.dtype is D.bool_
    keep = ref_u32(12, 0, xh.size).astype(np.uint64) < math.floor(0.75 * 2 ** 32)
    np.testing.assert_array_equal(to_numpy(mask).ravel(), keep)
    ref = xh.astype(np.float32) * np.where(keep.reshape(xh.shape), np.float32(1 / 0.75), 0)
    np.testing.assert_array_equal(to_numpy(out), ref.astype(dtype))


def test_dropout_extremes_and_strided_input(device, rng):
    xh = rng.standard_normal((6, 5)).astype(np.float32)
    x = from_numpy(device, xh)
    out, mask = R.dropout(x, 1.0, seeded(1))
    assert not to_numpy(out).any() and not to_numpy(mask).any()
    out, mask = R.dropout(x, 0.0, seeded(1))
    np.testing.assert_array_equal(to_numpy(out), xh)
    xt = x.view((5, 6), (1, 5))                 # transposed input
    out, mask = R.dropout(xt, 0.5, seeded(3))
    m = to_numpy(mask)
    np.testing.assert_array_equal(to_numpy(out), xh.T * np.where(m, np.float32(2), 0))
    nan = from_numpy(device, np.array([np.nan, np.inf], np.float32))
    assert np.isnan(to_numpy(R.dropout(nan, 1.0)[0])).all()     # as torch: x * mask * scale


def test_statistics_of_continuous_distributions(device):
    n = 200_000
    g = seeded(2718)
    u = to_numpy(R.rand(device, (n,), D.float32, g))
    assert 0 <= u.min() and u.max() < 1
    assert abs(u.mean() - 0.5) < 0.005 and abs(u.var() - 1 / 12) < 0.002
    z = to_numpy(R.randn(device, (n,), D.float32, g)).astype(np.float64)
    assert abs(z.mean()) < 0.01 and abs(z.var() - 1) < 0.02
    assert abs((z ** 3).mean()) < 0.05 and abs((z ** 4).mean() - 3) < 0.1
    e = to_numpy(R.exponential_(Array.empty(device, (n,), D.float32), 2.0, g))
    assert e.min() >= 0 and abs(e.mean() - 0.5) < 0.01
    c = to_numpy(R.cauchy_(Array.empty(device, (n,), D.float32), 1.0, 2.0, g))
    assert abs(np.median(c) - 1.0) < 0.05
    assert abs(np.percentile(c, 75) - 3.0) < 0.1            # median + sigma
    ln = to_numpy(R.log_normal_(Array.empty(device, (n,), D.float32), 0.0, 0.5, g))
    assert ln.min() > 0 and abs(np.log(ln).std() - 0.5) < 0.01
    geo = to_numpy(R.geometric_(Array.empty(device, (n,), D.int32), 0.25, g))
    assert geo.min() >= 1 and abs(geo.mean() - 4) < 0.1


def test_exponential_matches_reference(device):
    x = to_numpy(R.exponential_(Array.empty(device, (1003,), D.float32), 3.0, seeded(6)))
    u = (ref_u32(6, 0, 1003) >> 8).astype(np.float64) * 2.0 ** -24
    np.testing.assert_allclose(x, -np.log1p(-u) / 3.0, rtol=1e-5, atol=1e-7)


def test_normal_tensor_mean_std(device):
    mean = from_numpy(device, np.array([[0.0], [100.0]], np.float32))
    std = from_numpy(device, np.array([1.0, 0.0, 2.0], np.float32))
    x = to_numpy(R.normal_tensor(mean, std, seeded(21)))
    z = ref_normal(21, 0, 6, np.float32).reshape(2, 3)
    np.testing.assert_allclose(x, np.array([[0.0], [100.0]]) + np.array([1, 0, 2]) * z,
                               rtol=1e-5, atol=1e-5)
    y = to_numpy(R.normal_tensor(5.0, std, seeded(21)))
    assert y.shape == (3,) and y[1] == 5.0


def test_randperm(device):
    for n in (0, 1, 10, 1000):
        p = to_numpy(R.randperm(device, n, None, seeded(n)))
        assert p.dtype == np.int64
        np.testing.assert_array_equal(np.sort(p), np.arange(n))
    keys = np.array(ref_u64(31, 0, 500), dtype=np.uint64) >> np.uint64(1)
    np.testing.assert_array_equal(to_numpy(R.randperm(device, 500, None, seeded(31))),
                                  np.argsort(keys, kind="stable"))
    assert to_numpy(R.randperm(device, 100, D.int16, seeded(1))).dtype == np.int16
    assert not np.array_equal(to_numpy(R.randperm(device, 50, None, seeded(1))),
                              to_numpy(R.randperm(device, 50, None, seeded(2))))


def test_multinomial(device):
    w = from_numpy(device, np.array([[1.0, 0.0, 3.0, 0.0], [0.0, 5.0, 0.0, 5.0]], np.float32))
    s = to_numpy(R.multinomial(w, 4000, True, seeded(1)))
    assert s.shape == (2, 4000) and s.dtype == np.int64
    assert set(np.unique(s[0])) == {0, 2} and set(np.unique(s[1])) == {1, 3}
    assert abs((s[0] == 2).mean() - 0.75) < 0.03
    no_rep = to_numpy(R.multinomial(from_numpy(device, np.ones(10, np.float32)), 10, False,
                                    seeded(2)))
    np.testing.assert_array_equal(np.sort(no_rep), np.arange(10))
    first = to_numpy(R.multinomial(w, 2, False, seeded(3)))
    assert set(first[0]) == {0, 2} and set(first[1]) == {1, 3}


# ---------------------------------------------------------------------------------------------
# bad input: clear errors before any kernel runs

def test_errors(device):
    f = from_numpy(device, np.zeros(3, np.float32))
    i = from_numpy(device, np.zeros(3, np.int32))
    with pytest.raises(ValueError, match=r"random_ expects 'from' to be less than 'to', but got "
                                         r"from=5 >= to=5"):
        R.randint(device, 5, 5, (3,))
    with pytest.raises(ValueError, match=r"to - 1=255 is out of bounds for int8"):
        R.randint(device, 0, 256, (3,), D.int8)
    with pytest.raises(ValueError, match=r"from=-1 is out of bounds for uint8"):
        R.randint(device, -1, 5, (3,), D.uint8)
    with pytest.raises(TypeError, match="low must be an integer"):
        R.randint(device, 0.5, 5, (3,))
    with pytest.raises(ValueError, match=r"uniform_ expects to return a \[from, to\) range, but "
                                         r"found from=2 > to=1"):
        R.uniform_(f, 2.0, 1.0)
    with pytest.raises(ValueError, match=r"normal expects std >= 0.0, but found std -1"):
        R.normal(device, (3,), 0.0, -1.0)
    with pytest.raises(ValueError, match=r"bernoulli_ expects p to be in \[0, 1\], but got "
                                         r"p=1.5"):
        R.bernoulli_(f, 1.5)
    with pytest.raises(ValueError, match=r"dropout probability has to be between 0 and 1, but "
                                         r"got -0.1"):
        R.dropout(f, -0.1)
    with pytest.raises(ValueError, match=r"exponential_ expects lambda > 0.0"):
        R.exponential_(f, 0.0)
    with pytest.raises(ValueError, match=r"geometric_ expects p to be in \(0, 1\)"):
        R.geometric_(i, 1.5)
    with pytest.raises(DTypeError, match="rand: expected a floating point dtype, got int64"):
        R.rand(device, (3,), D.int64)
    with pytest.raises(DTypeError, match="randn: expected a floating point dtype, got bool"):
        R.randn(device, (3,), D.bool_)
    with pytest.raises(DTypeError, match="normal_ expects a floating point tensor, got int32"):
        R.normal_(i)
    with pytest.raises(DTypeError, match="dropout expects a floating point tensor, got int32"):
        R.dropout(i, 0.5)
    with pytest.raises(DTypeError, match="probability tensor, got int32"):
        R.bernoulli(i)
    with pytest.raises(ShapeError, match="negative dimension"):
        R.rand(device, (2, -1))
    with pytest.raises(ValueError, match="randperm: n must be non-negative, got -1"):
        R.randperm(device, -1)
    with pytest.raises(ValueError, match="n=300 is too large for dtype uint8"):
        R.randperm(device, 300, D.uint8)
    with pytest.raises(TypeError, match="generator must be a clt.Generator"):
        R.rand(device, (3,), None, generator=42)
    with pytest.raises(ValueError, match="cannot sample n_sample > prob_dist.size"):
        R.multinomial(f, 4)
    with pytest.raises(ValueError, match="element < 0"):
        R.multinomial(from_numpy(device, np.array([1.0, -1.0], np.float32)), 1)
    with pytest.raises(ValueError, match="prob_dist must be 1 or 2 dim"):
        R.multinomial(from_numpy(device, np.ones((2, 2, 2), np.float32)), 1)


def test_float64_refused_without_fp64(device):
    if device.supports_fp64:
        pytest.skip("device has fp64")
    with pytest.raises(DTypeError, match="float64"):
        R.rand(device, (3,), D.float64)


def test_copy_path_keeps_versions(device):
    x = Array.empty(device, (4, 4), D.float32)
    v = x.storage.version
    R.uniform_(x.view((4, 4), (1, 4)))
    assert x.storage.version > v
    ew.fill_(x, 0)
