"""Sequence padding helpers (``torch.nn.utils.rnn``): ``pad_sequence``, ``unpad_sequence``.

``PackedSequence`` and ``pack_padded_sequence`` are not provided: clt's recurrent layers take
padded batches.
"""
from __future__ import annotations

from typing import Sequence

from clt.errors import ShapeError
from clt.tensor import Tensor

__all__ = ["pad_sequence", "unpad_sequence"]


def pad_sequence(sequences: Sequence[Tensor], batch_first: bool = False,
                 padding_value: float = 0.0, padding_side: str = "right") -> Tensor:
    """Stack variable-length sequences (L_i, *) into (L_max, B, *) or (B, L_max, *),
    filling with ``padding_value`` (differentiable w.r.t. the sequences).

    Args:
        sequences: Tensors (L_i, *) with equal trailing dims.
        batch_first: Whether the output is (B, L_max, *) instead of (L_max, B, *).
        padding_value: The fill value.
        padding_side: ``"right"`` or ``"left"``.

    Returns:
        The padded batch.

    Raises:
        ValueError: If ``sequences`` is empty or ``padding_side`` is invalid.
        TypeError: If an element is not a Tensor.
        ShapeError: If the trailing dims differ.
    """
    seqs = list(sequences)
    if not seqs:
        raise ValueError("pad_sequence: received an empty list of sequences")
    if padding_side not in ("left", "right"):
        raise ValueError(f"Expected padding_side to be one of left or right, but got "
                         f"{padding_side}.")
    first = seqs[0]
    trailing = tuple(first.shape[1:])
    for i, s in enumerate(seqs):
        if not isinstance(s, Tensor):
            raise TypeError(f"pad_sequence: element {i} is {type(s).__name__}, not a Tensor")
        if s.ndim == 0 or tuple(s.shape[1:]) != trailing:
            raise ShapeError(f"pad_sequence: sequence {i} has shape {tuple(s.shape)}; all "
                             f"sequences need shape (L, *{trailing})")
    from clt.functions.creation import full

    max_len = max(s.shape[0] for s in seqs)
    out = full((len(seqs), max_len) + trailing, padding_value, dtype=first.dtype,
               device=first.device)
    for i, s in enumerate(seqs):
        n = s.shape[0]
        span = slice(0, n) if padding_side == "right" else slice(max_len - n, max_len)
        out[i, span] = s
    return out if batch_first else out.transpose(0, 1)


def unpad_sequence(padded_sequences: Tensor, lengths: Sequence[int] | Tensor,
                   batch_first: bool = False) -> list[Tensor]:
    """Split a padded batch back into a list of sequences of the given lengths (views).

    Args:
        padded_sequences: A padded batch (L_max, B, *) or (B, L_max, *).
        lengths: The length of each sequence.
        batch_first: Whether the batch dim comes first.

    Returns:
        A list of tensors (L_i, *).

    Raises:
        ShapeError: If the number of lengths differs from the batch size.
    """
    x = padded_sequences if batch_first else padded_sequences.transpose(0, 1)
    lengths = lengths.tolist() if isinstance(lengths, Tensor) else list(lengths)
    if len(lengths) != x.shape[0]:
        raise ShapeError(f"unpad_sequence: {len(lengths)} lengths for a batch of {x.shape[0]}")
    return [x[i, :int(n)] for i, n in enumerate(lengths)]
