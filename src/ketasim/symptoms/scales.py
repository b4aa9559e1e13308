"""Rating scales: published linkings from MADRS to HDRS-17, HDRS-21, PHQ-9 and QIDS-SR16.

The model computes MADRS (MODEL.md section 7); every other scale is read off a published
linking of total scores, stored below as anchor points ``(MADRS, other scale)`` and joined
by straight lines (piecewise-linear interpolation), then clipped to the scale's range:

    score = clip(interp(MADRS, madrs_anchors, scale_anchors), lo, hi)

Anchors are strictly increasing in both columns, so the map is monotone and its inverse
:func:`to_madrs` is the same interpolation with the columns swapped. Where a linking only
publishes a few corresponding scores, the scale floors (0 <-> 0) and, where stated, the scale
maxima are added as end anchors (marked *assumed* in each :class:`ScaleSpec`).

Linkings used (numbers only; see each spec's ``linking`` for details):

* HDRS-17: Leucht 2018 (equipercentile, 4388 patients): HAM-D 10/20/30/40 <-> MADRS
  13/26/39/52-53.
* QIDS-SR16: Carmody 2006 (IRT, 233 treatment-resistant outpatients): QIDS-SR16 5 <-> MADRS 7.5;
  Liu 2014 (IRT, 1164 patients): QIDS-SR16 bands 6-10 / 11-15 / 16-20 / 21+ <-> MADRS 9-17 /
  18-24 / 25-33 / 34+, used at the band boundaries (half-points between integer scores).
* PHQ-9: Kim 2023/2024 (equipercentile, OPTIMUM trial of treatment-resistant late-life
  depression): PHQ-9 1 / 15 / 27 <-> MADRS 1 / 24 / 48. PHQ-9 reaches its maximum 27 at
  MADRS 48 and stays there above (the inverse returns 48 for PHQ-9 27).
* HDRS-21: *chained* linking: MADRS -> HDRS-17 (Leucht 2018) -> HDRS-21 (paired HRSD17 and
  HRSD21 columns of the Rush 2003 / Trivedi 2004 QIDS conversion table, www.ids-qids.org).
  Zarate 2006 reported the HDRS-21; see the remission note on ``SCALES["hdrs21"]``.

Observation noise: one SD per scale, the standard error of measurement
``SEM = SD_scores * sqrt(1 - reliability)`` with a published reliability and a typical
spread of scores during treatment; status *assumed* (the spread is a choice).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ketasim.errors import PlanError
from ketasim.parameters import Parameter

MADRS_RANGE = (0.0, 60.0)
RESPONSE_FRACTION = 0.5  # response: a drop of at least 50% from baseline, on every scale
MADRS_REMISSION = 10.0  # MADRS <= 10 (Zimmerman 2004: the equivalent of HDRS-17 <= 7)
MADRS_REMISSION_ESKETAMINE = 12.0  # MADRS <= 12 in the esketamine programme (Daly 2019 SUSTAIN-1)


@dataclass(frozen=True)
class ScaleSpec:
    """One rating scale: range, outcome definitions, linking to MADRS and observation noise.

    ``remission_threshold`` with ``remission_inclusive``: remission is ``score <= threshold``
    (inclusive) or ``score < threshold``. ``madrs_anchors`` and ``scale_anchors`` are the
    linking table (strictly increasing); ``linking`` cites it and says which anchors are assumed.
    """

    name: str
    label: str
    range: tuple[float, float]
    remission_threshold: float
    remission_inclusive: bool
    remission_source: str
    response_fraction: float
    linking: str
    madrs_anchors: tuple[float, ...]
    scale_anchors: tuple[float, ...]
    noise_sd: Parameter

    def __post_init__(self) -> None:
        m = np.asarray(self.madrs_anchors)
        s = np.asarray(self.scale_anchors)
        if m.size != s.size or m.size < 2 or np.any(np.diff(m) <= 0) or np.any(np.diff(s) <= 0):
            raise ValueError(f"scale {self.name!r}: linking anchors must be two strictly increasing columns of "
                             "equal length")

    @property
    def remission_rule(self) -> str:
        """The remission definition in words, e.g. ``"MADRS <= 10"``."""
        op = "<=" if self.remission_inclusive else "<"
        return f"{self.label} {op} {self.remission_threshold:g}"


def _noise(name: str, value: float, reliability: str, spread: str, bounds: tuple[float, float]) -> Parameter:
    return Parameter(
        f"noise_sd_{name}", value, "scale points",
        f"SEM = SD sqrt(1 - r): {reliability}; {spread} (assumed)", "assumed",
        f"observation noise SD of one {name} rating (measurement error of the total score)", "symptoms", bounds)


MADRS_NOISE = _noise("madrs", 3.0, "test-retest ICC 0.91-0.96 in two esketamine TRD trials (Johnson 2018 "
                     "J Clin Psychiatry, MADRS 24-h recall), lower value 0.91",
                     "SD of MADRS during treatment about 10 points", (1.0, 6.0))

_LEUCHT_MADRS = (0.0, 13.0, 26.0, 39.0, 52.5, 60.0)
_LEUCHT_HDRS17 = (0.0, 10.0, 20.0, 30.0, 40.0, 52.0)

# HRSD17 and HRSD21 scores in the same row of the QIDS conversion table (Rush 2003; Trivedi 2004;
# www.ids-qids.org, Interpretation): range cells at their midpoints; QIDS rows 14 and 15 share HRSD17
# 18-19 and are averaged; the top row (HRSD17 36-52, HRSD21 42-64) is replaced by the scale maxima.
_RUSH_HDRS17 = (0.0, 1.5, 3.0, 4.0, 5.5, 7.0, 8.0, 9.5, 11.0, 12.0, 13.0, 14.5, 16.0, 17.0, 18.5, 20.0, 21.5,
                23.0, 24.0, 25.0, 26.5, 28.0, 29.0, 30.5, 32.0, 34.0, 52.0)
_RUSH_HDRS21 = (0.0, 2.0, 3.0, 4.0, 5.5, 7.5, 9.0, 10.0, 11.5, 13.0, 14.5, 16.0, 17.0, 18.5, 21.25, 23.0, 24.5,
                26.0, 27.0, 28.0, 30.0, 32.0, 33.5, 35.5, 37.5, 40.0, 63.0)

_MADRS_SPEC = ScaleSpec(
    name="madrs", label="MADRS", range=MADRS_RANGE,
    remission_threshold=MADRS_REMISSION, remission_inclusive=True,
    remission_source="MADRS <= 10 (Zimmerman 2004 J Psychiatr Res 38:577, the equivalent of HDRS-17 <= 7; Hawley 2002 "
                     "J Affect Disord proposed < 10); <= 12 in the esketamine programme (Daly 2019 SUSTAIN-1): pass "
                     "threshold=12",
    response_fraction=RESPONSE_FRACTION,
    linking="identity (the model's own scale)",
    madrs_anchors=MADRS_RANGE, scale_anchors=MADRS_RANGE, noise_sd=MADRS_NOISE)

_HDRS17_SPEC = ScaleSpec(
    name="hdrs17", label="HDRS-17", range=(0.0, 52.0),
    remission_threshold=7.0, remission_inclusive=True,
    remission_source="HDRS-17 <= 7 (Frank 1991 Arch Gen Psychiatry consensus definition)",
    response_fraction=RESPONSE_FRACTION,
    linking="Leucht S, Fennema H, Engel RR, Kaspers-Janssen M, Szegedi A. Translating the HAM-D into the MADRS and "
            "vice versa with equipercentile linking. J Affect Disord 2018;226:326-331 (HAM-D 10/20/30/40 <-> MADRS "
            "13/26/39/52-53, taken as 52.5). End anchors 0 <-> 0 and 52 <-> 60 (scale maxima) assumed.",
    madrs_anchors=_LEUCHT_MADRS, scale_anchors=_LEUCHT_HDRS17,
    noise_sd=_noise("hdrs17", 2.0, "inter-rater ICC 0.937 (Trajkovic 2011 Psychiatry Res meta-analysis); "
                    "Morriss 2008 J Affect Disord reports 1.25 for inter-rater error alone",
                    "SD of HDRS-17 during treatment about 8 points", (0.8, 5.0)))

_HDRS21_MADRS = tuple(float(x) for x in np.interp(_RUSH_HDRS17, _LEUCHT_HDRS17, _LEUCHT_MADRS))

_HDRS21_SPEC = ScaleSpec(
    name="hdrs21", label="HDRS-21", range=(0.0, 63.0),
    remission_threshold=7.0, remission_inclusive=True,
    remission_source="HDRS <= 7 as reported by Zarate 2006 Arch Gen Psychiatry 63:856 (21-item total). Applying "
                     "<= 7 to the 17-item core instead (remission(hdrs17)) is the more lenient reading: HDRS-17 7 "
                     "<-> HDRS-21 7.5 on the Rush 2003 table",
    response_fraction=RESPONSE_FRACTION,
    linking="Chained: MADRS -> HDRS-17 (Leucht 2018, above) -> HDRS-21 (paired HRSD17 and HRSD21 columns of the "
            "QIDS conversion table: Rush AJ et al. Biol Psychiatry 2003;54:573-583; Trivedi MH et al. Psychol Med "
            "2004;34:73-82; www.ids-qids.org). Items 18-21 add at most 11 points: range 0-63; top anchor 52 <-> 63 "
            "assumed.",
    madrs_anchors=_HDRS21_MADRS, scale_anchors=_RUSH_HDRS21,
    noise_sd=_noise("hdrs21", 2.2, "reliability as HDRS-17 (Trajkovic 2011)",
                    "SD about 1.1 x the HDRS-17 SD (slope of the HDRS-17 to HDRS-21 linking)", (0.8, 5.5)))

_PHQ9_SPEC = ScaleSpec(
    name="phq9", label="PHQ-9", range=(0.0, 27.0),
    remission_threshold=5.0, remission_inclusive=False,
    remission_source="PHQ-9 < 5 (Kroenke 2001 J Gen Intern Med: 0-4 minimal symptoms)",
    response_fraction=RESPONSE_FRACTION,
    linking="Kim HK, Lenze EJ, ..., Mulsant BH. Relationship between PHQ-9 and MADRS total scores in older adults "
            "with major depressive disorder: an analysis of the OPTIMUM clinical trial. J Affect Disord "
            "2024;361:651-658 (equipercentile; treatment-resistant late-life depression; PHQ-9 1/15/27 <-> MADRS "
            "1/24/48, Am J Geriatr Psychiatry 2023 abstract). End anchor 0 <-> 0 assumed; PHQ-9 stays at 27 above "
            "MADRS 48.",
    madrs_anchors=(0.0, 1.0, 24.0, 48.0), scale_anchors=(0.0, 1.0, 15.0, 27.0),
    noise_sd=_noise("phq9", 2.6, "test-retest r 0.84 over 48 h (Kroenke 2001 J Gen Intern Med)",
                    "SD 6.6 in a real-world MDD sample (Palmer 2024 Neuropsychiatr Dis Treat)", (1.0, 5.0)))

_QIDS_SPEC = ScaleSpec(
    name="qids_sr16", label="QIDS-SR16", range=(0.0, 27.0),
    remission_threshold=5.0, remission_inclusive=True,
    remission_source="QIDS-SR16 <= 5 (Rush 2003; www.ids-qids.org severity bands)",
    response_fraction=RESPONSE_FRACTION,
    linking="Carmody TJ, Rush AJ, Bernstein IH, et al. Making clinicians lives easier: guidance on use of the QIDS "
            "self-report in place of the MADRS. J Affect Disord 2006;95:115-118 (IRT, treatment-resistant sample: "
            "QIDS-SR16 5 <-> MADRS 7.5); Liu J, Xiang YT, et al. Guidance on the conversion of the Chinese versions "
            "of the QIDS-SR and the MADRS. J Affect Disord 2014;152-154:530-533 (IRT: QIDS-SR 6-10/11-15/16-20/21+ "
            "<-> MADRS 9-17/18-24/25-33/34+, used at the band boundaries 10.5/15.5/20.5 <-> 17.5/24.5/33.5). End "
            "anchors 0 <-> 0 and 27 <-> 60 (scale maxima) assumed.",
    madrs_anchors=(0.0, 7.5, 17.5, 24.5, 33.5, 60.0), scale_anchors=(0.0, 5.0, 10.5, 15.5, 20.5, 27.0),
    noise_sd=_noise("qids_sr16", 2.2, "Cronbach alpha 0.86 (Rush 2003 Biol Psychiatry)",
                    "SD 5.8 in a treatment-resistant sample at one year (Carmody 2006)", (0.8, 4.5)))

SCALES: dict[str, ScaleSpec] = {s.name: s for s in (_MADRS_SPEC, _HDRS17_SPEC, _HDRS21_SPEC, _PHQ9_SPEC, _QIDS_SPEC)}
"""Every supported scale by name: ``madrs``, ``hdrs17``, ``hdrs21``, ``phq9``, ``qids_sr16``."""

SIMULATED_SCALES: tuple[str, ...] = ("hdrs17", "phq9", "qids_sr16")
"""Scales :func:`from_madrs` returns (the columns of a simulated time series besides MADRS)."""

SCALE_PARAMETERS: tuple[Parameter, ...] = tuple(s.noise_sd for s in SCALES.values())
"""Observation-noise parameters of every scale, for listings such as ``ketasim params``."""


def get_scale(scale: str) -> ScaleSpec:
    """The :class:`ScaleSpec` named ``scale``; a :class:`~ketasim.errors.PlanError` names the allowed ones."""
    try:
        return SCALES[scale]
    except (KeyError, TypeError):
        raise PlanError("scale", scale, ", ".join(SCALES)) from None


def madrs_to(scale: str, madrs: np.ndarray | float) -> np.ndarray:
    """Scores on ``scale`` corresponding to MADRS totals (vectorised, monotone, clipped to the range)."""
    spec = get_scale(scale)
    m = np.clip(np.asarray(madrs, dtype=float), *MADRS_RANGE)
    return np.clip(np.interp(m, spec.madrs_anchors, spec.scale_anchors), *spec.range)


def from_madrs(madrs: np.ndarray) -> dict[str, np.ndarray]:
    """HDRS-17, PHQ-9 and QIDS-SR16 scores for MADRS totals: keys ``hdrs17``, ``phq9``, ``qids_sr16``."""
    return {name: madrs_to(name, madrs) for name in SIMULATED_SCALES}


def to_madrs(scale: str, values: np.ndarray | float) -> np.ndarray:
    """MADRS totals corresponding to scores on ``scale`` (the inverse of :func:`madrs_to`).

    Where a scale saturates (PHQ-9 above MADRS 48) the smallest MADRS that gives the score is returned.
    """
    spec = get_scale(scale)
    v = np.clip(np.asarray(values, dtype=float), *spec.range)
    return np.clip(np.interp(v, spec.scale_anchors, spec.madrs_anchors), *MADRS_RANGE)


def observe(scale: str, true_scores: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Simulated ratings: true scores plus Gaussian measurement error (the scale's noise SD), rounded to whole
    points and clipped to the scale's range."""
    spec = get_scale(scale)
    x = np.asarray(true_scores, dtype=float)
    noisy = x + rng.normal(0.0, spec.noise_sd.value, size=x.shape)
    return np.clip(np.round(noisy), *spec.range)
