"""Batch normalisation layers: BatchNorm1d, BatchNorm2d, BatchNorm3d."""
from __future__ import annotations

from typing import Any

from clt import dtypes as D
from clt.autograd.grad_mode import no_grad
from clt.errors import ShapeError
from clt.functions.creation import empty, ones, tensor, zeros
from clt.nn import functional as F
from clt.nn import init
from clt.nn.module import Module
from clt.nn.parameter import Parameter
from clt.tensor import Tensor

__all__ = ["BatchNorm1d", "BatchNorm2d", "BatchNorm3d"]


class _BatchNorm(Module):
    """Shared state and forward of the batch-norm layers (PyTorch's ``_BatchNorm``)."""

    _ranks: tuple[int, ...] = ()
    _expect = ""

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True, track_running_stats: bool = True, device: Any = None,
                 dtype: Any = None, *, bias: bool = True) -> None:
        super().__init__()
        if isinstance(num_features, bool) or not isinstance(num_features, int) or \
                num_features <= 0:
            raise ValueError(f"{type(self).__name__}: num_features must be a positive int, got "
                             f"{num_features!r}")
        if momentum is not None and not 0.0 <= momentum <= 1.0:
            raise ValueError(f"{type(self).__name__}: momentum must be in [0, 1] or None, got "
                             f"{momentum}")
        if eps <= 0:
            raise ValueError(f"{type(self).__name__}: eps must be positive, got {eps}")
        self.num_features = num_features
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        if affine:
            self.weight = Parameter(empty(num_features, device=device, dtype=dtype))
            if bias:
                self.bias = Parameter(empty(num_features, device=device, dtype=dtype))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean", zeros(num_features, device=device,
                                                       dtype=dtype))
            self.register_buffer("running_var", ones(num_features, device=device, dtype=dtype))
            self.register_buffer("num_batches_tracked", tensor(0, dtype=D.int64,
                                                               device=device))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)
        self.reset_parameters()

    def reset_running_stats(self) -> None:
        if self.track_running_stats:
            with no_grad():
                self.running_mean.zero_()
                self.running_var.fill_(1)
                self.num_batches_tracked.zero_()

    def reset_parameters(self) -> None:
        self.reset_running_stats()
        if self.affine:
            init.ones_(self.weight)
            if self.bias is not None:
                init.zeros_(self.bias)

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, bias={self.bias is not None}, "
                f"track_running_stats={self.track_running_stats}")

    def _check_input_dim(self, input: Any) -> None:
        if not isinstance(input, Tensor):
            raise TypeError(f"{type(self).__name__}: expected a Tensor input, got "
                            f"{type(input).__name__}")
        if input.ndim not in self._ranks:
            raise ShapeError(f"{type(self).__name__}: expected {self._expect} input (got "
                             f"{input.ndim}D input of shape {tuple(input.shape)})")
        if input.shape[1] != self.num_features:
            raise ShapeError(f"{type(self).__name__}({self.num_features}): expected input with "
                             f"{self.num_features} channels in dim 1, got input of shape "
                             f"{tuple(input.shape)}")

    def forward(self, input: Tensor) -> Tensor:
        self._check_input_dim(input)
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats and self.num_batches_tracked is not None:
            with no_grad():
                self.num_batches_tracked.add_(1)
            if self.momentum is None:   # cumulative moving average (reads the counter back)
                factor = 1.0 / float(self.num_batches_tracked.item())
        use_batch = self.training or (self.running_mean is None and self.running_var is None)
        track = not self.training or self.track_running_stats
        return F.batch_norm(input, self.running_mean if track else None,
                            self.running_var if track else None, self.weight, self.bias,
                            use_batch, factor, self.eps)


class BatchNorm1d(_BatchNorm):
    """Batch normalisation of (N, C) or (N, C, L) over N (and L), per channel C.

    Args:
        num_features: C.
        eps: added to the variance.
        momentum: weight of the batch statistics in the running ones; None for a cumulative
            average.
        affine: learnable per-channel weight (ones) and bias (zeros).
        bias: with affine, whether to learn the bias (keyword-only, as PyTorch 2.13).
        track_running_stats: keep running mean/var (used in eval mode) and
            ``num_batches_tracked``; otherwise batch statistics are used in both modes.
    """

    _ranks = (2, 3)
    _expect = "2D or 3D"


class BatchNorm2d(_BatchNorm):
    """Batch normalisation of (N, C, H, W) per channel; arguments as :class:`BatchNorm1d`."""

    _ranks = (4,)
    _expect = "4D"


class BatchNorm3d(_BatchNorm):
    """Batch normalisation of (N, C, D, H, W) per channel; arguments as :class:`BatchNorm1d`."""

    _ranks = (5,)
    _expect = "5D"
