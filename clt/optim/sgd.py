"""Stochastic gradient descent with momentum, dampening, Nesterov and weight decay."""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from clt.backend.fusion import fusion_enabled
from clt.ops import elementwise as ew
from clt.ops import optim as O
from clt.optim.optimizer import Optimizer, ParamsT, empty_state
from clt.tensor import Tensor


class SGD(Optimizer):
    """Stochastic gradient descent, as ``torch.optim.SGD``.

    Per step, with ``g`` the gradient (negated when ``maximize``)::

        g = g + weight_decay * p
        b = g (first step) | momentum * b + (1 - dampening) * g       (if momentum != 0)
        g = g + momentum * b (nesterov) | b
        p = p - lr * g

    One fused kernel launch updates 8 parameters.

    Args:
        params: tensors or parameter-group dicts.
        lr: learning rate.
        momentum: momentum factor (0 disables the momentum buffer).
        dampening: dampening of the momentum.
        weight_decay: L2 penalty.
        nesterov: Nesterov momentum (needs ``momentum > 0`` and ``dampening == 0``).
        maximize: maximize the objective instead of minimizing it.
    """

    def __init__(self, params: ParamsT, lr: float = 1e-3, momentum: float = 0.0,
                 dampening: float = 0.0, weight_decay: float = 0.0, nesterov: bool = False, *,
                 maximize: bool = False) -> None:
        if lr < 0.0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if momentum < 0.0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if weight_decay < 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov,
                                      maximize=maximize))

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """One update of every parameter that has a gradient; returns ``closure()``'s loss.

        Args:
            closure: Optional callable that re-evaluates the model and returns the loss.

        Returns:
            The loss from ``closure``, or None.
        """
        loss = self._eval_closure(closure)
        for group in self.param_groups:
            params = list(self._params_with_grad(group))
            sgd(params, [p.grad for p in params], [self.state[p] for p in params],
                lr=group["lr"], momentum=group["momentum"], dampening=group["dampening"],
                weight_decay=group["weight_decay"], nesterov=group["nesterov"],
                maximize=group["maximize"])
        return loss


def sgd(params: Sequence[Tensor], grads: Sequence[Tensor], states: Sequence[dict], *, lr: float,
        momentum: float, dampening: float, weight_decay: float, nesterov: bool,
        maximize: bool) -> None:
    """Functional SGD over parameters with their gradients and state dicts (creates the state);
    one kernel launch per 8 parameters (a few elementwise kernels per parameter with fusion path
    ``"optim"`` off, see :mod:`clt.backend.fusion`).

    Args:
        params: The parameters to update in place.
        grads: Their gradients, in the same order.
        states: Their per-parameter state dicts (filled on the first step).
        lr: Learning rate.
        momentum: Momentum factor.
        dampening: Dampening of the momentum.
        weight_decay: L2 penalty coefficient.
        nesterov: Whether to use Nesterov momentum.
        maximize: Whether to maximize the objective instead of minimizing it.
    """
    kw = dict(lr=lr, momentum=momentum, dampening=dampening, nesterov=nesterov,
              weight_decay=weight_decay, maximize=maximize)
    if not fusion_enabled("optim"):
        for p, g, st in zip(params, grads, states):    # validate all before any update
            buf = st.get("momentum_buffer")
            O.check_param("sgd", p._data, g._data, [] if buf is None else [buf._data])
        for p, g, st in zip(params, grads, states):
            _single_tensor_sgd(p, g, st, **kw)
        return
    if momentum == 0:
        O.sgd_step([p._data for p in params], [g._data for g in grads], None, first=False, **kw)
        return
    old, fresh = [], []
    for p, g, st in zip(params, grads, states):
        if st.get("momentum_buffer") is None:
            st["momentum_buffer"] = empty_state(p)
            fresh.append((p, g, st))
        else:
            old.append((p, g, st))
    for items, first in ((old, False), (fresh, True)):
        if items:
            O.sgd_step([p._data for p, _, _ in items], [g._data for _, g, _ in items],
                       [st["momentum_buffer"]._data for _, _, st in items], first=first, **kw)


def _single_tensor_sgd(p: Tensor, g: Tensor, state: dict, *, lr: float, momentum: float,
                       dampening: float, weight_decay: float, nesterov: bool,
                       maximize: bool) -> None:
    """SGD on one parameter from elementwise ops, one kernel each (fusion path "optim" off):
    the unfused equivalent of the multi-tensor kernel, in PyTorch's ``foreach=False`` order."""
    pa = p._data
    d = ew.unary("neg", g._data) if maximize else g._data
    if weight_decay != 0:
        d = ew.binary("add", d, ew.binary("mul", pa, weight_decay))
    if momentum != 0:
        buf = state.get("momentum_buffer")
        if buf is None:
            buf = state["momentum_buffer"] = empty_state(p)
            ew.copy_(buf._data, d)
        else:
            b = buf._data
            ew.binary("mul", b, momentum, out=b)
            ew.binary("add", b, d if dampening == 0 else ew.binary("mul", d, 1 - dampening),
                      out=b)
        d = ew.binary("add", d, ew.binary("mul", buf._data, momentum)) if nesterov \
            else buf._data
    ew.binary("sub", pa, ew.binary("mul", d, lr), out=pa)


def _reference_sgd(p: np.ndarray, g: np.ndarray, state: dict, *, lr: float, momentum: float,
                   dampening: float, weight_decay: float, nesterov: bool, maximize: bool) -> None:
    """Host (numpy) version of :func:`sgd`, step by step as PyTorch writes it (in float64,
    rounded to the parameter's dtype where it is stored); tests compare the kernel with it."""
    d = (-g if maximize else g).astype(np.float64)
    pf = p.astype(np.float64)
    if weight_decay != 0:
        d = d + weight_decay * pf
    if momentum != 0:
        buf = state.get("momentum_buffer")
        if buf is None:
            buf = d.copy()
        else:
            buf = momentum * buf.astype(np.float64) + (1 - dampening) * d
        state["momentum_buffer"] = buf.astype(p.dtype)
        d = d + momentum * buf if nesterov else buf
    p[...] = (pf - lr * d).astype(p.dtype)
