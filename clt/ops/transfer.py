"""Moving data between the host and devices, and between devices."""
from __future__ import annotations

import numpy as np

from clt import dtypes as D
from clt.backend.device import Device
from clt.dtypes import DType
from clt.ops import elementwise as ew
from clt.ops.array import Array
from clt.ops.index import check_index_errors


def from_numpy(device: Device, host: np.ndarray, dtype: DType | None = None,
               blocking: bool = True) -> Array:
    """Upload a host array (converted to ``dtype`` on the host first, if given).

    Non-blocking uploads copy ``host`` into a private buffer first, so the caller may reuse it.
    """
    dtype = D.as_dtype(host.dtype if dtype is None else dtype)
    D.check_device_dtype(dtype, device)
    data = np.asarray(host, dtype=dtype.np, order="C")
    if not blocking and data is host:
        data = data.copy()
    out = Array.empty(device, data.shape, dtype)
    event = device.upload(out.buffer, data, blocking=blocking)
    if not blocking:
        out.storage.pending = (event, data)
    return out


def to_numpy(x: Array) -> np.ndarray:
    """Download ``x`` into a new numpy array (waits for the device)."""
    src = ew.contiguous(x)
    host = np.empty(src.shape, dtype=src.dtype.np)
    src.device.download(host, src.buffer, src.offset * src.dtype.itemsize, blocking=True)
    check_index_errors(src.device)      # a bad index met by an index kernel surfaces here
    return host


def to_device(x: Array, device: Device, blocking: bool = False) -> Array:
    """A copy of ``x`` on ``device``: a device copy within one context, else via the host."""
    if device is x.device:
        return x
    D.check_device_dtype(x.dtype, device)
    src = ew.contiguous(x)
    if device.context == src.device.context:
        out = Array.empty(device, src.shape, src.dtype)
        src.device.copy_buffer(out.buffer, src.buffer, src.nbytes,
                               src_offset=src.offset * src.dtype.itemsize)
        src.device.synchronize()   # other queue: order the copy before device's later work
        return out
    host = to_numpy(src)
    return from_numpy(device, host, blocking=blocking)
