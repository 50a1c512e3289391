"""``Function``: a differentiable op with ``forward`` and ``backward``, and the graph nodes."""
from __future__ import annotations

import itertools
import traceback
import weakref
from typing import Any, Sequence

from clt.autograd.grad_mode import STATE, no_grad
from clt.ops.array import Array
from clt.tensor import Tensor

_seq = itertools.count()
_FREED = ("Trying to backward through the graph a second time (or directly access saved tensors "
          "after they have already been freed). Saved intermediate values of the graph are freed "
          "when you call .backward() or autograd.grad(). Specify retain_graph=True if you need "
          "to backward through the graph a second time or if you need to access saved tensors "
          "after calling backward.")


class Context:
    """What ``forward`` leaves for ``backward``: saved tensors and any attributes set on it."""

    def __init__(self) -> None:
        self.needs_input_grad: tuple[bool, ...] = ()
        self._saved: tuple | None = ()
        self._versions: tuple[int, ...] = ()
        self._released = False

    def save_for_backward(self, *tensors: Tensor | None) -> None:
        """Keep tensors for backward; modifying one in place later makes backward raise.

        Args:
            *tensors: Tensors (or None) to read back as ``ctx.saved_tensors``.
        """
        self._saved = tensors
        self._versions = tuple(t._version if t is not None else 0 for t in tensors)

    @property
    def saved_tensors(self) -> tuple:
        """The tensors given to ``save_for_backward``; raises RuntimeError if freed by a previous
        backward or modified in place since."""
        if self._released:
            raise RuntimeError(_FREED)
        for t, v in zip(self._saved, self._versions):
            if t is not None and t._version != v:
                raise RuntimeError(
                    "one of the variables needed for gradient computation has been modified by "
                    f"an inplace operation: [{t.dtype.name} tensor of shape {tuple(t.shape)}] "
                    f"is at version {t._version}; expected version {v} instead.")
        return self._saved

    def __getattr__(self, name: str) -> Any:
        # reached only for a missing attribute: after backward, the tensors that clt's own
        # Functions keep on ctx are freed like saved tensors (clt.autograd.engine), so say so
        if not name.startswith("__") and self.__dict__.get("_released"):
            raise RuntimeError(_FREED)
        raise AttributeError(f"'Context' object has no attribute {name!r}")

    def output(self, tensor: Tensor, index: int = 0) -> Tensor:
        """A saved *output* of this node as backward should read it.

        Under ``create_graph`` (grad mode on in backward) the result is an alias linked to this
        node as its ``index``-th output, so a gradient formula that reads the output (``1 - y²``
        of tanh) is differentiated through the op again, as PyTorch's saved outputs are;
        otherwise ``tensor`` itself.

        Args:
            tensor: The saved output (a Tensor without history).
            index: Which output of the forward it is.

        Returns:
            The tensor to compute with.
        """
        ref = self.__dict__.get("_node")
        node = ref() if ref is not None else None
        if node is None or not STATE.enabled:
            return tensor
        linked = Tensor(tensor._data)
        linked.requires_grad = True
        linked.grad_fn = node
        linked._output_nr = index
        return linked

    def mark_non_differentiable(self, *tensors: Tensor) -> None:
        """Mark outputs that get no ``grad_fn`` and no gradient.

        Args:
            *tensors: Outputs of ``forward``.
        """
        self.non_differentiable = tensors

    def set_materialize_grads(self, value: bool) -> None:
        """Record whether None output gradients should be given to backward as zeros.

        Args:
            value: The flag, stored as ``ctx.materialize_grads``.
        """
        self.materialize_grads = value


class Node:
    """One application of a Function in the graph.

    ``next_edges[i]`` is where the gradient of the i-th forward argument goes: ``(node, nr)``
    for a computed tensor, ``(tensor, None)`` for a leaf, or None.
    """

    __slots__ = ("fn", "ctx", "next_edges", "seq", "n_outputs", "out_meta", "out_hooks",
                 "retain", "created_at", "__weakref__")

    def __init__(self, fn: type, ctx: Context, next_edges: list, n_outputs: int,
                 out_meta: list) -> None:
        self.fn = fn
        self.ctx = ctx
        self.next_edges = next_edges
        self.seq = next(_seq)
        self.n_outputs = n_outputs
        self.out_meta = out_meta          # (shape, dtype, device) per output, for zero grads
        self.out_hooks: dict[int, list] | None = None
        self.retain: dict[int, Any] | None = None
        self.created_at: list | None = None

    def name(self) -> str:
        """The node's display name, ``<Function>Backward``.

        Returns:
            The name.
        """
        return f"{self.fn.__name__}Backward"

    def __repr__(self) -> str:
        return f"<{self.name()}>"

    @property
    def next_functions(self) -> tuple:
        """``(node, output_nr)`` per forward argument: ``('AccumulateGrad', 0)`` for a leaf,
        ``(None, 0)`` for no gradient."""
        out = []
        for e in self.next_edges:
            if e is None:
                out.append((None, 0))
            elif isinstance(e[0], Tensor):
                out.append(("AccumulateGrad", 0))
            else:
                out.append(e)
        return tuple(out)

    def register_hook(self, hook: Any) -> None:
        """Register a hook called with this node's output gradients before its backward runs.

        Args:
            hook: A callable taking the tuple of output gradients; its return value is ignored.
        """
        self.out_hooks = self.out_hooks or {}
        self.out_hooks.setdefault(-1, []).append(hook)


class Function:
    """Base class of differentiable ops, as ``torch.autograd.Function``.

    Subclasses define static ``forward(ctx, *args)`` (tensors arrive as :class:`Tensor`; return
    Tensors or raw device Arrays) and ``backward(ctx, *grads)`` returning one gradient per
    forward argument (None where there is none). ``backward`` should use differentiable Tensor
    ops so that ``create_graph=True`` can differentiate it again. Call ``Fn.apply(...)``.
    """

    @staticmethod
    def forward(ctx: Context, *args: Any, **kwargs: Any) -> Any:
        """Compute the outputs; subclasses override this static method.

        Args:
            ctx: The context to save state for backward.
            *args: The op's arguments.
            **kwargs: The op's keyword arguments.

        Returns:
            A Tensor or Array, or a tuple of them.

        Raises:
            NotImplementedError: In the base class.
        """
        raise NotImplementedError

    @staticmethod
    def backward(ctx: Context, *grads: Any) -> Any:
        """Compute the input gradients; subclasses override this static method.

        Args:
            ctx: The context saved by forward.
            *grads: One gradient per output.

        Returns:
            One gradient per forward argument (None where there is none).

        Raises:
            NotImplementedError: In the base class.
        """
        raise NotImplementedError

    @classmethod
    def apply(cls, *args: Any, **kwargs: Any) -> Any:
        """Run ``forward`` and, when grad mode is on and an argument requires grad, record a graph
        node.

        Args:
            *args: Passed to ``forward``.
            **kwargs: Passed to ``forward``.

        Returns:
            The output Tensor, or a tuple of outputs.
        """
        record = STATE.enabled and any(
            isinstance(a, Tensor) and a.requires_grad for a in args)
        ctx = Context()
        if record:
            ctx.needs_input_grad = tuple(isinstance(a, Tensor) and a.requires_grad for a in args)
            with no_grad():
                raw = cls.forward(ctx, *args, **kwargs)
        else:
            ctx.needs_input_grad = (False,) * len(args)
            if STATE.enabled:
                with no_grad():
                    raw = cls.forward(ctx, *args, **kwargs)
            else:
                raw = cls.forward(ctx, *args, **kwargs)
        single = not isinstance(raw, tuple)
        outs = (raw,) if single else raw
        tensors = tuple(o if isinstance(o, Tensor) or o is None else
                        (Tensor(o) if isinstance(o, Array) else o) for o in outs)
        if record:
            edges: list = []
            for a in args:
                if isinstance(a, Tensor) and a.requires_grad:
                    edges.append((a, None) if a.grad_fn is None else (a.grad_fn, a._output_nr))
                else:
                    edges.append(None)
            meta = [(t.shape, t.dtype, t.device) if isinstance(t, Tensor) else None
                    for t in tensors]
            node = Node(cls, ctx, edges, len(tensors), meta)
            ctx._node = weakref.ref(node)     # weak: the node owns ctx (see Context.output)
            if STATE.anomaly:
                node.created_at = traceback.format_stack()[:-1]
            nondiff = {id(t) for t in ctx.__dict__.pop("non_differentiable", ())}
            for i, t in enumerate(tensors):
                if isinstance(t, Tensor) and t.dtype.is_floating_point and id(t) not in nondiff:
                    if t.grad_fn is not None or t.requires_grad:
                        # forward returned an input (or a tensor with history): wrap as a new
                        # tensor sharing storage, so the input's own history is untouched
                        t = Tensor(t._data)
                        tensors = tensors[:i] + (t,) + tensors[i + 1:]
                    t.requires_grad = True
                    t.grad_fn = node
                    t._output_nr = i
        if STATE.anomaly:
            from clt.autograd.anomaly import check_outputs

            check_outputs(cls.__name__, tensors)
        return tensors[0] if single else tensors


def edges_of(args: Sequence[Any]) -> list:
    """The graph edge of each argument (as :meth:`Function.apply` builds them).

    Args:
        args: The forward arguments.

    Returns:
        Per argument, ``(tensor, None)`` for a leaf, ``(grad_fn, output_nr)`` for a computed tensor,
        or None if it needs no grad.
    """
    return [((a, None) if a.grad_fn is None else (a.grad_fn, a._output_nr))
            if isinstance(a, Tensor) and a.requires_grad else None for a in args]
