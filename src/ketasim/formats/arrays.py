"""Labelled arrays: a virtual population's trajectories as an :class:`xarray.Dataset`, to NetCDF or Zarr.

:func:`population_dataset` turns a :class:`~ketasim.population.run.PopulationResult` run with
``keep_trajectories=True`` into a Dataset with one data variable per output (``madrs``, ``phq9``,
``N``, ...), each on the dimensions ``(patient, day)`` with its unit and meaning as attributes.
``ds.to_array("output")`` gives the patient x day x output cube. Coordinates: ``patient`` (the
patients' indices in their population), ``day`` and ``date``, and along ``patient`` every
covariate, PK factor, load and response parameter of the virtual patients (``weight_kg``,
``k_prune``, ...), each with its unit. Later work adds leading dimensions with
``ds.expand_dims(...)``: ``class`` (a latent class of patients) and ``draw`` (a posterior draw);
nothing here assumes there are only two dimensions.

:func:`write_dataset` writes ``.nc`` (NetCDF-4, via netCDF4) or ``.zarr`` (a Zarr store; needs the
``zarr`` package; written in Zarr format 2, which every Zarr library reads).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ketasim.errors import PlanError

#: Unit and meaning of every population output (``ketasim.population.run.AVAILABLE_OUTPUTS``).
OUTPUT_ATTRS: dict[str, tuple[str, str]] = {
    "madrs": ("MADRS points (0-60)", "Montgomery-Asberg Depression Rating Scale total"),
    "hdrs17": ("HDRS-17 points (0-52)", "Hamilton Depression Rating Scale (17 items) total, linked from MADRS"),
    "phq9": ("PHQ-9 points (0-27)", "Patient Health Questionnaire-9 total, linked from MADRS"),
    "qids_sr16": ("QIDS-SR16 points (0-27)", "Quick Inventory of Depressive Symptomatology (self-report) total"),
    "G": ("1", "trigger signal (BDNF/eEF2/mTORC1)"),
    "T": ("1", "antidepressant tolerance"),
    "D": ("1", "dissociation tolerance"),
    "N": ("1", "labile synapses (share of capacity)"),
    "M": ("1", "mature synapses (share of capacity)"),
    "C": ("1", "coping skills"),
    "S": ("1", "psychotherapy session trace"),
    "E": ("1", "ECT/TMS plasticity drive"),
    "A": ("1", "oral antidepressant effect on the set point"),
    "load": ("load units", "load L(t): chronic load plus fading life events"),
    "load_effective": ("load units", "load felt after coping, L (1 - C)"),
    "set_point": ("1", "set point M* of mature synapses"),
    "occupancy": ("1", "NMDA receptor occupancy (0-1)"),
    "lifestyle": ("1", "lifestyle level (0-1)"),
    "reinforcement": ("1", "reinforcement R of new synapses (0-1)"),
}
PATIENT_ATTRS: dict[str, tuple[str, str]] = {
    "weight_kg": ("kg", "body weight"), "age": ("years", "age"), "sex": ("", "sex"),
    "baseline_madrs": ("MADRS points", "untreated MADRS"), "chronic_load": ("load units", "chronic load"),
    "acute_load_scale": ("1", "multiplier of the plan's life events"),
    "pk_cl": ("1", "multiplier of every clearance"), "pk_v": ("1", "multiplier of every volume"),
    "pk_ka": ("1", "multiplier of every absorption rate"),
}


#: What ``ketasim population --netcdf`` keeps: the four scales and the states that explain them.
DATASET_OUTPUTS: tuple[str, ...] = ("madrs", "hdrs17", "phq9", "qids_sr16", "N", "M", "T", "C", "load_effective",
                                    "occupancy")
MAX_CELLS = 250_000_000  # float32 values kept in memory (1 GB)
SUFFIXES = (".nc", ".zarr")


def check_dataset_path(path: str | Path) -> None:
    """Refuse, before any work, a file name that is neither ``.nc`` nor ``.zarr`` (or Zarr without zarr)."""
    p = Path(path)
    if p.suffix.lower() not in SUFFIXES:
        raise PlanError("--netcdf", str(p), "a file name ending in .nc (NetCDF) or .zarr (Zarr)")
    if p.suffix.lower() == ".zarr":
        try:
            import zarr  # noqa: F401
        except ImportError:
            raise PlanError("--netcdf", str(p), "a .nc file (Zarr stores need the zarr package: pip install "
                            "'ketasim[zarr]')") from None


def check_cells(n_cells: int, option: str) -> None:
    """Refuse, before any work, trajectories of more than :data:`MAX_CELLS` values."""
    if n_cells > MAX_CELLS:
        raise PlanError(option, f"{n_cells:,} values", f"at most {MAX_CELLS:,} (patients x days x outputs): fewer "
                        "patients or a shorter horizon")


def population_dataset(result: Any, *, plan: Any = None) -> Any:
    """The trajectories of ``result`` (a ``PopulationResult`` with kept trajectories) as an ``xarray.Dataset``.

    ``plan`` (the plan every patient followed) adds ``date`` along ``day`` and the plan's name.
    """
    import xarray as xr

    import ketasim
    from ketasim.parameters import response_parameters

    if result.trajectories is None:
        raise PlanError("keep_trajectories", False, "True: a labelled dataset needs the trajectories")
    days = np.asarray(result.days, dtype=float)
    coords: dict[str, Any] = {"day": ("day", days, {"units": "d", "long_name": "plan day (0 = its start, midnight)"})}
    n = result.trajectories.shape[0]
    patients = result.patients
    ids = np.arange(n) if patients is None else np.asarray(patients.ids)
    coords["patient"] = ("patient", ids, {"long_name": "index of the virtual patient in its population"})
    if plan is not None:
        coords["date"] = ("day", np.array([np.datetime64(plan.date_of(d)) for d in days]), {"long_name": "date"})
    if patients is not None:
        for name, (unit, what) in PATIENT_ATTRS.items():
            values = np.asarray(getattr(patients, name))
            coords[name] = ("patient", values.astype(str).astype(object) if name == "sex" else values, {"units": unit,
                                                                                          "long_name": what})
        for j, p in enumerate(response_parameters()):
            coords[p.name] = ("patient", patients.params[:, j], {"units": p.unit, "long_name": p.description})
    data = {}
    for k, name in enumerate(result.outputs):
        unit, what = OUTPUT_ATTRS.get(name, ("", name))
        data[name] = (("patient", "day"), result.trajectories[:, :, k], {"units": unit, "long_name": what})
    attrs = {"title": "ketasim virtual population", "ketasim_version": ketasim.__version__,
             "disclaimer": ketasim.DISCLAIMER,
             **{k: (v if isinstance(v, str | int | float) else str(v)) for k, v in result.info.items()
                if v is not None and not isinstance(v, bool)},
             "off_label": int(bool(result.info.get("off_label", False)))}
    if plan is not None:
        attrs["plan"] = plan.name
        attrs["start_date"] = plan.start_date.isoformat()
    return xr.Dataset(data, coords=coords, attrs=attrs)


def write_dataset(ds: Any, path: str | Path, *, suffix: str | None = None) -> Path:
    """Write ``ds`` to ``path``: ``.nc`` as NetCDF-4 (compressed), ``.zarr`` as a Zarr store.

    ``suffix`` (``.nc`` or ``.zarr``) decides the format instead of the name of ``path`` (a temporary
    file or folder that is renamed to the real name when complete).
    """
    p = Path(path)
    check_dataset_path(p if suffix is None else Path("dataset" + suffix))
    if (suffix or p.suffix).lower() == ".nc":
        ds.to_netcdf(p, engine="netcdf4", encoding={name: {"zlib": True, "complevel": 4} for name in ds.data_vars})
    else:
        ds.to_zarr(p, mode="w", zarr_format=2)  # format 2: read by every Zarr library, consolidated metadata
    return p


__all__ = [
    "DATASET_OUTPUTS", "OUTPUT_ATTRS", "PATIENT_ATTRS", "check_cells", "check_dataset_path", "population_dataset",
    "write_dataset",
]
