"""Matrix products on device arrays (``kernels/matmul.cl.mako``), without autograd.

Everything funnels into one strided, batched GEMM: ``out = alpha * (A @ B) + beta * C``. Operands
are read in place through their strides (a transposed view is never copied just to be transposed)
and batch dims broadcast with stride 0. Two kernel styles come from the device's capability
table:

* ``"cpu"``: a register-blocked micro-kernel (6 x 16 floats per work-item on AVX2) fed by an
  optional packing pass that copies A and/or B into contiguous, zero-padded panels. Packing is a
  runtime decision (layout, size, dtype conversion), so it costs no extra kernel builds.
* ``"gpu"``: a local-memory tiled kernel that reads A and B directly with bounds checks.

Matrix-vector products (one output column or row) take a dedicated memory-bound kernel.
Tile sizes are render parameters held in :data:`CPU_TILES` / :data:`GPU_TILES` so a tuner can
search them; blocking choices that need no rebuild live in :data:`CPU_BLOCKING`. These are the
architecture defaults: a device tuned with ``clt-devices --tune`` (``clt.backend.tuning``) uses
its stored values instead, except for settings changed in these dicts at run time.
"""
from __future__ import annotations

import functools
import math
import weakref
from typing import Any, Sequence

import numpy as np
import pyopencl.cltypes as cltypes

from clt import dtypes as D
from clt.backend import tuning
from clt.backend.device import Device
from clt.dtypes import DType
from clt.errors import DeviceError, DTypeError, ShapeError
from clt.ops import elementwise as ew
from clt.ops import shapes
from clt.ops.array import Array

TEMPLATE = "matmul.cl.mako"


class _Config(dict):
    """A settings dict whose changes invalidate memoized plans (tuners and tests change them)."""

    version = [0]

    def __setitem__(self, key: Any, value: Any) -> None:
        _Config.version[0] += 1
        super().__setitem__(key, value)

    def __delitem__(self, key: Any) -> None:
        _Config.version[0] += 1
        super().__delitem__(key)

    def update(self, *args: Any, **kwargs: Any) -> None:
        _Config.version[0] += 1
        super().update(*args, **kwargs)


# Register tiles of the CPU kernel per compute dtype (render constants: each entry is one build).
# 6 x (2 x 8) floats = 12 ymm accumulators + 2 B vectors + 1 broadcast fits AVX2's 16 registers.
CPU_TILES: dict[str, dict[str, int]] = _Config(
    float32=_Config(mr=6, nv=2, vw=8),
    float64=_Config(mr=6, nv=2, vw=4),
    int32=_Config(mr=6, nv=2, vw=8),
    int64=_Config(mr=4, nv=2, vw=4),
)
# Work-group tile of the GPU kernel: tm x tn outputs, tk deep, wm x wn per work-item (16 x 16
# work-items). "large" serves problems with at least 2 work-groups per compute unit even at its
# size (measured on an H200 through NVIDIA's OpenCL, f32: 64x64 gave 7.6 TFLOP/s at n=1024 and
# 12.5 at 4096; 128x128 gave 6.0 and 18.8).
GPU_TILES: dict[str, dict[str, int]] = _Config(
    default=_Config(tm=64, tn=64, tk=16, wm=4, wn=4),
    large=_Config(tm=128, tn=128, tk=16, wm=8, wn=8),
    float64=_Config(tm=32, tn=32, tk=16, wm=2, wn=2),
)
# Runtime choices of the CPU path (no rebuild when changed).
CPU_BLOCKING: dict[str, int] = _Config(
    max_tiles=8,                  # mr-row tiles per work-item (B panel reuse from cache)
    a_block_bytes=384 << 10,      # keep one work-item's rows of A (tiles*mr x K) within L2
    items_per_cu=8,               # aim for at least this many work-items per compute unit
    pack_a_min=1 << 21,           # pack A from this many elements (M * K) up
    pack_b_min=1 << 16,           # pack a row-major B from this many elements (K * N) up,
    pack_b_rows=288,              # ... when A has this many rows to amortise the copy over
    gemv_max=1,                   # M or N at most this: use the matrix-vector kernel
)

# import-time defaults: a tuned value replaces a setting only while it still holds its default,
# so a change made at run time (a test forcing a path, an experiment) always wins
_DEFAULTS = {"cpu_tiles": {k: dict(v) for k, v in CPU_TILES.items()},
             "gpu_tiles": {k: dict(v) for k, v in GPU_TILES.items()},
             "cpu_blocking": dict(CPU_BLOCKING)}
_TILE_KEYS = {"cpu_tiles": ("mr", "nv", "vw"), "gpu_tiles": ("tm", "tn", "tk", "wm", "wn")}

_COMPUTE = {"float16": D.float32, "float32": D.float32, "float64": D.float64,
            "uint8": D.int32, "int8": D.int32, "int16": D.int32, "int32": D.int32,
            "int64": D.int64}
_LOCAL1 = (1, 1, 1)


@functools.lru_cache(maxsize=4096)
def _long2(x: int, y: int) -> np.ndarray:
    return np.array((x, y), dtype=cltypes.long2)


# ---------------------------------------------------------------------------------------------
# validation

def _check_dtypes(op: str, *arrays: Array) -> DType:
    dt = arrays[0].dtype
    for x in arrays[1:]:
        if x.dtype is not dt:
            raise DTypeError(f"{op}: expected both operands to have the same dtype, but got "
                             f"{dt.name} and {x.dtype.name}")
    if dt.name not in _COMPUTE:
        raise DTypeError(f"{op} is not implemented for dtype {dt.name} (supported: "
                         f"{', '.join(_COMPUTE)})")
    return dt


def _check_device(op: str, *arrays: Array | None) -> Device:
    dev = ew.check_same_device([x for x in arrays if x is not None], op)
    for x in arrays:
        if x is not None:
            D.check_device_dtype(x.dtype, dev)
    return dev


def _fmt(shape: Sequence[int]) -> str:
    return "x".join(str(s) for s in shape) if shape else "scalar"


def _scalar(value: Any, dtype: DType, what: str) -> Any:
    if dtype.is_floating_point:
        return float(value)
    if isinstance(value, (float, np.floating)) and not float(value).is_integer():
        raise DTypeError(f"{what}={value!r} must be an integer for integer dtype {dtype.name}")
    return int(value)


def _check_out(op: str, out: Array, shape: tuple[int, ...], dtype: DType, dev: Device) -> None:
    if out.device is not dev:
        raise DeviceError(f"{op}: out is on {out.device}, operands on {dev}")
    if out.shape != shape:
        raise ShapeError(f"{op}: out has shape {out.shape} but the result has shape {shape}")
    if out.dtype is not dtype:
        raise DTypeError(f"{op}: expected out to have dtype {dtype.name}, but got "
                         f"{out.dtype.name}")
    if any(st == 0 for s, st in zip(out.shape, out.strides) if s > 1):
        raise ShapeError(f"{op}: out must not be a broadcast (stride-0) view; got strides "
                         f"{out.strides} for shape {out.shape}")


# ---------------------------------------------------------------------------------------------
# the batched GEMM core: a plan (pure function of shapes, strides, dtypes and configuration,
# memoized) lists the launches with symbolic buffers and offsets; executing it fills them in.
# Eager training loops repeat the same few shapes, so each call costs a dict lookup instead of
# re-deriving layouts, packing and tile choices.

class _Buf(tuple):
    """Placeholder for an operand's buffer ("out", "a", "b", "c") or scratch buffer (int)."""


class _Off(tuple):
    """Placeholder for an operand's offset plus a fixed delta."""


_ALPHA, _BETA = "<alpha>", "<beta>"


class _Mat:
    """One operand as the kernels see it: which array, an offset delta, two batch strides,
    row and column strides, dtype, and whether it shares storage with the output."""

    __slots__ = ("name", "delta", "bs", "sr", "sc", "dtype", "alias")

    def __init__(self, name: str, delta: int, bs: tuple[int, int], sr: int, sc: int,
                 dtype: DType, alias: bool) -> None:
        self.name, self.delta, self.bs, self.sr, self.sc = name, delta, bs, sr, sc
        self.dtype, self.alias = dtype, alias

    def t(self) -> "_Mat":
        """The transposed operand (row and column strides exchanged)."""
        return _Mat(self.name, self.delta, self.bs, self.sc, self.sr, self.dtype, self.alias)

    def buf(self) -> _Buf:
        return _Buf((self.name,))

    def off(self) -> _Off:
        return _Off((self.name, self.delta))


class _Plan:
    """Launches with placeholders: (template def, render params, global, local, args, dtype)."""

    def __init__(self, style: str, cus: int, tuned_id: int = 0) -> None:
        self.style, self.cus = style, cus
        self.cpu_tiles, self.gpu_tiles, self.blocking = _settings(tuned_id)
        self.scratch: list[int] = []          # bytes of each scratch buffer
        self.launches: list[tuple] = []

    def add(self, kernel_def: str, params: dict[str, Any], gsize: tuple, lsize: tuple | None,
            args: Sequence[Any], ct: DType) -> None:
        consts = list(args)
        patches = [(k, v) for k, v in enumerate(consts)
                   if type(v) in (_Buf, _Off) or v is _ALPHA or v is _BETA]
        self.launches.append((kernel_def, params, gsize, lsize, consts, patches, ct))

    def new_scratch(self, nbytes: int) -> _Buf:
        self.scratch.append(nbytes)
        return _Buf((len(self.scratch) - 1,))


def _plan_key(out: Array, a: Array, b: Array, c: Array | None) -> tuple:
    dev = out.device
    st = out.storage
    return (dev.caps.style, dev.info.compute_units, out.shape, out.strides, a.shape,
            a.strides, b.shape, b.strides, None if c is None else (c.shape, c.strides),
            a.dtype.name, out.dtype.name, a.storage is st, b.storage is st, _Config.version[0],
            tuning.lookup_id(dev.info, "gemm"))


def _settings(tuned_id: int) -> tuple[dict, dict, dict]:
    """(CPU tiles, GPU tiles, CPU blocking) in force for a device's tuned parameter set."""
    cpu = {k: dict(v) for k, v in CPU_TILES.items()}
    gpu = {k: dict(v) for k, v in GPU_TILES.items()}
    blk = dict(CPU_BLOCKING)
    tuned = tuning.params_for_id(tuned_id) or {}
    for section, live in (("cpu_tiles", cpu), ("gpu_tiles", gpu)):
        for which, tile in tuned.get(section, {}).items():
            if (which in live and live[which] == _DEFAULTS[section].get(which)
                    and set(tile) == set(_TILE_KEYS[section]) and _sane_tile(section, tile)):
                live[which] = dict(tile)
    for key, value in tuned.get("cpu_blocking", {}).items():
        if key in _DEFAULTS["cpu_blocking"] and blk.get(key) == _DEFAULTS["cpu_blocking"][key]:
            blk[key] = value
    return cpu, gpu, blk


def _sane_tile(section: str, t: dict[str, int]) -> bool:
    if any(v < 1 for v in t.values()):
        return False
    if section == "cpu_tiles":
        return t["vw"] in (1, 2, 4, 8, 16) and t["mr"] * t["nv"] <= 64
    return t["tm"] % t["wm"] == 0 and t["tn"] % t["wn"] == 0


def _gemm_core(out: Array, a: Array, b: Array, c: Array | None, alpha: Any, beta: Any) -> Array:
    """``out = alpha * a @ b + beta * c`` for validated operands.

    ``a`` is (*batch_a, M, K), ``b`` (*batch_b, K, N); ``out`` (*batch, M, N) is the broadcast
    result; ``c`` broadcasts to it (or is None). Nothing is synchronised.
    """
    if out.numel == 0:
        return out
    if beta == 0:
        c = None    # PyTorch: with beta == 0 the addend is ignored, NaN in it included
    plan = _make_plan(_plan_key(out, a, b, c))
    dev = out.device
    arrays = {"out": out, "a": a, "b": b, "c": c}
    scratch = [dev.allocate(n) for n in plan.scratch]
    for kernel_def, params, gsize, lsize, consts, patches, ct in plan.launches:
        args = list(consts)
        for k, v in patches:
            if type(v) is _Buf:
                name = v[0]
                args[k] = scratch[name] if type(name) is int else arrays[name].buffer
            elif type(v) is _Off:
                args[k] = arrays[v[0]].offset + v[1]
            else:
                args[k] = _scalar(alpha if v is _ALPHA else beta, ct, v[1:-1])
        dev.launch(dev.kernels.get(TEMPLATE, kernel_def, **params), gsize, lsize, *args)
    return out


@functools.lru_cache(maxsize=4096)
def _make_plan(key: tuple) -> _Plan:
    (style, cus, o_shape, o_strides, a_shape, a_strides, b_shape, b_strides, c_meta,
     a_dt, out_dt, alias_a, alias_b, _, tuned_id) = key
    M, N, K = o_shape[-2], o_shape[-1], a_shape[-1]
    bshape = o_shape[:-2]
    nb = len(bshape)
    a_bs = shapes.broadcast_strides(a_shape[:-2], a_strides[:-2], bshape)
    b_bs = shapes.broadcast_strides(b_shape[:-2], b_strides[:-2], bshape)
    if c_meta is not None:
        c_st = shapes.broadcast_strides(c_meta[0], c_meta[1], o_shape)
        c_bs, c_sm, c_sn = c_st[:nb], c_st[nb], c_st[nb + 1]
    else:
        c_bs, c_sm, c_sn = (0,) * nb, 0, 0
    o_bs = o_strides[:-2]
    # size-1 dims may carry any stride; normalise so they never block folding or vector paths
    a_sm = a_strides[-2] if M > 1 else a_strides[-1] * max(K, 1)
    a_sk = a_strides[-1] if K > 1 else 1
    b_sk = b_strides[-2] if K > 1 else b_strides[-1] * max(N, 1)
    b_sn = b_strides[-1] if N > 1 else 1
    o_sm = o_strides[-2] if M > 1 else N
    o_sn = o_strides[-1] if N > 1 else 1
    if c_meta is not None:
        c_sm = c_sm if M > 1 else 0
        c_sn = c_sn if N > 1 else 0
    cshape, (o_bs, a_bs, b_bs, c_bs) = shapes.collapse(bshape, [o_bs, a_bs, b_bs, c_bs])
    if cshape == (1,):
        cshape, o_bs, a_bs, b_bs, c_bs = (), (), (), (), ()
    # (B, M, K) @ (K, N) with B and M mergeable in A, out and C: one GEMM with B*M rows
    if len(cshape) == 1 and b_bs[0] == 0 and all(
            st == M * sm for st, sm in ((a_bs[0], a_sm), (o_bs[0], o_sm), (c_bs[0], c_sm))):
        M *= cshape[0]
        cshape, o_bs, a_bs, b_bs, c_bs = (), (), (), (), ()
    plan = _Plan(style, cus, tuned_id)
    gemv_max = plan.blocking["gemv_max"]
    adt, odt = D.as_dtype(a_dt), D.as_dtype(out_dt)
    # the kernels take two batch dims: one launch per index of any further leading dims
    nlead = max(0, len(cshape) - 2)
    for idx in np.ndindex(*cshape[:nlead]):
        def mat(name: str, bs: tuple[int, ...], sr: int, sc: int, dt: DType, alias: bool
                ) -> _Mat:
            delta = sum(i * st for i, st in zip(idx, bs))
            rest = tuple(bs[nlead:])
            bs2 = (rest[0], rest[1]) if len(rest) == 2 else (0, rest[0] if rest else 0)
            return _Mat(name, delta, bs2, sr, sc, dt, alias)
        sub = cshape[nlead:]
        o = mat("out", o_bs, o_sm, o_sn, odt, False)
        am = mat("a", a_bs, a_sm, a_sk, adt, alias_a)
        bm = mat("b", b_bs, b_sk, b_sn, adt, alias_b)
        cm = mat("c", c_bs, c_sm, c_sn, odt, False) if c_meta is not None else None
        nbatch, nb1 = math.prod(sub), (sub[-1] if sub else 1)
        if style == "gpu":
            _plan_gpu(plan, o, am, bm, cm, M, N, K, nbatch, nb1)
        elif (N <= gemv_max or M <= gemv_max) and K > 0:
            _plan_gemv(plan, o, am, bm, cm, M, N, K, nbatch, nb1)
        else:
            _plan_cpu(plan, o, am, bm, cm, M, N, K, nbatch, nb1)
    return plan


def _c_args(cm: _Mat | None, o: _Mat) -> list[Any]:
    if cm is None:     # not read (has_c = 0): any valid buffer
        return [o.buf(), 0, 0, 0, _long2(0, 0)]
    return [cm.buf(), cm.off(), cm.sr, cm.sc, _long2(*cm.bs)]


# -- CPU style --------------------------------------------------------------------------------

def _pack(plan: _Plan, m: _Mat, K: int, C: int, s_k: int, s_c: int, P: int, ct: DType,
          nbatch: int, nb1: int) -> tuple[_Buf, tuple[int, int], int]:
    """Copy a (K x C) operand into zero-padded panels [C/P][K][P] of dtype ``ct``.

    Returns the scratch buffer, its batch strides and its panel stride. An operand that is the
    same for every batch index (batch strides 0) is packed once. Scratch returns to the pool
    when dropped; work enqueued later on the in-order queue cannot overtake this GEMM.
    """
    npan = -(-C // P)
    per = npan * P * K
    shared = m.bs == (0, 0)
    nbp = 1 if shared else nbatch
    dst = plan.new_scratch(nbp * per * ct.itemsize)
    params = dict(name=f"clt_mm_pack_{ct.tag}_{m.dtype.tag}", src_dtype=m.dtype.name,
                  dst_dtype=ct.name)
    # enough work-items for every core even when there are few panels
    want = 4 * plan.cus
    ksplit = min(max(1, -(-want // (npan * nbp))), max(1, K // 64))
    kchunk = (-(-K // ksplit) + 7) // 8 * 8 if ksplit > 1 else K   # whole 8-row blocks
    plan.add("pack", params, (npan, -(-K // kchunk), nbp), _LOCAL1,
             [dst, per, m.buf(), m.off(), s_k, s_c, _long2(*m.bs), K, C, P, kchunk,
              nb1 if not shared else 1], ct)
    bs = (0, 0) if shared else (nb1 * per, per)
    return dst, bs, P * K


def _tiles_per_item(cus: int, M: int, N: int, K: int, nbatch: int, mr: int, nr: int,
                    itemsize: int, blk: dict[str, int]) -> int:
    row_tiles = -(-M // mr)
    tiles = max(1, min(blk["max_tiles"], row_tiles,
                       blk["a_block_bytes"] // max(1, mr * K * itemsize)))
    want = blk["items_per_cu"] * cus
    col_items = -(-N // nr) * nbatch
    while tiles > 1 and col_items * -(-row_tiles // tiles) < want:
        tiles //= 2
    return tiles


def _cpu_choice(am: _Mat, bm: _Mat, o_sc: int, M: int, N: int, K: int, ct: DType, mr: int,
                nr: int, blk: dict[str, int]) -> tuple[bool, bool, float]:
    """Which operands to pack, and a rough cost in seconds, for one orientation."""
    # A is read in place through its strides unless it needs converting, aliases the output,
    # has no unit stride, or is large (mr rows 4 KiB apart thrash L1 sets; panels stream)
    pack_a = K > 0 and (am.dtype is not ct or am.alias or (M * K >= blk["pack_a_min"] and M > mr)
                        or (am.sc != 1 and am.sr != 1))
    # B is read as rows of nr-wide vectors: packed unless it already has unit column stride
    # (a narrow B with another stride is gathered by the kernel instead)
    pack_b = K > 0 and (bm.dtype is not ct or bm.alias
                        or (K * N >= blk["pack_b_min"] and M >= blk.get("pack_b_rows", 0))
                        or (bm.sc != 1 and N >= nr))
    padded = 2.0 * (-(-M // mr) * mr) * (-(-N // nr) * nr) * K
    moved = (M * K if pack_a else 0) + (K * N if pack_b else 0)
    cost = padded / 150e9 + moved * 8 / 15e9 + 2e-5 * (pack_a + pack_b)
    if o_sc != 1:      # element-by-element stores
        cost += M * N * 1e-9
    return pack_a, pack_b, cost


def _plan_cpu(plan: _Plan, o: _Mat, am: _Mat, bm: _Mat, cm: _Mat | None, M: int, N: int,
              K: int, nbatch: int, nb1: int) -> None:
    ct = _COMPUTE[am.dtype.name]
    tile = dict(plan.cpu_tiles[ct.name])
    mr, nr = tile["mr"], tile["nv"] * tile["vw"]
    pack_a, pack_b, cost = _cpu_choice(am, bm, o.sc, M, N, K, ct, mr, nr, plan.blocking)
    # C = A @ B or C^T = B^T @ A^T: whichever packs less (x @ W.T packs x, not W) and wastes
    # less of the register tile on padding
    pack_at, pack_bt, cost_t = _cpu_choice(bm.t(), am.t(), o.sr, N, M, K, ct, mr, nr,
                                           plan.blocking)
    force = plan.blocking.get("orientation", 0)   # tuning hook: 1 direct, 2 transposed
    if (cost_t < cost and force != 1) or force == 2:
        o, am, bm, cm = o.t(), bm.t(), am.t(), (cm.t() if cm is not None else None)
        M, N, pack_a, pack_b = N, M, pack_at, pack_bt
    a_args = [am.buf(), am.off(), am.sr, am.sc, mr * am.sr, _long2(*am.bs)]
    if pack_a:
        packed, a_bs, a_sp = _pack(plan, am, K, M, am.sc, am.sr, mr, ct, nbatch, nb1)
        a_args = [packed, 0, 1, mr, a_sp, _long2(*a_bs)]
    b_args = [bm.buf(), bm.off(), bm.sc, bm.sr, nr * bm.sc, _long2(*bm.bs), 0]
    if pack_b:
        packed, b_bs, b_sp = _pack(plan, bm, K, N, bm.sr, bm.sc, nr, ct, nbatch, nb1)
        b_args = [packed, 0, 1, nr, b_sp, _long2(*b_bs), 1]
    if K == 0:   # nothing to read: any valid buffers do
        a_args[:2] = [o.buf(), 0]
        b_args[:2] = [o.buf(), 0]
    tiles = _tiles_per_item(plan.cus, M, N, K, nbatch, mr, nr, ct.itemsize, plan.blocking)
    out_dt = o.dtype
    params = dict(name=f"clt_mm_gemm_{out_dt.tag}_{ct.tag}", compute=ct.name,
                  out_dtype=out_dt.name, **tile)
    plan.add("gemm_cpu", params, (-(-N // nr), -(-M // (mr * tiles)), nbatch), _LOCAL1,
             [o.buf(), o.off(), o.sr, o.sc, _long2(*o.bs), *a_args, *b_args, *_c_args(cm, o),
              M, N, K, nb1, tiles, _ALPHA, _BETA, int(cm is not None)], ct)


# -- matrix-vector ----------------------------------------------------------------------------

def _plan_gemv(plan: _Plan, o: _Mat, am: _Mat, bm: _Mat, cm: _Mat | None, M: int, N: int,
               K: int, nbatch: int, nb1: int) -> None:
    """One output row or column: out (M x 1) = A x, or out (1 x N) = (B^T a)^T."""
    if N <= M and N == 1:
        mat, mat_sr, mat_sc, vec, vec_s, rows = am, am.sr, am.sc, bm, bm.sr, M
        o_s, c_s = o.sr, (cm.sr if cm is not None else 0)
    else:   # M == 1: transpose the problem so B^T is the matrix
        mat, mat_sr, mat_sc, vec, vec_s, rows = bm, bm.sc, bm.sr, am, am.sc, N
        o_s, c_s = o.sc, (cm.sc if cm is not None else 0)
    ct = _COMPUTE[mat.dtype.name]
    vw = 8 if ct.itemsize <= 4 else 4
    out_dt = o.dtype
    params = dict(name=f"clt_mm_gemv_{out_dt.tag}_{ct.tag}", in_dtype=mat.dtype.name,
                  compute=ct.name, out_dtype=out_dt.name, vw=vw)
    # rows per work-item: enough items for every core, each a contiguous block of rows
    rpi = _gemv_rows_per_item(plan.cus, rows, nbatch, vw)
    c_args = ([cm.buf(), cm.off(), c_s, _long2(*cm.bs)] if cm is not None
              else [o.buf(), 0, 0, _long2(0, 0)])
    plan.add("gemv", params, (-(-rows // rpi), 1, nbatch), _LOCAL1,
             [o.buf(), o.off(), o_s, _long2(*o.bs),
              mat.buf(), mat.off(), mat_sr, mat_sc, _long2(*mat.bs),
              vec.buf(), vec.off(), vec_s, _long2(*vec.bs), *c_args,
              rows, K, nb1, rpi, _ALPHA, _BETA, int(cm is not None)], ct)


def _gemv_rows_per_item(cus: int, rows: int, nbatch: int, vw: int) -> int:
    want = 4 * cus
    rpi = max(vw, -(-rows * nbatch // want) // nbatch if nbatch < want else rows)
    rpi = -(-rpi // vw) * vw
    return max(vw, min(rpi, 256))


# -- GPU style --------------------------------------------------------------------------------

def _plan_gpu(plan: _Plan, o: _Mat, am: _Mat, bm: _Mat, cm: _Mat | None, M: int, N: int,
              K: int, nbatch: int, nb1: int) -> None:
    ct = _COMPUTE[am.dtype.name]
    tile = plan.gpu_tiles.get(ct.name)
    if tile is None:
        big = plan.gpu_tiles["large"]
        groups = -(-M // big["tm"]) * -(-N // big["tn"]) * nbatch
        tile = big if groups >= 2 * plan.cus else plan.gpu_tiles["default"]
    tile = dict(tile)
    tm, tn, wm, wn = tile["tm"], tile["tn"], tile["wm"], tile["wn"]
    lx, ly = tn // wn, tm // wm
    out_dt = o.dtype
    params = dict(name=f"clt_mm_gemm_gpu{tm}x{tn}_{out_dt.tag}", a_dtype=am.dtype.name,
                  b_dtype=bm.dtype.name, out_dtype=out_dt.name, compute=ct.name, **tile)
    plan.add("gemm_gpu", params, (-(-N // tn) * lx, -(-M // tm) * ly, nbatch), (lx, ly, 1),
             [o.buf(), o.off(), o.sr, o.sc, _long2(*o.bs),
              am.buf(), am.off(), am.sr, am.sc, _long2(*am.bs),
              bm.buf(), bm.off(), bm.sr, bm.sc, _long2(*bm.bs), *_c_args(cm, o),
              M, N, K, nb1, _ALPHA, _BETA, int(cm is not None)], ct)


# ---------------------------------------------------------------------------------------------
# public ops

def _view(x: Array, shape: Sequence[int], strides: Sequence[int], offset: int | None = None
          ) -> Array:
    return Array(x.storage, tuple(shape), tuple(strides), x.offset if offset is None else offset,
                 x.dtype)


def transpose_last(x: Array) -> Array:
    """A view of ``x`` with its last two dims swapped (no copy)."""
    if x.ndim < 2:
        return x
    sh, st = list(x.shape), list(x.strides)
    sh[-1], sh[-2] = sh[-2], sh[-1]
    st[-1], st[-2] = st[-2], st[-1]
    return _view(x, sh, st)


def reshape(x: Array, shape: Sequence[int]) -> Array:
    """``x`` viewed as ``shape`` when its strides allow, else a contiguous copy reshaped."""
    shape = tuple(shape)
    if shape == x.shape:
        return x
    st = shapes.view_strides(x.shape, x.strides, shape)
    if st is None:
        x = ew.contiguous(x)
        st = shapes.contiguous_strides(shape)
    return _view(x, shape, st)


def gemm(a: Array, b: Array, out: Array | None = None, alpha: Any = 1, beta: Any = 0,
         c: Array | None = None) -> Array:
    """``out = alpha * (a @ b) + beta * c`` for (batched) matrices with any strides.

    Args:
        a: (*batch_a, M, K) matrix or batch of matrices.
        b: (*batch_b, K, N); batch dims of a and b broadcast against each other.
        out: optional result array of shape (*batch, M, N) and the operands' dtype; any strides
            (it may be ``c`` itself for an in-place update).
        alpha: scale of the product.
        beta: scale of ``c``; when 0, ``c`` is ignored entirely (NaN in it does not propagate).
        c: optional addend broadcastable to the result shape (a bias row has strides (0, 1)).

    Returns:
        ``out`` (a new array if not given).

    Raises:
        ShapeError: inner dims differ, batch dims do not broadcast, or ``c``/``out`` misfit.
        DTypeError: the operands' dtypes differ or are not supported.
        DeviceError: operands on different devices.
    """
    if a.ndim < 2 or b.ndim < 2:
        raise ShapeError(f"gemm: expected matrices (at least 2-D), got shapes {a.shape} and "
                         f"{b.shape}; use matmul for vectors")
    dev = _check_device("gemm", a, b, c, out)
    dt = _check_dtypes("gemm", a, b, *([c] if c is not None else []))
    if a.shape[-1] != b.shape[-2]:
        if a.ndim == 2 and b.ndim == 2:
            raise ShapeError(f"mat1 and mat2 shapes cannot be multiplied ({_fmt(a.shape)} and "
                             f"{_fmt(b.shape)})")
        raise ShapeError(f"gemm: inner dimensions differ: a has shape {a.shape} (K="
                         f"{a.shape[-1]}) and b has shape {b.shape} (K={b.shape[-2]})")
    try:
        batch = shapes.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    except ShapeError:
        raise ShapeError(f"gemm: batch dimensions of {a.shape} and {b.shape} cannot be "
                         "broadcast") from None
    shape = batch + (a.shape[-2], b.shape[-1])
    if c is not None:
        try:
            shapes.broadcast_strides(c.shape, c.strides, shape)
        except ShapeError:
            raise ShapeError(f"gemm: c of shape {c.shape} cannot be broadcast to the result "
                             f"shape {shape}") from None
    if out is None:
        out = Array.empty(dev, shape, dt)
    else:
        _check_out("gemm", out, shape, dt, dev)
        # the kernels read operands while other work-items write out: copy what overlaps it
        if a.storage is out.storage:
            a = _copy(a)
        if b.storage is out.storage:
            b = a if b is a else _copy(b)
        if c is not None and c.storage is out.storage and _beta_nonzero(beta) and (
                c.offset != out.offset or
                shapes.broadcast_strides(c.shape, c.strides, shape) != out.strides):
            c = ew.contiguous(_copy(c))   # a partial overlap would race with the stores
        out.bump_version()
    _scalar(alpha, dt, "alpha")
    _scalar(beta, dt, "beta")
    return _gemm_core(out, a, b, c, alpha, beta)


def _beta_nonzero(beta: Any) -> bool:
    return beta != 0


def _copy(x: Array) -> Array:
    out = Array.empty(x.device, x.shape, x.dtype)
    return ew.launch_map("copy", "a", out, [x])


def mm(a: Array, b: Array, out: Array | None = None) -> Array:
    """Matrix product of two 2-D arrays: (M, K) @ (K, N) -> (M, N)."""
    for name, x in (("self", a), ("mat2", b)):
        if x.ndim != 2:
            raise ShapeError(f"mm: {name} must be a matrix, got shape {x.shape}")
    return gemm(a, b, out)


def bmm(a: Array, b: Array, out: Array | None = None) -> Array:
    """Batched matrix product of 3-D arrays with equal batch size: (B, M, K) @ (B, K, N)."""
    for name, x in (("batch1", a), ("batch2", b)):
        if x.ndim != 3:
            raise ShapeError(f"bmm: {name} must be a 3D tensor, got shape {x.shape}")
    if a.shape[0] != b.shape[0] or a.shape[2] != b.shape[1]:
        raise ShapeError(f"bmm: expected batch2 of shape ({a.shape[0]}, {a.shape[2]}, *) for "
                         f"batch1 of shape {a.shape}, but got {b.shape}")
    return gemm(a, b, out)


def addmm(input: Array, mat1: Array, mat2: Array, beta: Any = 1, alpha: Any = 1,
          out: Array | None = None) -> Array:
    """``beta * input + alpha * (mat1 @ mat2)``; ``input`` broadcasts to (M, N)."""
    for name, x in (("mat1", mat1), ("mat2", mat2)):
        if x.ndim != 2:
            raise ShapeError(f"addmm: {name} must be a matrix, got shape {x.shape}")
    return gemm(mat1, mat2, out, alpha=alpha, beta=beta, c=input)


def baddbmm(input: Array, batch1: Array, batch2: Array, beta: Any = 1, alpha: Any = 1,
            out: Array | None = None) -> Array:
    """``beta * input + alpha * bmm(batch1, batch2)``; ``input`` broadcasts to (B, M, N)."""
    for name, x in (("batch1", batch1), ("batch2", batch2)):
        if x.ndim != 3:
            raise ShapeError(f"baddbmm: {name} must be a 3D tensor, got shape {x.shape}")
    if batch1.shape[0] != batch2.shape[0]:
        raise ShapeError(f"baddbmm: batch1 and batch2 must have the same batch size, got "
                         f"{batch1.shape} and {batch2.shape}")
    return gemm(batch1, batch2, out, alpha=alpha, beta=beta, c=input)


def matmul(a: Array, b: Array, out: Array | None = None) -> Array:
    """Matrix product with PyTorch's rules.

    1-D x 1-D is a dot product (0-d result); a 1-D first operand is a row vector and a 1-D
    second operand a column vector, their added dim removed from the result; N-D operands are
    batches of matrices whose batch dims broadcast.

    Raises:
        ShapeError: 0-d operands or mismatched inner dims (naming both shapes).
    """
    if a.ndim == 0 or b.ndim == 0:
        raise ShapeError(f"both arguments to matmul need to be at least 1D, but they are "
                         f"{a.ndim}D and {b.ndim}D")
    if a.ndim == 1 and b.ndim == 1:
        if a.shape[0] != b.shape[0]:
            raise ShapeError(f"inconsistent tensor size, expected tensor [{a.shape[0]}] and "
                             f"src [{b.shape[0]}] to have the same number of elements, but got "
                             f"{a.shape[0]} and {b.shape[0]} elements respectively")
        return dot(a, b, out)
    a2 = _view(a, (1, a.shape[0]), (0, a.strides[0])) if a.ndim == 1 else a
    b2 = _view(b, (b.shape[0], 1), (b.strides[0], 0)) if b.ndim == 1 else b
    if a2.shape[-1] != b2.shape[-2]:
        if a.ndim <= 2 and b.ndim <= 2:
            raise ShapeError(f"mat1 and mat2 shapes cannot be multiplied ({_fmt(a2.shape)} and "
                             f"{_fmt(b2.shape)})")
        raise ShapeError(f"matmul: inner dimensions differ: {a.shape} @ {b.shape} "
                         f"({a2.shape[-1]} != {b2.shape[-2]})")
    try:
        batch = shapes.broadcast_shapes(a2.shape[:-2], b2.shape[:-2])
    except ShapeError:
        raise ShapeError(f"matmul: batch dimensions of {a.shape} and {b.shape} cannot be "
                         "broadcast") from None
    full = batch + (a2.shape[-2], b2.shape[-1])
    final = (batch + (() if a.ndim == 1 else (a2.shape[-2],))
             + (() if b.ndim == 1 else (b2.shape[-1],)))
    if out is not None:
        dev = _check_device("matmul", a, b, out)
        _check_out("matmul", out, final, _check_dtypes("matmul", a, b), dev)
        out2 = _view(out, full, _unsqueeze_strides(out, full, a.ndim == 1, b.ndim == 1))
        gemm(a2, b2, out2)
        return out
    res = gemm(a2, b2)
    return _view(res, final, shapes.contiguous_strides(final)) if final != full else res


def _unsqueeze_strides(out: Array, full: tuple[int, ...], row: bool, col: bool
                       ) -> tuple[int, ...]:
    """Strides viewing matmul's ``out`` (vector dims dropped) as the full (*batch, M, N)."""
    nb = len(full) - 2
    st = list(out.strides[:nb])
    rest = list(out.strides[nb:])
    st.append(0 if row else rest.pop(0))
    st.append(1 if col else rest.pop(0))
    return tuple(st)


def mv(a: Array, v: Array, out: Array | None = None) -> Array:
    """Matrix-vector product: (M, K) @ (K,) -> (M,)."""
    if a.ndim != 2 or v.ndim != 1:
        raise ShapeError(f"mv: expected a matrix and a vector, got shapes {a.shape} and "
                         f"{v.shape}")
    return matmul(a, v, out)


def dot(a: Array, b: Array, out: Array | None = None) -> Array:
    """Inner product of two 1-D arrays of equal length -> 0-d array."""
    if a.ndim != 1 or b.ndim != 1:
        raise ShapeError(f"1D tensors expected, but got {a.ndim}D and {b.ndim}D tensors")
    if a.shape != b.shape:
        raise ShapeError(f"inconsistent tensor size, expected tensor [{a.shape[0]}] and src "
                         f"[{b.shape[0]}] to have the same number of elements, but got "
                         f"{a.shape[0]} and {b.shape[0]} elements respectively")
    dev = _check_device("dot", a, b, out)
    dt = _check_dtypes("dot", a, b)
    if out is None:
        out = Array.empty(dev, (), dt)
    else:
        _check_out("dot", out, (), dt, dev)
    o2 = _view(out, (1, 1), (1, 1))
    gemm(_view(a, (1, a.shape[0]), (1, a.strides[0])),
         _view(b, (b.shape[0], 1), (b.strides[0], 1)), o2)
    return out


def outer(a: Array, b: Array, out: Array | None = None) -> Array:
    """Outer product of two vectors: (M,) x (N,) -> (M, N), as a broadcast multiply."""
    if a.ndim != 1 or b.ndim != 1:
        raise ShapeError(f"outer: expected 1-D vectors, got shapes {a.shape} and {b.shape}")
    _check_device("outer", a, b, out)
    _check_dtypes("outer", a, b)
    col = _view(a, (a.shape[0], 1), (a.strides[0], 0))
    row = _view(b, (1, b.shape[0]), (0, b.strides[0]))
    return ew.binary("mul", col, row, out)


def linear(x: Array, weight: Array, bias: Array | None = None, out: Array | None = None
           ) -> Array:
    """``x @ weight.T + bias`` with the bias added in the GEMM's epilogue.

    Args:
        x: (*, in_features).
        weight: (out_features, in_features); read transposed in place.
        bias: optional (out_features,) (or anything broadcastable to the result).
    """
    if weight.ndim not in (1, 2):
        raise ShapeError(f"linear: weight must be 1-D or 2-D, got shape {weight.shape}")
    if x.ndim == 0:
        raise ShapeError("linear: input must be at least 1-D, got a 0-d array")
    if x.shape[-1] != weight.shape[-1]:
        xs = (math.prod(x.shape[:-1]), x.shape[-1])
        ws = weight.shape[::-1] if weight.ndim == 2 else (weight.shape[0], 1)
        raise ShapeError(f"mat1 and mat2 shapes cannot be multiplied ({_fmt(xs)} and "
                         f"{_fmt(ws)})")
    if weight.ndim == 1:
        res = matmul(x, weight)
        return res if bias is None else ew.binary("add", res, bias, out)
    _check_device("linear", x, weight, bias, out)
    wt = transpose_last(weight)
    lead = x.shape[:-1]
    x2 = x if x.ndim >= 2 else _view(x, (1, x.shape[0]), (0, x.strides[0]))
    if x.ndim > 2:   # fold the leading dims into rows when x's layout allows it
        st = shapes.view_strides(x.shape, x.strides, (math.prod(lead), x.shape[-1]))
        if st is not None:
            x2 = _view(x, (math.prod(lead), x.shape[-1]), st)
    final = lead + (weight.shape[0],)
    shape2 = x2.shape[:-1] + (weight.shape[0],)
    if out is not None:
        _check_out("linear", out, final, x.dtype, out.device)
        ost = shapes.view_strides(out.shape, out.strides, shape2)
        if ost is None:
            res = gemm(x2, wt, alpha=1, beta=1 if bias is not None else 0, c=bias)
            ew.copy_(out, reshape(res, final))
            return out
        gemm(x2, wt, _view(out, shape2, ost), alpha=1, beta=1 if bias is not None else 0,
             c=bias)
        return out
    res = gemm(x2, wt, alpha=1, beta=1 if bias is not None else 0, c=bias)
    return reshape(res, final)


# ---------------------------------------------------------------------------------------------
# einsum

_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def parse_einsum(equation: str, operands: Sequence[Array]) -> tuple[list[str], str]:
    """Subscripts per operand and for the output, with ``...`` replaced by fresh letters."""
    eq = equation.replace(" ", "")
    lhs, arrow, rhs = eq.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(operands):
        raise ValueError(f"einsum(): {equation!r} has {len(terms)} operand subscripts but "
                         f"{len(operands)} operands were given")
    for t in terms + ([rhs] if arrow else []):
        bad = set(t.replace("...", "")) - set(_LETTERS)
        if bad or t.count("...") > 1 or "." in t.replace("...", ""):
            raise ValueError(f"einsum(): invalid subscript in {equation!r}: subscripts must be "
                             "letters, with at most one ellipsis per operand")
    used = set(lhs + rhs) - {"."}
    fresh = [ch for ch in _LETTERS if ch not in used]
    ell = 0
    for t, x in zip(terms, operands):
        n = len(t.replace("...", ""))
        if "..." in t:
            ell = max(ell, x.ndim - n)
        if ("..." in t and x.ndim < n) or ("..." not in t and x.ndim != n):
            raise ShapeError(f"einsum(): the subscripts {t!r} do not match operand of shape "
                             f"{x.shape} ({x.ndim} dimensions)")
    ell_letters = "".join(fresh[:ell])
    out_terms = []
    for t, x in zip(terms, operands):
        if "..." in t:
            k = x.ndim - len(t.replace("...", ""))
            t = t.replace("...", ell_letters[ell - k:] if k else "")
        out_terms.append(t)
    if arrow:
        out = rhs.replace("...", ell_letters)
        for ch in out:
            if ch not in "".join(out_terms):
                raise ValueError(f"einsum(): output subscript {ch!r} does not appear in the "
                                 f"input subscripts of {equation!r}")
        if len(set(out)) != len(out):
            raise ValueError(f"einsum(): output subscript repeated in {equation!r}")
    else:
        allc = "".join(out_terms)
        out = ell_letters + "".join(sorted(ch for ch in set(allc) - set(ell_letters)
                                           if allc.count(ch) == 1))
    return out_terms, out


_ONES: "weakref.WeakKeyDictionary[Device, dict]" = weakref.WeakKeyDictionary()


def _ones(dev: Device, n: int, dtype: DType) -> Array:
    """A read-only vector of ones, kept per device (sums over a dim reuse it every step)."""
    cache = _ONES.setdefault(dev, {})
    x = cache.get((n, dtype.name))
    if x is None:
        if len(cache) > 64:
            cache.clear()
        x = cache[(n, dtype.name)] = ew.fill_(Array.empty(dev, (n,), dtype), 1)
    return x


def _sum_out(x: Array, subs: str, drop: str) -> tuple[Array, str]:
    """Sum ``x`` (subscripts ``subs``, one letter per dim) over the letters in ``drop``.

    Done as a matrix-vector product with a vector of ones: (keep, summed) @ ones(summed).
    """
    keep = [i for i, ch in enumerate(subs) if ch not in drop]
    gone = [i for i, ch in enumerate(subs) if ch in drop]
    if not gone:
        return x, subs
    perm = keep + gone
    xp = _view(x, [x.shape[i] for i in perm], [x.strides[i] for i in perm])
    kshape = tuple(x.shape[i] for i in keep)
    S = math.prod(x.shape[i] for i in gone)
    x2 = reshape(xp, (math.prod(kshape), S))
    res = gemm(x2, _view(_ones(x.device, S, x.dtype), (S, 1), (1, 1)))
    return reshape(res, kshape), "".join(subs[i] for i in keep)


def _prepare(x: Array, subs: str, sizes: dict[str, int]) -> tuple[Array, str]:
    """Take diagonals of repeated letters and expand size-1 dims that broadcast (views only)."""
    order: list[str] = []
    dims: dict[str, tuple[int, int]] = {}
    for ch, n, st in zip(subs, x.shape, x.strides):
        if ch in dims:
            n0, st0 = dims[ch]
            if n0 != n:
                raise ShapeError(f"einsum(): subscript {ch} is repeated for operand of shape "
                                 f"{x.shape} but the sizes don't match, {n0} != {n}")
            dims[ch] = (n, st0 + st)
        else:
            order.append(ch)
            dims[ch] = (n, st)
    shape = []
    strides = []
    for ch in order:
        n, st = dims[ch]
        if n == 1 and sizes[ch] != 1:
            n, st = sizes[ch], 0
        shape.append(n)
        strides.append(st)
    return _view(x, shape, strides), "".join(order)


def _contract(a: Array, sa: str, b: Array, sb: str, need: str) -> tuple[Array, str]:
    """Contract two prepared operands, keeping the letters in ``need``."""
    batch = [ch for ch in sa if ch in sb and ch in need]
    con = [ch for ch in sa if ch in sb and ch not in need]
    ml = [ch for ch in sa if ch not in sb]
    nl = [ch for ch in sb if ch not in sa]
    size = {ch: n for ch, n in zip(sa + sb, a.shape + b.shape)}

    def arrange(x: Array, subs: str, groups: list[list[str]]) -> Array:
        perm = [subs.index(ch) for g in groups for ch in g]
        xp = _view(x, [x.shape[i] for i in perm], [x.strides[i] for i in perm])
        return reshape(xp, tuple(math.prod(size[ch] for ch in g) for g in groups))

    a3 = arrange(a, sa, [batch, ml, con])
    b3 = arrange(b, sb, [batch, con, nl])
    res = gemm(a3, b3)
    letters = batch + ml + nl
    return reshape(res, tuple(size[ch] for ch in letters)), "".join(letters)


def einsum(equation: str, *operands: Array) -> Array:
    """Einstein summation, as ``torch.einsum``, mapped onto views and batched GEMMs.

    Supports any number of operands (contracted left to right), repeated subscripts within an
    operand (diagonals, as views), ``...`` broadcasting, size-1 broadcasting, implicit output
    (``"ij,jk"``), and sums over subscripts missing from the output (as products with ones).

    Examples: ``"ij,jk->ik"`` (mm), ``"bij,bjk->bik"`` (bmm), ``"ij->ji"`` (a transposed view),
    ``"ii->i"`` (the diagonal as a view), ``"ij->"`` (sum), ``"i,j->ij"`` (outer).
    """
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    if not operands:
        raise ValueError("einsum(): must provide at least one operand")
    terms, out = parse_einsum(equation, operands)
    _check_device("einsum", *operands)
    sizes: dict[str, int] = {}
    for t, x in zip(terms, operands):
        for ch, n in zip(t, x.shape):
            if sizes.get(ch, 1) != 1 and n != 1 and sizes[ch] != n:
                raise ShapeError(f"einsum(): operands do not broadcast with remapped shapes: "
                                 f"subscript {ch} has size {sizes[ch]} and {n} in {equation!r}")
            sizes[ch] = n if sizes.get(ch, 1) == 1 else sizes[ch]
    if len(operands) > 1:
        _check_dtypes("einsum", *operands)
    prepared = [_prepare(x, t, sizes) for t, x in zip(terms, operands)]
    cur, cs = prepared[0]
    for i in range(1, len(prepared) + 1):
        later = "".join(t for _, t in prepared[i + 1:]) + out
        nxt = prepared[i][1] if i < len(prepared) else ""
        # letters only this operand has and nobody needs: sum them out first
        drop = "".join(ch for ch in cs if ch not in later and ch not in nxt)
        if drop:
            _check_dtypes("einsum", cur)
            cur, cs = _sum_out(cur, cs, drop)
        if i == len(prepared):
            break
        x, xs = prepared[i]
        drop = "".join(ch for ch in xs if ch not in later and ch not in cs)
        if drop:
            x, xs = _sum_out(x, xs, drop)
        cur, cs = _contract(cur, cs, x, xs, later)
    perm = [cs.index(ch) for ch in out]
    return _view(cur, [cur.shape[i] for i in perm], [cur.strides[i] for i in perm])


def _tune(device: Device, **options: Any) -> dict[str, Any]:
    from clt.ops.tune_matmul import tune_gemm   # the search itself loads only when tuning

    return tune_gemm(device, **options)


tuning.register_tuner("gemm", _tune)
