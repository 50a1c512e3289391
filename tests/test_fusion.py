"""The fusion switch (clt.backend.fusion): each fused path and its unfused fallback agree, and
the switch, its context manager and CLT_FUSION set and restore the state."""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

import clt
import clt.nn.functional as F
from clt.backend import fusion as fz
from clt.backend.fusion import fusion, fusion_enabled, set_fusion
from clt.optim import SGD, Adam, AdamW
from clt.optim.adam import _reference_adam
from clt.optim.sgd import _reference_sgd


# -- the switch ------------------------------------------------------------------------------

def test_default_on_and_context_manager_restores():
    assert fusion_enabled() and all(fusion_enabled(p) for p in fz.PATHS)
    with fusion(False):
        assert not fusion_enabled()
        assert not any(fusion_enabled(p) for p in fz.PATHS)
        with fusion(True, only=("optim",)):
            assert fusion_enabled("optim") and not fusion_enabled("bias")
        assert not fusion_enabled("optim")
    assert fusion_enabled()


def test_only_one_path_and_restore_after_error():
    with pytest.raises(KeyError):
        with fusion(False, only="cross_entropy"):
            assert not fusion_enabled("cross_entropy") and not fusion_enabled()
            assert fusion_enabled("bias") and fusion_enabled("activation")
            raise KeyError("boom")
    assert fusion_enabled()


def test_set_fusion_and_unknown_paths():
    try:
        set_fusion(False, only=["bias", "activation"])
        assert not fusion_enabled("bias") and not fusion_enabled("activation")
        assert fusion_enabled("optim")
        set_fusion(True, only=["bias"])
        assert fusion_enabled("bias") and not fusion_enabled("activation")
    finally:
        set_fusion(True)
    assert fusion_enabled()
    with pytest.raises(ValueError, match="unknown fusion path"):
        fusion_enabled("optm")
    with pytest.raises(ValueError, match="unknown fusion path"):
        with fusion(False, only=("bias", "gemm")):
            pass
    assert fusion_enabled()


@pytest.mark.parametrize("value, on", [("0", False), ("off", False), ("1", True), ("", True)])
def test_env_values(monkeypatch, value, on):
    monkeypatch.setenv("CLT_FUSION", value)
    assert (fz._from_env() == frozenset()) is on


def test_env_bad_value(monkeypatch):
    monkeypatch.setenv("CLT_FUSION", "maybe")
    with pytest.raises(ValueError, match="CLT_FUSION"):
        fz._from_env()


def test_env_read_at_import():
    code = ("from clt.backend import fusion as f; "
            "print(f.fusion_enabled(), f.fusion_enabled('optim'))")
    env = dict(os.environ, CLT_FUSION="0")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True, cwd=os.path.dirname(os.path.dirname(__file__)))
    assert out.stdout.split() == ["False", "False"]


# -- fused and unfused agree -----------------------------------------------------------------

def _both(fn):
    """``fn()`` with every path fused, then with every path unfused."""
    with fusion(True):
        a = fn()
    with fusion(False):
        b = fn()
    return a, b


def _close(a, b, rtol=1e-5, atol=1e-6):
    for x, y in zip(a, b):
        np.testing.assert_allclose(x, y, rtol=rtol, atol=atol)


def _grads(device, rng, shapes, fn):
    """Run ``fn`` on fresh leaf tensors of ``shapes``; returns the output and the gradients."""
    def run():
        ts = [clt.tensor(rng_copy[i], device=device, requires_grad=True)
              for i in range(len(shapes))]
        out = fn(*ts)
        out.backward(clt.tensor(gout, device=device))
        return [out.detach().numpy()] + [t.grad.numpy() for t in ts]
    rng_copy = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    with clt.no_grad():
        probe = fn(*[clt.tensor(h, device=device) for h in rng_copy])
    gout = rng.standard_normal(tuple(probe.shape)).astype(np.float32)
    return _both(run)


@pytest.mark.parametrize("xshape", [(6, 5), (2, 3, 5)])
def test_linear_bias(device, rng, xshape):
    a, b = _grads(device, rng, [xshape, (4, 5), (4,)], F.linear)
    _close(a, b)
    x = np.asarray(a[0])
    assert x.shape == xshape[:-1] + (4,)
    w_host = rng.standard_normal((4, 5)).astype(np.float32)
    bias = rng.standard_normal(4).astype(np.float32)
    inp = rng.standard_normal(xshape).astype(np.float32)

    def nograd():
        return F.linear(*(clt.tensor(h, device=device) for h in (inp, w_host, bias))).numpy()
    fa, fb = _both(nograd)
    np.testing.assert_allclose(fa, inp @ w_host.T + bias, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(fb, fa, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("groups, cin", [(1, 3), (4, 4)])   # GEMM path; direct (depthwise)
def test_conv2d_bias(device, rng, groups, cin):
    a, b = _grads(device, rng, [(2, cin, 6, 6), (4, cin // groups, 3, 3), (4,)],
                  lambda x, w, bias: F.conv2d(x, w, bias, padding=1, groups=groups))
    _close(a, b, atol=1e-5)


@pytest.mark.parametrize("fn", [F.relu, F.gelu, lambda x: F.leaky_relu(x, 0.1),
                                lambda x: F.hardtanh(x, -0.5, 0.5)],
                         ids=["relu", "gelu", "leaky_relu", "hardtanh"])
def test_activation_backward(device, rng, fn):
    a, b = _grads(device, rng, [(7, 9)], fn)
    _close(a, b)


@pytest.mark.parametrize("shape, kw", [
    ((8, 5), dict()),
    ((8, 5), dict(reduction="sum", ignore_index=2)),
    ((8, 5), dict(reduction="none", weight=True)),
    ((8, 5), dict(weight=True, ignore_index=1)),
    ((3, 4, 2, 2), dict()),
    ((5,), dict()),
])
def test_cross_entropy(device, rng, shape, kw):
    kw = dict(kw)
    c = shape[0] if len(shape) == 1 else shape[1]
    tshape = () if len(shape) == 1 else (shape[0],) + shape[2:]
    target = clt.tensor(rng.integers(0, c, tshape).astype(np.int64), device=device)
    if kw.pop("weight", False):
        kw["weight"] = clt.tensor(rng.random(c).astype(np.float32) + 0.5, device=device)
    a, b = _grads(device, rng, [shape], lambda x: F.cross_entropy(x, target, **kw))
    _close(a, b)
    torch = pytest.importorskip("torch")
    host = rng.standard_normal(shape).astype(np.float32)
    tkw = {k: (torch.tensor(v.numpy()) if k == "weight" else v) for k, v in kw.items()}
    ref = torch.nn.functional.cross_entropy(torch.tensor(host), torch.tensor(target.numpy()),
                                            **tkw)
    with fusion(False):
        got = F.cross_entropy(clt.tensor(host, device=device), target, **kw)
    np.testing.assert_allclose(got.numpy(), ref.numpy(), rtol=1e-5, atol=1e-6)


def test_cross_entropy_unfused_keeps_fused_kernel_where_not_covered(device, rng):
    x = clt.tensor(rng.standard_normal((6, 4)).astype(np.float32), device=device)
    t = clt.tensor(rng.integers(0, 4, 6).astype(np.int64), device=device)
    a, b = _both(lambda: F.cross_entropy(x, t, label_smoothing=0.1).numpy())
    np.testing.assert_allclose(a, b, rtol=1e-6)


# -- optimizers ------------------------------------------------------------------------------

_OPT_CASES = [
    (SGD, dict(lr=0.1)),
    (SGD, dict(lr=0.1, momentum=0.9)),
    (SGD, dict(lr=0.1, momentum=0.9, dampening=0.5, weight_decay=0.1)),
    (SGD, dict(lr=0.1, momentum=0.8, nesterov=True, weight_decay=0.05, maximize=True)),
    (Adam, dict(lr=0.01)),
    (Adam, dict(lr=0.01, weight_decay=0.1, amsgrad=True, maximize=True)),
    (AdamW, dict(lr=0.01, weight_decay=0.1)),
]


def _ref_kwargs(cls, g):
    if cls is SGD:
        return {k: g[k] for k in ("lr", "momentum", "dampening", "weight_decay", "nesterov",
                                  "maximize")}
    return dict(lr=g["lr"], beta1=g["betas"][0], beta2=g["betas"][1], eps=g["eps"],
                weight_decay=g["weight_decay"], amsgrad=g["amsgrad"], maximize=g["maximize"],
                decoupled=cls is AdamW)


@pytest.mark.parametrize("cls, opts", _OPT_CASES,
                         ids=[f"{c.__name__}-{i}" for i, (c, _) in enumerate(_OPT_CASES)])
def test_optimizer_updates(device, rng, cls, opts):
    shapes = [(5, 3), (7,), (2, 2, 2)]
    init = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    grads = [[rng.standard_normal(s).astype(np.float32) for s in shapes] for _ in range(3)]

    def run():
        params = [clt.nn.Parameter(clt.tensor(h, device=device)) for h in init]
        opt = cls(params, **opts)
        for step in grads:
            for p, g in zip(params, step):
                p.grad = clt.tensor(g, device=device)
            opt.step()
        state = [sorted((k, np.asarray(v.numpy() if hasattr(v, "numpy") else v))
                        for k, v in opt.state[p].items()) for p in params]
        return [p.detach().numpy() for p in params], state, opt.param_groups[0]
    (pa, sa, group), (pb, sb, _) = _both(run)
    _close(pa, pb)
    for x, y in zip(sa, sb):
        assert [k for k, _ in x] == [k for k, _ in y]
        _close([v for _, v in x], [v for _, v in y])
    ref = _reference_sgd if cls is SGD else _reference_adam
    hosts, states = [h.copy() for h in init], [{} for _ in init]
    for step in grads:
        for h, g, st in zip(hosts, step, states):
            ref(h, g, st, **_ref_kwargs(cls, group))
    _close(hosts, pb, rtol=1e-5, atol=1e-6)


def test_optimizer_switch_mid_training_shares_state(device, rng):
    init = rng.standard_normal(6).astype(np.float32)
    grads = [rng.standard_normal(6).astype(np.float32) for _ in range(3)]

    def run(modes):
        p = clt.nn.Parameter(clt.tensor(init, device=device))
        opt = Adam([p], lr=0.05)
        for g, on in zip(grads, modes):
            p.grad = clt.tensor(g, device=device)
            with fusion(on, only="optim"):
                opt.step()
        return p.detach().numpy(), opt.state[p]["step"]
    (a, sa), (b, sb) = run([True, False, True]), run([False, True, False])
    np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    assert sa == sb == 3


def test_unfused_optimizer_validates_before_updating(device):
    p = clt.nn.Parameter(clt.zeros(4, device=device))
    q = clt.nn.Parameter(clt.zeros(3, device=device))
    p.grad = clt.ones(4, device=device)
    q.grad = clt.ones(2, device=device)           # wrong shape: nothing may be updated
    opt = SGD([p, q], lr=1.0)
    with fusion(False), pytest.raises(clt.errors.ShapeError):
        opt.step()
    np.testing.assert_array_equal(p.detach().numpy(), 0)


def test_switch_changes_the_kernels(device, rng):
    """Each path, turned off alone, leaves its fused kernel out of an MLP step."""
    x = clt.tensor(rng.standard_normal((4, 6)).astype(np.float32), device=device)
    y = clt.tensor(rng.integers(0, 3, 4).astype(np.int64), device=device)
    model = clt.nn.Sequential(clt.nn.Linear(6, 5, device=device), clt.nn.ReLU(),
                              clt.nn.Linear(5, 3, device=device))
    opt = SGD(model.parameters(), lr=0.1, momentum=0.9)

    def kernels(only):
        with fusion(False, only=only) if only else fusion(True):
            opt.zero_grad()
            with clt.profiler.profile(device) as prof:
                F.cross_entropy(model(x), y).backward()
                opt.step()
        return {s.name: s.calls for s in prof.key_averages()}
    fused = kernels(None)
    assert any(k.startswith("clt_optim_sgd") for k in fused)
    assert any("relu_bw" in k for k in fused) and any("ce_fw" in k for k in fused)
    assert not any(k.startswith("clt_optim_") for k in kernels("optim"))
    assert not any("relu_bw" in k for k in kernels("activation"))
    assert any(k.startswith("clt_softmax_log") for k in kernels("cross_entropy"))
    adds = lambda names: sum(c for k, c in names.items() if k.startswith("clt_ew_add"))  # noqa
    assert adds(kernels("bias")) == adds(fused) + 2          # one bias add per Linear
