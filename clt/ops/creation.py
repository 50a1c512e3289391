"""Tensors made from a rule rather than data: full, zeros, ones, arange, linspace, logspace, eye.

Each is one elementwise map (``kernels/elementwise.cl.mako``) over the output's linear index
``lin``, with the parameters as scalar kernel arguments, so one build serves every size.
Lengths, dtype inference and error messages follow PyTorch.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from clt import dtypes as D
from clt.backend.device import Device
from clt.dtypes import DType
from clt.errors import DTypeError
from clt.ops import elementwise as ew
from clt.ops import shapes
from clt.ops.array import Array


def _number(x: Any, op: str, name: str) -> int | float:
    if isinstance(x, (bool, np.bool_)):
        return int(x)
    if isinstance(x, (int, np.integer)):
        return int(x)
    if isinstance(x, (float, np.floating)):
        return float(x)
    raise TypeError(f"{op}(): argument '{name}' must be a number, not {type(x).__name__}")


def _dtype(dtype: Any, device: Device) -> DType:
    dt = D.as_dtype(dtype)
    D.check_device_dtype(dt, device)
    return dt


def full(device: Device, shape: Any, fill_value: Any, dtype: Any = None) -> Array:
    """A new array of ``shape`` filled with ``fill_value``.

    Without ``dtype``: bool for a bool, int64 for an int, the default float dtype for a float.
    """
    value = _number(fill_value, "full", "fill_value") if not isinstance(
        fill_value, (bool, np.bool_)) else bool(fill_value)
    if dtype is None:
        dt = D.result_type(value)
    else:
        dt = D.as_dtype(dtype)
    D.check_device_dtype(dt, device)
    if isinstance(value, float) and not dt.is_floating_point and not math.isfinite(value):
        raise ValueError(f"full(): cannot fill {dt.name} with {value}")
    out = Array.empty(device, shapes.as_shape(shape), dt)
    return ew.fill_(out, value)


def zeros(device: Device, shape: Any, dtype: Any = None) -> Array:
    """A new array of zeros (default float dtype unless ``dtype`` is given)."""
    return full(device, shape, 0, D.get_default_dtype() if dtype is None else dtype)


def ones(device: Device, shape: Any, dtype: Any = None) -> Array:
    """A new array of ones (default float dtype unless ``dtype`` is given)."""
    return full(device, shape, 1, D.get_default_dtype() if dtype is None else dtype)


def arange_length(start: int | float, end: int | float, step: int | float,
                  dtype: DType) -> int:
    """PyTorch's length rule, ``ceil((end - start) / step)``; exact in integers for int64."""
    if dtype is D.int64 and all(isinstance(v, int) for v in (start, end, step)):
        sgn = 1 if step > 0 else -1
        return max(0, (end - start + step - sgn) // step)   # same signs: floor == trunc
    return max(0, math.ceil((end - start) / step))


def arange(device: Device, start: Any, end: Any = None, step: Any = 1,
           dtype: Any = None) -> Array:
    """``start, start + step, ...`` up to but excluding ``end`` (``arange(n)`` is ``0 .. n-1``).

    Without ``dtype``: int64 if every argument is an integer, else the default float dtype.
    Values are ``start + i * step`` in the output's compute type (float for float16/float32), so
    float32 ranges longer than 2**24 lose exactness as on CUDA.
    """
    if end is None:
        start, end = 0, start
    start, end = _number(start, "arange", "start"), _number(end, "arange", "end")
    step = _number(step, "arange", "step")
    if dtype is None:
        is_int = all(isinstance(v, int) for v in (start, end, step))
        dt = D.int64 if is_int else D.get_default_dtype()
    else:
        dt = D.as_dtype(dtype)
    D.check_device_dtype(dt, device)
    if dt.is_bool:
        raise DTypeError('"arange" is not implemented for bool')
    if not all(math.isfinite(v) for v in (start, end)):
        raise ValueError(f"unsupported range: {start} -> {end}")
    if step == 0:
        raise ValueError("step must be nonzero")
    if not ((step > 0 and end >= start) or (step < 0 and end <= start)):
        raise ValueError("upper bound and larger bound inconsistent with step sign")
    if not dt.is_floating_point:
        start = int(start)                  # the first value is cast to the integer dtype
        step = int(step) if float(step).is_integer() else step
    n = arange_length(start, end, step, dt)
    out = Array.empty(device, (n,), dt)
    if dt.is_floating_point:
        sdt = D.float64 if dt is D.float64 else D.float32
        return ew.launch_map("arange", "s0 + (T)lin * s1", out, [],
                             scalars=[float(start), float(step)], scalar_dtype=sdt)
    if not isinstance(step, int):   # integer output with a fractional step: count in double
        sdt = D.float64 if device.supports_fp64 else D.float32
        return ew.launch_map("arange", "s0 + (T)lin * s1", out, [],
                             scalars=[float(start), float(step)], scalar_dtype=sdt)
    return ew.launch_map("arange", "s0 + (T)lin * s1", out, [], scalars=[start, step],
                         scalar_dtype=D.int64)


def _spaced(op: str, device: Device, start: Any, end: Any, steps: Any, dtype: Any,
            base: float | None) -> Array:
    start, end = _number(start, op, "start"), _number(end, op, "end")
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)):
        raise TypeError(f"{op}(): argument 'steps' must be int, not {type(steps).__name__}")
    steps = int(steps)
    if steps < 0:
        raise ValueError("number of steps must be non-negative")
    dt = D.get_default_dtype() if dtype is None else D.as_dtype(dtype)
    D.check_device_dtype(dt, device)
    out = Array.empty(device, (steps,), dt)
    if steps == 0:
        return out
    # torch steps in the output type for floats and in double for integer outputs
    if dt.is_floating_point:
        sdt = D.float64 if dt is D.float64 else D.float32
    else:
        sdt = D.float64 if device.supports_fp64 else D.float32
    cast = (lambda v: float(np.float32(v))) if sdt is D.float32 else float
    s, e = cast(start), cast(end)
    step = cast((np.float32(e) - np.float32(s)) / np.float32(max(steps - 1, 1))) \
        if sdt is D.float32 else (e - s) / max(steps - 1, 1)
    # the first half counts up from start, the second down from end, so both ends are exact
    expr = "((T)lin < s3 ? s0 + (T)lin * s2 : s1 - (s4 - (T)lin) * s2)"
    if base is not None:
        expr = f"pow(s5, {expr})"
    scalars = [s, e, step, float(max(steps // 2, 1)), float(steps - 1)]   # steps=1: [start]
    if base is not None:
        scalars.append(cast(base))
    return ew.launch_map(op, expr, out, [], scalars=scalars, scalar_dtype=sdt)


def linspace(device: Device, start: Any, end: Any, steps: int, dtype: Any = None) -> Array:
    """``steps`` evenly spaced values from ``start`` to ``end`` inclusive."""
    return _spaced("linspace", device, start, end, steps, dtype, None)


def logspace(device: Device, start: Any, end: Any, steps: int, base: float = 10.0,
             dtype: Any = None) -> Array:
    """``base ** linspace(start, end, steps)``."""
    base = float(_number(base, "logspace", "base"))
    return _spaced("logspace", device, start, end, steps, dtype, base)


def eye(device: Device, n: int, m: int | None = None, dtype: Any = None) -> Array:
    """An ``n x m`` array with ones on the diagonal (``m`` defaults to ``n``)."""
    for v, name in ((n, "n"), (m, "m")):
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, np.integer))):
            raise TypeError(f"eye(): argument '{name}' must be int, not {type(v).__name__}")
    n = int(n)
    m = n if m is None else int(m)
    if n < 0:
        raise ValueError(f"n must be greater or equal to 0, got {n}")
    if m < 0:
        raise ValueError(f"m must be greater or equal to 0, got {m}")
    dt = D.get_default_dtype() if dtype is None else D.as_dtype(dtype)
    D.check_device_dtype(dt, device)
    out = Array.empty(device, (n, m), dt)
    return ew.launch_map("eye", "((lin / (ulong)s0) == (lin % (ulong)s0)) ? 1 : 0", out, [],
                         scalars=[m], scalar_dtype=D.int64)


__all__ = ["full", "zeros", "ones", "arange", "arange_length", "linspace", "logspace", "eye"]
