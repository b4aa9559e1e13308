"""``ketasim claims``: the share of posterior draws under which each claim holds is computed and correct (not
that every claim holds); plain-language statements; exit code 0 when claims fail."""

from __future__ import annotations

import json

import numpy as np
from typer.testing import CliRunner

from ketasim.evidence.draws import DrawSpec, parameter_sets
from ketasim.evidence.predictive import claim_probabilities
from ketasim.interfaces.cli import app
from ketasim.trials.constraints import CLAIM_TEXT, claim_margins


def test_claim_shares_match_the_margins_of_the_same_draws():
    report = claim_probabilities(3, seed=5)
    margins = [claim_margins(ps.params) for ps in parameter_sets(DrawSpec(3, seed=5))]
    assert report["draws"] == 3 and [r["claim"] for r in report["claims"]] == list(margins[0])
    for r in report["claims"]:
        m = np.array([d[r["claim"]] for d in margins])
        assert r["draws_holding"] == int((m >= 0).sum())
        assert r["share_holding"] == (m >= 0).mean()
        assert r["median_margin"] == np.median(m)
    # every claim has its plain-language statement, without the internal labels
    assert set(margins[0]) == set(CLAIM_TEXT)
    assert all(":" not in r["statement"] and ">=" not in r["statement"] for r in report["claims"])


def test_claims_command_reports_failures_without_failing():
    out = CliRunner().invoke(app, ["claims", "--typical", "--json"])
    assert out.exit_code == 0, out.output
    rep = json.loads(out.stdout)
    assert rep["draws"] == 0 and {r["share_holding"] for r in rep["claims"]} <= {0.0, 1.0}
    held = {r["claim"] for r in rep["claims"] if r["share_holding"] == 1.0}
    from ketasim.parameters import default_vector

    assert held == {k for k, v in claim_margins(default_vector()).items() if v >= 0}
    bad = CliRunner().invoke(app, ["claims", "--draws", "1"])
    assert bad.exit_code != 0


def test_claims_page_is_written(tmp_path):
    out = CliRunner().invoke(app, ["claims", "--typical", "--out", str(tmp_path / "claims.md")])
    assert out.exit_code == 0, out.output
    text = (tmp_path / "claims.md").read_text()
    assert text.startswith("# The model's claims") and "| claim | holds in |" in text and "medical device" in text
