"""Planning for one patient and for a clinic: histories, individual posterior, forecasts, maintenance policies.

* ``history``: the patient's event log (CSV, YAML or Python objects), validated row by row;
* ``world``, ``prior`` and ``posterior``: the population posterior's draws as prior, the patient's ratings as data
  (``observation``: placebo, fluctuation and rater error per scale; ``mixed_drugs``: two drugs in one record);
* ``relapse_rule``: the one relapse definition, on every scale;
* ``forecast``: banded score forecast, relapse risk by date, next session, bridge probability, intervals table;
* ``utility``: the stated trade-off between days in remission and sessions;
* ``policies``: maintenance policies compared on a virtual population (closed loop, ``stepping``);
* ``validation``: simulation-based calibration, stress tests and baselines on synthetic patients
  (``docs/forecasting.md``).

Research and decision-support software, not a medical device.
"""

from ketasim.planning.forecast import DISCLAIMER, Forecast, forecast, plot_forecast
from ketasim.planning.history import HistoryEvent, PatientHistory, read_history
from ketasim.planning.posterior import IndividualPosterior, fit_posterior
from ketasim.planning.prior import PopulationPrior

__all__ = [
    "DISCLAIMER",
    "Forecast",
    "HistoryEvent",
    "IndividualPosterior",
    "PatientHistory",
    "PopulationPrior",
    "fit_posterior",
    "forecast",
    "plot_forecast",
    "read_history",
]
