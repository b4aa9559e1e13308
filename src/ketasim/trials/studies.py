"""Virtual studies: arms, population, visits, scale, outcome definitions and randomisation.

A :class:`Study` says what a published trial did, in the terms the simulator needs:

* ``arms``: one treatment :class:`~ketasim.dosing.plan.Plan` each (the plan's patient is a template;
  every virtual patient brings their own weight, severity and load);
* ``population``: who was enrolled (:class:`PopulationSpec`: baseline severity, weight, inclusion range);
* ``visits``: the named days (from the first dose's day, 0) on which the scale was rated;
* ``scale``: ``madrs``, ``hdrs17``, ``hdrs21``, ``phq9`` or ``qids_sr16`` (``ketasim.symptoms.scales``);
* ``outcomes``: how each published figure was computed (:class:`OutcomeSpec`), each tied to a target id
  of ``ketasim.trials.targets`` when it is one;
* ``randomisation``: who was randomised between which arms (SUSTAIN-1 randomised stable remitters);
* ``follow_up``: administrative censoring of time-to-relapse analyses.

Built-in studies (:data:`BUILTIN_STUDIES`) transcribe the trials of ``clinical-targets.md``. Where a
study's design detail is our reading rather than a number in the target table, its ``notes`` say so.
User studies come from YAML with the same fields (:func:`ketasim.trials.studyfile.load_study`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from ketasim.dosing.plan import Dose, OtherTreatment, Patient, Plan
from ketasim.trials import targets as T

OutcomeKind = Literal[
    "response_rate", "remission_rate", "mean_change", "sustained_response", "infusions_to_response",
    "relapse_median", "relapse_mean_days", "relapse_probability", "relapse_proportion", "hazard_ratio",
    "response_any", "mean_change_difference",
]
OUTCOME_KINDS: tuple[str, ...] = OutcomeKind.__args__  # type: ignore[attr-defined]

CLOCK_0900 = 9.0 / 24.0  # infusions start at 09:00
IV_MINUTES = 40.0
BASELINE_DAY = CLOCK_0900 - 1.0 / 24.0  # rated one hour before the first dose


@dataclass(frozen=True)
class PopulationSpec:
    """Who a study enrolled.

    ``baseline_madrs_mean`` / ``_sd``: the untreated severity on MADRS (normal; patients outside
    ``baseline_madrs_range``, the inclusion range translated to MADRS, are not enrolled).
    ``covariates``: overrides of the population model's covariate distribution
    (``ketasim.population.variability.COVARIATE``, e.g. ``fraction_female``); body weight, age and sex
    otherwise follow that model. ``differs`` says how this population genuinely differs from the others
    and on what source; it is empty when it does not.
    """

    description: str = "adults with treatment-resistant depression (TRD)"
    baseline_madrs_mean: float = 33.0
    baseline_madrs_sd: float = 4.5
    baseline_madrs_range: tuple[float, float] = (22.0, 50.0)
    covariates: dict[str, float] = field(default_factory=dict)
    source: str = "clinical-targets.md: baseline MADRS about 32-35 unless stated"
    differs: str = ""


@dataclass(frozen=True)
class Arm:
    """One treatment arm: a name and its plan.

    ``setting`` is the arm's placebo setting (``ketasim.symptoms.placebo``: ``open``, ``blinded_drug``,
    ``saline``, ``midazolam``, ``placebo_spray``), changed from a plan day on by ``setting_changes`` (SUSTAIN-1:
    open label, then blinded after randomisation); ``sessions``: plan days of the treatment sessions (doses
    or placebo administrations; default the plan's dose days); ``hospital``: comprehensive standard of care
    with hospitalisation.
    """

    name: str
    plan: Plan
    description: str = ""
    setting: str = "open"
    sessions: tuple[float, ...] | None = None
    hospital: bool = False
    setting_changes: tuple[tuple[float, str], ...] = ()

    def settings_at(self, days) -> list[str]:
        """The placebo setting in force on each of ``days`` (``setting``, then each ``(day, setting)`` change)."""
        out = []
        for d in days:
            s = self.setting
            for day, new in self.setting_changes:
                if d >= day:
                    s = new
            out.append(s)
        return out

    @property
    def session_days(self) -> tuple[float, ...]:
        return self.sessions if self.sessions is not None else tuple(d.day for d in self.plan.doses)


@dataclass(frozen=True)
class Visit:
    """A rating visit on plan day ``day`` (fractions give the clock time)."""

    name: str
    day: float


@dataclass(frozen=True)
class RelapseRule:
    """How a study defined relapse.

    ``loss_of_response``: the score no longer 50% below baseline at ``consecutive`` consecutive visits.
    ``sustain1``: score >= ``threshold`` at two consecutive visits ``gap_days`` apart (Daly 2019).
    """

    definition: Literal["loss_of_response", "sustain1"] = "loss_of_response"
    consecutive: int = 2
    threshold: float = 22.0
    gap_days: tuple[float, float] = (5.0, 15.0)


@dataclass(frozen=True)
class FollowUp:
    """Time-to-relapse clock: starts at ``start_day``, each patient is censored after a follow-up drawn
    uniformly from [``min_days``, ``max_days``] (equal bounds: fixed follow-up)."""

    start_day: float
    min_days: float
    max_days: float
    source: str = ""


@dataclass(frozen=True)
class Eligibility:
    """Who enters a randomised phase.

    ``stable_remission``: score <= ``threshold`` at least ``min_count`` of ``visits`` and at every visit of
    ``required``. ``response``: response (50% below baseline) at every visit of ``visits``.
    """

    kind: Literal["stable_remission", "response"]
    visits: tuple[str, ...]
    threshold: float = 12.0
    min_count: int = 0
    required: tuple[str, ...] = ()


@dataclass(frozen=True)
class Randomisation:
    """Eligible patients are allocated at random, in equal shares, to ``arms``."""

    eligibility: Eligibility
    arms: tuple[str, ...]


@dataclass(frozen=True)
class OutcomeSpec:
    """One figure computed from the visits, as the paper computed it.

    ``among``: ``None`` (every enrolled patient of the arm), ``"responders:<visit>"`` (response at that
    visit) or ``"randomised"``. ``visit``/``baseline_visit``: where a rate or change is read.
    ``visits``: the visit range of sustained response, or the post-infusion visits counted by
    ``infusions_to_response``. ``unit``: days or weeks for relapse medians.
    """

    id: str
    kind: OutcomeKind
    arm: str | None = None
    visit: str | None = None
    baseline_visit: str = "baseline"
    among: str | None = None
    visits: tuple[str, ...] = ()
    threshold: float | None = None
    relapse: RelapseRule | None = None
    by_day: float | None = None
    reference_arm: str | None = None
    unit: Literal["days", "weeks"] = "days"
    label: str = ""


@dataclass(frozen=True)
class Study:
    """A virtual study (see the module docstring)."""

    id: str
    title: str
    citation: str
    scale: str
    arms: tuple[Arm, ...]
    visits: tuple[Visit, ...]
    outcomes: tuple[OutcomeSpec, ...]
    population: PopulationSpec = field(default_factory=PopulationSpec)
    n_published: int = 0
    randomisation: Randomisation | None = None
    follow_up: FollowUp | None = None
    notes: str = ""

    def visit_day(self, name: str) -> float:
        for v in self.visits:
            if v.name == name:
                return v.day
        raise KeyError(f"study {self.id}: unknown visit {name!r}; known: {', '.join(v.name for v in self.visits)}")

    def arm(self, name: str | None) -> Arm:
        if name is None:
            return self.arms[0]
        for a in self.arms:
            if a.name == name:
                return a
        raise KeyError(f"study {self.id}: unknown arm {name!r}; known: {', '.join(a.name for a in self.arms)}")

    @property
    def horizon_days(self) -> float:
        return max(a.plan.horizon_days for a in self.arms)


# --- helpers for the built-in studies -----------------------------------------------------------


def iv_series(days: tuple[float, ...], mg_per_kg: float = 0.5, phase: str = "induction") -> tuple[Dose, ...]:
    """Racemic ketamine 0.5 mg/kg IV over 40 min at 09:00 on each plan day (amount recomputed per weight)."""
    return tuple(Dose(day=d + CLOCK_0900, amount_mg=mg_per_kg * 70.0, route="iv", drug="racemic",
                      duration_min=IV_MINUTES, phase=phase, mg_per_kg=mg_per_kg) for d in days)  # type: ignore[arg-type]


def esketamine_nasal(day: float, mg: float, phase: str = "induction") -> Dose:
    """Esketamine nasal spray at 09:00: 28 mg per device, devices 5 min apart (Spravato label)."""
    return Dose(day=day + CLOCK_0900, amount_mg=mg, route="intranasal", drug="esketamine", duration_min=0.0,
                phase=phase, devices=int(round(mg / 28.0)), device_interval_min=5.0)  # type: ignore[arg-type]


def after_dose(day: float, hours: float) -> float:
    """Plan day ``hours`` after a dose started at 09:00 on ``day``."""
    return day + CLOCK_0900 + hours / 24.0


def after_infusion_end(day: float, hours: float) -> float:
    """Plan day ``hours`` after the end of a 40-min infusion started at 09:00 on ``day``."""
    return day + CLOCK_0900 + (IV_MINUTES / 60.0 + hours) / 24.0


def pre_dose(day: float) -> float:
    """Plan day one hour before a 09:00 dose on ``day`` (a trough rating)."""
    return day + BASELINE_DAY


MWF_12_DAYS = (0.0, 2.0, 4.0, 7.0, 9.0, 11.0)  # six infusions Mon-Wed-Fri over 12 days


def _single_infusion_plan(name: str, horizon: float) -> Plan:
    return Plan(name=name, patient=Patient(), doses=iv_series((0.0,)), horizon_days=horizon,
                description="racemic ketamine 0.5 mg/kg IV over 40 min, once")


def _placebo_plan(name: str, horizon: float) -> Plan:
    return Plan(name=name, patient=Patient(), horizon_days=horizon, description="placebo (no active drug)")


def _madrs_of(scale: str, score: float) -> float:
    """The MADRS score that ``score`` on ``scale`` links to (``ketasim.symptoms.scales``)."""
    from ketasim.symptoms.scales import to_madrs

    return round(float(to_madrs(scale, score)), 2)


def _series_plan(name: str, days: tuple[float, ...], horizon: float, description: str, *,
                 therapy_days: tuple[float, ...] = (), maintenance: tuple[float, ...] = ()) -> Plan:
    doses = iv_series(days) + iv_series(maintenance, phase="maintenance")
    return Plan(name=name, patient=Patient(), doses=doses, therapy_days=therapy_days, horizon_days=horizon,
                description=description)


# --- Zarate 2006 ----------------------------------------------------------------------------------

ZARATE06 = Study(
    id="zarate06", title="Single ketamine infusion (crossover vs placebo), HDRS-21", citation=T.ZARATE06,
    scale="hdrs21", n_published=18,
    arms=(Arm("ketamine", _single_infusion_plan("zarate06 ketamine", 8.0), setting="blinded_drug"),
          Arm("saline", _placebo_plan("zarate06 saline", 8.0), "saline infusion over 40 min", setting="saline",
              sessions=(CLOCK_0900,))),
    visits=(Visit("baseline", BASELINE_DAY), Visit("40min", after_dose(0, 40 / 60)),
            Visit("80min", after_dose(0, 80 / 60)), Visit("110min", after_dose(0, 110 / 60)),
            Visit("230min", after_dose(0, 230 / 60)), Visit("day1", after_dose(1, 0)), Visit("day2", after_dose(2, 0)),
            Visit("day3", after_dose(3, 0)), Visit("day7", after_dose(7, 0))),
    outcomes=(
        OutcomeSpec("zarate06-r1", "response_rate", visit="day1"),
        OutcomeSpec("zarate06-q1", "remission_rate", visit="day1", threshold=7.0),
        OutcomeSpec("zarate06-r7", "response_rate", visit="day7"),
    ),
    population=PopulationSpec(description="TRD inpatients off medication (crossover)",
                              baseline_madrs_mean=_madrs_of("hdrs21", 24.665),
                              baseline_madrs_range=(_madrs_of("hdrs21", 18.0), 50.0),
                              source="Zarate 2006: HDRS-21 >= 18 at entry (clinical-targets.md); mean baseline HRSD "
                                     "24.89 / 24.44 in the two phases (Cochrane PMC8434915, evidence zarate06.yaml)"),
    notes="Rated on HDRS-21 (chained linking MADRS -> HDRS-17 -> HDRS-21); remission HDRS-21 <= 7. The crossover "
          "is simulated as two arms of the same virtual patients (no carry-over).",
)

# --- Murrough 2013a -------------------------------------------------------------------------------

MURROUGH13A = Study(
    id="murrough13a", title="Single ketamine infusion vs midazolam", citation=T.MURROUGH13A,
    scale="madrs", n_published=47,
    arms=(Arm("ketamine", _single_infusion_plan("murrough13a ketamine", 8.0), setting="blinded_drug"),
          Arm("midazolam", _placebo_plan("murrough13a midazolam", 8.0), "midazolam 0.045 mg/kg IV over 40 min",
              setting="midazolam", sessions=(CLOCK_0900,))),
    visits=(Visit("baseline", BASELINE_DAY), Visit("240min", after_dose(0, 4.0)), Visit("24h", after_dose(1, 0)),
            Visit("48h", after_dose(2, 0)), Visit("72h", after_dose(3, 0)), Visit("day7", after_dose(7, 0))),
    outcomes=(
        OutcomeSpec("murrough13a-d1", "mean_change", visit="24h"),
        OutcomeSpec("murrough13a-r1", "response_rate", visit="24h"),
        OutcomeSpec("murrough13a-mid-d1", "mean_change", arm="midazolam", visit="24h"),
        OutcomeSpec("murrough13a-mid-r1", "response_rate", arm="midazolam", visit="24h"),
    ),
    population=PopulationSpec(description="TRD outpatients, medication-free, 2:1 RCT"),
)

# --- Murrough 2013b and aan het Rot 2010 (same protocol and group) --------------------------------

_RELAPSE_FOLLOW_83 = FollowUp(start_day=after_dose(11, 0), min_days=83.0, max_days=83.0,
                              source="Murrough 2013b: responders monitored for up to 83 days after the last infusion")
_TWICE_WEEKLY = tuple(Visit(f"f{i}", after_dose(12, 0) + 3.5 * i) for i in range(1, 24))


def _series6_visits() -> tuple[Visit, ...]:
    pre = tuple(Visit(f"pre{k + 1}", pre_dose(d)) for k, d in enumerate(MWF_12_DAYS[1:]))
    return ((Visit("baseline", BASELINE_DAY), Visit("2h", after_infusion_end(0, 2.0)),
             Visit("4h", after_infusion_end(0, 4.0)), Visit("24h", after_dose(1, 0))) + pre
            + (Visit("end", after_dose(11, 24.0)),) + _TWICE_WEEKLY)


_LOSS_OF_RESPONSE_2 = RelapseRule("loss_of_response", consecutive=2)

MURROUGH13B = Study(
    id="murrough13b", title="Six ketamine infusions Mon-Wed-Fri over 12 days, then no maintenance",
    citation=T.MURROUGH13B, scale="madrs", n_published=24,
    arms=(Arm("ketamine", _series_plan("murrough13b series", MWF_12_DAYS, 96.0, "six infusions Mon-Wed-Fri")),),
    visits=_series6_visits(),
    outcomes=(
        OutcomeSpec("murrough13b-h2", "mean_change", visit="2h"),
        OutcomeSpec("murrough13b-rend", "response_rate", visit="end"),
        OutcomeSpec("murrough13b-relapse", "relapse_median", among="responders:end", relapse=_LOSS_OF_RESPONSE_2),
    ),
    population=PopulationSpec(description="TRD, antidepressants washed out"),
    follow_up=_RELAPSE_FOLLOW_83,
    notes="Relapse read as loss of response at two consecutive twice-weekly visits (our reading of the protocol); "
          "end of series = 24 h after the sixth infusion.",
)

AANHETROT10 = Study(
    id="aanhetrot10", title="Six ketamine infusions over 12 days (the first 10 patients of Murrough 2013b)",
    citation=T.AANHETROT10, scale="madrs", n_published=10,
    arms=(Arm("ketamine", _series_plan("aanhetrot10 series", MWF_12_DAYS, 96.0, "six infusions Mon-Wed-Fri")),),
    visits=_series6_visits(),
    outcomes=(
        OutcomeSpec("aanhetrot10-relapse", "relapse_mean_days", among="responders:end", relapse=_LOSS_OF_RESPONSE_2),
    ),
    population=PopulationSpec(description="TRD, antidepressants washed out"),
    follow_up=_RELAPSE_FOLLOW_83,
    notes="Mean days to relapse among responders who relapsed during the 83-day follow-up.",
)

# --- Shiroma 2014 ---------------------------------------------------------------------------------

SHIROMA14 = Study(
    id="shiroma14", title="Six ketamine infusions Mon-Wed-Fri, then no maintenance (veterans)",
    citation=T.SHIROMA14, scale="madrs", n_published=12,
    arms=(Arm("ketamine", _series_plan("shiroma14 series", MWF_12_DAYS, 44.0, "six infusions Mon-Wed-Fri")),),
    visits=((Visit("baseline", BASELINE_DAY), Visit("24h", after_dose(1, 0)))
            + tuple(Visit(f"pre{k + 2}", pre_dose(d)) for k, d in enumerate(MWF_12_DAYS[1:]))
            + (Visit("end", after_dose(12, 0)),)
            + tuple(Visit(f"w{w}", after_dose(11, 7.0 * w * 24.0)) for w in range(1, 5))),
    outcomes=(
        OutcomeSpec("shiroma14-r1", "response_rate", visit="pre2"),
        OutcomeSpec("shiroma14-rend-response", "response_rate", visit="end"),
        OutcomeSpec("shiroma14-rend-remission", "remission_rate", visit="end", threshold=9.0),
        OutcomeSpec("shiroma14-hold4w", "sustained_response", among="responders:end",
                    visits=("w1", "w2", "w3", "w4")),
    ),
    population=PopulationSpec(description="veterans with TRD"),
    notes="Ratings at the infusion visits, before each infusion: response 'after the first infusion' is read at "
          "the visit before the second (48 h after the first; our reading; at 24 h the model gives a higher share, "
          "see the report); end = 24 h after the sixth infusion; remission MADRS <= 9; 'still responding' = "
          "response at every weekly visit through week 4 after the last infusion.",
)

# --- Phillips 2019 --------------------------------------------------------------------------------

_PHILLIPS_MAINT = (18.0, 25.0, 32.0, 39.0)  # weekly from one week after the sixth infusion

PHILLIPS19 = Study(
    id="phillips19", title="Six infusions thrice weekly over 2 weeks, responders then four weekly infusions",
    citation=T.PHILLIPS19, scale="madrs", n_published=41,
    arms=(Arm("ketamine", _series_plan("phillips19 series + maintenance", MWF_12_DAYS, 41.0,
                                       "six infusions thrice weekly, then four weekly", maintenance=_PHILLIPS_MAINT)),),
    visits=((Visit("baseline", BASELINE_DAY),)
            + tuple(Visit(f"pre{k + 2}", pre_dose(d)) for k, d in enumerate(MWF_12_DAYS[1:]))
            + (Visit("end", after_dose(12, 0)),)
            + tuple(Visit(f"pre_m{k + 1}", pre_dose(d)) for k, d in enumerate(_PHILLIPS_MAINT))
            + (Visit("end_m", after_dose(_PHILLIPS_MAINT[-1] + 1, 0)),)),
    outcomes=(
        OutcomeSpec("phillips19-rend-response", "response_rate", visit="end"),
        OutcomeSpec("phillips19-rend-infusions", "infusions_to_response", among="responders:end",
                    visits=("pre2", "pre3", "pre4", "pre5", "pre6", "end")),
        OutcomeSpec("phillips19-maint", "mean_change", among="responders:end", visit="end_m", baseline_visit="end"),
    ),
    population=PopulationSpec(description="TRD; the open-label series began after relapse from the crossover phase"),
    notes="Ratings at each infusion visit before the infusion (so 'after k infusions' is read before infusion k+1) "
          "and 24 h after the last infusion of each phase (our reading). Maintenance change = MADRS 24 h after the "
          "fourth weekly infusion minus 24 h after the sixth series infusion, among series responders. The earlier "
          "crossover single infusions are not simulated (the series started after relapse).",
)

# --- Wilkinson 2017 -------------------------------------------------------------------------------

_WILKINSON_INFUSIONS = (0.0, 3.0, 7.0, 10.0)  # twice weekly over 2 weeks
_WILKINSON_CBT = (1.0, 4.0, 8.0, 11.0, 15.0, 22.0, 29.0, 36.0, 43.0, 50.0, 57.0, 64.0)  # 12 sessions over 10 weeks

WILKINSON17 = Study(
    id="wilkinson17", title="Four ketamine infusions over 2 weeks with CBT (12 sessions over 10 weeks)",
    citation=T.WILKINSON17, scale="madrs", n_published=16,
    arms=(Arm("ketamine+cbt", _series_plan("wilkinson17 ketamine + CBT", _WILKINSON_INFUSIONS, 180.0,
                                            "four infusions twice weekly with CBT", therapy_days=_WILKINSON_CBT)),),
    visits=((Visit("baseline", BASELINE_DAY), Visit("end", after_dose(11, 0)))
            + tuple(Visit(f"w{w}", after_dose(10, 7.0 * w * 24.0)) for w in range(1, 25))),
    outcomes=(
        OutcomeSpec("wilkinson17-rend-response", "response_rate", visit="end"),
        OutcomeSpec("wilkinson17-rend-remission", "remission_rate", visit="end", threshold=10.0),
        OutcomeSpec("wilkinson17-relapse8w", "relapse_probability", among="responders:end",
                    relapse=_LOSS_OF_RESPONSE_2, by_day=56.0),
        OutcomeSpec("wilkinson17-relapse-median", "relapse_median", among="responders:end",
                    relapse=_LOSS_OF_RESPONSE_2, unit="weeks"),
    ),
    population=PopulationSpec(description="TRD, on stable medication"),
    follow_up=FollowUp(start_day=after_dose(10, 0), min_days=168.0, max_days=168.0,
                       source="weekly ratings to 24 weeks after the last infusion (our reading)"),
    notes="CBT sessions on days 1, 4, 8, 11 then weekly to week 10 (our reading of '12 sessions over 10 weeks'); "
          "relapse = loss of response at two consecutive weekly visits; remission MADRS <= 10.",
)

# --- SUSTAIN-1 ------------------------------------------------------------------------------------

_SUSTAIN_INDUCTION = (0.0, 3.0, 7.0, 10.0, 14.0, 17.0, 21.0, 24.0)  # twice weekly, weeks 1-4
_SUSTAIN_OPTIMISATION = tuple(float(d) for d in range(28, 112, 7))  # weekly, weeks 5-16
SUSTAIN_RANDOMISATION_DAY = 112.0
_SUSTAIN_FOLLOW_DAYS = 504.0
_SUSTAIN_MAINTENANCE = tuple(float(d) for d in range(112, 112 + 504, 14))  # every 2 weeks


def _sustain_plan(name: str, continue_esketamine: bool) -> Plan:
    doses = [esketamine_nasal(0.0, 56.0)] + [esketamine_nasal(d, 84.0) for d in _SUSTAIN_INDUCTION[1:]]
    doses += [esketamine_nasal(d, 84.0) for d in _SUSTAIN_OPTIMISATION]
    if continue_esketamine:
        doses += [esketamine_nasal(d, 84.0, phase="maintenance") for d in _SUSTAIN_MAINTENANCE]
    return Plan(name=name, patient=Patient(baseline_madrs=37.0), doses=tuple(doses),
                treatments=(OtherTreatment("antidepressant", start_day=0.0, label="new oral antidepressant"),),
                horizon_days=SUSTAIN_RANDOMISATION_DAY + _SUSTAIN_FOLLOW_DAYS + 1.0,
                description="esketamine 56/84 mg nasal spray + new oral antidepressant")


def _sustain_visits() -> tuple[Visit, ...]:
    out = [Visit("baseline", BASELINE_DAY)]
    out += [Visit(f"wk{w}", pre_dose(7.0 * w)) for w in range(1, 17)]  # weekly, before that day's dose
    follow = [SUSTAIN_RANDOMISATION_DAY + 7.0 * k for k in range(1, 17)]
    follow += [follow[-1] + 14.0 * k for k in range(1, int((_SUSTAIN_FOLLOW_DAYS - 112.0) / 14.0) + 1)]
    out += [Visit(f"m{k + 1}", pre_dose(d)) for k, d in enumerate(follow)]
    return tuple(out)


_SUSTAIN_RELAPSE = RelapseRule("sustain1", threshold=22.0, gap_days=(5.0, 15.0))

SUSTAIN1 = Study(
    id="sustain1", title="SUSTAIN-1: randomised withdrawal of esketamine nasal spray in stable remitters",
    citation=T.SUSTAIN1, scale="madrs", n_published=176,
    arms=(Arm("continue", _sustain_plan("sustain1 continue", True), "esketamine every 2 weeks + antidepressant",
              setting="open", setting_changes=((SUSTAIN_RANDOMISATION_DAY, "blinded_drug"),)),
          Arm("placebo", _sustain_plan("sustain1 placebo", False), "placebo spray + antidepressant",
              setting="open", setting_changes=((SUSTAIN_RANDOMISATION_DAY, "placebo_spray"),),
              sessions=tuple(d.day for d in _sustain_plan("sustain1 continue", True).doses))),
    visits=_sustain_visits(),
    outcomes=(
        OutcomeSpec("sustain1-relapse-continue", "relapse_proportion", arm="continue", among="randomised",
                    relapse=_SUSTAIN_RELAPSE),
        OutcomeSpec("sustain1-relapse-stop", "relapse_proportion", arm="placebo", among="randomised",
                    relapse=_SUSTAIN_RELAPSE),
        OutcomeSpec("sustain1-hr", "hazard_ratio", arm="continue", reference_arm="placebo", among="randomised",
                    relapse=_SUSTAIN_RELAPSE),
        OutcomeSpec("sustain1-median", "relapse_median", arm="placebo", among="randomised", relapse=_SUSTAIN_RELAPSE),
    ),
    population=PopulationSpec(
        description="TRD, moderate-to-severe (MADRS >= 28 at screening), a new oral antidepressant started",
        baseline_madrs_mean=37.5, baseline_madrs_sd=5.5, baseline_madrs_range=(28.0, 54.0),
        source="Daly 2019: MADRS >= 28 at entry to induction; baseline mean about 37-38 (recalled)",
        differs="More severe at entry than the racemic IV trials (entry MADRS >= 28, the esketamine programme's "
                "inclusion criterion) and a new oral antidepressant started with esketamine."),
    randomisation=Randomisation(
        Eligibility("stable_remission", visits=("wk13", "wk14", "wk15", "wk16"), threshold=12.0, min_count=3,
                    required=("wk15", "wk16")),
        arms=("continue", "placebo")),
    follow_up=FollowUp(start_day=SUSTAIN_RANDOMISATION_DAY + CLOCK_0900, min_days=14.0, max_days=504.0,
                       source="event-driven maintenance phase: follow-up uniform between 2 and 72 weeks (assumed)"),
    notes="Dosing simplified: 56 mg first dose then 84 mg; weekly in weeks 5-16; every 2 weeks in the continued arm "
          "(stable remitters mostly qualified for every-other-week dosing). Stable remission: MADRS <= 12 at 3 of "
          "weeks 13-16 including weeks 15 and 16. Ratings before that day's dose.",
)

BUILTIN_STUDIES: dict[str, Study] = {s.id: s for s in (ZARATE06, MURROUGH13A, MURROUGH13B, AANHETROT10, SHIROMA14,
                                                     PHILLIPS19, WILKINSON17, SUSTAIN1)}


def get_study(study_id: str) -> Study:
    """The built-in study called ``study_id``; the error lists the ids allowed."""
    try:
        return BUILTIN_STUDIES[study_id]
    except KeyError:
        from ketasim.errors import PlanError

        raise PlanError("study", study_id, ", ".join(BUILTIN_STUDIES)) from None
