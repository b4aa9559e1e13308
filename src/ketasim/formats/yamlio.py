"""The one reader of YAML (and JSON) input files, with the line of every field.

Every file a user gives ketasim (plans, histories, study files, calibration start files, ...) is read
here, so that every reader refuses the same things the same way, each as a
:class:`~ketasim.errors.PlanError` naming the file, the line, the field, the value and what is allowed:

- encodings other than UTF-8 (a byte-order mark is accepted), control characters, files over
  :data:`MAX_TEXT_BYTES`;
- duplicate keys (YAML would keep the last silently), nesting deeper than :data:`MAX_DEPTH`, more than
  :data:`MAX_ALIASES` aliases, recursive aliases, and documents whose aliases expand to more than
  :data:`MAX_NODES` values (an "alias bomb" costs time in proportion to its expanded size);
- several documents in one file.

Dates (``2025-02-30``) and clock times (``10:30``) stay text, so that the reader of each format can say on
which line an impossible date is (YAML 1.1 would refuse them without a field, or read ``10:30`` as the
sexagesimal number 630). Integers and floats follow YAML 1.2 (``1e5`` is a number, ``0755`` is not octal).

>>> data, lines = read_yaml("a: 1\\nb:\\n  - {c: 2025-01-06}\\n", file="x.yaml")
>>> data, lines.line(("b", 0, "c"))
({'a': 1, 'b': [{'c': '2025-01-06'}]}, 3)
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ketasim.errors import PlanError

FieldPath = tuple[str | int, ...]

MAX_TEXT_BYTES = 4 * 1024 * 1024  # 4 MiB: a ten-year daily history is about 0.4 MB
MAX_DEPTH = 32  # nesting levels (a plan file uses 5)
MAX_ALIASES = 100  # alias uses (*name) in one document
MAX_NODES = 500_000  # values after expanding aliases (a ten-year history of daily doses and scores: ~100,000)
ENCODING_FIX = ("save the file as UTF-8 (in Excel: 'CSV UTF-8'; in other editors: encoding 'UTF-8'); "
                "a byte-order mark is accepted")

# Characters allowed in a text file: tab, line breaks and printable characters (the YAML 1.1 set, which
# also suits CSV). Everything else (NUL, other C0 and C1 controls, DEL, U+FFFE/U+FFFF) is refused.
_NOT_PRINTABLE = re.compile("[^\x09\x0A\x0D\x20-\x7E\x85\xA0-\uD7FF\uE000-\uFFFD\U00010000-\U0010FFFF]")

_INT = re.compile(r"^[-+]?(0|[1-9][0-9_]{0,17})$")  # longer digit strings are floats
_FLOAT = re.compile(r"^[-+]?(([0-9][0-9_]*)?\.[0-9_]+([eE][-+]?[0-9]+)?|[0-9][0-9_]*\.?([eE][-+]?[0-9]+)?"
                    r"|\.(inf|Inf|INF)|\.(nan|NaN|NAN))$")


def field_name(path: FieldPath, root: str = "<file>") -> str:
    """``("doses", 2, "dose")`` -> ``doses[2].dose``; the empty path is ``root``."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or root


def field_path(name: str) -> FieldPath:
    """Inverse of :func:`field_name`: ``doses[2].dose`` -> ``("doses", 2, "dose")``."""
    out: list[str | int] = []
    for part in name.split("."):
        m = re.match(r"^([^\[]*)((\[\d+\])*)$", part)
        if not m:
            out.append(part)
            continue
        if m.group(1):
            out.append(m.group(1))
        out += [int(x) for x in re.findall(r"\[(\d+)\]", m.group(2))]
    return tuple(out)


@dataclass
class LineMap:
    """The file read and the 1-based line of every field path (mapping keys and sequence items)."""

    file: str
    lines: dict[FieldPath, int] = field(default_factory=dict)
    root: str = "<file>"

    def line(self, path: FieldPath) -> int | None:
        """Line of ``path``, or of its closest ancestor present in the file."""
        p = tuple(path)
        while p:
            if p in self.lines:
                return self.lines[p]
            p = p[:-1]
        return None

    def error(self, path: FieldPath, value: Any, allowed: str) -> PlanError:
        """A :class:`PlanError` for the field at ``path``, with this file and its line."""
        return PlanError(field_name(path, self.root), value, allowed, file=self.file, line=self.line(path))


def _printable_problem(text: str, file: str) -> PlanError | None:
    m = _NOT_PRINTABLE.search(text)
    if m is None:
        return None
    ch = m.group()
    line = text.count("\n", 0, m.start()) + 1
    column = m.start() - (text.rfind("\n", 0, m.start()) + 1) + 1
    name = unicodedata.name(ch, "control character")
    return PlanError("text", f"U+{ord(ch):04X} ({name.lower()}) at column {column}",
                     "printable text: no NUL or other control characters (remove it, or save the file again as "
                     "plain UTF-8 text)", file=file, line=line)


def check_text(text: str, *, file: str) -> str:
    """``text`` without a leading byte-order mark; refuses control characters and oversized text."""
    if not isinstance(text, str):
        raise PlanError("text", type(text).__name__, "text (str)", file=file)
    if text.startswith("\ufeff"):
        text = text[1:]
    if len(text) > MAX_TEXT_BYTES:
        raise PlanError("size", f"{len(text):,} characters", f"at most {MAX_TEXT_BYTES:,} characters", file=file)
    problem = _printable_problem(text, file)
    if problem is not None:
        raise problem
    return text


def read_text_file(path: str | Path, *, what: str = "file", name: str | None = None) -> str:
    """The text of the file at ``path``: UTF-8 with or without a byte-order mark, printable, at most
    :data:`MAX_TEXT_BYTES`. Anything else is a :class:`PlanError` that names the fix.

    ``what`` names the file's role in errors about the file itself (``plan file``), ``name`` the file in errors
    about its content (default: ``path``)."""
    p = Path(path)
    name = str(p) if name is None else name
    try:
        size = p.stat().st_size
        if p.is_dir():
            raise PlanError(what, str(p), "a file, not a folder")
        if size > MAX_TEXT_BYTES:
            raise PlanError(what, f"{p} ({size:,} bytes)", f"a file of at most {MAX_TEXT_BYTES:,} bytes")
        raw = p.read_bytes()
    except FileNotFoundError:
        raise PlanError(what, str(p), "an existing file") from None
    except PermissionError:
        raise PlanError(what, str(p), "a file you may read (permission denied)") from None
    except OSError as exc:
        raise PlanError(what, str(p), f"a readable file ({exc.strerror or exc.__class__.__name__})") from None
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise PlanError("encoding", "UTF-16 (byte-order mark FF FE or FE FF)", f"UTF-8 text: {ENCODING_FIX}",
                        file=name, line=1)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        bad = raw[exc.start:exc.start + 1].hex().upper()
        raise PlanError("encoding", f"byte 0x{bad} at column {column} is not UTF-8", f"UTF-8 text: {ENCODING_FIX}",
                        file=name, line=line) from None
    return check_text(text, file=name)


class _Loader(yaml.SafeLoader):
    """SafeLoader that keeps dates and clock times as text, reads YAML 1.2 numbers, and bounds nesting and
    aliases while it composes."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.depth = 0
        self.aliases = 0
        self.nodes = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            self.aliases += 1
            if self.aliases > MAX_ALIASES:
                mark = self.peek_event().start_mark
                raise _Limit(f"at most {MAX_ALIASES} aliases (*name) in one file", "aliases", mark.line + 1,
                             f"more than {MAX_ALIASES} aliases")
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise _Limit(f"at most {MAX_NODES:,} values in one file", "size", self.peek_event().start_mark.line + 1,
                         f"more than {MAX_NODES:,} values")
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                mark = self.peek_event().start_mark
                raise _Limit(f"at most {MAX_DEPTH} levels of nesting", "nesting", mark.line + 1,
                             f"more than {MAX_DEPTH} levels")
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers
            if tag not in ("tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:int", "tag:yaml.org,2002:float")]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver("tag:yaml.org,2002:int", _INT, list("-+0123456789"))
_Loader.add_implicit_resolver("tag:yaml.org,2002:float", _FLOAT, list("-+0123456789."))


class _Limit(Exception):
    def __init__(self, allowed: str, what: str, line: int | None, value: str) -> None:
        self.allowed, self.what, self.line, self.value = allowed, what, line, value


_RECURSIVE = "no recursive alias (an anchor used inside itself)"


def _expanded_size(root: yaml.Node) -> None:
    """Refuse recursive aliases, and aliases that expand beyond :data:`MAX_NODES` values or
    :data:`MAX_DEPTH` levels (iterative, linear in the number of distinct nodes)."""
    size: dict[int, int] = {}
    depth: dict[int, int] = {}
    on_path: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        children = _children(node)
        if isinstance(node, yaml.ScalarNode) and _NOT_PRINTABLE.search(node.value):
            ch = _NOT_PRINTABLE.search(node.value).group()  # type: ignore[union-attr]
            raise _Limit("printable text (no escaped control characters or lone surrogates)", "text",
                         node.start_mark.line + 1, f"U+{ord(ch):04X}")
        if done:
            on_path.discard(key)
            size[key] = 1 + sum(size[id(c)] for c in children)
            depth[key] = 1 + max((depth[id(c)] for c in children), default=0)
            if size[key] > MAX_NODES:
                raise _Limit(f"at most {MAX_NODES:,} values once aliases are expanded", "aliases",
                             node.start_mark.line + 1, f"more than {MAX_NODES:,} values")
            if depth[key] > MAX_DEPTH:
                raise _Limit(f"at most {MAX_DEPTH} levels of nesting once aliases are expanded", "nesting",
                             node.start_mark.line + 1, f"more than {MAX_DEPTH} levels")
            continue
        if key in size:
            continue
        if key in on_path:
            raise _Limit(_RECURSIVE, "aliases", node.start_mark.line + 1, "a recursive alias")
        on_path.add(key)
        stack.append((node, True))
        for c in children:
            if id(c) in on_path:
                raise _Limit(_RECURSIVE, "aliases", c.start_mark.line + 1, "a recursive alias")
            if id(c) not in size:
                stack.append((c, False))


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _key_text(node: yaml.Node) -> str:
    return node.value if isinstance(node, yaml.ScalarNode) else f"<{node.id} key>"


def _record_lines(node: yaml.Node, path: FieldPath, lm: LineMap) -> None:
    """Line of every key and item; a key given twice in one mapping is refused (merge keys ``<<`` may be
    overridden, as YAML specifies)."""
    if isinstance(node, yaml.MappingNode):
        merged: list[yaml.Node] = []
        for key_node, value_node in node.value:
            key = _key_text(key_node)
            if key == "<<" and isinstance(key_node, yaml.ScalarNode):
                merged += value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
                continue
            p = (*path, key)
            if p in lm.lines:
                raise PlanError(field_name(p, lm.root), key, f"each key once in a mapping (already given on line "
                                f"{lm.lines[p]})", file=lm.file, line=key_node.start_mark.line + 1)
            lm.lines[p] = key_node.start_mark.line + 1
            _record_lines(value_node, p, lm)
        for m in merged:
            if not isinstance(m, yaml.MappingNode):
                continue
            for key_node, value_node in m.value:
                p = (*path, _key_text(key_node))
                if p not in lm.lines:
                    lm.lines[p] = key_node.start_mark.line + 1
                    _record_lines(value_node, p, lm)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            p = (*path, i)
            lm.lines[p] = item.start_mark.line + 1
            _record_lines(item, p, lm)


def _json_tabs(text: str) -> str:
    """A JSON document may separate tokens with tabs, which YAML refuses; in valid JSON a raw tab can only be
    whitespace (tabs inside strings are written ``\\t``), so it becomes a space."""
    stripped = text.lstrip()
    return text.replace("\t", " ") if stripped[:1] in ("{", "[") and "\t" in text else text


def read_yaml(text: str, *, file: str) -> tuple[Any, LineMap]:
    """Parse one YAML (or JSON) document: ``(data, LineMap)``; ``file`` names it in errors.

    An empty document gives ``None``. Every refusal is a :class:`PlanError` with the file and, where one
    exists, the line.
    """
    text = _json_tabs(check_text(text, file=file))
    lm = LineMap(file)
    loader = None
    try:
        loader = _Loader(text)
        node = loader.get_single_node()
        if node is None:
            return None, lm
        _expanded_size(node)
        _record_lines(node, (), lm)
        data = loader.construct_document(node)
    except _Limit as exc:
        raise PlanError(f"<yaml {exc.what}>", exc.value, exc.allowed, file=file, line=exc.line) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = (exc.problem or exc.context or str(exc)).strip()
        if "expected a single document" in str(exc.context or ""):
            raise PlanError("<yaml>", "a second document (---)", "one YAML document per file", file=file,
                            line=line) from None
        syntax = ("valid JSON (check brackets, commas and quotes)" if file.lower().endswith(".json")
                  else "valid YAML (check indentation, colons and quotes)")
        raise PlanError("<yaml>", problem, syntax, file=file, line=line) from None
    except yaml.YAMLError as exc:
        raise PlanError("<yaml>", str(exc).strip(), "valid YAML", file=file) from None
    except (ValueError, TypeError, OverflowError, ArithmeticError) as exc:  # e.g. "!!timestamp 2025-02-30"
        raise PlanError("<yaml>", str(exc).strip(), "values YAML can construct (remove the explicit !!tag)",
                        file=file) from None
    except RecursionError:  # guarded by MAX_DEPTH; kept so that no input can give a traceback
        raise PlanError("<yaml nesting>", "too deep", f"at most {MAX_DEPTH} levels of nesting", file=file) from None
    finally:
        if loader is not None:
            loader.dispose()
    return data, lm
