## common.cl.mako -- the prelude and load/store helpers shared by every clt kernel. Defines no kernels.
## Dtypes are passed to templates by clt name ("float32", "bool", ...); these helpers map them to C.
<%!
    STORAGE = {"bool": "uchar", "uint8": "uchar", "int8": "char", "int16": "short",
               "int32": "int", "int64": "long", "float16": "half", "float32": "float",
               "float64": "double"}
    COMPUTE = dict(STORAGE, float16="float")
%>
## prelude(dtypes, native_half): pragmas the listed dtypes need. Half *storage* needs no extension
## (vload_half/vstore_half are core); native half arithmetic does.
<%def name="prelude(dtypes, native_half=False)">
% if "float64" in dtypes:
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
% endif
% if native_half:
#pragma OPENCL EXTENSION cl_khr_fp16 : enable
% endif
</%def>
<%def name="ctype(dtype)">${STORAGE[dtype]}</%def>
<%def name="ctype_compute(dtype)">${COMPUTE[dtype]}</%def>
## load(dtype, ptr, idx): an expression reading element idx of ptr, in the compute type.
<%def name="load(dtype, ptr, idx)">\
% if dtype == "float16":
vload_half(${idx}, ${ptr})\
% else:
${ptr}[${idx}]\
% endif
</%def>
## store(dtype, ptr, idx, val): a statement writing val (any arithmetic type) to element idx.
<%def name="store(dtype, ptr, idx, val)">\
% if dtype == "float16":
vstore_half_rte((float)(${val}), ${idx}, ${ptr});\
% elif dtype == "bool":
${ptr}[${idx}] = (uchar)((${val}) != 0);\
% else:
${ptr}[${idx}] = (${STORAGE[dtype]})(${val});\
% endif
</%def>
