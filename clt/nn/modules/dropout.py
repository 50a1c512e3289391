"""Dropout layers: active in training mode, identity in eval mode."""
from __future__ import annotations

from clt.nn import functional as F
from clt.nn._functional.dropout import check_p
from clt.nn.module import Module
from clt.tensor import Tensor

__all__ = ["Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout",
           "FeatureAlphaDropout"]


class _DropoutNd(Module):
    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        super().__init__()
        self.p = check_p(p)
        self.inplace = inplace

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"


class Dropout(_DropoutNd):
    """Zero elements with probability ``p`` in training, scaling the rest by 1 / (1 - p).

    Shape:
        Input: (*). Output: the same shape.
    """

    def forward(self, input: Tensor) -> Tensor:
        """Apply ``F.dropout`` to the input with this module's settings."""
        return F.dropout(input, self.p, self.training, self.inplace)


class Dropout1d(_DropoutNd):
    """Zero whole channels of (N, C, L) / (C, L) input."""

    def forward(self, input: Tensor) -> Tensor:
        """Apply ``F.dropout1d`` to the input with this module's settings."""
        return F.dropout1d(input, self.p, self.training, self.inplace)


class Dropout2d(_DropoutNd):
    """Zero whole channels of (N, C, H, W) / (C, H, W) input."""

    def forward(self, input: Tensor) -> Tensor:
        """Apply ``F.dropout2d`` to the input with this module's settings."""
        return F.dropout2d(input, self.p, self.training, self.inplace)


class Dropout3d(_DropoutNd):
    """Zero whole channels of (N, C, D, H, W) / (C, D, H, W) input."""

    def forward(self, input: Tensor) -> Tensor:
        """Apply ``F.dropout3d`` to the input with this module's settings."""
        return F.dropout3d(input, self.p, self.training, self.inplace)


class AlphaDropout(_DropoutNd):
    """Alpha dropout (for SELU networks)."""

    def forward(self, input: Tensor) -> Tensor:
        """Apply ``F.alpha_dropout`` to the input with this module's settings."""
        return F.alpha_dropout(input, self.p, self.training)


class FeatureAlphaDropout(_DropoutNd):
    """Alpha dropout of whole channels."""

    def forward(self, input: Tensor) -> Tensor:
        """Apply ``F.feature_alpha_dropout`` to the input with this module's settings."""
        return F.feature_alpha_dropout(input, self.p, self.training)
