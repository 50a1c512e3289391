"""Adam (Kingma & Ba, 2015), with AMSGrad (Reddi et al., 2018) as an option."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from clt.ops import optim as O
from clt.optim.optimizer import Optimizer, ParamsT, zeros_state
from clt.tensor import Tensor


def check_adam_args(lr: float, betas: tuple[float, float], eps: float,
                    weight_decay: float) -> None:
    if not 0.0 <= lr:
        raise ValueError(f"Invalid learning rate: {lr}")
    if not 0.0 <= eps:
        raise ValueError(f"Invalid epsilon value: {eps}")
    if len(betas) != 2:
        raise ValueError(f"betas must be a pair (beta1, beta2), got {betas!r}")
    if not 0.0 <= betas[0] < 1.0:
        raise ValueError(f"Invalid beta parameter at index 0: {betas[0]}")
    if not 0.0 <= betas[1] < 1.0:
        raise ValueError(f"Invalid beta parameter at index 1: {betas[1]}")
    if not 0.0 <= weight_decay:
        raise ValueError(f"Invalid weight_decay value: {weight_decay}")


class Adam(Optimizer):
    """Adam, as ``torch.optim.Adam`` (weight decay is an L2 term added to the gradient).

    Per step ``t``, with ``g`` the gradient (negated when ``maximize``)::

        g = g + weight_decay * p
        m = beta1 * m + (1 - beta1) * g;   v = beta2 * v + (1 - beta2) * g^2
        v_hat = max(v_hat, v) (amsgrad) | v
        p = p - lr / (1 - beta1^t) * m / (sqrt(v_hat) / sqrt(1 - beta2^t) + eps)

    One fused kernel launch per parameter; ``t`` is counted on the host.

    Args:
        params: tensors or parameter-group dicts.
        lr: learning rate.
        betas: decay rates of the first and second moment averages.
        eps: added to the denominator for numerical stability.
        weight_decay: L2 penalty (use :class:`AdamW` for decoupled decay).
        amsgrad: use the maximum of past second moments (AMSGrad).
        maximize: maximize the objective instead of minimizing it.
    """

    _decoupled = False

    def __init__(self, params: ParamsT, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, amsgrad: bool = False, *,
                 maximize: bool = False) -> None:
        check_adam_args(lr, betas, eps, weight_decay)
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps,
                                      weight_decay=weight_decay, amsgrad=amsgrad,
                                      maximize=maximize))

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """One update of every parameter that has a gradient; returns ``closure()``'s loss."""
        loss = self._eval_closure(closure)
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            for p in self._params_with_grad(group):
                adam(p, p.grad, self.state[p], lr=group["lr"], beta1=beta1, beta2=beta2,
                     eps=group["eps"], weight_decay=group["weight_decay"],
                     amsgrad=group["amsgrad"], maximize=group["maximize"],
                     decoupled=self._decoupled)
        return loss


def adam(param: Tensor, grad: Tensor, state: dict, *, lr: float, beta1: float, beta2: float,
         eps: float, weight_decay: float, amsgrad: bool, maximize: bool,
         decoupled: bool) -> None:
    """Functional Adam/AdamW update of one parameter (one kernel launch); creates its state."""
    if not state:
        state["step"] = 0
        state["exp_avg"] = zeros_state(param)
        state["exp_avg_sq"] = zeros_state(param)
    if amsgrad and "max_exp_avg_sq" not in state:
        state["max_exp_avg_sq"] = zeros_state(param)
    state["step"] += 1
    vmax = state["max_exp_avg_sq"]._data if amsgrad else None
    O.adam_step(param._data, grad._data, state["exp_avg"]._data, state["exp_avg_sq"]._data, vmax,
                lr=lr, beta1=beta1, beta2=beta2, eps=eps, weight_decay=weight_decay,
                decoupled=decoupled, maximize=maximize, step=state["step"])


def _reference_adam(p: np.ndarray, g: np.ndarray, state: dict, *, lr: float, beta1: float,
                    beta2: float, eps: float, weight_decay: float, amsgrad: bool,
                    maximize: bool, decoupled: bool) -> None:
    """Host (numpy) Adam/AdamW as PyTorch writes it (float64 math, state rounded to p's dtype)."""
    g = (-g if maximize else g).astype(np.float64)
    pf = p.astype(np.float64)
    if not state:
        state.update(step=0, exp_avg=np.zeros_like(p), exp_avg_sq=np.zeros_like(p))
    if amsgrad and "max_exp_avg_sq" not in state:
        state["max_exp_avg_sq"] = np.zeros_like(p)
    state["step"] += 1
    t = state["step"]
    if decoupled:
        pf = pf * (1 - lr * weight_decay)
    elif weight_decay != 0:
        g = g + weight_decay * pf
    m = beta1 * state["exp_avg"].astype(np.float64) + (1 - beta1) * g
    v = beta2 * state["exp_avg_sq"].astype(np.float64) + (1 - beta2) * g * g
    state["exp_avg"], state["exp_avg_sq"] = m.astype(p.dtype), v.astype(p.dtype)
    if amsgrad:
        v = np.maximum(state["max_exp_avg_sq"].astype(np.float64), v)
        state["max_exp_avg_sq"] = v.astype(p.dtype)
    denom = np.sqrt(v) / np.sqrt(1 - beta2 ** t) + eps
    p[...] = (pf - lr / (1 - beta1 ** t) * m / denom).astype(p.dtype)
