"""Virtual trials under the uncertainty of the population parameters.

:func:`run_trials_predictive` runs the trials as :func:`ketasim.trials.runner.run_trials` does (the typical
values in force: the ``simulated`` figure, its Monte-Carlo interval and ``within_band`` are today's) and, for
``D`` posterior draws (``ketasim.evidence.draws``), every study once more per draw: draw ``k`` a virtual study of
``n / D`` patients with its own cohort (seed ``seed + 1 + k``). Each target then carries the posterior
predictive quantiles of its figure over the draws (:class:`~ketasim.evidence.draws.PredictiveInterval`) and
whether the published value lies inside; :func:`coverage` gives the share of targets inside the 50% and 90%
intervals.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

import numpy as np

from ketasim.evidence.draws import DrawSpec, parameter_sets, predictive_interval, split_patients
from ketasim.trials.runner import StudyResult, TargetResult, run_study, run_trials, study_seed
from ketasim.trials.studies import Study
from ketasim.trials.targets import Target


def draw_values(studies: Sequence[Study], n_patients: int | dict[str, int], seed: int, spec: DrawSpec,
                progress: Callable[[str, int, int], None] | None = None) -> dict[str, np.ndarray]:
    """Every outcome of every study over the posterior draws of ``spec``: outcome id -> value per draw."""
    sets = parameter_sets(spec)
    out: dict[str, np.ndarray] = {}
    for st in studies:
        total = n_patients.get(st.id, 0) if isinstance(n_patients, dict) else n_patients
        sizes = split_patients(int(total), len(sets))
        for k, (ps, m) in enumerate(zip(sets, sizes, strict=True)):
            res = run_study(st, m, study_seed(st.id, seed + 1 + k), params=ps.params, spreads=ps.spreads,
                            measurement=ps.measurement, placebo=ps.placebo, chronic_load=ps.chronic_load,
                            intervals=False)
            for oid, e in res.outcomes.items():
                out.setdefault(oid, np.full(len(sets), np.nan))[k] = e.value
            if progress:
                progress(st.id, k + 1, len(sets))
    return out


def run_trials_predictive(studies: Sequence[Study], n_patients: int | dict[str, int], seed: int = 0, *,
                          spec: DrawSpec, targets: dict[str, Target] | None = None,
                          progress: Callable[[str, int, int], None] | None = None
                          ) -> tuple[list[StudyResult], list[TargetResult]]:
    """The trials at the typical values, every target with its posterior predictive interval over
    ``spec.draws`` draws (none with ``spec.typical``)."""
    results, rows = run_trials(studies, n_patients, seed, targets=targets,
                               progress=None if progress is None else (lambda sid: progress(sid, 0, 0)))
    if spec.typical:
        return results, rows
    values = draw_values(studies, n_patients, seed, spec, progress)
    return results, [replace(r, predictive=predictive_interval(values[r.target.id]))
                     if r.target.id in values else r for r in rows]


def coverage(rows: Sequence[TargetResult]) -> dict:
    """Share of targets whose published value lies inside their 50% and 90% posterior predictive intervals
    (targets without an interval left out; the denominator is given)."""
    with_ppi = [r for r in rows if r.predictive is not None and r.predictive.draws > 0]
    n = len(with_ppi)
    in50 = sum(r.predictive.contains(r.target.published, 50) for r in with_ppi)  # type: ignore[union-attr]
    in90 = sum(r.predictive.contains(r.target.published, 90) for r in with_ppi)  # type: ignore[union-attr]
    return {"fit_set": {"targets": n, "within_ppi50": in50, "within_ppi90": in90,
                        "ppi50": round(in50 / n, 4) if n else None, "ppi90": round(in90 / n, 4) if n else None}}
