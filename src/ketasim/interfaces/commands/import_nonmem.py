"""``ketasim import-nonmem DATA.csv --out DIR``: a NONMEM-format dataset as ketasim plans and histories.

Writes ``DIR/plans/id-<ID>.yaml`` (one plan per ID, which ``ketasim simulate`` runs),
``DIR/histories/id-<ID>.csv`` (one history per ID with observations, which ``ketasim forecast``
reads) and ``DIR/import.json`` (what came from which lines, the defaults used, the columns not
read). An ID with a reset (EVID 3 or 4) gives one plan and history per occasion. The format is in
``docs/nonmem-format.md`` (:mod:`ketasim.formats.nonmem`).
"""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from ketasim import DISCLAIMER
from ketasim.interfaces.app import app
from ketasim.interfaces.options import FORCE_HELP, input_file, text_option, within


@app.command("import-nonmem")
def import_nonmem_command(
    data: Path = typer.Argument(..., callback=input_file, help="NONMEM-format dataset (CSV; see "
                                "docs/nonmem-format.md)."),
    out: Path = typer.Option(Path("nonmem-import"), "--out", "-o", help="Output directory (created; written "
                             "complete or not at all)."),
    start: str = typer.Option(None, "--start", callback=text_option(max_length=40),
                              help="Date (and time) of TIME 0 for a relative TIME column: YYYY-MM-DD or "
                                   "'YYYY-MM-DD HH:MM' (default 2025-01-06 00:00; ignored with DATE)."),
    horizon_days: float = typer.Option(None, "--horizon-days", callback=within(1, 3650, what="days"),
                                       help="Horizon of every plan in days, 1 to 3,650 (default: up to the last "
                                            "record)."),
    allow_off_label: bool = typer.Option(False, "--allow-off-label", help="Accept doses outside published "
                                         "ranges (every plan and output then says so)."),
    force: bool = typer.Option(False, "--force", help=FORCE_HELP),
) -> None:
    """Turn a NONMEM-format dataset into one plan and one history per patient."""
    from ketasim.formats.nonmem import read_nonmem, write_imported
    from ketasim.interfaces.outputs import output_folder

    with output_folder(out, force=force, inputs=[data]) as folder:
        dataset = read_nonmem(data, start=start, allow_off_label=allow_off_label, horizon_days=horizon_days)
        files = write_imported(dataset, folder)
        summary = _summary(data, dataset, allow_off_label)
        (folder / "import.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    _print_summary(data, out, dataset, summary, files, allow_off_label)


def _summary(data: Path, dataset, allow_off_label: bool) -> dict:
    """What ``import.json`` records: the dataset, time zero, the columns not read and every patient's files."""
    return {
        "dataset": str(data), "time_zero": None if dataset.time_zero is None else dataset.time_zero.isoformat(),
        "allow_off_label": allow_off_label, "unused_columns": list(dataset.unused_columns),
        "patients": [{"id": p.id, "occasion": p.occasion or None, "plan": f"plans/{p.stem}.yaml",
                      "history": f"histories/{p.stem}.csv" if p.history is not None else None,
                      "doses": len(p.plan.doses), "observations": 0 if p.history is None else len(p.history.scores),
                      "start_date": p.plan.start_date.isoformat(), "horizon_days": p.plan.horizon_days,
                      "lines": [min(p.lines), max(p.lines)], "notes": list(p.notes)} for p in dataset.patients],
        "disclaimer": DISCLAIMER,
    }


def _print_summary(data: Path, out: Path, dataset, summary: dict, files: list[str], allow_off_label: bool) -> None:
    console = Console()
    table = Table(title=f"ketasim import-nonmem: {data.name}", title_justify="left")
    for col in ("ID", "doses", "scores", "plan", "history", "notes"):
        table.add_column(col, overflow="fold")
    for p in summary["patients"]:
        pid = p["id"] if p["occasion"] is None else f"{p['id']}, occasion {p['occasion']}"
        table.add_row(pid, str(p["doses"]), str(p["observations"]), p["plan"], p["history"] or "-",
                      "; ".join(p["notes"]))
    console.print(table)
    if dataset.unused_columns:
        console.print(f"columns not read: {', '.join(dataset.unused_columns)}")
    console.print(f"wrote {len(files)} files and import.json to {out}")
    if allow_off_label:
        console.print("[bold red]OFF-LABEL: doses outside published ranges were allowed (--allow-off-label)[/]")
    console.print(f"[dim]{DISCLAIMER}[/]")
