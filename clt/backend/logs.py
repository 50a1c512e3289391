"""``CLT_DEBUG``: route clt's log records to stderr.

Levels of the ``clt`` logger (children: ``clt.kernels``, ``clt.memory``, ``clt.device``):

- ``DEBUG``: each kernel build with its time, disk-cache loads, devices opened, out-of-memory
  retries.
- ``INFO``: kept kernel sources (``CLT_KEEP_SOURCE=1``), warm-up summaries.
- ``WARNING``: things that work but should not happen (e.g. a stale disk-cache entry).

``CLT_DEBUG=1`` (or ``debug``) shows DEBUG and above; ``CLT_DEBUG=info`` or ``warning`` pick that
level; unset or ``0`` leaves logging to the application, as a library should.
"""
from __future__ import annotations

import logging
import os

_LEVELS = {"1": logging.DEBUG, "true": logging.DEBUG, "yes": logging.DEBUG,
           "debug": logging.DEBUG, "2": logging.DEBUG, "info": logging.INFO,
           "warning": logging.WARNING, "error": logging.ERROR}
_HANDLER_NAME = "clt-debug"


def configure_from_env() -> int | None:
    """Attach a stderr handler to the ``clt`` logger if ``CLT_DEBUG`` asks for one.

    Returns the level set, or None when ``CLT_DEBUG`` is unset or off. Calling it twice does not
    add a second handler.
    """
    value = os.environ.get("CLT_DEBUG", "").strip().lower()
    level = _LEVELS.get(value)
    if level is None:
        return None
    logger = logging.getLogger("clt")
    logger.setLevel(level)
    if not any(getattr(h, "name", None) == _HANDLER_NAME for h in logger.handlers):
        handler = logging.StreamHandler()
        handler.name = _HANDLER_NAME
        handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
        logger.addHandler(handler)
    return level
