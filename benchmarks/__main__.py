"""Run clt's benchmark suite: ``python -m benchmarks [--quick] [--json PATH] [--only NAME]``."""
from __future__ import annotations

import argparse
import importlib
import sys

from benchmarks import harness

MODULES = ["elementwise", "reduce", "gemm", "optim", "conv", "train"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes, about a minute")
    parser.add_argument("--json", metavar="PATH", help="write JSON lines here ('-' = stdout)")
    parser.add_argument("--only", action="append", help="run only these modules")
    parser.add_argument("--device", default=None, help="clt device selector")
    args = parser.parse_args(argv)

    import clt

    device = clt.device(args.device)
    env = harness.env_info(device)
    print(f"device: {env['device']} ({env['platform']}, driver {env['driver']})", file=sys.stderr)
    for name in args.only or MODULES:
        try:
            mod = importlib.import_module(f"benchmarks.bench_{name}")
        except ModuleNotFoundError as exc:
            print(f"[skip] {name}: {exc}", file=sys.stderr)
            continue
        if not hasattr(mod, "run"):
            print(f"[skip] {name}: no run()", file=sys.stderr)
            continue
        mod.run(device, quick=args.quick, env=env)
    harness.print_table(harness.RESULTS, file=sys.stderr if args.json == "-" else sys.stdout)
    if args.json:
        harness.dump_json(harness.RESULTS, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
