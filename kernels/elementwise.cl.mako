## elementwise.cl.mako -- strided, broadcasting n-ary maps: out[idx] = expr(a[idx], b[idx], ...).
##
## map(name, out_dtype, in_dtypes, in_compute, scalar_ctype, n_scalars, expr, style)
##   name         C kernel name, clt_ew_<op>_<tags>
##   out_dtype    clt dtype name of the output ("float32", "bool", ...)
##   in_dtypes    tuple of clt dtype names, one per tensor operand (named a, b, c, d in expr)
##   in_compute   tuple of C types each operand is converted to after loading
##   scalar_ctype C type of the scalar arguments s0, s1, ... (Python scalars; never baked in)
##   n_scalars    how many scalar arguments
##   expr         one C expression over a, b, c, d, s0.., and lin (the output's linear index)
##   style        "cpu" or "gpu" (from the device's capability table)
##
## Shapes and strides are kernel arguments, so one build serves every shape. Operands are viewed
## with rank 8: ``shape``/``*_st`` are ulong8/long8, dim 7 innermost, unused leading dims of size 1.
##
## Launch, style "cpu": work-item gid handles row = gid / nchunks (an index over dims 0..6) and the
##   contiguous slice [c*chunk, min((c+1)*chunk, shape.s7)) of dim 7, c = gid % nchunks. Global size
##   = nrows * nchunks exactly, local size 1: each work-item walks a contiguous chunk, which PoCL
##   vectorises (GPU-style one-element items run ~3x slower there).
## Launch, style "gpu": a grid-stride loop over all nrows*shape.s7 elements, coalesced.
##
## map_flat(same parameters as map): the same map when the output and every operand are
##   contiguous with one shape (the common case), so an element's index is its position: no
##   shape or stride arguments (a launch sets 4 + 2 per operand arguments instead of 13 or more,
##   which PoCL copies at every enqueue) and no per-element index arithmetic (which GPUs pay).
##   Arguments: out_g, out_off, then <op>_g, <op>_off per operand, the scalars, n, chunk.
##   Style "cpu": work-item w handles [w*chunk, min((w+1)*chunk, n)), local size 1. Style "gpu":
##   a grid-stride loop over n.
##
## map_t2d(same parameters as map): the same map for one operand read transposed (out's dim 7
##   is contiguous, the operand's dim 6 is, its dim 7 is not), style "cpu" only. Work-item gid
##   copies one 16 x 16 tile of dims 6 and 7 of batch row gid / nchunks (an index over dims 0..5):
##   tile t = gid % nchunks, at rows (t / chunk) * 16 and columns (t % chunk) * 16. Walking the
##   tile row by row, the 16 input cache lines it touches stay in L1 for the whole tile (16 beat
##   32 and 64 on a 4096 x 4096 transpose here: a power-of-two stride maps the lines to few sets).
##   Launch: global = nrows * nchunks with nrows the product of dims 0..5, chunk = tiles per row,
##   nchunks = tiles per batch row; local size 1.
<%namespace name="c" file="common.cl.mako"/>
<%def name="helpers()">
// Python/PyTorch semantics for integer floor division and modulo; x/0 gives 0 instead of a trap.
#define CLT_IFLOORDIV(x, y) ((y) == 0 ? 0 : ((x) / (y) - ((((x) % (y)) != 0) && (((x) < 0) != ((y) < 0)))))
#define CLT_IMOD(x, y) ((y) == 0 ? 0 : ((((x) % (y)) != 0 && ((((x) % (y)) < 0) != ((y) < 0))) ? ((x) % (y)) + (y) : ((x) % (y))))
// (a zero remainder takes the divisor's sign, as Python's and numpy's)
#define CLT_FMOD_PY(x, y) (fmod((x), (y)) == 0 ? copysign(fmod((x), (y)), (y)) : (((fmod((x), (y)) < 0) != ((y) < 0)) ? fmod((x), (y)) + (y) : fmod((x), (y))))
// NaN-propagating max/min without the fmax/fmin calls PoCL does not inline.
#define CLT_MAX(x, y) (((x) != (x)) ? (x) : (((y) != (y)) ? (y) : ((x) > (y) ? (x) : (y))))
#define CLT_MIN(x, y) (((x) != (x)) ? (x) : (((y) != (y)) ? (y) : ((x) < (y) ? (x) : (y))))
#define CLT_SIGN(x) ((x) > 0 ? 1 : ((x) < 0 ? -1 : 0))
</%def>
<%def name="ipow(name, T)">
inline ${T} ${name}(${T} base, ${T} e) {
    if (e < 0) return (base == 1) ? 1 : ((base == -1) ? ((e & 1) ? -1 : 1) : 0);
    ${T} r = 1;
    while (e) { if (e & 1) r *= base; base *= base; e >>= 1; }
    return r;
}
</%def>
<%def name="ffloordiv(name, T)">
// Python's float floor division computed from fmod, as numpy and PyTorch do: floor(x / y) is
// one too large when the quotient rounds up to an integer (1 / 0.1f).
inline ${T} ${name}(${T} x, ${T} y) {
    if (y == 0) return x / y;
    ${T} mod = fmod(x, y);
    ${T} div = (x - mod) / y;
    if (mod != 0 && ((y < 0) != (mod < 0))) div -= 1;
    if (div == 0) return copysign((${T})0, x / y);
    ${T} fl = floor(div);
    return (div - fl > (${T})0.5) ? fl + 1 : fl;
}
</%def>
## head: what every map kernel's source starts with -- the prelude for its dtypes, the helper
## macros, T (the first operand's compute type) and the integer pow / float floor division
## functions when expr calls them.
<%def name="head(out_dtype, in_dtypes, in_compute, scalar_ctype, expr)">
${c.prelude(tuple(in_dtypes) + (out_dtype,))}
${helpers()}
typedef ${in_compute[0] if in_compute else scalar_ctype} T;
% for t in sorted(set(in_compute)):
% if t in ("char", "uchar", "short", "int", "long") and "clt_ipow_" + t in expr:
${ipow("clt_ipow_" + t, t)}
% endif
% if t in ("float", "double") and "clt_ffloordiv_" + t in expr:
${ffloordiv("clt_ffloordiv_" + t, t)}
% endif
% endfor
</%def>
<%def name="map(name, out_dtype, in_dtypes, in_compute, scalar_ctype, n_scalars, expr, style)">
<% ops = "abcd"[:len(in_dtypes)] %>
${head(out_dtype, in_dtypes, in_compute, scalar_ctype, expr)}
__kernel void ${name}(
    __global ${c.ctype(out_dtype)} *restrict out_g, const ulong out_off, const long8 out_st,
% for k, dt in enumerate(in_dtypes):
    __global const ${c.ctype(dt)} *restrict ${ops[k]}_g, const ulong ${ops[k]}_off, const long8 ${ops[k]}_st,
% endfor
% for s in range(n_scalars):
    const ${scalar_ctype} s${s},
% endfor
    const ulong8 shape, const ulong chunk, const ulong nchunks, const ulong nrows)
{
% if style == "cpu":
    const ulong gid = get_global_id(0);
    const ulong row = gid / nchunks;
    if (row >= nrows) return;
    const ulong j0 = (gid - row * nchunks) * chunk;
    const ulong j1 = min(j0 + chunk, shape.s7);
    ${row_offsets(ops, "row")}
    __global ${c.ctype(out_dtype)} *po = out_g + o_out;
% for k, op in enumerate(ops):
    __global const ${c.ctype(in_dtypes[k])} *p${op} = ${op}_g + o_${op};
% endfor
    const ulong lin0 = row * shape.s7;
    if (out_st.s7 == 1${"".join(f" && {op}_st.s7 == 1" for op in ops)}) {
        for (ulong j = j0; j < j1; ++j) {
            ${body(out_dtype, in_dtypes, in_compute, ops, expr, {op: "j" for op in ops}, "j", "lin0 + j")}
        }
% if len(ops) == 2:
    } else if (out_st.s7 == 1 && a_st.s7 == 1 && b_st.s7 == 0) {
        const ${in_compute[1]} b = (${in_compute[1]})(${c.load(in_dtypes[1], "pb", "0")});
        for (ulong j = j0; j < j1; ++j) {
            const ${in_compute[0]} a = (${in_compute[0]})(${c.load(in_dtypes[0], "pa", "j")});
            const ulong lin = lin0 + j;
            ${c.store(out_dtype, "po", "j", expr)}
        }
    } else if (out_st.s7 == 1 && a_st.s7 == 0 && b_st.s7 == 1) {
        const ${in_compute[0]} a = (${in_compute[0]})(${c.load(in_dtypes[0], "pa", "0")});
        for (ulong j = j0; j < j1; ++j) {
            const ${in_compute[1]} b = (${in_compute[1]})(${c.load(in_dtypes[1], "pb", "j")});
            const ulong lin = lin0 + j;
            ${c.store(out_dtype, "po", "j", expr)}
        }
% endif
    } else {
        for (ulong j = j0; j < j1; ++j) {
            ${body(out_dtype, in_dtypes, in_compute, ops, expr, {op: f"j * {op}_st.s7" for op in ops}, "j * out_st.s7", "lin0 + j")}
        }
    }
% else:
    const ulong n = nrows * shape.s7;
    for (ulong g = get_global_id(0); g < n; g += get_global_size(0)) {
        const ulong row = g / shape.s7;
        const ulong j = g - row * shape.s7;
        ${row_offsets(ops, "row")}
% for k, op in enumerate(ops):
        const ${in_compute[k]} ${op} = (${in_compute[k]})(${c.load(in_dtypes[k], f"{op}_g", f"o_{op} + (long)j * {op}_st.s7")});
% endfor
        const ulong lin = g;
        ${c.store(out_dtype, "out_g", "o_out + (long)j * out_st.s7", expr)}
    }
% endif
}
</%def>
<%def name="map_flat(name, out_dtype, in_dtypes, in_compute, scalar_ctype, n_scalars, expr, style)">
<% ops = "abcd"[:len(in_dtypes)] %>
${head(out_dtype, in_dtypes, in_compute, scalar_ctype, expr)}
__kernel void ${name}(
    __global ${c.ctype(out_dtype)} *restrict out_g, const ulong out_off,
% for k, dt in enumerate(in_dtypes):
    __global const ${c.ctype(dt)} *restrict ${ops[k]}_g, const ulong ${ops[k]}_off,
% endfor
% for s in range(n_scalars):
    const ${scalar_ctype} s${s},
% endfor
    const ulong n, const ulong chunk)
{
    __global ${c.ctype(out_dtype)} *po = out_g + out_off;
% for k, op in enumerate(ops):
    __global const ${c.ctype(in_dtypes[k])} *p${op} = ${op}_g + ${op}_off;
% endfor
% if style == "cpu":
    const ulong j0 = get_global_id(0) * chunk;
    const ulong j1 = min(j0 + chunk, n);
    for (ulong j = j0; j < j1; ++j) {
        ${body(out_dtype, in_dtypes, in_compute, ops, expr, {op: "j" for op in ops}, "j", "j")}
    }
% else:
    for (ulong j = get_global_id(0); j < n; j += get_global_size(0)) {
        ${body(out_dtype, in_dtypes, in_compute, ops, expr, {op: "j" for op in ops}, "j", "j")}
    }
% endif
}
</%def>
<%def name="map_t2d(name, out_dtype, in_dtypes, in_compute, scalar_ctype, n_scalars, expr, style)">
<% ops = "abcd"[:len(in_dtypes)] %>
${head(out_dtype, in_dtypes, in_compute, scalar_ctype, expr)}
__kernel void ${name}(
    __global ${c.ctype(out_dtype)} *restrict out_g, const ulong out_off, const long8 out_st,
% for k, dt in enumerate(in_dtypes):
    __global const ${c.ctype(dt)} *restrict ${ops[k]}_g, const ulong ${ops[k]}_off, const long8 ${ops[k]}_st,
% endfor
% for s in range(n_scalars):
    const ${scalar_ctype} s${s},
% endfor
    const ulong8 shape, const ulong chunk, const ulong nchunks, const ulong nrows)
{
    const ulong gid = get_global_id(0);
    const ulong row = gid / nchunks;
    if (row >= nrows) return;
    const ulong t = gid - row * nchunks;
    const ulong i0 = (t / chunk) * 16, j0 = (t % chunk) * 16;
    const ulong i1 = min(i0 + 16, shape.s6), j1 = min(j0 + 16, shape.s7);
    ${row_offsets(ops, "row", 5)}
    for (ulong i = i0; i < i1; ++i) {
        __global ${c.ctype(out_dtype)} *po = out_g + o_out + (long)i * out_st.s6;
% for k, op in enumerate(ops):
        __global const ${c.ctype(in_dtypes[k])} *p${op} = ${op}_g + o_${op} + (long)i * ${op}_st.s6;
% endfor
        for (ulong j = j0; j < j1; ++j) {
            ${body(out_dtype, in_dtypes, in_compute, ops, expr, {op: f"(long)j * {op}_st.s7" for op in ops}, "j", "(row * shape.s6 + i) * shape.s7 + j")}
        }
    }
}
</%def>
## row_offsets: element offsets of every operand at outer index `row` (dims top..0).
<%def name="row_offsets(ops, row, top=6)">
    long o_out = (long)out_off;
% for op in ops:
    long o_${op} = (long)${op}_off;
% endfor
    {
        ulong r = ${row};
% for d in range(top, -1, -1):
        if (r) {
            const ulong i = r % shape.s${d};
            r /= shape.s${d};
            o_out += (long)i * out_st.s${d};
% for op in ops:
            o_${op} += (long)i * ${op}_st.s${d};
% endfor
        }
% endfor
    }
</%def>
<%def name="body(out_dtype, in_dtypes, in_compute, ops, expr, idx, out_idx, lin)">
% for k, op in enumerate(ops):
            const ${in_compute[k]} ${op} = (${in_compute[k]})(${c.load(in_dtypes[k], "p" + op, idx[op])});
% endfor
            const ulong lin = ${lin};
            ${c.store(out_dtype, "po", out_idx, expr)}
</%def>
