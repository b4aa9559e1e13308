"""Questionnaires recorded item by item: PHQ-9 and GAD-7. Totals are computed here, never typed.

Each item is answered 0-3 for the last two weeks: 0 not at all, 1 several days, 2 more than half the
days, 3 nearly every day. ``total = sum(items)``.

* PHQ-9 (Kroenke, Spitzer & Williams 2001 J Gen Intern Med 16:606): 0-27; bands 0-4 none or minimal,
  5-9 mild, 10-14 moderate, 15-19 moderately severe, 20-27 severe (LOINC answer list LL382-3). Item 9
  (thoughts of being better off dead or of self-harm) above 0 is the safety item.
* GAD-7 (Spitzer, Kroenke, Williams & Lowe 2006 Arch Intern Med 166:1092): 0-21; bands 0-4 minimal,
  5-9 mild, 10-14 moderate, 15-21 severe. Recorded and charted; the forecast uses the PHQ-9 only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ketasim.clinic.db import ClinicError

ANSWERS = ("not at all", "several days", "more than half the days", "nearly every day")


@dataclass(frozen=True)
class Instrument:
    name: str
    items: tuple[str, ...]
    bands: tuple[tuple[int, str], ...]  # (lowest total, label), ascending
    safety_item: int | None = None  # 0-based index of an item whose non-zero answer raises an alert

    @property
    def max_total(self) -> int:
        return 3 * len(self.items)

    def band(self, total: int) -> str:
        label = self.bands[0][1]
        for low, name in self.bands:
            if total >= low:
                label = name
        return label


PHQ9 = Instrument(
    "PHQ-9",
    ("Little interest or pleasure in doing things",
     "Feeling down, depressed, or hopeless",
     "Trouble falling or staying asleep, or sleeping too much",
     "Feeling tired or having little energy",
     "Poor appetite or overeating",
     "Feeling bad about yourself, or that you are a failure or have let yourself or your family down",
     "Trouble concentrating on things, such as reading the newspaper or watching television",
     "Moving or speaking so slowly that other people could have noticed, or being so fidgety or restless that "
     "you have been moving around a lot more than usual",
     "Thoughts that you would be better off dead, or of hurting yourself in some way"),
    ((0, "none or minimal"), (5, "mild"), (10, "moderate"), (15, "moderately severe"), (20, "severe")),
    safety_item=8,
)
GAD7 = Instrument(
    "GAD-7",
    ("Feeling nervous, anxious, or on edge",
     "Not being able to stop or control worrying",
     "Worrying too much about different things",
     "Trouble relaxing",
     "Being so restless that it is hard to sit still",
     "Becoming easily annoyed or irritable",
     "Feeling afraid as if something awful might happen"),
    ((0, "minimal"), (5, "mild"), (10, "moderate"), (15, "severe")),
)
INSTRUMENTS: dict[str, Instrument] = {i.name: i for i in (PHQ9, GAD7)}


def instrument(name: Any) -> Instrument:
    """The instrument called ``name``; a :class:`ClinicError` names the allowed ones."""
    if isinstance(name, str):
        key = name.strip().upper().replace(" ", "").replace("PHQ9", "PHQ-9").replace("GAD7", "GAD-7")
        if key in INSTRUMENTS:
            return INSTRUMENTS[key]
    raise ClinicError(f"instrument = {name!r}: allowed {' or '.join(INSTRUMENTS)}", field="instrument")


def checked_items(inst: Instrument, items: Any) -> list[int]:
    """The answers as a list of integers 0-3, one per item, or a :class:`ClinicError` naming the item."""
    n = len(inst.items)
    if not isinstance(items, Sequence) or isinstance(items, str | bytes):
        raise ClinicError(f"items = {items!r}: allowed a list of {n} answers (0-3), one per {inst.name} item",
                          field="items")
    if len(items) != n:
        raise ClinicError(f"items: {len(items)} answers given: allowed exactly {n} for the {inst.name}", field="items")
    out = []
    for k, v in enumerate(items):
        if isinstance(v, bool) or not isinstance(v, int | float) or v != int(v) or not 0 <= v <= 3:
            raise ClinicError(f"items[{k}] (item {k + 1}) = {v!r}: allowed 0, 1, 2 or 3 "
                              f"({', '.join(f'{i} {a}' for i, a in enumerate(ANSWERS))})", field=f"items[{k}]")
        out.append(int(v))
    return out


def total(inst: Instrument, items: Sequence[int]) -> int:
    """The total score: the sum of the checked answers."""
    return sum(checked_items(inst, items))
