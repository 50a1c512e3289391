"""The array object's side of the standard: ``Tensor.__array_namespace__``, ``to_device``,
``__dlpack__`` and ``__dlpack_device__``, attached to :class:`clt.Tensor`."""
from __future__ import annotations

import sys
from typing import Any

from clt.array_api._helpers import device_of
from clt.tensor import Tensor, tensor_method

# DLPack device types (dlpack.h, DLDeviceType)
KDL_CPU = 1
KDL_OPENCL = 4

SUPPORTED_VERSIONS = ("2021.12", "2022.12", "2023.12")


@tensor_method("__array_namespace__")
def __array_namespace__(self: Tensor, /, *, api_version: str | None = None) -> Any:
    """The array API namespace of clt tensors, :mod:`clt.array_api`.

    Args:
        api_version: None (the latest supported, ``"2023.12"``) or one of ``"2021.12"``,
            ``"2022.12"``, ``"2023.12"``.

    Returns:
        The module ``clt.array_api``.

    Raises:
        ValueError: an unsupported version.
    """
    if api_version is not None and api_version not in SUPPORTED_VERSIONS:
        raise ValueError(f"clt.array_api supports the array API versions "
                         f"{', '.join(SUPPORTED_VERSIONS)}; got api_version={api_version!r}")
    return sys.modules["clt.array_api"]


@tensor_method("to_device")
def to_device(self: Tensor, device: Any, /, *, stream: Any = None) -> Tensor:
    """This array on ``device`` (``self`` if it is there already, else a copy).

    Args:
        device: a :class:`clt.Device` or anything :func:`clt.device` accepts.
        stream: must be None (clt orders transfers on the devices' own queues).

    Returns:
        The array on ``device``.
    """
    if stream is not None:
        raise ValueError("to_device(): stream must be None (clt uses each device's own queue)")
    target = device_of(device)
    return self if target is self.device else self.to(target)


@tensor_method("__dlpack_device__")
def __dlpack_device__(self: Tensor) -> tuple[int, int]:
    """Where the data lives, as DLPack sees it: ``(kDLOpenCL, device index)``.

    Returns:
        ``(4, index)``.
    """
    return (KDL_OPENCL, int(self.device.info.index))


@tensor_method("__dlpack__")
def __dlpack__(self: Tensor, /, *, stream: Any = None, max_version: Any = None,
               dl_device: Any = None, copy: bool | None = None) -> Any:
    """Export to DLPack: only as a copy on the CPU (``dl_device=(1, 0)``).

    OpenCL buffers have no DLPack representation that other libraries can read, so the only
    export is a host copy, which a consumer asks for with ``dl_device=(1, 0)``
    (``numpy.from_dlpack(x, device="cpu")`` does).

    Args:
        stream: must be None.
        max_version: the highest DLPack version the consumer supports.
        dl_device: ``(1, 0)`` (the CPU) to export a host copy; anything else is refused.
        copy: None or True (the host export is always a copy); False is refused.

    Returns:
        A DLPack capsule of a host copy.

    Raises:
        BufferError: an export that would have to stay on the OpenCL device, or ``copy=False``.
    """
    if stream is not None:
        raise BufferError("__dlpack__(): clt has no stream to synchronise with; pass "
                          "stream=None")
    if dl_device is None or tuple(dl_device) != (KDL_CPU, 0):
        raise BufferError(
            f"__dlpack__(): clt arrays live in OpenCL device memory ({self.device.id}), which "
            "DLPack consumers cannot read; export a host copy with dl_device=(1, 0), e.g. "
            "numpy.from_dlpack(x, device='cpu'), or use numpy.asarray(x)")
    if copy is False:
        raise BufferError("__dlpack__(copy=False): exporting to the CPU copies the data off the "
                          "OpenCL device")
    host = self.detach().numpy()
    return host.__dlpack__(max_version=max_version) if max_version is not None \
        else host.__dlpack__()
