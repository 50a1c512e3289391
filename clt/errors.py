"""Exception and warning classes of clt.

Every error derives from :class:`CLTError` and also from the builtin it means, so that
``except ValueError`` keeps working for code written against PyTorch or numpy.
"""
from __future__ import annotations


class CLTError(Exception):
    """Base class of every clt error."""


class DeviceError(CLTError, RuntimeError):
    """No usable OpenCL device, a bad device selector, or operands on different devices."""


class DeviceNotFoundError(DeviceError, LookupError):
    """A device selector matched nothing; the message lists what exists."""


class NoOpenCLError(DeviceError):
    """No OpenCL platform is installed; the message says how to get one."""


class OutOfMemoryError(CLTError, MemoryError):
    """The device could not provide the memory asked for, even after freeing cached blocks."""


class ShapeError(CLTError, ValueError):
    """Shapes that do not fit together (broadcasting, matmul, reshape, ...)."""


class DTypeError(CLTError, TypeError):
    """An unsupported dtype, or one the device cannot compute in."""


class KernelRenderError(CLTError, RuntimeError):
    """A Mako kernel template failed to render; shows template, def, parameters and traceback."""


class KernelBuildError(CLTError, RuntimeError):
    """An OpenCL program failed to build; shows device, options, build log and numbered source."""


class CLTWarning(UserWarning):
    """Base class of clt warnings."""


class PerformanceWarning(CLTWarning):
    """Something works but is slow (a host fallback, a hidden copy)."""
