"""Rendering kernel templates from ``kernels/`` and building them, cached per device and on disk."""
from __future__ import annotations

import functools
import hashlib
import json
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
    return [_arg_dtype(t, name) for t in kernel_arg_types(source, name)]


def kernel_arg_types(source: str, name: str) -> list[str | None]:
    """OpenCL C type names of a kernel's scalar arguments (None for buffers)."""
    for match in _SIG.finditer(source):
        if match.group(1) != name:
            continue
        types: list[str | None] = []
        for arg in (a.strip() for a in match.group(2).split(",") if a.strip()):
            if "*" in arg:
                types.append(None)
                continue
            ctype = [t for t in arg.split()[:-1] if t not in ("const", "__private", "private")][-1]
            _arg_dtype(ctype, name)
            types.append(ctype)
        return types
    raise KernelBuildError(f"kernel {name} not found in its rendered source")


def _arg_dtype(ctype: str | None, name: str) -> Any:
    if ctype is None:
        return None
    if ctype in _SCALAR_TYPES:
        return _SCALAR_TYPES[ctype]
    if hasattr(cltypes, ctype):     # vector types such as long8
        return getattr(cltypes, ctype)
    raise KernelBuildError(f"kernel {name}: unsupported argument type {ctype!r}")


def numbered(source: str) -> str:
    """``source`` with line numbers, as shown in build errors."""
    return "\n".join(f"{n:4d}| {line}" for n, line in enumerate(source.splitlines(), 1))


class BuildStats:
    """Counters a test or benchmark can read: builds, disk hits, seconds spent building.

    ``programs_built`` counts compilations from source, ``source_hits`` those of them whose
    rendered source came from the disk cache (no template rendered), ``disk_hits`` programs
    loaded from cached binaries (no compilation).
    """

    def __init__(self) -> None:
        self.programs_built = 0
        self.source_hits = 0
        self.disk_hits = 0
        self.build_seconds = 0.0

    def __repr__(self) -> str:
        return (f"BuildStats(programs_built={self.programs_built}, "
                f"source_hits={self.source_hits}, disk_hits={self.disk_hits}, "
                f"build_seconds={self.build_seconds:.2f})")


STATS = BuildStats()   # process-wide, for reporting how many programs a run builds


class KernelCache:
    """Built kernels for one device context, memoized in memory and on disk.

    The disk cache (``<cache dir>/programs``) is keyed by the device, the build options, a digest
    of every template file, the def and its parameters, so a warm process renders no template:
    it holds each kernel's rendered source (``.cl``) and, where the device's capability table
    allows, its program binary (``.bin``, loaded without compiling).

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
        #: keep program binaries on disk too (None: as the device's capability table says)
        env = os.environ.get("CLT_BINARY_CACHE")
        self.binaries: bool | None = None if env in (None, "") else env != "0"

    @property
    def binary_cache(self) -> bool:
        """Whether built programs' binaries go to the disk cache (rendered sources always do)."""
        if self.binaries is not None:
            return self.binaries
        return getattr(getattr(self._device, "caps", None), "binary_cache", True)

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
        name = dict(params)["name"]
        options = list(self.options + extra)
        start = time.perf_counter()
        entry = self._entry(template, kernel_def, params, options) if self._disk else None
        binaries = entry is not None and self.binary_cache
        loaded = self._load_binary(entry, options) if binaries else None
        if loaded is not None:
            program, arg_types = loaded
            source = None
        else:
            cached = _read_text(entry.with_suffix(".cl")) if entry is not None else None
            source = cached if cached is not None else render(template, kernel_def, params)
            if entry is not None and cached is None:
                _write_atomic(entry.with_suffix(".cl"), source.encode())
            elif cached is not None:
                with self._lock:
                    STATS.source_hits += 1
            try:
                arg_types = kernel_arg_types(source, name)
                program = self._compile(source, options, template, kernel_def, params)
            except KernelBuildError:
                if cached is None:
                    raise
                # a damaged cache entry: forget it and build from a fresh render
                entry.with_suffix(".cl").unlink(missing_ok=True)
                source = render(template, kernel_def, params)
                _write_atomic(entry.with_suffix(".cl"), source.encode())
                arg_types = kernel_arg_types(source, name)
                program = self._compile(source, options, template, kernel_def, params)
            if binaries:
                self._save_binary(entry, program, name, arg_types)
        kernel = cl.Kernel(program, name)   # once: `program.name` makes a new Kernel per access
        kernel.set_scalar_arg_dtypes([_arg_dtype(t, name) for t in arg_types])
        elapsed = time.perf_counter() - start
        with self._lock:
            STATS.build_seconds += elapsed
        if os.environ.get("CLT_KEEP_SOURCE") == "1":
            source = source or render(template, kernel_def, params)
            fd, path = tempfile.mkstemp(prefix=f"{name}-", suffix=".cl")
            with os.fdopen(fd, "w") as fh:
                fh.write(source)
            log.info("kept source of %s in %s", name, path)
        log.debug("built %s on %s in %.0f ms", name, self._device, elapsed * 1e3)
        return kernel

    def _entry(self, template: str, kernel_def: str, params: Params,
               options: list[str]) -> Path:
        """The disk cache path (less its suffix) of one kernel on this device.

        Keyed by what determines the source (the templates' contents, the def, the parameters)
        rather than by the source itself, so a warm process never renders a template.
        """
        digest = hashlib.sha256("\0".join([
            self._identity, " ".join(options), templates_fingerprint(), template, kernel_def,
            repr(params)]).encode())
        return cache_dir() / "programs" / digest.hexdigest()[:40]

    def _load_binary(self, entry: Path, options: list[str]) -> tuple[cl.Program, list[str | None]] | None:
        path = entry.with_suffix(".bin")
        try:
            blob = path.read_bytes()
        except OSError:
            return None
        try:
            arg_types, binary = _unpack(blob)
            ctx, dev = self._device.context, self._device.cl_device
            program = cl.Program(ctx, [dev], [binary]).build(options=options)
        except (cl.Error, ValueError):
            path.unlink(missing_ok=True)   # stale or corrupt binary: rebuild from source
            return None
        with self._lock:
            self.disk_hits += 1
            STATS.disk_hits += 1
        log.debug("loaded %s from the disk cache", path.name)
        return program, arg_types

    def _save_binary(self, entry: Path, program: cl.Program, name: str,
                     arg_types: list[str | None]) -> None:
        try:
            binary = program.get_info(cl.program_info.BINARIES)[0]
            _write_atomic(entry.with_suffix(".bin"), _pack(arg_types, binary))
        except (cl.Error, OSError) as exc:
            log.debug("could not cache the binary of %s: %s", name, exc)

    def _compile(self, source: str, options: list[str], template: str, kernel_def: str,
                 params: Params) -> cl.Program:
        ctx, dev = self._device.context, self._device.cl_device
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
        return program


_MAGIC = b"CLTBIN1\n"


def _pack(arg_types: list[str | None], binary: bytes) -> bytes:
    header = json.dumps(arg_types).encode()
    return _MAGIC + len(header).to_bytes(4, "little") + header + binary


def _unpack(blob: bytes) -> tuple[list[str | None], bytes]:
    """Split a disk cache entry; ValueError when it is not one (a corrupt or foreign file)."""
    if not blob.startswith(_MAGIC) or len(blob) < len(_MAGIC) + 4:
        raise ValueError("not a clt program binary")
    at = len(_MAGIC)
    size = int.from_bytes(blob[at:at + 4], "little")
    try:
        arg_types = json.loads(blob[at + 4:at + 4 + size])
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError("corrupt clt program binary header") from exc
    binary = blob[at + 4 + size:]
    if not isinstance(arg_types, list) or not binary:
        raise ValueError("corrupt clt program binary")
    return arg_types, binary


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text()
    except (OSError, UnicodeDecodeError):
        return None


def _write_atomic(path: Path, data: bytes) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f"{path.suffix}.tmp{os.getpid()}.{threading.get_ident()}")
        tmp.write_bytes(data)
        os.replace(tmp, path)   # atomic: concurrent processes never read half a file
    except OSError as exc:
        log.debug("could not write %s: %s", path, exc)


_FINGERPRINTS: dict[tuple, str] = {}


def templates_fingerprint() -> str:
    """A digest of every template file's contents (a change to any one, includes too, changes it).

    Re-read only when a file's size or modification time changes, so the check costs a few
    ``stat`` calls.
    """
    folder = find_kernel_dir()
    try:
        stamp = tuple(sorted((p.name, st.st_size, st.st_mtime_ns)
                             for p in folder.glob("*.mako") for st in (p.stat(),)))
    except OSError:
        stamp = ()
    key = (str(folder), stamp)
    digest = _FINGERPRINTS.get(key)
    if digest is None:
        h = hashlib.sha256()
        for name, _, _ in stamp:
            h.update(name.encode() + b"\0" + (folder / name).read_bytes() + b"\0")
        digest = _FINGERPRINTS[key] = h.hexdigest()
    return digest
