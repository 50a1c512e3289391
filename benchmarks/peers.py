"""The libraries clt is compared with, each optional: found, set up, or skipped with a reason.

* numpy (always; BLAS at 1 and 2 threads through threadpoolctl when it is installed)
* PyTorch CPU at 1 and 2 threads (``torch.set_num_threads``)
* pyopencl.array and CLBlast (``pyclblast``) on clt's own OpenCL context, so on the same device
* tinygrad's OpenCL backend (``DEV=CL``), on PoCL through pyopencl's bundled ICD loader

OpenMP runtimes spin-wait by default, which collapses a 2-thread run when another process holds
a core; the suite sets ``OMP_WAIT_POLICY=PASSIVE`` before torch loads and reports the better of
1 and 2 threads, so the comparison is against each peer's best setting on this machine.
"""
from __future__ import annotations

import glob
import importlib
import os
from typing import Any, Callable

FAMILIES = ("numpy", "torch", "pyopencl", "clblast", "tinygrad")
THREADS = (1, 2)


def prepare_environment() -> None:
    """Environment the peers read at import time; call before anything imports torch."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


class Peers:
    """Lazily imported peer libraries, each None when absent or unwanted (with a reason)."""

    def __init__(self, device: Any, wanted: set[str] | None = None) -> None:
        self.device = device
        self.wanted = set(FAMILIES) if wanted is None else set(wanted)
        self.reasons: dict[str, str] = {}
        self.versions: dict[str, str] = {}
        self._cache: dict[str, Any] = {}

    def _load(self, family: str, loader: Callable[[], Any]) -> Any:
        if family in self._cache:
            return self._cache[family]
        mod = None
        if family not in self.wanted:
            self.reasons[family] = "not selected (--peers)"
        else:
            try:
                mod = loader()
            except Exception as exc:   # any failure to import or set up means "absent"
                self.reasons[family] = f"{type(exc).__name__}: {exc}".splitlines()[0][:200]
        self._cache[family] = mod
        return mod

    # -- numpy ----------------------------------------------------------------------------
    def blas_threads(self, n: int) -> Callable[[], None] | None:
        """A callable limiting numpy's BLAS to ``n`` threads, or None without threadpoolctl."""
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:
            self.reasons.setdefault("numpy-threads", "threadpoolctl not installed: numpy BLAS "
                                    "measured at its default thread count")
            return None
        return lambda: threadpool_limits(limits=n, user_api="blas")

    # -- torch ----------------------------------------------------------------------------
    @property
    def torch(self) -> Any:
        def load() -> Any:
            import torch

            self.versions["torch"] = torch.__version__
            return torch
        return self._load("torch", load)

    def torch_threads(self, n: int) -> Callable[[], None]:
        torch = self.torch
        return lambda: torch.set_num_threads(n)

    # -- pyopencl.array / CLBlast on clt's context ----------------------------------------
    @property
    def cla(self) -> Any:
        """(pyopencl.array module, a queue on clt's context) or None."""
        def load() -> Any:
            import pyopencl as cl
            import pyopencl.array as cla

            self.versions["pyopencl"] = cl.VERSION_TEXT
            return cla, cl.CommandQueue(self.device.context)
        return self._load("pyopencl", load)

    @property
    def clblast(self) -> Any:
        def load() -> Any:
            import pyclblast

            self.versions["pyclblast"] = getattr(pyclblast, "__version__", "installed")
            if self.cla is None:
                raise ImportError("needs pyopencl.array")
            return pyclblast
        return self._load("clblast", load)

    # -- tinygrad -------------------------------------------------------------------------
    @property
    def tinygrad(self) -> Any:
        """The ``tinygrad`` module on its OpenCL backend, or None."""
        def load() -> Any:
            configure_tinygrad_env()
            tg = importlib.import_module("tinygrad")
            from tinygrad import Device

            if Device.DEFAULT != "CL":
                raise RuntimeError(f"tinygrad picked {Device.DEFAULT}, not its OpenCL backend")
            self.versions["tinygrad"] = _dist_version("tinygrad")
            return tg
        return self._load("tinygrad", load)

    def tinygrad_sync(self) -> None:
        from tinygrad import Device

        Device[Device.DEFAULT].synchronize()

    def describe(self) -> dict[str, Any]:
        return {"versions": dict(self.versions), "absent": dict(self.reasons)}


def configure_tinygrad_env() -> None:
    """Point tinygrad at OpenCL; with pip's PoCL, at the loader bundled in pyopencl."""
    os.environ.setdefault("DEV", "CL")
    if "OPENCL_PATH" not in os.environ:
        import pyopencl

        libs = os.path.join(os.path.dirname(pyopencl.__file__), ".libs")
        found = sorted(glob.glob(os.path.join(libs, "libOpenCL*")))
        if found:
            os.environ["OPENCL_PATH"] = found[0]


def _dist_version(name: str) -> str:
    try:
        from importlib.metadata import version

        return version(name)
    except Exception:
        return "unknown"


def family_of(impl: str) -> str:
    """"torch-2t" -> "torch", "numpy-1t" -> "numpy", "pyopencl.array" -> "pyopencl"."""
    return impl.split("-")[0].split(".")[0].split(" ")[0]
