"""Differentiable matrix products on Tensors: matmul, mm, bmm, addmm, baddbmm, mv, dot, outer,
einsum and linear, plus ``Tensor.__matmul__``.

Forward passes call :mod:`clt.ops.matmul` (one strided, batched GEMM; transposed operands are
read in place). Backward passes are written with these same differentiable functions, so
``create_graph=True`` works; gradients of broadcast batch dims are summed back, folding the
batch into the GEMM's rows where the layout allows (``x @ W`` with batched ``x`` gives ``W``'s
gradient in one GEMM, not a batched GEMM plus a reduction).
"""
from __future__ import annotations

from typing import Any, Sequence

from clt.amp import autocast_args
from clt.autograd.function import Function
from clt.backend.fusion import fusion_enabled
from clt.errors import ShapeError
from clt.functions._util import check_out_grad, check_tensor, needs_grad, same_device
from clt.functions.elementwise import mul, sum_to
from clt.functions.shape import reshape, unsqueeze
from clt.ops import elementwise as ew
from clt.ops import matmul as M
from clt.ops.array import Array
from clt.tensor import Tensor, tensor_method

__all__ = ["matmul", "mm", "bmm", "addmm", "baddbmm", "mv", "dot", "inner", "outer", "ger",
           "einsum"]


def _mT(x: Tensor) -> Tensor:
    """The last two dims swapped, as a view (differentiable)."""
    return x.transpose(-1, -2)




_sum_batch_to = sum_to


def _grad_lhs(g: Tensor, b: Tensor, a_shape: tuple[int, ...]) -> Tensor:
    """d(a @ b)/da for matrices a (*, M, K), b (*, K, N), g (*, M, N)."""
    return _sum_batch_to(matmul(g, _mT(b)), a_shape)


def _grad_rhs(g: Tensor, a: Tensor, b_shape: tuple[int, ...]) -> Tensor:
    """d(a @ b)/db for matrices a (*, M, K), b (*, K, N), g (*, M, N)."""
    if len(b_shape) == 2 and a.ndim > 2:
        # b shared by every batch: sum_b a_b.T @ g_b is one GEMM over the folded rows
        # (b has no batch dims, so a's batch dims are g's)
        return matmul(_mT(reshape(a, (-1, a.shape[-1]))), reshape(g, (-1, g.shape[-1])))
    return _sum_batch_to(matmul(_mT(a), g), b_shape)


class _Matmul(Function):
    """``matmul`` with PyTorch's rules (vectors, broadcast batches); grads summed back."""

    @staticmethod
    def forward(ctx, a: Tensor, b: Tensor) -> Array:
        ctx.save_for_backward(a, b)
        return M.matmul(a._data, b._data)

    @staticmethod
    def backward(ctx, g: Tensor) -> tuple:
        a, b = ctx.saved_tensors
        # vectors become matrices (a row for the first operand, a column for the second)
        a2 = unsqueeze(a, 0) if a.ndim == 1 else a
        b2 = unsqueeze(b, -1) if b.ndim == 1 else b
        g2 = g
        if a.ndim == 1:
            g2 = unsqueeze(g2, -2 if b.ndim > 1 else 0)
        if b.ndim == 1:
            g2 = unsqueeze(g2, -1)
        ga = gb = None
        if ctx.needs_input_grad[0]:
            ga = _grad_lhs(g2, b2, tuple(a2.shape))
            ga = reshape(ga, tuple(a.shape)) if a.ndim == 1 else ga
        if ctx.needs_input_grad[1]:
            gb = _grad_rhs(g2, a2, tuple(b2.shape))
            gb = reshape(gb, tuple(b.shape)) if b.ndim == 1 else gb
        return ga, gb


def _raw_or_apply(op: str, fn: type, args: tuple, out: Tensor | None, raw: Any) -> Tensor:
    """``out=`` and no-grad calls run the raw op; otherwise record ``fn`` for autograd."""
    if out is not None:
        check_out_grad(op, *args)
        raw(out._data)
        return out
    if not needs_grad(*args):
        return Tensor(raw(None))
    return fn.apply(*args)


@tensor_method("matmul", "__matmul__")
def matmul(input: Tensor, other: Tensor, *, out: Tensor | None = None) -> Tensor:
    """Matrix product with PyTorch's rules: 1-D x 1-D is a dot product (0-d), a 1-D operand is
    a row (first) or column (second) vector whose dim is removed from the result, and N-D
    operands are batches of matrices whose batch dims broadcast.

    Args:
        input: First operand (at least 1-D).
        other: Second operand (at least 1-D).
        out: Optional tensor to write the result into (not differentiable).

    Returns:
        The product.

    Raises:
        ShapeError: mismatched inner dims, naming both shapes.
        DTypeError: different dtypes.
    """
    check_tensor(input, "matmul")
    check_tensor(other, "matmul", "other")
    same_device("matmul", input, other)
    if out is None:     # under clt.autocast: float16 on devices that compute it natively
        input, other = autocast_args("matmul", input, other)
    return _raw_or_apply("matmul", _Matmul, (input, other), out,
                         lambda o: M.matmul(input._data, other._data, o))


def _rmatmul(self: Tensor, other: Any) -> Tensor:
    return matmul(other, self)


tensor_method("__rmatmul__")(_rmatmul)


@tensor_method("mm")
def mm(input: Tensor, mat2: Tensor, *, out: Tensor | None = None) -> Tensor:
    """Product of two matrices: (M, K) @ (K, N) -> (M, N).

    Args:
        input: Matrix (M, K).
        mat2: Matrix (K, N).
        out: Optional tensor to write the result into (not differentiable).

    Returns:
        The product (M, N).

    Raises:
        ShapeError: If the shapes don't fit.
    """
    for name, x in (("self", input), ("mat2", mat2)):
        if check_tensor(x, "mm", name).ndim != 2:
            raise ShapeError(f"mm: {name} must be a matrix, got shape {tuple(x.shape)}")
    return matmul(input, mat2, out=out)


@tensor_method("bmm")
def bmm(input: Tensor, mat2: Tensor, *, out: Tensor | None = None) -> Tensor:
    """Batched product of 3-D tensors with equal batch size: (B, M, K) @ (B, K, N).

    Args:
        input: Batch (B, M, K).
        mat2: Batch (B, K, N).
        out: Optional tensor to write the result into (not differentiable).

    Returns:
        The products (B, M, N).

    Raises:
        ShapeError: If the shapes don't fit.
    """
    for name, x in (("batch1", input), ("batch2", mat2)):
        if check_tensor(x, "bmm", name).ndim != 3:
            raise ShapeError(f"bmm: {name} must be a 3D tensor, got shape {tuple(x.shape)}")
    if input.shape[0] != mat2.shape[0] or input.shape[2] != mat2.shape[1]:
        raise ShapeError(f"bmm: expected batch2 of shape ({input.shape[0]}, {input.shape[2]}, *)"
                         f" for batch1 of shape {tuple(input.shape)}, but got "
                         f"{tuple(mat2.shape)}")
    return matmul(input, mat2, out=out)


@tensor_method("mv")
def mv(input: Tensor, vec: Tensor, *, out: Tensor | None = None) -> Tensor:
    """Matrix-vector product: (M, K) @ (K,) -> (M,).

    Args:
        input: Matrix (M, K).
        vec: Vector (K,).
        out: Optional tensor to write the result into (not differentiable).

    Returns:
        The product (M,).

    Raises:
        ShapeError: If the shapes don't fit.
    """
    if input.ndim != 2 or vec.ndim != 1:
        raise ShapeError(f"mv: expected a matrix and a vector, got shapes {tuple(input.shape)} "
                         f"and {tuple(vec.shape)}")
    return matmul(input, vec, out=out)


@tensor_method("dot")
def dot(input: Tensor, other: Tensor, *, out: Tensor | None = None) -> Tensor:
    """Inner product of two 1-D tensors of equal length (a 0-d tensor).

    Args:
        input: Vector (N,).
        other: Vector (N,).
        out: Optional tensor to write the result into (not differentiable).

    Returns:
        A 0-d tensor.

    Raises:
        ShapeError: If the shapes don't fit.
    """
    if check_tensor(input, "dot").ndim != 1 or check_tensor(other, "dot", "tensor").ndim != 1:
        raise ShapeError(f"1D tensors expected, but got {input.ndim}D and {other.ndim}D tensors")
    if input.shape != other.shape:
        M.dot(input._data, other._data)   # raises the PyTorch-style size message
    return matmul(input, other, out=out)


@tensor_method("inner")
def inner(input: Tensor, other: Tensor) -> Tensor:
    """Sum of products over the last dims: ``a[..., k] * b[..., k]`` -> shape a[:-1] + b[:-1].

    Args:
        input: First operand.
        other: Second operand, with the same last dim.

    Returns:
        The sums of products.
    """
    if input.ndim == 0 or other.ndim == 0:
        return mul(input, other)
    ia = "".join(chr(97 + i) for i in range(input.ndim - 1))
    ib = "".join(chr(97 + input.ndim - 1 + i) for i in range(other.ndim - 1))
    return einsum(f"{ia}z,{ib}z->{ia}{ib}", input, other)


@tensor_method("outer", "ger")
def outer(input: Tensor, vec2: Tensor, *, out: Tensor | None = None) -> Tensor:
    """Outer product of two vectors: (M,) x (N,) -> (M, N), a broadcast multiply.

    Args:
        input: Vector (M,).
        vec2: Vector (N,).
        out: Optional tensor to write the result into (not differentiable).

    Returns:
        The product (M, N).

    Raises:
        ShapeError: If the shapes don't fit.
    """
    if input.ndim != 1 or vec2.ndim != 1:
        raise ShapeError(f"outer: expected 1-D vectors, got shapes {tuple(input.shape)} and "
                         f"{tuple(vec2.shape)}")
    if out is not None:
        check_out_grad("outer", input, vec2)
        M.outer(input._data, vec2._data, out._data)
        return out
    return mul(unsqueeze(input, 1), unsqueeze(vec2, 0))


ger = outer


class _AddMM(Function):
    """``beta * c + alpha * (a @ b)`` with c broadcast; one GEMM with c in its epilogue."""

    @staticmethod
    def forward(ctx, c: Tensor, a: Tensor, b: Tensor, beta: Any, alpha: Any) -> Array:
        ctx.save_for_backward(a, b)
        ctx.c_shape, ctx.beta, ctx.alpha = tuple(c.shape), beta, alpha
        return M.gemm(a._data, b._data, alpha=alpha, beta=beta, c=c._data)

    @staticmethod
    def backward(ctx, g: Tensor) -> tuple:
        a, b = ctx.saved_tensors
        gc = ga = gb = None
        if ctx.needs_input_grad[0]:
            gc = sum_to(g if ctx.beta == 1 else g * ctx.beta, ctx.c_shape)
        ga_g = g if ctx.alpha == 1 else g * ctx.alpha
        if ctx.needs_input_grad[1]:
            ga = _grad_lhs(ga_g, b, tuple(a.shape))
        if ctx.needs_input_grad[2]:
            gb = _grad_rhs(ga_g, a, tuple(b.shape))
        return gc, ga, gb, None, None


@tensor_method("addmm")
def addmm(input: Tensor, mat1: Tensor, mat2: Tensor, *, beta: Any = 1, alpha: Any = 1,
          out: Tensor | None = None) -> Tensor:
    """``beta * input + alpha * (mat1 @ mat2)``; ``input`` broadcasts to (M, N).

    With ``beta == 0`` the values of ``input`` are ignored (NaN in it does not propagate).

    Args:
        input: Added term, broadcastable to (M, N).
        mat1: Matrix (M, K).
        mat2: Matrix (K, N).
        beta: Scale of ``input``.
        alpha: Scale of the product.
        out: Optional tensor to write the result into (not differentiable).

    Returns:
        The result (M, N).

    Raises:
        ShapeError: If the shapes don't fit.
    """
    for name, x in (("mat1", mat1), ("mat2", mat2)):
        if check_tensor(x, "addmm", name).ndim != 2:
            raise ShapeError(f"addmm: {name} must be a matrix, got shape {tuple(x.shape)}")
    same_device("addmm", input, mat1, mat2)
    if out is None:
        input, mat1, mat2 = autocast_args("addmm", input, mat1, mat2)
    return _raw_or_apply("addmm", _AddMM, (input, mat1, mat2, beta, alpha), out,
                         lambda o: M.addmm(input._data, mat1._data, mat2._data, beta, alpha, o))


@tensor_method("baddbmm")
def baddbmm(input: Tensor, batch1: Tensor, batch2: Tensor, *, beta: Any = 1, alpha: Any = 1,
            out: Tensor | None = None) -> Tensor:
    """``beta * input + alpha * bmm(batch1, batch2)``; ``input`` broadcasts to (B, M, N).

    Args:
        input: Added term, broadcastable to (B, M, N).
        batch1: Batch (B, M, K).
        batch2: Batch (B, K, N).
        beta: Scale of ``input``.
        alpha: Scale of the products.
        out: Optional tensor to write the result into (not differentiable).

    Returns:
        The result (B, M, N).

    Raises:
        ShapeError: If the shapes don't fit.
    """
    for name, x in (("batch1", batch1), ("batch2", batch2)):
        if check_tensor(x, "baddbmm", name).ndim != 3:
            raise ShapeError(f"baddbmm: {name} must be a 3D tensor, got shape "
                             f"{tuple(x.shape)}")
    same_device("baddbmm", input, batch1, batch2)
    if out is None:
        input, batch1, batch2 = autocast_args("baddbmm", input, batch1, batch2)
    return _raw_or_apply(
        "baddbmm", _AddMM, (input, batch1, batch2, beta, alpha), out,
        lambda o: M.baddbmm(input._data, batch1._data, batch2._data, beta, alpha, o))


def _addmm_inplace(name: str, fn: Any, raw: Any) -> Any:
    def method(self: Tensor, m1: Tensor, m2: Tensor, *, beta: Any = 1, alpha: Any = 1
               ) -> Tensor:
        if not needs_grad(self, m1, m2):
            # C = beta * C + alpha * A @ B in one GEMM, C read and written in place
            raw(self._data, m1._data, m2._data, beta, alpha, self._data)
            return self
        from clt.functions.elementwise import apply_inplace

        return apply_inplace(self, lambda s: fn(s, m1, m2, beta=beta, alpha=alpha), name)
    method.__name__ = name
    return method


tensor_method("addmm_")(_addmm_inplace("addmm_", addmm, M.addmm))
tensor_method("baddbmm_")(_addmm_inplace("baddbmm_", baddbmm, M.baddbmm))


def _linear(x: Array, w: Array, bias: Array | None) -> Array:
    """The GEMM with the bias in its epilogue, or (fusion path "bias" off) then a bias add."""
    if bias is None or fusion_enabled("bias"):
        return M.linear(x, w, bias)
    return ew.binary("add", M.linear(x, w, None), bias)


class _Linear(Function):
    """``x @ w.T + bias``: one GEMM, the bias added in its epilogue."""

    @staticmethod
    def forward(ctx, x: Tensor, w: Tensor, bias: Tensor | None) -> Array:
        ctx.save_for_backward(x, w)
        ctx.bias_shape = None if bias is None else tuple(bias.shape)
        return _linear(x._data, w._data, None if bias is None else bias._data)

    @staticmethod
    def backward(ctx, g: Tensor) -> tuple:
        x, w = ctx.saved_tensors
        gx = gw = gb = None
        if ctx.needs_input_grad[0]:
            gx = matmul(g, w) if w.ndim == 2 else mul(unsqueeze(g, -1), w)
        if ctx.needs_input_grad[1]:
            # every row of every batch contributes: one GEMM over the folded rows
            g2 = reshape(g, (-1, w.shape[0] if w.ndim == 2 else 1))
            gw = matmul(_mT(g2), reshape(x, (-1, x.shape[-1])))
            if w.ndim == 1:
                gw = reshape(gw, tuple(w.shape))
        if ctx.bias_shape is not None and ctx.needs_input_grad[2]:
            gb = sum_to(g, ctx.bias_shape)
        return gx, gw, gb


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``input @ weight.T + bias`` (``torch.nn.functional.linear``), bias fused into the GEMM.

    Args:
        input: Input (*, in_features).
        weight: Weight (out_features, in_features).
        bias: Optional bias (out_features,).

    Returns:
        The output (*, out_features).

    Shape:
        input (*, in_features), weight (out_features, in_features), bias (out_features,);
        output (*, out_features).
    """
    check_tensor(input, "linear")
    check_tensor(weight, "linear", "weight")
    same_device("linear", input, weight, bias)
    input, weight, bias = autocast_args("linear", input, weight, bias)
    args = (input, weight, bias)
    if not needs_grad(*args):
        return Tensor(_linear(input._data, weight._data, None if bias is None else bias._data))
    return _Linear.apply(*args)


# ---------------------------------------------------------------------------------------------
# einsum

class _Einsum(Function):
    """Einstein summation; each operand's gradient is another einsum (differentiable)."""

    @staticmethod
    def forward(ctx, terms: tuple, out: str, *operands: Tensor) -> Array:
        ctx.terms, ctx.out = terms, out
        ctx.save_for_backward(*operands)
        eq = ",".join(terms) + "->" + out
        return M.einsum(eq, *[x._data for x in operands])

    @staticmethod
    def backward(ctx, g: Tensor) -> tuple:
        ops = ctx.saved_tensors
        grads = []
        for i, x in enumerate(ops):
            grads.append(_einsum_grad(ctx.terms, ctx.out, i, g, ops)
                         if ctx.needs_input_grad[2 + i] else None)
        return (None, None, *grads)


def _einsum_grad(terms: Sequence[str], out: str, i: int, g: Tensor, ops: Sequence[Tensor]
                 ) -> Tensor:
    """Gradient of operand ``i``: the einsum of ``g`` with the other operands onto its
    subscripts, then broadcast, summed and put on diagonals to match the operand."""
    ti = terms[i]
    uniq = "".join(dict.fromkeys(ti))           # repeated subscripts once, in order
    others = [t for j, t in enumerate(terms) if j != i]
    avail = set(out).union(*others)
    tgt = "".join(ch for ch in uniq if ch in avail)
    gi = einsum(",".join([out] + others) + "->" + tgt,
                g, *[x for j, x in enumerate(ops) if j != i])
    size = dict(zip(ti, ops[i].shape))
    # this operand's size-1 dims that broadcast against the others: sum them back; and where
    # only this operand gave a subscript its size, broadcast the gradient to it
    gi = sum_to(gi, tuple(min(n, size[ch]) for ch, n in zip(tgt, gi.shape)))
    if tuple(gi.shape) != tuple(size[ch] for ch in tgt):
        gi = gi.expand(*(size[ch] for ch in tgt))
    if tgt != uniq:
        # subscripts only this operand has, summed in forward: the gradient is a broadcast
        gi = reshape(gi, tuple(size[ch] if ch in tgt else 1 for ch in uniq))
        gi = gi.expand(*(size[ch] for ch in uniq))
    if len(uniq) != len(ti):
        gi = _EmbedDiagonal.apply(gi, uniq, ti, tuple(ops[i].shape))
    return gi


class _EmbedDiagonal(Function):
    """Scatter ``g`` (deduplicated subscripts) onto the diagonals of a zero tensor."""

    @staticmethod
    def forward(ctx, g: Tensor, uniq: str, ti: str, shape: tuple) -> Array:
        from clt.ops import elementwise as ew

        ctx.uniq, ctx.ti = uniq, ti
        z = ew.fill_(Array.empty(g.device, shape, g.dtype), 0)
        strides = {}
        for ch, st in zip(ti, z.strides):
            strides[ch] = strides.get(ch, 0) + st
        diag = z.view(tuple(g.shape), tuple(strides[ch] for ch in uniq), z.offset)
        ew.copy_(diag, g._data)
        return z

    @staticmethod
    def backward(ctx, gg: Tensor) -> tuple:
        return einsum(f"{ctx.ti}->{ctx.uniq}", gg), None, None, None


def einsum(equation: str, *operands: Any) -> Tensor:
    """Einstein summation (``torch.einsum``), mapped onto views and batched GEMMs.

    Supports any number of operands, repeated subscripts (diagonals), ``...``, size-1
    broadcasting, implicit outputs and sums over subscripts missing from the output.
    Examples: ``einsum("ij,jk->ik", a, b)``, ``einsum("bij,bjk->bik", x, y)``,
    ``einsum("ii->i", a)`` (diagonal), ``einsum("ij->", a)`` (sum).

    Args:
        equation: The subscripts, such as ``"bij,bjk->bik"``.
        *operands: The tensors (or one sequence of them).

    Returns:
        The result.
    """
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    for k, x in enumerate(operands):
        check_tensor(x, "einsum", f"operands[{k}]")
    same_device("einsum", *operands)
    operands = autocast_args("einsum", *operands)
    terms, out = M.parse_einsum(equation, [x._data for x in operands])
    if not needs_grad(*operands):
        return Tensor(M.einsum(",".join(terms) + "->" + out, *[x._data for x in operands]))
    return _Einsum.apply(tuple(terms), out, *operands)
