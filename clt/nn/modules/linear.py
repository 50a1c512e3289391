"""Linear layers: Identity, Linear, Bilinear."""
from __future__ import annotations

import math
from typing import Any

from clt.errors import ShapeError
from clt.functions.creation import empty
from clt.nn import functional as F
from clt.nn import init
from clt.nn.module import Module
from clt.nn.parameter import Parameter
from clt.tensor import Tensor

__all__ = ["Identity", "Linear", "Bilinear"]


def _check_features(layer: str, **sizes: Any) -> None:
    for name, n in sizes.items():
        if isinstance(n, bool) or not isinstance(n, int):
            raise TypeError(f"{layer}: {name} must be an int, got {type(n).__name__}")
        if n < 0:
            raise ValueError(f"{layer}: {name} must be non-negative, got {n}")


class Identity(Module):
    """Returns its input; accepts and ignores any constructor arguments."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()

    def forward(self, input: Any) -> Any:
        """Return the input unchanged."""
        return input


class Linear(Module):
    """``y = x @ weight.T + bias``.

    ``weight`` (out_features, in_features) starts from kaiming_uniform_(a=sqrt(5)), i.e.
    U(-1/sqrt(in_features), 1/sqrt(in_features)), and ``bias`` from the same bound, as PyTorch.

    Shape:
        Input: (*, in_features). Output: (*, out_features).
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True,
                 device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        _check_features("Linear", in_features=in_features, out_features=out_features)
        self.in_features = in_features
        self.out_features = out_features
        self.weight = Parameter(empty((out_features, in_features), device=device, dtype=dtype))
        if bias:
            self.bias = Parameter(empty(out_features, device=device, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # kaiming_uniform_ with a=sqrt(5) is U(-1/sqrt(fan_in), 1/sqrt(fan_in)); see
        # https://github.com/pytorch/pytorch/issues/57109 for why PyTorch keeps it
        """Re-initialize: weight from kaiming_uniform_(a=sqrt(5)), bias from U(-1/sqrt(in_features),
        1/sqrt(in_features))."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in = self.in_features
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input: Tensor) -> Tensor:
        """Compute ``input @ weight.T + bias``; raises ShapeError if the last dim is not
        ``in_features``."""
        if not isinstance(input, Tensor):
            raise TypeError(f"Linear: expected a Tensor input, got {type(input).__name__}")
        if input.ndim == 0 or input.shape[-1] != self.in_features:
            raise ShapeError(f"Linear(in_features={self.in_features}, out_features="
                             f"{self.out_features}): expected input with last dimension "
                             f"{self.in_features}, got input of shape {tuple(input.shape)}")
        return F.linear(input, self.weight, self.bias)

    def extra_repr(self) -> str:
        """The constructor settings shown inside ``repr()``.

        Returns:
            A short description such as the layer's hyperparameters.
        """
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


class Bilinear(Module):
    """``y = x1^T A x2 + b`` with ``A`` of shape (out_features, in1_features, in2_features).

    Weights and bias start from U(-1/sqrt(in1_features), 1/sqrt(in1_features)), as PyTorch.

    Shape:
        Input1: (*, in1_features), Input2: (*, in2_features). Output: (*, out_features).
    """

    def __init__(self, in1_features: int, in2_features: int, out_features: int,
                 bias: bool = True, device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        _check_features("Bilinear", in1_features=in1_features, in2_features=in2_features,
                        out_features=out_features)
        self.in1_features, self.in2_features = in1_features, in2_features
        self.out_features = out_features
        self.weight = Parameter(empty((out_features, in1_features, in2_features),
                                      device=device, dtype=dtype))
        if bias:
            self.bias = Parameter(empty(out_features, device=device, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Re-initialize weight and bias from U(-1/sqrt(in1_features), 1/sqrt(in1_features))."""
        bound = 1 / math.sqrt(self.weight.shape[1]) if self.weight.shape[1] else 0
        init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input1: Tensor, input2: Tensor) -> Tensor:
        """Compute ``input1^T A input2 + b``; raises ShapeError if a last dim does not match."""
        for name, x, n in (("input1", input1, self.in1_features),
                           ("input2", input2, self.in2_features)):
            if not isinstance(x, Tensor):
                raise TypeError(f"Bilinear: expected a Tensor {name}, got {type(x).__name__}")
            if x.ndim == 0 or x.shape[-1] != n:
                raise ShapeError(f"Bilinear: expected {name} with last dimension {n}, got "
                                 f"shape {tuple(x.shape)}")
        return F.bilinear(input1, input2, self.weight, self.bias)

    def extra_repr(self) -> str:
        """The constructor settings shown inside ``repr()``.

        Returns:
            A short description such as the layer's hyperparameters.
        """
        return (f"in1_features={self.in1_features}, in2_features={self.in2_features}, "
                f"out_features={self.out_features}, bias={self.bias is not None}")
