"""``Optimizer``: parameter groups, state, checkpoints and step hooks, as ``torch.optim.Optimizer``.

Subclasses define ``step()``; each updates every parameter with one fused kernel launch from
:mod:`clt.ops.optim`. Step counters (for bias correction) live on the host, so ``step()`` never
waits for the device.
"""
from __future__ import annotations

import copy
import functools
import itertools
import warnings
from collections import OrderedDict, defaultdict
from typing import Any, Callable, Iterable

import numpy as np

from clt.autograd.grad_mode import enable_grad, no_grad
from clt.errors import ShapeError
from clt.ops import elementwise as ew
from clt.ops import transfer
from clt.tensor import Tensor

ParamsT = Iterable[Tensor] | Iterable[dict[str, Any]]


class _RequiredParameter:
    """Marks a default every parameter group must set (``torch.optim.optimizer.required``)."""

    def __repr__(self) -> str:
        return "<required parameter>"


required = _RequiredParameter()


class _HookHandle:
    def __init__(self, hooks: dict, key: int) -> None:
        self._hooks, self._key = hooks, key

    def remove(self) -> None:
        self._hooks.pop(self._key, None)


def _typename(x: Any) -> str:
    if isinstance(x, Tensor):
        return f"clt.{type(x).__name__}"
    return type(x).__name__


def _hooked_step(step: Callable) -> Callable:
    """Wrap a subclass's ``step``: pre/post hooks, the step counter that schedulers check, and
    no_grad around the update (a closure still runs with grad enabled)."""
    @functools.wraps(step)
    def wrapper(self: "Optimizer", *args: Any, **kwargs: Any) -> Any:
        if self._in_step:    # a subclass calling super().step(): hooks already ran
            return step(self, *args, **kwargs)
        for hook in tuple(self._step_pre_hooks.values()):
            res = hook(self, args, kwargs)
            if res is not None:
                if not (isinstance(res, tuple) and len(res) == 2):
                    raise RuntimeError(f"optimizer step pre-hook must return None or a tuple of "
                                       f"(new_args, new_kwargs), but got {res!r}")
                args, kwargs = res
        self._in_step = True
        try:
            with no_grad():
                out = step(self, *args, **kwargs)
        finally:
            self._in_step = False
        self._opt_step_count += 1
        for hook in tuple(self._step_post_hooks.values()):
            hook(self, args, kwargs)
        return out
    wrapper._clt_hooked = True
    return wrapper


class Optimizer:
    """Base class of all optimizers.

    Args:
        params: an iterable of Tensors, or of dicts defining parameter groups (each dict has a
            ``"params"`` entry and may override any default).
        defaults: default values of the optimization options, used by groups that don't set them.

    Raises:
        TypeError: ``params`` is a single Tensor, or holds something that is not a Tensor.
        ValueError: an empty parameter list, a non-leaf tensor, a parameter in two groups.
    """

    _hook_ids = itertools.count()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        step = cls.__dict__.get("step")
        if step is not None and not getattr(step, "_clt_hooked", False):
            cls.step = _hooked_step(step)

    def __init__(self, params: ParamsT, defaults: dict[str, Any]) -> None:
        self.defaults = defaults
        self._step_pre_hooks: OrderedDict[int, Callable] = OrderedDict()
        self._step_post_hooks: OrderedDict[int, Callable] = OrderedDict()
        self._opt_step_count = 0
        self._in_step = False
        if isinstance(params, Tensor):
            raise TypeError("params argument given to the optimizer should be an iterable of "
                            f"Tensors or dicts, but got {_typename(params)}")
        if isinstance(params, dict):
            raise TypeError("params argument given to the optimizer should be an iterable of "
                            "Tensors or dicts, but got a single dict (wrap it in a list)")
        self.state: defaultdict[Tensor, dict[str, Any]] = defaultdict(dict)
        self.param_groups: list[dict[str, Any]] = []
        groups = list(params)
        if not groups:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    # -- groups ---------------------------------------------------------------------------------
    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a parameter group (e.g. layers unfrozen during fine-tuning).

        Options the group doesn't set take the optimizer's defaults.

        Args:
            param_group: A dict with a ``params`` entry (a tensor or an iterable of tensors) and
                optional options.

        Raises:
            TypeError: If ``param_group`` is not a dict, ``params`` is a set, or a parameter is
                not a Tensor.
            ValueError: If ``params`` is missing, a parameter is a non-leaf or not floating
                point, a required option has no value, or a parameter is already in a group.
        """
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {_typename(param_group)}")
        if "params" not in param_group:
            raise ValueError("param_group must have a 'params' entry")
        params = param_group["params"]
        if isinstance(params, Tensor):
            param_group["params"] = [params]
        elif isinstance(params, set):
            raise TypeError("optimizer parameters need to be organized in ordered collections, "
                            "but the ordering of tensors in sets will change between runs. "
                            "Please use a list instead.")
        else:
            param_group["params"] = list(params)
        for p in param_group["params"]:
            if not isinstance(p, Tensor):
                raise TypeError("optimizer can only optimize Tensors, but one of the params is "
                                f"{_typename(p)}")
            if not (p.is_leaf or p.retains_grad):
                raise ValueError("can't optimize a non-leaf Tensor")
            if not p.dtype.is_floating_point:
                raise ValueError(f"optimizer can only optimize floating point Tensors, but one "
                                 f"of the params has dtype {p.dtype.name}")
        for name, default in self.defaults.items():
            if default is required and name not in param_group:
                raise ValueError("parameter group didn't specify a value of required "
                                 f"optimization parameter {name}")
            param_group.setdefault(name, default)
        ids = [id(p) for p in param_group["params"]]
        if len(ids) != len(set(ids)):
            warnings.warn("optimizer contains a parameter group with duplicate parameters; "
                          "each is updated once per duplicate", stacklevel=3)
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if seen.intersection(ids):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(param_group)

    # -- gradients -----------------------------------------------------------------------------
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients of all optimized tensors.

        Args:
            set_to_none: drop the gradients (``p.grad = None``, no kernel launches, less memory)
                instead of filling them with zeros. Code that reads ``p.grad`` afterwards must
                then handle None, as with PyTorch.
        """
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    if p.grad.grad_fn is not None:
                        p.grad.detach_()
                    else:
                        p.grad.requires_grad = False
                    ew.fill_(p.grad._data, 0)

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Update the parameters once; ``closure`` re-evaluates the model and returns the loss.

        Args:
            closure: Optional callable that re-evaluates the model and returns the loss.

        Returns:
            The loss from ``closure``, or None.

        Raises:
            NotImplementedError: In the base class.
        """
        raise NotImplementedError

    @staticmethod
    def _eval_closure(closure: Callable[[], Any] | None) -> Any:
        if closure is None:
            return None
        with enable_grad():
            return closure()

    def _params_with_grad(self, group: dict[str, Any]) -> Iterable[Tensor]:
        for p in group["params"]:
            if p.grad is not None:
                if p.grad.device is not p.device:
                    raise RuntimeError(f"the gradient of a parameter on {p.device} is on "
                                       f"{p.grad.device}")
                yield p

    # -- hooks ---------------------------------------------------------------------------------
    def register_step_pre_hook(self, hook: Callable) -> _HookHandle:
        """``hook(optimizer, args, kwargs)`` runs before each ``step``; it may return
        ``(new_args, new_kwargs)``.

        Args:
            hook: Called as ``hook(optimizer, args, kwargs)``.

        Returns:
            A handle whose ``remove()`` unregisters the hook.
        """
        key = next(self._hook_ids)
        self._step_pre_hooks[key] = hook
        return _HookHandle(self._step_pre_hooks, key)

    def register_step_post_hook(self, hook: Callable) -> _HookHandle:
        """``hook(optimizer, args, kwargs)`` runs after each ``step``.

        Args:
            hook: Called as ``hook(optimizer, args, kwargs)``.

        Returns:
            A handle whose ``remove()`` unregisters the hook.
        """
        key = next(self._hook_ids)
        self._step_post_hooks[key] = hook
        return _HookHandle(self._step_post_hooks, key)

    # -- checkpoints ---------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """The optimizer's state in PyTorch's layout.

        ``{"state": {index: {name: value}}, "param_groups": [{..options, "params": [index]}]}``,
        parameters numbered in group order. The state tensors are the optimizer's own (as in
        PyTorch, not copies): save them (``clt.save``, ``.numpy()``) before training further if
        the snapshot must not change.
        """
        mapping: dict[int, int] = {}
        start = 0
        groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            for i, p in enumerate(group["params"], start):
                mapping.setdefault(id(p), i)
            packed["params"] = [mapping[id(p)] for p in group["params"]]
            start += len(packed["params"])
            groups.append(packed)
        state = {(mapping[id(k)] if isinstance(k, Tensor) else k): dict(v)
                 for k, v in self.state.items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Load a state from :meth:`state_dict` (of this or a same-shaped optimizer).

        State tensors are copied onto each parameter's device and dtype; numpy arrays are
        accepted too (device-agnostic checkpoints). Step counters become host integers.

        Args:
            state_dict: A dict with ``state`` and ``param_groups`` entries.

        Raises:
            ValueError: a different number of groups, or a group of a different size.
            ShapeError: a state tensor whose size differs from its parameter's.
        """
        if not isinstance(state_dict, dict) or "state" not in state_dict or \
                "param_groups" not in state_dict:
            raise ValueError("optimizer state_dict must be a dict with 'state' and "
                             "'param_groups' entries")
        groups = self.param_groups
        saved_groups = copy.deepcopy(state_dict["param_groups"])
        if len(groups) != len(saved_groups):
            raise ValueError("loaded state dict has a different number of parameter groups")
        if any(len(g["params"]) != len(s["params"]) for g, s in zip(groups, saved_groups)):
            raise ValueError("loaded state dict contains a parameter group that doesn't match "
                             "the size of optimizer's group")
        id_map = dict(zip(itertools.chain.from_iterable(s["params"] for s in saved_groups),
                          itertools.chain.from_iterable(g["params"] for g in groups)))
        state: defaultdict[Any, dict[str, Any]] = defaultdict(dict)
        for k, v in state_dict["state"].items():
            param = id_map.get(k)
            if param is None:
                state[k] = v
                continue
            if not isinstance(v, dict):
                raise ValueError(f"state of parameter {k} must be a dict, got {_typename(v)}")
            state[param] = {name: _load_value(param, k, name, value) for name, value in v.items()}
        for group, saved in zip(groups, saved_groups):
            saved["params"] = group["params"]
        self.state = state
        self.param_groups = saved_groups

    # -- printing ------------------------------------------------------------------------------
    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for key in sorted(k for k in group if k != "params"):
                lines.append(f"    {key}: {group[key]}")
        lines.append(")")
        return "\n".join(lines)

    def __getstate__(self) -> dict[str, Any]:
        return {"defaults": self.defaults, "state": self.state, "param_groups": self.param_groups}


def _load_value(param: Tensor, index: Any, name: str, value: Any) -> Any:
    """A state entry made to fit ``param``: tensors copied to its device and dtype."""
    if name == "step":
        if isinstance(value, Tensor):
            value = value.item()
        if isinstance(value, np.ndarray):
            value = value.item()
        return int(value) if float(value).is_integer() else float(value)
    if isinstance(value, (Tensor, np.ndarray)):
        src = value.detach() if isinstance(value, Tensor) else value
        numel = int(np.prod(src.shape)) if src.shape else 1
        if numel != param.numel():
            raise ShapeError(f"loaded state '{name}' of parameter {index} has shape "
                             f"{tuple(src.shape)} but the parameter has shape {tuple(param.shape)}")
        out = Tensor(_empty_like_param(param))
        if isinstance(src, np.ndarray):
            host = np.ascontiguousarray(src, dtype=param.dtype.np).reshape(tuple(param.shape))
            ew.copy_(out._data, transfer.from_numpy(param.device, host, param.dtype))
        else:
            if src.device is not param.device:
                src = src.to(param.device)
            data = src._data
            if data.shape != out._data.shape:
                data = ew.contiguous(data)
                data = data.view(out._data.shape, out._data.strides, data.offset)
            ew.copy_(out._data, data)       # converts the dtype, always a fresh copy
        return out
    if isinstance(value, dict):
        return {k: _load_value(param, index, k, v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_load_value(param, index, name, v) for v in value)
    return value


def _empty_like_param(param: Tensor) -> Any:
    from clt.ops.array import Array

    return Array.empty(param.device, tuple(param.shape), param.dtype)


def zeros_state(param: Tensor, fill: float = 0.0) -> Tensor:
    """A new contiguous state buffer of ``param``'s shape and dtype, filled with ``fill``.

    Args:
        param: The parameter the state belongs to.
        fill: The initial value.

    Returns:
        The state tensor.
    """
    t = Tensor(_empty_like_param(param))
    ew.fill_(t._data, fill)
    return t


def empty_state(param: Tensor) -> Tensor:
    """A new uninitialised state buffer (the first kernel step writes every element).

    Args:
        param: The parameter the state belongs to.

    Returns:
        The state tensor.
    """
    return Tensor(_empty_like_param(param))
