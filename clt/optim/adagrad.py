"""Adagrad (Duchi, Hazan & Singer, 2011)."""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from clt.ops import optim as O
from clt.optim.optimizer import Optimizer, ParamsT, zeros_state
from clt.tensor import Tensor


class Adagrad(Optimizer):
    """Adagrad, as ``torch.optim.Adagrad``.

    Per step ``t``, with ``g`` the gradient (negated when ``maximize``)::

        g = g + weight_decay * p
        s = s + g^2                        (s starts at initial_accumulator_value)
        p = p - lr / (1 + (t - 1) * lr_decay) * g / (sqrt(s) + eps)

    One fused kernel launch per 8 parameters. As in PyTorch, the state is created in the
    constructor (so it can be shared or inspected before the first step).

    Args:
        params: tensors or parameter-group dicts.
        lr: learning rate.
        lr_decay: learning-rate decay per step.
        weight_decay: L2 penalty.
        initial_accumulator_value: start value of the squared-gradient sums.
        eps: added to the denominator for numerical stability.
        maximize: maximize the objective instead of minimizing it.
    """

    def __init__(self, params: ParamsT, lr: float = 1e-2, lr_decay: float = 0.0,
                 weight_decay: float = 0.0, initial_accumulator_value: float = 0.0,
                 eps: float = 1e-10, *, maximize: bool = False) -> None:
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= lr_decay:
            raise ValueError(f"Invalid lr_decay value: {lr_decay}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if not 0.0 <= initial_accumulator_value:
            raise ValueError(f"Invalid initial_accumulator_value value: "
                             f"{initial_accumulator_value}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, eps=eps,
                                      weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value,
                                      maximize=maximize))
        for group in self.param_groups:
            for p in group["params"]:
                self.state[p] = {"step": 0,
                                 "sum": zeros_state(p, group["initial_accumulator_value"])}

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
            for p in params:
                if not self.state[p]:    # a group added after construction
                    self.state[p].update(step=0, sum=zeros_state(
                        p, group["initial_accumulator_value"]))
            adagrad(params, [p.grad for p in params], [self.state[p] for p in params],
                    lr=group["lr"], lr_decay=group["lr_decay"],
                    weight_decay=group["weight_decay"], eps=group["eps"],
                    maximize=group["maximize"])
        return loss


def adagrad(params: Sequence[Tensor], grads: Sequence[Tensor], states: Sequence[dict], *,
            lr: float, lr_decay: float, weight_decay: float, eps: float, maximize: bool) -> None:
    """Functional Adagrad over parameters with their gradients and (initialised) state dicts;
    one kernel launch per 8 parameters at the same step count.

    Args:
        params: The parameters to update in place.
        grads: Their gradients, in the same order.
        states: Their per-parameter state dicts (filled on the first step).
        lr: Learning rate.
        lr_decay: Learning-rate decay per step.
        weight_decay: L2 penalty coefficient.
        eps: Term added to the denominator for stability.
        maximize: Whether to maximize the objective instead of minimizing it.
    """
    by_step: dict[int, list] = {}
    for p, g, st in zip(params, grads, states):
        by_step.setdefault(st["step"] + 1, []).append((p, g, st))
    for step, items in by_step.items():
        O.adagrad_step([p._data for p, _, _ in items], [g._data for _, g, _ in items],
                       [st["sum"]._data for _, _, st in items], lr=lr, lr_decay=lr_decay,
                       weight_decay=weight_decay, eps=eps, maximize=maximize, step=step)
        for _, _, st in items:
            st["step"] = step


def _reference_adagrad(p: np.ndarray, g: np.ndarray, state: dict, *, lr: float, lr_decay: float,
                       weight_decay: float, eps: float, maximize: bool,
                       initial_accumulator_value: float = 0.0) -> None:
    """Host (numpy) Adagrad as PyTorch writes it (float64 math, state rounded to p's dtype)."""
    g = (-g if maximize else g).astype(np.float64)
    pf = p.astype(np.float64)
    if not state:
        state.update(step=0, sum=np.full_like(p, initial_accumulator_value))
    state["step"] += 1
    if weight_decay != 0:
        g = g + weight_decay * pf
    clr = lr / (1 + (state["step"] - 1) * lr_decay)
    s = state["sum"].astype(np.float64) + g * g
    state["sum"] = s.astype(p.dtype)
    p[...] = (pf - clr * g / (np.sqrt(s) + eps)).astype(p.dtype)
