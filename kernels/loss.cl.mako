## loss.cl.mako -- fused classification losses: (log-)softmax + NLL + label smoothing + class
## weights in one pass over each row of classes, and the matching fused gradient.
##
## The input x is viewed as rows of C classes: row r = (n, s) with n = r / inner, s = r % inner
## (inner = product of the dims after the class dim; 1 for (N, C) input). Element (r, c) is at
## x_off + n*sN + c*sC + s*sS, so (N, C), (N, C, d1, ...) and (C,) input are all read in place.
##
## ce_forward(name, x_dtype, t_dtype, acc, probs)
##   name     C kernel name, clt_loss_ce_fw_<x tag><t tag>
##   x_dtype  clt dtype of the scores (float16/32/64); acc: C type computed in (float/double)
##   t_dtype  target dtype: int32/int64 class indices, or (probs=True) the x dtype: class
##            probabilities laid out like x (strides tN, tC, tS)
##   Runtime flags: logits (1: x are logits, log_softmax is taken; 0: x are log-probabilities,
##   as nll_loss), has_w (class weights w_g), eps (label smoothing), ignore_index.
##   Writes out_g[r] = the row's loss and out_g[rows + r] = its weight in the 'mean' denominator
##   (w[t], 0 for ignored rows; 1 per row for probabilities), and lse_g[r] = logsumexp (0 when
##   logits == 0). A class index outside [0, C) that is not ignore_index claims the device's
##   index-error slot (see clt.ops.index) and gives a NaN loss; nothing is read out of bounds.
## ce_backward(name, x_dtype, t_dtype, acc, probs)
##   grad_g (dense, x's shape, strides gN, gC, gS) = coef_r * (p_c * S_r - B_rc), where p is the
##   softmax (0 when logits == 0), S_r = sum_c B_rc, B_rc = (1-eps) w_t [c == t] + eps/C w_c
##   (indices) or w_c q_c with q = (1-eps) p_target + eps/C (probabilities), and
##   coef_r = g[r * g_st] / den[0] (den only when has_den). With want_s, S_r goes to s_g[r] (for
##   the double-backward path, called with coef 1).
## Launch (both): 1-D; work-item i takes rows [i*chunk, (i+1)*chunk). CPU: a few items of
##   contiguous rows, local size 1. GPU: chunk 1, local size 64. Guard: rows past `rows` skip.
## Rows whose classes are contiguous (sC == 1) are read (and the gradient written) with W-wide
## vectors, W = VW(acc): 8 floats or 4 doubles; PoCL vectorises no scalar reduction loop, and
## exp() of a vector is one call instead of W.
<%namespace name="c" file="common.cl.mako"/>
<%def name="report()">
inline void clt_loss_report(__global int *err_g, const int code, const long v, const long size) {
    // first bad target wins; the host raises it at its next download (check_index_errors)
    if (atomic_cmpxchg(err_g, 0, code) == 0) {
        err_g[1] = 0;
        __global long *e = (__global long *)(err_g + 2);
        e[0] = v;
        e[1] = size;
    }
}
</%def>
## vector helpers for rows with unit class stride (sC == 1): W lanes of the compute type
<%!
    def VW(acc):
        """Lanes per vector: 8 floats or 4 doubles (one AVX2 register pair / register)."""
        return 4 if acc == "double" else 8
%>
<%def name="vload(x_dtype, acc, ptr, idx)">\
% if x_dtype == "float16":
vload_half8(0, ${ptr} + (${idx}))\
% else:
vload${VW(acc)}(0, ${ptr} + (${idx}))\
% endif
</%def>
<%def name="vstore(x_dtype, acc, ptr, idx, val)">\
% if x_dtype == "float16":
vstore_half8_rte(${val}, 0, ${ptr} + (${idx}));\
% else:
vstore${VW(acc)}(${val}, 0, ${ptr} + (${idx}));\
% endif
</%def>
<%def name="row_lse(x_dtype, acc)">
<% V = acc + str(VW(acc)) %>
        // numerically stable logsumexp of the row: max first, then sum of exp(x - max);
        // W-wide vectors when classes are contiguous (PoCL vectorises no scalar loops)
        ${acc} m = -INFINITY;
        long k0 = 0;
        if (sC == 1 && C >= ${VW(acc)}) {
            ${V} m8 = (${V})(-INFINITY);
            for (; k0 + ${VW(acc)} <= C; k0 += ${VW(acc)}) {
                const ${V} v = ${vload(x_dtype, acc, "x_g", "xb + k0")};
                m8 = (v > m8 || v != v) ? v : m8;
            }
% for i in range(VW(acc)):
            m = (m8.s${"%x" % i} > m || m8.s${"%x" % i} != m8.s${"%x" % i}) ? m8.s${"%x" % i} : m;
% endfor
        }
        for (long k = k0; k < C; ++k) {
            const ${acc} v = ${c.load(x_dtype, "x_g", "xb + k * sC")};
            m = (v > m || v != v) ? v : m;
        }
        ${acc} se = 0;
        k0 = 0;
        if (sC == 1 && C >= ${VW(acc)}) {
            ${V} s8 = 0;
            for (; k0 + ${VW(acc)} <= C; k0 += ${VW(acc)}) {
                s8 += exp(${vload(x_dtype, acc, "x_g", "xb + k0")} - m);
            }
% for i in range(VW(acc)):
            se += s8.s${"%x" % i};
% endfor
        }
        for (long k = k0; k < C; ++k) {
            se += exp(${c.load(x_dtype, "x_g", "xb + k * sC")} - m);
        }
        const ${acc} lse_ = (m == -INFINITY) ? m : m + log(se);
</%def>
<%def name="ce_forward(name, x_dtype, t_dtype, acc, probs)">
${c.prelude((x_dtype, t_dtype, "float64" if acc == "double" else "float32"))}
${report()}
__kernel void ${name}(
    __global const ${c.ctype(x_dtype)} *restrict x_g, const ulong x_off, const long sN,
    const long sC, const long sS,
    __global const ${c.ctype(t_dtype)} *restrict t_g, const ulong t_off, const long tN,
    const long tC, const long tS,
    __global const ${c.ctype(x_dtype)} *restrict w_g, const ulong w_off, const long w_st,
    const int has_w,
    __global ${acc} *restrict out_g, __global ${acc} *restrict lse_g,
    __global int *restrict err_g, const int err_code,
    const ulong rows, const ulong inner, const long C, const long ignore_index,
    const ${acc} eps, const int logits, const ulong chunk)
{
    const ulong r0 = get_global_id(0) * chunk;
    const ulong r1 = min(r0 + chunk, rows);
    for (ulong r = r0; r < r1; ++r) {
        const ulong n = r / inner, s = r - n * inner;
        const ulong xb = x_off + n * sN + s * sS;
% if probs:
        const ulong tb = t_off + n * tN + s * tS;
% endif
        ${acc} lse = 0;
        if (logits) {
            ${row_lse(x_dtype, acc)}
            lse = lse_;
        }
        ${acc} loss = 0, wt = 0;
% if probs:
        // -sum_c w_c q_c log p_c with q = (1 - eps) target + eps / C
        for (long k = 0; k < C; ++k) {
            const ${acc} q = (1 - eps) * ${c.load(t_dtype, "t_g", "tb + k * tC")} + eps / C;
            const ${acc} wc = has_w ? (${acc})${c.load(x_dtype, "w_g", "w_off + k * w_st")} : 1;
            loss -= wc * q * (${c.load(x_dtype, "x_g", "xb + k * sC")} - lse);
        }
        wt = 1;
% else:
        const long t = (long)t_g[t_off + n * tN + s * tS];
        if (t != ignore_index) {
            if (t < 0 || t >= C) {
                clt_loss_report(err_g, err_code, t, C);
                loss = NAN;
            } else {
                wt = has_w ? (${acc})${c.load(x_dtype, "w_g", "w_off + t * w_st")} : 1;
                loss = (1 - eps) * wt * (lse - ${c.load(x_dtype, "x_g", "xb + t * sC")});
                if (eps != 0) {
                    ${acc} smooth = 0;
                    for (long k = 0; k < C; ++k) {
                        const ${acc} wc = has_w ?
                            (${acc})${c.load(x_dtype, "w_g", "w_off + k * w_st")} : 1;
                        smooth += wc * (lse - ${c.load(x_dtype, "x_g", "xb + k * sC")});
                    }
                    loss += eps / C * smooth;
                }
            }
        }
% endif
        out_g[r] = loss;
        out_g[rows + r] = wt;
        lse_g[r] = lse;
    }
}
</%def>
<%def name="ce_backward(name, x_dtype, t_dtype, acc, probs)">
${c.prelude((x_dtype, t_dtype, "float64" if acc == "double" else "float32"))}
__kernel void ${name}(
    __global ${c.ctype(x_dtype)} *restrict grad_g, const long gN, const long gC, const long gS,
    __global const ${c.ctype(x_dtype)} *restrict x_g, const ulong x_off, const long sN,
    const long sC, const long sS,
    __global const ${c.ctype(t_dtype)} *restrict t_g, const ulong t_off, const long tN,
    const long tC, const long tS,
    __global const ${c.ctype(x_dtype)} *restrict w_g, const ulong w_off, const long w_st,
    const int has_w,
    __global const ${acc} *restrict lse_g,
    __global const ${c.ctype(x_dtype)} *restrict go_g, const ulong go_off, const long go_st,
    __global const ${acc} *restrict den_g, const ulong den_off, const int has_den,
    __global ${acc} *restrict s_g, const int want_s,
    const ulong rows, const ulong inner, const long C, const long ignore_index,
    const ${acc} eps, const int logits, const ulong chunk)
{
    const ulong r0 = get_global_id(0) * chunk;
    const ulong r1 = min(r0 + chunk, rows);
    for (ulong r = r0; r < r1; ++r) {
        const ulong n = r / inner, s = r - n * inner;
        const ulong xb = x_off + n * sN + s * sS;
        const ulong gb = n * gN + s * gS;
        const ${acc} lse = lse_g[r];
        ${acc} coef = ${c.load(x_dtype, "go_g", "go_off + r * go_st")};
        if (has_den) coef /= den_g[den_off];
% if probs:
        const ulong tb = t_off + n * tN + s * tS;
        ${acc} S = 0;
        for (long k = 0; k < C; ++k) {
            const ${acc} q = (1 - eps) * ${c.load(t_dtype, "t_g", "tb + k * tC")} + eps / C;
            S += (has_w ? (${acc})${c.load(x_dtype, "w_g", "w_off + k * w_st")} : 1) * q;
        }
        for (long k = 0; k < C; ++k) {
            const ${acc} q = (1 - eps) * ${c.load(t_dtype, "t_g", "tb + k * tC")} + eps / C;
            const ${acc} wc = has_w ? (${acc})${c.load(x_dtype, "w_g", "w_off + k * w_st")} : 1;
            const ${acc} p = logits ? exp(${c.load(x_dtype, "x_g", "xb + k * sC")} - lse) : 0;
            ${c.store(x_dtype, "grad_g", "gb + k * gC", "coef * (p * S - wc * q)")}
        }
% else:
        const long t = (long)t_g[t_off + n * tN + s * tS];
        const int valid = (t != ignore_index) && t >= 0 && t < C;
        ${acc} wt = 0, sw = 0;
        if (valid) {
            wt = has_w ? (${acc})${c.load(x_dtype, "w_g", "w_off + t * w_st")} : 1;
            if (eps != 0) {
                if (has_w) {
                    for (long k = 0; k < C; ++k) {
                        sw += ${c.load(x_dtype, "w_g", "w_off + k * w_st")};
                    }
                } else {
                    sw = C;
                }
            }
        }
        const ${acc} S = valid ? (1 - eps) * wt + eps / C * sw : 0;
        long k0 = 0;
        if (valid && logits && sC == 1 && gC == 1 && !(eps != 0 && has_w)
                && C >= ${VW(acc)}) {
            // contiguous classes: coef * (p * S - eps / C) in vectors, then the target's term
<% V = acc + str(VW(acc)) %>
            const ${acc} cs = coef * S, ce = coef * eps / C;
            for (; k0 + ${VW(acc)} <= C; k0 += ${VW(acc)}) {
                const ${V} p = exp(${vload(x_dtype, acc, "x_g", "xb + k0")} - lse);
                ${vstore(x_dtype, acc, "grad_g", "gb + k0", "p * cs - ce")}
            }
            for (long k = k0; k < C; ++k) {
                const ${acc} p = exp(${c.load(x_dtype, "x_g", "xb + k")} - lse);
                ${c.store(x_dtype, "grad_g", "gb + k", "p * cs - ce")}
            }
            const ${acc} gt = ${c.load(x_dtype, "grad_g", "gb + t")};
            ${c.store(x_dtype, "grad_g", "gb + t", "gt - coef * (1 - eps) * wt")}
            k0 = C;
        }
        for (long k = k0; k < C; ++k) {
            ${acc} v = 0;
            if (valid) {
                const ${acc} p = logits ? exp(${c.load(x_dtype, "x_g", "xb + k * sC")} - lse) : 0;
                const ${acc} wc = (eps != 0 && has_w) ?
                    (${acc})${c.load(x_dtype, "w_g", "w_off + k * w_st")} : 1;
                v = coef * (p * S - (k == t ? (1 - eps) * wt : 0) - eps / C * wc);
            }
            ${c.store(x_dtype, "grad_g", "gb + k * gC", "v")}
        }
% endif
        if (want_s) s_g[r] = S;
    }
}
</%def>
