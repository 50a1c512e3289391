"""Adadelta (Zeiler, 2012)."""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from clt.ops import optim as O
from clt.optim.optimizer import Optimizer, ParamsT, zeros_state
from clt.tensor import Tensor


class Adadelta(Optimizer):
    """Adadelta, as ``torch.optim.Adadelta``.

    Per step, with ``g`` the gradient (negated when ``maximize``)::

        g = g + weight_decay * p
        s = rho * s + (1 - rho) * g^2
        d = sqrt(a + eps) / sqrt(s + eps) * g
        a = rho * a + (1 - rho) * d^2
        p = p - lr * d

    One fused kernel launch per 8 parameters.

    Args:
        params: tensors or parameter-group dicts.
        lr: coefficient that scales the delta before it is applied.
        rho: decay rate of the running averages.
        eps: added inside the square roots for numerical stability.
        weight_decay: L2 penalty.
        maximize: maximize the objective instead of minimizing it.
    """

    def __init__(self, params: ParamsT, lr: float = 1.0, rho: float = 0.9, eps: float = 1e-6,
                 weight_decay: float = 0.0, *, maximize: bool = False) -> None:
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= rho <= 1.0:
            raise ValueError(f"Invalid rho value: {rho}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        super().__init__(params, dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay,
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
            adadelta(params, [p.grad for p in params], [self.state[p] for p in params],
                     lr=group["lr"], rho=group["rho"], eps=group["eps"],
                     weight_decay=group["weight_decay"], maximize=group["maximize"])
        return loss


def adadelta(params: Sequence[Tensor], grads: Sequence[Tensor], states: Sequence[dict], *,
             lr: float, rho: float, eps: float, weight_decay: float, maximize: bool) -> None:
    """Functional Adadelta over parameters with their gradients and state dicts (creates the
    state); one kernel launch per 8 parameters.

    Args:
        params: The parameters to update in place.
        grads: Their gradients, in the same order.
        states: Their per-parameter state dicts (filled on the first step).
        lr: Learning rate.
        rho: Decay rate of the running averages.
        eps: Term added to the denominator for stability.
        weight_decay: L2 penalty coefficient.
        maximize: Whether to maximize the objective instead of minimizing it.
    """
    for p, st in zip(params, states):
        if not st:
            st["step"] = 0
            st["square_avg"] = zeros_state(p)
            st["acc_delta"] = zeros_state(p)
    O.adadelta_step([p._data for p in params], [g._data for g in grads],
                    [st["square_avg"]._data for st in states],
                    [st["acc_delta"]._data for st in states], lr=lr, rho=rho, eps=eps,
                    weight_decay=weight_decay, maximize=maximize)
    for st in states:
        st["step"] += 1


def _reference_adadelta(p: np.ndarray, g: np.ndarray, state: dict, *, lr: float, rho: float,
                        eps: float, weight_decay: float, maximize: bool) -> None:
    """Host (numpy) Adadelta as PyTorch writes it (float64 math, state rounded to p's dtype)."""
    g = (-g if maximize else g).astype(np.float64)
    pf = p.astype(np.float64)
    if not state:
        state.update(step=0, square_avg=np.zeros_like(p), acc_delta=np.zeros_like(p))
    state["step"] += 1
    if weight_decay != 0:
        g = g + weight_decay * pf
    sq = rho * state["square_avg"].astype(np.float64) + (1 - rho) * g * g
    acc = state["acc_delta"].astype(np.float64)
    delta = np.sqrt(acc + eps) / np.sqrt(sq + eps) * g
    state["square_avg"] = sq.astype(p.dtype)
    state["acc_delta"] = (rho * acc + (1 - rho) * delta * delta).astype(p.dtype)
    p[...] = (pf - lr * delta).astype(p.dtype)
