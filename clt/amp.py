"""Mixed precision: :class:`autocast` and :class:`GradScaler`, as ``torch.amp``.

autocast
    Inside ``with clt.autocast():`` the ops that profit from half precision (matmul, linear,
    convolutions) cast their floating inputs to float16 and the ops that need range (softmax,
    losses, norms, reductions) cast float16 inputs up to float32. Kernels accumulate half inputs
    in float32 either way. Parameters stay float32 (the casts are differentiable, so their
    gradients arrive in float32), which is why :class:`GradScaler` is needed: small float16
    gradients of the activations would underflow without a scaled loss.

    autocast only acts on devices that compute in float16 natively (``device.caps.fp16_compute``,
    e.g. NVIDIA and AMD GPUs). Elsewhere, such as PoCL on a CPU where half is converted to float
    for every operation, casting would only add copies: autocast is a no-op there and says so
    with a :class:`~clt.errors.PerformanceWarning` when it is entered.

    The state is thread-local. Ops consult it through two hooks, cheap when autocast is off::

        from clt.amp import autocast_args
        def linear(input, weight, bias=None):
            input, weight, bias = autocast_args("linear", input, weight, bias)
            ...

    ``autocast_dtype_for(category, device)`` gives the dtype itself. Categories: see
    :data:`LOWER_PRECISION` (cast to the autocast dtype) and :data:`FP32` (float16 cast up to
    float32); any other category is left alone.

GradScaler
    Multiplies the loss by a scale (2**16 to start) so float16 gradients keep their small
    values, divides the gradients by it before the optimizer runs, skips the step when any
    gradient is inf/NaN, and adapts the scale: halved after an overflow, doubled after
    ``growth_interval`` clean steps. The inf/NaN check is fused into the unscale kernel and
    runs on the device; :meth:`GradScaler.step` reads the resulting flag back once per step
    (one host round trip, the only one the scaler makes), because whether to run the optimizer
    is decided on the host. The scale lives on the host, so :meth:`GradScaler.scale` and
    :meth:`GradScaler.update` cost no transfers.

Typical loop::

    scaler = clt.GradScaler()
    for x, y in loader:
        opt.zero_grad()
        with clt.autocast():
            loss = loss_fn(model(x), y)
        scaler.scale(loss).backward()
        scaler.unscale_(opt)                  # optional: to clip the true gradients
        clt.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        scaler.step(opt)
        scaler.update()
"""
from __future__ import annotations

import functools
import threading
import warnings
from collections import defaultdict
from typing import Any, Callable

import numpy as np

from clt import dtypes as D
from clt.errors import DTypeError, PerformanceWarning
from clt.ops import elementwise as ew
from clt.ops import optim as O
from clt.ops import transfer
from clt.ops.array import Array
from clt.tensor import Tensor

__all__ = ["autocast", "GradScaler", "autocast_args", "autocast_dtype_for",
           "is_autocast_enabled", "get_autocast_dtype", "LOWER_PRECISION", "FP32"]

#: op categories that run in the autocast dtype (float16) where the device computes it natively
LOWER_PRECISION = frozenset({
    "matmul", "mm", "bmm", "addmm", "baddbmm", "addbmm", "mv", "linear", "bilinear", "einsum",
    "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d",
    "conv", "prelu", "scaled_dot_product_attention"})
#: op categories that need float32 range or precision: float16 inputs are cast up
FP32 = frozenset({
    "softmax", "log_softmax", "softmin", "loss", "cross_entropy", "nll_loss", "mse_loss",
    "l1_loss", "smooth_l1_loss", "huber_loss", "binary_cross_entropy",
    "binary_cross_entropy_with_logits", "kl_div", "cosine_similarity", "layer_norm",
    "group_norm", "batch_norm", "instance_norm", "norm", "sum", "prod", "mean", "std", "var",
    "cumsum", "cumprod", "logsumexp", "exp", "log", "pow", "softplus", "dist", "pdist",
    "cdist"})


class _Region:
    __slots__ = ("enabled", "dtype", "device", "cache")

    def __init__(self, enabled: bool, dtype: D.DType, device: Any, cache: dict | None) -> None:
        self.enabled = enabled
        self.dtype = dtype
        self.device = device          # None: every device
        self.cache = cache            # id(weight) -> (weight, version, cast) or None


class _State(threading.local):
    def __init__(self) -> None:
        self.stack: list[_Region] = []


_STATE = _State()


def _resolve_device(device_type: Any) -> Any:
    """None / "cl" mean every device; anything else selects one (as ``clt.device``)."""
    if device_type is None or device_type == "cl":
        return None
    from clt.backend.device import Device, device as select

    return device_type if isinstance(device_type, Device) else select(device_type)


class autocast:
    """Context manager (and decorator) running ops in mixed precision where it pays.

    Args:
        device_type: "cl" or None (every device), or one device (a :class:`~clt.Device` or a
            selector such as ``"cl:0"``); ops on other devices are unaffected.
        dtype: the lower precision, ``clt.float16`` (the only one clt has).
        enabled: False turns autocast off inside the region (e.g. to run one op in float32).
        cache_enabled: reuse the float16 copy of a parameter used several times in the region.

    On a device without native float16 arithmetic (``caps.fp16_compute`` False) autocast is a
    no-op; entering it warns with :class:`~clt.errors.PerformanceWarning`.
    """

    def __init__(self, device_type: Any = "cl", dtype: Any = None, enabled: bool = True,
                 cache_enabled: bool | None = None) -> None:
        dt = D.float16 if dtype is None else D.as_dtype(dtype)
        if enabled and dt is not D.float16:
            raise DTypeError(f"autocast supports dtype=clt.float16 only, got {dt.name} (clt has "
                             "no bfloat16; float32 needs no autocast)")
        self.device_type = device_type
        self.fast_dtype = dt
        self._enabled = bool(enabled)
        self._cache_enabled = True if cache_enabled is None else bool(cache_enabled)

    def __enter__(self) -> "autocast":
        device = _resolve_device(self.device_type)
        enabled = self._enabled
        if enabled:
            target = device
            if target is None:
                from clt.backend.device import get_default_device

                target = get_default_device()
            if not target.caps.fp16_compute:
                warnings.warn(f"autocast: {target} has no native float16 arithmetic "
                              "(caps.fp16_compute is False), so autocast is a no-op there and "
                              "ops run in float32", PerformanceWarning, stacklevel=2)
        outer = _STATE.stack[-1].cache if _STATE.stack else None
        cache = (outer if outer is not None else {}) if self._cache_enabled else None
        _STATE.stack.append(_Region(enabled, self.fast_dtype, device, cache))
        return self

    def __exit__(self, *exc: Any) -> None:
        region = _STATE.stack.pop()
        if region.cache is not None and not any(r.cache is region.cache for r in _STATE.stack):
            region.cache.clear()     # the outermost region using this cache ends

    def __call__(self, fn: Callable) -> Callable:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with autocast(self.device_type, self.fast_dtype, self._enabled,
                          self._cache_enabled):
                return fn(*args, **kwargs)
        return wrapper


def is_autocast_enabled(device: Any = None) -> bool:
    """True inside an enabled autocast region that applies to ``device`` (default: any).

    A region on a device without native float16 still counts as enabled here; ops there are
    left alone by :func:`autocast_dtype_for`.

    Args:
        device: A device to ask about, or None for any.

    Returns:
        Whether autocast applies.
    """
    if not _STATE.stack:
        return False
    region = _STATE.stack[-1]
    return region.enabled and (device is None or region.device is None
                               or region.device is device)


def get_autocast_dtype(device: Any = None) -> D.DType:
    """The lower-precision dtype of the innermost region (float16 when none is active).

    Args:
        device: Accepted for PyTorch compatibility; the innermost region decides.

    Returns:
        The dtype.
    """
    return _STATE.stack[-1].dtype if _STATE.stack else D.float16


def autocast_dtype_for(category: str, device: Any) -> D.DType | None:
    """The dtype an op of ``category`` on ``device`` should compute in, or None to leave its
    inputs alone (no autocast region, autocast disabled, another device, no native float16,
    or a category autocast does not touch).

    Args:
        category: The op's autocast category.
        device: The device the op runs on.

    Returns:
        The dtype to compute in, or None.
    """
    if not _STATE.stack:
        return None
    region = _STATE.stack[-1]
    if not region.enabled or (region.device is not None and region.device is not device):
        return None
    if not device.caps.fp16_compute:
        return None
    if category in LOWER_PRECISION:
        return region.dtype
    if category in FP32:
        return D.float32
    return None


def autocast_args(category: str, *args: Any) -> tuple:
    """``args`` with floating Tensors cast as autocast wants for an op of ``category``.

    Non-tensors (None, numbers) pass through. Lower-precision ops cast float32/float64 inputs
    down to float16; float32 ops cast only float16 inputs up. Casts are differentiable. Returns
    ``args`` itself when autocast does not apply, so the hook is cheap outside a region.

    Args:
        category: The op's autocast category.
        *args: The op's arguments.

    Returns:
        The arguments, with floating Tensors cast.
    """
    if not _STATE.stack:
        return args
    device = next((a.device for a in args if isinstance(a, Tensor)), None)
    if device is None:
        return args
    dt = autocast_dtype_for(category, device)
    if dt is None:
        return args
    up = category not in LOWER_PRECISION
    return tuple(_cast(a, dt) if isinstance(a, Tensor) and a.dtype.is_floating_point
                 and a.dtype is not dt and (not up or a.dtype is D.float16) else a
                 for a in args)


def _cast(x: Tensor, dtype: D.DType) -> Tensor:
    from clt.functions.elementwise import to_dtype

    cache = _STATE.stack[-1].cache
    # cache only leaves that require grad (parameters): their casts are reused within a region
    if cache is None or not (x.is_leaf and x.requires_grad):
        return to_dtype(x, dtype)
    hit = cache.get(id(x))
    if hit is not None and hit[0] is x and hit[1] == x._version and hit[2].dtype is dtype:
        return hit[2]
    out = to_dtype(x, dtype)
    cache[id(x)] = (x, x._version, out)
    return out


# -----------------------------------------------------------------------------------------------
# GradScaler

_READY, _UNSCALED, _STEPPED = 0, 1, 2
_F32_MAX = float(np.finfo(np.float32).max)


def _fresh_state() -> dict[str, Any]:
    return {"stage": _READY, "found_inf_per_device": {}, "found_inf": None}


class GradScaler:
    """Dynamic loss scaling for mixed-precision training, as ``torch.amp.GradScaler``.

    Args:
        device: accepted for PyTorch compatibility ("cl", a device or None); the scaler works
            on whatever devices the gradients are on.
        init_scale: the first scale.
        growth_factor: multiplies the scale after ``growth_interval`` steps without inf/NaN.
        backoff_factor: multiplies the scale after a step with inf/NaN gradients.
        growth_interval: clean steps between two growths.
        enabled: False makes every method a pass-through (so one loop serves both precisions).
    """

    def __init__(self, device: Any = "cl", init_scale: float = 2.0 ** 16,
                 growth_factor: float = 2.0, backoff_factor: float = 0.5,
                 growth_interval: int = 2000, enabled: bool = True) -> None:
        if init_scale <= 0:
            raise ValueError(f"init_scale must be positive, got {init_scale}")
        if growth_factor <= 1.0:
            raise ValueError(f"The growth factor must be > 1.0, got {growth_factor}")
        if not 0.0 < backoff_factor < 1.0:
            raise ValueError(f"The backoff factor must be < 1.0 (and > 0), got {backoff_factor}")
        if not isinstance(growth_interval, int) or growth_interval <= 0:
            raise ValueError(f"growth_interval must be a positive integer, got "
                             f"{growth_interval!r}")
        self._device = device
        self._enabled = bool(enabled)
        self._scale = float(init_scale)
        self._growth_factor = float(growth_factor)
        self._backoff_factor = float(backoff_factor)
        self._growth_interval = growth_interval
        self._growth_tracker = 0
        self._per_optimizer_states: defaultdict[int, dict[str, Any]] = defaultdict(_fresh_state)

    # -- scaling -------------------------------------------------------------------------------
    def scale(self, outputs: Any) -> Any:
        """``outputs * scale`` (a Tensor, or nested lists/tuples of them); float16 outputs are
        scaled in float32, as a scaled float16 loss would overflow at 65504.

        Args:
            outputs: A Tensor or nested lists/tuples of Tensors (usually the loss).

        Returns:
            The scaled outputs, with the same structure (unchanged when disabled).

        Raises:
            ValueError: If ``outputs`` holds something other than Tensors.
        """
        if not self._enabled:
            return outputs
        if isinstance(outputs, Tensor):
            if outputs.dtype is D.float16:
                from clt.functions.elementwise import to_dtype

                outputs = to_dtype(outputs, D.float32)
            return outputs * self._scale
        if isinstance(outputs, (list, tuple)):
            return type(outputs)(self.scale(o) for o in outputs)
        if isinstance(outputs, map) or hasattr(outputs, "__iter__"):
            return [self.scale(o) for o in outputs]
        raise ValueError("outputs must be a Tensor or an iterable of Tensors")

    def unscale_(self, optimizer: Any) -> None:
        """Divide ``optimizer``'s gradients by the scale in place, recording inf/NaN on device.

        Call it before clipping gradients; :meth:`step` calls it if you don't. At most once per
        optimizer between two :meth:`update` calls. Enqueues one fused kernel per 8 gradients
        and never waits.

        Args:
            optimizer: The optimizer whose gradients to unscale.

        Raises:
            RuntimeError: If called twice for the optimizer before ``update()``, or after
                ``step()``.
        """
        if not self._enabled:
            return
        state = self._per_optimizer_states[id(optimizer)]
        if state["stage"] == _UNSCALED:
            raise RuntimeError("unscale_() has already been called on this optimizer since the "
                               "last update().")
        if state["stage"] == _STEPPED:
            raise RuntimeError("unscale_() is being called after step().")
        by_device: dict[Any, list[Array]] = {}
        for group in optimizer.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    by_device.setdefault(p.grad.device, []).append(p.grad._data)
        found: dict[Any, Array] = {}
        for dev, grads in by_device.items():
            flag = found[dev] = Array.empty(dev, (1,), D.int32)
            ew.fill_(flag, 0)
            O.unscale_(grads, flag, 1.0 / self._scale)     # one launch per 8 gradients
        state["found_inf_per_device"] = found
        state["stage"] = _UNSCALED

    def _found_inf(self, state: dict[str, Any]) -> bool:
        """Read the device flags back (the scaler's one host round trip per step)."""
        if state["found_inf"] is None:
            state["found_inf"] = any(int(transfer.to_numpy(flag)[0]) != 0
                                     for flag in state["found_inf_per_device"].values())
        return state["found_inf"]

    def step(self, optimizer: Any, *args: Any, **kwargs: Any) -> Any:
        """Unscale (if not done yet), then run ``optimizer.step(*args, **kwargs)`` unless a
        gradient is inf/NaN. Returns what the optimizer's step returns (None when skipped).

        Args:
            optimizer: The optimizer to step.
            *args: Passed to ``optimizer.step``.
            **kwargs: Passed to ``optimizer.step``.

        Returns:
            What ``optimizer.step`` returns, or None when the step is skipped.

        Raises:
            RuntimeError: If a closure is passed, ``step`` was already called since ``update()``, or
                no gradients were checked.
        """
        if not self._enabled:
            return optimizer.step(*args, **kwargs)
        if "closure" in kwargs:
            raise RuntimeError("Closure use is not currently supported if GradScaler is "
                               "enabled.")
        state = self._per_optimizer_states[id(optimizer)]
        if state["stage"] == _STEPPED:
            raise RuntimeError("step() has already been called since the last update().")
        if state["stage"] == _READY:
            self.unscale_(optimizer)
        if not state["found_inf_per_device"]:
            raise RuntimeError("No inf checks were recorded for this optimizer (none of its "
                               "parameters has a gradient).")
        result = None
        if not self._found_inf(state):
            result = optimizer.step(*args, **kwargs)
        state["stage"] = _STEPPED
        return result

    def update(self, new_scale: float | Tensor | None = None) -> None:
        """Adapt the scale after this iteration's steps (or set it to ``new_scale``).

        Args:
            new_scale: A positive scale to set (a float or a one-element Tensor), or None to adapt.

        Raises:
            ValueError: If ``new_scale`` is not positive.
            RuntimeError: If no inf checks were recorded since the last update.
        """
        if not self._enabled:
            return
        if new_scale is not None:
            value = float(new_scale.item() if isinstance(new_scale, Tensor) else new_scale)
            if not value > 0:
                raise ValueError(f"new_scale must be positive, got {value}")
            self._scale = value
        else:
            states = [s for s in self._per_optimizer_states.values()
                      if s["found_inf_per_device"]]
            if not states:
                raise RuntimeError("No inf checks were recorded prior to update().")
            if any(self._found_inf(s) for s in states):
                self._scale *= self._backoff_factor
                self._growth_tracker = 0
            else:
                self._growth_tracker += 1
                if self._growth_tracker == self._growth_interval:
                    grown = self._scale * self._growth_factor
                    if grown <= _F32_MAX:        # the scale stays a finite float32
                        self._scale = grown
                    self._growth_tracker = 0
        self._per_optimizer_states = defaultdict(_fresh_state)

    # -- accessors -----------------------------------------------------------------------------
    def get_scale(self) -> float:
        """The current scale (1.0 when disabled); no device access."""
        return self._scale if self._enabled else 1.0

    def get_growth_factor(self) -> float:
        """The current factor the scale is multiplied by after ``growth_interval`` clean steps.

        Returns:
            The value.
        """
        return self._growth_factor

    def set_growth_factor(self, new_factor: float) -> None:
        """Set the factor the scale grows by.

        Args:
            new_factor: The new value.
        """
        self._growth_factor = float(new_factor)

    def get_backoff_factor(self) -> float:
        """The current factor the scale is multiplied by after a step with Inf/NaN gradients.

        Returns:
            The value.
        """
        return self._backoff_factor

    def set_backoff_factor(self, new_factor: float) -> None:
        """Set the factor the scale backs off by.

        Args:
            new_factor: The new value.
        """
        self._backoff_factor = float(new_factor)

    def get_growth_interval(self) -> int:
        """The current number of consecutive clean steps before the scale grows.

        Returns:
            The value.
        """
        return self._growth_interval

    def set_growth_interval(self, new_interval: int) -> None:
        """Set the number of clean steps before the scale grows.

        Args:
            new_interval: The new value.
        """
        self._growth_interval = int(new_interval)

    def is_enabled(self) -> bool:
        """Whether the scaler is active (disabled scalers pass gradients through).

        Returns:
            The flag given at construction.
        """
        return self._enabled

    # -- checkpoints ---------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """``scale``, ``growth_factor``, ``backoff_factor``, ``growth_interval`` and
        ``_growth_tracker`` (empty when disabled), as PyTorch."""
        if not self._enabled:
            return {}
        return {"scale": self._scale, "growth_factor": self._growth_factor,
                "backoff_factor": self._backoff_factor,
                "growth_interval": self._growth_interval,
                "_growth_tracker": self._growth_tracker}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore the state from :meth:`state_dict` (a no-op when disabled).

        Args:
            state_dict: The saved dict.

        Raises:
            RuntimeError: If the dict is empty (saved from a disabled scaler).
        """
        if not self._enabled:
            return
        if len(state_dict) == 0:
            raise RuntimeError("The source state dict is empty, possibly because it was saved "
                               "from a disabled instance of GradScaler.")
        self._scale = float(state_dict["scale"])
        self._growth_factor = float(state_dict["growth_factor"])
        self._backoff_factor = float(state_dict["backoff_factor"])
        self._growth_interval = int(state_dict["growth_interval"])
        self._growth_tracker = int(state_dict["_growth_tracker"])

    def __repr__(self) -> str:
        return (f"GradScaler(scale={self.get_scale()}, growth_factor={self._growth_factor}, "
                f"backoff_factor={self._backoff_factor}, "
                f"growth_interval={self._growth_interval}, enabled={self._enabled})")
