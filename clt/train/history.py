"""Training history: per-epoch values, a learning-curve plot and a text summary."""
from __future__ import annotations

import math
from typing import Any


class History:
    """Lists of per-epoch values keyed by name (``loss``, ``val_loss``, ``val_acc``, ``lr``...)."""

    def __init__(self) -> None:
        self.epochs: list[int] = []
        self.values: dict[str, list[float]] = {}

    def log(self, epoch: int, logs: dict[str, Any]) -> None:
        """Record one epoch's numeric values (non-numeric ones are skipped; missing ones become
        NaN).

        Args:
            epoch: The epoch number.
            logs: Values keyed by name.
        """
        self.epochs.append(epoch)
        for k, v in logs.items():
            if isinstance(v, (int, float)):
                self.values.setdefault(k, [math.nan] * (len(self.epochs) - 1)).append(float(v))
        for k, series in self.values.items():
            if len(series) < len(self.epochs):
                series.append(math.nan)

    def __getitem__(self, key: str) -> list[float]:
        return self.values[key]

    def __contains__(self, key: str) -> bool:
        return key in self.values

    def best(self, key: str, mode: str = "min") -> tuple[int, float]:
        """The epoch with the lowest (or highest) non-NaN value of ``key``.

        Args:
            key: The series name, such as ``"val_loss"``.
            mode: ``"min"`` or ``"max"``.

        Returns:
            ``(epoch, value)``.

        Raises:
            KeyError: If ``key`` was never logged.
            ValueError: If the series holds only NaN.
        """
        series = [(v, e) for e, v in zip(self.epochs, self.values[key]) if not math.isnan(v)]
        v, e = (min if mode == "min" else max)(series)
        return e, v

    def state_dict(self) -> dict[str, Any]:
        """The epochs and series, as plain lists.

        Returns:
            ``{"epochs": [...], "values": {name: [...]}}``.
        """
        return {"epochs": list(self.epochs), "values": {k: list(v) for k, v in
                                                        self.values.items()}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore the epochs and series from :meth:`state_dict`.

        Args:
            state: The saved dict.
        """
        self.epochs = list(state["epochs"])
        self.values = {k: list(v) for k, v in state["values"].items()}

    def summary(self) -> str:
        """A table of every epoch's values, then the best of each metric."""
        keys = list(self.values)
        if not self.epochs:
            return "no epochs recorded"
        head = "epoch " + " ".join(f"{k:>12}" for k in keys)
        rows = [head]
        for i, e in enumerate(self.epochs):
            rows.append(f"{e:5d} " + " ".join(f"{self.values[k][i]:12.5g}" for k in keys))
        for k in keys:
            if any(not math.isnan(v) for v in self.values[k]) and k not in ("lr", "epoch_time"):
                mode = "min" if "loss" in k or "error" in k else "max"
                e, v = self.best(k, mode)
                rows.append(f"best {k}: {v:.5g} (epoch {e})")
        return "\n".join(rows)

    def plot(self, path: str, keys: list[str] | None = None, title: str = "learning curves"
             ) -> str:
        """Save learning curves (losses left, other metrics right) as a PNG; returns the path.

        Args:
            path: The PNG file to write.
            keys: The series to plot (default: all but ``lr``, ``epoch_time`` and
                ``samples_per_s``).
            title: The figure title.

        Returns:
            ``path``.

        Raises:
            RuntimeError: If matplotlib is not installed.
        """
        try:
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError as exc:
            raise RuntimeError("History.plot needs matplotlib (pip install matplotlib)") from exc
        keys = keys or [k for k in self.values if k not in ("lr", "epoch_time",
                                                            "samples_per_s")]
        losses = [k for k in keys if "loss" in k]
        others = [k for k in keys if k not in losses]
        from matplotlib.ticker import MaxNLocator

        fig, axes = plt.subplots(1, 2 if others else 1, figsize=(10 if others else 5, 4))
        axes = list(axes) if others else [axes]
        for ax in axes:
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        for k in losses:
            axes[0].plot(self.epochs, self.values[k], marker="o", label=k)
        axes[0].set_xlabel("epoch")
        axes[0].set_ylabel("loss")
        axes[0].legend()
        if others:
            for k in others:
                axes[1].plot(self.epochs, self.values[k], marker="o", label=k)
            axes[1].set_xlabel("epoch")
            axes[1].legend()
        fig.suptitle(title)
        fig.tight_layout()
        fig.savefig(path, dpi=100)
        plt.close(fig)
        return path

    def __repr__(self) -> str:
        return f"History(epochs={len(self.epochs)}, keys={list(self.values)})"
