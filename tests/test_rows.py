"""The look at the rows beside gate 1: the rows pandas would show, bounded, plainly typed."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
from records import loaded_csv

from steps.rows import rows_at


def frame(n: int) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    out = pd.DataFrame(
        {
            "id": np.arange(n),
            "x": rng.normal(size=n),
            "when": pd.date_range("2024-01-01", periods=n, freq="h"),
            "city": rng.choice(["Oslo", "Lima", "<b>Pune</b>"], n),
        }
    )
    out.loc[3, "x"] = np.nan
    return out


def test_first_and_last_are_pandas_head_and_tail(tmp_path: Path) -> None:
    data = frame(250)
    path = tmp_path / "d.csv"
    data.to_csv(path, index=False)
    loaded = loaded_csv(tmp_path, path.read_text(), "rows.csv")
    first = rows_at(loaded.con, loaded.table, "first")
    last = rows_at(loaded.con, loaded.table, "last")
    assert first.columns == tuple(data.columns)
    assert [r[0] for r in first.rows] == data["id"].head(100).tolist()
    assert [r[0] for r in last.rows] == data["id"].tail(100).tolist()
    assert first.rows[3][1] is None  # NaN reaches no one
    assert first.rows[0][2] == dt.datetime(2024, 1, 1).isoformat()
    assert np.allclose([r[1] for r in first.rows[4:]], data["x"].iloc[4:100])
    assert first.note == "The first 100 of 250 rows." and last.note == "The last 100 of 250 rows."


def test_the_sample_is_bounded_seeded_and_made_of_real_rows(tmp_path: Path) -> None:
    data = frame(5000)
    loaded = loaded_csv(tmp_path, data.to_csv(index=False), "rows.csv")
    sample = rows_at(loaded.con, loaded.table, "sample")
    again = rows_at(loaded.con, loaded.table, "sample")
    ids = [r[0] for r in sample.rows]
    assert len(ids) == 100 == len(set(ids)) and sample.rows == again.rows
    by_id = data.set_index("id")
    assert all(by_id.loc[r[0], "city"] == r[3] for r in sample.rows)
    assert sample.note == "A seeded random sample of 100 of 5,000 rows."


def test_a_small_table_is_shown_whole_and_a_wide_one_says_what_it_left_out(
    tmp_path: Path,
) -> None:
    small = loaded_csv(tmp_path, "a,b\n1,2\n3,4\n", "small.csv")
    assert rows_at(small.con, small.table, "sample").note == "All 2 of 2 rows."
    wide = loaded_csv(tmp_path, ",".join(f"c{i}" for i in range(60)) + "\n" + "1," * 59 + "1\n")
    look = rows_at(wide.con, wide.table, "first")
    assert len(look.columns) == 50 and len(look.rows[0]) == 50
    assert look.note == "The first 1 of 1 rows; the first 50 of 60 columns."
