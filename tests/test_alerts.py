"""The alert catalog: each type on small data built for it (figures checked against pandas /
numpy), the three false alarms of issue 13 on the real vega files, thresholds from settings."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import VEGA, co2_with_integer_dates

from steps.alerts import Alert, Thresholds, alert_types, alerts_for, gate_one_inputs, step3_alerts
from steps.alerts.checks import imbalance_of
from steps.errors import SettingsError
from steps.load import load
from steps.overview import overview
from steps.quality import quality
from steps.settings import Settings
from steps.statistics import statistics

DEFAULTS = Thresholds()


def alerts_in(
    data: str | bytes | Path, thresholds: Thresholds = DEFAULTS, *, step3: bool = False
) -> list[Alert]:
    """Every alert of a CSV (text, bytes or a path) as the flow computes them."""
    source = data.encode() if isinstance(data, str) else data
    loaded = load(source, name="t.csv") if isinstance(source, bytes) else load(source)
    ov = overview(loaded.con, loaded.table)
    q = quality(loaded.con, loaded.table, overview=ov)
    inputs = gate_one_inputs(loaded.con, loaded.table, ov, q, loaded.report, thresholds)
    found = list(alerts_for(inputs, thresholds))
    if step3:
        seen = dataclasses.replace(inputs, alerts=tuple(found))  # as the flow hands gate 1's on
        found += step3_alerts(seen, statistics(loaded.con, loaded.table), thresholds)
    return found


def of(found: list[Alert], type_: str, *columns: str) -> Alert:
    matches = [a for a in found if a.type == type_ and (not columns or a.columns == columns)]
    assert len(matches) == 1, (type_, columns, [(a.type, a.columns) for a in found])
    return matches[0]


def types_of(found: list[Alert], column: str) -> set[str]:
    return {a.type for a in found if column in a.columns}


def csv(frame: pd.DataFrame) -> str:
    return frame.to_csv(index=False)


RNG = np.random.default_rng(7)


def test_catalog_has_every_type_of_the_issue():
    wanted = {
        "constant", "zeros", "imbalance", "high_cardinality", "unique", "infinite", "missing",
        "duplicates", "skewed", "high_correlation", "numbers_as_text", "dates_as_text",
        "integer_dates", "ambiguous_dates", "leading_zeros", "zero_inflated", "identifier",
    }  # fmt: skip
    assert wanted <= set(alert_types())
    assert set(alert_types()) <= set(Thresholds.names())


def test_constant_and_missing_figures_match_pandas():
    frame = pd.DataFrame({"c": ["x"] * 40, "m": [1.5, None, 2.5, None] * 10})
    found = alerts_in(csv(frame))
    assert of(found, "constant", "c").figures["n_distinct"] == frame["c"].nunique() == 1
    missing = of(found, "missing", "m")
    assert missing.figures["missing"] == int(frame["m"].isna().sum()) == 20
    assert missing.figures["share"] == pytest.approx(frame["m"].isna().mean())
    assert missing.threshold == 0


def test_zeros_share_against_numpy_and_its_threshold():
    values = RNG.normal(10, 2, 200).round(3)
    values[:50] = 0
    found = alerts_in(csv(pd.DataFrame({"v": values})))
    zeros = of(found, "zeros", "v")
    assert zeros.figures["zeros"] == int((values == 0).sum())
    assert zeros.figures["share"] == pytest.approx((values == 0).mean())
    assert zeros.threshold == 0.1
    assert "zeros" not in types_of(
        alerts_in(csv(pd.DataFrame({"v": values})), Thresholds(zeros=0.3)), "v"
    )


def test_imbalance_is_ydata_formula_on_full_counts():
    column = ["a"] * 95 + ["b"] * 4 + ["c"] * 1
    found = alerts_in(csv(pd.DataFrame({"k": column, "n": range(100)})))
    alert = of(found, "imbalance", "k")
    counts = pd.Series(column).value_counts().to_numpy() / len(column)
    expected = 1 - float(-(counts * np.log(counts)).sum()) / math.log(len(counts))
    assert alert.figures["imbalance"] == pytest.approx(expected, abs=1e-6)
    assert alert.figures["exact"] is True
    balanced = alerts_in(csv(pd.DataFrame({"k": ["a", "b"] * 50})))
    assert "imbalance" not in types_of(balanced, "k")


def test_imbalance_beyond_top_values_is_a_lower_bound():
    # 8 values: the 5 shown are exact, the other 3 assumed even; the bound stays below truth.
    column = ["a"] * 900 + [f"v{i}" for i in range(7) for _ in range(5 + i)]
    loaded = load(csv(pd.DataFrame({"k": column})).encode(), name="t.csv")
    summary = overview(loaded.con, loaded.table).column("k")
    bound, exact = imbalance_of(summary)
    p = pd.Series(column).value_counts().to_numpy() / len(column)
    truth = 1 - float(-(p * np.log(p)).sum()) / math.log(len(p))
    assert not exact and bound <= truth + 1e-12 and bound > 0.5


def test_high_cardinality_unique_and_identifier():
    words = [f"word {i}" for i in range(60)] * 2
    frame = pd.DataFrame(
        {"id": [f"ID{i:04d}" for i in range(120)], "w": words, "f": RNG.normal(0, 1, 120)}
    )
    found = alerts_in(csv(frame))
    assert of(found, "high_cardinality", "w").figures["n_distinct"] == 60
    assert of(found, "unique", "f").figures["n_distinct"] == frame["f"].nunique() == 120
    assert of(found, "identifier", "id").figures["n_distinct"] == 120
    assert "unique" not in types_of(found, "id")


def test_infinite_values_are_counted():
    text = "x,y\n" + "".join(f"{v},{i}\n" for i, v in enumerate(["1.5", "inf", "-inf", "2"] * 5))
    alert = of(alerts_in(text), "infinite", "x")
    assert alert.figures["infinite"] == 10


def test_duplicates_against_pandas():
    frame = pd.DataFrame({"a": [1, 2, 3, 1, 2] * 4, "b": list("xyzxy") * 4})
    alert = of(alerts_in(csv(frame)), "duplicates")
    assert alert.columns == ()
    assert alert.figures["duplicate_rows"] == int(frame.duplicated().sum())


def test_skewed_against_pandas_skewness():
    values = np.ones(1000)
    values[0] = 1e6
    found = alerts_in(csv(pd.DataFrame({"s": values, "n": RNG.normal(0, 1, 1000)})), step3=True)
    alert = of(found, "skewed", "s")
    assert abs(pd.Series(values).skew()) > 20
    assert alert.figures["skewness"] == pytest.approx(pd.Series(values).skew(), rel=0.01)
    assert "skewed" not in types_of(found, "n")


def test_high_correlation_numeric_and_categorical():
    x = RNG.normal(0, 1, 300)
    colour = RNG.choice(["red", "blue", "green"], 300)
    frame = pd.DataFrame(
        {
            "x": x,
            "y": 2 * x + RNG.normal(0, 0.01, 300),
            "z": RNG.normal(0, 1, 300),
            "colour": colour,
            "code": pd.Series(colour).map({"red": "R", "blue": "B", "green": "G"}),
        }
    )
    found = alerts_in(csv(frame), step3=True)
    pair = of(found, "high_correlation", "x", "y")
    assert pair.figures["value"] == pytest.approx(np.corrcoef(frame["x"], frame["y"])[0, 1])
    assert pair.figures["trend"] is False
    categorical = [a for a in found if a.type == "high_correlation" and "colour" in a.columns]
    assert [a.columns for a in categorical] == [("colour", "code")]
    assert categorical[0].figures["value"] == pytest.approx(1.0)
    assert not [a for a in found if a.type == "high_correlation" and "z" in a.columns]


def test_numbers_and_dates_stored_as_text():
    frame = pd.DataFrame(
        {
            "amount": [f"{v:,}" for v in range(1000, 1040)],
            "when": [f"March {d}, 2023" for d in range(1, 21)] * 2,
        }
    )
    found = alerts_in(csv(frame))
    assert of(found, "numbers_as_text", "amount").figures["count"] == 40
    dated = of(found, "dates_as_text", "when")
    assert dated.figures["format"] == "month-name day, year"
    assert dated.figures["dates"] == 40


def test_ambiguous_day_month_order_says_which_was_assumed():
    text = "d,v\n" + "".join(f"{d:02d}/{m:02d}/2023,{d}\n" for d in range(1, 13) for m in (1, 2))
    alert = of(alerts_in(text), "ambiguous_dates", "d")
    assert alert.figures["assumed"] in ("day-first", "month-first")
    assert alert.figures["proven"] is False
    proven = "d,v\n" + "".join(f"{d:02d}/01/2023,{d}\n" for d in range(1, 28))
    assert "ambiguous_dates" not in types_of(alerts_in(proven), "d")


# --- the three false alarms of issue 13, on the real files ---------------------------------


def test_seattle_precipitation_zeros_are_the_finding():
    found = alerts_in(VEGA / "seattle-weather.csv")
    frame = pd.read_csv(VEGA / "seattle-weather.csv")
    rain = frame["precipitation"]
    zeros = of(found, "zeros", "precipitation")
    assert zeros.figures["zeros"] == int((rain == 0).sum()) == 838
    inflated = of(found, "zero_inflated", "precipitation")
    wet = rain[rain != 0]
    q1, q3 = np.percentile(wet, [25, 75])
    expected = int(((wet < q1 - 1.5 * (q3 - q1)) | (wet > q3 + 1.5 * (q3 - q1))).sum())
    assert inflated.figures["outliers_nonzero"] == expected
    assert inflated.figures["outliers_all"] == 206
    assert expected < 206


def test_co2_integer_dates_read_as_a_trend(tmp_path: Path):
    found = alerts_in(co2_with_integer_dates(tmp_path), step3=True)
    assert of(found, "integer_dates", "date").figures["shape"] == "YYYYMMDD"
    trend = of(found, "high_correlation", "date", "co2")
    assert trend.figures["trend"] is True
    assert "trend over time" in trend.message
    assert trend.severity == "info"


def test_zip_codes_with_leading_zeros_are_codes():
    zips = ["02134", "10001", "00501", "94105", "60601", "07030"] * 10
    found = alerts_in(csv(pd.DataFrame({"zip": zips, "n": range(60)})))
    alert = of(found, "leading_zeros", "zip")
    assert alert.figures["leading_zeros"] == sum(z.startswith("0") for z in zips)
    assert "numbers_as_text" not in types_of(found, "zip")


def test_thresholds_from_settings_and_a_bad_value():
    settings = Settings.from_env(
        {"SIGNOFF_ALERT_HIGH_CORRELATION": "0.95", "SIGNOFF_ALERT_ZEROS": "0.6"}
    )
    assert settings.alerts.high_correlation == 0.95 and settings.alerts.zeros == 0.6
    assert Settings.from_env({}).alerts == Thresholds()
    found = alerts_in(VEGA / "seattle-weather.csv", settings.alerts)
    assert "zeros" not in types_of(found, "precipitation")
    with pytest.raises(SettingsError) as refused:
        Settings.from_env({"SIGNOFF_ALERT_SKEWED": "very"})
    assert str(refused.value) == "SIGNOFF_ALERT_SKEWED must be a number of 0 or more, not 'very'."
    with pytest.raises(SettingsError) as misspelt:
        Settings.from_env({"SIGNOFF_ALERT_ZERO": "0.2"})
    assert str(misspelt.value).startswith("SIGNOFF_ALERT_ZERO names no alert type;")
