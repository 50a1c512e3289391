"""Packaging: metadata, and the kernel templates found from a wheel and an editable install.

The install tests build from a copy of the working tree with the tools already installed
(``--no-build-isolation --no-index``: no network), install into a throwaway place, and run a
kernel from there in a fresh interpreter whose working directory is outside the repository.
"""
from __future__ import annotations

import configparser
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import pytest

import clt.backend as B

REPO = Path(__file__).resolve().parent.parent
NO_NETWORK = ["--no-deps", "--no-build-isolation", "--no-index", "--disable-pip-version-check",
              "--quiet"]

RUN_KERNEL = """
import json, sys
import numpy as np
import clt
from clt.backend import find_kernel_dir
x = clt.tensor([1.0, 2.0, 3.0])
y = (x * 2 + 1).numpy()
assert np.array_equal(y, np.array([3.0, 5.0, 7.0], np.float32)), y
print(json.dumps({"clt": clt.__file__, "kernels": str(find_kernel_dir()),
                  "device": str(x.device)}))
"""


def setup_cfg() -> configparser.ConfigParser:
    cfg = configparser.ConfigParser()
    cfg.read(REPO / "setup.cfg")
    return cfg


def requirement_names(text: str) -> list[str]:
    return [re.split(r"[<>=!~\[; ]", line.strip())[0].lower()
            for line in text.strip().splitlines() if line.strip()]


def test_metadata_dependencies_and_extras():
    cfg = setup_cfg()
    assert set(requirement_names(cfg["options"]["install_requires"])) >= {
        "pyopencl", "numpy", "mako"}
    extras = cfg["options.extras_require"]
    assert "pocl-binary-distribution" in requirement_names(extras["pocl"])
    test = requirement_names(extras["test"])
    for needed in ("pytest", "pytest-xdist", "build", "setuptools", "wheel"):
        assert needed in test, needed
    for name in extras:
        assert "torch" not in requirement_names(extras[name]), f"torch in extra {name!r}"
    scripts = cfg["options.entry_points"]["console_scripts"]
    assert "clt-devices = clt.cli.devices:main" in scripts


def test_pyproject_is_build_system_only():
    text = (REPO / "pyproject.toml").read_text()
    tables = re.findall(r"^\[([^\]]+)\]", text, flags=re.M)
    assert tables == ["build-system"]
    assert "setuptools.build_meta" in text


def readme_commands() -> list[str]:
    """The README's shell commands, from its fenced ``sh`` blocks, in order."""
    text = (REPO / "README.md").read_text()
    return [block.strip() for block in re.findall(r"```sh\n(.*?)```", text, flags=re.S)]


def test_readme_has_the_two_setup_commands_and_ci_runs_the_second():
    commands = readme_commands()
    assert len(commands) >= 2
    first, second = commands[0], commands[1]
    assert 'pip install ".[pocl]"' in first and "clt-devices --check" in first
    assert "examples/quickstart.py" in first
    assert "[pocl,test]" in second and "pytest" in second
    ci = (REPO / ".ci" / "run").read_text()
    assert second in ci, "the CI script must run the README's second command verbatim"
    for var in ("XDG_CACHE_HOME", "POCL_CACHE_DIR", "CLT_CACHE_DIR"):
        assert var in ci


def copy_tree(dst: Path) -> Path:
    """The files a build needs, from the working tree (so uncommitted work is tested too)."""
    src = dst / "src"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "build", "dist")
    for folder in ("clt", "kernels"):
        shutil.copytree(REPO / folder, src / folder, ignore=ignore)
    for name in ("setup.cfg", "setup.py", "pyproject.toml", "README.md"):
        if (REPO / name).exists():
            shutil.copy(REPO / name, src / name)
    return src


def dependency_paths() -> list[str]:
    """``PYTHONPATH`` entries other than a clt checkout: where this environment's packages may
    live (``pip install --target``), which the installs under test still need."""
    return [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep)
            if p and not (Path(p) / "clt" / "__init__.py").is_file()]


def run_outside(python: str, cwd: Path, env_extra: dict) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(env_extra)
    paths = [env_extra["PYTHONPATH"]] if "PYTHONPATH" in env_extra else []
    if paths + dependency_paths():
        env["PYTHONPATH"] = os.pathsep.join(paths + dependency_paths())
    proc = subprocess.run([python, "-c", textwrap.dedent(RUN_KERNEL)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def pip(*args: str, python: str = sys.executable) -> None:
    proc = subprocess.run([python, "-m", "pip", *args], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.fixture(scope="module")
def needs_device():
    if not B.device_infos():
        pytest.skip("no OpenCL device")


def test_wheel_installed_into_a_target_dir_finds_its_kernels(tmp_path, needs_device):
    src = copy_tree(tmp_path)
    dist, target, elsewhere = tmp_path / "dist", tmp_path / "target", tmp_path / "elsewhere"
    elsewhere.mkdir()
    pip("wheel", *NO_NETWORK, "-w", str(dist), str(src))
    (wheel,) = dist.glob("clt-*.whl")
    names = set(subprocess.run([sys.executable, "-m", "zipfile", "-l", str(wheel)],
                               capture_output=True, text=True, check=True).stdout.split())
    assert "clt/_kernels/common.cl.mako" in names and "clt/_kernels/probe.cl.mako" in names
    assert "clt/cli/devices.py" in names and "clt/backend/program.py" in names
    pip("install", *NO_NETWORK, "--target", str(target), str(wheel))
    out = run_outside(sys.executable, elsewhere,
                      {"PYTHONPATH": str(target), "CLT_CACHE_DIR": str(tmp_path / "cache")})
    assert out["clt"].startswith(str(target))
    assert out["kernels"] == str(target / "clt" / "_kernels")
    # the console script installed with the wheel runs and checks a device
    script = target / "bin" / "clt-devices"
    proc = subprocess.run([sys.executable, str(script), "--check", "--device", "0"],
                          cwd=elsewhere, capture_output=True, text=True, timeout=120,
                          env=dict(os.environ,
                                   PYTHONPATH=os.pathsep.join([str(target)] + dependency_paths()),
                                   CLT_CACHE_DIR=str(tmp_path / "cache")))
    assert proc.returncode == 0 and "PASS" in proc.stdout, proc.stdout + proc.stderr


def test_editable_install_finds_the_top_level_kernels(tmp_path, needs_device):
    src = copy_tree(tmp_path)
    venv, elsewhere = tmp_path / "venv", tmp_path / "elsewhere"
    elsewhere.mkdir()
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True,
                   timeout=120)
    python = str(venv / "bin" / "python")
    site = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                          capture_output=True, text=True, check=True).stdout.strip()
    # the test environment's packages (pyopencl, numpy, setuptools, pip) without copying them;
    # "zz" sorts after the editable install's own .pth file
    Path(site, "zz_parent_env.pth").write_text(sysconfig.get_path("purelib") + "\n")
    pip("install", *NO_NETWORK, "-e", str(src), python=python)
    out = run_outside(python, elsewhere, {"CLT_CACHE_DIR": str(tmp_path / "cache")})
    assert out["clt"].startswith(str(src))
    assert out["kernels"] == str(src / "kernels")


def test_quickstart_runs(tmp_path, needs_device):
    """README's main job: examples/quickstart.py runs and checks itself against numpy."""
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, str(REPO / "examples" / "quickstart.py")], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "device: cl:" in proc.stdout and "matches numpy: yes" in proc.stdout
