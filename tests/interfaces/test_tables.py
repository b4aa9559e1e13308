"""``markdown_table``: one helper for every Markdown table (cells escaped, three kinds of input)."""

from __future__ import annotations

import pandas as pd
import pytest

from ketasim.interfaces.tables import markdown_table


def test_rows_frames_and_mappings_give_the_same_table():
    rows = [["a|b", 1.5], ["two\nlines", 2]]
    expected = "| name | value |\n|---|---:|\n| a\\|b | 1.50 |\n| two lines | 2.00 |"
    kw = {"formats": {"value": lambda v: f"{v:.2f}"}, "align": {"value": "right"}}
    assert markdown_table(rows, ["name", "value"], **kw) == expected
    assert markdown_table(pd.DataFrame(rows, columns=["name", "value"]), **kw) == expected
    assert markdown_table([{"name": r[0], "value": r[1]} for r in rows], **kw) == expected


def test_raw_columns_columns_picked_and_bad_rows():
    frame = pd.DataFrame({"x": ["`k`"], "y": [1], "z": [2]})
    assert markdown_table(frame, ["z", "x"], raw=["x"]) == "| z | x |\n|---|---|\n| 2 | `k` |"
    with pytest.raises(ValueError, match="2 cells"):
        markdown_table([[1, 2]], ["only"])
    with pytest.raises(TypeError, match="columns"):
        markdown_table([[1]])
