"""Neural-network modules, layers, losses and initialisation, with PyTorch's names."""
from clt.nn import functional, init  # noqa: F401
from clt.nn._aggregate import collect
from clt.nn.module import Module
from clt.nn.parameter import Buffer, Parameter

__all__ = ["Module", "Parameter", "Buffer", "functional", "init"] + collect(
    globals(), [f"clt.nn.modules.{m}" for m in (
        "container", "linear", "activation", "loss", "dropout", "sparse", "flatten", "conv",
        "pooling", "batchnorm", "normalization", "upsampling", "rnn")])
try:
    import importlib as _importlib

    utils = _importlib.import_module("clt.nn.utils")
except ModuleNotFoundError as _exc:   # written by the nn utilities work
    if _exc.name != "clt.nn.utils":
        raise
