"""Export one plan's whole model as SBML Level 3 Version 2, and run it in libRoadRunner.

:func:`to_sbml` writes everything ketasim simulates for a plan into one self-contained SBML
document (units: hours, mg, L), so that any SBML tool can re-run, inspect or extend it:

* **Exposure.** Each PK compartment is an SBML compartment (volume in L) holding one species
  (amount in mg; ``hasOnlySubstanceUnits``). The linear model is written as reactions with
  mass-action-equivalent rates, ``C = A / V``:

      elimination  (1 - fm) CL C_parent          metabolism   fm CL C_parent -> metabolite
      distribution Q (C_central - C_peripheral)   absorption   ka A_depot -> central
      infusion     sum of the running infusions' rates (mg/h)

  Clearances scale with ``(weight / 70)^0.75`` and volumes with ``weight / 70`` (initial
  assignments). The metabolite is counted in parent-equivalent mg, as in
  :mod:`ketasim.exposure.system`. Effect sites are rate rules ``dCe/dt = ke0 (C - Ce)`` (mg/L).
* **Receptor.** ``s = fu 1000 sum_i f_i Ce_i / (Ki_i MW_i)`` and ``O = s / (1 + s)``
  (assignment rules; ``max(s, 0)`` guards against rounding, as in the engine).
* **Response.** The nine states ``G T D N M C S E A`` are parameters with rate rules, the
  equations of :mod:`ketasim.dynamics` and :mod:`ketasim.plasticity` written out: the smooth
  reinforcement ``R = 1 - exp(-(w_therapy S + w_lifestyle lifestyle))``, the free capacity
  ``max(0, 1 - N - M)``, the load ``L(t) = L_chronic + sum_e A_e exp(-(t - t_e) / tau_e)``
  for ``t >= t_e`` (piecewise), coping ``L_eff = L (1 - C)`` and the set point ``M_star``.
  ``MADRS = min(60, floor + kappa max(0, 1 - N - M) exp(-kappa_G G))`` is an assignment rule.
* **Plan.** Every dated intervention is an event: a bolus (and each intranasal device) adds
  its amount to the depot or central compartment; an infusion sets its rate parameter on at
  its start and off at its end; a psychotherapy session adds 1 to ``S``; an ECT/TMS session
  adds ``g_ect`` / ``g_tms`` to ``E``; lifestyle periods and antidepressants set their level
  parameters on and off. Interventions at or before time 0 are part of the initial state
  (as in :func:`ketasim.engine.compile.compile_plan`). Dose amounts are this patient's (a dose
  written in mg/kg is already multiplied by the plan's weight); ``weight_kg`` scales the PK.

Every parameter is an SBML parameter with units and notes giving its source and status.
The mechanism switches (pruning, homeostasis, tolerance, load) are parameters equal to 1.
The patient's trait deficit and the initial state come from
:func:`ketasim.engine.compile.compile_plan`, so the baseline is the one ketasim simulates.

:func:`roadrunner_simulate` runs such a document in libRoadRunner at daily outputs (used by
the tests as an independent check of the engine, and by ``benchmarks/peers.py``);
:func:`check_against_reference` runs it at libRoadRunner's default settings and reports the
agreement with ketasim's reference integrator (``ketasim export-sbml --check``). Every state is
stored with a constant offset (:data:`STATE_OFFSETS`) so that the file runs as exported.
"""

from __future__ import annotations

import re
from xml.sax.saxutils import escape

import libsbml
import numpy as np

from ketasim import DISCLAIMER
from ketasim.dosing.plan import Plan
from ketasim.dynamics import SE, SS
from ketasim.engine.compile import compile_plan, expand_doses
from ketasim.exposure.models import MW_KETAMINE, MW_NORKETAMINE, Disposition, PKModel
from ketasim.exposure.system import REFERENCE_WEIGHT_KG, PKSystem
from ketasim.parameters import HOURS_PER_DAY, IDX, Parameter, default_vector, response_parameters

SBML_LEVEL, SBML_VERSION = 3, 2
RESPONSE_STATES = ("G", "T", "D", "N", "M", "C", "S", "E", "A")
SWITCHES = ("pruning", "homeostasis", "tolerance", "load")

OFF_LABEL_NOTE = "This plan set allow_off_label: doses outside published ranges were allowed."

PK_OFFSET_MG = 1.0
#: Constant offsets of the stored states: id -> (value, SBML unit, why). libRoadRunner derives each state's
#: absolute tolerance from the state's current value (atol x min(1, |x|)) at every restart, so a drug
#: amount decaying towards 0 between doses (1e-38 mg after a month) gets a tolerance of 1e-50 and CVODE
#: fails at the next dose. Stored with an offset, no state comes near 0 and the default tolerances work.
STATE_OFFSETS: dict[str, tuple[float, str, str]] = {
    "pk_offset": (PK_OFFSET_MG, "mg", "every PK species holds its drug amount plus this constant (mg)"),
    "effect_site_offset": (1.0, "mg_per_litre", "every effect-site state is stored as Ce plus this constant (mg/L)"),
    "state_offset": (1.0, "dimensionless", "every response state is stored as its value plus this constant"),
}
OFFSET_NOTE = ("States are stored with constant offsets (pk_offset, effect_site_offset, state_offset; the species "
               "and the *_state parameters) so that none approaches zero: libRoadRunner scales each absolute "
               "tolerance by its state's current value, and a drug amount decaying between doses would otherwise "
               "make CVODE fail. The true values are the assignment rules named without _state (G, N, M, "
               "Ce_parent, C_parent, ...). The document runs as exported with libRoadRunner's default settings.")

#: Columns of the array returned by :func:`roadrunner_simulate` (time in hours).
ROADRUNNER_COLUMNS = ("time", "MADRS", *RESPONSE_STATES, "occupancy", "concentration_ng_ml")

_UNITS = {
    # id: [(kind, exponent, scale, multiplier), ...]
    "hour": [(libsbml.UNIT_KIND_SECOND, 1, 0, 3600.0)],
    "per_hour": [(libsbml.UNIT_KIND_SECOND, -1, 0, 3600.0)],
    "mg": [(libsbml.UNIT_KIND_GRAM, 1, -3, 1.0)],
    "mg_per_hour": [(libsbml.UNIT_KIND_GRAM, 1, -3, 1.0), (libsbml.UNIT_KIND_SECOND, -1, 0, 3600.0)],
    "mg_per_litre": [(libsbml.UNIT_KIND_GRAM, 1, -3, 1.0), (libsbml.UNIT_KIND_LITRE, -1, 0, 1.0)],
    "litre_per_hour": [(libsbml.UNIT_KIND_LITRE, 1, 0, 1.0), (libsbml.UNIT_KIND_SECOND, -1, 0, 3600.0)],
    "micromolar": [(libsbml.UNIT_KIND_MOLE, 1, -6, 1.0), (libsbml.UNIT_KIND_LITRE, -1, 0, 1.0)],
    "gram_per_mole": [(libsbml.UNIT_KIND_GRAM, 1, 0, 1.0), (libsbml.UNIT_KIND_MOLE, -1, 0, 1.0)],
}


class SBMLExportError(RuntimeError):
    """libSBML refused part of the document: a bug in the exporter, not a user error."""


def _ok(code: int, what: str) -> None:
    if code != libsbml.LIBSBML_OPERATION_SUCCESS:
        raise SBMLExportError(f"libSBML could not {what}: {libsbml.OperationReturnValue_toString(code)}")


def _math(formula: str) -> libsbml.ASTNode:
    ast = libsbml.parseL3Formula(formula)
    if ast is None:
        raise SBMLExportError(f"cannot parse {formula!r}: {libsbml.getLastParseL3Error()}")
    return ast


def _sid(text: str) -> str:
    """A valid SBML identifier made from ``text``."""
    s = re.sub(r"[^A-Za-z0-9_]", "_", text)
    return s if re.match(r"[A-Za-z_]", s) else f"_{s}"


def _fmt(x: float) -> str:
    return repr(float(x))


def _unit_of(unit: str) -> str:
    """SBML unit id for a ketasim unit string; units without an SBML form (scale points) are dimensionless."""
    u = unit.strip()
    if u.startswith("1/h"):
        return "per_hour"
    return {"h": "hour", "uM": "micromolar", "L": "litre", "L/70kg": "litre", "L/h": "litre_per_hour",
            "L/h/70kg": "litre_per_hour", "mg": "mg", "kg": "kilogram", "g/mol": "gram_per_mole",
            "mg/L": "mg_per_litre", "mg/h": "mg_per_hour"}.get(u, "dimensionless")


class _Builder:
    """Thin checked wrapper around a libSBML model."""

    def __init__(self, model_id: str, name: str) -> None:
        self.doc = libsbml.SBMLDocument(SBML_LEVEL, SBML_VERSION)
        self.model = self.doc.createModel()
        m = self.model
        _ok(m.setId(model_id), "set the model id")
        _ok(m.setName(name), "set the model name")
        for uid, parts in _UNITS.items():
            ud = m.createUnitDefinition()
            _ok(ud.setId(uid), f"define unit {uid}")
            for kind, exponent, scale, multiplier in parts:
                u = ud.createUnit()
                _ok(u.setKind(kind), "set a unit kind")
                _ok(u.setExponent(exponent), "set a unit exponent")
                _ok(u.setScale(scale), "set a unit scale")
                _ok(u.setMultiplier(multiplier), "set a unit multiplier")
        for attr, value in (("TimeUnits", "hour"), ("SubstanceUnits", "mg"), ("ExtentUnits", "mg"),
                            ("VolumeUnits", "litre")):
            _ok(getattr(m, f"set{attr}")(value), f"set model {attr}")

    @staticmethod
    def notes(sbase: libsbml.SBase, lines: list[str]) -> None:
        body = "".join(f"<p>{escape(line)}</p>" for line in lines if line)
        _ok(sbase.setNotes(f'<body xmlns="http://www.w3.org/1999/xhtml">{body}</body>'), "set notes")

    def parameter(self, pid: str, value: float | None, units: str, notes: list[str], *,
                  constant: bool = True, name: str = "") -> libsbml.Parameter:
        p = self.model.createParameter()
        _ok(p.setId(pid), f"create parameter {pid}")
        if value is not None:
            _ok(p.setValue(float(value)), f"set the value of {pid}")
        _ok(p.setUnits(units), f"set the units of {pid}")
        _ok(p.setConstant(constant), f"set {pid} constant")
        if name:
            _ok(p.setName(name), f"name {pid}")
        self.notes(p, notes)
        return p

    def compartment(self, cid: str, size: float, notes: list[str]) -> None:
        c = self.model.createCompartment()
        _ok(c.setId(cid), f"create compartment {cid}")
        _ok(c.setSpatialDimensions(3.0), "set spatial dimensions")
        _ok(c.setSize(size), f"set the size of {cid}")
        _ok(c.setUnits("litre"), f"set the units of {cid}")
        _ok(c.setConstant(True), f"set {cid} constant")
        self.notes(c, notes)

    def species(self, sid: str, compartment: str, amount: float, notes: list[str]) -> None:
        s = self.model.createSpecies()
        _ok(s.setId(sid), f"create species {sid}")
        _ok(s.setCompartment(compartment), f"place {sid}")
        _ok(s.setInitialAmount(amount), f"set the amount of {sid}")
        _ok(s.setSubstanceUnits("mg"), f"set the units of {sid}")
        _ok(s.setHasOnlySubstanceUnits(True), f"set {sid} in amounts")
        _ok(s.setBoundaryCondition(False), f"set {sid} boundary")
        _ok(s.setConstant(False), f"set {sid} variable")
        self.notes(s, notes)

    def initial_assignment(self, symbol: str, formula: str) -> None:
        ia = self.model.createInitialAssignment()
        _ok(ia.setSymbol(symbol), f"assign {symbol}")
        _ok(ia.setMath(_math(formula)), f"set the initial assignment of {symbol}")

    def assignment(self, pid: str, formula: str, units: str, notes: list[str]) -> None:
        self.parameter(pid, None, units, notes, constant=False)
        r = self.model.createAssignmentRule()
        _ok(r.setVariable(pid), f"rule for {pid}")
        _ok(r.setMath(_math(formula)), f"set the rule of {pid}")

    def state(self, name: str, initial: float, units: str, offset: str, notes: list[str]) -> None:
        """A state ``name`` stored shifted: ``{name}_state = name + offset`` carries the rate rule (see
        :data:`STATE_OFFSETS`); ``name`` itself is an assignment rule, so every formula uses the true value."""
        self.parameter(f"{name}_state", float(initial) + STATE_OFFSETS[offset][0], units,
                       [*notes, f"stored as {name} + {offset} (the rate rule acts on it; {name} is the true value)"],
                       constant=False)
        self.assignment(name, f"{name}_state - {offset}", units, notes)

    def rate_rule(self, pid: str, formula: str) -> None:
        r = self.model.createRateRule()
        _ok(r.setVariable(pid), f"rate rule for {pid}")
        _ok(r.setMath(_math(formula)), f"set the rate rule of {pid}")

    def reaction(self, rid: str, reactants: list[str], products: list[str], rate: str, notes: list[str], *,
                 reversible: bool = False) -> None:
        r = self.model.createReaction()
        _ok(r.setId(rid), f"create reaction {rid}")
        _ok(r.setReversible(reversible), f"set {rid} reversibility")
        for sid in reactants:
            ref = r.createReactant()
            _ok(ref.setSpecies(sid), f"add reactant {sid}")
            _ok(ref.setStoichiometry(1.0), "set stoichiometry")
            _ok(ref.setConstant(True), "set stoichiometry constant")
        for sid in products:
            ref = r.createProduct()
            _ok(ref.setSpecies(sid), f"add product {sid}")
            _ok(ref.setStoichiometry(1.0), "set stoichiometry")
            _ok(ref.setConstant(True), "set stoichiometry constant")
        kl = r.createKineticLaw()
        _ok(kl.setMath(_math(rate)), f"set the rate of {rid}")
        self.notes(r, notes)

    def event(self, eid: str, time_h: float, assignments: list[tuple[str, str]], notes: list[str]) -> None:
        """``time >= time_h`` fires once; assignments use the values current when executed."""
        e = self.model.createEvent()
        _ok(e.setId(eid), f"create event {eid}")
        _ok(e.setUseValuesFromTriggerTime(False), f"set {eid} timing")
        trig = e.createTrigger()
        _ok(trig.setMath(_math(f"time >= {_fmt(time_h)}")), f"set the trigger of {eid}")
        _ok(trig.setInitialValue(True), "set the trigger's initial value")
        _ok(trig.setPersistent(True), "set the trigger persistent")
        for var, formula in assignments:
            ea = e.createEventAssignment()
            _ok(ea.setVariable(var), f"assign {var} in {eid}")
            _ok(ea.setMath(_math(formula)), f"set the assignment of {var} in {eid}")
        self.notes(e, notes)


def _param_notes(p: Parameter) -> list[str]:
    return [p.description, f"unit: {p.unit}", f"source: {p.source}", f"status: {p.status}",
            f"layer: {p.layer}" + (f"; plausible range {p.bounds[0]:g} to {p.bounds[1]:g}" if p.bounds else "")]


def _published(model: PKModel, *names: str) -> Parameter | None:
    """The model's published parameter called ``<model>.<name>`` for the first name that exists."""
    by_name = {p.name.split(".", 1)[1]: p for p in model.parameters}
    return next((by_name[n] for n in names if n in by_name), None)


def _pk_notes(model: PKModel, what: str, *published: str, fallback: str = "") -> list[str]:
    """Notes of a PK value: the published parameter it comes from (source, status), or how it was derived."""
    p = _published(model, *published) if published else None
    lines = [what, f"PK model {model.name}: {model.citation}"]
    if p is not None:
        lines += [f"published as {p.name} = {p.value:g} {p.unit}", f"source: {p.source}", f"status: {p.status}"]
    else:
        lines += [fallback or "derived from the model's published parameters (rate constants, Vss; listed with "
                  "their source and status in the model notes)"]
    return lines


def _add_disposition(b: _Builder, model: PKModel, prefix: str, d: Disposition, fm_target: str | None) -> None:
    """Compartments, species and reactions of one drug's mammillary disposition."""
    is_parent = prefix == "parent"
    label = "ketamine" if is_parent else "norketamine"
    central = f"{prefix}_central"
    b.parameter(f"V_ref_{central}", d.v1, "litre",
                _pk_notes(model, f"{label} central volume at 70 kg",
                          *(("V1", "Vc") if is_parent else ("V_norketamine",))))
    b.compartment(f"cmt_{central}", d.v1, [f"{label} central compartment; volume V_ref x weight / 70"])
    b.initial_assignment(f"cmt_{central}", f"V_ref_{central} * v_factor * weight_kg / reference_weight_kg")
    b.species(central, f"cmt_{central}", PK_OFFSET_MG, [f"{label} in the central compartment plus pk_offset (mg; "
                                                         "the metabolite in parent-equivalent mg)"])
    b.parameter(f"CL_ref_{prefix}", d.cl, "litre_per_hour",
                _pk_notes(model, f"{label} clearance at 70 kg", *(("CL",) if is_parent else ("CL_norketamine",))))
    b.parameter(f"CL_{prefix}", d.cl, "litre_per_hour",
                [f"{label} clearance of this patient: CL_ref x (weight / 70)^0.75"])
    b.initial_assignment(f"CL_{prefix}", f"CL_ref_{prefix} * cl_factor * (weight_kg / reference_weight_kg)^"
                                         "allometric_exponent_clearance")
    conc = f"({central} - pk_offset) / cmt_{central}"
    if fm_target is not None:
        b.reaction(f"{prefix}_elimination", [central], [], f"(1 - fm) * CL_{prefix} * {conc}",
                   [f"{label} clearance not forming the metabolite: (1 - fm) CL C"])
        b.reaction(f"{prefix}_metabolism", [central], [fm_target], f"fm * CL_{prefix} * {conc}",
                   [f"{label} clearance forming the metabolite: fm CL C (parent-equivalent mg)"])
    else:
        b.reaction(f"{prefix}_elimination", [central], [], f"CL_{prefix} * {conc}", [f"{label} clearance: CL C"])
    for i, (vp, q) in enumerate(d.peripherals, start=1):
        per = f"{prefix}_peripheral{i}"
        if is_parent:
            names_v, names_q = (f"Vp{i}", f"V{i + 1}"), (f"Q{i}",) + (("Q",) if i == 1 else ())
        else:
            names_v, names_q = ("Vp_norketamine",) if i == 1 else (), ("Q_norketamine",) if i == 1 else ()
        b.parameter(f"V_ref_{per}", vp, "litre", _pk_notes(model, f"{label} peripheral volume {i} at 70 kg",
                                                           *names_v))
        b.compartment(f"cmt_{per}", vp, [f"{label} peripheral compartment {i}; volume V_ref x weight / 70"])
        b.initial_assignment(f"cmt_{per}", f"V_ref_{per} * v_factor * weight_kg / reference_weight_kg")
        b.species(per, f"cmt_{per}", PK_OFFSET_MG, [f"{label} in peripheral compartment {i} plus pk_offset (mg)"])
        b.parameter(f"Q_ref_{per}", q, "litre_per_hour",
                    _pk_notes(model, f"{label} intercompartmental clearance {i} at 70 kg", *names_q))
        b.parameter(f"Q_{per}", q, "litre_per_hour", ["intercompartmental clearance of this patient, "
                                                      "Q_ref x (weight / 70)^0.75"])
        b.initial_assignment(f"Q_{per}", f"Q_ref_{per} * cl_factor * (weight_kg / reference_weight_kg)^"
                                         "allometric_exponent_clearance")
        b.reaction(f"{per}_distribution", [central], [per], f"Q_{per} * ({conc} - ({per} - pk_offset) / cmt_{per})",
                   [f"distribution between central and peripheral {i}: Q (C_central - C_peripheral)"],
                   reversible=True)


def _add_exposure(b: _Builder, plan: Plan, system: PKSystem) -> None:
    """Compartments, species, reactions, effect sites and the potency ``s`` of the plan's PK model."""
    model = system.model
    b.parameter("weight_kg", plan.patient.weight_kg, "kilogram", ["patient body weight, from the plan"])
    b.parameter("reference_weight_kg", REFERENCE_WEIGHT_KG, "kilogram",
                ["reference weight of the published PK models", "status: literature"])
    b.parameter("allometric_exponent_clearance", 0.75, "dimensionless",
                ["allometric exponent of clearances (volumes: 1)", "source: standard allometry (West 1997; "
                 "Anderson & Holford 2008)", "status: literature"])
    for f in ("cl", "v", "ka"):
        b.parameter(f"{f}_factor", 1.0, "dimensionless",
                    [f"inter-individual multiplier on all {f.upper()} (1 = typical patient)", "status: assumed"])
    met = model.metabolite
    if met is not None:
        b.parameter("fm", model.fraction_metabolised, "dimensionless",
                    _pk_notes(model, "fraction of parent clearance forming the metabolite", "fm",
                              fallback="the model's metabolite is formed by all of the parent's clearance "
                                       "(structure of the published model)"))
    _add_disposition(b, model, "parent", model.parent, "metabolite_central" if met is not None else None)
    if met is not None:
        _add_disposition(b, model, "metabolite", met, None)

    depots = [n for n in system.state_names if n.startswith("depot_")]
    if depots:
        b.compartment("cmt_depot", 1.0, ["absorption sites (nominal 1 L; only amounts matter)"])
    for name in depots:
        _, route, j = name.split("_")
        path = model.routes[route][int(j)]
        b.species(name, "cmt_depot", PK_OFFSET_MG, [f"{route} absorption path {j} plus pk_offset: {path.fraction:g} "
                                                    "of a dose, to the "
                                           f"{path.target} (device fractions in the dose events)"])
        b.parameter(f"ka_{name}", path.ka, "per_hour",
                    _pk_notes(model, f"absorption rate of {route} path {j}", f"ka_{route}",
                              "ka_nasal" if j == "0" else "ka_gut",
                              fallback="status: assumed (absorption rates not published for this model and route)"))
        b.parameter(f"ka_eff_{name}", path.ka, "per_hour", ["absorption rate of this patient: ka x ka_factor"])
        b.initial_assignment(f"ka_eff_{name}", f"ka_{name} * ka_factor")
        b.reaction(f"absorption_{name}", [name], [f"{path.target}_central"], f"ka_eff_{name} * ({name} - pk_offset)",
                   [f"first-order absorption from {name}"])

    # Effect sites and the potency-weighted concentration that drives occupancy.
    b.assignment("C_parent", "(parent_central - pk_offset) / cmt_parent_central", "mg_per_litre",
                 ["plasma parent drug (mg/L)"])
    b.assignment("concentration_ng_ml", "1000 * C_parent", "dimensionless",
                 ["plasma parent drug in ng/mL (= ug/L)"])
    b.state("Ce_parent", 0.0, "mg_per_litre", "effect_site_offset",
            ["parent drug at the effect site (mg/L): dCe/dt = ke0 (C - Ce)"])
    b.rate_rule("Ce_parent_state", "ke0 * (C_parent - Ce_parent)")
    fs = model.enantiomer_s
    b.parameter("fraction_S", fs, "dimensionless", [f"S-enantiomer fraction of {model.drug} and of its "
                                                    "metabolite", "status: literature"])
    b.parameter("MW_ketamine", MW_KETAMINE, "gram_per_mole", ["molar mass of ketamine", "status: literature"])
    potency = ("fu * 1000 * (fraction_S / ki_s_ketamine + (1 - fraction_S) / ki_r_ketamine) / MW_ketamine "
               "* Ce_parent")
    if met is not None:
        b.assignment("C_metabolite", "(metabolite_central - pk_offset) / cmt_metabolite_central * MW_norketamine "
                     "/ MW_ketamine",
                     "mg_per_litre", ["plasma metabolite (mg/L of norketamine; the amount is parent-equivalent mg, "
                                      "converted by the molar-mass ratio)"])
        b.assignment("norketamine_ng_ml", "1000 * C_metabolite", "dimensionless", ["plasma metabolite in ng/mL"])
        b.state("Ce_metabolite", 0.0, "mg_per_litre", "effect_site_offset", ["metabolite at the effect site (mg/L)"])
        b.rate_rule("Ce_metabolite_state", "ke0 * (C_metabolite - Ce_metabolite)")
        b.parameter("MW_norketamine", MW_NORKETAMINE, "gram_per_mole", ["molar mass of norketamine",
                                                                         "status: literature"])
        potency += (" + fu * 1000 * (fraction_S / ki_s_norketamine + (1 - fraction_S) / ki_r_norketamine) "
                    "/ MW_norketamine * Ce_metabolite")
    b.assignment("potency", potency, "dimensionless",
                 ["s = sum_i fu Ce_i / Ki_i (unbound effect-site concentrations in uM over Ki)"])


def _add_dose_events(b: _Builder, plan: Plan, system: PKSystem) -> None:
    """One event per bolus and per intranasal device; two per infusion (rate on, rate off).

    Ids follow the plan's dose list: ``dose3`` (bolus), ``dose3_start`` / ``dose3_end``
    (infusion), ``dose3_device2`` (second spray device of dose 3). Doses at or before time 0
    are in the initial amounts and rates.
    """
    infusions: list[tuple[str, list[tuple[str, float]]]] = []
    for i, plan_dose in enumerate(plan.doses, start=1):
        pieces = expand_doses((plan_dose,), plan.patient.weight_kg)
        for d in pieces:
            b_vec = system.input_vector(d.route, d.device)
            targets = [(system.state_names[j], float(f)) for j, f in enumerate(b_vec) if f != 0.0]
            when = f"day {d.start_h / HOURS_PER_DAY:g} ({d.start_h:g} h)"
            if d.duration_h > 0:
                rid = f"infusion_rate_dose{i}"
                rate = d.amount_mg / d.duration_h
                on_at_start = d.start_h <= 0.0 < d.start_h + d.duration_h
                b.parameter(rid, rate if on_at_start else 0.0, "mg_per_hour",
                            [f"rate of dose {i}: {d.amount_mg:g} mg {d.route} over {d.duration_h * 60:g} min "
                             f"from {when}; on only while it runs"], constant=False)
                infusions.append((rid, targets))
                if d.start_h > 0:
                    b.event(f"dose{i}_start", d.start_h, [(rid, _fmt(rate))], [f"infusion {i} starts, {when}"])
                if d.start_h + d.duration_h > 0:
                    b.event(f"dose{i}_end", d.start_h + d.duration_h, [(rid, "0")], [f"infusion {i} ends"])
                continue
            device = f"_device{d.device + 1}" if len(pieces) > 1 else ""
            which = f"dose {i}, device {d.device + 1}" if device else f"dose {i}"
            label = (f"{which}: {d.amount_mg:g} mg {d.route}, {when}; adds "
                     + ", ".join(f"{f:.6g} x {d.amount_mg:g} mg to {name}" for name, f in targets))
            if d.start_h <= 0:
                for name, f in targets:
                    sp = b.model.getSpecies(name)
                    _ok(sp.setInitialAmount(sp.getInitialAmount() + f * d.amount_mg), "set a bolus at time 0")
                continue
            b.event(f"dose{i}{device}", d.start_h,
                    [(name, f"{name} + {_fmt(f * d.amount_mg)}") for name, f in targets], [label])
    if infusions:
        total = " + ".join(rid for rid, _ in infusions)
        b.assignment("infusion_rate", total, "mg_per_hour", ["sum of the running infusions' rates (mg/h)"])
        first_targets = infusions[0][1]
        for rid, tg in infusions:
            if tg != first_targets:
                raise SBMLExportError(f"infusions with different targets ({rid}) are not supported")
        for name, f in first_targets:
            b.reaction(f"infusion_to_{name}", [], [name], f"{_fmt(f)} * infusion_rate",
                       [f"infusions deliver {f:g} of their rate to {name}"])


def _add_response(b: _Builder, plan: Plan, params: np.ndarray, y0: np.ndarray, d_trait: float,
                  has_pk: bool) -> None:
    for p in response_parameters():
        value = float(params[IDX[p.name]])
        notes = _param_notes(p)
        if value != p.value:
            notes.insert(1, f"value set by the caller (default {p.value:g})")
        b.parameter(p.name, value, _unit_of(p.unit), notes, name=p.description)
    for sw in SWITCHES:
        b.parameter(f"switch_{sw}", 1.0, "dimensionless",
                    [f"mechanism switch: 1 keeps the '{sw}' reason of the seed text on, 0 switches it off"])
    b.parameter("d_trait", d_trait, "dimensionless",
                [f"trait deficit of this patient: the untreated steady state scores the baseline MADRS "
                 f"{plan.patient.baseline_madrs:g} under the load at day 0 (ketasim.symptoms.madrs.trait_deficit)",
                 "status: calibrated to the patient's baseline"])

    # Load L(t) with life events as piecewise exponential decays.
    b.parameter("load_chronic", plan.patient.chronic_load, "dimensionless", ["chronic load of the patient (plan)"])
    terms = ["load_chronic"]
    for i, ev in enumerate(plan.patient.life_events, start=1):
        b.parameter(f"event{i}_time", ev.day * HOURS_PER_DAY, "hour", [f"{ev.label}: day {ev.day:g}"])
        b.parameter(f"event{i}_amplitude", ev.amplitude, "dimensionless", [f"{ev.label}: load added"])
        b.parameter(f"event{i}_fade", ev.fade_days * HOURS_PER_DAY, "hour", [f"{ev.label}: fading time"])
        terms.append(f"piecewise(event{i}_amplitude * exp(-(time - event{i}_time) / event{i}_fade), "
                     f"time >= event{i}_time, 0)")
    b.assignment("load", " + ".join(terms), "dimensionless",
                 ["L(t) = L_chronic + sum_e A_e exp(-(t - t_e) / tau_e) for t >= t_e"])

    # Piecewise-constant inputs set by events.
    life_ids = []
    for i, lp in enumerate(plan.lifestyle, start=1):
        lid = f"lifestyle{i}"
        on0 = lp.start_day <= 0 < lp.end_day
        b.parameter(f"{lid}_level", lp.level, "dimensionless", [f"{lp.label}: level when on"])
        b.parameter(lid, lp.level if on0 else 0.0, "dimensionless",
                    [f"{lp.label}: days {lp.start_day:g} to {lp.end_day:g}"], constant=False)
        life_ids.append(lid)
        if lp.start_day > 0:
            b.event(f"{lid}_start", lp.start_day * HOURS_PER_DAY, [(lid, f"{lid}_level")], [f"{lp.label} starts"])
        if lp.end_day > 0:
            b.event(f"{lid}_end", lp.end_day * HOURS_PER_DAY, [(lid, "0")], [f"{lp.label} ends"])
    life_sum = " + ".join(life_ids) if life_ids else "0"
    b.assignment("lifestyle", f"piecewise(1, {life_sum} > 1, {life_sum})", "dimensionless",
                 ["lifestyle level in [0, 1]: the sum of the running periods, at most 1"])
    ad_ids = []
    n_session = 0
    for i, tr in enumerate(plan.treatments, start=1):
        if tr.kind == "antidepressant":
            aid = f"antidepressant{i}_on"
            end = np.inf if tr.end_day is None else tr.end_day
            b.parameter(aid, 1.0 if tr.start_day <= 0 < end else 0.0, "dimensionless",
                        [f"oral antidepressant {tr.label}: 1 from day {tr.start_day:g}"
                         + ("" if tr.end_day is None else f" to day {tr.end_day:g}")], constant=False)
            ad_ids.append(aid)
            if tr.start_day > 0:
                b.event(f"{aid}_start", tr.start_day * HOURS_PER_DAY, [(aid, "1")], ["antidepressant starts"])
            if tr.end_day is not None and tr.end_day > 0:
                b.event(f"{aid}_end", tr.end_day * HOURS_PER_DAY, [(aid, "0")], ["antidepressant stops"])
        else:
            gain = "g_ect" if tr.kind == "ect" else "g_tms"
            for day in tr.session_days:
                n_session += 1
                if day <= 0:
                    y0[SE] += params[IDX[gain]]
                    continue
                b.event(f"{tr.kind}_session{n_session}", day * HOURS_PER_DAY, [("E_state", f"E_state + {gain}")],
                        [f"{tr.kind.upper()} session on day {day:g}: adds {gain} to the plasticity drive E"])
    ad_sum = " + ".join(ad_ids) if ad_ids else "0"
    b.assignment("antidepressant_on", f"piecewise(1, {ad_sum} > 0, 0)", "dimensionless",
                 ["1 while an oral antidepressant is taken"])
    for k, day in enumerate(plan.therapy_days, start=1):
        if day <= 0:
            y0[SS] += 1.0
            continue
        b.event(f"psychotherapy_session{k}", day * HOURS_PER_DAY, [("S_state", "S_state + 1")],
                [f"psychotherapy session on day {day:g}: adds 1 to the session trace S"])

    # States.
    what = {
        "G": "trigger signal (BDNF/eEF2/mTORC1)", "T": "antidepressant tolerance", "D": "dissociation tolerance",
        "N": "labile synapses", "M": "mature synapses", "C": "coping skills", "S": "psychotherapy session trace",
        "E": "ECT/TMS plasticity drive", "A": "oral antidepressant effect on the set point",
    }
    for i, name in enumerate(RESPONSE_STATES):
        b.state(name, float(y0[i]), "dimensionless", "state_offset", [f"state {name}: {what[name]} (dimensionless)"])

    if has_pk:
        b.assignment("occupancy", "piecewise(potency / (1 + potency), potency > 0, 0)", "dimensionless",
                     ["NMDA occupancy O = s / (1 + s)"])
    else:
        b.assignment("occupancy", "0", "dimensionless", ["no doses: no occupancy"])
    b.assignment("reinforcement", "1 - exp(-(w_therapy * S + w_lifestyle * lifestyle))", "dimensionless",
                 ["R = 1 - exp(-(w_therapy S + w_lifestyle lifestyle))"])
    b.assignment("free_capacity", "piecewise(1 - N - M, 1 - N - M > 0, 0)", "dimensionless",
                 ["max(0, 1 - N - M)"])
    b.assignment("load_effective", "load * (1 - C)", "dimensionless", ["L_eff = L (1 - C)"])
    b.assignment("set_point", "1 - d_trait - beta * switch_load * load_effective + gamma_lifestyle * lifestyle + A",
                 "dimensionless", ["M_star = 1 - d_trait - beta L_eff + gamma lifestyle + A"])
    b.assignment("maturation", "k_mat * (1 + rho_m * reinforcement + mu_G * G) * N", "per_hour",
                 ["flux of labile into mature synapses: k_mat (1 + rho_m R + mu_G G) N"])
    rates = {
        "G": "k_G * (occupancy * (1 - switch_tolerance * T) - G)",
        "T": "k_T_on * occupancy * (1 - T) - k_T_off * T",
        "D": "k_D_on * occupancy * (1 - D) - k_D_off * D",
        "N": "k_form * (G + E) * free_capacity - k_prune * switch_pruning * (1 - rho_p * reinforcement) * N"
             " - maturation",
        "M": "maturation - k_hom * switch_homeostasis * (M - set_point)",
        "C": "eta * S * (1 + xi * N) * (1 - C) - k_C * C",
        "S": "-S / tau_session",
        "E": "-E / tau_neurostim",
        "A": "k_antidepressant * (antidepressant_on * a_antidepressant - A)",
    }
    for name in RESPONSE_STATES:
        b.rate_rule(f"{name}_state", rates[name])
    raw = "madrs_floor + kappa * free_capacity * exp(-kappa_G * G)"
    b.assignment("MADRS", f"piecewise(60, {raw} > 60, {raw})", "dimensionless",
                 ["MADRS = min(60, floor + kappa max(0, 1 - N - M) exp(-kappa_G G)) (scale points; "
                  "ketasim.symptoms.madrs)"])


def to_sbml(plan: Plan, params: np.ndarray | None = None) -> str:
    """The whole model of ``plan`` as an SBML Level 3 Version 2 document (a string).

    ``params`` is the response parameter vector (default: :func:`ketasim.parameters.default_vector`).
    Time is in hours from the plan start (day 0 at midnight). Raises :class:`SBMLExportError` if
    libSBML reports an error in the document (a bug), and the plan's own errors
    (:class:`ketasim.errors.PlanError`) for an invalid plan.
    """
    params = default_vector() if params is None else np.asarray(params, dtype=np.float64)
    cp = compile_plan(plan, params)
    b = _Builder(_sid(f"ketasim_{plan.name}"), f"ketasim plan {plan.name}")
    lines = [DISCLAIMER,
             f"Plan {plan.name!r} starting {plan.start_date.isoformat()} (time 0 = that day, 00:00); "
             f"horizon {plan.horizon_days:g} days; units: hours, mg, L.",
             plan.description]
    if plan.allow_off_label:
        lines.append(OFF_LABEL_NOTE)
    lines.append(OFFSET_NOTE)
    for pid, (value, unit, why) in STATE_OFFSETS.items():
        b.parameter(pid, value, unit, [why, "numerical only: it changes no result"])
    y0 = cp.y0.copy()
    if cp.pk is not None:
        pk_model = cp.pk.model
        lines.append(f"PK model {pk_model.name} ({pk_model.drug}): {pk_model.citation}.")
        lines += [f"{p.name} = {p.value:g} {p.unit} ({p.status}; {p.source}): {p.description}"
                  for p in pk_model.parameters]
        _add_exposure(b, plan, cp.pk)
        _add_dose_events(b, plan, cp.pk)
    _add_response(b, plan, params, y0, cp.d_trait, cp.pk is not None)
    b.notes(b.model, lines)
    errors = _errors(b.doc)
    if errors:
        raise SBMLExportError("the exported SBML is not valid: " + "; ".join(errors))
    return libsbml.writeSBMLToString(b.doc)


def _errors(doc: libsbml.SBMLDocument, *, check: bool = False) -> list[str]:
    """Messages of the errors (not warnings) libSBML finds in ``doc`` (``check``: run the full consistency check)."""
    if check:
        doc.checkConsistency()
    return [doc.getError(i).getMessage().strip() for i in range(doc.getNumErrors())
            if doc.getError(i).getSeverity() >= libsbml.LIBSBML_SEV_ERROR]


def consistency_errors(xml: str) -> list[str]:
    """Errors (not warnings) from libSBML's full consistency check of an SBML string."""
    doc = libsbml.readSBMLFromString(xml)
    return _errors(doc) + _errors(doc, check=True)


def roadrunner_simulate(xml: str, days: int, *, rtol: float | None = 1e-9, atol: float | None = 1e-12,
                        selections: tuple[str, ...] = ROADRUNNER_COLUMNS) -> np.ndarray:
    """Simulate an SBML document from :func:`to_sbml` in libRoadRunner, one output per day.

    Returns an array of shape ``(days + 1, len(selections))`` at hours ``0, 24, ..., 24 days``;
    columns are :data:`ROADRUNNER_COLUMNS` by default (time in hours, MADRS, the nine states,
    occupancy, plasma ketamine in ng/mL). CVODE runs at ``rtol`` and ``atol`` (``None``: keep
    libRoadRunner's defaults, as a user who loads the file would); the events (dose starts and
    ends, sessions) stop and restart the integrator.
    """
    import roadrunner

    rr = roadrunner.RoadRunner(xml)
    integ = rr.integrator
    if rtol is not None:
        integ.relative_tolerance = rtol
    if atol is not None:
        integ.absolute_tolerance = atol
        integ.maximum_num_steps = 1_000_000
    rr.timeCourseSelections = list(selections)
    n_days = int(days)
    return np.asarray(rr.simulate(0.0, n_days * HOURS_PER_DAY, n_days + 1))


def check_against_reference(plan: Plan, params: np.ndarray | None = None) -> dict[str, float]:
    """Run the export of ``plan`` in libRoadRunner at its default settings and compare it with ketasim's
    reference integrator (``simulate(method="reference")``) at daily outputs.

    Returns the largest absolute differences: ``madrs`` (points), ``N``, ``M`` and
    ``concentration_ng_ml``, plus the libRoadRunner tolerances used.
    """
    import roadrunner

    from ketasim.simulate import simulate

    days = int(np.floor(plan.horizon_days))
    rr = roadrunner.RoadRunner(to_sbml(plan, params))  # as a user loads it: no setting changed
    rtol, atol = float(rr.integrator.relative_tolerance), float(rr.integrator.absolute_tolerance)
    rr.timeCourseSelections = ["time", "MADRS", "N", "M", "concentration_ng_ml"]
    out = np.asarray(rr.simulate(0.0, days * HOURS_PER_DAY, days + 1))
    ref = simulate(plan, params, method="reference", times_h=np.arange(days + 1) * HOURS_PER_DAY).table
    diff = {name: float(np.max(np.abs(out[:, k + 1] - ref[col].to_numpy())))
            for k, (name, col) in enumerate((("madrs", "madrs"), ("N", "N"), ("M", "M"),
                                             ("concentration_ng_ml", "concentration_ng_ml")))}
    return {**diff, "days": float(days), "rtol": rtol, "atol": atol}


__all__ = ["ROADRUNNER_COLUMNS", "STATE_OFFSETS", "SBMLExportError", "check_against_reference", "consistency_errors",
           "roadrunner_simulate", "to_sbml"]
