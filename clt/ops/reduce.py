"""Reductions, scans, softmax and sorting over strided arrays (``kernels/reduce.cl.mako``).

Every op follows PyTorch's semantics (dims, ``keepdim``, result dtypes, error messages) and reads
strided views directly: the input's dims are split into a *kept* space (the output) and a
*reduced* space, each collapsed and passed as rank-8 shape/stride kernel arguments, so one build
per (op, dtypes) serves every shape and layout.

CPU devices (``caps.style == "cpu"``) run a few work-items, each walking contiguous memory with
8-wide vector accumulators; GPUs run work-group trees. Either way the combine order is fixed, so
results are identical from run to run. Float sums add 128-element blocks with Kahan
compensation, which keeps a float32 sum of millions of elements within ~1e-7 of the exact value.
"""
from __future__ import annotations

import builtins
import functools
import math
from typing import Any, NamedTuple, Sequence

from clt import dtypes as D
from clt.backend.device import Device
from clt.dtypes import DType
from clt.errors import CLTError, DTypeError, ShapeError
from clt.ops import elementwise as ew
from clt.ops import shapes
from clt.ops.array import Array

TEMPLATE = "reduce.cl.mako"
MAX_RANK = 8
SORT_BLOCK = 32        # elements a work-item insertion-sorts before the merge passes
PANEL = 2048           # outputs per task in the cpu "panels" mode (the template's PANEL)
TOPK_SMALL = 16        # topk with k up to this keeps a private sorted list instead of sorting

Dims = "int | Sequence[int] | None"


class ReductionIndexError(CLTError, IndexError):
    """A reduction without an identity (max, argmax, ...) over zero elements, or topk's k out of
    range: PyTorch raises IndexError for both."""


class ValuesIndices(NamedTuple):
    """The (values, indices) pair returned by max/min along a dim, sort and topk."""

    values: Array
    indices: Array


_TORCH_NAMES = {"bool": "Bool", "uint8": "Byte", "int8": "Char", "int16": "Short",
                "int32": "Int", "int64": "Long", "float16": "Half", "float32": "Float",
                "float64": "Double"}
_ACC_DTYPE = {"float": D.float32, "double": D.float64, "long": D.int64, "int": D.int32,
              "short": D.int16, "char": D.int8, "uchar": D.uint8}
_MAX_INIT = {"float": "-INFINITY", "double": "-INFINITY", "long": "LONG_MIN", "int": "INT_MIN",
             "short": "SHRT_MIN", "char": "CHAR_MIN", "uchar": "0"}


def torch_name(dtype: DType) -> str:
    """PyTorch's name for a dtype in error messages (``Long``, ``Float``, ...)."""
    return _TORCH_NAMES[dtype.name]


def _acc_of(dtype: DType) -> str:
    """The C type sums and products of ``dtype`` accumulate in (int64 for bool and ints)."""
    if dtype.is_floating_point:
        return dtype.compute
    return "long"


def _vec(*ctypes: str) -> int:
    """Vector width: 4 where 64-bit elements are involved (PoCL miscompiles 512-bit vectors
    such as long8 on AVX2 hosts), else 8."""
    return 4 if builtins.any(t in ("long", "double") for t in ctypes) else 8


def _is_float_acc(acc: str) -> bool:
    return acc in ("float", "double")


# ---------------------------------------------------------------------------------------------
# op specs: (init, pre, comb, post, kahan) for value reductions

class _Spec(NamedTuple):
    init: str
    pre: str
    comb: str
    post: str
    kahan: bool


def _max_comb(acc: str) -> str:
    return "CLT_RMAX(a, b)" if _is_float_acc(acc) else "((a) > (b) ? (a) : (b))"


def _spec(kind: str, acc: str) -> _Spec:
    f = _is_float_acc(acc)
    if kind == "sum":     # p != 0 divides by the count: mean shares the sum kernel
        return _Spec("0", "v", "a + b", "(p != 0 ? a / n : a)" if f else "a", f)
    if kind == "prod":
        return _Spec("1", "v", "a * b", "a", False)
    if kind == "amax":    # p != 0: the min, as -max(-x) (floats) or ~max(~x) (ints, no overflow)
        flip = "(p != 0 ? -{0} : {0})" if f else "(p != 0 ? ~{0} : {0})"
        return _Spec(_MAX_INIT[acc], flip.format("v"), _max_comb(acc), flip.format("a"), False)
    if kind == "lse":     # m = the max; shift by it, or by 0 where it is infinite (as torch)
        return _Spec("0", "{E}(v - {F}(m))", "a + b", "log(a) + CLT_FINS(m)", True)
    if kind == "any":     # over 0/1 in the input's compute type: max, or min (all) when p != 0
        return _Spec("(p != 0)", "{B}(v != (ACC)0)",
                     "(p != 0 ? ((a) < (b) ? (a) : (b)) : ((a) > (b) ? (a) : (b)))", "a", False)
    if kind == "count":
        return _Spec("0", "{B}(v != (ACC)0)", "a + b", "a", False)
    if kind == "var":     # squared deviations from the mean m; p != 0 takes the root (std)
        return _Spec("0", "(v - m) * (v - m)", "a + b",
                     "(p != 0 ? sqrt(a / (n - corr > 0 ? n - corr : 0)) "
                     ": a / (n - corr > 0 ? n - corr : 0))", True)
    if kind == "norm2":
        return _Spec("0", "v * v", "a + b", "sqrt(a)", True)
    if kind == "normp":   # p = 1, 0 (count of non-zeros) or any other finite p, chosen at run time
        return _Spec("0", "(p == 1 ? fabs(v) : (p == 0 ? {B}(v != (ACC)0) : pow(fabs(v), {V}(p))))",
                     "a + b", "(p == 0 || p == 1 ? a : pow(a, 1 / p))", True)
    if kind == "norminf":  # p = inf: max |x|; p = -inf: min |x| = -max(-|x|)
        return _Spec("-INFINITY", "(p < 0 ? -fabs(v) : fabs(v))", "CLT_RMAX(a, b)",
                     "(p < 0 ? -a : a)", False)
    raise ValueError(f"unknown reduction {kind!r}")


# ---------------------------------------------------------------------------------------------
# geometry

def _long8(values: Sequence[int]) -> Any:
    return ew._long8(tuple(int(v) for v in values))


def _ulong8(values: Sequence[int]) -> Any:
    return ew._ulong8(tuple(int(v) for v in values))


def _pad8(shape: Sequence[int], stride_sets: Sequence[Sequence[int]]) -> tuple:
    pad = MAX_RANK - len(shape)
    return (1,) * pad + tuple(shape), [(0,) * pad + tuple(st) for st in stride_sets]


def _ordered(shape: Sequence[int], stride_sets: Sequence[Sequence[int]], key: int
             ) -> tuple[list[int], list[list[int]]]:
    """Dims sorted by descending stride of operand ``key`` (stable), so the densest is last."""
    order = sorted(range(len(shape)), key=lambda i: -stride_sets[key][i])
    return [shape[i] for i in order], [[st[i] for i in order] for st in stride_sets]


def _split(n: int, parts: int) -> tuple[int, int]:
    """(items per part, number of parts) covering ``n`` items with about ``parts`` parts."""
    per = builtins.max(1, -(-n // builtins.max(1, parts)))
    return per, builtins.max(1, -(-n // per))


class _ReducePlan(NamedTuple):
    kshape: Any
    kst: Any
    ost: Any
    rshape: Any
    rst: Any
    nout: int
    nred: int
    mode: int
    chunk: int
    nchunks: int
    tpi: int
    gsize: int
    lsize: tuple[int, ...]
    tpi1: int
    gsize1: int


@functools.lru_cache(maxsize=4096)
def _reduce_plan(shape: tuple[int, ...], strides: tuple[int, ...], dims: tuple[int, ...],
                 keep_order: bool, style: str, cus: int, local: int, vec: int
                 ) -> _ReducePlan | None:
    """Launch geometry of a reduction of ``dims``; None when a space has more than 8 dims."""
    kept = [d for d in range(len(shape)) if d not in dims]
    ks = [shape[d] for d in kept]
    kx = [strides[d] for d in kept]
    ko = list(shapes.contiguous_strides(ks))
    rs = [shape[d] for d in dims]
    rx = [strides[d] for d in dims]
    ks, (kx, ko) = _ordered(ks, [kx, ko], 0)
    if not keep_order:
        # sum order is free: walk the reduced dims in memory order
        rs, (rx,) = _ordered(rs, [rx], 0)
    cks, (ckx, cko) = shapes.collapse(ks, [kx, ko])
    crs, (crx,) = shapes.collapse(rs, [rx])
    if len(cks) > MAX_RANK or len(crs) > MAX_RANK:
        return None
    nout, nred = math.prod(ks), math.prod(rs)
    k8, (kx8, ko8) = _pad8(cks, [ckx, cko])
    r8, (rx8,) = _pad8(crs, [crx])
    red_inner = r8[-1] > 1 and rx8[-1] == 1
    cols = not red_inner and kx8[-1] == 1 and k8[-1] >= 8
    if style == "cpu":
        target = 4 * cus
        items = builtins.max(1, builtins.min(target, -(-nout * nred // 16384)))
        panels = cols and not keep_order and ko8[-1] == 1
        if panels:
            base = (nout // k8[-1]) * (-(-k8[-1] // PANEL))
            nchunks = 1
            if base < items and nred >= 64:
                nchunks = builtins.min(-(-items // base), -(-nred // 32))
        elif cols:
            base = (nout // k8[-1]) * (-(-k8[-1] // vec))
            nchunks = 1
            if base < items and nred >= 4096:
                nchunks = builtins.min(-(-items // base), -(-nred // 1024))
        else:
            base = nout
            nchunks = 1
            if nout < items and nred >= 16384:
                nchunks = builtins.min(-(-items // nout), -(-nred // 8192))
        chunk = -(-nred // nchunks)
        if not cols:
            chunk = -(-chunk // 128) * 128   # whole vector blocks per chunk
        nchunks = builtins.max(1, -(-nred // chunk)) if chunk else 1
        tpi, gsize = _split(base * nchunks, items)
        tpi1, gsize1 = _split(nout, items)
        mode = 2 if panels else (1 if cols else 0)
        return _ReducePlan(_ulong8(k8), _long8(kx8), _long8(ko8), _ulong8(r8), _long8(rx8),
                           nout, nred, mode, chunk, nchunks, tpi, gsize, (1,), tpi1, gsize1)
    groups = 8 * cus
    if nred >= local and not cols:
        nchunks = builtins.max(1, builtins.min(-(-groups // nout), -(-nred // (local * 4)), 256))
        chunk = -(-nred // nchunks)
        nchunks = -(-nred // chunk)
        mode, gsize = 0, nout * nchunks * local
    else:
        nchunks = 1
        if nout < groups * local // 4 and nred >= 256:
            nchunks = builtins.max(1, builtins.min(-(-groups * local // 4 // nout),
                                                   -(-nred // 64), 256))
        chunk = -(-nred // nchunks) if nred else 0
        nchunks = builtins.max(1, -(-nred // chunk)) if chunk else 1
        mode, gsize = 1, -(-nout * nchunks // local) * local
    gsize1 = -(-nout // local) * local
    return _ReducePlan(_ulong8(k8), _long8(kx8), _long8(ko8), _ulong8(r8), _long8(rx8),
                       nout, nred, mode, chunk, nchunks, 1, gsize, (local,), 1, gsize1)


# ---------------------------------------------------------------------------------------------
# validation helpers

def _dims(x: Array, dim: Any) -> tuple[int, ...]:
    """Normalised, sorted reduction dims; None or () means every dim (as PyTorch)."""
    if dim is None or (isinstance(dim, (tuple, list)) and len(dim) == 0):
        return tuple(range(x.ndim))
    return tuple(sorted(shapes.normalize_dims(dim, x.ndim)))


def _out_shapes(x: Array, dims: tuple[int, ...], keepdim: bool
                ) -> tuple[tuple[int, ...], tuple[int, ...]]:
    kept = tuple(s for d, s in enumerate(x.shape) if d not in dims)
    if keepdim:
        return kept, tuple(1 if d in dims else s for d, s in enumerate(x.shape))
    return kept, kept


def _check_nonempty(x: Array, dims: tuple[int, ...], all_dims: bool, fn: str) -> None:
    """PyTorch's zero_numel_check_dims: ops without an identity refuse empty reductions."""
    if x.numel != 0:
        return
    if all_dims:
        raise ReductionIndexError(
            f"{fn}(): Expected reduction dim to be specified for input.numel() == 0. "
            "Specify the reduction dim with the 'dim' argument.")
    for d in dims:
        if x.shape[d] == 0:
            raise ReductionIndexError(f"{fn}(): Expected reduction dim {d} to have non-zero size.")


def _check_float(x: Array, fn: str) -> None:
    if not x.dtype.is_floating_point:
        raise DTypeError(f"{fn}(): expected a floating point input, got {x.dtype.name} "
                         f"({torch_name(x.dtype)})")


def _as_out_dtype(dtype: Any) -> DType | None:
    return None if dtype is None else D.as_dtype(dtype)


# ---------------------------------------------------------------------------------------------
# the reduction engine

def _launch_reduce(kind: str, x: Array, dims: tuple[int, ...], out_shape: tuple[int, ...],
                   out_dtype: DType, acc: str, aux: Array | None = None, p: float = 0.0,
                   corr: float = 0.0, arg: bool = False) -> Array | ValuesIndices:
    """Reduce ``x`` over ``dims`` into new contiguous arrays of shape ``out_shape``."""
    dev = x.device
    D.check_device_dtype(out_dtype, dev)
    D.check_device_dtype(_ACC_DTYPE[acc], dev)
    out = Array.empty(dev, out_shape, out_dtype)
    idx = Array.empty(dev, out_shape, D.int64) if arg else None
    result = ValuesIndices(out, idx) if arg else out
    if out.numel == 0:
        return result
    caps = dev.caps
    local = caps.reduce_local_size if caps.style == "gpu" else 1
    vec = _vec(x.dtype.cl, acc, out_dtype.cl)
    plan = _reduce_plan(x.shape, x.strides, dims, bool(arg), caps.style,
                        dev.info.compute_units, local, vec)
    if plan is None:   # more than 8 dims that do not merge: reduce a dense copy
        perm = [d for d in range(x.ndim) if d not in dims] + list(dims)
        xt = ew.contiguous(x.view([x.shape[d] for d in perm], [x.strides[d] for d in perm]))
        nk = x.ndim - len(dims)
        flat = xt.view((math.prod(xt.shape[:nk]), math.prod(xt.shape[nk:])), (
            math.prod(xt.shape[nk:]), 1))
        res = _launch_reduce(kind, flat, (1,), (flat.shape[0],), out_dtype, acc, aux, p, corr,
                             arg)
        if arg:
            return ValuesIndices(res.values.view(out_shape, out.strides),
                                 res.indices.view(out_shape, out.strides))
        return res.view(out_shape, out.strides)
    if arg:
        spec = _Spec("0", "v", "a", "a", False)
    else:
        spec = _spec(kind, acc)
    kernel = dev.kernels.get(
        TEMPLATE, "reduce", name=f"clt_reduce_{kind}_{x.dtype.tag}_{out_dtype.tag}",
        in_dtype=x.dtype.name, acc=acc, out_dtype=out_dtype.name, init=spec.init, pre=spec.pre,
        comb=spec.comb, post=spec.post, kahan=spec.kahan, arg=arg, has_aux=aux is not None,
        style=caps.style, local=local, vec=vec)
    part = pidx = None
    combine = plan.nchunks > 1 or plan.mode == 2    # panels always finish in phase 1
    if combine:
        part = Array.empty(dev, (plan.nchunks * plan.nout,), _ACC_DTYPE[acc]).buffer
        if arg:
            pidx = Array.empty(dev, (plan.nchunks * plan.nout,), D.int64).buffer
    args = [x.buffer, x.offset, plan.kshape, plan.kst, plan.ost, plan.rshape, plan.rst,
            None if aux is None else aux.buffer, part, pidx, out.buffer,
            None if idx is None else idx.buffer, plan.nout, plan.nred, plan.chunk, plan.nchunks,
            plan.tpi, plan.mode, 0, float(p), float(corr)]
    dev.launch(kernel, (plan.gsize,), plan.lsize, *args)
    if combine:
        args[16], args[18] = plan.tpi1, 1
        dev.launch(kernel, (plan.gsize1,), plan.lsize, *args)
    return result


def _value_reduce(kind: str, x: Array, dim: Any, keepdim: bool, out_dtype: DType, acc: str,
                  fn: str, identity: bool = True, aux: Array | None = None, p: float = 0.0,
                  corr: float = 0.0) -> Array:
    all_dims = dim is None or (isinstance(dim, (tuple, list)) and len(dim) == 0)
    dims = _dims(x, dim)
    if not identity:
        _check_nonempty(x, dims, all_dims, fn)
    kept, shape = _out_shapes(x, dims, keepdim)
    res = _launch_reduce(kind, x, dims, kept, out_dtype, acc, aux, p, corr)
    return res if shape == kept else res.view(shape, shapes.contiguous_strides(shape))


# ---------------------------------------------------------------------------------------------
# public reductions

def sum(x: Array, dim: Any = None, keepdim: bool = False, dtype: Any = None) -> Array:
    """Sum over ``dim`` (an int, a tuple, or None for all dims).

    Bool and integer inputs sum to int64; float16 accumulates in float32. ``dtype`` converts the
    input first (as ``torch.sum(..., dtype=)``).
    """
    out_dtype = _as_out_dtype(dtype) or (x.dtype if x.dtype.is_floating_point else D.int64)
    return _value_reduce("sum", x, dim, keepdim, out_dtype, _acc_of(out_dtype), "sum")


def prod(x: Array, dim: Any = None, keepdim: bool = False, dtype: Any = None) -> Array:
    """Product over ``dim``; bool and integer inputs give int64 (wrapping on overflow)."""
    out_dtype = _as_out_dtype(dtype) or (x.dtype if x.dtype.is_floating_point else D.int64)
    return _value_reduce("prod", x, dim, keepdim, out_dtype, _acc_of(out_dtype), "prod")


def mean(x: Array, dim: Any = None, keepdim: bool = False, dtype: Any = None) -> Array:
    """Mean over ``dim``; floating point only (as PyTorch). Mean of nothing is NaN.

    Raises:
        DTypeError: for bool/integer input without a floating ``dtype``.
    """
    out_dtype = _as_out_dtype(dtype) or x.dtype
    if not out_dtype.is_floating_point:
        raise DTypeError(
            "mean(): could not infer output dtype. Input dtype must be either a floating point "
            f"or complex dtype. Got: {torch_name(out_dtype)}")
    return _value_reduce("sum", x, dim, keepdim, out_dtype, out_dtype.compute, "mean", p=1.0)


def amax(x: Array, dim: Any = (), keepdim: bool = False) -> Array:
    """Maximum over one or several dims (all by default); NaN propagates."""
    return _value_reduce("amax", x, dim, keepdim, x.dtype, _minmax_acc(x.dtype), "amax",
                         identity=False)


def amin(x: Array, dim: Any = (), keepdim: bool = False) -> Array:
    """Minimum over one or several dims (all by default); NaN propagates."""
    return _value_reduce("amax", x, dim, keepdim, x.dtype, _minmax_acc(x.dtype), "amin",
                         identity=False, p=1.0)


def _minmax_acc(dtype: DType) -> str:
    # ints run as long so that amin = ~amax(~x) shares amax's kernel without overflow
    return dtype.compute if dtype.is_floating_point else "long"


def _arg_reduce(kind: str, x: Array, dim: Any, keepdim: bool, fn: str) -> ValuesIndices:
    flip = 1.0 if kind == "argmin" else 0.0
    if dim is None:
        _check_nonempty(x, (), True, fn)
        flat = ew.contiguous(x).view((x.numel,), (1,)) if x.ndim != 1 else x
        res = _launch_reduce("arg", flat, (0,), (), x.dtype, x.dtype.compute, p=flip, arg=True)
        if keepdim:
            shape = (1,) * x.ndim
            return ValuesIndices(res.values.view(shape, shape), res.indices.view(shape, shape))
        return res
    if isinstance(dim, (tuple, list)):
        raise ShapeError(f"{fn}(): dim must be a single int, got {tuple(dim)}")
    d = shapes.normalize_dim(dim, x.ndim)
    dims = (d,) if x.ndim else ()
    if x.ndim:
        _check_nonempty(x, dims, False, fn)
    kept, shape = _out_shapes(x, dims, keepdim)
    res = _launch_reduce("arg", x, dims, kept, x.dtype, x.dtype.compute, p=flip, arg=True)
    if shape != kept:
        st = shapes.contiguous_strides(shape)
        return ValuesIndices(res.values.view(shape, st), res.indices.view(shape, st))
    return res


def max(x: Array, dim: Any = None, keepdim: bool = False) -> Array | ValuesIndices:
    """``max(x)``: the largest element; ``max(x, dim)``: (values, indices) along ``dim``.

    The index is the first occurrence of the maximum; NaN counts as the maximum.
    """
    if dim is None:
        _check_nonempty(x, (), True, "max")
        return amax(x)
    return _arg_reduce("argmax", x, dim, keepdim, "max")


def min(x: Array, dim: Any = None, keepdim: bool = False) -> Array | ValuesIndices:
    """``min(x)``: the smallest element; ``min(x, dim)``: (values, indices) along ``dim``."""
    if dim is None:
        _check_nonempty(x, (), True, "min")
        return amin(x)
    return _arg_reduce("argmin", x, dim, keepdim, "min")


def argmax(x: Array, dim: int | None = None, keepdim: bool = False) -> Array:
    """Index of the first maximum along ``dim``, or in the flattened array (int64)."""
    return _arg_reduce("argmax", x, dim, keepdim, "argmax").indices


def argmin(x: Array, dim: int | None = None, keepdim: bool = False) -> Array:
    """Index of the first minimum along ``dim``, or in the flattened array (int64)."""
    return _arg_reduce("argmin", x, dim, keepdim, "argmin").indices


def any(x: Array, dim: Any = None, keepdim: bool = False) -> Array:
    """True where any element is non-zero (NaN counts as true); uint8 input gives uint8."""
    out_dtype = D.uint8 if x.dtype is D.uint8 else D.bool_
    return _value_reduce("any", x, dim, keepdim, out_dtype, x.dtype.compute, "any")


def all(x: Array, dim: Any = None, keepdim: bool = False) -> Array:
    """True where every element is non-zero; uint8 input gives uint8 (as PyTorch)."""
    out_dtype = D.uint8 if x.dtype is D.uint8 else D.bool_
    return _value_reduce("any", x, dim, keepdim, out_dtype, x.dtype.compute, "all", p=1.0)


def count_nonzero(x: Array, dim: Any = None) -> Array:
    """Number of non-zero elements over ``dim`` (int64)."""
    acc = "long" if not x.dtype.is_floating_point else x.dtype.compute
    return _value_reduce("count", x, dim, False, D.int64, acc, "count_nonzero")


def _var_like(kind: str, x: Array, dim: Any, correction: float, keepdim: bool) -> Array:
    fn = kind
    if not x.dtype.is_floating_point:
        raise DTypeError(f"{fn}(): std and var only support floating point and complex dtypes; "
                         f"got {x.dtype.name} ({torch_name(x.dtype)})")
    dims = _dims(x, dim)
    acc = x.dtype.compute
    kept, shape = _out_shapes(x, dims, keepdim)
    # two passes (mean, then squared deviations from it): exact enough even when the mean is
    # large relative to the spread, where a one-pass sum of squares cancels catastrophically
    m = _launch_reduce("sum", x, dims, kept, _ACC_DTYPE[acc], acc, p=1.0)
    res = _launch_reduce("var", x, dims, kept, x.dtype, acc, aux=m, corr=float(correction),
                         p=1.0 if kind == "std" else 0.0)
    return res if shape == kept else res.view(shape, shapes.contiguous_strides(shape))


def _correction(correction: Any, unbiased: bool | None) -> float:
    if unbiased is not None and correction is not None:
        raise ValueError("var/std: pass either correction or unbiased, not both")
    if unbiased is not None:
        return 1.0 if unbiased else 0.0
    return 1.0 if correction is None else float(correction)


def var(x: Array, dim: Any = None, *, correction: float | None = None, keepdim: bool = False,
        unbiased: bool | None = None) -> Array:
    """Variance over ``dim`` with Bessel-style ``correction`` (default 1): sum((x-mean)^2) /
    max(N - correction, 0)."""
    return _var_like("var", x, dim, _correction(correction, unbiased), keepdim)


def std(x: Array, dim: Any = None, *, correction: float | None = None, keepdim: bool = False,
        unbiased: bool | None = None) -> Array:
    """Standard deviation over ``dim`` (the square root of :func:`var`)."""
    return _var_like("std", x, dim, _correction(correction, unbiased), keepdim)


def norm(x: Array, p: Any = "fro", dim: Any = None, keepdim: bool = False,
         dtype: Any = None) -> Array:
    """Vector p-norm over ``dim`` (as ``torch.norm`` / ``torch.linalg.vector_norm``).

    ``p`` may be ``'fro'`` (2-norm over the given dims), a number (``inf``, ``-inf``, 0, 1, 2
    or any other), floating point input only.
    """
    out_dtype = _as_out_dtype(dtype) or x.dtype
    if not out_dtype.is_floating_point:
        raise DTypeError(
            "linalg.vector_norm: Expected a floating point or complex tensor as input. "
            f"Got {torch_name(out_dtype)}")
    if isinstance(p, str):
        if p != "fro":
            raise ValueError(f"norm(): unsupported norm type {p!r} (use 'fro' or a number)")
        p = 2.0
    p = float(p)
    kind = "norm2" if p == 2 else ("norminf" if math.isinf(p) else "normp")
    if math.isinf(p) and x.numel == 0:
        dims = _dims(x, dim)
        if builtins.any(x.shape[d] == 0 for d in dims):
            raise ReductionIndexError(
                f"linalg.vector_norm cannot compute the {p} norm on an empty tensor because "
                "the operation does not have an identity")
    return _value_reduce(kind, x, dim, keepdim, out_dtype, out_dtype.compute, "norm", p=p)


def logsumexp(x: Array, dim: Any, keepdim: bool = False) -> Array:
    """``log(sum(exp(x)))`` over ``dim``, computed as ``max + log(sum(exp(x - max)))``.

    Integer inputs give the default float dtype (as PyTorch).
    """
    out_dtype = x.dtype if x.dtype.is_floating_point else D.get_default_dtype()
    acc = out_dtype.compute
    dims = _dims(x, dim)
    kept, shape = _out_shapes(x, dims, keepdim)
    m = _launch_reduce("amax", x, dims, kept, _ACC_DTYPE[acc], acc)
    res = _launch_reduce("lse", x, dims, kept, out_dtype, acc, aux=m)
    return res if shape == kept else res.view(shape, shapes.contiguous_strides(shape))


# ---------------------------------------------------------------------------------------------
# along-one-dim ops: shared geometry

class _RowPlan(NamedTuple):
    kshape: Any
    kst: Any
    ost: Any
    nrows: int
    cols: bool
    k7: int          # size of the innermost kept dim (8-row blocks in "cols" mode)


@functools.lru_cache(maxsize=4096)
def _row_plan(shape: tuple[int, ...], strides: tuple[int, ...], ostrides: tuple[int, ...],
              dim: int) -> _RowPlan | None:
    """The kept space (every dim but ``dim``) of x and out, collapsed to rank <= 8."""
    ks = [s for d, s in enumerate(shape) if d != dim]
    kx = [s for d, s in enumerate(strides) if d != dim]
    ko = [s for d, s in enumerate(ostrides) if d != dim]
    ks, (kx, ko) = _ordered(ks, [kx, ko], 0)
    cks, (ckx, cko) = shapes.collapse(ks, [kx, ko])
    if len(cks) > MAX_RANK:
        return None
    k8, (kx8, ko8) = _pad8(cks, [ckx, cko])
    cols = kx8[-1] == 1 and ko8[-1] == 1 and k8[-1] >= 8 and strides[dim] != 1
    return _RowPlan(_ulong8(k8), _long8(kx8), _long8(ko8), math.prod(ks), cols, k8[-1])


def _dense_if_needed(x: Array, dim: int) -> Array:
    """x itself, or a dense copy when its kept space has more than 8 unmergeable dims."""
    if _row_plan(x.shape, x.strides, shapes.contiguous_strides(x.shape), dim) is None:
        return ew.contiguous(x)
    return x


def _cpu_items(dev: Device, work: int) -> int:
    return builtins.max(1, builtins.min(4 * dev.info.compute_units, -(-work // 16384)))


# ---------------------------------------------------------------------------------------------
# scans

def _scan(kind: str, x: Array, dim: int, dtype: Any) -> Array:
    out_dtype = _as_out_dtype(dtype) or (x.dtype if x.dtype.is_floating_point else D.int64)
    dev = x.device
    D.check_device_dtype(out_dtype, dev)
    d = shapes.normalize_dim(dim, x.ndim)
    out = Array.empty(dev, x.shape, out_dtype)
    if out.numel == 0:
        return out
    if x.ndim == 0:
        return ew.cast(x, out_dtype)
    x = _dense_if_needed(x, d)
    acc = _acc_of(out_dtype)
    if acc == "float" and out_dtype is D.float32 and dev.caps.fp64:
        # as PyTorch on CPUs: float32 scans accumulate in double (exact enough, and a plain
        # add chain runs ~8x faster than a compensated float one)
        acc = "double"
    plan = _row_plan(x.shape, x.strides, out.strides, d)
    n = x.shape[d]
    caps = dev.caps
    # compensated float sums where no wider accumulator is used
    kahan = kind == "cumsum" and _is_float_acc(acc) and acc == out_dtype.compute
    init, comb = ("0", "a + b") if kind == "cumsum" else ("1", "a * b")
    local = caps.reduce_local_size if caps.style == "gpu" else 1
    vec = _vec(x.dtype.cl, acc, out_dtype.cl)
    kernel = dev.kernels.get(
        TEMPLATE, "scan", name=f"clt_scan_{kind}_{x.dtype.tag}_{out_dtype.tag}",
        in_dtype=x.dtype.name, acc=acc, out_dtype=out_dtype.name, init=init, comb=comb,
        kahan=kahan, style=caps.style, local=local, vec=vec)
    nrows = plan.nrows
    if caps.style == "cpu":
        items = _cpu_items(dev, nrows * n)
        nchunks = 1
        if nrows < items and n >= 32768:
            nchunks = builtins.min(-(-items // nrows), -(-n // 8192))
        mode = 1 if plan.cols and nchunks == 1 else 0
    else:
        items = 0
        nchunks = 1
        if nrows < 4096 and n >= 4096:
            nchunks = builtins.min(-(-8192 // nrows), -(-n // 256), 1024)
        mode = 0
    chunk = -(-n // nchunks)
    nchunks = -(-n // chunk)
    part = Array.empty(dev, (nchunks * nrows,), _ACC_DTYPE[acc]).buffer if nchunks > 1 else None
    if mode == 1:
        # panels of neighbouring rows, as wide as possible (see _softmax_into)
        outer = nrows // plan.k7
        chunk = builtins.max(vec, -(-builtins.min(PANEL, plan.k7) // vec) * vec)
        ntasks1 = outer * -(-plan.k7 // chunk)
        part = Array.empty(dev, (ntasks1 * 2 * chunk,), _ACC_DTYPE[acc]).buffer
    args = [x.buffer, x.offset, out.buffer, out.offset, plan.kshape, plan.kst, plan.ost, n,
            x.strides[d], out.strides[d], part, nrows, chunk, nchunks, 1, mode, 0]

    def launch(ntasks: int, phase: int) -> None:
        if caps.style == "cpu":
            tpi, g = _split(ntasks, items)
            args[14], args[16] = tpi, phase
            dev.launch(kernel, (g,), (1,), *args)
        else:
            args[14], args[16] = 1, phase
            dev.launch(kernel, (-(-ntasks // local) * local,), (local,), *args)

    if nchunks > 1:
        launch(nrows * nchunks, 0)
        launch(nrows, 1)
    if mode == 1:
        launch(ntasks1, 2)
    else:
        launch(nrows * nchunks, 2)
    return out


def cumsum(x: Array, dim: int, dtype: Any = None) -> Array:
    """Inclusive cumulative sum along ``dim``; bool/int inputs give int64 (as PyTorch)."""
    return _scan("cumsum", x, dim, dtype)


def cumprod(x: Array, dim: int, dtype: Any = None) -> Array:
    """Inclusive cumulative product along ``dim``; bool/int inputs give int64."""
    return _scan("cumprod", x, dim, dtype)


# ---------------------------------------------------------------------------------------------
# softmax

def _softmax(x: Array, dim: int, dtype: Any, log: bool) -> Array:
    fn = "log_softmax" if log else "softmax"
    out_dtype = _as_out_dtype(dtype) or x.dtype
    if not out_dtype.is_floating_point:
        raise DTypeError(f"{fn}(): expected a floating point input, got {out_dtype.name} "
                         f"({torch_name(out_dtype)}); pass dtype= to compute in a float type")
    dev = x.device
    D.check_device_dtype(out_dtype, dev)
    d = shapes.normalize_dim(dim, x.ndim)
    out = Array.empty(dev, x.shape, out_dtype)
    if out.numel == 0:
        return out
    if x.ndim == 0:
        x = x.view((1,), (1,))
        out1 = out.view((1,), (1,))
        _softmax_into(x, out1, 0, log)
        return out
    _softmax_into(_dense_if_needed(x, d), out, d, log)
    return out


def _softmax_into(x: Array, out: Array, d: int, log: bool) -> None:
    dev = x.device
    caps = dev.caps
    acc = out.dtype.compute
    plan = _row_plan(x.shape, x.strides, out.strides, d)
    n = x.shape[d]
    local = caps.reduce_local_size if caps.style == "gpu" else 1
    vec = _vec(x.dtype.cl, acc, out.dtype.cl)
    kernel = dev.kernels.get(
        TEMPLATE, "softmax",
        name=f"clt_softmax_{'log' if log else 'exp'}_{x.dtype.tag}_{out.dtype.tag}",
        in_dtype=x.dtype.name, out_dtype=out.dtype.name, acc=acc, log=log, style=caps.style,
        local=local, vec=vec)
    nrows = plan.nrows
    args = [x.buffer, x.offset, out.buffer, out.offset, plan.kshape, plan.kst, plan.ost, n,
            x.strides[d], out.strides[d], nrows, 1, 0, None, 0]
    if caps.style == "cpu":
        items = _cpu_items(dev, nrows * n)
        ntasks = nrows
        if plan.cols:
            # panels of neighbouring rows as wide as possible: narrower panels (for more
            # work-items) measured 4x slower on PoCL, from page-strided access
            outer = nrows // plan.k7
            chunk = builtins.max(vec, -(-builtins.min(PANEL, plan.k7) // vec) * vec)
            ntasks = outer * -(-plan.k7 // chunk)
            acc_dt = _ACC_DTYPE[acc]
            args[13] = Array.empty(dev, (ntasks * 2 * chunk,), acc_dt).buffer
            args[14] = chunk
        tpi, g = _split(ntasks, items)
        args[11], args[12] = tpi, 1 if plan.cols else 0
        dev.launch(kernel, (g,), (1,), *args)
    elif n >= local:
        args[12] = 0
        dev.launch(kernel, (nrows * local,), (local,), *args)
    else:
        args[12] = 1
        dev.launch(kernel, (-(-nrows // local) * local,), (local,), *args)


def softmax(x: Array, dim: int, dtype: Any = None) -> Array:
    """``exp(x - max) / sum(exp(x - max))`` along ``dim`` (floating point, or give ``dtype``)."""
    return _softmax(x, dim, dtype, log=False)


def log_softmax(x: Array, dim: int, dtype: Any = None) -> Array:
    """``x - max - log(sum(exp(x - max)))`` along ``dim``."""
    return _softmax(x, dim, dtype, log=True)


# ---------------------------------------------------------------------------------------------
# sorting

def _topk_small(x: Array, d: int, descending: bool, values: Array, indices: Array,
                k: int) -> None:
    """The first ``k`` (<= TOPK_SMALL) of each row in sort order, in one pass over x."""
    dev = x.device
    caps = dev.caps
    n = x.shape[d]
    local = caps.reduce_local_size if caps.style == "gpu" else 1
    kernel = dev.kernels.get(TEMPLATE, "topk_small", name=f"clt_topk_{x.dtype.tag}",
                             dtype=x.dtype.name, style=caps.style, kmax=TOPK_SMALL)
    kshape = tuple(s for i, s in enumerate(x.shape) if i != d)
    nrows = math.prod(kshape)
    ks, (kx, kv) = _ordered(list(kshape), [
        [s for i, s in enumerate(x.strides) if i != d],
        [s for i, s in enumerate(values.strides) if i != d]], 0)
    cks, (ckx, ckv) = shapes.collapse(ks, [kx, kv])
    if len(cks) > MAX_RANK:
        _topk_small(ew.contiguous(x), d, descending, values, indices, k)
        return
    k8, (kx8, kv8) = _pad8(cks, [ckx, ckv])
    if caps.style == "cpu":
        tpi, g = _split(nrows, _cpu_items(dev, nrows * n))
        gsize, lsize = g, (1,)
    else:
        tpi, gsize, lsize = 1, -(-nrows // local) * local, (local,)
    dev.launch(kernel, (gsize,), lsize, x.buffer, x.offset, _long8(kx8), x.strides[d],
               values.buffer, indices.buffer, values.offset, _long8(kv8), values.strides[d],
               _ulong8(k8), n, k, int(descending), nrows, tpi)


def _sort_into(x: Array, d: int, descending: bool, values: Array, indices: Array,
               nkeep: int) -> None:
    """Stable sort of ``x`` along ``d``; the first ``nkeep`` positions go to values/indices."""
    dev = x.device
    caps = dev.caps
    n = x.shape[d]
    local = caps.reduce_local_size if caps.style == "gpu" else 1
    kernel = dev.kernels.get(TEMPLATE, "sort", name=f"clt_sort_{x.dtype.tag}",
                             dtype=x.dtype.name, style=caps.style, block=SORT_BLOCK, local=local)
    # rows of the kept space, for src (x), the final dst (values) and the dense scratch
    kshape = tuple(s for i, s in enumerate(x.shape) if i != d)
    nrows = math.prod(kshape)
    scratch_st = tuple(s * n for s in shapes.contiguous_strides(kshape))
    ks, (kx, kv, kc) = _ordered(list(kshape), [
        [s for i, s in enumerate(x.strides) if i != d],
        [s for i, s in enumerate(values.strides) if i != d], list(scratch_st)], 0)
    cks, (ckx, ckv, ckc) = shapes.collapse(ks, [kx, kv, kc])
    if len(cks) > MAX_RANK:
        x = ew.contiguous(x)
        _sort_into(x, d, descending, values, indices, nkeep)
        return
    k8, (kx8, kv8, kc8) = _pad8(cks, [ckx, ckv, ckc])
    kshape8 = _ulong8(k8)
    src = (x.buffer, None, x.offset, _long8(kx8), x.strides[d])
    final = (values.buffer, indices.buffer, values.offset, _long8(kv8), values.strides[d])
    tile = 1024 if caps.style == "cpu" else 128
    items = _cpu_items(dev, nrows * n * 8)

    def launch(s: tuple, dst: tuple, width: int, tpp: int, keep: int, phase: int,
               ntasks: int) -> None:
        if caps.style == "cpu":
            tpi, g = _split(ntasks, items)
            gsize, lsize = g, (1,)
        else:
            tpi, gsize, lsize = 1, -(-ntasks // local) * local, (local,)
        dev.launch(kernel, (gsize,), lsize, *s, *dst, kshape8, n, width, tile, tpp, keep,
                   int(descending), phase, ntasks, tpi)

    nblk = -(-n // SORT_BLOCK)
    if nblk == 1:
        launch(src, final, 0, 1, nkeep, 0, nrows)
        return
    bufs = []
    for _ in range(2):
        v = Array.empty(dev, (nrows * n,), x.dtype)
        i = Array.empty(dev, (nrows * n,), D.int64)
        bufs.append((v.buffer, i.buffer, 0, _long8(kc8), 1))
    launch(src, bufs[0], 0, 1, n, 0, nrows * nblk)
    width, cur = SORT_BLOCK, 0
    while width < n:
        last = 2 * width >= n
        dst = final if last else bufs[1 - cur]
        npairs = -(-n // (2 * width))
        tpp = -(-builtins.min(2 * width, n) // tile)
        launch(bufs[cur], dst, width, tpp, nkeep if last else n, 1, nrows * npairs * tpp)
        width, cur = 2 * width, 1 - cur


def sort(x: Array, dim: int = -1, descending: bool = False, stable: bool = False
         ) -> ValuesIndices:
    """Sort along ``dim``: (values, int64 indices). Always stable; NaN sorts as the largest."""
    d = shapes.normalize_dim(dim, x.ndim)
    values = Array.empty(x.device, x.shape, x.dtype)
    indices = Array.empty(x.device, x.shape, D.int64)
    if x.numel == 0:
        return ValuesIndices(values, indices)
    if x.ndim == 0:
        x1 = x.view((1,), (1,))
        _sort_into(x1, 0, descending, values.view((1,), (1,)), indices.view((1,), (1,)), 1)
        return ValuesIndices(values, indices)
    _sort_into(x, d, descending, values, indices, x.shape[d])
    return ValuesIndices(values, indices)


def argsort(x: Array, dim: int = -1, descending: bool = False, stable: bool = False) -> Array:
    """Indices that sort ``x`` along ``dim`` (stable)."""
    return sort(x, dim, descending, stable).indices


def topk(x: Array, k: int, dim: int = -1, largest: bool = True, sorted: bool = True
         ) -> ValuesIndices:
    """The ``k`` largest (or smallest) elements along ``dim`` and their indices, in order.

    Raises:
        IndexError: when ``k`` is negative or larger than the dim (as PyTorch: "selected index k
            out of range").
    """
    d = shapes.normalize_dim(dim, x.ndim)
    size = x.shape[d] if x.ndim else 1
    k = int(k)
    if not 0 <= k <= size:
        raise ReductionIndexError(f"topk(): selected index k out of range: k={k} but dim {d} has "
                                  f"size {size}")
    out_shape = tuple(k if i == d else s for i, s in enumerate(x.shape))
    values = Array.empty(x.device, out_shape, x.dtype)
    indices = Array.empty(x.device, out_shape, D.int64)
    if values.numel == 0:
        return ValuesIndices(values, indices)
    if x.ndim == 0:
        _sort_into(x.view((1,), (1,)), 0, largest, values.view((1,), (1,)),
                   indices.view((1,), (1,)), 1)
        return ValuesIndices(values, indices)
    if k <= TOPK_SMALL and x.shape[d] > SORT_BLOCK:
        _topk_small(x, d, largest, values, indices, k)
    else:
        _sort_into(x, d, largest, values, indices, k)
    return ValuesIndices(values, indices)
