"""One patient's PK model as a linear system, solved exactly between dose events.

The amounts ``x`` (mg; effect-site states in mg/L) obey ``dx/dt = A x + u(t)`` where the
input ``u`` is constant between breakpoints (infusion starts and ends) and boluses add
``dose * b`` at their time. With ``A = V diag(lam) V^-1`` and modal coordinates
``z = V^-1 x``, each mode evolves exactly:

    z(t) = exp(lam (t - t_k)) (z_k + w_k / lam) - w_k / lam,   w_k = V^-1 u_k

so no stiff solver is needed and any concentration is a sum of exponentials.

States: parent central, parent peripherals, metabolite central and peripherals, one depot
per absorption path with a rate, then the parent and metabolite effect sites
(``dCe/dt = ke0 (C_plasma - Ce)``). Metabolite amounts are in ketamine-equivalent mg; the
output rows convert them to norketamine by the molar-mass ratio 223.70 / 237.73.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ketasim.exposure.models import MW_KETAMINE, MW_NORKETAMINE, Absorption, PKModel, UnknownPKNameError

REFERENCE_WEIGHT_KG = 70.0
MW_RATIO = MW_NORKETAMINE / MW_KETAMINE  # mg norketamine formed per mg ketamine metabolised


@dataclass(frozen=True)
class PKSystem:
    """The linear PK system of one patient for one model.

    ``inputs[route]`` holds one vector per absorption path set (index = device number for
    multi-device intranasal sprays): the amount (mg) each state receives per mg dosed.
    ``plasma`` and ``effect`` are 2 x n rows giving parent and metabolite concentrations
    (mg/L) from the state.
    """

    model: PKModel
    weight_kg: float
    state_names: tuple[str, ...]
    A: np.ndarray
    routes: tuple[str, ...]
    lam: np.ndarray
    V: np.ndarray
    Vinv: np.ndarray
    plasma: np.ndarray
    effect: np.ndarray
    _inputs: dict[str, np.ndarray]

    @property
    def n_states(self) -> int:
        return self.A.shape[0]

    def input_vector(self, route: str, device: int = 0) -> np.ndarray:
        """States' share (mg per mg dosed) of a dose by ``route``; ``device`` counts spray devices."""
        try:
            vecs = self._inputs[route]
        except KeyError:
            raise UnknownPKNameError("route", route, f"a route of PK model {self.model.name!r}: "
                                     f"{', '.join(self.model.routes)}") from None
        return vecs[min(device, vecs.shape[0] - 1)]


def build_system(model: PKModel, weight_kg: float, routes: Sequence[str] | None = None, *,
                 ke0: float = 6.82, cl_factor: float = 1.0, v_factor: float = 1.0,
                 ka_factor: float = 1.0, max_devices: int = 4) -> PKSystem:
    """Assemble ``A`` and the input vectors for ``model`` at ``weight_kg``.

    Allometry: volumes x (W/70), clearances x (W/70)^0.75. ``cl_factor``, ``v_factor`` and
    ``ka_factor`` scale all clearances, volumes and absorption rates (inter-individual
    variability).
    """
    if not weight_kg > 0:
        raise ValueError(f"weight_kg must be positive, got {weight_kg}")
    routes = tuple(routes) if routes is not None else tuple(model.routes)
    for r in routes:
        if r not in model.routes:
            raise UnknownPKNameError("route", r, f"a route of PK model {model.name!r}: {', '.join(model.routes)}")
    fv = (weight_kg / REFERENCE_WEIGHT_KG) * v_factor
    fc = (weight_kg / REFERENCE_WEIGHT_KG) ** 0.75 * cl_factor

    names: list[str] = ["parent_central"]
    names += [f"parent_peripheral{i + 1}" for i in range(len(model.parent.peripherals))]
    met = model.metabolite
    if met is not None:
        names.append("metabolite_central")
        names += [f"metabolite_peripheral{i + 1}" for i in range(len(met.peripherals))]
    depots: list[tuple[str, int, Absorption]] = []
    for r in routes:
        for j, a in enumerate(model.routes[r]):
            if a.ka is not None:
                depots.append((r, j, a))
                names.append(f"depot_{r}_{j}")
    names += ["parent_effect_site", "metabolite_effect_site"] if met is not None else ["parent_effect_site"]
    n = len(names)
    ix = {nm: i for i, nm in enumerate(names)}
    A = np.zeros((n, n))

    def add_disposition(prefix: str, d, elim_to: int | None, fm: float) -> None:
        c = ix[f"{prefix}_central"]
        v1 = d.v1 * fv
        cl = d.cl * fc
        A[c, c] -= cl / v1
        if elim_to is not None:
            A[elim_to, c] += fm * cl / v1
        for i, (vp, q) in enumerate(d.peripherals):
            p = ix[f"{prefix}_peripheral{i + 1}"]
            vp, q = vp * fv, q * fc
            A[c, c] -= q / v1
            A[p, c] += q / v1
            A[p, p] -= q / vp
            A[c, p] += q / vp

    add_disposition("parent", model.parent, ix.get("metabolite_central"), model.fraction_metabolised)
    if met is not None:
        add_disposition("metabolite", met, None, 0.0)
    for r, j, a in depots:
        d = ix[f"depot_{r}_{j}"]
        ka = a.ka * ka_factor  # type: ignore[operator]
        A[d, d] -= ka
        A[ix[f"{a.target}_central"], d] += ka
    pe = ix["parent_effect_site"]
    A[pe, ix["parent_central"]] += ke0 / (model.parent.v1 * fv)
    A[pe, pe] -= ke0
    plasma = np.zeros((2, n))
    effect = np.zeros((2, n))
    plasma[0, ix["parent_central"]] = 1.0 / (model.parent.v1 * fv)
    effect[0, pe] = 1.0
    if met is not None:
        me = ix["metabolite_effect_site"]
        A[me, ix["metabolite_central"]] += ke0 / (met.v1 * fv)
        A[me, me] -= ke0
        # Metabolite amounts are kept in ketamine-equivalent mg (so mass balance holds in one unit);
        # the molar-mass ratio turns them into norketamine mg/L.
        plasma[1, ix["metabolite_central"]] = MW_RATIO / (met.v1 * fv)
        effect[1, me] = MW_RATIO

    inputs: dict[str, np.ndarray] = {}
    for r in routes:
        paths = model.routes[r]
        n_dev = max_devices if model.device_fraction_decay != 1.0 else 1
        vecs = np.zeros((n_dev, n))
        for dev in range(n_dev):
            scale_first = model.device_fraction_decay ** dev
            first = paths[0].fraction
            for j, a in enumerate(paths):
                if model.device_fraction_decay != 1.0:
                    # The first path is the nasal one; the rest of the device is swallowed.
                    frac = first * scale_first if j == 0 else a.fraction * (1 - first * scale_first) / (1 - first)
                else:
                    frac = a.fraction
                target = ix[f"depot_{r}_{j}"] if a.ka is not None else ix[f"{a.target}_central"]
                vecs[dev, target] += frac
        inputs[r] = vecs

    lam, V = np.linalg.eig(A)
    if np.max(np.abs(lam.imag)) > 1e-9 * np.max(np.abs(lam.real)) or np.linalg.cond(V) > 1e10:
        # Coincident rates (e.g. an absorption rate equal to an elimination rate): separate them
        # by a relative 1e-6, far below any parameter's precision.
        jitter = 1.0 + 1e-6 * np.arange(1, n + 1)
        A2 = A.copy()
        np.fill_diagonal(A2, np.diag(A) * jitter)
        lam, V = np.linalg.eig(A2)
    lam, V = lam.real.copy(), V.real.copy()
    return PKSystem(model, weight_kg, tuple(names), A, routes, lam, V, np.linalg.inv(V), plasma, effect, inputs)


@dataclass(frozen=True)
class DoseInput:
    """A dose as the PK system sees it: start (h), duration (h; 0 = bolus), amount (mg), route, device."""

    start_h: float
    duration_h: float
    amount_mg: float
    route: str
    device: int = 0


def breakpoints_of(doses: Sequence[DoseInput]) -> np.ndarray:
    """Sorted unique times (h) at which the PK input changes."""
    ts = [d.start_h for d in doses] + [d.start_h + d.duration_h for d in doses if d.duration_h > 0]
    return np.unique(np.asarray(ts, dtype=float))


def modal_schedule(system: PKSystem, doses: Sequence[DoseInput], times: np.ndarray) -> tuple[np.ndarray,
                                                                                              np.ndarray]:
    """Modal state ``z_k`` just after each breakpoint ``times[k]`` and the modal input ``w_k`` after it.

    ``times`` must be sorted and contain every dose start and infusion end (see
    :func:`breakpoints_of`); the state before ``times[0]`` is zero.
    """
    times = np.asarray(times, dtype=float)
    K, n = len(times), system.n_states
    rate = np.zeros((K, n))
    bolus = np.zeros((K, n))
    for d in doses:
        b = system.input_vector(d.route, d.device) * d.amount_mg
        k0 = int(np.searchsorted(times, d.start_h))
        if k0 >= K or times[k0] != d.start_h:
            raise ValueError(f"dose start {d.start_h} h is not among the breakpoints")
        if d.duration_h > 0:
            k1 = int(np.searchsorted(times, d.start_h + d.duration_h))
            rate[k0:k1] += b / d.duration_h
        else:
            bolus[k0] += b
    w = rate @ system.Vinv.T
    jump = bolus @ system.Vinv.T
    z = np.zeros((K, n))
    lam = system.lam
    zk = np.zeros(n)
    for k in range(K):
        if k > 0:
            dt = times[k] - times[k - 1]
            e = np.exp(lam * dt)
            zk = e * (zk + w[k - 1] / lam) - w[k - 1] / lam
        zk = zk + jump[k]
        z[k] = zk
    return z, w


def state_at(system: PKSystem, times_bp: np.ndarray, z: np.ndarray, w: np.ndarray,
             t: np.ndarray) -> np.ndarray:
    """PK states (len(t) x n) at times ``t`` from a modal schedule (zero before the first breakpoint)."""
    t = np.asarray(t, dtype=float)
    k = np.searchsorted(times_bp, t, side="right") - 1
    out = np.zeros((t.size, system.n_states))
    ok = k >= 0
    if ok.any():
        kk = k[ok]
        tau = (t[ok] - times_bp[kk])[:, None]
        lam = system.lam[None, :]
        zt = np.exp(lam * tau) * (z[kk] + w[kk] / lam) - w[kk] / lam
        out[ok] = zt @ system.V.T
    return out
