"""Pre-built models: torchvision's structure, names and parameter counts; shapes; round trips."""
from __future__ import annotations

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
