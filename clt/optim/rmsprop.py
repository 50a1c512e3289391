"""RMSprop (Hinton's lecture 6e), optionally centered (Graves, 2013) and with momentum."""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from clt.ops import optim as O
from clt.optim.optimizer import Optimizer, ParamsT, zeros_state
from clt.tensor import Tensor


class RMSprop(Optimizer):
    """RMSprop, as ``torch.optim.RMSprop``.

    Per step, with ``g`` the gradient (negated when ``maximize``)::

        g = g + weight_decay * p
        s = alpha * s + (1 - alpha) * g^2
        avg = sqrt(s - a^2) + eps with a = alpha * a + (1 - alpha) * g (centered) | sqrt(s) + eps
        b = momentum * b + g / avg;  p = p - lr * b          (momentum > 0)
        p = p - lr * g / avg                                 (otherwise)

    One fused kernel launch per 8 parameters.

    Args:
        params: tensors or parameter-group dicts.
        lr: learning rate.
        alpha: smoothing constant of the squared-gradient average.
        eps: added to the denominator for numerical stability.
        weight_decay: L2 penalty.
        momentum: momentum factor.
        centered: normalize by an estimate of the gradient's variance instead of its second
            moment.
        maximize: maximize the objective instead of minimizing it.
    """

    def __init__(self, params: ParamsT, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0.0, momentum: float = 0.0, centered: bool = False, *,
                 maximize: bool = False) -> None:
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= momentum:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if not 0.0 <= alpha:
            raise ValueError(f"Invalid alpha value: {alpha}")
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                                      momentum=momentum, centered=centered, maximize=maximize))

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
            rmsprop(params, [p.grad for p in params], [self.state[p] for p in params],
                    lr=group["lr"], alpha=group["alpha"], eps=group["eps"],
                    weight_decay=group["weight_decay"], momentum=group["momentum"],
                    centered=group["centered"], maximize=group["maximize"])
        return loss


def rmsprop(params: Sequence[Tensor], grads: Sequence[Tensor], states: Sequence[dict], *,
            lr: float, alpha: float, eps: float, weight_decay: float, momentum: float,
            centered: bool, maximize: bool) -> None:
    """Functional RMSprop over parameters with their gradients and state dicts (creates the
    state); one kernel launch per 8 parameters.

    Args:
        params: The parameters to update in place.
        grads: Their gradients, in the same order.
        states: Their per-parameter state dicts (filled on the first step).
        lr: Learning rate.
        alpha: Smoothing constant of the squared-gradient average.
        eps: Term added to the denominator for stability.
        weight_decay: L2 penalty coefficient.
        momentum: Momentum factor.
        centered: Whether to normalise by the estimated gradient variance.
        maximize: Whether to maximize the objective instead of minimizing it.
    """
    for p, st in zip(params, states):
        if not st:
            st["step"] = 0
            st["square_avg"] = zeros_state(p)
        # buffers appear when a group turns the option on (e.g. OneCycleLR cycling momentum)
        if momentum > 0 and "momentum_buffer" not in st:
            st["momentum_buffer"] = zeros_state(p)
        if centered and "grad_avg" not in st:
            st["grad_avg"] = zeros_state(p)
    O.rmsprop_step([p._data for p in params], [g._data for g in grads],
                   [st["square_avg"]._data for st in states],
                   [st["grad_avg"]._data for st in states] if centered else None,
                   [st["momentum_buffer"]._data for st in states] if momentum > 0 else None,
                   lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum,
                   maximize=maximize)
    for st in states:
        st["step"] += 1


def _reference_rmsprop(p: np.ndarray, g: np.ndarray, state: dict, *, lr: float, alpha: float,
                       eps: float, weight_decay: float, momentum: float, centered: bool,
                       maximize: bool) -> None:
    """Host (numpy) RMSprop as PyTorch writes it (float64 math, state rounded to p's dtype)."""
    g = (-g if maximize else g).astype(np.float64)
    pf = p.astype(np.float64)
    z = np.zeros_like(p)
    state.setdefault("square_avg", z.copy())
    if weight_decay != 0:
        g = g + weight_decay * pf
    sq = alpha * state["square_avg"].astype(np.float64) + (1 - alpha) * g * g
    state["square_avg"] = sq.astype(p.dtype)
    if centered:
        ga = alpha * state.setdefault("grad_avg", z.copy()).astype(np.float64) + (1 - alpha) * g
        state["grad_avg"] = ga.astype(p.dtype)
        avg = np.sqrt(sq - ga * ga) + eps
    else:
        avg = np.sqrt(sq) + eps
    if momentum > 0:
        buf = momentum * state.setdefault("momentum_buffer", z.copy()).astype(np.float64) + g / avg
        state["momentum_buffer"] = buf.astype(p.dtype)
        p[...] = (pf - lr * buf).astype(p.dtype)
    else:
        p[...] = (pf - lr * g / avg).astype(p.dtype)
