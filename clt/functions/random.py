"""Random tensors with PyTorch's names: ``clt.rand``, ``clt.manual_seed``, ``Tensor.uniform_``...

Everything draws from a :class:`Generator` (the default one unless ``generator=`` is given): a
Philox-4x32-10 stream whose numbers are the same on every OpenCL device and driver for the same
seed (see :mod:`clt.ops.random`). Seeding and stepping the stream never touch the device.

Gradients follow PyTorch: sampling functions are not differentiable in their parameters
(``normal(mean, std)`` gives ``mean`` and ``std`` zero gradients, as torch does; use
``mean + std * randn_like(mean)`` for the reparameterised form), and an in-place fill cuts the
filled tensor's history (its gradient to what it held before is zero).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from clt import dtypes as D
from clt.autograd.function import Function
from clt.autograd.grad_mode import STATE
from clt.errors import DTypeError, ShapeError
from clt.functions.creation import _dev, _finish, _size
from clt.functions.elementwise import apply_inplace
from clt.ops import random as R
from clt.ops.array import Array
from clt.tensor import Tensor, tensor_method

Generator = R.Generator
default_generator = R.default_generator


def manual_seed(seed: int) -> Generator:
    """Seed the default generator (as ``torch.manual_seed``) and return it.

    Args:
        seed: The seed.

    Returns:
        The default Generator.
    """
    return R.manual_seed(seed)


def seed() -> int:
    """Seed the default generator from OS entropy and return the seed."""
    return R.seed()


def initial_seed() -> int:
    """The default generator's seed."""
    return R.initial_seed()


def get_rng_state() -> np.ndarray:
    """The default generator's state: 16 host bytes (uint8), for :func:`set_rng_state`."""
    return R.get_rng_state()


def set_rng_state(new_state: Any) -> None:
    """Restore the default generator's state (bytes, a uint8 array or a uint8 tensor).

    Args:
        new_state: State from :func:`get_rng_state` (bytes, a uint8 array or a uint8 tensor).
    """
    R.set_rng_state(new_state)


# ---------------------------------------------------------------------------------------------
# helpers

class _Overwrite(Function):
    """``values`` written over ``t``: the result no longer depends on what ``t`` held."""

    @staticmethod
    def forward(ctx, t: Tensor, values: Array) -> Array:
        return values

    @staticmethod
    def backward(ctx, g: Tensor) -> tuple:
        return None, None


def _fill_inplace(self: Tensor, name: str, fill: Any) -> Tensor:
    """Run ``fill(array)`` on ``self``'s storage, keeping autograd correct."""
    if not isinstance(self, Tensor):
        raise TypeError(f"{name}(): expected a Tensor, got {type(self).__name__}")
    if STATE.enabled and self.requires_grad:
        values = Array.empty(self.device, self.shape, self.dtype)
        fill(values)
        return apply_inplace(self, lambda t: _Overwrite.apply(t, values), name)
    fill(self._data)
    return self


def _new(size: tuple, dtype: Any, device: Any, default: D.DType) -> Array:
    dt = default if dtype is None else D.as_dtype(dtype)
    dev = _dev(device)
    D.check_device_dtype(dt, dev)
    return Array.empty(dev, _size(size), dt)


def _into_out(out: Tensor | None, result: Tensor, op: str) -> Tensor:
    if out is None:
        return result
    if not isinstance(out, Tensor):
        raise TypeError(f"{op}(): argument 'out' must be Tensor, not {type(out).__name__}")
    if tuple(out.shape) != tuple(result.shape):
        raise ShapeError(f"{op}(): out has shape {tuple(out.shape)} but the result has shape "
                         f"{tuple(result.shape)}")
    return out.copy_(result)


def _from_to(args: tuple, kwargs: dict, default_to: Any, op: str) -> tuple[Any, Any]:
    """torch's ``(from, to)`` arguments: positional, or the keywords ``from`` and ``to``."""
    if len(args) > 2:
        raise TypeError(f"{op}() takes at most 2 positional arguments ({len(args)} given)")
    lo = kwargs.pop("from", args[0] if args else 0)
    hi = kwargs.pop("to", args[1] if len(args) > 1 else default_to)
    if kwargs:
        raise TypeError(f"{op}() got an unexpected keyword argument '{next(iter(kwargs))}'")
    return lo, hi


# ---------------------------------------------------------------------------------------------
# creators

def _float_samples(op: str, fill: Any, size: tuple, generator: Generator | None,
                   out: Tensor | None, dtype: Any, device: Any, requires_grad: bool) -> Tensor:
    """A new floating tensor filled by ``fill(array, 0, 1, generator)`` (rand, randn)."""
    a = _new(size, dtype, device, D.get_default_dtype())
    if not a.dtype.is_floating_point:
        raise DTypeError(f"{op}: expected a floating point dtype, got {a.dtype.name}")
    t = _finish(Tensor(fill(a, 0.0, 1.0, generator)), requires_grad)
    return _into_out(out, t, op)


def rand(*size: Any, generator: Generator | None = None, out: Tensor | None = None,
         dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """Uniform samples from ``[0, 1)`` (24 random bits for float32, 53 for float64).

    Args:
        *size: The shape, as ints or one sequence.
        generator: A clt Generator (None: the default one).
        out: Optional tensor to fill instead of allocating.
        dtype: A floating dtype (default: the default float dtype).
        device: The device (default: the current default device).
        requires_grad: Whether the tensor records operations for autograd.

    Returns:
        The samples.

    Raises:
        DTypeError: If ``dtype`` is not floating point.
    """
    return _float_samples("rand", R.uniform_, size, generator, out, dtype, device,
                          requires_grad)


def randn(*size: Any, generator: Generator | None = None, out: Tensor | None = None,
          dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """Standard normal samples (Box-Muller).

    Args:
        *size: The shape, as ints or one sequence.
        generator: A clt Generator (None: the default one).
        out: Optional tensor to fill instead of allocating.
        dtype: A floating dtype (default: the default float dtype).
        device: The device (default: the current default device).
        requires_grad: Whether the tensor records operations for autograd.

    Returns:
        The samples.

    Raises:
        DTypeError: If ``dtype`` is not floating point.
    """
    return _float_samples("randn", R.normal_, size, generator, out, dtype, device,
                          requires_grad)


def _like(input: Tensor, dtype: Any, device: Any) -> tuple[Any, Any]:
    if not isinstance(input, Tensor):
        raise TypeError(f"expected a Tensor, got {type(input).__name__}")
    return (input.dtype if dtype is None else dtype,
            input.device if device is None else device)


def rand_like(input: Tensor, *, generator: Generator | None = None, dtype: Any = None,
              device: Any = None, requires_grad: bool = False) -> Tensor:
    """``rand`` with ``input``'s shape (and dtype and device unless given).

    Args:
        input: The tensor whose shape (and default dtype and device) to use.
        generator: A clt Generator (None: the default one).
        dtype: The dtype (default: ``input.dtype``).
        device: The device (default: ``input.device``).
        requires_grad: Whether the tensor records operations for autograd.

    Returns:
        The new tensor.
    """
    dt, dev = _like(input, dtype, device)
    return rand(tuple(input.shape), generator=generator, dtype=dt, device=dev,
                requires_grad=requires_grad)


def randn_like(input: Tensor, *, generator: Generator | None = None, dtype: Any = None,
               device: Any = None, requires_grad: bool = False) -> Tensor:
    """``randn`` with ``input``'s shape (and dtype and device unless given).

    Args:
        input: The tensor whose shape (and default dtype and device) to use.
        generator: A clt Generator (None: the default one).
        dtype: The dtype (default: ``input.dtype``).
        device: The device (default: ``input.device``).
        requires_grad: Whether the tensor records operations for autograd.

    Returns:
        The new tensor.
    """
    dt, dev = _like(input, dtype, device)
    return randn(tuple(input.shape), generator=generator, dtype=dt, device=dev,
                 requires_grad=requires_grad)


def randint(*args: Any, size: Any = None, generator: Generator | None = None,
            out: Tensor | None = None, dtype: Any = None, device: Any = None,
            requires_grad: bool = False, low: Any = None, high: Any = None) -> Tensor:
    """Integers uniform on ``[low, high)``: ``randint(high, size)`` or ``randint(low, high, size)``.

    int64 unless ``dtype`` says otherwise (any dtype works, floats included, as in torch).
    """
    if len(args) == 3:
        low, high, size = args
    elif len(args) == 2 and size is None:
        high, size = args
    elif len(args) == 2:
        low, high = args
    elif len(args) == 1:
        if high is None:
            high = args[0]
        else:
            low = args[0]
    elif args:
        raise TypeError(f"randint() takes 1 to 3 positional arguments ({len(args)} given)")
    if high is None or size is None:
        raise TypeError("randint() missing required arguments: expected randint(high, size) "
                        "or randint(low, high, size)")
    if not isinstance(size, (tuple, list)) and not hasattr(size, "__iter__"):
        raise TypeError(f"randint(): argument 'size' must be a tuple of ints, not "
                        f"{type(size).__name__}")
    a = _new((tuple(size),), dtype, device, D.int64)
    t = Tensor(R.randint(a.device, 0 if low is None else low, high, a.shape, a.dtype, generator))
    return _into_out(out, _finish(t, requires_grad), "randint")


def randint_like(input: Tensor, *args: Any, generator: Generator | None = None,
                 dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """``randint`` with ``input``'s shape: ``randint_like(x, high)`` or ``(x, low, high)``."""
    dt, dev = _like(input, dtype, device)
    if len(args) not in (1, 2):
        raise TypeError("randint_like() expects (input, high) or (input, low, high)")
    low, high = (0, args[0]) if len(args) == 1 else args
    return randint(low, high, tuple(input.shape), generator=generator, dtype=dt, device=dev,
                   requires_grad=requires_grad)


def randperm(n: int, *, generator: Generator | None = None, out: Tensor | None = None,
             dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """A random permutation of ``0 .. n-1`` (int64 unless ``dtype`` is given).

    Args:
        n: The number of elements.
        generator: A clt Generator (None: the default one).
        out: Optional tensor to fill instead of allocating.
        dtype: The dtype (default: int64).
        device: The device (default: the current default device).
        requires_grad: Whether the tensor records operations for autograd.

    Returns:
        A 1-D tensor holding a permutation of ``0 .. n-1``.
    """
    t = _finish(Tensor(R.randperm(_dev(device), n, dtype, generator)), requires_grad)
    return _into_out(out, t, "randperm")


class _Normal(Function):
    """``mean + std * z``: sampling is not differentiable in torch, so both grads are zero."""

    @staticmethod
    def forward(ctx, mean: Any, std: Any, generator: Any) -> Array:
        ctx.shapes = [(tuple(x.shape), x.dtype, x.device) if isinstance(x, Tensor) else None
                      for x in (mean, std)]
        m = mean._data if isinstance(mean, Tensor) else mean
        s = std._data if isinstance(std, Tensor) else std
        return R.normal_tensor(m, s, generator)

    @staticmethod
    def backward(ctx, g: Tensor) -> tuple:
        from clt.functions.creation import zeros

        grads = tuple(None if m is None else zeros(m[0], dtype=m[1], device=m[2])
                      for m in ctx.shapes)
        return grads + (None,)


def normal(mean: Any = 0.0, std: Any = 1.0, size: Any = None, *,
           generator: Generator | None = None, out: Tensor | None = None, dtype: Any = None,
           device: Any = None, requires_grad: bool = False) -> Tensor:
    """Normal samples: ``normal(mean, std)`` with tensors (broadcast) or
    ``normal(mean, std, size)`` with numbers."""
    if isinstance(mean, Tensor) or isinstance(std, Tensor):
        if size is not None:
            raise TypeError("normal(): size is only allowed when mean and std are numbers")
        for x, name in ((mean, "mean"), (std, "std")):
            if isinstance(x, Tensor) and not x.dtype.is_floating_point:
                raise DTypeError(f"normal expects floating point {name}, got {x.dtype.name}")
        t = _Normal.apply(mean, std, generator)
        return _into_out(out, t, "normal")
    if size is None:
        raise TypeError("normal(): with numbers for mean and std, size is required")
    a = _new((size,), dtype, device, D.get_default_dtype())
    if not a.dtype.is_floating_point:
        raise DTypeError(f"normal: expected a floating point dtype, got {a.dtype.name}")
    t = _finish(Tensor(R.normal_(a, mean, std, generator)), requires_grad)
    return _into_out(out, t, "normal")


def bernoulli(input: Tensor, p: Any = None, *, generator: Generator | None = None,
              out: Tensor | None = None) -> Tensor:
    """0/1 samples with probabilities ``input`` (or a number ``p``), in ``input``'s dtype."""
    if not isinstance(input, Tensor):
        raise TypeError(f"bernoulli(): argument 'input' must be Tensor, not "
                        f"{type(input).__name__}")
    if p is None:
        t = Tensor(R.bernoulli(input._data, generator))
    else:
        a = Array.empty(input.device, input.shape, input.dtype)
        t = Tensor(R.bernoulli_(a, p._data if isinstance(p, Tensor) else p, generator))
    return _into_out(out, t, "bernoulli")


def multinomial(input: Tensor, num_samples: int, replacement: bool = False, *,
                generator: Generator | None = None, out: Tensor | None = None) -> Tensor:
    """Category indices sampled from the rows of ``input`` (weights; 1-D or 2-D)."""
    if not isinstance(input, Tensor):
        raise TypeError(f"multinomial(): argument 'input' must be Tensor, not "
                        f"{type(input).__name__}")
    t = Tensor(R.multinomial(input._data, num_samples, replacement, generator))
    return _into_out(out, t, "multinomial")


# ---------------------------------------------------------------------------------------------
# Tensor methods (in place)

@tensor_method("uniform_")
def uniform_(self: Tensor, *args: Any, generator: Generator | None = None, **kwargs: Any
             ) -> Tensor:
    """Fill with uniform samples from ``[from, to)`` (default ``[0, 1)``)."""
    lo, hi = _from_to(args, kwargs, 1.0, "uniform_")
    return _fill_inplace(self, "uniform_", lambda a: R.uniform_(a, lo, hi, generator))


@tensor_method("normal_")
def normal_(self: Tensor, mean: float = 0.0, std: float = 1.0, *,
            generator: Generator | None = None) -> Tensor:
    """Fill with normal samples.

    Args:
        self: The floating-point tensor to fill in place.
        mean: The mean.
        std: The standard deviation.
        generator: A clt Generator (None: the default one).

    Returns:
        ``self``.
    """
    return _fill_inplace(self, "normal_", lambda a: R.normal_(a, mean, std, generator))


@tensor_method("random_")
def random_(self: Tensor, *args: Any, generator: Generator | None = None, **kwargs: Any
            ) -> Tensor:
    """Fill with integers: ``random_()`` over the dtype's range (``[0, 2**mantissa]`` for
    floats), ``random_(to)`` over ``[0, to)``, ``random_(from, to)`` over ``[from, to)``."""
    if len(args) == 1 and "to" not in kwargs:
        args = (0, args[0])
    lo, hi = _from_to(args, kwargs, None, "random_")
    return _fill_inplace(self, "random_", lambda a: R.random_(a, lo, hi, generator))


@tensor_method("bernoulli_")
def bernoulli_(self: Tensor, p: Any = 0.5, *, generator: Generator | None = None) -> Tensor:
    """Fill with 1 with probability ``p`` (a number or a tensor of probabilities), else 0.

    Args:
        self: The floating-point tensor to fill in place.
        p: The probability of 1 (a number or a tensor).
        generator: A clt Generator (None: the default one).

    Returns:
        ``self``.
    """
    pp = p._data if isinstance(p, Tensor) else p
    return _fill_inplace(self, "bernoulli_", lambda a: R.bernoulli_(a, pp, generator))


@tensor_method("exponential_")
def exponential_(self: Tensor, lambd: float = 1.0, *,
                 generator: Generator | None = None) -> Tensor:
    """Fill with exponential samples of rate ``lambd``.

    Args:
        self: The floating-point tensor to fill in place.
        lambd: The rate.
        generator: A clt Generator (None: the default one).

    Returns:
        ``self``.
    """
    return _fill_inplace(self, "exponential_", lambda a: R.exponential_(a, lambd, generator))


@tensor_method("cauchy_")
def cauchy_(self: Tensor, median: float = 0.0, sigma: float = 1.0, *,
            generator: Generator | None = None) -> Tensor:
    """Fill with Cauchy samples.

    Args:
        self: The floating-point tensor to fill in place.
        median: The location.
        sigma: The scale.
        generator: A clt Generator (None: the default one).

    Returns:
        ``self``.
    """
    return _fill_inplace(self, "cauchy_", lambda a: R.cauchy_(a, median, sigma, generator))


@tensor_method("log_normal_")
def log_normal_(self: Tensor, mean: float = 1.0, std: float = 2.0, *,
                generator: Generator | None = None) -> Tensor:
    """Fill with ``exp(N(mean, std))`` samples.

    Args:
        self: The floating-point tensor to fill in place.
        mean: Mean of the underlying normal.
        std: Standard deviation of the underlying normal.
        generator: A clt Generator (None: the default one).

    Returns:
        ``self``.
    """
    return _fill_inplace(self, "log_normal_", lambda a: R.log_normal_(a, mean, std, generator))


@tensor_method("geometric_")
def geometric_(self: Tensor, p: float, *, generator: Generator | None = None) -> Tensor:
    """Fill with the number of Bernoulli(p) trials up to and including the first success.

    Args:
        self: The floating-point tensor to fill in place.
        p: The success probability.
        generator: A clt Generator (None: the default one).

    Returns:
        ``self``.
    """
    return _fill_inplace(self, "geometric_", lambda a: R.geometric_(a, p, generator))


tensor_method("bernoulli")(lambda self, p=None, *, generator=None:
                           bernoulli(self, p, generator=generator))
tensor_method("multinomial")(lambda self, num_samples, replacement=False, *, generator=None:
                             multinomial(self, num_samples, replacement, generator=generator))


__all__ = ["Generator", "default_generator", "manual_seed", "seed", "initial_seed",
           "get_rng_state", "set_rng_state", "rand", "rand_like", "randn", "randn_like",
           "randint", "randint_like", "randperm", "normal", "bernoulli", "multinomial"]
