"""Multi-layer perceptron and LeNet-5."""
from __future__ import annotations

from typing import Any, Sequence

from clt import nn


class MLP(nn.Module):
    """Fully connected network: Linear -> activation (-> dropout) for each hidden layer.

    Args:
        in_features: input size (inputs with more dims are flattened from dim 1).
        hidden: sizes of the hidden layers.
        out_features: output size.
        activation: "relu", "gelu", "tanh", "silu" or "sigmoid".
        dropout: dropout probability after each hidden activation (0 disables it).
    """

    def __init__(self, in_features: int, hidden: Sequence[int], out_features: int,
                 activation: str = "relu", dropout: float = 0.0, bias: bool = True,
                 device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        acts = {"relu": nn.ReLU, "gelu": nn.GELU, "tanh": nn.Tanh, "silu": nn.SiLU,
                "sigmoid": nn.Sigmoid}
        if activation not in acts:
            raise ValueError(f"activation must be one of {sorted(acts)}, got {activation!r}")
        layers: list[nn.Module] = [nn.Flatten()]
        size = in_features
        for h in hidden:
            layers += [nn.Linear(size, h, bias=bias, device=device, dtype=dtype), acts[activation]()]
            if dropout:
                layers.append(nn.Dropout(dropout))
            size = h
        layers.append(nn.Linear(size, out_features, bias=bias, device=device, dtype=dtype))
        self.layers = nn.Sequential(*layers)

    def forward(self, x: Any) -> Any:
        """Apply the Linear/activation/dropout stack to ``x``."""
        return self.layers(x)


class LeNet5(nn.Module):
    """LeNet-5 for 1x28x28 (padding 2) or 1x32x32 images, with ReLU and max pooling."""

    def __init__(self, num_classes: int = 10, in_channels: int = 1, padding: int = 2,
                 device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        kw = dict(device=device, dtype=dtype)
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 6, 5, padding=padding, **kw), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(6, 16, 5, **kw), nn.ReLU(), nn.MaxPool2d(2))
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(16 * 5 * 5, 120, **kw), nn.ReLU(),
            nn.Linear(120, 84, **kw), nn.ReLU(), nn.Linear(84, num_classes, **kw))

    def forward(self, x: Any) -> Any:
        """Map images ``x`` (N, C, H, W) to class logits (N, num_classes)."""
        return self.classifier(self.features(x))
