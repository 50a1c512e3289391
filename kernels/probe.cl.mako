## probe.cl.mako -- kernels that check a device works and measure it (clt-devices --check/--probe).
## None of them is used by tensor ops. C names: clt_probe_<what>.
<%namespace name="common" file="common.cl.mako"/>
##
## check(name): out[i] = a[i] * b[i] + c[i] for float; the host compares every element.
## Launch: 1-D, global = n, local = None; the guard handles any n.
<%def name="check(name)">
__kernel void ${name}(__global const float *restrict a_g, __global const float *restrict b_g,
                      __global const float *restrict c_g, __global float *restrict out_g,
                      const ulong n)
{
    const ulong i = get_global_id(0);
    if (i >= n) return;
    out_g[i] = a_g[i] * b_g[i] + c_g[i];
}
</%def>
##
## copy(name, style): dst = src over n float4 elements (bandwidth: 32 bytes moved per element).
## style "cpu": each work-item copies a contiguous chunk of `chunk` float4s (vectorises on CPU
##   drivers); global = ceil(n / chunk), local = None.
## style "gpu": one float4 per work-item, consecutive work-items on consecutive addresses
##   (coalesced); global = round_up(n, 256), local = 256.
<%def name="copy(name, style)">
__kernel void ${name}(__global const float4 *restrict src_g, __global float4 *restrict dst_g,
                      const ulong n, const ulong chunk)
{
% if style == "cpu":
    const ulong start = get_global_id(0) * chunk;
    const ulong end = min(start + chunk, n);
    for (ulong i = start; i < end; ++i)
        dst_g[i] = src_g[i];
% else:
    const ulong i = get_global_id(0);
    if (i >= n) return;
    dst_g[i] = src_g[i];
% endif
}
</%def>
##
## fma(name, width, chains): width is 1, 2, 4, 8 or 16. Sustained multiply-add rate. Each work-item runs `chains`
## independent floatW accumulators through `iters` steps of x = x * a + b (written as a*b+c, not
## fma(): PoCL calls built-ins instead of inlining them, and a*b+c contracts to an FMA anyway).
## Flops per work-item: 2 * width * chains * iters. Launch: 1-D, any global size, local = None.
## a and b keep the values bounded (|a| < 1), so no denormals or infinities slow it down.
<%def name="fma(name, width, chains)">
<% vt = "float" if width == 1 else f"float{width}" %>
__kernel void ${name}(__global float *restrict out_g, const float a, const float b,
                      const int iters)
{
    const float seed = (float)get_global_id(0) * 1e-7f;
% for c in range(chains):
    ${vt} x${c} = (${vt})(seed + ${c}.0f * 1e-3f);
% endfor
    for (int k = 0; k < iters; ++k) {
% for c in range(chains):
        x${c} = x${c} * a + b;
% endfor
    }
    ${vt} s = x0;
% for c in range(1, chains):
    s += x${c};
% endfor
## fold the vector to one float so the compiler cannot drop any chain
% if width == 16:
    const float8 s8 = s.lo + s.hi;
% elif width == 8:
    const float8 s8 = s;
% endif
% if width >= 8:
    const float4 s4 = s8.lo + s8.hi;
% elif width == 4:
    const float4 s4 = s;
% endif
% if width >= 4:
    out_g[get_global_id(0)] = (s4.x + s4.y) + (s4.z + s4.w);
% elif width == 2:
    out_g[get_global_id(0)] = s.x + s.y;
% else:
    out_g[get_global_id(0)] = s;
% endif
}
</%def>
##
## half_arith(name): native half arithmetic on n elements: out[i] = float((h * 1.5h + 0.25h) + 1h
## + 1h) with h = half(a[i]). With real per-operation half rounding, 2048 + 1 + 1 stays 2048;
## computed in float it would be 2050. Launch: 1-D, global = n, local = None.
<%def name="half_arith(name)">
${common.prelude((), native_half=True)}
__kernel void ${name}(__global const float *restrict a_g, __global float *restrict out_g,
                      const ulong n)
{
    const ulong i = get_global_id(0);
    if (i >= n) return;
    const half h = (half)a_g[i];
    half y = h * (half)1.5f + (half)0.25f;
    y = y + (half)1.0f;
    y = y + (half)1.0f;
    out_g[i] = (float)y;
}
</%def>
##
## double_arith(name): out[i] = (a[i] + 1e-10) - a[i] in double; float arithmetic would give 0
## for a[i] ~ 1. Launch: 1-D, global = n, local = None.
<%def name="double_arith(name)">
${common.prelude(("float64",))}
__kernel void ${name}(__global const double *restrict a_g, __global double *restrict out_g,
                      const ulong n)
{
    const ulong i = get_global_id(0);
    if (i >= n) return;
    const double x = a_g[i];
    out_g[i] = (x + 1e-10) - x;
}
</%def>
