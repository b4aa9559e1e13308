"""Counting a plan's interventions (the clinic's aim: the most benefit with the fewest)."""

from __future__ import annotations

from ketasim.dosing.plan import Plan


def number_of_interventions(plan: Plan) -> dict[str, int]:
    """Doses (induction and maintenance), psychotherapy sessions, ECT and TMS sessions, and their total.

    ``total`` counts every dated intervention (doses + therapy + ECT/TMS sessions), as
    :attr:`Plan.n_interventions`; oral antidepressant courses are listed apart, not in the total.
    """
    ect = sum(len(t.session_days) for t in plan.treatments if t.kind == "ect")
    tms = sum(len(t.session_days) for t in plan.treatments if t.kind == "tms")
    induction = sum(1 for d in plan.doses if d.phase == "induction")
    maintenance = sum(1 for d in plan.doses if d.phase == "maintenance")
    return {
        "doses": induction + maintenance,
        "induction_doses": induction,
        "maintenance_doses": maintenance,
        "therapy_sessions": len(plan.therapy_days),
        "ect_sessions": ect,
        "tms_sessions": tms,
        "antidepressant_courses": sum(1 for t in plan.treatments if t.kind == "antidepressant"),
        "total": induction + maintenance + len(plan.therapy_days) + ect + tms,
    }
