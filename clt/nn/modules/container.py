"""Containers: Sequential, ModuleList, ModuleDict, ParameterList, ParameterDict."""
from __future__ import annotations

import operator
from collections import OrderedDict
from typing import Any, Iterable, Iterator, Mapping

from clt.nn.module import Module
from clt.nn.parameter import Parameter
from clt.tensor import Tensor

__all__ = ["Sequential", "ModuleList", "ModuleDict", "ParameterList", "ParameterDict"]


def _index(idx: Any, n: int, what: str) -> int:
    idx = operator.index(idx)
    if not -n <= idx < n:
        raise IndexError(f"index {idx} is out of range for {what} of length {n}")
    return idx % n


class Sequential(Module):
    """Modules applied in order: ``Sequential(a, b)(x) == b(a(x))``.

    Built from modules (named "0", "1", ...) or from one ``OrderedDict`` of named modules.
    Supports indexing, slicing (a new Sequential sharing the modules), ``len``, iteration,
    ``append``, ``insert``, ``extend``, ``pop`` and ``del``.
    """

    def __init__(self, *args: Any) -> None:
        super().__init__()
        if len(args) == 1 and isinstance(args[0], OrderedDict):
            for name, module in args[0].items():
                self.add_module(name, module)
        else:
            for i, module in enumerate(args):
                self.add_module(str(i), module)

    def add_module(self, name: str, module: Module | None) -> None:
        """Register a child module, checking that it is a Module.

        Args:
            name: The child's name.
            module: The child module, or None.

        Raises:
            TypeError: If ``module`` is neither None nor a Module.
        """
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"Sequential: {type(module).__name__} is not a Module subclass")
        super().add_module(name, module)

    def __getitem__(self, idx: Any) -> Any:
        if isinstance(idx, slice):
            return type(self)(OrderedDict(list(self._modules.items())[idx]))
        keys = list(self._modules)
        return self._modules[keys[_index(idx, len(keys), "Sequential")]]

    def __setitem__(self, idx: int, module: Module) -> None:
        keys = list(self._modules)
        self.add_module(keys[_index(idx, len(keys), "Sequential")], module)

    def __delitem__(self, idx: Any) -> None:
        keys = list(self._modules)
        if isinstance(idx, slice):
            targets = keys[idx]
        else:
            targets = [keys[_index(idx, len(keys), "Sequential")]]
        for k in targets:
            del self._modules[k]
        # renumber "0", "1", ... as PyTorch does (named entries become numbered too)
        mods = list(self._modules.values())
        self._modules.clear()
        for i, m in enumerate(mods):
            self._modules[str(i)] = m

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def __add__(self, other: "Sequential") -> "Sequential":
        if not isinstance(other, Sequential):
            raise TypeError(f"add operator supports only Sequential, got {type(other).__name__}")
        return Sequential(*self, *other)

    def append(self, module: Module) -> "Sequential":
        """Add ``module`` at the end.

        Args:
            module: The module to add.

        Returns:
            self.
        """
        self.add_module(str(len(self)), module)
        return self

    def insert(self, index: int, module: Module) -> "Sequential":
        """Insert ``module`` before position ``index``.

        Args:
            index: The position, in [-len, len].
            module: The module to insert.

        Returns:
            self.

        Raises:
            TypeError: If ``module`` is not a Module.
            IndexError: If ``index`` is out of range.
        """
        if not isinstance(module, Module):
            raise TypeError(f"Sequential.insert: {type(module).__name__} is not a Module")
        n = len(self._modules)
        if not -n <= index <= n:
            raise IndexError(f"index {index} is out of range for Sequential of length {n}")
        index = index + n if index < 0 else index
        mods = list(self._modules.values())
        mods.insert(index, module)
        self._modules.clear()
        for i, m in enumerate(mods):
            self._modules[str(i)] = m
        return self

    def extend(self, modules: Iterable[Module]) -> "Sequential":
        """Append each module of an iterable.

        Args:
            modules: The modules to append.

        Returns:
            self.
        """
        for m in modules:
            self.append(m)
        return self

    def pop(self, index: int = -1) -> Module:
        """Remove and return the module at ``index``.

        Args:
            index: Position of the module; negative counts from the end.

        Returns:
            The removed module.
        """
        module = self[index]
        del self[index]
        return module

    def forward(self, input: Any) -> Any:
        """Feed the input through each module in order and return the last output."""
        for module in self._modules.values():
            input = module(input)
        return input


class ModuleList(Module):
    """A list of modules whose parameters are registered (a plain list would hide them)."""

    def __init__(self, modules: Iterable[Module] | None = None) -> None:
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def __getitem__(self, idx: Any) -> Any:
        if isinstance(idx, slice):
            return type(self)(list(self._modules.values())[idx])
        return self._modules[str(_index(idx, len(self), "ModuleList"))]

    def __setitem__(self, idx: int, module: Module) -> None:
        self.add_module(str(_index(idx, len(self), "ModuleList")), module)

    def __delitem__(self, idx: Any) -> None:
        mods = list(self._modules.values())
        if isinstance(idx, slice):
            del mods[idx]
        else:
            del mods[_index(idx, len(mods), "ModuleList")]
        self._modules.clear()
        for i, m in enumerate(mods):
            self._modules[str(i)] = m

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def __iadd__(self, modules: Iterable[Module]) -> "ModuleList":
        return self.extend(modules)

    def __add__(self, other: Iterable[Module]) -> "ModuleList":
        return ModuleList([*self, *other])

    def append(self, module: Module) -> "ModuleList":
        """Add a module at the end.

        Args:
            module: The module to add.

        Returns:
            self.
        """
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules: Iterable[Module]) -> "ModuleList":
        """Append each module of an iterable.

        Args:
            modules: The modules to append.

        Returns:
            self.

        Raises:
            TypeError: If ``modules`` is a Module, a Tensor or not iterable.
        """
        if isinstance(modules, (Module, Tensor)) or not hasattr(modules, "__iter__"):
            raise TypeError("ModuleList.extend should be called with an iterable, but got "
                            + type(modules).__name__)
        for m in modules:
            self.append(m)
        return self

    def insert(self, index: int, module: Module) -> None:
        """Insert a module before ``index`` and renumber the entries.

        Args:
            index: The position, as ``list.insert``.
            module: The module to insert.
        """
        mods = list(self._modules.values())
        mods.insert(index, module)
        self._modules.clear()
        for i, m in enumerate(mods):
            self.add_module(str(i), m)

    def pop(self, index: int = -1) -> Module:
        """Remove and return the module at ``index``.

        Args:
            index: Position of the module; negative counts from the end.

        Returns:
            The removed module.
        """
        module = self[index]
        del self[index]
        return module

    def forward(self, *args: Any) -> Any:
        """Not supported: always raises NotImplementedError (iterate over the modules instead)."""
        raise NotImplementedError("ModuleList has no forward(); iterate over its modules")


class ModuleDict(Module):
    """An ordered dict of modules whose parameters are registered."""

    def __init__(self, modules: Mapping[str, Module] | Iterable | None = None) -> None:
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __getitem__(self, key: str) -> Module:
        return self._modules[key]

    def __setitem__(self, key: str, module: Module) -> None:
        self.add_module(key, module)

    def __delitem__(self, key: str) -> None:
        del self._modules[key]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[str]:
        return iter(self._modules)

    def __contains__(self, key: str) -> bool:
        return key in self._modules

    def clear(self) -> None:
        """Remove all modules."""
        self._modules.clear()

    def pop(self, key: str) -> Module:
        """Remove and return the module under ``key``.

        Args:
            key: The name of the module.

        Returns:
            The removed module.

        Raises:
            KeyError: If ``key`` is absent.
        """
        return self._modules.pop(key)

    def keys(self) -> Iterable[str]:
        """The module names, in insertion order.

        Returns:
            A keys view.
        """
        return self._modules.keys()

    def items(self) -> Iterable[tuple[str, Module]]:
        """The ``(name, module)`` pairs, in insertion order.

        Returns:
            An items view.
        """
        return self._modules.items()

    def values(self) -> Iterable[Module]:
        """The modules, in insertion order.

        Returns:
            A values view.
        """
        return self._modules.values()

    def update(self, modules: Mapping[str, Module] | Iterable) -> None:
        """Add or replace modules from a mapping or an iterable of ``(key, module)`` pairs.

        Args:
            modules: A mapping, a ModuleDict, or an iterable of pairs.

        Raises:
            ValueError: If an element of the iterable is not a 2-item tuple or list.
        """
        pairs = modules.items() if isinstance(modules, (Mapping, ModuleDict)) else modules
        for j, kv in enumerate(pairs):
            if not isinstance(kv, (tuple, list)) or len(kv) != 2:
                raise ValueError(f"ModuleDict update sequence element #{j} should be a "
                                 f"(key, module) pair, got {kv!r}")
            self[kv[0]] = kv[1]

    def forward(self, *args: Any) -> Any:
        """Not supported: always raises NotImplementedError (index the dict by key instead)."""
        raise NotImplementedError("ModuleDict has no forward(); index it by key")


def _as_parameter(value: Any) -> Any:
    if isinstance(value, Tensor) and not isinstance(value, Parameter):
        return Parameter(value)
    return value


class ParameterList(Module):
    """A list of Parameters (tensors given to it are wrapped as Parameters)."""

    def __init__(self, values: Iterable[Any] | None = None) -> None:
        super().__init__()
        object.__setattr__(self, "_size", 0)
        if values is not None:
            self.extend(values)

    def __getitem__(self, idx: Any) -> Any:
        if isinstance(idx, slice):
            return ParameterList([self[i] for i in range(self._size)[idx]])
        return getattr(self, str(_index(idx, self._size, "ParameterList")))

    def __setitem__(self, idx: int, value: Any) -> None:
        setattr(self, str(_index(idx, self._size, "ParameterList")), _as_parameter(value))

    def __len__(self) -> int:
        return self._size

    def __iter__(self) -> Iterator[Any]:
        return (self[i] for i in range(self._size))

    def __iadd__(self, values: Iterable[Any]) -> "ParameterList":
        return self.extend(values)

    def append(self, value: Any) -> "ParameterList":
        """Add a value at the end; tensors are wrapped as Parameters.

        Args:
            value: A Parameter, a tensor, or any other object.

        Returns:
            self.
        """
        object.__setattr__(self, "_size", self._size + 1)
        name = str(self._size - 1)
        value = _as_parameter(value)
        if isinstance(value, Parameter):
            self.register_parameter(name, value)
        else:
            object.__setattr__(self, name, value)
        return self

    def extend(self, values: Iterable[Any]) -> "ParameterList":
        """Append each value of an iterable.

        Args:
            values: The values to append.

        Returns:
            self.

        Raises:
            TypeError: If ``values`` is a Tensor or not iterable.
        """
        if isinstance(values, Tensor) or not hasattr(values, "__iter__"):
            raise TypeError("ParameterList.extend should be called with an iterable, but got "
                            + type(values).__name__)
        for v in values:
            self.append(v)
        return self

    def extra_repr(self) -> str:
        """One line per entry with its dtype and size.

        Returns:
            The entries, newline-separated.
        """
        lines = []
        for i, p in enumerate(self):
            if isinstance(p, Tensor):
                lines.append(f"({i}): Parameter containing: [{p.dtype.name} of size "
                             f"{'x'.join(str(s) for s in p.shape)}]")
            else:
                lines.append(f"({i}): Object of type: {type(p).__name__}")
        return "\n".join(lines)

    def forward(self, *args: Any) -> Any:
        """Not supported: always raises NotImplementedError."""
        raise NotImplementedError("ParameterList has no forward()")


class ParameterDict(Module):
    """An ordered dict of Parameters (tensors given to it are wrapped as Parameters)."""

    def __init__(self, parameters: Mapping[str, Any] | Iterable | None = None) -> None:
        super().__init__()
        object.__setattr__(self, "_keys", OrderedDict())
        if parameters is not None:
            self.update(parameters)

    def __getitem__(self, key: str) -> Any:
        if key not in self._keys:
            raise KeyError(key)
        return getattr(self, key)

    def __setitem__(self, key: str, value: Any) -> None:
        self._keys[key] = None
        value = _as_parameter(value)
        if isinstance(value, Parameter):
            self.register_parameter(key, value)
        else:
            object.__setattr__(self, key, value)

    def __delitem__(self, key: str) -> None:
        del self._keys[key]
        delattr(self, key)

    def __len__(self) -> int:
        return len(self._keys)

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys)

    def __contains__(self, key: str) -> bool:
        return key in self._keys

    def keys(self) -> Iterable[str]:
        """The keys, in insertion order.

        Returns:
            A keys view.
        """
        return self._keys.keys()

    def items(self) -> Iterable[tuple[str, Any]]:
        """The ``(key, value)`` pairs, in insertion order.

        Returns:
            A generator of pairs.
        """
        return ((k, self[k]) for k in self._keys)

    def values(self) -> Iterable[Any]:
        """The values, in insertion order.

        Returns:
            A generator of values.
        """
        return (self[k] for k in self._keys)

    def get(self, key: str, default: Any = None) -> Any:
        """The value under ``key``, or ``default``.

        Args:
            key: The key.
            default: Returned when ``key`` is absent.

        Returns:
            The value or ``default``.
        """
        return self[key] if key in self else default

    def pop(self, key: str) -> Any:
        """Remove and return the value under ``key``.

        Args:
            key: The key.

        Returns:
            The removed value.
        """
        v = self[key]
        del self[key]
        return v

    def clear(self) -> None:
        """Remove all entries."""
        for k in list(self._keys):
            del self[k]

    def update(self, parameters: Mapping[str, Any] | Iterable) -> None:
        """Add or replace entries from a mapping or an iterable of ``(key, value)`` pairs.

        Args:
            parameters: A mapping, a ParameterDict, or an iterable of pairs.

        Raises:
            ValueError: If an element of the iterable is not a 2-item tuple or list.
        """
        pairs = parameters.items() if isinstance(parameters, (Mapping, ParameterDict)) \
            else parameters
        for j, kv in enumerate(pairs):
            if not isinstance(kv, (tuple, list)) or len(kv) != 2:
                raise ValueError(f"ParameterDict update sequence element #{j} should be a "
                                 f"(key, parameter) pair, got {kv!r}")
            self[kv[0]] = kv[1]

    def extra_repr(self) -> str:
        """One line per entry with its dtype and size.

        Returns:
            The entries, newline-separated.
        """
        lines = []
        for k, p in self.items():
            if isinstance(p, Tensor):
                lines.append(f"({k}): Parameter containing: [{p.dtype.name} of size "
                             f"{'x'.join(str(s) for s in p.shape)}]")
            else:
                lines.append(f"({k}): Object of type: {type(p).__name__}")
        return "\n".join(lines)

    def forward(self, *args: Any) -> Any:
        """Not supported: always raises NotImplementedError."""
        raise NotImplementedError("ParameterDict has no forward()")
