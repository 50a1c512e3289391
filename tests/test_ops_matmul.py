"""The GEMM family at the ops level against numpy: shapes, layouts, batches, dtypes, errors."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

import clt.backend as B
from clt.errors import DeviceError, DTypeError, ShapeError
from clt.ops import matmul as mm
from clt.ops.array import Array
from clt.ops.transfer import from_numpy, to_numpy
from conftest import skip_if_no_fp64


def rand(rng, shape, dtype=np.float32):
    dt = np.dtype(dtype)
    if dt.kind in "iu":
        lo = 0 if dt.kind == "u" else -4
        return rng.integers(lo, 5, size=shape).astype(dt)
    return rng.standard_normal(shape).astype(dt)


def up(device, x):
    return from_numpy(device, np.array(x, copy=True))


def view(x: Array, shape, strides, offset=None) -> Array:
    return Array(x.storage, shape, strides, x.offset if offset is None else offset, x.dtype)


def T(x: Array) -> Array:
    return mm.transpose_last(x)


def close(got, want, dtype=np.float32):
    got = to_numpy(got) if isinstance(got, Array) else got
    want = np.asarray(want)
    assert got.shape == want.shape, (got.shape, want.shape)
    dt = np.dtype(dtype)
    if dt.kind in "iu":
        np.testing.assert_array_equal(got, want.astype(dt))
        return
    k = max(1, want.size)
    tol = {np.dtype(np.float16): 2e-2, np.dtype(np.float32): 2e-5,
           np.dtype(np.float64): 1e-12}[dt]
    scale = max(1.0, float(np.abs(want).max()) if want.size else 1.0)
    np.testing.assert_allclose(got.astype(np.float64), want.astype(np.float64),
                               rtol=tol * 10, atol=tol * scale * (1 + np.log2(k)))


# -- shapes and layouts ---------------------------------------------------------------------

@pytest.mark.parametrize("mkn", [(1, 1, 1), (7, 13, 5), (6, 16, 16), (12, 32, 17), (65, 129, 33),
                                 (100, 3, 200), (3, 300, 2), (256, 256, 256), (2, 1, 40)],
                         ids=str)
def test_gemm_matches_numpy(device, rng, mkn):
    m, k, n = mkn
    a, b = rand(rng, (m, k)), rand(rng, (k, n))
    close(mm.gemm(up(device, a), up(device, b)), a @ b)


@pytest.mark.parametrize("mkn", [(33, 70, 45), (300, 500, 70)], ids=str)
@pytest.mark.parametrize("layout", ["nn", "tn", "nt", "tt"])
def test_gemm_transposed_views_read_in_place(device, rng, mkn, layout):
    # (300, 500, 70) is large enough to take the packing path for A and B
    m, k, n = mkn
    a, b = rand(rng, (m, k)), rand(rng, (k, n))
    da = T(up(device, a.T)) if layout[0] == "t" else up(device, a)
    db = T(up(device, b.T)) if layout[1] == "t" else up(device, b)
    close(mm.gemm(da, db), a @ b)


def test_gemm_strided_offset_and_negative_stride_views(device, rng):
    big_a, big_b = rand(rng, (40, 50)), rand(rng, (60, 31))
    da, db = up(device, big_a), up(device, big_b)
    # a[3:37:2, 1:46:3] and b[::-2 rows][:15, 5:30]
    sa = view(da, (17, 15), (100, 3), 3 * 50 + 1)
    want_a = big_a[3:37:2, 1:46:3]
    sb = view(db, (15, 25), (-2 * 31, 1), 59 * 31 + 5)
    want_b = big_b[::-2][:15, 5:30]
    close(mm.gemm(sa, sb), want_a @ want_b)


def test_gemm_strided_out_and_transposed_out(device, rng):
    a, b = rand(rng, (20, 9)), rand(rng, (9, 30))
    buf = up(device, np.zeros((30, 20), np.float32))
    mm.gemm(up(device, a), up(device, b), out=T(buf))      # out is a transposed view
    close(buf, (a @ b).T)
    wide = up(device, np.full((20, 70), 7, np.float32))
    mm.gemm(up(device, a), up(device, b), out=view(wide, (20, 30), (70, 2), 1))
    want = np.full((20, 70), 7, np.float32)
    want[:, 1:61:2] = a @ b
    close(wide, want)


@pytest.mark.parametrize("orientation", [1, 2])
@pytest.mark.parametrize("pack", [False, True])
def test_cpu_paths_forced(device, rng, monkeypatch, orientation, pack):
    # every packing / orientation choice of the CPU path gives the same products
    monkeypatch.setitem(mm.CPU_BLOCKING, "orientation", orientation)
    if pack:
        monkeypatch.setitem(mm.CPU_BLOCKING, "pack_a_min", 0)
        monkeypatch.setitem(mm.CPU_BLOCKING, "pack_b_min", 0)
        monkeypatch.setitem(mm.CPU_BLOCKING, "pack_b_rows", 0)
    a, b, c = rand(rng, (29, 43)), rand(rng, (43, 37)), rand(rng, (37,))
    for da in (up(device, a), T(up(device, a.T))):
        for db in (up(device, b), T(up(device, b.T))):
            close(mm.addmm(up(device, c), da, db, beta=0.5), 0.5 * c + a @ b)
    x, w = rand(rng, (2, 3, 21, 19)), rand(rng, (19, 40))
    close(mm.matmul(T(up(device, x.transpose(0, 1, 3, 2))), up(device, w)), x @ w)
    # long K, few panels: the packing splits K across work-items
    p, q = rand(rng, (20, 301)), rand(rng, (301, 10))
    close(mm.mm(T(up(device, p.T)), T(up(device, q.T))), p @ q)
    close(mm.mm(up(device, p), up(device, q)), p @ q)
    h1, h2 = rand(rng, (13, 17), np.float16), rand(rng, (17, 9), np.float16)
    want = (h1.astype(np.float32) @ h2.astype(np.float32)).astype(np.float16)
    close(mm.mm(up(device, h1), T(up(device, h2.T))), want, np.float16)


# -- batches --------------------------------------------------------------------------------

@pytest.mark.parametrize("sa,sb", [((3, 4, 5), (3, 5, 6)), ((2, 3, 4, 5), (5, 6)),
                                   ((4, 5), (2, 3, 5, 6)), ((3, 1, 4, 5), (2, 5, 7)),
                                   ((2, 1, 3, 1, 4, 5), (1, 2, 1, 2, 5, 3)),
                                   ((5, 1, 7), (5, 7, 1)), ((0, 4, 5), (5, 6))], ids=str)
def test_matmul_batched_broadcast(device, rng, sa, sb):
    a, b = rand(rng, sa), rand(rng, sb)
    close(mm.matmul(up(device, a), up(device, b)), np.matmul(a, b))


def test_batched_permuted_views(device, rng):
    # batch dims that cannot be merged: more than two launch dims, looped on the host
    a = rand(rng, (3, 4, 2, 6, 5))
    b = rand(rng, (5, 3, 7))
    da = view(up(device, a), (4, 3, 2, 6, 5), (2 * 30, 4 * 2 * 30, 30, 5, 1))
    db = up(device, b)
    db_b = view(db, (1, 3, 1, 5, 7), (0, 7, 0, 21, 1))
    want = np.matmul(a.transpose(1, 0, 2, 3, 4), b.transpose(1, 0, 2)[None, :, None])
    close(mm.matmul(da, db_b), want)


def test_bmm_and_baddbmm(device, rng):
    a, b, c = rand(rng, (4, 3, 8)), rand(rng, (4, 8, 5)), rand(rng, (4, 1, 5))
    close(mm.bmm(up(device, a), up(device, b)), a @ b)
    close(mm.baddbmm(up(device, c), up(device, a), up(device, b), beta=0.5, alpha=2.0),
          0.5 * c + 2 * (a @ b))
    with pytest.raises(ShapeError, match="batch1"):
        mm.bmm(up(device, a[0]), up(device, b))
    with pytest.raises(ShapeError, match=r"\(4, 3, 8\)"):
        mm.bmm(up(device, a), up(device, b[:, :5]))


# -- vectors --------------------------------------------------------------------------------

def test_matmul_vector_rules(device, rng):
    v, w = rand(rng, (6,)), rand(rng, (6,))
    m, t3 = rand(rng, (6, 4)), rand(rng, (2, 5, 6))
    dv, dw = up(device, v), up(device, w)
    r = mm.matmul(dv, dw)
    assert r.shape == ()
    close(r, np.dot(v, w))
    close(mm.matmul(dv, up(device, m)), v @ m)
    close(mm.matmul(up(device, m.T), dv), m.T @ v)
    close(mm.matmul(up(device, t3), dv), t3 @ v)
    close(mm.matmul(dv, up(device, t3.transpose(0, 2, 1))), v @ t3.transpose(0, 2, 1))
    close(mm.dot(dv, dw), np.dot(v, w))
    close(mm.mv(up(device, m.T), dv), m.T @ v)
    close(mm.outer(dv, up(device, m[0])), np.outer(v, m[0]))


@pytest.mark.parametrize("layout", ["rows", "cols", "strided"])
def test_gemv_layouts(device, rng, layout):
    a, x = rand(rng, (203, 300)), rand(rng, (300,))
    if layout == "rows":
        da = up(device, a)
    elif layout == "cols":
        da = T(up(device, a.T))
    else:
        big = up(device, np.repeat(a, 2, axis=1))
        da = view(big, (203, 300), (600, 2))
    dx = view(up(device, np.repeat(x, 3)), (300,), (3,))
    close(mm.matmul(da, dx), a @ x)
    close(mm.matmul(dx[None] if False else view(dx, (1, 300), (0, 3)), T(da)), (a @ x)[None])
    y = up(device, np.ones(203, np.float32))
    close(mm.gemm(da, view(dx, (300, 1), (3, 0)), out=view(y, (203, 1), (1, 0)), alpha=2,
                  beta=-1, c=view(y, (203, 1), (1, 0))), 2 * (a @ x)[:, None] - 1)


def test_dot_of_strided_vectors_and_empty(device, rng):
    v = rand(rng, (20,))
    dv = up(device, v)
    close(mm.dot(view(dv, (10,), (2,)), view(dv, (10,), (-2,), 19)), np.dot(v[::2], v[::-2]))
    close(mm.dot(view(dv, (0,), (1,)), view(dv, (0,), (1,))), np.float32(0))


# -- empty ----------------------------------------------------------------------------------

def test_empty_dims(device, rng):
    a, b = rand(rng, (4, 0)), rand(rng, (0, 3))
    close(mm.gemm(up(device, a), up(device, b)), np.zeros((4, 3), np.float32))
    c = rand(rng, (4, 3))
    close(mm.addmm(up(device, c), up(device, a), up(device, b), beta=3), 3 * c)
    assert mm.gemm(up(device, rand(rng, (0, 5))), up(device, rand(rng, (5, 3)))).shape == (0, 3)
    assert mm.gemm(up(device, rand(rng, (2, 5))), up(device, rand(rng, (5, 0)))).shape == (2, 0)


# -- alpha, beta, addmm, linear ----------------------------------------------------------------

@pytest.mark.parametrize("cshape", [(50,), (37, 1), (37, 50), (1, 1)], ids=str)
def test_addmm_broadcast_input(device, rng, cshape):
    a, b, c = rand(rng, (37, 20)), rand(rng, (20, 50)), rand(rng, cshape)
    close(mm.addmm(up(device, c), up(device, a), up(device, b), beta=0.5, alpha=-2),
          0.5 * c - 2 * (a @ b))


def test_beta_zero_ignores_nan_and_in_place_update(device, rng):
    a, b = rand(rng, (9, 8)), rand(rng, (8, 7))
    nan = np.full((9, 7), np.nan, np.float32)
    close(mm.addmm(up(device, nan), up(device, a), up(device, b), beta=0), a @ b)
    c = rand(rng, (9, 7))
    dc = up(device, c)
    mm.gemm(up(device, a), up(device, b), out=dc, alpha=1, beta=1, c=dc)   # C += A @ B
    close(dc, c + a @ b)


def test_out_aliasing_an_input_is_safe(device, rng):
    a = rand(rng, (16, 16))
    da = up(device, a)
    mm.gemm(da, da, out=da)
    close(da, a @ a)
    m, v = rand(rng, (40, 40)), rand(rng, (40, 1))
    dv = up(device, v)
    mm.gemm(up(device, m), dv, out=dv)          # matrix-vector kernel, vector overwritten
    close(dv, m @ v)


@pytest.mark.parametrize("xshape", [(5, 12), (3, 4, 12), (12,)], ids=str)
@pytest.mark.parametrize("bias", [True, False])
def test_linear_fused_bias(device, rng, xshape, bias):
    x, w, bv = rand(rng, xshape), rand(rng, (9, 12)), rand(rng, (9,))
    want = x @ w.T + (bv if bias else 0)
    got = mm.linear(up(device, x), up(device, w), up(device, bv) if bias else None)
    close(got, want)


def test_linear_non_contiguous_input(device, rng):
    x, w, bv = rand(rng, (12, 6, 2)), rand(rng, (4, 6)), rand(rng, (4,))
    dx = view(up(device, x), (2, 12, 6), (1, 12, 2))   # x.transpose(2, 0, 1)
    close(mm.linear(dx, up(device, w), up(device, bv)), x.transpose(2, 0, 1) @ w.T + bv)


# -- dtypes ---------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", ["float64", "float16", "int32", "int64"])
def test_dtypes(device, rng, dtype):
    skip_if_no_fp64(device, dtype)
    a, b, c = rand(rng, (19, 37), dtype), rand(rng, (37, 21), dtype), rand(rng, (21,), dtype)
    acc = np.float64 if dtype.startswith("float") else dtype
    want = a.astype(acc) @ b.astype(acc)
    close(mm.gemm(up(device, a), up(device, b)), want.astype(dtype), dtype)
    col = b[:, 0].copy()
    want_v = (a.astype(acc) @ col.astype(acc)).astype(dtype)
    close(mm.matmul(up(device, a), up(device, col)), want_v, dtype)
    alpha, beta = (2, 3) if dtype.startswith("int") else (0.5, 2.0)
    close(mm.addmm(up(device, c), T(up(device, a.T)), up(device, b), beta=beta, alpha=alpha),
          (beta * c.astype(acc) + alpha * want).astype(dtype), dtype)


@pytest.mark.parametrize("dtype", ["int8", "uint8", "int16"])
def test_small_ints_wrap_like_torch(device, rng, dtype):
    a = rng.integers(0, 100, (5, 30)).astype(dtype)
    b = rng.integers(0, 100, (30, 4)).astype(dtype)
    want = (a.astype(np.int64) @ b.astype(np.int64)).astype(dtype)   # modular wrap-around
    close(mm.matmul(up(device, a), up(device, b)), want, dtype)


def test_float16_accumulates_in_float32(device, rng):
    k = 2048
    a = np.full((2, k), 0.01, np.float16)
    b = np.ones((k, 3), np.float16)
    got = to_numpy(mm.gemm(up(device, a), up(device, b)))
    # half accumulation would stall near 32; float accumulation gives ~20.48
    np.testing.assert_allclose(got.astype(np.float64), a.astype(np.float64) @ b, rtol=2e-3)


# -- errors ---------------------------------------------------------------------------------

def test_shape_errors_name_both_shapes(device):
    a, b = up(device, np.ones((2, 3), np.float32)), up(device, np.ones((4, 5), np.float32))
    with pytest.raises(ShapeError, match=r"mat1 and mat2 shapes cannot be multiplied "
                                         r"\(2x3 and 4x5\)"):
        mm.mm(a, b)
    with pytest.raises(ShapeError, match=r"\(2x3 and 4x5\)"):
        mm.matmul(a, b)
    with pytest.raises(ShapeError, match=r"\(3, 2, 3\).*\(4, 5\)"):
        mm.matmul(up(device, np.ones((3, 2, 3), np.float32)), b)
    with pytest.raises(ShapeError, match="batch dimensions"):
        mm.matmul(up(device, np.ones((2, 2, 3), np.float32)),
                  up(device, np.ones((3, 3, 4), np.float32)))
    with pytest.raises(ShapeError, match="at least 1D"):
        mm.matmul(up(device, np.ones((), np.float32)), a)
    with pytest.raises(ShapeError, match="same number of elements"):
        mm.dot(up(device, np.ones(3, np.float32)), up(device, np.ones(4, np.float32)))
    with pytest.raises(ShapeError, match="cannot be broadcast"):
        mm.addmm(up(device, np.ones((3,), np.float32)), a, T(a))
    with pytest.raises(ShapeError, match="out has shape"):
        mm.mm(a, T(a), out=up(device, np.ones((3, 3), np.float32)))
    with pytest.raises(ShapeError, match=r"\(5x3 and 2x4\)"):
        mm.linear(up(device, np.ones((5, 3), np.float32)),
                  up(device, np.ones((4, 2), np.float32)))


def test_dtype_errors(device):
    a32 = up(device, np.ones((2, 3), np.float32))
    a16 = up(device, np.ones((3, 2), np.float16))
    with pytest.raises(DTypeError, match="float32 and float16"):
        mm.mm(a32, a16)
    with pytest.raises(DTypeError, match="bool"):
        mm.mm(up(device, np.ones((2, 2), bool)), up(device, np.ones((2, 2), bool)))
    with pytest.raises(DTypeError, match="out to have dtype float32"):
        mm.mm(a32, T(a32), out=up(device, np.ones((2, 2), np.float16)))
    ai = up(device, np.ones((2, 2), np.int32))
    with pytest.raises(DTypeError, match="alpha"):
        mm.addmm(ai, ai, ai, alpha=0.5)


def test_different_devices(device):
    other = B.Device(device.cl_device, device.info)   # its own context: another device
    a = up(device, np.ones((2, 2), np.float32))
    b = from_numpy(other, np.ones((2, 2), np.float32))
    with pytest.raises(DeviceError, match="different devices"):
        mm.mm(a, b)


# -- einsum ---------------------------------------------------------------------------------

@pytest.mark.parametrize("eq,shapes", [
    ("ij,jk->ik", [(3, 4), (4, 5)]), ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]),
    ("ij->ji", [(3, 4)]), ("ii->i", [(4, 4)]), ("ij->", [(3, 4)]), ("ij->j", [(3, 4)]),
    ("ii", [(3, 3)]), ("i,j->ij", [(3,), (4,)]), ("i,i->", [(5,), (5,)]),
    ("...ij,...jk", [(2, 3, 4), (4, 5)]), ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 5)]),
    ("bhqd,bhkd->bhqk", [(2, 3, 5, 4), (2, 3, 6, 4)]), ("ij,ij->i", [(3, 4), (3, 4)]),
    ("bi,i->b", [(3, 1), (4,)]), ("iij,jk->ik", [(3, 3, 2), (2, 4)]), ("ij,kj", [(2, 5), (3, 5)]),
], ids=lambda v: v if isinstance(v, str) else "")
def test_einsum(device, rng, eq, shapes):
    xs = [rand(rng, s) for s in shapes]
    close(mm.einsum(eq, *[up(device, x) for x in xs]), np.einsum(eq, *xs))


def test_einsum_views_are_views(device, rng):
    x = up(device, rand(rng, (4, 4)))
    assert mm.einsum("ii->i", x).storage is x.storage
    assert mm.einsum("ij->ji", x).storage is x.storage


def test_einsum_errors(device):
    a = up(device, np.ones((2, 3), np.float32))
    with pytest.raises(ValueError, match="operand"):
        mm.einsum("ij,jk->ik", a)
    with pytest.raises(ShapeError, match="subscript j"):
        mm.einsum("ij,jk->ik", a, a)
    with pytest.raises(ShapeError, match="do not match"):
        mm.einsum("ijk->i", a)
    with pytest.raises(ValueError, match="output subscript"):
        mm.einsum("ij->k", a)


# -- kernels and the GPU style ----------------------------------------------------------------

def test_new_shapes_and_layouts_reuse_built_kernels(device, rng):
    mm.gemm(up(device, rand(rng, (40, 400))), up(device, rand(rng, (400, 50))))
    before = len(device.kernels)
    for m, k, n in [(3, 5, 7), (70, 33, 90), (330, 400, 50)]:
        mm.gemm(up(device, rand(rng, (m, k))), T(up(device, rand(rng, (n, k)))))
        mm.gemm(T(up(device, rand(rng, (k, m)))), up(device, rand(rng, (k, n))))
    assert len(device.kernels) == before


def test_gpu_style_kernel(device, rng, monkeypatch):
    # the local-memory kernel GPUs get, run on this device (same as CLT_KERNEL_STYLE=gpu)
    monkeypatch.setattr(device, "caps", replace(device.caps, style="gpu"))
    a, b, c = rand(rng, (70, 33)), rand(rng, (33, 130)), rand(rng, (130,))
    close(mm.gemm(up(device, a), up(device, b)), a @ b)
    close(mm.addmm(up(device, c), T(up(device, a.T)), T(up(device, b.T)), beta=2, alpha=0.5),
          2 * c + 0.5 * (a @ b))
    big1, big2 = rand(rng, (260, 20)), rand(rng, (20, 270))   # enough groups for "large"
    close(mm.gemm(up(device, big1), T(up(device, big2.T))), big1 @ big2)
    x, y = rand(rng, (3, 2, 17, 9)), rand(rng, (2, 9, 5))
    close(mm.matmul(up(device, x), up(device, y)), x @ y)
    close(mm.matmul(up(device, a), up(device, b[:, 0].copy())), a @ b[:, 0])
    h1, h2 = rand(rng, (20, 30), np.float16), rand(rng, (30, 10), np.float16)
    close(mm.mm(up(device, h1), up(device, h2)),
          (h1.astype(np.float32) @ h2.astype(np.float32)).astype(np.float16), np.float16)
    if device.supports_fp64:
        d1, d2 = rand(rng, (40, 20), np.float64), rand(rng, (20, 50), np.float64)
        close(mm.mm(up(device, d1), up(device, d2)), d1 @ d2, np.float64)
