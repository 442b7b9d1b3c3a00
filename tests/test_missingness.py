"""Step 1's missing-data structure against pandas on the same rows."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from helpers import duckdb_table as table

from steps import missingness as missingness_module
from steps.overview import overview


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(12)
    n = 1234
    a = rng.normal(size=n)
    a[rng.random(n) < 0.2] = np.nan
    a[5] = np.inf  # not a present value: missing
    b = pd.array(rng.choice(["x", "y"], n), dtype="string")
    b[np.isnan(a) & (rng.random(n) < 0.5)] = pd.NA  # b tends to be missing with a
    c = rng.integers(0, 9, n).astype(float)
    c[600:700] = np.nan  # a block of rows
    return pd.DataFrame({"a": a, "b": b, "c": c, "full": np.arange(n)})


def test_co_missing_counts_and_blocks_match_pandas(frame):
    found = overview(table(frame)).missingness
    isna = frame[["a", "b", "c"]].isna()
    isna["a"] |= np.isinf(frame["a"])
    assert found.columns == ("a", "b", "c")  # "full" misses nothing
    m = isna.to_numpy(dtype=np.int64)
    assert np.array_equal(np.array(found.co_missing), m.T @ m)
    assert found.patterns == len(isna.drop_duplicates())
    assert found.block_rows == 13  # 1 234 rows in at most 100 blocks
    blocks = isna.groupby(np.arange(len(frame)) // 13).mean()
    np.testing.assert_allclose(np.array(found.by_block), blocks.to_numpy(), rtol=1e-15)
    assert found.block_starts == tuple(range(0, len(frame), 13))
    assert max(found.by_block[600 // 13 + 1]) == 1.0  # the block inside rows 600-699
    json.dumps(found.to_dict(), allow_nan=False)


def test_a_view_has_no_blocks_but_the_same_counts(frame):
    con = table(frame)
    con.execute("CREATE VIEW v AS SELECT * FROM data")
    on_view, on_table = overview(con, "v").missingness, overview(con).missingness
    assert on_view.co_missing == on_table.co_missing
    assert on_view.by_block == () and any("no order" in n for n in on_view.notes)


def test_wide_tables_keep_the_columns_missing_most_and_say_so(monkeypatch):
    monkeypatch.setattr(missingness_module, "MAX_COLUMNS", 2)
    frame = pd.DataFrame({"p": [1.0, None, None, 4.0], "q": [None, 2.0, 3.0, 4.0]})
    frame["r"] = [None, None, None, 1.0]
    found = overview(table(frame)).missingness
    assert found.columns == ("p", "r")
    assert found.notes and "2 of 3 columns" in found.notes[0]


def test_no_missing_values_is_said_plainly():
    found = overview(table(pd.DataFrame({"x": [1.0, 2.0]}))).missingness
    assert (found.columns, found.co_missing, found.by_block) == ((), (), ())
    assert found.basis == "No column has missing values."
