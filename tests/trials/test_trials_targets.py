"""The targets of clinical-targets.md as data: complete, with citations, matching the published table."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ketasim.trials.studies import BUILTIN_STUDIES
from ketasim.trials.targets import TARGETS, TARGETS_BY_ID, get_target

TABLE = Path(__file__).resolve().parents[3] / "shared" / "reference" / "clinical-targets.md"


def _rows() -> dict[str, tuple[str, str]]:
    """id -> (published cell, band cell) from the markdown table."""
    out = {}
    for line in TABLE.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 6 and re.match(r"^[a-z0-9]+-[a-z0-9-]+$", cells[0]):
            out[cells[0]] = (cells[4], cells[5])
    return out


def _numbers(text: str) -> list[float]:
    return [float(x) for x in re.findall(r"-?\d+(?:\.\d+)?", text.replace("+-", "-"))]


@pytest.mark.skipif(not TABLE.exists(), reason="shared/reference/clinical-targets.md not present")
def test_every_table_row_is_transcribed_with_its_numbers():
    rows = _rows()
    assert len(rows) == 18
    ids = {t.table_id for t in TARGETS}
    assert ids == set(rows)
    for table_id, (published, band) in rows.items():
        targets = [t for t in TARGETS if t.table_id == table_id]
        pub_numbers = _numbers(published)
        band_numbers = [abs(x) for x in _numbers(band)]
        for t in targets:
            if t.published != 0.0:  # "about 0" is written in words
                assert t.published in pub_numbers, (t.id, t.published, published)
            assert abs(t.band[0]) in band_numbers and abs(t.band[1]) in band_numbers, (t.id, t.band, band)


def test_targets_are_well_formed_and_cited():
    assert len(TARGETS) == len(TARGETS_BY_ID) == 24
    for t in TARGETS:
        assert t.band[0] <= t.published <= t.band[1]
        assert t.citation and t.definition and t.figure and t.unit
        assert t.n_published > 0
        assert get_target(t.id) is t
    with pytest.raises(KeyError, match="allowed"):
        get_target("nope")


def test_every_target_is_computed_by_a_builtin_study():
    from ketasim.evidence import load_evidence

    produced = {o.id for s in BUILTIN_STUDIES.values() for o in s.outcomes}
    assert set(TARGETS_BY_ID) <= produced
    observations = {o.id for s in load_evidence().values() for o in s.observations()}
    assert produced - set(TARGETS_BY_ID) <= observations  # the control arms' figures of the evidence base
    for s in BUILTIN_STUDIES.values():
        days = [v.day for v in s.visits]
        assert days == sorted(days) and max(days) < s.horizon_days
        assert s.citation
