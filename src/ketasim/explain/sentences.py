"""Plain-language sentences, with the numbers, for the loss and gain explanations."""

from __future__ import annotations

from ketasim.dosing.plan import Plan
from ketasim.explain.dates import short_date
from ketasim.explain.mechanisms import MECHANISM_LABELS, MECHANISM_SHORT, RESIDUAL_LABEL, LossExplanation
from ketasim.explain.strategies import GainExplanation
from ketasim.outcomes.formatting import number, score
from ketasim.outcomes.summary import DISCLAIMER, OFF_LABEL_NOTE

NEGLIGIBLE = 0.05  # parts smaller than this (MADRS points or days) print as 0.0 and get no clause
PLURAL_STRATEGIES = ("maintenance", "treatments")


def _join(parts: list[str]) -> str:
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def _parts(e: LossExplanation, pct: dict[str, float | None], positive: bool) -> list[tuple[float, float, str]]:
    """(points, percent, label) of the mechanisms pushing MADRS up (``positive``) or down, largest first."""
    ranked = sorted(e.shapley.items(), key=lambda kv: -abs(kv[1]))
    return [(abs(v), abs(pct[m] or 0.0), MECHANISM_LABELS[m]) for m, v in ranked
            if (v >= NEGLIGIBLE if positive else v <= -NEGLIGIBLE)]


def _fmt(parts: list[tuple[float, float, str]], first_verb: str = "") -> list[str]:
    return [f"{score(v)} ({number(p, 0)}%) {first_verb if i == 0 and first_verb else 'from'} {label}"
            for i, (v, p, label) in enumerate(parts)]


def loss_sentences(e: LossExplanation) -> list[str]:
    """Sentences for a :class:`LossExplanation` (percentages are of the gross rise, see ``percent()``)."""
    plan = Plan(start_date=e.start_date, horizon_days=e.day2)
    d1, d2 = short_date(plan, e.day1), short_date(plan, e.day2)
    pct = e.percent()
    why = f" ({e.date1_rule})" if e.date1_rule and e.date1_rule != "given" else ""
    out = [f"MADRS goes from {score(e.madrs1)} on {d1}{why} to {score(e.madrs2)} on {d2}."]
    negative = any(v <= -NEGLIGIBLE for v in e.shapley.values()) or e.residual <= -NEGLIGIBLE
    up = _parts(e, pct, positive=True)
    if e.total_loss >= NEGLIGIBLE and not negative:
        head = f"Of the {score(e.total_loss)} MADRS points of benefit lost between {d1} and {d2}, "
        if up:
            out.append(head + _join(_fmt(up, "come from")) + ".")
        else:
            out.append(head + "none comes from the four mechanisms.")
        res_pct = pct["residual"] or 0.0
        if e.residual >= NEGLIGIBLE:
            out.append(f"{score(e.residual)} ({number(res_pct, 0)}%) would be lost even with all four switched off "
                       f"({RESIDUAL_LABEL}).")
    else:
        out.append(f"Between {d1} and {d2} MADRS changes by {score(e.total_loss, signed=True)} points.")
        if up or e.residual >= NEGLIGIBLE:
            res = [f"{score(e.residual)} ({number(pct['residual'] or 0.0, 0)}%) from {RESIDUAL_LABEL}"] \
                if e.residual >= NEGLIGIBLE else []
            out.append(f"Pushing it up ({score(e.gross_rise)} points in all): " + _join(_fmt(up) + res) + ".")
        down = [f"{score(v)} from {label}" for v, _, label in _parts(e, pct, positive=False)]
        if e.residual <= -NEGLIGIBLE:
            down.append(f"{score(-e.residual)} from the rest of the model with all four switched off (synapses still "
                        "forming and maturing, the treatments' other effects)")
        if down:
            out.append("Pulling it down: " + _join(down) + ".")
    zero = [MECHANISM_LABELS[m] for m, v in e.shapley.items() if abs(v) < NEGLIGIBLE]
    if zero:
        out.append(f"No part of the change comes from {_join(zero)}.")
    for m, v in sorted(e.shapley.items(), key=lambda kv: -kv[1]):
        if v >= 0.5:
            kept = float(e.curves[f"without {m}"][-1])
            out.append(f"Switching off {MECHANISM_SHORT[m]} alone from {d1} would leave MADRS at {score(kept)} on {d2} "
                       f"instead of {score(e.madrs2)}.")
    return out


def gain_sentences(e: GainExplanation) -> list[str]:
    """Sentences for a :class:`GainExplanation`."""
    if not e.strategies:
        return ["The plan has no sustaining strategy (psychotherapy, lifestyle, maintenance doses or other "
                "treatments) to attribute a gain to."]
    dir_ = e.metrics.get("days_in_remission")
    mm = e.metrics.get("mean_madrs")
    without, with_ = [], []
    if dir_:
        without.append(f"{score(dir_.without_all)} of {number(e.horizon_days, 0)} days in remission")
        with_.append(f"{score(dir_.with_all)} days")
    if mm:
        without.append(f"a mean MADRS of {score(mm.without_all)}")
        with_.append(f"{score(mm.with_all)}")
    names = _join([e.descriptions[s] for s in e.strategies])
    out = [f"Without {names}, the patient would have {' and '.join(without)}; with them, "
           f"{' and '.join(with_)} (remission: MADRS ≤ {e.remission_threshold:g})."]
    ranked = sorted(e.strategies, key=lambda s: -(dir_.gain[s] if dir_ else mm.gain[s] if mm else 0.0))
    for s in ranked:
        plural = s in PLURAL_STRATEGIES
        clauses = []
        if dir_:
            g = dir_.gain[s]
            share = (f" ({number(100.0 * g / dir_.total_gain, 0)}% of the gain)"
                     if abs(dir_.total_gain) >= NEGLIGIBLE else "")
            verb = ("add" if g >= 0 else "remove") + ("" if plural else "s")
            clauses.append(f"{verb} {score(abs(g))} days in remission{share}")
        if mm:
            g = mm.gain[s]
            verb = ("lower" if g >= 0 else "raise") + ("" if plural else "s")
            clauses.append(f"{verb} mean MADRS by {score(abs(g))} points")
        desc = e.descriptions[s]
        out.append(f"{desc[0].upper()}{desc[1:]} {' and '.join(clauses)}.")
    return out


def sentences(explanation: LossExplanation | GainExplanation) -> list[str]:
    """Plain-language sentences with the numbers, ending with the off-label note (if any) and the disclaimer."""
    if isinstance(explanation, LossExplanation):
        out = loss_sentences(explanation)
    elif isinstance(explanation, GainExplanation):
        out = gain_sentences(explanation)
    else:
        raise TypeError(f"sentences() takes a LossExplanation or GainExplanation, not {type(explanation).__name__}")
    if explanation.off_label:
        out.append(f"Note: {OFF_LABEL_NOTE}.")
    out.append(DISCLAIMER)
    return out
