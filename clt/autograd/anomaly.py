"""``detect_anomaly``: check every op's outputs and gradients for NaN/Inf and name the culprit.

This syncs with the device after every op, so it is a debugging aid, not for production runs.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from clt.autograd.grad_mode import STATE
from clt.ops import transfer


def _bad(t: Any) -> str | None:
    from clt.tensor import Tensor

    if not isinstance(t, Tensor) or not t.dtype.is_floating_point or t.numel() == 0:
        return None
    host = transfer.to_numpy(t._data)
    if np.isnan(host).any():
        return "nan"
    if np.isinf(host).any():
        return "inf"
    return None


def check_outputs(op: str, outputs: Sequence[Any]) -> None:
    """Raise if a forward op produced NaN or Inf (used under :class:`detect_anomaly`).

    Args:
        op: The op name, for the error message.
        outputs: The op's outputs; non-float and None entries are skipped.

    Raises:
        RuntimeError: If an output holds NaN or Inf.
    """
    for i, t in enumerate(outputs):
        bad = _bad(t)
        if bad:
            raise RuntimeError(f"detect_anomaly: forward of {op} produced {bad.upper()} in "
                               f"output {i} (shape {tuple(t.shape)})")


def check_backward(node: Any, grads: Sequence[Any]) -> None:
    """Raise if a backward node returned NaN or Inf, naming where its forward was created.

    Args:
        node: The graph node whose backward ran.
        grads: The gradients it returned.

    Raises:
        RuntimeError: If a gradient holds NaN or Inf.
    """
    for i, g in enumerate(grads):
        bad = _bad(g)
        if bad:
            where = "".join(node.created_at[-4:]) if node.created_at else "(unknown)\n"
            raise RuntimeError(
                f"Function '{node.name()}' returned {bad.upper()} values in its {i}th output.\n"
                f"The forward op was created at:\n{where}")


class detect_anomaly:
    """Context manager: after each op check for NaN/Inf; name the op and where it was created."""

    def __init__(self, check_nan: bool = True) -> None:
        self.check_nan = check_nan

    def __enter__(self) -> "detect_anomaly":
        self._prev = STATE.anomaly
        STATE.anomaly = self.check_nan
        return self

    def __exit__(self, *exc: Any) -> None:
        STATE.anomaly = self._prev


def set_detect_anomaly(mode: bool) -> None:
    """Turn anomaly detection on or off globally.

    Args:
        mode: True to check every op's outputs and gradients for NaN/Inf.
    """
    STATE.anomaly = bool(mode)


def is_anomaly_enabled() -> bool:
    """Whether anomaly detection is on.

    Returns:
        The current setting.
    """
    return STATE.anomaly
