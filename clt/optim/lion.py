"""Lion: EvoLved Sign Momentum (Chen et al., 2023, "Symbolic Discovery of Optimization
Algorithms")."""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from clt.ops import optim as O
from clt.optim.optimizer import Optimizer, ParamsT, zeros_state
from clt.tensor import Tensor


class Lion(Optimizer):
    """Lion (PyTorch has no built-in Lion; this follows the paper's reference code).

    Per step, with ``g`` the gradient (negated when ``maximize``)::

        p = p * (1 - lr * weight_decay)
        p = p - lr * sign(beta1 * m + (1 - beta1) * g)
        m = beta2 * m + (1 - beta2) * g

    Updates have unit size per element, so Lion wants a learning rate 3-10x smaller than
    AdamW's and a weight decay 3-10x larger. One fused kernel launch per 8 parameters; the state is
    a single moment buffer (``exp_avg``), half of Adam's.

    Args:
        params: tensors or parameter-group dicts.
        lr: learning rate.
        betas: interpolation factor of the update and decay rate of the moment.
        weight_decay: decoupled weight decay coefficient.
        maximize: maximize the objective instead of minimizing it.
    """

    def __init__(self, params: ParamsT, lr: float = 1e-4, betas: tuple[float, float] = (0.9, 0.99),
                 weight_decay: float = 0.0, *, maximize: bool = False) -> None:
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if len(betas) != 2:
            raise ValueError(f"betas must be a pair (beta1, beta2), got {betas!r}")
        if not 0.0 <= betas[0] <= 1.0:
            raise ValueError(f"Invalid beta parameter at index 0: {betas[0]}")
        if not 0.0 <= betas[1] <= 1.0:
            raise ValueError(f"Invalid beta parameter at index 1: {betas[1]}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        super().__init__(params, dict(lr=lr, betas=tuple(betas), weight_decay=weight_decay,
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
            beta1, beta2 = group["betas"]
            params = list(self._params_with_grad(group))
            lion(params, [p.grad for p in params], [self.state[p] for p in params],
                 lr=group["lr"], beta1=beta1, beta2=beta2, weight_decay=group["weight_decay"],
                 maximize=group["maximize"])
        return loss


def lion(params: Sequence[Tensor], grads: Sequence[Tensor], states: Sequence[dict], *,
         lr: float, beta1: float, beta2: float, weight_decay: float, maximize: bool) -> None:
    """Functional Lion over parameters with their gradients and state dicts (creates the
    state); one kernel launch per 8 parameters.

    Args:
        params: The parameters to update in place.
        grads: Their gradients, in the same order.
        states: Their per-parameter state dicts (filled on the first step).
        lr: Learning rate.
        beta1: Interpolation factor for the update direction.
        beta2: Decay rate of the momentum.
        weight_decay: Decoupled weight decay coefficient.
        maximize: Whether to maximize the objective instead of minimizing it.
    """
    for p, st in zip(params, states):
        if not st:
            st["exp_avg"] = zeros_state(p)
    O.lion_step([p._data for p in params], [g._data for g in grads],
                [st["exp_avg"]._data for st in states], lr=lr, beta1=beta1, beta2=beta2,
                weight_decay=weight_decay, maximize=maximize)


def _reference_lion(p: np.ndarray, g: np.ndarray, state: dict, *, lr: float, beta1: float,
                    beta2: float, weight_decay: float, maximize: bool) -> None:
    """Host (numpy) Lion as the paper's code writes it (float64 math, rounded to p's dtype)."""
    g = (-g if maximize else g).astype(np.float64)
    pf = p.astype(np.float64) * (1 - lr * weight_decay)
    m = state.setdefault("exp_avg", np.zeros_like(p)).astype(np.float64)
    pf = pf - lr * np.sign(beta1 * m + (1 - beta1) * g)
    state["exp_avg"] = (beta2 * m + (1 - beta2) * g).astype(p.dtype)
    p[...] = pf.astype(p.dtype)
