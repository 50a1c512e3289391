## matmul.cl.mako -- the GEMM family: out = alpha * (A @ B) + beta * C, batched, any strides.
##
## Every operand is (batch..., rows, cols) with strides in ELEMENTS passed as kernel arguments, so
## one build serves every shape and layout (transposed views are read in place). Batch: up to two
## (collapsed) batch dims; work-item dim 2 is the flat batch index bt = bt0 * nb1 + bt1, and each
## operand adds bt0 * X_bs.s0 + bt1 * X_bs.s1 to its offset (stride 0 = broadcast).
## C (the addend) is read only when has_c != 0; pass any buffer otherwise. C and out may alias
## exactly (same element read then written by one work-item), so neither is `restrict`.
##
## pack(name, src_dtype, dst_dtype)
##   Copies a strided (K x C) matrix into panels of P columns: dst[p][k][j] = src[k, p*P + j],
##   zero for p*P + j >= C, converting to dst_dtype (the GEMM compute type).
##   Launch: global (ceil(C / P), ceil(K / kchunk), batches), local (1, 1, 1); each work-item
##   copies rows [k0, k0 + kchunk) of one panel. dst batch stride dst_bs.
##
## gemm_cpu(name, compute, out_dtype, mr, nv, vw)   -- style "cpu" (PoCL and other CPU drivers)
##   compute    clt dtype name of A, B and the accumulators ("float32", "float64", "int32",
##              "int64"); other dtypes are packed into it first (float16 -> float32, ...)
##   out_dtype  clt dtype name of out and C (stored with a cast, e.g. float -> half)
##   mr, nv, vw register tile: mr rows x (nv * vw) columns, held in mr * nv vectors of width vw
##              (6 x 2 x float8 = 12 accumulators + 2 B vectors + 1 broadcast = 15 of AVX2's 16)
##   A element (i, k) is at a_off + (i / mr) * a_sp + (i % mr) * a_sm + k * a_sk: a strided view
##   (a_sp = mr * a_sm) or a packed panel layout [M/mr][K][mr] (a_sm = 1, a_sk = mr, a_sp = mr*K).
##   Rows past M are clamped to M - 1, so loads stay in bounds without branches in the loop.
##   B element (k, j) is at b_off + (j / nr) * b_sp + (j % nr) * b_sn + k * b_sk. When b_sn == 1 and
##   the panel is whole (or b_padded: packed and zero-padded) a row of nr is read as nv vectors;
##   otherwise (edge panels of an unpacked B, or b_sn != 1) as nr clamped scalar loads.
##   Launch: global (ceil(N / nr), ceil(M / (mr * tiles)), batches), local (1, 1, 1) always (PoCL
##   re-JITs every new local size). Each work-item computes `tiles` vertically adjacent mr x nr
##   tiles of one column panel, so its B panel is reused from cache `tiles` times while
##   consecutive work-items (dim 0) share the same rows of A.
##
## gemm_gpu(name, a_dtype, b_dtype, out_dtype, compute, tm, tn, tk, wm, wn)  -- style "gpu"
##   Local-memory tiled: a work-group computes a tm x tn tile of out, staging tm x tk of A and
##   tk x tn of B in local memory per step; each work-item computes wm x wn outputs at rows
##   ly + i * (tm / wm) and columns lx + j * (tn / wn) (strided so neighbours coalesce).
##   A and B are read in place with strides (any dtype; half via vload_half) and bounds checks.
##   Launch: local (tn / wn, tm / wm, 1), global (ceil(N / tn) * tn / wn, ceil(M / tm) * tm / wm,
##   batches); work-items past M or N load zeros and skip the store.
<%namespace name="c" file="common.cl.mako"/>
## vtype_u(dtype, vw): an unaligned vector typedef. PoCL makes vloadN/vstoreN real calls, which
## spill every accumulator around them; dereferencing an element-aligned vector pointer compiles
## to one vmovups.
<%def name="vtype_u(dtype, vw)">clt_${c.ctype(dtype)}${vw}_u</%def>
<%def name="vtypedefs(dtypes, vw)">
% for dt in sorted(set(dtypes)):
% if dt != "float16":
typedef ${c.ctype(dt)}${vw} ${vtype_u(dt, vw)} __attribute__((aligned(sizeof(${c.ctype(dt)}))));
% endif
% endfor
</%def>
## vec_load / vec_store: vw elements at ptr, in the compute type (half converts; epilogue only).
<%def name="vec_load(dtype, compute, vw, ptr)">\
% if dtype == "float16":
vload_half${vw}(0, ${ptr})\
% elif capture(c.ctype, dtype) == compute:
(*(__global const ${vtype_u(dtype, vw)} *)(${ptr}))\
% else:
convert_${compute}${vw}(*(__global const ${vtype_u(dtype, vw)} *)(${ptr}))\
% endif
</%def>
<%def name="vec_store(dtype, compute, vw, ptr, val)">\
% if dtype == "float16":
vstore_half${vw}_rte(${val}, 0, ${ptr});\
% elif capture(c.ctype, dtype) == compute:
*(__global ${vtype_u(dtype, vw)} *)(${ptr}) = ${val};\
% else:
*(__global ${vtype_u(dtype, vw)} *)(${ptr}) = convert_${c.ctype(dtype)}${vw}(${val});\
% endif
</%def>
##
<%def name="batch_offsets()">
    const long bt = get_global_id(2);
    const long bt0 = bt / nb1, bt1 = bt - bt0 * nb1;
</%def>
##
<%def name="pack(name, src_dtype, dst_dtype)">
${c.prelude((src_dtype, dst_dtype))}
${vtypedefs((src_dtype,), 8)}
__kernel void ${name}(
    __global ${c.ctype(dst_dtype)} *restrict dst_g, const long dst_bs,
    __global const ${c.ctype(src_dtype)} *restrict src_g, const ulong src_off,
    const long s_k, const long s_c, const long2 s_bs,
    const long K, const long C, const long P, const long kchunk, const long nb1)
{
    const long p = get_global_id(0);
    const long k0 = get_global_id(1) * kchunk;
    ${batch_offsets()}
    const long k1 = (k0 + kchunk < K) ? k0 + kchunk : K;
    __global const ${c.ctype(src_dtype)} *src = src_g + src_off + bt0 * s_bs.s0 + bt1 * s_bs.s1
                                               + p * P * s_c;
    __global ${c.ctype(dst_dtype)} *dst = dst_g + bt * dst_bs + p * K * P;
    const long nc = (C - p * P < P) ? C - p * P : P;
    if (s_c == 1) {
        // rows of the panel are contiguous in the source: plain copies the compiler vectorises
        for (long k = k0; k < k1; ++k) {
            __global const ${c.ctype(src_dtype)} *s = src + k * s_k;
            __global ${c.ctype(dst_dtype)} *d = dst + k * P;
            for (long j = 0; j < nc; ++j) {
                ${c.store(dst_dtype, "d", "j", capture(c.load, src_dtype, "s", "j"))}
            }
            for (long j = nc; j < P; ++j) d[j] = 0;
        }
% if capture(c.ctype, src_dtype) == capture(c.ctype, dst_dtype):
    } else if (s_k == 1) {
        // columns contiguous (a transposed view): transpose 8 x P blocks, reading each of the
        // P source columns 8 elements at a time
        const long kb = k0 + (k1 - k0) / 8 * 8;
        for (long k = k0; k < kb; k += 8) {
            __global ${c.ctype(dst_dtype)} *d = dst + k * P;
            for (long j = 0; j < nc; ++j) {
                const ${c.ctype(src_dtype)}8 v = *(__global const ${vtype_u(src_dtype, 8)} *)(src + j * s_c + k);
% for e in range(8):
                d[${e} * P + j] = v.s${e};
% endfor
            }
            for (long j = nc; j < P; ++j) {
% for e in range(8):
                d[${e} * P + j] = 0;
% endfor
            }
        }
        for (long k = kb; k < k1; ++k) {
            __global ${c.ctype(dst_dtype)} *d = dst + k * P;
            for (long j = 0; j < nc; ++j) d[j] = src[j * s_c + k];
            for (long j = nc; j < P; ++j) d[j] = 0;
        }
% endif
    } else {
        // strided source (e.g. a transposed view): each row of the panel gathers P elements,
        // one from each of P source streams that all advance sequentially with k
        for (long k = k0; k < k1; ++k) {
            __global const ${c.ctype(src_dtype)} *s = src + k * s_k;
            __global ${c.ctype(dst_dtype)} *d = dst + k * P;
            for (long j = 0; j < nc; ++j) {
                ${c.store(dst_dtype, "d", "j", capture(c.load, src_dtype, "s", "j * s_c"))}
            }
            for (long j = nc; j < P; ++j) d[j] = 0;
        }
    }
}
</%def>
##
## epilogue(...): `val` (compute type) -> alpha * val + beta * C -> out, for one scalar element.
<%def name="scalar_epilogue(out_dtype, T, val, op, oidx, cp, cidx)">
                    ${T} v_ = alpha * ${val};
                    if (has_c) v_ = beta * (${T})(${c.load(out_dtype, cp, cidx)}) + v_;
                    ${c.store(out_dtype, op, oidx, "v_")}
</%def>
##
<%def name="gemm_cpu(name, compute, out_dtype, mr, nv, vw)">
${c.prelude((compute, out_dtype))}
<%
    T = capture(c.ctype, compute)
    V = f"{T}{vw}"
    nr = nv * vw
    O = capture(c.ctype, out_dtype)
%>
${vtypedefs((compute, out_dtype), vw)}
__kernel void ${name}(
    __global ${O} *out_g, const ulong out_off, const long out_sm, const long out_sn,
    const long2 out_bs,
    __global const ${T} *restrict a_g, const ulong a_off, const long a_sm, const long a_sk,
    const long a_sp, const long2 a_bs,
    __global const ${T} *restrict b_g, const ulong b_off, const long b_sn, const long b_sk,
    const long b_sp, const long2 b_bs, const int b_padded,
    __global const ${O} *c_g, const ulong c_off, const long c_sm, const long c_sn,
    const long2 c_bs,
    const long M, const long N, const long K, const long nb1, const long tiles,
    const ${T} alpha, const ${T} beta, const int has_c)
{
    const long jp = get_global_id(0);
    const long ib = get_global_id(1);
    ${batch_offsets()}
    const long j0 = jp * ${nr};
    const long nrem = N - j0;
    __global const ${T} *a_base = a_g + a_off + bt0 * a_bs.s0 + bt1 * a_bs.s1;
    __global const ${T} *b_pan = b_g + b_off + bt0 * b_bs.s0 + bt1 * b_bs.s1 + jp * b_sp;
    __global ${O} *o_base = out_g + out_off + bt0 * out_bs.s0 + bt1 * out_bs.s1 + j0 * out_sn;
    __global const ${O} *c_base = c_g + c_off + bt0 * c_bs.s0 + bt1 * c_bs.s1 + j0 * c_sn;
    const int b_vec = b_sn == 1 && (b_padded || nrem >= ${nr});
    // column offsets for the scalar path, clamped to the last column (results there are dropped)
% for e in range(nr):
    const long bo${e} = (nrem - 1 < ${e} ? nrem - 1 : ${e}) * b_sn;
% endfor
    for (long t = 0; t < tiles; ++t) {
        const long i0 = (ib * tiles + t) * ${mr};
        if (i0 >= M) break;
        const long rem = M - 1 - i0;
        __global const ${T} *ap = a_base + (i0 / ${mr}) * a_sp;
% for r in range(mr):
        const long ao${r} = (rem < ${r} ? rem : ${r}) * a_sm;
% endfor
% for r in range(mr):
        ${V} ${", ".join(f"acc{r}_{v} = 0" for v in range(nv))};
% endfor
        __global const ${T} *bp = b_pan;
        if (b_vec) {
            for (long k = 0; k < K; ++k) {
% for v in range(nv):
                const ${V} b${v} = ${vec_load(compute, T, vw, f"bp + {v * vw}")};
% endfor
                ${fma_rows(T, mr, nv)}
                ap += a_sk;
                bp += b_sk;
            }
        } else {
            for (long k = 0; k < K; ++k) {
% for v in range(nv):
                const ${V} b${v} = (${V})(${", ".join(f"bp[bo{v * vw + e}]" for e in range(vw))});
% endfor
                ${fma_rows(T, mr, nv)}
                ap += a_sk;
                bp += b_sk;
            }
        }
        __global ${O} *op = o_base + i0 * out_sm;
        __global const ${O} *cp = c_base + i0 * c_sm;
        if (rem >= ${mr - 1} && nrem >= ${nr} && out_sn == 1 && (!has_c || c_sn == 1)) {
% for r in range(mr):
% for v in range(nv):
            {
                ${V} val = alpha * acc${r}_${v};
                if (has_c) val = beta * ${vec_load(out_dtype, T, vw, f"cp + {r} * c_sm + {v * vw}")} + val;
                ${vec_store(out_dtype, T, vw, f"op + {r} * out_sm + {v * vw}", "val")}
            }
% endfor
% endfor
        } else {
            // edge tile or strided out: go through a private copy of the accumulators
            ${T} tmp[${nr}];
            const long nc = nrem < ${nr} ? nrem : ${nr};
% for r in range(mr):
            if (${r} <= rem) {
% for v in range(nv):
                *(${vtype_u(compute, vw)} *)(tmp + ${v * vw}) = acc${r}_${v};
% endfor
                for (long j = 0; j < nc; ++j) {
                    ${scalar_epilogue(out_dtype, T, "tmp[j]", "op", f"{r} * out_sm + j * out_sn", "cp", f"{r} * c_sm + j * c_sn")}
                }
            }
% endfor
        }
    }
}
</%def>
## fma_rows: acc{r}_{v} += a{r} * b{v} for the mr x nv tile (PoCL does not inline fma(); LLVM
## contracts a * b + c into vfmadd by itself).
<%def name="fma_rows(T, mr, nv)">
% for r in range(mr):
                const ${T} a${r} = ap[ao${r}];
% for v in range(nv):
                acc${r}_${v} = a${r} * b${v} + acc${r}_${v};
% endfor
% endfor
</%def>
##
<%def name="gemm_gpu(name, a_dtype, b_dtype, out_dtype, compute, tm, tn, tk, wm, wn)">
${c.prelude((a_dtype, b_dtype, out_dtype, compute))}
<%
    T = capture(c.ctype, compute)
    O = capture(c.ctype, out_dtype)
    lx, ly = tn // wn, tm // wm
    nthreads = lx * ly
%>
__attribute__((reqd_work_group_size(${lx}, ${ly}, 1)))
__kernel void ${name}(
    __global ${O} *out_g, const ulong out_off, const long out_sm, const long out_sn,
    const long2 out_bs,
    __global const ${c.ctype(a_dtype)} *restrict a_g, const ulong a_off, const long a_sm,
    const long a_sk, const long2 a_bs,
    __global const ${c.ctype(b_dtype)} *restrict b_g, const ulong b_off, const long b_sk,
    const long b_sn, const long2 b_bs,
    __global const ${O} *c_g, const ulong c_off, const long c_sm, const long c_sn,
    const long2 c_bs,
    const long M, const long N, const long K, const long nb1,
    const ${T} alpha, const ${T} beta, const int has_c)
{
    // +1 column of padding keeps the k-major tiles free of local-memory bank conflicts
    __local ${T} a_l[${tk}][${tm + 1}];
    __local ${T} b_l[${tk}][${tn + 1}];
    const int tx = get_local_id(0), ty = get_local_id(1);
    const int tid = ty * ${lx} + tx;
    const long m0 = (long)get_group_id(1) * ${tm};
    const long n0 = (long)get_group_id(0) * ${tn};
    ${batch_offsets()}
    __global const ${c.ctype(a_dtype)} *ap = a_g + a_off + bt0 * a_bs.s0 + bt1 * a_bs.s1;
    __global const ${c.ctype(b_dtype)} *bp = b_g + b_off + bt0 * b_bs.s0 + bt1 * b_bs.s1;
    ${T} acc[${wm}][${wn}];
    for (int i = 0; i < ${wm}; ++i)
        for (int j = 0; j < ${wn}; ++j) acc[i][j] = 0;
    for (long k0 = 0; k0 < K; k0 += ${tk}) {
        for (int e = tid; e < ${tm * tk}; e += ${nthreads}) {
            // consecutive work-items take consecutive rows: coalesced when A is column-major,
            // and each row's tk run is one cache line when A is row-major
            const int mi = e % ${tm}, ki = e / ${tm};
            const long gm = m0 + mi, gk = k0 + ki;
            a_l[ki][mi] = (gm < M && gk < K)
                ? (${T})(${c.load(a_dtype, "ap", "gm * a_sm + gk * a_sk")}) : (${T})0;
        }
        for (int e = tid; e < ${tn * tk}; e += ${nthreads}) {
            const int ni = e % ${tn}, ki = e / ${tn};
            const long gn = n0 + ni, gk = k0 + ki;
            b_l[ki][ni] = (gn < N && gk < K)
                ? (${T})(${c.load(b_dtype, "bp", "gk * b_sk + gn * b_sn")}) : (${T})0;
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int kk = 0; kk < ${tk}; ++kk) {
            ${T} av[${wm}], bv[${wn}];
            for (int i = 0; i < ${wm}; ++i) av[i] = a_l[kk][ty + i * ${ly}];
            for (int j = 0; j < ${wn}; ++j) bv[j] = b_l[kk][tx + j * ${lx}];
            for (int i = 0; i < ${wm}; ++i)
                for (int j = 0; j < ${wn}; ++j) acc[i][j] = av[i] * bv[j] + acc[i][j];
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    __global ${O} *op = out_g + out_off + bt0 * out_bs.s0 + bt1 * out_bs.s1;
    __global const ${O} *cp = c_g + c_off + bt0 * c_bs.s0 + bt1 * c_bs.s1;
    for (int i = 0; i < ${wm}; ++i) {
        const long gm = m0 + ty + i * ${ly};
        if (gm >= M) break;
        for (int j = 0; j < ${wn}; ++j) {
            const long gn = n0 + tx + j * ${lx};
            if (gn < N) {
                ${scalar_epilogue(out_dtype, T, "acc[i][j]", "op", "gm * out_sm + gn * out_sn", "cp", "gm * c_sm + gn * c_sn")}
            }
        }
    }
}
</%def>
##
## gemv(name, in_dtype, compute, out_dtype, vw)   -- matrix-vector, memory bound, style "cpu"
##   out[r] = alpha * sum_k mat[r, k] * vec[k] + beta * C[r] for r < rows (strides o_s, c_s).
##   mat element (r, k) at m_off + r * m_sr + k * m_sc; vec element k at v_off + k * v_s.
##   Three loops, picked at run time from the strides: m_sc == 1 (rows contiguous: vw-wide dot
##   products, four rows sharing each load of vec), m_sr == 1 (columns contiguous: vw-wide axpy
##   over rows), otherwise scalar.
##   Launch: global (ceil(rows / rpi), 1, batches), local (1, 1, 1); each work-item owns rows
##   [r0, r0 + rpi), rpi a multiple of vw.
<%def name="gemv(name, in_dtype, compute, out_dtype, vw)">
${c.prelude((in_dtype, compute, out_dtype))}
<%
    T = capture(c.ctype, compute)
    I = capture(c.ctype, in_dtype)
    O = capture(c.ctype, out_dtype)
    V = f"{T}{vw}"
    vec_ok = I == T
    sum_v = " + ".join(f"{{x}}.s{e:x}" for e in range(vw))
%>
${vtypedefs((compute,), vw)}
inline ${T} clt_hsum(const ${V} x) { return ${sum_v.format(x="x")}; }
__kernel void ${name}(
    __global ${O} *out_g, const ulong out_off, const long o_s, const long2 out_bs,
    __global const ${I} *restrict m_g, const ulong m_off, const long m_sr, const long m_sc,
    const long2 m_bs,
    __global const ${I} *restrict v_g, const ulong v_off, const long v_s, const long2 v_bs,
    __global const ${O} *c_g, const ulong c_off, const long c_s, const long2 c_bs,
    const long rows, const long K, const long nb1, const long rpi,
    const ${T} alpha, const ${T} beta, const int has_c)
{
    ${batch_offsets()}
    const long r0 = get_global_id(0) * rpi;
    const long r1 = (r0 + rpi < rows) ? r0 + rpi : rows;
    __global const ${I} *mp = m_g + m_off + bt0 * m_bs.s0 + bt1 * m_bs.s1;
    __global const ${I} *vp = v_g + v_off + bt0 * v_bs.s0 + bt1 * v_bs.s1;
    __global ${O} *op = out_g + out_off + bt0 * out_bs.s0 + bt1 * out_bs.s1;
    __global const ${O} *cp = c_g + c_off + bt0 * c_bs.s0 + bt1 * c_bs.s1;
% if vec_ok:
    if (m_sc == 1 && v_s == 1) {
        const long kv = K - K % ${vw};
        long r = r0;
        for (; r + 4 <= r1; r += 4) {
            __global const ${T} *m0 = mp + r * m_sr;
            ${V} acc0 = 0, acc1 = 0, acc2 = 0, acc3 = 0;
            for (long k = 0; k < kv; k += ${vw}) {
                const ${V} x = ${vec_load(compute, T, vw, "vp + k")};
                acc0 = ${vec_load(compute, T, vw, "m0 + k")} * x + acc0;
                acc1 = ${vec_load(compute, T, vw, "m0 + m_sr + k")} * x + acc1;
                acc2 = ${vec_load(compute, T, vw, "m0 + 2 * m_sr + k")} * x + acc2;
                acc3 = ${vec_load(compute, T, vw, "m0 + 3 * m_sr + k")} * x + acc3;
            }
            ${T} s[4] = {clt_hsum(acc0), clt_hsum(acc1), clt_hsum(acc2), clt_hsum(acc3)};
            for (long k = kv; k < K; ++k) {
                const ${T} x = vp[k];
                for (int q = 0; q < 4; ++q) s[q] = m0[q * m_sr + k] * x + s[q];
            }
            for (int q = 0; q < 4; ++q) {
                ${scalar_epilogue(out_dtype, T, "s[q]", "op", "(r + q) * o_s", "cp", "(r + q) * c_s")}
            }
        }
        for (; r < r1; ++r) {
            __global const ${T} *m0 = mp + r * m_sr;
            ${V} acc = 0;
            for (long k = 0; k < kv; k += ${vw})
                acc = ${vec_load(compute, T, vw, "m0 + k")} * ${vec_load(compute, T, vw, "vp + k")} + acc;
            ${T} s = clt_hsum(acc);
            for (long k = kv; k < K; ++k) s = m0[k] * vp[k] + s;
            ${scalar_epilogue(out_dtype, T, "s", "op", "r * o_s", "cp", "r * c_s")}
        }
        return;
    }
    if (m_sr == 1) {
        for (long r = r0; r < r1; r += ${vw}) {
            if (r + ${vw} <= r1) {
                ${V} acc = 0;
                __global const ${T} *m0 = mp + r;
                for (long k = 0; k < K; ++k)
                    acc = ${vec_load(compute, T, vw, "m0 + k * m_sc")} * vp[k * v_s] + acc;
                ${T} tmp[${vw}];
                *(${vtype_u(compute, vw)} *)tmp = acc;
                for (int q = 0; q < ${vw}; ++q) {
                    ${scalar_epilogue(out_dtype, T, "tmp[q]", "op", "(r + q) * o_s", "cp", "(r + q) * c_s")}
                }
            } else {
                for (long q = r; q < r1; ++q) {
                    ${T} s = 0;
                    for (long k = 0; k < K; ++k) s = mp[q + k * m_sc] * vp[k * v_s] + s;
                    ${scalar_epilogue(out_dtype, T, "s", "op", "q * o_s", "cp", "q * c_s")}
                }
            }
        }
        return;
    }
% endif
    for (long r = r0; r < r1; ++r) {
        ${T} s = 0;
        for (long k = 0; k < K; ++k) {
            s = (${T})(${c.load(in_dtype, "mp", "r * m_sr + k * m_sc")})
                * (${T})(${c.load(in_dtype, "vp", "k * v_s")}) + s;
        }
        ${scalar_epilogue(out_dtype, T, "s", "op", "r * o_s", "cp", "r * c_s")}
    }
}
</%def>
