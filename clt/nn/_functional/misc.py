"""Distance, normalisation and padding helpers of ``clt.nn.functional``."""
from __future__ import annotations

from typing import Any, Sequence

from clt.errors import ShapeError
from clt.functions import elementwise as E
from clt.tensor import Tensor

__all__ = ["normalize", "cosine_similarity", "pairwise_distance", "pad"]


def _tensor(x: Any, fn: str, name: str = "input") -> Tensor:
    if not isinstance(x, Tensor):
        raise TypeError(f"{fn}(): argument '{name}' must be Tensor, not {type(x).__name__}")
    return x


def normalize(input: Tensor, p: float = 2.0, dim: int = 1, eps: float = 1e-12,
              out: Tensor | None = None) -> Tensor:
    """``input / max(||input||_p, eps)`` along ``dim``.

    Args:
        input: The tensor.
        p: Order of the norm.
        dim: The dim to normalise over.
        eps: Lower bound of the norm.
        out: Optional tensor to write the result into.

    Returns:
        The normalised tensor, of ``input``'s shape.
    """
    _tensor(input, "normalize")
    denom = E.clamp(input.norm(p, dim, keepdim=True), min=eps)
    res = input / denom
    if out is not None:
        out.copy_(res)
        return out
    return res


def cosine_similarity(x1: Tensor, x2: Tensor, dim: int = 1, eps: float = 1e-8) -> Tensor:
    """Cosine of the angle between ``x1`` and ``x2`` along ``dim`` (broadcasting), each norm
    clamped at ``eps``.

    Args:
        x1: First tensor.
        x2: Second tensor, broadcastable with ``x1``.
        dim: The dim to reduce.
        eps: Lower bound of each norm.

    Returns:
        The similarities, with ``dim`` removed.
    """
    _tensor(x1, "cosine_similarity", "x1")
    _tensor(x2, "cosine_similarity", "x2")
    n1 = E.clamp(x1.norm(2, dim, keepdim=True), min=eps)
    n2 = E.clamp(x2.norm(2, dim, keepdim=True), min=eps)
    return ((x1 / n1) * (x2 / n2)).sum(dim)


def pairwise_distance(x1: Tensor, x2: Tensor, p: float = 2.0, eps: float = 1e-6,
                      keepdim: bool = False) -> Tensor:
    """``||x1 - x2 + eps||_p`` over the last dim.

    Args:
        x1: First tensor.
        x2: Second tensor, broadcastable with ``x1``.
        p: Order of the norm.
        eps: Added to the difference to avoid a zero norm.
        keepdim: Whether to keep the reduced dim.

    Returns:
        The distances.
    """
    _tensor(x1, "pairwise_distance", "x1")
    _tensor(x2, "pairwise_distance", "x2")
    dim = -1 if max(x1.ndim, x2.ndim) > 0 else 0
    diff = x1 - x2 + eps
    if diff.ndim == 0:
        return E.abs(diff)
    return diff.norm(p, dim, keepdim=keepdim)


def _pad_indices(n: int, before: int, after: int, mode: str) -> list[int]:
    idx = []
    for i in range(-before, n + after):
        if mode == "replicate":
            j = min(max(i, 0), n - 1)
        elif mode == "reflect":
            period = 2 * (n - 1)
            j = i % period if period else 0
            j = period - j if j >= n else j
        else:   # circular
            j = i % n
        idx.append(j)
    return idx


def pad(input: Tensor, pad: Sequence[int], mode: str = "constant",
        value: float | None = None) -> Tensor:
    """Pad the last ``len(pad) // 2`` dims: ``pad = (left, right, top, bottom, ...)`` starting
    from the last dim. Modes: constant (negative amounts crop), reflect, replicate, circular.

    Args:
        input: The tensor.
        pad: Pairs of (before, after) amounts, last dim first.
        mode: ``"constant"``, ``"reflect"``, ``"replicate"`` or ``"circular"``.
        value: Fill value for ``"constant"``.

    Returns:
        The padded tensor.
    """
    _tensor(input, "pad")
    pad = tuple(int(p) for p in pad)
    if len(pad) % 2:
        raise ValueError(f"Padding length must be divisible by 2, got {len(pad)}")
    if len(pad) // 2 > input.ndim:
        raise ValueError(f"Padding length should be less than or equal to two times the input "
                         f"dimension but got padding length {len(pad)} and input of dimension "
                         f"{input.ndim}")
    if mode not in ("constant", "reflect", "replicate", "circular"):
        raise NotImplementedError(f"Unsupported padding mode: {mode}")
    if mode != "constant" and value not in (None, 0):
        raise ValueError(f"Padding mode \"{mode}\" doesn't take in value argument")
    out = input
    for k in range(len(pad) // 2):
        before, after = pad[2 * k], pad[2 * k + 1]
        d = input.ndim - 1 - k
        n = out.shape[d]
        if mode == "constant":
            out = _pad_constant(out, d, before, after, 0.0 if value is None else value)
            continue
        if before < 0 or after < 0:
            raise ValueError(f"{mode} padding needs non-negative amounts, got {pad}")
        if mode == "reflect" and (before >= n or after >= n):
            raise ValueError(f"Padding size should be less than the corresponding input "
                             f"dimension, but got: padding ({before}, {after}) at dimension "
                             f"{d} of input {tuple(input.shape)}")
        if mode == "circular" and (before > n or after > n):
            raise ValueError("Padding value causes wrapping around more than once.")
        if n == 0:
            raise ShapeError(f"{mode} padding of an empty dimension {d}")
        from clt.functions.creation import tensor as make

        idx = make(_pad_indices(n, before, after, mode), device=input.device)
        out = out.index_select(d, idx)
    return out


def _pad_constant(x: Tensor, d: int, before: int, after: int, value: float) -> Tensor:
    if before < 0:
        x = x.narrow(d, -before, x.shape[d] + before)
        before = 0
    if after < 0:
        x = x.narrow(d, 0, x.shape[d] + after)
        after = 0
    if before == 0 and after == 0:
        return x
    from clt.functions.creation import full

    shape = list(x.shape)
    shape[d] += before + after
    out = full(tuple(shape), value, dtype=x.dtype, device=x.device)
    key = (slice(None),) * d + (slice(before, before + x.shape[d]),)
    out[key] = x
    return out
