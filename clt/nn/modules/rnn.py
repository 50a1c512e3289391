"""Recurrent layers: RNN, LSTM, GRU and their single-step cells, with PyTorch's parameter names
(``weight_ih_l0``, ``weight_hh_l0``, ``bias_ih_l0``, ``bias_hh_l0``, ``*_reverse``) and gate
orders, so PyTorch state dicts load unchanged."""
from __future__ import annotations

import math
from typing import Any

from clt.errors import ShapeError
from clt.functions import conv as C
from clt.functions.creation import empty, zeros
from clt.nn import functional as F
from clt.nn import init
from clt.nn._functional import rnn as R
from clt.nn.module import Module
from clt.nn.parameter import Parameter
from clt.tensor import Tensor

__all__ = ["RNNBase", "RNN", "LSTM", "GRU", "RNNCell", "LSTMCell", "GRUCell"]

_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


def _shape(t: Any) -> list[int]:
    return list(t.shape)


class RNNBase(Module):
    """Multi-layer (optionally bidirectional) recurrent network over a sequence.

    Args:
        mode: "RNN_TANH", "RNN_RELU", "LSTM" or "GRU".
        input_size: features per input step.
        hidden_size: features of the hidden state.
        num_layers: stacked layers (layer k > 0 reads layer k - 1's output).
        bias: learn b_ih and b_hh.
        batch_first: input and output are (N, L, features) instead of (L, N, features).
        dropout: dropout probability on the outputs of every layer but the last (training).
        bidirectional: add a layer running backwards in time; outputs are concatenated.
    """

    def __init__(self, mode: str, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, proj_size: int = 0, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__()
        name = type(self).__name__
        if mode not in _GATES:
            raise ValueError(f"Unrecognized RNN mode: {mode}")
        for what, v in (("input_size", input_size), ("hidden_size", hidden_size),
                        ("num_layers", num_layers)):
            if isinstance(v, bool) or not isinstance(v, int):
                raise TypeError(f"{name}: {what} should be of type int, got: "
                                f"{type(v).__name__}")
        if hidden_size <= 0:
            raise ValueError("hidden_size must be greater than zero")
        if num_layers <= 0:
            raise ValueError("num_layers must be greater than zero")
        if isinstance(dropout, bool) or not 0 <= dropout <= 1:
            raise ValueError("dropout should be a number in range [0, 1] representing the "
                             "probability of an element being zeroed")
        if proj_size:
            raise NotImplementedError(f"{name}: proj_size is not supported")
        self.mode, self.input_size, self.hidden_size = mode, input_size, hidden_size
        self.num_layers, self.bias, self.batch_first = num_layers, bias, batch_first
        self.dropout, self.bidirectional, self.proj_size = float(dropout), bidirectional, 0
        gate_size = _GATES[mode] * hidden_size
        dirs = 2 if bidirectional else 1
        self._flat_weights_names: list[str] = []
        for layer in range(num_layers):
            layer_in = input_size if layer == 0 else hidden_size * dirs
            for d in range(dirs):
                sfx = f"_l{layer}" + ("_reverse" if d else "")
                shapes = [("weight_ih" + sfx, (gate_size, layer_in)),
                          ("weight_hh" + sfx, (gate_size, hidden_size))]
                if bias:
                    shapes += [("bias_ih" + sfx, (gate_size,)), ("bias_hh" + sfx, (gate_size,))]
                for pname, shape in shapes:
                    setattr(self, pname, Parameter(empty(shape, device=device, dtype=dtype)))
                    self._flat_weights_names.append(pname)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # every weight and bias from U(-1/sqrt(hidden), 1/sqrt(hidden)), as PyTorch
        """Re-initialize every weight and bias from U(-1/sqrt(hidden_size), 1/sqrt(hidden_size))."""
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for p in self.parameters():
            init.uniform_(p, -stdv, stdv)

    @property
    def all_weights(self) -> list[list[Parameter]]:
        """The parameters grouped per layer and direction.

        Returns:
            A list of ``[w_ih, w_hh, b_ih, b_hh]`` lists (``[w_ih, w_hh]`` without bias).
        """
        per = 4 if self.bias else 2
        names = self._flat_weights_names
        return [[getattr(self, n) for n in names[i:i + per]] for i in range(0, len(names), per)]

    def extra_repr(self) -> str:
        """The constructor settings shown inside ``repr()``.

        Returns:
            A short description such as the layer's hyperparameters.
        """
        s = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if self.batch_first is not False:
            s += f", batch_first={self.batch_first}"
        if self.dropout != 0:
            s += f", dropout={self.dropout}"
        if self.bidirectional is not False:
            s += f", bidirectional={self.bidirectional}"
        return s

    def _check_hidden(self, h: Any, expected: tuple[int, ...], what: str) -> None:
        if not isinstance(h, Tensor):
            raise TypeError(f"{type(self).__name__}: {what} must be a Tensor, got "
                            f"{type(h).__name__}")
        if tuple(h.shape) != expected:
            raise ShapeError(f"Expected {what} size {expected}, got {_shape(h)}")

    def forward(self, input: Tensor, hx: Any = None) -> tuple[Tensor, Any]:
        """Run the recurrence over a 2-D (unbatched) or 3-D input; returns ``(output, h_n)``
        (``(output, (h_n, c_n))`` for LSTM)."""
        name = type(self).__name__
        if not isinstance(input, Tensor):
            raise TypeError(f"{name}: expected a Tensor input, got {type(input).__name__}")
        if input.ndim not in (2, 3):
            raise ShapeError(f"{name}: Expected input to be 2D or 3D, got {input.ndim}D input "
                             f"of shape {_shape(input)}")
        if input.shape[-1] != self.input_size:
            raise ShapeError(f"input.size(-1) must be equal to input_size. Expected "
                             f"{self.input_size}, got {input.shape[-1]}")
        unbatched = input.ndim == 2
        if unbatched:
            x = input.unsqueeze(1)
        else:
            x = input.transpose(0, 1) if self.batch_first else input
        steps, batch = x.shape[0], x.shape[1]
        if steps == 0:
            raise ShapeError(f"{name}: expected a sequence of length >= 1, got input of shape "
                             f"{_shape(input)}")
        dirs = 2 if self.bidirectional else 1
        hshape = (self.num_layers * dirs, batch, self.hidden_size)
        lstm = self.mode == "LSTM"
        h0 = c0 = None
        if hx is not None:
            if lstm:
                if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                    raise TypeError(f"{name}: hx must be a tuple (h_0, c_0) for LSTM")
                h0, c0 = hx
                if unbatched:
                    h0, c0 = h0.unsqueeze(1), c0.unsqueeze(1)
                self._check_hidden(h0, hshape, "hidden[0]")
                self._check_hidden(c0, hshape, "hidden[1]")
            else:
                h0 = hx.unsqueeze(1) if unbatched and isinstance(hx, Tensor) else hx
                self._check_hidden(h0, hshape, "hidden")
        if h0 is None:
            h0 = zeros(hshape, dtype=input.dtype, device=input.device)
        if lstm and c0 is None:
            c0 = zeros(hshape, dtype=input.dtype, device=input.device)
        layer_in = x
        h_n: list[Tensor] = []
        c_n: list[Tensor] = []
        weights = self.all_weights
        for layer in range(self.num_layers):
            outs = []
            for d in range(dirs):
                k = layer * dirs + d
                w = weights[k]
                b_ih, b_hh = (w[2], w[3]) if self.bias else (None, None)
                out, h, c = R.run_layer(self.mode, layer_in, h0[k], c0[k] if lstm else None,
                                        w[0], w[1], b_ih, b_hh, reverse=d == 1)
                outs.append(out)
                h_n.append(h)
                if lstm:
                    c_n.append(c)
            layer_in = outs[0] if dirs == 1 else C.cat(outs, 2)
            if self.dropout and self.training and layer < self.num_layers - 1:
                layer_in = F.dropout(layer_in, self.dropout, True)
        output = layer_in
        hn = C.stack(h_n, 0)
        cn = C.stack(c_n, 0) if lstm else None
        if unbatched:
            output, hn = output.squeeze(1), hn.squeeze(1)
            cn = cn.squeeze(1) if cn is not None else None
        elif self.batch_first:
            output = output.transpose(0, 1)
        return output, ((hn, cn) if lstm else hn)


class RNN(RNNBase):
    """Elman RNN: ``h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)`` (or relu).

    Args:
        nonlinearity: "tanh" (default) or "relu"; other arguments as :class:`RNNBase`.

    Shape:
        input (L, N, H_in) ((N, L, H_in) with batch_first, or (L, H_in)); h_0
        (num_layers * D, N, H_out). Returns output (L, N, D * H_out) and h_n.
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 nonlinearity: str = "tanh", bias: bool = True, batch_first: bool = False,
                 dropout: float = 0.0, bidirectional: bool = False, device: Any = None,
                 dtype: Any = None) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or "
                             "'relu'.")
        super().__init__("RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU", input_size,
                         hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         0, device, dtype)
        self.nonlinearity = nonlinearity

    def extra_repr(self) -> str:
        """The constructor settings shown inside ``repr()``.

        Returns:
            A short description such as the layer's hyperparameters.
        """
        s = super().extra_repr()
        return s + (", nonlinearity='relu'" if self.nonlinearity != "tanh" else "")


class LSTM(RNNBase):
    """Long short-term memory; gates i, f, g, o (PyTorch's order); returns
    ``output, (h_n, c_n)``. Arguments as :class:`RNNBase` (``proj_size`` unsupported)."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 proj_size: int = 0, device: Any = None, dtype: Any = None) -> None:
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, proj_size, device, dtype)


class GRU(RNNBase):
    """Gated recurrent unit; gates r, z, n (PyTorch's order, ``b_hn`` inside the reset
    product); returns ``output, h_n``. Arguments as :class:`RNNBase`."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 device: Any = None, dtype: Any = None) -> None:
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, 0, device, dtype)


class _CellBase(Module):
    _gates = 1

    def __init__(self, input_size: int, hidden_size: int, bias: bool, device: Any,
                 dtype: Any) -> None:
        super().__init__()
        if input_size <= 0 or hidden_size <= 0:
            raise ValueError(f"{type(self).__name__}: input_size and hidden_size must be "
                             f"positive, got {input_size} and {hidden_size}")
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
        g = self._gates * hidden_size
        self.weight_ih = Parameter(empty((g, input_size), device=device, dtype=dtype))
        self.weight_hh = Parameter(empty((g, hidden_size), device=device, dtype=dtype))
        if bias:
            self.bias_ih = Parameter(empty(g, device=device, dtype=dtype))
            self.bias_hh = Parameter(empty(g, device=device, dtype=dtype))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        stdv = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            init.uniform_(p, -stdv, stdv)

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if not self.bias:
            s += ", bias=False"
        return s

    def _prep(self, input: Tensor, hx: Any) -> tuple[Tensor, bool]:
        if not isinstance(input, Tensor) or input.ndim not in (1, 2):
            raise ShapeError(f"{type(self).__name__}: Expected input to be 1D or 2D, got "
                             f"{getattr(input, 'ndim', type(input).__name__)}D instead")
        unbatched = input.ndim == 1
        return (input.unsqueeze(0) if unbatched else input), unbatched

    def _zeros(self, x: Tensor) -> Tensor:
        return zeros((x.shape[0], self.hidden_size), dtype=x.dtype, device=x.device)


class RNNCell(_CellBase):
    """One Elman RNN step: ``h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh)`` (or relu)."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 nonlinearity: str = "tanh", device: Any = None, dtype: Any = None) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"Unknown nonlinearity: {nonlinearity}")
        super().__init__(input_size, hidden_size, bias, device, dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        """One step: the next hidden state from ``input`` and ``hx`` (zeros when None)."""
        x, unbatched = self._prep(input, hx)
        h = self._zeros(x) if hx is None else (hx.unsqueeze(0) if unbatched else hx)
        fn = R.rnn_tanh_cell if self.nonlinearity == "tanh" else R.rnn_relu_cell
        out = fn(x, h, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
        return out.squeeze(0) if unbatched else out


class LSTMCell(_CellBase):
    """One LSTM step; ``forward(x, (h, c))`` returns ``(h', c')``."""

    _gates = 4

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__(input_size, hidden_size, bias, device, dtype)

    def forward(self, input: Tensor, hx: tuple[Tensor, Tensor] | None = None
                ) -> tuple[Tensor, Tensor]:
        """One step: the next ``(h, c)`` from ``input`` and ``hx`` (zeros when None)."""
        x, unbatched = self._prep(input, hx)
        if hx is None:
            hx = (self._zeros(x), self._zeros(x))
        elif unbatched:
            hx = (hx[0].unsqueeze(0), hx[1].unsqueeze(0))
        h, c = R.lstm_cell(x, tuple(hx), self.weight_ih, self.weight_hh, self.bias_ih,
                           self.bias_hh)
        return (h.squeeze(0), c.squeeze(0)) if unbatched else (h, c)


class GRUCell(_CellBase):
    """One GRU step; ``forward(x, h)`` returns ``h'``."""

    _gates = 3

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__(input_size, hidden_size, bias, device, dtype)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        """One step: the next hidden state from ``input`` and ``hx`` (zeros when None)."""
        x, unbatched = self._prep(input, hx)
        h = self._zeros(x) if hx is None else (hx.unsqueeze(0) if unbatched else hx)
        out = R.gru_cell(x, h, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
        return out.squeeze(0) if unbatched else out
