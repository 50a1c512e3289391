"""Ahead-of-time compilation: a registry of warm-up routines, one per kernel family.

A kernel family registers a function that runs its common kernels once on tiny inputs, which
builds them (filling the in-memory and on-disk caches) and, on PoCL, also pays the first-launch
JIT. ``clt-devices --warmup`` runs every registered routine; a program can call
:func:`warmup` before its first timed step::

    from clt.backend import register_warmup

    def _warm_reduce(device):
        ...   # call the family's ops on tiny arrays

    register_warmup("reduce", _warm_reduce)
"""
from __future__ import annotations

import logging
import time
from typing import Any, Callable, Iterable

from clt.backend.program import STATS

log = logging.getLogger("clt.warmup")

WarmupFn = Callable[[Any], None]
_REGISTRY: dict[str, WarmupFn] = {}


def register_warmup(name: str, fn: WarmupFn) -> WarmupFn:
    """Register ``fn(device)`` as the warm-up of kernel family ``name`` (replaces any earlier).

    Returns ``fn``, so it can be used as ``register_warmup("x", fn)`` or via a decorator helper.
    """
    if not callable(fn):
        raise TypeError(f"warm-up for {name!r} must be callable, got {fn!r}")
    _REGISTRY[name] = fn
    return fn


def warmups() -> dict[str, WarmupFn]:
    """The registered warm-up routines, by family name, in registration order."""
    return dict(_REGISTRY)


def warmup(device: Any, names: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """Run warm-up routines on ``device`` and wait for them.

    Args:
        device: a :class:`~clt.backend.device.Device`.
        names: families to run (default: all registered).

    Programs built here also leave their binaries in the disk cache where the device's
    capability table would keep only their sources (PoCL): extracting a binary costs about as
    much as building, which an ahead-of-time step should pay so that later processes load
    programs without compiling them. ``CLT_BINARY_CACHE=0`` opts out.

    Returns:
        One record per family: ``name``, ``seconds``, ``built`` (programs compiled),
        ``disk_hits`` (programs loaded from the disk cache) and ``error`` (None if it worked).
    """
    chosen = list(_REGISTRY) if names is None else list(names)
    unknown = [n for n in chosen if n not in _REGISTRY]
    if unknown:
        raise KeyError(f"no warm-up registered for {unknown}; registered: {sorted(_REGISTRY)}")
    results = []
    kernels = getattr(device, "kernels", None)
    restore = getattr(kernels, "binaries", None)
    if kernels is not None and restore is None:
        kernels.binaries = True
    try:
        _run(device, chosen, results)
    finally:
        if kernels is not None:
            kernels.binaries = restore
    return results


def _run(device: Any, chosen: list[str], results: list[dict[str, Any]]) -> None:
    for name in chosen:
        built, hits = STATS.programs_built, STATS.disk_hits
        start = time.perf_counter()
        error = None
        try:
            _REGISTRY[name](device)
            device.synchronize()
        except Exception as exc:   # report and go on: one broken family must not hide others
            error = f"{type(exc).__name__}: {exc}"
        seconds = time.perf_counter() - start
        results.append({"name": name, "seconds": seconds, "built": STATS.programs_built - built,
                        "disk_hits": STATS.disk_hits - hits, "error": error})
        log.info("warm-up %s on %s: %.2f s", name, device, seconds)
