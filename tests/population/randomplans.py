"""Random plans and patients for the population tests (shared by several test files)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from ketasim.dosing.plan import Dose, LifeEvent, LifestylePeriod, OtherTreatment, Patient, Plan
from ketasim.engine.compile import PKVariability
from ketasim.parameters import HOURS_PER_DAY
from ketasim.population import VirtualPatients
from ketasim.simulate import simulate


def random_plan(rng: np.random.Generator, horizon: float | None = None) -> Plan:
    """A plan drawn at random: racemic IV/IM/oral or intranasal esketamine, therapy, lifestyle, events."""
    horizon = float(horizon if horizon is not None else rng.integers(20, 80))
    kind = rng.choice(["iv", "iv", "im", "oral", "intranasal", "esk_iv"])
    n_doses = int(rng.integers(0 if kind == "iv" else 1, 9))
    days = np.sort(rng.choice(np.arange(0.0, horizon - 1.0), size=min(n_doses, int(horizon - 1)), replace=False))
    clock = rng.choice([0.0, 0.375, 0.5, 0.7])
    doses = []
    for i, d in enumerate(days):
        phase = "induction" if i < 4 else "maintenance"
        if kind == "iv":
            mgkg = float(rng.uniform(0.2, 1.0))
            doses.append(Dose(day=d + clock, amount_mg=mgkg * 70, mg_per_kg=mgkg, phase=phase,
                              duration_min=float(rng.choice([40.0, 40.0, 15.0, 100.0]))))
        elif kind == "im":
            doses.append(Dose(day=d + clock, amount_mg=float(rng.uniform(20, 60)), route="im", duration_min=0.0,
                              phase=phase))
        elif kind == "oral":
            doses.append(Dose(day=d + clock, amount_mg=float(rng.uniform(50, 250)), route="oral", duration_min=0.0,
                              phase=phase))
        elif kind == "intranasal":
            devices = int(rng.choice([2, 3]))
            doses.append(Dose(day=d + clock, amount_mg=28.0 * devices, route="intranasal", drug="esketamine",
                              duration_min=0.0, devices=devices, phase=phase))
        else:
            doses.append(Dose(day=d + clock, amount_mg=float(rng.uniform(10, 30)), drug="esketamine", phase=phase))
    therapy = tuple(sorted({float(x) + 0.6 for x in rng.choice(np.arange(1.0, horizon - 1), size=int(
        rng.integers(0, 6)), replace=False)})) if rng.random() < 0.4 else ()
    lifestyle = (LifestylePeriod(float(rng.uniform(-10, horizon / 2)), float(rng.uniform(horizon / 2, horizon + 10)),
                                 float(rng.uniform(0.2, 1.0))),) if rng.random() < 0.3 else ()
    treatments = []
    if rng.random() < 0.2:
        treatments.append(OtherTreatment("antidepressant", start_day=float(rng.choice([-30.0, 5.0]))))
    if rng.random() < 0.15:
        treatments.append(OtherTreatment("ect", session_days=tuple(float(x) for x in (3.5, 5.5, 7.5))))
    events = ()
    if rng.random() < 0.35:
        events = (LifeEvent(float(rng.uniform(-60, horizon)), float(rng.uniform(0.1, 0.6)),
                            float(rng.uniform(20, 150))),)
    return Plan(name="random", patient=Patient(life_events=events), doses=tuple(doses), therapy_days=therapy,
                lifestyle=lifestyle, treatments=tuple(treatments), horizon_days=horizon)


def patient_plan(plan: Plan, vp: VirtualPatients, i: int) -> Plan:
    """``plan`` for patient ``i`` as the population engine reads it (weight, baseline, loads substituted)."""
    ev = tuple(replace(e, amplitude=e.amplitude * float(vp.acute_load_scale[i])) for e in plan.patient.life_events)
    pt = replace(plan.patient, weight_kg=float(vp.weight_kg[i]), baseline_madrs=float(vp.baseline_madrs[i]),
                 chronic_load=float(vp.chronic_load[i]), life_events=ev)
    return replace(plan, patient=pt)


def reference_madrs(plan: Plan, vp: VirtualPatients, i: int, days: np.ndarray, rtol: float = 1e-9) -> np.ndarray:
    """MADRS of patient ``i`` at ``days`` from the one-patient SciPy reference."""
    tr = simulate(patient_plan(plan, vp, i), vp.params[i], method="reference", times_h=days * HOURS_PER_DAY,
                  pk_variability=PKVariability(float(vp.pk_cl[i]), float(vp.pk_v[i]), float(vp.pk_ka[i])),
                  rtol=rtol, atol=rtol * 1e-3)
    return tr.table["madrs"].to_numpy()


def plans_strategy():
    """Hypothesis strategy of plans: route, dose days and amounts, therapy, lifestyle, medication, events."""
    from hypothesis import strategies as st

    @st.composite
    def build(draw) -> Plan:
        horizon = float(draw(st.integers(14, 60)))
        kind = draw(st.sampled_from(["iv", "im", "oral", "intranasal", "esk_iv"]))
        n = draw(st.integers(0, 6))
        days = sorted(draw(st.lists(st.integers(0, int(horizon) - 2), min_size=n, max_size=n, unique=True)))
        clock = draw(st.sampled_from([0.0, 0.375, 0.6]))
        doses = []
        for i, d in enumerate(days):
            phase = "induction" if i < 3 else "maintenance"
            if kind == "iv":
                mgkg = draw(st.floats(0.2, 1.0))
                doses.append(Dose(day=d + clock, amount_mg=70 * mgkg, mg_per_kg=mgkg, phase=phase,
                                  duration_min=draw(st.sampled_from([40.0, 20.0, 100.0]))))
            elif kind in ("im", "oral"):
                doses.append(Dose(day=d + clock, amount_mg=draw(st.floats(20.0, 200.0)), route=kind,
                                  duration_min=0.0, phase=phase))
            elif kind == "intranasal":
                dev = draw(st.sampled_from([2, 3]))
                doses.append(Dose(day=d + clock, amount_mg=28.0 * dev, route="intranasal", drug="esketamine",
                                  duration_min=0.0, devices=dev, phase=phase))
            else:
                doses.append(Dose(day=d + clock, amount_mg=draw(st.floats(10.0, 30.0)), drug="esketamine",
                                  phase=phase))
        therapy = tuple(sorted({d + 0.6 for d in draw(st.lists(st.integers(1, int(horizon) - 1), max_size=5))}))
        lifestyle = ()
        if draw(st.booleans()):
            a = draw(st.floats(-5.0, horizon / 2))
            lifestyle = (LifestylePeriod(a, a + draw(st.floats(5.0, horizon)), draw(st.floats(0.2, 1.0))),)
        treatments = ()
        if draw(st.integers(0, 4)) == 0:
            treatments = (OtherTreatment("antidepressant", start_day=draw(st.sampled_from([-20.0, 3.0]))),)
        elif draw(st.integers(0, 4)) == 0:
            treatments = (OtherTreatment("ect", session_days=(2.5, 4.5, 6.5)),)
        events = ()
        if draw(st.booleans()):
            events = (LifeEvent(draw(st.floats(-40.0, horizon - 1)), draw(st.floats(0.05, 0.5)),
                                draw(st.floats(15.0, 150.0))),)
        return Plan(name="hypothesis", patient=Patient(life_events=events), doses=tuple(doses),
                    therapy_days=therapy, lifestyle=lifestyle, treatments=treatments, horizon_days=horizon,
                    allow_off_label=True)  # engine inputs, not treatment advice: any published range may be left

    return build()
