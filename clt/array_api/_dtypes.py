"""Data types and data type functions: astype, can_cast, finfo, iinfo, isdtype, result_type.

The dtype objects are clt's own (``clt.array_api.float32 is clt.float32``). The standard's
``uint16``, ``uint32``, ``uint64``, ``complex64`` and ``complex128`` do not exist in clt, so the
namespace does not define them; ``float16`` is there as an extension.
"""
from __future__ import annotations

import builtins
from dataclasses import dataclass
from typing import Any

import numpy as np

from clt import dtypes as D
from clt.array_api._helpers import array, device_of, promote
from clt.errors import DTypeError
from clt.functions.elementwise import clone, to_dtype
from clt.tensor import Tensor

bool = D.bool_  # noqa: A001  (the standard's name)
int8, int16, int32, int64, uint8 = D.int8, D.int16, D.int32, D.int64, D.uint8
float16, float32, float64 = D.float16, D.float32, D.float64

# the standard's dtypes that clt has, by name (float16 is an extension, listed apart)
STANDARD_DTYPES: dict[str, D.DType] = {
    "bool": D.bool_, "int8": D.int8, "int16": D.int16, "int32": D.int32, "int64": D.int64,
    "uint8": D.uint8, "float32": D.float32, "float64": D.float64}

_KINDS = {
    "bool": lambda d: d.kind == "b",
    "signed integer": lambda d: d.kind == "i",
    "unsigned integer": lambda d: d.kind == "u",
    "integral": lambda d: d.kind in "iu",
    "real floating": lambda d: d.kind == "f",
    "complex floating": lambda d: False,
    "numeric": lambda d: d.kind in "iuf",
}


def _dtype(dtype: Any, fn: str) -> D.DType:
    if isinstance(dtype, D.DType):
        return dtype
    if dtype is None:
        raise TypeError(f"{fn}(): expected a dtype, got None")
    try:
        return D.as_dtype(dtype)
    except (DTypeError, TypeError):
        raise TypeError(f"{fn}(): expected a dtype, got {dtype!r}") from None


def isdtype(dtype: Any, kind: Any) -> builtins.bool:
    """Whether ``dtype`` is of ``kind``.

    Args:
        dtype: the dtype to test.
        kind: a dtype, one of the kind names ``"bool"``, ``"signed integer"``,
            ``"unsigned integer"``, ``"integral"``, ``"real floating"``,
            ``"complex floating"``, ``"numeric"``, or a tuple of those (any may match).

    Returns:
        True if ``dtype`` matches ``kind``.

    Raises:
        ValueError: an unknown kind name.
        TypeError: ``dtype`` or ``kind`` is not a dtype or kind.
    """
    dt = _dtype(dtype, "isdtype")
    if isinstance(kind, tuple):
        return any(isdtype(dt, k) for k in kind)
    if isinstance(kind, str):
        test = _KINDS.get(kind)
        if test is None:
            raise ValueError(f"isdtype(): unknown kind {kind!r}; expected a dtype or one of "
                             f"{', '.join(repr(k) for k in _KINDS)}")
        return test(dt)
    if isinstance(kind, D.DType):
        return dt is kind
    raise TypeError(f"isdtype(): kind must be a dtype, a kind name or a tuple of them, got "
                    f"{type(kind).__name__}")


def result_type(*arrays_and_dtypes: Any) -> D.DType:
    """The dtype that results from applying type promotion to the arguments.

    Arrays and dtypes promote by the standard's table whatever their rank (a 0-d array counts
    as much as any other). Mixed kinds, which the standard leaves undefined, follow PyTorch:
    ``int + float`` is the float dtype, ``bool + int`` the int dtype. Python scalars (allowed
    by the 2024.12 revision) take the dtype of the arrays when their kind fits, else the default
    dtype of their kind.

    Args:
        *arrays_and_dtypes: arrays, dtypes and Python scalars; at least one array or dtype.

    Returns:
        The promoted dtype.

    Raises:
        TypeError: no array or dtype among the arguments, or an unsupported argument.
    """
    dts, scalars = [], []
    for x in arrays_and_dtypes:
        if isinstance(x, Tensor):
            dts.append(x.dtype)
        elif isinstance(x, (builtins.bool, int, float)) and not isinstance(x, D.DType):
            scalars.append(x)
        elif isinstance(x, complex):
            raise TypeError("result_type(): complex numbers are not supported")
        else:
            dts.append(_dtype(x, "result_type"))
    if not dts:
        raise TypeError("result_type(): at least one array or dtype is required")
    out = promote(*dts)
    for s in scalars:
        if isinstance(s, builtins.bool):
            continue
        if isinstance(s, int):
            if out.is_bool:
                out = D.int64
        elif not out.is_floating_point:
            out = D.get_default_dtype()
    return out


def can_cast(from_: Any, to: Any, /) -> builtins.bool:
    """Whether ``from_`` can be cast to ``to`` by the standard's type promotion rules.

    Only casts inside one kind (bool, integers, floating point) that the promotion table allows
    are True: ``int8 -> int16`` is, ``int64 -> float64`` and ``float64 -> float32`` are not.

    Args:
        from_: a dtype or an array.
        to: the target dtype.

    Returns:
        True if the promotion of ``from_`` and ``to`` is ``to``.
    """
    src = from_.dtype if isinstance(from_, Tensor) else _dtype(from_, "can_cast")
    dst = _dtype(to, "can_cast")
    if src is dst:
        return True
    if (src.kind == "b") != (dst.kind == "b") or (src.kind == "f") != (dst.kind == "f"):
        return False
    return promote(src, dst) is dst


@dataclass(frozen=True)
class finfo_object:  # noqa: N801  (the standard's name)
    """Machine limits of a floating point dtype (the result of :func:`finfo`)."""

    bits: int
    eps: float
    max: float
    min: float
    smallest_normal: float
    dtype: D.DType


@dataclass(frozen=True)
class iinfo_object:  # noqa: N801
    """Machine limits of an integer dtype (the result of :func:`iinfo`)."""

    bits: int
    max: int
    min: int
    dtype: D.DType


def finfo(type: Any, /) -> finfo_object:  # noqa: A002  (the standard's parameter name)
    """Machine limits of a floating point dtype.

    Args:
        type: a floating point dtype, or an array of one.

    Returns:
        An object with ``bits``, ``eps``, ``max``, ``min``, ``smallest_normal`` and ``dtype``.

    Raises:
        TypeError: not a floating point dtype.
    """
    dt = type.dtype if isinstance(type, Tensor) else _dtype(type, "finfo")
    if not dt.is_floating_point:
        raise TypeError(f"finfo(): {dt.name} is not a floating point dtype (use iinfo)")
    info = np.finfo(dt.np)
    return finfo_object(int(info.bits), float(info.eps), float(info.max), float(info.min),
                        float(info.smallest_normal), dt)


def iinfo(type: Any, /) -> iinfo_object:  # noqa: A002
    """Machine limits of an integer dtype.

    Args:
        type: an integer dtype, or an array of one.

    Returns:
        An object with ``bits``, ``max``, ``min`` and ``dtype``.

    Raises:
        TypeError: not an integer dtype.
    """
    dt = type.dtype if isinstance(type, Tensor) else _dtype(type, "iinfo")
    if not dt.is_integer:
        raise TypeError(f"iinfo(): {dt.name} is not an integer dtype (use finfo)")
    info = np.iinfo(dt.np)
    return iinfo_object(int(info.bits), int(info.max), int(info.min), dt)


def astype(x: Tensor, dtype: Any, /, *, copy: builtins.bool = True,
           device: Any = None) -> Tensor:
    """``x`` converted to ``dtype`` (and moved to ``device``, if given).

    Floating point to integer conversion truncates toward zero; NaN and out-of-range values
    convert to unspecified values (as C), and anything non-zero converts to ``True``.

    Args:
        x: the array.
        dtype: the target dtype.
        copy: True always returns a new array; False returns ``x`` itself when it already has
            the dtype and device.
        device: the target device (default: ``x``'s).

    Returns:
        The converted array.
    """
    x = array(x, "astype")
    dt = _dtype(dtype, "astype")
    out = x
    if device is not None:
        target = device_of(device)
        if target is not x.device:
            out = out.to(target)
    if dt is not out.dtype:
        out = to_dtype(out, dt)
    if copy and out is x:
        out = clone(x)
    return out


def default_float() -> D.DType:
    """The default floating-point dtype.

    Returns:
        ``clt.get_default_dtype()``.
    """
    return D.get_default_dtype()
