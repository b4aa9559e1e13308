"""Help texts and checks of the dataset output options (``--nonmem-out``, ``--nonmem-scale``, ``--netcdf``),
shared by the commands that write a dataset."""

from __future__ import annotations

from typing import Any

import typer

NONMEM_OUT_HELP = ("Also write the simulated dataset in NONMEM format (dose and observation rows, MDV, DV; "
                   "see docs/nonmem-format.md).")
NONMEM_SCALE_HELP = "Scale of DV in --nonmem-out: MADRS, PHQ-9, QIDS-SR16 or HDRS-17."
NONMEM_NOISE_HELP = ("DV in --nonmem-out with residual noise (symptom fluctuation and rater error of the virtual "
                     "trials, whole points); default: the model's score.")
NETCDF_HELP = ("Also write every patient's daily trajectories (the four scales and the main states) with the "
               "patients' parameters as a labelled dataset: FILE.nc (NetCDF) or FILE.zarr (Zarr).")


def scale_option(param: typer.CallbackParam, value: str) -> str:
    """A Typer callback: the canonical key of ``--nonmem-scale`` (``PHQ-9`` -> ``phq9``), checked while parsing."""
    from ketasim.formats.nonmem import check_scale

    return check_scale(value)


def dataset_option(param: typer.CallbackParam, value: Any) -> Any:
    """A Typer callback: ``--netcdf`` names a ``.nc`` file or a ``.zarr`` store (checked while parsing)."""
    from ketasim.formats.arrays import check_dataset_path

    if value is not None:
        check_dataset_path(value)
    return value
