"""Memory report per training step (pool in use, reserved, peak)."""
from __future__ import annotations

from typing import Any

from clt.train.callbacks import Callback


def memory_report(device: Any = None) -> dict[str, int]:
    """Bytes in use, reserved by the pool, and the peak, for ``device``.

    Args:
        device: A Device, an id, an index, or None for the default device.

    Returns:
        ``{"allocated": ..., "reserved": ..., "peak": ...}`` in bytes.
    """
    from clt.backend.device import device as select

    d = select(device)
    return {"allocated": d.memory_allocated(), "reserved": d.memory_reserved(),
            "peak": d.max_memory_allocated()}


def format_memory(report: dict[str, int]) -> str:
    """Format a memory report in MiB.

    Args:
        report: Byte counts keyed by name, as from ``memory_report``.

    Returns:
        A line such as ``"allocated 1.0 MiB, reserved 4.0 MiB, peak 2.0 MiB"``.
    """
    mib = 2 ** 20
    return ", ".join(f"{k} {v / mib:.1f} MiB" for k, v in report.items())


class MemoryMonitor(Callback):
    """Record the device memory report every ``every`` steps (and print it if ``verbose``)."""

    def __init__(self, every: int = 50, verbose: bool = False) -> None:
        self.every, self.verbose = every, verbose
        self.records: list[tuple[int, dict[str, int]]] = []

    def on_batch_end(self, trainer: Any, step: int, logs: dict[str, Any]) -> None:
        """Record (and optionally print) the memory report every ``every`` steps.

        Args:
            trainer: The Trainer; its ``device`` is reported.
            step: The global step.
            logs: The batch's values (unused).
        """
        if step % self.every == 0:
            rep = memory_report(trainer.device)
            self.records.append((step, rep))
            if self.verbose:
                print(f"step {step}: {format_memory(rep)}")
