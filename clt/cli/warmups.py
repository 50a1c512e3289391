"""The standard warm-up set that ``clt-devices --warmup`` compiles ahead of time.

Each kernel family registers a routine with :func:`clt.backend.register_warmup`; a family whose
module registers its own is picked up when ``clt`` is imported. This module registers the
routines for families that have none of their own yet.
"""
from __future__ import annotations

import numpy as np

from clt.backend import register_warmup, warmups


def warm_elementwise_float32(device) -> None:
    """The float32 elementwise kernels almost every program runs, on tiny arrays."""
    from clt import dtypes as D
    from clt.ops import elementwise as ew
    from clt.ops.array import Array
    from clt.ops.transfer import from_numpy, to_numpy

    x = from_numpy(device, np.linspace(0.5, 2.0, 6, dtype=np.float32).reshape(2, 3))
    y = from_numpy(device, np.full((2, 3), 1.5, np.float32))
    for op in ("add", "sub", "mul", "div", "maximum", "minimum", "pow"):
        ew.binary(op, x, y)
    for op in ("add", "mul", "sub", "div"):
        ew.binary(op, x, 2.0)       # tensor-scalar ops are their own kernels
    for op in ("neg", "exp", "log", "sqrt", "tanh", "sigmoid", "relu", "abs", "square"):
        ew.unary(op, x)
    for op in ("gt", "lt", "eq"):
        ew.binary(op, x, y)
    ew.where(ew.binary("gt", x, y), x, y)
    ew.contiguous(x.view((3, 2), (1, 3)))
    ew.cast(x, D.int64)
    ew.cast(ew.cast(x, D.int64), D.float32)
    ew.fill_(Array.empty(device, (2, 3), D.float32), 0.0)
    to_numpy(x)


def register_standard() -> None:
    """Register the standard routines that no family module has registered itself."""
    if "elementwise" not in warmups():
        register_warmup("elementwise", warm_elementwise_float32)
