## optim.cl.mako -- fused optimizer updates and the mixed-precision gradient unscale.
##
## One launch updates up to k parameters completely: gradient sign (maximize), weight decay,
## every moment buffer and the parameter write happen in a single pass over memory, so a step is
## memory-bound (Adam: read p, g, m, v; write p, m, v), and a model's parameters take
## ceil(count / k) launches instead of one each (launch overhead dominates small tensors).
##
## Every def takes (name, dtype, style, k):
##   name   C kernel name, clt_optim_<optimizer>_<dtype tag>
##   dtype  clt dtype name of the parameters, their gradients and their state buffers
##          ("float16", "float32", "float64"); float16 is stored as half and computed as float
##   style  "cpu" | "gpu" (from the device's capability table)
##   k      tensors per launch (the host always uses one k, so each optimizer builds once)
##
## Hyper-parameters are scalar kernel ARGUMENTS of the compute type (float; double for
## float64), never baked into the source: a scheduler that changes lr every step reuses one build.
## Host-side derived values (bias corrections, 1 - beta, the sign of the gradient) are computed in
## Python double precision and passed in; they are shared by the k tensors of a launch (the host
## groups tensors by step count). Int flags pick a loop variant OUTSIDE the loop, so each loop
## body is branch-free and vectorises; a pointer whose flag is off is never dereferenced (the
## host passes any valid buffer there).
##
## Per-tensor arguments (see tensors()): for tensor t, its buffers <buf><t>_g, element offsets
## p<t>_off and g<t>_off (a parameter may be a view; state buffers are the optimizer's own,
## contiguous, offset 0) and its length n<t>. Unused rows of a launch get n<t> = 0.
##
## Launch, style "cpu": 2-D, global = (tensors, ceil(max n / chunk)), local (1, 1) always (PoCL
##   re-JITs a kernel for every new work-group size). The tensor index runs fastest, so PoCL's
##   threads, which take runs of consecutive work-groups, share every tensor's chunks (with the
##   chunk index fastest, one thread took most of the largest tensor). Work-item (t, w) updates
##   the contiguous range [w*chunk, min((w+1)*chunk, n<t>)) of tensor t with 8-wide (float64:
##   4-wide) vload/vstore and a scalar tail. chunk is a multiple of 8.
## Launch, style "gpu": 2-D, global = (min(roundup(max n, 256), 256 * 1024), tensors), local
##   (256, 1); row t runs a grid-stride loop over tensor t, one element per iteration
##   (coalesced).
<%namespace name="c" file="common.cl.mako"/>
<%!
    # vector width of the CPU-style main loop: one 256-bit AVX2 register. double8 would cross the
    # ABI of PoCL's vload8/sqrt calls without AVX-512 (it warns, then crashed at launch)
    def vw(dtype):
        return 4 if dtype == "float64" else 8

    def chain(k, fmt):
        """A ternary chain picking fmt.format(t=<row>) for the row t of a k-tensor launch."""
        expr = fmt.format(t=k - 1)
        for t in range(k - 2, -1, -1):
            expr = f"(t == {t}u ? {fmt.format(t=t)} : {expr})"
        return expr
%>
## vt(dtype, w): the compute type, scalar (w == 1) or w-wide vector.
<%def name="vt(dtype, w)">${c.ctype_compute(dtype)}${"" if w == 1 else w}</%def>
## ld(dtype, ptr, w): load element i (w == 1) or elements i..i+w-1 of ptr in the compute type.
<%def name="ld(dtype, ptr, w)">\
% if w == 1:
${c.load(dtype, ptr, "i")}\
% elif dtype == "float16":
vload_half${w}(0, ${ptr} + i)\
% else:
vload${w}(0, ${ptr} + i)\
% endif
</%def>
## st(dtype, ptr, w, val): store val at element i (or the w elements from i) of ptr.
<%def name="st(dtype, ptr, w, val)">\
% if w == 1:
${c.store(dtype, ptr, "i", val)}\
% elif dtype == "float16":
vstore_half${w}_rte(${val}, 0, ${ptr} + i);\
% else:
vstore${w}(${val}, 0, ${ptr} + i);\
% endif
</%def>
## scalars(dtype, names): one "const <compute type> <name>," argument per space-separated name
## (signatures spell the types out: the host reads scalar argument types from them).
<%def name="scalars(dtype, names)">
% for name in names.split():
    const ${c.ctype_compute(dtype)} ${name},
% endfor
</%def>
## header(dtype): the prelude.
<%def name="header(dtype)">
${c.prelude((dtype,))}
</%def>
## tensors(dtype, k, bufs): the per-tensor arguments of a k-tensor launch. bufs: space-separated
## buffer names, each optionally suffixed ":o" (takes an element offset, <buf><t>_off) and/or
## ":c" (read-only). Each tensor t also takes its length n<t>.
<%def name="tensors(dtype, k, bufs)">
% for t in range(k):
% for spec in bufs.split():
<%
    name, _, flags = spec.partition(":")
    qual = "const " if "c" in flags else ""
    off = f" const ulong {name}{t}_off," if "o" in flags else ""
%>\
    __global ${qual}${c.ctype(dtype)} *restrict ${name}${t}_g,${off}
% endfor
    const ulong n${t},
% endfor
</%def>
## select(dtype, k, bufs, style): the tensor of this work-item row (t = get_global_id(1)): its
## pointers under the plain names <buf>_g (offsets applied), its length n and, CPU style, the
## element range [j0, j1) of this work-item (returns early when it is empty).
<%def name="select(dtype, k, bufs, style)">
% if style == "cpu":
    const uint t = get_global_id(0);
% else:
    const uint t = get_global_id(1);
% endif
% for spec in bufs.split():
<%
    name, _, flags = spec.partition(":")
    qual = "const " if "c" in flags else ""
    ptr = name + "{t}_g" + (" + " + name + "{t}_off" if "o" in flags else "")
%>\
    __global ${qual}${c.ctype(dtype)} *restrict ${name}_g = ${chain(k, ptr)};
% endfor
    const ulong n = ${chain(k, "n{t}")};
% if style == "cpu":
    const ulong j0 = get_global_id(1) * chunk;
    if (j0 >= n) return;
    const ulong j1 = (j0 + chunk < n) ? j0 + chunk : n;
% endif
</%def>
## loops(dtype, style, scalar=False): the element loop(s) around the caller's body, which takes the vector
## width w and refers to element index i.
## scalar: one element per iteration on CPUs too, which PoCL vectorises itself when the body
## makes no built-in calls (SGD: 7-10% faster than vload8/vstore8 on PoCL, which calls them;
## bodies with sqrt keep explicit vectors: scalar Adam ran 2.5x slower)
<%def name="loops(dtype, style, scalar=False)">
% if style == "cpu":
    {
        ulong i = j0;
% if not scalar:
        for (; i + ${vw(dtype)} <= j1; i += ${vw(dtype)}) {
            ${caller.body(w=vw(dtype))}
        }
% endif
        for (; i < j1; ++i) {
            ${caller.body(w=1)}
        }
    }
% else:
    for (ulong i = get_global_id(0); i < n; i += get_global_size(0)) {
        ${caller.body(w=1)}
    }
% endif
</%def>
## sign(dtype, w, x): -1, 0 or 1 (componentwise for vectors; the ternaries compile to selects).
<%def name="sign(dtype, w, x)">\
((${x}) > 0 ? (${vt(dtype, w)})1 : ((${x}) < 0 ? (${vt(dtype, w)})-1 : (${vt(dtype, w)})0))\
</%def>
##
## ------------------------------------------------------------------------------------------
## sgd(name, dtype, style): SGD with momentum, dampening, Nesterov, weight decay, maximize.
##   d = gsign * g + weight_decay * p
##   has_buf: b = first ? d : momentum * b + damp1 * d;  d = nesterov ? d + momentum * b : b
##   p -= lr * d
<%def name="sgd(name, dtype, style, k)">
${header(dtype)}
__kernel void ${name}(
    ${tensors(dtype, k, "p:o g:oc buf")}
    ${scalars(dtype, "gsign weight_decay lr momentum damp1")}
    const int has_buf, const int first, const int nesterov, const ulong chunk)
{
    ${select(dtype, k, "p:o g:oc buf", style)}
% for has_buf in (True, False):
    ${"if (has_buf)" if has_buf else "else"} {
    <%call expr="loops(dtype, style, True)" args="w">
            const ${vt(dtype, w)} p = ${ld(dtype, "p_g", w)};
            ${vt(dtype, w)} d = gsign * ${ld(dtype, "g_g", w)} + weight_decay * p;
% if has_buf:
            // the first step copies d into the buffer, as PyTorch does (no dampening)
            const ${vt(dtype, w)} b = first ? d : momentum * ${ld(dtype, "buf_g", w)} + damp1 * d;
            ${st(dtype, "buf_g", w, "b")}
            d = nesterov ? d + momentum * b : b;
% endif
            ${st(dtype, "p_g", w, "p - lr * d")}
    </%call>
    }
% endfor
}
</%def>
##
## ------------------------------------------------------------------------------------------
## adam(name, dtype, style): Adam / AdamW (amsgrad optional).
##   g = gsign * g + wd_grad * p              (Adam's L2 weight decay; wd_grad = 0 for AdamW)
##   m = m + omb1 * (g - m)                   (torch's lerp with weight 1 - beta1)
##   v = beta2 * v + omb2 * g * g
##   amsgrad: vmax = max(vmax, v), used in place of v below
##   p = p_scale * p - step_size * m / (sqrt(v) / bc2_sqrt + eps)
##   with p_scale = 1 - lr * wd for AdamW (1 for Adam), step_size = lr / (1 - beta1^t),
##   bc2_sqrt = sqrt(1 - beta2^t), all computed on the host from its step counter.
<%def name="adam(name, dtype, style, k)">
${header(dtype)}
__kernel void ${name}(
    ${tensors(dtype, k, "p:o g:oc m v vmax")}
    ${scalars(dtype, "gsign wd_grad p_scale omb1 beta2 omb2 step_size bc2_sqrt eps")}
    const int amsgrad,
    const ulong chunk)
{
    ${select(dtype, k, "p:o g:oc m v vmax", style)}
% for ams in (True, False):
    ${"if (amsgrad)" if ams else "else"} {
    <%call expr="loops(dtype, style)" args="w">
            const ${vt(dtype, w)} p = ${ld(dtype, "p_g", w)};
            const ${vt(dtype, w)} g = gsign * ${ld(dtype, "g_g", w)} + wd_grad * p;
            ${vt(dtype, w)} m = ${ld(dtype, "m_g", w)};
            m = m + omb1 * (g - m);
            ${vt(dtype, w)} v = beta2 * ${ld(dtype, "v_g", w)} + omb2 * g * g;
            ${st(dtype, "m_g", w, "m")}
            ${st(dtype, "v_g", w, "v")}
% if ams:
            const ${vt(dtype, w)} vmax = ${ld(dtype, "vmax_g", w)};
            v = vmax > v ? vmax : v;
            ${st(dtype, "vmax_g", w, "v")}
% endif
            ${st(dtype, "p_g", w, "p_scale * p - step_size * (m / (sqrt(v) / bc2_sqrt + eps))")}
    </%call>
    }
% endfor
}
</%def>
##
## ------------------------------------------------------------------------------------------
## rmsprop(name, dtype, style): RMSprop, optionally centered and with momentum.
##   g = gsign * g + weight_decay * p
##   sq = alpha * sq + oma * g * g
##   centered: ga = ga + oma * (g - ga); avg = sqrt(sq - ga * ga) + eps; else avg = sqrt(sq) + eps
##   has_mom: b = momentum * b + g / avg; p -= lr * b;   else p -= lr * (g / avg)
<%def name="rmsprop(name, dtype, style, k)">
${header(dtype)}
__kernel void ${name}(
    ${tensors(dtype, k, "p:o g:oc sq gavg buf")}
    ${scalars(dtype, "gsign weight_decay lr alpha oma eps momentum")}
    const int centered, const int has_mom, const ulong chunk)
{
    ${select(dtype, k, "p:o g:oc sq gavg buf", style)}
% for k, (cen, mom) in enumerate(((True, True), (True, False), (False, True), (False, False))):
<% cond = f"(centered == {int(cen)} && has_mom == {int(mom)})" %>
    ${("if " + cond) if k == 0 else ("else if " + cond) if k < 3 else "else"} {
    <%call expr="loops(dtype, style)" args="w">
            ${vt(dtype, w)} p = ${ld(dtype, "p_g", w)};
            const ${vt(dtype, w)} g = gsign * ${ld(dtype, "g_g", w)} + weight_decay * p;
            const ${vt(dtype, w)} sq = alpha * ${ld(dtype, "sq_g", w)} + oma * g * g;
            ${st(dtype, "sq_g", w, "sq")}
% if cen:
            ${vt(dtype, w)} ga = ${ld(dtype, "gavg_g", w)};
            ga = ga + oma * (g - ga);
            ${st(dtype, "gavg_g", w, "ga")}
            const ${vt(dtype, w)} avg = sqrt(sq - ga * ga) + eps;
% else:
            const ${vt(dtype, w)} avg = sqrt(sq) + eps;
% endif
% if mom:
            const ${vt(dtype, w)} b = momentum * ${ld(dtype, "buf_g", w)} + g / avg;
            ${st(dtype, "buf_g", w, "b")}
            p = p - lr * b;
% else:
            p = p - lr * (g / avg);
% endif
            ${st(dtype, "p_g", w, "p")}
    </%call>
    }
% endfor
}
</%def>
##
## ------------------------------------------------------------------------------------------
## adagrad(name, dtype, style): Adagrad.
##   g = gsign * g + weight_decay * p;  s += g * g;  p -= clr * (g / (sqrt(s) + eps))
##   clr = lr / (1 + (t - 1) * lr_decay) from the host's step counter.
<%def name="adagrad(name, dtype, style, k)">
${header(dtype)}
__kernel void ${name}(
    ${tensors(dtype, k, "p:o g:oc sum")}
    ${scalars(dtype, "gsign weight_decay clr eps")}
    const ulong chunk)
{
    ${select(dtype, k, "p:o g:oc sum", style)}
    <%call expr="loops(dtype, style)" args="w">
            const ${vt(dtype, w)} p = ${ld(dtype, "p_g", w)};
            const ${vt(dtype, w)} g = gsign * ${ld(dtype, "g_g", w)} + weight_decay * p;
            const ${vt(dtype, w)} s = ${ld(dtype, "sum_g", w)} + g * g;
            ${st(dtype, "sum_g", w, "s")}
            ${st(dtype, "p_g", w, "p - clr * (g / (sqrt(s) + eps))")}
    </%call>
}
</%def>
##
## ------------------------------------------------------------------------------------------
## adadelta(name, dtype, style): Adadelta.
##   g = gsign * g + weight_decay * p
##   sq = rho * sq + omr * g * g
##   delta = sqrt(acc + eps) / sqrt(sq + eps) * g
##   acc = rho * acc + omr * delta * delta;  p -= lr * delta
<%def name="adadelta(name, dtype, style, k)">
${header(dtype)}
__kernel void ${name}(
    ${tensors(dtype, k, "p:o g:oc sq acc")}
    ${scalars(dtype, "gsign weight_decay lr rho omr eps")}
    const ulong chunk)
{
    ${select(dtype, k, "p:o g:oc sq acc", style)}
    <%call expr="loops(dtype, style)" args="w">
            const ${vt(dtype, w)} p = ${ld(dtype, "p_g", w)};
            const ${vt(dtype, w)} g = gsign * ${ld(dtype, "g_g", w)} + weight_decay * p;
            const ${vt(dtype, w)} sq = rho * ${ld(dtype, "sq_g", w)} + omr * g * g;
            ${st(dtype, "sq_g", w, "sq")}
            const ${vt(dtype, w)} acc = ${ld(dtype, "acc_g", w)};
            const ${vt(dtype, w)} delta = sqrt(acc + eps) / sqrt(sq + eps) * g;
            ${st(dtype, "acc_g", w, "rho * acc + omr * delta * delta")}
            ${st(dtype, "p_g", w, "p - lr * delta")}
    </%call>
}
</%def>
##
## ------------------------------------------------------------------------------------------
## lion(name, dtype, style): Lion (Chen et al. 2023, "Symbolic Discovery of Optimization
## Algorithms"), decoupled weight decay.
##   g = gsign * g;  p = p_scale * p - lr * sign(beta1 * m + omb1 * g);  m = beta2 * m + omb2 * g
<%def name="lion(name, dtype, style, k)">
${header(dtype)}
__kernel void ${name}(
    ${tensors(dtype, k, "p:o g:oc m")}
    ${scalars(dtype, "gsign p_scale lr beta1 omb1 beta2 omb2")}
    const ulong chunk)
{
    ${select(dtype, k, "p:o g:oc m", style)}
    <%call expr="loops(dtype, style)" args="w">
            const ${vt(dtype, w)} p = ${ld(dtype, "p_g", w)};
            const ${vt(dtype, w)} g = gsign * ${ld(dtype, "g_g", w)};
            const ${vt(dtype, w)} m = ${ld(dtype, "m_g", w)};
            const ${vt(dtype, w)} u = beta1 * m + omb1 * g;
            ${st(dtype, "p_g", w, "p_scale * p - lr * " + capture(sign, dtype, w, "u"))}
            ${st(dtype, "m_g", w, "beta2 * m + omb2 * g")}
    </%call>
}
</%def>
##
## ------------------------------------------------------------------------------------------
## unscale(name, dtype, style): GradScaler's unscale with the inf/NaN check, in one pass.
##   found_g[0] = 1 if any g is inf or NaN (checked before scaling, as PyTorch); g *= inv_scale.
##   found_g: one int, zeroed by the host before the first launch of a step; work-items only
##   ever write 1 to it, so concurrent writes agree.
## Non-finite test: x - x is 0 for finite x and NaN for inf/NaN (no isfinite() call, which PoCL
## does not inline); clt never builds with -cl-fast-relaxed-math, which would fold it to 0.
<%def name="unscale(name, dtype, style, k)">
${header(dtype)}
<% mask = "long" if dtype == "float64" else "int" %>
__kernel void ${name}(
    ${tensors(dtype, k, "g:o")}
    __global int *restrict found_g,
    ${scalars(dtype, "inv_scale")}
    const ulong chunk)
{
    ${select(dtype, k, "g:o", style)}
    int bad = 0;
% if style == "cpu":
    ${mask}${vw(dtype)} badv = (${mask}${vw(dtype)})0;
% endif
    <%call expr="loops(dtype, style)" args="w">
            const ${vt(dtype, w)} x = ${ld(dtype, "g_g", w)};
% if w == 1:
            bad |= (x - x) != 0;
% else:
            badv |= (x - x) != (${vt(dtype, w)})0;
% endif
            ${st(dtype, "g_g", w, "x * inv_scale")}
    </%call>
% if style == "cpu":
    bad |= any(badv);
% endif
    if (bad) found_g[0] = 1;
}
</%def>
