"""Differentiable indexing on Tensors, and ``Tensor.__getitem__``/``__setitem__`` with advanced
keys (tensors, lists, bool masks), on top of :mod:`clt.ops.index`.

Gradients pair each gather with its deterministic scatter-add and back: index_select <->
index_add, gather <-> scatter_add, advanced get <-> index_put(accumulate=True). Every backward
uses differentiable Tensor ops, so ``create_graph=True`` works.

Sync points (as in PyTorch): nonzero, masked_select and boolean-mask keys read a count back.
Bad indices in device tensors raise ``IndexError`` at the next download (``.numpy()``,
``.item()``, ...), see :func:`clt.ops.index.check_index_errors`.
"""
from __future__ import annotations

from typing import Any, Sequence

from clt.autograd.function import Function
from clt.errors import ShapeError
from clt.functions._util import arr, needs_grad
from clt.functions.elementwise import apply_inplace, reduce_grad, sum_to, where
from clt.ops import elementwise as ew
from clt.ops import index as I
from clt.ops import shapes
from clt.ops.array import Array
from clt.tensor import Tensor, tensor_method

__all__ = ["index_select", "gather", "scatter", "scatter_add", "scatter_reduce", "index_add",
           "index_copy", "index_fill", "masked_fill", "masked_select", "nonzero", "argwhere",
           "take", "take_along_dim", "index_put"]


def _idx(index: Any) -> Any:
    """An index argument for the ops layer: Tensors become their Arrays; lists stay host data."""
    return index._data if isinstance(index, Tensor) else index


def _zeros(shape: Sequence[int], like: Tensor) -> Tensor:
    return Tensor(ew.fill_(Array.empty(like.device, tuple(shape), like.dtype), 0))


def _check(x: Any, op: str) -> Tensor:
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}(): argument 'input' must be Tensor, not {type(x).__name__}")
    return x


# -----------------------------------------------------------------------------------------------
# index_select / index_add / index_copy / index_fill

class _IndexSelect(Function):
    @staticmethod
    def forward(ctx, x: Tensor, dim: int, index: Any) -> Array:
        ctx.dim, ctx.index, ctx.shape = dim, index, tuple(x.shape)
        return I.index_select(x._data, dim, index)

    @staticmethod
    def backward(ctx, g: Tensor) -> tuple:
        return index_add(_zeros(ctx.shape, g), ctx.dim, ctx.index, g), None, None


@tensor_method("index_select")
def index_select(input: Tensor, dim: int, index: Any) -> Tensor:
    """Slices of ``input`` along ``dim`` at the int32/int64 ``index`` (0-d or 1-d, no negative
    values); the gradient is an index_add (deterministic).

    Args:
        input: The tensor.
        dim: The dim to select along.
        index: A 0-D or 1-D int32/int64 index tensor.

    Returns:
        A new tensor with ``len(index)`` slices along ``dim``.
    """
    _check(input, "index_select")
    index = _idx(index)
    if needs_grad(input):
        return _IndexSelect.apply(input, dim, I.as_index(input.device, index, "index_select()"))
    return Tensor(I.index_select(input._data, dim, index))


class _IndexAdd(Function):
    @staticmethod
    def forward(ctx, x: Tensor, dim: int, index: Any, source: Tensor, alpha: Any) -> Array:
        ctx.dim, ctx.index, ctx.alpha = dim, index, alpha
        return I.index_add(x._data, dim, index, source._data, alpha)

    @staticmethod
    def backward(ctx, g: Tensor) -> tuple:
        gs = None
        if ctx.needs_input_grad[3]:
            gs = index_select(g, ctx.dim, ctx.index)
            if ctx.alpha != 1:
                gs = gs * ctx.alpha
        return g, None, None, gs, None


@tensor_method("index_add")
def index_add(input: Tensor, dim: int, index: Any, source: Tensor, *, alpha: Any = 1) -> Tensor:
    """``input`` with ``alpha * source`` slices added at ``index`` along ``dim``; duplicates sum
    in index order, so results are bit-identical run to run (no atomics).

    Args:
        input: The tensor.
        dim: The dim to index along.
        index: An int32/int64 index tensor.
        source: The slices to add.
        alpha: Scale of ``source``.

    Returns:
        A new tensor.
    """
    _check(input, "index_add")
    index = _idx(index)
    if needs_grad(input, source):
        return _IndexAdd.apply(input, dim, I.as_index(input.device, index, "index_add()"),
                               source, alpha)
    return Tensor(I.index_add(input._data, dim, index, arr(source), alpha))


class _IndexCopy(Function):
    @staticmethod
    def forward(ctx, x: Tensor, dim: int, index: Any, source: Tensor) -> Array:
        ctx.dim, ctx.index = dim, index
        return I.index_copy(x._data, dim, index, source._data)

    @staticmethod
    def backward(ctx, g: Tensor) -> tuple:
        gx = index_fill(g, ctx.dim, ctx.index, 0) if ctx.needs_input_grad[0] else None
        gs = index_select(g, ctx.dim, ctx.index) if ctx.needs_input_grad[3] else None
        return gx, None, None, gs


@tensor_method("index_copy")
def index_copy(input: Tensor, dim: int, index: Any, source: Tensor) -> Tensor:
    """``input`` with slices at ``index`` along ``dim`` replaced by ``source``'s.

    Args:
        input: The tensor.
        dim: The dim to index along.
        index: An int32/int64 index tensor.
        source: The replacement slices.

    Returns:
        A new tensor.
    """
    _check(input, "index_copy")
    index = _idx(index)
    if needs_grad(input, source):
        return _IndexCopy.apply(input, dim, I.as_index(input.device, index, "index_copy()"),
                                source)
    return Tensor(I.index_copy(input._data, dim, index, arr(source)))


class _IndexFill(Function):
    @staticmethod
    def forward(ctx, x: Tensor, dim: int, index: Any, value: Any) -> Array:
        ctx.dim, ctx.index = dim, index
        return I.index_fill(x._data, dim, index, arr(value))

    @staticmethod
    def backward(ctx, g: Tensor) -> tuple:
        gx = index_fill(g, ctx.dim, ctx.index, 0) if ctx.needs_input_grad[0] else None
        gv = None
        if ctx.needs_input_grad[3]:
            gv = sum_to(index_select(g, ctx.dim, ctx.index), ())
        return gx, None, None, gv


@tensor_method("index_fill")
def index_fill(input: Tensor, dim: int, index: Any, value: Any) -> Tensor:
    """``input`` with slices at ``index`` along ``dim`` set to ``value`` (a number or 0-d
    tensor).

    Args:
        input: The tensor.
        dim: The dim to index along.
        index: An int32/int64 index tensor.
        value: The fill value (a number or 0-d tensor).

    Returns:
        A new tensor.
    """
    _check(input, "index_fill")
    index = _idx(index)
    if needs_grad(input, value):
        return _IndexFill.apply(input, dim, I.as_index(input.device, index, "index_fill()"),
                                value)
    return Tensor(I.index_fill(input._data, dim, index, arr(value)))


# -----------------------------------------------------------------------------------------------
# gather / scatter

class _Gather(Function):
    @staticmethod
    def forward(ctx, x: Tensor, dim: int, index: Any) -> Array:
        ctx.dim, ctx.index, ctx.shape = dim, index, tuple(x.shape)
        return I.gather(x._data, dim, index)

    @staticmethod
    def backward(ctx, g: Tensor) -> tuple:
        return scatter_add(_zeros(ctx.shape, g), ctx.dim, ctx.index, g), None, None


@tensor_method("gather")
def gather(input: Tensor, dim: int, index: Any, *, sparse_grad: bool = False) -> Tensor:
    """``out[i][j] = input[index[i][j]][j]`` (dim 0); the gradient is a scatter_add.

    Args:
        input: The tensor.
        dim: The dim to gather along.
        index: An int64 index tensor with ``input``'s number of dims.
        sparse_grad: Accepted for PyTorch compatibility.

    Returns:
        A tensor of ``index``'s shape.
    """
    _check(input, "gather")
    index = _idx(index)
    if needs_grad(input):
        return _Gather.apply(input, dim, I.as_index(input.device, index, "gather()"))
    return Tensor(I.gather(input._data, dim, index))


class _Scatter(Function):
    @staticmethod
    def forward(ctx, x: Tensor, dim: int, index: Any, src: Any) -> Array:
        ctx.dim, ctx.index = dim, index
        return I.scatter(x._data, dim, index, arr(src))

    @staticmethod
    def backward(ctx, g: Tensor) -> tuple:
        gx = scatter(g, ctx.dim, ctx.index, 0) if ctx.needs_input_grad[0] else None
        gs = gather(g, ctx.dim, ctx.index) if ctx.needs_input_grad[3] else None
        return gx, None, None, gs


class _ScatterReduce(Function):
    @staticmethod
    def forward(ctx, x: Tensor, dim: int, index: Any, src: Tensor, reduce: str,
                include_self: bool) -> Array:
        out = I.scatter_reduce(x._data, dim, index, src._data, reduce, include_self)
        ctx.dim, ctx.index, ctx.reduce, ctx.include_self = dim, index, reduce, include_self
        if reduce == "prod":
            raise NotImplementedError("scatter_reduce(reduce='prod') does not support autograd "
                                      "in clt; use 'sum', 'mean', 'amax' or 'amin'")
        if reduce != "sum":
            ctx.save_for_backward(x, src, Tensor(out))
        return out

    @staticmethod
    def backward(ctx, g: Tensor) -> tuple:
        dim, index, include_self = ctx.dim, ctx.index, ctx.include_self
        need_x, need_s = ctx.needs_input_grad[0], ctx.needs_input_grad[3]
        if ctx.reduce == "sum":
            gx = (g if include_self else scatter(g, dim, index, 0)) if need_x else None
            gs = gather(g, dim, index) if need_s else None
            return gx, None, None, gs, None, None
        x, src, out = ctx.saved_tensors
        hits = scatter_add(_zeros(x.shape, g), dim, index, _ones_like(src))
        if ctx.reduce == "mean":
            count = hits + 1 if include_self else hits.clamp_min(1)
            gx = (g / count if include_self else scatter(g, dim, index, 0)) if need_x else None
            gs = gather(g / count, dim, index) if need_s else None
            return gx, None, None, gs, None, None
        # amax / amin: the gradient is shared evenly by every value equal to the result
        src_wins = (src == gather(out, dim, index)).to(g.dtype)
        self_wins = ((x == out) if include_self else (hits == 0)).to(g.dtype)
        ties = self_wins + scatter_add(_zeros(x.shape, g), dim, index, src_wins)
        share = g / ties
        gx = share * self_wins if need_x else None
        gs = gather(share, dim, index) * src_wins if need_s else None
        return gx, None, None, gs, None, None


def _ones_like(x: Tensor) -> Tensor:
    return Tensor(ew.fill_(Array.empty(x.device, x.shape, x.dtype), 1))


@tensor_method("scatter")
def scatter(input: Tensor, dim: int, index: Any, src: Any = None, *, value: Any = None,
            reduce: str | None = None) -> Tensor:
    """``input`` with ``src`` (a tensor, or the number ``value``) written at ``index`` along
    ``dim``. ``reduce="add"``/``"multiply"`` combine instead (deterministically)."""
    _check(input, "scatter")
    if src is None:
        if value is None:
            raise TypeError("scatter(): expected a src tensor or a value")
        src = value
    index = _idx(index)
    if reduce is not None:
        if reduce not in ("add", "multiply"):
            raise ValueError(f"scatter(): reduce argument must be either add or multiply, "
                             f"got {reduce!r}")
        index = I.as_index(input.device, index, "scatter()")
        if not isinstance(src, Tensor):
            src = Tensor(ew.fill_(Array.empty(input.device, index.shape, input.dtype), src))
        return scatter_reduce(input, dim, index, src, "sum" if reduce == "add" else "prod")
    if needs_grad(input, src):
        return _Scatter.apply(input, dim, I.as_index(input.device, index, "scatter()"), src)
    return Tensor(I.scatter(input._data, dim, index, arr(src)))


@tensor_method("scatter_add")
def scatter_add(input: Tensor, dim: int, index: Any, src: Tensor) -> Tensor:
    """``input`` with ``src`` added at ``index`` along ``dim``; duplicates add up in order, with
    the same bits every run (no atomics).

    Args:
        input: The tensor.
        dim: The dim to scatter along.
        index: An int64 index tensor.
        src: The values to add.

    Returns:
        A new tensor.
    """
    return scatter_reduce(input, dim, index, src, "sum")


@tensor_method("scatter_reduce")
def scatter_reduce(input: Tensor, dim: int, index: Any, src: Tensor, reduce: str, *,
                   include_self: bool = True) -> Tensor:
    """Reduce ``src`` into ``input`` at ``index`` along ``dim``: "sum", "prod", "mean", "amax",
    "amin" (deterministic). Autograd supports all but "prod"."""
    _check(input, "scatter_reduce")
    index = _idx(index)
    if needs_grad(input, src):
        return _ScatterReduce.apply(input, dim, I.as_index(input.device, index,
                                                           "scatter_reduce()"),
                                    src, reduce, include_self)
    return Tensor(I.scatter_reduce(input._data, dim, index, arr(src), reduce, include_self))


# -----------------------------------------------------------------------------------------------
# masks

class _MaskedFill(Function):
    @staticmethod
    def forward(ctx, x: Tensor, mask: Tensor, value: Any) -> Array:
        ctx.mask, ctx.x_shape = mask, tuple(x.shape)
        return I.masked_fill(x._data, mask._data, arr(value))

    @staticmethod
    def backward(ctx, g: Tensor) -> tuple:
        gx = sum_to(where(ctx.mask, 0.0, g), ctx.x_shape) if ctx.needs_input_grad[0] else None
        gv = sum_to(where(ctx.mask, g, 0.0), ()) if ctx.needs_input_grad[2] else None
        return gx, None, gv


@tensor_method("masked_fill")
def masked_fill(input: Tensor, mask: Tensor, value: Any) -> Tensor:
    """``input`` with ``value`` (a number or 0-d tensor) where the bool ``mask`` (broadcast) is
    true.

    Args:
        input: The tensor.
        mask: A bool tensor broadcastable to ``input``.
        value: The fill value (a number or 0-d tensor).

    Returns:
        A new tensor.

    Raises:
        TypeError: If ``mask`` is not a Tensor.
    """
    _check(input, "masked_fill")
    if not isinstance(mask, Tensor):
        raise TypeError(f"masked_fill(): argument 'mask' must be Tensor, not "
                        f"{type(mask).__name__}")
    if needs_grad(input, value):
        return _MaskedFill.apply(input, mask, value)
    return Tensor(I.masked_fill(input._data, mask._data, arr(value)))


@tensor_method("masked_select")
def masked_select(input: Tensor, mask: Tensor) -> Tensor:
    """The elements where the bool ``mask`` is true (both broadcast), as a 1-d tensor.

    Sync point: the count is read back to size the result.

    Args:
        input: The tensor.
        mask: A bool tensor broadcastable with ``input``.

    Returns:
        A 1-D tensor.

    Raises:
        TypeError: If ``mask`` is not a Tensor.
    """
    _check(input, "masked_select")
    if not isinstance(mask, Tensor):
        raise TypeError(f"masked_select(): argument 'mask' must be Tensor, not "
                        f"{type(mask).__name__}")
    if needs_grad(input):
        shape = shapes.broadcast_shapes(input.shape, mask.shape)
        m = mask._data
        m = m.view(shape, shapes.broadcast_strides(m.shape, m.strides, shape))
        x = input if tuple(input.shape) == shape else input.expand(shape)
        return _AdvancedGet.apply(x, _mask_columns(m))
    return Tensor(I.masked_select(input._data, mask._data))


def _mask_columns(mask: Array) -> tuple:
    """A k-d bool mask as the k int64 index arrays of its true positions (one sync)."""
    nz = I.nonzero(mask)
    return tuple(nz.view((nz.shape[0],), (mask.ndim,), nz.offset + c) for c in range(mask.ndim))


@tensor_method("nonzero")
def nonzero(input: Tensor, *, as_tuple: bool = False) -> Any:
    """Indices of the nonzero elements: an int64 (n, ndim) tensor, or a tuple of 1-d tensors.

    Sync point: the count is read back to size the result.

    Args:
        input: The tensor.
        as_tuple: Whether to return one 1-D tensor per dim.

    Returns:
        An int64 (n, ndim) tensor, or a tuple of ndim 1-D tensors.
    """
    _check(input, "nonzero")
    out = I.nonzero(input._data, as_tuple=as_tuple)
    return tuple(Tensor(o) for o in out) if as_tuple else Tensor(out)


@tensor_method("argwhere")
def argwhere(input: Tensor) -> Tensor:
    """``nonzero(input)``: an int64 (n, ndim) tensor.

    Args:
        input: The tensor.

    Returns:
        An int64 (n, ndim) tensor.
    """
    return nonzero(input)


# -----------------------------------------------------------------------------------------------
# advanced indexing: x[key] and x[key] = value

class _AdvancedGet(Function):
    @staticmethod
    def forward(ctx, x: Tensor, key: tuple) -> Array:
        ctx.key, ctx.shape = key, tuple(x.shape)
        out = I.advanced_get(x._data, key)
        if out.storage is x._data.storage:      # a basic key: keep the view semantics
            out = ew.contiguous(out) if not out.is_contiguous() else _copy(out)
        return out

    @staticmethod
    def backward(ctx, g: Tensor) -> tuple:
        return _AccumulateInto.apply(g, ctx.shape, ctx.key), None


def _copy(a: Array) -> Array:
    return ew.copy_(Array.empty(a.device, a.shape, a.dtype), a)


class _AccumulateInto(Function):
    """``zeros(shape).index_put_(key, g, accumulate=True)``: the backward of ``x[key]``."""

    @staticmethod
    def forward(ctx, g: Tensor, shape: tuple, key: tuple) -> Array:
        ctx.key = key
        out = ew.fill_(Array.empty(g.device, shape, g.dtype), 0)
        return I.advanced_set(out, key, g._data, accumulate_=True)

    @staticmethod
    def backward(ctx, gg: Tensor) -> tuple:
        return _AdvancedGet.apply(gg, ctx.key), None, None


class _IndexPut(Function):
    @staticmethod
    def forward(ctx, x: Tensor, key: tuple, value: Any, accumulate: bool) -> Array:
        ctx.key, ctx.accumulate, ctx.value = key, accumulate, value
        return I.advanced_set(_copy(x._data), key, arr(value), accumulate_=accumulate)

    @staticmethod
    def backward(ctx, g: Tensor) -> tuple:
        gx = None
        if ctx.needs_input_grad[0]:
            gx = g if ctx.accumulate else _IndexPut.apply(g, ctx.key, 0.0, False)
        gv = None
        if ctx.needs_input_grad[2]:
            gv = reduce_grad(_AdvancedGet.apply(g, ctx.key), ctx.value)
        return gx, None, gv, None


def _key(key: Any, masks_to_columns: bool) -> tuple:
    """An indexing key for the ops layer: tensors become arrays; with ``masks_to_columns``, bool
    mask tensors become their nonzero columns (one sync now instead of one per use)."""
    if isinstance(key, list):
        key = [k._data if isinstance(k, Tensor) else k for k in key]
    out: list[Any] = []
    for k in I.key_items(_idx(key)):
        k = _idx(k)
        if masks_to_columns and isinstance(k, Array) and k.dtype.is_bool and k.ndim:
            out.extend(_mask_columns(k))
        else:
            out.append(k)
    return tuple(out)


def advanced_getitem(self: Tensor, key: Any) -> Tensor:
    """``self[key]`` for keys with tensors, lists or bool masks (the hook of
    ``Tensor.__getitem__``); differentiable: the gradient is an index_put with accumulate."""
    if needs_grad(self):
        return _AdvancedGet.apply(self, _key(key, True))
    return Tensor(I.advanced_get(self._data, _key(key, False)))


def advanced_setitem(self: Tensor, key: Any, value: Any) -> None:
    """``self[key] = value`` for keys with tensors, lists or bool masks (the hook of
    ``Tensor.__setitem__``). A single bool mask with a scalar needs no sync."""
    if isinstance(value, Tensor) and value.device is not self.device:
        raise RuntimeError(f"setitem: value is on {value.device}, tensor on {self.device}")
    if needs_grad(self, value):
        k = _key(key, True)
        apply_inplace(self, lambda t: _IndexPut.apply(t, k, value, False), "__setitem__")
        return
    I.advanced_set(self._data, _key(key, False), arr(value))


def _put_key(indices: Sequence[Any]) -> tuple:
    if not isinstance(indices, (tuple, list)):
        raise TypeError(f"index_put(): indices must be a tuple of tensors, got "
                        f"{type(indices).__name__}")
    return tuple(slice(None) if k is None else k for k in indices)


@tensor_method("index_put")
def index_put(input: Tensor, indices: Sequence[Any], values: Any, accumulate: bool = False
              ) -> Tensor:
    """``input`` with ``values`` put at the advanced key ``indices`` (a tuple of index tensors,
    None meaning a whole dim); ``accumulate`` adds instead (deterministically)."""
    _check(input, "index_put")
    key = _put_key(indices)
    if needs_grad(input, values):
        return _IndexPut.apply(input, _key(key, True), values, accumulate)
    return Tensor(I.advanced_set(_copy(input._data), _key(key, False), arr(values),
                                 accumulate_=accumulate))


@tensor_method("take")
def take(input: Tensor, index: Any) -> Tensor:
    """``input`` read as 1-d (row-major) at ``index`` (any shape; negative values wrap).

    Args:
        input: The tensor, read as 1-D.
        index: Indices of any shape.

    Returns:
        A tensor of ``index``'s shape.
    """
    _check(input, "take")
    return advanced_getitem(input.reshape(-1), (_idx(index),))


@tensor_method("take_along_dim")
def take_along_dim(input: Tensor, indices: Any, dim: int | None = None) -> Tensor:
    """Gather along ``dim`` with ``input`` and ``indices`` broadcast except along ``dim``
    (``dim=None``: both flattened).

    Args:
        input: The tensor.
        indices: An index tensor broadcastable with ``input`` except along ``dim``.
        dim: The dim to gather along; None flattens both.

    Returns:
        The gathered values.

    Raises:
        ShapeError: If the shapes don't broadcast.
    """
    _check(input, "take_along_dim")
    idx = I.as_index(input.device, _idx(indices), "take_along_dim()")
    if dim is None:
        flat = ew.contiguous(idx)
        return gather(input.reshape(-1), 0, flat.view((flat.numel,), (1,)))
    if idx.ndim != input.ndim:
        raise ShapeError(f"take_along_dim(): input and indices should have the same number of "
                         f"dimensions, got input {tuple(input.shape)} and indices {idx.shape}")
    if input.ndim == 0:
        return gather(input, 0, idx)
    d = shapes.normalize_dim(dim, input.ndim)
    xs, js = list(input.shape), list(idx.shape)
    xs[d] = js[d] = 1
    b = shapes.broadcast_shapes(tuple(xs), tuple(js))
    bx, bi = list(b), list(b)
    bx[d], bi[d] = input.shape[d], idx.shape[d]
    iv = idx.view(tuple(bi), shapes.broadcast_strides(idx.shape, idx.strides, tuple(bi)))
    return gather(input.expand(tuple(bx)), d, iv)


# -----------------------------------------------------------------------------------------------
# in-place methods: autograd-aware through apply_inplace, else straight into the storage

def _inplace(name: str, out_of_place: Any, raw: Any) -> None:
    def method(self: Tensor, *args: Any, **kwargs: Any) -> Tensor:
        if needs_grad(self, *args, *kwargs.values()):
            return apply_inplace(self, lambda t: out_of_place(t, *args, **kwargs), name)
        raw(self._data, *(_idx(a) for a in args), **{k: _idx(v) for k, v in kwargs.items()})
        return self
    method.__name__ = name
    tensor_method(name)(method)


def _raw_scatter_(x: Array, dim: int, index: Any, src: Any = None, *, value: Any = None,
                  reduce: str | None = None) -> None:
    I.scatter_(x, dim, index, value if src is None else src, reduce)


def _raw_scatter_reduce_(x: Array, dim: int, index: Any, src: Any, reduce: str, *,
                         include_self: bool = True) -> None:
    I.scatter_reduce_(x, dim, index, src, reduce, include_self)


def _raw_index_add_(x: Array, dim: int, index: Any, source: Any, *, alpha: Any = 1) -> None:
    I.index_add_(x, dim, index, source, alpha)


def _raw_index_put_(x: Array, indices: Sequence[Any], values: Any, accumulate: bool = False
                    ) -> None:
    I.advanced_set(x, _key(_put_key(indices), False), values, accumulate_=accumulate)


_inplace("scatter_", scatter, _raw_scatter_)
_inplace("scatter_add_", scatter_add, I.scatter_add_)
_inplace("scatter_reduce_", scatter_reduce, _raw_scatter_reduce_)
_inplace("index_add_", index_add, _raw_index_add_)
_inplace("index_copy_", index_copy, I.index_copy_)
_inplace("index_fill_", index_fill, I.index_fill_)
_inplace("masked_fill_", masked_fill, I.masked_fill_)
_inplace("index_put_", index_put, _raw_index_put_)
