"""Virtual patients: seeded samples of the variability model (``ketasim.population.variability``).

``sample_patients(n, seed)`` draws patients in blocks of :data:`BLOCK` from independent streams
``SeedSequence([seed, block])``: patient ``i`` is the same whatever ``n`` or the chunking, so a
population can be streamed chunk by chunk, or spread over machines, and give the same patients.

Per block the standard-normal coordinates of the random effects are correlated with the
Cholesky factor ``C`` of their correlation matrix (``z = u C^T``, ``u`` independent), then
mapped to values (log-normal or normal, see :class:`~ketasim.population.variability.RandomEffect`).
Covariates come from the same stream: sex (Bernoulli), age (normal, truncated by clipping),
weight (log-normal by sex, clipped to the observed range).

The chronic load is capped so that it explains at most :data:`MAX_LOAD_SHARE` of a patient's
baseline severity (``beta L <= 0.9 (MADRS_0 - floor) / kappa``): a larger load would need a
negative trait deficit, which the model does not allow.

With a response structure that has patient classes (``model="v2"``, ``ketasim.population.structures``), each
patient's class is drawn from the stream ``SeedSequence([seed, block, 1])`` (its probabilities may depend on
age) and moves the patient's drawn parameters to the class (``ClassModel.apply``); ``VirtualPatients.klass``
holds it (-1: a structure without classes).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ketasim.dosing.plan import Patient, Plan
from ketasim.engine.batch import PatientEvents
from ketasim.engine.compile import PKVariability
from ketasim.errors import PlanError
from ketasim.parameters import IDX, RESPONSE_PARAMETERS, default_vector
from ketasim.population.classes import CLASS_NAMES, ClassModel, class_names
from ketasim.population.life_course import LifeCourse
from ketasim.population.structures import PopulationModel, population_model
from ketasim.population.variability import (
    COVARIATE,
    DEFAULT_PK_MODEL,
    PK_TARGETS,
    RandomEffect,
    correlation_matrix,
    with_spreads,
)

BLOCK = 1024
MAX_LOAD_SHARE = 0.9


def load_cap(baseline_madrs: np.ndarray, params: np.ndarray) -> np.ndarray:
    """Largest chronic load a baseline allows: ``beta L`` at most ``MAX_LOAD_SHARE`` of the deficit
    ``(MADRS0 - floor) / kappa`` (load units; 0 when the baseline is at the floor)."""
    cap = MAX_LOAD_SHARE * (baseline_madrs - params[:, IDX["madrs_floor"]]) / (
        params[:, IDX["kappa"]] * np.maximum(params[:, IDX["beta"]], 1e-12))
    return np.maximum(cap, 0.0)


PARAM_NAMES: tuple[str, ...] = tuple(p.name for p in RESPONSE_PARAMETERS)
PATIENT_COLUMNS = ("patient", "class", "weight_kg", "age", "sex", "baseline_madrs", "chronic_load",
                   "acute_load_scale", "pk_cl", "pk_v", "pk_ka")
CLASS_STREAM = 1  # third entry of a block's seed sequence for the class draws


@dataclass
class VirtualPatients:
    """``n`` virtual patients as arrays (one entry per patient).

    ``params`` is n x len(RESPONSE_PARAMETERS) (order of ``ketasim.parameters``); ``pk_cl``,
    ``pk_v``, ``pk_ka`` multiply every clearance, volume and absorption rate of the PK model;
    ``acute_load_scale`` multiplies the amplitude of the plan's life events; ``ids`` are the
    patients' indices in the population they were drawn from; ``latent`` holds the standard-normal
    coordinates of the random effects (``effects`` names them), when sampled; ``klass`` the index of each
    patient's class in ``ketasim.population.classes.CLASS_NAMES`` (-1: a structure without classes);
    ``life_course`` the course of life the patients live (their events are drawn from it with ``seed`` by their
    ids, :meth:`life_events`), None for a structure without one.
    """

    params: np.ndarray
    pk_cl: np.ndarray
    pk_v: np.ndarray
    pk_ka: np.ndarray
    weight_kg: np.ndarray
    age: np.ndarray
    sex: np.ndarray
    baseline_madrs: np.ndarray
    chronic_load: np.ndarray
    acute_load_scale: np.ndarray
    ids: np.ndarray
    latent: np.ndarray | None = None
    effects: tuple[str, ...] = field(default_factory=tuple)
    seed: int | None = None
    klass: np.ndarray | None = None
    life_course: LifeCourse | None = None

    def __post_init__(self) -> None:
        n = self.params.shape[0]
        if self.klass is None:
            self.klass = np.full(n, -1, dtype=np.int64)
        if self.params.ndim != 2 or self.params.shape[1] != len(PARAM_NAMES):
            raise PlanError("patients.params", f"array of shape {self.params.shape}",
                            f"n x {len(PARAM_NAMES)} (one column per response parameter)")
        for name in ("pk_cl", "pk_v", "pk_ka", "weight_kg", "age", "sex", "baseline_madrs", "chronic_load",
                     "acute_load_scale", "ids", "klass"):
            if np.shape(getattr(self, name)) != (n,):
                raise PlanError(f"patients.{name}", f"shape {np.shape(getattr(self, name))}", f"({n},)")
        for name in ("pk_cl", "pk_v", "weight_kg"):
            v = getattr(self, name)
            if not np.all(np.isfinite(v) & (v > 0)):
                raise PlanError(f"patients.{name}", v[~(np.isfinite(v) & (v > 0))][:3].tolist(), "positive numbers")
        if not np.all(np.isfinite(self.params)):
            raise PlanError("patients.params", "non-finite values", "finite parameter values")

    def __len__(self) -> int:
        return int(self.params.shape[0])

    @property
    def n(self) -> int:
        return len(self)

    def life_events(self, horizon_days: float) -> PatientEvents | None:
        """Each patient's own life events in ``(0, horizon_days]`` (None without a course of life)."""
        if self.life_course is None or not self.life_course.enabled:
            return None
        return self.life_course.draw(int(self.seed or 0), self.ids, horizon_days, self.acute_load_scale)[0]

    def param(self, name: str) -> np.ndarray:
        """Column of response parameter ``name``."""
        return self.params[:, IDX[name]]

    def take(self, indices: np.ndarray | Sequence[int] | slice) -> VirtualPatients:
        """The patients at ``indices`` (rows), keeping their ids."""
        idx = np.arange(len(self))[indices] if isinstance(indices, slice) else np.asarray(indices)
        return VirtualPatients(
            params=self.params[idx], pk_cl=self.pk_cl[idx], pk_v=self.pk_v[idx], pk_ka=self.pk_ka[idx],
            weight_kg=self.weight_kg[idx], age=self.age[idx], sex=self.sex[idx],
            baseline_madrs=self.baseline_madrs[idx], chronic_load=self.chronic_load[idx],
            acute_load_scale=self.acute_load_scale[idx], ids=self.ids[idx],
            latent=None if self.latent is None else self.latent[idx], effects=self.effects, seed=self.seed,
            klass=self.klass[idx], life_course=self.life_course)  # type: ignore[index]

    @classmethod
    def concat(cls, parts: Sequence[VirtualPatients]) -> VirtualPatients:
        """Patients of several groups one after another."""
        if not parts:
            raise PlanError("patients", "[]", "at least one group of patients")
        lat = None
        if all(p.latent is not None for p in parts) and len({p.effects for p in parts}) == 1:
            lat = np.concatenate([p.latent for p in parts])  # type: ignore[misc]
        cat = {name: np.concatenate([getattr(p, name) for p in parts])
               for name in ("params", "pk_cl", "pk_v", "pk_ka", "weight_kg", "age", "sex", "baseline_madrs",
                            "chronic_load", "acute_load_scale", "ids", "klass")}
        return cls(**cat, latent=lat, effects=parts[0].effects if lat is not None else (), seed=parts[0].seed,
                   life_course=parts[0].life_course)

    def to_frame(self) -> pd.DataFrame:
        """One row per patient: covariates, PK factors, loads, then every response parameter."""
        df = pd.DataFrame({
            "patient": self.ids, "class": class_names(self.klass), "weight_kg": self.weight_kg, "age": self.age,
            "sex": self.sex, "baseline_madrs": self.baseline_madrs, "chronic_load": self.chronic_load,
            "acute_load_scale": self.acute_load_scale, "pk_cl": self.pk_cl, "pk_v": self.pk_v, "pk_ka": self.pk_ka,
        })
        return pd.concat([df, pd.DataFrame(self.params, columns=list(PARAM_NAMES))], axis=1)

    @classmethod
    def from_frame(cls, df: pd.DataFrame) -> VirtualPatients:
        """Patients from a table such as :meth:`to_frame` wrote.

        Missing response-parameter columns take the model's values; missing PK factors and
        ``acute_load_scale`` are 1; ``weight_kg``, ``baseline_madrs`` and ``chronic_load`` default
        to the reference patient (70 kg, 33, 0.5); ``age``/``sex`` to unknown.
        """
        n = len(df)
        ref = Patient()
        unknown = [c for c in df.columns if c not in PATIENT_COLUMNS and c not in IDX]
        if unknown:
            raise PlanError("patients table columns", unknown[:5],
                            f"{', '.join(PATIENT_COLUMNS)} or response parameter names")

        def col(name: str, default: float | str) -> np.ndarray:
            if name in df.columns:
                return df[name].to_numpy()
            return np.full(n, default)

        params = np.tile(default_vector(), (n, 1))
        for name in PARAM_NAMES:
            if name in df.columns:
                params[:, IDX[name]] = df[name].to_numpy(dtype=float)
        klass = np.full(n, -1, dtype=np.int64)
        if "class" in df.columns:
            names = df["class"].fillna("").astype(str).to_numpy()
            bad = sorted(set(names) - set(CLASS_NAMES) - {""})
            if bad:
                raise PlanError("patients table column class", bad[:3], f"{', '.join(CLASS_NAMES)} or empty")
            lookup = {name: k for k, name in enumerate(CLASS_NAMES)}
            klass = np.array([lookup.get(v, -1) for v in names], dtype=np.int64)
        return cls(params=params, klass=klass, pk_cl=col("pk_cl", 1.0).astype(float),
                   pk_v=col("pk_v", 1.0).astype(float), pk_ka=col("pk_ka", 1.0).astype(float),
                   weight_kg=col("weight_kg", ref.weight_kg).astype(float),
                   age=col("age", np.nan).astype(float), sex=col("sex", "unknown").astype(str),
                   baseline_madrs=col("baseline_madrs", ref.baseline_madrs).astype(float),
                   chronic_load=col("chronic_load", ref.chronic_load).astype(float),
                   acute_load_scale=col("acute_load_scale", 1.0).astype(float),
                   ids=col("patient", 0).astype(np.int64) if "patient" in df.columns else np.arange(n))

    @classmethod
    def typical(cls, n: int = 1, *, patient: Patient | None = None,
                params: np.ndarray | None = None) -> VirtualPatients:
        """``n`` copies of the typical patient (no variability)."""
        pt = patient or Patient()
        p = default_vector() if params is None else np.asarray(params, dtype=float)
        return cls(params=np.tile(p, (n, 1)), pk_cl=np.ones(n), pk_v=np.ones(n), pk_ka=np.ones(n),
                   weight_kg=np.full(n, pt.weight_kg), age=np.full(n, np.nan if pt.age is None else pt.age),
                   sex=np.full(n, pt.sex or "unknown"), baseline_madrs=np.full(n, pt.baseline_madrs),
                   chronic_load=np.full(n, pt.chronic_load), acute_load_scale=np.ones(n), ids=np.arange(n))


def patient_plan(plan: Plan, patients: VirtualPatients, i: int) -> tuple[Plan, np.ndarray, PKVariability]:
    """Virtual patient ``i`` of ``patients`` under ``plan`` as one patient for the one-patient engines, the SciPy
    reference (``simulate(..., method="reference")``) and the SBML export: the plan with the patient's weight,
    baseline and chronic load, the plan's life events scaled by its reactivity and its own drawn life events
    (``VirtualPatients.life_events``) as dated events; with its parameter vector and PK factors."""
    from dataclasses import replace

    from ketasim.dosing.plan import LifeEvent
    from ketasim.population.life_course import as_life_events

    scale = float(patients.acute_load_scale[i])
    events = tuple(replace(e, amplitude=e.amplitude * scale) for e in plan.patient.life_events)
    own: tuple[LifeEvent, ...] = ()
    drawn = patients.life_events(plan.horizon_days)
    if drawn is not None:
        own = as_life_events(drawn, i)
    pt = replace(plan.patient, weight_kg=float(patients.weight_kg[i]), baseline_madrs=float(patients.baseline_madrs[i]),
                 chronic_load=float(patients.chronic_load[i]), life_events=events + own)
    pk = PKVariability(cl=float(patients.pk_cl[i]), v=float(patients.pk_v[i]), ka=float(patients.pk_ka[i]))
    return replace(plan, patient=pt), np.array(patients.params[i], dtype=float), pk


def _block(seed: int, b: int, effects: tuple[RandomEffect, ...], chol: np.ndarray, base: np.ndarray,
           patient: Patient, covariates: dict[str, float], classes: ClassModel | None = None) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), int(b)]))
    u = rng.standard_normal((BLOCK, len(effects)))
    z = u @ chol.T
    female = rng.random(BLOCK) < covariates["fraction_female"]
    age = np.clip(covariates["age_mean"] + covariates["age_sd"] * rng.standard_normal(BLOCK),
                  covariates["age_min"], covariates["age_max"])
    med = np.where(female, covariates["weight_median_female"], covariates["weight_median_male"])
    weight = np.clip(med * np.exp(covariates["weight_omega"] * rng.standard_normal(BLOCK)),
                     covariates["weight_min"], covariates["weight_max"])
    params = np.tile(base, (BLOCK, 1))
    out = {"pk_cl": np.ones(BLOCK), "pk_v": np.ones(BLOCK), "pk_ka": np.ones(BLOCK),
           "baseline_madrs": np.full(BLOCK, float(patient.baseline_madrs)),
           "chronic_load": np.full(BLOCK, float(patient.chronic_load)), "acute_load_scale": np.ones(BLOCK)}
    for j, e in enumerate(effects):
        if e.target in IDX:
            params[:, IDX[e.target]] = e.apply(base[IDX[e.target]], z[:, j])
        else:
            out[e.target] = e.apply(out[e.target], z[:, j])
    klass = np.full(BLOCK, -1, dtype=np.int64)
    if classes is not None:
        u_class = np.random.default_rng(np.random.SeedSequence([int(seed), int(b), CLASS_STREAM])).random(BLOCK)
        klass = classes.assign(u_class, age)
        params = classes.apply(params, klass, base)
    out["chronic_load"] = np.minimum(out["chronic_load"], load_cap(out["baseline_madrs"], params))
    out.update(params=params, weight_kg=weight, age=age, sex=np.where(female, "female", "male"), latent=z,
               klass=klass)
    return out


def sample_patients(n: int, seed: int = 0, *, params: np.ndarray | None = None,
                    variability: Sequence[RandomEffect] | dict[str, float] | None = None,
                    covariates: pd.DataFrame | dict[str, float] | None = None, patient: Patient | None = None,
                    pk_model: str = DEFAULT_PK_MODEL, start: int = 0,
                    correlations: dict | None = None, model: str | PopulationModel | None = None) -> VirtualPatients:
    """Draw patients ``start .. start + n - 1`` of the population with ``seed``.

    ``params``: typical response parameter vector (default: the model's); ``variability``: the
    random effects (default :func:`~ketasim.population.variability.default_variability` of
    ``pk_model``), or a dict ``{target: spread}`` overriding the default spreads (0 switches a
    source off); ``covariates``: a table with columns ``weight_kg``, ``age``, ``sex`` (one row per
    patient, used as given) or a dict overriding the covariate distribution
    (``ketasim.population.variability.COVARIATE``); ``patient``: the typical patient (median
    baseline MADRS and chronic load; default ``Patient()``); ``model``: the response structure
    (``ketasim.population.structures``: ``"v1"``, the default, or ``"v2"``: its typical values, its random
    effects and its classes).
    """
    if not isinstance(n, int | np.integer) or n < 0:
        raise PlanError("n_patients", n, "a whole number >= 0")
    structure = population_model(model)
    base = default_vector() if params is None else np.asarray(params, dtype=np.float64)
    if base.shape != (len(PARAM_NAMES),):
        raise PlanError("params", f"array of shape {base.shape}", f"({len(PARAM_NAMES)},)")
    base = structure.typical(base)
    if variability is None:
        effects = structure.variability(pk_model)
    elif isinstance(variability, dict):
        effects = with_spreads(structure.variability(pk_model), variability)
    else:
        effects = tuple(variability)
    chol = np.linalg.cholesky(correlation_matrix(effects, correlations)) if effects else np.zeros((0, 0))
    cov = dict(COVARIATE)
    table = None
    if isinstance(covariates, pd.DataFrame):
        table = covariates
        if len(table) != n:
            raise PlanError("covariates", f"{len(table)} rows", f"one row per patient ({n})")
    elif covariates is not None:
        bad = [k for k in covariates if k not in cov]
        if bad:
            raise PlanError("covariates", bad, ", ".join(cov))
        cov.update({k: float(v) for k, v in covariates.items()})
    pt = patient or Patient()
    b0, b1 = start // BLOCK, (start + max(n, 1) - 1) // BLOCK
    blocks = [_block(seed, b, effects, chol, base, pt, cov, structure.classes) for b in range(b0, b1 + 1)] if n else []
    lo = start - b0 * BLOCK

    def cut(key: str) -> np.ndarray:
        if not blocks:
            shape = (0, len(PARAM_NAMES)) if key == "params" else ((0, len(effects)) if key == "latent" else (0,))
            return np.zeros(shape)
        return np.concatenate([blk[key] for blk in blocks])[lo:lo + n]

    vp = VirtualPatients(params=cut("params"), pk_cl=cut("pk_cl"), pk_v=cut("pk_v"), pk_ka=cut("pk_ka"),
                         weight_kg=cut("weight_kg"), age=cut("age"), sex=cut("sex").astype(str),
                         baseline_madrs=cut("baseline_madrs"), chronic_load=cut("chronic_load"),
                         acute_load_scale=cut("acute_load_scale"), ids=np.arange(start, start + n),
                         latent=cut("latent"), effects=tuple(e.target for e in effects), seed=seed,
                         klass=cut("klass").astype(np.int64), life_course=structure.life_course)
    if table is not None:
        _apply_covariate_table(vp, table)
    return vp


def _apply_covariate_table(vp: VirtualPatients, table: pd.DataFrame) -> None:
    unknown = [c for c in table.columns if c not in ("weight_kg", "age", "sex")]
    if unknown:
        raise PlanError("covariates columns", unknown, "weight_kg, age, sex")
    if "weight_kg" in table:
        w = table["weight_kg"].to_numpy(dtype=float)
        if not np.all(np.isfinite(w) & (w > 0)):
            raise PlanError("covariates.weight_kg", w[~(np.isfinite(w) & (w > 0))][:3].tolist(), "positive weights")
        vp.weight_kg = w
    if "age" in table:
        vp.age = table["age"].to_numpy(dtype=float)
    if "sex" in table:
        s = table["sex"].astype(str).to_numpy()
        bad = sorted(set(s) - {"female", "male", "unknown"})
        if bad:
            raise PlanError("covariates.sex", bad, "female, male or unknown")
        vp.sex = s


PK_FACTOR_TARGETS = PK_TARGETS
