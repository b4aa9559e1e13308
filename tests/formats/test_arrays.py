"""Labelled population outputs: the Dataset holds exactly the trajectories and parameters, and survives a file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from typer.testing import CliRunner

from ketasim.dosing.plan import Plan
from ketasim.errors import PlanError
from ketasim.formats.arrays import population_dataset, write_dataset
from ketasim.interfaces.cli import app
from ketasim.parameters import IDX
from ketasim.population import simulate_population


@pytest.fixture(scope="module")
def result(request):
    from ketasim.dosing.plan import Dose, Patient

    plan = Plan(name="single", patient=Patient(), doses=(Dose(day=0.375, amount_mg=35.0, mg_per_kg=0.5),),
                horizon_days=28)
    return plan, simulate_population(plan, 12, seed=2, keep_trajectories=True, outputs=("madrs", "phq9", "N"))


def test_dataset_labels_every_value(result) -> None:
    plan, res = result
    ds = population_dataset(res, plan=plan)
    assert dict(ds.sizes) == {"patient": 12, "day": 29}
    assert list(ds.data_vars) == ["madrs", "phq9", "N"]
    np.testing.assert_array_equal(ds["phq9"].values, res.trajectory("phq9"))
    np.testing.assert_array_equal(ds["k_prune"].values, res.patients.params[:, IDX["k_prune"]])
    np.testing.assert_array_equal(ds["weight_kg"].values, res.patients.weight_kg)
    assert ds["madrs"].attrs["units"].startswith("MADRS points") and ds["k_prune"].attrs["units"] == "1/h"
    assert str(ds["date"].values[1])[:10] == "2025-01-07"
    cube = ds.to_array("output")
    assert cube.dims == ("output", "patient", "day") and cube.sizes["output"] == 3
    # later work adds leading dimensions (posterior draws, latent classes)
    assert ds.expand_dims(draw=[0, 1]).sizes["draw"] == 2


@pytest.mark.parametrize("suffix", [".nc", ".zarr"])
def test_dataset_file_round_trip(result, tmp_path: Path, suffix: str) -> None:
    plan, res = result
    ds = population_dataset(res, plan=plan)
    path = write_dataset(ds, tmp_path / f"pop{suffix}")
    back = xr.open_zarr(path) if suffix == ".zarr" else xr.open_dataset(path)
    xr.testing.assert_identical(back.load(), ds)
    back.close()


def test_refusals(result, tmp_path: Path) -> None:
    plan, res = result
    with pytest.raises(PlanError, match=r"\.nc \(NetCDF\) or \.zarr"):
        write_dataset(population_dataset(res), tmp_path / "pop.csv")
    no_traj = simulate_population(plan, 2, seed=1)
    with pytest.raises(PlanError, match="keep_trajectories"):
        population_dataset(no_traj)


def test_population_command_writes_netcdf(tmp_path: Path) -> None:
    example = Path(__file__).parents[2] / "src" / "ketasim" / "examples" / "single-infusion.yaml"
    res = CliRunner().invoke(app, ["population", str(example), "-n", "4", "--out", str(tmp_path / "p"),
                                   "--no-figures", "--netcdf", str(tmp_path / "p.nc")])
    assert res.exit_code == 0, res.output
    with xr.open_dataset(tmp_path / "p.nc") as ds:
        assert ds.sizes["patient"] == 4 and {"madrs", "phq9", "N", "M"} <= set(ds.data_vars)
    res = CliRunner().invoke(app, ["population", str(example), "-n", "4", "--out", str(tmp_path / "q"),
                                   "--netcdf", str(tmp_path / "p.txt")])
    assert isinstance(res.exception, PlanError) and not (tmp_path / "q").exists()  # refused before any work
