"""Pre-built models: torchvision's structure, names and parameter counts; shapes; round trips."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

import clt
from clt import models


@pytest.mark.parametrize("name,count", [("resnet18", 11_689_512), ("resnet34", 21_797_672),
                                        ("resnet50", 25_557_032), ("vgg11", 132_863_336)])
def test_parameter_counts_match_torchvision(device, name, count):
    net = models.get_model(name, device=device)
    assert net.num_parameters() == count


def test_resnet18_state_dict_uses_torchvision_names(device):
    sd = models.resnet18(device=device).state_dict()
    assert len(sd) == 122                       # 62 parameters + 3 buffers for each of 20 BNs
    for key in ("conv1.weight", "bn1.running_mean", "bn1.num_batches_tracked",
                "layer1.0.conv1.weight", "layer1.1.bn2.bias", "layer2.0.downsample.0.weight",
                "layer2.0.downsample.1.running_var", "layer4.1.conv2.weight", "fc.weight",
                "fc.bias"):
        assert key in sd, key
    assert tuple(sd["fc.weight"].shape) == (1000, 512)
    assert tuple(sd["layer3.0.conv1.weight"].shape) == (256, 128, 3, 3)


@pytest.mark.parametrize("name,shape,kw", [
    ("mlp", (3, 1, 8, 8), dict(in_features=64, hidden=[32, 16], out_features=10)),
    ("lenet5", (2, 1, 28, 28), {}), ("resnet20", (2, 3, 32, 32), {}),
    ("vgg_cifar", (2, 3, 32, 32), {})])
def test_forward_shapes(device, name, shape, kw):
    net = models.get_model(name, device=device, **kw).eval()
    with clt.no_grad():
        out = net(clt.randn(*shape, device=device))
    assert tuple(out.shape) == (shape[0], 10)


def test_weights_round_trip_through_safetensors(device, tmp_path):
    clt.manual_seed(0)
    net = models.resnet20(device=device).eval()
    x = clt.randn(2, 3, 32, 32, device=device)
    with clt.no_grad():
        want = net(x).numpy()
    clt.save(net.state_dict(), tmp_path / "r20.safetensors")
    other = models.resnet20(device=device).eval()
    other.load_state_dict(clt.load(tmp_path / "r20.safetensors", map_location=device))
    with clt.no_grad():
        np.testing.assert_allclose(other(x).numpy(), want, rtol=1e-5, atol=1e-5)
    summary = clt.summary(other, (1, 3, 32, 32))
    assert summary.total_params == other.num_parameters()


def test_unknown_model_lists_choices():
    with pytest.raises(ValueError, match="available: .*resnet18"):
        models.get_model("alexnet")


def _torch_resnet18():
    """torchvision's ResNet-18 in torch.nn, with torchvision's module names (from the
    benchmarks, which compare against the same model)."""
    import torch

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))   # this checkout's benchmarks
    from benchmarks.workloads.resnet_memory import torch_resnet18

    return torch_resnet18(torch, classes=1000)


def test_torchvision_state_dict_gives_the_same_outputs(device, tmp_path):
    """A torchvision-layout ResNet-18 state dict, exported to safetensors, loads into
    clt.models.resnet18 and gives PyTorch's outputs (optional: needs torch)."""
    torch = pytest.importorskip("torch")
    st = pytest.importorskip("safetensors.torch")
    torch.manual_seed(0)
    ref = _torch_resnet18().eval()
    with torch.no_grad():                      # non-trivial running statistics
        for m in ref.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
    st.save_file({k: v.contiguous() for k, v in ref.state_dict().items()},
                 str(tmp_path / "resnet18.safetensors"))
    net = models.resnet18(device=device).eval()
    net.load_state_dict(clt.load(tmp_path / "resnet18.safetensors", map_location=device))
    x = np.random.default_rng(0).standard_normal((2, 3, 64, 64)).astype(np.float32)
    with torch.no_grad():
        want = ref(torch.from_numpy(x)).numpy()
    with clt.no_grad():
        got = net(clt.tensor(x, device=device)).numpy()
    np.testing.assert_allclose(got, want, rtol=2e-3, atol=2e-3)
