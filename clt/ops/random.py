"""Random numbers on device from a counter-based generator (``kernels/random.cl.mako``).

The generator is Philox-4x32-10 (Salmon, Moraes, Dror, Shaw: "Parallel random numbers: as easy as
1, 2, 3", SC'11), the same function as Random123's ``philox4x32_10`` and cuRAND's Philox. Its
output for a 128-bit counter and a 64-bit key is a pure function of the two, so:

* A :class:`Generator` is only ``(seed, offset)`` on the host. A request of ``n`` values takes the
  Philox blocks ``[offset, offset + nblocks)`` with key = seed and advances ``offset``; the device
  is never asked for state and never waited on.
* Value ``i`` of a request is made from block ``offset + i // V`` (``V`` values per block: 4 when a
  value needs one 32-bit word, 2 when it needs two). It does not depend on the kernel style,
  work-group size, chunking or number of compute units, so the same seed gives the same numbers
  on every device and driver. Uniform floats, integers, Bernoulli draws, dropout masks and
  :func:`randperm` are bit-identical everywhere; distributions that call ``log``/``sin``/``cos``/
  ``exp`` (normal, exponential, ...) agree to the few ulp that OpenCL allows those functions.

Value formats:

* uniform floats in ``[0, 1)``: float32 ``(w >> 8) * 2**-24`` (24 random bits, one word);
  float64 ``((w0 >> 5) * 2**26 + (w1 >> 6)) * 2**-53`` (53 bits, two words, numpy's formula);
  float16 is the float32
  value rounded toward zero (so still below 1). ``uniform_(a, b)`` is ``a + (b - a) * u`` in the
  compute type, without fused multiply-add.
* normal: Box-Muller with both outputs used: ``sqrt(-2 ln(1 - u1)) * (cospi(2 u2), sinpi(2 u2))``;
  float32 uses words (w0, w1) and (w2, w3) for values 4b..4b+3, float64 one pair of 53-bit
  uniforms for values 2b, 2b+1; float16 is computed in float32 and rounded.
* integers in ``[low, high)``: ``low + floor(x * range / 2**64)`` for the 64-bit word pair
  ``x = (w0 << 32) | w1`` (values 2b) and ``(w2 << 32) | w3`` (2b+1). This "multiply-shift" needs
  no rejection loop; its bias is at most ``range / 2**64`` (below ``2**-32`` for any 32-bit
  range, zero when the range is a power of two).
* Bernoulli with a scalar ``p`` and dropout masks: word ``w < floor(p * 2**32)`` (one word per
  value, so probabilities are exact to ``2**-32``); with a tensor ``p``: ``u < p`` with ``u`` a
  uniform of ``p``'s precision.
"""
from __future__ import annotations

import math
import os
import threading
from typing import Any, Sequence

import numpy as np

from clt import dtypes as D
from clt.backend.device import Device
from clt.dtypes import DType
from clt.errors import DTypeError
from clt.ops import elementwise as ew
from clt.ops import shapes
from clt.ops import transfer
from clt.ops.array import Array

DEFAULT_SEED = 67280421310721   # PyTorch's default CPU seed: programs that never seed still repeat
_U64 = (1 << 64) - 1
PHILOX_M0, PHILOX_M1 = 0xD2511F53, 0xCD9E8D57
PHILOX_W0, PHILOX_W1 = 0x9E3779B9, 0xBB67AE85

_FLOAT_DISTS = ("uniform", "normal", "log_normal", "exponential", "cauchy", "geometric",
                "bernoulli_t")


# ---------------------------------------------------------------------------------------------
# the generator

class Generator:
    """A Philox-4x32-10 stream: a 64-bit seed (the Philox key) and a 64-bit block offset.

    Unlike ``torch.Generator`` it is not tied to a device: its numbers are the same on all of
    them. ``device`` is accepted (and kept) for compatibility only.
    """

    def __init__(self, device: Any = None) -> None:
        self.device = device
        self._seed = DEFAULT_SEED
        self._offset = 0
        self._lock = threading.Lock()

    def manual_seed(self, seed: int) -> "Generator":
        """Set the seed and rewind the stream; returns ``self`` (as torch)."""
        s = _check_seed(seed)
        with self._lock:
            self._seed, self._offset = s, 0
        return self

    def seed(self) -> int:
        """Seed from the operating system's entropy and return the new seed."""
        s = int.from_bytes(os.urandom(8), "little")
        with self._lock:
            self._seed, self._offset = s, 0
        return s

    def initial_seed(self) -> int:
        """The seed the stream was last seeded with."""
        return self._seed

    def get_offset(self) -> int:
        """The next unused Philox block (each block holds 128 random bits)."""
        return self._offset

    def set_offset(self, offset: int) -> "Generator":
        """Move the stream to block ``offset``."""
        if not isinstance(offset, (int, np.integer)) or isinstance(offset, bool) or \
                not 0 <= int(offset) <= _U64:
            raise ValueError(f"set_offset: offset must be an int in [0, 2**64), got {offset!r}")
        with self._lock:
            self._offset = int(offset)
        return self

    def get_state(self) -> np.ndarray:
        """The state as 16 host bytes (uint8): the seed then the offset, little-endian."""
        with self._lock:
            raw = self._seed.to_bytes(8, "little") + self._offset.to_bytes(8, "little")
        return np.frombuffer(raw, dtype=np.uint8).copy()

    def set_state(self, state: Any) -> "Generator":
        """Restore a state from :meth:`get_state` (bytes, a uint8 array or a tensor of it)."""
        if hasattr(state, "numpy") and callable(state.numpy):
            state = state.numpy()
        try:
            raw = bytes(np.asarray(state, dtype=np.uint8).reshape(-1)) \
                if not isinstance(state, (bytes, bytearray)) else bytes(state)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"set_state: expected 16 bytes or a uint8 array, got "
                            f"{type(state).__name__}") from exc
        if len(raw) != 16:
            raise ValueError(f"set_state: expected a state of 16 bytes (seed, offset), got "
                             f"{len(raw)} bytes")
        with self._lock:
            self._seed = int.from_bytes(raw[:8], "little")
            self._offset = int.from_bytes(raw[8:], "little")
        return self

    def reserve(self, nblocks: int) -> tuple[int, int, int]:
        """Take ``nblocks`` Philox blocks: returns (key0, key1, first counter); host only."""
        with self._lock:
            ctr = self._offset
            self._offset = (self._offset + nblocks) & _U64
            seed = self._seed
        return seed & 0xFFFFFFFF, seed >> 32, ctr

    def __repr__(self) -> str:
        return f"clt.Generator(seed={self._seed}, offset={self._offset})"


def _check_seed(seed: Any) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"manual_seed expected an int seed, got {type(seed).__name__}")
    seed = int(seed)
    if not -(1 << 63) <= seed <= _U64:
        raise ValueError(f"manual_seed: seed must be in [-2**63, 2**64 - 1], got {seed}")
    return seed & _U64   # negative seeds wrap as in C++'s int64 -> uint64 (torch does the same)


default_generator = Generator()


def manual_seed(seed: int) -> Generator:
    """Seed the default generator (``torch.manual_seed``); returns it."""
    return default_generator.manual_seed(seed)


def seed() -> int:
    """Seed the default generator from OS entropy; returns the seed."""
    return default_generator.seed()


def initial_seed() -> int:
    """The default generator's seed."""
    return default_generator.initial_seed()


def get_rng_state() -> np.ndarray:
    """The default generator's state (16 host bytes)."""
    return default_generator.get_state()


def set_rng_state(state: Any) -> None:
    """Restore the default generator's state."""
    default_generator.set_state(state)


def _gen(generator: Generator | None) -> Generator:
    if generator is None:
        return default_generator
    if not isinstance(generator, Generator):
        raise TypeError(f"generator must be a clt.Generator, got {type(generator).__name__}")
    return generator


# ---------------------------------------------------------------------------------------------
# host Philox (for host-side consumers such as randperm; same stream as the kernels)

def philox4x32_10(ctr: np.ndarray, key0: int, key1: int) -> np.ndarray:
    """Philox-4x32-10 of 64-bit counters ``ctr`` (words 2, 3 zero): a (len(ctr), 4) uint32 array."""
    ctr = np.asarray(ctr, dtype=np.uint64)
    mask = np.uint64(0xFFFFFFFF)
    c0, c1 = ctr & mask, ctr >> np.uint64(32)
    c2 = np.zeros_like(c0)
    c3 = np.zeros_like(c0)
    k0, k1 = key0 & 0xFFFFFFFF, key1 & 0xFFFFFFFF
    m0, m1 = np.uint64(PHILOX_M0), np.uint64(PHILOX_M1)
    for rnd in range(10):
        p0, p1 = c0 * m0, c2 * m1        # < 2**64: exact in uint64
        c0, c1, c2, c3 = ((p1 >> np.uint64(32)) ^ c1 ^ np.uint64(k0), p1 & mask,
                          (p0 >> np.uint64(32)) ^ c3 ^ np.uint64(k1), p0 & mask)
        if rnd < 9:
            k0, k1 = (k0 + PHILOX_W0) & 0xFFFFFFFF, (k1 + PHILOX_W1) & 0xFFFFFFFF
    return np.stack([c0, c1, c2, c3], axis=-1).astype(np.uint32)


def host_uint64(n: int, generator: Generator | None = None) -> np.ndarray:
    """``n`` random uint64 values from the stream, computed on the host (no device involved).

    They are the words the randint kernels use, so host-side consumers (shuffling a dataset,
    seeding a numpy Generator from ``clt.manual_seed``) stay reproducible and advance the stream
    like a device request of ``n`` int64 values would.
    """
    return _host_words64(_gen(generator), n)


def _host_words64(gen: Generator, n: int) -> np.ndarray:
    """``n`` 64-bit values from the stream exactly as the randint kernel makes them."""
    key0, key1, ctr = gen.reserve(-(-n // 2))
    blocks = np.arange(-(-n // 2), dtype=np.uint64) + np.uint64(ctr)   # wraps mod 2**64
    w = philox4x32_10(blocks, key0, key1).astype(np.uint64)
    pairs = (w[:, 0::2] << np.uint64(32)) | w[:, 1::2]
    return pairs.reshape(-1)[:n]


def _host_uniform53(gen: Generator, n: int) -> np.ndarray:
    """``n`` float64 uniforms in [0, 1), made from the stream as the float64 kernels make them."""
    x = _host_words64(gen, n)
    hi, lo = x >> np.uint64(37), (x & np.uint64(0xFFFFFFFF)) >> np.uint64(6)
    return (hi.astype(np.float64) * 2.0 ** 26 + lo.astype(np.float64)) * 2.0 ** -53


# ---------------------------------------------------------------------------------------------
# the launcher

def _values_per_block(dist: str, prec: str) -> int:
    if dist == "randint" or (dist in _FLOAT_DISTS and prec == "double"):
        return 2
    return 4


def _prec(dtype: DType) -> str:
    return "double" if dtype is D.float64 else "float"


def _generate(out: Array, dist: str, generator: Generator | None, scalars: Sequence[Any] = (),
              prec: str = "float", inp: Array | None = None, mask: Array | None = None) -> Array:
    """Fill ``out`` (any layout) with ``n`` values of ``dist``; ``inp``/``mask`` must be dense."""
    gen = _gen(generator)
    n = out.numel
    if n == 0:
        return out
    dense = out if out.is_contiguous() else Array.empty(out.device, out.shape, out.dtype)
    dev = out.device
    caps = dev.caps
    vpb = _values_per_block(dist, prec)
    nblocks = -(-n // vpb)
    key0, key1, ctr = gen.reserve(nblocks)
    if caps.style == "cpu":
        width = 4 if (prec == "double" and dist in _FLOAT_DISTS) else 8
    else:
        width = 1
    in_tag = inp.dtype.tag if inp is not None else ""
    kernel = dev.kernels.get(
        "random.cl.mako", "generate",
        name=f"clt_random_{dist}_{dense.dtype.tag}{in_tag}_{prec[0]}{width}",
        dist=dist, out_dtype=dense.dtype.name, in_dtype=inp.dtype.name if inp is not None else "",
        prec=prec, width=width, style=caps.style)
    local = max(1, caps.ew_local_size)
    if caps.style == "cpu":
        # a few chunks per compute unit when there is enough work, else one short chunk each
        base = max(width, caps.ew_chunk // vpb)
        per_cu = -(-nblocks // (4 * max(1, dev.info.compute_units)))
        chunk = min(base, max(width * 8, per_cu))
        chunk = -(-chunk // width) * width
        groups = -(-nblocks // chunk)
    else:
        # one block per work-item; a grid-stride loop only past 2**20 groups. With the loop
        # capped at 1024 groups an H200 made rand(64M float32) at 97 GB/s instead of 2.8 TB/s.
        chunk = 1
        groups = min(-(-nblocks // local), 1 << 20)
    gsize = -(-groups // local) * local
    args: list[Any] = [dense.buffer, dense.offset]
    if inp is not None:
        args += [inp.buffer, inp.offset]
    if mask is not None:
        args += [mask.buffer, mask.offset]
    args += [n, key0, key1, ctr, chunk]
    args += list(scalars)
    dev.launch(kernel, (gsize,), (local,), *args)
    if dense is not out:
        ew.copy_(out, dense)       # bumps out's version
    else:
        out.bump_version()
    return out


# ---------------------------------------------------------------------------------------------
# validation helpers

def _float_dtype(dtype: Any, op: str, device: Device) -> DType:
    dt = D.get_default_dtype() if dtype is None else D.as_dtype(dtype)
    if not dt.is_floating_point:
        raise DTypeError(f"{op}: expected a floating point dtype, got {dt.name}")
    D.check_device_dtype(dt, device)
    return dt


def _check_float_out(x: Array, op: str) -> None:
    if not x.dtype.is_floating_point:
        raise DTypeError(f"{op} expects a floating point tensor, got {x.dtype.name}")


def _number(x: Any, op: str, name: str) -> float:
    if isinstance(x, bool) or not isinstance(x, (int, float, np.integer, np.floating)):
        raise TypeError(f"{op}: {name} must be a number, got {type(x).__name__}")
    return float(x)


def _cast(value: float, prec: str) -> float:
    """``value`` rounded to the kernel's scalar type, so host references can match exactly."""
    return float(np.float32(value)) if prec == "float" else float(value)


def _shape(shape: Any) -> tuple[int, ...]:
    return shapes.as_shape(shape)


# ---------------------------------------------------------------------------------------------
# in-place fills (any layout: non-contiguous targets are filled through a dense temporary)

def uniform_(x: Array, low: float = 0.0, high: float = 1.0,
             generator: Generator | None = None) -> Array:
    """Fill ``x`` with uniform samples from ``[low, high)``."""
    _check_float_out(x, "uniform_")
    low, high = _number(low, "uniform_", "from"), _number(high, "uniform_", "to")
    if not low <= high:
        raise ValueError(f"uniform_ expects to return a [from, to) range, but found "
                         f"from={low:g} > to={high:g}")
    prec = _prec(x.dtype)
    if prec == "float":
        span = float(np.float32(high) - np.float32(low))
        if not math.isfinite(span):
            raise ValueError(f"uniform_: to - from must be finite in {x.dtype.name}, got "
                             f"from={low:g} to={high:g}")
    else:
        span = high - low
    return _generate(x, "uniform", generator, [_cast(low, prec), span], prec)


def normal_(x: Array, mean: float = 0.0, std: float = 1.0,
            generator: Generator | None = None) -> Array:
    """Fill ``x`` with normal samples (Box-Muller)."""
    _check_float_out(x, "normal_")
    mean, std = _number(mean, "normal_", "mean"), _number(std, "normal_", "std")
    if not std >= 0.0:
        raise ValueError(f"normal expects std >= 0.0, but found std {std:g}")
    prec = _prec(x.dtype)
    return _generate(x, "normal", generator, [_cast(mean, prec), _cast(std, prec)], prec)


def log_normal_(x: Array, mean: float = 1.0, std: float = 2.0,
                generator: Generator | None = None) -> Array:
    """Fill ``x`` with ``exp(N(mean, std))`` samples."""
    _check_float_out(x, "log_normal_")
    mean, std = _number(mean, "log_normal_", "mean"), _number(std, "log_normal_", "std")
    if not std > 0.0:
        raise ValueError(f"log_normal_ expects std > 0.0, but found std={std:g}")
    prec = _prec(x.dtype)
    return _generate(x, "log_normal", generator, [_cast(mean, prec), _cast(std, prec)], prec)


def exponential_(x: Array, lambd: float = 1.0, generator: Generator | None = None) -> Array:
    """Fill ``x`` with exponential samples of rate ``lambd`` (``-ln(1 - u) / lambd``)."""
    _check_float_out(x, "exponential_")
    lambd = _number(lambd, "exponential_", "lambd")
    if not lambd > 0.0:
        raise ValueError(f"exponential_ expects lambda > 0.0, but found lambda={lambd:g}")
    prec = _prec(x.dtype)
    return _generate(x, "exponential", generator, [_cast(-1.0 / lambd, prec)], prec)


def cauchy_(x: Array, median: float = 0.0, sigma: float = 1.0,
            generator: Generator | None = None) -> Array:
    """Fill ``x`` with Cauchy samples (``median + sigma * tan(pi (u - 1/2))``)."""
    _check_float_out(x, "cauchy_")
    median, sigma = _number(median, "cauchy_", "median"), _number(sigma, "cauchy_", "sigma")
    if not sigma > 0.0:
        raise ValueError(f"cauchy_ expects sigma > 0.0, but found sigma={sigma:g}")
    prec = _prec(x.dtype)
    return _generate(x, "cauchy", generator, [_cast(median, prec), _cast(sigma, prec)], prec)


def geometric_(x: Array, p: float, generator: Generator | None = None) -> Array:
    """Fill ``x`` with the number of Bernoulli(p) trials up to the first success (>= 1)."""
    p = _number(p, "geometric_", "p")
    if not 0.0 < p < 1.0:
        raise ValueError(f"geometric_ expects p to be in (0, 1), but got p={p:g}")
    if x.dtype.is_bool:
        raise DTypeError("geometric_ is not supported for bool tensors")
    prec = _prec(x.dtype)
    return _generate(x, "geometric", generator, [_cast(1.0 / math.log1p(-p), prec)], prec)


def _int_bounds(dtype: DType) -> tuple[int, int]:
    if dtype.is_bool:
        return 0, 1
    if dtype.is_floating_point:
        digits = {"float16": 11, "float32": 24, "float64": 53}[dtype.name]
        return -(1 << digits), 1 << digits
    info = np.iinfo(dtype.np)
    return int(info.min), int(info.max)


def _randint_fill(x: Array, low: int, high_inc: int, generator: Generator | None,
                  op: str) -> Array:
    """Fill ``x`` with integers uniform on ``[low, high_inc]`` (bounds already validated)."""
    rng = high_inc - low + 1
    if not 1 <= rng <= (1 << 64):
        raise ValueError(f"{op}: the range [{low}, {high_inc}] must hold 1 to 2**64 values")
    return _generate(x, "randint", generator, [low, rng & _U64], "float")


def _int_arg(v: Any, op: str, name: str) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
        if isinstance(v, (float, np.floating)) and float(v).is_integer():
            return int(v)
        raise TypeError(f"{op}: {name} must be an integer, got {v!r}")
    return int(v)


def random_(x: Array, low: int | None = 0, high: int | None = None,
            generator: Generator | None = None) -> Array:
    """Fill ``x`` with integers from ``[low, high)`` (torch's ``random_``).

    ``high=None`` means up to the dtype's largest value inclusive (``2**mantissa`` for floats:
    2**24 for float32, 2**53 for float64, 2**11 for float16); ``random_()`` is ``[0, that]``.
    """
    low = 0 if low is None else _int_arg(low, "random_", "from")
    lo_lim, hi_lim = _int_bounds(x.dtype)
    if high is None:
        high_inc = hi_lim
        if low > high_inc:
            raise ValueError(f"random_ expects 'from' to be less than or equal to the largest "
                             f"value of {x.dtype.name} ({high_inc}), but got from={low}")
    else:
        high = _int_arg(high, "random_", "to")
        if not low < high:
            raise ValueError(f"random_ expects 'from' to be less than 'to', but got "
                             f"from={low} >= to={high}")
        high_inc = high - 1
    if not x.dtype.is_floating_point:
        if not lo_lim <= low <= hi_lim:
            raise ValueError(f"random_: from={low} is out of bounds for {x.dtype.name} "
                             f"[{lo_lim}, {hi_lim}]")
        if not lo_lim <= high_inc <= hi_lim:
            raise ValueError(f"random_: to - 1={high_inc} is out of bounds for {x.dtype.name} "
                             f"[{lo_lim}, {hi_lim}]")
    elif not (-(1 << 63) <= low and high_inc < (1 << 63)):
        raise ValueError(f"random_: bounds must fit in int64, got from={low} to={high}")
    return _randint_fill(x, low, high_inc, generator, "random_")


def bernoulli_(x: Array, p: Any = 0.5, generator: Generator | None = None) -> Array:
    """Fill ``x`` (any dtype) with 1 with probability ``p`` (a number or an Array), else 0.

    A tensor ``p`` is not range-checked: that would need a device round trip (as on CUDA in torch,
    values below 0 act as 0 and above 1 as 1).
    """
    if isinstance(p, Array):
        if not p.dtype.is_floating_point:
            raise DTypeError(f"bernoulli_: expected a floating point probability tensor, got "
                             f"{p.dtype.name}")
        ew.check_same_device([x, p], "bernoulli_")
        pd = p if p.shape == x.shape else _expand(p, x.shape, "bernoulli_")
        pd = ew.contiguous(pd)
        return _generate(x, "bernoulli_t", generator, (), _prec(p.dtype), inp=pd)
    p = _number(p, "bernoulli_", "p")
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"bernoulli_ expects p to be in [0, 1], but got p={p:g}")
    return _generate(x, "bernoulli", generator, [_threshold(p)], "float")


def _threshold(p: float) -> int:
    """``floor(p * 2**32)``: a word w < this with probability p (exactly to 2**-32)."""
    return int(math.floor(p * 4294967296.0))


def _expand(p: Array, shape: tuple[int, ...], op: str) -> Array:
    try:
        strides = shapes.broadcast_strides(p.shape, p.strides, shape)
    except ValueError as exc:
        raise type(exc)(f"{op}: probability of shape {p.shape} can't be broadcast to {shape}") \
            from exc
    return p.view(shape, strides)


# ---------------------------------------------------------------------------------------------
# creators

def rand(device: Device, shape: Any, dtype: Any = None,
         generator: Generator | None = None) -> Array:
    """Uniform samples in ``[0, 1)``."""
    dt = _float_dtype(dtype, "rand", device)
    return uniform_(Array.empty(device, _shape(shape), dt), 0.0, 1.0, generator)


def uniform(device: Device, shape: Any, low: float = 0.0, high: float = 1.0, dtype: Any = None,
            generator: Generator | None = None) -> Array:
    """Uniform samples in ``[low, high)``."""
    dt = _float_dtype(dtype, "uniform", device)
    return uniform_(Array.empty(device, _shape(shape), dt), low, high, generator)


def randn(device: Device, shape: Any, dtype: Any = None,
          generator: Generator | None = None) -> Array:
    """Standard normal samples."""
    dt = _float_dtype(dtype, "randn", device)
    return normal_(Array.empty(device, _shape(shape), dt), 0.0, 1.0, generator)


def normal(device: Device, shape: Any, mean: float = 0.0, std: float = 1.0, dtype: Any = None,
           generator: Generator | None = None) -> Array:
    """Normal samples with scalar ``mean`` and ``std``."""
    dt = _float_dtype(dtype, "normal", device)
    return normal_(Array.empty(device, _shape(shape), dt), mean, std, generator)


def normal_tensor(mean: Any, std: Any, generator: Generator | None = None) -> Array:
    """``mean + std * N(0, 1)`` with Array (or scalar) ``mean``/``std``, broadcast.

    The standard normals are drawn first (the same stream as :func:`randn` of the broadcast shape),
    then shifted and scaled elementwise. A tensor ``std`` is not checked for negative values (that
    would need a device round trip).
    """
    arrays = [a for a in (mean, std) if isinstance(a, Array)]
    if not arrays:
        raise TypeError("normal_tensor: mean or std must be an Array")
    dev = ew.check_same_device(arrays, "normal")
    for a, name in ((mean, "mean"), (std, "std")):
        if isinstance(a, Array) and not a.dtype.is_floating_point:
            raise DTypeError(f"normal expects floating point {name}, got {a.dtype.name}")
        if not isinstance(a, Array):
            v = _number(a, "normal", name)
            if name == "std" and not v >= 0.0:
                raise ValueError(f"normal expects std >= 0.0, but found std {v:g}")
    dt = D.result_type(*arrays)
    shape = shapes.broadcast_shapes(*(a.shape for a in arrays))
    z = normal_(Array.empty(dev, shape, dt), 0.0, 1.0, generator)
    return ew.map_op("normal_affine", "b + c * a", [z, mean, std], dt, dt)


def randint(device: Device, low: int, high: int, shape: Any, dtype: Any = None,
            generator: Generator | None = None) -> Array:
    """Integers uniform on ``[low, high)`` (int64 unless ``dtype`` says otherwise)."""
    dt = D.int64 if dtype is None else D.as_dtype(dtype)
    D.check_device_dtype(dt, device)
    low, high = _int_arg(low, "randint", "low"), _int_arg(high, "randint", "high")
    if not low < high:
        raise ValueError(f"random_ expects 'from' to be less than 'to', but got "
                         f"from={low} >= to={high}")
    return random_(Array.empty(device, _shape(shape), dt), low, high, generator)


def bernoulli(p: Array, generator: Generator | None = None, out_dtype: Any = None) -> Array:
    """0/1 samples with per-element probabilities ``p`` (result has ``p``'s dtype by default)."""
    if not isinstance(p, Array):
        raise TypeError(f"bernoulli: p must be an Array, got {type(p).__name__}")
    dt = p.dtype if out_dtype is None else D.as_dtype(out_dtype)
    return bernoulli_(Array.empty(p.device, p.shape, dt), p, generator)


def dropout(x: Array, p: float = 0.5, generator: Generator | None = None
            ) -> tuple[Array, Array]:
    """Fused dropout: ``(out, mask)`` with ``mask ~ Bernoulli(1 - p)`` (bool) and
    ``out = x * mask / (1 - p)``; the backward pass is ``grad * mask / (1 - p)``.

    The mask is one word per element of the stream, so it could also be recomputed from the
    generator's state before the call (``get_state``/``set_state``) instead of being kept.
    """
    if not x.dtype.is_floating_point:
        raise DTypeError(f"dropout expects a floating point tensor, got {x.dtype.name}")
    p = _number(p, "dropout", "p")
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p:g}")
    dev = x.device
    src = ew.contiguous(x)
    out = Array.empty(dev, x.shape, x.dtype)
    mask = Array.empty(dev, x.shape, D.bool_)
    prec = _prec(x.dtype)
    scale = 0.0 if p == 1.0 else _cast(1.0 / (1.0 - p), prec)
    _generate(out, "dropout", generator, [_threshold(1.0 - p), scale], prec, inp=src, mask=mask)
    return out, mask


def randperm(device: Device, n: int, dtype: Any = None,
             generator: Generator | None = None) -> Array:
    """A random permutation of ``0 .. n-1``, on the device without a host round trip.

    The sort keys are ``random_(int64, 0, 2**63)`` values (the stream's 64-bit words shifted right
    by one) and the permutation is their stable argsort, so it is identical on every device (a
    host model: ``np.argsort(words >> 1, kind="stable")``).
    """
    from clt.ops import reduce

    n = _int_arg(n, "randperm", "n")
    if n < 0:
        raise ValueError(f"randperm: n must be non-negative, got {n}")
    dt = D.int64 if dtype is None else D.as_dtype(dtype)
    D.check_device_dtype(dt, device)
    if n > 0:
        _, hi = _int_bounds(dt)
        if n - 1 > hi:
            raise ValueError(f"randperm: n={n} is too large for dtype {dt.name} "
                             f"(largest value {hi})")
    if n == 0:
        return Array.empty(device, (0,), dt)
    keys = random_(Array.empty(device, (n,), D.int64), 0, 1 << 63, generator)
    perm = reduce.argsort(keys)
    return perm if dt is D.int64 else ew.cast(perm, dt)


def multinomial(probs: Array, num_samples: int, replacement: bool = False,
                generator: Generator | None = None) -> Array:
    """Sample category indices from the rows of ``probs`` (1-D or 2-D non-negative weights).

    With replacement each sample inverts the row's cumulative weights at one 53-bit uniform;
    without, the ``num_samples`` smallest keys ``E_j / w_j`` are taken (``E_j`` exponential: the
    "exponential race", a weighted sample without replacement). The weights are validated as torch
    does on the CPU, which needs them on the host (one download); the uniforms come from the host
    Philox stream, so the result is identical on every device.
    """
    if not isinstance(probs, Array):
        raise TypeError(f"multinomial: probs must be an Array, got {type(probs).__name__}")
    if probs.ndim not in (1, 2):
        raise ValueError(f"prob_dist must be 1 or 2 dim, got shape {probs.shape}")
    if not probs.dtype.is_floating_point:
        raise DTypeError(f"multinomial only supports floating-point dtypes for input, got: "
                         f"{probs.dtype.name}")
    num_samples = _int_arg(num_samples, "multinomial", "num_samples")
    if num_samples <= 0:
        raise ValueError("cannot sample n_sample <= 0 samples")
    k = probs.shape[-1]
    if k == 0:
        raise ValueError("multinomial: the number of categories must be positive")
    if not replacement and num_samples > k:
        raise ValueError("cannot sample n_sample > prob_dist.size(-1) samples without "
                         "replacement")
    rows = 1 if probs.ndim == 1 else probs.shape[0]
    w = transfer.to_numpy(probs).astype(np.float64).reshape(rows, k)
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise ValueError("multinomial: probability tensor contains either `inf`, `nan` or "
                         "element < 0")
    if rows and np.any(w.sum(axis=1) <= 0):
        raise ValueError("multinomial: invalid multinomial distribution (sum of probabilities "
                         "<= 0)")
    gen = _gen(generator)
    if replacement:
        u = _host_uniform53(gen, rows * num_samples).reshape(rows, num_samples)
        cdf = np.cumsum(w, axis=1)
        idx = np.empty((rows, num_samples), np.int64)
        for r in range(rows):   # zero-weight categories have no width in the cdf: never hit
            idx[r] = np.minimum(np.searchsorted(cdf[r], u[r] * cdf[r, -1], side="right"), k - 1)
    else:
        e = -np.log1p(-_host_uniform53(gen, rows * k)).reshape(rows, k)
        with np.errstate(divide="ignore"):
            keys = e / w                # weight 0 -> +inf: taken only after every positive one
        idx = np.argsort(keys, axis=1, kind="stable")[:, :num_samples]
    if probs.ndim == 1:
        idx = idx[0]
    return transfer.from_numpy(probs.device, idx.astype(np.int64), D.int64, blocking=False)


__all__ = ["Generator", "default_generator", "manual_seed", "seed", "initial_seed",
           "get_rng_state", "set_rng_state", "philox4x32_10", "host_uint64", "rand", "randn", "randint",
           "uniform", "normal", "normal_tensor", "bernoulli", "dropout", "randperm",
           "multinomial", "uniform_", "normal_", "log_normal_", "exponential_", "cauchy_",
           "geometric_", "random_", "bernoulli_"]
