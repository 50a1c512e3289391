"""The import-layer rule: a layer imports only from itself and the layers below it.

Every ``import`` in every module under ``clt/`` is read with ``ast`` (including imports inside
functions and ``TYPE_CHECKING`` blocks: a lazy import is still a dependency), so the test keeps
working as packages are added. Packages in the table that do not exist yet simply don't appear;
a new top-level module that is *not* in the table fails the test until it is given a layer.
"""
from __future__ import annotations

import ast
import functools
from pathlib import Path

import pytest

CLT = Path(__file__).resolve().parent.parent / "clt"

# bottom -> top; names on one line share a level and may import each other
LAYERS: list[tuple[str, ...]] = [
    ("clt.errors", "clt.dtypes"),
    ("clt.backend",),
    ("clt.ops", "clt.profiler"),                    # profiler: records backend events only
    ("clt.tensor",),
    ("clt.autograd",),
    ("clt.functions", "clt.amp", "clt.serialization"),
    ("clt.array_api",),                              # the array API namespace over functions
    ("clt.nn", "clt.optim"),
    ("clt.metrics", "clt.data", "clt.models"),
    ("clt.train", "clt.utils"),                      # utils: summaries, tuning, memory callbacks
    ("clt.parallel", "clt.distributed"),
]
ANY = ("clt", "clt.cli")   # the package __init__ and the CLIs may import anything
LEVEL = {name: level for level, names in enumerate(LAYERS) for name in names}
TOP = len(LAYERS) - 1      # importing the package root `clt` reaches every layer

# Known upward imports, each a lazy import inside one function, with the reason it exists.
# Keep this list short: fix the import (move code down, or pass the object in) rather than add
# to it. An entry that no longer occurs fails the test, so the list cannot go stale.
KNOWN_EXCEPTIONS: dict[tuple[str, str], str] = {
    ("clt/data/sampler.py", "clt.distributed"):
        "DistributedSampler asks MPI for rank and world size when they are not given",
    ("clt/train/trainer.py", "clt.parallel"):
        "Trainer(devices=[...]) wraps the model in DataParallel",
    ("clt/train/trainer.py", "clt"): "predict() concatenates outputs with clt.cat",
    ("clt/data/transforms.py", "clt"): "a transform calls clt.where",
}


def module_name(path: Path) -> str:
    parts = path.relative_to(CLT.parent).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def unit(module: str) -> str | None:
    """The layer-table entry a module belongs to ("clt.ops.reduce" -> "clt.ops")."""
    if module == "clt":
        return "clt"
    parts = module.split(".")
    if parts[0] != "clt":
        return None
    return ".".join(parts[:2])


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """(line, absolute module name) of every clt import in the file."""
    tree = ast.parse(path.read_text(), filename=str(path))
    this = module_name(path)
    package = this if path.name == "__init__.py" else this.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            if mod == "clt":
                # `from clt import dtypes` imports the module clt.dtypes; `from clt import
                # Tensor` takes a name from the package root
                for a in node.names:
                    sub = CLT / a.name
                    is_module = sub.is_dir() or sub.with_suffix(".py").is_file()
                    found.append((node.lineno, f"clt.{a.name}" if is_module else "clt"))
            else:
                found.append((node.lineno, mod))
    return [(line, m) for line, m in found if m == "clt" or m.startswith("clt.")]


def sources() -> list[Path]:
    return sorted(CLT.rglob("*.py"))


def test_every_module_has_a_layer():
    unknown = sorted({unit(module_name(p)) for p in sources()}
                     - set(LEVEL) - set(ANY))
    assert not unknown, (f"modules without a layer: {unknown}; add them to LAYERS in "
                         f"{Path(__file__).name} (and to the DESIGN notes)")


def layer_violations() -> dict[tuple[str, str], str]:
    """(file, imported unit) -> description, for every import that goes up the layers."""
    return dict(_violations(CLT))


@functools.lru_cache(maxsize=4)
def _violations(root: Path) -> tuple[tuple[tuple[str, str], str], ...]:
    found: dict[tuple[str, str], str] = {}
    for path in sources():
        importer = unit(module_name(path))
        if importer in ANY or importer not in LEVEL:
            continue
        rel = path.relative_to(CLT.parent).as_posix()
        for line, mod in imported_modules(path):
            target = unit(mod)
            level = TOP if target == "clt" else LEVEL.get(target)
            if target in ANY and target != "clt":
                level = TOP + 1
            if level is not None and level > LEVEL[importer]:
                what = "the package root `clt`" if target == "clt" else mod
                found.setdefault((rel, target), f"{rel}:{line}: {importer} (layer "
                                 f"{LEVEL[importer]}) imports {what} (layer {level})")
    return tuple(found.items())


def test_lower_layers_never_import_higher_ones():
    found = layer_violations()
    new = [msg for key, msg in found.items() if key not in KNOWN_EXCEPTIONS]
    assert not new, "layer rule broken:\n" + "\n".join(new)


def test_known_exceptions_still_exist():
    found = layer_violations()
    gone = [f"{path} -> {mod}" for path, mod in KNOWN_EXCEPTIONS
            if (CLT.parent / path).exists() and (path, mod) not in found]
    assert not gone, f"fixed, so remove from KNOWN_EXCEPTIONS: {gone}"


@pytest.mark.parametrize("source,expect", [
    ("from clt.tensor import Tensor", ["clt.tensor"]),
    ("from clt import tensor, dtypes, Tensor", ["clt.tensor", "clt.dtypes", "clt"]),
    ("import clt.nn.functional as F", ["clt.nn.functional"]),
    ("def f():\n    from ..autograd import Function", ["clt.autograd"]),
    ("from . import shapes", ["clt.ops"]),
    ("import numpy", []),
])
def test_import_scanner(tmp_path, monkeypatch, source, expect):
    """The scanner resolves absolute, relative and lazy imports (checked on a fake module)."""
    fake_root = tmp_path / "clt"
    (fake_root / "ops").mkdir(parents=True)
    (fake_root / "tensor.py").write_text("")
    (fake_root / "dtypes.py").write_text("")
    path = fake_root / "ops" / "x.py"
    path.write_text(source + "\n")
    monkeypatch.setattr(__import__(__name__), "CLT", fake_root)
    assert [m for _, m in imported_modules(path)] == expect


def test_the_rule_catches_an_upward_import(tmp_path, monkeypatch):
    fake_root = tmp_path / "clt"
    (fake_root / "backend").mkdir(parents=True)
    (fake_root / "backend" / "bad.py").write_text("from clt.tensor import Tensor\n")
    monkeypatch.setattr(__import__(__name__), "CLT", fake_root)
    with pytest.raises(AssertionError,
                       match=r"clt.backend \(layer 1\) imports clt.tensor \(layer 3\)"):
        test_lower_layers_never_import_higher_ones()
