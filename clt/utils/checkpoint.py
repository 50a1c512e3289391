"""Activation checkpointing: keep only a segment's inputs and recompute it during backward."""
from __future__ import annotations

from typing import Any, Callable

from clt.autograd.engine import backward as autograd_backward
from clt.autograd.function import Function
from clt.autograd.grad_mode import enable_grad, no_grad
from clt.tensor import Tensor


class _Checkpoint(Function):
    @staticmethod
    def forward(ctx, fn: Callable, preserve_rng: bool, *args: Any) -> Any:
        ctx.fn, ctx.preserve_rng = fn, preserve_rng
        if preserve_rng:
            from clt.ops import random as R

            ctx.rng = R.get_rng_state()
        ctx.inputs = args
        with no_grad():
            out = fn(*args)
        if isinstance(out, Tensor):
            ctx.single = True
            return out.detach()
        ctx.single = False
        return tuple(o.detach() for o in out)

    @staticmethod
    def backward(ctx, *grads: Tensor) -> tuple:
        inputs = [a.detach().requires_grad_(a.requires_grad) if isinstance(a, Tensor) else a
                  for a in ctx.inputs]
        if ctx.preserve_rng:
            from clt.ops import random as R

            saved = R.get_rng_state()
            R.set_rng_state(ctx.rng)        # the same dropout masks as the first forward
        with enable_grad():
            out = ctx.fn(*inputs)
        if ctx.preserve_rng:
            R.set_rng_state(saved)
        outs = [out] if isinstance(out, Tensor) else list(out)
        pairs = [(o, g) for o, g in zip(outs, grads) if o.requires_grad]
        if pairs:
            autograd_backward([p[0] for p in pairs], [p[1] for p in pairs])
        return (None, None) + tuple(a.grad if isinstance(a, Tensor) and a.requires_grad
                                    else None for a in inputs)


def checkpoint(function: Callable, *args: Any, preserve_rng_state: bool = True) -> Any:
    """Run ``function(*args)`` without keeping its intermediate activations.

    During backward the segment runs again (with the same RNG state, so dropout matches) to
    compute gradients: memory for compute, as ``torch.utils.checkpoint``. Parameters used inside
    ``function`` get their gradients as usual.

    Args:
        function: The segment to run.
        *args: Its inputs.
        preserve_rng_state: Whether the recomputation replays the same random numbers.

    Returns:
        What ``function(*args)`` returns.
    """
    return _Checkpoint.apply(function, preserve_rng_state, *args)


def checkpoint_sequential(functions: Any, segments: int, input: Tensor,
                          preserve_rng_state: bool = True) -> Tensor:
    """Split a Sequential (or list of modules) into ``segments`` checkpointed chunks.

    Args:
        functions: A Sequential or a list of modules.
        segments: Number of chunks.
        input: The input tensor.
        preserve_rng_state: Whether the recomputation replays the same random numbers.

    Returns:
        The output of the last module.

    Raises:
        ValueError: If ``segments`` < 1.
    """
    mods = list(functions.children()) if hasattr(functions, "children") else list(functions)
    if segments < 1:
        raise ValueError(f"segments must be >= 1, got {segments}")
    size = -(-len(mods) // segments)

    def run(chunk: list) -> Callable:
        def f(x: Tensor) -> Tensor:
            for m in chunk:
                x = m(x)
            return x
        return f

    x = input
    for s in range(0, len(mods), size):
        x = checkpoint(run(mods[s:s + size]), x, preserve_rng_state=preserve_rng_state)
    return x
