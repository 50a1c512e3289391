"""``F.embedding`` and ``F.one_hot``.

The lookup is one gather kernel; its gradient is a deterministic segmented sum of the output
gradient rows per index (``clt.ops.index.embedding_backward``, no float atomics).
"""
from __future__ import annotations

from clt.autograd.function import Function
from clt.autograd.grad_mode import no_grad
from clt.errors import DTypeError, ShapeError
from clt.functions._util import needs_grad
from clt.ops import elementwise as ew
from clt.ops import index as index_ops
from clt.ops import reduce as Rd
from clt.ops.array import Array
from clt.tensor import Tensor

__all__ = ["embedding", "one_hot"]


class _Embedding(Function):
    @staticmethod
    def forward(ctx, weight: Tensor, idx: Tensor, padding_idx: int | None,
                scale_grad_by_freq: bool) -> Array:
        ctx.idx, ctx.padding_idx, ctx.scale = idx, padding_idx, scale_grad_by_freq
        ctx.num_weights = weight.shape[0]
        return index_ops.embedding(idx._data, weight._data)

    @staticmethod
    def backward(ctx, g: Tensor) -> tuple:
        gw = _EmbeddingBackward.apply(g, ctx.idx, ctx.num_weights, ctx.padding_idx)
        if ctx.scale:
            gw = gw / _counts(ctx.idx, ctx.num_weights, g)
        return gw, None, None, None


class _EmbeddingBackward(Function):
    """Rows of ``g`` summed per index; its own gradient is the lookup again."""

    @staticmethod
    def forward(ctx, g: Tensor, idx: Tensor, num_weights: int, padding_idx: int | None
                ) -> Array:
        ctx.idx, ctx.padding_idx = idx, padding_idx
        return index_ops.embedding_backward(ew.contiguous(g._data), idx._data, num_weights,
                                            padding_idx)

    @staticmethod
    def backward(ctx, gg: Tensor) -> tuple:
        out = _Embedding.apply(gg, ctx.idx, None, False)
        if ctx.padding_idx is not None:
            out = out * Tensor(ew.unary("logical_not", ew.binary(
                "eq", ctx.idx._data, ctx.padding_idx))).unsqueeze(-1).to(out.dtype)
        return out, None, None, None


def _counts(idx: Tensor, n: int, like: Tensor) -> Tensor:
    """How often each row is looked up (at least 1), as a (n, 1) tensor of ``like``'s dtype."""
    ones = ew.fill_(Array.empty(idx.device, tuple(idx.shape) + (1,), like.dtype), 1)
    counts = index_ops.embedding_backward(ones, idx._data, n)
    return Tensor(ew.clamp(counts, 1, None))


def _renorm_(weight: Tensor, idx: Tensor, max_norm: float, norm_type: float) -> None:
    """Rescale the looked-up rows whose ``norm_type``-norm exceeds ``max_norm`` (in place)."""
    with no_grad():
        flat = ew.contiguous(idx._data)
        flat = flat.view((flat.numel,), (1,))
        rows = index_ops.index_select(weight._data, 0, flat)
        norms = Rd.norm(rows, norm_type, dim=1, keepdim=True)
        # PyTorch's embedding_renorm_: scale = max_norm / (norm + 1e-7) where norm > max_norm
        scale = ew.map_op("renorm_scale", "(a > s0 ? s0 / (a + (T)1e-7) : (T)1)",
                          [norms, float(max_norm)], norms.dtype, norms.dtype)
        index_ops.index_copy_(weight._data, 0, flat, ew.binary("mul", rows, scale))


def embedding(input: Tensor, weight: Tensor, padding_idx: int | None = None,
              max_norm: float | None = None, norm_type: float = 2.0,
              scale_grad_by_freq: bool = False, sparse: bool = False) -> Tensor:
    """Rows of ``weight`` picked by the integer ``input`` (any shape).

    Args:
        input: int64/int32 indices into ``weight``'s rows.
        weight: (num_embeddings, embedding_dim).
        padding_idx: this row gets no gradient (negative values count from the end).
        max_norm: rows looked up are first renormalised in place to at most this norm.
        norm_type: the p of the norm for ``max_norm``.
        scale_grad_by_freq: divide each row's gradient by how often it was looked up.
        sparse: sparse gradients are not supported (raises if True).

    Shape:
        input (*), output (*, embedding_dim).
    """
    if not isinstance(input, Tensor) or not isinstance(weight, Tensor):
        bad = input if not isinstance(input, Tensor) else weight
        raise TypeError(f"embedding(): expected Tensor arguments, got {type(bad).__name__}")
    if input.dtype.name not in ("int64", "int32"):
        raise DTypeError(f"embedding(): expected indices of dtype int64 or int32 (Long or Int), "
                         f"got {input.dtype.name}")
    if weight.ndim != 2:
        raise ShapeError(f"embedding(): weight must be 2-D (num_embeddings, embedding_dim), got "
                         f"shape {tuple(weight.shape)}")
    if sparse:
        raise NotImplementedError("embedding(): sparse gradients are not supported by clt; "
                                  "use sparse=False (dense gradients)")
    n = weight.shape[0]
    if padding_idx is not None:
        if not -n <= padding_idx < n:
            raise ValueError(f"Padding_idx must be within num_embeddings, got {padding_idx} "
                             f"for {n} embeddings")
        padding_idx = padding_idx % n
    if max_norm is not None:
        _renorm_(weight, input, max_norm, norm_type)
    if needs_grad(weight):
        return _Embedding.apply(weight, input, padding_idx, scale_grad_by_freq)
    return Tensor(index_ops.embedding(input._data, weight._data))


def one_hot(tensor: Tensor, num_classes: int = -1) -> Tensor:
    """int64 one-hot encoding: shape ``tensor.shape + (num_classes,)``.

    ``num_classes=-1`` infers max + 1, which reads the tensor back (a host sync).

    Args:
        tensor: Integer class indices.
        num_classes: Number of classes, or -1 to use ``max + 1``.

    Returns:
        An int64 tensor of shape ``tensor.shape + (num_classes,)``.
    """
    if not isinstance(tensor, Tensor):
        raise TypeError(f"one_hot(): argument 'tensor' must be Tensor, not "
                        f"{type(tensor).__name__}")
    if tensor.dtype.name != "int64":
        raise DTypeError(f"one_hot is only applicable to index tensor of dtype int64, got "
                         f"{tensor.dtype.name}")
    return Tensor(index_ops.one_hot(tensor._data, num_classes))
