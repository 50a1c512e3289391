"""Pre-built models with torchvision's module structure and parameter names, so torchvision
state dicts (exported to safetensors) load with ``load_state_dict``."""
from __future__ import annotations

from typing import Any, Callable

from clt.models.mlp import MLP, LeNet5
from clt.models.resnet import (BasicBlock, Bottleneck, CifarResNet, ResNet, resnet18, resnet20,
                               resnet34, resnet50, resnet56)
from clt.models.vgg import (VGG, vgg11, vgg11_bn, vgg13, vgg13_bn, vgg16, vgg16_bn, vgg19,
                            vgg19_bn, vgg_cifar)

_REGISTRY: dict[str, Callable[..., Any]] = {
    "mlp": MLP, "lenet5": LeNet5, "resnet18": resnet18, "resnet34": resnet34,
    "resnet50": resnet50, "resnet20": resnet20, "resnet56": resnet56, "vgg11": vgg11,
    "vgg11_bn": vgg11_bn, "vgg13": vgg13, "vgg13_bn": vgg13_bn, "vgg16": vgg16,
    "vgg16_bn": vgg16_bn, "vgg19": vgg19, "vgg19_bn": vgg19_bn, "vgg_cifar": vgg_cifar,
}


def list_models() -> list[str]:
    """The names :func:`get_model` accepts.

    Returns:
        The sorted model names.
    """
    return sorted(_REGISTRY)


def get_model(name: str, **kwargs: Any) -> Any:
    """Build a model by name (``clt.models.list_models()`` lists them)."""
    key = name.lower()
    if key not in _REGISTRY:
        raise ValueError(f"unknown model {name!r}; available: {', '.join(list_models())}")
    return _REGISTRY[key](**kwargs)


__all__ = ["BasicBlock", "Bottleneck", "CifarResNet", "LeNet5", "MLP", "ResNet", "VGG",
           "get_model", "list_models", "resnet18", "resnet20", "resnet34", "resnet50",
           "resnet56", "vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16", "vgg16_bn", "vgg19",
           "vgg19_bn", "vgg_cifar"]
