"""Activation layers (``nn.ReLU``, ``nn.GELU``, ``nn.Softmax``, ...), thin wrappers over F."""
from __future__ import annotations

from typing import Any

from clt.nn import functional as F
from clt.nn.module import Module
from clt.nn.parameter import Parameter
from clt.tensor import Tensor

__all__ = ["ReLU", "ReLU6", "LeakyReLU", "ELU", "SELU", "CELU", "GELU", "SiLU", "Mish",
           "Sigmoid", "Tanh", "Hardtanh", "Hardsigmoid", "Hardswish", "Softplus", "Softsign",
           "Tanhshrink", "Softshrink", "Hardshrink", "Threshold", "LogSigmoid", "PReLU", "RReLU",
           "GLU", "Softmax", "LogSoftmax", "Softmin", "Softmax2d"]


def _inplace_repr(inplace: bool) -> str:
    return "inplace=True" if inplace else ""


class ReLU(Module):
    """``max(x, 0)`` elementwise.

    Shape:
        Input: (*), any shape. Output: the same shape.
    """

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        """Apply ``F.relu`` to the input with this module's settings."""
        return F.relu(input, inplace=self.inplace)

    def extra_repr(self) -> str:
        """The constructor settings shown inside ``repr()``.

        Returns:
            A short description such as the layer's hyperparameters.
        """
        return _inplace_repr(self.inplace)


class ReLU6(Module):
    """``min(max(x, 0), 6)``."""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        """Apply ``F.relu6`` to the input with this module's settings."""
        return F.relu6(input, self.inplace)

    def extra_repr(self) -> str:
        """The constructor settings shown inside ``repr()``.

        Returns:
            A short description such as the layer's hyperparameters.
        """
        return _inplace_repr(self.inplace)


class LeakyReLU(Module):
    """``x`` if positive else ``negative_slope * x``."""

    def __init__(self, negative_slope: float = 0.01, inplace: bool = False) -> None:
        super().__init__()
        self.negative_slope = negative_slope
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        """Apply ``F.leaky_relu`` to the input with this module's settings."""
        return F.leaky_relu(input, self.negative_slope, self.inplace)

    def extra_repr(self) -> str:
        """The constructor settings shown inside ``repr()``.

        Returns:
            A short description such as the layer's hyperparameters.
        """
        return f"negative_slope={self.negative_slope}" + (", inplace=True" if self.inplace
                                                          else "")


class ELU(Module):
    """``x`` if positive else ``alpha * (exp(x) - 1)``."""

    def __init__(self, alpha: float = 1.0, inplace: bool = False) -> None:
        super().__init__()
        self.alpha = alpha
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        """Apply ``F.elu`` to the input with this module's settings."""
        return F.elu(input, self.alpha, self.inplace)

    def extra_repr(self) -> str:
        """The constructor settings shown inside ``repr()``.

        Returns:
            A short description such as the layer's hyperparameters.
        """
        return f"alpha={self.alpha}" + (", inplace=True" if self.inplace else "")


class CELU(Module):
    """``max(0, x) + min(0, alpha * (exp(x / alpha) - 1))``."""

    def __init__(self, alpha: float = 1.0, inplace: bool = False) -> None:
        super().__init__()
        self.alpha = alpha
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        """Apply ``F.celu`` to the input with this module's settings."""
        return F.celu(input, self.alpha, self.inplace)

    def extra_repr(self) -> str:
        """The constructor settings shown inside ``repr()``.

        Returns:
            A short description such as the layer's hyperparameters.
        """
        return f"alpha={self.alpha}" + (", inplace=True" if self.inplace else "")


class SELU(Module):
    """Scaled ELU (self-normalising networks)."""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        """Apply ``F.selu`` to the input with this module's settings."""
        return F.selu(input, self.inplace)

    def extra_repr(self) -> str:
        """The constructor settings shown inside ``repr()``.

        Returns:
            A short description such as the layer's hyperparameters.
        """
        return _inplace_repr(self.inplace)


class GELU(Module):
    """``x * Phi(x)``; ``approximate='tanh'`` uses the tanh approximation."""

    def __init__(self, approximate: str = "none") -> None:
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"approximate argument must be either none or tanh, got "
                             f"{approximate!r}")
        self.approximate = approximate

    def forward(self, input: Tensor) -> Tensor:
        """Apply ``F.gelu`` to the input with this module's settings."""
        return F.gelu(input, approximate=self.approximate)

    def extra_repr(self) -> str:
        """The constructor settings shown inside ``repr()``.

        Returns:
            A short description such as the layer's hyperparameters.
        """
        return f"approximate={self.approximate!r}"


class SiLU(Module):
    """``x * sigmoid(x)``."""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        """Apply ``F.silu`` to the input with this module's settings."""
        return F.silu(input, self.inplace)

    def extra_repr(self) -> str:
        """The constructor settings shown inside ``repr()``.

        Returns:
            A short description such as the layer's hyperparameters.
        """
        return _inplace_repr(self.inplace)


class Mish(Module):
    """``x * tanh(softplus(x))``."""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        """Apply ``F.mish`` to the input with this module's settings."""
        return F.mish(input, self.inplace)

    def extra_repr(self) -> str:
        """The constructor settings shown inside ``repr()``.

        Returns:
            A short description such as the layer's hyperparameters.
        """
        return _inplace_repr(self.inplace)


class Sigmoid(Module):
    """``1 / (1 + exp(-x))``."""

    def forward(self, input: Tensor) -> Tensor:
        """Apply ``F.sigmoid`` to the input with this module's settings."""
        return F.sigmoid(input)


class Tanh(Module):
    """Hyperbolic tangent."""

    def forward(self, input: Tensor) -> Tensor:
        """Apply ``F.tanh`` to the input with this module's settings."""
        return F.tanh(input)


class Hardtanh(Module):
    """Clamp to ``[min_val, max_val]``."""

    def __init__(self, min_val: float = -1.0, max_val: float = 1.0,
                 inplace: bool = False) -> None:
        super().__init__()
        if max_val <= min_val:
            raise ValueError(f"Hardtanh: max_val ({max_val}) must be greater than min_val "
                             f"({min_val})")
        self.min_val, self.max_val, self.inplace = min_val, max_val, inplace

    def forward(self, input: Tensor) -> Tensor:
        """Apply ``F.hardtanh`` to the input with this module's settings."""
        return F.hardtanh(input, self.min_val, self.max_val, self.inplace)

    def extra_repr(self) -> str:
        """The constructor settings shown inside ``repr()``.

        Returns:
            A short description such as the layer's hyperparameters.
        """
        return f"min_val={self.min_val}, max_val={self.max_val}" + (
            ", inplace=True" if self.inplace else "")


class Hardsigmoid(Module):
    """``relu6(x + 3) / 6``."""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        """Apply ``F.hardsigmoid`` to the input with this module's settings."""
        return F.hardsigmoid(input, self.inplace)


class Hardswish(Module):
    """``x * relu6(x + 3) / 6``."""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        """Apply ``F.hardswish`` to the input with this module's settings."""
        return F.hardswish(input, self.inplace)


class Softplus(Module):
    """``log(1 + exp(beta * x)) / beta``, linear above ``threshold``."""

    def __init__(self, beta: float = 1.0, threshold: float = 20.0) -> None:
        super().__init__()
        self.beta, self.threshold = beta, threshold

    def forward(self, input: Tensor) -> Tensor:
        """Apply ``F.softplus`` to the input with this module's settings."""
        return F.softplus(input, self.beta, self.threshold)

    def extra_repr(self) -> str:
        """The constructor settings shown inside ``repr()``.

        Returns:
            A short description such as the layer's hyperparameters.
        """
        return f"beta={self.beta}, threshold={self.threshold}"


class Softsign(Module):
    """``x / (1 + |x|)``."""

    def forward(self, input: Tensor) -> Tensor:
        """Apply ``F.softsign`` to the input with this module's settings."""
        return F.softsign(input)


class Tanhshrink(Module):
    """``x - tanh(x)``."""

    def forward(self, input: Tensor) -> Tensor:
        """Apply ``F.tanhshrink`` to the input with this module's settings."""
        return F.tanhshrink(input)


class Softshrink(Module):
    """Soft thresholding by ``lambd``."""

    def __init__(self, lambd: float = 0.5) -> None:
        super().__init__()
        self.lambd = lambd

    def forward(self, input: Tensor) -> Tensor:
        """Apply ``F.softshrink`` to the input with this module's settings."""
        return F.softshrink(input, self.lambd)

    def extra_repr(self) -> str:
        """The constructor settings shown inside ``repr()``.

        Returns:
            A short description such as the layer's hyperparameters.
        """
        return str(self.lambd)


class Hardshrink(Module):
    """Hard thresholding by ``lambd``."""

    def __init__(self, lambd: float = 0.5) -> None:
        super().__init__()
        self.lambd = lambd

    def forward(self, input: Tensor) -> Tensor:
        """Apply ``F.hardshrink`` to the input with this module's settings."""
        return F.hardshrink(input, self.lambd)

    def extra_repr(self) -> str:
        """The constructor settings shown inside ``repr()``.

        Returns:
            A short description such as the layer's hyperparameters.
        """
        return str(self.lambd)


class Threshold(Module):
    """``x`` where ``x > threshold``, else ``value``."""

    def __init__(self, threshold: float, value: float, inplace: bool = False) -> None:
        super().__init__()
        self.threshold, self.value, self.inplace = threshold, value, inplace

    def forward(self, input: Tensor) -> Tensor:
        """Apply ``F.threshold`` to the input with this module's settings."""
        return F.threshold(input, self.threshold, self.value, self.inplace)

    def extra_repr(self) -> str:
        """The constructor settings shown inside ``repr()``.

        Returns:
            A short description such as the layer's hyperparameters.
        """
        return f"threshold={self.threshold}, value={self.value}" + (
            ", inplace=True" if self.inplace else "")


class LogSigmoid(Module):
    """``log(sigmoid(x))``."""

    def forward(self, input: Tensor) -> Tensor:
        """Apply ``F.logsigmoid`` to the input with this module's settings."""
        return F.logsigmoid(input)


class PReLU(Module):
    """Leaky ReLU with a learned slope: one shared, or one per channel (``num_parameters``)."""

    def __init__(self, num_parameters: int = 1, init: float = 0.25, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__()
        if num_parameters < 1:
            raise ValueError(f"PReLU: num_parameters must be positive, got {num_parameters}")
        from clt.functions.creation import empty

        self.num_parameters = num_parameters
        self.init = init
        self.weight = Parameter(empty(num_parameters, device=device, dtype=dtype))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Fill the slope weight with the ``init`` value given to the constructor."""
        from clt.nn import init

        init.constant_(self.weight, self.init)

    def forward(self, input: Tensor) -> Tensor:
        """Apply ``F.prelu`` to the input with this module's settings."""
        return F.prelu(input, self.weight)

    def extra_repr(self) -> str:
        """The constructor settings shown inside ``repr()``.

        Returns:
            A short description such as the layer's hyperparameters.
        """
        return f"num_parameters={self.num_parameters}"


class RReLU(Module):
    """Randomised leaky ReLU (random slopes in training, their mean in eval)."""

    def __init__(self, lower: float = 1.0 / 8, upper: float = 1.0 / 3,
                 inplace: bool = False) -> None:
        super().__init__()
        if not lower <= upper:
            raise ValueError(f"RReLU: lower bound ({lower}) must not exceed upper ({upper})")
        self.lower, self.upper, self.inplace = lower, upper, inplace

    def forward(self, input: Tensor) -> Tensor:
        """Apply ``F.rrelu`` to the input with this module's settings."""
        return F.rrelu(input, self.lower, self.upper, self.training, self.inplace)

    def extra_repr(self) -> str:
        """The constructor settings shown inside ``repr()``.

        Returns:
            A short description such as the layer's hyperparameters.
        """
        return f"lower={self.lower}, upper={self.upper}" + (
            ", inplace=True" if self.inplace else "")


class GLU(Module):
    """Gated linear unit over the halves of ``dim``."""

    def __init__(self, dim: int = -1) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, input: Tensor) -> Tensor:
        """Apply ``F.glu`` to the input with this module's settings."""
        return F.glu(input, self.dim)

    def extra_repr(self) -> str:
        """The constructor settings shown inside ``repr()``.

        Returns:
            A short description such as the layer's hyperparameters.
        """
        return f"dim={self.dim}"


class Softmax(Module):
    """Softmax along ``dim``."""

    def __init__(self, dim: int | None = None) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, input: Tensor) -> Tensor:
        """Apply ``F.softmax`` to the input with this module's settings."""
        return F.softmax(input, self.dim, _stacklevel=5)

    def extra_repr(self) -> str:
        """The constructor settings shown inside ``repr()``.

        Returns:
            A short description such as the layer's hyperparameters.
        """
        return f"dim={self.dim}"


class Softmin(Module):
    """Softmin along ``dim``."""

    def __init__(self, dim: int | None = None) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, input: Tensor) -> Tensor:
        """Apply ``F.softmin`` to the input with this module's settings."""
        return F.softmin(input, self.dim, _stacklevel=5)

    def extra_repr(self) -> str:
        """The constructor settings shown inside ``repr()``.

        Returns:
            A short description such as the layer's hyperparameters.
        """
        return f"dim={self.dim}"


class LogSoftmax(Module):
    """Log-softmax along ``dim``."""

    def __init__(self, dim: int | None = None) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, input: Tensor) -> Tensor:
        """Apply ``F.log_softmax`` to the input with this module's settings."""
        return F.log_softmax(input, self.dim, _stacklevel=5)

    def extra_repr(self) -> str:
        """The constructor settings shown inside ``repr()``.

        Returns:
            A short description such as the layer's hyperparameters.
        """
        return f"dim={self.dim}"


class Softmax2d(Module):
    """Softmax over the channels of (N, C, H, W) or (C, H, W) input."""

    def forward(self, input: Tensor) -> Tensor:
        """Softmax over the channel dim (-3) of a 3-D or 4-D input; other ranks raise ShapeError."""
        if input.ndim not in (3, 4):
            from clt.errors import ShapeError

            raise ShapeError(f"Softmax2d: expected input dimension to be 3 or 4, got "
                             f"{input.ndim} (shape {tuple(input.shape)})")
        return F.softmax(input, -3)
