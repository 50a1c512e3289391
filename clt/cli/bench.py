"""``clt-bench``: run the benchmark suite of a clt source checkout.

The suite lives in the top-level ``benchmarks/`` folder of the repository, which wheels do not
ship; this entry point finds it next to the ``clt`` package (an editable or in-place install)
or in the current directory, and otherwise says how to get it.
"""
from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Sequence

HINT = ("clt-bench runs the benchmark suite in the benchmarks/ folder of a clt source checkout, "
        "which installed wheels do not include: clone the repository and run `clt-bench` "
        "(or `python -m benchmarks`) from its top folder, or `pip install -e .` there")


def find_checkout() -> Path | None:
    """The folder holding ``benchmarks/suite.py``: beside the clt package, else the cwd."""
    import clt

    for root in (Path(clt.__file__).resolve().parent.parent, Path.cwd()):
        if (root / "benchmarks" / "suite.py").is_file():
            return root
    return None


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``clt-bench``; see ``clt-bench --help``."""
    root = find_checkout()
    if root is None:
        print(HINT, file=sys.stderr)
        return 2
    if str(root) not in sys.path:
        # the checkout's benchmarks package, never an unrelated installed "benchmarks"
        sys.path.insert(0, str(root))
    loaded = sys.modules.get("benchmarks")
    if loaded is not None and Path(getattr(loaded, "__file__", "") or "").parent.parent != root:
        for name in [m for m in sys.modules if m == "benchmarks" or m.startswith("benchmarks.")]:
            del sys.modules[name]
    suite = importlib.import_module("benchmarks.suite")
    return suite.main(argv)


if __name__ == "__main__":   # python -m clt.cli.bench
    sys.exit(main())
