"""Step 1's detail per kind of column against numpy, pandas and plain Python."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd
import pytest
from helpers import duckdb_table as table

from steps.engine import SAMPLE_ROWS
from steps.overview import overview

COLOURS = ["red"] * 6 + ["green"] * 3 + ["blue"]


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(9)
    n = 3000
    values = rng.normal(5, 4, n).round(2)
    values[:40] = 0.0
    values[40:43] = [np.inf, -np.inf, np.nan]
    days = pd.date_range("2020-01-01", periods=n, freq="D").to_numpy()
    days = np.delete(days, np.s_[100:110])  # a ten-day hole
    days = np.concatenate([days, days[-10:]])  # ten repeats at the end
    words = np.array(["alpha", "beta gamma", "  delta  epsilon zeta ", "eta"], dtype=object)
    notes = [f"{w} n{i}" if i % 50 else "" for i, w in enumerate(rng.choice(words, n))]
    return pd.DataFrame(
        {
            "x": values,
            "rank": np.arange(n, 0, -1),
            "when": days,
            "note": pd.array(notes, dtype="string"),
            "colour": pd.array(
                rng.choice(["red"] * 6 + ["green"] * 3 + ["blue"], n), dtype="string"
            ),
            "flag": rng.random(n) < 0.2,
        }
    )


@pytest.fixture(scope="module")
def summary(frame):
    return overview(table(frame))


def test_numeric_detail_matches_numpy(frame, summary):
    detail = summary.column("x").numeric_detail
    raw = frame["x"].to_numpy()
    present = raw[np.isfinite(raw)]
    p05, p95 = np.quantile(present, [0.05, 0.95])
    assert (detail.p05, detail.p95) == pytest.approx((p05, p95), rel=1e-14)
    assert detail.zeros == int((present == 0).sum()) >= 40
    assert detail.negatives == int((present < 0).sum())
    assert detail.infinite == 2
    median = np.median(present)
    assert detail.mad == pytest.approx(np.median(np.abs(present - median)), rel=1e-14)
    assert detail.mad_sample_rows is None  # 3 000 rows: every row
    cv = np.std(present, ddof=1) / abs(present.mean())
    assert detail.cv == pytest.approx(cv, rel=1e-12)
    assert detail.monotonic is None
    assert summary.column("rank").numeric_detail.monotonic == "decreasing"


def test_monotonic_sees_a_single_step_against_the_order():
    values = np.arange(500, dtype=float)
    values[250], values[251] = values[251], values[250]
    con = table(pd.DataFrame({"sorted": np.arange(500.0), "swapped": values}))
    found = overview(con)
    assert found.column("sorted").numeric_detail.monotonic == "increasing"
    assert found.column("swapped").numeric_detail.monotonic is None
    con.execute("CREATE VIEW v AS SELECT * FROM data")
    assert overview(con, "v").column("sorted").numeric_detail.monotonic is None  # no row order


def test_date_detail_bins_gaps_and_repeats(frame, summary):
    detail = summary.column("when").date_detail
    when = pd.Series(frame["when"])
    assert detail.span_seconds == (when.max() - when.min()).total_seconds()
    assert detail.period == "quarter"  # ~8 years: the first period with at most 60 bins
    by_quarter = when.dt.to_period("Q").value_counts().sort_index()
    assert [n for _, n in detail.bins] == by_quarter.tolist()
    assert detail.bins[0][0] == "2020-01-01T00:00:00"
    assert detail.duplicates == 10
    distinct = np.sort(when.unique())
    steps = np.diff(distinct).astype("timedelta64[s]").astype(np.int64)
    gaps = detail.gaps
    assert gaps.resolution == "day" and gaps.typical_seconds == 86400
    assert gaps.largest_seconds == steps.max() == 11 * 86400
    assert gaps.largest_after == pd.Timestamp(distinct[steps.argmax()]).isoformat()
    assert gaps.irregular_share == pytest.approx((steps != 86400).mean())
    assert detail.monotonic is None  # the repeats at the end go back in time
    sorted_days = overview(table(pd.DataFrame({"d": np.sort(frame["when"].to_numpy())})))
    assert sorted_days.column("d").date_detail.monotonic == "increasing"


def test_text_detail_lengths_words_and_empty_strings(frame, summary):
    detail = summary.column("note").text_detail
    assert summary.column("note").kind == "text"
    notes = frame["note"].astype(str)
    lengths = notes.str.len()
    assert (detail.length_min, detail.length_max) == (lengths.min(), lengths.max())
    assert detail.length_mean == pytest.approx(lengths.mean(), rel=1e-12)
    assert detail.empty == int((notes == "").sum())
    words = notes.str.split().str.len()
    assert (detail.words_min, detail.words_max) == (words.min(), words.max())
    assert detail.words_mean == pytest.approx(words.mean(), rel=1e-12)
    hist = detail.length_histogram
    assert sum(hist.counts) == len(notes) and len(hist.edges) == len(hist.counts) + 1
    for lo, hi, count in zip(hist.edges, hist.edges[1:], hist.counts, strict=False):
        assert count == int(((lengths >= lo) & (lengths < hi)).sum())
    assert detail.sample_rows is None


def test_categorical_and_boolean_imbalance_with_other(frame, summary):
    colour = summary.column("colour").category_detail
    counts = frame["colour"].value_counts()
    assert colour.top_share == pytest.approx(counts.max() / counts.sum())
    assert colour.ratio == pytest.approx(counts.max() / counts.min())
    assert colour.other == 0
    flag = summary.column("flag").category_detail
    flags = frame["flag"].value_counts()
    assert flag.top_share == pytest.approx(flags.max() / len(frame))
    many = overview(table(pd.DataFrame({"c": [f"v{i % 9}" for i in range(900)]})))
    column = many.column("c")
    assert column.category_detail.other == 900 - sum(n for _, n in column.top_values) == 400


def test_each_kind_carries_only_its_own_detail(summary):
    payload = summary.to_dict()
    json.dumps(payload, allow_nan=False)
    kinds = {
        c["name"]: {k for k in c if k.endswith("_detail") and c[k] is not None}
        for c in payload["columns"]
    }
    assert kinds == {
        "x": {"numeric_detail"},
        "rank": {"numeric_detail"},
        "when": {"date_detail"},
        "note": {"text_detail"},
        "colour": {"category_detail"},
        "flag": {"category_detail"},
    }


def test_large_tables_take_mad_and_words_from_a_labelled_sample():
    n = SAMPLE_ROWS * 2 + 500
    rng = np.random.default_rng(4)
    x = rng.exponential(3.0, n)
    con = table(pd.DataFrame({"x": x, "t": [("a b", "c d e f", "g")[i % 3] for i in range(n)]}))
    con.execute("UPDATE data SET t = t || ' ' || CAST(rowid AS VARCHAR) WHERE rowid % 7 = 0")
    found = overview(con)
    detail = found.column("x").numeric_detail
    assert detail.mad_sample_rows is not None
    assert abs(detail.mad_sample_rows - SAMPLE_ROWS) < SAMPLE_ROWS / 50
    exact = np.median(np.abs(x - np.median(x)))
    assert detail.mad == pytest.approx(exact, rel=0.03)
    assert overview(con).column("x").numeric_detail == detail  # the same rows every time
    assert found.column("x").numeric_detail.p05 == pytest.approx(np.quantile(x, 0.05), rel=1e-14)


def test_a_header_only_table_has_empty_details():
    frame = pd.DataFrame(
        {
            "x": pd.Series([], dtype=float),
            "d": pd.Series([], dtype="datetime64[s]"),
            "s": pd.Series([], dtype="string"),
        }
    )
    found = overview(table(frame))
    x, d = found.column("x").numeric_detail, found.column("d").date_detail
    assert (x.zeros, x.mad, x.p05, x.monotonic) == (0, None, None, None)
    assert (d.span_seconds, d.bins, d.gaps.largest_seconds) == (None, (), None)
    json.dumps(found.to_dict(), allow_nan=False)


def test_hourly_timestamps_are_counted_per_hour():
    start = dt.datetime(2024, 3, 1)
    stamps = [start + dt.timedelta(hours=h) for h in range(72) if h != 30]
    found = overview(table(pd.DataFrame({"at": stamps})))
    detail = found.column("at").date_detail
    assert detail.gaps.resolution == "hour"
    assert detail.gaps.largest_seconds == 7200 and detail.gaps.typical_seconds == 3600
    # 71 hours would be more than 60 bins: the histogram shows days.
    assert detail.period == "day" and [n for _, n in detail.bins] == [24, 23, 24]
