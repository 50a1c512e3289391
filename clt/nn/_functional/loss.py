"""Loss functions of ``clt.nn.functional``, with PyTorch's semantics and error messages.

Two fused paths keep a training step's loss cheap:

* Classification (``cross_entropy``, ``nll_loss``): ``clt.ops.loss`` computes log-softmax, the
  picked log-probabilities, label smoothing and class weights in one pass, and the gradient
  ``coef * (softmax * S - B)`` in one more; (N, C), (N, C, d1, ...) and (C,) inputs alike.
* Pointwise losses (``mse_loss``, ``l1_loss``, ``smooth_l1_loss``, ``huber_loss``,
  ``binary_cross_entropy``, ``binary_cross_entropy_with_logits``, ``kl_div``,
  ``soft_margin_loss``, ``poisson_nll_loss``): one elementwise kernel for the loss plus one
  reduction forward, one elementwise kernel per input gradient backward.

When a gradient graph is requested (``create_graph=True``) the backward passes switch to
differentiable Tensor formulas, so second derivatives work. The remaining losses are composed
from differentiable Tensor ops.
"""
from __future__ import annotations

import math
import warnings
from typing import Any, Callable

from clt import dtypes as D
from clt.autograd.function import Function
from clt.autograd.grad_mode import STATE
from clt.backend.fusion import fusion_enabled
from clt.errors import DeviceError, DTypeError, ShapeError
from clt.functions import elementwise as E
from clt.functions._util import needs_grad
from clt.functions.elementwise import reduce_grad
from clt.ops import elementwise as ew
from clt.ops import loss as L
from clt.ops import reduce as R
from clt.ops.array import Array
from clt.tensor import Tensor
from clt.amp import autocast_args

__all__ = ["mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss", "cross_entropy", "nll_loss",
           "binary_cross_entropy", "binary_cross_entropy_with_logits", "kl_div",
           "cosine_embedding_loss", "soft_margin_loss", "poisson_nll_loss", "gaussian_nll_loss",
           "margin_ranking_loss", "hinge_embedding_loss", "triplet_margin_loss",
           "multilabel_soft_margin_loss"]

_REDUCTIONS = ("none", "mean", "sum")


def _check_reduction(reduction: str, extra: tuple[str, ...] = ()) -> str:
    if reduction not in _REDUCTIONS + extra:
        raise ValueError(f"{reduction} is not a valid value for reduction")
    return reduction


def _tensor(x: Any, fn: str, name: str) -> Tensor:
    if not isinstance(x, Tensor):
        raise TypeError(f"{fn}(): argument '{name}' must be Tensor, not {type(x).__name__}")
    return x


def _same_device(fn: str, *xs: Any) -> None:
    dev = None
    for x in xs:
        if isinstance(x, Tensor):
            if dev is None:
                dev = x.device
            elif x.device is not dev:
                raise DeviceError(f"{fn}(): expected all tensors to be on the same device, but "
                                  f"found {dev} and {x.device}")


# -----------------------------------------------------------------------------------------------
# full reductions (mean / sum of every element), differentiable


class _ReduceAll(Function):
    @staticmethod
    def forward(ctx, x: Tensor, kind: str) -> Array:
        ctx.shape, ctx.numel, ctx.kind = tuple(x.shape), x.numel(), kind
        return R.mean(x._data) if kind == "mean" else R.sum(x._data)

    @staticmethod
    def backward(ctx, g: Tensor) -> tuple:
        if ctx.kind == "mean":
            g = g / ctx.numel if ctx.numel else g * math.nan
        return E.expand(g, ctx.shape), None


_REDUCE_FNS = {"mean": type("Mean", (_ReduceAll,), {}), "sum": type("Sum", (_ReduceAll,), {})}


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "none":
        return loss
    if needs_grad(loss):
        return _REDUCE_FNS[reduction].apply(loss, reduction)
    return Tensor(R.mean(loss._data) if reduction == "mean" else R.sum(loss._data))


def _sum_dim(x: Tensor, dim: int) -> Tensor:
    """``x.sum(dim)`` (the reductions family's Tensor method)."""
    return x.sum(dim)


# -----------------------------------------------------------------------------------------------
# fused pointwise losses


class _Spec:
    """A pointwise loss: C expressions for the value and the two partial derivatives, over
    ``{x}``, ``{y}``, ``{w}`` (elementwise weight), ``{pw}`` (pos_weight) and params ``{p0}``..,
    plus differentiable Tensor versions of the derivatives for double backward."""

    def __init__(self, value: str, dx: str, dy: str | None, tdx: Callable, tdy: Callable | None
                 ) -> None:
        self.value, self.dx, self.dy, self.tdx, self.tdy = value, dx, dy, tdx, tdy


def _sgn(t: Tensor) -> Tensor:
    return E.sign(t)


_SIGN = "({d} > 0 ? (T)1 : ({d} < 0 ? (T)-1 : (T)0))"
_SOFTPLUS_NEG = "(log1p(exp(-fabs({x}))) + ({x} < 0 ? -{x} : (T)0))"     # -logsigmoid(x)
_BCE_EPS = 1e-12

_SPECS: dict[str, _Spec] = {
    "mse": _Spec("({x} - {y}) * ({x} - {y})", "(T)2 * ({x} - {y})", "(T)-2 * ({x} - {y})",
                 lambda x, y, p: (x - y) * 2, lambda x, y, p: (x - y) * -2),
    "l1": _Spec("fabs({x} - {y})", _SIGN.format(d="({x} - {y})"),
                "-" + _SIGN.format(d="({x} - {y})"),
                lambda x, y, p: _sgn(x - y), lambda x, y, p: -_sgn(x - y)),
    "smooth_l1": _Spec(
        "(fabs({x} - {y}) < {p0} ? (T)0.5 * ({x} - {y}) * ({x} - {y}) / {p0} : "
        "fabs({x} - {y}) - (T)0.5 * {p0})",
        "(fabs({x} - {y}) < {p0} ? ({x} - {y}) / {p0} : " + _SIGN.format(d="({x} - {y})") + ")",
        "(fabs({x} - {y}) < {p0} ? ({y} - {x}) / {p0} : " + _SIGN.format(d="({y} - {x})") + ")",
        lambda x, y, p: E.where(E.abs(x - y) < p[0], (x - y) / p[0], _sgn(x - y)),
        lambda x, y, p: E.where(E.abs(x - y) < p[0], (y - x) / p[0], _sgn(y - x))),
    "huber": _Spec(
        "(fabs({x} - {y}) < {p0} ? (T)0.5 * ({x} - {y}) * ({x} - {y}) : "
        "{p0} * (fabs({x} - {y}) - (T)0.5 * {p0}))",
        "(fabs({x} - {y}) < {p0} ? ({x} - {y}) : {p0} * " + _SIGN.format(d="({x} - {y})") + ")",
        "(fabs({x} - {y}) < {p0} ? ({y} - {x}) : {p0} * " + _SIGN.format(d="({y} - {x})") + ")",
        lambda x, y, p: E.where(E.abs(x - y) < p[0], x - y, _sgn(x - y) * p[0]),
        lambda x, y, p: E.where(E.abs(x - y) < p[0], y - x, _sgn(y - x) * p[0])),
    # PyTorch clamps the logs at -100 so that p = 0 or 1 gives a finite loss
    "bce": _Spec(
        "-({y} * CLT_MAX(log({x}), (T)-100) + ((T)1 - {y}) * CLT_MAX(log1p(-{x}), (T)-100))",
        f"({{x}} - {{y}}) / CLT_MAX(((T)1 - {{x}}) * {{x}}, (T){_BCE_EPS})",
        "(CLT_MAX(log1p(-{x}), (T)-100) - CLT_MAX(log({x}), (T)-100))",
        lambda x, y, p: (x - y) / E.clamp((1 - x) * x, min=_BCE_EPS),
        lambda x, y, p: E.clamp(E.log1p(-x), min=-100) - E.clamp(E.log(x), min=-100)),
    # (1 - y) x - lw * logsigmoid(x), lw = 1 + (pos_weight - 1) y: stable for any x
    "bce_logits": _Spec(
        "((T)1 - {y}) * {x} + {lw} * " + _SOFTPLUS_NEG,
        "({lw} / ((T)1 + exp(-{x})) - {pwv} * {y})",
        "(-{x} - ({pwv} - (T)1) * -" + _SOFTPLUS_NEG + ")",
        None, None),
    "kl_div": _Spec("({y} > 0 ? {y} * (log({y}) - {x}) : ({y} == 0 ? (T)0 : (T)NAN))",
                    "-{y}", "(log({y}) + (T)1 - {x})",
                    lambda x, y, p: -y, lambda x, y, p: E.log(y) + 1 - x),
    "kl_div_log": _Spec("exp({y}) * ({y} - {x})", "-exp({y})", "exp({y}) * ({y} - {x} + (T)1)",
                        lambda x, y, p: -E.exp(y), lambda x, y, p: E.exp(y) * (y - x + 1)),
    # log(1 + exp(-y x)), stably
    "soft_margin": _Spec(
        "(log1p(exp(-fabs({y} * {x}))) + ({y} * {x} < 0 ? -{y} * {x} : (T)0))",
        "(-{y} / ((T)1 + exp({y} * {x})))", "(-{x} / ((T)1 + exp({y} * {x})))",
        lambda x, y, p: -y * E.sigmoid(-y * x), lambda x, y, p: -x * E.sigmoid(-y * x)),
    "poisson_log": _Spec("exp({x}) - {y} * {x}", "exp({x}) - {y}", "-{x}",
                         lambda x, y, p: E.exp(x) - y, lambda x, y, p: -x),
    "poisson": _Spec("{x} - {y} * log({x} + {p0})", "(T)1 - {y} / ({x} + {p0})",
                     "-log({x} + {p0})",
                     lambda x, y, p: 1 - y / (x + p[0]), lambda x, y, p: -E.log(x + p[0])),
}


def _bce_logits_tensor_grads(x: Tensor, y: Tensor, pw: Any) -> tuple[Tensor, Tensor]:
    lw = (pw - 1) * y + 1 if pw is not None else 1
    pwv = pw if pw is not None else 1
    dx = E.sigmoid(x) * lw - y * pwv
    dy = -x + E.logsigmoid(x) * (pwv - 1) if pw is not None else -x
    return dx, dy


class _Pointwise(Function):
    @staticmethod
    def forward(ctx, x: Tensor, y: Tensor, w: Tensor | None, pw: Tensor | None, kind: str,
                params: tuple, reduction: str) -> Array:
        ctx.kind, ctx.params, ctx.reduction = kind, params, reduction
        ctx.save_for_backward(x, y, w, pw)
        dt = D.result_type(x, y)
        arrays = [x._data, y._data] + [t._data for t in (w, pw) if t is not None]
        names = _names(w is not None, pw is not None, shift=0)
        expr = _fill(_SPECS[kind].value, names, params)
        if w is not None:
            expr = f"({expr}) * {names['w']}"
        e = ew.map_op(f"loss_{kind}", expr, arrays + list(params), dt, dt)
        ctx.numel = e.numel
        ctx.out_shape = e.shape
        if reduction == "none":
            return e
        return R.mean(e) if reduction == "mean" else R.sum(e)

    @staticmethod
    def backward(ctx, g: Tensor) -> tuple:
        x, y, w, pw = ctx.saved_tensors
        kind, params = ctx.kind, ctx.params
        scale = 1.0 / ctx.numel if ctx.reduction == "mean" and ctx.numel else (
            math.nan if ctx.reduction == "mean" else 1.0)
        need_x, need_y = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
        if STATE.enabled:   # create_graph: differentiable formulas
            gs = g * scale if scale != 1.0 else g
            if w is not None:
                gs = gs * w
            if kind == "bce_logits":
                tdx, tdy = _bce_logits_tensor_grads(x, y, pw)
            else:
                spec = _SPECS[kind]
                tdx = spec.tdx(x, y, params) if need_x else None
                tdy = spec.tdy(x, y, params) if need_y and spec.tdy else None
            gx = reduce_grad(gs * tdx, x) if need_x and tdx is not None else None
            gy = reduce_grad(gs * tdy, y) if need_y and tdy is not None else None
            return gx, gy, None, None, None, None, None
        dt = D.result_type(x, y)
        ga = g._data
        if w is not None:
            ga = ew.binary("mul", ga, w._data)
        arrays = [ga, x._data, y._data] + ([pw._data] if pw is not None else [])
        names = _names(False, pw is not None, shift=1)
        scal = list(params) + [scale]
        sname = f"s{len(params)}"
        out = []
        for need, key, t in ((need_x, "dx", x), (need_y, "dy", y)):
            if not need:
                out.append(None)
                continue
            expr = f"a * {sname} * ({_fill(getattr(_SPECS[kind], key), names, params)})"
            res = ew.map_op(f"loss_{kind}_{key}", expr, arrays + scal, dt, dt)
            out.append(reduce_grad(Tensor(_expand_to(res, ctx.out_shape)), t))
        return out[0], out[1], None, None, None, None, None


# one subclass per loss, so graphs read like PyTorch's (grad_fn=<MseLossBackward>)
_POINTWISE_FNS = {kind: type(name, (_Pointwise,), {}) for kind, name in (
    ("mse", "MseLoss"), ("l1", "L1Loss"), ("smooth_l1", "SmoothL1Loss"), ("huber", "HuberLoss"),
    ("bce", "BinaryCrossEntropy"), ("bce_logits", "BinaryCrossEntropyWithLogits"),
    ("kl_div", "KlDiv"), ("kl_div_log", "KlDiv"), ("soft_margin", "SoftMarginLoss"),
    ("poisson_log", "PoissonNllLoss"), ("poisson", "PoissonNllLoss"))}


def _expand_to(a: Array, shape: tuple) -> Array:
    if a.shape == tuple(shape):
        return a
    from clt.ops import shapes

    return a.view(tuple(shape), shapes.broadcast_strides(a.shape, a.strides, tuple(shape)))


def _names(has_w: bool, has_pw: bool, shift: int) -> dict[str, str]:
    ops = "abcd"[shift:]
    names = {"x": ops[0], "y": ops[1]}
    k = 2
    if has_w:
        names["w"] = ops[k]
        k += 1
    if has_pw:
        names["pw"] = ops[k]
    return names


def _fill(expr: str, names: dict[str, str], params: tuple) -> str:
    pw = names.get("pw")
    fields = dict(names)
    fields["lw"] = f"((T)1 + ({pw} - (T)1) * {names['y']})" if pw else "(T)1"
    fields["pwv"] = pw if pw else "(T)1"
    fields.update({f"p{i}": f"s{i}" for i in range(len(params))})
    fields.setdefault("w", "(T)1")
    fields.setdefault("pw", "(T)1")
    return expr.format(**fields)


def _pointwise(kind: str, input: Tensor, target: Tensor, reduction: str, params: tuple = (),
               weight: Tensor | None = None, pos_weight: Tensor | None = None) -> Tensor:
    for t in (input, target, weight, pos_weight):
        if t is not None and not t.dtype.is_floating_point:
            raise DTypeError(f"{kind} loss: expected floating point tensors, got {t.dtype.name}")
    return _POINTWISE_FNS[kind].apply(input, target, weight, pos_weight, kind,
                                      tuple(float(p) for p in params), reduction)


def _check_pair(fn: str, input: Any, target: Any, warn: bool = True) -> None:
    _tensor(input, fn, "input")
    _tensor(target, fn, "target")
    _same_device(fn, input, target)
    if tuple(target.shape) != tuple(input.shape):
        from clt.ops import shapes

        try:
            shapes.broadcast_shapes(tuple(input.shape), tuple(target.shape))
        except Exception as exc:
            raise ShapeError(f"{fn}(): the size of input {tuple(input.shape)} and target "
                             f"{tuple(target.shape)} can't be broadcast together") from exc
        if warn:
            warnings.warn(f"Using a target size ({tuple(target.shape)}) that is different to "
                          f"the input size ({tuple(input.shape)}). This will likely lead to "
                          "incorrect results due to broadcasting. Please ensure they have the "
                          "same size.", stacklevel=3)


def mse_loss(input: Tensor, target: Tensor, reduction: str = "mean",
             weight: Tensor | None = None) -> Tensor:
    """Mean squared error ``(input - target)^2`` (optionally times an elementwise weight).

    Args:
        input: Predictions.
        target: Targets; should have the shape of ``input``.
        reduction: ``"none"``, ``"mean"`` or ``"sum"``.
        weight: Optional elementwise weight, broadcast against the loss.

    Returns:
        The loss: a scalar, or per-element when ``reduction='none'``.
    """
    input, target = autocast_args("mse_loss", input, target)
    _check_reduction(reduction)
    _check_pair("mse_loss", input, target)
    return _pointwise("mse", input, target, reduction, weight=weight)


def l1_loss(input: Tensor, target: Tensor, reduction: str = "mean",
            weight: Tensor | None = None) -> Tensor:
    """Mean absolute error ``|input - target|``.

    Args:
        input: Predictions.
        target: Targets; should have the shape of ``input``.
        reduction: ``"none"``, ``"mean"`` or ``"sum"``.
        weight: Optional elementwise weight, broadcast against the loss.

    Returns:
        The loss: a scalar, or per-element when ``reduction='none'``.
    """
    _check_reduction(reduction)
    _check_pair("l1_loss", input, target)
    return _pointwise("l1", input, target, reduction, weight=weight)


def smooth_l1_loss(input: Tensor, target: Tensor, reduction: str = "mean",
                   beta: float = 1.0) -> Tensor:
    """Quadratic ``0.5 d^2 / beta`` below ``beta``, linear ``|d| - 0.5 beta`` above.

    Args:
        input: Predictions.
        target: Targets; should have the shape of ``input``.
        reduction: ``"none"``, ``"mean"`` or ``"sum"``.
        beta: Where the loss switches from quadratic to linear; must be >= 0.

    Returns:
        The loss: a scalar, or per-element when ``reduction='none'``.

    Raises:
        ValueError: If ``beta`` is negative or ``reduction`` is invalid.
    """
    _check_reduction(reduction)
    _check_pair("smooth_l1_loss", input, target)
    if beta < 0:
        raise ValueError(f"smooth_l1_loss does not support negative values for beta, got "
                         f"{beta}")
    if beta == 0:
        return _pointwise("l1", input, target, reduction)
    return _pointwise("smooth_l1", input, target, reduction, (beta,))


def huber_loss(input: Tensor, target: Tensor, reduction: str = "mean", delta: float = 1.0,
               weight: Tensor | None = None) -> Tensor:
    """``0.5 d^2`` below ``delta``, ``delta (|d| - 0.5 delta)`` above.

    Args:
        input: Predictions.
        target: Targets; should have the shape of ``input``.
        reduction: ``"none"``, ``"mean"`` or ``"sum"``.
        delta: Where the loss switches from quadratic to linear; must be > 0.
        weight: Optional elementwise weight, broadcast against the loss.

    Returns:
        The loss: a scalar, or per-element when ``reduction='none'``.

    Raises:
        ValueError: If ``delta`` is not positive or ``reduction`` is invalid.
    """
    _check_reduction(reduction)
    _check_pair("huber_loss", input, target)
    if delta <= 0:
        raise ValueError(f"huber_loss does not support non-positive values for delta, got "
                         f"{delta}")
    return _pointwise("huber", input, target, reduction, (delta,), weight=weight)


def binary_cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None,
                         reduction: str = "mean") -> Tensor:
    """``-(y log p + (1 - y) log(1 - p))`` with the logs clamped at -100, as PyTorch.

    Args:
        input: Probabilities in [0, 1].
        target: Targets in [0, 1], the same shape as ``input``.
        weight: Optional weight, broadcast against the loss.
        reduction: ``"none"``, ``"mean"`` or ``"sum"``.

    Returns:
        The loss: a scalar, or per-element when ``reduction='none'``.

    Raises:
        ShapeError: If ``target`` and ``input`` differ in shape.
    """
    _check_reduction(reduction)
    _tensor(input, "binary_cross_entropy", "input")
    _tensor(target, "binary_cross_entropy", "target")
    if tuple(target.shape) != tuple(input.shape):
        raise ShapeError(f"Using a target size ({tuple(target.shape)}) that is different to "
                         f"the input size ({tuple(input.shape)}) is deprecated. Please ensure "
                         "they have the same size.")
    _same_device("binary_cross_entropy", input, target, weight)
    return _pointwise("bce", input, target, reduction, weight=_broadcast_weight(weight, input))


def _broadcast_weight(weight: Tensor | None, input: Tensor) -> Tensor | None:
    if weight is None:
        return None
    _tensor(weight, "loss", "weight")
    from clt.ops import shapes

    try:
        shapes.broadcast_shapes(tuple(weight.shape), tuple(input.shape))
    except Exception as exc:
        raise ShapeError(f"weight of shape {tuple(weight.shape)} can't be broadcast to the "
                         f"input of shape {tuple(input.shape)}") from exc
    return weight


def binary_cross_entropy_with_logits(input: Tensor, target: Tensor,
                                     weight: Tensor | None = None, reduction: str = "mean",
                                     pos_weight: Tensor | None = None) -> Tensor:
    """Sigmoid + binary cross entropy in one stable formula; ``pos_weight`` weighs positives
    (broadcast along the last dim, one per class).

    Args:
        input: Logits.
        target: Targets in [0, 1], the same shape as ``input``.
        weight: Optional weight, broadcast against the loss.
        reduction: ``"none"``, ``"mean"`` or ``"sum"``.
        pos_weight: Optional weight of the positive term, one per class (last dim).

    Returns:
        The loss: a scalar, or per-element when ``reduction='none'``.

    Raises:
        ShapeError: If ``target`` and ``input`` differ in shape.
    """
    _check_reduction(reduction)
    _tensor(input, "binary_cross_entropy_with_logits", "input")
    _tensor(target, "binary_cross_entropy_with_logits", "target")
    if tuple(target.shape) != tuple(input.shape):
        raise ShapeError(f"Target size ({tuple(target.shape)}) must be the same as input size "
                         f"({tuple(input.shape)})")
    _same_device("binary_cross_entropy_with_logits", input, target, weight, pos_weight)
    if pos_weight is not None:
        _tensor(pos_weight, "binary_cross_entropy_with_logits", "pos_weight")
        _broadcast_weight(pos_weight, input)
    return _pointwise("bce_logits", input, target, reduction,
                      weight=_broadcast_weight(weight, input), pos_weight=pos_weight)


def kl_div(input: Tensor, target: Tensor, size_average: Any = None, reduce: Any = None,
           reduction: str = "mean", log_target: bool = False) -> Tensor:
    """KL divergence ``target * (log target - input)`` with ``input`` log-probabilities.

    ``reduction='batchmean'`` divides the sum by the batch size (the mathematical KL);
    ``'mean'`` averages over all elements (and warns, as PyTorch).

    Args:
        input: Log-probabilities.
        target: Probabilities (log-probabilities when ``log_target``).
        size_average: Deprecated; must be None.
        reduce: Deprecated; must be None.
        reduction: ``"none"``, ``"batchmean"``, ``"mean"`` or ``"sum"``.
        log_target: Whether ``target`` holds log-probabilities.

    Returns:
        The loss: a scalar, or per-element when ``reduction='none'``.

    Raises:
        TypeError: If ``size_average`` or ``reduce`` is given.
    """
    if size_average is not None or reduce is not None:
        raise TypeError("kl_div(): size_average and reduce are deprecated; use reduction=")
    _check_reduction(reduction, ("batchmean",))
    _check_pair("kl_div", input, target, warn=False)
    if reduction == "mean":
        warnings.warn("reduction: 'mean' divides the total loss by both the batch size and the "
                      "support size.'batchmean' divides only by the batch size, and aligns with "
                      "the KL div math definition.'mean' will be changed to behave the same as "
                      "'batchmean' in the next major release.", stacklevel=2)
    kind = "kl_div_log" if log_target else "kl_div"
    if reduction == "batchmean":
        total = _pointwise(kind, input, target, "sum")
        return total / input.shape[0] if input.ndim else total
    return _pointwise(kind, input, target, reduction)


def soft_margin_loss(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    """``log(1 + exp(-target * input))`` for targets in {1, -1}.

    Args:
        input: Predictions.
        target: Targets in {1, -1}, the same shape as ``input``.
        reduction: ``"none"``, ``"mean"`` or ``"sum"``.

    Returns:
        The loss: a scalar, or per-element when ``reduction='none'``.
    """
    _check_reduction(reduction)
    _check_pair("soft_margin_loss", input, target)
    return _pointwise("soft_margin", input, target, reduction)


def poisson_nll_loss(input: Tensor, target: Tensor, log_input: bool = True, full: bool = False,
                     eps: float = 1e-8, reduction: str = "mean") -> Tensor:
    """Poisson negative log likelihood: ``exp(input) - target * input`` (``log_input``) or
    ``input - target * log(input + eps)``; ``full`` adds Stirling's term for targets > 1.

    Args:
        input: The predicted rate (its log when ``log_input``).
        target: Targets; should have the shape of ``input``.
        log_input: Whether ``input`` is the log of the rate.
        full: Whether to add Stirling's approximation term.
        eps: Small value that keeps logs and divisions finite.
        reduction: ``"none"``, ``"mean"`` or ``"sum"``.

    Returns:
        The loss: a scalar, or per-element when ``reduction='none'``.
    """
    _check_reduction(reduction)
    _check_pair("poisson_nll_loss", input, target)
    if not full:
        if log_input:
            return _pointwise("poisson_log", input, target, reduction)
        return _pointwise("poisson", input, target, reduction, (eps,))
    loss = _pointwise("poisson_log", input, target, "none") if log_input else \
        _pointwise("poisson", input, target, "none", (eps,))
    t = target.detach()
    stirling = t * E.log(E.where(t > 1, t, 1.0)) - t + E.log(t * (2 * math.pi)) * 0.5
    loss = loss + E.where(t > 1, stirling, 0.0)
    return _reduce(loss, reduction)


# -----------------------------------------------------------------------------------------------
# classification: cross entropy and NLL


class _CrossEntropy(Function):
    @staticmethod
    def forward(ctx, x: Tensor, target: Tensor, weight: Tensor | None, ignore_index: int,
                eps: float, reduction: str, logits: bool, probs: bool, op: str) -> Array:
        w = weight._data if weight is not None else None
        out2, lse = L.cross_entropy_forward(x._data, target._data, w, ignore_index, eps,
                                            logits, probs, op)
        rows = out2.shape[1]
        ctx.target, ctx.weight, ctx.lse = target, weight, lse
        ctx.args = (ignore_index, eps, logits, probs)
        ctx.reduction = reduction
        ctx.save_for_backward(x)
        ctx.den = None
        losses = out2.view((rows,), (1,), out2.offset)
        if rows == 0 and reduction != "none":    # no rows: sum 0, mean NaN (as PyTorch)
            res = ew.fill_(Array.empty(x.device, (), x.dtype), 0.0 if reduction == "sum"
                           else math.nan)
        elif reduction == "none":
            shape = _row_shape(x, target, probs)
            res = losses.view(shape, _contig(shape), losses.offset)
        elif reduction == "sum":
            res = R.sum(losses)
        else:
            sums = R.sum(out2, 1)                      # (2,): total loss, total weight
            ctx.den = sums.view((), (), sums.offset + 1)
            res = ew.binary("div", sums.view((), (), sums.offset), ctx.den)
        return res if res.dtype is x.dtype else ew.cast(res, x.dtype)

    @staticmethod
    def backward(ctx, g: Tensor) -> tuple:
        (x,) = ctx.saved_tensors
        target, weight = ctx.target, ctx.weight
        ignore_index, eps, logits, probs = ctx.args
        w = weight._data if weight is not None else None
        need_x = ctx.needs_input_grad[0]
        need_t = probs and ctx.needs_input_grad[1]
        gx = gt = None
        if need_x and not STATE.enabled:
            gx = Tensor(L.cross_entropy_backward(x._data, target._data, w, ctx.lse, g._data,
                                                 ctx.den, ignore_index, eps, logits, probs)[0])
        elif need_x:
            gx = _ce_grad_graph(ctx, x, g)
        if need_t:
            gt = _ce_target_grad(ctx, x, g)
        return gx, gt, None, None, None, None, None, None, None


_CrossEntropyLoss = type("CrossEntropyLoss", (_CrossEntropy,), {})
_NllLoss = type("NllLoss", (_CrossEntropy,), {})


def _contig(shape: tuple) -> tuple:
    from clt.ops import shapes

    return shapes.contiguous_strides(shape)


def _row_shape(x: Tensor, target: Tensor, probs: bool) -> tuple:
    """The shape of per-row results: the input's shape without the class dim."""
    if x.ndim == 1:
        return ()
    return (x.shape[0],) + tuple(x.shape[2:])


def _rows_broadcast(t: Tensor, x: Tensor) -> Tensor:
    """A per-row tensor (rows,) or (N, d...) reshaped to broadcast against x (class dim = 1)."""
    if x.ndim == 1:
        return t.reshape(())
    return t.reshape((x.shape[0], 1) + tuple(x.shape[2:]))


def _coef(ctx: Any, g: Tensor, x: Tensor) -> Tensor:
    coef = g if ctx.reduction != "none" else _rows_broadcast(g, x)
    if ctx.den is not None:
        coef = coef / Tensor(ctx.den).to(g.dtype)
    return coef


def _class_weight(ctx: Any, x: Tensor) -> Any:
    """The class weights shaped to broadcast along x's class dim (1 without weights)."""
    if ctx.weight is None:
        return 1.0
    return ctx.weight.reshape((-1,) + (1,) * max(0, x.ndim - 2)) if x.ndim > 1 else ctx.weight


def _ce_grad_graph(ctx: Any, x: Tensor, g: Tensor) -> Tensor:
    """Differentiable d loss / d x (create_graph).

    Index targets: coef * (H + S * (p - p.detach())), H the fused unit gradient: H = p*S - B
    with B independent of x, so d/dx flows only through the softmax p. Probability targets
    (which may require grad themselves): coef * (p * sum(w q) - w q), all in Tensor ops.
    """
    ignore_index, eps, logits, probs = ctx.args
    class_dim = 0 if x.ndim == 1 else 1
    if probs:
        c = x.shape[class_dim]
        wq = (ctx.target * (1.0 - eps) + eps / c) * _class_weight(ctx, x)
        grad = -wq
        if logits:
            from clt.nn._functional.activation import softmax

            grad = softmax(x, class_dim) * wq.sum(class_dim, keepdim=True) + grad
        return grad * _coef(ctx, g, x)
    w = ctx.weight._data if ctx.weight is not None else None
    one = ew.fill_(Array.empty(x.device, (), x.dtype), 1)
    h, s = L.cross_entropy_backward(x._data, ctx.target._data, w, ctx.lse, one, None,
                                    ignore_index, eps, logits, probs, want_s=True)
    grad = Tensor(h)
    if logits:
        from clt.nn._functional.activation import softmax

        p = softmax(x, class_dim)
        sb = _rows_broadcast(Tensor(s), x).to(x.dtype)
        grad = grad + sb * (p - p.detach())
    return grad * _coef(ctx, g, x)


def _ce_target_grad(ctx: Any, x: Tensor, g: Tensor) -> Tensor:
    """d loss / d target for probability targets: -(1 - eps) * w * log_softmax(x) * coef."""
    _, eps, logits, _ = ctx.args
    if STATE.enabled:       # create_graph: keep the dependence on x
        from clt.nn._functional.activation import log_softmax

        logp = log_softmax(x, 0 if x.ndim == 1 else 1) if logits else x
    else:
        logp = x.detach()
        if logits:
            logp = logp - _rows_broadcast(Tensor(ctx.lse), x).to(x.dtype)
    return logp * -(1.0 - eps) * _class_weight(ctx, x) * _coef(ctx, g, x)


def _check_class_target(fn: str, input: Tensor, target: Tensor) -> None:
    if target.dtype.is_floating_point or target.dtype.is_bool:
        raise DTypeError(f"{fn}(): expected target of dtype int64 (class indices) or a floating "
                         f"point target of the input's shape (class probabilities), got "
                         f"{target.dtype.name} target of shape {tuple(target.shape)}")
    if input.ndim == 1:
        if target.ndim != 0:
            raise ShapeError(f"{fn}(): for 1-D input of shape {tuple(input.shape)} (one sample "
                             f"of C classes) the target must be 0-d, got shape "
                             f"{tuple(target.shape)}")
        return
    if input.ndim == 2 and target.ndim != 1:
        raise ShapeError(f"{fn}(): 1D target tensor expected, multi-target not supported "
                         f"(input {tuple(input.shape)}, target {tuple(target.shape)})")
    if target.ndim == 0 or target.shape[0] != input.shape[0]:
        raise ShapeError(f"Expected input batch_size ({input.shape[0]}) to match target "
                         f"batch_size ({target.shape[0] if target.ndim else 0}).")
    expected = (input.shape[0],) + tuple(input.shape[2:])
    if tuple(target.shape) != expected:
        raise ShapeError(f"Expected target size {list(expected)}, got {list(target.shape)}")


def _check_weight(fn: str, weight: Any, input: Tensor) -> None:
    if weight is None:
        return
    _tensor(weight, fn, "weight")
    c = input.shape[0] if input.ndim == 1 else input.shape[1]
    if weight.ndim != 1 or weight.shape[0] != c:
        raise ShapeError(f"weight tensor should be defined either for all {c} classes or no "
                         f"classes but got weight tensor of shape: {list(weight.shape)}")
    if weight.dtype is not input.dtype:
        raise DTypeError(f"{fn}(): expected weight of dtype {input.dtype.name} (the input's), "
                         f"got {weight.dtype.name}")


def _class_input(fn: str, input: Any) -> Tensor:
    _tensor(input, fn, "input")
    if input.ndim == 0:
        raise ShapeError(f"{fn}(): input must have at least 1 dimension (C) or 2 (N, C), got "
                         "a 0-d tensor")
    if not input.dtype.is_floating_point:
        raise DTypeError(f"{fn}(): expected floating point input, got {input.dtype.name}")
    return input


def cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None,
                  size_average: Any = None, ignore_index: int = -100, reduce: Any = None,
                  reduction: str = "mean", label_smoothing: float = 0.0) -> Tensor:
    """Cross entropy between logits and class indices or class probabilities.

    Args:
        input: logits, (C,), (N, C) or (N, C, d1, ...).
        target: int64 class indices of shape (), (N,) or (N, d1, ...), or floating class
            probabilities of the input's shape.
        weight: (C,) class weights; with indices, 'mean' divides by the sum of the targets'
            weights (PyTorch's weighted mean).
        ignore_index: target value that contributes neither loss nor weight (indices only).
        reduction: 'none' | 'mean' | 'sum'.
        label_smoothing: mix the target with the uniform distribution by this amount.

    Computed fused: one kernel for log-softmax + NLL + smoothing, one for the whole gradient.
    With fusion path ``"cross_entropy"`` off (:mod:`clt.backend.fusion`), index targets without
    smoothing run ``nll_loss(log_softmax(input))`` instead.
    """
    input, weight = autocast_args("cross_entropy", input, weight)
    if size_average is not None or reduce is not None:
        raise TypeError("cross_entropy(): size_average and reduce are deprecated; use reduction=")
    fn = "cross_entropy"
    _check_reduction(reduction)
    _class_input(fn, input)
    _tensor(target, fn, "target")
    _same_device(fn, input, target, weight)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing}")
    probs = target.dtype.is_floating_point
    if probs:
        if tuple(target.shape) != tuple(input.shape):
            raise ShapeError(f"cross_entropy(): class-probability targets must have the input's "
                             f"shape {tuple(input.shape)}, got {tuple(target.shape)}")
        if target.dtype is not input.dtype:
            raise DTypeError(f"cross_entropy(): expected probability target of dtype "
                             f"{input.dtype.name}, got {target.dtype.name}")
    else:
        _check_class_target(fn, input, target)
    _check_weight(fn, weight, input)
    if not probs and label_smoothing == 0 and not fusion_enabled("cross_entropy"):
        from clt.nn._functional.activation import log_softmax

        return nll_loss(log_softmax(input, 0 if input.ndim == 1 else 1), target, weight,
                        ignore_index=ignore_index, reduction=reduction)
    args = (input, target, weight, int(ignore_index), float(label_smoothing), reduction, True,
            probs, fn)
    if needs_grad(input, target):
        return _CrossEntropyLoss.apply(*args)
    return Tensor(_CrossEntropy.forward(_NoCtx(), *args))


def nll_loss(input: Tensor, target: Tensor, weight: Tensor | None = None,
             size_average: Any = None, ignore_index: int = -100, reduce: Any = None,
             reduction: str = "mean") -> Tensor:
    """Negative log likelihood of log-probabilities ``input`` at class indices ``target``.

    Shapes as :func:`cross_entropy` with index targets; 'mean' divides by the sum of the
    targets' class weights.

    Args:
        input: Log-probabilities (N, C, ...) or (C,).
        target: Class indices (N, ...) or ().
        weight: Optional weight per class (C,).
        size_average: Deprecated; must be None.
        ignore_index: Target value that contributes no loss and no gradient.
        reduce: Deprecated; must be None.
        reduction: ``"none"``, ``"mean"`` or ``"sum"``.

    Returns:
        The loss: a scalar, or per-element when ``reduction='none'``.

    Raises:
        TypeError: If ``size_average`` or ``reduce`` is given.
    """
    input, weight = autocast_args("nll_loss", input, weight)
    if size_average is not None or reduce is not None:
        raise TypeError("nll_loss(): size_average and reduce are deprecated; use reduction=")
    fn = "nll_loss"
    _check_reduction(reduction)
    _class_input(fn, input)
    _tensor(target, fn, "target")
    _same_device(fn, input, target, weight)
    _check_class_target(fn, input, target)
    _check_weight(fn, weight, input)
    args = (input, target, weight, int(ignore_index), 0.0, reduction, False, False, fn)
    if needs_grad(input):
        return _NllLoss.apply(*args)
    return Tensor(_CrossEntropy.forward(_NoCtx(), *args))


class _NoCtx:
    """A throwaway context for running a Function's forward without recording."""

    def save_for_backward(self, *tensors: Any) -> None:
        pass


# -----------------------------------------------------------------------------------------------
# composite losses


def cosine_embedding_loss(input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0.0,
                          size_average: Any = None, reduce: Any = None,
                          reduction: str = "mean") -> Tensor:
    """``1 - cos(x1, x2)`` for target 1, ``max(0, cos(x1, x2) - margin)`` for target -1.

    Args:
        input1: First input.
        input2: Second input.
        target: 1 or -1 per pair.
        margin: Margin for dissimilar pairs.
        size_average: Deprecated; must be None.
        reduce: Deprecated; must be None.
        reduction: ``"none"``, ``"mean"`` or ``"sum"``.

    Returns:
        The loss: a scalar, or per-element when ``reduction='none'``.
    """
    if size_average is not None or reduce is not None:
        raise TypeError("cosine_embedding_loss(): size_average and reduce are deprecated; use "
                        "reduction=")
    fn = "cosine_embedding_loss"
    _check_reduction(reduction)
    for name, t in (("input1", input1), ("input2", input2), ("target", target)):
        _tensor(t, fn, name)
    _same_device(fn, input1, input2, target)
    if input1.ndim not in (1, 2) or tuple(input1.shape) != tuple(input2.shape):
        raise ShapeError(f"{fn}(): expected 1-D or 2-D inputs of the same shape, got "
                         f"{tuple(input1.shape)} and {tuple(input2.shape)}")
    expected = (input1.shape[0],) if input1.ndim == 2 else ()
    if tuple(target.shape) != expected:
        raise ShapeError(f"{fn}(): expected target of shape {expected}, got "
                         f"{tuple(target.shape)}")
    dim = input1.ndim - 1
    eps = 1e-12       # PyTorch's EPSILON in the magnitudes
    prod = _sum_dim(input1 * input2, dim)
    mag1 = _sum_dim(input1 * input1, dim) + eps
    mag2 = _sum_dim(input2 * input2, dim) + eps
    cos = prod / E.sqrt(mag1 * mag2)
    pos = E.where(target == 1, 1 - cos, 0.0)
    neg = E.where(target == -1, E.clamp(cos - margin, min=0.0), 0.0)
    return _reduce(pos + neg, reduction)


def margin_ranking_loss(input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0.0,
                        reduction: str = "mean") -> Tensor:
    """``max(0, -target * (input1 - input2) + margin)``.

    Args:
        input1: First input.
        input2: Second input.
        target: 1 where ``input1`` should rank higher, -1 where ``input2`` should.
        margin: The margin.
        reduction: ``"none"``, ``"mean"`` or ``"sum"``.

    Returns:
        The loss: a scalar, or per-element when ``reduction='none'``.
    """
    _check_reduction(reduction)
    for name, t in (("input1", input1), ("input2", input2), ("target", target)):
        _tensor(t, "margin_ranking_loss", name)
    if input1.ndim != input2.ndim or input1.ndim != target.ndim:
        raise ShapeError(f"margin_ranking_loss : All input tensors should have same dimension "
                         f"but got sizes: input1: {tuple(input1.shape)}, input2: "
                         f"{tuple(input2.shape)}, target: {tuple(target.shape)} ")
    return _reduce(E.clamp(-target * (input1 - input2) + margin, min=0.0), reduction)


def hinge_embedding_loss(input: Tensor, target: Tensor, margin: float = 1.0,
                         reduction: str = "mean") -> Tensor:
    """``x`` where target is 1, ``max(0, margin - x)`` where target is -1.

    Args:
        input: Distances or scores.
        target: 1 or -1, the same shape as ``input``.
        margin: Margin for target -1.
        reduction: ``"none"``, ``"mean"`` or ``"sum"``.

    Returns:
        The loss: a scalar, or per-element when ``reduction='none'``.
    """
    _check_reduction(reduction)
    _check_pair("hinge_embedding_loss", input, target, warn=False)
    margin_part = E.where(target == -1, E.clamp(margin - input, min=0.0), 0.0)
    self_part = E.where(target == 1, input, 0.0)
    return _reduce(margin_part + self_part, reduction)


def multilabel_soft_margin_loss(input: Tensor, target: Tensor, weight: Tensor | None = None,
                                reduction: str = "mean") -> Tensor:
    """Multi-label one-vs-all logistic loss, averaged over the C classes of each sample.

    Args:
        input: Logits (N, C).
        target: 0/1 labels (N, C).
        weight: Optional weight per class (C,).
        reduction: ``"none"``, ``"mean"`` or ``"sum"``.

    Returns:
        The loss: a scalar, or per-element when ``reduction='none'``.
    """
    _check_reduction(reduction)
    _check_pair("multilabel_soft_margin_loss", input, target, warn=False)
    loss = -(target * E.logsigmoid(input) + (1 - target) * E.logsigmoid(-input))
    if weight is not None:
        loss = loss * weight
    c = input.shape[-1] if input.ndim else 1
    loss = _sum_dim(loss, input.ndim - 1) / c if input.ndim else loss
    return _reduce(loss, reduction)


def gaussian_nll_loss(input: Tensor, target: Tensor, var: Tensor | float, full: bool = False,
                      eps: float = 1e-6, reduction: str = "mean") -> Tensor:
    """``0.5 (log(max(var, eps)) + (input - target)^2 / max(var, eps))`` (+ 0.5 log 2 pi).

    Args:
        input: Predicted means.
        target: Targets.
        var: Predicted variance: a tensor broadcastable to ``input`` (or a float).
        full: Whether to add the constant 0.5 log(2 pi).
        eps: Small value that keeps logs and divisions finite.
        reduction: ``"none"``, ``"mean"`` or ``"sum"``.

    Returns:
        The loss: a scalar, or per-element when ``reduction='none'``.

    Raises:
        ValueError: If ``var`` has a negative entry.
        ShapeError: If ``var`` can't be broadcast to ``input``.
    """
    _check_reduction(reduction)
    _check_pair("gaussian_nll_loss", input, target, warn=False)
    if isinstance(var, (int, float)):
        if var < 0:
            raise ValueError("var has negative entry/entries")
        from clt.functions.creation import full as make_full

        var = make_full(tuple(input.shape), float(var), dtype=input.dtype, device=input.device)
    elif tuple(var.shape) != tuple(input.shape):
        if tuple(input.shape[:-1]) == tuple(var.shape):
            var = var.unsqueeze(-1)
        elif not (tuple(input.shape[:-1]) == tuple(var.shape[:-1]) and var.shape[-1] == 1):
            raise ShapeError(f"var is of incorrect size: {tuple(var.shape)} for input "
                             f"{tuple(input.shape)}")
    v = E.clamp(var, min=eps)
    # PyTorch clamps var without passing gradient through the clamp
    v = var + (v - var).detach()
    loss = (E.log(v) + (input - target) * (input - target) / v) * 0.5
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _reduce(loss, reduction)


def triplet_margin_loss(anchor: Tensor, positive: Tensor, negative: Tensor, margin: float = 1.0,
                        p: float = 2.0, eps: float = 1e-6, swap: bool = False,
                        reduction: str = "mean") -> Tensor:
    """``max(d(a, p) - d(a, n) + margin, 0)`` with pairwise p-norm distances.

    Args:
        anchor: Anchor embeddings; distances are taken over the last dim.
        positive: Embeddings of the positive examples.
        negative: Embeddings of the negative examples.
        margin: Required gap between the negative and positive distances.
        p: Order of the pairwise norm.
        eps: Small value that keeps logs and divisions finite.
        swap: Whether to use the smaller of d(a, n) and d(p, n) (distance swap).
        reduction: ``"none"``, ``"mean"`` or ``"sum"``.

    Returns:
        The loss: a scalar, or per-element when ``reduction='none'``.
    """
    _check_reduction(reduction)
    from clt.nn._functional.misc import pairwise_distance

    d_pos = pairwise_distance(anchor, positive, p, eps)
    d_neg = pairwise_distance(anchor, negative, p, eps)
    if swap:
        d_neg = E.minimum(d_neg, pairwise_distance(positive, negative, p, eps))
    return _reduce(E.clamp(d_pos - d_neg + margin, min=0.0), reduction)
