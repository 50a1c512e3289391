"""clt.data: samplers, DataLoader (workers, prefetch, errors), transforms, dataset formats."""
from __future__ import annotations

import pickle
import time

import numpy as np
import pytest

import clt
import clt.data as D
from clt.data import transforms as T


def test_tensor_dataset_and_loader_batches(device):
    x = np.arange(20, dtype=np.float32).reshape(10, 2)
    y = np.arange(10)
    loader = D.DataLoader(D.TensorDataset(x, y), batch_size=4, device=device)
    assert len(loader) == 3
    batches = list(loader)
    assert [b[0].shape for b in batches] == [(4, 2), (4, 2), (2, 2)]
    assert batches[0][0].device is device and batches[0][1].dtype == clt.int64
    np.testing.assert_array_equal(np.concatenate([b[0].numpy() for b in batches]), x)
    assert len(D.DataLoader(D.TensorDataset(x, y), batch_size=4, drop_last=True)) == 2


def test_shuffle_is_reproducible_and_covers_everything():
    ds = D.TensorDataset(np.arange(50))
    a = [b[0].tolist() for b in D.DataLoader(ds, batch_size=7, shuffle=True, generator=3,
                                             to_device=False)]
    b = [b[0].tolist() for b in D.DataLoader(ds, batch_size=7, shuffle=True, generator=3,
                                             to_device=False)]
    assert a == b
    flat = sorted(sum(a, []))
    assert flat == list(range(50)) and sum(a, []) != list(range(50))


@pytest.mark.parametrize("mode", ["thread", "process"])
def test_workers_keep_order(mode):
    ds = D.ArrayDataset(np.arange(30, dtype=np.float32), np.arange(30))
    loader = D.DataLoader(ds, batch_size=4, num_workers=2, worker_mode=mode, to_device=False)
    got = [b[1].tolist() for b in loader]
    assert sum(got, []) == list(range(30))


def test_collate_structures():
    batch = [{"x": np.ones(2), "y": 1, "name": "a"}, {"x": np.zeros(2), "y": 2, "name": "b"}]
    out = D.default_collate(batch)
    assert out["x"].shape == (2, 2) and out["y"].tolist() == [1, 2] and out["name"] == ["a", "b"]
    out = D.default_collate([(1.5, True), (2.5, False)])
    assert out[0].dtype == np.float64 and out[1].dtype == np.bool_
    with pytest.raises(TypeError, match="default_collate"):
        D.default_collate([object()])


def test_prefetch_overlaps_fetching_with_compute():
    class Slow(D.Dataset):
        def __len__(self):
            return 8

        def __getitem__(self, i):
            time.sleep(0.03)
            return np.float32(i)

    def run(workers):
        start = time.perf_counter()
        for _ in D.DataLoader(Slow(), batch_size=1, num_workers=workers, to_device=False,
                              prefetch_factor=2 if workers else None):
            time.sleep(0.03)      # the "training step"
        return time.perf_counter() - start

    serial, overlapped = run(0), run(2)
    # serial: 8 x (fetch + step); overlapped: fetches run while steps run
    assert overlapped < 0.8 * serial, (serial, overlapped)


def test_device_upload_is_ordered_before_compute(device):
    x = np.random.default_rng(0).random((64, 128)).astype(np.float32)
    loader = D.DataLoader(D.TensorDataset(x), batch_size=16, device=device)
    total = sum(float((b[0] * 2).numpy().sum()) for b in loader)
    assert total == pytest.approx(2 * x.sum(), rel=1e-5)


def test_loader_errors():
    ds = D.TensorDataset(np.arange(4))
    with pytest.raises(ValueError, match="batch_size should be a positive integer"):
        D.DataLoader(ds, batch_size=0)
    with pytest.raises(ValueError, match="mutually exclusive with shuffle"):
        D.DataLoader(ds, sampler=D.SequentialSampler(ds), shuffle=True)
    with pytest.raises(ValueError, match="num_workers"):
        D.DataLoader(ds, num_workers=-1)
    with pytest.raises(ValueError, match="Size mismatch"):
        D.TensorDataset(np.arange(3), np.arange(4))
    with pytest.raises(ValueError, match="batch_sampler option is mutually exclusive"):
        D.DataLoader(ds, batch_size=2, batch_sampler=[[0, 1]])


def test_samplers():
    ds = list(range(10))
    assert list(D.SequentialSampler(ds)) == ds
    r = list(D.RandomSampler(ds, generator=1))
    assert sorted(r) == ds
    assert len(list(D.RandomSampler(ds, replacement=True, num_samples=25, generator=1))) == 25
    assert list(D.BatchSampler(range(5), 2, drop_last=False)) == [[0, 1], [2, 3], [4]]
    assert list(D.BatchSampler(range(5), 2, drop_last=True)) == [[0, 1], [2, 3]]
    w = list(D.WeightedRandomSampler([0, 0, 1], 5, generator=0))
    assert w == [2] * 5
    with pytest.raises(ValueError, match="non-negative"):
        D.WeightedRandomSampler([-1, 1], 2)
    parts = [list(D.DistributedSampler(ds, num_replicas=3, rank=r, seed=4)) for r in range(3)]
    assert all(len(p) == 4 for p in parts)
    assert set(sum(parts, [])) == set(ds)
    s = D.DistributedSampler(ds, num_replicas=2, rank=0)
    first = list(s)
    s.set_epoch(1)
    assert list(s) != first
    with pytest.raises(ValueError, match="Invalid rank"):
        D.DistributedSampler(ds, num_replicas=2, rank=2)


def test_random_split_subset_concat():
    ds = D.TensorDataset(np.arange(10))
    a, b = D.random_split(ds, [7, 3], generator=0)
    a2, _ = D.random_split(ds, [7, 3], generator=0)
    assert a.indices == a2.indices and len(b) == 3
    assert sorted(a.indices + b.indices) == list(range(10))
    f = D.random_split(ds, [0.5, 0.5], generator=0)
    assert [len(x) for x in f] == [5, 5]
    with pytest.raises(ValueError, match="Sum of input lengths"):
        D.random_split(ds, [3, 3])
    c = D.ConcatDataset([ds, ds])
    assert len(c) == 20 and c[12][0] == 2 and c[-1][0] == 9


def test_iterable_dataset():
    class Stream(D.IterableDataset):
        def __iter__(self):
            return iter(np.arange(7, dtype=np.float32))

    batches = [b.tolist() for b in D.DataLoader(Stream(), batch_size=3, to_device=False)]
    assert batches == [[0, 1, 2], [3, 4, 5], [6]]
    with pytest.raises(ValueError, match="shuffle"):
        D.DataLoader(Stream(), shuffle=True)


def test_transforms(device):
    img = (np.arange(4 * 5 * 3) % 256).astype(np.uint8).reshape(4, 5, 3)
    chw = T.ToTensor()(img)
    assert chw.shape == (3, 4, 5) and chw.dtype == np.float32 and chw.max() <= 1
    norm = T.Normalize([0.5, 0.5, 0.5], [0.25, 0.25, 0.25])
    np.testing.assert_allclose(norm(chw), (chw - 0.5) / 0.25, rtol=1e-6)
    batch = clt.tensor(np.stack([chw, chw]), device=device)
    np.testing.assert_allclose(norm(batch).numpy(), np.stack([(chw - 0.5) / 0.25] * 2),
                               rtol=1e-5)
    crop = T.RandomCrop(3, padding=1, generator=0)(chw)
    assert crop.shape == (3, 3, 3)
    flipped = T.RandomHorizontalFlip(p=1.0)(chw)
    np.testing.assert_array_equal(flipped, chw[..., ::-1])
    pipe = T.Compose([T.ToTensor(), norm])
    assert pipe(img).shape == (3, 4, 5) and "Normalize" in repr(pipe)
    with pytest.raises(ValueError, match="division by zero"):
        T.Normalize([0], [0])


def test_idx_mnist_files(tmp_path):
    images = np.random.default_rng(0).integers(0, 255, (6, 28, 28), dtype=np.uint8)
    labels = np.arange(6, dtype=np.uint8)
    D.write_idx(tmp_path / "train-images-idx3-ubyte.gz", images)
    D.write_idx(tmp_path / "train-labels-idx1-ubyte", labels)
    ds = D.MNIST(tmp_path, train=True)
    assert len(ds) == 6
    x, y = ds[3]
    np.testing.assert_array_equal(x, images[3])
    assert y == 3
    (tmp_path / "t10k-images-idx3-ubyte").write_bytes(b"\x00\x00\x08\x03" + b"\x00" * 12)
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(b"\x00\x00\x08\x01\x00\x00\x00\x05ab")
    with pytest.raises(ValueError, match="truncated or corrupt"):
        D.MNIST(tmp_path, train=False)
    with pytest.raises(FileNotFoundError, match="download=True"):
        D.FashionMNIST(tmp_path / "nothing")


def test_cifar_batches(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        with open(folder / name, "wb") as fh:
            pickle.dump({b"data": rng.integers(0, 255, (2, 3072), dtype=np.uint8),
                         b"labels": [1, 2]}, fh)
    train = D.CIFAR10(tmp_path, train=True)
    assert len(train) == 10 and train[0][0].shape == (32, 32, 3)
    (folder / "test_batch").write_bytes(b"garbage")
    with pytest.raises(ValueError, match="corrupt"):
        D.CIFAR10(tmp_path, train=False)


def test_image_folder_csv_npz(tmp_path):
    for cls in ("cat", "dog"):
        (tmp_path / "imgs" / cls).mkdir(parents=True)
        for i in range(2):
            np.save(tmp_path / "imgs" / cls / f"{i}.npy", np.full((2, 2), i, np.float32))
    folder = D.ImageFolder(tmp_path / "imgs")
    assert folder.classes == ["cat", "dog"] and len(folder) == 4 and folder[3][1] == 1
    csv = tmp_path / "t.csv"
    csv.write_text("a,b,label\n1,2,0\n3,4,1\n")
    c = D.CSVDataset(csv, target_column="label")
    np.testing.assert_array_equal(c[1][0], [3, 4])
    assert c[1][1] == 1
    np.savez(tmp_path / "d.npz", x=np.ones((3, 2)), y=np.arange(3))
    assert len(D.NPZDataset(tmp_path / "d.npz")) == 3
    with pytest.raises(KeyError, match="no array"):
        D.NPZDataset(tmp_path / "d.npz", x_key="nope")


def test_download_and_verify(tmp_path):
    src = tmp_path / "src.bin"
    src.write_bytes(b"hello clt")
    good = D.datasets.sha256_file(src)
    out = D.download_and_verify(src.as_uri(), tmp_path / "dl" / "f.bin", good)
    assert out.read_bytes() == b"hello clt"
    with pytest.raises(RuntimeError, match="checksum mismatch"):
        D.download_and_verify(src.as_uri(), tmp_path / "dl" / "g.bin", "0" * 64)
    assert not (tmp_path / "dl" / "g.bin").exists()


def test_digits_dataset():
    pytest.importorskip("sklearn")
    train, test = D.Digits(train=True), D.Digits(train=False)
    assert len(train) + len(test) == 1797
    x, y = train[0]
    assert x.shape == (1, 8, 8) and x.dtype == np.float32 and 0 <= y < 10
