"""The model's qualitative claims as soft constraints of the calibration.

The seed text's claims (tested with the shipped parameters in ``tests/test_claims.py``) must still hold
after calibration. Each :func:`claim_margins` entry is a margin that is >= 0 when the claim holds for the
typical patient (70 kg, baseline MADRS 33, chronic load 0.5), in MADRS points, days or ratios;
:func:`claims_penalty` turns violations into a discrepancy term
``weight * sum(max(0, -margin / scale)^2)``.

The plans and thresholds are those of the claims: one infusion (10-20 point drop at 24 h, >= 8 points
within 4 h, half of the benefit gone between days 3 and 14, less than a third left at four weeks); six
infusions Mon-Wed-Fri beat one and fade over weeks (response lost 7-56 days after the last, MADRS > 28
three months later); weekly maintenance holds the benefit (trough change <= 3 points, no loss of
response) and longer intervals hold less; therapy in the ketamine window beats late therapy; lifestyle
extends the benefit; daily dosing builds tolerance (< 0.8 of the first dose's trigger after four weeks),
weekly barely (> 0.9); the bereavement bridge stays well while a chronic load relapses; each knock-out
removes its mechanism.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from ketasim.dosing.plan import Dose, LifeEvent, LifestylePeriod, Patient, Plan

MWF = (0, 2, 4, 7, 9, 11)
LAST = 11.375
BASE = 33.0


def _inf(days, phase: str = "induction") -> tuple[Dose, ...]:
    return tuple(Dose(day=d + 0.375, amount_mg=35.0, mg_per_kg=0.5, phase=phase) for d in days)  # type: ignore[arg-type]


def _weekly(first: float, n: int = 12) -> tuple[float, ...]:
    return tuple(float(first + 7 * i) for i in range(n))


P = Patient()
SINGLE = Plan("single", P, _inf([0]), horizon_days=42)
SIX = Plan("six", P, _inf(MWF), horizon_days=180)
TAPER = _inf(MWF) + _inf([18, 25, 39, 60, 88], "maintenance")
BEREAVEMENT = Plan("bereavement", Patient(chronic_load=0.1, life_events=(LifeEvent(-14, 1.3, 60, "bereavement"),)),
                   TAPER, horizon_days=365)
CHRONIC = Plan("chronic", Patient(chronic_load=1.0), TAPER, horizon_days=365)


def _maint(every: int, horizon: int = 120) -> Plan:
    return Plan(f"every{every}", P, _inf(MWF) + _inf(range(11 + every, horizon, every), "maintenance"),
                horizon_days=horizon)


def _loss(traj, after: float) -> float:
    t = traj.daily()
    post = t[t["day"] > after]
    lost = post[post["madrs"] > 0.5 * BASE]
    return float(lost["day"].iloc[0] - after) if len(lost) else 365.0


def _peak_g(traj, day: float) -> float:
    t = traj.table
    return float(t[(t["day"] >= day) & (t["day"] < day + 1)]["G"].max())


def _times(plan: Plan, extra_days=(), hourly_days=()) -> np.ndarray:
    """Daily grid at midnight and at the 09:00 dose time, the ``extra_days`` and hourly steps on ``hourly_days``."""
    days = np.arange(0.0, plan.horizon_days + 1e-9, 1.0)
    parts = [days, days + 0.375, np.asarray(extra_days, dtype=float)]
    parts += [d + np.arange(0.0, 1.0, 1.0 / 48.0) for d in hourly_days]
    t = np.unique(np.concatenate(parts))
    return t[(t >= 0) & (t <= plan.horizon_days)] * 24.0


#: Plain-language statement of every claim (keys of ``claim_margins``), the typical patient throughout.
CLAIM_TEXT: dict[str, str] = {
    "single: 24 h drop >= 10": "one infusion lowers the depression score by at least 10 points at 24 hours",
    "single: 24 h drop <= 20": "one infusion lowers the depression score by at most 20 points at 24 hours",
    "single: drop within 4 h >= 8": "one infusion lowers the score by at least 8 points within 4 hours",
    "single: half-life >= 3 d": "half of one infusion's benefit lasts at least 3 days",
    "single: half-life <= 14 d": "half of one infusion's benefit is gone within 14 days",
    "single: < 1/3 left at 4 weeks": "less than a third of one infusion's benefit is left after 4 weeks",
    "six beat one (5 points deeper)": "six infusions over two weeks lower the score 5 points more than one",
    "six last longer than one": "the response to six infusions lasts longer than the response to one",
    "six: response lost after >= 7 d": "after six infusions the response lasts at least 7 days",
    "six: response lost within 56 d": "after six infusions the response is lost within 8 weeks",
    "six: back above 28 at +90 d": "three months after six infusions the score is back above 28",
    "weekly: trough change <= 3": "weekly maintenance keeps the score before each infusion within 3 points",
    "weekly: no loss of response": "weekly maintenance keeps the response throughout",
    "maintenance: 7 d < 14 d": "weekly maintenance keeps the score lower than every two weeks",
    "maintenance: 14 d < 28 d": "maintenance every two weeks keeps the score lower than every four weeks",
    "therapy: more skills in the window": "therapy in the days after the infusions builds more skills than later",
    "therapy: early lasts longer than late": "therapy started early makes the response last longer than late",
    "therapy: early < late": "therapy started early lowers the score more than therapy started late",
    "therapy: late < none": "therapy started late still lowers the score more than no therapy",
    "lifestyle extends the benefit": "lifestyle measures make the response last longer",
    "tolerance: daily < 0.8": "daily dosing for four weeks weakens the drug's effect below 80% of the first dose's",
    "tolerance: weekly > 0.9": "weekly dosing keeps more than 90% of the first dose's effect",
    "bridge stays well": "after a bereavement, induction and tapered maintenance keep a patient well",
    "chronic load relapses (>= 22)": "with a heavy ongoing burden the depression returns (score 22 or more)",
    "chronic load ends > 28": "with a heavy ongoing burden the score ends above 28",
    "knock-out pruning (2 points)": "switching off the loss of new connections lowers the score at three weeks "
                                    "by at least 2 points",
    "knock-out homeostasis (5 points)": "switching off the slow return to the old balance lowers the score at "
                                        "five months by at least 5 points",
    "knock-out load (10 points)": "switching off the ongoing burden lowers the score at ten months by at least "
                                  "10 points",
}


def claim_margins(params: np.ndarray) -> dict[str, float]:
    """Margin of each claim for the typical patient with response parameters ``params`` (>= 0: holds)."""
    from ketasim.simulate import simulate as _simulate

    def simulate(plan: Plan, p: np.ndarray, **kw):
        extra = kw.pop("extra_days", ())
        hourly = kw.pop("hourly_days", ())
        return _simulate(plan, p, times_h=_times(plan, extra, hourly), **kw)

    m: dict[str, float] = {}
    one = simulate(SINGLE, params, extra_days=(0.375 + 4 / 24,))
    d24 = BASE - one.madrs_at_day(1.375)
    m["single: 24 h drop >= 10"] = d24 - 10.0
    m["single: 24 h drop <= 20"] = 20.0 - d24
    m["single: drop within 4 h >= 8"] = BASE - one.madrs_at_day(0.375 + 4 / 24) - 8.0
    t = one.daily()
    drop = BASE - t["madrs"].to_numpy()
    late = t["day"].to_numpy()[(t["day"].to_numpy() > 1.375) & (drop < 0.5 * d24)]
    half = float(late[0]) if late.size else 42.0
    m["single: half-life >= 3 d"] = half - 3.0
    m["single: half-life <= 14 d"] = 14.0 - half
    m["single: < 1/3 left at 4 weeks"] = d24 / 3.0 - (BASE - one.madrs_at_day(28.375))
    one180 = simulate(replace(SINGLE, horizon_days=180), params, hourly_days=(0,))
    six = simulate(SIX, params, extra_days=(LAST + 21, LAST + 90), hourly_days=MWF)
    m["six beat one (5 points deeper)"] = one180.table["madrs"].min() - 5.0 - six.table["madrs"].min()
    loss6, loss1 = _loss(six, LAST), _loss(one180, 0.375)
    m["six last longer than one"] = loss6 - loss1 - 0.5
    m["six: response lost after >= 7 d"] = loss6 - 7.0
    m["six: response lost within 56 d"] = 56.0 - loss6
    m["six: back above 28 at +90 d"] = six.madrs_at_day(LAST + 90) - 28.0
    means = {}
    for every in (7, 14, 28):
        plan = _maint(every)
        tr = simulate(plan, params, extra_days=[x.day - 0.01 for x in plan.doses])
        d = tr.daily()
        window = d[(d["day"] >= 30) & (d["day"] <= 110)]["madrs"]
        means[every] = float(window.mean())
        if every == 7:
            trough = [tr.madrs_at_day(x.day - 0.01) for x in plan.doses if x.phase == "maintenance"]
            m["weekly: trough change <= 3"] = 3.0 - abs(trough[-1] - trough[0])
            m["weekly: no loss of response"] = 0.5 * BASE - float(window.max())
    m["maintenance: 7 d < 14 d"] = means[14] - means[7]
    m["maintenance: 14 d < 28 d"] = means[28] - means[14]
    early = simulate(replace(SIX, therapy_days=_weekly(3), horizon_days=240), params)
    late = simulate(replace(SIX, therapy_days=_weekly(67), horizon_days=240), params)
    none = simulate(replace(SIX, horizon_days=240), params)
    m["therapy: more skills in the window"] = float(early.daily()["C"].max() - late.daily()["C"].max())
    m["therapy: early lasts longer than late"] = _loss(early, LAST) - _loss(late, LAST) - 0.5
    mean_e, mean_l, mean_n = (float(x.daily()["madrs"].mean()) for x in (early, late, none))
    m["therapy: early < late"] = mean_l - mean_e
    m["therapy: late < none"] = mean_n - mean_l
    life = simulate(replace(SIX, lifestyle=(LifestylePeriod(0, 180, 1.0),)), params)
    m["lifestyle extends the benefit"] = _loss(life, LAST) - loss6 - 0.5
    daily = simulate(Plan("daily", P, _inf(range(28)), horizon_days=30, allow_off_label=True), params,
                     hourly_days=(0, 27))
    weekly = simulate(Plan("weekly", P, _inf(range(0, 28 * 7, 7)), horizon_days=28 * 7 + 2), params,
                      hourly_days=(0, 27 * 7))
    m["tolerance: daily < 0.8"] = 0.8 - _peak_g(daily, 27) / _peak_g(daily, 0)
    m["tolerance: weekly > 0.9"] = _peak_g(weekly, 27 * 7) / _peak_g(weekly, 0) - 0.9
    after = 88.375 + 14
    b = simulate(BEREAVEMENT, params).daily()
    c_tr = simulate(CHRONIC, params)
    c = c_tr.daily()
    m["bridge stays well"] = 0.5 * BASE - float(b[b["day"] > after]["madrs"].max())
    m["chronic load relapses (>= 22)"] = float(c[c["day"] > after]["madrs"].max()) - 22.0
    m["chronic load ends > 28"] = float(c["madrs"].iloc[-1]) - 28.0
    d21 = LAST + 21
    no_pruning = simulate(SIX, params, switches={"pruning": False}, switch_from_day=12, extra_days=(d21,))
    no_hom = simulate(SIX, params, switches={"homeostasis": False}, switch_from_day=12)
    no_load = simulate(CHRONIC, params, switches={"load": False}, switch_from_day=12)
    m["knock-out pruning (2 points)"] = six.madrs_at_day(d21) - 2.0 - no_pruning.madrs_at_day(d21)
    m["knock-out homeostasis (5 points)"] = six.madrs_at_day(150) - 5.0 - no_hom.madrs_at_day(150)
    m["knock-out load (10 points)"] = c_tr.madrs_at_day(300) - 10.0 - no_load.madrs_at_day(300)
    return m


#: Scale of each margin's violation (a violation of one scale unit costs ``weight``).
MARGIN_SCALE_DEFAULT = 1.0
MARGIN_SCALES = {"tolerance: daily < 0.8": 0.05, "tolerance: weekly > 0.9": 0.05,
                 "therapy: more skills in the window": 0.02}


BUFFER = 0.1  # in units of each margin's scale: a claim is penalised before it is broken


def claims_penalty(params: np.ndarray, weight: float = 10.0) -> tuple[float, dict[str, float]]:
    """(penalty, margins): ``weight * sum(max(0, BUFFER - margin / scale)^2)`` over the claims."""
    try:
        margins = claim_margins(params)
    except Exception:  # a parameter point the engine cannot integrate violates every claim
        return 1e3, {}
    pen = 0.0
    for k, v in margins.items():
        s = MARGIN_SCALES.get(k, MARGIN_SCALE_DEFAULT)
        if not np.isfinite(v):
            pen += weight * 25.0
        elif v / s < BUFFER:
            pen += weight * (BUFFER - v / s) ** 2
    return pen, margins
