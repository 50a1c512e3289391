"""Run clt's benchmark suite: ``python -m benchmarks [--quick|--smoke] [--json PATH] ...``.

See :mod:`benchmarks.suite` (``--help``); the modules ``benchmarks.bench_*`` also run alone for
deeper looks at one family (``python -m benchmarks.bench_gemm``).
"""
from __future__ import annotations

import sys

from benchmarks.suite import main

if __name__ == "__main__":
    sys.exit(main())
