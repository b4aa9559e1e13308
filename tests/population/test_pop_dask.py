"""The same population on a Dask cluster (LocalCluster) gives exactly the numbers of the local run."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ketasim.dosing.plan import Dose, Patient, Plan
from ketasim.errors import PlanError
from ketasim.population import simulate_population


def plan() -> Plan:
    doses = [Dose(day=d + 0.375, amount_mg=35.0, mg_per_kg=0.5) for d in (0, 2, 4, 7, 9, 11)]
    doses += [Dose(day=25.375, amount_mg=35.0, mg_per_kg=0.5, phase="maintenance")]
    return Plan(name="dask", patient=Patient(), doses=tuple(doses), horizon_days=40)


@pytest.mark.slow
def test_local_cluster_run_equals_local_run():
    from distributed import Client, LocalCluster

    local = simulate_population(plan(), 37, seed=3, chunk_size=8, keep_trajectories=True, outputs=("madrs", "N"))
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        with Client(cluster) as client:
            remote = simulate_population(plan(), 37, seed=3, chunk_size=8, keep_trajectories=True,
                                         outputs=("madrs", "N"), scheduler=client)
        seen: list[tuple[int, int, np.ndarray]] = []
        by_address = simulate_population(plan(), 37, seed=3, chunk_size=16, scheduler=cluster.scheduler_address,
                                         keep_patients=False,
                                         on_chunk=lambda start, o, p: seen.append((start, len(o), p.params.copy())))
        plans = [plan(), Plan(name="short", doses=(Dose(day=0.4, amount_mg=35.0),), horizon_days=40)] * 3
        list_local = simulate_population(plans, seed=1, chunk_size=2)
        list_remote = simulate_population(plans, seed=1, chunk_size=2, scheduler=cluster.scheduler_address)
    pd.testing.assert_frame_equal(remote.outcomes, local.outcomes, check_exact=True)
    assert np.array_equal(remote.trajectories, local.trajectories, equal_nan=True)
    assert np.array_equal(remote.patients.params, local.patients.params)
    assert np.array_equal(remote.madrs_histogram, local.madrs_histogram)
    pd.testing.assert_frame_equal(by_address.outcomes, local.outcomes, check_exact=True)
    # Chunks streamed in patient order whatever order the workers finished them in; patients not kept.
    assert [(s, n) for s, n, _ in seen] == [(0, 16), (16, 16), (32, 5)] and by_address.patients is None
    assert np.array_equal(np.concatenate([p for *_, p in seen]), local.patients.params)
    pd.testing.assert_frame_equal(list_remote.outcomes, list_local.outcomes, check_exact=True)


def test_unreachable_scheduler_is_a_user_error():
    with pytest.raises(PlanError, match="scheduler"):
        simulate_population(plan(), 2, scheduler="tcp://127.0.0.1:1")
