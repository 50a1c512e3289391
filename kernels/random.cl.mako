## random.cl.mako -- counter-based random numbers: Philox-4x32-10 (Salmon et al., SC'11, Random123).
##
## The stream: a request of n values with key (key0, key1) = the generator's 64-bit seed and base
## counter `ctr` = its 64-bit offset uses Philox blocks ctr, ctr+1, ... ctr+nblocks-1. Block b is
## philox4x32_10(counter = (lo32(ctr+b), hi32(ctr+b), 0, 0), key) = four 32-bit words w0..w3, and
## holds values b*V .. b*V+V-1 (V values per block, fixed by the distribution and precision:
## 4 when a value needs one word, 2 when it needs two). So value i is a pure function of
## (seed, offset, i): it does not depend on the work-group size, the chunking, the kernel style or
## the number of compute units, and every device and driver gives the same words. Values made from
## words by integer and exactly rounded operations only (uniform, randint, bernoulli, dropout
## masks) are bit-identical everywhere; those that call log/sin/cos/exp agree to a few ulp.
##
## generate(name, dist, out_dtype, in_dtype, prec, width, style)
##   name       C kernel name, clt_random_<dist>_<tags>
##   dist       "uniform" | "normal" | "log_normal" | "exponential" | "cauchy" | "geometric"
##              (prec-float families); "randint" (64-bit words, V=2); "bernoulli" (scalar p as a
##              32-bit threshold, V=4); "bernoulli_t" (per-element p read from in_g);
##              "dropout" (in_g = x, writes out = keep ? x * scale : 0 and mask_g = keep)
##   out_dtype  clt dtype name of out_g
##   in_dtype   clt dtype name of in_g for bernoulli_t / dropout, else ""
##   prec       "float" or "double": the type uniforms and transforms are computed in
##              ("float": 24-bit uniforms, one word each; "double": 53-bit, two words each)
##   width      blocks generated together as OpenCL vectors (8 or 4 for style "cpu", 1 for "gpu");
##              only 32-bit-lane vectors reach built-in calls (PoCL passes 512-bit vectors to
##              built-ins with a mismatched ABI), so double math uses width 4
##   style      "cpu" or "gpu"
##
## Kernel arguments: out_g, out_off, [in_g, in_off], [mask_g, mask_off], n, key0, key1, ctr, chunk,
## then the distribution's scalars (see SCALARS below). Offsets are in elements; out/in/mask are
## dense from their offset.
##
## Launch, style "cpu": global = ceil(nblocks / chunk), local = the device's fixed ew_local_size;
##   work-item g generates blocks [g*chunk, min((g+1)*chunk, nblocks)) in groups of `width`
##   (chunk is a multiple of width), so its stores are one contiguous run.
## Launch, style "gpu": a grid-stride loop, one block per work-item per step (width 1).
<%namespace name="c" file="common.cl.mako"/>
<%!
    # scalar kernel arguments of each distribution: (C type or "S" for the prec type, name)
    SCALARS = {
        "uniform": (("S", "lo"), ("S", "span")),
        "normal": (("S", "mean"), ("S", "std")),
        "log_normal": (("S", "mean"), ("S", "std")),
        "exponential": (("S", "neg_inv_lambda"),),
        "cauchy": (("S", "median"), ("S", "sigma")),
        "geometric": (("S", "inv_log1m_p"),),
        "randint": (("long", "lo"), ("ulong", "range")),
        "bernoulli": (("ulong", "thresh"),),
        "bernoulli_t": (),
        "dropout": (("ulong", "thresh"), ("S", "scale")),
    }
    FLOAT_DISTS = ("uniform", "normal", "log_normal", "exponential", "cauchy", "geometric",
                   "bernoulli_t")

    def vt(base, width):
        return base if width == 1 else f"{base}{width}"

    def lane(x, j, width):
        return x if width == 1 else f"{x}.s{j:x}"

    def per_lane(base, width, fmt, *names):
        """A vector literal whose lane j is fmt with each name replaced by its lane j."""
        if width == 1:
            return f"({base})({fmt.format(*names)})"
        parts = [fmt.format(*[f"{n}.s{j:x}" for n in names]) for j in range(width)]
        return f"({base}{width})(" + ", ".join(parts) + ")"

    def values_per_block(dist, prec):
        if dist in ("randint",):
            return 2
        if dist in FLOAT_DISTS and prec == "double":
            return 2
        return 4
%>
<%def name="philox_defs()">
// Philox-4x32-10 constants (Random123 philox.h)
#define CLT_PHILOX_M0 0xD2511F53u
#define CLT_PHILOX_M1 0xCD9E8D57u
#define CLT_PHILOX_W0 0x9E3779B9u
#define CLT_PHILOX_W1 0xBB67AE85u
</%def>
## philox_block(width, ctr_expr): statements producing uint<width> r0..r3 for the `width`
## consecutive blocks whose first 64-bit counter is ctr_expr. The 32x32->64 multiplies avoid mul_hi
## (PoCL calls built-ins out of line): vectors multiply their even and odd lanes as the low and
## high halves of ulong lanes (as_ulong), which compiles to vpmuludq-style instructions; ~2x faster
## than widening each lane. The lane pairing is symmetric, so it holds on either endianness.
<%def name="philox_block(width, ctr_expr)">
<%
    U, L = vt("uint", width), vt("ulong", width)
    H = vt("ulong", width // 2) if width > 1 else None
    iota = "0" if width == 1 else "(" + L + ")(" + ", ".join(str(j) for j in range(width)) + ")"
%>
        const ${L} cc = (${L})(${ctr_expr}) + ${iota};
        ${U} r0 = ${per_lane("uint", width, "(uint){0}", "cc")};
        ${U} r1 = ${per_lane("uint", width, "(uint)({0} >> 32)", "cc")};
        ${U} r2 = (${U})(0u), r3 = (${U})(0u);
        uint k0 = key0, k1 = key1;
% for rnd in range(10):
        {
% if width == 1:
            const ulong p0 = (ulong)r0 * (ulong)CLT_PHILOX_M0;
            const ulong p1 = (ulong)r2 * (ulong)CLT_PHILOX_M1;
            const uint h0 = (uint)(p0 >> 32), l0 = (uint)p0;
            const uint h1 = (uint)(p1 >> 32), l1 = (uint)p1;
% else:
            const ${H} a0 = as_${H}(r0), a2 = as_${H}(r2);
            const ${H} e0 = (a0 & 0xffffffffUL) * (ulong)CLT_PHILOX_M0;
            const ${H} o0 = (a0 >> 32) * (ulong)CLT_PHILOX_M0;
            const ${H} e1 = (a2 & 0xffffffffUL) * (ulong)CLT_PHILOX_M1;
            const ${H} o1 = (a2 >> 32) * (ulong)CLT_PHILOX_M1;
            const ${U} h0 = as_${U}((e0 >> 32) | (o0 & 0xffffffff00000000UL));
            const ${U} l0 = as_${U}((e0 & 0xffffffffUL) | (o0 << 32));
            const ${U} h1 = as_${U}((e1 >> 32) | (o1 & 0xffffffff00000000UL));
            const ${U} l1 = as_${U}((e1 & 0xffffffffUL) | (o1 << 32));
% endif
            r0 = h1 ^ r1 ^ k0;
            r1 = l1;
            r2 = h0 ^ r3 ^ k1;
            r3 = l0;
        }
% if rnd < 9:
        k0 += CLT_PHILOX_W0; k1 += CLT_PHILOX_W1;
% endif
% endfor
</%def>
## uniform01(prec, width, hi, lo): expression of a uniform in [0, 1) from one word (float: 24 bits,
## (hi >> 8) * 2^-24) or two (double: 53 bits, ((hi >> 5) * 2^26 + (lo >> 6)) * 2^-53, numpy's
## formula; built from int lanes because AVX2 has no vector ulong->double). Exact everywhere.
<%def name="uniform01(prec, width, hi, lo)">\
% if prec == "float":
(${"convert_" + vt("float", width) if width > 1 else "(float)"}(${hi} >> 8) * 0x1p-24f)\
% else:
(${u53(width, hi, lo)} * 0x1p-53)\
% endif
</%def>
## one_minus_uniform: 1 - u in (0, 1], exactly, for logs.
<%def name="one_minus_uniform(prec, width, hi, lo)">\
% if prec == "float":
<% cvt = "convert_" + vt("float", width) if width > 1 else "(float)" %>\
(${cvt}(0x1000000u - (${hi} >> 8)) * 0x1p-24f)\
% else:
((9007199254740992.0 - ${u53(width, hi, lo)}) * 0x1p-53)\
% endif
</%def>
## u53: the 53-bit integer (hi >> 5) * 2^26 + (lo >> 6), as an exact double.
<%def name="u53(width, hi, lo)">\
(${per_lane("double", width, "(double)(int)({0} >> 5)", hi)} * 67108864.0
            + ${per_lane("double", width, "(double)(int)({0} >> 6)", lo)})\
</%def>
## values(dist, prec, width): statements defining v0..v{V-1} (vectors of `width` lanes) from
## r0..r3; value k of block b is lane b of v{k}.
<%def name="values(dist, prec, width)">
<%
    F = vt(prec, width)
    P = prec
    V = values_per_block(dist, prec)
    if prec == "float":
        srcs = [("r0", None), ("r1", None), ("r2", None), ("r3", None)]
    else:
        srcs = [("r0", "r1"), ("r2", "r3")]
%>
% if dist == "uniform":
% for k, (hi, lo) in enumerate(srcs):
        const ${F} v${k} = (${F})(lo) + (${F})(span) * ${uniform01(P, width, hi, lo)};
% endfor
% elif dist in ("normal", "log_normal"):
## Box-Muller, both outputs used: (z0, z1) = sqrt(-2 ln(1 - u1)) * (cos 2 pi u2, sin 2 pi u2)
% for k in range(0, V, 2):
<%
        if prec == "float":
            (h1, l1), (h2, l2) = srcs[k], srcs[k + 1]
        else:
            (h1, l1), (h2, l2) = srcs[0], srcs[1]
%>
        const ${F} rad${k} = sqrt((${F})(-2) * log(${one_minus_uniform(P, width, h1, l1)}));
        const ${F} t${k} = (${F})(2) * ${uniform01(P, width, h2, l2)};
% if dist == "normal":
        const ${F} v${k} = (${F})(mean) + (${F})(std) * (rad${k} * cospi(t${k}));
        const ${F} v${k + 1} = (${F})(mean) + (${F})(std) * (rad${k} * sinpi(t${k}));
% else:
        const ${F} v${k} = exp((${F})(mean) + (${F})(std) * (rad${k} * cospi(t${k})));
        const ${F} v${k + 1} = exp((${F})(mean) + (${F})(std) * (rad${k} * sinpi(t${k})));
% endif
% endfor
% elif dist == "exponential":
% for k, (hi, lo) in enumerate(srcs):
        const ${F} v${k} = log(${one_minus_uniform(P, width, hi, lo)}) * (${F})(neg_inv_lambda);
% endfor
% elif dist == "cauchy":
% for k, (hi, lo) in enumerate(srcs):
        const ${F} v${k} = (${F})(median)
            + (${F})(sigma) * tanpi(${uniform01(P, width, hi, lo)} - (${F})(0.5));
% endfor
% elif dist == "geometric":
% for k, (hi, lo) in enumerate(srcs):
        const ${F} g${k} = ceil(log(${one_minus_uniform(P, width, hi, lo)}) * (${F})(inv_log1m_p));
        // u = 0 gives 0 trials; the support starts at 1
        const ${F} v${k} = ${per_lane(prec, width, "({0} < 1 ? 1 : {0})", "g" + str(k))};
% endfor
% elif dist == "bernoulli_t":
% for k, (hi, lo) in enumerate(srcs):
        const ${F} v${k} = ${uniform01(P, width, hi, lo)};
% endfor
% elif dist == "randint":
## lo + floor(x * range / 2^64) for a 64-bit word pair x: the high half of a 64x64 product, from
## four 32x32->64 products (bias <= range / 2^64). range == 0 stands for 2^64.
<% Lt = vt("ulong", width) %>
        const ulong rh = range >> 32, rl = range & 0xffffffffUL;
% for k, (hi, lo) in enumerate([("r0", "r1"), ("r2", "r3")]):
        const ${Lt} xh${k} = ${per_lane("ulong", width, "(ulong){0}", hi)};
        const ${Lt} xl${k} = ${per_lane("ulong", width, "(ulong){0}", lo)};
        const ${Lt} ll${k} = xl${k} * rl, lh${k} = xl${k} * rh, hl${k} = xh${k} * rl;
        const ${Lt} mid${k} = (ll${k} >> 32) + (lh${k} & 0xffffffffUL) + (hl${k} & 0xffffffffUL);
        const ${Lt} hi${k} = xh${k} * rh + (lh${k} >> 32) + (hl${k} >> 32) + (mid${k} >> 32);
        const ${Lt} v${k} = (ulong)lo + (range == 0 ? ((xh${k} << 32) | xl${k}) : hi${k});
% endfor
% elif dist in ("bernoulli", "dropout"):
## keep = w < thresh: P = thresh / 2^32 exactly; thresh = 2^32 means p = 1. Vector compares give
## -1 for true, hence the negation; computed up front so the stores stay branch-free.
        const uint tl = (uint)thresh;
% for k in range(4):
% if width == 1:
        const int v${k} = (thresh > 0xffffffffUL) ? 1 : (r${k} < tl);
% else:
        const ${vt("int", width)} v${k} = (thresh > 0xffffffffUL) ? (${vt("int", width)})(1)
                                                   : -(r${k} < (${vt("uint", width)})(tl));
% endif
% endfor
% endif
</%def>
## store_value(dist, out_dtype, in_dtype, prec, val, i): statements storing value `val` (a scalar
## lane) as element i.
<%def name="store_value(dist, out_dtype, in_dtype, prec, val, i)">\
% if dist in ("uniform",) and out_dtype == "float16":
vstore_half_rtz((float)(${val}), ${i}, po);\
% elif dist == "randint":
${c.store(out_dtype, "po", i, "(long)(" + val + ")")}\
% elif dist == "bernoulli":
${c.store(out_dtype, "po", i, val)}\
% elif dist == "bernoulli_t":
<% p_i = capture(c.load, in_dtype, "pi", i) %>\
${c.store(out_dtype, "po", i, f"({val} < ({prec}){p_i}) ? 1 : 0")}\
% elif dist == "dropout":
## x * (keep ? scale : 0), as torch's x * mask * scale: NaN and inf stay NaN when dropped
<% x_i = "(" + capture(c.ctype_compute, in_dtype) + ")" + capture(c.load, in_dtype, "pi", i) %>\
pm[${i}] = (uchar)(${val});
${c.store(out_dtype, "po", i, f"{x_i} * (({val}) ? scale : ({prec})0)")}\
% else:
${c.store(out_dtype, "po", i, val)}\
% endif
</%def>
<%def name="generate(name, dist, out_dtype, in_dtype, prec, width, style)">
<%
    V = values_per_block(dist, prec)
    dts = tuple(d for d in (out_dtype, in_dtype) if d) + (("float64",) if prec == "double" else ())
    has_in = dist in ("bernoulli_t", "dropout")
    half8 = (out_dtype == "float16" and dist in FLOAT_DISTS and dist != "bernoulli_t"
             and V == 4 and width > 1)
%>
${c.prelude(dts)}
// Fused multiply-add would make a + b * u round differently from device to device.
#pragma OPENCL FP_CONTRACT OFF
${philox_defs()}
__kernel void ${name}(
    __global ${c.ctype(out_dtype)} *restrict out_g, const ulong out_off,
% if has_in:
    __global const ${c.ctype(in_dtype)} *restrict in_g, const ulong in_off,
% endif
% if dist == "dropout":
    __global uchar *restrict mask_g, const ulong mask_off,
% endif
    const ulong n, const uint key0, const uint key1, const ulong ctr, const ulong chunk\
% for ctype, arg in SCALARS[dist]:
,
    const ${prec if ctype == "S" else ctype} ${arg}\
% endfor
)
{
    __global ${c.ctype(out_dtype)} *restrict po = out_g + out_off;
% if has_in:
    __global const ${c.ctype(in_dtype)} *restrict pi = in_g + in_off;
% endif
% if dist == "dropout":
    __global uchar *restrict pm = mask_g + mask_off;
% endif
    const ulong nblocks = (n + ${V - 1}) / ${V};
% if style == "cpu":
    const ulong b0 = get_global_id(0) * chunk;
    if (b0 >= nblocks) return;
    const ulong b1 = min(b0 + chunk, nblocks);
    for (ulong b = b0; b < b1; b += ${width}) {
% else:
    for (ulong b = get_global_id(0); b < nblocks; b += get_global_size(0)) {
% endif
${philox_block(width, "ctr + b")}
${values(dist, prec, width)}
        const ulong i0 = b * ${V};
        if (i0 + ${V * width} <= n) {
% if half8:
            // eight consecutive values per call: PoCL calls vstore_half out of line
% for j in range(0, width, 2):
            vstore_half8_${"rtz" if dist == "uniform" else "rte"}((float8)(
                ${", ".join(f"v{k}.s{jj:x}" for jj in (j, j + 1) for k in range(4))}),
                0, po + i0 + ${j * 4});
% endfor
% else:
% for j in range(width):
% for k in range(V):
<% val, idx = lane(f"v{k}", j, width), f"i0 + {j * V + k}" %>\
            ${store_value(dist, out_dtype, in_dtype, prec, val, idx)}
% endfor
% endfor
% endif
        } else {
% for j in range(width):
% for k in range(V):
<% val, idx = lane(f"v{k}", j, width), f"i0 + {j * V + k}" %>\
            if (${idx} < n) {
                ${store_value(dist, out_dtype, in_dtype, prec, val, idx)}
            }
% endfor
% endfor
        }
    }
}
</%def>
