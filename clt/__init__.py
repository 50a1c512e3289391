"""clt: OpenCL-portable tensors and deep learning with PyTorch's API.

``import clt`` works without any OpenCL driver; the first call that needs a device says how to
install one.
"""
from __future__ import annotations

import importlib
import logging as _logging
import os as _os

from clt import dtypes as _dtypes
from clt.backend import (Device, DeviceInfo, device, device_infos, devices, get_default_device,
                         set_default_device)
from clt.dtypes import (DType, bool_, float16, float32, float64, get_default_dtype, int8, int16,
                        int32, int64, promote_types, set_default_dtype, uint8)
from clt.errors import (CLTError, CLTWarning, DeviceError, DeviceNotFoundError, DTypeError,
                        KernelBuildError, KernelRenderError, NoOpenCLError, OutOfMemoryError,
                        PerformanceWarning, ShapeError)
from clt.tensor import Size, Tensor

from clt import autograd  # noqa: E402  (after Tensor: autograd builds on it)
from clt.autograd import (enable_grad, inference_mode, is_grad_enabled, no_grad,  # noqa: E402
                          set_grad_enabled)
from clt.functions.creation import (as_tensor, empty, empty_like, from_numpy, full,  # noqa: E402
                                    full_like, ones, ones_like, tensor, zeros, zeros_like)
from clt.functions.elementwise import *  # noqa: E402,F401,F403
from clt.functions.elementwise import (abs, clone, pow, round, where)  # noqa: E402,F401,A004
from clt.functions.shape import (as_strided, broadcast_shapes, broadcast_tensors,  # noqa: E402
                                 broadcast_to, flatten, movedim, moveaxis, narrow, permute,
                                 ravel, reshape, select, squeeze, swapaxes, swapdims, t,
                                 transpose, unbind, unflatten, unsqueeze)

bool = bool_  # noqa: A001  (clt.bool, as torch.bool)
half, float, double = float16, float32, float64  # noqa: A001
short, int, long = int16, int32, int64  # noqa: A001
dtype = DType

if _os.environ.get("CLT_DEBUG"):
    _level = _os.environ["CLT_DEBUG"]
    _logging.getLogger("clt").setLevel(_logging.DEBUG if _level in ("1", "2") else _logging.INFO)
    if not _logging.getLogger("clt").handlers:
        _logging.getLogger("clt").addHandler(_logging.StreamHandler())


def _optional(module: str) -> None:
    """Import a function family and re-export its public names, if it exists yet."""
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name != module:
            raise
        return
    for name in getattr(mod, "__all__", ()):
        globals()[name] = getattr(mod, name)


for _family in ("clt.functions.reduce", "clt.functions.linalg", "clt.functions.index",
                "clt.functions.shape_ops", "clt.functions.random", "clt.functions.creation_ops"):
    _optional(_family)


from clt.serialization import load, save  # noqa: E402
from clt import profiler  # noqa: E402,F401
from clt.utils.summary import summary  # noqa: E402


def synchronize(device: object = None) -> None:
    """Wait for all work enqueued on ``device`` (default device; ``"all"``: every open device),
    and raise ``IndexError`` if an index kernel met an out-of-range index meanwhile.

    Args:
        device: A Device, an id, an index, ``"all"``, or None for the default device.

    Raises:
        IndexError: If an index kernel met an out-of-range index.
    """
    from clt.ops.index import check_index_errors

    if device == "all":
        from clt.backend.device import _devices

        targets = list(_devices.values())
    else:
        targets = [globals()["device"](device)]
    for d in targets:
        d.synchronize()
        check_index_errors(d)


def memory_allocated(device: object = None) -> int:
    """Bytes of device memory in use by tensors on ``device`` (default device).

    Args:
        device: A Device, an id such as ``"cl:0"``, an index, or None for the default device.

    Returns:
        The byte count.
    """
    return globals()["device"](device).memory_allocated()


def memory_reserved(device: object = None) -> int:
    """Bytes held by the memory pool of ``device`` (in use plus cached).

    Args:
        device: A Device, an id such as ``"cl:0"``, an index, or None for the default device.

    Returns:
        The byte count.
    """
    return globals()["device"](device).memory_reserved()


def max_memory_allocated(device: object = None) -> int:
    """Peak bytes in use on ``device`` since start or the last reset.

    Args:
        device: A Device, an id such as ``"cl:0"``, an index, or None for the default device.

    Returns:
        The byte count.
    """
    return globals()["device"](device).max_memory_allocated()


def empty_cache(device: object = None) -> None:
    """Return cached, unused blocks of ``device``'s pool to the driver.

    Args:
        device: A Device, an id such as ``"cl:0"``, an index, or None for the default device.
    """
    globals()["device"](device).empty_cache()


def is_tensor(obj: object) -> bool:
    """Whether ``obj`` is a clt Tensor (Parameters included).

    Args:
        obj: Any object.

    Returns:
        True for Tensor instances.
    """
    return isinstance(obj, Tensor)


__version__ = "0.1.0"

from clt import amp  # noqa: E402  (mixed precision: clt.autocast, clt.GradScaler)
from clt.amp import GradScaler, autocast  # noqa: E402
from clt import array_api  # noqa: E402,F401  (attaches Tensor.__array_namespace__, to_device)

_SUBMODULES = ("nn", "optim", "data", "metrics", "models", "train", "utils", "parallel",
               "distributed", "cli")


def __getattr__(name: str) -> object:
    # subpackages load on first use, so `import clt` (and clt-devices) stays fast
    if name in _SUBMODULES:
        return importlib.import_module(f"clt.{name}")
    raise AttributeError(f"module 'clt' has no attribute '{name}'")
