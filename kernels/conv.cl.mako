## conv.cl.mako -- convolution (im2col / col2im / direct), pooling, normalisation, upsampling and
## recurrent-cell kernels. No kernel uses atomics: every backward pass is a gather (each output
## element sums its own contributions in a fixed order), so results are deterministic and the
## kernels run on drivers without float atomics.
##
## Common render params: name (C kernel name clt_conv_<op>_<tag>), dtype (clt dtype name of the
## tensors: "float16" | "float32" | "float64"; float16 is stored as half and computed as float),
## style ("cpu" | "gpu", from device.caps.style).
## Common conventions: images are contiguous (planes, H, W) unless strides are passed; sizes and
## geometry are int kernel arguments, offsets long. CT is the compute type, LD/STO load and store
## in it.
##
## Launch geometry:
##   style "cpu": few work-items (hundreds to a few thousand), local size (1,): each work-item walks
##     a contiguous block (a row of the column matrix, an image plane, a channel, a normalised
##     row) with incrementally updated coordinates, so there is no per-element division and the
##     inner loops are unit-stride (PoCL vectorises them).
##   style "gpu": flat kernels with one element per work-item in a grid-stride loop (global size
##     from the caller, local size LOCAL = 256), or one work-group of LOCAL per reduced row with a
##     tree in local memory.
##
## im2col(name, dtype, style)
##   col[r, n, p] (at col_off + r*col_sr + n*col_sn + p) = x[n, c, ih, iw], r = (c, kh, kw) over
##   C*KH*KW rows, p = (oh, ow), ih = oh*sh - ph + kh*dh (zero outside the image). x is read with
##   strides x_st (n, c, h, w), so any layout works.
##   cpu: global = R * nsplit, work-item (r, part) fills row r for images [part*per, ...).
##   gpu: grid-stride over R * nb * OH * OW elements.
## col2im(name, dtype, out_dtype, style)
##   The adjoint of im2col, as a gather: gx[n, c, h, w] = sum of col entries that im2col read from
##   (h, w). gx is contiguous (nb, C, H, W) of out_dtype (the compute type, so row sums stay exact
##   for half). cpu: one work-item per (n, c) plane, accumulating rows in place; gpu: grid-stride
##   over elements.
## dconv_fwd / dconv_bwd_input / dconv_bwd_weight(name, dtype, style)
##   Direct (grouped, e.g. depthwise) convolution for contiguous x (N, C, H, W) and weights
##   (Cout, Cg, KH, KW). cpu (float32/64): fwd a work-item per output plane adding kernel taps to
##   whole output rows; bwd_input a work-item per input plane adding each output row's share into
##   its own rows (no race, fixed order). gpu (and half storage): one element per step, bwd_input
##   as a gather. bwd_weight: one work-item per weight element summing over (n, oh, ow).
## channel_sum(name, dtype, style)
##   out[c] (compute type) = sum over n, i of x[n, c, i] for contiguous x (N, C, L).
##   cpu: a work-item per channel, 8 accumulators; gpu: a work-group of LOCAL per channel.
<%namespace name="c" file="common.cl.mako"/>
##
## head(dtypes): prelude, CT (compute type) and load/store macros for the tensor dtype.
<%def name="head(dtype, extra=())">
${c.prelude((dtype,) + tuple(extra))}
typedef ${c.ctype(dtype)} ST;
typedef ${c.ctype_compute(dtype)} CT;
#define LD(p, i) ((CT)${c.load(dtype, "(p)", "(i)")})
#define STO(p, i, v) ${c.store(dtype, "(p)", "(i)", "(v)")}
#define LOCAL 256
// [lo, hi): the output columns whose input column o*s + off lies inside [0, n)
inline void clt_valid_range(int off, int s, int n, int out, int *lo, int *hi) {
    int l = off >= 0 ? 0 : (-off + s - 1) / s;
    int t = n - 1 - off;
    int h = t < 0 ? 0 : t / s + 1;
    *lo = l < out ? l : out;
    *hi = h < out ? h : out;
    if (*hi < *lo) *hi = *lo;
}
</%def>
##
## ------------------------------------------------------------------------------------------
## im2col
<%def name="im2col(name, dtype, style)">
${head(dtype)}
__kernel void ${name}(
    __global const ST *restrict x_g, const long x_off, const long4 x_st,
    __global ST *restrict col_g, const long col_off, const long col_sr, const long col_sn,
    const int C, const int H, const int W, const int KH, const int KW, const int OH, const int OW,
    const int sh, const int sw, const int ph, const int pw, const int dh, const int dw,
    const int nb, const int nsplit)
{
    const int R = C * KH * KW;
% if style == "cpu":
    const int gid = get_global_id(0);
    const int r = gid / nsplit;
    if (r >= R) return;
    const int part = gid - r * nsplit;
    const int per = (nb + nsplit - 1) / nsplit;
    const int n0 = part * per;
    const int n1 = nb < n0 + per ? nb : n0 + per;
    const int kw = r % KW, kh = (r / KW) % KH, ci = r / (KW * KH);
    const int offw = kw * dw - pw;
    int lo, hi;
    clt_valid_range(offw, sw, W, OW, &lo, &hi);
    for (int n = n0; n < n1; ++n) {
        __global const ST *plane = x_g + x_off + n * x_st.s0 + ci * x_st.s1;
        __global ST *dst = col_g + col_off + r * col_sr + n * col_sn;
        for (int oh = 0; oh < OH; ++oh, dst += OW) {
            const int ih = oh * sh - ph + kh * dh;
            if (ih < 0 || ih >= H) {
                for (int ow = 0; ow < OW; ++ow) STO(dst, ow, 0);
                continue;
            }
            __global const ST *row = plane + ih * x_st.s2;
            for (int ow = 0; ow < lo; ++ow) STO(dst, ow, 0);
            if (sw == 1 && x_st.s3 == 1) {
                __global const ST *src = row + offw;
                for (int ow = lo; ow < hi; ++ow) STO(dst, ow, LD(src, ow));
            } else {
                for (int ow = lo; ow < hi; ++ow) STO(dst, ow, LD(row, (ow * sw + offw) * x_st.s3));
            }
            for (int ow = hi; ow < OW; ++ow) STO(dst, ow, 0);
        }
    }
% else:
    const long total = (long)R * nb * OH * OW;
    for (long i = get_global_id(0); i < total; i += get_global_size(0)) {
        long q = i;
        const int ow = q % OW; q /= OW;
        const int oh = q % OH; q /= OH;
        const int n = q % nb;
        const int r = q / nb;
        const int kw = r % KW, kh = (r / KW) % KH, ci = r / (KW * KH);
        const int ih = oh * sh - ph + kh * dh, iw = ow * sw - pw + kw * dw;
        CT v = 0;
        if (ih >= 0 && ih < H && iw >= 0 && iw < W)
            v = LD(x_g, x_off + n * x_st.s0 + ci * x_st.s1 + ih * x_st.s2 + iw * x_st.s3);
        STO(col_g, col_off + r * col_sr + n * col_sn + oh * OW + ow, v);
    }
% endif
}
</%def>
##
## ------------------------------------------------------------------------------------------
## col2im (gather)
<%def name="col2im(name, dtype, out_dtype, style)">
${head(dtype, (out_dtype,))}
typedef ${c.ctype(out_dtype)} OT;
__kernel void ${name}(
    __global const ST *restrict col_g, const long col_off, const long col_sr, const long col_sn,
    __global OT *restrict gx_g, const long gx_off,
    const int C, const int H, const int W, const int KH, const int KW, const int OH, const int OW,
    const int sh, const int sw, const int ph, const int pw, const int dh, const int dw,
    const int nb)
{
% if style == "cpu":
    const int gid = get_global_id(0);
    if (gid >= nb * C) return;
    const int n = gid / C, ci = gid - n * C;
    __global OT *out = gx_g + gx_off + (long)gid * H * W;
    __global const ST *colp = col_g + col_off + n * col_sn;
    for (int h = 0; h < H; ++h) {
        __global OT *orow = out + h * W;
        for (int w = 0; w < W; ++w) orow[w] = 0;
        for (int kh = 0; kh < KH; ++kh) {
            const int th = h + ph - kh * dh;
            if (th < 0 || th % sh) continue;
            const int oh = th / sh;
            if (oh >= OH) continue;
            for (int kw = 0; kw < KW; ++kw) {
                const int offw = kw * dw - pw;
                int lo, hi;
                clt_valid_range(offw, sw, W, OW, &lo, &hi);
                __global const ST *g = colp + ((ci * KH + kh) * KW + kw) * col_sr + oh * OW;
                if (sw == 1) {
                    __global OT *o = orow + offw;
                    for (int ow = lo; ow < hi; ++ow) o[ow] += LD(g, ow);
                } else {
                    for (int ow = lo; ow < hi; ++ow) orow[ow * sw + offw] += LD(g, ow);
                }
            }
        }
    }
% else:
    const long total = (long)nb * C * H * W;
    for (long i = get_global_id(0); i < total; i += get_global_size(0)) {
        long q = i;
        const int w = q % W; q /= W;
        const int h = q % H; q /= H;
        const int ci = q % C;
        const int n = q / C;
        CT acc = 0;
        for (int kh = 0; kh < KH; ++kh) {
            const int th = h + ph - kh * dh;
            if (th < 0 || th % sh) continue;
            const int oh = th / sh;
            if (oh >= OH) continue;
            for (int kw = 0; kw < KW; ++kw) {
                const int tw = w + pw - kw * dw;
                if (tw < 0 || tw % sw) continue;
                const int ow = tw / sw;
                if (ow >= OW) continue;
                acc += LD(col_g, col_off + ((ci * KH + kh) * KW + kw) * col_sr + n * col_sn
                              + oh * OW + ow);
            }
        }
        gx_g[gx_off + i] = acc;
    }
% endif
}
</%def>
##
## ------------------------------------------------------------------------------------------
## direct (grouped / depthwise) convolution
<%def name="dconv_geometry()">
    const int C, const int H, const int W, const int Cout, const int Cg, const int Cog,
    const int KH, const int KW, const int OH, const int OW,
    const int sh, const int sw, const int ph, const int pw, const int dh, const int dw, const int N
</%def>
<%def name="dconv_fwd(name, dtype, style)">
${head(dtype)}
inline CT clt_dconv_point(__global const ST *x_g, __global const ST *w_g, const int n,
                          const int co, const int oh, const int ow,
                          ${dconv_geometry()}) {
    const int g = co / Cog;
    CT acc = 0;
    for (int cg = 0; cg < Cg; ++cg) {
        __global const ST *plane = x_g + ((long)n * C + g * Cg + cg) * H * W;
        __global const ST *wk = w_g + ((long)co * Cg + cg) * KH * KW;
        for (int kh = 0; kh < KH; ++kh) {
            const int ih = oh * sh - ph + kh * dh;
            if (ih < 0 || ih >= H) continue;
            for (int kw = 0; kw < KW; ++kw) {
                const int iw = ow * sw - pw + kw * dw;
                if (iw < 0 || iw >= W) continue;
                acc += LD(plane, ih * W + iw) * LD(wk, kh * KW + kw);
            }
        }
    }
    return acc;
}
__kernel void ${name}(
    __global const ST *restrict x_g, __global const ST *restrict w_g,
    __global const ST *restrict b_g, const int has_bias, __global ST *restrict y_g,
    ${dconv_geometry()})
{
% if style == "cpu" and dtype != "float16":
    // a work-item per output plane, accumulating whole rows in place (unit-stride inner loops)
    const int gid = get_global_id(0);
    if (gid >= N * Cout) return;
    const int n = gid / Cout, co = gid - n * Cout, g = co / Cog;
    const ST b = has_bias ? b_g[co] : (ST)0;
    __global ST *out = y_g + (long)gid * OH * OW;
    for (int oh = 0; oh < OH; ++oh) {
        __global ST *yrow = out + oh * OW;
        for (int ow = 0; ow < OW; ++ow) yrow[ow] = b;
        for (int cg = 0; cg < Cg; ++cg) {
            __global const ST *plane = x_g + ((long)n * C + g * Cg + cg) * H * W;
            __global const ST *wk = w_g + ((long)co * Cg + cg) * KH * KW;
            for (int kh = 0; kh < KH; ++kh) {
                const int ih = oh * sh - ph + kh * dh;
                if (ih < 0 || ih >= H) continue;
                __global const ST *xrow = plane + ih * W;
                for (int kw = 0; kw < KW; ++kw) {
                    const ST wv = wk[kh * KW + kw];
                    const int off = kw * dw - pw;
                    int lo, hi;
                    clt_valid_range(off, sw, W, OW, &lo, &hi);
                    if (sw == 1) {
                        __global const ST *xr = xrow + off;
                        for (int ow = lo; ow < hi; ++ow) yrow[ow] += wv * xr[ow];
                    } else {
                        for (int ow = lo; ow < hi; ++ow) yrow[ow] += wv * xrow[ow * sw + off];
                    }
                }
            }
        }
    }
% else:
    const long total = (long)N * Cout * OH * OW;
    for (long i = get_global_id(0); i < total; i += get_global_size(0)) {
        long q = i;
        const int ow = q % OW; q /= OW;
        const int oh = q % OH; q /= OH;
        const int co = q % Cout;
        const int n = q / Cout;
        const CT b = has_bias ? LD(b_g, co) : 0;
        STO(y_g, i, b + clt_dconv_point(x_g, w_g, n, co, oh, ow, C, H, W, Cout, Cg, Cog, KH, KW,
                                        OH, OW, sh, sw, ph, pw, dh, dw, N));
    }
% endif
}
</%def>
<%def name="dconv_bwd_input(name, dtype, style)">
${head(dtype)}
inline CT clt_dconv_gx_point(__global const ST *gy_g, __global const ST *w_g, const int n,
                             const int ci, const int h, const int w,
                             ${dconv_geometry()}) {
    const int g = ci / Cg, cg = ci - g * Cg;
    CT acc = 0;
    for (int m = 0; m < Cog; ++m) {
        const int co = g * Cog + m;
        __global const ST *gplane = gy_g + ((long)n * Cout + co) * OH * OW;
        __global const ST *wk = w_g + ((long)co * Cg + cg) * KH * KW;
        for (int kh = 0; kh < KH; ++kh) {
            const int th = h + ph - kh * dh;
            if (th < 0 || th % sh) continue;
            const int oh = th / sh;
            if (oh >= OH) continue;
            for (int kw = 0; kw < KW; ++kw) {
                const int tw = w + pw - kw * dw;
                if (tw < 0 || tw % sw) continue;
                const int ow = tw / sw;
                if (ow >= OW) continue;
                acc += LD(gplane, oh * OW + ow) * LD(wk, kh * KW + kw);
            }
        }
    }
    return acc;
}
__kernel void ${name}(
    __global const ST *restrict gy_g, __global const ST *restrict w_g, __global ST *restrict gx_g,
    ${dconv_geometry()})
{
% if style == "cpu" and dtype != "float16":
    // a work-item per input plane: every output row that read it adds its share, in place
    const int gid = get_global_id(0);
    if (gid >= N * C) return;
    const int n = gid / C, ci = gid - n * C, g = ci / Cg, cg = ci - g * Cg;
    __global ST *out = gx_g + (long)gid * H * W;
    for (int i = 0; i < H * W; ++i) out[i] = 0;
    for (int m = 0; m < Cog; ++m) {
        const int co = g * Cog + m;
        __global const ST *gplane = gy_g + ((long)n * Cout + co) * OH * OW;
        __global const ST *wk = w_g + ((long)co * Cg + cg) * KH * KW;
        for (int oh = 0; oh < OH; ++oh) {
            __global const ST *grow = gplane + oh * OW;
            for (int kh = 0; kh < KH; ++kh) {
                const int ih = oh * sh - ph + kh * dh;
                if (ih < 0 || ih >= H) continue;
                __global ST *xrow = out + ih * W;
                for (int kw = 0; kw < KW; ++kw) {
                    const ST wv = wk[kh * KW + kw];
                    const int off = kw * dw - pw;
                    int lo, hi;
                    clt_valid_range(off, sw, W, OW, &lo, &hi);
                    if (sw == 1) {
                        __global ST *xr = xrow + off;
                        for (int ow = lo; ow < hi; ++ow) xr[ow] += wv * grow[ow];
                    } else {
                        for (int ow = lo; ow < hi; ++ow) xrow[ow * sw + off] += wv * grow[ow];
                    }
                }
            }
        }
    }
% else:
    const long total = (long)N * C * H * W;
    for (long i = get_global_id(0); i < total; i += get_global_size(0)) {
        long q = i;
        const int w = q % W; q /= W;
        const int h = q % H; q /= H;
        const int ci = q % C;
        const int n = q / C;
        STO(gx_g, i, clt_dconv_gx_point(gy_g, w_g, n, ci, h, w, C, H, W, Cout, Cg, Cog, KH, KW,
                                        OH, OW, sh, sw, ph, pw, dh, dw, N));
    }
% endif
}
</%def>
<%def name="dconv_bwd_weight(name, dtype, style)">
${head(dtype)}
__kernel void ${name}(
    __global const ST *restrict x_g, __global const ST *restrict gy_g, __global ST *restrict gw_g,
    ${dconv_geometry()})
{
    // one work-item per weight element (co, cg, kh, kw): a fixed-order sum, no atomics
    const long total = (long)Cout * Cg * KH * KW;
    for (long i = get_global_id(0); i < total; i += get_global_size(0)) {
        long q = i;
        const int kw = q % KW; q /= KW;
        const int kh = q % KH; q /= KH;
        const int cg = q % Cg;
        const int co = q / Cg;
        const int ci = (co / Cog) * Cg + cg;
        const int offw = kw * dw - pw;
        int lo, hi;
        clt_valid_range(offw, sw, W, OW, &lo, &hi);
        CT acc = 0;
        for (int n = 0; n < N; ++n) {
            __global const ST *xp = x_g + ((long)n * C + ci) * H * W;
            __global const ST *gp = gy_g + ((long)n * Cout + co) * OH * OW;
            for (int oh = 0; oh < OH; ++oh) {
                const int ih = oh * sh - ph + kh * dh;
                if (ih < 0 || ih >= H) continue;
                __global const ST *xr = xp + ih * W + offw;
                __global const ST *gr = gp + oh * OW;
                int ow = lo;
                if (sw == 1) {   // four partial sums: independent chains the compiler can pipeline
                    CT a1 = 0, a2 = 0, a3 = 0;
                    for (; ow + 4 <= hi; ow += 4) {
                        acc += LD(gr, ow) * LD(xr, ow);
                        a1 += LD(gr, ow + 1) * LD(xr, ow + 1);
                        a2 += LD(gr, ow + 2) * LD(xr, ow + 2);
                        a3 += LD(gr, ow + 3) * LD(xr, ow + 3);
                    }
                    acc += (a1 + a2) + a3;
                }
                for (; ow < hi; ++ow) acc += LD(gr, ow) * LD(xr, ow * sw);
            }
        }
        STO(gw_g, i, acc);
    }
}
</%def>
##
## ------------------------------------------------------------------------------------------
## per-channel sum of a contiguous (N, C, L) array
<%def name="channel_sum(name, dtype, style)">
${head(dtype)}
__kernel void ${name}(__global const ST *restrict x_g, __global CT *restrict out_g,
                      const int N, const int C, const long L)
{
% if style == "cpu":
    const int ch = get_global_id(0);
    if (ch >= C) return;
    CT a0 = 0, a1 = 0, a2 = 0, a3 = 0, a4 = 0, a5 = 0, a6 = 0, a7 = 0;
    for (int n = 0; n < N; ++n) {
        __global const ST *p = x_g + ((long)n * C + ch) * L;
        long i = 0;
        for (; i + 8 <= L; i += 8) {
            a0 += LD(p, i); a1 += LD(p, i + 1); a2 += LD(p, i + 2); a3 += LD(p, i + 3);
            a4 += LD(p, i + 4); a5 += LD(p, i + 5); a6 += LD(p, i + 6); a7 += LD(p, i + 7);
        }
        for (; i < L; ++i) a0 += LD(p, i);
    }
    out_g[ch] = ((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7));
% else:
    __local CT part_l[LOCAL];
    const int ch = get_group_id(0);
    const int lid = get_local_id(0);
    CT acc = 0;
    for (int n = 0; n < N; ++n) {
        __global const ST *p = x_g + ((long)n * C + ch) * L;
        for (long i = lid; i < L; i += LOCAL) acc += LD(p, i);
    }
    part_l[lid] = acc;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int s = LOCAL / 2; s > 0; s >>= 1) {
        if (lid < s) part_l[lid] += part_l[lid + s];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (lid == 0) out_g[ch] = part_l[0];
% endif
}
</%def>
##
## ------------------------------------------------------------------------------------------
## pooling. Images are contiguous planes (N*C of them, H x W), outputs (planes, OH, OW).
## pool2d_fwd(name, dtype, mode, style): mode "max" (also writes idx_g: the flat index
##   ih * W + iw of the maximum in its plane; NaN wins, as in PyTorch) or "avg" (count_include_pad,
##   divisor: 0 or divisor_override). cpu: work-item (plane, block of output rows), global =
##   planes * nsplit; gpu: grid-stride over outputs.
## pool2d_bwd(name, dtype, mode, scatter, style)
##   scatter (cpu, float32/64): one work-item per plane zeroes its gx plane and adds every output
##     gradient into the window it came from (max: the recorded index). The plane belongs to the
##     work-item, so there is no race and the order is fixed. global = planes.
##   gather (gpu, and half storage): gx[h, w] sums the output gradients of the windows that hold
##     (h, w) (max: only those whose recorded index is (h, w)); grid-stride / row blocks as fwd.
## adaptive_pool2d_fwd / adaptive_pool2d_bwd(name, dtype, mode, [scatter,] style): windows
##   [floor(o * I / O), ceil((o + 1) * I / O)); same launch shapes as pool2d.
<%def name="minmax()">
// ternaries: PoCL makes the min/max built-ins real calls
#define CMIN(a, b) ((a) < (b) ? (a) : (b))
#define CMAX(a, b) ((a) > (b) ? (a) : (b))
</%def>
## max_window(dh, dw): best / bi over the window [h0, h1) x [w0, w1) of plane p. The common case
## runs branch-free (a select per element, 5-8x faster on PoCL than PyTorch's `v > best ||
## isnan(v)` test); a window holding NaN is redone with that exact rule (the last NaN wins).
<%def name="max_window(dh, dw)">
            CT best = -INFINITY;
            int bi = h0 * W + w0, nan = 0;
            for (int ih = h0; ih < h1; ih += ${dh}) {
                for (int iw = w0; iw < w1; iw += ${dw}) {
                    const CT v = LD(p, ih * W + iw);
                    const int t = v > best;
                    best = t ? v : best;
                    bi = t ? ih * W + iw : bi;
                    nan |= v != v;
                }
            }
            if (nan) {
                best = -INFINITY;
                bi = h0 * W + w0;
                for (int ih = h0; ih < h1; ih += ${dh}) {
                    for (int iw = w0; iw < w1; iw += ${dw}) {
                        const CT v = LD(p, ih * W + iw);
                        if (v > best || v != v) { best = v; bi = ih * W + iw; }
                    }
                }
            }
</%def>
<%def name="pool_rows(rows)">
% if style == "cpu":
    const int gid = get_global_id(0);
    const int plane = gid / nsplit;
    if (plane >= planes) return;
    const int part = gid - plane * nsplit;
    const int per = (${rows} + nsplit - 1) / nsplit;
    const int r0 = part * per, r1 = CMIN(${rows}, r0 + per);
% endif
</%def>
## out_loop / in_loop: iterate outputs (or inputs) of this work-item with plane, oh, ow (h, w)
## and the flat index o (i) defined; close with loop_end().
<%def name="out_loop(style, R, C, r, cc, o)">
% if style == "cpu":
    for (int ${r} = r0; ${r} < r1; ++${r}) {
        for (int ${cc} = 0; ${cc} < ${C}; ++${cc}) {
            const long ${o} = ((long)plane * ${R} + ${r}) * ${C} + ${cc};
% else:
    const long total = (long)planes * ${R} * ${C};
    for (long ${o} = get_global_id(0); ${o} < total; ${o} += get_global_size(0)) {
        {
            const int ${cc} = ${o} % ${C};
            const int ${r} = (${o} / ${C}) % ${R};
            const int plane = ${o} / ((long)${C} * ${R});
% endif
</%def>
<%def name="loop_end()">
        }
    }
</%def>
<%def name="pool2d_fwd(name, dtype, mode, style, fast22=False)">
${head(dtype)}
${minmax()}
__kernel void ${name}(
    __global const ST *restrict x_g, __global ST *restrict y_g, __global long *restrict idx_g,
    const int planes, const int H, const int W, const int OH, const int OW, const int KH,
    const int KW, const int sh, const int sw, const int ph, const int pw, const int dh,
    const int dw, const int count_include_pad, const int divisor, const int nsplit)
{
${pool_rows("OH")}
% if fast22:
    // 2x2 windows, stride 2, no padding, all inside: four loads and three selects per output,
    // ~6x faster than the general loop; rows that hold a NaN are redone by the general code
    {
        __global const ST *p = x_g + (long)plane * H * W;
        int nan = 0;
        for (int oh = r0; oh < r1; ++oh) {
            __global const ST *u = p + 2 * oh * W, *v = u + W;
            __global ST *y = y_g + ((long)plane * OH + oh) * OW;
            __global long *ix = idx_g + ((long)plane * OH + oh) * OW;
            for (int ow = 0; ow < OW; ++ow) {
% if mode == "max":
                const CT a = LD(u, 2 * ow), b = LD(u, 2 * ow + 1);
                const CT c = LD(v, 2 * ow), d = LD(v, 2 * ow + 1);
                CT best = a;
                int bi = 0, t = b > best;
                best = t ? b : best; bi = t ? 1 : bi;
                t = c > best; best = t ? c : best; bi = t ? W : bi;
                t = d > best; best = t ? d : best; bi = t ? W + 1 : bi;
                nan |= (a != a) | (b != b) | (c != c) | (d != d);
                STO(y, ow, best);
                ix[ow] = 2 * oh * W + 2 * ow + bi;
% else:
                STO(y, ow, (LD(u, 2 * ow) + LD(u, 2 * ow + 1) + LD(v, 2 * ow) + LD(v, 2 * ow + 1))
                           * (CT)0.25);
% endif
            }
        }
        if (!nan) return;
    }
% endif
${out_loop(style, "OH", "OW", "oh", "ow", "o")}
            __global const ST *p = x_g + (long)plane * H * W;
            int h0 = oh * sh - ph, w0 = ow * sw - pw;
% if mode == "max":
            const int h1 = CMIN(h0 + (KH - 1) * dh + 1, H), w1 = CMIN(w0 + (KW - 1) * dw + 1, W);
            if (h0 < 0) h0 += ((-h0 + dh - 1) / dh) * dh;
            if (w0 < 0) w0 += ((-w0 + dw - 1) / dw) * dw;
${max_window("dh", "dw")}
            STO(y_g, o, best);
            idx_g[o] = bi;
% else:
            int h1 = CMIN(h0 + KH, H + ph), w1 = CMIN(w0 + KW, W + pw);
            const int pool = (h1 - h0) * (w1 - w0);
            h0 = CMAX(h0, 0); w0 = CMAX(w0, 0); h1 = CMIN(h1, H); w1 = CMIN(w1, W);
            CT acc = 0;
            for (int ih = h0; ih < h1; ++ih)
                for (int iw = w0; iw < w1; ++iw) acc += LD(p, ih * W + iw);
            const int div = divisor ? divisor : (count_include_pad ? pool : (h1 - h0) * (w1 - w0));
            STO(y_g, o, (h0 < h1 && w0 < w1) ? acc / (CT)div : (CT)0);
% endif
${loop_end()}
}
</%def>
<%def name="pool2d_bwd(name, dtype, mode, scatter, style)">
${head(dtype)}
${minmax()}
__kernel void ${name}(
    __global const ST *restrict gy_g, __global const long *restrict idx_g,
    __global ST *restrict gx_g,
    const int planes, const int H, const int W, const int OH, const int OW, const int KH,
    const int KW, const int sh, const int sw, const int ph, const int pw, const int dh,
    const int dw, const int count_include_pad, const int divisor, const int nsplit)
{
% if scatter:
    const int plane = get_global_id(0);
    if (plane >= planes) return;
    __global ST *gx = gx_g + (long)plane * H * W;
    __global const ST *g = gy_g + (long)plane * OH * OW;
    for (int i = 0; i < H * W; ++i) gx[i] = 0;
% if mode == "max":
    __global const long *ix = idx_g + (long)plane * OH * OW;
    for (int o = 0; o < OH * OW; ++o) gx[ix[o]] += g[o];
% else:
    for (int oh = 0; oh < OH; ++oh) {
        int h0 = oh * sh - ph;
        int h1 = CMIN(h0 + KH, H + ph);
        const int hp = h1 - h0;
        h0 = CMAX(h0, 0); h1 = CMIN(h1, H);
        for (int ow = 0; ow < OW; ++ow) {
            int w0 = ow * sw - pw;
            int w1 = CMIN(w0 + KW, W + pw);
            const int pool = hp * (w1 - w0);
            w0 = CMAX(w0, 0); w1 = CMIN(w1, W);
            const int div = divisor ? divisor : (count_include_pad ? pool : (h1 - h0) * (w1 - w0));
            const CT v = g[oh * OW + ow] / (CT)div;
            for (int ih = h0; ih < h1; ++ih)
                for (int iw = w0; iw < w1; ++iw) gx[ih * W + iw] += v;
        }
    }
% endif
% else:
${pool_rows("H")}
${out_loop(style, "H", "W", "h", "w", "i")}
            __global const ST *g = gy_g + (long)plane * OH * OW;
% if mode == "max":
            __global const long *ix = idx_g + (long)plane * OH * OW;
            const long me = (long)h * W + w;
% endif
            CT acc = 0;
            for (int kh = 0; kh < KH; ++kh) {
                const int th = h + ph - kh * dh;
                if (th < 0 || th % sh) continue;
                const int oh = th / sh;
                if (oh >= OH) continue;
                for (int kw = 0; kw < KW; ++kw) {
                    const int tw = w + pw - kw * dw;
                    if (tw < 0 || tw % sw) continue;
                    const int ow = tw / sw;
                    if (ow >= OW) continue;
                    const int o = oh * OW + ow;
% if mode == "max":
                    if (ix[o] == me) acc += LD(g, o);
% else:
                    int h0 = oh * sh - ph, w0 = ow * sw - pw;
                    int h1 = CMIN(h0 + KH, H + ph), w1 = CMIN(w0 + KW, W + pw);
                    const int pool = (h1 - h0) * (w1 - w0);
                    h0 = CMAX(h0, 0); w0 = CMAX(w0, 0); h1 = CMIN(h1, H); w1 = CMIN(w1, W);
                    const int div = divisor ? divisor
                                            : (count_include_pad ? pool : (h1 - h0) * (w1 - w0));
                    acc += LD(g, o) / (CT)div;
% endif
                }
            }
            STO(gx_g, i, acc);
${loop_end()}
% endif
}
</%def>
<%def name="adaptive_pool2d_fwd(name, dtype, mode, style)">
${head(dtype)}
${minmax()}
__kernel void ${name}(
    __global const ST *restrict x_g, __global ST *restrict y_g, __global long *restrict idx_g,
    const int planes, const int H, const int W, const int OH, const int OW, const int nsplit)
{
${pool_rows("OH")}
${out_loop(style, "OH", "OW", "oh", "ow", "o")}
            __global const ST *p = x_g + (long)plane * H * W;
            const int h0 = (oh * H) / OH, h1 = ((oh + 1) * H + OH - 1) / OH;
            const int w0 = (ow * W) / OW, w1 = ((ow + 1) * W + OW - 1) / OW;
% if mode == "max":
${max_window("1", "1")}
            STO(y_g, o, best);
            idx_g[o] = bi;
% else:
            CT acc = 0;
            for (int ih = h0; ih < h1; ++ih)
                for (int iw = w0; iw < w1; ++iw) acc += LD(p, ih * W + iw);
            STO(y_g, o, acc / (CT)((h1 - h0) * (w1 - w0)));
% endif
${loop_end()}
}
</%def>
<%def name="adaptive_pool2d_bwd(name, dtype, mode, scatter, style)">
${head(dtype)}
${minmax()}
__kernel void ${name}(
    __global const ST *restrict gy_g, __global const long *restrict idx_g,
    __global ST *restrict gx_g,
    const int planes, const int H, const int W, const int OH, const int OW, const int nsplit)
{
% if scatter:
    const int plane = get_global_id(0);
    if (plane >= planes) return;
    __global ST *gx = gx_g + (long)plane * H * W;
    __global const ST *g = gy_g + (long)plane * OH * OW;
    for (int i = 0; i < H * W; ++i) gx[i] = 0;
% if mode == "max":
    __global const long *ix = idx_g + (long)plane * OH * OW;
    for (int o = 0; o < OH * OW; ++o) gx[ix[o]] += g[o];
% else:
    for (int oh = 0; oh < OH; ++oh) {
        const int h0 = (oh * H) / OH, h1 = ((oh + 1) * H + OH - 1) / OH;
        for (int ow = 0; ow < OW; ++ow) {
            const int w0 = (ow * W) / OW, w1 = ((ow + 1) * W + OW - 1) / OW;
            const CT v = g[oh * OW + ow] / (CT)((h1 - h0) * (w1 - w0));
            for (int ih = h0; ih < h1; ++ih)
                for (int iw = w0; iw < w1; ++iw) gx[ih * W + iw] += v;
        }
    }
% endif
% else:
${pool_rows("H")}
${out_loop(style, "H", "W", "h", "w", "i")}
            __global const ST *g = gy_g + (long)plane * OH * OW;
            CT acc = 0;
            // a superset of the windows holding h (checked exactly below)
            const int oh_lo = CMAX((h * OH) / H - 1, 0), oh_hi = CMIN(((h + 1) * OH) / H + 2, OH);
            const int ow_lo = CMAX((w * OW) / W - 1, 0), ow_hi = CMIN(((w + 1) * OW) / W + 2, OW);
            for (int oh = oh_lo; oh < oh_hi; ++oh) {
                const int h0 = (oh * H) / OH, h1 = ((oh + 1) * H + OH - 1) / OH;
                if (h < h0 || h >= h1) continue;
                for (int ow = ow_lo; ow < ow_hi; ++ow) {
                    const int w0 = (ow * W) / OW, w1 = ((ow + 1) * W + OW - 1) / OW;
                    if (w < w0 || w >= w1) continue;
                    const int o = oh * OW + ow;
% if mode == "max":
                    if (idx_g[(long)plane * OH * OW + o] == (long)h * W + w) acc += LD(g, o);
% else:
                    acc += LD(g, o) / (CT)((h1 - h0) * (w1 - w0));
% endif
                }
            }
            STO(gx_g, i, acc);
${loop_end()}
% endif
}
</%def>
##
## ------------------------------------------------------------------------------------------
## upsampling of contiguous planes (planes, H, W) -> (planes, OH, OW)
## upsample2d_fwd / upsample2d_bwd(name, dtype, mode, align_corners, [scatter,] style)
##   mode "nearest" (src = min(floor(dst * r), in - 1), r a float as PyTorch computes it),
##   "nearest_exact" (floor((dst + 0.5) * r)), or "bilinear" (align_corners: src = dst * r; else
##   src = max((dst + 0.5) * r - 0.5, 0)). rh, rw: the source-per-destination scales.
##   bwd scatter (cpu, float32/64): a work-item per plane adds each output gradient into the
##   (up to 4) inputs it read, in its own plane. bwd gather (gpu, half): each input pixel visits a
##   superset of the outputs that read it (from the inverse map, widened) and re-evaluates the
##   forward weights exactly. Otherwise cpu: work-item (plane, block of rows); gpu: grid-stride.
<%def name="interp_helpers(mode, align_corners)">
% if mode == "bilinear":
inline void clt_lin_src(int d, CT r, int in, int *i0, int *i1, CT *l0, CT *l1) {
% if align_corners:
    CT real = r * (CT)d;
% else:
    CT real = r * ((CT)d + (CT)0.5) - (CT)0.5;
    real = real < 0 ? (CT)0 : real;
% endif
    const int a = (int)real;
    *i0 = a;
    *i1 = a + (a < in - 1 ? 1 : 0);
    *l1 = real - (CT)a;
    *l0 = (CT)1 - *l1;
}
// the outputs whose source interval can touch input index i
inline void clt_lin_range(int i, CT r, int out, int *lo, int *hi) {
    if (r <= 0) { *lo = 0; *hi = out; return; }
% if align_corners:
    const CT a = (CT)(i - 1) / r, b = (CT)(i + 1) / r;
% else:
    const CT a = ((CT)(i - 1) + (CT)0.5) / r - (CT)0.5, b = ((CT)(i + 1) + (CT)0.5) / r - (CT)0.5;
% endif
    *lo = CMAX((int)floor(a) - 1, 0);
    *hi = b >= (CT)out ? out : CMIN((int)ceil(b) + 2, out);
}
% else:
inline int clt_near_src(int d, CT r, int in) {
% if mode == "nearest_exact":
    const int s = (int)floor(((float)d + 0.5f) * (float)r);
% else:
    const int s = (int)floor((float)d * (float)r);
% endif
    return s < in - 1 ? s : in - 1;
}
inline void clt_near_range(int i, CT r, int in, int out, int *lo, int *hi) {
    const float a = (float)i / (float)r, b = (float)(i + 1) / (float)r;
    *lo = CMAX((int)floor(a) - 2, 0);
    *hi = (i >= in - 1 || b >= (float)out) ? out : CMIN((int)ceil(b) + 2, out);
}
% endif
</%def>
<%def name="upsample2d_fwd(name, dtype, mode, align_corners, style)">
${head(dtype)}
${minmax()}
${interp_helpers(mode, align_corners)}
__kernel void ${name}(
    __global const ST *restrict x_g, __global ST *restrict y_g, const int planes, const int H,
    const int W, const int OH, const int OW, const ${c.ctype_compute(dtype)} rh,
    const ${c.ctype_compute(dtype)} rw, const int nsplit)
{
${pool_rows("OH")}
${out_loop(style, "OH", "OW", "oh", "ow", "o")}
            __global const ST *p = x_g + (long)plane * H * W;
% if mode == "bilinear":
            int h0, h1, w0, w1;
            CT a0, a1, b0, b1;
            clt_lin_src(oh, rh, H, &h0, &h1, &a0, &a1);
            clt_lin_src(ow, rw, W, &w0, &w1, &b0, &b1);
            const CT v = a0 * (b0 * LD(p, h0 * W + w0) + b1 * LD(p, h0 * W + w1))
                       + a1 * (b0 * LD(p, h1 * W + w0) + b1 * LD(p, h1 * W + w1));
            STO(y_g, o, v);
% else:
            STO(y_g, o, LD(p, clt_near_src(oh, rh, H) * W + clt_near_src(ow, rw, W)));
% endif
${loop_end()}
}
</%def>
<%def name="upsample2d_bwd(name, dtype, mode, align_corners, scatter, style)">
${head(dtype)}
${minmax()}
${interp_helpers(mode, align_corners)}
__kernel void ${name}(
    __global const ST *restrict gy_g, __global ST *restrict gx_g, const int planes, const int H,
    const int W, const int OH, const int OW, const ${c.ctype_compute(dtype)} rh,
    const ${c.ctype_compute(dtype)} rw, const int nsplit)
{
% if scatter:
    const int plane = get_global_id(0);
    if (plane >= planes) return;
    __global ST *gx = gx_g + (long)plane * H * W;
    __global const ST *g = gy_g + (long)plane * OH * OW;
    for (int i = 0; i < H * W; ++i) gx[i] = 0;
    for (int oh = 0; oh < OH; ++oh) {
% if mode == "bilinear":
        int h0, h1;
        CT a0, a1;
        clt_lin_src(oh, rh, H, &h0, &h1, &a0, &a1);
        for (int ow = 0; ow < OW; ++ow) {
            int w0, w1;
            CT b0, b1;
            clt_lin_src(ow, rw, W, &w0, &w1, &b0, &b1);
            const CT v = g[oh * OW + ow];
            gx[h0 * W + w0] += a0 * b0 * v;
            gx[h0 * W + w1] += a0 * b1 * v;
            gx[h1 * W + w0] += a1 * b0 * v;
            gx[h1 * W + w1] += a1 * b1 * v;
        }
% else:
        __global ST *row = gx + clt_near_src(oh, rh, H) * W;
        for (int ow = 0; ow < OW; ++ow) row[clt_near_src(ow, rw, W)] += g[oh * OW + ow];
% endif
    }
% else:
${pool_rows("H")}
${out_loop(style, "H", "W", "h", "w", "i")}
            __global const ST *g = gy_g + (long)plane * OH * OW;
            int oh_lo, oh_hi, ow_lo, ow_hi;
% if mode == "bilinear":
            clt_lin_range(h, rh, OH, &oh_lo, &oh_hi);
            clt_lin_range(w, rw, OW, &ow_lo, &ow_hi);
% else:
            clt_near_range(h, rh, H, OH, &oh_lo, &oh_hi);
            clt_near_range(w, rw, W, OW, &ow_lo, &ow_hi);
% endif
            CT acc = 0;
            for (int oh = oh_lo; oh < oh_hi; ++oh) {
% if mode == "bilinear":
                int h0, h1;
                CT a0, a1;
                clt_lin_src(oh, rh, H, &h0, &h1, &a0, &a1);
                const CT wh = (h0 == h ? a0 : (CT)0) + (h1 == h ? a1 : (CT)0);
% else:
                const CT wh = clt_near_src(oh, rh, H) == h ? (CT)1 : (CT)0;
% endif
                if (wh == 0) continue;
                for (int ow = ow_lo; ow < ow_hi; ++ow) {
% if mode == "bilinear":
                    int w0, w1;
                    CT b0, b1;
                    clt_lin_src(ow, rw, W, &w0, &w1, &b0, &b1);
                    const CT ww = (w0 == w ? b0 : (CT)0) + (w1 == w ? b1 : (CT)0);
% else:
                    const CT ww = clt_near_src(ow, rw, W) == w ? (CT)1 : (CT)0;
% endif
                    if (ww != 0) acc += wh * ww * LD(g, oh * OW + ow);
                }
            }
            STO(gx_g, i, acc);
${loop_end()}
% endif
}
</%def>
##
## ------------------------------------------------------------------------------------------
## normalisation
## reduce_helpers(style): sum over a contiguous run p[0..L) into a CT (cpu: 8 accumulators;
##   gpu: each lane a strided part, then a tree in red_l; every lane gets the total).
<%def name="reduce_helpers(style)">
% if style == "gpu":
inline CT clt_group_sum(CT v, __local CT *red_l) {
    const int lid = get_local_id(0);
    barrier(CLK_LOCAL_MEM_FENCE);
    red_l[lid] = v;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int s = LOCAL / 2; s > 0; s >>= 1) {
        if (lid < s) red_l[lid] += red_l[lid + s];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    return red_l[0];
}
#define LANE0 (get_local_id(0) == 0)
#define FOR_LANE(i, n) for (long i = get_local_id(0); i < (n); i += LOCAL)
% else:
#define LANE0 1
#define FOR_LANE(i, n) for (long i = 0; i < (n); ++i)
% endif
</%def>
## bn_stats(name, dtype, style)
##   Per channel of contiguous x (N, C, L): with training != 0, mean and biased variance (two
##   passes: the sum, then squared deviations from the mean, for accuracy), and, with has_running,
##   running_mean/var (dtype ST) updated in place: r = (1 - momentum) * r + momentum * batch
##   (unbiased variance). With training == 0 the running stats are used. Writes
##   coef_g[c] = scale, coef_g[C + c] = shift (y = x * scale + shift) and save_g[c] = mean,
##   save_g[C + c] = invstd (CT). cpu: a work-item per channel; gpu: a work-group per channel.
<%def name="bn_stats(name, dtype, style)">
${head(dtype)}
${reduce_helpers(style)}
__kernel void ${name}(
    __global const ST *restrict x_g, const int N, const int C, const long L,
    __global const ST *restrict w_g, __global const ST *restrict b_g, const int affine,
    __global ST *restrict rm_g, __global ST *restrict rv_g, const int has_running,
    const int training, const ${c.ctype_compute(dtype)} eps,
    const ${c.ctype_compute(dtype)} momentum,
    __global CT *restrict coef_g, __global CT *restrict save_g)
{
% if style == "cpu":
    const int ch = get_global_id(0);
    if (ch >= C) return;
% else:
    __local CT red_l[LOCAL];
    const int ch = get_group_id(0);
% endif
    CT mean, var, unbiased = 0;
    if (training) {
        const CT M = (CT)N * (CT)L;
        CT s = 0;
        for (int n = 0; n < N; ++n) {
            __global const ST *p = x_g + ((long)n * C + ch) * L;
% if style == "cpu":
            CT a0 = 0, a1 = 0, a2 = 0, a3 = 0;
            long i = 0;
            for (; i + 4 <= L; i += 4) {
                a0 += LD(p, i); a1 += LD(p, i + 1); a2 += LD(p, i + 2); a3 += LD(p, i + 3);
            }
            for (; i < L; ++i) a0 += LD(p, i);
            s += (a0 + a1) + (a2 + a3);
% else:
            FOR_LANE(i, L) s += LD(p, i);
% endif
        }
% if style == "gpu":
        s = clt_group_sum(s, red_l);
% endif
        mean = s / M;
        CT q = 0;
        for (int n = 0; n < N; ++n) {
            __global const ST *p = x_g + ((long)n * C + ch) * L;
% if style == "cpu":
            CT a0 = 0, a1 = 0, a2 = 0, a3 = 0;
            long i = 0;
            for (; i + 4 <= L; i += 4) {
                const CT d0 = LD(p, i) - mean, d1 = LD(p, i + 1) - mean;
                const CT d2 = LD(p, i + 2) - mean, d3 = LD(p, i + 3) - mean;
                a0 += d0 * d0; a1 += d1 * d1; a2 += d2 * d2; a3 += d3 * d3;
            }
            for (; i < L; ++i) { const CT d = LD(p, i) - mean; a0 += d * d; }
            q += (a0 + a1) + (a2 + a3);
% else:
            FOR_LANE(i, L) { const CT d = LD(p, i) - mean; q += d * d; }
% endif
        }
% if style == "gpu":
        q = clt_group_sum(q, red_l);
% endif
        var = q / M;
        unbiased = M > 1 ? q / (M - 1) : var;
    } else {
        mean = LD(rm_g, ch);
        var = LD(rv_g, ch);
    }
    if (LANE0) {
        if (training && has_running) {
            STO(rm_g, ch, ((CT)1 - momentum) * LD(rm_g, ch) + momentum * mean);
            STO(rv_g, ch, ((CT)1 - momentum) * LD(rv_g, ch) + momentum * unbiased);
        }
        const CT invstd = (CT)1 / sqrt(var + eps);
        const CT scale = affine ? LD(w_g, ch) * invstd : invstd;
        coef_g[ch] = scale;
        coef_g[C + ch] = (affine ? LD(b_g, ch) : (CT)0) - mean * scale;
        save_g[ch] = mean;
        save_g[C + ch] = invstd;
    }
}
</%def>
## bn_bwd_reduce(name, dtype, style)
##   Per channel: sg = sum(g), sgx = sum(g * (x - mean)) over (N, L); then the coefficients of
##   gx = g * k1 + x * k2 + k3 (coef_g[0..3C)) and the parameter gradients
##   pg_g[c] = sgx * invstd (weight), pg_g[C + c] = sg (bias), all CT. With training == 0 the
##   statistics were constants: k1 = scale, k2 = k3 = 0.
<%def name="bn_bwd_reduce(name, dtype, style)">
${head(dtype)}
${reduce_helpers(style)}
__kernel void ${name}(
    __global const ST *restrict g_g, __global const ST *restrict x_g, const int N, const int C,
    const long L, __global const ST *restrict w_g, const int affine, const int training,
    __global const CT *restrict save_g, __global CT *restrict coef_g, __global CT *restrict pg_g)
{
% if style == "cpu":
    const int ch = get_global_id(0);
    if (ch >= C) return;
% else:
    __local CT red_l[LOCAL];
    const int ch = get_group_id(0);
% endif
    const CT mean = save_g[ch], invstd = save_g[C + ch];
    CT sg = 0, sgx = 0;
    for (int n = 0; n < N; ++n) {
        __global const ST *p = x_g + ((long)n * C + ch) * L;
        __global const ST *q = g_g + ((long)n * C + ch) * L;
% if style == "cpu":
        CT a0 = 0, a1 = 0, b0 = 0, b1 = 0;
        long i = 0;
        for (; i + 2 <= L; i += 2) {
            const CT g0 = LD(q, i), g1 = LD(q, i + 1);
            a0 += g0; a1 += g1;
            b0 += g0 * (LD(p, i) - mean); b1 += g1 * (LD(p, i + 1) - mean);
        }
        for (; i < L; ++i) { const CT g0 = LD(q, i); a0 += g0; b0 += g0 * (LD(p, i) - mean); }
        sg += a0 + a1;
        sgx += b0 + b1;
% else:
        FOR_LANE(i, L) { const CT g0 = LD(q, i); sg += g0; sgx += g0 * (LD(p, i) - mean); }
% endif
    }
% if style == "gpu":
    sg = clt_group_sum(sg, red_l);
    sgx = clt_group_sum(sgx, red_l);
% endif
    if (LANE0) {
        const CT k1 = (affine ? LD(w_g, ch) : (CT)1) * invstd;
        CT k2 = 0, k3 = 0;
        if (training) {
            const CT M = (CT)N * (CT)L;
            k2 = -k1 * invstd * invstd * sgx / M;
            k3 = -k1 * sg / M - mean * k2;
        }
        coef_g[ch] = k1;
        coef_g[C + ch] = k2;
        coef_g[2 * C + ch] = k3;
        pg_g[ch] = sgx * invstd;
        pg_g[C + ch] = sg;
    }
}
</%def>
## chan_affine(name, dtype, two, style)
##   out[n, c, i] = a[n, c, i] * coef[c] (+ b[n, c, i] * coef[C + c] when two) + coef[K * C + c],
##   K = 2 if two else 1; contiguous (N, C, L). cpu: a work-item per (n, c) row block
##   (global = N * C * nsplit); gpu: grid-stride over elements.
<%def name="chan_affine(name, dtype, two, style)">
${head(dtype)}
__kernel void ${name}(
    __global const ST *restrict a_g, __global const ST *restrict b_g,
    __global const CT *restrict coef_g, __global ST *restrict out_g, const int N, const int C,
    const long L, const int nsplit)
{
<% K = 2 if two else 1 %>
% if style == "cpu":
    const int gid = get_global_id(0);
    const int row = gid / nsplit;
    if (row >= N * C) return;
    const int part = gid - row * nsplit;
    const long per = (L + nsplit - 1) / nsplit;
    const long i0 = part * per, i1 = L < i0 + per ? L : i0 + per;
    const int ch = row % C;
    const CT k1 = coef_g[ch], k0 = coef_g[${K} * C + ch];
% if two:
    const CT k2 = coef_g[C + ch];
% endif
    const long base = (long)row * L;
    for (long i = base + i0; i < base + i1; ++i) {
% if two:
        STO(out_g, i, LD(a_g, i) * k1 + LD(b_g, i) * k2 + k0);
% else:
        STO(out_g, i, LD(a_g, i) * k1 + k0);
% endif
    }
% else:
    const long total = (long)N * C * L;
    for (long i = get_global_id(0); i < total; i += get_global_size(0)) {
        const int ch = (i / L) % C;
% if two:
        STO(out_g, i, LD(a_g, i) * coef_g[ch] + LD(b_g, i) * coef_g[C + ch] + coef_g[2 * C + ch]);
% else:
        STO(out_g, i, LD(a_g, i) * coef_g[ch] + coef_g[C + ch]);
% endif
    }
% endif
}
</%def>
## rownorm_fwd(name, dtype, style)
##   Layer/group norm of R contiguous rows of length L: y = (x - mean) * rstd * w[j] + b[j] with
##   j = (row % G) * (L / HW) + i / HW (LayerNorm: G = HW = 1, j = i; GroupNorm: row = (n, g),
##   j = channel). Writes save_g[row] = mean, save_g[R + row] = rstd (CT). cpu: a work-item per
##   row; gpu: a work-group per row.
<%def name="rownorm_fwd(name, dtype, style)">
${head(dtype)}
${reduce_helpers(style)}
__kernel void ${name}(
    __global const ST *restrict x_g, __global ST *restrict y_g, const int R, const long L,
    const int G, const long HW, __global const ST *restrict w_g, const int has_w,
    __global const ST *restrict b_g, const int has_b, const ${c.ctype_compute(dtype)} eps,
    __global CT *restrict save_g)
{
% if style == "cpu":
    const int row = get_global_id(0);
    if (row >= R) return;
% else:
    __local CT red_l[LOCAL];
    const int row = get_group_id(0);
% endif
    __global const ST *p = x_g + (long)row * L;
    __global ST *o = y_g + (long)row * L;
    CT s = 0, q = 0;
    FOR_LANE(i, L) s += LD(p, i);
% if style == "gpu":
    s = clt_group_sum(s, red_l);
% endif
    const CT mean = s / (CT)L;
    FOR_LANE(i, L) { const CT d = LD(p, i) - mean; q += d * d; }
% if style == "gpu":
    q = clt_group_sum(q, red_l);
% endif
    const CT rstd = (CT)1 / sqrt(q / (CT)L + eps);
    const long jbase = (long)(row % G) * (L / HW);
    if (HW == 1) {
        FOR_LANE(i, L) {
            CT v = (LD(p, i) - mean) * rstd;
            if (has_w) v *= LD(w_g, jbase + i);
            if (has_b) v += LD(b_g, jbase + i);
            STO(o, i, v);
        }
    } else {
        FOR_LANE(i, L) {
            const long j = jbase + i / HW;
            CT v = (LD(p, i) - mean) * rstd;
            if (has_w) v *= LD(w_g, j);
            if (has_b) v += LD(b_g, j);
            STO(o, i, v);
        }
    }
    if (LANE0) {
        save_g[row] = mean;
        save_g[R + row] = rstd;
    }
}
</%def>
## rownorm_bwd(name, dtype, style)
##   gx = rstd * (gw - mean(gw) - xhat * mean(gw * xhat)) per row, gw = g * w[j] (w = 1 without
##   weight), xhat = (x - mean) * rstd. Same geometry as rownorm_fwd.
<%def name="rownorm_bwd(name, dtype, style)">
${head(dtype)}
${reduce_helpers(style)}
__kernel void ${name}(
    __global const ST *restrict g_g, __global const ST *restrict x_g, __global ST *restrict gx_g,
    const int R, const long L, const int G, const long HW, __global const ST *restrict w_g,
    const int has_w, __global const CT *restrict save_g)
{
% if style == "cpu":
    const int row = get_global_id(0);
    if (row >= R) return;
% else:
    __local CT red_l[LOCAL];
    const int row = get_group_id(0);
% endif
    __global const ST *p = x_g + (long)row * L;
    __global const ST *q = g_g + (long)row * L;
    __global ST *o = gx_g + (long)row * L;
    const CT mean = save_g[row], rstd = save_g[R + row];
    const long jbase = (long)(row % G) * (L / HW);
    CT s1 = 0, s2 = 0;
    FOR_LANE(i, L) {
        const CT gw = has_w ? LD(q, i) * LD(w_g, jbase + i / HW) : LD(q, i);
        s1 += gw;
        s2 += gw * (LD(p, i) - mean);
    }
% if style == "gpu":
    s1 = clt_group_sum(s1, red_l);
    s2 = clt_group_sum(s2, red_l);
% endif
    const CT m1 = s1 / (CT)L, m2 = s2 * rstd / (CT)L;
    FOR_LANE(i, L) {
        const CT gw = has_w ? LD(q, i) * LD(w_g, jbase + i / HW) : LD(q, i);
        STO(o, i, rstd * (gw - m1 - (LD(p, i) - mean) * rstd * m2));
    }
}
</%def>
## rownorm_param_grad(name, dtype, style)
##   For each affine index j < J: pg[j] = sum g * xhat, pg[J + j] = sum g over the elements that
##   use w[j]: rows row = n * G + j / Cg (n < R / G), positions (j % Cg) * HW + k (k < HW).
##   One work-item per j (a fixed-order sum); cpu: global = J, gpu: grid-stride.
<%def name="rownorm_param_grad(name, dtype, style)">
${head(dtype)}
__kernel void ${name}(
    __global const ST *restrict g_g, __global const ST *restrict x_g, const int R, const long L,
    const int G, const long HW, const int J, __global const CT *restrict save_g,
    __global CT *restrict pg_g)
{
    const int Cg = J / G;
    for (long j = get_global_id(0); j < J; j += get_global_size(0)) {
        CT sw = 0, sb = 0;
        for (int n = 0; n < R / G; ++n) {
            const int row = n * G + j / Cg;
            const CT mean = save_g[row], rstd = save_g[R + row];
            const long base = (long)row * L + (j % Cg) * HW;
            for (long k = 0; k < HW; ++k) {
                const CT g = LD(g_g, base + k);
                sw += g * (LD(x_g, base + k) - mean) * rstd;
                sb += g;
            }
        }
        pg_g[j] = sw;
        pg_g[J + j] = sb;
    }
}
</%def>
##
## plane_gather(name, dtype, style)
##   out[p, o] = src[p, idx[p, o]] for planes p (src planes of S elements, out/idx of O): the
##   transpose of the max-pool backward, used for double backward. cpu: work-item i handles
##   outputs [i * chunk, (i + 1) * chunk); gpu: grid-stride (chunk = 1).
<%def name="plane_gather(name, dtype, style)">
${head(dtype)}
__kernel void ${name}(
    __global const ST *restrict src_g, __global const long *restrict idx_g,
    __global ST *restrict out_g, const long total, const long S, const long O, const long chunk)
{
% if style == "cpu":
    const long i0 = get_global_id(0) * chunk, i1 = total < i0 + chunk ? total : i0 + chunk;
    for (long i = i0; i < i1; ++i)
% else:
    for (long i = get_global_id(0); i < total; i += get_global_size(0))
% endif
        STO(out_g, i, LD(src_g, (i / O) * S + idx_g[i]));
}
</%def>
##
## ------------------------------------------------------------------------------------------
## recurrent cells. Gate pre-activations come in two parts, gx (input projection, row stride
## gx_s) and gh (hidden projection, row stride gh_s), each N rows of G = 4H (LSTM: i, f, g, o) or
## 3H (GRU: r, z, n) contiguous values; states are contiguous (N, H).
## cpu: a work-item per block of rows (global = ceil(N / rpi)); gpu: grid-stride over N * H.
## lstm_fwd(name, dtype, style): c = f * c0 + i * g, h = o * tanh(c); act_g (N, 4H) keeps
##   the activated gates for the backward pass.
## lstm_bwd(name, dtype, style): from dh, dc (has_dc: else zero), act, c0, c: dgates (N, 4H), the
##   gradient of both gx and gh, and dc0.
## gru_fwd(name, dtype, style): r = s(xr + hr), z = s(xz + hz), n = tanh(xn + r * hn),
##   h = (1 - z) * n + z * h0; act_g (N, 4H) keeps r, z, n, hn.
## gru_bwd(name, dtype, style): from dh: dgx (N, 3H), dgh (N, 3H) (its n part is scaled by r)
##   and dh0.
<%def name="cell_loop(style)">
% if style == "cpu":
    const int r0 = get_global_id(0) * rpi;
    const int r1 = N < r0 + rpi ? N : r0 + rpi;
    for (int n = r0; n < r1; ++n) {
        for (int j = 0; j < H; ++j) {
% else:
    for (long q = get_global_id(0); q < (long)N * H; q += get_global_size(0)) {
        {
            const int n = q / H, j = q - (long)n * H;
% endif
</%def>
<%def name="sigm(x)">((CT)1 / ((CT)1 + exp(-(${x}))))</%def>
<%def name="lstm_fwd(name, dtype, style)">
${head(dtype)}
__kernel void ${name}(
    __global const ST *restrict gx_g, const long gx_off, const long gx_s,
    __global const ST *restrict gh_g, const long gh_s, __global const ST *restrict c0_g,
    __global ST *restrict h_g, __global ST *restrict c_g, __global ST *restrict act_g,
    const int N, const int H, const int rpi)
{
${cell_loop(style)}
            const long x = gx_off + n * gx_s + j, y = (long)n * gh_s + j, a = (long)n * 4 * H + j;
            const CT i = ${sigm("LD(gx_g, x) + LD(gh_g, y)")};
            const CT f = ${sigm("LD(gx_g, x + H) + LD(gh_g, y + H)")};
            const CT g = tanh(LD(gx_g, x + 2 * H) + LD(gh_g, y + 2 * H));
            const CT o = ${sigm("LD(gx_g, x + 3 * H) + LD(gh_g, y + 3 * H)")};
            const long s = (long)n * H + j;
            const CT c = f * LD(c0_g, s) + i * g;
            STO(c_g, s, c);
            STO(h_g, s, o * tanh(c));
            STO(act_g, a, i);
            STO(act_g, a + H, f);
            STO(act_g, a + 2 * H, g);
            STO(act_g, a + 3 * H, o);
        }
    }
}
</%def>
<%def name="lstm_bwd(name, dtype, style)">
${head(dtype)}
__kernel void ${name}(
    __global const ST *restrict dh_g, const int has_dh, __global const ST *restrict dc_g,
    const int has_dc, __global const ST *restrict act_g, __global const ST *restrict c0_g,
    __global const ST *restrict c_g, __global ST *restrict dgates_g, __global ST *restrict dc0_g,
    const int N, const int H, const int rpi)
{
${cell_loop(style)}
            const long s = (long)n * H + j, a = (long)n * 4 * H + j;
            const CT i = LD(act_g, a), f = LD(act_g, a + H), g = LD(act_g, a + 2 * H);
            const CT o = LD(act_g, a + 3 * H);
            const CT tc = tanh(LD(c_g, s));
            const CT dh = has_dh ? LD(dh_g, s) : (CT)0;
            const CT dc = (has_dc ? LD(dc_g, s) : (CT)0) + dh * o * ((CT)1 - tc * tc);
            STO(dgates_g, a, dc * g * i * ((CT)1 - i));
            STO(dgates_g, a + H, dc * LD(c0_g, s) * f * ((CT)1 - f));
            STO(dgates_g, a + 2 * H, dc * i * ((CT)1 - g * g));
            STO(dgates_g, a + 3 * H, dh * tc * o * ((CT)1 - o));
            STO(dc0_g, s, dc * f);
        }
    }
}
</%def>
<%def name="gru_fwd(name, dtype, style)">
${head(dtype)}
__kernel void ${name}(
    __global const ST *restrict gx_g, const long gx_off, const long gx_s,
    __global const ST *restrict gh_g, const long gh_s, __global const ST *restrict h0_g,
    __global ST *restrict h_g, __global ST *restrict act_g, const int N, const int H,
    const int rpi)
{
${cell_loop(style)}
            const long x = gx_off + n * gx_s + j, y = (long)n * gh_s + j, a = (long)n * 4 * H + j;
            const CT r = ${sigm("LD(gx_g, x) + LD(gh_g, y)")};
            const CT z = ${sigm("LD(gx_g, x + H) + LD(gh_g, y + H)")};
            const CT hn = LD(gh_g, y + 2 * H);
            const CT nn = tanh(LD(gx_g, x + 2 * H) + r * hn);
            const long s = (long)n * H + j;
            STO(h_g, s, ((CT)1 - z) * nn + z * LD(h0_g, s));
            STO(act_g, a, r);
            STO(act_g, a + H, z);
            STO(act_g, a + 2 * H, nn);
            STO(act_g, a + 3 * H, hn);
        }
    }
}
</%def>
<%def name="gru_bwd(name, dtype, style)">
${head(dtype)}
__kernel void ${name}(
    __global const ST *restrict dh_g, __global const ST *restrict act_g,
    __global const ST *restrict h0_g, __global ST *restrict dgx_g, __global ST *restrict dgh_g,
    __global ST *restrict dh0_g, const int N, const int H, const int rpi)
{
${cell_loop(style)}
            const long s = (long)n * H + j, a = (long)n * 4 * H + j, d = (long)n * 3 * H + j;
            const CT r = LD(act_g, a), z = LD(act_g, a + H), nn = LD(act_g, a + 2 * H);
            const CT hn = LD(act_g, a + 3 * H);
            const CT dh = LD(dh_g, s);
            const CT dan = dh * ((CT)1 - z) * ((CT)1 - nn * nn);
            const CT daz = dh * (LD(h0_g, s) - nn) * z * ((CT)1 - z);
            const CT dar = dan * hn * r * ((CT)1 - r);
            STO(dgx_g, d, dar);
            STO(dgx_g, d + H, daz);
            STO(dgx_g, d + 2 * H, dan);
            STO(dgh_g, d, dar);
            STO(dgh_g, d + H, daz);
            STO(dgh_g, d + 2 * H, dan * r);
            STO(dh0_g, s, dh * z);
        }
    }
}
</%def>
