"""The stages both producers call: Step 3 reuses what Step 2 counted, never a second scan."""

from __future__ import annotations

from pathlib import Path

import pytest
from records import ADVISOR, loaded_csv

from flow.stages import clean, outliers_at, start
from steps.cleaning import CleaningPlan
from steps.outliers import outliers
from steps.record import Parameters


@pytest.fixture
def view(tmp_path: Path):
    rows = "".join(f"{i},{i % 7 if i % 50 else 900}\n" for i in range(200))
    loaded = loaded_csv(tmp_path, "a,b\n" + rows)
    record, _ = start(loaded, ADVISOR, None)
    record, _ = clean(record, loaded, CleaningPlan(), ADVISOR, None)
    return loaded, record.view


@pytest.mark.parametrize("method", ["iqr", "zscore"])
def test_step_two_outliers_are_reused_when_method_and_parameter_match(view, method) -> None:
    loaded, described = view
    found = outliers_at(loaded.con, described, Parameters(outlier_method=method))
    assert any(found is counted for counted in described.quality.outlier_reports)
    fresh = outliers(loaded.con, described.table, method=method)
    assert found.counts == fresh.counts and found.params == fresh.params


def test_another_parameter_is_counted_afresh(view) -> None:
    loaded, described = view
    found = outliers_at(loaded.con, described, Parameters(iqr_multiplier=3.0))
    assert all(found is not counted for counted in described.quality.outlier_reports)
    assert found.params == {"iqr_multiplier": 3.0}
    assert found.counts == outliers(loaded.con, described.table, iqr_multiplier=3.0).counts
