"""Losses against numpy references (and PyTorch when installed), by gradcheck, and with bad
input."""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import clt
import clt.nn as nn
import clt.nn.functional as F
from clt.autograd import gradcheck
from clt.errors import DTypeError, ShapeError

REDUCTIONS = ["mean", "sum", "none"]


def f64(device):
    return clt.float64 if device.supports_fp64 else clt.float32


def t(device, x, requires_grad=False, dtype=None):
    x = np.asarray(x)
    if dtype is None:
        dtype = f64(device) if x.dtype.kind == "f" else None
    return clt.tensor(x, dtype=dtype, device=device, requires_grad=requires_grad)


def host(x):
    return x.detach().numpy()


def reduce_np(loss, reduction):
    return {"none": loss, "sum": loss.sum(), "mean": loss.mean()}[reduction]


# -- numpy references --------------------------------------------------------------------------

def log_softmax_np(x, axis):
    m = x.max(axis, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis, keepdims=True))


def cross_entropy_np(x, target, weight=None, ignore_index=-100, reduction="mean", eps=0.0):
    """PyTorch's cross_entropy (index or probability targets), class dim 1 (0 for 1-D x)."""
    if x.ndim == 1:
        x, target = x[None], np.asarray(target)[None]
    c = x.shape[1]
    logp = log_softmax_np(x, 1)
    w = np.ones(c) if weight is None else weight
    wshape = (1, c) + (1,) * (x.ndim - 2)
    if np.issubdtype(np.asarray(target).dtype, np.floating):
        q = target * (1 - eps) + eps / c
        loss = -(logp * q * w.reshape(wshape)).sum(1)
        out = {"none": loss, "sum": loss.sum(), "mean": loss.sum() / loss.size}[reduction]
    else:
        valid = target != ignore_index
        tt = np.where(valid, target, 0)
        picked = np.take_along_axis(logp, tt[:, None], 1)[:, 0]
        wt = w[tt] * valid
        nll = -picked * wt
        smooth = -(logp * w.reshape(wshape)).sum(1) * valid
        loss = (1 - eps) * nll + eps / c * smooth
        out = {"none": loss, "sum": loss.sum(), "mean": loss.sum() / wt.sum()}[reduction]
    return out


def softplus_np(x):
    return np.log1p(np.exp(-np.abs(x))) + np.maximum(x, 0)


POINTWISE = {
    "mse_loss": lambda x, y: (x - y) ** 2,
    "l1_loss": lambda x, y: np.abs(x - y),
    "smooth_l1_loss": lambda x, y: np.where(np.abs(x - y) < 0.7, 0.5 * (x - y) ** 2 / 0.7,
                                            np.abs(x - y) - 0.35),
    "huber_loss": lambda x, y: np.where(np.abs(x - y) < 0.6, 0.5 * (x - y) ** 2,
                                        0.6 * (np.abs(x - y) - 0.3)),
    "soft_margin_loss": lambda x, y: np.log1p(np.exp(-y * x)),
}
POINTWISE_KW = {"smooth_l1_loss": {"beta": 0.7}, "huber_loss": {"delta": 0.6}}


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name", list(POINTWISE))
def test_pointwise_losses(device, rng, name, reduction):
    x = rng.standard_normal((3, 4))
    y = rng.standard_normal((3, 4)) if name != "soft_margin_loss" else \
        rng.choice([-1.0, 1.0], (3, 4))
    fn = getattr(F, name)
    kw = POINTWISE_KW.get(name, {})
    xt, yt = t(device, x, True), t(device, y, True)
    out = fn(xt, yt, reduction=reduction, **kw)
    np.testing.assert_allclose(host(out), reduce_np(POINTWISE[name](x, y), reduction),
                               rtol=1e-10)
    assert gradcheck(lambda a, b: fn(a, b, reduction=reduction, **kw), (xt, yt))


def test_pointwise_loss_modules_float32(device, rng):
    x = rng.standard_normal((5, 3)).astype(np.float32)
    y = rng.standard_normal((5, 3)).astype(np.float32)
    xt, yt = clt.tensor(x, device=device), clt.tensor(y, device=device)
    np.testing.assert_allclose(host(nn.MSELoss()(xt, yt)), ((x - y) ** 2).mean(), rtol=1e-6)
    np.testing.assert_allclose(host(nn.L1Loss(reduction="sum")(xt, yt)), np.abs(x - y).sum(),
                               rtol=1e-6)
    np.testing.assert_allclose(host(nn.SmoothL1Loss(beta=0.5)(xt, yt)),
                               np.where(np.abs(x - y) < 0.5, (x - y) ** 2, np.abs(x - y) - 0.25
                                        ).mean(), rtol=1e-5)
    np.testing.assert_allclose(host(nn.HuberLoss(delta=2.0)(xt, yt)),
                               np.where(np.abs(x - y) < 2, 0.5 * (x - y) ** 2,
                                        2 * (np.abs(x - y) - 1)).mean(), rtol=1e-5)
    # non-contiguous input
    np.testing.assert_allclose(host(F.mse_loss(xt.t(), yt.t())), ((x - y) ** 2).mean(),
                               rtol=1e-6)


def test_pointwise_broadcast_warns_and_grads_reduce(device, rng):
    x = t(device, rng.standard_normal((3, 4)), True)
    y = t(device, rng.standard_normal((4,)), True)
    with pytest.warns(UserWarning, match="different to the input size"):
        out = F.mse_loss(x, y)
    np.testing.assert_allclose(host(out), ((host(x) - host(y)) ** 2).mean())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert gradcheck(lambda a, b: F.mse_loss(a, b), (x, y))
    with pytest.raises(ShapeError, match="can't be broadcast"):
        F.l1_loss(x, t(device, np.ones(5)))


def test_smooth_l1_beta_zero_is_l1(device, rng):
    x, y = rng.standard_normal(6), rng.standard_normal(6)
    out = F.smooth_l1_loss(t(device, x), t(device, y), beta=0.0)
    np.testing.assert_allclose(host(out), np.abs(x - y).mean())
    with pytest.raises(ValueError, match="negative values for beta"):
        F.smooth_l1_loss(t(device, x), t(device, y), beta=-1.0)


# -- cross entropy / NLL -----------------------------------------------------------------------

CE_CASES = [((5, 4), False), ((3, 4, 2, 3), False), ((6,), False), ((4, 3), True),
            ((2, 3, 5), True)]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape,probs", CE_CASES,
                         ids=[f"{s}{'-probs' if p else ''}" for s, p in CE_CASES])
def test_cross_entropy_matches_numpy(device, rng, shape, probs, reduction):
    x = rng.standard_normal(shape)
    c = shape[0] if len(shape) == 1 else shape[1]
    w = rng.uniform(0.5, 2.0, c)
    if probs:
        target = rng.dirichlet(np.ones(c), size=(shape[0],) + shape[2:])
        target = np.moveaxis(target, -1, 1)
        tt = t(device, target)
    else:
        target = rng.integers(0, c, () if len(shape) == 1 else (shape[0],) + shape[2:])
        if target.ndim:
            target.flat[0] = -100       # one ignored entry
        tt = t(device, target)
    xt = t(device, x, True)
    for eps, weight in ((0.0, None), (0.2, w)):
        out = F.cross_entropy(xt, tt, weight=None if weight is None else t(device, weight),
                              reduction=reduction, label_smoothing=eps)
        ref = cross_entropy_np(x, target, weight, reduction=reduction, eps=eps)
        np.testing.assert_allclose(host(out), np.reshape(ref, host(out).shape), rtol=1e-9,
                                   atol=1e-12)
        assert gradcheck(lambda a: F.cross_entropy(
            a, tt, weight=None if weight is None else t(device, weight), reduction=reduction,
            label_smoothing=eps), (xt,))


def test_cross_entropy_probability_target_gradient(device, rng):
    x = t(device, rng.standard_normal((3, 4)), True)
    p = t(device, rng.dirichlet(np.ones(4), 3), True)
    w = t(device, [1.0, 2.0, 0.5, 1.5])
    assert gradcheck(lambda a, b: F.cross_entropy(a, b, weight=w, label_smoothing=0.1), (x, p))


def test_cross_entropy_float32_module_and_non_contiguous(device, rng):
    x = rng.standard_normal((4, 8)).astype(np.float32)
    target = rng.integers(0, 4, 8)
    xt = clt.tensor(x, device=device).t()           # (8, 4) transposed view
    out = nn.CrossEntropyLoss()(xt, clt.tensor(target, device=device))
    np.testing.assert_allclose(host(out), cross_entropy_np(x.T.astype(np.float64), target),
                               rtol=1e-5)
    assert out.dtype is clt.float32


def test_cross_entropy_all_ignored_is_nan_and_empty_batch(device):
    x = clt.zeros(2, 3, device=device)
    out = F.cross_entropy(x, clt.tensor([-100, -100], device=device))
    assert math.isnan(out.item())
    no_rows = clt.zeros(0, dtype=clt.int64, device=device)
    empty = F.cross_entropy(clt.zeros(0, 3, device=device), no_rows, reduction="sum")
    assert empty.item() == 0.0


def test_cross_entropy_extreme_logits_are_stable(device):
    x = clt.tensor([[1000.0, 0.0, -1000.0], [-1000.0, 1000.0, 0.0]], device=device,
                   requires_grad=True)
    out = F.cross_entropy(x, clt.tensor([0, 2], device=device))
    np.testing.assert_allclose(out.item(), 500.0, rtol=1e-6)
    out.backward()
    g = host(x.grad)
    assert np.isfinite(g).all()
    np.testing.assert_allclose(g, [[0, 0, 0], [0, 0.5, -0.5]], atol=1e-6)


def test_nll_loss_matches_numpy(device, rng):
    x = log_softmax_np(rng.standard_normal((5, 3, 2)), 1)
    target = rng.integers(0, 3, (5, 2))
    target[0, 0] = 1
    w = np.array([0.5, 1.0, 2.0])
    xt = t(device, x, True)
    for reduction in REDUCTIONS:
        out = F.nll_loss(xt, t(device, target), weight=t(device, w), ignore_index=1,
                         reduction=reduction)
        np.testing.assert_allclose(
            host(out), cross_entropy_np(x, target, w, ignore_index=1, reduction=reduction),
            rtol=1e-10)
        assert gradcheck(lambda a: F.nll_loss(a, t(device, target), weight=t(device, w),
                                              ignore_index=1, reduction=reduction), (xt,))
    assert repr(nn.NLLLoss()) == "NLLLoss()"


def test_cross_entropy_bad_input(device):
    x = clt.zeros(3, 4, device=device)
    with pytest.raises(ShapeError, match=r"Expected input batch_size \(3\) to match target "
                                         r"batch_size \(2\)"):
        F.cross_entropy(x, clt.tensor([0, 1], device=device))
    with pytest.raises(ShapeError, match=r"Expected target size \[3, 5\], got \[3, 4\]"):
        F.cross_entropy(clt.zeros(3, 2, 5, device=device), clt.zeros(3, 4, dtype=clt.int64,
                                                                     device=device))
    with pytest.raises(ShapeError, match="weight tensor should be defined either for all 4 "
                                         "classes or no classes"):
        F.cross_entropy(x, clt.tensor([0, 1, 2], device=device), weight=clt.ones(3,
                                                                                 device=device))
    with pytest.raises(ValueError, match="label_smoothing must be between 0.0 and 1.0. Got: 1.5"):
        nn.CrossEntropyLoss(label_smoothing=1.5)
    with pytest.raises(ValueError, match="mean2 is not a valid value for reduction"):
        F.cross_entropy(x, clt.tensor([0, 1, 2], device=device), reduction="mean2")
    with pytest.raises(DTypeError, match="class indices"):
        F.cross_entropy(x, clt.tensor([True, False, True], device=device))
    with pytest.raises(ShapeError, match="class-probability targets must have the input's "
                                         "shape"):
        F.cross_entropy(x, clt.zeros(3, 3, device=device))
    with pytest.raises(ShapeError, match="multi-target not supported"):
        F.cross_entropy(x, clt.zeros(3, 1, dtype=clt.int64, device=device))
    with pytest.raises(ShapeError, match="at least 1 dimension"):
        F.cross_entropy(clt.tensor(1.0, device=device), clt.tensor(0, device=device))


def test_cross_entropy_out_of_range_target(device):
    out = F.cross_entropy(clt.zeros(3, 4, device=device), clt.tensor([0, 7, 1], device=device))
    with pytest.raises(IndexError, match=r"cross_entropy\(\): target: index 7 is out of bounds "
                                         r"for dimension 1 with size 4"):
        out.item()
    # the error is reported once; the device keeps working
    assert F.cross_entropy(clt.zeros(1, 4, device=device),
                           clt.tensor([2], device=device)).item() == pytest.approx(math.log(4))


# -- binary cross entropy ------------------------------------------------------------------------

@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce(device, rng, reduction):
    p = rng.uniform(0.05, 0.95, (3, 4))
    y = rng.uniform(0, 1, (3, 4))
    w = rng.uniform(0.5, 2, (3, 1))
    ref = -(y * np.log(p) + (1 - y) * np.log1p(-p)) * w
    pt, yt = t(device, p, True), t(device, y, True)
    out = F.binary_cross_entropy(pt, yt, weight=t(device, w), reduction=reduction)
    np.testing.assert_allclose(host(out), reduce_np(ref, reduction), rtol=1e-10)
    assert gradcheck(lambda a, b: F.binary_cross_entropy(a, b, weight=t(device, w),
                                                         reduction=reduction), (pt, yt))


def test_bce_clamps_log(device):
    p = clt.tensor([0.0, 1.0, 1.0], device=device, requires_grad=True)
    y = clt.tensor([1.0, 0.0, 1.0], device=device)
    out = F.binary_cross_entropy(p, y, reduction="none")
    np.testing.assert_allclose(host(out), [100.0, 100.0, 0.0])
    out.backward(clt.ones(3, device=device))
    assert np.isfinite(host(p.grad)).all()
    with pytest.raises(ShapeError, match="Using a target size"):
        F.binary_cross_entropy(p, clt.ones(2, device=device))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce_with_logits(device, rng, reduction):
    x = rng.standard_normal((3, 4)) * 3
    y = rng.uniform(0, 1, (3, 4))
    pw = np.array([1.0, 2.0, 0.5, 3.0])
    w = rng.uniform(0.5, 2, (3, 4))
    lw = 1 + (pw - 1) * y
    ref = ((1 - y) * x + lw * softplus_np(-x)) * w
    xt, yt = t(device, x, True), t(device, y, True)
    out = F.binary_cross_entropy_with_logits(xt, yt, weight=t(device, w), reduction=reduction,
                                             pos_weight=t(device, pw))
    np.testing.assert_allclose(host(out), reduce_np(ref, reduction), rtol=1e-10)
    assert gradcheck(lambda a, b: F.binary_cross_entropy_with_logits(
        a, b, weight=t(device, w), reduction=reduction, pos_weight=t(device, pw)), (xt, yt))
    plain = F.binary_cross_entropy_with_logits(xt, yt, reduction=reduction)
    np.testing.assert_allclose(host(plain), reduce_np((1 - y) * x + softplus_np(-x), reduction),
                               rtol=1e-10)


def test_bce_with_logits_is_stable(device):
    x = clt.tensor([200.0, -200.0, 0.0], device=device, requires_grad=True)
    y = clt.tensor([0.0, 1.0, 1.0], device=device)
    out = nn.BCEWithLogitsLoss(reduction="none")(x, y)
    np.testing.assert_allclose(host(out), [200.0, 200.0, math.log(2)], rtol=1e-6)
    out.backward(clt.ones(3, device=device))
    np.testing.assert_allclose(host(x.grad), [1.0, -1.0, -0.5], atol=1e-6)
    with pytest.raises(ShapeError, match="must be the same as input size"):
        F.binary_cross_entropy_with_logits(x, clt.ones(2, device=device))


# -- KL divergence and other losses ----------------------------------------------------------------

@pytest.mark.parametrize("reduction", REDUCTIONS + ["batchmean"])
def test_kl_div(device, rng, reduction):
    logq = log_softmax_np(rng.standard_normal((3, 4)), 1)
    p = np.exp(log_softmax_np(rng.standard_normal((3, 4)), 1))
    ref = p * (np.log(p) - logq)
    expected = ref.sum() / 3 if reduction == "batchmean" else reduce_np(ref, reduction)
    xt, pt = t(device, logq, True), t(device, p, True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = F.kl_div(xt, pt, reduction=reduction)
        np.testing.assert_allclose(host(out), expected, rtol=1e-10)
        assert gradcheck(lambda a, b: F.kl_div(a, b, reduction=reduction), (xt, pt))
        out_log = F.kl_div(xt, t(device, np.log(p)), reduction=reduction, log_target=True)
        np.testing.assert_allclose(host(out_log), expected, rtol=1e-10)
        assert gradcheck(lambda a, b: F.kl_div(a, b, reduction=reduction, log_target=True),
                         (xt, t(device, np.log(p), True)))


def test_kl_div_zero_target_and_mean_warning(device):
    out = F.kl_div(clt.tensor([-1.0, -2.0], device=device), clt.tensor([0.0, 1.0],
                                                                       device=device),
                   reduction="sum")
    assert out.item() == pytest.approx(2.0)
    with pytest.warns(UserWarning, match="batchmean"):
        nn.KLDivLoss()(clt.zeros(2, device=device), clt.ones(2, device=device))
    with pytest.raises(ValueError, match="batchmin is not a valid value for reduction"):
        nn.KLDivLoss(reduction="batchmin")


def test_poisson_nll(device, rng):
    x = rng.standard_normal((2, 3))
    y = rng.poisson(2.0, (2, 3)).astype(np.float64)
    xt = t(device, x, True)
    np.testing.assert_allclose(host(F.poisson_nll_loss(xt, t(device, y))),
                               (np.exp(x) - y * x).mean(), rtol=1e-10)
    xp = np.abs(x) + 0.5
    np.testing.assert_allclose(host(F.poisson_nll_loss(t(device, xp), t(device, y),
                                                       log_input=False)),
                               (xp - y * np.log(xp + 1e-8)).mean(), rtol=1e-10)
    stirling = np.where(y > 1, y * np.log(np.where(y > 1, y, 1)) - y
                        + 0.5 * np.log(2 * np.pi * np.where(y > 1, y, 1)), 0)
    np.testing.assert_allclose(host(nn.PoissonNLLLoss(full=True)(xt, t(device, y))),
                               (np.exp(x) - y * x + stirling).mean(), rtol=1e-10)
    assert gradcheck(lambda a: F.poisson_nll_loss(a, t(device, y)), (xt,))


def _has_reductions():
    return hasattr(clt.Tensor, "sum")


needs_reductions = pytest.mark.skipif(not _has_reductions(),
                                      reason="reductions family not available")


@needs_reductions
def test_cosine_embedding_loss(device, rng):
    a, b = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    y = np.array([1, -1, 1, -1])
    cos = (a * b).sum(1) / np.sqrt(((a * a).sum(1) + 1e-12) * ((b * b).sum(1) + 1e-12))
    ref = np.where(y == 1, 1 - cos, np.maximum(cos - 0.1, 0))
    at, bt = t(device, a, True), t(device, b, True)
    yt = t(device, y)
    for reduction in REDUCTIONS:
        out = F.cosine_embedding_loss(at, bt, yt, margin=0.1, reduction=reduction)
        np.testing.assert_allclose(host(out), reduce_np(ref, reduction), rtol=1e-10)
    assert gradcheck(lambda p, q: nn.CosineEmbeddingLoss(margin=0.1)(p, q, yt), (at, bt))
    with pytest.raises(ShapeError, match="expected target of shape"):
        F.cosine_embedding_loss(at, bt, t(device, [1, -1]))


@needs_reductions
def test_margin_hinge_and_multilabel_losses(device, rng):
    x1, x2 = rng.standard_normal(5), rng.standard_normal(5)
    y = rng.choice([-1.0, 1.0], 5)
    out = F.margin_ranking_loss(t(device, x1), t(device, x2), t(device, y), margin=0.2)
    np.testing.assert_allclose(host(out), np.maximum(0, -y * (x1 - x2) + 0.2).mean())
    out = nn.HingeEmbeddingLoss(margin=0.5)(t(device, x1), t(device, y))
    np.testing.assert_allclose(host(out), np.where(y == 1, x1, np.maximum(0, 0.5 - x1)).mean())
    x = rng.standard_normal((3, 4))
    lab = rng.integers(0, 2, (3, 4)).astype(np.float64)
    ref = -(lab * -softplus_np(-x) + (1 - lab) * -softplus_np(x)).mean(1).mean()
    xt = t(device, x, True)
    np.testing.assert_allclose(host(nn.MultiLabelSoftMarginLoss()(xt, t(device, lab))), ref,
                               rtol=1e-10)
    assert gradcheck(lambda a: F.multilabel_soft_margin_loss(a, t(device, lab)), (xt,))


@needs_reductions
def test_gaussian_nll_and_triplet(device, rng):
    mu, y = rng.standard_normal((4, 2)), rng.standard_normal((4, 2))
    var = rng.uniform(0.5, 2, (4, 2))
    ref = 0.5 * (np.log(var) + (mu - y) ** 2 / var)
    mt, vt = t(device, mu, True), t(device, var, True)
    np.testing.assert_allclose(host(nn.GaussianNLLLoss()(mt, t(device, y), vt)), ref.mean(),
                               rtol=1e-10)
    assert gradcheck(lambda m, v: F.gaussian_nll_loss(m, t(device, y), v), (mt, vt))
    a, p, n = (rng.standard_normal((3, 4)) for _ in range(3))
    d = lambda u, v: np.linalg.norm(u - v + 1e-6, axis=-1)   # noqa: E731
    ref = np.maximum(d(a, p) - d(a, n) + 1.0, 0).mean()
    out = nn.TripletMarginLoss()(t(device, a), t(device, p), t(device, n))
    np.testing.assert_allclose(host(out), ref, rtol=1e-9)


# -- module plumbing -------------------------------------------------------------------------------

def test_loss_modules_validate_reduction_and_legacy_args():
    for cls in (nn.MSELoss, nn.L1Loss, nn.CrossEntropyLoss, nn.BCELoss, nn.NLLLoss):
        with pytest.raises(ValueError, match="elementwise is not a valid value for reduction"):
            cls(reduction="elementwise")
    with pytest.raises(TypeError, match="size_average and reduce are deprecated"):
        nn.MSELoss(size_average=False)
    with pytest.raises(ValueError, match="delta must be positive"):
        nn.HuberLoss(delta=0.0)


def test_loss_weight_moves_with_module(device):
    loss = nn.CrossEntropyLoss(weight=clt.tensor([1.0, 2.0], device=device))
    if device.supports_fp64:
        loss.double()
        assert loss.weight.dtype is clt.float64


def test_loss_grad_fn_is_recorded(device, rng):
    x = t(device, rng.standard_normal((2, 3)), True)
    loss = F.cross_entropy(x, t(device, np.array([0, 2])))
    assert loss.grad_fn is not None and loss.shape == ()
    loss.backward()
    assert x.grad is not None and tuple(x.grad.shape) == (2, 3)


# -- optional oracle: PyTorch on the CPU -------------------------------------------------------

def test_against_torch(device, rng):
    torch = pytest.importorskip("torch")
    tf = torch.nn.functional
    x = rng.standard_normal((4, 5, 3))
    y = rng.integers(0, 5, (4, 3))
    y[0, 0] = -100
    w = rng.uniform(0.5, 2.0, 5)
    cases = [
        lambda m, a, b, ww: m.cross_entropy(a, b, weight=ww, label_smoothing=0.15),
        lambda m, a, b, ww: m.cross_entropy(a, b, reduction="none"),
    ]
    for fn in cases:
        ours_x = t(device, x, True)
        got = fn(F, ours_x, t(device, y), t(device, w))
        tx = torch.tensor(x, requires_grad=True)
        want = fn(tf, tx, torch.tensor(y), torch.tensor(w))
        np.testing.assert_allclose(host(got), want.detach().numpy(), rtol=1e-9)
        g = np.ones(host(got).shape)
        got.backward(t(device, g))
        want.backward(torch.tensor(g))
        np.testing.assert_allclose(host(ours_x.grad), tx.grad.numpy(), rtol=1e-8, atol=1e-12)
    a = rng.standard_normal((3, 4)) * 4
    b = rng.uniform(0, 1, (3, 4))
    pw = rng.uniform(0.5, 3, 4)
    got = F.binary_cross_entropy_with_logits(t(device, a), t(device, b),
                                             pos_weight=t(device, pw))
    want = tf.binary_cross_entropy_with_logits(torch.tensor(a), torch.tensor(b),
                                               pos_weight=torch.tensor(pw))
    np.testing.assert_allclose(host(got), want.numpy(), rtol=1e-10)
    p = 1 / (1 + np.exp(-a))
    got = F.binary_cross_entropy(t(device, p), t(device, b))
    want = tf.binary_cross_entropy(torch.tensor(p), torch.tensor(b))
    np.testing.assert_allclose(host(got), want.numpy(), rtol=1e-10)
    for name, kw in (("smooth_l1_loss", {"beta": 0.5}), ("huber_loss", {"delta": 0.7}),
                     ("soft_margin_loss", {})):
        got = getattr(F, name)(t(device, a), t(device, b), **kw)
        want = getattr(tf, name)(torch.tensor(a), torch.tensor(b), **kw)
        np.testing.assert_allclose(host(got), want.numpy(), rtol=1e-10)
    lp = log_softmax_np(a, 1)
    got = F.kl_div(t(device, lp), t(device, b), reduction="batchmean")
    want = tf.kl_div(torch.tensor(lp), torch.tensor(b), reduction="batchmean")
    np.testing.assert_allclose(host(got), want.numpy(), rtol=1e-10)


# -- double backward (create_graph) ------------------------------------------------------------

@needs_reductions
def test_losses_double_backward(device, rng):
    from clt.autograd import gradgradcheck

    if not device.supports_fp64:
        pytest.skip("second derivatives need float64 for finite differences")
    x = t(device, rng.standard_normal((3, 4)), True)
    tgt = t(device, np.array([0, 3, 1]))
    w = t(device, [1.0, 2.0, 0.5, 1.5])
    assert gradgradcheck(lambda a: F.cross_entropy(a, tgt, weight=w, label_smoothing=0.1), (x,))
    assert gradgradcheck(lambda a: F.cross_entropy(a, tgt, reduction="none"), (x,))
    p = t(device, rng.dirichlet(np.ones(4), 3), True)
    assert gradgradcheck(lambda a, b: F.cross_entropy(a, b, weight=w), (x, p))
    assert gradgradcheck(lambda a: F.nll_loss(a, tgt), (x,))
    y = t(device, rng.standard_normal((3, 4)), True)
    q = t(device, rng.uniform(0, 1, (3, 4)), True)
    assert gradgradcheck(F.mse_loss, (x, y))
    assert gradgradcheck(lambda a, b: F.binary_cross_entropy_with_logits(
        a, b, pos_weight=t(device, [1.0, 2.0, 3.0, 4.0])), (x, q))


@pytest.mark.parametrize("dtype,tol", [(np.float32, 1e-5), (np.float16, 2e-2)],
                         ids=["float32", "float16"])
def test_cross_entropy_vector_path(device, rng, dtype, tol):
    # 13 contiguous classes: one full vector plus a scalar tail, forward and backward
    x = rng.standard_normal((6, 13)).astype(dtype)
    y = rng.integers(0, 13, 6)
    y[1] = -100
    w = (rng.uniform(0.5, 1.5, 13)).astype(dtype)
    for eps, weight in ((0.0, None), (0.1, w)):
        xt = clt.tensor(x, device=device, requires_grad=True)
        wt = None if weight is None else clt.tensor(weight, device=device)
        loss = F.cross_entropy(xt, clt.tensor(y, device=device), weight=wt, label_smoothing=eps)
        loss.backward()
        x64 = x.astype(np.float64)
        ref = cross_entropy_np(x64, y, None if weight is None else weight.astype(np.float64),
                               eps=eps)
        np.testing.assert_allclose(float(loss.item()), ref, rtol=tol, atol=tol)
        # reference gradient by central differences of the numpy loss
        num = np.zeros_like(x64)
        for i in np.ndindex(x64.shape):
            d = np.zeros_like(x64)
            d[i] = 1e-6
            wr = None if weight is None else weight.astype(np.float64)
            num[i] = (cross_entropy_np(x64 + d, y, wr, eps=eps)
                      - cross_entropy_np(x64 - d, y, wr, eps=eps)) / 2e-6
        np.testing.assert_allclose(host(xt.grad).astype(np.float64), num, rtol=tol, atol=tol)
