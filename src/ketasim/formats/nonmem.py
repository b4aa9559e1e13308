"""NONMEM-format datasets: dose and observation records in, plans and histories out, and back.

A dataset is a CSV file (or whitespace-separated, as NONMEM writes tables) with one header row and
one record per row; lines starting with ``#`` are comments. Column names are case-insensitive. The
columns ketasim reads (``docs/nonmem-format.md`` has the full tables and examples):

    ID      patient identifier (rows of one ID together)
    TIME    hours since time zero (``--start``), or with DATE: the clock time HH:MM
    DATE    the calendar date (YYYY-MM-DD, or NONMEM's MM/DD/YYYY); DAT1 = DD/MM/YYYY, DAT2 = YYYY/MM/DD
    EVID    0 observation, 1 dose, 2 other (no dose, no observation), 3 reset, 4 reset and dose
            (default: 1 where AMT > 0, else 0)
    AMT     dose in mg
    RATE    infusion rate in mg/h (duration AMT / RATE); 0 or empty: bolus; -1 and -2 (rate or
            duration estimated by a model) are refused: ketasim has no such parameter
    DUR     infusion duration in hours (rate AMT / DUR); with RATE both must agree within 1% (RATE is used)
    CMT     compartment: 1 depot (extravascular dose), 2 central (IV dose); observations without a
            SCALE column: 3 MADRS, 4 PHQ-9, 5 QIDS-SR16, 6 HDRS-17
    II      interdose interval in hours (with ADDL or SS)
    ADDL    additional doses like this one, every II hours after it (ADDL + 1 doses in all)
    SS      0 no steady state; 1 steady state (the system is reset, then the regimen AMT every II
            has run for :data:`SS_LEAD_IN_DAYS` days before this dose); 2 steady state added to the
            prior doses (no reset)
    MDV     1: no observation on this row
    DV      the observed total score (on SCALE, or on the scale of CMT)
    SCALE   MADRS, PHQ-9, QIDS-SR16 or HDRS-17
    ROUTE   iv, im, oral, sublingual or intranasal (default: iv for CMT 2, oral for CMT 1)
    DRUG    racemic or esketamine (default racemic; intranasal: esketamine)
    PHASE   induction or maintenance (default induction)
    WT AGE SEX BMADRS LOAD   covariates: see :data:`COVARIATES`

Semantics follow NONMEM and rxode2's event tables: ADDL repeats a dose ADDL more times at II; a
rate gives the duration ``AMT / RATE``, a duration the rate ``AMT / DUR``; a reset (EVID 3, 4, or
an SS=1 dose after earlier doses) returns the patient to the untreated state, so what follows is a
new occasion with its own plan and history. Rows at the same time keep their order (an observation
listed before a dose is a trough). Every malformed row is a :class:`~ketasim.errors.PlanError`
naming the file, the line, the column, the value and what is allowed; dose limits go through
:mod:`ketasim.dosing.limits` (one call, in :func:`_checked_plan`).

The writer (:func:`subject_records`, :func:`write_nonmem`) writes dose rows (EVID 1, MDV 1) and
observation rows (EVID 0, MDV 0, DV on the chosen scale) that :func:`read_nonmem` reads back.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from ketasim.dosing.plan import Dose, Patient, Plan
from ketasim.errors import PlanError

# --- documented tables -----------------------------------------------------------------------------------

#: Dose compartments: CMT -> (default route, what it is).
DOSE_CMT: dict[int, tuple[str, str]] = {
    1: ("oral", "depot: extravascular doses (oral, sublingual, IM, intranasal; ROUTE says which, default oral)"),
    2: ("iv", "central: intravenous doses (infusions by RATE or DUR, or a bolus)"),
}
#: Observation compartments used when there is no SCALE column: CMT -> scale key.
OBS_CMT: dict[int, str] = {3: "madrs", 4: "phq9", 5: "qids_sr16", 6: "hdrs17"}
#: Observation compartments the writer uses (HDRS-21, a study's scale, is written but not read: histories
#: hold the four scales above).
SCALE_CMT: dict[str, int] = {**{v: k for k, v in OBS_CMT.items()}, "hdrs21": 7}
#: Covariate columns -> the :class:`~ketasim.dosing.plan.Patient` field they fill, with unit and rule.
COVARIATES: dict[str, tuple[str, str]] = {
    "WT": ("weight_kg", "body weight in kg (required; the same on every row of an ID that gives it)"),
    "AGE": ("age", "age in years"),
    "SEX": ("sex", "0 or M = male, 1 or F = female (text: male, female)"),
    "BMADRS": ("baseline_madrs", "untreated MADRS (default: the last observation before the first dose, "
                                 "converted to MADRS; else 33)"),
    "LOAD": ("chronic_load", "chronic load, 0-3 (default 0.5)"),
}
SEX_CODES: dict[str, str] = {"0": "male", "m": "male", "male": "male", "1": "female", "f": "female",
                             "female": "female"}
EVIDS: dict[int, str] = {0: "observation", 1: "dose", 2: "other (no dose, no observation)", 3: "reset",
                         4: "reset and dose"}
ROUTES: tuple[str, ...] = ("iv", "im", "oral", "sublingual", "intranasal")
DRUGS: tuple[str, ...] = ("racemic", "esketamine")
PHASES: tuple[str, ...] = ("induction", "maintenance")
DATE_FORMATS: dict[str, tuple[str, ...]] = {
    "DATE": ("%Y-%m-%d", "%m/%d/%Y"), "DAT1": ("%d/%m/%Y",), "DAT2": ("%Y/%m/%d",),
}
KNOWN_COLUMNS: tuple[str, ...] = ("ID", "TIME", "DATE", "DAT1", "DAT2", "EVID", "AMT", "RATE", "DUR", "CMT", "II",
                                  "ADDL", "SS", "MDV", "DV", "SCALE", "ROUTE", "DRUG", "PHASE", *COVARIATES)
#: Columns written by :func:`write_nonmem`, in this order (those absent from every record are left out).
WRITE_COLUMNS: tuple[str, ...] = ("ID", "DATE", "TIME", "EVID", "AMT", "RATE", "CMT", "MDV", "DV", "SCALE", "ROUTE",
                                  "DRUG", "PHASE", "WT", "AGE", "SEX", "BMADRS", "LOAD", "STUDY", "ARM")

SS_LEAD_IN_DAYS = 182.0
"""An SS dose stands for this many days of the regimen before it (26 weeks): the exposure is then at
its steady state to machine precision and the slow response states (tolerance, synapses) have had
half a year on the regimen, as a patient "on stable maintenance" has. Status: assumed."""
MAX_TIME_H = 3650.0 * 24.0  # ten years, the longest plan horizon
MAX_DOSES_PER_OCCASION = 5000  # as plan-file series (ketasim.dosing.series.MAX_DATES)
MAX_ROWS = 2_000_000
MAX_INFUSION_H = 168.0  # an infusion longer than a week is a typing error
MAX_AMT_MG = 100_000.0  # far above any dose the limits allow; keeps arithmetic finite
DEFAULT_START = dt.datetime(2025, 1, 6)
_MISSING = ("", ".")


# --- parsed rows --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Record:
    """One data row, checked on its own. ``line`` is the line of the file (the header is line 1 unless
    comments precede it); ``when`` the row's date-time."""

    line: int
    id: str
    when: dt.datetime
    evid: int
    amt: float | None = None
    rate: float | None = None
    dur_h: float | None = None
    cmt: int | None = None
    ii_h: float = 0.0
    addl: int = 0
    ss: int = 0
    dv: float | None = None
    scale: str | None = None
    route: str | None = None
    drug: str | None = None
    phase: str | None = None
    covariates: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ImportedPatient:
    """One ID (one occasion of it, after a reset): its plan, its history (None without observations),
    the dataset lines it came from and notes a person should read (defaults that were used)."""

    id: str
    occasion: int
    plan: Plan
    history: Any  # ketasim.planning.history.PatientHistory | None
    lines: tuple[int, ...]
    notes: tuple[str, ...] = ()

    @property
    def stem(self) -> str:
        """File name stem: ``id-<ID>`` (``id-<ID>-occasion<k>`` when the ID has several occasions)."""
        safe = re.sub(r"[^A-Za-z0-9._-]", "_", self.id)
        return f"id-{safe}" if self.occasion == 0 else f"id-{safe}-occasion{self.occasion}"


@dataclass(frozen=True)
class NonmemDataset:
    """A validated dataset: one :class:`ImportedPatient` per ID and occasion, and the columns not used."""

    patients: tuple[ImportedPatient, ...]
    unused_columns: tuple[str, ...]
    source: str
    time_zero: dt.datetime | None  # None when the dataset gives dates


# --- reading ------------------------------------------------------------------------------------------------

class _Rows:
    """Error helper bound to the file name."""

    def __init__(self, file: str) -> None:
        self.file = file

    def error(self, line: int | None, column: str, value: Any, allowed: str) -> PlanError:
        return PlanError(column, value, allowed, file=self.file, line=line)


def _split(text: str, src: _Rows) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """Header and data rows (with their file lines), comma- or whitespace-separated."""
    lines = text.splitlines()
    kept = [(n + 1, ln) for n, ln in enumerate(lines) if ln.strip() and not ln.lstrip().startswith("#")]
    if not kept:
        raise src.error(1, "header", "empty file", "a header row naming the columns, e.g. ID,TIME,AMT,EVID,DV")
    if len(kept) - 1 > MAX_ROWS:
        raise src.error(None, "rows", len(kept) - 1, f"at most {MAX_ROWS:,} data rows per file")
    comma = "," in kept[0][1]
    rows: list[list[str]] = []
    for line, text_line in kept:
        if not comma:
            rows.append(text_line.split())
            continue
        try:  # one line at a time: a quote never swallows the next lines
            rows.append(next(csv.reader([text_line], strict=True)))
        except csv.Error as exc:
            raise src.error(line, "row", text_line[:80],
                            f"comma-separated fields with balanced quotes ({exc})") from None
    header = [h.strip().upper() for h in rows[0]]
    line0 = kept[0][0]
    seen: set[str] = set()
    for h in header:
        if not h:
            raise src.error(line0, "header", ",".join(rows[0]), "a name for every column")
        if h in seen:
            raise src.error(line0, "header", h, "each column once")
        seen.add(h)
    for need in ("ID",):
        if need not in header:
            raise src.error(line0, "header", ",".join(rows[0]), f"the columns ID and TIME (missing {need})")
    if "TIME" not in header:
        raise src.error(line0, "header", ",".join(rows[0]), "the columns ID and TIME (missing TIME)")
    dates = [h for h in header if h in DATE_FORMATS]
    if len(dates) > 1:
        raise src.error(line0, "header", ", ".join(dates), "one date column: DATE, DAT1 or DAT2")
    if "DV" in header and "SCALE" not in header and "CMT" not in header:
        raise src.error(line0, "header", ",".join(rows[0]), "a SCALE column (MADRS, PHQ-9, QIDS-SR16, HDRS-17) or a "
                        "CMT column (3 MADRS, 4 PHQ-9, 5 QIDS-SR16, 6 HDRS-17) to say what DV measures")
    data = []
    for (line, _), row in zip(kept[1:], rows[1:], strict=True):
        if len(row) != len(header):
            raise src.error(line, "row", ",".join(row)[:80], f"{len(header)} fields, one per column of the header "
                            f"(this row has {len(row)})")
        data.append((line, row))
    return header, data


def _text(rec: dict[str, str], col: str) -> str | None:
    v = rec.get(col)
    if v is None:
        return None
    v = v.strip()
    return None if v in _MISSING else v


def _number(rec: dict[str, str], col: str, line: int, src: _Rows, allowed: str) -> float | None:
    v = _text(rec, col)
    if v is None:
        return None
    try:
        x = float(v)
    except ValueError:
        raise src.error(line, col, v, allowed) from None
    if not math.isfinite(x):
        raise src.error(line, col, v, allowed)
    return x


def _whole(rec: dict[str, str], col: str, line: int, src: _Rows, allowed: str, choices: Iterable[int] | None = None,
           low: int | None = None, high: int | None = None) -> int | None:
    x = _number(rec, col, line, src, allowed)
    if x is None:
        return None
    if x != math.floor(x) or (choices is not None and int(x) not in set(choices)) or \
            (low is not None and x < low) or (high is not None and x > high):
        raise src.error(line, col, rec[col].strip(), allowed)
    return int(x)


def _when(rec: dict[str, str], header: list[str], line: int, src: _Rows, zero: dt.datetime) -> dt.datetime:
    date_col = next((h for h in header if h in DATE_FORMATS), None)
    t = _text(rec, "TIME")
    if date_col is None:
        hours = _number(rec, "TIME", line, src, f"hours since time zero ({zero:%Y-%m-%d %H:%M}), 0 to {MAX_TIME_H:g}")
        if hours is None or not 0 <= hours <= MAX_TIME_H:
            raise src.error(line, "TIME", rec.get("TIME", "").strip(),
                            f"hours since time zero ({zero:%Y-%m-%d %H:%M}), 0 to {MAX_TIME_H:g} (10 years)")
        return zero + dt.timedelta(hours=hours)
    d = _text(rec, date_col)
    formats = DATE_FORMATS[date_col]
    shown = " or ".join(f.replace("%Y", "YYYY").replace("%m", "MM").replace("%d", "DD") for f in formats)
    if d is None:
        raise src.error(line, date_col, rec.get(date_col, ""), f"a date {shown} on every row")
    date = None
    for f in formats:
        try:
            date = dt.datetime.strptime(d, f)
            break
        except ValueError:
            continue
    if date is None or not 1900 <= date.year <= 2200:
        raise src.error(line, date_col, d, f"a real date {shown} between 1900 and 2200")
    m = re.fullmatch(r"(\d{1,2}):(\d{2})(?::(\d{2}))?", t or "")
    if m is None or int(m.group(1)) > 23 or int(m.group(2)) > 59 or int(m.group(3) or 0) > 59:
        raise src.error(line, "TIME", t, f"a clock time HH:MM (00:00-23:59) with a {date_col} column")
    return date.replace(hour=int(m.group(1)), minute=int(m.group(2)), second=int(m.group(3) or 0))


def _record(rec: dict[str, str], header: list[str], line: int, src: _Rows, zero: dt.datetime) -> Record:
    """Parse and check one row on its own (combinations within the row included)."""
    from ketasim.planning.history import SCALE_NAMES, SCALE_RANGES, scale_key

    pid = _text(rec, "ID")
    if pid is None:
        raise src.error(line, "ID", rec.get("ID", ""), "a patient identifier on every row")
    if re.fullmatch(r"[-+]?\d+\.0*", pid):
        pid = str(int(float(pid)))  # NONMEM writes 1.0 for ID 1
    when = _when(rec, header, line, src, zero)
    amt = _number(rec, "AMT", line, src, f"a dose in mg (above 0, at most {MAX_AMT_MG:g}), or 0 / '.' on other rows")
    if amt is not None and not 0 <= amt <= MAX_AMT_MG:
        raise src.error(line, "AMT", rec["AMT"].strip(), f"a dose in mg above 0 (at most {MAX_AMT_MG:g}), "
                        "or 0 / '.' on other rows")
    evid = _whole(rec, "EVID", line, src, "; ".join(f"{k} {v}" for k, v in EVIDS.items()), choices=EVIDS)
    mdv = _whole(rec, "MDV", line, src, "0 (DV observed) or 1 (no observation)", choices=(0, 1))
    dv = _number(rec, "DV", line, src, "a total score (a number), or '.' when missing")
    if evid is None:
        evid = 1 if amt else 0
    if evid in (1, 4) and not amt:
        raise src.error(line, "AMT", rec.get("AMT", "").strip() or "(empty)",
                        f"a dose above 0 mg on a dose row (EVID {evid})")
    if evid in (0, 2, 3) and amt:
        raise src.error(line, "AMT", rec["AMT"].strip(), f"0 or '.' on a row with EVID {evid} ({EVIDS[evid]}); "
                        "a dose needs EVID 1 or 4")
    if evid != 0 and mdv == 0:
        raise src.error(line, "MDV", 0, f"1 or '.' on a row with EVID {evid} ({EVIDS[evid]}): only EVID 0 rows "
                        "carry an observation")
    rate = _number(rec, "RATE", line, src, "an infusion rate in mg/h above 0, or 0 / '.' for a bolus")
    dur = _number(rec, "DUR", line, src, "an infusion duration in hours above 0, or 0 / '.' for a bolus")
    cmt = _whole(rec, "CMT", line, src, "a compartment number (1 depot, 2 central, 3-6 scores)", low=1, high=99)
    ii = _number(rec, "II", line, src, f"an interdose interval in hours, 0 to {MAX_TIME_H:g}")
    addl = _whole(rec, "ADDL", line, src, f"a whole number of additional doses, 0 to {MAX_DOSES_PER_OCCASION}",
                  low=0, high=MAX_DOSES_PER_OCCASION)
    ss = _whole(rec, "SS", line, src, "0 (none), 1 (steady state) or 2 (steady state added to prior doses)",
                choices=(0, 1, 2))
    if ii is not None and not 0 <= ii <= MAX_TIME_H:
        raise src.error(line, "II", rec["II"].strip(), f"an interdose interval in hours, 0 to {MAX_TIME_H:g}")
    ii, addl, ss = ii or 0.0, addl or 0, ss or 0
    route = (_text(rec, "ROUTE") or "").lower() or None
    drug = (_text(rec, "DRUG") or "").lower() or None
    phase = (_text(rec, "PHASE") or "").lower() or None
    scale_text = _text(rec, "SCALE")
    scale = None
    if evid in (1, 4):
        if rate is not None and rate < 0:
            raise src.error(line, "RATE", rec["RATE"].strip(), "an infusion rate in mg/h above 0, or 0 / '.' for a "
                            "bolus (RATE -1 and -2, a rate or duration estimated by a model, have no ketasim "
                            "parameter: give the rate or DUR)")
        if dur is not None and dur < 0:
            raise src.error(line, "DUR", rec["DUR"].strip(), "an infusion duration in hours above 0, or 0 / '.'")
        rate = rate or None
        dur = dur or None
        if rate is not None and dur is not None and abs(amt / rate - dur) > 0.01 * dur:  # type: ignore[operator]
            raise src.error(line, "DUR", rec["DUR"].strip(), f"AMT / RATE = {amt / rate:g} h (RATE and DUR agree "  # type: ignore[operator]
                            "within 1%), or only one of them")
        if rate is not None:  # with both (agreeing), RATE rules, as in NONMEM
            dur = amt / rate  # type: ignore[operator]
        if dur is not None and dur > MAX_INFUSION_H:
            col = "RATE" if rate is not None else "DUR"
            raise src.error(line, col, rec[col].strip(), f"an infusion of at most {MAX_INFUSION_H:g} h (AMT / RATE)")
        if route is not None and route not in ROUTES:
            raise src.error(line, "ROUTE", route, " | ".join(ROUTES))
        if cmt is not None and cmt not in DOSE_CMT:
            raise src.error(line, "CMT", cmt, "1 (depot: an extravascular dose) or 2 (central: an IV dose) on a dose "
                            "row")
        if route is None:
            route = DOSE_CMT[cmt][0] if cmt is not None else "iv"
        elif cmt is not None and (cmt == 2) != (route == "iv"):
            raise src.error(line, "CMT", cmt, f"{2 if route == 'iv' else 1} for ROUTE {route} (2 central = iv, "
                            "1 depot = the other routes)")
        if dur is not None and route != "iv":
            raise src.error(line, "RATE" if rate is not None else "DUR", rec.get("RATE" if rate is not None else "DUR"),
                            f"0 or '.' for ROUTE {route}: infusions are IV only (CMT 2)")
        if drug is None:
            drug = "esketamine" if route == "intranasal" else "racemic"
        if drug not in DRUGS:
            raise src.error(line, "DRUG", drug, " | ".join(DRUGS))
        if phase is not None:
            phase = {"1": "induction", "2": "maintenance"}.get(phase, phase)
            if phase not in PHASES:
                raise src.error(line, "PHASE", phase, "induction or maintenance (or 1, 2)")
        if (addl > 0 or ss > 0) and ii <= 0:
            raise src.error(line, "II", rec.get("II", "").strip() or "(empty)",
                            f"an interdose interval in hours above 0 with {'ADDL' if addl else 'SS'} "
                            f"{addl if addl else ss}")
        if addl * ii > MAX_TIME_H:
            raise src.error(line, "ADDL", addl, f"ADDL x II within {MAX_TIME_H:g} h (10 years): here {addl} x {ii:g} h")
        if addl == 0 and ss == 0 and ii > 0:
            raise src.error(line, "II", rec["II"].strip(), "0 or '.' without ADDL or SS (II is the interval of "
                            "repeated doses)")
    else:
        for col, value in (("RATE", rate), ("DUR", dur), ("ADDL", addl or None), ("SS", ss or None),
                           ("II", ii or None)):
            if value:
                raise src.error(line, col, rec[col].strip(), f"0 or '.' on a row with EVID {evid} ({EVIDS[evid]})")
        rate = dur = None
        if evid == 0 and mdv != 1 and dv is not None:
            if scale_text is not None:
                scale = scale_key(scale_text)
                if scale is None:
                    raise src.error(line, "SCALE", scale_text, "MADRS, PHQ-9, QIDS-SR16 or HDRS-17")
                if cmt is not None and cmt in OBS_CMT and OBS_CMT[cmt] != scale:
                    raise src.error(line, "CMT", cmt, f"{SCALE_CMT[scale]} for SCALE {scale_text} (or no CMT)")
            elif cmt in OBS_CMT:
                scale = OBS_CMT[cmt]
            else:
                raise src.error(line, "CMT" if scale_text is None and "SCALE" not in rec else "SCALE",
                                rec.get("CMT", rec.get("SCALE", "")).strip() or "(empty)",
                                "the scale of DV: a SCALE (MADRS, PHQ-9, QIDS-SR16, HDRS-17) or CMT 3 MADRS, 4 PHQ-9, "
                                "5 QIDS-SR16, 6 HDRS-17 (plasma concentrations are not read: set MDV 1)")
            lo, hi = SCALE_RANGES[scale]
            if not lo <= dv <= hi:
                raise src.error(line, "DV", rec["DV"].strip(), f"a {SCALE_NAMES[scale]} total score of {lo:g}-{hi:g}")
        else:
            dv = None
    covariates: dict[str, Any] = {}
    for col, (name, what) in COVARIATES.items():
        if col == "SEX":
            s = _text(rec, col)
            if s is not None:
                key = s.lower()
                if re.fullmatch(r"[01]\.0*", key):
                    key = key[0]  # NONMEM writes 1.0 for 1
                if key not in SEX_CODES:
                    raise src.error(line, col, s, what)
                covariates[name] = SEX_CODES[key]
            continue
        x = _number(rec, col, line, src, what)
        if x is not None:
            covariates[name] = x
    return Record(line=line, id=pid, when=when, evid=evid, amt=amt, rate=rate, dur_h=dur, cmt=cmt, ii_h=ii,
                  addl=addl, ss=ss, dv=dv, scale=scale, route=route, drug=drug, phase=phase, covariates=covariates)


@dataclass
class _Occasion:
    records: list[Record] = field(default_factory=list)
    start: dt.datetime | None = None  # midnight of the first record, moved back for an SS lead-in


def _occasions(records: list[Record], src: _Rows) -> list[_Occasion]:
    """Split one ID's rows at resets (EVID 3, 4, or an SS=1 dose after earlier doses); check time order.

    Within an occasion time never goes back; after EVID 3 or 4 it may start again (as NONMEM allows).
    """
    out: list[_Occasion] = [_Occasion()]
    last: Record | None = None
    for r in records:
        cur = out[-1]
        if r.evid not in (3, 4) and last is not None and r.when < last.when:
            raise src.error(r.line, "TIME", f"{r.when:%Y-%m-%d %H:%M}", f"a time on or after the previous row of ID "
                            f"{r.id} (line {last.line}, {last.when:%Y-%m-%d %H:%M}); only a reset (EVID 3 or 4) "
                            "may start the clock again")
        has_dose = any(x.evid in (1, 4) for x in cur.records)
        if cur.records and (r.evid in (3, 4) or (r.evid == 1 and r.ss == 1 and has_dose)):
            cur = _Occasion()
            out.append(cur)
        cur.records.append(r)
        last = r
    return out


def _used(occ: _Occasion) -> bool:
    """An occasion with a dose or an observation (one of only resets and other-type rows is dropped)."""
    return any(r.evid in (1, 4) or r.dv is not None for r in occ.records)


def _expanded_doses(occ: _Occasion, src: _Rows) -> list[tuple[dt.datetime, Record, str]]:
    """Every administration of the occasion: (time, its row, how it arose), in time order.

    ``ADDL`` adds doses at ``t + k II`` (k = 1..ADDL); ``SS`` adds the lead-in ``t - k II`` (k = 1..K,
    K = floor(SS_LEAD_IN_DAYS 24 / II)).
    """
    out: list[tuple[dt.datetime, Record, str]] = []
    for r in occ.records:
        if r.evid not in (1, 4):
            continue
        if r.ss:
            k_lead = int(math.floor(SS_LEAD_IN_DAYS * 24.0 / r.ii_h + 1e-9))
            if k_lead + r.addl + 1 > MAX_DOSES_PER_OCCASION:
                raise src.error(r.line, "II", r.ii_h, f"an interval giving at most {MAX_DOSES_PER_OCCASION} doses "
                                f"with the steady-state lead-in of {SS_LEAD_IN_DAYS:g} days")
            for k in range(k_lead, 0, -1):
                out.append((r.when - dt.timedelta(hours=k * r.ii_h), r, f"steady-state lead-in (SS {r.ss})"))
        out.append((r.when, r, "dose"))
        for k in range(1, r.addl + 1):
            out.append((r.when + dt.timedelta(hours=k * r.ii_h), r, f"additional dose {k} of {r.addl} (ADDL)"))
        if len(out) > MAX_DOSES_PER_OCCASION:
            raise src.error(r.line, "ADDL", r.addl, f"at most {MAX_DOSES_PER_OCCASION} doses per patient")
    out.sort(key=lambda x: x[0])
    return out


def _constant(occ_records: list[Record], name: str, src: _Rows) -> tuple[Any, int | None]:
    """The one value of a covariate on the rows that give it (a change is an error)."""
    first: tuple[Any, int] | None = None
    for r in occ_records:
        if name in r.covariates:
            v = r.covariates[name]
            if first is None:
                first = (v, r.line)
            elif v != first[0]:
                col = next(c for c, (n, _) in COVARIATES.items() if n == name)
                raise src.error(r.line, col, v, f"the same {col} on every row of ID {r.id} ({first[0]} on line "
                                f"{first[1]}): time-varying covariates are not read")
    return (None, None) if first is None else first


def _day(when: dt.datetime, start: dt.datetime) -> float:
    return round((when - start).total_seconds() / 86400.0, 9)


def _checked_plan(plan_kwargs: dict[str, Any], origins: list[Record], covariate_lines: dict[str, int | None],
                  default_line: int, src: _Rows) -> Plan:
    """The plan, through the project's one dose-limit validator (``ketasim.dosing.limits.check_dose`` for each
    administration, then ``check_plan``) and the model's domain check; every violation names the dataset line it
    comes from."""
    from ketasim.dosing.limits import OFF_LABEL_HINT, LimitError, check_dose, check_plan
    from ketasim.engine.compile import compile_plan
    from ketasim.parameters import default_vector

    def line_of(field_name: str) -> int | None:
        m = re.match(r"doses\[(\d+)\]", field_name)
        if m and int(m.group(1)) < len(origins):
            return origins[int(m.group(1))].line
        m = re.match(r"patient\.(\w+)", field_name)
        if m and covariate_lines.get(m.group(1)) is not None:
            return covariate_lines[m.group(1)]
        if field_name == "other_treatments":  # esketamine without an antidepressant: the first esketamine row
            return next((r.line for r in origins if r.drug == "esketamine"), default_line)
        return default_line

    def column(field_name: str) -> str:
        if field_name.startswith("doses["):
            key = field_name.split(".", 1)[1] if "." in field_name else "dose"
            return {"dose": "AMT", "infusion_minutes": "RATE", "date": "TIME", "time": "TIME", "route": "ROUTE",
                    "devices": "AMT", "device_interval_minutes": "AMT"}.get(key, "AMT")
        m = re.match(r"patient\.(\w+)", field_name)
        if m:
            return next((c for c, (n, _) in COVARIATES.items() if n == m.group(1)), field_name)
        return "DRUG" if field_name == "other_treatments" else field_name

    def off_label_hint(v: Any) -> str:
        return "" if v.hard else f" ({OFF_LABEL_HINT.replace('allow_off_label: true', '--allow-off-label')})"

    # Each administration on its own first (check_dose: the error names the dose's row), then the plan
    # (check_plan: overlaps, doses per day and per 7 days, the esketamine label).
    weight = plan_kwargs["patient"].weight_kg
    for dose, origin in zip(plan_kwargs["doses"], origins, strict=True):
        found = check_dose(dose, weight_kg=weight, allow_off_label=bool(plan_kwargs.get("allow_off_label")))
        if any(v.field == "weight_kg" for v in found):
            break  # the weight itself is out of range: reported by the plan check, on the covariate's line
        if found:
            v = min(found, key=lambda v: not v.hard)
            raise src.error(origin.line, column(f"doses[0].{v.field}"), v.value, f"{v.allowed}{off_label_hint(v)}")
    try:
        plan = Plan(**plan_kwargs)
        violations = check_plan(plan)
    except LimitError as exc:  # Plan construction applies the limits: every violation, hard first
        violations = exc.violations
    except PlanError as exc:
        raise src.error(line_of(exc.field), column(exc.field), exc.value, exc.allowed) from None
    if violations:
        v = min(violations, key=lambda v: (not v.hard, line_of(v.field) or 0))
        hint = off_label_hint(v)
        if v.field == "other_treatments":
            hint = (" (a NONMEM dataset does not record other treatments: add the antidepressant to the imported "
                    f"plan file, or {hint[2:-1]})")
        raise src.error(line_of(v.field), column(v.field), v.value, f"{v.allowed}{hint}")
    try:
        compile_plan(plan, default_vector())
    except PlanError as exc:
        raise src.error(line_of(exc.field), column(exc.field), exc.value, exc.allowed) from None
    return plan


def _patient_plan(pid: str, k: int, n_occ: int, occ: _Occasion, src: _Rows, *, time_zero: dt.datetime | None,
                  allow_off_label: bool, horizon_days: float | None, name: str) -> ImportedPatient:
    from ketasim.planning.history import SCALE_NAMES, history_from_records
    from ketasim.symptoms.scales import to_madrs

    recs = occ.records
    notes: list[str] = []
    doses_t = _expanded_doses(occ, src)
    first_when = min([r.when for r in recs] + [t for t, _, _ in doses_t])
    if time_zero is not None and k == 0 and first_when >= time_zero:
        start = dt.datetime.combine(time_zero.date(), dt.time(0, 0))
    else:
        start = dt.datetime.combine(first_when.date(), dt.time(0, 0))
    covs: dict[str, Any] = {}
    cov_lines: dict[str, int | None] = {}
    for name_, _ in COVARIATES.values():
        covs[name_], cov_lines[name_] = _constant(recs, name_, src)
    if covs["weight_kg"] is None:
        raise src.error(recs[0].line, "WT", "(missing)", f"the weight in kg of ID {pid} (a WT column, on at least one "
                        "row of each ID): mg/kg dose limits need it")
    obs = [r for r in recs if r.evid == 0 and r.dv is not None]
    dose_objs: list[Dose] = []
    origins: list[Record] = []
    for when, r, _ in doses_t:
        assert r.amt is not None and r.route is not None and r.drug is not None
        devices = 1
        if r.route == "intranasal" and r.drug == "esketamine":
            n = r.amt / 28.0
            devices = max(1, round(n)) if abs(n - round(n)) < 1e-9 else 1
        duration = round(r.dur_h * 60.0, 6) if r.dur_h is not None else 0.0
        dose_objs.append(Dose(day=_day(when, start), amount_mg=float(r.amt), route=r.route,  # type: ignore[arg-type]
                              drug=r.drug, duration_min=duration, phase=r.phase or "induction",  # type: ignore[arg-type]
                              devices=devices))
        origins.append(r)
    baseline = covs["baseline_madrs"]
    if baseline is None:
        first_dose = doses_t[0][0] if doses_t else None
        before = [r for r in obs if first_dose is None or r.when <= first_dose]
        if before and not any(r.ss for _, r, _ in doses_t[:1]):
            b = before[-1]
            baseline = round(float(to_madrs(b.scale, b.dv)), 4)
            cov_lines["baseline_madrs"] = b.line
            if b.scale != "madrs":
                notes.append(f"baseline MADRS {baseline:g} from the {SCALE_NAMES[b.scale]} score {b.dv:g} on line "
                             f"{b.line} (converted)")
        else:
            baseline = Patient().baseline_madrs
            notes.append(f"baseline MADRS {baseline:g} assumed (no BMADRS column and no score before the first dose)")
    patient = Patient(weight_kg=float(covs["weight_kg"]), baseline_madrs=float(baseline),
                      chronic_load=float(covs["chronic_load"]) if covs["chronic_load"] is not None
                      else Patient().chronic_load,
                      age=None if covs["age"] is None else float(covs["age"]), sex=covs["sex"])
    last_day = max([_day(r.when, start) for r in recs] + [d.day + 1.0 for d in dose_objs] + [1.0])
    if last_day > MAX_TIME_H / 24.0:
        late = max([(r.when, r, "TIME") for r in recs] + [(t, r, "ADDL") for t, r, h in doses_t if h != "dose"]
                   + [(t, r, "TIME") for t, r, h in doses_t if h == "dose"], key=lambda x: x[0])
        raise src.error(late[1].line, late[2], late[1].addl if late[2] == "ADDL" else f"{late[0]:%Y-%m-%d %H:%M}",
                        f"times within {MAX_TIME_H / 24:g} days (10 years) of the plan start {start:%Y-%m-%d}")
    horizon = float(horizon_days) if horizon_days is not None else float(math.ceil(last_day - 1e-9))
    plan = _checked_plan(dict(name=name, patient=patient, doses=tuple(dose_objs), horizon_days=horizon,
                              start_date=start.date(), allow_off_label=allow_off_label,
                              description=f"imported from {src.file}, ID {pid}"
                              + (f", occasion {k + 1}" if n_occ > 1 else ""),
                              source_file=src.file), origins, cov_lines, recs[0].line, src)
    history = None
    if obs:
        hist_recs: list[dict[str, Any]] = []
        lines: list[int] = []
        for when, r, how in doses_t:
            hist_recs.append({"date": when.strftime("%Y-%m-%d %H:%M"), "kind": "dose", "route": r.route,
                              "dose_mg": f"{r.amt:.10g}", "drug": r.drug,
                              "duration_min": "" if r.route != "iv" else f"{(r.dur_h or 0.0) * 60.0:.10g}",
                              "note": "" if how == "dose" else how})
            lines.append(r.line)
        for r in obs:
            hist_recs.append({"date": r.when.strftime("%Y-%m-%d %H:%M"), "kind": "score",
                              "scale": SCALE_NAMES[r.scale or "madrs"], "value": f"{r.dv:.10g}"})
            lines.append(r.line)
        try:
            history = history_from_records(hist_recs, weight_kg=patient.weight_kg, age=patient.age, name=name,
                                           file=src.file, lines=lines, allow_off_label=allow_off_label)
        except PlanError as exc:
            raise PlanError(_history_column(exc.field), exc.value, exc.allowed, file=src.file, line=exc.line) from None
    else:
        notes.append("no observations: no history written (a forecast needs the patient's scores)")
    return ImportedPatient(id=pid, occasion=k + 1 if n_occ > 1 else 0, plan=plan, history=history,
                           lines=tuple(r.line for r in recs), notes=tuple(notes))


def _history_column(field_name: str) -> str:
    return {"dose_mg": "AMT", "duration_min": "RATE", "value": "DV", "weight_kg": "WT", "age": "AGE",
            "route": "ROUTE", "drug": "DRUG", "scale": "SCALE", "date": "TIME"}.get(field_name, field_name)


def parse_nonmem(text: str, *, file: str = "<string>", start: dt.datetime | dt.date | str | None = None,
                 allow_off_label: bool = False, horizon_days: float | None = None) -> NonmemDataset:
    """A validated :class:`NonmemDataset` from the text of a NONMEM-format dataset.

    ``start`` is time zero of a relative ``TIME`` column (a date, a date-time or ``"YYYY-MM-DD HH:MM"``;
    default 2025-01-06 00:00); it is ignored when the dataset has a DATE column. ``horizon_days``
    fixes every plan's horizon (default: up to the last record, at least a day after the last dose).
    """
    src = _Rows(file)
    zero = _time_zero(start)
    if horizon_days is not None and not (math.isfinite(horizon_days) and 1 <= horizon_days <= 3650):
        raise PlanError("--horizon-days", horizon_days, "1-3650 days")
    header, rows = _split(text, src)
    unused = tuple(h for h in header if h not in KNOWN_COLUMNS)
    records = [_record(dict(zip(header, row, strict=True)), header, line, src, zero) for line, row in rows]
    if not records:
        raise src.error(None, "rows", "none", "at least one data row after the header")
    by_id: dict[str, list[Record]] = {}
    order: list[str] = []
    for r in records:
        if r.id in by_id and order[-1] != r.id:
            first = by_id[r.id][0].line
            raise src.error(r.line, "ID", r.id, f"the rows of each ID together (ID {r.id} began on line {first} and "
                            f"other IDs came between)")
        if r.id not in by_id:
            by_id[r.id] = []
            order.append(r.id)
        by_id[r.id].append(r)
    dated = any(h in DATE_FORMATS for h in header)
    patients: list[ImportedPatient] = []
    for pid in order:
        occs = [o for o in _occasions(by_id[pid], src) if _used(o)]
        for k, occ in enumerate(occs):
            name = f"id-{pid}" if len(occs) == 1 else f"id-{pid}-occasion{k + 1}"
            patients.append(_patient_plan(pid, k, len(occs), occ, src, time_zero=None if dated else zero,
                                          allow_off_label=allow_off_label, horizon_days=horizon_days, name=name))
    return NonmemDataset(tuple(patients), unused, file, None if dated else zero)


def _time_zero(start: dt.datetime | dt.date | str | None) -> dt.datetime:
    if start is None:
        return DEFAULT_START
    if isinstance(start, dt.datetime):
        return start
    if isinstance(start, dt.date):
        return dt.datetime.combine(start, dt.time(0, 0))
    for f in ("%Y-%m-%d", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M"):
        try:
            value = dt.datetime.strptime(str(start).strip(), f)
        except ValueError:
            continue
        if 1900 <= value.year <= 2200:
            return value
    raise PlanError("--start", start, "the date (and time) of TIME 0: YYYY-MM-DD or 'YYYY-MM-DD HH:MM', 1900-2200")


def read_nonmem(path: str | Path, *, start: dt.datetime | dt.date | str | None = None, allow_off_label: bool = False,
                horizon_days: float | None = None) -> NonmemDataset:
    """Read and validate the NONMEM-format dataset at ``path`` (see :func:`parse_nonmem`); the file is read by
    :func:`ketasim.formats.yamlio.read_text_file` (the project's encoding rules)."""
    from ketasim.formats.yamlio import read_text_file

    p = Path(path)
    text = read_text_file(p, what="dataset", name=p.name)  # UTF-8 (with or without BOM), printable, size-capped
    return parse_nonmem(text, file=p.name, start=start, allow_off_label=allow_off_label, horizon_days=horizon_days)


def write_imported(dataset: NonmemDataset, out: Path) -> list[str]:
    """Write ``plans/<stem>.yaml`` and ``histories/<stem>.csv`` per patient into ``out``; return the files written."""
    from ketasim.dosing.planfile import plan_to_yaml

    files: list[str] = []
    (out / "plans").mkdir(parents=True, exist_ok=True)
    for p in dataset.patients:
        path = out / "plans" / f"{p.stem}.yaml"
        path.write_text(plan_to_yaml(p.plan), encoding="utf-8")
        files.append(str(path.relative_to(out)))
        if p.history is not None:
            (out / "histories").mkdir(exist_ok=True)
            hpath = out / "histories" / f"{p.stem}.csv"
            p.history.to_csv(hpath)
            files.append(str(hpath.relative_to(out)))
    return files


# --- writing ------------------------------------------------------------------------------------------------

def _fmt(x: float | None) -> str:
    if x is None:
        return "."
    if isinstance(x, float) and x.is_integer() and abs(x) < 1e15:
        return str(int(x))
    return f"{x:.10g}"


def subject_records(plan: Plan, *, subject_id: int | str, obs_days: Sequence[float] = (),
                    dv: Sequence[float] = (), scale: str = "madrs", dates: bool = False,
                    extra: dict[str, Any] | None = None) -> list[dict[str, str]]:
    """Rows of one subject: the plan's doses (EVID 1) and observations ``dv`` at ``obs_days`` (EVID 0).

    Time is hours since the plan's day 0 at midnight (``dates``: DATE and clock TIME instead). Amounts
    are this patient's mg (mg/kg doses at the plan's weight); an IV infusion has ``RATE = AMT / duration``.
    At equal times an observation comes before a dose (a trough). ``extra`` adds constant columns.
    """
    from ketasim.symptoms.scales import get_scale

    if len(obs_days) != len(dv):
        raise PlanError("dv", f"{len(dv)} values", f"one per observation day ({len(obs_days)})")
    if scale not in SCALE_CMT:
        raise PlanError("scale", scale, ", ".join(SCALE_CMT))
    label = get_scale(scale).label
    p = plan.patient
    start = dt.datetime.combine(plan.start_date, dt.time(0, 0))
    cov = {"WT": _fmt(float(p.weight_kg)), "AGE": _fmt(None if p.age is None else float(p.age)),
           "SEX": {"male": "0", "female": "1"}.get(p.sex or "", "."), "BMADRS": _fmt(float(p.baseline_madrs)),
           "LOAD": _fmt(float(p.chronic_load))}
    for k, v in (extra or {}).items():
        cov[k] = str(v)
    rows: list[tuple[float, int, dict[str, str]]] = []

    def when(day: float) -> dict[str, str]:
        if dates:
            t = start + dt.timedelta(minutes=round(day * 1440.0))
            return {"DATE": t.strftime("%Y-%m-%d"), "TIME": t.strftime("%H:%M")}
        return {"TIME": _fmt(round(day * 24.0, 9))}

    for d in plan.doses:
        amount = d.mg_per_kg * p.weight_kg if d.mg_per_kg is not None else d.amount_mg
        rate = amount / (d.duration_min / 60.0) if d.route == "iv" and d.duration_min > 0 else None
        rows.append((d.day, 1, {"ID": str(subject_id), **when(d.day), "EVID": "1", "AMT": _fmt(float(amount)),
                                "RATE": _fmt(rate) if rate is not None else "0", "CMT": "2" if d.route == "iv" else "1",
                                "MDV": "1", "DV": ".", "SCALE": ".", "ROUTE": d.route, "DRUG": d.drug,
                                "PHASE": d.phase, **cov}))
    for day, value in zip(obs_days, dv, strict=True):
        rows.append((float(day), 0, {"ID": str(subject_id), **when(float(day)), "EVID": "0", "AMT": "0", "RATE": "0",
                                     "CMT": str(SCALE_CMT[scale]), "MDV": "0", "DV": _fmt(float(value)),
                                     "SCALE": label, "ROUTE": ".", "DRUG": ".", "PHASE": ".", **cov}))
    rows.sort(key=lambda x: (x[0], x[1]))
    return [r for _, _, r in rows]


def write_nonmem(records: Iterable[dict[str, str]], path: str | Path | None = None) -> str:
    """Write records (from :func:`subject_records`) as a CSV dataset; return the text."""
    records = list(records)
    present = {k for r in records for k in r}
    cols = [c for c in WRITE_COLUMNS if c in present] + sorted(present - set(WRITE_COLUMNS))
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=cols, lineterminator="\n", restval=".")
    w.writeheader()
    w.writerows(records)
    text = buf.getvalue()
    if path is not None:
        Path(path).write_text(text, encoding="utf-8")
    return text


def observed_scores(model_madrs: np.ndarray, days: np.ndarray, scale: str, *, noise: bool,
                    seed: int = 0) -> np.ndarray:
    """Scores on ``scale`` at ``days`` from model MADRS (n x days): exact, or with residual noise.

    With ``noise`` the virtual trials' measurement model applies (``ketasim.trials.measurement``: the
    patient's symptom fluctuation and the rater's error, rounded to whole points, seeded by ``seed``);
    without, the model's score on the scale (``ketasim.symptoms.scales.madrs_to``).
    """
    from ketasim.symptoms.scales import madrs_to

    m = np.atleast_2d(np.asarray(model_madrs, dtype=float))
    if not noise:
        return np.round(madrs_to(scale, m), 4)
    from ketasim.trials.measurement import MeasurementModel, MeasurementNoise, observe_visits

    rng = np.random.default_rng([int(seed), 7])
    draws = MeasurementNoise.draw(m.shape[0], m.shape[1], rng)
    return observe_visits(m, np.asarray(days, dtype=float), scale, draws, MeasurementModel.shipped())


def check_dataset_size(n_rows: int, option: str) -> None:
    """Refuse, before any work, a dataset of more than :data:`MAX_ROWS` rows."""
    if n_rows > MAX_ROWS:
        raise PlanError(option, f"about {n_rows:,} rows", f"at most {MAX_ROWS:,} rows (fewer patients or a "
                        "shorter horizon)")


def check_scale(scale: str) -> str:
    """Canonical key of a scale name given on the command line (``--nonmem-scale PHQ-9`` -> ``phq9``)."""
    from ketasim.planning.history import scale_key

    key = scale_key(scale)
    if key is None:
        raise PlanError("--nonmem-scale", scale, "MADRS, PHQ-9, QIDS-SR16 or HDRS-17")
    return key


def simulation_records(trajectory: Any, *, scale: str = "madrs", noise: bool = False, seed: int = 0,
                       subject_id: int | str = 1) -> list[dict[str, str]]:
    """Rows of one simulated patient (a :class:`~ketasim.simulate.Trajectory`): its doses and one observation
    per whole day of the horizon (midnight), on ``scale``, exact or with residual noise."""
    daily = trajectory.daily()
    days = daily["day"].to_numpy(dtype=float)
    scores = observed_scores(daily["madrs"].to_numpy(dtype=float)[None, :], days, scale, noise=noise, seed=seed)[0]
    return subject_records(trajectory.plan, subject_id=subject_id, obs_days=days, dv=scores, scale=scale)


def _virtual_patient(patient: Patient, patients: Any, i: int) -> Patient:
    """``patient`` with the covariates and loads of virtual patient ``i`` (a ``VirtualPatients`` row)."""
    sex = str(patients.sex[i])
    age = float(patients.age[i])
    return replace(patient, weight_kg=float(patients.weight_kg[i]), baseline_madrs=float(patients.baseline_madrs[i]),
                   chronic_load=float(patients.chronic_load[i]), age=age if math.isfinite(age) else None,
                   sex=sex if sex in ("male", "female") else None)  # type: ignore[arg-type]


def population_records(plan: Plan, patients: Any, days: np.ndarray, model_madrs: np.ndarray, *, scale: str,
                       noise: bool, seed: int = 0) -> list[dict[str, str]]:
    """Rows of a virtual population under one plan (``patients``: :class:`~ketasim.population.patients.
    VirtualPatients`; ``model_madrs``: n x len(days)); IDs 1..n, doses at each patient's weight."""
    scores = observed_scores(model_madrs, days, scale, noise=noise, seed=seed)
    rows: list[dict[str, str]] = []
    for i in range(scores.shape[0]):
        ok = np.isfinite(scores[i])
        rows += subject_records(replace(plan, patient=_virtual_patient(plan.patient, patients, i)), subject_id=i + 1,
                                obs_days=days[ok], dv=scores[i][ok], scale=scale)
    return rows


def trials_records(results: Sequence[Any], *, noise: bool) -> list[dict[str, str]]:
    """Rows of simulated studies (``ketasim.trials.runner.StudyResult``): every arm's patients, their doses and
    visit scores on the study's scale (``noise``: the observed scores; else the model's), with STUDY and ARM.

    The patients are the study's cohort, enrolled again from its seed (``ketasim.trials.cohort.enrol``)."""
    from ketasim.symptoms.scales import madrs_to
    from ketasim.trials.cohort import enrol

    rows: list[dict[str, str]] = []
    next_id = 1
    for res in results:
        st = res.study
        scale = st.scale if st.scale in SCALE_CMT else check_scale(st.scale)
        enrolled = enrol(st.population, res.n_patients, res.seed).base
        days = res.visit_days()
        for arm_name, arm in res.arms.items():
            plan = st.arm(arm_name).plan
            values = arm.scores if noise else np.round(madrs_to(st.scale, arm.model_madrs), 4)
            for j, row in enumerate(arm.rows):
                ok = np.isfinite(values[j])
                rows += subject_records(replace(plan, patient=_virtual_patient(plan.patient, enrolled, int(row))),
                                        subject_id=next_id, obs_days=days[ok], dv=values[j][ok], scale=scale,
                                        extra={"STUDY": st.id, "ARM": arm_name})
                next_id += 1
    return rows


__all__ = [
    "COVARIATES", "DOSE_CMT", "OBS_CMT", "SS_LEAD_IN_DAYS", "ImportedPatient", "NonmemDataset", "Record",
    "check_dataset_size", "check_scale", "observed_scores", "parse_nonmem", "population_records", "read_nonmem",
    "simulation_records", "subject_records", "trials_records", "write_imported", "write_nonmem",
]
