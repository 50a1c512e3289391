"""Differentiable shape ops that copy (cat, stack, flip, roll, repeat/tile, pad, tril/triu, diag,
diag_embed) and the views split, chunk, diagonal and unfold, on top of :mod:`clt.ops.shape_ops`.

Gradients: cat -> slices of the gradient, stack -> its unbind, flip -> flip, roll -> roll back,
repeat/tile -> a sum over the repeats, pad -> the cropped gradient (constant) or the borders
folded back onto the edge (reflect, replicate, circular), tril/triu -> tril/triu, diagonal views
-> the gradient written on a zero diagonal. Every backward is itself differentiable.
"""
from __future__ import annotations

from typing import Any, Sequence

from clt.autograd.function import Function
from clt.errors import ShapeError
from clt.functions._util import needs_grad
from clt.functions.elementwise import apply_inplace, sum_to, to_dtype
from clt.ops import elementwise as ew
from clt.ops import reduce as R
from clt.ops import shape_ops as S
from clt.ops import shapes
from clt.ops.array import Array
from clt.tensor import Tensor, tensor_method

__all__ = ["cat", "concat", "concatenate", "stack", "hstack", "vstack", "dstack", "split",
           "chunk", "flip", "fliplr", "flipud", "roll", "tile", "tril", "triu", "diagonal",
           "diag", "diag_embed"]


def _tensors(tensors: Any, op: str) -> list[Tensor]:
    tensors = list(tensors)
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"{op}(): expected a sequence of Tensors, got {type(t).__name__} "
                            f"at position {i}")
    return tensors


def _ints(args: tuple) -> tuple[int, ...]:
    """``f(2, 3)`` and ``f((2, 3))`` alike."""
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        args = tuple(args[0])
    return tuple(int(a) for a in args)


def _as_view(out: Tensor, x: Tensor) -> Tensor:
    out._base = x._base if x._base is not None else x
    return out


# -----------------------------------------------------------------------------------------------
# cat / stack

class _Cat(Function):
    @staticmethod
    def forward(ctx, dim: int, *xs: Tensor) -> Array:
        out = S.cat([x._data for x in xs], dim)
        used = [x for x in xs if tuple(x.shape) != (0,)]
        ctx.dim = shapes.normalize_dim(dim, used[0].ndim) if used else 0
        ctx.parts = [(tuple(x.shape) != (0,), x.shape[ctx.dim] if x.ndim else 0, x.dtype)
                     for x in xs]
        return out

    @staticmethod
    def backward(ctx, g: Tensor) -> tuple:
        grads: list[Any] = [None]
        start = 0
        for (used, n, dtype), need in zip(ctx.parts, ctx.needs_input_grad[1:]):
            if not used:
                grads.append(Tensor(Array.empty(g.device, (0,), dtype)) if need else None)
                continue
            if need:
                gi = g.narrow(ctx.dim, start, n)
                grads.append(gi if gi.dtype is dtype else to_dtype(gi, dtype))
            else:
                grads.append(None)
            start += n
        return tuple(grads)


def cat(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """Concatenate along ``dim`` (dtypes promote; 1-d empty tensors are skipped, as PyTorch).

    Args:
        tensors: A sequence of tensors.
        dim: The dim to concatenate along.

    Returns:
        A new tensor.
    """
    tensors = _tensors(tensors, "cat")
    if needs_grad(*tensors):
        return _Cat.apply(dim, *tensors)
    return Tensor(S.cat([t._data for t in tensors], dim))


concat = concatenate = cat


class _Stack(Function):
    @staticmethod
    def forward(ctx, dim: int, *xs: Tensor) -> Array:
        out = S.stack([x._data for x in xs], dim)
        ctx.dim, ctx.dtypes = shapes.normalize_dim(dim, xs[0].ndim + 1), [x.dtype for x in xs]
        return out

    @staticmethod
    def backward(ctx, g: Tensor) -> tuple:
        grads: list[Any] = [None]
        for i, (dtype, need) in enumerate(zip(ctx.dtypes, ctx.needs_input_grad[1:])):
            gi = g.select(ctx.dim, i) if need else None
            grads.append(gi if gi is None or gi.dtype is dtype else to_dtype(gi, dtype))
        return tuple(grads)


def stack(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """Join equal-shaped tensors along a new dim ``dim``.

    Args:
        tensors: A sequence of tensors.
        dim: Where the new dim goes.

    Returns:
        A new tensor.
    """
    tensors = _tensors(tensors, "stack")
    if needs_grad(*tensors):
        return _Stack.apply(dim, *tensors)
    return Tensor(S.stack([t._data for t in tensors], dim))


def _at_least(t: Tensor, n: int) -> Tensor:
    """numpy's atleast_1d/2d/3d: (m,) -> (1, m) -> (1, m, 1); (m, k) -> (m, k, 1)."""
    if t.ndim >= n:
        return t
    shape = tuple(t.shape)
    if t.ndim == 0:
        return t.reshape((1,) * n)
    if t.ndim == 1:
        return t.reshape((1,) + shape + ((1,) if n == 3 else ()))
    return t.reshape(shape + (1,))


def hstack(tensors: Sequence[Tensor]) -> Tensor:
    """Concatenate column-wise (1-d tensors end to end).

    Args:
        tensors: A sequence of tensors.

    Returns:
        A new tensor.
    """
    ts = [_at_least(t, 1) for t in _tensors(tensors, "hstack")]
    return cat(ts, 0 if ts and ts[0].ndim == 1 else 1)


def vstack(tensors: Sequence[Tensor]) -> Tensor:
    """Concatenate row-wise (1-d tensors become rows).

    Args:
        tensors: A sequence of tensors.

    Returns:
        A new tensor.
    """
    return cat([_at_least(t, 2) for t in _tensors(tensors, "vstack")], 0)


def dstack(tensors: Sequence[Tensor]) -> Tensor:
    """Concatenate along a third dim (tensors viewed as at least 3-d).

    Args:
        tensors: A sequence of tensors.

    Returns:
        A new tensor.
    """
    return cat([_at_least(t, 3) for t in _tensors(tensors, "dstack")], 2)


# -----------------------------------------------------------------------------------------------
# views: split, chunk, diagonal, unfold

@tensor_method("split")
def split(tensor: Tensor, split_size_or_sections: int | Sequence[int], dim: int = 0
          ) -> tuple[Tensor, ...]:
    """Views of consecutive pieces along ``dim``: of ``split_size`` each (the last may be
    smaller), or of the given section sizes.

    Args:
        tensor: The tensor.
        split_size_or_sections: A piece size, or a list of piece sizes summing to the dim's size.
        dim: The dim to split.

    Returns:
        A tuple of views.
    """
    parts = S.split(tensor._data, split_size_or_sections, dim)
    d = shapes.normalize_dim(dim, tensor.ndim)
    out, start = [], 0
    for p in parts:
        out.append(tensor.narrow(d, start, p.shape[d]))
        start += p.shape[d]
    return tuple(out)


@tensor_method("chunk")
def chunk(input: Tensor, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:
    """Up to ``chunks`` views of ceil(size / chunks) each along ``dim``.

    Args:
        input: The tensor.
        chunks: The most pieces.
        dim: The dim to split.

    Returns:
        A tuple of views.
    """
    parts = S.chunk(input._data, chunks, dim)
    d = shapes.normalize_dim(dim, input.ndim)
    out, start = [], 0
    for p in parts:
        out.append(input.narrow(d, start, p.shape[d]))
        start += p.shape[d]
    return tuple(out)


class _Diagonal(Function):
    @staticmethod
    def forward(ctx, x: Tensor, offset: int, dim1: int, dim2: int) -> Array:
        ctx.args, ctx.shape = (offset, dim1, dim2), tuple(x.shape)
        return S.diagonal(x._data, offset, dim1, dim2)

    @staticmethod
    def backward(ctx, g: Tensor) -> tuple:
        return _OnDiagonal.apply(g, ctx.shape, *ctx.args), None, None, None


class _OnDiagonal(Function):
    """``g`` written on the diagonal of zeros of ``shape``: the backward of a diagonal view."""

    @staticmethod
    def forward(ctx, g: Tensor, shape: tuple, offset: int, dim1: int, dim2: int) -> Array:
        ctx.args = (offset, dim1, dim2)
        out = ew.fill_(Array.empty(g.device, shape, g.dtype), 0)
        ew.copy_(S.diagonal(out, offset, dim1, dim2), g._data)
        return out

    @staticmethod
    def backward(ctx, gg: Tensor) -> tuple:
        return diagonal(gg, *ctx.args), None, None, None, None


@tensor_method("diagonal")
def diagonal(input: Tensor, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Tensor:
    """View of the diagonals of the (dim1, dim2) planes, as a last dim.

    Args:
        input: The tensor.
        offset: Which diagonal (positive: above the main one).
        dim1: First dim of the planes.
        dim2: Second dim of the planes.

    Returns:
        The view.
    """
    if needs_grad(input):
        return _as_view(_Diagonal.apply(input, offset, dim1, dim2), input)
    return _as_view(Tensor(S.diagonal(input._data, offset, dim1, dim2)), input)


class _Unfold(Function):
    @staticmethod
    def forward(ctx, x: Tensor, dim: int, size: int, step: int) -> Array:
        ctx.args, ctx.shape = (dim, size, step), tuple(x.shape)
        return S.unfold(x._data, dim, size, step)

    @staticmethod
    def backward(ctx, g: Tensor) -> tuple:
        return _Fold.apply(g, ctx.shape, *ctx.args), None, None, None


class _Fold(Function):
    """Sum of the windows of ``g`` back onto zeros of ``shape`` (the backward of unfold)."""

    @staticmethod
    def forward(ctx, g: Tensor, shape: tuple, dim: int, size: int, step: int) -> Array:
        ctx.args = (dim, size, step)
        out = ew.fill_(Array.empty(g.device, shape, g.dtype), 0)
        if not shape:
            return R.sum(g._data, None) if g.numel() else out
        d = shapes.normalize_dim(dim, len(shape))
        gd = g._data
        n = gd.shape[d]
        for j in range(size):
            # window element j of window i sits at i*step + j: distinct for fixed j
            dst = S._narrow(out, d, j, n, step)
            src = S.select(gd, gd.ndim - 1, j)
            ew.binary("add", dst, src, out=dst)
        return out

    @staticmethod
    def backward(ctx, gg: Tensor) -> tuple:
        return unfold(gg, *ctx.args), None, None, None, None


@tensor_method("unfold")
def unfold(input: Tensor, dimension: int, size: int, step: int) -> Tensor:
    """View of every window of ``size`` elements, ``step`` apart, along ``dimension`` (a new
    last dim holds the window).

    Args:
        input: The tensor.
        dimension: The dim to slide along.
        size: Window length.
        step: Distance between window starts.

    Returns:
        The view.
    """
    if needs_grad(input):
        return _as_view(_Unfold.apply(input, dimension, size, step), input)
    return _as_view(Tensor(S.unfold(input._data, dimension, size, step)), input)


# -----------------------------------------------------------------------------------------------
# flip, roll, repeat, tile

class _Flip(Function):
    @staticmethod
    def forward(ctx, x: Tensor, dims: tuple) -> Array:
        ctx.dims = dims
        return S.flip(x._data, dims)

    @staticmethod
    def backward(ctx, g: Tensor) -> tuple:
        return flip(g, ctx.dims), None


@tensor_method("flip")
def flip(input: Tensor, *dims: Any) -> Tensor:
    """A copy with the elements reversed along ``dims``.

    Args:
        input: The tensor.
        *dims: The dims to reverse, as ints or one sequence.

    Returns:
        A new tensor.
    """
    dims = _ints(dims)
    if needs_grad(input):
        return _Flip.apply(input, dims)
    return Tensor(S.flip(input._data, dims))


@tensor_method("fliplr")
def fliplr(input: Tensor) -> Tensor:
    """Reverse dim 1 (columns).

    Args:
        input: A tensor with at least 2 dims.

    Returns:
        A new tensor.

    Raises:
        ShapeError: If ``input`` has fewer than 2 dims.
    """
    if input.ndim < 2:
        raise ShapeError(f"fliplr: input must be >= 2-d, got shape {tuple(input.shape)}")
    return flip(input, 1)


@tensor_method("flipud")
def flipud(input: Tensor) -> Tensor:
    """Reverse dim 0 (rows).

    Args:
        input: A tensor with at least 1 dim.

    Returns:
        A new tensor.

    Raises:
        ShapeError: If ``input`` is 0-D.
    """
    if input.ndim < 1:
        raise ShapeError("flipud: input must be >= 1-d")
    return flip(input, 0)


class _Roll(Function):
    @staticmethod
    def forward(ctx, x: Tensor, shifts: Any, dims: Any) -> Array:
        ctx.shifts, ctx.dims = shifts, dims
        return S.roll(x._data, shifts, dims)

    @staticmethod
    def backward(ctx, g: Tensor) -> tuple:
        s = ctx.shifts
        back = -s if isinstance(s, int) else tuple(-v for v in s)
        return roll(g, back, ctx.dims), None, None


@tensor_method("roll")
def roll(input: Tensor, shifts: int | Sequence[int], dims: int | Sequence[int] | None = None
         ) -> Tensor:
    """Shift elements cyclically by ``shifts`` along ``dims`` (None: the flattened tensor).

    Args:
        input: The tensor.
        shifts: An int or a tuple of ints, one per dim in ``dims``.
        dims: An int, a tuple of ints, or None.

    Returns:
        A new tensor.
    """
    shifts = shifts if isinstance(shifts, int) else tuple(int(s) for s in shifts)
    dims = dims if dims is None or isinstance(dims, int) else tuple(int(d) for d in dims)
    if needs_grad(input):
        return _Roll.apply(input, shifts, dims)
    return Tensor(S.roll(input._data, shifts, dims))


class _Repeat(Function):
    @staticmethod
    def forward(ctx, x: Tensor, sizes: tuple) -> Array:
        ctx.sizes, ctx.shape = sizes, tuple(x.shape)
        return S.repeat(x._data, sizes)

    @staticmethod
    def backward(ctx, g: Tensor) -> tuple:
        return _SumRepeats.apply(g, ctx.shape, ctx.sizes), None


class _SumRepeats(Function):
    """The sum of the repeated copies in ``g`` (the backward of repeat)."""

    @staticmethod
    def forward(ctx, g: Tensor, shape: tuple, sizes: tuple) -> Array:
        ctx.sizes = sizes
        lead = len(sizes) - len(shape)
        xshape = (1,) * lead + shape
        pairs = tuple(v for r, s in zip(sizes, xshape) for v in (r, s))
        gc = ew.contiguous(g._data)
        if gc.numel == 0:
            return ew.fill_(Array.empty(g.device, shape, g.dtype), 0)
        gp = gc.view(pairs, shapes.contiguous_strides(pairs), gc.offset)
        out = ew.contiguous(R.sum(gp, tuple(range(0, len(pairs), 2))))
        return out.view(shape, shapes.contiguous_strides(shape), out.offset)

    @staticmethod
    def backward(ctx, gg: Tensor) -> tuple:
        return repeat(gg, ctx.sizes), None, None


@tensor_method("repeat")
def repeat(input: Tensor, *sizes: Any) -> Tensor:
    """``input`` tiled ``sizes[k]`` times along each dim (``sizes`` may add leading dims).

    Args:
        input: The tensor.
        *sizes: Repeats per dim, as ints or one sequence (at least ``input.ndim`` of them).

    Returns:
        A new tensor.
    """
    sizes = _ints(sizes)
    if needs_grad(input):
        return _Repeat.apply(input, sizes)
    return Tensor(S.repeat(input._data, sizes))


@tensor_method("tile")
def tile(input: Tensor, *dims: Any) -> Tensor:
    """Like :func:`repeat`, with ``dims`` padded with leading 1s when shorter than the rank.

    Args:
        input: The tensor.
        *dims: Repeats per dim, as ints or one sequence.

    Returns:
        A new tensor.
    """
    dims = _ints(dims)
    if len(dims) < input.ndim:
        dims = (1,) * (input.ndim - len(dims)) + dims
    return repeat(input, dims)


# -----------------------------------------------------------------------------------------------
# pad

class _Pad(Function):
    @staticmethod
    def forward(ctx, x: Tensor, pad: tuple, mode: str, value: Any) -> Array:
        ctx.pad, ctx.mode, ctx.shape = pad, mode, tuple(x.shape)
        return S.pad(x._data, pad, mode, value)

    @staticmethod
    def backward(ctx, g: Tensor) -> tuple:
        if ctx.mode == "constant":     # crop what was added, zero-fill what was cropped
            return pad(g, tuple(-p for p in ctx.pad)), None, None, None
        return _Unpad.apply(g, ctx.shape, ctx.pad, ctx.mode), None, None, None


class _Unpad(Function):
    """The adjoint of reflect/replicate/circular padding: each border's gradient is added to the
    element it was copied from, dim by dim in the reverse order of the forward, then the
    interior is cut out."""

    @staticmethod
    def forward(ctx, g: Tensor, shape: tuple, pad: tuple, mode: str) -> Array:
        ctx.pad, ctx.mode = pad, mode
        acc = ew.copy_(Array.empty(g.device, g.shape, g.dtype), g._data)
        nd = len(shape)
        pairs = [(nd - 1 - k, pad[2 * k], pad[2 * k + 1]) for k in range(len(pad) // 2)]
        for d, lo, hi in reversed(pairs):
            n = shape[d]
            for left, width in ((True, lo), (False, hi)):
                if width:
                    border = S._narrow(acc, d, 0 if left else lo + n, width)
                    _add_border(acc, border, d, lo, n, width, mode, left)
        inner = acc
        for d, lo, _ in pairs:
            inner = S._narrow(inner, d, lo, shape[d])
        return ew.contiguous(inner)      # acc is private: a view of it is fine

    @staticmethod
    def backward(ctx, gg: Tensor) -> tuple:
        return pad(gg, ctx.pad, ctx.mode), None, None, None


def _add_border(acc: Array, border: Array, d: int, lo: int, n: int, width: int, mode: str,
                left: bool) -> None:
    """acc[source of the border] += border (the forward copied source -> border)."""
    if mode == "replicate":
        target = S._narrow(acc, d, lo if left else lo + n - 1, 1)
        ew.binary("add", target, R.sum(border, d, keepdim=True), out=target)
        return
    if mode == "circular":
        target = S._narrow(acc, d, lo + n - width if left else lo, width)
        ew.binary("add", target, border, out=target)
        return
    # reflect: border element k mirrors the source at distance k + 1 from the edge
    target = S._narrow(acc, d, lo + width if left else lo + n - 2, width, -1)
    ew.binary("add", target, border, out=target)


def pad(input: Tensor, pad: Sequence[int], mode: str = "constant", value: Any = None
        ) -> Tensor:
    """``torch.nn.functional.pad``: ``pad`` = (left, right, top, bottom, ...) from the last dim;
    modes constant (negative amounts crop), reflect, replicate, circular.

    Args:
        input: The tensor.
        pad: Pairs of (before, after) amounts, last dim first.
        mode: ``"constant"``, ``"reflect"``, ``"replicate"`` or ``"circular"``.
        value: Fill value for ``"constant"``.

    Returns:
        The padded tensor.
    """
    pad = tuple(int(p) for p in pad)
    value = 0 if value is None else value
    if needs_grad(input):
        return _Pad.apply(input, pad, mode, value)
    return Tensor(S.pad(input._data, pad, mode, value))


# -----------------------------------------------------------------------------------------------
# triangles and diagonals

class _Tri(Function):
    @staticmethod
    def forward(ctx, x: Tensor, upper: bool, k: int) -> Array:
        ctx.upper, ctx.k = upper, k
        return (S.triu if upper else S.tril)(x._data, k)

    @staticmethod
    def backward(ctx, g: Tensor) -> tuple:
        return (triu if ctx.upper else tril)(g, ctx.k), None, None


@tensor_method("tril")
def tril(input: Tensor, diagonal: int = 0) -> Tensor:
    """The lower triangle (col - row <= diagonal) of the last two dims; zeros elsewhere.

    Args:
        input: A tensor with at least 2 dims.
        diagonal: Which diagonal bounds the triangle (0: the main one).

    Returns:
        A new tensor.
    """
    if needs_grad(input):
        return _Tri.apply(input, False, diagonal)
    return Tensor(S.tril(input._data, diagonal))


@tensor_method("triu")
def triu(input: Tensor, diagonal: int = 0) -> Tensor:
    """The upper triangle (col - row >= diagonal) of the last two dims; zeros elsewhere.

    Args:
        input: A tensor with at least 2 dims.
        diagonal: Which diagonal bounds the triangle (0: the main one).

    Returns:
        A new tensor.
    """
    if needs_grad(input):
        return _Tri.apply(input, True, diagonal)
    return Tensor(S.triu(input._data, diagonal))


def _tri_inplace(upper: bool) -> Any:
    def method(self: Tensor, diagonal: int = 0) -> Tensor:
        if needs_grad(self):
            return apply_inplace(self, lambda t: (triu if upper else tril)(t, diagonal),
                                 "triu_" if upper else "tril_")
        (S.triu_ if upper else S.tril_)(self._data, diagonal)
        return self
    return method


tensor_method("tril_")(_tri_inplace(False))
tensor_method("triu_")(_tri_inplace(True))


class _Diag(Function):
    @staticmethod
    def forward(ctx, x: Tensor, k: int) -> Array:
        ctx.k, ctx.shape = k, tuple(x.shape)
        return S.diag(x._data, k)

    @staticmethod
    def backward(ctx, g: Tensor) -> tuple:
        if len(ctx.shape) == 1:
            return diagonal(g, ctx.k), None
        return _OnDiagonal.apply(g, ctx.shape, ctx.k, 0, 1), None


@tensor_method("diag")
def diag(input: Tensor, diagonal: int = 0) -> Tensor:
    """1-d input: a matrix with it on the ``diagonal``-th diagonal; 2-d: that diagonal.

    Args:
        input: A 1-D or 2-D tensor.
        diagonal: Which diagonal (positive: above the main one).

    Returns:
        A 2-D matrix (1-D input) or a 1-D diagonal (2-D input).
    """
    if needs_grad(input):
        return _Diag.apply(input, diagonal)
    return Tensor(S.diag(input._data, diagonal))


class _DiagEmbed(Function):
    @staticmethod
    def forward(ctx, x: Tensor, offset: int, dim1: int, dim2: int) -> Array:
        ctx.args = (offset, dim1, dim2)
        out = S.diag_embed(x._data, offset, dim1, dim2)
        ctx.args = (offset, shapes.normalize_dim(dim1, out.ndim),
                    shapes.normalize_dim(dim2, out.ndim))
        ctx.shape = tuple(x.shape)
        return out

    @staticmethod
    def backward(ctx, g: Tensor) -> tuple:
        gd = diagonal(g, *ctx.args)
        return (gd if gd.ndim == len(ctx.shape) else sum_to(gd, ctx.shape)), None, None, None


@tensor_method("diag_embed")
def diag_embed(input: Tensor, offset: int = 0, dim1: int = -2, dim2: int = -1) -> Tensor:
    """Matrices (in dims dim1, dim2) with the last dim of ``input`` on their ``offset``-th
    diagonal.

    Args:
        input: The tensor.
        offset: Which diagonal (positive: above the main one).
        dim1: First dim of the new matrices.
        dim2: Second dim of the new matrices.

    Returns:
        A new tensor with one more dim.
    """
    if needs_grad(input):
        return _DiagEmbed.apply(input, offset, dim1, dim2)
    return Tensor(S.diag_embed(input._data, offset, dim1, dim2))
