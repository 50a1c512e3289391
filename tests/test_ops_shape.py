"""clt.ops.shape_ops against numpy: copies (cat, stack, flip, roll, repeat, tile, pad, tril/triu,
diag, diag_embed) and views (narrow, select, split, chunk, unbind, diagonal, unfold)."""
from __future__ import annotations

import numpy as np
import pytest

from clt import dtypes as D
from clt.errors import ShapeError
from clt.ops import shape_ops as S
from clt.ops.transfer import from_numpy, to_numpy
from conftest import skip_if_no_fp64

ALL = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "float32", "float64"]


def host(rng, shape, dtype="float32"):
    dt = np.dtype(dtype)
    if dt == np.bool_:
        return rng.random(shape) > 0.5
    if dt.kind in "iu":
        return rng.integers(0, 100, shape).astype(dt)
    return rng.standard_normal(shape).astype(dt)


def up(device, a, layout="contig"):
    """``a`` on the device, laid out contiguously, transposed in memory, or with a step of 2."""
    if layout == "contig" or a.ndim == 0:
        return from_numpy(device, a)
    if layout == "transposed":
        base = from_numpy(device, np.ascontiguousarray(a.T))
        return base.view(a.shape, tuple(reversed(base.strides)))
    # "strided": every other element of a buffer twice as long in the last dim, offset 1
    wide = np.zeros(a.shape[:-1] + (2 * a.shape[-1] + 1,), a.dtype)
    wide[..., 1::2] = a
    base = from_numpy(device, wide)
    return base.view(a.shape, base.strides[:-1] + (2,), 1)


LAYOUTS = ["contig", "transposed", "strided"]


# ---------------------------------------------------------------------------------------------
# views

def test_narrow_select_are_views(device, rng):
    a = host(rng, (4, 5))
    x = up(device, a)
    v = S.narrow(x, 1, -3, 2)
    assert v.storage is x.storage
    np.testing.assert_array_equal(to_numpy(v), a[:, 2:4])
    np.testing.assert_array_equal(to_numpy(S.select(x, 0, -1)), a[-1])
    with pytest.raises(IndexError, match="out of range"):
        S.select(x, 1, 5)
    with pytest.raises(ShapeError, match="exceeds dimension 1 of size 5"):
        S.narrow(x, 1, 3, 3)


@pytest.mark.parametrize("arg", [2, 3, [1, 0, 4], [5]], ids=str)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_split(device, rng, arg, layout):
    a = host(rng, (3, 5))
    x = up(device, a, layout)
    parts = S.split(x, arg, 1)
    if isinstance(arg, int):
        want = [a[:, i:i + arg] for i in range(0, 5, arg)]
    else:
        want = np.split(a, np.cumsum(arg)[:-1], 1)
    assert len(parts) == len(want)
    for p, w in zip(parts, want):
        assert p.storage is x.storage
        np.testing.assert_array_equal(to_numpy(p), w)


def test_split_chunk_edge_cases(device, rng):
    x = up(device, host(rng, (0, 2)))
    assert [p.shape for p in S.split(x, 2)] == [(0, 2)]
    assert [p.shape for p in S.chunk(x, 3)] == [(0, 2)] * 3
    y = up(device, host(rng, (5,)))
    assert [p.shape for p in S.chunk(y, 2)] == [(3,), (2,)]
    assert [p.shape for p in S.chunk(y, 4)] == [(2,), (2,), (1,)]   # fewer than asked
    assert [p.shape for p in S.chunk(up(device, host(rng, (6,))), 4)] == [(2,)] * 3
    with pytest.raises(ShapeError, match="sum exactly to 5"):
        S.split(y, [2, 2])
    with pytest.raises(ShapeError, match="split_size must be positive"):
        S.split(y, 0)
    with pytest.raises(ShapeError, match="greater than 0"):
        S.chunk(y, 0)


def test_unbind(device, rng):
    a = host(rng, (2, 3, 4))
    x = up(device, a, "transposed")
    for dim in (0, 1, -1):
        parts = S.unbind(x, dim)
        assert len(parts) == a.shape[dim]
        for i, p in enumerate(parts):
            np.testing.assert_array_equal(to_numpy(p), np.take(a, i, dim))


@pytest.mark.parametrize("offset", [0, 1, -2, 5])
@pytest.mark.parametrize("dims", [(0, 1), (1, 0), (0, 2), (-1, 1)], ids=str)
def test_diagonal_view(device, rng, offset, dims):
    a = host(rng, (3, 4, 5))
    x = up(device, a, "strided")
    v = S.diagonal(x, offset, *dims)
    assert v.storage is x.storage
    np.testing.assert_array_equal(to_numpy(v), np.diagonal(a, offset, *dims))


def test_diagonal_errors(device, rng):
    x = up(device, host(rng, (3, 3)))
    with pytest.raises(ShapeError, match="cannot be identical"):
        S.diagonal(x, 0, 1, -1)
    with pytest.raises(ShapeError, match="at least 2 dimensions"):
        S.diagonal(up(device, host(rng, (3,))))


@pytest.mark.parametrize("dim,size,step", [(0, 2, 1), (1, 3, 2), (-1, 5, 1), (1, 1, 3)])
def test_unfold(device, rng, dim, size, step):
    a = host(rng, (4, 5))
    x = up(device, a, "transposed")
    v = S.unfold(x, dim, size, step)
    want = np.lib.stride_tricks.sliding_window_view(a, size, axis=dim)
    want = np.take(want, np.arange(0, want.shape[dim], step), axis=dim)
    np.testing.assert_array_equal(to_numpy(v), want)
    with pytest.raises(ShapeError, match="maximum size for tensor at dimension 1 is 5"):
        S.unfold(x, 1, 6, 1)
    with pytest.raises(ShapeError, match="step is 0"):
        S.unfold(x, 1, 2, 0)
    np.testing.assert_array_equal(to_numpy(S.unfold(up(device, np.array(3.0)), 0, 1, 1)), [3.0])


# ---------------------------------------------------------------------------------------------
# cat / stack

@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_cat(device, rng, layout, dim):
    shapes_ = [(2, 3, 4), (2, 3, 4), (2, 3, 4)]
    shapes_ = [tuple(s if k != dim % 3 else s + i for k, s in enumerate(sh))
               for i, sh in enumerate(shapes_)]
    arrays = [host(rng, s) for s in shapes_]
    out = S.cat([up(device, a, layout) for a in arrays], dim)
    np.testing.assert_array_equal(to_numpy(out), np.concatenate(arrays, dim))


@pytest.mark.parametrize("dtypes,want", [
    (("int32", "float32"), "float32"), (("bool", "int8"), "int8"),
    (("uint8", "int8"), "int16"), (("float16", "int64"), "float16"),
    (("bool", "bool"), "bool")], ids=str)
def test_cat_promotes(device, rng, dtypes, want):
    arrays = [host(rng, (2, 3), dt) for dt in dtypes]
    out = S.cat([up(device, a) for a in arrays], 1)
    assert out.dtype is D.as_dtype(want)
    np.testing.assert_array_equal(to_numpy(out),
                                  np.concatenate([a.astype(want) for a in arrays], 1))


def test_cat_skips_legacy_empty_and_handles_empty(device, rng):
    a, b = host(rng, (2, 3)), host(rng, (1, 3))
    e = np.zeros((0,), np.float64)
    out = S.cat([up(device, e), up(device, a), up(device, e), up(device, b)])
    np.testing.assert_array_equal(to_numpy(out), np.concatenate([a, b]))
    skip_if_no_fp64(device, np.float64)
    assert out.dtype is D.float64      # the skipped arrays still take part in promotion
    out = S.cat([up(device, host(rng, (2, 0))), up(device, a)], 1)
    np.testing.assert_array_equal(to_numpy(out), a)
    assert S.cat([up(device, e), up(device, e)]).shape == (0,)


def test_cat_errors(device, rng):
    a = up(device, host(rng, (2, 3)))
    with pytest.raises(ShapeError, match="non-empty list"):
        S.cat([])
    with pytest.raises(ShapeError, match=r"zero-dimensional tensor \(at position 1\)"):
        S.cat([a, up(device, np.array(1.0, np.float32))])
    with pytest.raises(ShapeError, match="same number of dimensions: got 2 and 3"):
        S.cat([a, up(device, host(rng, (2, 3, 1)))])
    with pytest.raises(ShapeError, match="Expected size 3 but got size 4 for tensor number 1"):
        S.cat([a, up(device, host(rng, (2, 4)))])


@pytest.mark.parametrize("dim", [0, 1, 2, -1])
def test_stack(device, rng, dim):
    arrays = [host(rng, (2, 3)) for _ in range(3)]
    out = S.stack([up(device, a, lay) for a, lay in zip(arrays, LAYOUTS)], dim)
    np.testing.assert_array_equal(to_numpy(out), np.stack(arrays, dim))


def test_stack_errors(device, rng):
    with pytest.raises(ShapeError, match=r"got \[2, 3\] at entry 0 and \[3, 2\] at entry 1"):
        S.stack([up(device, host(rng, (2, 3))), up(device, host(rng, (3, 2)))])
    with pytest.raises(ShapeError, match="dim 3 out of range"):
        S.stack([up(device, host(rng, (2, 3)))], 3)


# ---------------------------------------------------------------------------------------------
# flip / roll / repeat / tile

@pytest.mark.parametrize("dims", [0, (1,), (0, 2), (-1, 0, 1)], ids=str)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_flip(device, rng, dims, layout):
    a = host(rng, (3, 4, 5))
    np.testing.assert_array_equal(to_numpy(S.flip(up(device, a, layout), dims)),
                                  np.flip(a, dims))


def test_flip_edge_cases(device, rng):
    np.testing.assert_array_equal(to_numpy(S.flip(up(device, np.array(2.5)), ())), 2.5)
    assert S.flip(up(device, host(rng, (0, 3))), (0, 1)).shape == (0, 3)
    with pytest.raises(ShapeError, match="repeat a dimension"):
        S.flip(up(device, host(rng, (2, 3))), (1, -1))


@pytest.mark.parametrize("shifts,dims", [(1, 0), (-2, 1), (7, -1), ((1, 2), (0, 1)),
                                         ((3, -1), (1, 1)), (5, None), ((2, 1, 1), (0, 1, 2))],
                         ids=str)
@pytest.mark.parametrize("layout", ["contig", "transposed"])
def test_roll(device, rng, shifts, dims, layout):
    a = host(rng, (3, 4, 5))
    np.testing.assert_array_equal(to_numpy(S.roll(up(device, a, layout), shifts, dims)),
                                  np.roll(a, shifts, dims))


def test_roll_errors(device, rng):
    x = up(device, host(rng, (3, 4)))
    with pytest.raises(ShapeError, match="shifts and dimensions must align"):
        S.roll(x, (1, 2), 0)
    assert S.roll(up(device, host(rng, (0, 4))), 2, 0).shape == (0, 4)


@pytest.mark.parametrize("sizes", [(2, 3), (1, 1), (3, 1, 2), (2, 0), (2, 1, 1, 2, 1, 2)],
                         ids=str)
def test_repeat(device, rng, sizes):
    a = host(rng, (2, 3))
    x = up(device, a, "transposed")
    np.testing.assert_array_equal(to_numpy(S.repeat(x, sizes)), np.tile(a, sizes))


def test_repeat_tile_edge_cases(device, rng):
    a = host(rng, (2, 3))
    x = up(device, a)
    with pytest.raises(ShapeError, match="can not be smaller"):
        S.repeat(x, (2,))
    np.testing.assert_array_equal(to_numpy(S.tile(x, (2,))), np.tile(a, 2))
    np.testing.assert_array_equal(to_numpy(S.tile(x, (2, 1, 3))), np.tile(a, (2, 1, 3)))
    np.testing.assert_array_equal(to_numpy(S.repeat(up(device, np.array(4.0)), (3,))), [4.0] * 3)


# ---------------------------------------------------------------------------------------------
# pad

NP_MODE = {"constant": "constant", "reflect": "reflect", "replicate": "edge", "circular": "wrap"}


def np_pad(a, pad, mode, value=0):
    widths = [(0, 0)] * a.ndim
    for k in range(len(pad) // 2):
        widths[a.ndim - 1 - k] = (pad[2 * k], pad[2 * k + 1])
    if mode == "constant":
        crop = tuple(slice(max(-lo, 0), a.shape[d] - max(-hi, 0))
                     for d, (lo, hi) in enumerate(widths))
        a = a[crop]
        widths = [(max(lo, 0), max(hi, 0)) for lo, hi in widths]
        return np.pad(a, widths, "constant", constant_values=value)
    return np.pad(a, widths, NP_MODE[mode])


@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate", "circular"])
@pytest.mark.parametrize("pad", [(1, 2), (2, 0, 1, 3), (1, 1, 2, 2, 1, 0)], ids=str)
def test_pad(device, rng, mode, pad):
    a = host(rng, (3, 4, 5))
    x = up(device, a, "strided")
    out = S.pad(x, pad, mode, 1.5 if mode == "constant" else 0)
    np.testing.assert_array_equal(to_numpy(out),
                                  np_pad(a, pad, mode, 1.5 if mode == "constant" else 0))


def test_pad_negative_constant_crops(device, rng):
    a = host(rng, (4, 5), "int32")
    out = S.pad(up(device, a), (-1, 2, 1, -3), value=7)
    np.testing.assert_array_equal(to_numpy(out), np_pad(a, (-1, 2, 1, -3), "constant", 7))


def test_pad_errors(device, rng):
    x = up(device, host(rng, (2, 3)))
    with pytest.raises(ShapeError, match="divisible by 2"):
        S.pad(x, (1,))
    with pytest.raises(ShapeError, match="too large"):
        S.pad(x, (1, 1, 1, 1, 1, 1))
    with pytest.raises(ShapeError, match="should be less than the corresponding input dimension"):
        S.pad(x, (3, 0), "reflect")
    with pytest.raises(ShapeError, match="wrapping around more than once"):
        S.pad(x, (0, 4), "circular")
    with pytest.raises(ValueError, match="mode must be one of"):
        S.pad(x, (1, 1), "mirror")
    with pytest.raises(ShapeError, match="negative output size"):
        S.pad(x, (-2, -2))


# ---------------------------------------------------------------------------------------------
# tril / triu / diag / diag_embed

@pytest.mark.parametrize("k", [0, 1, -1, 3, -4])
@pytest.mark.parametrize("shape", [(4, 5), (2, 3, 3), (5, 2)], ids=str)
def test_tril_triu(device, rng, k, shape):
    a = host(rng, shape)
    x = up(device, a, "transposed")
    np.testing.assert_array_equal(to_numpy(S.tril(x, k)), np.tril(a, k))
    np.testing.assert_array_equal(to_numpy(S.triu(x, k)), np.triu(a, k))


def test_tril_triu_in_place_and_dtypes(device, rng):
    for dt in ("bool", "int64", "float16"):
        a = host(rng, (3, 4), dt)
        x = up(device, a)
        v0 = x.storage.version
        assert S.tril_(x, 1) is x and x.storage.version > v0
        np.testing.assert_array_equal(to_numpy(x), np.tril(a, 1))
        y = up(device, a, "strided")
        S.triu_(y, -1)
        np.testing.assert_array_equal(to_numpy(y), np.triu(a, -1))
    assert S.tril(up(device, host(rng, (0, 3)))).shape == (0, 3)
    with pytest.raises(ShapeError, match="at least 2 dimensions"):
        S.triu(up(device, host(rng, (3,))))


@pytest.mark.parametrize("k", [0, 2, -1])
def test_diag(device, rng, k):
    v = host(rng, (4,))
    np.testing.assert_array_equal(to_numpy(S.diag(up(device, v), k)), np.diag(v, k))
    m = host(rng, (3, 5))
    np.testing.assert_array_equal(to_numpy(S.diag(up(device, m, "transposed"), k)), np.diag(m, k))
    with pytest.raises(ShapeError, match="1D or 2D"):
        S.diag(up(device, host(rng, (2, 2, 2))))


@pytest.mark.parametrize("offset,dims", [(0, (-2, -1)), (1, (0, 2)), (-2, (2, 0)), (0, (1, 0))],
                         ids=str)
def test_diag_embed(device, rng, offset, dims):
    a = host(rng, (2, 3))
    out = to_numpy(S.diag_embed(up(device, a, "strided"), offset, *dims))
    n = 3 + abs(offset)
    want = np.zeros((2, n, n), a.dtype)
    for b in range(2):
        want[b] = np.diag(a[b], offset)
    # want has the matrix in dims (1, 2); move them to dims
    d1, d2 = (d % 3 for d in dims)
    batch = [k for k in range(3) if k not in (d1, d2)][0]
    perm = [0] * 3
    perm[batch], perm[d1], perm[d2] = 0, 1, 2
    np.testing.assert_array_equal(out, np.transpose(want, perm))


# ---------------------------------------------------------------------------------------------
# every dtype through the copies (one build per dtype of the shared copy kernel)

@pytest.mark.parametrize("dtype", ALL)
def test_copies_every_dtype(device, rng, dtype):
    skip_if_no_fp64(device, dtype)
    a, b = host(rng, (2, 3), dtype), host(rng, (2, 2), dtype)
    x, y = up(device, a, "transposed"), up(device, b)
    np.testing.assert_array_equal(to_numpy(S.cat([x, y], 1)), np.concatenate([a, b], 1))
    np.testing.assert_array_equal(to_numpy(S.flip(x, 1)), a[:, ::-1])
    np.testing.assert_array_equal(to_numpy(S.roll(x, 1, 1)), np.roll(a, 1, 1))
    np.testing.assert_array_equal(to_numpy(S.pad(x, (1, 1), "reflect")),
                                  np.pad(a, ((0, 0), (1, 1)), "reflect"))
    np.testing.assert_array_equal(to_numpy(S.tril(x)), np.tril(a))
