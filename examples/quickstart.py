"""clt quickstart: tensors on an OpenCL device, checked against numpy.

Run it with ``python examples/quickstart.py``. It uses the default device: ``CLT_DEVICE`` if
set (``CLT_DEVICE=cl:1``, ``gpu``, ``nvidia``...), else the first GPU, else the first device.
``clt-devices`` lists what exists.
"""
from __future__ import annotations

import time

import numpy as np

import clt


def main() -> None:
    dev = clt.get_default_device()            # or clt.device("cl:1"), clt.device("gpu")
    info = dev.info
    print(f"device: {dev} [{info.type}, {info.compute_units} compute units, "
          f"{info.global_mem_bytes / 2**30:.1f} GiB, driver {info.driver_version}]")

    # creation: from Python data, from numpy, and on-device factories
    x = clt.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], device=dev)
    w = clt.from_numpy(np.linspace(-1.0, 1.0, 12, dtype=np.float32).reshape(3, 4)).to(dev)
    b = clt.ones(4, device=dev) * 0.5
    print("x:", x.shape, x.dtype, x.device)

    # math: a small dense layer, broadcasting, elementwise functions; nothing waits yet
    start = time.perf_counter()
    h = (x @ w + b).tanh()
    y = h * h.sigmoid() + clt.where(h > 0, h, clt.zeros_like(h))
    probs = y.softmax(dim=1)
    # reductions on the device; .item() / .tolist() / .numpy() move results to the host (and wait)
    total, peak = y.sum().item(), y.max().item()
    row_means = y.mean(dim=1).tolist()
    best = probs.argmax(dim=1).tolist()
    first = time.perf_counter() - start

    start = time.perf_counter()
    (x @ w + b).tanh().sum().item()
    again = time.perf_counter() - start

    # the same math in numpy
    xn, wn = x.numpy(), w.numpy()
    hn = np.tanh(xn @ wn + 0.5)
    yn = hn * (1 / (1 + np.exp(-hn))) + np.where(hn > 0, hn, 0)
    np.testing.assert_allclose(y.numpy(), yn, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose([total, peak], [yn.sum(), yn.max()], rtol=1e-5)
    np.testing.assert_allclose(row_means, yn.mean(axis=1), rtol=1e-5)
    assert best == yn.argmax(axis=1).tolist()

    print("y =", y)
    print(f"sum {total:.4f}, max {peak:.4f}, row means {[round(m, 4) for m in row_means]}, "
          f"argmax of softmax per row {best}")
    print("matches numpy: yes")
    print(f"first run {first * 1e3:.0f} ms (compiling kernels, or loading them from the disk "
          f"cache), repeat {again * 1e3:.1f} ms")
    print(f"device memory in use: {clt.memory_allocated(dev)} bytes")


if __name__ == "__main__":
    main()
