"""Views (reshape, permute, expand, squeeze, slicing, ...) that share storage, with autograd."""
from __future__ import annotations

from typing import Any, Sequence

from clt.autograd.function import Function
from clt.autograd.grad_mode import STATE
from clt.errors import ShapeError
from clt.functions._util import needs_grad
from clt.functions.elementwise import apply_inplace, clone, expand, sum_to
from clt.ops import elementwise as ew
from clt.ops import shapes
from clt.ops.array import Array
from clt.tensor import Tensor, tensor_method


def _shape_args(args: tuple) -> tuple:
    if len(args) == 1 and not isinstance(args[0], int) and not hasattr(args[0], "__index__"):
        return tuple(args[0])
    return tuple(args)


# -----------------------------------------------------------------------------------------------
# view computation on Arrays (no autograd)

def reshape_array(a: Array, shape: Sequence[int], must_view: bool = False) -> Array:
    """Reshape a device array, as a view when the strides allow, else as a contiguous copy.

    Args:
        a: The array.
        shape: The new shape; one entry may be -1.
        must_view: Whether to refuse a copy (``view`` semantics).

    Returns:
        The reshaped array.

    Raises:
        RuntimeError: If ``must_view`` and the shape can't be viewed with the current strides.
    """
    shape = shapes.infer_reshape(shape, a.numel)
    strides = shapes.view_strides(a.shape, a.strides, shape)
    if strides is None:
        if must_view:
            raise RuntimeError(
                f"view size is not compatible with input tensor's size and stride (shape "
                f"{a.shape}, strides {a.strides}): at least one dimension spans across two "
                "contiguous subspaces. Use .reshape(...) instead.")
        a = ew.contiguous(a)
        strides = shapes.contiguous_strides(shape)
    return a.view(shape, strides)


def permute_array(a: Array, dims: Sequence[int]) -> Array:
    """A view of a device array with its dims reordered.

    Args:
        a: The array.
        dims: A permutation of the dims (negative dims allowed).

    Returns:
        The permuted view.

    Raises:
        ShapeError: If ``dims`` is not a permutation of ``a``'s dims.
    """
    dims = tuple(shapes.normalize_dim(d, a.ndim) for d in dims) if a.ndim else tuple(dims)
    if sorted(dims) != list(range(a.ndim)):
        raise ShapeError(f"permute(): dims {tuple(dims)} must be a permutation of the "
                         f"{a.ndim} dims of a tensor of shape {a.shape}")
    return a.view(tuple(a.shape[d] for d in dims), tuple(a.strides[d] for d in dims))


def _slice_key(key: Any) -> tuple:
    return key if isinstance(key, tuple) else (key,)


def is_basic_key(key: Any) -> bool:
    """Whether an index key uses only basic indexing (ints, slices, None, Ellipsis), so it gives a
    view.

    Args:
        key: The ``__getitem__`` key.

    Returns:
        False if it holds a tensor, an array, a bool, or another advanced index.
    """
    for k in _slice_key(key):
        if getattr(k, "ndim", 0):          # numpy arrays (and masks) index like tensors
            return False
        if isinstance(k, bool) or not (k is None or k is Ellipsis or isinstance(k, slice)
                                       or isinstance(k, int) or (hasattr(k, "__index__")
                                                                 and not isinstance(k, Tensor))):
            return False
    return True


def basic_index_array(a: Array, key: Any) -> Array:
    """The view selected by ints, slices (step > 0), None and Ellipsis.

    Args:
        a: The array.
        key: A basic index key.

    Returns:
        The view.

    Raises:
        IndexError: If an index is out of range or there are too many indices.
        ValueError: If a slice step is not positive.
    """
    key = _slice_key(key)
    n_ell = sum(1 for k in key if k is Ellipsis)
    if n_ell > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    consumed = sum(1 for k in key if k is not None and k is not Ellipsis)
    if consumed > a.ndim:
        raise IndexError(f"too many indices for tensor of dimension {a.ndim}")
    if n_ell:
        i = key.index(Ellipsis)
        key = key[:i] + (slice(None),) * (a.ndim - consumed) + key[i + 1:]
    else:
        key = key + (slice(None),) * (a.ndim - consumed)
    shape, strides, offset, dim = [], [], a.offset, 0
    for k in key:
        if k is None:
            shape.append(1)
            strides.append(0)
            continue
        size, stride = a.shape[dim], a.strides[dim]
        if isinstance(k, slice):
            if k.step is not None and int(k.step) <= 0:
                raise ValueError("step must be greater than zero")
            start, stop, step = k.indices(size)
            length = max(0, -(-(stop - start) // step))
            shape.append(length)
            strides.append(stride * step)
            if length:
                offset += start * stride
        else:
            idx = int(k.__index__())
            if not -size <= idx < size:
                raise IndexError(f"index {idx} is out of bounds for dimension {dim} with size "
                                 f"{size}")
            offset += (idx % size) * stride
        dim += 1
    return a.view(tuple(shape), tuple(strides), offset)


def _make_view(kind: str, a: Array, p: Any) -> Array:
    if kind == "reshape":
        return reshape_array(a, p)
    if kind == "view":
        return reshape_array(a, p, must_view=True)
    if kind == "permute":
        return permute_array(a, p)
    if kind == "index":
        return basic_index_array(a, p)
    if kind == "strided":
        shape, strides, offset = p
        return a.view(shape, strides, offset)
    raise ValueError(kind)


class _View(Function):
    @staticmethod
    def forward(ctx, x: Tensor, kind: str, p: Any) -> Array:
        ctx.kind, ctx.p, ctx.in_shape = kind, p, tuple(x.shape)
        out = _make_view(kind, x._data, p)
        ctx.out_geom = (out.shape, out.strides, out.offset - x._data.offset)
        ctx.in_geom = (x._data.strides, x._data.offset)
        return out

    @staticmethod
    def backward(ctx, g: Tensor) -> tuple:
        kind = ctx.kind
        if kind in ("reshape", "view"):
            return g.reshape(ctx.in_shape), None, None
        if kind == "permute":
            inv = [0] * len(ctx.p)
            for i, d in enumerate(ctx.p):
                inv[d % len(ctx.p)] = i
            return g.permute(inv), None, None
        return _ViewScatter.apply(g, ctx.in_shape, ctx.kind, ctx.p), None, None


class _ViewScatter(Function):
    """Backward of an indexing view: the gradient placed into zeros of the input's shape."""

    @staticmethod
    def forward(ctx, g: Tensor, in_shape: tuple, kind: str, p: Any) -> Array:
        ctx.kind, ctx.p = kind, p
        base = ew.fill_(Array.empty(g.device, in_shape, g.dtype), 0)
        ew.copy_(_make_view(kind, base, p), g._data)
        return base

    @staticmethod
    def backward(ctx, gg: Tensor) -> tuple:
        return view_op(gg, ctx.kind, ctx.p), None, None, None


def view_op(x: Tensor, kind: str, p: Any) -> Tensor:
    """Apply a view and record it for autograd; the result shares ``x``'s storage.

    Args:
        x: The tensor.
        kind: The view kind (such as ``"reshape"``, ``"permute"``, ``"index"``).
        p: The view's parameter (shape, dims, key...).

    Returns:
        The view.
    """
    if needs_grad(x):
        out = _View.apply(x, kind, p)
    else:
        out = Tensor(_make_view(kind, x._data, p))
    out._base = x._base if x._base is not None else x
    return out


# -----------------------------------------------------------------------------------------------
# public views

@tensor_method("reshape")
def reshape(input: Tensor, *shape: Any) -> Tensor:
    """The same data with a new shape (a view when strides allow, else a copy).

    Args:
        input: The tensor.
        *shape: The new shape, as ints or one sequence; one entry may be -1.

    Returns:
        The reshaped tensor.
    """
    return view_op(input, "reshape", _shape_args(shape))


@tensor_method("view")
def view(input: Tensor, *shape: Any) -> Tensor:
    """A view with a new shape; raises if the strides don't allow one (use reshape).

    Args:
        input: The tensor.
        *shape: The new shape, as ints or one sequence; one entry may be -1.

    Returns:
        The view.

    Raises:
        RuntimeError: If the strides don't allow the view.
    """
    if len(shape) == 1 and not isinstance(shape[0], (int, tuple, list)) and not hasattr(
            shape[0], "__index__"):
        from clt.functions.elementwise import to_dtype

        return to_dtype(input, shape[0])
    return view_op(input, "view", _shape_args(shape))


@tensor_method("view_as")
def view_as(input: Tensor, other: Tensor) -> Tensor:
    """``input`` viewed with ``other``'s shape.

    Args:
        input: The tensor.
        other: The tensor whose shape to use.

    Returns:
        The view.

    Raises:
        RuntimeError: If the shape can't be viewed with ``input``'s strides.
    """
    return view(input, tuple(other.shape))


@tensor_method("reshape_as")
def reshape_as(input: Tensor, other: Tensor) -> Tensor:
    """``input`` reshaped to ``other``'s shape (a view when possible).

    Args:
        input: The tensor.
        other: The tensor whose shape to use.

    Returns:
        The reshaped tensor.
    """
    return reshape(input, tuple(other.shape))


@tensor_method("permute")
def permute(input: Tensor, *dims: Any) -> Tensor:
    """Reorder dims (a view).

    Args:
        input: The tensor.
        *dims: A permutation of the dims, as ints or one sequence.

    Returns:
        The view.

    Raises:
        ShapeError: If ``dims`` is not a permutation.
    """
    dims = _shape_args(dims)
    if len(dims) != input.ndim:
        raise ShapeError(f"permute(): number of dims don't match in permute: got {len(dims)} "
                         f"dims for a tensor of {input.ndim} dims")
    dims = tuple(shapes.normalize_dim(d, input.ndim) for d in dims)
    return view_op(input, "permute", dims)


@tensor_method("transpose", "swapaxes", "swapdims")
def transpose(input: Tensor, dim0: int, dim1: int) -> Tensor:
    """Swap two dims (a view).

    Args:
        input: The tensor.
        dim0: A dim.
        dim1: Another dim.

    Returns:
        The view.
    """
    n = input.ndim
    if n == 0:
        shapes.normalize_dim(dim0, 0)
        shapes.normalize_dim(dim1, 0)
        return input
    d0, d1 = shapes.normalize_dim(dim0, n), shapes.normalize_dim(dim1, n)
    perm = list(range(n))
    perm[d0], perm[d1] = perm[d1], perm[d0]
    return view_op(input, "permute", tuple(perm))


swapaxes = swapdims = transpose


@tensor_method("t")
def t(input: Tensor) -> Tensor:
    """Transpose of a tensor with at most 2 dims.

    Args:
        input: A tensor with at most 2 dims.

    Returns:
        The view (0-D and 1-D tensors unchanged).

    Raises:
        ShapeError: If ``input`` has more than 2 dims.
    """
    if input.ndim > 2:
        raise ShapeError(f"t() expects a tensor with <= 2 dimensions, but self is {input.ndim}D")
    return transpose(input, 0, 1) if input.ndim == 2 else input


Tensor.T = property(lambda self: permute(self, tuple(range(self.ndim - 1, -1, -1))))
Tensor.mT = property(lambda self: transpose(self, -2, -1) if self.ndim >= 2 else _mt_error(self))
Tensor.H = Tensor.T
Tensor.mH = Tensor.mT


def _mt_error(x: Tensor) -> Tensor:
    raise ShapeError(f"tensor.mT is only supported on matrices or batches of matrices. Got "
                     f"{x.ndim}-D tensor.")


@tensor_method("movedim", "moveaxis")
def movedim(input: Tensor, source: Any, destination: Any) -> Tensor:
    """Move dims ``source`` to positions ``destination``, keeping the others in order (a view).

    Args:
        input: The tensor.
        source: A dim or a sequence of dims to move.
        destination: Their new positions, as many as ``source``.

    Returns:
        The permuted view.

    Raises:
        ShapeError: If ``source`` and ``destination`` have different lengths.
    """
    src = (source,) if isinstance(source, int) else tuple(source)
    dst = (destination,) if isinstance(destination, int) else tuple(destination)
    if len(src) != len(dst):
        raise ShapeError(f"movedim: Invalid source or destination dims: source ({list(src)} "
                         f"dims) should contain the same number of dims as destination "
                         f"({list(dst)} dims)")
    n = input.ndim
    src = [shapes.normalize_dim(d, n) for d in src]
    dst = [shapes.normalize_dim(d, n) for d in dst]
    order = [d for d in range(n) if d not in src]
    perm = [0] * n
    for s, d in sorted(zip(dst, src)):
        order.insert(s, d)
    perm = order
    return permute(input, perm)


moveaxis = movedim


@tensor_method("expand")
def expand_method(input: Tensor, *sizes: Any) -> Tensor:
    """Broadcast to a larger shape without copying (-1 keeps a dim).

    Args:
        input: The tensor.
        *sizes: The target shape, as ints or one sequence.

    Returns:
        The expanded view.

    Raises:
        ShapeError: If ``input`` can't be broadcast to the shape.
    """
    sizes = _shape_args(sizes)
    if len(sizes) < input.ndim:
        raise ShapeError(f"expand: the number of sizes provided ({len(sizes)}) must be greater "
                         f"or equal to the number of dimensions in the tensor ({input.ndim})")
    lead = len(sizes) - input.ndim
    target = []
    for i, s in enumerate(sizes):
        if s == -1:
            if i < lead:
                raise ShapeError("expand: -1 is not allowed in a leading, non-existing dimension")
            s = input.shape[i - lead]
        target.append(int(s))
    shapes.broadcast_strides(input.shape, input.stride(), target)  # validates
    out = expand(input, tuple(target))
    if out is not input:
        out._base = input._base if input._base is not None else input
    return out


@tensor_method("expand_as")
def expand_as(input: Tensor, other: Tensor) -> Tensor:
    """``input`` broadcast to ``other``'s shape (a view).

    Args:
        input: The tensor.
        other: The tensor whose shape to use.

    Returns:
        The expanded view.
    """
    return expand_method(input, tuple(other.shape))


def broadcast_to(input: Tensor, shape: Sequence[int]) -> Tensor:
    """``input`` viewed with ``shape`` by broadcasting.

    Args:
        input: The tensor.
        shape: The target shape.

    Returns:
        The expanded view.
    """
    return expand_method(input, tuple(shape))


tensor_method("broadcast_to")(broadcast_to)


def broadcast_tensors(*tensors: Tensor) -> tuple[Tensor, ...]:
    """Broadcast tensors to their common shape (views).

    Args:
        *tensors: The tensors.

    Returns:
        A tuple of expanded views, one per input.

    Raises:
        ShapeError: If the shapes don't broadcast.
    """
    shape = shapes.broadcast_shapes(*(t.shape for t in tensors))
    return tuple(broadcast_to(t, shape) for t in tensors)


def broadcast_shapes(*shape_list: Sequence[int]) -> tuple:
    """The shape that the given shapes broadcast to.

    Args:
        *shape_list: Shapes (sequences of ints).

    Returns:
        The broadcast :class:`~clt.tensor.Size`.

    Raises:
        ShapeError: If the shapes don't broadcast.
    """
    from clt.tensor import Size

    return Size(shapes.broadcast_shapes(*shape_list))


@tensor_method("squeeze")
def squeeze(input: Tensor, dim: Any = None) -> Tensor:
    """Remove size-1 dims (all, or those in ``dim``).

    Args:
        input: The tensor.
        dim: A dim or dims to remove if their size is 1; None removes all size-1 dims.

    Returns:
        The view.
    """
    if dim is None:
        shape = tuple(s for s in input.shape if s != 1)
    else:
        dims = shapes.normalize_dims(dim, input.ndim)
        shape = tuple(s for i, s in enumerate(input.shape) if not (i in dims and s == 1))
    return reshape(input, shape)


@tensor_method("unsqueeze")
def unsqueeze(input: Tensor, dim: int) -> Tensor:
    """Insert a size-1 dim at ``dim``.

    Args:
        input: The tensor.
        dim: Where the new dim goes (negative counts from the end of the result).

    Returns:
        The view.
    """
    d = shapes.normalize_dim(dim, input.ndim + 1)
    shape = list(input.shape)
    shape.insert(d, 1)
    return reshape(input, tuple(shape))


@tensor_method("flatten")
def flatten(input: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Merge dims ``start_dim..end_dim`` into one.

    Args:
        input: The tensor.
        start_dim: First dim to merge.
        end_dim: Last dim to merge.

    Returns:
        The flattened tensor (a view when possible).

    Raises:
        ShapeError: If ``start_dim`` comes after ``end_dim``.
    """
    if input.ndim == 0:
        return reshape(input, (1,))
    s = shapes.normalize_dim(start_dim, input.ndim)
    e = shapes.normalize_dim(end_dim, input.ndim)
    if s > e:
        raise ShapeError("flatten() has invalid args: start_dim cannot come after end_dim")
    shape = input.shape
    n = 1
    for x in shape[s:e + 1]:
        n *= x
    return reshape(input, tuple(shape[:s]) + (n,) + tuple(shape[e + 1:]))


@tensor_method("unflatten")
def unflatten(input: Tensor, dim: int, sizes: Sequence[int]) -> Tensor:
    """Split dim ``dim`` into ``sizes`` (one entry may be -1).

    Args:
        input: The tensor.
        dim: The dim to split.
        sizes: The new sizes; their product must equal the size of ``dim``.

    Returns:
        The reshaped tensor.
    """
    d = shapes.normalize_dim(dim, input.ndim)
    sizes = shapes.infer_reshape(tuple(sizes), input.shape[d])
    return reshape(input, tuple(input.shape[:d]) + tuple(sizes) + tuple(input.shape[d + 1:]))


@tensor_method("ravel")
def ravel(input: Tensor) -> Tensor:
    """``input`` flattened to 1-D (a view when contiguous).

    Args:
        input: The tensor.

    Returns:
        The 1-D tensor.
    """
    return reshape(input, (-1,))


@tensor_method("narrow")
def narrow(input: Tensor, dim: int, start: int, length: int) -> Tensor:
    """The slice ``start:start+length`` of dim ``dim`` (a view).

    Args:
        input: The tensor.
        dim: The dim to slice.
        start: First index (negative counts from the end).
        length: Number of elements.

    Returns:
        The view.

    Raises:
        IndexError: If the slice exceeds the dim.
    """
    d = shapes.normalize_dim(dim, input.ndim)
    size = input.shape[d]
    if start < 0:
        start += size
    if not 0 <= start <= size or length < 0 or start + length > size:
        raise IndexError(f"start ({start}) + length ({length}) exceeds dimension size ({size}).")
    key = (slice(None),) * d + (slice(start, start + length),)
    return view_op(input, "index", key)


@tensor_method("select")
def select(input: Tensor, dim: int, index: int) -> Tensor:
    """The slice at ``index`` along ``dim``, with that dim removed (a view).

    Args:
        input: The tensor.
        dim: The dim.
        index: The position along ``dim``; negative counts from the end.

    Returns:
        The view.
    """
    d = shapes.normalize_dim(dim, input.ndim)
    return view_op(input, "index", (slice(None),) * d + (int(index),))


@tensor_method("as_strided")
def as_strided(input: Tensor, size: Sequence[int], stride: Sequence[int],
               storage_offset: int | None = None) -> Tensor:
    """A view with explicit shape, strides and offset (no bounds check beyond the storage).

    Args:
        input: The tensor.
        size: The shape of the view.
        stride: Its strides, in elements.
        storage_offset: Offset into the storage (default: the tensor's own).

    Returns:
        The view.

    Raises:
        ShapeError: If ``size`` and ``stride`` differ in length.
        RuntimeError: If the view would reach outside the storage.
    """
    size, stride = tuple(int(s) for s in size), tuple(int(s) for s in stride)
    offset = input.storage_offset() if storage_offset is None else int(storage_offset)
    if len(size) != len(stride):
        raise ShapeError(f"mismatch in length of strides and shape: {size} vs {stride}")
    last = offset + sum((s - 1) * st for s, st in zip(size, stride) if s > 0)
    if shapes.numel(size) and (last + 1) * input.itemsize > input._data.storage.nbytes:
        raise RuntimeError(f"as_strided: size {size}, stride {stride}, offset {offset} is out of "
                           "bounds for the storage")
    return view_op(input, "strided", (size, stride, offset))


@tensor_method("contiguous")
def contiguous(input: Tensor, memory_format: Any = None) -> Tensor:
    """``input`` if already dense row-major, else a contiguous copy.

    Args:
        input: The tensor.
        memory_format: Accepted for PyTorch compatibility.

    Returns:
        A contiguous tensor.
    """
    if input.is_contiguous():
        return input
    return clone(input)


@tensor_method("unbind")
def unbind(input: Tensor, dim: int = 0) -> tuple[Tensor, ...]:
    """Slices along ``dim`` (views).

    Args:
        input: The tensor.
        dim: The dim to remove.

    Returns:
        A tuple of views, one per index along ``dim``.
    """
    d = shapes.normalize_dim(dim, input.ndim)
    return tuple(select(input, d, i) for i in range(input.shape[d]))


# -----------------------------------------------------------------------------------------------
# indexing

def _getitem(self: Tensor, key: Any) -> Tensor:
    if is_basic_key(key):
        return view_op(self, "index", _slice_key(key))
    from clt.functions import index as I

    return I.advanced_getitem(self, key)


class _SliceAssign(Function):
    """``base[key] = value`` out of place: the result of writing value into a copy of base."""

    @staticmethod
    def forward(ctx, base: Tensor, value: Any, key: tuple) -> Array:
        ctx.key, ctx.value = key, value
        out = ew.launch_map("copy", "a", Array.empty(base.device, base.shape, base.dtype),
                            [base._data])                  # a fresh dense copy to write into
        target = basic_index_array(out, key)
        if isinstance(value, Tensor):
            ew.copy_(target, value._data)
        else:
            ew.fill_(target, value)
        return out

    @staticmethod
    def backward(ctx, g: Tensor) -> tuple:
        gb = _SliceAssign.apply(g, 0.0, ctx.key)
        gv = None
        if isinstance(ctx.value, Tensor) and ctx.value.requires_grad:
            gv = sum_to(view_op(g, "index", ctx.key), tuple(ctx.value.shape))
        return gb, gv, None


def _setitem(self: Tensor, key: Any, value: Any) -> None:
    if isinstance(value, (list, tuple)):
        from clt.functions.creation import tensor as make

        value = make(value, dtype=self.dtype, device=self.device)
    if not is_basic_key(key):
        from clt.functions import index as I

        I.advanced_setitem(self, key, value)
        return
    key = _slice_key(key)
    if isinstance(value, Tensor) and value.device is not self.device:
        raise RuntimeError(f"setitem: value is on {value.device}, tensor on {self.device}")
    if needs_grad(self, value):
        apply_inplace(self, lambda t: _SliceAssign.apply(t, value, key), "__setitem__")
        return
    target = basic_index_array(self._data, key)
    if isinstance(value, Tensor):
        ew.copy_(target, value._data)
    else:
        ew.fill_(target, value)
    self._data.bump_version()


Tensor.__getitem__ = _getitem
Tensor.__setitem__ = _setitem
del STATE
