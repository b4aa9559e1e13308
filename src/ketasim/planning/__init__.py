"""Planning for one patient and for a clinic: histories, individual posterior, forecasts, maintenance policies.

* ``history``: the patient's event log (CSV, YAML or Python objects), validated row by row;
* ``prior`` and ``posterior``: the calibrated population as prior, the patient's ratings as data;
* ``forecast``: banded score forecast, relapse risk by date, next session, bridge probability;
* ``policies``: maintenance policies compared on a virtual population (closed loop, ``stepping``);
* ``validation``: calibration of the forecasts on synthetic patients (``docs/forecasting.md``).

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
