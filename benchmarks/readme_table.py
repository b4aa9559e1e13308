"""Regenerate the README's performance table from the last benchmark runs (the JSON files kept here).

    python benchmarks/readme_table.py          # rewrites README.md between the performance markers
    python benchmarks/readme_table.py --print  # prints the block instead

Reads ``peers.json`` (``python benchmarks/peers.py``), ``trial_speed.json``, ``cli_startup.json`` and
``forecast_command.json``; every
figure in the block is one of theirs, with the command that produced it and the load average it ran under.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchlib as B  # noqa: E402

README = B.HERE.parent / "README.md"
BEGIN, END = "<!-- performance:begin (benchmarks/readme_table.py) -->", "<!-- performance:end -->"


def _load(name: str) -> dict | None:
    return B.previous(B.HERE / name)


def _met(ok: bool) -> str:
    return "**met**" if ok else "**not met**"


def block() -> str:
    peers = _load("peers.json")
    if peers is None:
        raise SystemExit("benchmarks/peers.json is missing: run python benchmarks/peers.py first")
    m = peers["machine"]
    e = peers["engines"]
    commit = m.get("commit", "not recorded")
    lines = [f"Measured with `{peers['command']}` ({peers['finished_utc']}, commit {commit}) on this machine: "
             f"{m['cpus']} cores, numba {m['numba']}, SciPy {m['scipy']}; load average "
             f"{m['load_average_start']} at the start and {peers['load_average_end']} at the end (the machine was "
             "shared with other jobs, so wall-clock figures are low and per-CPU-second figures are the ones to "
             "compare). Plan `benchmarks/one-year-weekly.yaml`, daily MADRS, "
             f"{peers['benchmark_patients']} benchmark patients, medians of {peers['repeat']} runs. Matched "
             f"accuracy: each engine at the loosest tolerance of its grid whose largest daily MADRS error against "
             f"`simulate(method=\"reference\")` is at most {peers['target_madrs']:g} points.", "",
             "| engine | tolerance | max MADRS error | patient-years/s | per CPU-second | ketasim x (wall) "
             "| ketasim x (per CPU-s) |", "|---|---|---|---|---|---|---|"]
    for r in e.values():
        lines.append(f"| {r['engine']} | rtol {r['rtol']:g} | {r['max_error_madrs']:.3f} | "
                     f"{r['patient_years_per_s']:,.2f} | {r['patient_years_per_cpu_s']:,.2f} | "
                     f"{r['ketasim_ratio_wall']:,.0f} | {r['ketasim_ratio_per_cpu_s']:,.0f} |")
    lines.append("")
    rr = e.get("roadrunner")
    goals = []
    if rr:
        goals.append(f"- At least 100x libRoadRunner per CPU-second at matched accuracy: "
                     f"{_met(rr['ketasim_ratio_per_cpu_s'] >= 100)} ({rr['ketasim_ratio_per_cpu_s']:.0f}x per "
                     f"CPU-second, {rr['ketasim_ratio_wall']:.0f}x wall clock).")
    s = peers.get("scale")
    if s:
        cores = m["numba_threads"]
        ideal = s["cpu_seconds"] / cores
        goals.append(f"- {s['patient_years']:,.0f} patient-years (default variability and tolerances, daily MADRS "
                     f"streamed to Parquet, {s['parquet_mib']:,.0f} MiB): {s['seconds']:,.0f} s wall, "
                     f"{s['cpu_seconds']:,.0f} s CPU (so at least {ideal:,.0f} s even on {cores} free cores); "
                     "under 60 s: "
                     f"{_met(s['seconds'] < 60)}. Peak memory {s['peak_rss_mib']:,.0f} MiB; under 2 GiB: "
                     f"{_met(s['peak_rss_mib'] < 2048)}.")
    t = _load("trial_speed.json")
    if t:
        w, c = t["headline"]["seconds"], t["headline"]["cpu_seconds"]
        goals.append(f"- A {t['patients']:,}-patient SUSTAIN-1 virtual trial (`{t['command']}`, load average "
                     f"{t['machine']['load_average_start']}): {w:.1f} s wall, {c:.1f} s CPU; under 5 s: "
                     f"{_met(w < 5)} here.")
    cs = _load("cli_startup.json")
    if cs:
        goals.append(f"- `ketasim --help` (`python benchmarks/cli_startup.py`, median of {cs['runs']} fresh "
                     f"interpreters): {cs['help_median_s']:.2f} s; under 1 s: {_met(cs['help_median_s'] < 1)}.")
    fc = _load("forecast_command.json")
    if fc:
        h = fc["headline"]
        goals.append(f"- A whole `ketasim forecast` (`{fc['command']}`, after `ketasim warmup`, load average "
                     f"{fc['machine']['load_average_start']}): {h['forecast_wall']:.2f} s wall "
                     f"({h['forecast_cpu']:.2f} s CPU); under 3 s: {_met(h['forecast_wall'] < 3)} here.")
    lines += goals
    lines += ["", f"ketasim on a population with the default variability (weight and PK included): "
              f"{peers['varied_population']['patient_years_per_cpu_s']:,.0f} patient-years per CPU-second, "
              f"{peers['varied_population']['steps_per_patient_year']:.0f} accepted steps per patient-year. "
              "What limits the engine and what would lift it: [benchmarks/README.md](benchmarks/README.md)."]
    return "\n".join([BEGIN, *lines, END])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--print", action="store_true", help="print the block instead of rewriting the README")
    args = ap.parse_args()
    text = block()
    if args.print:
        print(text)
        return
    readme = README.read_text()
    if BEGIN not in readme or END not in readme:
        raise SystemExit(f"README.md has no performance markers ({BEGIN} ... {END})")
    head, rest = readme.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    README.write_text(head + text + tail)
    print(f"rewrote the performance block of {README}")


if __name__ == "__main__":
    main()
