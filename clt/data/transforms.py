"""Transforms for images and arrays. Each works on a numpy sample on the host (in workers), and
the batched ones also on a device tensor batch ``(N, C, H, W)``."""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from clt.data.dataset import as_rng


class Compose:
    """Apply transforms in order."""

    def __init__(self, transforms: Sequence[Callable]) -> None:
        self.transforms = list(transforms)

    def __call__(self, x: Any) -> Any:
        for t in self.transforms:
            x = t(x)
        return x

    def __repr__(self) -> str:
        inner = "".join(f"\n    {t!r}" for t in self.transforms)
        return f"Compose({inner}\n)"


class ToTensor:
    """HWC uint8 image (or HW) -> CHW float32 array in [0, 1], as torchvision's ToTensor.

    Returns a numpy array: the DataLoader moves batches to the device.
    """

    def __call__(self, img: Any) -> np.ndarray:
        a = np.asarray(img)
        if a.ndim == 2:
            a = a[:, :, None]
        if a.ndim != 3:
            raise ValueError(f"ToTensor expects an HxW or HxWxC image, got shape {a.shape}")
        a = a.transpose(2, 0, 1)
        if a.dtype == np.uint8:
            return a.astype(np.float32) / 255.0
        return a.astype(np.float32)

    def __repr__(self) -> str:
        return "ToTensor()"


class Normalize:
    """``(x - mean) / std`` per channel (channel dim -3: CHW samples or NCHW batches)."""

    def __init__(self, mean: Sequence[float], std: Sequence[float]) -> None:
        self.mean = np.asarray(mean, np.float32)
        self.std = np.asarray(std, np.float32)
        if (self.std == 0).any():
            raise ValueError(f"std evaluated to zero after conversion to float32, leading to "
                             f"division by zero: std={list(std)}")

    def __call__(self, x: Any) -> Any:
        if x.ndim < 3:
            raise ValueError(f"Normalize expects (C, H, W) or (N, C, H, W), got {tuple(x.shape)}")
        shape = (-1, 1, 1)
        if isinstance(x, np.ndarray):
            return (x - self.mean.reshape(shape)) / self.std.reshape(shape)
        from clt.functions.creation import tensor as make

        mean = make(self.mean.reshape(shape), dtype=x.dtype, device=x.device)
        std = make(self.std.reshape(shape), dtype=x.dtype, device=x.device)
        return (x - mean) / std

    def __repr__(self) -> str:
        return f"Normalize(mean={self.mean.tolist()}, std={self.std.tolist()})"


class RandomHorizontalFlip:
    """Flip the last dim with probability ``p`` (per sample, or per sample of a batch)."""

    def __init__(self, p: float = 0.5, generator: Any = None) -> None:
        if not 0 <= p <= 1:
            raise ValueError(f"p should be in [0, 1], got {p}")
        self.p, self._rng = p, as_rng(generator)

    def __call__(self, x: Any) -> Any:
        if isinstance(x, np.ndarray):
            return x[..., ::-1].copy() if self._rng.random() < self.p else x
        if x.ndim < 4:
            return x.flip(-1) if self._rng.random() < self.p else x
        flip = self._rng.random(x.shape[0]) < self.p
        from clt.functions.creation import tensor as make

        mask = make(flip.reshape(-1, *([1] * (x.ndim - 1))), device=x.device)
        import clt

        return clt.where(mask, x.flip(-1), x)

    def __repr__(self) -> str:
        return f"RandomHorizontalFlip(p={self.p})"


class RandomCrop:
    """Random ``size`` crop of a CHW sample after optional zero ``padding``."""

    def __init__(self, size: int | tuple[int, int], padding: int = 0,
                 generator: Any = None) -> None:
        self.size = (size, size) if isinstance(size, int) else tuple(size)
        self.padding = padding
        self._rng = as_rng(generator)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x)
        if self.padding:
            pad = [(0, 0)] * (x.ndim - 2) + [(self.padding, self.padding)] * 2
            x = np.pad(x, pad)
        h, w = x.shape[-2:]
        th, tw = self.size
        if th > h or tw > w:
            raise ValueError(f"Required crop size {self.size} is larger than input image size "
                             f"{(h, w)}")
        i = int(self._rng.integers(0, h - th + 1))
        j = int(self._rng.integers(0, w - tw + 1))
        return x[..., i:i + th, j:j + tw]

    def __repr__(self) -> str:
        return f"RandomCrop(size={self.size}, padding={self.padding})"


class Lambda:
    """A transform that calls ``fn`` on its input.

    Args:
        fn: The function to apply.
    """
    def __init__(self, fn: Callable) -> None:
        self.fn = fn

    def __call__(self, x: Any) -> Any:
        return self.fn(x)


class TransformDataset:
    """Wrap a dataset so that ``transform`` applies to inputs and ``target_transform`` to
    targets of each ``(input, target)`` sample."""

    def __init__(self, dataset: Any, transform: Callable | None = None,
                 target_transform: Callable | None = None) -> None:
        self.dataset, self.transform, self.target_transform = dataset, transform, \
            target_transform

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, i: int) -> Any:
        x, y = self.dataset[i]
        if self.transform is not None:
            x = self.transform(x)
        if self.target_transform is not None:
            y = self.target_transform(y)
        return x, y
