"""Re-export the public names of a list of family modules into a namespace."""
from __future__ import annotations

import importlib
from typing import Any


def collect(namespace: dict[str, Any], modules: list[str]) -> list[str]:
    """Import each module (skipping ones not written yet) and copy its ``__all__`` names."""
    names: list[str] = []
    for module in modules:
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise
            continue
        for name in getattr(mod, "__all__", ()):
            namespace[name] = getattr(mod, name)
            names.append(name)
    return names
