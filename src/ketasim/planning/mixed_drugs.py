"""Histories with two drugs (racemic ketamine IV and esketamine nasal spray): one batch template for both.

The batch engine (``ketasim.engine.batch``) integrates one PK model per plan. A clinic record can
hold both drugs, e.g. IV infusions of racemic ketamine and, later, esketamine nasal sprays. The
engine's drive is the potency ``s(t) = r . x(t)``, linear in the PK states ``x``, so two PK systems
run side by side as one block-diagonal system:

    A = diag(A_racemic, A_esketamine),   x = (x_racemic, x_esketamine)
    s(t) = r_rac . x_rac(t) + r_esk . x_esk(t)

Each block is the engine's own template of that drug's PK model (the model its routes use, or the
plan's ``pk_models``), so every term scales with the patient's weight and PK factors as in
``build_system`` (one clearance and one volume factor per patient, shared by the two drugs).
The engine weighs parent and metabolite concentrations with one enantiomer fraction (``fu/Ki/MW``,
``PKTemplate.potency_weights``), so the esketamine block's effect rows are scaled by the ratio of
esketamine's weights to racemic ketamine's; that ratio depends only on the binding constants, which
are the same for every particle of a forecast (checked).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from scipy.linalg import block_diag

from ketasim.dosing.plan import Plan
from ketasim.engine.batch import PKTemplate, PlanTemplate, plan_template
from ketasim.engine.compile import expand_doses
from ketasim.errors import PlanError
from ketasim.parameters import IDX

_BINDING = ("fu", "ki_s_ketamine", "ki_r_ketamine", "ki_s_norketamine", "ki_r_norketamine")


def drugs_of(plan: Plan) -> tuple[str, ...]:
    """The plan's drugs, racemic ketamine first (its PK model offers every route)."""
    return tuple(sorted({d.drug for d in plan.doses}, key=lambda d: (d != "racemic", d)))


def template_for(plan: Plan, params: np.ndarray, *, outcome_t_h: np.ndarray | None = None) -> PlanTemplate:
    """The batch template of ``plan`` (``plan_template``), with both PK systems when it has two drugs.

    ``params`` (rows x n) are the particles' response parameters: their binding constants must agree.
    """
    drugs = drugs_of(plan)
    if len(drugs) <= 1:
        return plan_template(plan, outcome_t_h=outcome_t_h)
    binding = params[:, [IDX[k] for k in _BINDING]]
    if not np.allclose(binding, binding[0], rtol=1e-12, atol=0.0):
        raise PlanError("parameters", "binding constants that differ between particles",
                        "the same fu and Ki for every particle of a two-drug history")
    primary = drugs[0]
    # The segments (dose times, infusion ends, sessions, events) do not depend on the drug: read them from the plan
    # with every dose given as the first drug (internal only, so the dose limits of that drug are not applied).
    same = replace(plan, doses=tuple(replace(d, drug=primary) for d in plan.doses), pk_models={},
                   allow_off_label=True)
    tpl = plan_template(same, outcome_t_h=outcome_t_h)
    parts = {dr: plan_template(replace(plan, doses=tuple(d for d in plan.doses if d.drug == dr),
                                       allow_off_label=True)) for dr in drugs}
    pks = [parts[dr].pk for dr in drugs]
    assert all(p is not None for p in pks)
    ref = params[:1]
    w0 = pks[0].potency_weights(ref)[0]
    effects = [pks[0].effect] + [(p.potency_weights(ref)[0] / w0)[:, None] * p.effect for p in pks[1:]]
    pk = PKTemplate(model_name="+".join(p.model_name for p in pks), routes=tuple(sorted({r for p in pks
                                                                                       for r in p.routes})),
                    A_disp=block_diag(*[p.A_disp for p in pks]), A_ka=block_diag(*[p.A_ka for p in pks]),
                    ke0_diag=block_diag(*[p.ke0_diag for p in pks]), ke0_in=block_diag(*[p.ke0_in for p in pks]),
                    effect=np.hstack(effects), enantiomer_s=pks[0].enantiomer_s)
    # input rows: each drug's own rows, placed in its block
    sizes = [p.n for p in pks]
    col0 = np.concatenate([[0], np.cumsum(sizes)])
    row0, rows = {}, []
    for j, dr in enumerate(drugs):
        row0[dr] = len(rows)
        for r in parts[dr].inputs:
            full = np.zeros(pk.n)
            full[col0[j]:col0[j] + sizes[j]] = r
            rows.append(full)
    # each expanded dose of the plan -> its drug's input row (the k-th dose of a drug is its template's k-th)
    horizon_h = tpl.horizon_h
    seen = dict.fromkeys(drugs, 0)
    inp = []
    for d in plan.doses:
        n_in = sum(1 for x in expand_doses((d,), 1.0) if x.start_h < horizon_h)
        for _ in range(n_in):
            k = seen[d.drug]
            inp.append(row0[d.drug] + int(parts[d.drug].dose_input[k]))
            seen[d.drug] = k + 1
    if len(inp) != tpl.dose_input.size:
        raise AssertionError("two-drug template: the doses of the plan and of its template differ")
    return replace(tpl, pk=pk, inputs=np.array(rows), dose_input=np.array(inp, dtype=np.int64))
