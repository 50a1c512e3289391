"""The backward engine: an iterative, deterministic walk of the graph in reverse creation order."""
from __future__ import annotations

import heapq
from typing import Any, Sequence

import numpy as np

from clt.autograd.function import Function, Node
from clt.autograd.grad_mode import STATE, set_grad_enabled
from clt.ops import elementwise as ew
from clt.ops import transfer
from clt.ops.array import Array
from clt.tensor import Tensor


class _AccumulateAdd(Function):
    """``a + b`` for gradient accumulation (differentiable, so create_graph works)."""

    @staticmethod
    def forward(ctx, a: Tensor, b: Tensor) -> Array:
        return ew.binary("add", a._data, b._data)

    @staticmethod
    def backward(ctx, g: Tensor) -> tuple:
        return g, g


def _accumulate(old: Tensor | None, new: Tensor) -> Tensor:
    if old is None:
        return new
    return _AccumulateAdd.apply(old, new)


def _zeros(meta: tuple) -> Tensor:
    shape, dtype, device = meta
    return Tensor(ew.fill_(Array.empty(device, shape, dtype), 0))


def _ones_like(t: Tensor) -> Tensor:
    if t.numel() == 1:
        # the implicit seed of a scalar's backward: a 1-element upload, which needs no kernel
        # (no fill program to build before a first training step)
        return Tensor(transfer.from_numpy(t.device, np.ones(t.shape, t.dtype.np), t.dtype,
                                          blocking=False))
    return Tensor(ew.fill_(Array.empty(t.device, t.shape, t.dtype), 1))


def _check_grad(g: Tensor, t: Tensor, what: str) -> None:
    if tuple(g.shape) != tuple(t.shape):
        raise RuntimeError(f"Mismatch in shape: {what} has a shape of {tuple(g.shape)} and "
                           f"output has a shape of {tuple(t.shape)}.")
    if g.device is not t.device:
        raise RuntimeError(f"{what} is on {g.device} but the output is on {t.device}")


def _apply_hooks(hooks: list | None, g: Tensor) -> Tensor:
    for hook in hooks or ():
        r = hook(g)
        if r is not None:
            g = r
    return g


_FINAL_CALLBACKS: list = []
_POST_HOOKS: dict[int, tuple] = {}     # id(leaf) -> (weakref to leaf, [hook(leaf)])


def register_post_accumulate_grad_hook(t: Tensor, hook: Any) -> Any:
    """Call ``hook(t)`` after ``t.grad`` has been accumulated in each backward (leaves only).

    Args:
        t: A leaf tensor.
        hook: Called as ``hook(t)``.

    Returns:
        A handle whose ``remove()`` unregisters the hook.

    Raises:
        RuntimeError: If ``t`` is not a leaf.
    """
    import weakref

    if t.grad_fn is not None:
        raise RuntimeError("post accumulate grad hooks cannot be registered on non-leaf tensors")
    key = id(t)
    entry = _POST_HOOKS.get(key)
    if entry is None or entry[0]() is not t:
        entry = _POST_HOOKS[key] = (weakref.ref(t, lambda _: _POST_HOOKS.pop(key, None)), [])
    entry[1].append(hook)

    class _Handle:
        def remove(self) -> None:
            if hook in entry[1]:
                entry[1].remove(hook)
    return _Handle()


def queue_callback(fn: Any) -> None:
    """Run ``fn()`` once when the current (or next) backward pass finishes (as PyTorch's
    ``Variable._execution_engine.queue_callback``; used by distributed gradient sync).

    Args:
        fn: A callable taking no arguments.
    """
    _FINAL_CALLBACKS.append(fn)


def run_backward(roots: Sequence[Tensor], grad_roots: Sequence[Tensor | None],
                 retain_graph: bool, create_graph: bool,
                 capture: dict | None = None) -> dict:
    """Propagate gradients from ``roots``.

    Without ``capture`` gradients accumulate into leaves' ``.grad``; with it (``autograd.grad``),
    they are returned in ``capture`` (keys: ``id(leaf)`` or ``(node, output_nr)``) and no
    ``.grad`` is touched.

    Args:
        roots: The tensors to start from.
        grad_roots: Gradient of each root (None for a scalar root: ones).
        retain_graph: Whether to keep saved tensors for another backward.
        create_graph: Whether to record the backward pass.
        capture: Optional dict to collect gradients in instead of ``.grad``.

    Returns:
        ``capture`` (an empty dict when none was given).
    """
    buffers: dict[Node, list] = {}
    ready_roots: list[Node] = []
    for i, (r, g) in enumerate(zip(roots, grad_roots)):
        if not isinstance(r, Tensor):
            raise TypeError(f"backward expects tensors, got {type(r).__name__}")
        if not r.requires_grad:
            raise RuntimeError(f"element {i} of tensors does not require grad and does not have "
                               "a grad_fn")
        if g is None:
            if r.numel() != 1:
                raise RuntimeError("grad can be implicitly created only for scalar outputs "
                                   f"(got an output of shape {tuple(r.shape)}); pass gradient=")
            g = _ones_like(r)
        else:
            _check_grad(g, r, f"grad_output[{i}]")
        if r.grad_fn is None:
            _deliver_leaf(r, g, capture, create_graph)
            continue
        buf = buffers.setdefault(r.grad_fn, [None] * r.grad_fn.n_outputs)
        buf[r._output_nr] = _accumulate(buf[r._output_nr], g)
        ready_roots.append(r.grad_fn)

    deps: dict[Node, int] = {}
    stack = list(dict.fromkeys(ready_roots))
    seen = set(stack)
    while stack:
        node = stack.pop()
        for e in node.next_edges:
            if e is not None and isinstance(e[0], Node):
                child = e[0]
                deps[child] = deps.get(child, 0) + 1
                if child not in seen:
                    seen.add(child)
                    stack.append(child)

    heap = [(-n.seq, n) for n in dict.fromkeys(ready_roots) if deps.get(n, 0) == 0]
    heapq.heapify(heap)
    with set_grad_enabled(create_graph):
        while heap:
            _, node = heapq.heappop(heap)
            grads = buffers.pop(node, None)
            gin: Sequence[Any] = ()
            if grads is not None and any(g is not None for g in grads):
                gin = _run_node(node, grads, retain_graph, capture)
            elif not retain_graph:
                _release(node)
            for k, e in enumerate(node.next_edges):
                if e is None:
                    continue
                g = gin[k] if k < len(gin) else None
                target, nr = e
                if isinstance(target, Tensor):
                    if g is not None:
                        _deliver_leaf(target, g, capture, create_graph)
                    continue
                if g is not None:
                    buf = buffers.setdefault(target, [None] * target.n_outputs)
                    buf[nr] = _accumulate(buf[nr], g)
                deps[target] -= 1
                if deps[target] == 0:
                    heapq.heappush(heap, (-target.seq, target))
    while _FINAL_CALLBACKS:
        _FINAL_CALLBACKS.pop(0)()
    return capture if capture is not None else {}


def _run_node(node: Node, grads: list, retain_graph: bool, capture: dict | None) -> tuple:
    for nr, g in enumerate(grads):
        if g is None:
            continue
        if node.out_hooks and nr in node.out_hooks:
            grads[nr] = g = _apply_hooks(node.out_hooks[nr], g)
        if node.retain and nr in node.retain:
            t = node.retain[nr]()
            if t is not None:
                t.grad = g if STATE.enabled else g.detach()
        if capture is not None and (node, nr) in capture:
            capture[(node, nr)] = g
    full = [g if g is not None else _zeros(node.out_meta[nr]) for nr, g in enumerate(grads)]
    if node.out_hooks and -1 in node.out_hooks:
        for hook in node.out_hooks[-1]:
            hook(full)
    gin = node.fn.backward(node.ctx, *full)
    if not isinstance(gin, tuple):
        gin = (gin,)
    if len(gin) < len(node.next_edges):
        need = sum(e is not None for e in node.next_edges)
        if need > len(gin):
            raise RuntimeError(f"function {node.fn.__name__}.backward returned {len(gin)} "
                               f"gradients, expected {len(node.next_edges)}")
    if STATE.anomaly:
        from clt.autograd.anomaly import check_backward

        check_backward(node, gin)
    if not retain_graph:
        _release(node)
    return tuple(g if g is None or isinstance(g, Tensor) else Tensor(g) for g in gin)


def _release(node: Node) -> None:
    """Free what ``node``'s backward kept, once it has run (or will not run) in this pass.

    The engine holds every node of the graph until the pass ends, so whatever a context
    references would otherwise stay alive through the whole backward. Saved tensors go; so do
    the tensors and arrays that clt's own Functions keep as ctx attributes (outputs, indices,
    statistics), as PyTorch frees its built-ins' saved variables. A user-defined Function's
    attributes stay, as in PyTorch.
    """
    ctx = node.ctx
    ctx._released = True
    ctx._saved = None
    if node.fn.__module__.startswith("clt."):
        held = ctx.__dict__
        for name in [k for k, v in held.items() if _holds_tensors(v)]:
            del held[name]


def _holds_tensors(v: Any) -> bool:
    if isinstance(v, (Tensor, Array)):
        return True
    return isinstance(v, (tuple, list)) and bool(v) and all(
        isinstance(e, (Tensor, Array)) for e in v)


def _deliver_leaf(t: Tensor, g: Tensor, capture: dict | None, create_graph: bool) -> None:
    g = _apply_hooks(t._hooks, g)
    if capture is not None:
        key = id(t)
        if key in capture:
            capture[key] = g if capture[key] is None else _accumulate(capture[key], g)
        return
    if not create_graph:
        g = g.detach()
    if t.grad is None:
        t.grad = g
    else:
        t.grad = _accumulate(t.grad, g) if create_graph else Tensor(
            ew.binary("add", t.grad._data, g._data))
    post = _POST_HOOKS.get(id(t))
    if post:
        for hook in list(post[1]):
            hook(t)


def backward(tensors: Tensor | Sequence[Tensor], grad_tensors: Any = None,
             retain_graph: bool | None = None, create_graph: bool = False,
             inputs: Sequence[Tensor] | None = None) -> None:
    """Accumulate gradients of ``tensors`` into the ``.grad`` of graph leaves.

    Args:
        tensors: The root tensor(s).
        grad_tensors: Gradient of each root (None for scalar roots: ones).
        retain_graph: Whether to keep the graph for another backward (default: ``create_graph``).
        create_graph: Whether to record the backward pass for higher-order gradients.
        inputs: If given, accumulate only into these tensors.
    """
    roots = [tensors] if isinstance(tensors, Tensor) else list(tensors)
    if grad_tensors is None or isinstance(grad_tensors, Tensor):
        grads = [grad_tensors] + [None] * (len(roots) - 1)
    else:
        grads = list(grad_tensors)
    if retain_graph is None:
        retain_graph = create_graph
    if inputs is not None:
        inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
        got = grad(roots, inputs, grads, retain_graph=retain_graph, create_graph=create_graph,
                   allow_unused=True)
        for t, g in zip(inputs, got):
            if g is not None:
                t.grad = g if t.grad is None else Tensor(ew.binary("add", t.grad._data, g._data))
        return
    run_backward(roots, grads, retain_graph, create_graph)


def grad(outputs: Tensor | Sequence[Tensor], inputs: Tensor | Sequence[Tensor],
         grad_outputs: Any = None, retain_graph: bool | None = None,
         create_graph: bool = False, allow_unused: bool = False,
         materialize_grads: bool = False) -> tuple[Tensor | None, ...]:
    """Gradients of ``outputs`` with respect to ``inputs``, without touching ``.grad``.

    Args:
        outputs: The tensor(s) to differentiate.
        inputs: The tensor(s) to differentiate with respect to.
        grad_outputs: Gradient of each output (None for scalar outputs: ones).
        retain_graph: Whether to keep the graph for another backward (default: ``create_graph``).
        create_graph: Whether to record the backward pass for higher-order gradients.
        allow_unused: Whether an input that the outputs don't depend on gives None instead of an
            error.
        materialize_grads: Whether such inputs get zeros instead of None.

    Returns:
        One gradient per input.

    Raises:
        RuntimeError: If an input does not require grad, or is unused and ``allow_unused`` is False.
    """
    outs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    ins = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    if grad_outputs is None or isinstance(grad_outputs, Tensor):
        gouts = [grad_outputs] + [None] * (len(outs) - 1)
    else:
        gouts = list(grad_outputs)
    if retain_graph is None:
        retain_graph = create_graph
    capture: dict = {}
    keys = []
    for t in ins:
        if not isinstance(t, Tensor) or not t.requires_grad:
            raise RuntimeError("One of the differentiated Tensors does not require grad")
        key = id(t) if t.grad_fn is None else (t.grad_fn, t._output_nr)
        capture[key] = None
        keys.append(key)
    run_backward(outs, gouts, retain_graph, create_graph, capture)
    result = []
    for t, key in zip(ins, keys):
        g = capture[key]
        if g is None:
            if materialize_grads:
                g = _zeros((t.shape, t.dtype, t.device))
            elif not allow_unused:
                raise RuntimeError("One of the differentiated Tensors appears to not have been "
                                   "used in the graph. Set allow_unused=True if this is the "
                                   "desired behavior.")
        result.append(g)
    return tuple(result)
