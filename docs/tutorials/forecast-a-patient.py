# %% [markdown]
# # A clinician forecasts a patient and chooses an interval
#
# A patient has just finished six infusions and is well (MADRS 6 at the last one, HDRS-17 8 three
# days later). What will her course be without another session, and how often would maintenance
# sessions have to be to keep her relapse risk low? ketasim fits her own ratings (the virtual population is the prior,
# her scores the likelihood), forecasts with bands, and compares maintenance intervals.
#
# Executed at build time with 400 virtual patients; `KETASIM_TUTORIAL_FULL=1` uses 2000 (the
# command's default). Decision support from research software: not medical advice and not a medical
# device; a clinician decides the treatment.

# %%
import os
import tempfile
from importlib import resources
from pathlib import Path

import numpy as np
from IPython.display import Image

from ketasim.planning.forecast import forecast, plot_forecast, with_extra_maintenance
from ketasim.planning.history import read_history

PARTICLES = 2000 if os.environ.get("KETASIM_TUTORIAL_FULL") else 400
path = Path(str(resources.files("ketasim") / "examples" / "histories" / "fast-relapser.csv"))
history = read_history(path, today="2025-01-20")  # the log goes on; we forecast from 20 January
print(history.score_table().tail())

# %% [markdown]
# The history is the event log a clinic keeps (one row per dose and per rating; see
# [the history format](../history-format.md)). The forecast starts on `today`; the ratings the log
# holds after that day are not used, so we can compare them with the forecast at the end.

# %%
fc = forecast(history, n_particles=PARTICLES, seed=1, scale="madrs")  # forecast on MADRS
rec = fc.recommendation()
print(rec["next_session_advice"])
print(f"bridge probability (no relapse for six months without further doses): {rec['bridge_probability']:.0%}")
png = Path(tempfile.mkdtemp()) / "forecast.png"
plot_forecast(fc, str(png))  # past ratings, doses, the banded forecast and the relapse risk by date
Image(filename=str(png))

# %% [markdown]
# ## Choosing an interval
#
# Each candidate interval adds planned sessions (the same dose as the last one) from today on; the
# fitted patient is the same, so the comparison is between treatments, not between fits. The risk is
# the chance that she meets the relapse definition within 12 weeks.

# %%
horizon = 84
rows = []
for every in (7, 14, 21, 28):
    extra = with_extra_maintenance(history, every, horizon_days=horizon)
    f = forecast(history, fc.posterior, horizon_days=horizon, n_particles=PARTICLES, extra_doses=extra, seed=1,
                 scale="madrs", intervals=None)
    rows.append((every, len(extra), float(f.p_relapse_planned[-1]), float(np.median(f.bands["median"][-28:]))))
none = forecast(history, fc.posterior, horizon_days=horizon, n_particles=PARTICLES, seed=1, scale="madrs",
                intervals=None)
print(f"{'interval':>9} {'sessions':>9} {'relapse risk':>13} {'median MADRS, last 4 weeks':>27}")
print(f"{'none':>9} {0:>9} {float(none.p_relapse_no_dose[-1]):>13.0%}")
for every, n, risk, score in rows:
    print(f"{every:>7} d {n:>9} {risk:>13.0%} {score:>27.1f}")

# %% [markdown]
# Reading it: without sessions a relapse within the twelve weeks is likely; weekly sessions keep
# the risk lowest at the cost of twelve visits, and each longer interval trades sessions for risk.
# The interval a clinician and patient choose depends on how they weigh the two. The forecast's own
# table of intervals (`fc.intervals`, `intervals.csv` of `ketasim forecast`) gives, for sessions every
# 7 to 42 days over a year, the expected days in remission, relapses and sessions with 80% ranges, and
# `recommendation.json` names the interval with the most benefit for a stated worth of one session.

# %%
for r in fc.intervals:
    rem, rel = r["days_in_remission"], r["relapses"]
    print(f"every {r['interval_days']:>2} d: {r['sessions_per_year']:>3.0f} sessions, {rem['mean']:>5.0f} days in "
          f"remission (80%: {rem['q10']:.0f}-{rem['q90']:.0f}), {rel['mean']:.1f} relapses")
print(fc.recommendation()["interval_advice"])
#
# What happened next (the rows after 20 January, which the fit did not see; she had no further
# session): the forecast without sessions against her later ratings.

# %%
full = read_history(path)
later = [(e.when.date(), e.scale, e.value) for e in full.scores if e.when.date() > history.today]
above = 0
for date, scale, value in later:
    k = int(np.argmin(np.abs(fc.days - history.day_of(date))))
    lo, mid, hi = (float(fc.bands[q][k]) for q in ("q0.1", "median", "q0.9"))
    above += value > hi
    print(f"{date}: rated {value:g} ({scale}); forecast median {mid:.0f}, 80% band {lo:.0f}-{hi:.0f}")
print(f"{above} of {len(later)} later ratings above the 80% band")

# %% [markdown]
# The count above says how many of her later ratings lie above the forecast's 80% band.
# One patient's course can fall outside the band (an 80% band should miss one rating in five on
# average); [the forecasting report](../forecasting.md) gives the coverage over many held-out
# patients, and a clinician reads the band as a guide, not a promise. Forecasting again each time a
# new rating arrives moves the recommendation with her.
