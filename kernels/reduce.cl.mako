## reduce.cl.mako -- reductions, scans, softmax and sort over strided arrays.
##
## Every kernel reads its input through runtime shape/stride arguments, so one build per
## (op, dtypes) serves every shape and layout. A "kept" space (the output's dims) and, for
## reductions, a "reduced" space are each viewed with rank 8 (ulong8 shape, long8 strides in
## elements, dim 7 innermost, unused leading dims of size 1).
##
## Styles (device.caps.style):
##   "cpu": few work-items (global size ~ 4x compute units, local size 1); each walks a contiguous
##          range of *tasks* [gid*tpi, (gid+1)*tpi) and, inside a task, contiguous memory with
##          8-wide vector accumulators. Work is deterministic: no atomics, fixed combine order.
##   "gpu": local size LOCAL (a render constant); a work-group tree in local memory or one
##          work-item per task, with coalesced loads across neighbouring work-items.
##
## reduce(name, in_dtype, acc, out_dtype, init, pre, comb, post, kahan, arg, has_aux, style, local)
##   in_dtype  clt dtype name of x; acc: C type accumulated in (float, double, long, int, ...)
##   out_dtype clt dtype name of the output values
##   init      C expression: the identity of comb (a scalar of type acc)
##   pre       C expression over v (a loaded element converted to acc), m (the per-output aux
##             value) and p (the scalar parameter); {B}(c) turns a comparison into 0/1, {V}(s)
##             widens a scalar, {E}(x) is exp and {F}(x) is x where finite else 0, so the same
##             text works on scalars and vectors
##   comb      C expression combining a and b (works on scalars and vectors)
##   post      C expression over a (the result), n (element count), m, p, corr
##   kahan     compensated summation of 128-element blocks (float sums)
##   arg       False for value reductions; True to produce the extreme value and the first index
##             of it (the max, or the min when p != 0; NaN counts as the extreme, as in PyTorch)
##   has_aux   read aux_g[out index] into m
##   Args: x_g/x_off, kshape/kst/ost (kept dims; x and out strides), rshape/rst (reduced dims),
##     aux_g, part_g/pidx_g (partials [nchunks][nout]), out_g/idx_g (contiguous outputs, element
##     index from ost), nout, nred, chunk (reduced elements per chunk), nchunks, tpi (tasks per
##     work-item), mode, phase, p, corr.
##   phase 0: task = one (output, chunk); writes out (nchunks == 1) or partials.
##     cpu mode 0 ("rows"): the task reduces a run of the reduced space (vector loads where the
##       innermost reduced stride is 1); tasks ordered (output, chunk).
##     cpu mode 1 ("cols"): the innermost kept dim is contiguous in x: a task is vec neighbouring
##       outputs walked down the reduced space with vector loads; tasks ordered
##       (outer row, column block, chunk). Used for arg reductions and strided outputs.
##     cpu mode 2 ("panels"): kept inner dim contiguous in x and out (value reductions): a task
##       folds rows of a PANEL-wide panel into partials; phase 1 always follows.
##     gpu mode 0: one work-group of LOCAL per task (output, chunk), tree in local memory;
##       global = ntasks * LOCAL.
##     gpu mode 1: one work-item per task, task = chunk * nout + output (coalesced when the kept
##       inner dim is contiguous); global = round_up(ntasks, LOCAL).
##   phase 1: combine partials: task = one output (cpu: tpi outputs per work-item; gpu: one).
##
## scan(name, in_dtype, acc, out_dtype, init, comb, kahan, style, local)
##   Inclusive scan along one dim of length len (x stride xs, out stride os); the other dims are
##   the kept space (kshape/kst/ost, nrows rows). Long rows are split into nchunks chunks:
##   phase 0 writes each chunk's total to part_g[c * nrows + row], phase 1 turns those into
##   exclusive prefixes (one task per row), phase 2 scans each chunk from its prefix.
##   cpu mode 1 (nchunks == 1, kept inner dim contiguous in x and out): a task scans a panel of
##   `chunk` neighbouring rows side by side in memory order, keeping running values in part_g
##   (2 * chunk slots per task); tasks = outer rows x panels.
##   Tasks: phases 0/2: row * nchunks + c (cpu) or c * nrows + row (gpu); phase 1: row.
##
## softmax(name, in_dtype, out_dtype, log, style, local)
##   Numerically stable (log-)softmax along one dim (length len, strides xs/os) for every row of
##   the kept space. cpu mode 0: one row per task, vec-wide when xs == os == 1; cpu mode 1: a
##   panel of `chunk` neighbouring rows per task (kept inner dim contiguous), three passes in
##   memory order with the running max/sum in part_g (2 * chunk slots per task). gpu mode 0: a work-group per row;
##   gpu mode 1: a work-item per row.
##
## sort(name, dtype, style, block, local)
##   Stable sort of rows (NaN last ascending, first descending; ties keep input order).
##   phase 0: task (row, block): insertion-sort `block` elements in private memory.
##   phase 1: task (row, pair of runs of `width`, tile of `tile` outputs): merge-path split by
##   binary search, then a sequential stable merge. src/dst are strided (row offsets from the
##   kept multi-index, element stride src_ds/dst_ds); idx buffers carry int64 positions
##   (phase 0 makes them). Only positions < nkeep are written (topk).
<%namespace name="c" file="common.cl.mako"/>
##
## ------------------------------------------------------------------------------------------
## helpers shared by the kernels
<%!
    ACC_DTYPES = {"float": "float32", "double": "float64", "long": "int64", "int": "int32",
                  "short": "int16", "char": "int8", "uchar": "uint8"}

    def acc_dtype(acc):
        return ACC_DTYPES[acc]
%>
## vexp(acc, vec): VEXP(x), exp of an acc vector. For float, an inline Cephes-style expf (range
## reduction by n*ln2, degree-6 polynomial, 2^n built from exponent bits; ~1 ulp): PoCL's exp is
## an out-of-line call, which held softmax to a quarter of the memory bandwidth.
<%def name="vexp(acc, vec)">
% if acc == "float":
<% V = "float%d" % vec; I = "int%d" % vec %>
inline ${V} clt_vexp(const ${V} x) {
    // clamped so that n stays in [-126, 128]: 128 makes the exponent bits of +inf; NaN passes
    // through the comparisons untouched; results below exp(-87.3) flush to zero
    const ${V} magic = (${V})(12582912.0f);   // 1.5 * 2^23: adding it rounds to an integer
    ${V} xc = x > (${V})(88.8f) ? (${V})(88.8f) : x;
    xc = xc < (${V})(-87.3f) ? (${V})(-87.3f) : xc;
    const ${V} t = xc * (${V})(1.44269504088896341f) + magic;
    const ${V} n = t - magic;
    const ${I} ni = as_${I}(t) - as_${I}(magic);
    const ${V} r = (xc - n * (${V})(0.693359375f)) - n * (${V})(-2.12194440e-4f);
    ${V} p = (${V})(1.9875691500e-4f);
    p = p * r + (${V})(1.3981999507e-3f);
    p = p * r + (${V})(8.3334519073e-3f);
    p = p * r + (${V})(4.1665795894e-2f);
    p = p * r + (${V})(1.6666665459e-1f);
    p = p * r + (${V})(5.0000001201e-1f);
    const ${V} y = (p * r * r + r + (${V})(1.0f)) * as_${V}((ni + 127) << 23);
    return x < (${V})(-87.3f) ? (${V})(0.0f) : y;
}
#define VEXP(x) clt_vexp(x)
% else:
#define VEXP(x) exp(x)
% endif
</%def>
## hcomb(f, v, out, vec, T): fold the lanes of vector v with the 2-argument expression f.
<%def name="hcomb(f, v, out, vec, T)">
% if vec == 8:
                const ${T}4 ${out}4 = ${f}(${v}.lo, ${v}.hi);
                const ${T}2 ${out}2 = ${f}(${out}4.lo, ${out}4.hi);
% else:
                const ${T}2 ${out}2 = ${f}(${v}.lo, ${v}.hi);
% endif
                const ${T} ${out} = ${f}(${out}2.x, ${out}2.y);
</%def>
<%def name="helpers()">
// NaN-propagating max/min without fmax/fmin calls (PoCL does not inline built-ins).
#define CLT_RMAX(x, y) (((x) != (x)) ? (x) : (((y) != (y)) ? (y) : ((x) > (y) ? (x) : (y))))
#define CLT_ADD(x, y) ((x) + (y))
#define CLT_RMIN(x, y) (((x) != (x)) ? (x) : (((y) != (y)) ? (y) : ((x) < (y) ? (x) : (y))))
</%def>
## koffsets(q, pairs): for kept linear index q (dims 7..0 of kshape), add i_d * stride.s_d to each
## offset variable; pairs is a tuple of (offset variable, long8 stride argument).
<%def name="koffsets(q, pairs)">
    {
        ulong _q = ${q};
% for d in (7, 6, 5, 4, 3, 2, 1, 0):
        if (_q) {
            const ulong _i = _q % kshape.s${d};
            _q /= kshape.s${d};
% for var, st in pairs:
            ${var} += (long)_i * ${st}.s${d};
% endfor
        }
% endfor
    }
</%def>
<%def name="kept_offsets(q, xo, oo)">${koffsets(q, ((xo, "kst"), (oo, "ost")))}</%def>
## red_offset(r, ro): x offset of reduced linear index r.
<%def name="red_offset(r, ro)">
    {
        ulong _q = ${r};
% for d in (7, 6, 5, 4, 3, 2, 1, 0):
        if (_q) {
            const ulong _i = _q % rshape.s${d};
            _q /= rshape.s${d};
            ${ro} += (long)_i * rst.s${d};
        }
% endfor
    }
</%def>
## odometer_init(r, ro): reduced multi-index counters ri0..ri7 and offset ro for linear index r.
<%def name="odometer_init(r, ro)">
    ulong ri0 = 0, ri1 = 0, ri2 = 0, ri3 = 0, ri4 = 0, ri5 = 0, ri6 = 0, ri7 = 0;
    long ${ro} = 0;
    {
        ulong _q = ${r};
% for d in (7, 6, 5, 4, 3, 2, 1, 0):
        ri${d} = _q % rshape.s${d};
        _q /= rshape.s${d};
        ${ro} += (long)ri${d} * rst.s${d};
% endfor
    }
</%def>
## odometer_step(ro): advance to the next reduced element (innermost dim fastest).
<%def name="odometer_step(ro)">
        ${ro} += rst.s7;
        if (++ri7 == rshape.s7) {
            ri7 = 0; ${ro} -= (long)rshape.s7 * rst.s7; ${ro} += rst.s6;
            if (++ri6 == rshape.s6) {
                ri6 = 0; ${ro} -= (long)rshape.s6 * rst.s6; ${ro} += rst.s5;
                if (++ri5 == rshape.s5) {
                    ri5 = 0; ${ro} -= (long)rshape.s5 * rst.s5; ${ro} += rst.s4;
                    if (++ri4 == rshape.s4) {
                        ri4 = 0; ${ro} -= (long)rshape.s4 * rst.s4; ${ro} += rst.s3;
                        if (++ri3 == rshape.s3) {
                            ri3 = 0; ${ro} -= (long)rshape.s3 * rst.s3; ${ro} += rst.s2;
                            if (++ri2 == rshape.s2) {
                                ri2 = 0; ${ro} -= (long)rshape.s2 * rst.s2; ${ro} += rst.s1;
                                if (++ri1 == rshape.s1) {
                                    ri1 = 0; ${ro} -= (long)rshape.s1 * rst.s1; ${ro} += rst.s0;
                                    ++ri0;
                                }
                            }
                        }
                    }
                }
            }
        }
</%def>
## kahan_add(s, cmp, y, T): s += y with compensation cmp (the true sum is s - cmp). Once the
## sum is infinite the compensation would be inf - inf = NaN, so it is zeroed instead.
<%def name="kahan_add(s, cmp, y, T)">
            {
                const ${T} _y = (${y}) - ${cmp};
                const ${T} _t = ${s} + _y;
                ${cmp} = (_t - _t == 0) ? ((_t - ${s}) - _y) : (${T})(0);
                ${s} = _t;
            }
</%def>
## block_add(s, cmp, y, T, kahan): fold a block result y into the running total.
<%def name="block_add(s, cmp, y, T, kahan)">
% if kahan:
${kahan_add(s, cmp, y, T)}
% else:
            ${s} = COMB(${s}, ${y});
% endif
</%def>
## vload(in_dtype, acc, ptr, W): W elements at ptr as an acc vector. Built as a vector literal
## of scalar loads, which LLVM merges into one unaligned vector load: PoCL's vloadN and convert_*
## are real function calls (5 GB/s against 30 GB/s for a float sum).
<%def name="vload(in_dtype, acc, ptr, W)">\
% if in_dtype == "float16":
((${acc}${W})(${", ".join("vload_half(%d, %s)" % (k, ptr) for k in range(W))}))\
% else:
((${acc}${W})(${", ".join("(%s)(%s)[%d]" % (acc, ptr, k) for k in range(W))}))\
% endif
</%def>
<%def name="sload(in_dtype, acc, ptr, idx)">((${acc})(${c.load(in_dtype, ptr, idx)}))</%def>
##
## ------------------------------------------------------------------------------------------
<%def name="reduce(name, in_dtype, acc, out_dtype, init, pre, comb, post, kahan, arg, has_aux, style, local, vec)">
<%
    TIN = capture(c.ctype, in_dtype)
    TOUT = capture(c.ctype, out_dtype)
    V = acc + str(vec)
    scal = acc if acc in ("float", "double") else "float"
    pre_v = (pre.replace("{B}", "CLT_BV").replace("{V}", "(" + V + ")").replace("{E}", "VEXP")
             .replace("{F}", "CLT_FINV"))
    pre_s = pre.replace("{B}", "CLT_BS").replace("{V}", "").replace("{E}", "exp").replace(
        "{F}", "CLT_FINS")
    dts = (in_dtype, out_dtype) + (("float64",) if "double" in (acc, scal) else ())
    better = "BETTER1(v, bv)"
%>
${c.prelude(dts)}
${helpers()}
typedef ${acc} ACC;
typedef ${V} ACCV;
${vexp(acc, vec)}
// a comparison as 0/1 (vector comparisons give -1 for true; select instead of convert_*)
#define CLT_BV(c) ((c) ? (ACCV)1 : (ACCV)0)
#define CLT_BS(c) ((c) ? (ACC)1 : (ACC)0)
// x where finite, else 0
#define CLT_FINV(x) (((x) - (x) == 0) ? (x) : (ACCV)0)
#define CLT_FINS(x) (((x) - (x) == 0) ? (x) : (ACC)0)
#define PRE_V(v) (${pre_v})
#define PRE_S(v) (${pre_s})
#define COMB(a, b) (${comb})
#define INIT ((ACC)(${init}))
#define BLK 16
#define PANEL 2048
#define ROWS 4

% if arg:
// v strictly more extreme than the best bv so far (the min when p != 0); NaN beats numbers
#define BETTER1(v, bv) ((p != 0 ? (v) < (bv) : (v) > (bv)) || ((v) != (v) && (bv) == (bv)))
// with indices: on a tie the lower index wins (the first occurrence, as PyTorch)
#define BETTER(v, i, bv, bi) (BETTER1(v, bv) || \
    (!((bv) > (v) || (bv) < (v)) && ((v) == (v)) == ((bv) == (bv)) && (i) < (bi)))
% endif

__kernel void ${name}(
    __global const ${TIN} *restrict x_g, const ulong x_off,
    const ulong8 kshape, const long8 kst, const long8 ost,
    const ulong8 rshape, const long8 rst,
    __global const ACC *restrict aux_g,
    __global ACC *restrict part_g, __global long *restrict pidx_g,
    __global ${TOUT} *restrict out_g, __global long *restrict idx_g,
    const ulong nout, const ulong nred, const ulong chunk, const ulong nchunks,
    const ulong tpi, const int mode, const int phase, const ${scal} p, const ${scal} corr)
{
    const ${scal} n = (${scal})nred;
% if style == "gpu":
    __local ACC red_l[${local}];
% if arg:
    __local long ridx_l[${local}];
% endif
% endif
% if style == "cpu":
    const ulong t0 = get_global_id(0) * tpi;
% else:
    const ulong t0 = mode == 0 && phase == 0 ? get_group_id(0) : get_global_id(0);
% endif
    if (phase == 1) {
        // combine the nchunks partials of each output, in chunk order
% if style == "cpu":
        const ulong t1 = min(t0 + tpi, nout);
% else:
        const ulong t1 = min(t0 + 1, nout);
% endif
        for (ulong o = t0; o < t1; ++o) {
% if has_aux:
            const ACC m = aux_g[o];
% endif
% if arg:
            ACC bv = part_g[o];
            long bi = pidx_g[o];
            for (ulong k = 1; k < nchunks; ++k) {
                const ACC v = part_g[k * nout + o];
                const long i = pidx_g[k * nout + o];
                if (BETTER(v, i, bv, bi)) { bv = v; bi = i; }
            }
            ${c.store(out_dtype, "out_g", "o", "bv")}
            idx_g[o] = bi;
% else:
            ACC a = part_g[o], cmp = 0;
            for (ulong k = 1; k < nchunks; ++k) {
${block_add("a", "cmp", "part_g[k * nout + o]", "ACC", kahan)}
            }
% if kahan:
            a -= cmp;
% endif
            ${c.store(out_dtype, "out_g", "o", post)}
% endif
        }
        return;
    }
% if style == "cpu":
    ulong ntasks;
    if (mode == 0) {
        ntasks = nout * nchunks;
    } else if (mode == 1) {
        ntasks = (nout / kshape.s7) * ((kshape.s7 + ${vec - 1}) / ${vec}) * nchunks;
    } else {
        ntasks = (nout / kshape.s7) * ((kshape.s7 + PANEL - 1) / PANEL) * nchunks;
    }
    const ulong t1 = min(t0 + tpi, ntasks);
    for (ulong t = t0; t < t1; ++t) {
        const ulong ck = t % nchunks;
        const ulong r0 = ck * chunk;
        const ulong r1 = min(r0 + chunk, nred);
        long xo = (long)x_off, oo = 0;
        if (mode == 0) {
            ${kept_offsets("t / nchunks", "xo", "oo")}
% if has_aux:
            const ACC m = aux_g[oo];
% endif
${rows_task(in_dtype, acc, arg, kahan, has_aux, out_dtype, post, better, vec)}
% if not arg:
        } else if (mode == 2) {
${panel_task(in_dtype, acc, has_aux, vec)}
% endif
        } else {
            const ulong nb = (kshape.s7 + ${vec - 1}) / ${vec};
            const ulong tb = t / nchunks;
            const ulong col0 = (tb % nb) * ${vec};
            ${kept_offsets("(tb / nb) * kshape.s7", "xo", "oo")}
            xo += (long)col0 * kst.s7;
            oo += (long)col0 * ost.s7;
            const ulong ncol = min((ulong)${vec}, kshape.s7 - col0);
% if not arg:
            if (ncol == ${vec}) {
${cols_vector_task(in_dtype, acc, kahan, has_aux, out_dtype, post, vec)}
                continue;
            }
% endif
            for (ulong l = 0; l < ncol; ++l) {
                const long xl = xo + (long)l * kst.s7, ol = oo + (long)l * ost.s7;
% if has_aux:
                const ACC m = aux_g[ol];
% endif
${scalar_walk(in_dtype, acc, arg, kahan, "xl", "ol", out_dtype, post, better)}
            }
        }
    }
% else:
    ## ---------------------------------------------------------------- gpu
    if (mode == 0) {
        // one work-group per (output, chunk): strided private partials, then a tree
        const ulong t = t0;
        const ulong lid = get_local_id(0);
        const ulong ck = t % nchunks;
        const ulong r0 = ck * chunk;
        const ulong r1 = min(r0 + chunk, nred);
        long xo = (long)x_off, oo = 0;
        ${kept_offsets("t / nchunks", "xo", "oo")}
% if has_aux:
        const ACC m = aux_g[oo];
% endif
        // one reduced dim (after collapsing) is the common case: skip the index arithmetic
        const int flat = rshape.s0 == 1 && rshape.s1 == 1 && rshape.s2 == 1 && rshape.s3 == 1
                         && rshape.s4 == 1 && rshape.s5 == 1 && rshape.s6 == 1;
% if arg:
        ACC bv = 0;
        long bi = -1;
        for (ulong r = r0 + lid; r < r1; r += ${local}) {
            long ro = 0;
            if (flat) { ro = (long)r * rst.s7; } else { ${red_offset("r", "ro")} }
            const ACC v = ${sload(in_dtype, acc, "x_g", "xo + ro")};
            if (bi < 0 || ${better}) { bv = v; bi = (long)r; }
        }
        red_l[lid] = bv;
        ridx_l[lid] = bi;
        barrier(CLK_LOCAL_MEM_FENCE);
% for s in [local >> k for k in range(1, local.bit_length())]:
        if (lid < ${s}) {
            const ACC v = red_l[lid + ${s}];
            const long i = ridx_l[lid + ${s}];
            const ACC bv2 = red_l[lid];
            const long bi2 = ridx_l[lid];
            if (i >= 0 && (bi2 < 0 || BETTER(v, i, bv2, bi2))) {
                red_l[lid] = v; ridx_l[lid] = i;
            }
        }
        barrier(CLK_LOCAL_MEM_FENCE);
% endfor
        if (lid == 0) {
            if (nchunks == 1) {
                ${c.store(out_dtype, "out_g", "oo", "red_l[0]")}
                idx_g[oo] = ridx_l[0];
            } else {
                part_g[ck * nout + oo] = red_l[0];
                pidx_g[ck * nout + oo] = ridx_l[0];
            }
        }
% else:
        ACC s = INIT, cmp = 0, b = INIT;
        uint cnt = 0;
        for (ulong r = r0 + lid; r < r1; r += ${local}) {
            long ro = 0;
            if (flat) { ro = (long)r * rst.s7; } else { ${red_offset("r", "ro")} }
            const ACC v = ${sload(in_dtype, acc, "x_g", "xo + ro")};
            b = COMB(b, PRE_S(v));
            if (++cnt == 128) {
${block_add("s", "cmp", "b", "ACC", kahan)}
                b = INIT; cnt = 0;
            }
        }
${block_add("s", "cmp", "b", "ACC", kahan)}
% if kahan:
        s -= cmp;
% endif
        red_l[lid] = s;
        barrier(CLK_LOCAL_MEM_FENCE);
% for h in [local >> k for k in range(1, local.bit_length())]:
        if (lid < ${h}) red_l[lid] = COMB(red_l[lid], red_l[lid + ${h}]);
        barrier(CLK_LOCAL_MEM_FENCE);
% endfor
        if (lid == 0) {
            const ACC a = red_l[0];
            if (nchunks == 1) {
                ${c.store(out_dtype, "out_g", "oo", post)}
            } else {
                part_g[ck * nout + oo] = a;
            }
        }
% endif
    } else {
        // one work-item per (chunk, output); neighbours read neighbouring columns
        const ulong t = t0;
        if (t >= nout * nchunks) return;
        const ulong ck = t / nout;
        const ulong r0 = ck * chunk;
        const ulong r1 = min(r0 + chunk, nred);
        long xo = (long)x_off, oo = 0;
        ${kept_offsets("t % nout", "xo", "oo")}
% if has_aux:
        const ACC m = aux_g[oo];
% endif
${scalar_walk(in_dtype, acc, arg, kahan, "xo", "oo", out_dtype, post, better)}
    }
% endif
}
</%def>
##
## rows_task: cpu mode 0 body; reduces [r0, r1) of the reduced space at base xo into output oo.
<%def name="rows_task(in_dtype, acc, arg, kahan, has_aux, out_dtype, post, better, vec)">
% if arg:
            ACC bv = 0;
            long bi = -1;
            for (ulong r = r0; r < r1;) {
                const ulong q = r / rshape.s7;
                const ulong j = r - q * rshape.s7;
                long ro = (long)j * rst.s7;
                ${red_offset("q * rshape.s7", "ro")}
                const ulong len = min(r1 - r, rshape.s7 - j);
                __global const ${c.ctype(in_dtype)} *px = x_g + xo + ro;
                ulong e = 0;
% if acc in ("float", "double"):
<% IV = ("int%d" if acc == "float" else "long%d") % vec %>
                if (rst.s7 == 1 && len >= 2 * ${vec}) {
                    // lane l tracks the best of elements l, l + vec, ...: a strict comparison
                    // keeps the earliest on ties; NaN beats numbers
                    ACCV bvv = ${vload(in_dtype, acc, "px", vec)};
                    ${IV} biv = (${IV})(${", ".join(str(l) for l in range(vec))});
                    ${IV} cur = biv + (${IV})(${vec});
                    for (e = ${vec}; e + ${vec} <= len; e += ${vec}) {
                        const ACCV v = ${vload(in_dtype, acc, "px + e", vec)};
                        const ${IV} take = (p != 0 ? (v < bvv) : (v > bvv)) | ((v != v) & (bvv == bvv));
                        bvv = take ? v : bvv;
                        biv = take ? cur : biv;
                        cur += (${IV})(${vec});
                    }
% for l in range(vec):
                    {
                        const ACC v = bvv.s${"%x" % l};
                        const long i = (long)r + (long)biv.s${"%x" % l};
                        if (bi < 0 || BETTER(v, i, bv, bi)) { bv = v; bi = i; }
                    }
% endfor
                }
% endif
                for (; e < len; ++e) {
                    const ACC v = ${sload(in_dtype, acc, "px", "(long)e * rst.s7")};
                    if (bi < 0 || ${better}) { bv = v; bi = (long)(r + e); }
                }
                r += len;
            }
            if (nchunks == 1) {
                ${c.store(out_dtype, "out_g", "oo", "bv")}
                idx_g[oo] = bi;
            } else {
                part_g[ck * nout + oo] = bv;
                pidx_g[ck * nout + oo] = bi;
            }
% else:
            ACCV sv = (ACCV)(INIT), cv = (ACCV)(0);
            ACC ss = INIT, cs = 0, bs = INIT;
            uint cnt = 0;
            for (ulong r = r0; r < r1;) {
                const ulong q = r / rshape.s7;
                const ulong j = r - q * rshape.s7;
                long ro = (long)j * rst.s7;
                ${red_offset("q * rshape.s7", "ro")}
                const ulong len = min(r1 - r, rshape.s7 - j);
                __global const ${c.ctype(in_dtype)} *px = x_g + xo + ro;
                ulong e = 0;
                if (rst.s7 == 1) {
                    for (; e + ${vec} * BLK <= len; e += ${vec} * BLK) {
                        ACCV b = (ACCV)(INIT);
                        for (uint u = 0; u < BLK; ++u) {
                            const ACCV v = ${vload(in_dtype, acc, "px + e + %d * u" % vec, vec)};
                            b = COMB(b, PRE_V(v));
                        }
${block_add("sv", "cv", "b", "ACCV", kahan)}
                    }
                    if (e + ${vec} <= len) {
                        ACCV b = (ACCV)(INIT);
                        for (; e + ${vec} <= len; e += ${vec}) {
                            const ACCV v = ${vload(in_dtype, acc, "px + e", vec)};
                            b = COMB(b, PRE_V(v));
                        }
${block_add("sv", "cv", "b", "ACCV", kahan)}
                    }
                }
                for (; e < len; ++e) {
                    const ACC v = ${sload(in_dtype, acc, "px", "(long)e * rst.s7")};
                    bs = COMB(bs, PRE_S(v));
                    if (++cnt == 128) {
${block_add("ss", "cs", "bs", "ACC", kahan)}
                        bs = INIT; cnt = 0;
                    }
                }
                r += len;
            }
${block_add("ss", "cs", "bs", "ACC", kahan)}
% if kahan:
            sv -= cv;
            ss -= cs;
% endif
            {
${hcomb("COMB", "sv", "h1", vec, acc)}
                const ACC a = COMB(h1, ss);
                if (nchunks == 1) {
                    ${c.store(out_dtype, "out_g", "oo", post)}
                } else {
                    part_g[ck * nout + oo] = a;
                }
            }
% endif
</%def>
##
## panel_task: cpu mode 2 body. The innermost kept dim is contiguous in x and in the output: a task
## takes a panel of up to PANEL outputs and a chunk of the reduced space, and folds whole rows of
## x into its partials (part_g[ck * nout + out index], cache-resident), reading x in memory
## order; walking down columns instead would touch a new page for every element.
<%def name="panel_task(in_dtype, acc, has_aux, vec)">
            const ulong np = (kshape.s7 + PANEL - 1) / PANEL;
            const ulong tb = t / nchunks;
            const ulong col0 = (tb % np) * PANEL;
            const ulong ncol = min((ulong)PANEL, kshape.s7 - col0);
            ${kept_offsets("(tb / np) * kshape.s7", "xo", "oo")}
            xo += (long)col0;
            __global ACC *pp = part_g + ck * nout + oo + col0;
            if (r0 >= r1) {
                for (ulong j = 0; j < ncol; ++j) pp[j] = INIT;
                continue;
            }
            ${odometer_init("r0", "ro")}
            for (ulong r = r0; r < r1;) {
                // ROWS rows per pass over the partials: one partial load/store per ROWS inputs
                const ulong nr = r + ROWS <= r1 ? ROWS : 1;
                long rq[ROWS];
                for (ulong q = 0; q < nr; ++q) {
                    rq[q] = ro;
${odometer_step("ro")}
                }
                const int first = r == r0;
                r += nr;
                if (nr == ROWS) {
% for q in range(4):
                    __global const ${c.ctype(in_dtype)} *px${q} = x_g + xo + rq[${q}];
% endfor
                    ulong j = 0;
                    for (; j + ${vec} <= ncol; j += ${vec}) {
% if has_aux:
                        const ACCV m = ${vload(acc_dtype(acc), acc, "aux_g + oo + col0 + j", vec)};
% endif
                        ACCV b = first ? (ACCV)(INIT) : ${vload(acc_dtype(acc), acc, "pp + j", vec)};
% for q in range(4):
                        b = COMB(b, PRE_V(${vload(in_dtype, acc, "px%d + j" % q, vec)}));
% endfor
                        ${vstore(acc_dtype(acc), acc, "b", "pp + j", vec)}
                    }
                    for (; j < ncol; ++j) {
% if has_aux:
                        const ACC m = aux_g[oo + col0 + j];
% endif
                        ACC b = first ? INIT : pp[j];
% for q in range(4):
                        b = COMB(b, PRE_S(${sload(in_dtype, acc, "px%d" % q, "j")}));
% endfor
                        pp[j] = b;
                    }
                    continue;
                }
                __global const ${c.ctype(in_dtype)} *px = x_g + xo + rq[0];
                ulong j = 0;
                for (; j + ${vec} <= ncol; j += ${vec}) {
                    const ACCV v = ${vload(in_dtype, acc, "px + j", vec)};
% if has_aux:
                    const ACCV m = ${vload(acc_dtype(acc), acc, "aux_g + oo + col0 + j", vec)};
% endif
                    const ACCV b = first ? (ACCV)(INIT) : ${vload(acc_dtype(acc), acc, "pp + j", vec)};
                    ${vstore(acc_dtype(acc), acc, "COMB(b, PRE_V(v))", "pp + j", vec)}
                }
                for (; j < ncol; ++j) {
                    const ACC v = ${sload(in_dtype, acc, "px", "j")};
% if has_aux:
                    const ACC m = aux_g[oo + col0 + j];
% endif
                    const ACC b = first ? INIT : pp[j];
                    pp[j] = COMB(b, PRE_S(v));
                }
            }
</%def>
##
## cols_vector_task: cpu mode 1 body for a full block of 8 outputs at xo/oo.
<%def name="cols_vector_task(in_dtype, acc, kahan, has_aux, out_dtype, post, vec)">
% if has_aux:
                ACC mt[${vec}];
                for (int l = 0; l < ${vec}; ++l) mt[l] = aux_g[oo + l * ost.s7];
                const ACCV m = (ACCV)(${", ".join("mt[%d]" % l for l in range(vec))});
% endif
                ACCV s = (ACCV)(INIT), cmp = (ACCV)(0), b = (ACCV)(INIT);
                uint cnt = 0;
                ${odometer_init("r0", "ro")}
                for (ulong r = r0; r < r1; ++r) {
                    const ACCV v = ${vload(in_dtype, acc, "x_g + xo + ro", vec)};
                    b = COMB(b, PRE_V(v));
                    if (++cnt == BLK) {
${block_add("s", "cmp", "b", "ACCV", kahan)}
                        b = (ACCV)(INIT); cnt = 0;
                    }
${odometer_step("ro")}
                }
${block_add("s", "cmp", "b", "ACCV", kahan)}
% if kahan:
                s -= cmp;
% endif
                // lane by lane: vstore8 into a private array breaks PoCL's cached binaries
                const ACC res[${vec}] = {${", ".join("s.s%d" % l for l in range(vec))}};
                for (int l = 0; l < ${vec}; ++l) {
                    const ACC a = res[l];
                    const long ol = oo + l * ost.s7;
% if has_aux:
                    const ACC m = mt[l];
% endif
                    if (nchunks == 1) {
                        ${c.store(out_dtype, "out_g", "ol", post)}
                    } else {
                        part_g[ck * nout + ol] = a;
                    }
                }
</%def>
##
## scalar_walk: reduce [r0, r1) at base xb one element at a time (odometer over reduced dims).
<%def name="scalar_walk(in_dtype, acc, arg, kahan, xb, ob, out_dtype, post, better)">
                {
                ${odometer_init("r0", "ro")}
% if arg:
                ACC bv = 0;
                long bi = -1;
                for (ulong r = r0; r < r1; ++r) {
                    const ACC v = ${sload(in_dtype, acc, "x_g", xb + " + ro")};
                    if (bi < 0 || ${better}) { bv = v; bi = (long)r; }
${odometer_step("ro")}
                }
                if (nchunks == 1) {
                    ${c.store(out_dtype, "out_g", ob, "bv")}
                    idx_g[${ob}] = bi;
                } else {
                    part_g[ck * nout + ${ob}] = bv;
                    pidx_g[ck * nout + ${ob}] = bi;
                }
% else:
                ACC s = INIT, cmp = 0, b = INIT;
                uint cnt = 0;
                for (ulong r = r0; r < r1; ++r) {
                    const ACC v = ${sload(in_dtype, acc, "x_g", xb + " + ro")};
                    b = COMB(b, PRE_S(v));
                    if (++cnt == 128) {
${block_add("s", "cmp", "b", "ACC", kahan)}
                        b = INIT; cnt = 0;
                    }
${odometer_step("ro")}
                }
${block_add("s", "cmp", "b", "ACC", kahan)}
% if kahan:
                s -= cmp;
% endif
                const ACC a = s;
                if (nchunks == 1) {
                    ${c.store(out_dtype, "out_g", ob, post)}
                } else {
                    part_g[ck * nout + ${ob}] = a;
                }
% endif
                }
</%def>
##
## vstore(out_dtype, acc, val, ptr, W): store an acc W-vector at ptr in out_dtype (not bool),
## lane by lane for the same reason as vload.
<%def name="vstore(out_dtype, acc, val, ptr, W)">\
{ const ${acc}${W} _v = (${val}); __global ${c.ctype(out_dtype)} *_p = (${ptr});\
% for k in range(W):
 ${c.store(out_dtype, "_p", str(k), "_v.s%d" % k)}\
% endfor
 }\
</%def>
##
## ------------------------------------------------------------------------------------------
<%def name="scan(name, in_dtype, acc, out_dtype, init, comb, kahan, style, local, vec)">
<%
    TIN = capture(c.ctype, in_dtype)
    TOUT = capture(c.ctype, out_dtype)
    dts = (in_dtype, out_dtype) + (("float64",) if acc == "double" else ())
%>
${c.prelude(dts)}
${helpers()}
typedef ${acc} ACC;
typedef ${acc}${vec} ACCV;
#define COMB(a, b) (${comb})
#define INIT ((ACC)(${init}))

__kernel void ${name}(
    __global const ${TIN} *restrict x_g, const ulong x_off,
    __global ${TOUT} *restrict out_g, const ulong out_off,
    const ulong8 kshape, const long8 kst, const long8 ost,
    const ulong len, const long xs, const long os,
    __global ACC *restrict part_g, const ulong nrows, const ulong chunk, const ulong nchunks,
    const ulong tpi, const int mode, const int phase)
{
% if style == "cpu":
    const ulong t0 = get_global_id(0) * tpi;
    const ulong tn = phase == 1 ? nrows
        : mode == 1 ? (nrows / kshape.s7) * ((kshape.s7 + chunk - 1) / chunk) : nrows * nchunks;
    const ulong t1 = min(t0 + tpi, tn);
% else:
    const ulong t0 = get_global_id(0);
    const ulong t1 = min(t0 + 1, phase == 1 ? nrows : nrows * nchunks);
% endif
    for (ulong t = t0; t < t1; ++t) {
        if (phase == 1) {
            // exclusive prefix of the chunk totals of row t
            ACC carry = INIT;
            for (ulong k = 0; k < nchunks; ++k) {
                const ACC v = part_g[k * nrows + t];
                part_g[k * nrows + t] = carry;
                carry = COMB(carry, v);
            }
            continue;
        }
% if style == "cpu":
        if (mode == 1) {
            // a panel of `chunk` neighbouring rows (contiguous in x and out) scanned side by
            // side, walking the scan dim in memory order; running values (and compensations)
            // live in this task's part_g slots, which stay in cache
            const ulong np = (kshape.s7 + chunk - 1) / chunk;
            const ulong col0 = (t % np) * chunk;
            const ulong ncol = min(chunk, kshape.s7 - col0);
            long xo = (long)x_off, oo = (long)out_off;
            ${koffsets("(t / np) * kshape.s7", (("xo", "kst"), ("oo", "ost")))}
            xo += (long)col0;
            oo += (long)col0;
            __global ACC *ps = part_g + t * 2 * chunk;
            __global ACC *pc = ps + chunk;
            for (ulong j = 0; j < len; ++j) {
                __global const ${TIN} *px = x_g + xo + (long)j * xs;
                __global ${TOUT} *po = out_g + oo + (long)j * os;
                ulong l = 0;
                for (; l + ${vec} <= ncol; l += ${vec}) {
                    const ACCV v = ${vload(in_dtype, acc, "px + l", vec)};
                    ACCV s = j == 0 ? (ACCV)(INIT) : ${vload(acc_dtype(acc), acc, "ps + l", vec)};
% if kahan:
                    ACCV cmp = j == 0 ? (ACCV)(0) : ${vload(acc_dtype(acc), acc, "pc + l", vec)};
${kahan_add("s", "cmp", "v", "ACCV")}
                    ${vstore(acc_dtype(acc), acc, "cmp", "pc + l", vec)}
% else:
                    s = COMB(s, v);
% endif
                    ${vstore(acc_dtype(acc), acc, "s", "ps + l", vec)}
                    ${vstore(out_dtype, acc, "s", "po + l", vec)}
                }
                for (; l < ncol; ++l) {
                    const ACC v = ${sload(in_dtype, acc, "px", "l")};
                    ACC s = j == 0 ? INIT : ps[l];
% if kahan:
                    ACC cmp = j == 0 ? (ACC)0 : pc[l];
${kahan_add("s", "cmp", "v", "ACC")}
                    pc[l] = cmp;
% else:
                    s = COMB(s, v);
% endif
                    ps[l] = s;
                    ${c.store(out_dtype, "po", "l", "s")}
                }
            }
            continue;
        }
        const ulong row = t / nchunks, ck = t % nchunks;
% else:
        const ulong row = t % nrows, ck = t / nrows;
% endif
        const ulong j0 = ck * chunk;
        const ulong j1 = min(j0 + chunk, len);
        long xo = (long)x_off, oo = (long)out_off;
        ${koffsets("row", (("xo", "kst"), ("oo", "ost")))}
        if (phase == 0) {
            // this chunk's total (the last chunk's is never needed)
            if (ck + 1 == nchunks) continue;
            ACC s = INIT, cmp = 0;
            for (ulong j = j0; j < j1; ++j) {
                const ACC v = ${sload(in_dtype, acc, "x_g", "xo + (long)j * xs")};
% if kahan:
${kahan_add("s", "cmp", "v", "ACC")}
% else:
                s = COMB(s, v);
% endif
            }
            part_g[ck * nrows + row] = s;
            continue;
        }
        const ACC carry = nchunks > 1 ? part_g[ck * nrows + row] : INIT;
${scan_row(in_dtype, out_dtype, kahan, "xo", "oo", "j0", "j1", "carry")}
    }
}
</%def>
## scan_row: sequential inclusive scan of elements [ja, jb) of one row at xb/ob from `start`.
<%def name="scan_row(in_dtype, out_dtype, kahan, xb, ob, ja, jb, start)">
            {
                ACC s = ${start}, cmp = 0;
                for (ulong j = ${ja}; j < ${jb}; ++j) {
                    const ACC v = ${sload(in_dtype, "ACC", "x_g", xb + " + (long)j * xs")};
% if kahan:
${kahan_add("s", "cmp", "v", "ACC")}
% else:
                    s = COMB(s, v);
% endif
                    ${c.store(out_dtype, "out_g", ob + " + (long)j * os", "s")}
                }
            }
</%def>
##
## ------------------------------------------------------------------------------------------
<%def name="softmax(name, in_dtype, out_dtype, acc, log, style, local, vec)">
<%
    TIN = capture(c.ctype, in_dtype)
    TOUT = capture(c.ctype, out_dtype)
    dts = (in_dtype, out_dtype)
%>
${c.prelude(dts)}
${helpers()}
typedef ${acc} ACC;
typedef ${acc}${vec} ACCV;
${vexp(acc, vec)}

__kernel void ${name}(
    __global const ${TIN} *restrict x_g, const ulong x_off,
    __global ${TOUT} *restrict out_g, const ulong out_off,
    const ulong8 kshape, const long8 kst, const long8 ost,
    const ulong len, const long xs, const long os,
    const ulong nrows, const ulong tpi, const int mode,
    __global ACC *restrict part_g, const ulong chunk)
{
% if style == "cpu":
    const ulong t0 = get_global_id(0) * tpi;
    const ulong tn = mode == 1 ? (nrows / kshape.s7) * ((kshape.s7 + chunk - 1) / chunk) : nrows;
    const ulong t1 = min(t0 + tpi, tn);
    for (ulong t = t0; t < t1; ++t) {
        long xo = (long)x_off, oo = (long)out_off;
        if (mode == 1) {
            // a panel of `chunk` neighbouring rows (contiguous in x and out), three passes down
            // the softmax dim in memory order; per-row max and sum live in part_g (in cache)
            const ulong np = (kshape.s7 + chunk - 1) / chunk;
            const ulong col0 = (t % np) * chunk;
            const ulong ncol = min(chunk, kshape.s7 - col0);
            ${koffsets("(t / np) * kshape.s7", (("xo", "kst"), ("oo", "ost")))}
            xo += (long)col0;
            oo += (long)col0;
            __global ACC *pm = part_g + t * 2 * chunk;
            __global ACC *ps = pm + chunk;
            for (ulong l = 0; l < ncol; ++l) { pm[l] = -INFINITY; ps[l] = 0; }
            for (ulong j = 0; j < len; ++j) {
                __global const ${TIN} *px = x_g + xo + (long)j * xs;
                ulong l = 0;
                for (; l + ${vec} <= ncol; l += ${vec}) {
                    const ACCV v = ${vload(in_dtype, acc, "px + l", vec)};
                    const ACCV m = ${vload(acc_dtype(acc), acc, "pm + l", vec)};
                    ${vstore(acc_dtype(acc), acc, "CLT_RMAX(m, v)", "pm + l", vec)}
                }
                for (; l < ncol; ++l) {
                    const ACC v = ${sload(in_dtype, acc, "px", "l")};
                    pm[l] = CLT_RMAX(pm[l], v);
                }
            }
            for (ulong j = 0; j < len; ++j) {
                __global const ${TIN} *px = x_g + xo + (long)j * xs;
                ulong l = 0;
                for (; l + ${vec} <= ncol; l += ${vec}) {
                    const ACCV v = ${vload(in_dtype, acc, "px + l", vec)};
                    const ACCV m = ${vload(acc_dtype(acc), acc, "pm + l", vec)};
                    const ACCV sv = ${vload(acc_dtype(acc), acc, "ps + l", vec)};
                    ${vstore(acc_dtype(acc), acc, "sv + VEXP(v - m)", "ps + l", vec)}
                }
                for (; l < ncol; ++l) {
                    const ACC v = ${sload(in_dtype, acc, "px", "l")};
                    ps[l] += exp(v - pm[l]);
                }
            }
            for (ulong l = 0; l < ncol; ++l) {
% if log:
                ps[l] = pm[l] + log(ps[l]);
% else:
                ps[l] = (ACC)1 / ps[l];
% endif
            }
            for (ulong j = 0; j < len; ++j) {
                __global const ${TIN} *px = x_g + xo + (long)j * xs;
                __global ${TOUT} *po = out_g + oo + (long)j * os;
                ulong l = 0;
                for (; l + ${vec} <= ncol; l += ${vec}) {
                    const ACCV v = ${vload(in_dtype, acc, "px + l", vec)};
                    const ACCV sv = ${vload(acc_dtype(acc), acc, "ps + l", vec)};
% if log:
                    ${vstore(out_dtype, acc, "v - sv", "po + l", vec)}
% else:
                    const ACCV m = ${vload(acc_dtype(acc), acc, "pm + l", vec)};
                    ${vstore(out_dtype, acc, "VEXP(v - m) * sv", "po + l", vec)}
% endif
                }
                for (; l < ncol; ++l) {
                    const ACC v = ${sload(in_dtype, acc, "px", "l")};
% if log:
                    ${c.store(out_dtype, "po", "l", "v - ps[l]")}
% else:
                    ${c.store(out_dtype, "po", "l", "exp(v - pm[l]) * ps[l]")}
% endif
                }
            }
            continue;
        }
        ${koffsets("t", (("xo", "kst"), ("oo", "ost")))}
        if (xs == 1 && os == 1) {
            __global const ${TIN} *px = x_g + xo;
            __global ${TOUT} *po = out_g + oo;
            ACCV mv = (ACCV)(-INFINITY);
            ulong e = 0;
            for (; e + ${vec} <= len; e += ${vec}) {
                const ACCV v = ${vload(in_dtype, acc, "px + e", vec)};
                mv = CLT_RMAX(mv, v);
            }
            ACC m = -INFINITY;
            for (ulong k = e; k < len; ++k) {
                const ACC v = ${sload(in_dtype, acc, "px", "k")};
                m = CLT_RMAX(m, v);
            }
            {
${hcomb("CLT_RMAX", "mv", "h1", vec, acc)}
                m = CLT_RMAX(m, h1);
            }
            ACCV sv = (ACCV)(0);
            for (e = 0; e + ${vec} <= len; e += ${vec}) {
                const ACCV v = ${vload(in_dtype, acc, "px + e", vec)};
% if not log and acc == capture(c.ctype, out_dtype):
                // keep exp(x - max) in the output; the last pass only rescales it
                const ACCV ev = VEXP(v - m);
                ${vstore(out_dtype, acc, "ev", "po + e", vec)}
                sv += ev;
% else:
                sv += VEXP(v - m);
% endif
            }
            ACC s = 0;
            for (ulong k = e; k < len; ++k) {
                const ACC v = ${sload(in_dtype, acc, "px", "k")};
                s += exp(v - m);
            }
            {
${hcomb("CLT_ADD", "sv", "h1", vec, acc)}
                s += h1;
            }
% if log:
            const ACC sh = m + log(s);
            for (e = 0; e + ${vec} <= len; e += ${vec}) {
                const ACCV v = ${vload(in_dtype, acc, "px + e", vec)};
                ${vstore(out_dtype, acc, "v - sh", "po + e", vec)}
            }
            for (ulong k = e; k < len; ++k) {
                const ACC v = ${sload(in_dtype, acc, "px", "k")};
                ${c.store(out_dtype, "po", "k", "v - sh")}
            }
% else:
            const ACC inv = (ACC)1 / s;
            for (e = 0; e + ${vec} <= len; e += ${vec}) {
% if acc == capture(c.ctype, out_dtype):
                ${vstore(out_dtype, acc, capture(vload, out_dtype, acc, "po + e", vec) + " * inv", "po + e", vec)}
% else:
                const ACCV v = ${vload(in_dtype, acc, "px + e", vec)};
                ${vstore(out_dtype, acc, "VEXP(v - m) * inv", "po + e", vec)}
% endif
            }
            for (ulong k = e; k < len; ++k) {
                const ACC v = ${sload(in_dtype, acc, "px", "k")};
                ${c.store(out_dtype, "po", "k", "exp(v - m) * inv")}
            }
% endif
            continue;
        }
${softmax_row(in_dtype, out_dtype, acc, log, "xo", "oo")}
    }
% else:
    __local ACC red_l[${local}];
    if (mode == 0) {
        // a work-group per row: trees in local memory for the max and the sum
        const ulong t = get_group_id(0);
        const ulong lid = get_local_id(0);
        long xo = (long)x_off, oo = (long)out_off;
        ${koffsets("t", (("xo", "kst"), ("oo", "ost")))}
        ACC m = -INFINITY;
        for (ulong j = lid; j < len; j += ${local}) {
            const ACC v = ${sload(in_dtype, acc, "x_g", "xo + (long)j * xs")};
            m = CLT_RMAX(m, v);
        }
        red_l[lid] = m;
        barrier(CLK_LOCAL_MEM_FENCE);
% for h in [local >> k for k in range(1, local.bit_length())]:
        if (lid < ${h}) red_l[lid] = CLT_RMAX(red_l[lid], red_l[lid + ${h}]);
        barrier(CLK_LOCAL_MEM_FENCE);
% endfor
        m = red_l[0];
        barrier(CLK_LOCAL_MEM_FENCE);
        ACC s = 0;
        for (ulong j = lid; j < len; j += ${local}) {
            const ACC v = ${sload(in_dtype, acc, "x_g", "xo + (long)j * xs")};
            s += exp(v - m);
        }
        red_l[lid] = s;
        barrier(CLK_LOCAL_MEM_FENCE);
% for h in [local >> k for k in range(1, local.bit_length())]:
        if (lid < ${h}) red_l[lid] += red_l[lid + ${h}];
        barrier(CLK_LOCAL_MEM_FENCE);
% endfor
        s = red_l[0];
% if log:
        const ACC sh = m + log(s);
% else:
        const ACC inv = (ACC)1 / s;
% endif
        for (ulong j = lid; j < len; j += ${local}) {
            const ACC v = ${sload(in_dtype, acc, "x_g", "xo + (long)j * xs")};
% if log:
            ${c.store(out_dtype, "out_g", "oo + (long)j * os", "v - sh")}
% else:
            ${c.store(out_dtype, "out_g", "oo + (long)j * os", "exp(v - m) * inv")}
% endif
        }
        return;
    }
    const ulong t = get_global_id(0);
    if (t >= nrows) return;
    long xo = (long)x_off, oo = (long)out_off;
    ${koffsets("t", (("xo", "kst"), ("oo", "ost")))}
${softmax_row(in_dtype, out_dtype, acc, log, "xo", "oo")}
% endif
}
</%def>
## softmax_row: scalar three-pass (log-)softmax of one row at xb/ob.
<%def name="softmax_row(in_dtype, out_dtype, acc, log, xb, ob)">
            {
                ACC m = -INFINITY;
                for (ulong j = 0; j < len; ++j) {
                    const ACC v = ${sload(in_dtype, acc, "x_g", xb + " + (long)j * xs")};
                    m = CLT_RMAX(m, v);
                }
                ACC s = 0;
                for (ulong j = 0; j < len; ++j) {
                    const ACC v = ${sload(in_dtype, acc, "x_g", xb + " + (long)j * xs")};
                    s += exp(v - m);
                }
% if log:
                const ACC sh = m + log(s);
% else:
                const ACC inv = (ACC)1 / s;
% endif
                for (ulong j = 0; j < len; ++j) {
                    const ACC v = ${sload(in_dtype, acc, "x_g", xb + " + (long)j * xs")};
% if log:
                    ${c.store(out_dtype, "out_g", ob + " + (long)j * os", "v - sh")}
% else:
                    ${c.store(out_dtype, "out_g", ob + " + (long)j * os", "exp(v - m) * inv")}
% endif
                }
            }
</%def>
##
## ------------------------------------------------------------------------------------------
<%def name="sort(name, dtype, style, block, local)">
<%
    T = capture(c.ctype, dtype)
    K = capture(c.ctype_compute, dtype)
%>
${c.prelude((dtype,))}
typedef ${K} K;
// a strictly before b in the requested order; NaN is larger than every number
#define BEFORE(a, b) (desc ? ((a) > (b) || ((a) != (a) && (b) == (b))) \
                           : ((a) < (b) || ((b) != (b) && (a) == (a))))

__kernel void ${name}(
    __global const ${T} *restrict src_g, __global const long *restrict sidx_g,
    const ulong src_off, const long8 src_kst, const long src_ds,
    __global ${T} *restrict dst_g, __global long *restrict didx_g,
    const ulong dst_off, const long8 dst_kst, const long dst_ds,
    const ulong8 kshape, const ulong len, const ulong width, const ulong tile, const ulong tpp,
    const ulong nkeep, const int desc, const int phase, const ulong ntasks, const ulong tpi)
{
% if style == "cpu":
    const ulong t0 = get_global_id(0) * tpi;
    const ulong t1 = min(t0 + tpi, ntasks);
% else:
    const ulong t0 = get_global_id(0);
    const ulong t1 = min(t0 + 1, ntasks);
% endif
    for (ulong t = t0; t < t1; ++t) {
        if (phase == 0) {
            // sort one block of a row in private memory (stable insertion sort)
            const ulong nblk = (len + ${block} - 1) / ${block};
            const ulong row = t / nblk;
            const ulong b0 = (t % nblk) * ${block};
            const ulong cnt = min((ulong)${block}, len - b0);
            long so = (long)src_off, dof = (long)dst_off;
            ${koffsets("row", (("so", "src_kst"), ("dof", "dst_kst")))}
            K key[${block}];
            long pos[${block}];
            for (ulong e = 0; e < cnt; ++e) {
                const K v = ${c.load(dtype, "src_g", "so + (long)(b0 + e) * src_ds")};
                ulong k = e;
                while (k > 0 && BEFORE(v, key[k - 1])) {
                    key[k] = key[k - 1];
                    pos[k] = pos[k - 1];
                    --k;
                }
                key[k] = v;
                pos[k] = (long)(b0 + e);
            }
            for (ulong e = 0; e < cnt && b0 + e < nkeep; ++e) {
                const long d = dof + (long)(b0 + e) * dst_ds;
                ${c.store(dtype, "dst_g", "d", "key[e]")}
                didx_g[d] = pos[e];
            }
            continue;
        }
        // merge runs A = [a0, a0 + la) and B = [a0 + la, a0 + la + lb); this task writes the
        // merged positions [d0, d1) (relative to a0)
        const ulong npairs = (len + 2 * width - 1) / (2 * width);
        const ulong row = t / (npairs * tpp);
        const ulong rem = t % (npairs * tpp);
        const ulong a0 = (rem / tpp) * 2 * width;
        const ulong la = min(width, len - a0);
        const ulong lb = min(width, len - a0 - la);
        const ulong d0 = (rem % tpp) * tile;
        if (d0 >= la + lb || a0 + d0 >= nkeep) continue;
        const ulong d1 = min(min(d0 + tile, la + lb), nkeep - a0);
        long so = (long)src_off, dof = (long)dst_off;
        ${koffsets("row", (("so", "src_kst"), ("dof", "dst_kst")))}
        const long pa = so + (long)a0 * src_ds, pb = so + (long)(a0 + la) * src_ds;
        // merge path: how many of the first d0 outputs come from A (ties take A first)
        ulong lo = d0 > lb ? d0 - lb : 0, hi = min(d0, la);
        while (lo < hi) {
            const ulong mid = (lo + hi) / 2;
            const K va = ${c.load(dtype, "src_g", "pa + (long)mid * src_ds")};
            const K vb = ${c.load(dtype, "src_g", "pb + (long)(d0 - 1 - mid) * src_ds")};
            if (BEFORE(vb, va)) hi = mid; else lo = mid + 1;
        }
        ulong i = lo, j = d0 - lo;
        K va = i < la ? ${c.load(dtype, "src_g", "pa + (long)i * src_ds")} : 0;
        K vb = j < lb ? ${c.load(dtype, "src_g", "pb + (long)j * src_ds")} : 0;
        for (ulong d = d0; d < d1; ++d) {
            const long od = dof + (long)(a0 + d) * dst_ds;
            if (j >= lb || (i < la && !BEFORE(vb, va))) {
                ${c.store(dtype, "dst_g", "od", "va")}
                didx_g[od] = sidx_g[pa + (long)i * src_ds];
                ++i;
                if (i < la) va = ${c.load(dtype, "src_g", "pa + (long)i * src_ds")};
            } else {
                ${c.store(dtype, "dst_g", "od", "vb")}
                didx_g[od] = sidx_g[pb + (long)j * src_ds];
                ++j;
                if (j < lb) vb = ${c.load(dtype, "src_g", "pb + (long)j * src_ds")};
            }
        }
    }
}
</%def>
##
## ------------------------------------------------------------------------------------------
## topk_small(name, dtype, style, kmax): the k <= kmax first elements of each row in sort order
##   (largest first when desc), by one pass that keeps a sorted private list: an element enters
##   only when strictly before the current k-th, after its equals, so ties keep input order (the
##   same result as the stable sort). Task = one row; cpu: tpi rows per work-item; gpu: one.
<%def name="topk_small(name, dtype, style, kmax)">
<%
    T = capture(c.ctype, dtype)
    K = capture(c.ctype_compute, dtype)
%>
${c.prelude((dtype,))}
typedef ${K} K;
#define BEFORE(a, b) (desc ? ((a) > (b) || ((a) != (a) && (b) == (b))) \
                           : ((a) < (b) || ((b) != (b) && (a) == (a))))

__kernel void ${name}(
    __global const ${T} *restrict src_g, const ulong src_off, const long8 src_kst,
    const long src_ds,
    __global ${T} *restrict dst_g, __global long *restrict didx_g, const ulong dst_off,
    const long8 dst_kst, const long dst_ds,
    const ulong8 kshape, const ulong len, const ulong k, const int desc, const ulong nrows,
    const ulong tpi)
{
% if style == "cpu":
    const ulong t0 = get_global_id(0) * tpi;
    const ulong t1 = min(t0 + tpi, nrows);
% else:
    const ulong t0 = get_global_id(0);
    const ulong t1 = min(t0 + 1, nrows);
% endif
    for (ulong t = t0; t < t1; ++t) {
        long so = (long)src_off, dof = (long)dst_off;
        ${koffsets("t", (("so", "src_kst"), ("dof", "dst_kst")))}
        K key[${kmax}];
        long pos[${kmax}];
        ulong cnt = 0;
        for (ulong e = 0; e < len; ++e) {
            const K v = ${c.load(dtype, "src_g", "so + (long)e * src_ds")};
            ulong c;
            if (cnt < k) {
                c = cnt++;
            } else if (BEFORE(v, key[k - 1])) {
                c = k - 1;
            } else {
                continue;
            }
            while (c > 0 && BEFORE(v, key[c - 1])) {
                key[c] = key[c - 1];
                pos[c] = pos[c - 1];
                --c;
            }
            key[c] = v;
            pos[c] = (long)e;
        }
        for (ulong e = 0; e < k; ++e) {
            const long d = dof + (long)e * dst_ds;
            ${c.store(dtype, "dst_g", "d", "key[e]")}
            didx_g[d] = pos[e];
        }
    }
}
</%def>
