"""``Module``: the base class of layers and models, with PyTorch's interface."""
from __future__ import annotations

from collections import OrderedDict
from typing import Any, Callable, Iterator

from clt import dtypes as D
from clt.errors import ShapeError
from clt.nn.parameter import Buffer, Parameter
from clt.tensor import Tensor


class _IncompatibleKeys(tuple):
    """``(missing_keys, unexpected_keys)`` as returned by ``load_state_dict``."""

    @property
    def missing_keys(self) -> list[str]:
        return self[0]

    @property
    def unexpected_keys(self) -> list[str]:
        return self[1]

    def __repr__(self) -> str:
        if not self[0] and not self[1]:
            return "<All keys matched successfully>"
        return f"_IncompatibleKeys(missing_keys={self[0]}, unexpected_keys={self[1]})"


class _HookHandle:
    def __init__(self, hooks: dict, key: int) -> None:
        self._hooks, self._key = hooks, key

    def remove(self) -> None:
        self._hooks.pop(self._key, None)


class Module:
    """Base class for all neural-network modules.

    Subclasses assign Parameters, Buffers and sub-Modules as attributes in ``__init__`` and
    define ``forward``. Call the module (``m(x)``), not ``forward``, so hooks run.
    """

    _hook_id = 0

    def __init__(self) -> None:
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistent", set())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "_forward_hooks", OrderedDict())
        object.__setattr__(self, "_forward_pre_hooks", OrderedDict())
        object.__setattr__(self, "training", True)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """Compute the module's output; subclasses must override this.

        Args:
            *args: Positional inputs.
            **kwargs: Keyword inputs.

        Returns:
            The output of the subclass's computation.

        Raises:
            NotImplementedError: If the subclass does not define ``forward``.
        """
        raise NotImplementedError(f"Module [{type(self).__name__}] is missing the required "
                                  "\"forward\" function")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        for hook in list(self._forward_pre_hooks.values()):
            res = hook(self, args)
            if res is not None:
                args = res if isinstance(res, tuple) else (res,)
        out = self.forward(*args, **kwargs)
        for hook in list(self._forward_hooks.values()):
            res = hook(self, args, out)
            if res is not None:
                out = res
        return out

    # -- attribute registration -------------------------------------------------------------
    def __setattr__(self, name: str, value: Any) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError("cannot assign attributes before Module.__init__() call")
        for d in (self._parameters, self._buffers, self._modules):
            if name in d and not isinstance(value, (Parameter, Module, Tensor)) and value is not None:
                del d[name]
        if isinstance(value, Parameter):
            self._buffers.pop(name, None)
            self._modules.pop(name, None)
            self.__dict__.pop(name, None)
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._parameters.pop(name, None)
            self._buffers.pop(name, None)
            self.__dict__.pop(name, None)
            self._modules[name] = value
        elif isinstance(value, Buffer):
            self.register_buffer(name, Tensor(value._data), value.persistent)
        elif name in self._buffers and (value is None or isinstance(value, Tensor)):
            self._buffers[name] = value
        elif name in self._parameters and value is None:
            self._parameters[name] = None
        elif name in self._parameters and isinstance(value, Tensor):
            raise TypeError(f"cannot assign '{type(value).__name__}' as parameter '{name}' "
                            "(clt.nn.Parameter or None expected)")
        elif name in self._modules and value is None:
            self._modules[name] = None
        else:
            object.__setattr__(self, name, value)

    def __getattr__(self, name: str) -> Any:
        d = self.__dict__
        for store in ("_parameters", "_buffers", "_modules"):
            if store in d and name in d[store]:
                return d[store][name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name: str) -> None:
        for store in (self._parameters, self._buffers, self._modules):
            if name in store:
                del store[name]
                return
        object.__delattr__(self, name)

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Add a parameter (or a None placeholder) under ``name``.

        Args:
            name: The attribute name; no dots, not empty.
            param: The parameter, or None.

        Raises:
            KeyError: If ``name`` is empty or contains a dot.
            TypeError: If ``param`` is neither None nor a Parameter.
        """
        if "." in name or name == "":
            raise KeyError(f"parameter name can't contain \".\" or be empty, got {name!r}")
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"cannot assign '{type(param).__name__}' object to parameter "
                            f"'{name}' (clt.nn.Parameter or None required)")
        self._parameters[name] = param

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        """Add a buffer: state that is saved in ``state_dict`` (if persistent) but not learned.

        Args:
            name: The attribute name; no dots, not empty.
            tensor: The buffer, or None.
            persistent: Whether ``state_dict`` includes it.

        Raises:
            KeyError: If ``name`` is empty or contains a dot.
            TypeError: If ``tensor`` is neither None nor a Tensor.
        """
        if "." in name or name == "":
            raise KeyError(f"buffer name can't contain \".\" or be empty, got {name!r}")
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"cannot assign '{type(tensor).__name__}' object to buffer '{name}' "
                            "(clt Tensor or None required)")
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent.discard(name)
        else:
            self._non_persistent.add(name)

    def add_module(self, name: str, module: "Module | None") -> None:
        """Register a child module under ``name`` (also available as ``register_module``).

        Args:
            name: The attribute name of the child.
            module: The child module, or None to reserve the name.

        Raises:
            TypeError: If ``module`` is neither None nor a Module.
        """
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{type(module).__name__} is not a Module subclass")
        self._modules[name] = module

    register_module = add_module

    def get_submodule(self, target: str) -> "Module":
        """Look up a descendant module by dotted path.

        Args:
            target: A dotted path such as ``"layer1.0.conv1"``; ``""`` returns self.

        Returns:
            The submodule.

        Raises:
            AttributeError: If a part of the path is not a child module.
        """
        mod: Module = self
        for part in target.split(".") if target else []:
            if part not in mod._modules:
                raise AttributeError(f"{type(mod).__name__} has no attribute `{part}`")
            mod = mod._modules[part]
        return mod

    def get_parameter(self, target: str) -> Parameter:
        """Look up a parameter by dotted path.

        Args:
            target: A dotted path such as ``"layer1.0.conv1.weight"``.

        Returns:
            The parameter.

        Raises:
            AttributeError: If a module on the path or the attribute does not exist.
        """
        mod_path, _, name = target.rpartition(".")
        return getattr(self.get_submodule(mod_path), name)

    # -- iteration ----------------------------------------------------------------------------
    def named_modules(self, memo: set | None = None, prefix: str = "",
                      remove_duplicate: bool = True) -> Iterator[tuple[str, "Module"]]:
        """Iterate over this module and all descendants, depth first, with dotted names.

        Args:
            memo: Ids of modules already yielded (used by the recursion).
            prefix: Name prefix for this module.
            remove_duplicate: Whether a module reachable by several paths is yielded once.

        Returns:
            An iterator of ``(name, module)`` pairs, self first under ``prefix``.
        """
        memo = set() if memo is None else memo
        if remove_duplicate and id(self) in memo:
            return
        memo.add(id(self))
        yield prefix, self
        for name, mod in self._modules.items():
            if mod is not None:
                yield from mod.named_modules(memo, f"{prefix}.{name}" if prefix else name,
                                             remove_duplicate)

    def modules(self) -> Iterator["Module"]:
        """Iterate over this module and all descendants, each once.

        Returns:
            An iterator of modules, self first.
        """
        for _, m in self.named_modules():
            yield m

    def named_children(self) -> Iterator[tuple[str, "Module"]]:
        """Iterate over the direct children, each once.

        Returns:
            An iterator of ``(name, module)`` pairs.
        """
        seen = set()
        for name, mod in self._modules.items():
            if mod is not None and id(mod) not in seen:
                seen.add(id(mod))
                yield name, mod

    def children(self) -> Iterator["Module"]:
        """Iterate over the direct children, each once.

        Returns:
            An iterator of modules.
        """
        for _, m in self.named_children():
            yield m

    def _named_members(self, getter: Callable, prefix: str, recurse: bool,
                       remove_duplicate: bool = True) -> Iterator[tuple[str, Any]]:
        seen = set()
        mods = self.named_modules(prefix=prefix) if recurse else [(prefix, self)]
        for mod_prefix, mod in mods:
            for name, value in getter(mod):
                if value is None or (remove_duplicate and id(value) in seen):
                    continue
                seen.add(id(value))
                yield (f"{mod_prefix}.{name}" if mod_prefix else name), value

    def named_parameters(self, prefix: str = "", recurse: bool = True,
                         remove_duplicate: bool = True) -> Iterator[tuple[str, Parameter]]:
        """(name, parameter) pairs, shared parameters listed once.

        Args:
            prefix: Name prefix for this module's parameters.
            recurse: Whether to include the parameters of descendants.
            remove_duplicate: Whether a parameter reachable by several names is yielded once.

        Returns:
            An iterator of ``(name, parameter)`` pairs.
        """
        return self._named_members(lambda m: m._parameters.items(), prefix, recurse,
                                   remove_duplicate)

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        """Iterate over parameters, shared parameters once.

        Args:
            recurse: Whether to include the parameters of descendants.

        Returns:
            An iterator of parameters.
        """
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix: str = "", recurse: bool = True,
                      remove_duplicate: bool = True) -> Iterator[tuple[str, Tensor]]:
        """Iterate over buffers with dotted names, shared buffers once.

        Args:
            prefix: Name prefix for this module's buffers.
            recurse: Whether to include the buffers of descendants.
            remove_duplicate: Whether a buffer reachable by several names is yielded once.

        Returns:
            An iterator of ``(name, tensor)`` pairs.
        """
        return self._named_members(lambda m: m._buffers.items(), prefix, recurse,
                                   remove_duplicate)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        """Iterate over buffers, shared buffers once.

        Args:
            recurse: Whether to include the buffers of descendants.

        Returns:
            An iterator of tensors.
        """
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    # -- modes and grads -------------------------------------------------------------------------
    def train(self, mode: bool = True) -> "Module":
        """Set training mode on this module and all descendants.

        Args:
            mode: True for training, False for evaluation.

        Returns:
            self.

        Raises:
            ValueError: If ``mode`` is not a bool.
        """
        if not isinstance(mode, bool):
            raise ValueError("training mode is expected to be boolean")
        for m in self.modules():
            object.__setattr__(m, "training", mode)
        return self

    def eval(self) -> "Module":
        """Set evaluation mode (``train(False)``) on this module and all descendants.

        Returns:
            self.
        """
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> "Module":
        """Set ``requires_grad`` on every parameter.

        Args:
            requires_grad: The new flag.

        Returns:
            self.
        """
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset gradients of all parameters (to None by default, as PyTorch 2).

        Args:
            set_to_none: Whether to drop the gradients (True) or fill them with zeros.
        """
        for p in self.parameters():
            if p.grad is not None:
                if set_to_none:
                    p.grad = None
                else:
                    p.grad = p.grad.detach()
                    p.grad.zero_()

    def apply(self, fn: Callable[["Module"], None]) -> "Module":
        """Call ``fn`` on every submodule (children first) and then on self.

        Args:
            fn: Called with each module.

        Returns:
            self.
        """
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    # -- device and dtype ----------------------------------------------------------------------
    def _apply_tensors(self, fn: Callable[[Tensor], Tensor]) -> "Module":
        for m in self.modules():
            for name, p in list(m._parameters.items()):
                if p is None:
                    continue
                new = fn(p.detach())
                if new._data is not p._data:
                    p._data = new._data      # keep the Parameter object: optimizers hold it
                if p.grad is not None:
                    g = fn(p.grad)
                    p.grad = g
            for name, b in list(m._buffers.items()):
                if b is not None:
                    m._buffers[name] = fn(b)
        return self

    def to(self, *args: Any, **kwargs: Any) -> "Module":
        """Move parameters and buffers to a device and/or cast floating ones to a dtype.

        Args:
            *args: A device, a dtype, or a tensor to copy both from (as ``Tensor.to``).
            **kwargs: ``device=`` and/or ``dtype=``.

        Returns:
            self (parameters keep their identity, so optimizers stay valid).

        Raises:
            TypeError: If the dtype is not floating point.
        """
        from clt.functions.creation import _parse_to

        dev, dtype = _parse_to(args, kwargs)
        if dtype is not None:
            dtype = D.as_dtype(dtype)
            if not dtype.is_floating_point:
                raise TypeError(f"nn.Module.to only accepts floating point dtypes, but got "
                                f"desired dtype={dtype}")

        def convert(t: Tensor) -> Tensor:
            out = t
            if dev is not None:
                out = out.to(dev)
            if dtype is not None and out.dtype.is_floating_point:
                out = out.to(dtype)
            return out
        return self._apply_tensors(convert)

    def float(self) -> "Module":
        """Cast floating-point parameters and buffers to float32.

        Returns:
            self.
        """
        return self.to(D.float32)

    def double(self) -> "Module":
        """Cast floating-point parameters and buffers to float64.

        Returns:
            self.
        """
        return self.to(D.float64)

    def half(self) -> "Module":
        """Cast floating-point parameters and buffers to float16.

        Returns:
            self.
        """
        return self.to(D.float16)

    # -- hooks -------------------------------------------------------------------------------
    def register_forward_hook(self, hook: Callable) -> _HookHandle:
        """``hook(module, inputs, output)`` after forward; may return a replacement output.

        Args:
            hook: Called as ``hook(module, inputs, output)``.

        Returns:
            A handle whose ``remove()`` unregisters the hook.
        """
        Module._hook_id += 1
        self._forward_hooks[Module._hook_id] = hook
        return _HookHandle(self._forward_hooks, Module._hook_id)

    def register_forward_pre_hook(self, hook: Callable) -> _HookHandle:
        """``hook(module, inputs)`` before forward; may return replacement inputs.

        Args:
            hook: Called as ``hook(module, inputs)``.

        Returns:
            A handle whose ``remove()`` unregisters the hook.
        """
        Module._hook_id += 1
        self._forward_pre_hooks[Module._hook_id] = hook
        return _HookHandle(self._forward_pre_hooks, Module._hook_id)

    # -- state dict --------------------------------------------------------------------------
    def state_dict(self, prefix: str = "", keep_vars: bool = False) -> "OrderedDict[str, Tensor]":
        """Parameters and persistent buffers by dotted name (tensors share storage).

        Args:
            prefix: Prefix for every key.
            keep_vars: Whether to return the tensors themselves rather than detached views.

        Returns:
            An ordered dict from dotted name to tensor.
        """
        out: OrderedDict[str, Tensor] = OrderedDict()
        # shared submodules appear under every name, as in PyTorch (checkpoints match)
        for mod_prefix, mod in self.named_modules(prefix=prefix.rstrip("."),
                                                  remove_duplicate=False):
            pre = f"{mod_prefix}." if mod_prefix else ""
            for name, p in mod._parameters.items():
                if p is not None:
                    out[pre + name] = p if keep_vars else p.detach()
            for name, b in mod._buffers.items():
                if b is not None and name not in mod._non_persistent:
                    out[pre + name] = b if keep_vars else b.detach()
        return out

    def load_state_dict(self, state_dict: dict, strict: bool = True,
                        assign: bool = False) -> _IncompatibleKeys:
        """Copy values from ``state_dict`` into parameters and buffers.

        Args:
            state_dict: Tensors or array-likes by dotted name.
            strict: Whether missing or unexpected keys are an error.
            assign: Whether parameters take the given storage instead of copying into their own.

        Returns:
            ``(missing_keys, unexpected_keys)``.

        Raises:
            RuntimeError: with ``strict``, listing missing and unexpected keys; and always for
                shape mismatches (all problems in one message).
        """
        own = self.state_dict(keep_vars=True)
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        errors = []
        for k, target in own.items():
            if k not in state_dict:
                continue
            src = state_dict[k]
            shape = tuple(src.shape)
            if shape != tuple(target.shape):
                errors.append(f'size mismatch for {k}: copying a param with shape {shape} from '
                              f'checkpoint, the shape in current model is {tuple(target.shape)}.')
        if strict:
            if unexpected:
                errors.insert(0, "Unexpected key(s) in state_dict: " +
                              ", ".join(f'"{k}"' for k in unexpected) + ". ")
            if missing:
                errors.insert(0, "Missing key(s) in state_dict: " +
                              ", ".join(f'"{k}"' for k in missing) + ". ")
        if errors:
            raise RuntimeError(f"Error(s) in loading state_dict for {type(self).__name__}:\n\t"
                               + "\n\t".join(errors))
        from clt.autograd.grad_mode import no_grad
        from clt.functions.creation import tensor as make

        with no_grad():
            for k, target in own.items():
                if k not in state_dict:
                    continue
                src = state_dict[k]
                if not isinstance(src, Tensor):
                    src = make(src, dtype=target.dtype, device=target.device)
                if assign and isinstance(target, Parameter):
                    target._data = src.to(target.device).detach()._data
                else:
                    target.copy_(src)
        return _IncompatibleKeys((missing, unexpected))

    # -- printing ------------------------------------------------------------------------------
    def extra_repr(self) -> str:
        """Extra text shown in ``repr`` (override in layers)."""
        return ""

    def _get_name(self) -> str:
        return type(self).__name__

    def __repr__(self) -> str:
        lines = []
        extra = self.extra_repr()
        if extra:
            lines = extra.split("\n")
        for name, mod in self._modules.items():
            text = repr(mod).replace("\n", "\n  ")
            lines.append(f"({name}): {text}")
        main = self._get_name() + "("
        if lines:
            if len(lines) == 1 and not self._modules:
                main += lines[0]
            else:
                main += "\n  " + "\n  ".join(lines) + "\n"
        return main + ")"

    def __dir__(self) -> list[str]:
        return sorted(set(object.__dir__(self)) | set(self._parameters) | set(self._buffers)
                      | set(self._modules))

    def num_parameters(self, trainable_only: bool = False) -> int:
        """Count parameter elements.

        Args:
            trainable_only: Whether to count only parameters with ``requires_grad``.

        Returns:
            The total number of elements.
        """
        return sum(p.numel() for p in self.parameters()
                   if p.requires_grad or not trainable_only)


def check_input(x: Any, layer: str, ndims: tuple[int, ...], what: str) -> None:
    """Raise a clear error when a layer receives input of the wrong rank.

    Args:
        x: The layer's input.
        layer: The layer name, for the message.
        ndims: The accepted numbers of dims.
        what: Description of the accepted shapes, for the message.

    Raises:
        TypeError: If ``x`` is not a Tensor.
        ShapeError: If ``x.ndim`` is not in ``ndims``.
    """
    if not isinstance(x, Tensor):
        raise TypeError(f"{layer}: expected a Tensor input, got {type(x).__name__}")
    if x.ndim not in ndims:
        raise ShapeError(f"{layer}: expected {what} input, got input of shape {tuple(x.shape)}")


class ModuleWrapper(Module):
    """A module that wraps ``self.module`` (DataParallel, DistributedDataParallel): parameters
    and state dicts are the wrapped module's, under its own names."""

    module: Module

    def state_dict(self, *args: Any, **kwargs: Any) -> Any:
        """The wrapped module's state dict.

        Args:
            *args: Passed to ``self.module.state_dict``.
            **kwargs: Passed to ``self.module.state_dict``.

        Returns:
            The wrapped module's state dict, with its own (unprefixed) names.
        """
        return self.module.state_dict(*args, **kwargs)

    def load_state_dict(self, *args: Any, **kwargs: Any) -> Any:
        """Load a state dict into the wrapped module.

        Args:
            *args: Passed to ``self.module.load_state_dict``.
            **kwargs: Passed to ``self.module.load_state_dict``.

        Returns:
            What the wrapped module's ``load_state_dict`` returns.
        """
        return self.module.load_state_dict(*args, **kwargs)

    def parameters(self, recurse: bool = True) -> Any:
        """The wrapped module's parameters.

        Args:
            recurse: Whether to include the parameters of descendants.

        Returns:
            An iterator of parameters.
        """
        return self.module.parameters(recurse)

    def named_parameters(self, *args: Any, **kwargs: Any) -> Any:
        """The wrapped module's named parameters.

        Args:
            *args: Passed to ``self.module.named_parameters``.
            **kwargs: Passed to ``self.module.named_parameters``.

        Returns:
            An iterator of ``(name, parameter)`` pairs.
        """
        return self.module.named_parameters(*args, **kwargs)
