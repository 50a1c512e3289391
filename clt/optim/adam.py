"""Adam (Kingma & Ba, 2015), with AMSGrad (Reddi et al., 2018) as an option."""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from clt.backend.fusion import fusion_enabled
from clt.ops import elementwise as ew
from clt.ops import optim as O
from clt.optim.optimizer import Optimizer, ParamsT, zeros_state
from clt.tensor import Tensor


def check_adam_args(lr: float, betas: tuple[float, float], eps: float,
                    weight_decay: float) -> None:
    """Validate Adam/AdamW hyperparameters.

    Args:
        lr: Learning rate; must be >= 0.
        betas: ``(beta1, beta2)``, each in [0, 1).
        eps: Denominator term; must be >= 0.
        weight_decay: Must be >= 0.

    Raises:
        ValueError: If any value is out of range or ``betas`` is not a pair.
    """
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

    One fused kernel launch per 8 parameters; ``t`` is counted on the host.

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
            adam(params, [p.grad for p in params], [self.state[p] for p in params],
                 lr=group["lr"], beta1=beta1, beta2=beta2, eps=group["eps"],
                 weight_decay=group["weight_decay"], amsgrad=group["amsgrad"],
                 maximize=group["maximize"], decoupled=self._decoupled)
        return loss


def adam(params: Sequence[Tensor], grads: Sequence[Tensor], states: Sequence[dict], *,
         lr: float, beta1: float, beta2: float, eps: float, weight_decay: float, amsgrad: bool,
         maximize: bool, decoupled: bool) -> None:
    """Functional Adam/AdamW over parameters with their gradients and state dicts (creates the
    state); one kernel launch per 8 parameters at the same step count (a few elementwise kernels
    per parameter with fusion path ``"optim"`` off, see :mod:`clt.backend.fusion`).

    Args:
        params: The parameters to update in place.
        grads: Their gradients, in the same order.
        states: Their per-parameter state dicts (filled on the first step).
        lr: Learning rate.
        beta1: Decay rate of the first moment.
        beta2: Decay rate of the second moment.
        eps: Term added to the denominator for stability.
        weight_decay: L2 penalty coefficient.
        amsgrad: Whether to use the running maximum of the second moment (AMSGrad).
        maximize: Whether to maximize the objective instead of minimizing it.
        decoupled: Whether weight decay is decoupled (AdamW) instead of added to the gradient.
    """
    by_step: dict[int, list] = {}
    for p, g, st in zip(params, grads, states):
        if not st:
            st["step"] = 0
            st["exp_avg"] = zeros_state(p)
            st["exp_avg_sq"] = zeros_state(p)
        if amsgrad and "max_exp_avg_sq" not in st:
            st["max_exp_avg_sq"] = zeros_state(p)
        by_step.setdefault(st["step"] + 1, []).append((p, g, st))
    kw = dict(lr=lr, beta1=beta1, beta2=beta2, eps=eps, weight_decay=weight_decay,
              amsgrad=amsgrad, decoupled=decoupled, maximize=maximize)
    for step, items in by_step.items():
        sts = [st for _, _, st in items]
        if not fusion_enabled("optim"):
            for p, g, st in items:      # validate all before any update
                O.check_param("adam", p._data, g._data, [
                    st[k]._data for k in ("exp_avg", "exp_avg_sq", "max_exp_avg_sq") if k in st])
            for p, g, st in items:
                _single_tensor_adam(p, g, st, step=step, **kw)
            continue
        O.adam_step([p._data for p, _, _ in items], [g._data for _, g, _ in items],
                    [st["exp_avg"]._data for st in sts], [st["exp_avg_sq"]._data for st in sts],
                    [st["max_exp_avg_sq"]._data for st in sts] if amsgrad else None,
                    lr=lr, beta1=beta1, beta2=beta2, eps=eps, weight_decay=weight_decay,
                    decoupled=decoupled, maximize=maximize, step=step)
        for st in sts:      # counted once the update is enqueued (bad input leaves it as it was)
            st["step"] = step


def _single_tensor_adam(p: Tensor, g: Tensor, state: dict, *, step: int, lr: float,
                        beta1: float, beta2: float, eps: float, weight_decay: float,
                        amsgrad: bool, decoupled: bool, maximize: bool) -> None:
    """Adam/AdamW on one parameter from elementwise ops, one kernel each (fusion path "optim"
    off): the unfused equivalent of the multi-tensor kernel, in PyTorch's ``foreach=False``
    order. Counts the step in ``state``."""
    pa, m, v = p._data, state["exp_avg"]._data, state["exp_avg_sq"]._data
    d = ew.unary("neg", g._data) if maximize else g._data
    if decoupled:
        if weight_decay != 0:
            ew.binary("mul", pa, 1 - lr * weight_decay, out=pa)
    elif weight_decay != 0:
        d = ew.binary("add", d, ew.binary("mul", pa, weight_decay))
    ew.binary("mul", m, beta1, out=m)
    ew.binary("add", m, ew.binary("mul", d, 1 - beta1), out=m)
    ew.binary("mul", v, beta2, out=v)
    ew.binary("add", v, ew.binary("mul", ew.binary("mul", d, d), 1 - beta2), out=v)
    if amsgrad:
        vmax = state["max_exp_avg_sq"]._data
        v = ew.binary("maximum", vmax, v, out=vmax)
    denom = ew.binary("add", ew.binary("div", ew.unary("sqrt", v), (1 - beta2 ** step) ** 0.5),
                      eps)
    ew.binary("sub", pa, ew.binary("mul", ew.binary("div", m, denom), lr / (1 - beta1 ** step)),
              out=pa)
    state["step"] = step


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
