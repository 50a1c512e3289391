"""ResNet-18/34/50 (torchvision's structure and parameter names) and CIFAR ResNet-20/56."""
from __future__ import annotations

from typing import Any, Sequence

from clt import nn


def conv3x3(cin: int, cout: int, stride: int = 1, **kw: Any) -> nn.Conv2d:
    """A 3x3 convolution with padding 1 and no bias.

    Args:
        cin: Input channels.
        cout: Output channels.
        stride: The stride.
        **kw: ``device``/``dtype`` for the layer.

    Returns:
        The Conv2d layer.
    """
    return nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False, **kw)


def conv1x1(cin: int, cout: int, stride: int = 1, **kw: Any) -> nn.Conv2d:
    """A 1x1 convolution with no bias.

    Args:
        cin: Input channels.
        cout: Output channels.
        stride: The stride.
        **kw: ``device``/``dtype`` for the layer.

    Returns:
        The Conv2d layer.
    """
    return nn.Conv2d(cin, cout, 1, stride=stride, bias=False, **kw)


class BasicBlock(nn.Module):
    """ResNet basic block: two 3x3 conv + batch norm layers and a residual connection.

    Args:
        inplanes: Input channels.
        planes: Output channels.
        stride: Stride of the first conv.
        downsample: Module applied to the shortcut when the shape changes, or None.
        **kw: ``device``/``dtype`` for the layers.
    """
    expansion = 1

    def __init__(self, inplanes: int, planes: int, stride: int = 1,
                 downsample: nn.Module | None = None, **kw: Any) -> None:
        super().__init__()
        self.conv1 = conv3x3(inplanes, planes, stride, **kw)
        self.bn1 = nn.BatchNorm2d(planes, **kw)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(planes, planes, **kw)
        self.bn2 = nn.BatchNorm2d(planes, **kw)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x: Any) -> Any:
        """Return ``relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x))``."""
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class Bottleneck(nn.Module):
    """ResNet bottleneck block: 1x1, 3x3 (strided) and 1x1 convs with ``planes * 4`` outputs.

    Args:
        inplanes: Input channels.
        planes: Width of the inner convs; the block outputs ``planes * 4`` channels.
        stride: Stride of the 3x3 conv.
        downsample: Module applied to the shortcut when the shape changes, or None.
        **kw: ``device``/``dtype`` for the layers.
    """
    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int = 1,
                 downsample: nn.Module | None = None, **kw: Any) -> None:
        super().__init__()
        self.conv1 = conv1x1(inplanes, planes, **kw)
        self.bn1 = nn.BatchNorm2d(planes, **kw)
        self.conv2 = conv3x3(planes, planes, stride, **kw)
        self.bn2 = nn.BatchNorm2d(planes, **kw)
        self.conv3 = conv1x1(planes, planes * 4, **kw)
        self.bn3 = nn.BatchNorm2d(planes * 4, **kw)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x: Any) -> Any:
        """Apply the three conv + batch norm layers and add the (downsampled) shortcut."""
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


class ResNet(nn.Module):
    """ImageNet-style ResNet: 7x7 stem, max pool, four stages, global pool, ``fc``."""

    def __init__(self, block: type, layers: Sequence[int], num_classes: int = 1000,
                 in_channels: int = 3, zero_init_residual: bool = False, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__()
        kw = dict(device=device, dtype=dtype)
        self._kw = kw
        self.inplanes = 64
        self.conv1 = nn.Conv2d(in_channels, 64, 7, stride=2, padding=3, bias=False, **kw)
        self.bn1 = nn.BatchNorm2d(64, **kw)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(block, 64, layers[0])
        self.layer2 = self._make_layer(block, 128, layers[1], stride=2)
        self.layer3 = self._make_layer(block, 256, layers[2], stride=2)
        self.layer4 = self._make_layer(block, 512, layers[3], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512 * block.expansion, num_classes, **kw)
        _init_resnet(self, zero_init_residual)

    def _make_layer(self, block: type, planes: int, blocks: int, stride: int = 1
                    ) -> nn.Sequential:
        kw = self._kw
        downsample = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(conv1x1(self.inplanes, planes * block.expansion, stride,
                                               **kw), nn.BatchNorm2d(planes * block.expansion,
                                                                     **kw))
        layers = [block(self.inplanes, planes, stride, downsample, **kw)]
        self.inplanes = planes * block.expansion
        layers += [block(self.inplanes, planes, **kw) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def forward(self, x: Any) -> Any:
        """Map images (N, C, H, W) to class logits (N, num_classes)."""
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(self.avgpool(x).flatten(1))


def _init_resnet(model: nn.Module, zero_init_residual: bool) -> None:
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
            nn.init.constant_(m.weight, 1)
            nn.init.constant_(m.bias, 0)
    if zero_init_residual:
        for m in model.modules():
            if isinstance(m, Bottleneck):
                nn.init.constant_(m.bn3.weight, 0)
            elif isinstance(m, BasicBlock):
                nn.init.constant_(m.bn2.weight, 0)


class CifarResNet(nn.Module):
    """He et al.'s CIFAR ResNet (6n+2 layers: 20, 32, 44, 56, 110) with 16/32/64 channels and
    1x1-conv shortcuts where the shape changes."""

    def __init__(self, depth: int = 20, num_classes: int = 10, in_channels: int = 3,
                 device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        if (depth - 2) % 6:
            raise ValueError(f"CIFAR ResNet depth must be 6n+2 (20, 32, 44, 56, 110), got {depth}")
        n = (depth - 2) // 6
        kw = dict(device=device, dtype=dtype)
        self._kw = kw
        self.inplanes = 16
        self.conv1 = conv3x3(in_channels, 16, **kw)
        self.bn1 = nn.BatchNorm2d(16, **kw)
        self.relu = nn.ReLU(inplace=True)
        self.layer1 = ResNet._make_layer(self, BasicBlock, 16, n)
        self.layer2 = ResNet._make_layer(self, BasicBlock, 32, n, stride=2)
        self.layer3 = ResNet._make_layer(self, BasicBlock, 64, n, stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(64, num_classes, **kw)
        _init_resnet(self, False)

    def forward(self, x: Any) -> Any:
        """Map images (N, C, H, W) to class logits (N, num_classes)."""
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(self.avgpool(x).flatten(1))


def resnet18(**kw: Any) -> ResNet:
    """ResNet-18 (basic blocks [2, 2, 2, 2]), torchvision's structure and parameter names.

    Args:
        **kw: Passed to :class:`ResNet` (``num_classes``, ``device``, ``dtype``...).

    Returns:
        A randomly initialized model.
    """
    return ResNet(BasicBlock, [2, 2, 2, 2], **kw)


def resnet34(**kw: Any) -> ResNet:
    """ResNet-34 (basic blocks [3, 4, 6, 3]), torchvision's structure and parameter names.

    Args:
        **kw: Passed to :class:`ResNet` (``num_classes``, ``device``, ``dtype``...).

    Returns:
        A randomly initialized model.
    """
    return ResNet(BasicBlock, [3, 4, 6, 3], **kw)


def resnet50(**kw: Any) -> ResNet:
    """ResNet-50 (bottleneck blocks [3, 4, 6, 3]), torchvision's structure and parameter names.

    Args:
        **kw: Passed to :class:`ResNet` (``num_classes``, ``device``, ``dtype``...).

    Returns:
        A randomly initialized model.
    """
    return ResNet(Bottleneck, [3, 4, 6, 3], **kw)


def resnet20(**kw: Any) -> CifarResNet:
    """CIFAR ResNet-20 (He et al.; 16/32/64 channels).

    Args:
        **kw: Passed to :class:`CifarResNet` (``num_classes``, ``in_channels``, ``device``,
            ``dtype``).

    Returns:
        A randomly initialized model.
    """
    return CifarResNet(20, **kw)


def resnet56(**kw: Any) -> CifarResNet:
    """CIFAR ResNet-56 (He et al.; 16/32/64 channels).

    Args:
        **kw: Passed to :class:`CifarResNet` (``num_classes``, ``in_channels``, ``device``,
            ``dtype``).

    Returns:
        A randomly initialized model.
    """
    return CifarResNet(56, **kw)
