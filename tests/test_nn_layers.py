"""nn layers: Linear, Bilinear, Embedding, Dropout family and activations, against numpy
references, by gradcheck, and with bad input / bad hyper-parameters."""
from __future__ import annotations

import math

import numpy as np
import pytest

import clt
import clt.nn as nn
import clt.nn.functional as F
from clt.autograd import gradcheck
from clt.errors import DTypeError, ShapeError


def f64(device):
    return clt.float64 if device.supports_fp64 else clt.float32


def t(device, x, requires_grad=False, dtype=None):
    return clt.tensor(np.asarray(x), dtype=dtype or f64(device), device=device,
                      requires_grad=requires_grad)


def host(x):
    return x.detach().numpy()


# -- Linear ------------------------------------------------------------------------------------

@pytest.mark.parametrize("shape", [(5, 4), (2, 3, 4), (4,), (0, 4)], ids=str)
def test_linear_matches_numpy(device, rng, shape):
    m = nn.Linear(4, 3, device=device)
    x = rng.standard_normal(shape).astype(np.float32)
    y = m(clt.tensor(x, device=device))
    ref = x @ host(m.weight).T + host(m.bias)
    assert tuple(y.shape) == shape[:-1] + (3,)
    np.testing.assert_allclose(host(y), ref, rtol=1e-5, atol=1e-5)


def test_linear_non_contiguous_input_and_no_bias(device, rng):
    m = nn.Linear(4, 2, bias=False, device=device)
    assert m.bias is None and [n for n, _ in m.named_parameters()] == ["weight"]
    x = rng.standard_normal((4, 6)).astype(np.float32)
    xt = clt.tensor(x, device=device).t()          # (6, 4) transposed view
    np.testing.assert_allclose(host(m(xt)), x.T @ host(m.weight).T, rtol=1e-5, atol=1e-5)


def test_linear_gradcheck(device, rng):
    m = nn.Linear(3, 2, dtype=f64(device), device=device)
    x = t(device, rng.standard_normal((2, 3)), True)
    assert gradcheck(lambda a, w, b: F.linear(a, w, b), (x, m.weight, m.bias))
    assert gradcheck(lambda a, w: F.linear(a, w), (x, m.weight))


def test_linear_default_init_bounds_and_reset(device):
    clt.manual_seed(3)
    m = nn.Linear(50, 40, device=device)
    w, b = host(m.weight), host(m.bias)
    bound = 1 / math.sqrt(50)
    assert np.abs(w).max() <= bound and np.abs(b).max() <= bound
    # kaiming_uniform_(a=sqrt(5)) is U(-bound, bound): std = bound / sqrt(3)
    assert abs(w.std() - bound / math.sqrt(3)) < 0.1 * bound
    clt.manual_seed(3)
    m2 = nn.Linear(50, 40, device=device)
    np.testing.assert_array_equal(host(m2.weight), w)
    m2.reset_parameters()
    assert not np.array_equal(host(m2.weight), w)


def test_linear_device_dtype_kwargs_and_repr(device):
    m = nn.Linear(3, 2, device=device, dtype=f64(device))
    assert m.weight.dtype is f64(device) and m.weight.device is device
    assert repr(m) == "Linear(in_features=3, out_features=2, bias=True)"
    with pytest.warns(UserWarning, match="zero-element"):
        assert nn.Linear(0, 2, device=device).weight.shape == (2, 0)


def test_linear_bad_input(device):
    m = nn.Linear(4, 3, device=device)
    with pytest.raises(ShapeError, match=r"Linear\(in_features=4, out_features=3\): expected "
                                         r"input with last dimension 4, got input of shape "
                                         r"\(2, 5\)"):
        m(clt.ones(2, 5, device=device))
    with pytest.raises(ShapeError, match="last dimension 4"):
        m(clt.tensor(1.0, device=device))
    with pytest.raises(TypeError, match="expected a Tensor"):
        m(np.ones((2, 4)))
    if device.supports_fp64:
        with pytest.raises(DTypeError, match="same dtype"):
            m(clt.ones(2, 4, dtype=clt.float64, device=device))
    with pytest.raises(ShapeError, match="expects in_features=4"):
        F.linear(clt.ones(2, 3, device=device), m.weight)
    with pytest.raises(TypeError, match="in_features must be an int"):
        nn.Linear(4.0, 2)
    with pytest.raises(ValueError, match="out_features must be non-negative"):
        nn.Linear(4, -1)


def test_bilinear(device, rng):
    m = nn.Bilinear(3, 2, 4, dtype=f64(device), device=device)
    x1 = t(device, rng.standard_normal((5, 3)), True)
    x2 = t(device, rng.standard_normal((5, 2)), True)
    ref = np.einsum("ni,oij,nj->no", host(x1), host(m.weight), host(x2)) + host(m.bias)
    np.testing.assert_allclose(host(m(x1, x2)), ref, rtol=1e-10)
    assert gradcheck(lambda a, b, w, c: F.bilinear(a, b, w, c), (x1, x2, m.weight, m.bias))
    assert repr(m) == "Bilinear(in1_features=3, in2_features=2, out_features=4, bias=True)"
    with pytest.raises(ShapeError, match="expected input2 with last dimension 2"):
        m(x1, x1)


# -- Embedding ---------------------------------------------------------------------------------

def test_embedding_lookup_and_grad(device, rng):
    e = nn.Embedding(6, 3, dtype=f64(device), device=device)
    idx = np.array([[0, 2, 2], [5, 1, 0]])
    y = e(clt.tensor(idx, device=device))
    np.testing.assert_array_equal(host(y), host(e.weight)[idx])
    assert gradcheck(lambda w: F.embedding(clt.tensor(idx, device=device), w), (e.weight,))
    g = rng.standard_normal((2, 3, 3))
    y.backward(t(device, g))
    ref = np.zeros((6, 3))
    np.add.at(ref, idx, g)
    np.testing.assert_allclose(host(e.weight.grad), ref, rtol=1e-12)


def test_embedding_padding_idx(device):
    e = nn.Embedding(5, 2, padding_idx=-1, device=device)
    assert e.padding_idx == 4 and repr(e) == "Embedding(5, 2, padding_idx=4)"
    np.testing.assert_array_equal(host(e.weight)[4], 0)
    idx = clt.tensor([4, 1, 4], device=device)
    e(idx).backward(clt.ones(3, 2, device=device))
    np.testing.assert_array_equal(host(e.weight.grad)[4], 0)
    np.testing.assert_array_equal(host(e.weight.grad)[1], 1)


def test_embedding_scale_grad_by_freq_and_max_norm(device, rng):
    w = rng.standard_normal((4, 3)) * 3
    e = nn.Embedding.from_pretrained(t(device, w), freeze=False, scale_grad_by_freq=True)
    idx = clt.tensor([1, 1, 1, 2], device=device)
    e(idx).backward(t(device, np.ones((4, 3))))
    np.testing.assert_allclose(host(e.weight.grad), [[0] * 3, [1] * 3, [1] * 3, [0] * 3])
    e2 = nn.Embedding.from_pretrained(t(device, w), max_norm=1.0)
    assert not e2.weight.requires_grad
    e2(clt.tensor([0, 3], device=device))
    norms = np.linalg.norm(host(e2.weight), axis=1)
    np.testing.assert_allclose(norms[[0, 3]], 1.0, rtol=1e-5)
    np.testing.assert_allclose(norms[[1, 2]], np.linalg.norm(w, axis=1)[[1, 2]])


def test_embedding_bad_input(device):
    e = nn.Embedding(4, 2, device=device)
    with pytest.raises(DTypeError, match="int64 or int32"):
        e(clt.ones(3, device=device))
    with pytest.raises(IndexError, match="out of bounds"):
        e(clt.tensor([0, 7], device=device)).detach().numpy()
    with pytest.raises(ValueError, match="Padding_idx must be within num_embeddings"):
        nn.Embedding(4, 2, padding_idx=4)
    with pytest.raises(NotImplementedError, match="sparse"):
        nn.Embedding(4, 2, sparse=True)
    with pytest.raises(ShapeError, match="2-dimensional"):
        nn.Embedding.from_pretrained(clt.ones(3, device=device))


# -- Dropout -----------------------------------------------------------------------------------

def test_dropout_train_eval(device):
    clt.manual_seed(0)
    m = nn.Dropout(0.3)
    x = clt.ones(200, 100, device=device, requires_grad=True)
    y = m(x)
    v = host(y)
    kept = v != 0
    assert abs(1 - kept.mean() - 0.3) < 0.02
    np.testing.assert_allclose(v[kept], 1 / 0.7, rtol=1e-6)
    y.backward(clt.ones(200, 100, device=device))
    np.testing.assert_array_equal(host(x.grad), v)          # grad = mask / (1 - p)
    m.eval()
    assert m(x) is x
    assert repr(m) == "Dropout(p=0.3, inplace=False)"


def test_dropout_deterministic_with_seed(device):
    x = clt.ones(64, device=device)
    clt.manual_seed(7)
    a = host(F.dropout(x, 0.5))
    clt.manual_seed(7)
    b = host(F.dropout(x, 0.5))
    np.testing.assert_array_equal(a, b)


def test_dropout_edge_probabilities_and_inplace(device):
    x = clt.ones(10, device=device)
    assert F.dropout(x, 0.0) is x
    np.testing.assert_array_equal(host(F.dropout(x, 1.0)), 0)
    y = clt.ones(1000, device=device)
    out = F.dropout(y, 0.5, inplace=True)
    assert out is y and (host(y) == 0).any()


@pytest.mark.parametrize("p", [1.5, -0.1])
def test_dropout_bad_probability(p):
    msg = f"dropout probability has to be between 0 and 1, but got {p}"
    for cls in (nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout):
        with pytest.raises(ValueError, match=msg):
            cls(p)
    with pytest.raises(ValueError, match=msg.replace("(", r"\(")):
        F.dropout(clt.ones(2), p)


def test_dropout2d_zeroes_whole_channels(device):
    clt.manual_seed(1)
    x = clt.ones(4, 16, 3, 3, device=device)
    v = host(nn.Dropout2d(0.5)(x))
    per_channel = v.reshape(4, 16, 9)
    assert ((per_channel == 0).all(-1) | (per_channel == 2).all(-1)).all()
    assert 0 < (per_channel == 0).all(-1).mean() < 1
    assert host(nn.Dropout1d(0.5)(clt.ones(3, 5, device=device))).shape == (3, 5)
    with pytest.raises(ShapeError, match=r"Expected 3D or 4D input, but received a 2D input"):
        nn.Dropout2d()(clt.ones(3, 5, device=device))


def test_alpha_dropout_keeps_moments(device, rng):
    clt.manual_seed(2)
    x = clt.tensor(rng.standard_normal(200000).astype(np.float32), device=device)
    v = host(nn.AlphaDropout(0.2)(x))
    assert abs(v.mean()) < 0.02 and abs(v.std() - 1) < 0.02
    assert nn.AlphaDropout(0.2).eval()(x) is x


def test_dropout_gradcheck_with_fixed_mask(device, rng):
    x = t(device, rng.standard_normal((4, 5)), True)

    def fn(a):
        clt.manual_seed(11)        # the same mask at every evaluation
        return F.dropout(a, 0.4)
    assert gradcheck(fn, (x,))


# -- activations -------------------------------------------------------------------------------

def _erf(x):
    return np.vectorize(math.erf)(x)


def _softplus(x, beta=1.0, threshold=20.0):
    return np.where(x * beta > threshold, x, np.log1p(np.exp(x * beta)) / beta)


ACTIVATIONS = [
    ("ReLU", nn.ReLU(), lambda x: np.maximum(x, 0)),
    ("ReLU6", nn.ReLU6(), lambda x: np.clip(x, 0, 6)),
    ("LeakyReLU", nn.LeakyReLU(0.1), lambda x: np.where(x > 0, x, 0.1 * x)),
    ("ELU", nn.ELU(1.3), lambda x: np.where(x > 0, x, 1.3 * np.expm1(x))),
    ("SELU", nn.SELU(), lambda x: 1.0507009873554805 * np.where(
        x > 0, x, 1.6732632423543772 * np.expm1(x))),
    ("CELU", nn.CELU(0.7), lambda x: np.maximum(x, 0) + np.minimum(0, 0.7 * np.expm1(x / 0.7))),
    ("GELU", nn.GELU(), lambda x: 0.5 * x * (1 + _erf(x / math.sqrt(2)))),
    ("GELU-tanh", nn.GELU("tanh"), lambda x: 0.5 * x * (1 + np.tanh(
        math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))),
    ("SiLU", nn.SiLU(), lambda x: x / (1 + np.exp(-x))),
    ("Mish", nn.Mish(), lambda x: x * np.tanh(np.log1p(np.exp(x)))),
    ("Sigmoid", nn.Sigmoid(), lambda x: 1 / (1 + np.exp(-x))),
    ("Tanh", nn.Tanh(), np.tanh),
    ("Softplus", nn.Softplus(2.0, 3.0), lambda x: _softplus(x, 2.0, 3.0)),
    ("Hardtanh", nn.Hardtanh(-0.5, 0.8), lambda x: np.clip(x, -0.5, 0.8)),
    ("Hardsigmoid", nn.Hardsigmoid(), lambda x: np.clip(x / 6 + 0.5, 0, 1)),
    ("Hardswish", nn.Hardswish(), lambda x: x * np.clip(x + 3, 0, 6) / 6),
    ("Softsign", nn.Softsign(), lambda x: x / (1 + np.abs(x))),
    ("Tanhshrink", nn.Tanhshrink(), lambda x: x - np.tanh(x)),
    ("Softshrink", nn.Softshrink(0.3), lambda x: np.where(
        x > 0.3, x - 0.3, np.where(x < -0.3, x + 0.3, 0))),
    ("Hardshrink", nn.Hardshrink(0.3), lambda x: np.where(np.abs(x) > 0.3, x, 0)),
    ("Threshold", nn.Threshold(0.1, 20.0), lambda x: np.where(x > 0.1, x, 20.0)),
    ("LogSigmoid", nn.LogSigmoid(), lambda x: -np.log1p(np.exp(-x))),
    ("GLU", nn.GLU(-1), lambda x: x[..., :3] / (1 + np.exp(-x[..., 3:]))),
    ("PReLU", nn.PReLU(), lambda x: np.where(x > 0, x, 0.25 * x)),
]


@pytest.mark.parametrize("name,module,ref", ACTIVATIONS, ids=[a[0] for a in ACTIVATIONS])
def test_activation_matches_numpy_and_gradcheck(device, rng, name, module, ref):
    # keep samples away from the kinks (0, +-0.3, thresholds) where finite differences break
    x = rng.uniform(0.05, 4.0, size=(2, 6)) * rng.choice([-1, 1], size=(2, 6))
    module = module.to(device=device, dtype=f64(device))
    xt = t(device, x, True)
    np.testing.assert_allclose(host(module(xt)), ref(x), rtol=1e-6, atol=1e-7)
    if name == "PReLU":
        assert gradcheck(lambda a, w: F.prelu(a, w), (xt, module.weight))
    else:
        assert gradcheck(module, (xt,))


def test_activations_float32_and_non_contiguous(device, rng):
    x = rng.standard_normal((5, 4)).astype(np.float32)
    xt = clt.tensor(x, device=device).t()
    np.testing.assert_allclose(host(F.relu(xt)), np.maximum(x.T, 0))
    np.testing.assert_allclose(host(F.gelu(xt)), 0.5 * x.T * (1 + _erf(x.T / math.sqrt(2))),
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(host(F.leaky_relu(xt, 0.2)), np.where(x.T > 0, x.T, 0.2 * x.T),
                               rtol=1e-6)


def test_prelu_per_channel(device, rng):
    m = nn.PReLU(3, init=0.1, device=device, dtype=f64(device))
    x = t(device, rng.uniform(0.1, 2, (2, 3, 4)) * rng.choice([-1, 1], (2, 3, 4)), True)
    m.weight.data = t(device, [0.1, 0.2, 0.3])
    w = np.array([0.1, 0.2, 0.3])[None, :, None]
    np.testing.assert_allclose(host(m(x)), np.where(host(x) > 0, host(x), w * host(x)))
    assert gradcheck(lambda a, p: F.prelu(a, p), (x, m.weight))
    assert repr(m) == "PReLU(num_parameters=3)"
    with pytest.raises(ShapeError, match="Mismatch of parameter numbers and input channel"):
        m(clt.ones(2, 4, device=device, dtype=f64(device)))


def test_inplace_activations(device):
    x = clt.tensor([-1.0, 2.0, -3.0], device=device)
    y = nn.ReLU(inplace=True)(x)
    assert y is x and host(x).tolist() == [0.0, 2.0, 0.0]
    z = clt.tensor([-1.0, 2.0], device=device)
    F.leaky_relu(z, 0.5, inplace=True)
    assert host(z).tolist() == [-0.5, 2.0]
    # in place on a computed tensor keeps autograd correct
    a = clt.tensor([-1.0, 2.0], device=device, requires_grad=True)
    b = a * 1
    F.relu_(b)
    b.backward(clt.ones(2, device=device))
    assert host(a.grad).tolist() == [0.0, 1.0]
    assert repr(nn.ReLU(inplace=True)) == "ReLU(inplace=True)"


def test_activation_bad_arguments(device):
    with pytest.raises(ValueError, match="approximate argument must be either none or tanh"):
        nn.GELU("fast")
    with pytest.raises(ValueError, match="approximate argument"):
        F.gelu(clt.ones(2, device=device), approximate="x")
    with pytest.raises(ValueError, match="max_val"):
        nn.Hardtanh(1.0, -1.0)
    with pytest.raises(ZeroDivisionError):
        F.celu(clt.ones(2, device=device), alpha=0.0)
    with pytest.raises(DTypeError, match="floating point"):
        F.leaky_relu(clt.tensor([1, 2], device=device))
    with pytest.raises(TypeError, match="must be Tensor"):
        F.relu([1.0, 2.0])
    with pytest.raises(ShapeError, match="Halving dimension must be even"):
        F.glu(clt.ones(2, 3, device=device))
    assert repr(nn.Softplus()) == "Softplus(beta=1.0, threshold=20.0)"
    assert repr(nn.GELU("tanh")) == "GELU(approximate='tanh')"


def test_rrelu(device, rng):
    x = clt.tensor(-np.ones(1000, np.float32), device=device)
    m = nn.RReLU(0.1, 0.3)
    v = host(m(x))
    assert ((v <= -0.1) & (v >= -0.3)).all() and v.std() > 0.01
    np.testing.assert_allclose(host(m.eval()(x)), -0.2, rtol=1e-6)


# softmax-type activations use the reductions family's softmax
def _has_softmax():
    try:
        from clt.functions import reduce as R   # noqa: F401
        return hasattr(R, "softmax")
    except ImportError:
        return False


@pytest.mark.skipif(not _has_softmax(), reason="reductions family not available")
def test_softmax_modules(device, rng):
    x = rng.standard_normal((3, 4, 2))
    xt = t(device, x, True)
    e = np.exp(x - x.max(1, keepdims=True))
    sm = e / e.sum(1, keepdims=True)
    np.testing.assert_allclose(host(nn.Softmax(dim=1)(xt)), sm, rtol=1e-10)
    np.testing.assert_allclose(host(nn.LogSoftmax(dim=1)(xt)), np.log(sm), rtol=1e-10)
    em = np.exp(-x - (-x).max(1, keepdims=True))
    np.testing.assert_allclose(host(nn.Softmin(dim=1)(xt)), em / em.sum(1, keepdims=True),
                               rtol=1e-10)
    assert gradcheck(lambda a: F.log_softmax(a, dim=-1), (xt,))
    assert repr(nn.Softmax(dim=1)) == "Softmax(dim=1)"
    with pytest.warns(UserWarning, match="Implicit dimension choice"):
        F.softmax(xt)


# -- functional helpers: distances, normalisation, padding -------------------------------------

@pytest.mark.skipif(not _has_softmax(), reason="reductions family not available")
def test_normalize_cosine_pairwise(device, rng):
    a, b = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    at, bt = t(device, a, True), t(device, b, True)
    np.testing.assert_allclose(host(F.normalize(at, dim=1)),
                               a / np.linalg.norm(a, axis=1, keepdims=True), rtol=1e-10)
    cos = (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    np.testing.assert_allclose(host(F.cosine_similarity(at, bt)), cos, rtol=1e-10)
    np.testing.assert_allclose(host(F.pairwise_distance(at, bt)),
                               np.linalg.norm(a - b + 1e-6, axis=1), rtol=1e-10)
    assert gradcheck(lambda u, v: F.cosine_similarity(u, v), (at, bt))
    assert gradcheck(lambda u: F.normalize(u, p=1.0, dim=0), (at,))


PAD_REFS = {"constant": "constant", "reflect": "reflect", "replicate": "edge",
            "circular": "wrap"}


@pytest.mark.parametrize("mode", list(PAD_REFS))
def test_pad(device, rng, mode):
    x = rng.standard_normal((2, 3, 4))
    xt = t(device, x, True)
    pad = (2, 1, 1, 2)
    out = F.pad(xt, pad, mode=mode)
    ref = np.pad(x, ((0, 0), (1, 2), (2, 1)), mode=PAD_REFS[mode])
    np.testing.assert_allclose(host(out), ref)
    assert gradcheck(lambda a: F.pad(a, pad, mode=mode), (xt,))


def test_pad_constant_value_and_cropping(device):
    x = clt.tensor([[1.0, 2.0, 3.0]], device=device)
    assert host(F.pad(x, (1, 1), value=9.0)).tolist() == [[9.0, 1.0, 2.0, 3.0, 9.0]]
    assert host(F.pad(x, (-1, 1))).tolist() == [[2.0, 3.0, 0.0]]
    with pytest.raises(ValueError, match="divisible by 2"):
        F.pad(x, (1,))
    with pytest.raises(ValueError, match="Padding size should be less than"):
        F.pad(x, (3, 0), mode="reflect")
    with pytest.raises(NotImplementedError, match="Unsupported padding mode"):
        F.pad(x, (1, 1), mode="symmetric")


def test_activations_against_torch(device, rng):
    torch = pytest.importorskip("torch")
    if not device.supports_fp64:
        pytest.skip("compared in float64")
    pairs = [("ReLU6", ()), ("LeakyReLU", (0.1,)), ("ELU", (1.3,)), ("SELU", ()),
             ("CELU", (0.7,)), ("GELU", ("tanh",)), ("SiLU", ()), ("Mish", ()),
             ("Softplus", (2.0, 3.0)), ("Hardtanh", (-0.5, 0.8)), ("Hardsigmoid", ()),
             ("Hardswish", ()), ("Softsign", ()), ("Tanhshrink", ()), ("Softshrink", (0.3,)),
             ("Hardshrink", (0.3,)), ("Threshold", (0.1, 20.0)), ("LogSigmoid", ()),
             ("GLU", (0,)), ("Softmax", (1,)), ("LogSoftmax", (0,)), ("Softmin", (1,))]
    x = rng.uniform(0.05, 4.0, size=(4, 6)) * rng.choice([-1, 1], size=(4, 6))
    g = rng.standard_normal((4, 6))
    for name, args in pairs:
        ours = getattr(nn, name)(*args)
        ref = getattr(torch.nn, name)(*args)
        xt = t(device, x, True)
        tx = torch.tensor(x, requires_grad=True)
        y, ty = ours(xt), ref(tx)
        np.testing.assert_allclose(host(y), ty.detach().numpy(), rtol=1e-10, atol=1e-12,
                                   err_msg=name)
        y.backward(t(device, g[:y.shape[0]]))
        ty.backward(torch.tensor(g[:ty.shape[0]]))
        # rtol 1e-7: torch's own CELU gradient is off by ~1e-8 (ours matches exp(x / alpha))
        np.testing.assert_allclose(host(xt.grad), tx.grad.numpy(), rtol=1e-7, atol=1e-12,
                                   err_msg=name)
        assert repr(ours) == repr(ref), (repr(ours), repr(ref))
