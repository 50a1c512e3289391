"""Presenting results: the terminal table, the Markdown summary, ``--compare`` and ``--plot``."""
from __future__ import annotations

import json
import math
import re
import sys
from pathlib import Path
from typing import Any, Iterable, TextIO

from benchmarks.core import UNITS
from benchmarks.peers import FAMILIES

PEER_FAMILIES = tuple(f for f in FAMILIES)


def fmt_value(value: float | None, unit: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    _, scale, label = UNITS.get(unit, (True, 1.0, unit))
    v = value / scale
    if unit == "samples/s":
        return f"{v / 1e3:.2f}k/s" if v >= 1e4 else f"{v:.0f}/s"
    if unit == "s":
        return f"{v:.2f} s"
    if unit == "us/op":
        return f"{v:.1f} us"
    return f"{v:.1f} {label}" if v < 1000 else f"{v:.0f} {label}"


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.0f}%" if x >= 0.1 else f"{100 * x:.1f}%"


def _ratio(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}x"


def by_workload(rows: Iterable[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        out.setdefault(r["workload"], []).append(r)
    return out


def header(doc: dict[str, Any]) -> list[str]:
    env, lim = doc.get("env", {}), doc.get("limits", {})
    lines = [f"clt benchmark suite ({doc.get('mode')}), {doc.get('started', '')}",
             f"device: {env.get('device')} ({env.get('platform')}, driver "
             f"{env.get('driver')}, {env.get('compute_units')} compute units)",
             f"host: {env.get('cpu_model')}, {env.get('cpus')} CPUs, load average "
             f"{env.get('loadavg_start')} at start, {env.get('loadavg_end')} at end"]
    if lim:
        lines.append(f"limits (measured in this run): copy {lim.get('copy_Bps', 0) / 1e9:.1f} "
                     f"GB/s, peak {lim.get('peak_flops', 0) / 1e9:.0f} GFLOP/s (float32 FMA)")
    if lim.get("note"):
        lines.append(f"note: {lim['note']}")
    try:
        busy = float(str(env.get("loadavg_start")).split()[0]) > 0.5 * (env.get("cpus") or 1)
    except ValueError:
        busy = False
    if busy:
        lines.append("WARNING: the machine was busy at the start (load average above half the "
                     "CPUs): figures, limits and ratios are unreliable")
    vers = env.get("versions", {})
    lines.append("versions: " + ", ".join(f"{k} {v}" for k, v in sorted(vers.items())))
    return lines


def print_report(doc: dict[str, Any], file: TextIO | None = None) -> None:
    """Every workload with every implementation, then the summary table."""
    file = file or sys.stdout
    for line in header(doc):
        print(line, file=file)
    print("ratios are clt's speed relative to the row's (>1: clt faster); % is the fraction of "
          "the device limit (copy bandwidth or peak FLOP/s)", file=file)
    for key, rows in by_workload(doc["results"]).items():
        first = rows[0]
        size = f" [{first.get('size')}]" if first.get("size") else ""
        print(f"\n{key}: {first['title']}{size}", file=file)
        clt = next((r for r in rows if r["impl"] == "clt" and r.get("status") == "ok"), None)
        for r in rows:
            status = r.get("status")
            if status == "error":
                print(f"  {r['impl']:<22} ERROR {r['error']}", file=file)
                continue
            if status == "skipped":
                print(f"  {r['impl']:<22} skipped: {r['reason']}", file=file)
                continue
            lo, hi = r["spread"]
            if not r.get("higher_is_better", True):
                lo, hi = min(lo, hi), max(lo, hi)
            spread = f"({fmt_value(lo, r['unit'])} .. {fmt_value(hi, r['unit'])})"
            ratio = ""
            if clt is not None and r is not clt:
                ratio = f"clt {_ratio(clt.get('vs', {}).get(r['impl']))}"
            dev = f"device {r['device_s'] * 1e3:.3f} ms/call" if "device_s" in r else ""
            print(f"  {r['impl']:<22}{fmt_value(r['value'], r['unit']):>14} {spread:<30}"
                  f"{_pct(r.get('fraction_of_limit')):>6}  {ratio or dev}", file=file)
            if r is clt and r.get("top_kernels"):
                tops = ", ".join(f"{k['kernel']} {100 * k['share']:.0f}%"
                                 for k in r["top_kernels"][:3])
                print(f"  {'':<22}{r.get('kernels_per_call', 0):.0f} kernels/call; top: {tops}",
                      file=file)
            if r is clt and r.get("phases"):
                ph = r["phases"]
                print(f"  {'':<22}import {ph['import_s']:.2f} s, device {ph['device_s']:.2f} s, "
                      f"first step {ph['first_step_s']:.2f} s ({ph['programs_built']:.0f} "
                      f"programs built, {ph.get('source_hits', 0):.0f} of them from cached "
                      f"sources, {ph['disk_hits']:.0f} loaded as binaries), second step "
                      f"{ph['second_step_s'] * 1e3:.1f} ms", file=file)
            for note in r.get("notes", []):
                print(f"  {'':<22}note: {note}", file=file)
    print("", file=file)
    print("\n".join(summary_lines(doc)), file=file)


def summary_rows(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """One entry per workload: clt's figure, fraction of limit and ratio to each family's best."""
    out = []
    for key, rows in by_workload(doc["results"]).items():
        clt = next((r for r in rows if r["impl"] == "clt"), rows[0])
        entry = {"workload": key, "title": clt["title"], "unit": clt["unit"],
                 "group": clt.get("group", key.split(".")[0]),
                 "size": clt.get("size", ""), "status": clt.get("status"),
                 "value": clt.get("value"), "fraction": clt.get("fraction_of_limit"),
                 "device_s": clt.get("device_s"), "vs": {}}
        for fam, best in (clt.get("vs_best") or {}).items():
            entry["vs"][fam] = best
        out.append(entry)
    return out


def summary_lines(doc: dict[str, Any], markdown: bool = False) -> list[str]:
    fams = [f for f in PEER_FAMILIES
            if any(f in e["vs"] for e in summary_rows(doc))]
    head = ["workload", "clt", "% of limit"] + [f"vs {f}" for f in fams]
    body = []
    for e in summary_rows(doc):
        if e["status"] != "ok":
            cells = [e["workload"], e["status"] or "-", "-"] + ["-"] * len(fams)
        else:
            cells = [e["workload"], fmt_value(e["value"], e["unit"]), _pct(e["fraction"])]
            for f in fams:
                b = e["vs"].get(f)
                threads = re.search(r"-(\d+t)$", b["impl"]) if b else None
                cells.append("-" if b is None else
                             f"{b['ratio']:.2f}x" + (f" ({threads.group(1)})" if threads else ""))
        body.append(cells)
    if markdown:
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        lines += ["| " + " | ".join(c) + " |" for c in body]
        return lines
    widths = [max(len(h), *(len(c[i]) for c in body)) if body else len(h)
              for i, h in enumerate(head)]
    lines = ["summary (vs X: clt's speed / the best setting of X; >1 = clt faster)",
             "  ".join(h.ljust(w) for h, w in zip(head, widths))]
    lines += ["  ".join(c.ljust(w) for c, w in zip(cells, widths)) for cells in body]
    return lines


def markdown(doc: dict[str, Any]) -> str:
    """The results summary as Markdown (benchmarks/results/<machine>.md)."""
    env = doc.get("env", {})
    lines = ["# clt benchmark results: " + str(env.get("device")), ""]
    lines += [f"- {line}" for line in header(doc)[1:]]
    lines += [f"- mode `{doc.get('mode')}`, {doc.get('seconds', 0):.0f} s; each figure the "
              "median of repeated samples after warm-up, implementations measured interleaved",
              "- `% of limit`: fraction of the copy bandwidth (memory-bound work) or peak FP32 "
              "FLOP/s (GEMM, conv, training) measured in the same run",
              "- `vs X`: clt's speed divided by X's at X's best thread setting (`1t`/`2t`); "
              "above 1 clt is faster", ""]
    lines += summary_lines(doc, markdown=True)
    notes = []
    for r in doc["results"]:
        if r["impl"] == "clt" and r.get("top_kernels") and r["workload"].startswith("train."):
            tops = ", ".join(f"`{k['kernel']}` {100 * k['share']:.0f}%"
                             for k in r["top_kernels"][:3])
            notes.append(f"- {r['workload']}: device {1e3 * r['device_s']:.1f} ms of "
                         f"{1e3 * r['seconds']:.1f} ms per step; top kernels {tops}")
        if r["impl"] == "clt" and r.get("phases"):
            ph = r["phases"]
            notes.append(f"- {r['workload']}: import {ph['import_s']:.2f} s, first step "
                         f"{ph['first_step_s']:.2f} s ({ph['programs_built']:.0f} programs "
                         f"built, {ph.get('source_hits', 0):.0f} of them from cached sources, "
                         f"{ph['disk_hits']:.0f} loaded as binaries)")
    if notes:
        lines += ["", "Where the time goes (clt.profiler):", ""] + notes
    absent = doc.get("peers", {}).get("absent", {})
    if absent:
        gone = "; ".join(f"{k}: {v}" for k, v in sorted(absent.items()))
        lines += ["", "Peers not measured: " + gone]
    return "\n".join(lines) + "\n"


# -- compare ----------------------------------------------------------------------------------

def load(path: str | Path) -> dict[str, Any]:
    """A results document; JSON-lines files of the older harness are accepted too."""
    text = Path(path).read_text()
    try:
        doc = json.loads(text)
        if isinstance(doc, dict) and "results" in doc:
            return doc
        rows = doc if isinstance(doc, list) else [doc]
    except ValueError:
        rows = [json.loads(line) for line in text.splitlines() if line.strip()]
    for r in rows:
        r.setdefault("status", "ok")
        r.setdefault("value", r.get("rate"))
        r.setdefault("higher_is_better", r.get("unit") not in ("s", "us/op"))
    return {"results": rows, "env": {}, "mode": "?"}


def compare(old: dict[str, Any], new: dict[str, Any], threshold: float = 0.10,
            file: TextIO | None = None, all_impls: bool = False) -> int:
    """Print changes between two runs; returns how many clt figures regressed."""
    file = file or sys.stdout

    def index(doc: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
        return {(r["workload"], r["impl"]): r for r in doc["results"]
                if r.get("status", "ok") == "ok" and r.get("value")}
    a, b = index(old), index(new)
    for label, doc in (("old", old), ("new", new)):
        env = doc.get("env", {})
        print(f"{label}: {env.get('device')} driver {env.get('driver')} "
              f"({doc.get('mode')}, {doc.get('started', '?')})", file=file)
    ea, eb = old.get("env", {}), new.get("env", {})
    if (ea.get("device"), ea.get("driver")) != (eb.get("device"), eb.get("driver")):
        print("warning: different devices or drivers; ratios compare machines, not code",
              file=file)
    regressions = 0
    print(f"\n{'workload':<22} {'impl':<18} {'old':>14} {'new':>14} {'change':>8}", file=file)
    for key in sorted(set(a) & set(b)):
        if key[1] != "clt" and not all_impls:
            continue
        ra, rb = a[key], b[key]
        higher = rb.get("higher_is_better", True)
        change = (rb["value"] / ra["value"]) if higher else (ra["value"] / rb["value"])
        mark = ""
        if change < 1 - threshold:
            mark = "  REGRESSION"
            regressions += key[1] == "clt"
        elif change > 1 + threshold:
            mark = "  improved"
        print(f"{key[0]:<22} {key[1]:<18} {fmt_value(ra['value'], ra['unit']):>14} "
              f"{fmt_value(rb['value'], rb['unit']):>14} {change:>7.2f}x{mark}", file=file)
    gone = sorted(k for k in set(a) - set(b) if k[1] == "clt")
    new_only = sorted(k for k in set(b) - set(a) if k[1] == "clt")
    if gone:
        print("\nno longer measured: " + ", ".join(k[0] for k in gone), file=file)
    if new_only:
        print("new workloads: " + ", ".join(k[0] for k in new_only), file=file)
    print(f"\n{regressions} clt regression(s) beyond {100 * threshold:.0f}% (change = new speed /"
          " old speed)", file=file)
    return regressions


# -- plots ------------------------------------------------------------------------------------

def plot(doc: dict[str, Any], outdir: str | Path) -> list[Path]:
    """PNG charts: clt vs peers per workload group, and a roofline of clt's results."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    written = []
    groups: dict[str, list[dict[str, Any]]] = {}
    for e in summary_rows(doc):
        if e["status"] == "ok" and e["vs"]:
            grp = e["group"]
            groups.setdefault(grp, []).append(e)
    colors = {"numpy": "tab:blue", "torch": "tab:red", "pyopencl": "tab:green",
              "clblast": "tab:purple", "tinygrad": "tab:orange"}
    for grp, entries in groups.items():
        fams = [f for f in PEER_FAMILIES if any(f in e["vs"] for e in entries)]
        if not fams:        # only clt's own variants (fusion off, the enqueue floor): no peers
            continue
        fig, ax = plt.subplots(figsize=(8, max(3.0, 1.5 + 0.25 * len(entries) * len(fams))))
        height = 0.8 / max(1, len(fams))
        for j, fam in enumerate(fams):
            ys = [i + j * height for i in range(len(entries))]
            vals = [e["vs"].get(fam, {}).get("ratio", float("nan")) for e in entries]
            ax.barh(ys, vals, height=height, label=f"clt / {fam}", color=colors.get(fam))
        ax.axvline(1.0, color="black", lw=1)
        ax.set_xscale("log")
        ax.set_yticks([i + 0.4 - height / 2 for i in range(len(entries))])
        ax.set_yticklabels([e["workload"] for e in entries])
        ax.invert_yaxis()
        ax.set_xlabel("clt speed / peer's best (log; >1: clt faster)")
        ax.set_title(f"{grp}: clt vs peers on {doc.get('env', {}).get('device')}")
        ax.legend(fontsize=8, loc="best")
        fig.tight_layout()
        path = outdir / f"vs_peers_{grp}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(path)
    path = _roofline(doc, outdir, plt)
    if path:
        written.append(path)
    return written


def _roofline(doc: dict[str, Any], outdir: Path, plt: Any) -> Path | None:
    lim = doc.get("limits", {})
    bw, peak = lim.get("copy_Bps"), lim.get("peak_flops")
    pts = [r for r in doc["results"] if r["impl"] == "clt" and r.get("status") == "ok"
           and r.get("flops") and r.get("bytes") and r.get("seconds")]
    if not (bw and peak and pts):
        return None
    fig, ax = plt.subplots(figsize=(8, 5.5))
    ai = [r["flops"] / r["bytes"] for r in pts]
    perf = [r["flops"] / r["seconds"] / 1e9 for r in pts]
    lo, hi = math.log10(min(ai) / 3), math.log10(max(ai) * 3)
    xs = [10 ** (lo + (hi - lo) * k / 100) for k in range(101)]
    ax.plot(xs, [min(peak, x * bw) / 1e9 for x in xs], color="black", lw=1.5,
            label=f"roof: {bw / 1e9:.0f} GB/s, {peak / 1e9:.0f} GFLOP/s")
    ax.scatter(ai, perf, color="tab:red", zorder=3)
    for r, x, y in zip(pts, ai, perf):
        ax.annotate(r["workload"], (x, y), fontsize=7, xytext=(3, 3),
                    textcoords="offset points")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("arithmetic intensity (FLOP / ideal byte)")
    ax.set_ylabel("achieved GFLOP/s")
    ax.set_title(f"clt roofline on {doc.get('env', {}).get('device')}")
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    path = outdir / "roofline.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
