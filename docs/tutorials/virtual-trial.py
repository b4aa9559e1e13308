# %% [markdown]
# # A researcher runs a virtual trial
#
# Murrough 2013 gave six ketamine infusions (0.5 mg/kg over 40 minutes, Monday-Wednesday-Friday for
# twelve days) to patients with treatment-resistant depression and followed the responders until
# they relapsed. Here we run the same study on virtual patients, compare every figure the paper
# published with what the model gives, and read a visual predictive check: the spread of the
# simulated ratings at every visit with the published figures on top.
#
# This page is executed when the documentation is built, with a small cohort (200 patients) so that
# it takes seconds; set `KETASIM_TUTORIAL_FULL=1` to run the size of the validation report (1000).
# ketasim is research software, not a medical device.

# %%
import os

import matplotlib.pyplot as plt
import numpy as np

from ketasim.trials.runner import run_study, target_results
from ketasim.trials.studies import BUILTIN_STUDIES

N = 1000 if os.environ.get("KETASIM_TUTORIAL_FULL") else 200
study = BUILTIN_STUDIES["murrough13b"]
print(study.title)
print("visits:", ", ".join(f"{v.name} (day {v.day:g})" for v in study.visits[:6]), "...")

# %% [markdown]
# `run_study` enrols the virtual patients (the study's inclusion range of baseline MADRS), gives each
# arm's plan, rates them at the visits on the study's scale with rater noise and symptom
# fluctuation, and computes every outcome as the paper did, each with a 95% Monte-Carlo interval.

# %%
result = run_study(study, N, seed=2024)
for row in target_results(result):
    d = row.as_dict()
    lo, hi = d["band"]
    verdict = "within" if d["within_band"] else "OUTSIDE"
    print(f"{d['id']:<28} published {d['published']:>6.3g}   simulated {d['simulated']:>6.3g} "
          f"(95% {d['interval'][0]:.3g}-{d['interval'][1]:.3g})   band {lo:.3g}-{hi:.3g}: {verdict}")

# %% [markdown]
# ## The visual predictive check
#
# The shaded bands hold 50% and 90% of the simulated patients' ratings at each visit, the line is
# the median. A model that reproduces the study puts the published mean inside the bands, visit by
# visit. The squares are the figures the paper published (a mean change from baseline, drawn on the
# simulated baseline, and the response share at the end of the induction) with the band a
# simulated figure has to fall in.

# %%
days = result.visit_days()
visit_day = {v.name: v.day for v in study.visits}
arm = next(iter(result.arms.values()))
scores = arm.scores
baseline = scores[:, 0:1]
q = np.nanpercentile(scores, [5, 25, 50, 75, 95], axis=0)
responding = 100 * np.nanmean(scores <= 0.5 * baseline, axis=0)

fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
ax1.fill_between(days, q[0], q[4], alpha=0.2, color="tab:blue", label="90% of simulated patients")
ax1.fill_between(days, q[1], q[3], alpha=0.35, color="tab:blue", label="50%")
ax1.plot(days, q[2], color="tab:blue", label="median")
ax2.plot(days, responding, marker="o", ms=3, label="simulated")
specs = {o.id: o for o in study.outcomes}
for row in target_results(result):
    spec, t = specs[row.target.id], row.target
    if spec.kind == "mean_change" and spec.visit in visit_day:  # published mean change from baseline
        base = float(np.nanmean(baseline))
        ax1.errorbar(visit_day[spec.visit], base + t.published, yerr=[[t.published - t.band[0]],
                     [t.band[1] - t.published]], fmt="s", color="k", capsize=3, label="published mean (band)")
    elif spec.kind == "response_rate" and spec.visit in visit_day:
        ax2.errorbar(visit_day[spec.visit], t.published, yerr=[[t.published - t.band[0]], [t.band[1] - t.published]],
                     fmt="s", color="k", capsize=3, label="published (band)")
ax1.set(xlabel="day", ylabel=f"{study.scale.upper()} rating", title="ratings at the visits")
ax2.set(xlabel="day", ylabel="responders (%)", title="share responding (50% below baseline)")
ax1.legend(fontsize=8)
ax2.legend(fontsize=8)
fig.tight_layout()
plt.show()

# %% [markdown]
# Reading it: the ratings fall within a day of the first infusion, stay low during the induction
# and rise again over the following weeks as the benefit fades; the spread widens because patients
# differ in how fast their new synapses are pruned and how much load they carry. The same study with
# more patients (`KETASIM_TUTORIAL_FULL=1`), all studies at once (`ketasim trials --report DIR`) and
# a study of your own (`ketasim trials --study FILE.yaml`, see [the study format](../study-format.md))
# work the same way. To hand the simulated ratings to NONMEM or nlmixr2:
# `ketasim trials --studies murrough13b --nonmem-out trial.csv --nonmem-noise`.
