"""``clt-devices``: list the OpenCL devices clt can use, check, measure and warm them up.

The plain listing reads driver info only (no context, no kernel build), so it is instant.
``--check`` builds and runs a kernel on each device before calling it working, ``--probe``
measures bandwidth, FMA throughput and real fp16/fp64 behaviour (cached per device and driver),
``--warmup`` compiles the standard kernel set ahead of time, ``--tune`` searches the GEMM tile
sizes and stores the best for the device and driver (``clt.backend.tuning``).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict
from typing import Any, Sequence

from clt.backend import device as select_device
from clt.backend import device_infos
from clt.backend.capabilities import capabilities_for, load_probe
from clt.backend.device import INSTALL_HINT, default_device_index
from clt.backend.info import DeviceInfo
from clt.errors import CLTError

SELECT_HINT = ('select another with CLT_DEVICE=cl:N (or P:D, gpu, cpu, or part of a name, e.g. '
               'CLT_DEVICE=nvidia), or clt.device("cl:N") in Python')


def _gib(nbytes: int) -> str:
    if nbytes >= 1 << 30:
        return f"{nbytes / (1 << 30):.1f} GiB"
    return f"{nbytes / (1 << 20):.0f} MiB"


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def _probe_text(probe: dict[str, Any] | None) -> str:
    if not probe:
        return "-"
    return f"{probe['copy_gbps']:.0f} GB/s, {probe['fma_gflops']:.0f} GFLOP/s"


def _record(info: DeviceInfo, default_index: int | None) -> dict[str, Any]:
    probe = load_probe(info)
    caps = capabilities_for(info, probe)
    rec = asdict(info)
    rec["global_mem_mib"] = info.global_mem_mib
    rec.update(default=info.index == default_index, caps=caps.as_dict(), probe=probe,
               check=None)
    return rec


def _table(rows: list[dict[str, Any]]) -> str:
    headers = ["", "id", "type", "device", "platform", "vendor", "driver", "CUs", "memory",
               "max alloc", "fp16", "fp64", "probe", "check"]
    show_check = any(r["check"] is not None for r in rows)
    if not show_check:
        headers.pop()
    lines = []
    for r in rows:
        caps = r["caps"]
        cells = ["*" if r["default"] else "", r["id"], r["type"], r["name"], r["platform"],
                 r["vendor"], r["driver_version"], str(r["compute_units"]),
                 _gib(r["global_mem_bytes"]), _gib(r["max_alloc_bytes"]),
                 _yes(caps["fp16_compute"] or r["fp16"]), _yes(caps["fp64"]),
                 _probe_text(r["probe"])]
        if show_check:
            cells.append("-" if r["check"] is None else
                         "PASS" if r["check"] == "ok" else "FAIL")
        lines.append(cells)
    widths = [max(len(h), *(len(c[i]) for c in lines)) for i, h in enumerate(headers)]
    out = ["  ".join(h.ljust(w) for h, w in zip(headers, widths)).rstrip()]
    out += ["  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip() for cells in lines]
    for r in rows:
        if r["check"] not in (None, "ok"):
            out.append(f"{r['id']} FAILED: {r['check']}")
    return "\n".join(out)


def _verbose(rows: list[dict[str, Any]]) -> str:
    out = []
    for r in rows:
        out.append(f"\n{r['id']} {r['name']} ({r['platform']}, {r['platform_version']})")
        out.append(f"  OpenCL {r['version']!r}, C {r['opencl_c_version']!r}, "
                   f"{r['clock_mhz']} MHz, local memory {r['local_mem_bytes'] // 1024} KiB, "
                   f"max work-group {r['max_work_group_size']}")
        out.append("  capability table:")
        for key, value in r["caps"].items():
            if key != "quirks":
                out.append(f"    {key:18} {value}")
        for quirk in r["caps"]["quirks"]:
            out.append(f"    quirk              {quirk}")
        if r["probe"]:
            p = r["probe"]
            out.append(f"  probe: copy {p['copy_gbps']:.1f} GB/s, "
                       f"FMA {p['fma_gflops']:.1f} GFLOP/s "
                       f"(float{p.get('fma_vector_width', '?')}), fp16 "
                       f"{_yes(p['fp16_ok'])} ({p.get('fp16_note', '')}), fp64 "
                       f"{_yes(p['fp64_ok'])} ({p.get('fp64_note', '')})")
        else:
            out.append("  probe: not run (clt-devices --probe)")
        out.append("  extensions: " + " ".join(r["extensions"]))
    return "\n".join(out)


def _run_check(index: int) -> str:
    from clt.backend.probe import check_device
    try:
        check_device(select_device(index))
        return "ok"
    except Exception as exc:   # report any failure and keep listing the other devices
        return f"{type(exc).__name__}: {exc}"


def _run_probe(index: int) -> dict[str, Any]:
    from clt.backend.probe import probe_device
    return probe_device(select_device(index))


def _run_warmup(index: int) -> list[dict[str, Any]]:
    import clt   # noqa: F401  (kernel families register their warm-ups on import)
    from clt.backend import warmup
    from clt.cli.warmups import register_standard

    register_standard()
    return warmup(select_device(index))


def _run_tune(index: int, budget_s: float, verbose: bool) -> dict[str, Any]:
    import clt  # noqa: F401  (clt.ops.matmul registers the GEMM tuner on import)
    from clt.backend import tuning

    say = (lambda line: print(line, flush=True)) if verbose else None
    result = tuning.tune_gemm(select_device(index), budget_s=budget_s, progress=say)
    if verbose:
        best = result["best"] or "the defaults"
        print(f"best: {best}: {result['best_score']:.1f} GFLOP/s vs "
              f"{result['default_score']:.1f} with the defaults ({result['speedup']:.2f}x) "
              f"after {result['seconds']:.0f} s; stored in {result['saved']}\n")
    return {k: v for k, v in result.items() if k != "trials"}


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``clt-devices``."""
    parser = argparse.ArgumentParser(
        prog="clt-devices",
        description="List every OpenCL platform and device clt can use.",
        epilog="The default device is CLT_DEVICE if set, else the first GPU, else the first "
               "device. " + SELECT_HINT + ".")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="also show each device's capability table, probe and extensions")
    parser.add_argument("--check", action="store_true",
                        help="build and run a kernel on each device and check its result")
    parser.add_argument("--probe", action="store_true",
                        help="measure copy bandwidth, FMA throughput, real fp16/fp64 (cached)")
    parser.add_argument("--warmup", action="store_true",
                        help="compile the standard kernel set ahead of time on the device")
    parser.add_argument("--tune", action="store_true",
                        help="search GEMM tile sizes on the device and store the best in the "
                             "user cache (about 1-2 minutes)")
    parser.add_argument("--tune-budget", type=float, default=90.0, metavar="SECONDS",
                        help="time limit of the --tune search (default 90)")
    parser.add_argument("--device", metavar="SEL",
                        help="only this device for --check/--probe/--warmup/--tune (default: "
                             "all devices for --check/--probe, the default device for "
                             "--warmup/--tune)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``clt-devices``; returns the exit status.

    Exit status: 0 when every device listed works (or nothing was checked), 1 when no OpenCL
    device exists, a selector matches nothing or a check/probe/warm-up failed.
    """
    args = build_parser().parse_args(argv)
    infos = device_infos()
    if not infos:
        msg = f"no OpenCL device found; {INSTALL_HINT}"
        if args.json:
            print(json.dumps({"devices": [], "default": None, "error": msg}, indent=2))
        print(msg, file=sys.stderr)
        return 1

    status = 0
    try:
        default_index, reason = default_device_index()
    except CLTError as exc:   # CLT_DEVICE set to something that matches nothing
        default_index, reason = None, str(exc)
        status = 1
    rows = [_record(i, default_index) for i in infos]
    doc: dict[str, Any] = {"default": None if default_index is None else infos[default_index].id,
                           "default_reason": reason, "devices": rows}

    targets = list(range(len(infos)))
    if args.device is not None:
        try:
            targets = [select_device(args.device).info.index]
        except CLTError as exc:
            print(str(exc), file=sys.stderr)
            return 1
    if args.check or args.probe:
        for i in targets:
            rows[i]["check"] = _run_check(i)
            if rows[i]["check"] != "ok":
                status = 1
            elif args.probe:
                start = time.perf_counter()
                try:
                    probe = _run_probe(i)
                except Exception as exc:
                    rows[i]["check"] = f"probe failed: {type(exc).__name__}: {exc}"
                    status = 1
                    continue
                rows[i]["probe"] = probe
                rows[i]["caps"] = capabilities_for(infos[i], probe).as_dict()
                rows[i]["probe_seconds"] = time.perf_counter() - start
    if args.warmup:
        if args.device is None:
            targets = [] if default_index is None else [default_index]
        doc["warmup"] = {}
        for i in targets:
            start = time.perf_counter()
            try:
                families = _run_warmup(i)
            except Exception as exc:
                families = [{"name": "*", "seconds": 0.0, "built": 0, "disk_hits": 0,
                             "error": f"{type(exc).__name__}: {exc}"}]
            total = time.perf_counter() - start
            doc["warmup"][infos[i].id] = {"seconds": total, "families": families}
            if any(f["error"] for f in families):
                status = 1

    if args.tune:
        if args.device is None:
            targets = [] if default_index is None else [default_index]
        doc["tune"] = {}
        for i in targets:
            try:
                doc["tune"][infos[i].id] = _run_tune(i, args.tune_budget, not args.json)
            except Exception as exc:
                doc["tune"][infos[i].id] = {"error": f"{type(exc).__name__}: {exc}"}
                status = 1

    if args.json:
        print(json.dumps(doc, indent=2, default=str))
        return status
    print(_table(rows))
    if args.verbose:
        print(_verbose(rows))
    print()
    if default_index is None:
        print(f"default: none: {reason}")
    else:
        print(f"default: {infos[default_index].id} ({reason}), marked *")
    print(SELECT_HINT)
    if not (args.check or args.probe):
        print("check that each device works with --check; measure them with --probe")
    for dev_id, w in doc.get("warmup", {}).items():
        print(f"\nwarm-up on {dev_id}: {w['seconds']:.2f} s")
        for f in w["families"]:
            line = (f"  {f['name']:14} {f['seconds']:6.2f} s  {f['built']} built, "
                    f"{f['disk_hits']} from disk cache")
            print(line if not f["error"] else f"{line}  FAILED: {f['error']}")
    return status


if __name__ == "__main__":   # python -m clt.cli.devices
    sys.exit(main())
