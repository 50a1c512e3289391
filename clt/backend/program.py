"""Rendering kernel templates from ``kernels/`` and building them, cached per device and on disk."""
from __future__ import annotations

import functools
import hashlib
import logging
import os
import re
import tempfile
import threading
import time
import warnings
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import pyopencl as cl
import pyopencl.cltypes as cltypes

from clt.backend.capabilities import cache_dir
from clt.errors import KernelBuildError, KernelRenderError

log = logging.getLogger("clt.kernels")

Params = tuple[tuple[str, Any], ...]
DEFAULT_OPTIONS: tuple[str, ...] = ("-cl-std=CL1.2",)


def find_kernel_dir() -> Path:
    """The folder holding the ``*.cl.mako`` templates.

    Order: ``$CLT_KERNEL_DIR``; ``clt/_kernels`` inside an installed wheel; the top-level
    ``kernels/`` of a checkout or editable install (the package's parent folder).
    """
    explicit = os.environ.get("CLT_KERNEL_DIR")
    if explicit:
        return Path(explicit)
    pkg = Path(__file__).resolve().parent.parent
    for candidate in (pkg / "_kernels", pkg.parent / "kernels"):
        if (candidate / "common.cl.mako").is_file():
            return candidate
    raise KernelRenderError(
        f"cannot find clt's kernel templates: looked in {pkg / '_kernels'} and "
        f"{pkg.parent / 'kernels'}; set CLT_KERNEL_DIR or reinstall clt")


@functools.lru_cache(maxsize=1)
def _lookup() -> Any:
    # imported here: mako.lookup pulls in pygments (~0.1-0.2 s), which `import clt` need not pay
    from mako.lookup import TemplateLookup

    return TemplateLookup(directories=[str(find_kernel_dir())], strict_undefined=True)


def _check_params(params: Params) -> None:
    for key, value in params:
        if not _is_primitive(value):
            raise KernelRenderError(
                f"render parameter {key}={value!r} is not a hashable primitive "
                "(str, int, float, bool, None or tuples of those)")


def _is_primitive(value: Any) -> bool:
    if isinstance(value, tuple):
        return all(_is_primitive(v) for v in value)
    return value is None or isinstance(value, (str, int, float, bool))


def render(template: str, kernel_def: str, params: Params) -> str:
    """Render one ``<%def>`` of ``kernels/<template>`` (memoized: one render serves every device).

    ``params`` is a sorted tuple of (name, value) pairs of hashable primitives; it keys the caches.

    Raises:
        KernelRenderError: a parameter is not a primitive, the template or def does not exist,
            or the template failed (strict_undefined: a name it was not given, a Python error);
            the message names the template, def and parameters and has Mako's traceback.
    """
    try:
        return _render(template, kernel_def, params)
    except TypeError:       # unhashable parameters never reach the cache
        _check_params(params)
        raise


@functools.lru_cache(maxsize=None)
def _render(template: str, kernel_def: str, params: Params) -> str:
    _check_params(params)
    try:
        tmpl = _lookup().get_template(template)
        return tmpl.get_def(kernel_def).render(**dict(params)).strip() + "\n"
    except Exception as exc:
        import mako.exceptions   # imports pygments: ~0.1 s, paid only when a render fails

        raise KernelRenderError(
            f"cannot render {template}:{kernel_def} with {dict(params)}: "
            f"{type(exc).__name__}: {exc}\n"
            f"{mako.exceptions.text_error_template().render()}") from exc


_SCALAR_TYPES = {
    "char": np.int8, "uchar": np.uint8, "short": np.int16, "ushort": np.uint16,
    "int": np.int32, "uint": np.uint32, "long": np.int64, "ulong": np.uint64,
    "float": np.float32, "double": np.float64, "half": np.float16,
}
_SIG = re.compile(r"__kernel\s+void\s+(\w+)\s*\(([^)]*)\)", re.S)


render.cache_clear = _render.cache_clear   # type: ignore[attr-defined]
render.cache_info = _render.cache_info     # type: ignore[attr-defined]


def kernel_arg_dtypes(source: str, name: str) -> list[Any]:
    """numpy dtypes of a kernel's scalar arguments (None for buffers), read from its signature."""
    for match in _SIG.finditer(source):
        if match.group(1) != name:
            continue
        dtypes: list[Any] = []
        for arg in (a.strip() for a in match.group(2).split(",") if a.strip()):
            if "*" in arg:
                dtypes.append(None)
                continue
            ctype = [t for t in arg.split()[:-1] if t not in ("const", "__private", "private")][-1]
            if ctype in _SCALAR_TYPES:
                dtypes.append(_SCALAR_TYPES[ctype])
            elif hasattr(cltypes, ctype):     # vector types such as long8
                dtypes.append(getattr(cltypes, ctype))
            else:
                raise KernelBuildError(f"kernel {name}: unsupported argument type in {arg!r}")
        return dtypes
    raise KernelBuildError(f"kernel {name} not found in its rendered source")


def numbered(source: str) -> str:
    """``source`` with line numbers, as shown in build errors."""
    return "\n".join(f"{n:4d}| {line}" for n, line in enumerate(source.splitlines(), 1))


class BuildStats:
    """Counters a test or benchmark can read: builds, disk hits, seconds spent building."""

    def __init__(self) -> None:
        self.programs_built = 0
        self.disk_hits = 0
        self.build_seconds = 0.0

    def __repr__(self) -> str:
        return (f"BuildStats(programs_built={self.programs_built}, disk_hits={self.disk_hits}, "
                f"build_seconds={self.build_seconds:.2f})")


STATS = BuildStats()   # process-wide, for reporting how many programs a run builds


class KernelCache:
    """Built kernels for one device context, memoized in memory and on disk.

    Owned by a :class:`~clt.backend.device.Device`: a built ``cl.Program`` keeps its context alive,
    so a global dict keyed on contexts would never free them.
    """

    def __init__(self, device: Any, options: tuple[str, ...] = DEFAULT_OPTIONS) -> None:
        self._device = device
        self.options = tuple(options)
        self._kernels: dict[tuple, cl.Kernel] = {}
        # op-specific memo (e.g. elementwise keys) in front of the generic sorted-params key
        self.fast: dict[tuple, cl.Kernel] = {}
        self.plans: dict[tuple, Any] = {}       # launch plans of repeated ops (see ops)
        self._lock = threading.Lock()           # guards the dicts, never held while building
        self._building: dict[tuple, threading.Lock] = {}
        self.builds = 0
        self.disk_hits = 0
        info = device.info
        self._identity = "|".join((info.platform, info.platform_version, info.name,
                                   info.driver_version))
        self._disk = os.environ.get("CLT_DISK_CACHE", "1") != "0"

    def __len__(self) -> int:
        return len(self._kernels)

    def __contains__(self, key: tuple) -> bool:
        return key in self._kernels

    @staticmethod
    def key(template: str, kernel_def: str, options: tuple[str, ...] = (),
            **params: Any) -> tuple:
        """The cache key of a kernel: template, def, sorted params and extra build options."""
        return (template, kernel_def, tuple(sorted(params.items())), tuple(options))

    def get(self, template: str, kernel_def: str, options: tuple[str, ...] = (),
            **params: Any) -> cl.Kernel:
        """The kernel named ``params['name']`` from ``template:kernel_def``, built once.

        Args:
            template: file name under ``kernels/``, e.g. ``"elementwise.cl.mako"``.
            kernel_def: the ``<%def>`` to render.
            options: build options added to the device's defaults (part of the key).
            **params: render parameters (hashable primitives); ``name`` is the C kernel name.

        Raises:
            KernelRenderError: the template failed to render.
            KernelBuildError: the OpenCL compiler rejected the source.
        """
        key = (template, kernel_def, tuple(sorted(params.items())), tuple(options))
        kernel = self._kernels.get(key)
        if kernel is not None:
            return kernel
        with self._lock:
            kernel = self._kernels.get(key)
            if kernel is not None:
                return kernel
            key_lock = self._building.setdefault(key, threading.Lock())
        # one lock per key: two threads asking for one kernel build it once, while
        # threads asking for different kernels build concurrently
        with key_lock:
            kernel = self._kernels.get(key)
            if kernel is None:
                kernel = self._build(*key)
                with self._lock:
                    self._kernels[key] = kernel
                    self._building.pop(key, None)
        return kernel

    def prebuild(self, specs: Iterable[tuple[str, str, dict[str, Any]]], workers: int = 0) -> int:
        """Build many kernels ahead of time, in parallel threads.

        ``specs`` are ``(template, kernel_def, params)`` triples as given to :meth:`get`. On PoCL
        threads do not shorten the total (its compiler serializes builds); GPU drivers that
        compile concurrently do benefit. Returns the number of kernels now cached.
        """
        from concurrent.futures import ThreadPoolExecutor

        specs = list(specs)
        workers = workers or min(8, max(1, os.cpu_count() or 1))
        if workers == 1:
            for s in specs:
                self.get(s[0], s[1], **s[2])
        else:
            with ThreadPoolExecutor(workers) as ex:
                list(ex.map(lambda s: self.get(s[0], s[1], **s[2]), specs))
        return len(specs)

    def _build(self, template: str, kernel_def: str, params: Params,
               extra: tuple[str, ...]) -> cl.Kernel:
        source = render(template, kernel_def, params)
        name = dict(params)["name"]
        options = list(self.options + extra)
        start = time.perf_counter()
        program = self._program(source, options, template, kernel_def, params)
        kernel = cl.Kernel(program, name)   # once: `program.name` makes a new Kernel per access
        kernel.set_scalar_arg_dtypes(kernel_arg_dtypes(source, name))
        elapsed = time.perf_counter() - start
        with self._lock:
            STATS.build_seconds += elapsed
        if os.environ.get("CLT_KEEP_SOURCE") == "1":
            fd, path = tempfile.mkstemp(prefix=f"{name}-", suffix=".cl")
            with os.fdopen(fd, "w") as fh:
                fh.write(source)
            log.info("kept source of %s in %s", name, path)
        log.debug("built %s on %s in %.0f ms", name, self._device, elapsed * 1e3)
        return kernel

    def _disk_path(self, source: str, options: list[str]) -> Path:
        digest = hashlib.sha256("\0".join([self._identity, " ".join(options), source]).encode())
        return cache_dir() / "programs" / f"{digest.hexdigest()[:40]}.bin"

    def _program(self, source: str, options: list[str], template: str, kernel_def: str,
                 params: Params) -> cl.Program:
        ctx, dev = self._device.context, self._device.cl_device
        path = self._disk_path(source, options) if self._disk else None
        if path is not None and path.is_file():
            try:
                program = cl.Program(ctx, [dev], [path.read_bytes()]).build(options=options)
                with self._lock:
                    self.disk_hits += 1
                    STATS.disk_hits += 1
                log.debug("loaded %s:%s from the disk cache %s", template, kernel_def, path.name)
                return program
            except (cl.Error, OSError):
                path.unlink(missing_ok=True)   # stale or corrupt binary: rebuild below
        try:
            with warnings.catch_warnings():
                # a successful build's compiler remarks (NVIDIA prints some) go to the
                # debug log below instead of a CompilerWarning on every first call
                warnings.simplefilter("ignore", cl.CompilerWarning)
                program = cl.Program(ctx, source).build(options=options, cache_dir=False)
        except cl.RuntimeError as exc:
            raise KernelBuildError(
                f"{template}:{kernel_def} failed to build on {self._device}\n"
                f"parameters: {dict(params)}\noptions: {' '.join(options)}\n"
                f"build log:\n{exc}\nsource:\n{numbered(source)}") from exc
        if log.isEnabledFor(logging.DEBUG):
            try:
                remarks = program.get_build_info(dev, cl.program_build_info.LOG).strip()
            except cl.Error:
                remarks = ""
            if remarks:
                log.debug("compiler output for %s:%s %s:\n%s", template, kernel_def,
                          dict(params).get("name"), remarks)
        with self._lock:
            self.builds += 1
            STATS.programs_built += 1
        if path is not None:
            try:
                binary = program.get_info(cl.program_info.BINARIES)[0]
                path.parent.mkdir(parents=True, exist_ok=True)
                tmp = path.with_suffix(f".tmp{os.getpid()}.{threading.get_ident()}")
                tmp.write_bytes(binary)
                os.replace(tmp, path)   # atomic: concurrent processes never read half a file
            except (cl.Error, OSError) as exc:
                log.debug("could not cache binary for %s: %s", template, exc)
        return program
