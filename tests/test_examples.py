"""Every example runs (quick settings), and the digits example reaches its accuracy targets."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


def load(name: str):
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(autouse=True)
def _quiet(monkeypatch):
    monkeypatch.setenv("MPLBACKEND", "Agg")
    pytest.importorskip("sklearn")


def test_train_digits_reaches_targets(tmp_path):
    """Full settings: the MLP reaches >= 97% and the CNN >= 98% test accuracy."""
    results = load("train_digits").main(["--out", str(tmp_path)])
    assert results["mlp"] >= 0.97, results
    assert results["cnn"] >= 0.98, results
    for name in ("mlp_curves.png", "cnn_confusion.png", "mlp.safetensors", "cnn_ckpt"):
        assert (tmp_path / name).exists(), name


def test_cross_validate_example():
    result = load("cross_validate").main(["--quick"])
    assert len(result["folds"]) == 3 and 0 < result["mean"]["acc"] <= 1


def test_custom_network_example():
    assert load("custom_network").main(["--quick"]) > 0.8


def test_transfer_learning_example():
    assert load("transfer_learning").main(["--quick"]) > 0.3


def test_quickstart_runs():
    path = EXAMPLES / "quickstart.py"
    if not path.exists():
        pytest.skip("no quickstart")
    import runpy

    old = sys.argv
    sys.argv = [str(path)]
    try:
        runpy.run_path(str(path), run_name="__main__")
    finally:
        sys.argv = old
