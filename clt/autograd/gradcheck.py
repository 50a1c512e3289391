"""Gradient checking by central finite differences."""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from clt.autograd.engine import grad as autograd_grad
from clt.autograd.grad_mode import enable_grad, no_grad
from clt.ops import transfer
from clt.tensor import Tensor


class GradcheckError(RuntimeError):
    """Analytical and numerical gradients disagree."""


def _outputs(fn: Callable, inputs: Sequence[Any]) -> list[Tensor]:
    out = fn(*inputs)
    outs = list(out) if isinstance(out, (tuple, list)) else [out]
    return [o for o in outs if isinstance(o, Tensor)]


def _host(t: Tensor) -> np.ndarray:
    return transfer.to_numpy(t._data).astype(np.float64)


def gradcheck(fn: Callable, inputs: Sequence[Any] | Any, eps: float | None = None,
              atol: float | None = None, rtol: float | None = None,
              raise_exception: bool = True, max_elements: int = 4096) -> bool:
    """Compare autograd's Jacobian of ``fn`` at ``inputs`` with central differences.

    Tensors in ``inputs`` with ``requires_grad=True`` are checked. float64 inputs get tight
    default tolerances; float32 and float16 looser ones (use float64 where the device has it).

    Args:
        fn: The function to check; returns a Tensor or a tuple of Tensors.
        inputs: A Tensor or a sequence of arguments.
        eps: Finite-difference step (default by dtype).
        atol: Absolute tolerance (default by dtype).
        rtol: Relative tolerance (default by dtype).
        raise_exception: Whether a mismatch raises instead of returning False.
        max_elements: Largest allowed number of elements per checked input (larger ones raise
            ValueError).

    Returns:
        True if the Jacobians match.

    Raises:
        GradcheckError: the Jacobians differ (unless ``raise_exception=False``).
    """
    inputs = tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)
    diff = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    if not diff:
        raise ValueError("gradcheck expects at least one input tensor to require gradient")
    dt = inputs[diff[0]].dtype
    f64 = dt.name == "float64"
    eps = eps if eps is not None else (1e-6 if f64 else 1e-3)
    atol = atol if atol is not None else (1e-5 if f64 else 1e-2)
    rtol = rtol if rtol is not None else (1e-3 if f64 else 1e-2)
    for i in diff:
        if inputs[i].numel() > max_elements:
            raise ValueError(f"gradcheck: input {i} has {inputs[i].numel()} elements; "
                             f"use a smaller input (max_elements={max_elements})")
    outs = _outputs(fn, inputs)
    out_sizes = [o.numel() for o in outs]
    base = [_host(x) if isinstance(x, Tensor) else None for x in inputs]

    def evaluate(i: int, perturbed: np.ndarray) -> np.ndarray:
        args = list(inputs)
        x = inputs[i]
        args[i] = Tensor(transfer.from_numpy(x.device, perturbed.astype(x.dtype.np), x.dtype))
        with no_grad():
            res = _outputs(fn, args)
        return np.concatenate([_host(r).ravel() for r in res]) if res else np.zeros(0)

    for i in diff:
        x0 = base[i]
        n = x0.size
        numerical = np.zeros((n, sum(out_sizes)))
        for j in range(n):
            xp, xm = x0.copy(), x0.copy()
            xp.flat[j] += eps
            xm.flat[j] -= eps
            numerical[j] = (evaluate(i, xp) - evaluate(i, xm)) / (2 * eps)
        analytical = np.zeros_like(numerical)
        col = 0
        for o, size in zip(outs, out_sizes):
            if not o.requires_grad:
                col += size
                continue
            for k in range(size):
                onehot = np.zeros(size)
                onehot[k] = 1.0
                go = Tensor(transfer.from_numpy(o.device, onehot.reshape(o.shape).astype(
                    o.dtype.np), o.dtype))
                (g,) = autograd_grad([o], [inputs[i]], [go], retain_graph=True,
                                     allow_unused=True)
                if g is not None:
                    analytical[:, col + k] = _host(g).ravel()
            col += size
        if not np.allclose(analytical, numerical, atol=atol, rtol=rtol):
            worst = np.unravel_index(np.argmax(np.abs(analytical - numerical)), numerical.shape)
            msg = (f"Jacobian mismatch for output 0 with respect to input {i},\n"
                   f"numerical:{numerical}\nanalytical:{analytical}\n"
                   f"largest difference at (input element, output element) {worst}: "
                   f"numerical {numerical[worst]:.6g} vs analytical {analytical[worst]:.6g}")
            if raise_exception:
                raise GradcheckError(msg)
            return False
    return True


def gradgradcheck(fn: Callable, inputs: Sequence[Any], **kw: Any) -> bool:
    """Check second derivatives: gradcheck of the gradient function (create_graph=True).

    Args:
        fn: The function to check.
        inputs: The arguments; Tensors with ``requires_grad`` are checked.
        **kw: Passed to :func:`gradcheck`.

    Returns:
        True if the second derivatives match.
    """
    inputs = tuple(inputs)
    diff = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]

    def first(*args: Any) -> tuple:
        # gradcheck evaluates perturbed copies (not requiring grad) under no_grad: the first
        # derivative must still be taken at them
        with enable_grad():
            args = list(args)
            for i in diff:
                if not args[i].requires_grad:
                    args[i] = args[i].detach().requires_grad_(True)
            outs = _outputs(fn, args)
            total = None
            for o in outs:
                s = (o * o).sum() if total is None else total + (o * o).sum()
                total = s
            return autograd_grad([total], [args[i] for i in diff], create_graph=True,
                                 allow_unused=True)

    return gradcheck(first, inputs, **kw)
