"""Virtual populations: inter-individual variability, sampled patients, and ``simulate_population``.

    >>> from ketasim.population import sample_patients, simulate_population
    >>> vp = sample_patients(1000, seed=1)                      # doctest: +SKIP
    >>> res = simulate_population(plan, 10_000, seed=1)         # doctest: +SKIP
    >>> res.summary()["response_end_induction"]                 # doctest: +SKIP

Research and decision-support software, not a medical device.
"""

from ketasim.population.endpoints import OUTCOME_COLUMNS, compute_outcomes, outcome_visits
from ketasim.population.patients import VirtualPatients, sample_patients
from ketasim.population.run import AVAILABLE_OUTPUTS, PopulationResult, simulate_population
from ketasim.population.summary import kaplan_meier_median, summarize_outcomes, wilson_interval
from ketasim.population.variability import (
    CORRELATIONS,
    COVARIATES,
    RESPONSE_EFFECTS,
    RandomEffect,
    all_population_parameters,
    default_variability,
    pk_effects,
)

__all__ = [
    "AVAILABLE_OUTPUTS",
    "CORRELATIONS",
    "COVARIATES",
    "OUTCOME_COLUMNS",
    "RESPONSE_EFFECTS",
    "PopulationResult",
    "RandomEffect",
    "VirtualPatients",
    "all_population_parameters",
    "compute_outcomes",
    "default_variability",
    "kaplan_meier_median",
    "outcome_visits",
    "pk_effects",
    "sample_patients",
    "simulate_population",
    "summarize_outcomes",
    "wilson_interval",
]
