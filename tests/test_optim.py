"""Optimizers: fused kernels against host references (and PyTorch), groups, state, errors."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import clt
import clt.nn
from clt.errors import DTypeError, ShapeError
from clt.optim import SGD, Adadelta, Adagrad, Adam, AdamW, Lion, RMSprop
from clt.optim.adadelta import _reference_adadelta
from clt.optim.adagrad import _reference_adagrad
from clt.optim.adam import _reference_adam
from clt.optim.lion import _reference_lion
from clt.optim.rmsprop import _reference_rmsprop
from clt.optim.sgd import _reference_sgd

from conftest import skip_if_no_fp64


def _adam_kw(decoupled):
    def kw(g):
        return dict(lr=g["lr"], beta1=g["betas"][0], beta2=g["betas"][1], eps=g["eps"],
                    weight_decay=g["weight_decay"], amsgrad=g["amsgrad"], maximize=g["maximize"],
                    decoupled=decoupled)
    return kw


def _pick(*names):
    return lambda g: {k: g[k] for k in names}


# name -> (class, reference, group -> reference kwargs, option sets covering every flag)
CASES = {
    "sgd": (SGD, _reference_sgd,
            _pick("lr", "momentum", "dampening", "weight_decay", "nesterov", "maximize"), [
                dict(lr=0.1),
                dict(lr=0.1, momentum=0.9),
                dict(lr=0.1, momentum=0.9, dampening=0.5, weight_decay=0.1),
                dict(lr=0.1, momentum=0.9, nesterov=True),
                dict(lr=0.1, momentum=0.8, nesterov=True, weight_decay=0.05, maximize=True),
                dict(lr=0.05, weight_decay=0.1, maximize=True),
            ]),
    "adam": (Adam, _reference_adam, _adam_kw(False), [
        dict(),
        dict(amsgrad=True),
        dict(weight_decay=0.1),
        dict(lr=0.01, weight_decay=0.1, amsgrad=True, maximize=True),
        dict(lr=0.01, betas=(0.8, 0.9), eps=1e-6),
    ]),
    "adamw": (AdamW, _reference_adam, _adam_kw(True), [
        dict(),
        dict(lr=0.01, amsgrad=True, weight_decay=0.1),
        dict(maximize=True, weight_decay=0.0),
    ]),
    "rmsprop": (RMSprop, _reference_rmsprop,
                _pick("lr", "alpha", "eps", "weight_decay", "momentum", "centered", "maximize"), [
                    dict(),
                    dict(centered=True),
                    dict(momentum=0.9),
                    dict(centered=True, momentum=0.5, weight_decay=0.1),
                    dict(maximize=True, alpha=0.9),
                ]),
    "adagrad": (Adagrad, _reference_adagrad,
                _pick("lr", "lr_decay", "weight_decay", "eps", "maximize",
                      "initial_accumulator_value"), [
                    dict(),
                    dict(lr_decay=0.1),
                    dict(initial_accumulator_value=0.5, weight_decay=0.1),
                    dict(maximize=True, eps=1e-6),
                ]),
    "adadelta": (Adadelta, _reference_adadelta,
                 _pick("lr", "rho", "eps", "weight_decay", "maximize"), [
                     dict(),
                     dict(rho=0.5, weight_decay=0.1),
                     dict(maximize=True, lr=0.5),
                 ]),
    "lion": (Lion, _reference_lion,
             lambda g: dict(lr=g["lr"], beta1=g["betas"][0], beta2=g["betas"][1],
                            weight_decay=g["weight_decay"], maximize=g["maximize"]), [
                 dict(lr=1e-3),
                 dict(lr=1e-3, weight_decay=0.1, betas=(0.95, 0.98)),
                 dict(maximize=True, lr=1e-2),
             ]),
}
CONFIGS = [(name, i) for name, case in CASES.items() for i in range(len(case[3]))]
TOL = {np.float16: dict(rtol=1e-2, atol=2e-3), np.float32: dict(rtol=2e-5, atol=2e-6),
       np.float64: dict(rtol=1e-12, atol=1e-14)}


def _close(actual, desired, dtype, what=""):
    """Elementwise closeness, absolute tolerance scaled by the array's magnitude (cancellation
    in ``m * b + g / avg``-style updates loses absolute, not relative, precision)."""
    desired = np.asarray(desired, np.float64)
    scale = max(1.0, float(np.abs(desired).max())) if desired.size else 1.0
    tol = TOL[dtype]
    np.testing.assert_allclose(np.asarray(actual, np.float64), desired, rtol=tol["rtol"],
                               atol=tol["atol"] * scale, err_msg=what)


def _run_against_reference(device, name, opts, dtype, shapes, steps=4, seed=0):
    cls, ref, ref_kw, _ = CASES[name]
    rng = np.random.default_rng(seed)
    host = [rng.standard_normal(s).astype(dtype) for s in shapes]
    params = [clt.nn.Parameter(clt.tensor(h, device=device)) for h in host]
    opt = cls(params, **opts)
    states = [{} for _ in host]
    for _ in range(steps):
        grads = [rng.standard_normal(s).astype(dtype) for s in shapes]
        for p, g in zip(params, grads):
            p.grad = clt.tensor(g, device=device)
        opt.step()
        kw = ref_kw(opt.param_groups[0])
        for h, g, st in zip(host, grads, states):
            ref(h, g, st, **kw)
    for p, h, st in zip(params, host, states):
        _close(p.detach().numpy(), h, dtype)
        mine = opt.state[p]
        for key, value in st.items():
            if isinstance(value, (np.ndarray, np.generic)):
                _close(mine[key].numpy(), value, dtype, key)
            else:
                assert mine[key] == value, key
    return opt, params


@pytest.mark.parametrize("name, idx", CONFIGS, ids=[f"{n}-{i}" for n, i in CONFIGS])
def test_matches_reference_float32(device, name, idx):
    opts = CASES[name][3][idx]
    _run_against_reference(device, name, opts, np.float32, [(), (7,), (3, 33), (70001,)])


@pytest.mark.parametrize("dtype", [np.float16, np.float64], ids=["float16", "float64"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_matches_reference_other_dtypes(device, name, dtype):
    skip_if_no_fp64(device, dtype)
    opts = CASES[name][3][-2 if len(CASES[name][3]) > 2 else -1]   # a config with most options
    opt, params = _run_against_reference(device, name, opts, dtype, [(9,), (1000,)])
    for p in params:
        assert p.dtype == clt.dtypes.as_dtype(dtype)
        for v in opt.state[p].values():        # state kept in the parameter's dtype
            if isinstance(v, clt.Tensor):
                assert v.dtype == p.dtype


@pytest.mark.parametrize("name", sorted(CASES))
def test_gpu_style_kernels_match_reference(device, name, monkeypatch):
    """The grid-stride variant GPUs get, run here by faking the capability table."""
    monkeypatch.setattr(device, "caps", dataclasses.replace(device.caps, style="gpu"))
    # elementwise launch plans and kernels memoized for the real style must not be reused
    monkeypatch.setattr(device.kernels, "plans", {})
    monkeypatch.setattr(device.kernels, "fast", {})
    opts = CASES[name][3][-2 if len(CASES[name][3]) > 2 else -1]
    _run_against_reference(device, name, opts, np.float32, [(7,), (3000,)])


def test_views_and_strided_grads(device, rng):
    """A non-contiguous parameter (transposed), one with an offset (narrow), a strided grad."""
    base = rng.standard_normal((6, 40)).astype(np.float32)
    base_t = clt.tensor(base, device=device)
    p_t = clt.nn.Parameter(base_t.t())                           # (40, 6), strides (1, 40)
    big = clt.tensor(base, device=device)
    p_off = clt.nn.Parameter(clt.narrow(big, 0, 2, 3))           # offset 80, contiguous
    assert not p_t.is_contiguous() and p_off.storage_offset() == 80
    opt = Adam([p_t, p_off], lr=0.01, weight_decay=0.1)
    h_t, h_off = base.T.copy(), base[2:5].copy()
    st_t, st_off = {}, {}
    for _ in range(3):
        g_t = rng.standard_normal((6, 40)).astype(np.float32)
        p_t.grad = clt.tensor(g_t, device=device).t()                 # strided grad
        g_off = rng.standard_normal((3, 40)).astype(np.float32)
        p_off.grad = clt.tensor(g_off, device=device)
        opt.step()
        kw = _adam_kw(False)(opt.param_groups[0])
        _reference_adam(h_t, g_t.T.copy(), st_t, **kw)
        _reference_adam(h_off, g_off, st_off, **kw)
    np.testing.assert_allclose(p_t.detach().numpy(), h_t, **TOL[np.float32])
    np.testing.assert_allclose(p_off.detach().numpy(), h_off, **TOL[np.float32])
    rest = big.numpy()        # the rows around the narrowed parameter are untouched
    np.testing.assert_array_equal(rest[:2], base[:2])
    np.testing.assert_array_equal(rest[5:], base[5:])


def test_many_parameters_mixed_sizes_dtypes_and_steps(device, rng):
    """More tensors than one launch takes, two dtypes in one group, and parameters whose step
    counts differ (some miss gradients on some steps), all against the reference."""
    sizes = [int(s) for s in rng.integers(1, 5000, size=19)]
    dtypes = [np.float16 if i % 5 == 0 else np.float32 for i in range(19)]
    host = [rng.standard_normal(s).astype(d) for s, d in zip(sizes, dtypes)]
    params = [clt.nn.Parameter(clt.tensor(h, device=device)) for h in host]
    opt = Adam(params, lr=0.01, amsgrad=True, weight_decay=0.01)
    states = [{} for _ in host]
    kw = _adam_kw(False)(opt.param_groups[0])
    for step in range(4):
        for i, (p, h, st) in enumerate(zip(params, host, states)):
            if (i + step) % 3 == 0 and step:       # no gradient this step
                p.grad = None
                continue
            g = rng.standard_normal(h.shape).astype(h.dtype)
            p.grad = clt.tensor(g, device=device)
            _reference_adam(h, g, st, **kw)
        opt.step()
    for p, h, st in zip(params, host, states):
        assert opt.state[p]["step"] == st["step"]
        _close(p.detach().numpy(), h, h.dtype.type)


def test_launch_count(device, monkeypatch):
    """19 parameters at the same step: ceil(19 / 8) = 3 fused launches, nothing else."""
    from clt.ops import optim as O

    params = [clt.nn.Parameter(clt.ones(100 + i, device=device)) for i in range(19)]
    for i, p in enumerate(params):
        p.grad = clt.ones(100 + i, device=device)
    opt = Adam(params)
    opt.step()
    launches = []
    real = type(device).launch

    def counting(self, kernel, *args):
        launches.append(kernel.function_name)
        return real(self, kernel, *args)

    monkeypatch.setattr(type(device), "launch", counting)
    opt.step()
    assert launches == ["clt_optim_adam_f32"] * -(-19 // O.TENSORS_PER_LAUNCH)


def test_empty_parameter_and_missing_grads(device):
    empty = clt.nn.Parameter(clt.zeros(0, device=device))
    p = clt.nn.Parameter(clt.ones(4, device=device))
    q = clt.nn.Parameter(clt.ones(4, device=device))
    opt = SGD([empty, p, q], lr=0.5, momentum=0.9)
    empty.grad = clt.zeros(0, device=device)
    p.grad = clt.ones(4, device=device)
    opt.step()                                       # q has no grad: skipped, no state
    np.testing.assert_allclose(p.detach().numpy(), 0.5)
    np.testing.assert_allclose(q.detach().numpy(), 1.0)
    assert q not in opt.state and p in opt.state


def test_param_groups_use_their_own_options(device):
    a = clt.nn.Parameter(clt.ones(3, device=device))
    b = clt.nn.Parameter(clt.ones(3, device=device))
    opt = SGD([{"params": [a]}, {"params": b, "lr": 0.5, "momentum": 0.9}], lr=0.1)
    assert opt.param_groups[1]["momentum"] == 0.9 and opt.param_groups[0]["momentum"] == 0.0
    c = clt.nn.Parameter(clt.ones(3, device=device))
    opt.add_param_group({"params": [c], "lr": 1.0})
    assert opt.param_groups[2]["dampening"] == 0.0       # filled from the defaults
    for t in (a, b, c):
        t.grad = clt.ones(3, device=device)
    opt.step()
    np.testing.assert_allclose(a.detach().numpy(), 0.9)
    np.testing.assert_allclose(b.detach().numpy(), 0.5)
    np.testing.assert_allclose(c.detach().numpy(), 0.0)
    with pytest.raises(ValueError, match="more than one parameter group"):
        opt.add_param_group({"params": [a]})


def test_zero_grad(device):
    p = clt.nn.Parameter(clt.ones(5, device=device))
    opt = SGD([p], lr=0.1)
    p.grad = clt.ones(5, device=device)
    g = p.grad
    opt.zero_grad(set_to_none=False)
    assert p.grad is g
    np.testing.assert_array_equal(g.numpy(), 0)
    opt.zero_grad()
    assert p.grad is None


def test_closure_runs_with_grad_enabled_and_returns_its_loss(device):
    p = clt.nn.Parameter(clt.ones(3, device=device))
    opt = Adam([p], lr=0.1)
    seen = {}

    def closure():
        seen["grad_enabled"] = clt.is_grad_enabled()
        opt.zero_grad()
        p.grad = clt.ones(3, device=device)
        return 1.25

    assert opt.step(closure) == 1.25
    assert seen["grad_enabled"] is True
    np.testing.assert_allclose(p.detach().numpy(), 1 - 0.1, rtol=1e-5)


def test_step_hooks(device):
    p = clt.nn.Parameter(clt.ones(3, device=device))
    opt = SGD([p], lr=0.1)
    calls = []
    h1 = opt.register_step_pre_hook(lambda o, a, k: calls.append("pre"))
    opt.register_step_post_hook(lambda o, a, k: calls.append("post"))
    opt.step()
    h1.remove()
    opt.step()
    assert calls == ["pre", "post", "post"]


def test_step_never_waits_for_the_device(device, monkeypatch):
    """The update is enqueued only: no transfer to the host and no queue.finish()."""
    import clt.ops.transfer as transfer

    params = [clt.nn.Parameter(clt.ones(1000, device=device)) for _ in range(3)]
    opt = AdamW(params, lr=0.1, amsgrad=True)
    for p in params:
        p.grad = clt.ones(1000, device=device)
    opt.step()                                            # state creation, kernel build

    def refuse(*args, **kwargs):
        raise AssertionError("optimizer.step() synchronized with the device")

    monkeypatch.setattr(transfer, "to_numpy", refuse)
    monkeypatch.setattr(type(device), "synchronize", refuse)
    for _ in range(3):
        opt.step()
    monkeypatch.undo()
    assert np.isfinite(params[0].detach().numpy()).all()


def test_one_kernel_per_optimizer_and_dtype(device):
    """Options are kernel arguments: every configuration of an optimizer shares one build."""
    p = clt.nn.Parameter(clt.ones(100, device=device))
    p.grad = clt.ones(100, device=device)
    RMSprop([p]).step()
    before = len(device.kernels)
    for opts in CASES["rmsprop"][3]:
        q = clt.nn.Parameter(clt.ones(100, device=device))
        q.grad = clt.ones(100, device=device)
        opt = RMSprop([q], **opts)
        for lr in (0.1, 0.01, 0.001):
            opt.param_groups[0]["lr"] = lr
            opt.step()
    assert len(device.kernels) == before


# -----------------------------------------------------------------------------------------------
# checkpoints

def _train(opt, params, rng, steps):
    for _ in range(steps):
        for p in params:
            p.grad = clt.tensor(rng.standard_normal(tuple(p.shape)).astype(np.float32),
                                device=p.device)
        opt.step()


def _frozen(sd):
    """A state_dict with every tensor copied to numpy (a snapshot that training cannot change)."""
    return {"state": {k: {n: (v.numpy() if isinstance(v, clt.Tensor) else v)
                          for n, v in s.items()} for k, s in sd["state"].items()},
            "param_groups": [dict(g) for g in sd["param_groups"]]}


@pytest.mark.parametrize("cls, opts", [(Adam, dict(amsgrad=True)), (SGD, dict(momentum=0.9)),
                                       (RMSprop, dict(centered=True, momentum=0.9)),
                                       (Adagrad, {}), (Adadelta, {}), (Lion, {})],
                         ids=lambda x: x.__name__ if isinstance(x, type) else "")
def test_state_dict_round_trip(device, cls, opts):
    rng = np.random.default_rng(5)
    init = [rng.standard_normal(s).astype(np.float32) for s in [(4, 3), (5,)]]

    def make():
        ps = [clt.nn.Parameter(clt.tensor(h, device=device)) for h in init]
        return ps, cls([{"params": ps[:1]}, {"params": ps[1:], "lr": 0.05}], **opts)

    params, opt = make()
    _train(opt, params, rng, 3)
    snap = _frozen(opt.state_dict())
    values = [p.detach().numpy() for p in params]
    tail_rng = np.random.default_rng(9)
    _train(opt, params, tail_rng, 2)

    params2, opt2 = make()
    for p, v in zip(params2, values):
        p.data = clt.tensor(v, device=device)
    opt2.load_state_dict(snap)                 # numpy state: a device-agnostic checkpoint
    _train(opt2, params2, np.random.default_rng(9), 2)
    for a, b in zip(params, params2):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-6)
    assert opt2.param_groups[1]["lr"] == 0.05 and opt2.param_groups[1]["params"] == [params2[1]]


def test_state_dict_layout_matches_torch(device):
    torch = pytest.importorskip("torch")
    shapes = [(2, 3), (4,)]
    tp = [torch.nn.Parameter(torch.zeros(s)) for s in shapes]
    cp = [clt.nn.Parameter(clt.zeros(*s, device=device)) for s in shapes]
    topt = torch.optim.Adam([{"params": tp[:1]}, {"params": tp[1:]}], amsgrad=True)
    copt = Adam([{"params": cp[:1]}, {"params": cp[1:]}], amsgrad=True)
    for t, c in zip(tp, cp):
        t.grad = torch.ones(t.shape)
        c.grad = clt.ones(*c.shape, device=device)
    topt.step()
    copt.step()
    tsd, csd = topt.state_dict(), copt.state_dict()
    assert sorted(tsd["state"]) == sorted(csd["state"]) == [0, 1]
    assert [g["params"] for g in tsd["param_groups"]] == [g["params"] for g in csd["param_groups"]]
    for k in tsd["state"]:
        assert sorted(tsd["state"][k]) == sorted(csd["state"][k])
        assert int(tsd["state"][k]["step"]) == csd["state"][k]["step"] == 1
        np.testing.assert_allclose(csd["state"][k]["exp_avg"].numpy(),
                                   tsd["state"][k]["exp_avg"].numpy(), rtol=1e-6)
    shared = set(csd["param_groups"][0]) & set(tsd["param_groups"][0])
    assert {"lr", "betas", "eps", "weight_decay", "amsgrad", "maximize", "params"} <= shared
    # and a torch checkpoint (tensors as numpy) loads into the clt optimizer
    copt.load_state_dict({"state": {k: {n: (v.numpy() if hasattr(v, "numpy") else v)
                                         for n, v in s.items()} for k, s in tsd["state"].items()},
                          "param_groups": tsd["param_groups"]})
    assert copt.state[cp[0]]["step"] == 1


def test_load_state_dict_errors(device):
    p = clt.nn.Parameter(clt.ones(3, device=device))
    q = clt.nn.Parameter(clt.ones(3, device=device))
    opt = Adam([p, q])
    p.grad = q.grad = clt.ones(3, device=device)
    opt.step()
    sd = opt.state_dict()
    with pytest.raises(ValueError, match="different number of parameter groups"):
        Adam([{"params": [p]}, {"params": [q]}]).load_state_dict(sd)
    with pytest.raises(ValueError, match="doesn't match the size of optimizer's group"):
        Adam([p]).load_state_dict(sd)
    r = clt.nn.Parameter(clt.ones(4, device=device))
    with pytest.raises(ShapeError, match="has shape"):
        Adam([p, r]).load_state_dict(sd)


# -----------------------------------------------------------------------------------------------
# bad input

def _p(device):
    return [clt.nn.Parameter(clt.ones(2, device=device))]


@pytest.mark.parametrize("make, match", [
    (lambda ps: SGD(ps, lr=-1), "Invalid learning rate: -1"),
    (lambda ps: SGD(ps, momentum=-0.5), "Invalid momentum value: -0.5"),
    (lambda ps: SGD(ps, weight_decay=-1), "Invalid weight_decay value: -1"),
    (lambda ps: SGD(ps, nesterov=True), "Nesterov momentum requires a momentum and zero damp"),
    (lambda ps: SGD(ps, momentum=0.9, dampening=0.1, nesterov=True), "Nesterov momentum"),
    (lambda ps: Adam(ps, betas=(1.0, 0.9)), r"Invalid beta parameter at index 0: 1\.0"),
    (lambda ps: Adam(ps, betas=(0.9, -0.1)), r"Invalid beta parameter at index 1: -0\.1"),
    (lambda ps: Adam(ps, eps=-1e-8), "Invalid epsilon value"),
    (lambda ps: AdamW(ps, lr=-0.1), "Invalid learning rate: -0.1"),
    (lambda ps: RMSprop(ps, alpha=-1), "Invalid alpha value: -1"),
    (lambda ps: RMSprop(ps, momentum=-1), "Invalid momentum value"),
    (lambda ps: Adagrad(ps, lr_decay=-1), "Invalid lr_decay value: -1"),
    (lambda ps: Adagrad(ps, initial_accumulator_value=-1), "Invalid initial_accumulator_value"),
    (lambda ps: Adadelta(ps, rho=1.5), "Invalid rho value: 1.5"),
    (lambda ps: Lion(ps, betas=(0.9, 1.5)), "Invalid beta parameter at index 1"),
], ids=lambda x: x if isinstance(x, str) else "")
def test_constructor_validation(device, make, match):
    with pytest.raises(ValueError, match=match):
        make(_p(device))


def test_params_argument_checks(device):
    t = clt.nn.Parameter(clt.ones(2, device=device))
    with pytest.raises(TypeError, match="params argument given to the optimizer should be an "
                                        "iterable of Tensors or dicts, but got clt.Parameter"):
        SGD(t, lr=0.1)
    with pytest.raises(ValueError, match="optimizer got an empty parameter list"):
        SGD([], lr=0.1)
    with pytest.raises(TypeError, match="optimizer can only optimize Tensors"):
        SGD([t, 3.0], lr=0.1)
    with pytest.raises(TypeError, match="ordered collections"):
        SGD([{"params": {t}}])
    leaf = clt.ones(2, device=device, requires_grad=True)
    non_leaf = leaf * 2
    with pytest.raises(ValueError, match="can't optimize a non-leaf Tensor"):
        SGD([non_leaf], lr=0.1)
    with pytest.raises(ValueError, match="floating point"):
        SGD([clt.ones(2, dtype=clt.int32, device=device)], lr=0.1)


def test_grad_mismatch_errors(device):
    p = clt.nn.Parameter(clt.ones(4, device=device))
    opt = Adam([p])
    p.grad = clt.ones(5, device=device)
    with pytest.raises(ShapeError, match=r"shape \(4,\) but its grad has shape \(5,\)"):
        opt.step()
    p.grad = clt.ones(4, dtype=clt.float16, device=device)
    with pytest.raises(DTypeError, match="dtype float32 but its grad has dtype float16"):
        opt.step()


def test_repr(device):
    r = repr(SGD(_p(device), lr=0.1, momentum=0.9))
    assert r.startswith("SGD (") and "momentum: 0.9" in r and "Parameter Group 0" in r


# -----------------------------------------------------------------------------------------------
# parity with torch.optim (when PyTorch is installed)

_TORCH = [("SGD", dict(lr=0.1, momentum=0.9, dampening=0.1, weight_decay=0.01)),
          ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True, maximize=True)),
          ("Adam", dict(lr=0.01, weight_decay=0.1, amsgrad=True)),
          ("AdamW", dict(lr=0.01, maximize=True)),
          ("RMSprop", dict(lr=0.01, centered=True, momentum=0.9, weight_decay=0.01)),
          ("Adagrad", dict(lr=0.1, lr_decay=0.01, initial_accumulator_value=0.1)),
          ("Adadelta", dict(lr=1.0, rho=0.8, weight_decay=0.01, maximize=True))]


@pytest.mark.parametrize("name, opts", _TORCH, ids=[f"{n}-{i}" for i, (n, _) in
                                                    enumerate(_TORCH)])
def test_matches_torch(device, name, opts):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    init = [rng.standard_normal(s).astype(np.float32) for s in [(3, 5), (17,)]]
    tp = [torch.nn.Parameter(torch.tensor(h)) for h in init]
    cp = [clt.nn.Parameter(clt.tensor(h, device=device)) for h in init]
    topt = getattr(torch.optim, name)(tp, **opts)
    copt = getattr(clt.optim, name)(cp, **opts)
    for _ in range(5):
        for t, c in zip(tp, cp):
            g = rng.standard_normal(tuple(t.shape)).astype(np.float32)
            t.grad = torch.tensor(g)
            c.grad = clt.tensor(g, device=device)
        topt.step()
        copt.step()
    for t, c in zip(tp, cp):
        np.testing.assert_allclose(c.detach().numpy(), t.detach().numpy(), rtol=2e-5, atol=2e-6)
