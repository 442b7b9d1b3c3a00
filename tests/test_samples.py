"""The bundled samples exist, regenerate byte for byte, and hold what they claim to hold."""

from __future__ import annotations

import hashlib
import re

import numpy as np
import pandas as pd
import pytest

from samples import SAMPLES, SAMPLES_DIR, UnknownSampleError, make_clean, make_messy, sample_path

PENGUINS_SHA256 = "f204db2c753b0937caac3cb35258562c14f073e4bbc76be24b4c51ce22767a93"
JUNK = ["NA", "N/A", "-", "?"]


def as_text(name: str) -> pd.DataFrame:
    """The sample exactly as written: every cell a string, nothing read as missing."""
    return pd.read_csv(sample_path(name), dtype=str, keep_default_na=False)


def test_registry_lists_existing_small_files_with_unique_names() -> None:
    assert len(SAMPLES) >= 3
    assert len({s.name for s in SAMPLES}) == len(SAMPLES)
    for sample in SAMPLES:
        path = sample_path(sample.name)
        assert path.is_file(), path
        assert path.parent == SAMPLES_DIR
        assert 0 < path.stat().st_size < 1_000_000
        assert sample.title and sample.description
    readme = (SAMPLES_DIR / "README.md").read_text()
    for sample in SAMPLES:
        assert f"`{sample.file}`" in readme


def test_unknown_sample_is_one_sentence() -> None:
    with pytest.raises(UnknownSampleError) as info:
        sample_path("nope")
    message = str(info.value)
    assert message.endswith(".") and "\n" not in message and "penguins" in message


def test_penguins_is_the_published_file() -> None:
    path = sample_path("penguins")
    assert hashlib.sha256(path.read_bytes()).hexdigest() == PENGUINS_SHA256
    frame = pd.read_csv(path)
    assert frame.shape == (344, 8)
    measures = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]
    assert int(frame[measures].isna().all(axis=1).sum()) == 2
    assert int(frame[measures].isna().any(axis=1).sum()) == 2
    assert int(frame["sex"].isna().sum()) == 11
    assert set(frame["species"]) == {"Adelie", "Chinstrap", "Gentoo"}


@pytest.mark.parametrize(
    ("name", "build"),
    [("messy_orders", make_messy.messy_csv), ("sensor_readings", make_clean.clean_csv)],
)
def test_synthetic_samples_regenerate_byte_for_byte(name: str, build) -> None:
    assert build() == sample_path(name).read_bytes()
    assert build(seed=1) != build()


# messy_orders: the planted problems are really there ---------------------------------------


def test_messy_has_the_planted_duplicates_and_ids() -> None:
    frame = as_text("messy_orders")
    assert frame.shape == (make_messy.UNIQUE_ROWS + make_messy.DUPLICATE_ROWS, 14)
    assert int(frame.duplicated().sum()) == make_messy.DUPLICATE_ROWS
    unique = frame.drop_duplicates()
    assert unique["order_id"].is_unique
    assert frame["order_id"].str.fullmatch(r"ORD-\d{6}").all()


def test_messy_has_junk_markers_words_and_numbers_with_commas() -> None:
    frame = as_text("messy_orders")
    quantity = frame["quantity"]
    for marker in JUNK:
        assert (quantity == marker).any(), marker
    assert quantity.isin(["one", "two", "three", "four"]).any()
    assert (quantity == "").any()
    numeric = pd.to_numeric(quantity, errors="coerce")
    assert numeric.notna().mean() > 0.9  # mostly numbers: a numeric column with junk
    revenue = frame["revenue"]
    with_commas = revenue[revenue.str.contains(",")]
    assert len(with_commas) >= 20
    assert with_commas.str.fullmatch(r"\d{1,3}(,\d{3})+\.\d{2}").all()
    assert pd.to_numeric(revenue.str.replace(",", ""), errors="coerce").notna().all()


def test_messy_mixes_three_date_formats() -> None:
    dates = as_text("messy_orders")["order_date"]
    iso = dates.str.fullmatch(r"2023-\d{2}-\d{2}")
    dmy = dates.str.fullmatch(r"\d{2}/\d{2}/2023")
    named = dates.str.fullmatch(r"[A-Z][a-z]{2} \d{1,2}, 2023")
    assert iso.sum() > 1000 and dmy.sum() > 100 and named.sum() > 50
    assert (iso | dmy | named | dates.isin([*JUNK, ""])).all()
    parsed = pd.to_datetime(dates[iso], format="%Y-%m-%d")
    assert parsed.dt.year.eq(2023).all()


def test_messy_outliers_are_far_outside_the_iqr_fences() -> None:
    frame = pd.read_csv(sample_path("messy_orders"))
    price = pd.to_numeric(frame["unit_price"], errors="coerce").dropna().to_numpy()
    q1, q3 = np.percentile(price, [25, 75])
    assert int((price > q3 + 3 * (q3 - q1)).sum()) >= 5
    days = frame["delivery_days"].dropna().to_numpy()
    q1, q3 = np.percentile(days, [25, 75])
    assert int((days > q3 + 3 * (q3 - q1)).sum()) >= 3


def test_messy_constant_leak_and_near_duplicate_columns() -> None:
    frame = pd.read_csv(sample_path("messy_orders"))
    assert frame["currency"].nunique(dropna=False) == 1
    target = frame["delivery_days"]
    leak = frame["shipping_score"]
    assert target.isna().sum() > 0
    assert (leak.isna() == target.isna()).all()
    assert (leak.dropna() == 2 * target.dropna()).all()
    price = pd.to_numeric(frame["unit_price"], errors="coerce")
    both = price.notna()
    r = np.corrcoef(price[both], frame["list_price"][both])[0, 1]
    assert r > 0.99
    assert (price[both] != frame["list_price"][both]).mean() > 0.5


def test_messy_has_missing_values_and_the_hostile_text() -> None:
    frame = as_text("messy_orders")
    notes = frame["notes"]
    assert (notes == make_messy.HOSTILE).sum() == 1
    assert (notes == "").mean() > 0.5
    missing = frame.isin([*JUNK, ""]).sum()
    for column in ("order_date", "region", "quantity", "unit_price", "discount_pct"):
        assert missing[column] > 0, column
    assert set(frame["returned"]) == {"true", "false"}
    raw = sample_path("messy_orders").read_text()
    assert re.search(r'"[^"\n]*,[^"\n]*"', raw)  # quoted fields with commas


# sensor_readings: clean, and the correlations are the designed ones -----------------------


def test_sensor_readings_is_clean_numeric() -> None:
    frame = pd.read_csv(sample_path("sensor_readings"))
    assert frame.shape == (make_clean.N_ROWS, len(make_clean.LOADINGS) + 1)
    assert frame.notna().all().all()
    assert not frame.duplicated().any()
    assert all(pd.api.types.is_float_dtype(t) for t in frame.dtypes)


def test_sensor_correlations_match_the_design() -> None:
    frame = pd.read_csv(sample_path("sensor_readings"))
    names = list(make_clean.LOADINGS)
    loadings = np.array([make_clean.LOADINGS[n][2] for n in names])
    np.testing.assert_allclose(np.linalg.norm(loadings, axis=1), 1.0)
    designed = loadings @ loadings.T
    observed = np.corrcoef(frame[names].to_numpy(), rowvar=False)
    # standard error of r is at most 1/sqrt(n) ≈ 0.032: four of them
    np.testing.assert_allclose(observed, designed, atol=0.13)
    assert designed[0, 1] == pytest.approx(0.8) and designed[0, 2] == pytest.approx(-0.6)
    # the target is the stated linear model: least squares recovers R² ≈ 0.931
    x = np.column_stack([np.ones(len(frame)), frame[names].to_numpy()])
    y = frame[make_clean.TARGET].to_numpy()
    coef, *_ = np.linalg.lstsq(x, y, rcond=None)
    r2 = 1 - np.sum((y - x @ coef) ** 2) / np.sum((y - y.mean()) ** 2)
    assert r2 == pytest.approx(13.48 / 14.48, abs=0.02)
