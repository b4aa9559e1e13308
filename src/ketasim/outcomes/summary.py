"""One patient's outcomes in a JSON-serialisable dictionary (``ketasim simulate --json``).

Conventions: MADRS throughout (the model's scale); "24 h after the first dose" is the
first dose's start plus one day; the end of induction is 24 h after the last induction dose;
relapse is looked for after the last induction dose, by both definitions
(:mod:`ketasim.outcomes.relapse`): SUSTAIN-1 on weekly visits at that clock time, loss of
response on daily visits at the clock time of the first dose. Missing values (no dose, no
relapse within the horizon) are ``None``, never NaN.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

import ketasim
from ketasim.dosing.plan import Plan
from ketasim.outcomes.definitions import remission, response
from ketasim.outcomes.durations import days_in_remission, mean_score
from ketasim.outcomes.interventions import number_of_interventions
from ketasim.outcomes.relapse import SUSTAIN1_GAP_DAYS, SUSTAIN1_THRESHOLD, relapse_loss_of_response, relapse_sustain1
from ketasim.symptoms.scales import MADRS_REMISSION, MADRS_REMISSION_ESKETAMINE, SIMULATED_SCALES

if TYPE_CHECKING:
    from ketasim.simulate import Trajectory

DISCLAIMER: str = getattr(ketasim, "DISCLAIMER", "ketasim is research and decision-support software, not a medical "
                          "device; its outputs are not medical advice.")
OFF_LABEL_NOTE = "this plan uses doses outside published ranges, allowed on purpose by its author"
SUSTAIN1_RULE = (f"MADRS >= {SUSTAIN1_THRESHOLD:g} at two consecutive weekly visits {SUSTAIN1_GAP_DAYS[0]:g}-"
                 f"{SUSTAIN1_GAP_DAYS[1]:g} days apart (SUSTAIN-1); day = first of the two visits")
LOSS_OF_RESPONSE_RULE = "first daily visit with less than a 50% drop from baseline MADRS, after response was reached"


def default_remission_threshold(plan: Plan) -> float:
    """MADRS remission threshold of the plan's programme: 12 for esketamine (Daly 2019), else 10."""
    if plan.doses and all(d.drug == "esketamine" for d in plan.doses):
        return MADRS_REMISSION_ESKETAMINE
    return MADRS_REMISSION


def _num(x: float | None, nd: int = 2) -> float | None:
    if x is None or not np.isfinite(x):
        return None
    return round(float(x), nd)


def _date(plan: Plan, day: float | None) -> str | None:
    return None if day is None or not np.isfinite(day) else plan.date_of(day).isoformat()


def summarize(trajectory: Trajectory, *, remission_threshold: float | None = None) -> dict[str, Any]:
    """Outcomes of one simulated patient (see the module docstring for the conventions)."""
    plan = trajectory.plan
    t = trajectory.table
    days_all = t["day"].to_numpy(dtype=float)
    madrs_all = t["madrs"].to_numpy(dtype=float)
    horizon = float(plan.horizon_days)
    base = float(trajectory.baseline_madrs)
    thr = default_remission_threshold(plan) if remission_threshold is None else float(remission_threshold)
    at = trajectory.madrs_at_day

    def status(day: float | None) -> dict[str, Any]:
        if day is None or day > horizon + 1e-9:
            return {"day": None, "date": None, "madrs": None, "response": None, "remission": None}
        m = at(day)
        return {"day": _num(day), "date": _date(plan, day), "madrs": _num(m),
                "response": bool(response(np.array(m), base)), "remission": bool(remission(np.array(m), "madrs", thr))}

    doses = sorted(plan.doses, key=lambda d: d.day)
    first = doses[0].day if doses else None
    induction = [d.day for d in doses if d.phase == "induction"]
    last_induction = max(induction) if induction else (doses[-1].day if doses else None)

    out: dict[str, Any] = {
        "plan": plan.name,
        "start_date": plan.start_date.isoformat(),
        "horizon_days": _num(horizon),
        "scale": "MADRS",
        "baseline_madrs": _num(base),
        "remission_rule": f"MADRS <= {thr:g}",
        "first_dose_day": _num(first),
        "last_induction_dose_day": _num(last_induction),
    }
    day1 = status(None if first is None else first + 1.0)
    out["madrs_24h_after_first_dose"] = day1["madrs"]
    out["change_24h"] = None if day1["madrs"] is None else _num(day1["madrs"] - base)
    if first is not None:
        after = days_all >= first
        k = int(np.argmin(madrs_all[after]))
        m_min, d_min = float(madrs_all[after][k]), float(days_all[after][k])
        out.update(madrs_min=_num(m_min), madrs_min_day=_num(d_min), madrs_min_date=_date(plan, d_min),
                   max_drop_points=_num(base - m_min), max_drop_percent=_num(100.0 * (base - m_min) / base, 1))
    else:
        out.update(madrs_min=None, madrs_min_day=None, madrs_min_date=None, max_drop_points=None,
                   max_drop_percent=None)
    out["day1"] = day1
    out["end_of_induction"] = status(None if last_induction is None else last_induction + 1.0)

    # relapse after the last induction dose
    for key, rule in (("relapse_sustain1", SUSTAIN1_RULE), ("relapse_loss_of_response", LOSS_OF_RESPONSE_RULE)):
        out[key] = {"definition": rule, "after_day": _num(last_induction), "day": None, "date": None,
                    "days_after_last_induction_dose": None, "relapsed": None}
    if last_induction is not None:
        weekly = last_induction + 7.0 * np.arange(1, int((horizon - last_induction) // 7.0) + 1)
        if weekly.size:
            r = relapse_sustain1(weekly, np.interp(weekly, days_all, madrs_all), after_day=last_induction)
            _fill(out["relapse_sustain1"], plan, r, last_induction)
        else:
            out["relapse_sustain1"]["relapsed"] = False
        clock = (first or 0.0) % 1.0
        daily = np.arange(clock, horizon + 1e-9, 1.0)
        r = relapse_loss_of_response(daily, np.interp(daily, days_all, madrs_all), base, after_day=last_induction)
        _fill(out["relapse_loss_of_response"], plan, r, last_induction)

    grid = np.unique(np.concatenate([np.arange(0.0, horizon + 1e-9, 1.0), days_all]))
    grid_m = np.interp(grid, days_all, madrs_all)
    dir_ = days_in_remission(grid, grid_m, thr, start=0.0, end=horizon)
    out["days_in_remission"] = _num(dir_, 1)
    out["fraction_of_time_in_remission"] = _num(dir_ / horizon, 3)
    out["mean_madrs"] = _num(mean_score(grid, grid_m, start=0.0, end=horizon))
    out["end"] = {"day": _num(horizon), "date": _date(plan, horizon), "madrs": _num(at(horizon))}
    for scale in SIMULATED_SCALES:
        if scale in t.columns:
            out["end"][scale] = _num(float(np.interp(horizon, days_all, t[scale].to_numpy(dtype=float))))
    out["interventions"] = number_of_interventions(plan)
    out["off_label"] = bool(plan.allow_off_label)
    out["off_label_note"] = OFF_LABEL_NOTE if plan.allow_off_label else None
    out["disclaimer"] = DISCLAIMER
    return out


def _fill(entry: dict[str, Any], plan: Plan, relapse_day: float, after: float) -> None:
    relapsed = bool(np.isfinite(relapse_day))
    entry["relapsed"] = relapsed
    if relapsed:
        entry["day"] = _num(relapse_day)
        entry["date"] = _date(plan, relapse_day)
        entry["days_after_last_induction_dose"] = _num(relapse_day - after)
