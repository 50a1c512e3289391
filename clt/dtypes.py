"""clt dtypes, PyTorch's type promotion, and the OpenCL C types behind them.

A :class:`DType` wraps a numpy dtype, so numpy dtypes and names are accepted wherever a dtype is
(``clt.float32``, ``np.float32`` and ``"float32"`` mean the same thing).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Union

import numpy as np

from clt.errors import DTypeError


@dataclass(frozen=True, eq=False)
class DType:
    """A tensor element type."""

    name: str
    np: np.dtype
    cl: str           # OpenCL C storage type
    compute: str      # OpenCL C type arithmetic is done in (float for half storage)
    tag: str          # short tag used in generated kernel names
    kind: str         # "b" bool, "i" signed int, "u" unsigned int, "f" float
    rank: int         # position in the promotion lattice inside its kind

    @property
    def itemsize(self) -> int:
        """Bytes per element."""
        return self.np.itemsize

    @property
    def is_floating_point(self) -> bool:
        """True for float kinds."""
        return self.kind == "f"

    @property
    def is_signed(self) -> bool:
        """True for signed integer and float kinds."""
        return self.kind in "if"

    @property
    def is_bool(self) -> bool:
        """True for bool."""
        return self.kind == "b"

    @property
    def is_integer(self) -> bool:
        """True for signed and unsigned integer kinds (not bool)."""
        return self.kind in "iu"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, DType):
            return self is other
        try:
            return as_dtype(other) is self
        except (DTypeError, TypeError):
            return False

    def __hash__(self) -> int:
        return hash(self.name)

    def __repr__(self) -> str:
        return f"clt.{self.name}"

    __str__ = __repr__


bool_ = DType("bool", np.dtype(np.bool_), "uchar", "uchar", "b8", "b", 0)
uint8 = DType("uint8", np.dtype(np.uint8), "uchar", "uchar", "u8", "u", 1)
int8 = DType("int8", np.dtype(np.int8), "char", "char", "i8", "i", 1)
int16 = DType("int16", np.dtype(np.int16), "short", "short", "i16", "i", 2)
int32 = DType("int32", np.dtype(np.int32), "int", "int", "i32", "i", 3)
int64 = DType("int64", np.dtype(np.int64), "long", "long", "i64", "i", 4)
float16 = DType("float16", np.dtype(np.float16), "half", "float", "f16", "f", 1)
float32 = DType("float32", np.dtype(np.float32), "float", "float", "f32", "f", 2)
float64 = DType("float64", np.dtype(np.float64), "double", "double", "f64", "f", 3)

ALL_DTYPES: tuple[DType, ...] = (bool_, uint8, int8, int16, int32, int64, float16, float32, float64)
FLOAT_DTYPES = (float16, float32, float64)
INT_DTYPES = (uint8, int8, int16, int32, int64)
_BY_NP = {d.np: d for d in ALL_DTYPES}
_ALIASES = {"bool": bool_, "half": float16, "float": float32, "double": float64, "long": int64,
            "int": int32, "short": int16, "byte": uint8, "char": int8}

DTypeLike = Union[DType, np.dtype, type, str, None]

_default_float = float32


def as_dtype(dtype: Any) -> DType:
    """Convert a clt/numpy dtype, Python type or name into a :class:`DType`.

    Args:
        dtype: A DType, numpy dtype, Python type (``bool``, ``int``, ``float``) or name.

    Returns:
        The DType.

    Raises:
        DTypeError: If ``dtype`` is not a dtype or is unsupported.
    """
    if isinstance(dtype, DType):
        return dtype
    if dtype is bool:
        return bool_
    if dtype is int:
        return int64
    if dtype is float:
        return _default_float
    if isinstance(dtype, str) and dtype in _ALIASES:
        return _ALIASES[dtype]
    try:
        npd = np.dtype(dtype)
    except TypeError as exc:
        raise DTypeError(f"not a dtype: {dtype!r}") from exc
    found = _BY_NP.get(npd)
    if found is None:
        supported = ", ".join(d.name for d in ALL_DTYPES)
        raise DTypeError(f"unsupported dtype {npd}; supported: {supported}")
    return found


def get_default_dtype() -> DType:
    """The dtype of float tensors made from Python floats (float32 unless changed)."""
    return _default_float


def set_default_dtype(dtype: DTypeLike) -> None:
    """Set the default float dtype (float32 or float64), as ``torch.set_default_dtype``.

    Args:
        dtype: float32 or float64 (any form :func:`as_dtype` accepts).

    Raises:
        DTypeError: For any other dtype.
    """
    global _default_float
    d = as_dtype(dtype)
    if not d.is_floating_point or d is float16:
        raise DTypeError(f"default dtype must be float32 or float64, got {d}")
    _default_float = d


def promote_types(a: DTypeLike, b: DTypeLike) -> DType:
    """PyTorch's promotion of two tensor dtypes (floats win; ints promote as numpy).

    Args:
        a: A dtype.
        b: A dtype.

    Returns:
        The promoted DType.
    """
    a, b = as_dtype(a), as_dtype(b)
    if a is b:
        return a
    if a.is_floating_point or b.is_floating_point:
        if a.is_floating_point and b.is_floating_point:
            return a if a.rank >= b.rank else b
        return a if a.is_floating_point else b
    if a.is_bool:
        return b
    if b.is_bool:
        return a
    return _BY_NP[np.promote_types(a.np, b.np)]


_CATEGORY = {"b": 0, "u": 1, "i": 1, "f": 2}


def _scalar_category(x: Any) -> int:
    if isinstance(x, (bool, np.bool_)):
        return 0
    if isinstance(x, (int, np.integer)):
        return 1
    if isinstance(x, (float, np.floating)):
        return 2
    raise DTypeError(f"unsupported scalar operand {x!r} of type {type(x).__name__}")


def result_type(*operands: Any) -> DType:
    """Result dtype of an op over tensors and Python scalars, by PyTorch's rules.

    Dimensioned tensors decide; zero-dim tensors only raise the category (bool < int < float);
    Python scalars only raise it further, to the default dtype of that category.

    Args:
        *operands: Tensors, Python scalars and dtypes.

    Returns:
        The result DType.
    """
    dim = zero = None
    scalar_cat = -1
    for x in operands:
        dt = getattr(x, "dtype", None)
        if isinstance(dt, DType) and hasattr(x, "ndim"):
            if x.ndim > 0:
                dim = dt if dim is None else promote_types(dim, dt)
            else:
                zero = dt if zero is None else promote_types(zero, dt)
        else:
            scalar_cat = max(scalar_cat, _scalar_category(x))
    result = dim
    if zero is not None:
        if result is None or _CATEGORY[zero.kind] > _CATEGORY[result.kind]:
            result = zero if result is None else promote_types(result, zero)
    if scalar_cat >= 0:
        current = -1 if result is None else _CATEGORY[result.kind]
        if scalar_cat > current:
            default = (bool_, int64, _default_float)[scalar_cat]
            result = default if result is None else promote_types(result, default)
    if result is None:
        raise DTypeError("result_type needs at least one operand")
    return result


def check_device_dtype(dtype: DType, device: Any) -> None:
    """Refuse dtypes the device cannot compute in, before any kernel is rendered.

    Args:
        dtype: The dtype an op would compute in.
        device: The device it would run on.

    Raises:
        DTypeError: If ``dtype`` is float64 and the device has no fp64 support.
    """
    if dtype is float64 and not device.info.fp64:
        raise DTypeError(
            f"{device} has no float64 support (cl_khr_fp64); use float32 or another device")
