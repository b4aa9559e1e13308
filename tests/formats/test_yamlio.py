"""The one YAML reader: lines of every field, and clean refusals of what YAML would accept or crash on."""

from __future__ import annotations

import re
import time

import pytest

from ketasim.errors import PlanError
from ketasim.formats.yamlio import MAX_DEPTH, MAX_NODES, field_name, field_path, read_text_file, read_yaml


def test_lines_of_every_field_and_dates_kept_as_text():
    data, lines = read_yaml("a: 1\nb:\n  - {c: 2025-02-30, t: 10:30}\n  - 1e5\n", file="x.yaml")
    assert data == {"a": 1, "b": [{"c": "2025-02-30", "t": "10:30"}, 100000.0]}
    assert lines.line(("b", 0, "c")) == 3 and lines.line(("b", 1)) == 4 and lines.line(("b", 0, "zz")) == 3
    assert field_path(field_name(("b", 0, "c"))) == ("b", 0, "c")


def test_duplicate_key_is_refused_naming_both_lines():
    with pytest.raises(PlanError, match=r"x.yaml, line 3: a = 'a': allowed each key once .*line 1"):
        read_yaml("a: 1\nb: 2\na: 3\n", file="x.yaml")


def test_merge_keys_may_be_overridden():
    data, _ = read_yaml("base: &b {x: 1, y: 2}\nc:\n  <<: *b\n  y: 3\n", file="x.yaml")
    assert data["c"] == {"x": 1, "y": 3}


@pytest.mark.parametrize("text", ["a: &x [*x]\n", "a: &x {b: *x}\n"])
def test_recursive_alias_is_refused(text):
    with pytest.raises(PlanError, match="recursive alias"):
        read_yaml(text, file="x.yaml")


def test_alias_bomb_is_refused_quickly():
    levels = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    levels += [f"a{k}: &a{k} [" + ", ".join([f"*a{k - 1}"] * 10) + "]" for k in range(1, 9)]
    t0 = time.perf_counter()
    with pytest.raises(PlanError, match=f"at most {MAX_NODES:,} values once aliases are expanded"):
        read_yaml("\n".join(levels) + "\n", file="x.yaml")
    assert time.perf_counter() - t0 < 2.0


def test_deep_nesting_is_refused():
    with pytest.raises(PlanError, match=f"at most {MAX_DEPTH} levels"):
        read_yaml("a: " + "[" * 5000 + "]" * 5000 + "\n", file="x.yaml")


@pytest.mark.parametrize("text, what", [("a: b\x00c\n", "U+0000"), ("a: b\x07c\n", "U+0007"),
                                        ('a: "b\\0c"\n', "U+0000"), ('a: "\\ud800"\n', "U+D800")])
def test_control_characters_are_refused_with_their_line(text, what):
    with pytest.raises(PlanError, match=f"line 2: .*{re.escape(what)}"):
        read_yaml("z: 1\n" + text, file="x.yaml")


def test_one_document_and_clean_syntax_errors():
    with pytest.raises(PlanError, match="one YAML document per file"):
        read_yaml("a: 1\n---\nb: 2\n", file="x.yaml")
    with pytest.raises(PlanError, match="line 2: .*valid YAML"):
        read_yaml("a: [1,\nb: }\n", file="x.yaml")
    with pytest.raises(PlanError, match="valid JSON"):
        read_yaml('{"a": ', file="x.json")
    with pytest.raises(PlanError, match="could not determine a constructor"):
        read_yaml("a: !!python/object:os.system {}\n", file="x.yaml")
    with pytest.raises(PlanError, match="remove the explicit"):
        read_yaml("a: !!timestamp 2025-02-30\n", file="x.yaml")


def test_huge_integers_are_floats_and_json_tabs_are_whitespace():
    data, _ = read_yaml("a: 1" + "0" * 5000 + "\n", file="x.yaml")
    assert data["a"] == float("inf")
    data, _ = read_yaml('{\n\t"a": {\n\t\t"b": 1\n\t}\n}\n', file="x.json")
    assert data == {"a": {"b": 1}}


def test_text_files_utf8_with_or_without_bom(tmp_path):
    p = tmp_path / "f.txt"
    p.write_bytes("\ufeffa: é\n".encode())
    assert read_text_file(p) == "a: é\n"
    p.write_bytes("a: b\nc: é\n".encode("latin-1"))
    with pytest.raises(PlanError, match=r"f.txt, line 2: encoding = 'byte 0xE9 at column 4 is not UTF-8'.*CSV UTF-8"):
        read_text_file(p)
    p.write_bytes("a: b\n".encode("utf-16"))
    with pytest.raises(PlanError, match="UTF-16.*save the file as UTF-8"):
        read_text_file(p)
    with pytest.raises(PlanError, match="an existing file"):
        read_text_file(tmp_path / "missing.txt")
    with pytest.raises(PlanError, match="a file, not a folder"):
        read_text_file(tmp_path)
