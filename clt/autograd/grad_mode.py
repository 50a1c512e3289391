"""Global switches of autograd: no_grad, enable_grad, set_grad_enabled, anomaly detection."""
from __future__ import annotations

import functools
import threading
from typing import Any, Callable


class _State(threading.local):
    def __init__(self) -> None:
        self.enabled = True
        self.anomaly = False


STATE = _State()


def is_grad_enabled() -> bool:
    """Whether grad mode is on (ops are recorded for autograd).

    Returns:
        The current setting.
    """
    return STATE.enabled


class _Mode:
    """Base of the grad-mode context managers; also usable as decorators."""

    _value: bool

    def __enter__(self) -> None:
        self._prev = STATE.enabled
        STATE.enabled = self._value

    def __exit__(self, *exc: Any) -> None:
        STATE.enabled = self._prev

    def __call__(self, fn: Callable) -> Callable:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with self.__class__():
                return fn(*args, **kwargs)
        return wrapper


class no_grad(_Mode):
    """Context manager (and decorator) that disables graph recording."""

    _value = False


class enable_grad(_Mode):
    """Context manager (and decorator) that enables graph recording."""

    _value = True


class set_grad_enabled(_Mode):
    """Enable or disable graph recording, as a function call or a context manager."""

    def __init__(self, mode: bool) -> None:
        self._value = bool(mode)
        self._prev = STATE.enabled
        STATE.enabled = self._value   # takes effect immediately, like torch.set_grad_enabled

    def __enter__(self) -> None:
        pass

    def __call__(self, fn: Callable) -> Callable:
        STATE.enabled = self._prev
        mode = self._value

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with set_grad_enabled(mode):
                return fn(*args, **kwargs)
        return wrapper


class inference_mode(no_grad):
    """Alias of :class:`no_grad` (clt has no separate inference tensors)."""
