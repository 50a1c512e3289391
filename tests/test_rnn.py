"""Recurrent layers: numpy references of RNN/LSTM/GRU, gradcheck, PyTorch state dicts, errors."""
from __future__ import annotations

import numpy as np
import pytest

import clt
import clt.nn as nn
from clt.autograd import gradcheck
from clt.errors import ShapeError
from tests.conftest import skip_if_no_fp64
from tests.test_conv import styled_device


def t(a, dtype=None, grad=False):
    return clt.tensor(np.asarray(a), dtype=dtype, requires_grad=grad)


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def ref_cell(mode, x, h, c, w_ih, w_hh, b_ih, b_hh):
    """One step with PyTorch's equations and gate orders."""
    gx = x @ w_ih.T + (b_ih if b_ih is not None else 0)
    gh = h @ w_hh.T + (b_hh if b_hh is not None else 0)
    n_h = h.shape[1]
    if mode == "RNN_TANH":
        return np.tanh(gx + gh), None
    if mode == "RNN_RELU":
        return np.maximum(gx + gh, 0), None
    if mode == "LSTM":
        z = gx + gh
        i, f = sigmoid(z[:, :n_h]), sigmoid(z[:, n_h:2 * n_h])
        g, o = np.tanh(z[:, 2 * n_h:3 * n_h]), sigmoid(z[:, 3 * n_h:])
        c2 = f * c + i * g
        return o * np.tanh(c2), c2
    r = sigmoid(gx[:, :n_h] + gh[:, :n_h])
    zz = sigmoid(gx[:, n_h:2 * n_h] + gh[:, n_h:2 * n_h])
    n = np.tanh(gx[:, 2 * n_h:] + r * gh[:, 2 * n_h:])
    return (1 - zz) * n + zz * h, None


def ref_rnn(m, mode, x, h0, c0):
    """Multi-layer, bidirectional reference over x (L, N, input)."""
    dirs = 2 if m.bidirectional else 1
    sd = {k: v.detach().numpy() for k, v in m.state_dict().items()}
    inp, hn, cn = x, [], []
    for layer in range(m.num_layers):
        outs = []
        for d in range(dirs):
            sfx = f"_l{layer}" + ("_reverse" if d else "")
            k = layer * dirs + d
            h, c = h0[k], (c0[k] if c0 is not None else None)
            out = [None] * len(inp)
            steps = range(len(inp) - 1, -1, -1) if d else range(len(inp))
            for s in steps:
                h, c = ref_cell(mode, inp[s], h, c, sd["weight_ih" + sfx], sd["weight_hh" + sfx],
                                sd.get("bias_ih" + sfx), sd.get("bias_hh" + sfx))
                out[s] = h
            outs.append(np.stack(out))
            hn.append(h)
            cn.append(c)
        inp = np.concatenate(outs, -1)
    return inp, np.stack(hn), (np.stack(cn) if c0 is not None else None)


CONFIGS = [dict(), dict(num_layers=2, batch_first=True),
           dict(bidirectional=True, bias=False), dict(num_layers=2, bidirectional=True)]


@pytest.mark.parametrize("kind", ["RNN", "RNN_relu", "LSTM", "GRU"])
@pytest.mark.parametrize("cfg", CONFIGS, ids=["plain", "2layer-bf", "bidir-nobias",
                                              "2layer-bidir"])
def test_rnn_matches_reference(device, rng, kind, cfg):
    skip_if_no_fp64(device, "float64")
    extra = dict(nonlinearity="relu") if kind == "RNN_relu" else {}
    cls = getattr(nn, kind.split("_")[0])
    mode = {"RNN": "RNN_TANH", "RNN_relu": "RNN_RELU"}.get(kind, kind)
    clt.manual_seed(1)
    m = cls(5, 4, dtype=clt.float64, **cfg, **extra)
    dirs = 2 if cfg.get("bidirectional") else 1
    layers = cfg.get("num_layers", 1)
    x = rng.standard_normal((6, 3, 5))
    h0 = rng.standard_normal((layers * dirs, 3, 4))
    c0 = rng.standard_normal((layers * dirs, 3, 4)) if mode == "LSTM" else None
    xin = x.transpose(1, 0, 2) if cfg.get("batch_first") else x
    hx = (t(h0), t(c0)) if c0 is not None else t(h0)
    out, hn = m(t(xin), hx)
    rout, rh, rc = ref_rnn(m, mode, x, h0, c0)
    if cfg.get("batch_first"):
        rout = rout.transpose(1, 0, 2)
    np.testing.assert_allclose(out.detach().numpy(), rout, atol=1e-12)
    if c0 is not None:
        np.testing.assert_allclose(hn[0].detach().numpy(), rh, atol=1e-12)
        np.testing.assert_allclose(hn[1].detach().numpy(), rc, atol=1e-12)
    else:
        np.testing.assert_allclose(hn.detach().numpy(), rh, atol=1e-12)


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_rnn_gradcheck(device, rng, kind):
    skip_if_no_fp64(device, "float64")
    m = getattr(nn, kind)(3, 2, num_layers=2, bidirectional=True, dtype=clt.float64)
    x = t(rng.standard_normal((3, 2, 3)), grad=True)
    h0 = t(rng.standard_normal((4, 2, 2)), grad=True)

    def run(a, h):
        if kind == "LSTM":
            out, (hn, cn) = m(a, (h, h * 0.5))
            return out, hn, cn
        out, hn = m(a, h)
        return out, hn

    assert gradcheck(run, [x, h0])


def test_cells(device, rng):
    skip_if_no_fp64(device, "float64")
    x = t(rng.standard_normal((2, 3)), grad=True)
    h = t(rng.standard_normal((2, 4)), grad=True)
    c = t(rng.standard_normal((2, 4)), grad=True)
    for cell, args in ((nn.RNNCell(3, 4, dtype=clt.float64), (h,)),
                       (nn.RNNCell(3, 4, nonlinearity="relu", dtype=clt.float64), (h,)),
                       (nn.LSTMCell(3, 4, dtype=clt.float64), ((h, c),)),
                       (nn.GRUCell(3, 4, bias=False, dtype=clt.float64), (h,))):
        mode = {"RNNCell": "RNN_TANH" if getattr(cell, "nonlinearity", "") == "tanh"
                else "RNN_RELU", "LSTMCell": "LSTM", "GRUCell": "GRU"}[type(cell).__name__]
        sd = {k: v.detach().numpy() for k, v in cell.state_dict().items()}
        out = cell(x, *args)
        ref = ref_cell(mode, x.detach().numpy(), h.detach().numpy(), c.detach().numpy(),
                       sd["weight_ih"], sd["weight_hh"], sd.get("bias_ih"), sd.get("bias_hh"))
        got = out if isinstance(out, tuple) else (out,)
        for a, b in zip(got, ref):
            np.testing.assert_allclose(a.detach().numpy(), b, atol=1e-12)
        if mode == "LSTM":
            assert gradcheck(lambda a, b, d: cell(a, (b, d)), [x, h, c])
        else:
            assert gradcheck(lambda a, b: cell(a, b), [x, h])
    unb = nn.GRUCell(3, 4, dtype=clt.float64)(t(rng.standard_normal(3)))
    assert tuple(unb.shape) == (4,)


def test_lstm_double_backward(device, rng):
    """create_graph through the fused cells uses their composed formulas."""
    skip_if_no_fp64(device, "float64")
    for cell in (nn.LSTMCell(2, 3, dtype=clt.float64), nn.GRUCell(2, 3, dtype=clt.float64)):
        x = t(rng.standard_normal((2, 2)), grad=True)
        h = t(rng.standard_normal((2, 3)), grad=True)
        g = t(rng.standard_normal((2, 3)))

        def dfdx(a, cell=cell, h=h, g=g):
            with clt.enable_grad():
                if not a.requires_grad:
                    a = a.detach().requires_grad_()
                out = cell(a, (h, h * 0.3)) if isinstance(cell, nn.LSTMCell) else cell(a, h)
                y = out[0] * out[1] if isinstance(out, tuple) else out
                return clt.autograd.grad([y], [a], [g], create_graph=True)[0]

        assert gradcheck(dfdx, [x])


def test_unbatched_defaults_and_dropout(device, rng):
    m = nn.LSTM(4, 3, num_layers=2, dropout=0.5)
    x = t(rng.standard_normal((5, 4)), "float32")
    out, (h, c) = m(x)
    assert tuple(out.shape) == (5, 3) and tuple(h.shape) == (2, 3) and tuple(c.shape) == (2, 3)
    m.eval()
    a, _ = m(x)
    b, _ = m(x)
    np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())
    g = nn.GRU(4, 3, batch_first=True)
    out, h = g(t(rng.standard_normal((2, 7, 4)), "float32"))
    assert tuple(out.shape) == (2, 7, 3) and tuple(h.shape) == (1, 2, 3)


def test_state_dict_loads_from_torch(device, rng):
    torch = pytest.importorskip("torch")
    for cls, kw in ((torch.nn.LSTM, dict(num_layers=2, bidirectional=True)),
                    (torch.nn.GRU, dict(batch_first=True)), (torch.nn.RNN, dict(bias=False))):
        tm = cls(5, 4, **kw)
        cm = getattr(nn, cls.__name__)(5, 4, **kw)
        assert list(cm.state_dict()) == list(tm.state_dict())
        assert repr(cm) == repr(tm)
        cm.load_state_dict({k: t(v.detach().numpy()) for k, v in tm.state_dict().items()})
        x = rng.standard_normal((3, 6, 5)).astype(np.float32)
        tx, cx = torch.tensor(x, requires_grad=True), t(x, grad=True)
        to, cout = tm(tx)[0], cm(cx)[0]
        to.sum().backward()
        cout.backward(clt.ones_like(cout))
        np.testing.assert_allclose(cout.detach().numpy(), to.detach().numpy(), atol=1e-5)
        np.testing.assert_allclose(cx.grad.numpy(), tx.grad.numpy(), atol=1e-5)
        for name, p in tm.named_parameters():
            np.testing.assert_allclose(dict(cm.named_parameters())[name].grad.numpy(),
                                       p.grad.numpy(), atol=1e-4)


def test_rnn_init_range(device):
    clt.manual_seed(0)
    m = nn.GRU(8, 16)
    bound = 1 / 4
    for p in m.parameters():
        v = p.detach().numpy()
        assert np.abs(v).max() <= bound + 1e-7


def test_gpu_style_cell_kernels(device, rng):
    x = rng.standard_normal((4, 3, 5)).astype(np.float32)
    results = []
    for dev in (device, styled_device(device, "gpu")):
        res = []
        for cls in (nn.LSTM, nn.GRU):
            clt.manual_seed(3)
            m = cls(5, 6, device=dev)
            cx = clt.tensor(x, requires_grad=True, device=dev)
            out, _ = m(cx)
            out.backward(clt.tensor(np.cos(np.arange(out.numel())).reshape(tuple(out.shape)),
                                    dtype="float32", device=dev))
            res.append((out.detach().numpy(), cx.grad.numpy()))
        results.append(res)
    for (a0, g0), (a1, g1) in zip(*results):
        np.testing.assert_allclose(a0, a1, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(g0, g1, rtol=1e-5, atol=1e-6)


def test_rnn_errors(device):
    m = nn.LSTM(5, 4, num_layers=2)
    with pytest.raises(ShapeError, match="input.size\\(-1\\) must be equal to input_size. "
                                         "Expected 5, got 3"):
        m(clt.zeros((2, 1, 3)))
    with pytest.raises(ShapeError, match=r"Expected hidden\[0\] size \(2, 1, 4\), got "
                                         r"\[1, 1, 4\]"):
        m(clt.zeros((2, 1, 5)), (clt.zeros((1, 1, 4)), clt.zeros((2, 1, 4))))
    with pytest.raises(ShapeError, match="Expected input to be 2D or 3D"):
        m(clt.zeros((5,)))
    with pytest.raises(ValueError, match="dropout should be a number in range"):
        nn.GRU(3, 3, dropout=1.5)
    with pytest.raises(ValueError, match="Unknown nonlinearity 'gelu'"):
        nn.RNN(3, 3, nonlinearity="gelu")
    with pytest.raises(NotImplementedError, match="proj_size"):
        nn.LSTM(3, 3, proj_size=2)
