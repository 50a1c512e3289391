"""clt.save / clt.load: round trips, device independence, atomicity, corrupt files."""
from __future__ import annotations

import json
import struct
from collections import OrderedDict

import numpy as np
import pytest

import clt
from clt.serialization import CheckpointError


def test_tensor_and_state_dict_round_trip(device, tmp_path):
    t = clt.tensor(np.arange(6, dtype=np.float32).reshape(2, 3), device=device)
    clt.save(t.T, tmp_path / "t.safetensors")          # non-contiguous view saved by value
    back = clt.load(tmp_path / "t.safetensors", map_location=device)
    np.testing.assert_array_equal(back.numpy(), t.T.numpy())
    sd = OrderedDict(w=t, b=clt.tensor([1, 2], device=device),
                     h=clt.tensor(np.ones(2, np.float16), device=device))
    clt.save(sd, tmp_path / "sd.safetensors")
    got = clt.load(tmp_path / "sd.safetensors", map_location=device)
    assert isinstance(got, OrderedDict) and list(got) == ["w", "b", "h"]
    assert got["b"].dtype == clt.int64 and got["h"].dtype == clt.float16


def test_checkpoint_structure(device, tmp_path):
    ckpt = {"model": {"fc.weight": clt.ones(2, 2, device=device)},
            "optimizer": {"state": {0: {"step": 3, "exp_avg": clt.zeros(2, device=device)}},
                          "param_groups": [{"lr": 0.1, "betas": (0.9, 0.999), "params": [0]}]},
            "epoch": 7, "best": float("inf"), "name": "run", "rng": np.arange(4, dtype=np.uint32),
            "none": None}
    clt.save(ckpt, tmp_path / "c.ckpt", metadata={"note": "hello"})
    got = clt.load(tmp_path / "c.ckpt", map_location=device)
    assert got["epoch"] == 7 and got["best"] == float("inf") and got["none"] is None
    assert got["optimizer"]["state"][0]["step"] == 3
    assert got["optimizer"]["param_groups"][0]["betas"] == (0.9, 0.999)
    assert got["rng"].dtype == np.uint32
    np.testing.assert_array_equal(got["model"]["fc.weight"].numpy(), np.ones((2, 2)))
    assert clt.serialization.load_metadata(tmp_path / "c.ckpt")["note"] == "hello"


def test_file_is_plain_safetensors(device, tmp_path):
    clt.save({"a": clt.ones(3, device=device)}, tmp_path / "x.safetensors")
    raw = (tmp_path / "x.safetensors").read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    assert header["a"] == {"dtype": "F32", "shape": [3], "data_offsets": [0, 12]}
    assert n % 8 == 0
    st = pytest.importorskip("safetensors.numpy")
    np.testing.assert_array_equal(st.load_file(str(tmp_path / "x.safetensors"))["a"], np.ones(3))


def test_corrupt_and_truncated_files(device, tmp_path):
    p = tmp_path / "c.safetensors"
    clt.save({"a": clt.ones(100, device=device)}, p)
    data = p.read_bytes()
    p.write_bytes(data[:-10])
    with pytest.raises(CheckpointError, match="corrupt or truncated"):
        clt.load(p, map_location=device)
    p.write_bytes(b"\x05\x00")
    with pytest.raises(CheckpointError, match="not a safetensors"):
        clt.load(p)
    p.write_bytes(struct.pack("<Q", 4) + b"{{{{")
    with pytest.raises(CheckpointError, match="unreadable header"):
        clt.load(p)
    with pytest.raises(FileNotFoundError):
        clt.load(tmp_path / "missing")


def test_save_is_atomic_and_refuses_unknown_objects(device, tmp_path):
    p = tmp_path / "keep.ckpt"
    clt.save({"v": clt.ones(2, device=device)}, p)
    before = p.read_bytes()
    with pytest.raises(TypeError, match="can't store an object of type object"):
        clt.save({"v": clt.zeros(2, device=device), "bad": object()}, p)
    assert p.read_bytes() == before                  # previous checkpoint intact
    assert [x.name for x in tmp_path.iterdir()] == ["keep.ckpt"]   # no temp files left


def test_zero_dim_tensors_keep_their_shape(device, tmp_path):
    clt.save({"n": clt.tensor(3, device=device), "a": np.float32(2.5)}, tmp_path / "z.ckpt")
    got = clt.load(tmp_path / "z.ckpt", map_location=device)
    assert tuple(got["n"].shape) == () and got["n"].item() == 3
