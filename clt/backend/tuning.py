"""Tuned kernel parameters per device and driver: a small JSON database in the user cache.

Kernel families with tile sizes (the GEMM today) read their parameters through :func:`lookup`;
when the device has no entry they use their architecture defaults, so an untuned device behaves
exactly as before. Entries are written by a family's tuner, registered with
:func:`register_tuner` by the family's module (as warm-ups are) and run on demand with
:func:`tune` / :func:`tune_gemm` or ``clt-devices --tune``::

    import clt
    from clt.backend import tuning
    result = tuning.tune_gemm(clt.device(), budget_s=90)
    print(result["best"], result["speedup"])

The database is ``<cache_dir>/tuning.json`` (``$CLT_CACHE_DIR``, else ``$XDG_CACHE_HOME/clt``),
keyed by platform, device name and driver version, as the probe cache is. An entry also records
a fingerprint of the kernel template it was tuned for: after the template changes the entry is
ignored (its tiles may no longer be valid or best) until the device is tuned again.
``CLT_TUNING=0`` ignores the database altogether.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import time
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from clt.backend.capabilities import cache_dir, probe_key
from clt.backend.info import DeviceInfo
from clt.errors import CLTError

log = logging.getLogger("clt.tuning")

SCHEMA = 1
# which kernel template each tunable family's parameters belong to (for the fingerprint)
TEMPLATES = {"gemm": "matmul.cl.mako"}

TunerFn = Callable[..., dict]
_TUNERS: dict[str, TunerFn] = {}

# interned parameter sets: id 0 is "no entry"; ids are stable for the life of the process
_INTERNED: dict[str, int] = {}
_BY_ID: list[dict[str, Any] | None] = [None]
# (id(info), family) -> (info, interned id): the per-call lookup is one dict access
_MEMO: dict[tuple[int, str], tuple[DeviceInfo, int]] = {}
_OVERRIDES: dict[tuple[str, str], int] = {}
_DB: dict[str, Any] | None = None


class TuningError(CLTError, RuntimeError):
    """A tuner could not run (no tuner registered, no valid candidate, bad arguments)."""


def db_path() -> Path:
    """Where the database lives: ``<cache_dir>/tuning.json``."""
    return cache_dir() / "tuning.json"


def _enabled() -> bool:
    return os.environ.get("CLT_TUNING", "1") != "0"


def template_fingerprint(family: str) -> str:
    """A short hash of the kernel template ``family``'s parameters are tuned for."""
    name = TEMPLATES.get(family)
    if name is None:
        return ""
    from clt.backend.program import find_kernel_dir

    try:
        data = (find_kernel_dir() / name).read_bytes()
    except OSError:
        return ""
    return hashlib.sha256(data).hexdigest()[:16]


def load_db() -> dict[str, Any]:
    """The whole database ({device key: {family: entry}}); empty when missing or unreadable."""
    try:
        data = json.loads(db_path().read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _db() -> dict[str, Any]:
    global _DB
    if _DB is None:
        _DB = load_db()
    return _DB


def reset_cache() -> None:
    """Forget what was read from the database (after it changed on disk, or a new cache dir)."""
    global _DB
    _DB = None
    _MEMO.clear()


def _intern(params: dict[str, Any] | None) -> int:
    if not params:
        return 0
    text = json.dumps(params, sort_keys=True)
    pid = _INTERNED.get(text)
    if pid is None:
        pid = _INTERNED[text] = len(_BY_ID)
        _BY_ID.append(json.loads(text))
    return pid


def params_for_id(pid: int) -> dict[str, Any] | None:
    """The parameter set behind an id returned by :func:`lookup_id` (None for 0)."""
    return _BY_ID[pid]


def _valid_params(params: Any) -> bool:
    """Nested dicts of str -> int (or str -> dict ...) only: anything else is a corrupt entry."""
    if not isinstance(params, dict):
        return False
    for key, value in params.items():
        if not isinstance(key, str):
            return False
        if isinstance(value, dict):
            if not _valid_params(value):
                return False
        elif not isinstance(value, int) or isinstance(value, bool):
            return False
    return True


def _entry_params(info: DeviceInfo, family: str) -> dict[str, Any] | None:
    entry = _db().get(probe_key(info), {}).get(family)
    if not isinstance(entry, dict):
        return None
    if entry.get("schema") != SCHEMA:
        return None
    if entry.get("template") != template_fingerprint(family):
        log.debug("ignoring tuned %s parameters for %s: the kernel template changed since",
                  family, info.name)
        return None
    params = entry.get("params")
    if not _valid_params(params):
        log.debug("ignoring a malformed tuned %s entry for %s", family, info.name)
        return None
    return params


def lookup_id(info: DeviceInfo, family: str) -> int:
    """An int naming the parameters in force for ``family`` on this device (0: defaults).

    Cheap enough to call on every launch: the answer is memoized per device info object. Use
    the id as part of a plan cache key and :func:`params_for_id` to read the parameters.
    """
    hit = _MEMO.get((id(info), family))
    if hit is not None and hit[0] is info:
        return hit[1]
    pid = _OVERRIDES.get((probe_key(info), family))
    if pid is None:
        pid = _intern(_entry_params(info, family)) if _enabled() else 0
    _MEMO[(id(info), family)] = (info, pid)
    return pid


def lookup(info: DeviceInfo, family: str) -> dict[str, Any] | None:
    """The tuned parameters for ``family`` on this device, or None (use the defaults)."""
    return params_for_id(lookup_id(info, family))


@contextlib.contextmanager
def override(info: DeviceInfo, family: str, params: dict[str, Any] | None) -> Iterator[None]:
    """Use ``params`` for ``family`` on this device inside the block (what tuners measure).

    ``None`` or ``{}`` means the architecture defaults, whatever the database says.
    """
    key = (probe_key(info), family)
    before = _OVERRIDES.get(key)
    _OVERRIDES[key] = _intern(params)
    _MEMO.clear()
    try:
        yield
    finally:
        if before is None:
            _OVERRIDES.pop(key, None)
        else:
            _OVERRIDES[key] = before
        _MEMO.clear()


def save_entry(info: DeviceInfo, family: str, params: dict[str, Any],
               meta: dict[str, Any] | None = None) -> Path:
    """Store ``params`` as the tuned parameters of ``family`` on this device (atomic write)."""
    if not _valid_params(params):
        raise TuningError(f"tuned parameters must be nested dicts of ints, got {params!r}")
    path = db_path()
    data = load_db()
    entry = {"schema": SCHEMA, "template": template_fingerprint(family), "params": params,
             "device": info.name, "platform": info.platform, "driver": info.driver_version,
             "when": time.time()}
    entry.update(meta or {})
    data.setdefault(probe_key(info), {})[family] = entry
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True))
    os.replace(tmp, path)
    reset_cache()
    return path


def forget(info: DeviceInfo | None = None, family: str | None = None) -> int:
    """Remove entries (all devices and/or all families when None); returns how many went."""
    data = load_db()
    removed = 0
    for key in list(data):
        if info is not None and key != probe_key(info):
            continue
        fams = data[key] if isinstance(data[key], dict) else {}
        for fam in list(fams):
            if family is None or fam == family:
                del fams[fam]
                removed += 1
        if not fams:
            del data[key]
    if removed:
        path = db_path()
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True))
        os.replace(tmp, path)
    reset_cache()
    return removed


# ---------------------------------------------------------------------------------------------
# tuners

def register_tuner(family: str, fn: TunerFn) -> TunerFn:
    """Register ``fn(device, **options) -> result dict`` as the tuner of ``family``."""
    _TUNERS[family] = fn
    return fn


def tuners() -> dict[str, TunerFn]:
    """The registered tuners by name (each searches one kernel family's parameters)."""
    return dict(_TUNERS)


def tune(device: Any, family: str, **options: Any) -> dict[str, Any]:
    """Run the tuner of ``family`` on ``device`` (see :func:`tune_gemm` for the options)."""
    fn = _TUNERS.get(family)
    if fn is None:
        known = ", ".join(sorted(_TUNERS)) or "none (import clt first)"
        raise TuningError(f"no tuner registered for {family!r}; registered: {known}")
    return fn(device, **options)


def tune_gemm(device: Any, sizes: Sequence[tuple[int, int, int]] | None = None,
              budget_s: float = 90.0, *, space: dict[str, Any] | None = None,
              save: bool = True, progress: Callable[[str], None] | None = None,
              **options: Any) -> dict[str, Any]:
    """Search the GEMM template's tile parameters on ``device`` and store the best.

    Args:
        device: a :class:`~clt.backend.Device`.
        sizes: (M, K, N) float32 problems to score candidates on (geometric mean of GFLOP/s);
            default: square 256 / 512 / 1024 and the MLP shapes 128x784x512, 512x128x784.
        budget_s: stop trying new candidates after this many seconds (the best so far wins).
        space: override the search space (see ``clt.ops.tune_matmul.default_space``).
        save: write the winner to the database (only when it beats the defaults).
        progress: called with one line of text per candidate (e.g. ``print``).
        **options: passed to the tuner (``repeat``, ``min_time``, ``min_gain``: the fraction
            by which a winner must beat the defaults to be stored, default 0.03).

    Returns:
        ``best`` (parameters), ``default`` and ``best_score`` GFLOP/s, ``speedup``,
        ``trials`` (every candidate with its score or error), ``seconds``, ``saved`` (path).
    """
    # clt.ops.matmul registers the GEMM tuner when it is imported (``import clt`` does)
    return tune(device, "gemm", sizes=sizes, budget_s=budget_s, space=space, save=save,
                progress=progress, **options)


def coordinate_search(base: dict[str, Any], axes: Sequence[tuple[str, Sequence[Any]]],
                      score: Callable[[dict[str, Any]], float], budget_s: float,
                      progress: Callable[[str], None] | None = None
                      ) -> tuple[dict[str, Any], float, list[dict[str, Any]]]:
    """Greedy one-axis-at-a-time search: for each axis keep the value that scores highest.

    ``axes`` lists (path, values); a path is ``"section.key"`` into the nested ``base`` dict,
    and a value may itself be a dict merged into that section (joint choices such as a tile
    shape). ``score`` returns higher-is-better or raises (the candidate is skipped). The base
    itself is scored first; the search stops starting new candidates once ``budget_s`` passed.

    Returns:
        (best parameters, best score, trials).
    """
    start = time.perf_counter()
    trials: list[dict[str, Any]] = []

    def attempt(params: dict[str, Any]) -> float | None:
        t0 = time.perf_counter()
        try:
            value = float(score(params))
            trials.append({"params": params, "score": value,
                           "seconds": time.perf_counter() - t0})
        except Exception as exc:   # a candidate that fails to build or run is just skipped
            value = None
            trials.append({"params": params, "error": f"{type(exc).__name__}: {exc}"[:300],
                           "seconds": time.perf_counter() - t0})
        if progress:
            last = trials[-1]
            what = f"{last['score']:.1f}" if "score" in last else f"failed ({last['error']})"
            progress(f"  {_describe(params, base)}: {what}")
        return value

    best = _copy(base)
    best_score = attempt(best)
    if best_score is None:
        raise TuningError(f"the default parameters failed: {trials[-1]['error']}")
    for path, values in axes:
        for value in values:
            if time.perf_counter() - start > budget_s:
                return best, best_score, trials
            cand = _with(best, path, value)
            if cand == best or any(t["params"] == cand for t in trials):
                continue
            s = attempt(cand)
            if s is not None and s > best_score:
                best, best_score = cand, s
    return best, best_score, trials


def _copy(params: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(params))


def _with(params: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    out = _copy(params)
    *sections, key = path.split(".")
    node = out
    for s in sections:
        node = node.setdefault(s, {})
    if isinstance(value, dict):
        node[key] = dict(node.get(key, {}), **value)
    else:
        node[key] = value
    return out


def _describe(params: dict[str, Any], base: dict[str, Any], prefix: str = "") -> str:
    diffs = []
    for key, value in params.items():
        other = base.get(key) if isinstance(base, dict) else None
        if isinstance(value, dict):
            inner = _describe(value, other if isinstance(other, dict) else {}, f"{prefix}{key}.")
            if inner != "defaults":
                diffs.append(inner)
        elif value != other:
            diffs.append(f"{prefix}{key}={value}")
    return ", ".join(diffs) or "defaults"
