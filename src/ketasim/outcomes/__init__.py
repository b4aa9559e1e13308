"""Clinical outcomes from rating-scale time series, vectorised over patients x visits.

Response, remission, relapse (SUSTAIN-1 and loss of response; no relapse = ``np.inf``), days
to relapse, days in remission, number of interventions, and :func:`summarize` for one
simulated patient. The same functions serve single-patient and population code.
"""

from ketasim.outcomes.definitions import remission, response
from ketasim.outcomes.durations import days_in_remission, mean_score
from ketasim.outcomes.interventions import number_of_interventions
from ketasim.outcomes.relapse import (
    DEFINITIONS,
    NO_RELAPSE,
    days_to_relapse,
    relapse_day,
    relapse_loss_of_response,
    relapse_sustain1,
)
from ketasim.outcomes.summary import DISCLAIMER, default_remission_threshold, summarize

__all__ = [
    "DEFINITIONS",
    "DISCLAIMER",
    "NO_RELAPSE",
    "days_in_remission",
    "days_to_relapse",
    "default_remission_threshold",
    "mean_score",
    "number_of_interventions",
    "relapse_day",
    "relapse_loss_of_response",
    "relapse_sustain1",
    "remission",
    "response",
    "summarize",
]
