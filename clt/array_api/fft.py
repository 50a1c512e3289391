"""The array API ``fft`` extension (``clt.array_api.fft``), as far as clt can hold the results.

clt has no complex dtypes, so the transforms (``fft``, ``ifft``, ``fftn``, ``ifftn``, ``rfft``,
``irfft``, ``rfftn``, ``irfftn``, ``hfft``, ``ihfft``), each of which takes or returns complex
arrays, raise :class:`NotImplementedError` naming the reason. The real-valued helpers
``fftfreq``, ``rfftfreq``, ``fftshift`` and ``ifftshift`` conform and run on the device.
"""
from __future__ import annotations

from typing import Any

from clt import dtypes as D
from clt.array_api._dtypes import _dtype
from clt.array_api._helpers import array, axes as norm_axes, device_of, integer
from clt.functions import elementwise as E
from clt.functions import shape_ops as SO
from clt.functions.creation_ops import arange
from clt.tensor import Tensor

__all__ = ["fft", "ifft", "fftn", "ifftn", "rfft", "irfft", "rfftn", "irfftn", "hfft", "ihfft",
           "fftfreq", "rfftfreq", "fftshift", "ifftshift"]


def _no_complex(name: str) -> NotImplementedError:
    return NotImplementedError(
        f"clt.array_api.fft.{name}: clt has no complex dtypes, so the Fourier transforms (which "
        "take or return complex arrays) are not available; fftfreq, rfftfreq, fftshift and "
        "ifftshift are")


def fft(x: Tensor, /, *, n: int | None = None, axis: int = -1, norm: str = "backward") -> Tensor:
    """Not available: the result is complex and clt has no complex dtypes.

    Args:
        x: the input array.
        n: the transform length.
        axis: the axis to transform.
        norm: the normalisation mode.

    Raises:
        NotImplementedError: always.
    """
    raise _no_complex("fft")


def ifft(x: Tensor, /, *, n: int | None = None, axis: int = -1, norm: str = "backward"
         ) -> Tensor:
    """Not available: the input and result are complex and clt has no complex dtypes.

    Args:
        x: the input array.
        n: the transform length.
        axis: the axis to transform.
        norm: the normalisation mode.

    Raises:
        NotImplementedError: always.
    """
    raise _no_complex("ifft")


def fftn(x: Tensor, /, *, s: Any = None, axes: Any = None, norm: str = "backward") -> Tensor:
    """Not available: the result is complex and clt has no complex dtypes.

    Args:
        x: the input array.
        s: the transform lengths.
        axes: the axes to transform.
        norm: the normalisation mode.

    Raises:
        NotImplementedError: always.
    """
    raise _no_complex("fftn")


def ifftn(x: Tensor, /, *, s: Any = None, axes: Any = None, norm: str = "backward") -> Tensor:
    """Not available: the input and result are complex and clt has no complex dtypes.

    Args:
        x: the input array.
        s: the transform lengths.
        axes: the axes to transform.
        norm: the normalisation mode.

    Raises:
        NotImplementedError: always.
    """
    raise _no_complex("ifftn")


def rfft(x: Tensor, /, *, n: int | None = None, axis: int = -1, norm: str = "backward"
         ) -> Tensor:
    """Not available: the result is complex and clt has no complex dtypes.

    Args:
        x: the input array.
        n: the transform length.
        axis: the axis to transform.
        norm: the normalisation mode.

    Raises:
        NotImplementedError: always.
    """
    raise _no_complex("rfft")


def irfft(x: Tensor, /, *, n: int | None = None, axis: int = -1, norm: str = "backward"
          ) -> Tensor:
    """Not available: the input is complex and clt has no complex dtypes.

    Args:
        x: the input array.
        n: the output length.
        axis: the axis to transform.
        norm: the normalisation mode.

    Raises:
        NotImplementedError: always.
    """
    raise _no_complex("irfft")


def rfftn(x: Tensor, /, *, s: Any = None, axes: Any = None, norm: str = "backward") -> Tensor:
    """Not available: the result is complex and clt has no complex dtypes.

    Args:
        x: the input array.
        s: the transform lengths.
        axes: the axes to transform.
        norm: the normalisation mode.

    Raises:
        NotImplementedError: always.
    """
    raise _no_complex("rfftn")


def irfftn(x: Tensor, /, *, s: Any = None, axes: Any = None, norm: str = "backward"
           ) -> Tensor:
    """Not available: the input is complex and clt has no complex dtypes.

    Args:
        x: the input array.
        s: the output lengths.
        axes: the axes to transform.
        norm: the normalisation mode.

    Raises:
        NotImplementedError: always.
    """
    raise _no_complex("irfftn")


def hfft(x: Tensor, /, *, n: int | None = None, axis: int = -1, norm: str = "backward"
         ) -> Tensor:
    """Not available: the input is complex and clt has no complex dtypes.

    Args:
        x: the input array.
        n: the output length.
        axis: the axis to transform.
        norm: the normalisation mode.

    Raises:
        NotImplementedError: always.
    """
    raise _no_complex("hfft")


def ihfft(x: Tensor, /, *, n: int | None = None, axis: int = -1, norm: str = "backward"
          ) -> Tensor:
    """Not available: the result is complex and clt has no complex dtypes.

    Args:
        x: the input array.
        n: the transform length.
        axis: the axis to transform.
        norm: the normalisation mode.

    Raises:
        NotImplementedError: always.
    """
    raise _no_complex("ihfft")


def _freq_dtype(dtype: Any) -> D.DType:
    dt = D.get_default_dtype() if dtype is None else _dtype(dtype, "fftfreq")
    if not dt.is_floating_point:
        raise TypeError(f"fftfreq(): a floating point dtype is required, got {dt.name}")
    return dt


def fftfreq(n: int, /, *, d: float = 1.0, dtype: Any = None, device: Any = None) -> Tensor:
    """Sample frequencies of a length-``n`` discrete Fourier transform.

    Args:
        n: the window length.
        d: the sample spacing.
        dtype: a floating dtype (default: the default floating dtype; a 2024.12 keyword).
        device: the device.

    Returns:
        ``[0, 1, ..., (n - 1) // 2, -(n // 2), ..., -1] / (d * n)``.
    """
    n = integer(n, "fftfreq", "n")
    if n <= 0:
        raise ValueError(f"fftfreq(): n must be positive, got {n}")
    dt = _freq_dtype(dtype)
    k = arange(0, n, dtype=D.int64, device=device_of(device))
    k = E.where(k < (n + 1) // 2, k, E.sub(k, n))
    return E.div(E.to_dtype(k, dt), float(d) * n)


def rfftfreq(n: int, /, *, d: float = 1.0, dtype: Any = None, device: Any = None) -> Tensor:
    """Sample frequencies of a length-``n`` real Fourier transform (non-negative only).

    Args:
        n: the window length.
        d: the sample spacing.
        dtype: a floating dtype (default: the default floating dtype; a 2024.12 keyword).
        device: the device.

    Returns:
        ``[0, 1, ..., n // 2] / (d * n)``.
    """
    n = integer(n, "rfftfreq", "n")
    if n <= 0:
        raise ValueError(f"rfftfreq(): n must be positive, got {n}")
    dt = _freq_dtype(dtype)
    k = arange(0, n // 2 + 1, dtype=dt, device=device_of(device))
    return E.div(k, float(d) * n)


def _shift(x: Tensor, axes: Any, fn: str, sign: int) -> Tensor:
    x = array(x, fn)
    dims = norm_axes(axes, x.ndim, fn)
    if not dims:
        return E.clone(x)
    shifts = tuple(sign * (x.shape[a] // 2) for a in dims)
    return SO.roll(x, shifts, dims)


def fftshift(x: Tensor, /, *, axes: Any = None) -> Tensor:
    """Move the zero-frequency term to the centre (a roll by ``n // 2`` along each axis).

    Args:
        x: the array.
        axes: an axis, a sequence of axes, or None for every axis.

    Returns:
        The shifted copy.
    """
    return _shift(x, axes, "fftshift", 1)


def ifftshift(x: Tensor, /, *, axes: Any = None) -> Tensor:
    """The inverse of :func:`fftshift` (a roll by ``-(n // 2)`` along each axis).

    Args:
        x: the array.
        axes: an axis, a sequence of axes, or None for every axis.

    Returns:
        The shifted copy.
    """
    return _shift(x, axes, "ifftshift", -1)
