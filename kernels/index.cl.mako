## index.cl.mako -- indexed copies (gather/scatter), deterministic segmented reductions, stream
## compaction. Paired with clt/ops/index.py.
##
## Iteration space (every kernel but the sort passes): an n-element rank-8 index space ``shape``
## (ulong8, dim 7 innermost, unused leading dims of size 1). Each operand X comes as ``X_off``
## (ulong, elements) and ``X_st`` (long8 strides over ``shape``, 0 where broadcast, negative
## allowed); inside the loop body ``e_X`` is X's element offset at the current point. Operands
## without a buffer ("virtual" ones: kb, vb) just accumulate an offset, e.g. a key.
##   style "chunked": work-item g walks the flat range [g*chunk, min((g+1)*chunk, n)) row segment
##     by row segment (one division chain per row, not per element). Global = ceil(n / chunk)
##     (rounded up to the local size, the guard skips the rest); local (1,) on CPUs, (256,) on GPUs.
##     Compaction kernels always use it: each range keeps flat order, so an exclusive scan of
##     per-range counts gives every range its output position.
##   style "strided": a grid-stride loop, one element per step (coalesced on GPUs); local (256,).
##
## Index checking: an index v read from i<m>_g is wrapped (v += size when v < 0 and wrap != 0) and
## must land in [0, isize.s<m>); otherwise the kernel claims err_g with ``code`` (first error
## wins, atomic_cmpxchg on a 32-bit int: core OpenCL 1.1, no float atomics anywhere), records m,
## the raw value and the size, and skips the access (gathers write 0), so nothing outside the
## buffers is ever read or written. Layout of err_g: int code, int m, long value, long size.
##
## take(name, elem, idx_types, side, scalar, style) -> C kernel clt_index_take_*
##   elem       C type of the copied bits (uchar/ushort/uint/ulong by item size: a pure copy)
##   idx_types  tuple of C index types ("int"/"long"), one per index operand i0, i1, ... (<= 8)
##   side       "src": dst[e_dst] = src[e_src + sum v_m * imul.s<m>]          (gather)
##              "dst": dst[e_dst + sum v_m * imul.s<m>] = src[e_src] or value  (scatter)
##   scalar     True: the scattered value is the scalar argument ``value`` (same bits as elem)
## keys(name, idx_types, style) -> clt_index_keys_*
##   key_g[e_key] = e_kb + sum v_m * imul.s<m> (the target's position, -1 when an index is bad),
##   val_g[e_val] = e_vb (the source element's offset); kb/vb are virtual operands.
## sort_blocks(name, block): work-item g insertion-sorts entries [g*block, (g+1)*block) of
##   (key_g, val_g) by key, stably. Global = ceil(n / block) rounded up to local; local as above.
## merge_pass(name, style): one stable merge pass of sorted runs of ``width``: (kin, vin) ->
##   (kout, vout); equal keys keep their order. Chunked: work-item g writes outputs
##   [g*chunk, ...) by a merge-path search then a sequential merge. Strided: each entry finds its
##   place by a binary search in the sibling run (lower_bound from the left run, upper_bound from
##   the right). Geometry as take's with a rank-1 space of n entries.
## segment_reduce(name, dtype, op, style): the m sorted (key, val) entries form segments of equal
##   key t (bad indices, key -1, are skipped); at each segment head and inner q < width:
##   out[out_off + t*width + q] = op(out[...] if include_self, src[val[s] + q*src_qst] for the
##   segment's entries s in order). Sequential order per target: deterministic. Rows no entry
##   targets are not touched. op: sum (times alpha), prod, mean, amax, amin.
##   Chunked style: work-item g owns sorted positions [g*chunk, ...) (and the whole segments
##   starting there); strided: one (position, q) pair per step.
## count(name, dtype): count_g[g] = number of nonzero p elements in range g (chunked style).
## compact(name, mode, pdtype, elem): mode "select": out[pos++] = x[e_x] where p != 0;
##   mode "nonzero": the ndim trailing coordinates of each nonzero p, as rows of out (long).
##   pos starts at offs_g[g] (host-side exclusive scan of count's output). Chunked style.
<%namespace name="c" file="common.cl.mako"/>
<%namespace name="ew" file="elementwise.cl.mako"/>
<%def name="report()">
// Claim the device's index-error slot (first bad index wins) and record what went wrong; the host
// reads it at the next download (clt.ops.index.check_index_errors).
inline void clt_index_report(__global int *err_g, const int code, const int m, const long v,
                             const long size) {
    if (atomic_cmpxchg(err_g, 0, code) == 0) {
        err_g[1] = m;
        __global long *e = (__global long *)(err_g + 2);
        e[0] = v;
        e[1] = size;
    }
}
</%def>
## row_offsets(ops, coords): element offsets o_X of every operand at outer index `row` (dims 6..0);
## with coords, also the coordinates c0..c6.
<%def name="row_offsets(ops, coords)">
% for op in ops:
        long o_${op} = (long)${op}_off;
% endfor
% if coords:
        ulong c0 = 0, c1 = 0, c2 = 0, c3 = 0, c4 = 0, c5 = 0, c6 = 0;
% endif
        {
            ulong r = row;
% for d in (6, 5, 4, 3, 2, 1, 0):
            if (r) {
                const ulong q = r / shape.s${d};
                const ulong i = r - q * shape.s${d};
                r = q;
% if coords:
                c${d} = i;
% endif
% for op in ops:
                o_${op} += (long)i * ${op}_st.s${d};
% endfor
            }
% endfor
        }
</%def>
## foreach(ops, style, coords, hoist): the loop over the iteration space; the caller's body sees
## e_X, j (the dim-7 coordinate) and, with coords, c0..c6. With ``hoist`` (chunked style only):
## when those operands do not move along dim 7, the caller's ``row()`` runs once per row segment
## instead, seeing e_X of the hoisted operands, o_X of the others, and jbeg/jend.
<%def name="foreach(ops, style, coords=False, hoist=())">
% if style == "chunked":
    ulong f = get_global_id(0) * chunk;
    const ulong fend = min(f + chunk, n);
    while (f < fend) {
        const ulong row = f / shape.s7;
        const ulong jbeg = f - row * shape.s7;
        const ulong jend = min(shape.s7, jbeg + (fend - f));
        ${row_offsets(ops, coords)}
% if hoist:
        if (${" && ".join(f"{op}_st.s7 == 0" for op in hoist)}) {
% for op in hoist:
            const long e_${op} = o_${op};
% endfor
            ${caller.row()}
        } else
% endif
        for (ulong j = jbeg; j < jend; ++j) {
% for op in ops:
            const long e_${op} = o_${op} + (long)j * ${op}_st.s7;
% endfor
            ${caller.body()}
        }
        f += jend - jbeg;
    }
% else:
    for (ulong f = get_global_id(0); f < n; f += get_global_size(0)) {
        const ulong row = f / shape.s7;
        const ulong j = f - row * shape.s7;
        ${row_offsets(ops, coords)}
% for op in ops:
        const long e_${op} = o_${op} + (long)j * ${op}_st.s7;
% endfor
        ${caller.body()}
    }
% endif
</%def>
## read_indices(idx_types): `extra` = sum of checked indices times imul; `ok` = all in range.
<%def name="read_indices(idx_types)">
            long extra = 0;
            int ok = 1;
% for m in range(len(idx_types)):
            {
                const long raw = (long)i${m}_g[e_i${m}];
                const long v = (raw < 0 && wrap) ? raw + isize.s${m} : raw;
                if (v < 0 || v >= isize.s${m}) {
                    clt_index_report(err_g, code, ${m}, raw, isize.s${m});
                    ok = 0;
                }
                extra += v * imul.s${m};
            }
% endfor
</%def>
## index_args(idx_types, scalar_elem): the index operands, then the scalar ``value`` (if any),
## then the checking arguments -- operands first, as clt.ops.index._run passes them.
<%def name="index_args(idx_types, scalar_elem=None)">
% for m, it in enumerate(idx_types):
    __global const ${it} *restrict i${m}_g, const ulong i${m}_off, const long8 i${m}_st,
% endfor
% if scalar_elem:
    const ${scalar_elem} value,
% endif
    const long8 isize, const long8 imul, const int wrap, const int code,
    __global int *restrict err_g,
</%def>
<%def name="take(name, elem, idx_types, side, scalar, style)">
<%
    ops = ["dst"] + ([] if scalar else ["src"]) + [f"i{m}" for m in range(len(idx_types))]
%>
${report()}
__kernel void ${name}(
    __global ${elem} *restrict dst_g, const ulong dst_off, const long8 dst_st,
% if not scalar:
    __global const ${elem} *restrict src_g, const ulong src_off, const long8 src_st,
% endif
    ${index_args(idx_types, elem if scalar else None)}
    const ulong8 shape, const ulong n, const ulong chunk)
{
<%
    idx_ops = tuple(f"i{m}" for m in range(len(idx_types)))
    val = "value" if scalar else "src_g[e_src]"
%>
<%self:foreach ops="${ops}" style="${style}" hoist="${idx_ops}">
<%def name="row()">
            // the indices are fixed along dim 7 (embedding rows, index_select of inner dims):
            // check them once and copy the whole row segment
            ${read_indices(idx_types)}
% if side == "src":
            if (!ok) {
                for (ulong j = jbeg; j < jend; ++j) dst_g[o_dst + (long)j * dst_st.s7] = 0;
            } else if (dst_st.s7 == 1 && src_st.s7 == 1) {
                __global ${elem} *restrict d = dst_g + o_dst;
                __global const ${elem} *restrict sp = src_g + o_src + extra;
                for (ulong j = jbeg; j < jend; ++j) d[j] = sp[j];
            } else {
                for (ulong j = jbeg; j < jend; ++j)
                    dst_g[o_dst + (long)j * dst_st.s7] = src_g[o_src + extra + (long)j * src_st.s7];
            }
% else:
            if (ok) {
                for (ulong j = jbeg; j < jend; ++j) {
% if not scalar:
                    const long e_src = o_src + (long)j * src_st.s7;
% endif
                    dst_g[o_dst + extra + (long)j * dst_st.s7] = ${val};
                }
            }
% endif
</%def>
            ${read_indices(idx_types)}
% if side == "src":
            dst_g[e_dst] = ok ? src_g[e_src + extra] : (${elem})0;
% else:
            if (ok) dst_g[e_dst + extra] = ${val};
% endif
</%self:foreach>
}
</%def>
<%def name="keys(name, idx_types, style)">
<% ops = ["key", "val", "kb", "vb"] + [f"i{m}" for m in range(len(idx_types))] %>
${report()}
__kernel void ${name}(
    __global long *restrict key_g, const ulong key_off, const long8 key_st,
    __global long *restrict val_g, const ulong val_off, const long8 val_st,
    const ulong kb_off, const long8 kb_st, const ulong vb_off, const long8 vb_st,
    ${index_args(idx_types)}
    const ulong8 shape, const ulong n, const ulong chunk)
{
<%self:foreach ops="${ops}" style="${style}">
            ${read_indices(idx_types)}
            // a bad index gets key -1: it sorts first and no target row ever looks for it
            key_g[e_key] = ok ? e_kb + extra : -1;
            val_g[e_val] = e_vb;
</%self:foreach>
}
</%def>
<%def name="sort_blocks(name, block)">
__kernel void ${name}(__global long *restrict key_g, __global long *restrict val_g,
                      const ulong n)
{
    const ulong b0 = get_global_id(0) * ${block};
    if (b0 >= n) return;
    const ulong b1 = min(b0 + ${block}, n);
    for (ulong i = b0 + 1; i < b1; ++i) {
        const long k = key_g[i];
        const long v = val_g[i];
        ulong p = i;
        while (p > b0 && key_g[p - 1] > k) {   // strict: equal keys keep their order
            key_g[p] = key_g[p - 1];
            val_g[p] = val_g[p - 1];
            --p;
        }
        key_g[p] = k;
        val_g[p] = v;
    }
}
</%def>
<%def name="merge_pass(name, style)">
__kernel void ${name}(__global const long *restrict kin_g, __global const long *restrict vin_g,
                      __global long *restrict kout_g, __global long *restrict vout_g,
                      const ulong n, const ulong width, const ulong chunk)
{
% if style == "chunked":
    // merge path: find where this work-item's output range starts in each pair of runs with one
    // diagonal binary search, then merge sequentially (a two-pointer merge is ~10x faster on a
    // CPU than a binary search per entry)
    ulong p = get_global_id(0) * chunk;
    const ulong p1 = min(p + chunk, n);
    while (p < p1) {
        const ulong base = p - p % (2 * width);
        const ulong mid = min(base + width, n);
        const ulong end = min(base + 2 * width, n);
        const ulong na = mid - base, nb = end - mid, k = p - base;
        // the number i of left-run entries among the pair's first k outputs: the first i with
        // A[i] > B[k-1-i] (ties go to the left run, which keeps the merge stable)
        ulong lo = k > nb ? k - nb : 0, hi = k < na ? k : na;
        while (lo < hi) {
            const ulong mi = (lo + hi) / 2;
            if (kin_g[base + mi] <= kin_g[mid + k - 1 - mi]) lo = mi + 1; else hi = mi;
        }
        ulong i = base + lo, j = mid + (k - lo);
        const ulong stop = min(p1, end);
        for (; p < stop; ++p) {
            if (j >= end || (i < mid && kin_g[i] <= kin_g[j])) {
                kout_g[p] = kin_g[i];
                vout_g[p] = vin_g[i++];
            } else {
                kout_g[p] = kin_g[j];
                vout_g[p] = vin_g[j++];
            }
        }
    }
% else:
    for (ulong p = get_global_id(0); p < n; p += get_global_size(0)) {
        const ulong base = p - p % (2 * width);
        const ulong mid = min(base + width, n);
        const ulong end = min(base + 2 * width, n);
        const long k = kin_g[p];
        ulong lo, hi, dest;
        if (p < mid) {   // left run: after the right run's keys < k
            lo = mid;
            hi = end;
            while (lo < hi) {
                const ulong m = (lo + hi) / 2;
                if (kin_g[m] < k) lo = m + 1; else hi = m;
            }
            dest = p + (lo - mid);
        } else {         // right run: after the left run's keys <= k
            lo = base;
            hi = mid;
            while (lo < hi) {
                const ulong m = (lo + hi) / 2;
                if (kin_g[m] <= k) lo = m + 1; else hi = m;
            }
            dest = (p - mid) + lo;
        }
        kout_g[dest] = k;
        vout_g[dest] = vin_g[p];
    }
% endif
}
</%def>
## combine(op, acc, x): acc updated with x, for the reductions of segment_reduce.
<%def name="combine(op, acc, x)">\
% if op in ("sum", "mean"):
${acc} += ${x};\
% elif op == "prod":
${acc} *= ${x};\
% elif op == "amax":
${acc} = CLT_MAX(${acc}, ${x});\
% else:
${acc} = CLT_MIN(${acc}, ${x});\
% endif
</%def>
## reduce_segment(dtype, op): at a segment head s (the first sorted entry of target row t), reduce
## the segment's entries for inner elements q0..q1-1 into out.
<%def name="reduce_segment(dtype, op)">
<%
    A = capture(c.ctype_compute, dtype)
    is_float = dtype.startswith("float")
    first = {"sum": "0", "mean": "0", "prod": "1"}.get(op)
%>
        const long t = key_g[s];
        if (t >= 0 && (s == 0 || key_g[s - 1] != t)) {
            ulong s1 = s + 1;
            while (s1 < m && key_g[s1] == t) ++s1;
            for (ulong qq = q0; qq < q1; ++qq) {
                const ulong o = out_off + (ulong)t * width + qq;
                // start from self, as a sequential loop does: (self + x0) + x1 + ...
                ${A} acc;
                ulong e = s;
                if (include_self) {
                    acc = (${A})(${c.load(dtype, "out_g", "o")});
                } else {
% if first is not None:
                    acc = (${A})${first};
% else:
                    acc = (${A})(${c.load(dtype, "src_g", "val_g[s] + (long)qq * src_qst")});
                    e = s + 1;
% endif
                }
                for (; e < s1; ++e) {
                    const ${A} x = (${A})(${c.load(dtype, "src_g", "val_g[e] + (long)qq * src_qst")})\
${" * alpha" if op == "sum" else ""};
                    ${combine(op, "acc", "x")}
                }
% if op == "mean":
                {
                    const ${A} cnt = (${A})(s1 - s + (include_self ? 1 : 0));
% if is_float:
                    acc = acc / cnt;
% else:
                    acc = CLT_IFLOORDIV(acc, cnt);
% endif
                }
% endif
                ${c.store(dtype, "out_g", "o", "acc")}
            }
        }
</%def>
<%def name="segment_reduce(name, dtype, op, style)">
${c.prelude((dtype,))}
${ew.helpers()}
__kernel void ${name}(
    __global ${c.ctype(dtype)} *restrict out_g, const ulong out_off,
    __global const ${c.ctype(dtype)} *restrict src_g, const long src_qst,
    __global const long *restrict key_g, __global const long *restrict val_g, const ulong m,
    const ulong width, const int include_self, const ${c.ctype_compute(dtype)} alpha,
    const ulong chunk)
{
% if style == "chunked":
    const ulong s0 = get_global_id(0) * chunk;
    const ulong s1 = min(s0 + chunk, m);
    const ulong q0 = 0, q1 = width;
    for (ulong s = s0; s < s1; ++s) {
        ${reduce_segment(dtype, op)}
    }
% else:
    for (ulong f = get_global_id(0); f < m * width; f += get_global_size(0)) {
        const ulong s = f / width;
        const ulong q0 = f - s * width, q1 = q0 + 1;
        ${reduce_segment(dtype, op)}
    }
% endif
}
</%def>
<%def name="count(name, dtype)">
__kernel void ${name}(
    __global const ${c.ctype(dtype)} *restrict p_g, const ulong p_off, const long8 p_st,
    __global long *restrict count_g,
    const ulong8 shape, const ulong n, const ulong chunk)
{
    long cnt = 0;
<%self:foreach ops="${['p']}" style="chunked">
            cnt += (${c.load(dtype, "p_g", "e_p")} != 0);
</%self:foreach>
    count_g[get_global_id(0)] = cnt;
}
</%def>
<%def name="compact(name, mode, pdtype, elem)">
<% ops = ["p", "x"] if mode == "select" else ["p"] %>
__kernel void ${name}(
    __global const ${c.ctype(pdtype)} *restrict p_g, const ulong p_off, const long8 p_st,
% if mode == "select":
    __global const ${elem} *restrict x_g, const ulong x_off, const long8 x_st,
    __global ${elem} *restrict out_g,
% else:
    __global long *restrict out_g, const int ndim,
% endif
    __global const long *restrict offs_g,
    const ulong8 shape, const ulong n, const ulong chunk)
{
    long pos = offs_g[get_global_id(0)];
<%self:foreach ops="${ops}" style="chunked" coords="${mode == 'nonzero'}">
            if (${c.load(pdtype, "p_g", "e_p")} != 0) {
% if mode == "select":
                out_g[pos] = x_g[e_x];
% else:
                // the ndim real dims are the last ones of the rank-8 space
% for d in range(7):
                if (${d} >= 8 - ndim) out_g[pos * ndim + ${d} - (8 - ndim)] = (long)c${d};
% endfor
                out_g[pos * ndim + ndim - 1] = (long)j;
% endif
                ++pos;
            }
</%self:foreach>
}
</%def>
