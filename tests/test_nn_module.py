"""nn.Module core and containers: registration, state_dict, modes, dtype moves, hooks, repr."""
from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pytest

import clt
import clt.nn as nn
from clt.errors import ShapeError


def mlp(device, dtype=None):
    return nn.Sequential(nn.Linear(4, 8, device=device, dtype=dtype), nn.ReLU(),
                         nn.Dropout(0.1), nn.Linear(8, 3, device=device, dtype=dtype))


def test_named_parameters_order_and_names(device):
    m = mlp(device)
    assert [n for n, _ in m.named_parameters()] == ["0.weight", "0.bias", "3.weight", "3.bias"]
    assert [tuple(p.shape) for p in m.parameters()] == [(8, 4), (8,), (3, 8), (3,)]
    assert all(p.requires_grad for p in m.parameters())
    assert m.num_parameters() == 8 * 4 + 8 + 3 * 8 + 3


def test_shared_parameters_are_listed_once(device):
    lin = nn.Linear(3, 3, device=device)
    m = nn.Sequential(lin, nn.Tanh(), lin)
    assert len(list(m.parameters())) == 2
    assert [n for n, _ in m.named_modules()] == ["", "0", "1"]
    # state_dict lists a shared module under every name, as PyTorch (checkpoints match)
    assert list(m.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    m.load_state_dict(m.state_dict())


def test_state_dict_round_trip(device):
    clt.manual_seed(0)
    a, b = mlp(device), mlp(device)
    sd = a.state_dict()
    assert list(sd) == ["0.weight", "0.bias", "3.weight", "3.bias"]
    assert not any(t.requires_grad for t in sd.values())
    res = b.load_state_dict(sd)
    assert res.missing_keys == [] and res.unexpected_keys == []
    for (na, pa), (nb, pb) in zip(a.named_parameters(), b.named_parameters()):
        assert na == nb
        np.testing.assert_array_equal(pa.detach().numpy(), pb.detach().numpy())
    # loading copies values: the parameters stay distinct objects with their own storage
    assert b[0].weight is not a[0].weight
    x = clt.tensor(np.random.default_rng(0).standard_normal((2, 4)).astype(np.float32),
                   device=device)
    a.eval(), b.eval()
    np.testing.assert_allclose(a(x).detach().numpy(), b(x).detach().numpy())


def test_state_dict_from_numpy_values(device):
    m = nn.Linear(2, 2, device=device)
    sd = {"weight": np.eye(2, dtype=np.float32), "bias": np.zeros(2, np.float32)}
    m.load_state_dict(sd)
    np.testing.assert_array_equal(m.weight.detach().numpy(), np.eye(2))


def test_load_state_dict_strict_errors_list_keys(device):
    m = mlp(device)
    sd = m.state_dict()
    del sd["3.bias"]
    sd["extra.weight"] = clt.zeros(1, device=device)
    with pytest.raises(RuntimeError) as err:
        m.load_state_dict(sd)
    msg = str(err.value)
    assert 'Missing key(s) in state_dict: "3.bias"' in msg
    assert 'Unexpected key(s) in state_dict: "extra.weight"' in msg
    res = m.load_state_dict(sd, strict=False)
    assert res.missing_keys == ["3.bias"] and res.unexpected_keys == ["extra.weight"]


def test_load_state_dict_size_mismatch(device):
    m = nn.Linear(4, 3, device=device)
    bad = {"weight": clt.zeros(3, 5, device=device), "bias": clt.zeros(3, device=device)}
    with pytest.raises(RuntimeError, match=r"size mismatch for weight: copying a param with "
                                           r"shape \(3, 5\) from checkpoint, the shape in "
                                           r"current model is \(3, 4\)"):
        m.load_state_dict(bad)


def test_buffers_in_state_dict(device):
    loss = nn.CrossEntropyLoss(weight=clt.ones(3, device=device))
    assert list(loss.state_dict()) == ["weight"]
    m = nn.Module()
    m.register_buffer("running", clt.zeros(2, device=device))
    m.register_buffer("tmp", clt.zeros(2, device=device), persistent=False)
    assert list(m.state_dict()) == ["running"]
    assert [n for n, _ in m.named_buffers()] == ["running", "tmp"]


def test_train_eval_propagates(device):
    m = mlp(device)
    assert m.training and m[2].training
    m.eval()
    assert not m.training and not m[2].training
    x = clt.ones(5, 4, device=device)
    y1, y2 = m(x), m(x)
    np.testing.assert_array_equal(y1.detach().numpy(), y2.detach().numpy())  # no dropout
    m.train()
    assert m[2].training
    with pytest.raises(ValueError, match="training mode is expected to be boolean"):
        m.train("yes")


def test_to_dtype_keeps_parameter_objects(device):
    if not device.supports_fp64:
        pytest.skip("no fp64")
    m = mlp(device)
    before = list(m.parameters())
    m.to(clt.float64)
    after = list(m.parameters())
    assert all(a is b for a, b in zip(before, after))
    assert all(p.dtype is clt.float64 for p in after)
    y = m(clt.ones(2, 4, dtype=clt.float64, device=device))
    assert y.dtype is clt.float64
    m.float()
    assert all(p.dtype is clt.float32 for p in m.parameters())
    with pytest.raises(TypeError, match="floating point"):
        m.to(clt.int32)


def test_zero_grad(device):
    m = nn.Linear(3, 2, device=device)
    m(clt.ones(4, 3, device=device)).backward(clt.ones(4, 2, device=device))
    assert m.weight.grad is not None
    m.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(m.weight.grad.numpy(), 0)
    m.zero_grad()
    assert m.weight.grad is None


def test_forward_hooks(device):
    m = nn.Linear(3, 2, device=device)
    seen = []
    h1 = m.register_forward_pre_hook(lambda mod, args: seen.append(("pre", args[0].shape)))
    h2 = m.register_forward_hook(lambda mod, args, out: out * 0)
    y = m(clt.ones(1, 3, device=device))
    assert seen == [("pre", clt.Size([1, 3]))]
    np.testing.assert_array_equal(y.detach().numpy(), 0)
    h1.remove(), h2.remove()
    y = m(clt.ones(1, 3, device=device))
    assert len(seen) == 1 and np.abs(y.detach().numpy()).sum() > 0


def test_repr_tree(device):
    m = nn.Sequential(OrderedDict([
        ("fc", nn.Linear(4, 8, device=device)), ("act", nn.LeakyReLU(0.2)),
        ("block", nn.Sequential(nn.Dropout(0.5), nn.Linear(8, 2, bias=False, device=device))),
    ]))
    assert repr(m) == (
        "Sequential(\n"
        "  (fc): Linear(in_features=4, out_features=8, bias=True)\n"
        "  (act): LeakyReLU(negative_slope=0.2)\n"
        "  (block): Sequential(\n"
        "    (0): Dropout(p=0.5, inplace=False)\n"
        "    (1): Linear(in_features=8, out_features=2, bias=False)\n"
        "  )\n"
        ")")


def test_apply_and_modules(device):
    m = mlp(device)
    names = []
    m.apply(lambda mod: names.append(type(mod).__name__))
    assert names == ["Linear", "ReLU", "Dropout", "Linear", "Sequential"]
    assert sum(isinstance(x, nn.Linear) for x in m.modules()) == 2


# -- containers --------------------------------------------------------------------------------

def test_sequential_indexing_slicing_and_mutation(device):
    a, b, c = nn.ReLU(), nn.Tanh(), nn.Sigmoid()
    s = nn.Sequential(a, b)
    assert len(s) == 2 and s[0] is a and s[-1] is b
    assert list(s) == [a, b]
    s.append(c)
    assert s[2] is c
    sub = s[1:]
    assert isinstance(sub, nn.Sequential) and list(sub) == [b, c]
    s.insert(0, nn.Identity())
    assert isinstance(s[0], nn.Identity) and s[1] is a
    s.extend([nn.ReLU6()])
    assert len(s) == 5
    del s[0]
    assert s[0] is a and list(s._modules) == ["0", "1", "2", "3"]
    s[1] = nn.GELU()
    assert isinstance(s[1], nn.GELU)
    with pytest.raises(IndexError, match="out of range"):
        s[10]
    with pytest.raises(TypeError, match="not a Module"):
        nn.Sequential(lambda x: x)


def test_sequential_from_ordered_dict_runs(device):
    s = nn.Sequential(OrderedDict([("flat", nn.Flatten()),
                                   ("fc", nn.Linear(6, 2, device=device))]))
    y = s(clt.ones(3, 2, 3, device=device))
    assert tuple(y.shape) == (3, 2)
    assert s.fc is s[1]


def test_module_list_and_dict(device):
    layers = nn.ModuleList([nn.Linear(2, 2, device=device) for _ in range(3)])
    assert len(layers) == 3 and len(list(layers.parameters())) == 6
    layers.append(nn.ReLU())
    layers += [nn.Tanh()]
    assert len(layers) == 5 and isinstance(layers[-1], nn.Tanh)
    assert [n for n, _ in layers.named_parameters()][:2] == ["0.weight", "0.bias"]
    d = nn.ModuleDict({"a": nn.Linear(2, 3, device=device), "b": nn.ReLU()})
    assert list(d.keys()) == ["a", "b"] and "a" in d
    d["c"] = nn.Tanh()
    assert [k for k, _ in d.items()] == ["a", "b", "c"]
    assert len(list(d.parameters())) == 2
    d2 = nn.ModuleDict(d)
    assert list(d2.keys()) == ["a", "b", "c"] and d2["a"] is d["a"]
    d2.update([("z", nn.Identity())])
    assert list(d2)[-1] == "z"
    with pytest.raises(TypeError, match="iterable"):
        nn.ModuleList(nn.ReLU())


def test_parameter_list_and_dict(device):
    pl = nn.ParameterList([clt.zeros(2, device=device),
                           nn.Parameter(clt.ones(3, device=device))])
    assert len(pl) == 2 and all(isinstance(p, nn.Parameter) for p in pl)
    assert [n for n, _ in pl.named_parameters()] == ["0", "1"]
    pl.append(clt.zeros(1, device=device))
    assert len(list(pl.parameters())) == 3
    pd = nn.ParameterDict({"w": clt.zeros(2, device=device)})
    pd["b"] = clt.ones(1, device=device)
    assert list(pd.keys()) == ["w", "b"] and isinstance(pd["b"], nn.Parameter)
    assert list(nn.ParameterDict(pd).keys()) == ["w", "b"]
    holder = nn.Module()
    holder.params = pd
    assert [n for n, _ in holder.named_parameters()] == ["params.w", "params.b"]


def test_flatten_unflatten(device):
    x = clt.ones(2, 3, 4, 5, device=device)
    assert tuple(nn.Flatten()(x).shape) == (2, 60)
    assert tuple(nn.Flatten(0, 2)(x).shape) == (24, 5)
    assert tuple(nn.Unflatten(1, (3, 1))(clt.ones(2, 3, device=device)).shape) == (2, 3, 1)
    assert tuple(nn.Unflatten(-1, (2, -1))(clt.ones(2, 6, device=device)).shape) == (2, 2, 3)
    assert repr(nn.Unflatten(1, (2, 5))) == "Unflatten(dim=1, unflattened_size=(2, 5))"
    with pytest.raises(TypeError, match="tuple of ints"):
        nn.Unflatten(1, 5)
    with pytest.raises((ShapeError, RuntimeError, ValueError)):
        nn.Unflatten(1, (4, 2))(clt.ones(2, 6, device=device))


def test_identity_ignores_arguments(device):
    m = nn.Identity(54, unused="x")
    x = clt.ones(2, device=device)
    assert m(x) is x


def test_reprs_match_torch(device):
    torch = pytest.importorskip("torch")

    def build(m):
        return m.Sequential(m.Linear(4, 8), m.ReLU(inplace=True), m.Dropout(0.25),
                            m.Embedding(10, 3, padding_idx=0), m.Flatten(0, -1),
                            m.Unflatten(1, (2, 4)), m.Bilinear(2, 3, 4, bias=False),
                            m.Identity(), m.PReLU(3), m.CrossEntropyLoss(), m.Softmax(dim=-1),
                            m.ModuleList([m.Tanh(), m.GELU("tanh")]),
                            m.ModuleDict({"a": m.SiLU(), "b": m.LeakyReLU(0.2, True)}))
    assert repr(build(nn)) == repr(build(torch.nn))
