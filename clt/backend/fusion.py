"""The switch that turns clt's fused kernels off, to measure what they save.

clt runs several chains of elementwise work as one kernel. Each such *path* has an unfused
equivalent built from ordinary ops with the same math, which this module selects:

==================  ==========================================  =================================
path                fused (default)                             unfused
==================  ==========================================  =================================
``"bias"``          ``Linear`` / ``Conv2d`` bias added in the    the GEMM or convolution, then a
                    GEMM's (or direct convolution's) epilogue    separate broadcast ``add``
``"activation"``    an activation's backward in one kernel       composed ops, e.g. ReLU's
                    (``relu``, ``gelu``, ``leaky_relu``...)      ``grad * (y > 0)``
``"cross_entropy"`` log-softmax + NLL in one kernel forward and  ``nll_loss(log_softmax(x))``
                    one backward                                 (index targets, no smoothing)
``"optim"``         multi-tensor update kernels of ``SGD``,      per-parameter updates from
                    ``Adam`` and ``AdamW``                       elementwise ops (PyTorch's
                                                                 ``foreach=False`` shape)
==================  ==========================================  =================================

Examples:
    >>> from clt.backend import fusion
    >>> with fusion.fusion(False):                       # every path unfused
    ...     step()
    >>> with fusion.fusion(False, only=("optim",)):      # just the optimizer
    ...     step()

``CLT_FUSION=0`` in the environment turns every path off at import (``1``, the default, keeps
them on).

The state is one module-level value, shared by every thread: the context manager is not
thread-local, so a step running in another thread while it is active sees it too. Reading it is
one attribute lookup, atomic under the GIL. Nested ``fusion()`` blocks restore the state they
found on exit, so they must exit in LIFO order (as ``with`` blocks in one thread do).
"""
from __future__ import annotations

import contextlib
import os
from typing import Iterable, Iterator

__all__ = ["PATHS", "fusion", "fusion_enabled", "set_fusion"]

#: the fused paths the switch controls
PATHS: tuple[str, ...] = ("bias", "activation", "cross_entropy", "optim")

_TRUE, _FALSE = ("", "1", "true", "on", "yes"), ("0", "false", "off", "no")


def _from_env() -> frozenset[str]:
    value = os.environ.get("CLT_FUSION", "").strip().lower()
    if value in _TRUE:
        return frozenset()
    if value in _FALSE:
        return frozenset(PATHS)
    raise ValueError(f"CLT_FUSION={os.environ['CLT_FUSION']!r} is not understood; use 0 "
                     "(fused kernels off) or 1 (on, the default)")


_off: frozenset[str] = _from_env()      # the paths currently unfused


def _paths(only: Iterable[str] | None) -> frozenset[str]:
    if only is None:
        return frozenset(PATHS)
    if isinstance(only, str):
        only = (only,)
    chosen = frozenset(only)
    unknown = sorted(chosen - set(PATHS))
    if unknown:
        raise ValueError(f"unknown fusion path(s) {unknown}; the paths are {list(PATHS)}")
    return chosen


def fusion_enabled(path: str | None = None) -> bool:
    """Whether fused kernels are on.

    Args:
        path: One of :data:`PATHS`; None asks whether every path is fused.

    Returns:
        True when ``path`` (or every path) uses its fused kernel.

    Raises:
        ValueError: If ``path`` is not one of :data:`PATHS`.
    """
    if path is None:
        return not _off
    if path not in PATHS:
        raise ValueError(f"unknown fusion path {path!r}; the paths are {list(PATHS)}")
    return path not in _off


def set_fusion(enabled: bool, only: Iterable[str] | None = None) -> None:
    """Turn fused kernels on or off until changed again (see :func:`fusion` for a scope).

    Args:
        enabled: True to use the fused kernels, False for the unfused ops.
        only: The paths to change (names from :data:`PATHS`); None changes every path.

    Raises:
        ValueError: If ``only`` names an unknown path.
    """
    global _off
    chosen = _paths(only)
    _off = _off - chosen if enabled else _off | chosen


@contextlib.contextmanager
def fusion(enabled: bool, only: Iterable[str] | None = None) -> Iterator[None]:
    """Within the block, turn fused kernels on or off; the previous state returns on exit.

    Args:
        enabled: True to use the fused kernels, False for the unfused ops.
        only: The paths to change (names from :data:`PATHS`); None changes every path.

    Raises:
        ValueError: If ``only`` names an unknown path (before anything changes).
    """
    global _off
    chosen = _paths(only)
    before = _off
    _off = _off - chosen if enabled else _off | chosen
    try:
        yield
    finally:
        _off = before
