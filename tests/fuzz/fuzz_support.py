"""What every fuzz test of an input file shares: the budget (CI or long), the 30 s limit per input, the
verdict on each input (a clean refusal or a finite, in-range result), and mutators of values and text.

An input passes when it is refused with a :class:`~ketasim.errors.KetasimError`, or accepted with a result
that is finite and in range (MADRS 0-60, concentrations >= 0) and doses within the published limits unless
the input says ``allow_off_label``, all within :data:`SECONDS_PER_INPUT`. Any other exception, a hang or a
bad result fails the test, and hypothesis shrinks the input to a small example.

Budgets: the CI share (``CI_EXAMPLES``, seeded and derandomized) runs with the default suite; the long
version (``LONG_EXAMPLES`` inputs per input kind) is marked ``fuzz_long``: ``pytest -m fuzz_long tests/fuzz -s``.
"""

from __future__ import annotations

import math
import signal
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ketasim.dosing.limits import check_dose
from ketasim.dosing.plan import Plan
from ketasim.errors import KetasimError

SECONDS_PER_INPUT = 30.0
CI_EXAMPLES = 40  # per test; six tests (plans x2, histories x2, study files, start files): 240 inputs
LONG_EXAMPLES = 500  # per test: 1,000 per input kind (two tests per kind)
MIN_ACCEPTED_SHARE = 0.05  # a generator that never produces a valid input tests nothing


def fuzz_settings(examples: int) -> settings:
    """Seeded, derandomized, no example database, no deadline (the 30 s limit is ours)."""
    return settings(max_examples=examples, derandomize=True, database=None, deadline=None, print_blob=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much, HealthCheck.large_base_example])


class Hang(AssertionError):
    """An input took longer than :data:`SECONDS_PER_INPUT`."""


@contextmanager
def time_limit(seconds: float = SECONDS_PER_INPUT) -> Iterator[None]:
    """Raise :class:`Hang` in the main thread after ``seconds`` (checked at the next Python bytecode)."""
    def alarm(signum: int, frame: Any) -> None:
        raise Hang(f"input still running after {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0.0)
        signal.signal(signal.SIGALRM, previous)


class Tally:
    """Counts of refused and accepted inputs of one test, and the slowest input."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.counts: Counter[str] = Counter()
        self.when_used: Counter[str] = Counter()  # messages of refusals while the input was used
        self.slowest = 0.0
        self.t0 = time.perf_counter()

    def run(self, attempt: Callable[[], Any], check: Callable[[Any], None]) -> None:
        """``attempt()`` (reading the input) must refuse cleanly or return what ``check`` uses (simulating
        it) and accepts, within the time limit; a clean refusal while it is used counts as a refusal too (for
        example a load the baseline cannot explain with the parameters in force)."""
        t0 = time.perf_counter()
        stage = "refused"
        with time_limit():
            try:
                result = attempt()
                stage = "refused when used"
                check(result)
            except KetasimError as exc:
                assert str(exc).strip(), "a refusal must say what is wrong"
                self.counts[stage] += 1
                if stage == "refused when used":
                    self.when_used[str(exc)[:160]] += 1
            else:
                self.counts["accepted"] += 1
        self.slowest = max(self.slowest, time.perf_counter() - t0)

    def report(self) -> str:
        n = sum(self.counts.values())
        return (f"{self.name}: {n} inputs, {self.counts['accepted']} accepted, {self.counts['refused']} refused "
                f"cleanly when read, {self.counts['refused when used']} when used, slowest {self.slowest:.2f} s, "
                f"total {time.perf_counter() - self.t0:.1f} s")

    def finish(self) -> None:
        print("\n" + self.report())
        for message, n in self.when_used.most_common(5):
            print(f"  refused when used ({n}x): {message}")
        n = sum(self.counts.values())
        assert n > 0 and self.counts["accepted"] >= MIN_ACCEPTED_SHARE * n, self.report()


def fuzz_files(name: str, path: Path, files: st.SearchStrategy, read: Callable[..., Any],
               check: Callable[[Any], None], examples: int) -> None:
    """Write each generated file (bytes, or ``(bytes, keyword arguments of read)``) to ``path``, read it and
    check what was read; then report and require some accepted inputs."""
    tally = Tally(name)

    @fuzz_settings(examples)
    @given(files)
    def one(case: Any) -> None:
        data, kwargs = case if isinstance(case, tuple) else (case, {})
        path.write_bytes(data)
        tally.run(lambda: read(path, **kwargs), check)

    one()
    tally.finish()


# --- checks of accepted inputs ---------------------------------------------------------------------------------

def check_plan_doses(plan: Plan) -> None:
    """No dose above the published limits unless the plan says ``allow_off_label``."""
    if plan.allow_off_label:
        return
    for d in plan.doses:
        assert check_dose(d, weight_kg=plan.patient.weight_kg) == [], (d, plan.patient.weight_kg)


def check_madrs(values: Any, what: str = "MADRS") -> None:
    m = np.asarray(values, dtype=float)
    assert np.all(np.isfinite(m)), f"{what}: not finite"
    assert m.min(initial=0.0) >= -1e-9 and m.max(initial=0.0) <= 60.0 + 1e-9, f"{what}: outside 0-60"


def check_trajectory(plan: Plan) -> None:
    """Simulate ``plan``: every column finite, concentrations >= 0, MADRS 0-60; doses within limits."""
    from ketasim.simulate import simulate

    check_plan_doses(plan)
    table = simulate(plan).table
    numbers = table.select_dtypes("number")
    assert np.all(np.isfinite(numbers.to_numpy())), "trajectory: not finite"
    for col in ("concentration_ng_ml", "norketamine_ng_ml", "effect_site_ng_ml"):
        assert table[col].min() >= -1e-9, f"{col} < 0"
    check_madrs(table["madrs"])


# --- mutators --------------------------------------------------------------------------------------------------

ODD_VALUES: tuple[Any, ...] = (
    None, True, False, 0, -1, 1, 0.5, 17.5, -3650.5, 3650, 3651, 10**9, 10**30, 1e308, -1e308, math.nan, math.inf,
    -math.inf, "", "x", "0000-01-01", "9999-12-31", "2025-02-30", "2025-01-06 25:99", "25:99", "1e400", "a\x00b",
    "é" * 3, "x" * 300, [], {}, [1, 2], {"a": 1}, "5 mg/kg", "1000 mg", "-0.5 mg/kg", "0 mg", "1e9 days", "Mon",
)
CONTROL_CHARS = ("\x00", "\x07", "\x1b", "\x7f", "\x85", "\ufffe", "\t", "\r")


def _how_many(most: int) -> st.SearchStrategy[int]:
    """0 (half the time) to ``most`` mutations, so that valid inputs reach the later stages too."""
    return st.sampled_from([0] * most + list(range(1, most + 1)))


def paths(tree: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path to a value of a tree of dicts and lists (the root excluded)."""
    out: list[tuple] = []
    items = tree.items() if isinstance(tree, dict) else enumerate(tree) if isinstance(tree, list) else ()
    for k, v in items:
        out.append((*prefix, k))
        out += paths(v, (*prefix, k))
    return out


def _parent(tree: Any, path: tuple) -> Any:
    for k in path[:-1]:
        tree = tree[k]
    return tree


TREE_EDITS = ("value", "value", "value", "delete", "add", "repeat")


@st.composite
def mutated_tree(draw: Any, tree: Any, odd: tuple[Any, ...] = ODD_VALUES, max_mutations: int = 3,
                 edits: tuple[str, ...] = TREE_EDITS) -> Any:
    """``tree`` with 0 to ``max_mutations`` changes: a value replaced by an odd one, a key deleted, an
    unknown key added, or a list item repeated (``edits``: the kinds of change allowed)."""
    import copy

    tree = copy.deepcopy(tree)
    for _ in range(draw(_how_many(max_mutations))):
        every = paths(tree)
        if not every:
            break
        path = every[draw(st.integers(0, len(every) - 1))]
        parent = _parent(tree, path)
        how = draw(st.sampled_from(edits))
        if how == "value":
            parent[path[-1]] = copy.deepcopy(draw(st.sampled_from(odd)))
        elif how == "delete":
            del parent[path[-1]]
        elif how == "add" and isinstance(parent, dict):
            parent[draw(st.sampled_from(["extra", "dose", "day", "kind", "value"]))] = draw(st.sampled_from(odd))
        elif how == "repeat" and isinstance(parent, list):
            parent.append(copy.deepcopy(parent[path[-1]]))
    return tree


@st.composite
def mutated_text(draw: Any, text: str, max_mutations: int = 2) -> str:
    """``text`` with 0 to ``max_mutations`` edits: a control character, a deleted span, a repeated line (a
    duplicate key), a truncation, an alias bomb, deep nesting, a byte-order mark, a re-indented line."""
    for _ in range(draw(_how_many(max_mutations))):
        n = len(text)
        at = draw(st.integers(0, n))
        how = draw(st.sampled_from(["control", "delete", "line", "truncate", "bomb", "nest", "bom", "indent",
                                    "quote", "colon"]))
        lines = text.split("\n")
        k = draw(st.integers(0, max(len(lines) - 1, 0)))
        if how == "control":
            text = text[:at] + draw(st.sampled_from(CONTROL_CHARS)) + text[at:]
        elif how == "delete":
            text = text[:at] + text[at + draw(st.integers(1, 20)):]
        elif how == "line" and lines:
            text = "\n".join(lines[:k + 1] + [lines[k]] + lines[k + 1:])
        elif how == "truncate":
            text = text[:at]
        elif how == "bomb":
            levels = ["b0: &b0 [x, x, x, x, x, x, x, x, x, x]"]
            levels += [f"b{j}: &b{j} [" + ", ".join([f"*b{j - 1}"] * 10) + "]" for j in range(1, 8)]
            text = "\n".join(levels) + "\n" + text
        elif how == "nest":
            depth = draw(st.sampled_from([40, 1000]))
            text = text + "\nextra: " + "[" * depth + "]" * depth + "\n"
        elif how == "bom":
            text = "\ufeff" + text
        elif how == "indent" and lines:
            lines[k] = draw(st.sampled_from(["  ", "\t", " "])) + lines[k]
            text = "\n".join(lines)
        elif how == "quote":
            text = text[:at] + '"' + text[at:]
        elif how == "colon":
            text = text.replace(":", " ", 1) if draw(st.booleans()) else text[:at] + ": :" + text[at:]
    return text


MUTATIONS = ("none", "none", "tree", "tree", "text", "both")  # a third of the inputs reach the later stages


@st.composite
def mutated_file(draw: Any, tree: Any, dump: Callable[[Any], str], odd: tuple[Any, ...] = ODD_VALUES,
                 edits: tuple[str, ...] = TREE_EDITS,
                 encodings: tuple[str, ...] = ("utf-8", "utf-8", "utf-8", "utf-8-sig", "latin-1", "utf-16")) -> bytes:
    """The bytes of ``dump(tree)``, left as they are, or with the tree mutated, the text mutated, or both;
    then encoded (a mutated input also in another encoding)."""
    how = draw(st.sampled_from(MUTATIONS))
    if how in ("tree", "both"):
        tree = draw(mutated_tree(tree, odd=odd, edits=edits))
    text = dump(tree)
    if how in ("text", "both"):
        text = draw(mutated_text(text))
    return encoded(text, "utf-8" if how == "none" else draw(st.sampled_from(encodings)))


def encoded(text: str, encoding: str) -> bytes:
    """``text`` as a file's bytes; characters the encoding lacks become '?'."""
    return text.encode(encoding, errors="replace")
