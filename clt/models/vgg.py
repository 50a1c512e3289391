"""VGG 11/13/16/19 with and without batch norm (torchvision's module structure and parameter
names), and a small CIFAR variant."""
from __future__ import annotations

from typing import Any

from clt import nn

CFGS = {
    "A": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "B": [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "D": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    "E": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512,
          512, 512, "M"],
    "cifar": [32, "M", 64, "M", 128, 128, "M"],
}


def make_layers(cfg: list, batch_norm: bool, in_channels: int = 3, **kw: Any) -> nn.Sequential:
    """Build VGG's conv feature stack from a configuration list.

    Args:
        cfg: Output channel counts, with ``"M"`` for a 2x2 max pool.
        batch_norm: Whether to put BatchNorm2d after each conv.
        in_channels: Channels of the input images.
        **kw: ``device``/``dtype`` for the layers.

    Returns:
        A Sequential of Conv2d/(BatchNorm2d)/ReLU and MaxPool2d layers.
    """
    layers: list[nn.Module] = []
    c = in_channels
    for v in cfg:
        if v == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            continue
        layers.append(nn.Conv2d(c, v, kernel_size=3, padding=1, **kw))
        if batch_norm:
            layers.append(nn.BatchNorm2d(v, **kw))
        layers.append(nn.ReLU(inplace=True))
        c = v
    return nn.Sequential(*layers)


class VGG(nn.Module):
    """VGG: ``features`` (convs), ``avgpool`` (adaptive 7x7), ``classifier`` (3 linears)."""

    def __init__(self, features: nn.Sequential, num_classes: int = 1000, dropout: float = 0.5,
                 hidden: int = 4096, pool: int = 7, init_weights: bool = True,
                 device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        kw = dict(device=device, dtype=dtype)
        self.features = features
        self.avgpool = nn.AdaptiveAvgPool2d((pool, pool))
        last = [m for m in features.modules() if isinstance(m, nn.Conv2d)][-1].out_channels
        self.classifier = nn.Sequential(
            nn.Linear(last * pool * pool, hidden, **kw), nn.ReLU(True), nn.Dropout(p=dropout),
            nn.Linear(hidden, hidden, **kw), nn.ReLU(True), nn.Dropout(p=dropout),
            nn.Linear(hidden, num_classes, **kw))
        if init_weights:
            for m in self.modules():
                if isinstance(m, nn.Conv2d):
                    nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                    if m.bias is not None:
                        nn.init.constant_(m.bias, 0)
                elif isinstance(m, nn.BatchNorm2d):
                    nn.init.constant_(m.weight, 1)
                    nn.init.constant_(m.bias, 0)
                elif isinstance(m, nn.Linear):
                    nn.init.normal_(m.weight, 0, 0.01)
                    nn.init.constant_(m.bias, 0)

    def forward(self, x: Any) -> Any:
        """Map images (N, C, H, W) to class logits (N, num_classes)."""
        x = self.avgpool(self.features(x))
        return self.classifier(x.flatten(1))


def _vgg(cfg: str, batch_norm: bool, num_classes: int = 1000, in_channels: int = 3,
         **kw: Any) -> VGG:
    dev = {k: kw[k] for k in ("device", "dtype") if k in kw}
    return VGG(make_layers(CFGS[cfg], batch_norm, in_channels, **dev), num_classes, **kw)


def vgg11(**kw: Any) -> VGG:
    """VGG-11 (configuration "A").

    Args:
        **kw: ``num_classes``, ``in_channels``, and :class:`VGG` options (``dropout``, ``device``,
            ``dtype``...).

    Returns:
        A randomly initialized model.
    """
    return _vgg("A", False, **kw)


def vgg11_bn(**kw: Any) -> VGG:
    """VGG-11 (configuration "A") with batch norm after each conv.

    Args:
        **kw: ``num_classes``, ``in_channels``, and :class:`VGG` options (``dropout``, ``device``,
            ``dtype``...).

    Returns:
        A randomly initialized model.
    """
    return _vgg("A", True, **kw)


def vgg13(**kw: Any) -> VGG:
    """VGG-13 (configuration "B").

    Args:
        **kw: ``num_classes``, ``in_channels``, and :class:`VGG` options (``dropout``, ``device``,
            ``dtype``...).

    Returns:
        A randomly initialized model.
    """
    return _vgg("B", False, **kw)


def vgg13_bn(**kw: Any) -> VGG:
    """VGG-13 (configuration "B") with batch norm after each conv.

    Args:
        **kw: ``num_classes``, ``in_channels``, and :class:`VGG` options (``dropout``, ``device``,
            ``dtype``...).

    Returns:
        A randomly initialized model.
    """
    return _vgg("B", True, **kw)


def vgg16(**kw: Any) -> VGG:
    """VGG-16 (configuration "D").

    Args:
        **kw: ``num_classes``, ``in_channels``, and :class:`VGG` options (``dropout``, ``device``,
            ``dtype``...).

    Returns:
        A randomly initialized model.
    """
    return _vgg("D", False, **kw)


def vgg16_bn(**kw: Any) -> VGG:
    """VGG-16 (configuration "D") with batch norm after each conv.

    Args:
        **kw: ``num_classes``, ``in_channels``, and :class:`VGG` options (``dropout``, ``device``,
            ``dtype``...).

    Returns:
        A randomly initialized model.
    """
    return _vgg("D", True, **kw)


def vgg19(**kw: Any) -> VGG:
    """VGG-19 (configuration "E").

    Args:
        **kw: ``num_classes``, ``in_channels``, and :class:`VGG` options (``dropout``, ``device``,
            ``dtype``...).

    Returns:
        A randomly initialized model.
    """
    return _vgg("E", False, **kw)


def vgg19_bn(**kw: Any) -> VGG:
    """VGG-19 (configuration "E") with batch norm after each conv.

    Args:
        **kw: ``num_classes``, ``in_channels``, and :class:`VGG` options (``dropout``, ``device``,
            ``dtype``...).

    Returns:
        A randomly initialized model.
    """
    return _vgg("E", True, **kw)


def vgg_cifar(num_classes: int = 10, batch_norm: bool = True, **kw: Any) -> VGG:
    """A small VGG for 32x32 inputs: 4 conv layers, 4x4 pooled features, 256 hidden units."""
    return _vgg("cifar", batch_norm, num_classes, hidden=256, pool=4, dropout=0.3, **kw)
