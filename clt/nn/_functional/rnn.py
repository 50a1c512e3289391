"""Recurrent steps and sequences: the functional core of ``nn.RNN``, ``nn.LSTM``, ``nn.GRU``.

A layer projects the whole input sequence with one GEMM (``x @ W_ih.T + b_ih`` for every time
step at once), then per step multiplies the hidden state (``h @ W_hh.T + b_hh``) and applies the
gates with one fused kernel (LSTM, GRU) or a tanh/relu. Gate orders are PyTorch's: LSTM i, f, g,
o; GRU r, z, n (with ``b_hn`` inside the reset gate's product).
"""
from __future__ import annotations

from typing import Any, Sequence

from clt.errors import ShapeError
from clt.functions import conv as C
from clt.nn._functional.linear import linear
from clt.tensor import Tensor

__all__ = ["rnn_tanh_cell", "rnn_relu_cell", "lstm_cell", "gru_cell"]


def _check_cell(fn: str, input: Any, hx: Any, w_ih: Tensor, w_hh: Tensor, gates: int) -> None:
    if not isinstance(input, Tensor):
        raise TypeError(f"{fn}(): argument 'input' must be Tensor, not {type(input).__name__}")
    hidden = w_hh.shape[1]
    if input.ndim != 2 or input.shape[1] != w_ih.shape[1]:
        raise ShapeError(f"{fn}(): input has inconsistent input_size: got {input.shape[-1]} "
                         f"expected {w_ih.shape[1]} (input of shape {tuple(input.shape)})")
    if w_ih.shape[0] != gates * hidden or w_hh.shape[0] != gates * hidden:
        raise ShapeError(f"{fn}(): weights of shapes {tuple(w_ih.shape)} and "
                         f"{tuple(w_hh.shape)} do not hold {gates} gates of {hidden}")
    for h in (hx if isinstance(hx, tuple) else (hx,)):
        if tuple(h.shape) != (input.shape[0], hidden):
            raise ShapeError(f"{fn}(): hidden of shape {tuple(h.shape)} does not match input "
                             f"batch {input.shape[0]} and hidden_size {hidden}")


def rnn_tanh_cell(input: Tensor, hx: Tensor, w_ih: Tensor, w_hh: Tensor,
                  b_ih: Tensor | None = None, b_hh: Tensor | None = None) -> Tensor:
    """``tanh(x @ W_ih.T + b_ih + h @ W_hh.T + b_hh)`` for (N, input) x and (N, hidden) h.

    Args:
        input: Input of shape (N, input_size).
        hx: Hidden state (N, hidden_size).
        w_ih: Input-hidden weight (hidden_size, input_size).
        w_hh: Hidden-hidden weight (hidden_size, hidden_size).
        b_ih: Optional input-hidden bias (hidden_size,).
        b_hh: Optional hidden-hidden bias (hidden_size,).

    Returns:
        The next hidden state (N, hidden_size).
    """
    _check_cell("rnn_tanh_cell", input, hx, w_ih, w_hh, 1)
    return (linear(input, w_ih, b_ih) + linear(hx, w_hh, b_hh)).tanh()


def rnn_relu_cell(input: Tensor, hx: Tensor, w_ih: Tensor, w_hh: Tensor,
                  b_ih: Tensor | None = None, b_hh: Tensor | None = None) -> Tensor:
    """``relu(x @ W_ih.T + b_ih + h @ W_hh.T + b_hh)``.

    Args:
        input: Input of shape (N, input_size).
        hx: Hidden state (N, hidden_size).
        w_ih: Input-hidden weight (hidden_size, input_size).
        w_hh: Hidden-hidden weight (hidden_size, hidden_size).
        b_ih: Optional input-hidden bias (hidden_size,).
        b_hh: Optional hidden-hidden bias (hidden_size,).

    Returns:
        The next hidden state (N, hidden_size).
    """
    _check_cell("rnn_relu_cell", input, hx, w_ih, w_hh, 1)
    return (linear(input, w_ih, b_ih) + linear(hx, w_hh, b_hh)).relu()


def lstm_cell(input: Tensor, hx: tuple[Tensor, Tensor], w_ih: Tensor, w_hh: Tensor,
              b_ih: Tensor | None = None, b_hh: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """One LSTM step: returns (h, c) from x (N, input) and hx = (h0, c0) (N, hidden).

    Args:
        input: Input of shape (N, input_size).
        hx: ``(h0, c0)``, each (N, hidden_size).
        w_ih: Input-hidden weight (4 * hidden_size, input_size).
        w_hh: Hidden-hidden weight (4 * hidden_size, hidden_size).
        b_ih: Optional input-hidden bias (4 * hidden_size,).
        b_hh: Optional hidden-hidden bias (4 * hidden_size,).

    Returns:
        ``(h, c)``, each (N, hidden_size).
    """
    _check_cell("lstm_cell", input, hx, w_ih, w_hh, 4)
    h0, c0 = hx
    return C.LSTMCellFn.apply(linear(input, w_ih, b_ih), linear(h0, w_hh, b_hh), c0)


def gru_cell(input: Tensor, hx: Tensor, w_ih: Tensor, w_hh: Tensor,
             b_ih: Tensor | None = None, b_hh: Tensor | None = None) -> Tensor:
    """One GRU step: returns h from x (N, input) and h0 (N, hidden).

    Args:
        input: Input of shape (N, input_size).
        hx: Hidden state (N, hidden_size).
        w_ih: Input-hidden weight (3 * hidden_size, input_size).
        w_hh: Hidden-hidden weight (3 * hidden_size, hidden_size).
        b_ih: Optional input-hidden bias (3 * hidden_size,).
        b_hh: Optional hidden-hidden bias (3 * hidden_size,).

    Returns:
        The next hidden state (N, hidden_size).
    """
    _check_cell("gru_cell", input, hx, w_ih, w_hh, 3)
    return C.GRUCellFn.apply(linear(input, w_ih, b_ih), linear(hx, w_hh, b_hh), hx)


def run_layer(mode: str, x: Tensor, h0: Tensor, c0: Tensor | None, w_ih: Tensor, w_hh: Tensor,
              b_ih: Tensor | None, b_hh: Tensor | None, reverse: bool
              ) -> tuple[Tensor, Tensor, Tensor | None]:
    """One direction of one layer over a (L, N, input) sequence.

    Args:
        mode: ``"RNN_TANH"``, ``"RNN_RELU"``, ``"LSTM"`` or ``"GRU"``.
        x: The sequence (L, N, input_size).
        h0: Initial hidden state (N, hidden_size).
        c0: Initial cell state (N, hidden_size) for LSTM, else None.
        w_ih: Input-hidden weight.
        w_hh: Hidden-hidden weight.
        b_ih: Optional input-hidden bias.
        b_hh: Optional hidden-hidden bias.
        reverse: Whether to run from the last step to the first.

    Returns:
        (output (L, N, hidden), h_n (N, hidden), c_n (LSTM) or None).
    """
    steps, batch = x.shape[0], x.shape[1]
    gates = linear(x, w_ih, b_ih)           # (L, N, G): every step's input projection at once
    h, c = h0, c0
    outs: list[Tensor] = [None] * steps      # type: ignore[list-item]
    order: Sequence[int] = range(steps - 1, -1, -1) if reverse else range(steps)
    for t in order:
        gx = gates[t]
        gh = linear(h, w_hh, b_hh)
        if mode == "LSTM":
            h, c = C.LSTMCellFn.apply(gx, gh, c)
        elif mode == "GRU":
            h = C.GRUCellFn.apply(gx, gh, h)
        elif mode == "RNN_TANH":
            h = (gx + gh).tanh()
        else:
            h = (gx + gh).relu()
        outs[t] = h
    del batch
    return C.stack(outs, 0), h, c
