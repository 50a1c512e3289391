"""Learning-rate schedulers: closed-form values, PyTorch parity, checkpoints, bad input."""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import clt
import clt.nn
from clt.optim import SGD, Adam
from clt.optim import lr_scheduler as S


def _params(device, n_groups: int = 1):
    return [clt.nn.Parameter(clt.zeros(2, device=device)) for _ in range(n_groups)]


def _opt(device, lr=0.1, n_groups=1, cls=SGD, **kw):
    ps = _params(device, n_groups)
    groups = [{"params": [p], "lr": lr * (i + 1)} for i, p in enumerate(ps)]
    return cls(groups, lr=lr, **kw)


def _run(opt, sched, steps: int, metric=None) -> list[list[float]]:
    """The lr of every group before each step, over ``steps`` epochs."""
    out = []
    for k in range(steps):
        out.append([g["lr"] for g in opt.param_groups])
        opt.step()        # no grads: no kernels, but counts as a step for the order check
        if metric is None:
            sched.step()
        else:
            sched.step(metric(k))
    return out


# -----------------------------------------------------------------------------------------------
# closed-form values

def test_step_lr(device):
    opt = _opt(device)
    sched = S.StepLR(opt, step_size=3, gamma=0.5)
    lrs = [r[0] for r in _run(opt, sched, 9)]
    np.testing.assert_allclose(lrs, [0.1 * 0.5 ** (e // 3) for e in range(9)])
    assert sched.get_last_lr() == [opt.param_groups[0]["lr"]]


def test_multistep_lr_with_repeated_milestone(device):
    opt = _opt(device)
    sched = S.MultiStepLR(opt, milestones=[2, 5, 5], gamma=0.1)
    lrs = [r[0] for r in _run(opt, sched, 7)]
    expected = [0.1, 0.1, 0.01, 0.01, 0.01, 1e-4, 1e-4]
    np.testing.assert_allclose(lrs, expected, rtol=1e-12)


def test_exponential_lr(device):
    opt = _opt(device)
    sched = S.ExponentialLR(opt, gamma=0.9)
    np.testing.assert_allclose([r[0] for r in _run(opt, sched, 6)],
                               [0.1 * 0.9 ** e for e in range(6)], rtol=1e-12)


def test_cosine_annealing_lr_closed_form(device):
    opt = _opt(device)
    sched = S.CosineAnnealingLR(opt, T_max=10, eta_min=0.001)
    lrs = [r[0] for r in _run(opt, sched, 11)]
    expected = [0.001 + (0.1 - 0.001) * (1 + math.cos(math.pi * e / 10)) / 2 for e in range(11)]
    np.testing.assert_allclose(lrs, expected, rtol=1e-10)


def test_linear_lr_warmup_then_constant(device):
    opt = _opt(device)
    sched = S.LinearLR(opt, start_factor=0.25, end_factor=1.0, total_iters=4)
    lrs = [r[0] for r in _run(opt, sched, 7)]
    expected = [0.1 * (0.25 + 0.75 * min(e, 4) / 4) for e in range(7)]
    np.testing.assert_allclose(lrs, expected, rtol=1e-12)


def test_constant_lr(device):
    opt = _opt(device)
    sched = S.ConstantLR(opt, factor=0.5, total_iters=3)
    np.testing.assert_allclose([r[0] for r in _run(opt, sched, 5)],
                               [0.05, 0.05, 0.05, 0.1, 0.1], rtol=1e-12)


def test_polynomial_lr(device):
    opt = _opt(device)
    sched = S.PolynomialLR(opt, total_iters=4, power=2.0)
    np.testing.assert_allclose([r[0] for r in _run(opt, sched, 6)],
                               [0.1 * (1 - min(e, 4) / 4) ** 2 for e in range(6)], atol=1e-15)


def test_lambda_lr_per_group_and_multiplicative(device):
    opt = _opt(device, n_groups=2)
    sched = S.LambdaLR(opt, [lambda e: 1 / (e + 1), lambda e: 0.5 ** e])
    rows = _run(opt, sched, 4)
    np.testing.assert_allclose([r[0] for r in rows], [0.1 / (e + 1) for e in range(4)])
    np.testing.assert_allclose([r[1] for r in rows], [0.2 * 0.5 ** e for e in range(4)])
    opt = _opt(device)
    sched = S.MultiplicativeLR(opt, lambda e: 0.9)
    np.testing.assert_allclose([r[0] for r in _run(opt, sched, 4)],
                               [0.1 * 0.9 ** e for e in range(4)], rtol=1e-12)


def test_cosine_warm_restarts_integer_and_fractional_epochs(device):
    opt = _opt(device)
    sched = S.CosineAnnealingWarmRestarts(opt, T_0=3, T_mult=2, eta_min=0.0)
    lrs = [r[0] for r in _run(opt, sched, 10)]
    # periods 3, 6, 12: the epoch within the current period
    t_cur = [0, 1, 2, 0, 1, 2, 3, 4, 5, 0]
    t_i = [3, 3, 3, 6, 6, 6, 6, 6, 6, 12]
    np.testing.assert_allclose(lrs, [0.1 * (1 + math.cos(math.pi * c / t)) / 2
                                     for c, t in zip(t_cur, t_i)], atol=1e-15)
    with warnings.catch_warnings():
        warnings.simplefilter("error")      # fractional epochs are this scheduler's usage
        sched.step(4.5)
    assert sched.T_i == 6 and math.isclose(sched.T_cur, 1.5)
    with pytest.raises(ValueError, match="Expected non-negative epoch"):
        sched.step(-1)


def test_one_cycle_lr_phases_and_momentum(device):
    opt = _opt(device, momentum=0.9)
    sched = S.OneCycleLR(opt, max_lr=1.0, total_steps=10, pct_start=0.3, div_factor=10.0,
                         final_div_factor=100.0)
    lrs, moms = [], []
    for _ in range(10):
        lrs.append(opt.param_groups[0]["lr"])
        moms.append(opt.param_groups[0]["momentum"])
        opt.step()
        sched.step()
    assert lrs[0] == pytest.approx(0.1)
    assert max(lrs) == pytest.approx(1.0) and int(np.argmax(lrs)) == 2
    assert lrs[-1] == pytest.approx(0.1 / 100)
    assert moms[0] == pytest.approx(0.95) and moms[2] == pytest.approx(0.85)
    with pytest.raises(ValueError, match="Tried to step 11 times"):
        sched.step()


def test_one_cycle_cycles_adam_beta1_linear_three_phase(device):
    opt = _opt(device, cls=Adam)
    sched = S.OneCycleLR(opt, max_lr=0.01, epochs=2, steps_per_epoch=5, anneal_strategy="linear",
                         three_phase=True)
    betas = []
    for _ in range(10):
        betas.append(opt.param_groups[0]["betas"])
        opt.step()
        sched.step()
    assert betas[0] == (0.95, 0.999)
    assert min(b[0] for b in betas) == pytest.approx(0.85)
    assert all(b[1] == 0.999 for b in betas)


def test_reduce_lr_on_plateau(device):
    opt = _opt(device)
    sched = S.ReduceLROnPlateau(opt, mode="min", factor=0.5, patience=1, cooldown=1,
                                min_lr=0.02)
    losses = [1.0, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9]
    lrs = []
    for loss in losses:
        sched.step(loss)
        lrs.append(opt.param_groups[0]["lr"])
    # bad epochs at 3, 4 -> reduce (patience 1); cooldown 1 skips one; then reduce again...
    assert lrs == pytest.approx([0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.025, 0.025])
    assert sched.get_last_lr() == [0.025]
    for _ in range(10):
        sched.step(0.9)
    assert opt.param_groups[0]["lr"] == pytest.approx(0.02)     # min_lr floor


def test_reduce_lr_on_plateau_max_mode_abs_threshold_and_tensor_metric(device):
    opt = _opt(device)
    sched = S.ReduceLROnPlateau(opt, mode="max", patience=0, threshold=0.1,
                                threshold_mode="abs")
    sched.step(clt.tensor(0.5, device=device))
    sched.step(0.55)        # not better by 0.1: a bad epoch -> reduce (patience 0)
    assert opt.param_groups[0]["lr"] == pytest.approx(0.01)
    sched.step(0.7)
    assert opt.param_groups[0]["lr"] == pytest.approx(0.01)


def test_sequential_lr_warmup_then_cosine(device):
    opt = _opt(device)
    warm = S.LinearLR(opt, start_factor=0.1, total_iters=3)
    cos = S.CosineAnnealingLR(opt, T_max=5)
    sched = S.SequentialLR(opt, [warm, cos], milestones=[3])
    with warnings.catch_warnings():
        warnings.simplefilter("error")      # the milestone restart must not warn
        lrs = [r[0] for r in _run(opt, sched, 8)]
    expected = [0.1 * (0.1 + 0.9 * e / 3) for e in range(3)] + \
        [0.1 * (1 + math.cos(math.pi * e / 5)) / 2 for e in range(5)]
    np.testing.assert_allclose(lrs, expected, rtol=1e-10, atol=1e-15)


def test_chained_scheduler_multiplies_factors(device):
    opt = _opt(device)
    sched = S.ChainedScheduler([S.ConstantLR(opt, factor=0.5, total_iters=2),
                                S.ExponentialLR(opt, gamma=0.9)])
    lrs = [r[0] for r in _run(opt, sched, 5)]
    expected = [0.1 * (0.5 if e < 2 else 1.0) * 0.9 ** e for e in range(5)]
    np.testing.assert_allclose(lrs, expected, rtol=1e-12)


def test_cyclic_lr_triangular2(device):
    opt = _opt(device, momentum=0.9)
    sched = S.CyclicLR(opt, base_lr=0.1, max_lr=1.0, step_size_up=2, mode="triangular2")
    lrs = [r[0] for r in _run(opt, sched, 9)]
    np.testing.assert_allclose(lrs, [0.1, 0.55, 1.0, 0.55, 0.1, 0.325, 0.55, 0.325, 0.1],
                               rtol=1e-12)


# -----------------------------------------------------------------------------------------------
# checkpoints, warnings, errors

def test_state_dict_round_trip_resumes_the_schedule(device):
    opt = _opt(device)
    sched = S.CosineAnnealingLR(opt, T_max=10)
    _run(opt, sched, 4)
    saved, opt_saved = sched.state_dict(), opt.state_dict()
    assert "optimizer" not in saved
    rest = [r[0] for r in _run(opt, sched, 4)]
    opt2 = _opt(device)
    sched2 = S.CosineAnnealingLR(opt2, T_max=10)
    opt2.load_state_dict(opt_saved)
    sched2.load_state_dict(saved)
    np.testing.assert_allclose([r[0] for r in _run(opt2, sched2, 4)], rest, rtol=1e-12)


def test_sequential_state_dict_round_trip(device):
    opt = _opt(device)
    sched = S.SequentialLR(opt, [S.ConstantLR(opt, factor=0.5, total_iters=2),
                                 S.ExponentialLR(opt, gamma=0.9)], milestones=[2])
    _run(opt, sched, 3)
    saved = sched.state_dict()
    assert isinstance(saved["_schedulers"], list) and len(saved["_schedulers"]) == 2
    # as in PyTorch: build the schedulers first (their constructors set the lr), then load
    opt2 = _opt(device)
    sched2 = S.SequentialLR(opt2, [S.ConstantLR(opt2, factor=0.5, total_iters=2),
                                   S.ExponentialLR(opt2, gamma=0.9)], milestones=[2])
    opt2.load_state_dict(opt.state_dict())
    sched2.load_state_dict(saved)
    np.testing.assert_allclose([r[0] for r in _run(opt2, sched2, 3)],
                               [r[0] for r in _run(opt, sched, 3)], rtol=1e-12)


def test_resume_needs_initial_lr(device):
    opt = _opt(device)
    with pytest.raises(KeyError, match="initial_lr"):
        S.StepLR(opt, step_size=2, last_epoch=3)


def test_warns_when_scheduler_steps_before_optimizer(device):
    opt = _opt(device)
    sched = S.StepLR(opt, step_size=2)
    with pytest.warns(UserWarning, match="before `optimizer.step\\(\\)`"):
        sched.step()


def test_changing_lr_never_rebuilds_a_kernel(device):
    p = clt.nn.Parameter(clt.ones(64, device=device))
    opt = SGD([p], lr=0.1, momentum=0.9)
    sched = S.ExponentialLR(opt, gamma=0.5)
    p.grad = clt.ones(64, device=device)
    opt.step()
    sched.step()
    before = len(device.kernels)
    for _ in range(3):
        opt.step()
        sched.step()
    assert len(device.kernels) == before


@pytest.mark.parametrize("make, match", [
    (lambda o: S.ConstantLR(o, factor=2.0), "between 0 and 1"),
    (lambda o: S.LinearLR(o, start_factor=0.0), "greater than 0"),
    (lambda o: S.LinearLR(o, end_factor=1.5), "Ending multiplicative factor"),
    (lambda o: S.CosineAnnealingWarmRestarts(o, T_0=0), "Expected positive integer T_0"),
    (lambda o: S.CosineAnnealingWarmRestarts(o, T_0=2, T_mult=0), "T_mult >= 1"),
    (lambda o: S.OneCycleLR(o, max_lr=1.0), "You must define either total_steps"),
    (lambda o: S.OneCycleLR(o, max_lr=1.0, total_steps=0), "positive integer total_steps"),
    (lambda o: S.OneCycleLR(o, max_lr=1.0, total_steps=5, pct_start=1.5), "pct_start"),
    (lambda o: S.OneCycleLR(o, max_lr=1.0, total_steps=5, anneal_strategy="x"),
     "anneal_strategy"),
    (lambda o: S.OneCycleLR(o, max_lr=[1.0, 2.0], total_steps=5), "same length"),
    (lambda o: S.ReduceLROnPlateau(o, factor=1.0), "Factor should be < 1.0"),
    (lambda o: S.ReduceLROnPlateau(o, mode="median"), "mode median is unknown"),
    (lambda o: S.ReduceLROnPlateau(o, threshold_mode="x"), "threshold mode x is unknown"),
    (lambda o: S.LambdaLR(o, [lambda e: 1, lambda e: 1]), "Expected 1 lr_lambdas, but got 2"),
    (lambda o: S.SequentialLR(o, [S.StepLR(o, 2)], milestones=[1]), "one more than the number"),
    (lambda o: S.SequentialLR(o, [], milestones=[]), "at least one scheduler"),
    (lambda o: S.CyclicLR(o, 0.1, 1.0, mode="sawtooth"), "mode is invalid"),
], ids=lambda x: x if isinstance(x, str) else "")
def test_bad_arguments(device, make, match):
    with pytest.raises(ValueError, match=match):
        make(_opt(device))


def test_one_cycle_needs_momentum_or_betas(device):
    from clt.optim import Adagrad

    opt = _opt(device, cls=Adagrad)
    with pytest.raises(ValueError, match="must support momentum or beta1"):
        S.OneCycleLR(opt, max_lr=1.0, total_steps=5)


def test_schedulers_refuse_foreign_optimizer(device):
    a, b = _opt(device), _opt(device)
    with pytest.raises(ValueError, match="same optimizer"):
        S.SequentialLR(a, [S.StepLR(a, 2), S.StepLR(b, 2)], milestones=[2])
    with pytest.raises(TypeError, match="is not an Optimizer"):
        S.StepLR(object(), 2)


# -----------------------------------------------------------------------------------------------
# parity with torch.optim.lr_scheduler (when PyTorch is installed)

_TORCH_CASES = {
    "step": (lambda m, o: m.StepLR(o, step_size=3, gamma=0.3), 12),
    "multistep": (lambda m, o: m.MultiStepLR(o, milestones=[2, 4, 4, 9], gamma=0.5), 12),
    "exponential": (lambda m, o: m.ExponentialLR(o, gamma=0.8), 8),
    "cosine": (lambda m, o: m.CosineAnnealingLR(o, T_max=4, eta_min=0.01), 14),
    "linear": (lambda m, o: m.LinearLR(o, start_factor=0.2, end_factor=0.9, total_iters=5), 9),
    "constant": (lambda m, o: m.ConstantLR(o, factor=0.3, total_iters=3), 6),
    "polynomial": (lambda m, o: m.PolynomialLR(o, total_iters=6, power=0.7), 9),
    "lambda": (lambda m, o: m.LambdaLR(o, lambda e: 1.0 / (1 + e) ** 0.5), 6),
    "multiplicative": (lambda m, o: m.MultiplicativeLR(o, lambda e: 0.95), 6),
    "warm_restarts": (lambda m, o: m.CosineAnnealingWarmRestarts(o, T_0=2, T_mult=3,
                                                                 eta_min=0.001), 15),
    "one_cycle": (lambda m, o: m.OneCycleLR(o, max_lr=[0.5, 0.7], total_steps=20), 20),
    "one_cycle_3": (lambda m, o: m.OneCycleLR(o, max_lr=0.5, total_steps=17, three_phase=True,
                                              anneal_strategy="linear", pct_start=0.25), 17),
    "cyclic_exp": (lambda m, o: m.CyclicLR(o, 0.01, 0.1, step_size_up=3, step_size_down=2,
                                           mode="exp_range", gamma=0.9), 14),
    "sequential": (lambda m, o: m.SequentialLR(o, [m.LinearLR(o, 0.1, total_iters=3),
                                                  m.ExponentialLR(o, 0.9),
                                                  m.CosineAnnealingLR(o, T_max=4)],
                                               milestones=[3, 6]), 14),
    "chained": (lambda m, o: m.ChainedScheduler([m.ConstantLR(o, 0.5, total_iters=3),
                                                 m.ExponentialLR(o, 0.9)]), 8),
    "plateau": (lambda m, o: m.ReduceLROnPlateau(o, factor=0.5, patience=1, cooldown=2,
                                                 threshold=0.05), 14),
}
_METRICS = [1.0, 0.9, 0.89, 0.88, 0.95, 0.7, 0.71, 0.72, 0.73, 0.74, 0.6, 0.61, 0.62, 0.63]


@pytest.mark.parametrize("case", sorted(_TORCH_CASES))
def test_matches_torch(device, case):
    torch = pytest.importorskip("torch")
    make, steps = _TORCH_CASES[case]
    tp = [torch.nn.Parameter(torch.zeros(2)) for _ in range(2)]
    topt = torch.optim.SGD([{"params": [tp[0]], "lr": 0.1}, {"params": [tp[1]], "lr": 0.2}],
                           lr=0.1, momentum=0.9)
    copt = _opt(device, n_groups=2, momentum=0.9)
    tsched, csched = make(torch.optim.lr_scheduler, topt), make(S, copt)
    for k in range(steps):
        for tg, cg in zip(topt.param_groups, copt.param_groups):
            assert cg["lr"] == pytest.approx(tg["lr"], rel=1e-12, abs=1e-15), (case, k)
            assert cg["momentum"] == pytest.approx(tg["momentum"], rel=1e-12), (case, k)
        topt.step()
        copt.step()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if case == "plateau":
                tsched.step(_METRICS[k])
                csched.step(_METRICS[k])
            else:
                tsched.step()
                csched.step()
        assert csched.get_last_lr() == pytest.approx(tsched.get_last_lr(), rel=1e-12, abs=1e-15)
