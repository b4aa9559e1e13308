"""Markdown tables from one helper: ``markdown_table(rows, columns=[...])`` or ``markdown_table(dataframe)``.

Every cell is written with :func:`cell` (whitespace collapsed to one space, ``|`` escaped), so a
description or a source with a line break or a pipe never breaks the table.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

Format = Callable[[Any], str]


def cell(value: Any) -> str:
    """Text safe inside a Markdown table cell."""
    return " ".join(str(value).split()).replace("|", "\\|")


def markdown_table(df_or_rows: Any, columns: Sequence[str] | None = None, *,
                   formats: Mapping[str, Format] | None = None, align: Mapping[str, str] | None = None,
                   raw: Iterable[str] = ()) -> str:
    """A GitHub-flavoured Markdown table, one line per row, without a trailing newline.

    ``df_or_rows``: a pandas DataFrame, a sequence of mappings (keys = column names) or a sequence of
    sequences (then ``columns`` names the columns). ``columns`` also picks and orders the columns of a
    DataFrame or of mappings. ``formats``: a function per column turning a value into text (default
    ``str``). ``align``: ``"left"``, ``"right"`` or ``"center"`` per column. ``raw``: columns whose text
    is already Markdown (inline code, links) and is written as is.
    """
    header, rows = _rows(df_or_rows, columns)
    formats = dict(formats or {})
    keep = set(raw)
    marks = {"left": ":---", "right": "---:", "center": ":---:"}
    lines = ["| " + " | ".join(cell(h) for h in header) + " |",
             "|" + "|".join(marks.get((align or {}).get(h, ""), "---") for h in header) + "|"]
    for row in rows:
        texts = []
        for h, value in zip(header, row, strict=True):
            text = formats[h](value) if h in formats else str(value)
            texts.append(" ".join(text.split()) if h in keep else cell(text))
        lines.append("| " + " | ".join(texts) + " |")
    return "\n".join(lines)


def _rows(data: Any, columns: Sequence[str] | None) -> tuple[list[str], list[list[Any]]]:
    if hasattr(data, "to_dict") and hasattr(data, "columns"):  # a DataFrame
        header = list(columns) if columns is not None else [str(c) for c in data.columns]
        frame = data[list(columns)] if columns is not None else data
        return header, [list(r) for r in frame.itertuples(index=False, name=None)]
    items = list(data)
    if items and isinstance(items[0], Mapping):
        header = list(columns) if columns is not None else list(dict.fromkeys(k for r in items for k in r))
        return header, [[r.get(h, "") for h in header] for r in items]
    if columns is None:
        raise TypeError("markdown_table(rows) with rows of sequences needs columns=[...]")
    header = list(columns)
    out = [list(r) for r in items]
    bad = [r for r in out if len(r) != len(header)]
    if bad:
        raise ValueError(f"a row has {len(bad[0])} cells, the table {len(header)} columns: {bad[0]!r}")
    return header, out
