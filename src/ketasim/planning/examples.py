"""The bundled example histories, written from known virtual patients (reproducible, seeded).

``python -m ketasim.planning.examples [DIR]`` draws virtual patients from the population prior
(seed ``SEED``), simulates each under an archetype's schedule, and keeps the first whose true
(noise-free) course matches the archetype and whose recorded noisy scores show it too (with no
rating more than two measurement-error SDs from the truth, so that the example is typical):

* **good-responder** (PHQ-9): six infusions then sessions every three weeks; in remission at
  most visits after the first week and no relapse for at least four weeks after today without
  further doses;
* **fast-relapser** (MADRS, one HDRS-17 rating): six infusions, a response by day 14, then a
  relapse within two weeks of the last infusion;
* **bridge-case** (QIDS-SR16): a bereavement 45 days before the first infusion (its size not
  recorded), six infusions and one more at day 28, then six weeks without doses; the load is
  mostly the fading bereavement, and the patient stays well (MADRS at most 14, true and
  recorded) for six months after today without further doses.

Scores are noisy ratings of the true course (``ketasim.symptoms.scales.observe``); the CSV
header comments name the seed, the candidate and its true attributes.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ketasim.parameters import IDX
from ketasim.planning.forecast import BRIDGE_DAYS
from ketasim.planning.history import PatientHistory
from ketasim.planning.particles import Particles, simulate_particles
from ketasim.planning.prior import PopulationPrior
from ketasim.planning.relapse_rule import latent_onset
from ketasim.planning.synthetic import INDUCTION_DAYS, Schedule, make_history, schedule_plan
from ketasim.symptoms.scales import MADRS_REMISSION

SEED = 20250106
MAX_CANDIDATES = 8000
MAX_ERROR_SD = 2.0  # example records are typical: no rating more than 2 SD of measurement error off
BRIDGE_WELL_MADRS = 14.0  # "stays well": mild symptoms at most (MADRS 7-19 is mild, Snaith 1986)
EXAMPLES_DIR = Path(__file__).resolve().parents[1] / "examples" / "histories"


@dataclass(frozen=True)
class Archetype:
    name: str
    schedule: Schedule
    today_day: float
    weight_kg: float
    age: float
    description: str


ARCHETYPES = (
    Archetype("good-responder",
              Schedule(dose_days=(*INDUCTION_DAYS, 32, 53), score_days=(0, 1, 4, 7, 11, 14, 21, 28, 35, 42, 49, 56),
                       scale="phq9"),
              today_day=56, weight_kg=64.0, age=38,
              description="six infusions, then sessions every three weeks; stays in remission"),
    Archetype("fast-relapser",
              Schedule(dose_days=INDUCTION_DAYS, score_days=(0, 1, 4, 7, 11, 14, 18, 21, 25, 28), scale="madrs",
                       score_scales=("madrs",) * 5 + ("hdrs17",) + ("madrs",) * 4),
              today_day=28, weight_kg=88.0, age=52,
              description="responds to six infusions, relapses within two weeks of the last one"),
    Archetype("bridge-case",
              Schedule(dose_days=(*INDUCTION_DAYS, 28), score_days=(0, 1, 4, 7, 11, 14, 21, 28, 42, 56, 70),
                       scale="qids_sr16", life_events=((-45.0, None, None, "bereavement"),)),
              today_day=70, weight_kg=71.0, age=61,
              description="depression after a bereavement; the load fades and no maintenance is needed"),
)


def _truth_course(a: Archetype, cand: Particles) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Latent MADRS of the candidates at 09:00 each day to today + 190, with the schedule then no more doses."""
    plan = schedule_plan(a.schedule, a.weight_kg)
    days = np.arange(0, a.today_day + BRIDGE_DAYS + 8, dtype=float) + 9.0 / 24.0
    m, valid = simulate_particles(plan, cand, days)
    return days, m, valid


def _matches(a: Archetype, days: np.ndarray, m: np.ndarray, valid: np.ndarray, cand: Particles) -> np.ndarray:
    today = a.today_day
    last_dose = max(a.schedule.dose_days)
    m = np.nan_to_num(m, nan=60.0)
    since_last = latent_onset(days[int(last_dose) + 1:], m[:, int(last_dose) + 1:])
    sd = np.array(a.schedule.score_days)
    at_scores = m[:, sd]
    baseline = m[:, 0]
    if a.name == "good-responder":
        remitted = np.mean(at_scores[:, sd >= 7] <= MADRS_REMISSION, axis=1) >= 0.7
        return valid & remitted & (since_last >= today + 28) & (baseline >= 28)
    if a.name == "fast-relapser":
        responded = m[:, 14] <= 0.5 * baseline
        return valid & responded & (since_last <= last_dose + 14) & (baseline >= 30)
    if a.name == "bridge-case":
        load0 = cand.chronic_load + cand.event_amp[:, 0] * np.exp(-45.0 / cand.event_fade_days[:, 0])
        event_share = 1.0 - cand.chronic_load / load0
        after = m[:, int(today):int(today) + BRIDGE_DAYS]
        well = (since_last >= today + BRIDGE_DAYS) & np.all(after <= BRIDGE_WELL_MADRS, axis=1)
        return valid & well & (event_share >= 0.6) & (baseline >= 25)
    raise ValueError(a.name)


def _record_matches(a: Archetype, hist: PatientHistory) -> bool:
    """The recorded (noisy) scores tell the archetype's story too, as a clinician would see it."""
    from ketasim.symptoms.scales import to_madrs

    scores = hist.scores
    m = np.array([float(to_madrs(e.scale, e.value)) for e in scores])
    day = np.array([hist.day_of(e.when) for e in scores])
    last_dose = max(a.schedule.dose_days)
    if a.name == "good-responder":
        return bool(np.mean(m[day >= 7] <= MADRS_REMISSION + 2) >= 0.6)
    if a.name == "fast-relapser":
        return bool(np.all(m[-2:] >= 22) and m[day < last_dose + 4].min() <= 0.5 * m[0])
    if a.name == "bridge-case":
        return bool(np.all(m[day > last_dose] <= BRIDGE_WELL_MADRS))
    raise ValueError(a.name)


def _typical_errors(hist: PatientHistory, latent: np.ndarray) -> bool:
    """No rating further than ``MAX_ERROR_SD`` measurement-error SDs from the true score (a typical record)."""
    from ketasim.symptoms.scales import get_scale, madrs_to

    z = [(e.value - float(madrs_to(e.scale, m))) / get_scale(e.scale).noise_sd.value
         for e, m in zip(hist.scores, latent, strict=False)]
    return bool(np.max(np.abs(z)) <= MAX_ERROR_SD)


def find_patient(a: Archetype, prior: PopulationPrior,
                 seed: int = SEED) -> tuple[int, Particles, PatientHistory]:
    """The first candidate (index in the seeded stream) whose true course and record match the archetype."""
    rng = np.random.default_rng([seed, sum(map(ord, a.name))])
    E = len(a.schedule.life_events)
    z = prior.sample_latent(MAX_CANDIDATES, E, rng)
    for start in range(0, MAX_CANDIDATES, 400):
        cand = prior.transform(z[start:start + 400], E)
        days, m, valid = _truth_course(a, cand)
        for k in np.flatnonzero(_matches(a, days, m, valid, cand)):
            truth = cand.take(np.array([k]))
            hist, latent = make_history(truth, a.schedule, weight_kg=a.weight_kg,
                                        rng=np.random.default_rng([seed, start + int(k)]), name=a.name, age=a.age,
                                        today_day=a.today_day)
            if _record_matches(a, hist) and _typical_errors(hist, latent):
                return start + int(k), truth, hist
    raise RuntimeError(f"no virtual patient among {MAX_CANDIDATES} matches the archetype {a.name!r}")


def write_examples(out_dir: Path = EXAMPLES_DIR, prior: PopulationPrior | None = None,
                   seed: int = SEED) -> list[Path]:
    """Write the three example histories; return their paths."""
    prior = prior or PopulationPrior()
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for a in ARCHETYPES:
        index, truth, hist = find_patient(a, prior, seed)
        hist = PatientHistory(weight_kg=hist.weight_kg, events=hist.events, age=hist.age, name=a.name)
        p = truth.params[0]
        facts = ", ".join(f"{n} {p[IDX[n]]:.4g}" for n in prior.response_names)
        header = [
            f"# Example history '{a.name}': {a.description}.",
            f"# Synthetic: virtual patient {index} of the seeded stream (seed {seed}) of python -m "
            "ketasim.planning.examples; not a real person.",
            f"# True attributes: baseline MADRS {truth.baseline_madrs[0]:.1f}, chronic load "
            f"{truth.chronic_load[0]:.3f}"
            + (f", life-event load {truth.event_amp[0, 0]:.3f} fading over {truth.event_fade_days[0, 0]:.0f} days"
               if a.schedule.life_events else "") + f"; {facts}.",
        ]
        path = out_dir / f"{a.name}.csv"
        path.write_text("\n".join(header) + "\n" + hist.to_csv())
        paths.append(path)
    return paths


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    out = Path(argv[0]) if argv else EXAMPLES_DIR
    for p in write_examples(out):
        print(p)


if __name__ == "__main__":
    main()
