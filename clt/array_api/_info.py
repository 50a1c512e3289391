"""``__array_namespace_info__``: capabilities, devices, default dtypes and supported dtypes."""
from __future__ import annotations

from typing import Any

from clt import dtypes as D
from clt.array_api._dtypes import STANDARD_DTYPES, isdtype
from clt.array_api._helpers import device_of
from clt.backend.device import Device, devices as all_devices, get_default_device


class Info:
    """What this namespace supports (the object :func:`__array_namespace_info__` returns)."""

    __module__ = "clt.array_api"

    def capabilities(self) -> dict[str, Any]:
        """Optional features: boolean indexing and data-dependent output shapes are supported.

        Returns:
            ``{"boolean indexing": True, "data-dependent shapes": True}``.
        """
        return {"boolean indexing": True, "data-dependent shapes": True}

    def default_device(self) -> Device:
        """The device arrays are created on when no ``device=`` is given.

        Returns:
            ``clt.get_default_device()``.
        """
        return get_default_device()

    def devices(self) -> list[Device]:
        """Every OpenCL device clt can use.

        Returns:
            The devices, in ``cl:N`` order.
        """
        return all_devices()

    def default_dtypes(self, *, device: Any = None) -> dict[str, Any]:
        """The dtypes used when none is given.

        Args:
            device: the device to ask about (default: the default device).

        Returns:
            ``{"real floating": clt.get_default_dtype() (float32 unless changed),
            "complex floating": None (clt has no complex dtypes), "integral": int64,
            "indexing": int64}``.
        """
        device_of(device)
        return {"real floating": D.get_default_dtype(), "complex floating": None,
                "integral": D.int64, "indexing": D.int64}

    def dtypes(self, *, device: Any = None, kind: Any = None) -> dict[str, D.DType]:
        """The standard's dtypes that ``device`` supports (float64 needs ``cl_khr_fp64``).

        Args:
            device: the device to ask about (default: the default device).
            kind: None for every dtype, or a kind as :func:`clt.array_api.isdtype` takes it.

        Returns:
            A dict from dtype names to dtypes.
        """
        dev = device_of(device)
        out = {}
        for name, dt in STANDARD_DTYPES.items():
            if dt is D.float64 and not dev.info.fp64:
                continue
            if kind is None or isdtype(dt, kind):
                out[name] = dt
        return out


def __array_namespace_info__() -> Info:
    """Inspection of the namespace: capabilities, devices and dtypes.

    Returns:
        An :class:`Info` object.
    """
    return Info()
