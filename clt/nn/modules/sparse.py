"""Embedding: a lookup table of learned vectors."""
from __future__ import annotations

from typing import Any

from clt.errors import DTypeError, ShapeError
from clt.functions.creation import empty
from clt.nn import functional as F
from clt.nn import init
from clt.nn.module import Module
from clt.nn.parameter import Parameter
from clt.tensor import Tensor

__all__ = ["Embedding"]


class Embedding(Module):
    """A table of ``num_embeddings`` vectors of size ``embedding_dim``, indexed by int tensors.

    The weight starts from N(0, 1) with the ``padding_idx`` row zeroed (PyTorch's init); the
    padding row receives no gradient.

    Shape:
        Input: (*) int64/int32 indices. Output: (*, embedding_dim).
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx: int | None = None,
                 max_norm: float | None = None, norm_type: float = 2.0,
                 scale_grad_by_freq: bool = False, sparse: bool = False,
                 _weight: Tensor | None = None, _freeze: bool = False, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__()
        for name, n in (("num_embeddings", num_embeddings), ("embedding_dim", embedding_dim)):
            if isinstance(n, bool) or not isinstance(n, int) or n < 0:
                raise ValueError(f"Embedding: {name} must be a non-negative int, got {n!r}")
        if padding_idx is not None:
            if not -num_embeddings <= padding_idx < num_embeddings:
                raise ValueError("Padding_idx must be within num_embeddings")
            padding_idx = padding_idx % num_embeddings
        if sparse:
            raise NotImplementedError("Embedding: sparse gradients are not supported by clt; "
                                      "use sparse=False")
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        self.padding_idx, self.max_norm, self.norm_type = padding_idx, max_norm, norm_type
        self.scale_grad_by_freq, self.sparse = scale_grad_by_freq, sparse
        if _weight is None:
            self.weight = Parameter(empty((num_embeddings, embedding_dim), device=device,
                                          dtype=dtype), requires_grad=not _freeze)
            self.reset_parameters()
        else:
            if tuple(_weight.shape) != (num_embeddings, embedding_dim):
                raise ShapeError(f"Shape of weight {tuple(_weight.shape)} does not match "
                                 f"num_embeddings and embedding_dim "
                                 f"({num_embeddings}, {embedding_dim})")
            self.weight = Parameter(_weight, requires_grad=not _freeze)

    def reset_parameters(self) -> None:
        """Re-initialize the weight from N(0, 1) and zero the ``padding_idx`` row."""
        init.normal_(self.weight)
        self._fill_padding_idx_with_zero()

    def _fill_padding_idx_with_zero(self) -> None:
        if self.padding_idx is not None:
            from clt.autograd.grad_mode import no_grad

            with no_grad():
                self.weight[self.padding_idx].fill_(0)

    def forward(self, input: Tensor) -> Tensor:
        """Look up the rows of the weight for int64/int32 indices; output shape is ``(*input.shape,
        embedding_dim)``."""
        if not isinstance(input, Tensor):
            raise TypeError(f"Embedding: expected a Tensor of indices, got "
                            f"{type(input).__name__}")
        if input.dtype.name not in ("int64", "int32"):
            raise DTypeError(f"Embedding: expected indices of dtype int64 or int32, got "
                             f"{input.dtype.name}")
        return F.embedding(input, self.weight, self.padding_idx, self.max_norm, self.norm_type,
                           self.scale_grad_by_freq, self.sparse)

    def extra_repr(self) -> str:
        """The constructor settings shown inside ``repr()``.

        Returns:
            A short description such as the layer's hyperparameters.
        """
        s = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.padding_idx is not None:
            s += f", padding_idx={self.padding_idx}"
        if self.max_norm is not None:
            s += f", max_norm={self.max_norm}"
        if self.norm_type != 2:
            s += f", norm_type={self.norm_type}"
        if self.scale_grad_by_freq:
            s += ", scale_grad_by_freq=True"
        return s

    @classmethod
    def from_pretrained(cls, embeddings: Tensor, freeze: bool = True,
                        padding_idx: int | None = None, max_norm: float | None = None,
                        norm_type: float = 2.0, scale_grad_by_freq: bool = False,
                        sparse: bool = False) -> "Embedding":
        """An Embedding whose weight is (a copy-free view of) the 2-D ``embeddings``.

        Args:
            embeddings: The weight (num_embeddings, embedding_dim).
            freeze: Whether the weight is excluded from training (``requires_grad=False``).
            padding_idx: Index whose row gets no gradient.
            max_norm: Rows looked up are renormalised to at most this norm.
            norm_type: Order of the norm for ``max_norm``.
            scale_grad_by_freq: Whether to scale gradients by inverse word frequency in the batch.
            sparse: Must be False (sparse gradients are not supported).

        Returns:
            The Embedding.

        Raises:
            ShapeError: If ``embeddings`` is not a 2-D tensor.
            NotImplementedError: If ``sparse`` is True.
        """
        if not isinstance(embeddings, Tensor) or embeddings.ndim != 2:
            raise ShapeError("Embeddings parameter is expected to be 2-dimensional, got "
                             f"{getattr(embeddings, 'shape', type(embeddings).__name__)}")
        rows, cols = embeddings.shape
        return cls(rows, cols, _weight=embeddings, _freeze=freeze, padding_idx=padding_idx,
                   max_norm=max_norm, norm_type=norm_type,
                   scale_grad_by_freq=scale_grad_by_freq, sparse=sparse)
