"""The likelihood of the evidence base given simulated trial summaries.

Each fitted observation (:func:`ketasim.evidence.loader.usage`) whose virtual study computes it is an
:class:`Item` with one of three families:

* ``binomial`` (response, remission, relapse events over the follow-up, Kaplan-Meier proportions with the
  published number at risk): ``k ~ Binomial(n, p_study)``, ``logit p_study = logit p_sim + tau_logit u``;
* ``normal`` (mean changes, differences of mean changes): ``y ~ N(mu_sim, SE^2 + tau_points^2)`` with the
  published SE (or SD / sqrt(n), or the 95% interval / 3.92);
* ``lognormal`` (medians with their interval, mean days, hazard ratios): ``log y ~ N(log x_sim,
  SE_log^2 + tau_log^2)``, ``SE_log`` from the published interval (one-sided when the upper limit is not
  estimable).

``u ~ N(0, 1)`` is the study's deviation from the population-average trial: the between-study heterogeneity
term, integrated by Gauss-Hermite quadrature for counts. ``[S]`` values enter with their variance doubled
(binomial: ``k/2`` of ``n/2``). ``emulator_var`` (the emulator's predictive variance, on the transformed
scale) adds to the heterogeneity variance. A median the simulated trial does not reach counts as 1.5 times
its follow-up; a figure that cannot be computed at all costs :data:`MISSING_LOGLIK`.

**Monte-Carlo error.** ``x_sim`` comes from a virtual trial of finite size, so it misses the population value
by a Monte-Carlo error ``e`` whose variance ``V_mc`` (:class:`MonteCarloError`, on the likelihood scale) adds
to the likelihood variance: ``logit p_study = logit p_sim + sqrt(tau_logit^2 + V_mc) u`` and
``y ~ N(mu_sim, SE^2 + tau^2 + V_mc)``. With common random numbers (the fit's fixed virtual cohorts) ``e`` is a
systematic offset shared by every parameter point rather than fresh noise, but the published data do not share
it, so its variance belongs in the likelihood all the same. Per summary kind (:func:`monte_carlo_components`):
a proportion of ``m`` virtual patients ``1 / (m p(1 - p))`` (delta method on the logit, ``p`` continuity
corrected, evaluated at the simulated ``p``); a Kaplan-Meier proportion the same with the effective ``m`` of its
Greenwood interval; a mean ``SD^2 / m``, a difference of means the paired (same patients) or independent
variance; a Kaplan-Meier median and a median the bootstrap variance of the log (patients resampled: such medians
jump between visit days or whole numbers, so no interval formula holds); a mean time and a hazard ratio the
variance of the log from their interval (normal for the mean, Cox's for the hazard ratio).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy.special import gammaln

from ketasim.evidence.loader import fitted_observations, load_evidence, usage
from ketasim.evidence.schema import COUNT_KINDS, LOG_KINDS
from ketasim.trials.endpoints import Z95, Estimate

Family = Literal["binomial", "normal", "lognormal"]
MISSING_LOGLIK = -50.0
NOT_REACHED_FACTOR = 1.5
P_CLIP = 1e-3
_GH_X, _GH_W = np.polynomial.hermite_e.hermegauss(21)
_GH_W = _GH_W / math.sqrt(2.0 * math.pi)


@dataclass(frozen=True)
class Item:
    """One observation in the likelihood (values in the published unit; ``se`` on the family's scale)."""

    id: str
    study: str
    arm: str | None
    kind: str
    family: Family
    value: float
    n: float | None
    events: float | None
    se: float | None
    variance_factor: float
    tag: str
    target: str | None
    not_reached: float | None  # value used when the simulated median is not reached

    @property
    def observed(self) -> float:
        """The published value on the family's scale (logit of the proportion, log, or as is)."""
        if self.family == "binomial":
            p = min(max(self.events / self.n, P_CLIP), 1 - P_CLIP)  # type: ignore[operator]
            return math.log(p / (1 - p))
        return math.log(self.value) if self.family == "lognormal" else self.value


@dataclass(frozen=True)
class Heterogeneity:
    """Between-study SDs: of mean changes (MADRS points), of logit proportions, of log times and ratios."""

    tau_points: float = 1.5
    tau_logit: float = 0.3
    tau_log: float = 0.2

    @classmethod
    def shipped(cls) -> Heterogeneity:
        """The shipped calibration's heterogeneity (the posterior median), else the defaults."""
        from ketasim.parameters import shipped_calibration

        h = shipped_calibration().get("heterogeneity", {})
        return cls(**{k: float(v["value"]) for k, v in h.items() if k in ("tau_points", "tau_logit", "tau_log")})


HETEROGENEITY_PRIORS = {"tau_points": 3.0, "tau_logit": 0.5, "tau_log": 0.3}  # half-normal scales (stated)


def _logit(p: float) -> float:
    p = min(max(p, P_CLIP), 1 - P_CLIP)
    return math.log(p / (1 - p))


def monte_carlo_components(item: Item, est: Estimate) -> tuple[float, float]:
    """(virtual patients behind the summary, its Monte-Carlo variance on the likelihood scale) from one
    simulated :class:`~ketasim.trials.endpoints.Estimate` (NaN where the simulation cannot say, e.g. a median
    not reached). For a binomial item the first is the effective number ``m`` (the variance is then
    ``1 / (m p(1 - p))`` at any ``p``); the module docstring gives the formula of every kind."""
    m = float(est.n)
    v, lo, hi = est.value, est.low, est.high
    if m <= 0 or not np.isfinite(v):
        return float("nan"), float("nan")
    if item.family == "binomial":
        p = (m * v / 100.0 + 0.5) / (m + 1.0)
        if item.kind == "relapse_km" and np.isfinite(lo) and np.isfinite(hi) and hi > lo:
            var = ((_logit(hi / 100.0) - _logit(lo / 100.0)) / (2 * Z95)) ** 2
            m = 1.0 / (var * p * (1 - p))
        return m, 1.0 / (m * p * (1 - p))
    if item.family == "normal":
        return m, ((hi - lo) / (2 * Z95)) ** 2 if np.isfinite(hi - lo) else float("nan")
    if np.isfinite(est.se_log):
        return m, est.se_log**2
    if v <= 0 or not (np.isfinite(lo) and lo > 0):
        return m, float("nan")
    if np.isfinite(hi) and hi > 0:
        return m, ((math.log(hi) - math.log(lo)) / (2 * Z95)) ** 2
    return m, ((math.log(v) - math.log(lo)) / Z95) ** 2  # upper limit not estimable: the lower half only


@dataclass(frozen=True)
class MonteCarloError:
    """The Monte-Carlo variance of every simulated summary (aligned with a :class:`Likelihood`'s items), for
    virtual trials of ``enrolled`` patients per item's study (see the module docstring).

    Stored per patient enrolled, so that it scales to any cohort size: ``share`` (binomial items: virtual
    patients behind the summary per patient enrolled) and ``unit_var`` (other items: variance times the
    patients enrolled). :meth:`variance` gives ``V_mc`` at simulated summaries ``Z``."""

    ids: tuple[str, ...]
    share: np.ndarray
    unit_var: np.ndarray
    enrolled: np.ndarray

    def variance(self, Z: np.ndarray, binomial: np.ndarray) -> np.ndarray:
        """``V_mc`` (draws x items) at summaries ``Z`` on the likelihood scale; ``binomial``: boolean per item."""
        Z = np.atleast_2d(Z)
        m = self.share * self.enrolled
        out = np.broadcast_to(self.unit_var / self.enrolled, Z.shape).copy()
        if binomial.any():
            p = 1.0 / (1.0 + np.exp(-np.where(np.isfinite(Z[:, binomial]), Z[:, binomial], 0.0)))
            mb = m[binomial]
            pt = (mb * p + 0.5) / (mb + 1.0)
            out[:, binomial] = 1.0 / (mb * pt * (1 - pt))
        return np.where(np.isfinite(out), out, 0.0)

    def for_patients(self, n_patients: int | dict[str, int] | None, studies: tuple[str, ...]) -> MonteCarloError:
        """The same error for virtual trials of ``n_patients`` per study (as ``simulate_evidence`` takes it;
        ``studies``: each item's study)."""
        from ketasim.evidence.simulate import patients_for

        return MonteCarloError(self.ids, self.share, self.unit_var,
                               np.array([float(patients_for(s, n_patients)) for s in studies]))

    @classmethod
    def from_simulations(cls, items: tuple[Item, ...], M: np.ndarray, S: np.ndarray, enrolled: np.ndarray
                         ) -> MonteCarloError:
        """The median over simulations (rows of ``M``: patients behind each summary, ``S``: its variance, as
        :func:`monte_carlo_components`; ``enrolled``: patients enrolled per item in those simulations)."""
        M, S = np.atleast_2d(M), np.atleast_2d(S)
        with np.errstate(all="ignore"):
            share = _nanmedian(M / enrolled, fill=0.0)
            unit = _nanmedian(S * enrolled, fill=0.0)
        binomial = np.array([i.family == "binomial" for i in items])
        return cls(tuple(i.id for i in items), np.where(binomial, share, np.nan), np.where(binomial, np.nan, unit),
                   np.asarray(enrolled, dtype=float).copy())

    def as_dict(self) -> dict:
        """JSON form (the posterior's provenance ``monte_carlo``)."""
        def num(x: float) -> float | None:
            return None if not np.isfinite(x) else round(float(x), 6)

        return {i: {"share": num(a), "unit_var": num(b), "enrolled": int(c)}
                for i, a, b, c in zip(self.ids, self.share, self.unit_var, self.enrolled, strict=True)}

    @classmethod
    def from_dict(cls, d: dict, items: tuple[Item, ...]) -> MonteCarloError:
        """From :meth:`as_dict` for ``items`` (an item the record lacks gets no Monte-Carlo variance)."""
        def get(i: str, k: str) -> float:
            v = d.get(i, {}).get(k)
            return float("nan") if v is None else float(v)

        ids = tuple(i.id for i in items)
        return cls(ids, np.array([get(i, "share") for i in ids]), np.array([get(i, "unit_var") for i in ids]),
                   np.array([get(i, "enrolled") if i in d else 1.0 for i in ids]))


def _nanmedian(X: np.ndarray, fill: float) -> np.ndarray:
    ok = np.isfinite(X)
    out = np.full(X.shape[1], fill)
    for j in range(X.shape[1]):
        if ok[:, j].any():
            out[j] = float(np.median(X[ok[:, j], j]))
    return out


def _family(kind: str) -> Family:
    if kind in COUNT_KINDS:
        return "binomial"
    return "lognormal" if kind in LOG_KINDS else "normal"


@functools.cache
def likelihood_items() -> tuple[Item, ...]:
    """Every fitted observation that a virtual study computes, in file order."""
    from ketasim.evidence.virtual import evidence_studies

    studies = evidence_studies()
    out = []
    for st, o, u in fitted_observations():
        vs = studies.get(st.study)
        if vs is None or o.id not in {s.id for s in vs.outcomes}:
            continue
        fam = _family(o.kind)
        nr = None
        if o.kind == "relapse_median" and vs.follow_up is not None:
            nr = NOT_REACHED_FACTOR * vs.follow_up.max_days / (7.0 if o.unit == "weeks" else 1.0)
        se = o.standard_error()
        out.append(Item(o.id, st.study, st.arm_of(o.id), o.kind, fam, float(o.value if o.value is not None else
                                                                          100 * (o.proportion or 0.0)),
                        None if fam != "binomial" else float(o.n) / u.variance_factor,  # type: ignore[arg-type]
                        None if fam != "binomial" else float(o.n_events) / u.variance_factor,  # type: ignore[arg-type]
                        None if se is None else se * math.sqrt(u.variance_factor), u.variance_factor, o.tag,
                        o.target, nr))
    return tuple(out)


def unsimulated_fitted() -> list[tuple[str, str]]:
    """Fitted observations no virtual study computes yet (id, study): they are left out, listed in reports."""
    from ketasim.evidence.virtual import evidence_studies

    studies = evidence_studies()
    have = {i.id for i in likelihood_items()}
    return [(o.id, st.study) for st, o, _ in fitted_observations() if o.id not in have
            and st.study in studies]


def transform(item: Item, simulated: float) -> float:
    """A simulated value on the item's likelihood scale (logit, log or as is); NaN when not computable."""
    v = simulated
    if not np.isfinite(v):
        if item.not_reached is None:
            return float("nan")
        v = item.not_reached
    if item.family == "binomial":
        p = min(max(v / 100.0, P_CLIP), 1 - P_CLIP)
        return math.log(p / (1 - p))
    if item.family == "lognormal":
        return math.log(max(v, 1e-6))
    return v


class Likelihood:
    """Vectorised log-likelihood of the items given transformed simulated summaries (``Z``: draws x items);
    ``monte_carlo``: the Monte-Carlo error of the simulations the summaries come from (None: none)."""

    def __init__(self, items: tuple[Item, ...] | None = None, monte_carlo: MonteCarloError | None = None):
        self.items = likelihood_items() if items is None else tuple(items)
        if monte_carlo is not None and monte_carlo.ids != tuple(i.id for i in self.items):
            raise ValueError("monte_carlo: not aligned with the likelihood's items")
        self.monte_carlo = monte_carlo
        fam = np.array([i.family for i in self.items])
        self.is_binomial = fam == "binomial"
        self.bin = np.flatnonzero(fam == "binomial")
        self.nrm = np.flatnonzero(fam == "normal")
        self.lgn = np.flatnonzero(fam == "lognormal")
        self.k = np.array([self.items[j].events for j in self.bin], dtype=float)
        self.n = np.array([self.items[j].n for j in self.bin], dtype=float)
        self.log_comb = gammaln(self.n + 1) - gammaln(self.k + 1) - gammaln(self.n - self.k + 1)
        self.y = np.array([i.observed for i in self.items])
        self.se2 = np.array([(i.se or 0.0) ** 2 for i in self.items])

    def with_monte_carlo(self, monte_carlo: MonteCarloError | None) -> Likelihood:
        """A copy whose simulated summaries carry ``monte_carlo`` (the data stay)."""
        import copy

        out = copy.copy(self)
        if monte_carlo is not None and monte_carlo.ids != tuple(i.id for i in self.items):
            raise ValueError("monte_carlo: not aligned with the likelihood's items")
        out.monte_carlo = monte_carlo
        return out

    def per_item(self, Z: np.ndarray, het: Heterogeneity | np.ndarray,
                 emulator_var: np.ndarray | None = None) -> np.ndarray:
        """Log-likelihood of each item (draws x items). ``het``: one :class:`Heterogeneity` or an array of
        rows (tau_points, tau_logit, tau_log) per draw; the Monte-Carlo variance (when set) and ``emulator_var``
        add to the between-study variance."""
        Z = np.atleast_2d(np.asarray(Z, dtype=float))
        m = Z.shape[0]
        H = (np.tile([het.tau_points, het.tau_logit, het.tau_log], (m, 1)) if isinstance(het, Heterogeneity)
             else np.atleast_2d(np.asarray(het, dtype=float)))
        V = np.zeros_like(Z) if emulator_var is None else np.atleast_2d(emulator_var)
        if self.monte_carlo is not None:
            V = V + self.monte_carlo.variance(Z, self.is_binomial)
        out = np.full_like(Z, MISSING_LOGLIK)
        if self.bin.size:
            mu = Z[:, self.bin]
            finite = np.isfinite(mu)
            sd = np.sqrt(H[:, 1:2] ** 2 + V[:, self.bin])
            x = np.where(finite, mu, 0.0)[..., None] + sd[..., None] * _GH_X  # draws x items x nodes
            logp = -np.logaddexp(0.0, -x)
            log1mp = -np.logaddexp(0.0, x)
            k, rest = self.k[None, :, None], (self.n - self.k)[None, :, None]
            lik = self.log_comb[None, :, None] + k * logp + rest * log1mp
            peak = lik.max(axis=2, keepdims=True)
            val = peak[..., 0] + np.log(np.sum(_GH_W * np.exp(lik - peak), axis=2))
            out[:, self.bin] = np.where(finite, val, MISSING_LOGLIK)
        for idx, col in ((self.nrm, 0), (self.lgn, 2)):
            if idx.size:
                var = self.se2[idx] + H[:, col:col + 1] ** 2 + V[:, idx]
                r = self.y[idx] - Z[:, idx]
                val = -0.5 * (np.log(2 * np.pi * var) + r * r / var)
                out[:, idx] = np.where(np.isfinite(r), val, MISSING_LOGLIK)
        return out

    def total(self, Z: np.ndarray, het: Heterogeneity | np.ndarray, emulator_var: np.ndarray | None = None
              ) -> np.ndarray:
        return self.per_item(Z, het, emulator_var).sum(axis=1)

    def transform_values(self, values: dict[str, float]) -> np.ndarray:
        """Simulated values (id -> published unit) as one row on the likelihood scale."""
        return np.array([transform(i, values.get(i.id, float("nan"))) for i in self.items])

    def monte_carlo_row(self, estimates: dict[str, Estimate], enrolled: dict[str, int]
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One simulation's (patients behind, Monte-Carlo variance, patients enrolled) per item
        (:func:`monte_carlo_components`; an ``EvidenceRun``'s ``estimates`` and ``enrolled``)."""
        nan = (float("nan"), float("nan"))
        rows = [monte_carlo_components(i, estimates[i.id]) if i.id in estimates else nan for i in self.items]
        return (np.array([r[0] for r in rows]), np.array([r[1] for r in rows]),
                np.array([float(enrolled.get(i.study, 0)) or float("nan") for i in self.items]))


def log_likelihood(values: dict[str, float], het: Heterogeneity | None = None) -> dict[str, float]:
    """Log-likelihood of every item for simulated ``values`` (id -> published unit), without emulator
    (``het``: default the shipped heterogeneity)."""
    lik = Likelihood()
    row = lik.per_item(lik.transform_values(values)[None, :], het or Heterogeneity.shipped())[0]
    return {i.id: float(v) for i, v in zip(lik.items, row, strict=True)}


def item_log_likelihood(item_id: str, value: float, het: Heterogeneity | None = None) -> float | None:
    """Log-likelihood of one item at a simulated ``value`` (None when the id is not a likelihood item)."""
    item = next((i for i in likelihood_items() if i.id == item_id), None)
    if item is None:
        return None
    z = transform(item, value)
    return float(Likelihood((item,)).total(np.array([[z]]), het or Heterogeneity.shipped())[0])


def evidence_table() -> list[dict]:
    """Every observation of the evidence base with its use (fitted or recorded) and the reason."""
    from ketasim.evidence.virtual import evidence_studies

    studies = evidence_studies()
    fitted = {i.id for i in likelihood_items()}
    rows = []
    for st in load_evidence().values():
        for o in st.observations():
            u = usage(st, o)
            reason = u.reason
            if u.fitted and o.id not in fitted:
                reason = "not computed by a virtual study yet" if st.study in studies else "study not simulated"
            rows.append({"study": st.study, "id": o.id, "arm": st.arm_of(o.id), "kind": o.kind, "tag": o.tag,
                         "value": o.value if o.value is not None else o.count, "n": o.n,
                         "fitted": o.id in fitted, "variance_factor": u.variance_factor if o.id in fitted else None,
                         "reason": reason, "source": o.source})
    return rows
