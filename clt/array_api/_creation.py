"""Creation functions: asarray (with the standard's ``copy=`` semantics), ranges, filled arrays,
eye, meshgrid, tril/triu and from_dlpack."""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from clt import dtypes as D
from clt.array_api._dtypes import _dtype
from clt.array_api._helpers import array, device_of, integer, shape_arg
from clt.functions import creation as C
from clt.functions import creation_ops as CO
from clt.functions import shape_ops as SO
from clt.functions.elementwise import clone, to_dtype
from clt.functions.shape import reshape
from clt.ops import elementwise as ew
from clt.tensor import Tensor


def _opt_dtype(dtype: Any, fn: str) -> D.DType | None:
    return None if dtype is None else _dtype(dtype, fn)


def asarray(obj: Any, /, *, dtype: Any = None, device: Any = None,
            copy: bool | None = None) -> Tensor:
    """Convert ``obj`` to an array.

    Python ``bool``/``int``/``float`` values (and nested sequences of them) become ``bool``,
    ``int64`` and the default floating dtype (``float32``); numpy arrays and buffers keep their
    dtype.

    Args:
        obj: an array, a Python scalar, a nested sequence, or an object supporting the buffer
            protocol or ``__array__`` (a numpy array, for one).
        dtype: the result dtype (default: inferred from ``obj``).
        device: the result device (default: ``obj``'s for arrays, else the default device).
        copy: True always copies; False never does and raises ValueError when a copy is needed
            (always for host data: clt arrays live in device memory); None copies only when
            needed.

    Returns:
        The array.

    Raises:
        ValueError: ``copy=False`` and the conversion needs a copy.
    """
    dt = _opt_dtype(dtype, "asarray")
    if isinstance(obj, Tensor):
        target = obj.device if device is None else device_of(device)
        same = target is obj.device and (dt is None or dt is obj.dtype)
        if same:
            return clone(obj) if copy else obj
        if copy is False:
            raise ValueError(f"asarray(copy=False): converting a {obj.dtype.name} array on "
                             f"{obj.device.id} to {(dt or obj.dtype).name} on {target.id} "
                             "needs a copy")
        out = obj.to(target) if target is not obj.device else obj
        return to_dtype(out, dt) if dt is not None else out
    if copy is False:
        raise ValueError(f"asarray(copy=False): {type(obj).__name__} data lives in host memory "
                         "and clt arrays in device memory, so it cannot be used without a copy")
    if isinstance(obj, complex) or (isinstance(obj, np.ndarray) and obj.dtype.kind == "c"):
        raise TypeError("asarray(): complex data is not supported (clt has no complex dtypes)")
    if not isinstance(obj, (bool, int, float, list, tuple, np.ndarray, np.generic)) and \
            hasattr(obj, "__dlpack__") and not hasattr(obj, "__array__"):
        return from_dlpack(obj, device=device, copy=copy) if dt is None else \
            to_dtype(from_dlpack(obj, device=device, copy=copy), dt)
    return C.tensor(obj, dtype=dt, device=device_of(device))


def arange(start: Any, /, stop: Any = None, step: Any = 1, *, dtype: Any = None,
           device: Any = None) -> Tensor:
    """Evenly spaced values ``start, start + step, ...`` up to but excluding ``stop``.

    Args:
        start: the first value, or the end when ``stop`` is None (the range then starts at 0).
        stop: the end (excluded).
        step: the spacing (not zero).
        dtype: the result dtype (default: int64 when every argument is an int, else the default
            floating dtype).
        device: the result device.

    Returns:
        A 1-d array of ``ceil((stop - start) / step)`` elements (empty when that is negative).
    """
    if stop is None:
        start, stop = 0, start
    for v, name in ((start, "start"), (stop, "stop"), (step, "step")):
        if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
            raise TypeError(f"arange(): {name} must be a real number, got {type(v).__name__}")
    if step == 0:
        raise ValueError("arange(): step must not be zero")
    dt = _opt_dtype(dtype, "arange")
    if dt is None:
        dt = D.int64 if all(isinstance(v, (int, np.integer)) for v in (start, stop, step)) \
            else D.get_default_dtype()
    dev = device_of(device)
    if math.ceil((stop - start) / step) <= 0:
        return C.empty((0,), dtype=dt, device=dev)
    return CO.arange(start, stop, step, dtype=dt, device=dev)


def empty(shape: Any, *, dtype: Any = None, device: Any = None) -> Tensor:
    """An uninitialised array.

    Args:
        shape: the shape (an int or a tuple of ints).
        dtype: the dtype (default: the default floating dtype).
        device: the device.

    Returns:
        The array.
    """
    return C.empty(shape_arg(shape, "empty"), dtype=_opt_dtype(dtype, "empty"),
                   device=device_of(device))


def zeros(shape: Any, *, dtype: Any = None, device: Any = None) -> Tensor:
    """An array of zeros.

    Args:
        shape: the shape (an int or a tuple of ints).
        dtype: the dtype (default: the default floating dtype).
        device: the device.

    Returns:
        The array.
    """
    return C.zeros(shape_arg(shape, "zeros"), dtype=_opt_dtype(dtype, "zeros"),
                   device=device_of(device))


def ones(shape: Any, *, dtype: Any = None, device: Any = None) -> Tensor:
    """An array of ones.

    Args:
        shape: the shape (an int or a tuple of ints).
        dtype: the dtype (default: the default floating dtype).
        device: the device.

    Returns:
        The array.
    """
    return C.ones(shape_arg(shape, "ones"), dtype=_opt_dtype(dtype, "ones"),
                  device=device_of(device))


def _fill_dtype(fill_value: Any, fn: str) -> D.DType:
    if isinstance(fill_value, bool):
        return D.bool_
    if isinstance(fill_value, int):
        return D.int64
    if isinstance(fill_value, float):
        return D.get_default_dtype()
    raise TypeError(f"{fn}(): fill_value must be a bool, int or float, got "
                    f"{type(fill_value).__name__}")


def _fill_scalar(fill_value: Any) -> Any:
    if isinstance(fill_value, Tensor):
        return fill_value.item()
    if isinstance(fill_value, np.generic):
        return fill_value.item()
    return fill_value


def full(shape: Any, fill_value: Any, *, dtype: Any = None, device: Any = None) -> Tensor:
    """An array filled with ``fill_value``.

    Args:
        shape: the shape (an int or a tuple of ints).
        fill_value: a bool, int or float.
        dtype: the dtype (default: bool, int64 or the default floating dtype, after
            ``fill_value``'s type).
        device: the device.

    Returns:
        The array.
    """
    fill_value = _fill_scalar(fill_value)
    dt = _opt_dtype(dtype, "full") or _fill_dtype(fill_value, "full")
    return C.full(shape_arg(shape, "full"), fill_value, dtype=dt, device=device_of(device))


def _like(x: Any, dtype: Any, device: Any, fn: str) -> tuple:
    x = array(x, fn)
    dt = _opt_dtype(dtype, fn) or x.dtype
    return tuple(x.shape), dt, x.device if device is None else device_of(device)


def empty_like(x: Tensor, /, *, dtype: Any = None, device: Any = None) -> Tensor:
    """An uninitialised array with ``x``'s shape.

    Args:
        x: the array whose shape (and by default dtype and device) to use.
        dtype: the dtype (default: ``x``'s).
        device: the device (default: ``x``'s).

    Returns:
        The array.
    """
    shape, dt, dev = _like(x, dtype, device, "empty_like")
    return C.empty(shape, dtype=dt, device=dev)


def zeros_like(x: Tensor, /, *, dtype: Any = None, device: Any = None) -> Tensor:
    """An array of zeros with ``x``'s shape.

    Args:
        x: the array whose shape (and by default dtype and device) to use.
        dtype: the dtype (default: ``x``'s).
        device: the device (default: ``x``'s).

    Returns:
        The array.
    """
    shape, dt, dev = _like(x, dtype, device, "zeros_like")
    return C.zeros(shape, dtype=dt, device=dev)


def ones_like(x: Tensor, /, *, dtype: Any = None, device: Any = None) -> Tensor:
    """An array of ones with ``x``'s shape.

    Args:
        x: the array whose shape (and by default dtype and device) to use.
        dtype: the dtype (default: ``x``'s).
        device: the device (default: ``x``'s).

    Returns:
        The array.
    """
    shape, dt, dev = _like(x, dtype, device, "ones_like")
    return C.ones(shape, dtype=dt, device=dev)


def full_like(x: Tensor, /, fill_value: Any, *, dtype: Any = None,
              device: Any = None) -> Tensor:
    """An array with ``x``'s shape filled with ``fill_value``.

    Args:
        x: the array whose shape (and by default dtype and device) to use.
        fill_value: a bool, int or float.
        dtype: the dtype (default: ``x``'s).
        device: the device (default: ``x``'s).

    Returns:
        The array.
    """
    shape, dt, dev = _like(x, dtype, device, "full_like")
    return C.full(shape, _fill_scalar(fill_value), dtype=dt, device=dev)


def eye(n_rows: int, n_cols: int | None = None, /, *, k: int = 0, dtype: Any = None,
        device: Any = None) -> Tensor:
    """A 2-d array with ones on the ``k``-th diagonal and zeros elsewhere.

    Args:
        n_rows: the number of rows.
        n_cols: the number of columns (default: ``n_rows``).
        k: the diagonal (0 the main one, positive above it, negative below).
        dtype: the dtype (default: the default floating dtype).
        device: the device.

    Returns:
        The ``(n_rows, n_cols)`` array.
    """
    n = integer(n_rows, "eye", "n_rows")
    m = n if n_cols is None else integer(n_cols, "eye", "n_cols")
    k = integer(k, "eye", "k")
    if n < 0 or m < 0:
        raise ValueError(f"eye(): negative dimensions are not allowed, got {n} x {m}")
    dt = _opt_dtype(dtype, "eye") or D.get_default_dtype()
    dev = device_of(device)
    if k == 0:
        return CO.eye(n, m, dtype=dt, device=dev)
    out = C.zeros((n, m), dtype=dt, device=dev)
    # the k-th diagonal as a strided view of the zeros: one fill, no index arrays
    length = max(0, min(n + min(k, 0), m - max(k, 0)))
    if length:
        start = -k * m if k < 0 else k
        ew.fill_(out._data.view((length,), (m + 1,), start), 1)
    return out


def linspace(start: Any, stop: Any, /, num: int, *, dtype: Any = None, device: Any = None,
             endpoint: bool = True) -> Tensor:
    """``num`` evenly spaced values from ``start`` to ``stop``.

    Args:
        start: the first value.
        stop: the last value (included when ``endpoint`` is True).
        num: the number of values.
        dtype: a floating dtype (default: the default floating dtype).
        device: the device.
        endpoint: whether ``stop`` is the last value; if False the spacing is
            ``(stop - start) / num``.

    Returns:
        A 1-d array of ``num`` values.
    """
    num = integer(num, "linspace", "num")
    if num < 0:
        raise ValueError(f"linspace(): num must be non-negative, got {num}")
    for v, name in ((start, "start"), (stop, "stop")):
        if isinstance(v, complex):
            raise TypeError("linspace(): complex values are not supported")
    dt = _opt_dtype(dtype, "linspace") or D.get_default_dtype()
    dev = device_of(device)
    if endpoint or num == 0:
        return CO.linspace(start, stop, num, dtype=dt, device=dev)
    # num + 1 points including stop, without the last: spacing (stop - start) / num
    return CO.linspace(start, stop, num + 1, dtype=dt, device=dev)[:num]


def meshgrid(*arrays: Tensor, indexing: str = "xy") -> list[Tensor]:
    """Coordinate grids from 1-d coordinate arrays.

    The results are broadcast views (no copies), as PyTorch's; copy one before writing to it.

    Args:
        *arrays: 1-d arrays of one dtype.
        indexing: ``"xy"`` (Cartesian: the first two output dims swapped) or ``"ij"``
            (matrix indexing).

    Returns:
        A list of N arrays of shape ``(len(arrays[1]), len(arrays[0]), ...)`` for ``"xy"``
        or ``(len(arrays[0]), len(arrays[1]), ...)`` for ``"ij"``.
    """
    if indexing not in ("xy", "ij"):
        raise ValueError(f"meshgrid(): indexing must be 'xy' or 'ij', got {indexing!r}")
    xs = [array(a, "meshgrid", "arrays") for a in arrays]
    for a in xs:
        if a.ndim != 1:
            raise ValueError(f"meshgrid(): expected 1-d arrays, got shape {tuple(a.shape)}")
    if len({a.dtype for a in xs}) > 1:
        raise TypeError("meshgrid(): arrays must have one dtype, got "
                        f"{', '.join(a.dtype.name for a in xs)}")
    n = len(xs)
    shape = [len(a) for a in xs]
    if indexing == "xy" and n >= 2:
        shape[0], shape[1] = shape[1], shape[0]
    out = []
    for i, a in enumerate(xs):
        pos = i if indexing == "ij" or n < 2 or i > 1 else 1 - i
        view = [1] * n
        view[pos] = len(a)
        out.append(reshape(a, view).expand(*shape))
    return out


def tril(x: Tensor, /, *, k: int = 0) -> Tensor:
    """The lower triangle of the last two dims (zeros above the ``k``-th diagonal).

    Args:
        x: an array with at least 2 dims.
        k: the diagonal (0 the main one, positive above it, negative below).

    Returns:
        The array.
    """
    x = array(x, "tril")
    if x.ndim < 2:
        raise ValueError(f"tril(): x must have at least 2 dims, got shape {tuple(x.shape)}")
    return SO.tril(x, integer(k, "tril", "k"))


def triu(x: Tensor, /, *, k: int = 0) -> Tensor:
    """The upper triangle of the last two dims (zeros below the ``k``-th diagonal).

    Args:
        x: an array with at least 2 dims.
        k: the diagonal (0 the main one, positive above it, negative below).

    Returns:
        The array.
    """
    x = array(x, "triu")
    if x.ndim < 2:
        raise ValueError(f"triu(): x must have at least 2 dims, got shape {tuple(x.shape)}")
    return SO.triu(x, integer(k, "triu", "k"))


def from_dlpack(x: Any, /, *, device: Any = None, copy: bool | None = None) -> Tensor:
    """An array from an object that supports DLPack (``__dlpack__``).

    clt arrays live in OpenCL device memory, so a host producer (numpy, for one) is always
    copied; a clt array is passed through :func:`asarray`.

    Args:
        x: the producer.
        device: the result device (default: the default device, or ``x``'s for clt arrays).
        copy: True or None copy as needed; False raises BufferError when a copy is needed
            (always, for a host producer).

    Returns:
        The array.

    Raises:
        BufferError: ``copy=False`` with a host producer, or a producer numpy cannot read.
    """
    if isinstance(x, Tensor):
        try:
            return asarray(x, device=device, copy=copy)
        except ValueError as exc:
            raise BufferError(str(exc)) from None
    if not hasattr(x, "__dlpack__"):
        raise TypeError(f"from_dlpack(): {type(x).__name__} does not support DLPack "
                        "(no __dlpack__ method)")
    if copy is False:
        raise BufferError("from_dlpack(copy=False): clt arrays live in OpenCL device memory, "
                          f"so data from a {type(x).__name__} must be copied")
    host = x if isinstance(x, np.ndarray) else np.from_dlpack(x)
    if host.dtype.kind == "c":
        raise TypeError("from_dlpack(): complex data is not supported (clt has no complex "
                        "dtypes)")
    return C.tensor(host, device=device_of(device))
