"""Standard dataset formats read from local files, with a verified download path.

Formats: MNIST / Fashion-MNIST IDX files (optionally gzipped), CIFAR-10 python batches, image
folders (``root/class/*.png|*.npy``), CSV and NPZ arrays, and scikit-learn's bundled 8x8 digits
(offline). Samples are numpy arrays; the DataLoader moves batches to the device.
"""
from __future__ import annotations

import gzip
import hashlib
import os
import pickle
import shutil
import struct
import tempfile
import urllib.request
from pathlib import Path
from typing import Any, Callable

import numpy as np

from clt.data.dataset import Dataset

_IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: np.dtype(">i2"), 0x0C: np.dtype(">i4"),
              0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (MNIST's format), gzipped or not.

    Args:
        path: The file; a ``.gz`` suffix means gzip.

    Returns:
        The array, with the file's shape and dtype.

    Raises:
        ValueError: If the magic number or element type is wrong, or the file is truncated.
    """
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as fh:
        data = fh.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise ValueError(f"{path}: not an IDX file (bad magic number)")
    dtype, ndim = data[2], data[3]
    if dtype not in _IDX_TYPES:
        raise ValueError(f"{path}: unknown IDX element type 0x{dtype:02x}")
    dims = struct.unpack(f">{ndim}I", data[4:4 + 4 * ndim])
    dt = np.dtype(_IDX_TYPES[dtype])
    body = data[4 + 4 * ndim:]
    expected = int(np.prod(dims)) * dt.itemsize
    if len(body) != expected:
        raise ValueError(f"{path}: truncated or corrupt IDX file: expected {expected} data "
                         f"bytes for shape {dims}, found {len(body)}")
    return np.frombuffer(body, dtype=dt).reshape(dims).astype(dt.newbyteorder("="))


def write_idx(path: str | os.PathLike, array: np.ndarray) -> None:
    """Write an array as an IDX file (used by tests to make small MNIST-format files).

    Args:
        path: The file to write; a ``.gz`` suffix means gzip.
        array: A uint8 or int8 array.

    Raises:
        KeyError: If the dtype is not uint8 or int8.
    """
    codes = {np.dtype(np.uint8): 0x08, np.dtype(np.int8): 0x09}
    a = np.ascontiguousarray(array)
    header = bytes([0, 0, codes[a.dtype], a.ndim]) + struct.pack(f">{a.ndim}I", *a.shape)
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "wb") as fh:
        fh.write(header + a.tobytes())


def sha256_file(path: str | os.PathLike) -> str:
    """The SHA-256 digest of a file, read in 1 MiB chunks.

    Args:
        path: The file.

    Returns:
        The hex digest.
    """
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def download_and_verify(url: str, dest: str | os.PathLike, sha256: str | None,
                        timeout: float = 60.0) -> Path:
    """Download ``url`` to ``dest`` atomically and check its SHA-256 (if given).

    An existing file with the right checksum is reused. A mismatch deletes the download and
    raises ``RuntimeError`` naming both checksums.

    Args:
        url: Where to download from.
        dest: The destination file.
        sha256: The expected hex digest, or None to skip the check.
        timeout: Socket timeout in seconds.

    Returns:
        ``dest`` as a Path.

    Raises:
        RuntimeError: If the checksum does not match.
    """
    dest = Path(dest)
    if dest.exists() and (sha256 is None or sha256_file(dest) == sha256):
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=dest.name + ".")
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as resp:
            shutil.copyfileobj(resp, out)
        if sha256 is not None:
            got = sha256_file(tmp)
            if got != sha256:
                raise RuntimeError(f"checksum mismatch for {url}: expected sha256 {sha256}, "
                                   f"got {got}")
        os.replace(tmp, dest)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return dest


class ArrayDataset(Dataset):
    """(input, target) samples from two arrays, with optional transforms."""

    def __init__(self, data: np.ndarray, targets: np.ndarray | None,
                 transform: Callable | None = None, target_transform: Callable | None = None
                 ) -> None:
        if targets is not None and len(data) != len(targets):
            raise ValueError(f"data has {len(data)} samples but targets has {len(targets)}")
        self.data, self.targets = data, targets
        self.transform, self.target_transform = transform, target_transform

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, i: int) -> Any:
        x = self.data[i]
        if self.transform is not None:
            x = self.transform(x)
        if self.targets is None:
            return x
        y = self.targets[i]
        if self.target_transform is not None:
            y = self.target_transform(y)
        return x, y

    def __getitems__(self, indices: list[int]) -> Any:
        if self.transform is not None or self.target_transform is not None:
            from clt.data.dataloader import default_collate

            return default_collate([self[i] for i in indices])
        idx = np.asarray(indices)
        return self.data[idx] if self.targets is None else (self.data[idx], self.targets[idx])


class MNIST(ArrayDataset):
    """MNIST from ``root`` (IDX files as distributed, gzipped or not).

    ``download=True`` fetches the files from ``mirror`` and verifies their checksums first.
    Images are ``uint8`` (28, 28) unless a transform converts them.
    """

    files = {True: ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
             False: ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}
    mirror = "https://ossci-datasets.s3.amazonaws.com/mnist/"
    checksums: dict[str, str | None] = {}

    def __init__(self, root: str | os.PathLike, train: bool = True,
                 transform: Callable | None = None, target_transform: Callable | None = None,
                 download: bool = False) -> None:
        root = Path(root)
        images, labels = (self._find(root, name, download) for name in self.files[train])
        x, y = read_idx(images), read_idx(labels)
        if len(x) != len(y):
            raise ValueError(f"{images} has {len(x)} images but {labels} has {len(y)} labels")
        super().__init__(x, y.astype(np.int64), transform, target_transform)

    def _find(self, root: Path, name: str, download: bool) -> Path:
        for candidate in (root / name, root / (name + ".gz"), root / type(self).__name__ / "raw"
                          / name, root / type(self).__name__ / "raw" / (name + ".gz")):
            if candidate.exists():
                return candidate
        if download:
            return download_and_verify(self.mirror + name + ".gz", root / (name + ".gz"),
                                       self.checksums.get(name))
        raise FileNotFoundError(f"{type(self).__name__}: {name}[.gz] not found under {root}; "
                                "pass download=True to fetch it")


class FashionMNIST(MNIST):
    """Fashion-MNIST (same IDX format as MNIST)."""

    mirror = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"


class CIFAR10(ArrayDataset):
    """CIFAR-10 from its python batches (``data_batch_1..5``, ``test_batch``) under ``root``.

    Images are ``uint8`` (32, 32, 3) HWC, as torchvision.
    """

    url = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
    sha256 = "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce"

    def __init__(self, root: str | os.PathLike, train: bool = True,
                 transform: Callable | None = None, target_transform: Callable | None = None,
                 download: bool = False) -> None:
        root = Path(root)
        folder = root / "cifar-10-batches-py" if (root / "cifar-10-batches-py").exists() else root
        names = [f"data_batch_{i}" for i in range(1, 6)] if train else ["test_batch"]
        if not (folder / names[0]).exists():
            if not download:
                raise FileNotFoundError(f"CIFAR10: {names[0]} not found under {root}; pass "
                                        "download=True to fetch it")
            import tarfile

            archive = download_and_verify(self.url, root / "cifar-10-python.tar.gz", self.sha256)
            with tarfile.open(archive) as tar:
                tar.extractall(root, filter="data")
            folder = root / "cifar-10-batches-py"
        xs, ys = [], []
        for name in names:
            path = folder / name
            if not path.exists():
                raise FileNotFoundError(f"CIFAR10: missing {path}")
            try:
                with open(path, "rb") as fh:
                    batch = pickle.load(fh, encoding="bytes")
            except (pickle.UnpicklingError, EOFError) as exc:
                raise ValueError(f"CIFAR10: {path} is corrupt: {exc}") from exc
            data = batch.get(b"data", batch.get("data"))
            labels = batch.get(b"labels", batch.get("labels"))
            xs.append(np.asarray(data, np.uint8).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
            ys.append(np.asarray(labels, np.int64))
        super().__init__(np.concatenate(xs), np.concatenate(ys), transform, target_transform)


class ImageFolder(ArrayDataset):
    """``root/<class>/<file>`` images; classes sorted by name. Reads ``.npy`` arrays always,
    and common image formats when Pillow is installed."""

    def __init__(self, root: str | os.PathLike, transform: Callable | None = None,
                 target_transform: Callable | None = None) -> None:
        root = Path(root)
        if not root.is_dir():
            raise FileNotFoundError(f"ImageFolder: {root} is not a folder")
        self.classes = sorted(p.name for p in root.iterdir() if p.is_dir())
        if not self.classes:
            raise FileNotFoundError(f"ImageFolder: no class folders in {root}")
        self.class_to_idx = {c: i for i, c in enumerate(self.classes)}
        self.samples = [(p, self.class_to_idx[c]) for c in self.classes
                        for p in sorted((root / c).iterdir()) if p.is_file()]
        super().__init__(np.arange(len(self.samples)), np.array([s[1] for s in self.samples]),
                         transform, target_transform)

    def __getitem__(self, i: int) -> Any:
        path, target = self.samples[i]
        img = self.load(path)
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target

    def __getitems__(self, indices: list[int]) -> Any:
        from clt.data.dataloader import default_collate

        return default_collate([self[i] for i in indices])

    @staticmethod
    def load(path: Path) -> np.ndarray:
        """Read one image file as an array.

        Args:
            path: A ``.npy`` file, or any image Pillow opens (converted to RGB).

        Returns:
            The image array (H, W, 3 for Pillow images).

        Raises:
            RuntimeError: If the file is not ``.npy`` and Pillow is not installed.
        """
        if path.suffix == ".npy":
            return np.load(path)
        try:
            from PIL import Image
        except ImportError as exc:
            raise RuntimeError(f"reading {path.suffix} images needs Pillow "
                               "(pip install pillow); .npy files work without it") from exc
        with Image.open(path) as im:
            return np.asarray(im.convert("RGB"))


class CSVDataset(ArrayDataset):
    """Rows of a numeric CSV file; ``target_column`` (name or index) becomes the target."""

    def __init__(self, path: str | os.PathLike, target_column: str | int | None = -1,
                 delimiter: str = ",", header: bool = True, dtype: Any = np.float32,
                 transform: Callable | None = None) -> None:
        with open(path) as fh:
            names = fh.readline().strip().split(delimiter) if header else None
        table = np.loadtxt(path, delimiter=delimiter, skiprows=1 if header else 0, ndmin=2)
        if target_column is None:
            super().__init__(table.astype(dtype), None, transform)
            return
        col = names.index(target_column) if isinstance(target_column, str) else target_column
        y = table[:, col]
        x = np.delete(table, col, axis=1)
        y = y.astype(np.int64) if np.all(y == np.round(y)) else y.astype(dtype)
        super().__init__(x.astype(dtype), y, transform)
        self.columns = names


class NPZDataset(ArrayDataset):
    """Arrays ``x_key`` and ``y_key`` of a ``.npz`` file."""

    def __init__(self, path: str | os.PathLike, x_key: str = "x", y_key: str | None = "y",
                 transform: Callable | None = None) -> None:
        with np.load(path) as f:
            missing = [k for k in (x_key, y_key) if k is not None and k not in f.files]
            if missing:
                raise KeyError(f"{path} has no array(s) {missing}; it has {f.files}")
            super().__init__(f[x_key], None if y_key is None else f[y_key], transform)


class Digits(ArrayDataset):
    """scikit-learn's bundled 8x8 handwritten digits (1797 samples, offline).

    Images are float32 (1, 8, 8) scaled to [0, 1]; a seeded split gives train/test
    (``train=None``: every sample).
    """

    def __init__(self, train: bool | None = True, test_fraction: float = 0.2, seed: int = 0,
                 flat: bool = False, transform: Callable | None = None) -> None:
        try:
            from sklearn.datasets import load_digits
        except ImportError as exc:
            raise RuntimeError("Digits needs scikit-learn: pip install scikit-learn "
                               "(or clt's [test] extra)") from exc
        d = load_digits()
        x = (d.images / 16.0).astype(np.float32)
        x = x.reshape(len(x), 64) if flat else x[:, None]
        y = d.target.astype(np.int64)
        perm = np.random.default_rng(seed).permutation(len(x))
        n_test = int(round(len(x) * test_fraction))
        idx = perm if train is None else (perm[n_test:] if train else perm[:n_test])
        super().__init__(x[idx], y[idx], transform)
