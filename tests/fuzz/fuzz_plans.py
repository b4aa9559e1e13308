"""Generators of treatment plans: plan-file mappings (for YAML text, inline study arms) and Plan objects.

Most generated plans are valid; the mutators of ``fuzz_support`` then break them in every way they can.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from hypothesis import strategies as st

WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
START = dt.date(2025, 1, 6)


def _date(day: int) -> str:
    return (START + dt.timedelta(days=day)).isoformat()


@st.composite
def schedule(draw: Any, horizon: int, taper: bool = False) -> dict[str, Any]:
    """A calendar rule: weekdays, every_days, every_weeks or a taper, ended by count, until or the horizon."""
    out: dict[str, Any] = {"start": draw(st.sampled_from([_date(draw(st.integers(0, max(horizon - 1, 0)))),
                                                          draw(st.integers(0, max(horizon - 1, 0)))]))}
    rule = "intervals_days" if taper else draw(st.sampled_from(["weekdays", "every_days", "every_weeks",
                                                                "intervals_days"]))
    if rule == "weekdays":
        out["weekdays"] = draw(st.lists(st.sampled_from(WEEKDAYS), min_size=1, max_size=3, unique=True))
        if draw(st.booleans()):
            out["every_weeks"] = draw(st.integers(1, 3))
    elif rule == "every_days":
        out["every_days"] = draw(st.integers(1, 30))
    elif rule == "every_weeks":
        out["every_weeks"] = draw(st.integers(1, 4))
    else:
        out["intervals_days"] = draw(st.lists(st.integers(3, 28), min_size=1, max_size=4))
        out["then"] = draw(st.sampled_from(["stop", "hold"]))
    end = draw(st.sampled_from(["count", "until", "none"]))
    if end == "count":
        out["count"] = draw(st.integers(1, 12))
    elif end == "until":
        out["until"] = _date(draw(st.integers(0, horizon + 10)))
    if draw(st.booleans()):
        out["time"] = draw(st.sampled_from(["09:00", "14:30", "23:59", "00:00"]))
    return out


@st.composite
def dose_entry(draw: Any, horizon: int, drug: str) -> dict[str, Any]:
    route = draw(st.sampled_from(["intranasal"] if drug == "esketamine" and draw(st.booleans())
                                 else ["iv", "iv", "im", "oral", "sublingual", "intranasal"]))
    if drug == "esketamine" and route == "intranasal":
        dose = draw(st.sampled_from(["28 mg", "56 mg", "84 mg"]))
    elif route in ("intranasal",):
        dose = f"{draw(st.integers(10, 100))} mg"
    else:
        dose = draw(st.sampled_from([f"{draw(st.sampled_from([0.1, 0.25, 0.5, 0.75, 1.0, 1.5]))} mg/kg",
                                     f"{draw(st.integers(7, 120))} mg"]))
    entry: dict[str, Any] = {"route": route, "dose": dose}
    if route == "iv" and draw(st.booleans()):
        entry["infusion_minutes"] = draw(st.sampled_from([0, 2, 40, 100, "1 h", "40 min"]))
    if draw(st.booleans()):
        series = draw(st.sampled_from(["induction", "maintenance", "taper"]))
        entry |= {"series": series} | draw(schedule(horizon, taper=series == "taper"))
    else:
        day = draw(st.integers(0, max(horizon - 1, 0)))
        entry |= draw(st.sampled_from([{"date": _date(day)}, {"day": day}, {"date": _date(day), "time": "10:00"}]))
        entry["phase"] = draw(st.sampled_from(["induction", "maintenance"]))
    return entry


@st.composite
def plan_mapping(draw: Any, max_horizon: int = 3650) -> dict[str, Any]:
    """A plan file's mapping, usually valid (doses may break the published limits: then ``allow_off_label``
    decides)."""
    horizon = draw(st.integers(1, min(max_horizon, 200)))
    if max_horizon >= 365 and draw(st.integers(0, 9)) == 0:
        horizon = draw(st.sampled_from([365, 1000, 3650]))  # long plans, up to the capacity
    drug = draw(st.sampled_from(["racemic", "racemic", "esketamine"]))
    plan: dict[str, Any] = {"name": draw(st.sampled_from(["fuzz", "plan é", "x"])), "start_date": START.isoformat()}
    plan |= draw(st.sampled_from([{"horizon_days": horizon}, {"horizon_weeks": max(1, horizon // 7)},
                                  {"horizon_days": f"{max(1, horizon // 7)} weeks"}, {}]))
    plan["drug"] = drug
    if draw(st.integers(0, 3)) == 0:
        plan["allow_off_label"] = True
    patient: dict[str, Any] = {"weight_kg": draw(st.sampled_from([45, 70, 70.5, 120, 249])),
                               "baseline_madrs": draw(st.sampled_from([12, 25, 33, 45, 60])),
                               "chronic_load": draw(st.sampled_from([0.0, 0.2, 0.5, 1.0]))}
    if draw(st.booleans()):
        patient["age"] = draw(st.integers(18, 100))
        patient["sex"] = draw(st.sampled_from(["female", "male"]))
    if draw(st.booleans()):
        patient["life_events"] = [{"kind": "bereavement", "day": draw(st.integers(-300, horizon)),
                                   "amplitude": draw(st.sampled_from([0.1, 0.5, 1.0])),
                                   "fade_days": draw(st.sampled_from([30, 90, "12 weeks"]))}]
    plan["patient"] = patient
    plan["doses"] = draw(st.lists(dose_entry(horizon, drug), min_size=0, max_size=3))
    if draw(st.booleans()):
        plan["psychotherapy"] = {"label": "CBT", "series": draw(schedule(horizon))}
        if draw(st.booleans()):
            plan["psychotherapy"]["sessions"] = [_date(draw(st.integers(0, max(horizon - 1, 0))))]
    if draw(st.booleans()):
        start = draw(st.integers(0, max(horizon - 1, 0)))
        plan["lifestyle"] = [{"start": _date(start), "level": draw(st.sampled_from([0.0, 0.5, 1.0]))}]
    treatments: list[dict[str, Any]] = []
    if drug == "esketamine" or draw(st.booleans()):
        treatments.append({"kind": "antidepressant", "start": draw(st.sampled_from([-30, 0, 5]))})
    if draw(st.integers(0, 2)) == 0:
        treatments.append({"kind": draw(st.sampled_from(["ect", "tms"])), "series": draw(schedule(horizon))})
    if treatments:
        plan["other_treatments"] = treatments
    return plan


@st.composite
def plan_object_tree(draw: Any) -> dict[str, Any]:
    """Keyword arguments of a Plan and of the objects inside it (built by :func:`build_plan`)."""
    horizon = draw(st.integers(1, 200))
    weight = draw(st.sampled_from([45.0, 70.0, 120.0]))
    doses = []
    for day in sorted(draw(st.lists(st.integers(0, max(horizon - 1, 0)), max_size=6, unique=True))):
        kind = draw(st.sampled_from(["per_kg", "fixed", "both", "nasal"]))
        d: dict[str, Any] = {"day": day + draw(st.sampled_from([0.0, 0.375, 0.9]))}
        if kind == "per_kg":
            d["mg_per_kg"] = draw(st.sampled_from([0.1, 0.5, 1.0, 2.0]))
        elif kind == "fixed":
            d["amount_mg"] = draw(st.sampled_from([10.0, 35.0, 70.0, 200.0]))
        elif kind == "both":
            d |= {"mg_per_kg": 0.5, "amount_mg": 0.5 * weight * draw(st.sampled_from([1.0, 1.005, 1.2]))}
        else:
            d |= {"amount_mg": draw(st.sampled_from([28.0, 56.0, 84.0])), "route": "intranasal",
                  "drug": "esketamine", "duration_min": 0.0}
            d["devices"] = int(d["amount_mg"] // 28)
        if kind != "nasal":
            d["route"] = draw(st.sampled_from(["iv", "iv", "im", "oral"]))
            d["duration_min"] = 40.0 if d["route"] == "iv" else 0.0
        doses.append(d)
    esketamine = any(d.get("drug") == "esketamine" for d in doses)
    doses = [d for d in doses if d.get("drug", "racemic") == ("esketamine" if esketamine else "racemic")]
    tree: dict[str, Any] = {
        "plan": {"name": "fuzz", "horizon_days": float(horizon), "start_date": START,
                 "allow_off_label": draw(st.booleans())},
        "patient": {"weight_kg": weight, "baseline_madrs": draw(st.sampled_from([20.0, 33.0, 50.0])),
                    "chronic_load": draw(st.sampled_from([0.0, 0.3, 0.8]))},
        "life_events": [{"day": float(draw(st.integers(-100, horizon))), "amplitude": 0.5, "fade_days": 60.0}]
        if draw(st.booleans()) else [],
        "doses": doses,
        "therapy_days": [float(x) + 0.6 for x in draw(st.lists(st.integers(0, max(horizon - 1, 0)), max_size=4))],
        "lifestyle": [{"start_day": 0.0, "end_day": float(horizon), "level": 0.5}] if draw(st.booleans()) else [],
        "treatments": ([{"kind": "antidepressant", "start_day": -20.0}] if esketamine or draw(st.booleans()) else [])
        + ([{"kind": "ect", "session_days": [float(x) + 0.4 for x in range(0, horizon, 3)][:6]}]
           if draw(st.booleans()) else []),
    }
    return tree


def build_plan(tree: dict[str, Any]) -> Any:
    """A Plan from :func:`plan_object_tree` (items that are not mappings are passed on as they are)."""
    from ketasim.dosing.plan import Dose, LifeEvent, LifestylePeriod, OtherTreatment, Patient, Plan

    def each(kind: type, items: Any) -> Any:
        if not isinstance(items, list):
            return items
        return tuple(kind(**x) if isinstance(x, dict) else x for x in items)

    def kwargs(group: Any) -> dict[str, Any]:  # a group of keyword arguments replaced by an odd value: none
        return group if isinstance(group, dict) else {}

    patient = Patient(**kwargs(tree["patient"]), life_events=each(LifeEvent, tree["life_events"]))
    treatments = tree["treatments"]
    if isinstance(treatments, list):
        treatments = [dict(t, session_days=tuple(t["session_days"]) if isinstance(t.get("session_days"), list)
                           else t.get("session_days", ())) if isinstance(t, dict) else t for t in treatments]
    return Plan(**kwargs(tree["plan"]), patient=patient, doses=each(Dose, tree["doses"]),
                therapy_days=tree["therapy_days"], lifestyle=each(LifestylePeriod, tree["lifestyle"]),
                treatments=each(OtherTreatment, treatments))
