"""``Parameter``: a tensor that a Module registers as learnable."""
from __future__ import annotations

from typing import Any

from clt.tensor import Tensor


class Parameter(Tensor):
    """A Tensor that is a module parameter (``requires_grad=True`` by default).

    Assigning a Parameter to a Module attribute registers it in ``parameters()``.
    """

    __slots__ = ()

    def __init__(self, data: Tensor | None = None, requires_grad: bool = True) -> None:
        if data is None:
            from clt.functions.creation import empty

            data = empty(0)
        if not isinstance(data, Tensor):
            raise TypeError(f"Parameter expects a Tensor, got {type(data).__name__}")
        super().__init__(data._data, requires_grad=requires_grad)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()

    def __reduce_ex__(self, proto: Any) -> Any:
        raise TypeError("Parameters are saved through state_dict() and clt.save, not pickle")


class Buffer(Tensor):
    """Marks a tensor assigned to a Module attribute as a buffer (saved, not learned)."""

    __slots__ = ("persistent",)

    def __init__(self, data: Tensor, persistent: bool = True) -> None:
        super().__init__(data._data)
        self.persistent = persistent
