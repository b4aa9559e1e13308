"""The clinical targets: published figures a virtual trial must reproduce, as data with their citations.

Transcribed from ``shared/reference/clinical-targets.md`` (one row there can hold two figures,
e.g. response / remission; each figure is one :class:`Target` here, its ``table_id`` is the row's id).
``published`` and ``band`` are in the figure's ``unit``: proportions in percent, scores in scale
points, times in days or weeks, hazard ratios as ratios. The band is about the published 95% interval
for the study's sample size; it is never widened to make a simulation pass.

``definition`` says how the virtual trial computes the figure from simulated visits (which visit,
which scale, which denominator); ``ketasim.trials.studies`` implements exactly that.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["proportion", "mean_change", "median_days", "mean_days", "median_weeks", "median_count",
               "hazard_ratio"]


@dataclass(frozen=True)
class Target:
    """One published figure with its acceptance band."""

    id: str
    table_id: str
    study: str
    citation: str
    n_published: int
    figure: str
    published: float
    band: tuple[float, float]
    unit: str
    kind: Kind
    definition: str

    def __post_init__(self) -> None:
        lo, hi = self.band
        if not lo <= self.published <= hi:
            raise ValueError(f"target {self.id}: published {self.published} outside its band {self.band}")

    def within_band(self, value: float) -> bool:
        """True when ``value`` lies in the band (bounds included); NaN never does."""
        return bool(self.band[0] <= value <= self.band[1])

    @property
    def half_width(self) -> float:
        """Half the band width, the unit of the calibration discrepancy."""
        return 0.5 * (self.band[1] - self.band[0])


ZARATE06 = "Zarate CA Jr et al. 2006, Arch Gen Psychiatry 63:856-864"
MURROUGH13A = "Murrough JW et al. 2013, Am J Psychiatry 170:1134-1142"
MURROUGH13B = "Murrough JW et al. 2013, Biol Psychiatry 74:250-256"
AANHETROT10 = "aan het Rot M et al. 2010, Biol Psychiatry 67:139-145"
SHIROMA14 = "Shiroma PR et al. 2014, J Affect Disord 155:123-129"
PHILLIPS19 = "Phillips JL et al. 2019, Am J Psychiatry 176:401-409"
WILKINSON17 = "Wilkinson ST et al. 2017, Psychother Psychosom 86:162-167"
SUSTAIN1 = "Daly EJ et al. 2019 (SUSTAIN-1), JAMA Psychiatry 76:893-903"

TARGETS: tuple[Target, ...] = (
    # --- Zarate 2006: single infusion, HDRS-21, n = 18 -------------------------------------------
    Target("zarate06-r1", "zarate06-r1", "zarate06", ZARATE06, 18, "response at day 1", 71.0, (45.0, 90.0),
           "%", "proportion", "HDRS drop >= 50% from the pre-infusion baseline at the visit 24 h after the infusion "
           "start; all patients"),
    Target("zarate06-q1", "zarate06-q1", "zarate06", ZARATE06, 18, "remission (HDRS <= 7) at day 1", 29.0,
           (10.0, 55.0), "%", "proportion", "HDRS <= 7 at the visit 24 h after the infusion start; all patients"),
    Target("zarate06-r7", "zarate06-r7", "zarate06", ZARATE06, 18, "response still held at day 7", 35.0,
           (15.0, 60.0), "%", "proportion", "HDRS drop >= 50% from baseline at the day-7 visit; all patients"),
    # --- Murrough 2013a: single infusion vs midazolam, ketamine arm n = 47 ---------------------
    Target("murrough13a-d1", "murrough13a-d1", "murrough13a", MURROUGH13A, 47, "mean MADRS change at 24 h", -16.5,
           (-20.5, -12.5), "MADRS points", "mean_change",
           "mean over patients of MADRS(24 h after the infusion start) - MADRS(baseline)"),
    Target("murrough13a-r1", "murrough13a-r1", "murrough13a", MURROUGH13A, 47, "response at 24 h", 64.0,
           (49.0, 77.0), "%", "proportion", "MADRS drop >= 50% from baseline at 24 h; all patients"),
    # --- Murrough 2013b: six infusions Mon-Wed-Fri over 12 days, n = 24 --------------------------
    Target("murrough13b-h2", "murrough13b-h2", "murrough13b", MURROUGH13B, 24,
           "mean MADRS drop 2 h after the first infusion", -18.9, (-22.5, -15.5), "MADRS points", "mean_change",
           "mean over patients of MADRS(2 h after the end of the first infusion) - MADRS(baseline)"),
    Target("murrough13b-rend", "murrough13b-rend", "murrough13b", MURROUGH13B, 24, "response at end of series", 70.8,
           (49.0, 87.0), "%", "proportion",
           "MADRS drop >= 50% from baseline at the visit 24 h after the sixth infusion; all patients"),
    Target("murrough13b-relapse", "murrough13b-relapse", "murrough13b", MURROUGH13B, 24,
           "median days from last infusion to relapse, responders", 18.0, (12.0, 26.0), "days", "median_days",
           "Kaplan-Meier median among end-of-series responders; relapse = MADRS drop < 50% from baseline at two "
           "consecutive twice-weekly visits (time of the first), censored at 83 days after the last infusion"),
    # --- aan het Rot 2010: six infusions over 12 days, n = 10 ------------------------------------
    Target("aanhetrot10-relapse", "aanhetrot10-relapse", "aanhetrot10", AANHETROT10, 10,
           "mean days to relapse after last infusion", 19.0, (10.0, 30.0), "days", "mean_days",
           "mean days from the last infusion to relapse among end-of-series responders who relapsed within 83 days; "
           "relapse as in Murrough 2013b (same group and protocol)"),
    # --- Shiroma 2014: six infusions Mon-Wed-Fri, n = 12 -------------------------------------------
    Target("shiroma14-r1", "shiroma14-r1", "shiroma14", SHIROMA14, 12, "response after the first infusion", 25.0,
           (5.0, 55.0), "%", "proportion", "MADRS drop >= 50% from baseline at the visit before the second "
           "infusion (48 h after the first); all patients"),
    Target("shiroma14-rend-response", "shiroma14-rend", "shiroma14", SHIROMA14, 12, "response at end of series",
           91.6, (60.0, 100.0), "%", "proportion",
           "MADRS drop >= 50% from baseline at the visit 24 h after the sixth infusion; all patients"),
    Target("shiroma14-rend-remission", "shiroma14-rend", "shiroma14", SHIROMA14, 12, "remission at end of series",
           66.6, (35.0, 90.0), "%", "proportion", "MADRS <= 9 at the visit 24 h after the sixth infusion"),
    Target("shiroma14-hold4w", "shiroma14-hold4w", "shiroma14", SHIROMA14, 12,
           "responders still responding 4 weeks after the series", 45.0, (17.0, 77.0), "%", "proportion",
           "among end-of-series responders, MADRS drop >= 50% from baseline at every weekly visit through the "
           "visit 4 weeks after the last infusion"),
    # --- Phillips 2019: six infusions over 2 weeks, then four weekly infusions, n = 41 ---------
    Target("phillips19-rend-response", "phillips19-rend", "phillips19", PHILLIPS19, 41,
           "response after the series", 59.0, (43.0, 74.0), "%", "proportion",
           "MADRS drop >= 50% from the pre-series baseline at the visit 24 h after the sixth infusion; "
           "all patients"),
    Target("phillips19-rend-infusions", "phillips19-rend", "phillips19", PHILLIPS19, 41,
           "median infusions to response", 3.0, (2.0, 4.0), "infusions", "median_count",
           "among end-of-series responders, median number of infusions received before the first visit with a "
           "MADRS drop >= 50% (visits before infusions 2-6 and 24 h after the sixth)"),
    Target("phillips19-maint", "phillips19-maint", "phillips19", PHILLIPS19, 41,
           "change in mean MADRS during weekly maintenance", 0.0, (-3.0, 3.0), "MADRS points", "mean_change",
           "among end-of-series responders given four weekly infusions: mean MADRS 24 h after the fourth weekly "
           "infusion minus mean MADRS 24 h after the sixth series infusion"),
    # --- Wilkinson 2017: four infusions over 2 weeks + CBT, n = 16 -------------------------------
    Target("wilkinson17-rend-response", "wilkinson17-rend", "wilkinson17", WILKINSON17, 16,
           "response after the infusions", 50.0, (25.0, 75.0), "%", "proportion",
           "MADRS drop >= 50% from baseline at the visit 24 h after the fourth infusion; all patients"),
    Target("wilkinson17-rend-remission", "wilkinson17-rend", "wilkinson17", WILKINSON17, 16,
           "remission after the infusions", 43.8, (20.0, 70.0), "%", "proportion",
           "MADRS <= 10 at the visit 24 h after the fourth infusion; all patients"),
    Target("wilkinson17-relapse8w", "wilkinson17-relapse8w", "wilkinson17", WILKINSON17, 16,
           "relapse 8 weeks after the last infusion among responders", 25.0, (3.0, 65.0), "%", "proportion",
           "Kaplan-Meier probability of relapse by 56 days after the last infusion among responders; relapse = "
           "MADRS drop < 50% from baseline at two consecutive weekly visits"),
    Target("wilkinson17-relapse-median", "wilkinson17-relapse8w", "wilkinson17", WILKINSON17, 16,
           "median weeks to relapse among responders", 12.0, (8.0, 16.0), "weeks", "median_weeks",
           "Kaplan-Meier median weeks from the last infusion to relapse among responders (same relapse "
           "definition), weekly visits to 24 weeks"),
    # --- SUSTAIN-1: randomised withdrawal of esketamine in stable remitters ---------------------
    Target("sustain1-relapse-continue", "sustain1-remitters", "sustain1", SUSTAIN1, 176,
           "relapse during follow-up, continued esketamine", 26.7, (17.0, 37.0), "%", "proportion",
           "stable remitters randomised to continue esketamine every 2 weeks + oral antidepressant: share with "
           "MADRS >= 22 at two visits 5-15 days apart before censoring"),
    Target("sustain1-relapse-stop", "sustain1-remitters", "sustain1", SUSTAIN1, 176,
           "relapse during follow-up, switched to placebo", 45.3, (35.0, 56.0), "%", "proportion",
           "stable remitters randomised to placebo spray + oral antidepressant: share relapsing before censoring"),
    Target("sustain1-hr", "sustain1-remitters", "sustain1", SUSTAIN1, 176,
           "hazard ratio of relapse, continue vs stop", 0.49, (0.29, 0.84), "ratio", "hazard_ratio",
           "Cox proportional-hazards model (lifelines) of time to relapse, arm as the only covariate"),
    Target("sustain1-median", "sustain1-median", "sustain1", SUSTAIN1, 176,
           "median days to relapse, placebo arm", 273.0, (97.0, 400.0), "days", "median_days",
           "Kaplan-Meier median days from randomisation to relapse in the placebo arm"),
)

TARGETS_BY_ID: dict[str, Target] = {t.id: t for t in TARGETS}


def targets_of(study: str) -> tuple[Target, ...]:
    """The targets of one study (e.g. ``"murrough13b"``)."""
    return tuple(t for t in TARGETS if t.study == study)


def get_target(target_id: str) -> Target:
    """The target called ``target_id``; the error lists the ids allowed."""
    try:
        return TARGETS_BY_ID[target_id]
    except KeyError:
        raise KeyError(f"unknown target {target_id!r}; allowed: {', '.join(TARGETS_BY_ID)}") from None
