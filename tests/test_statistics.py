"""Step 3 statistics against independent references: exact rational arithmetic, numpy, scipy.

Exact references use `fractions.Fraction` for every sum and `decimal` (60 digits) for the one
square root, so they are correct far beyond double precision. Accuracy is scored as NIST does,
with the log relative error LRE = -log10(|x - ref| / |ref|): the number of correct digits.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from decimal import Decimal, localcontext
from fractions import Fraction
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
from scipy import stats

from steps.overview import overview
from steps.statistics import (
    Bins,
    StatisticsError,
    correlation_matrix,
    distributions,
    p_values,
    scatter_sample,
    statistics,
    strong_correlations,
    with_threshold,
)

# NIST StRD linear regression dataset "Longley" (higher difficulty), public domain:
# https://www.itl.nist.gov/div898/strd/lls/data/LINKS/DATA/Longley.dat
# Longley, J. W. (1967), JASA 62, 819-841. Columns in NIST's order: y = total employment,
# x1 = GNP deflator, x2 = GNP, x3 = unemployed, x4 = armed forces, x5 = population aged 14+,
# x6 = year. (R's datasets::longley holds the same values, scaled by powers of ten.)
LONGLEY_COLUMNS = ("y", "x1", "x2", "x3", "x4", "x5", "x6")
LONGLEY = """
60323 83.0 234289 2356 1590 107608 1947
61122 88.5 259426 2325 1456 108632 1948
60171 88.2 258054 3682 1616 109773 1949
61187 89.5 284599 3351 1650 110929 1950
63221 96.2 328975 2099 3099 112075 1951
63639 98.1 346999 1932 3594 113270 1952
64989 99.0 365385 1870 3547 115094 1953
63761 100.0 363112 3578 3350 116219 1954
66019 101.2 397469 2904 3048 117388 1955
67857 104.6 419180 2822 2857 118734 1956
68169 108.4 442769 2936 2798 120445 1957
66513 110.8 444546 4681 2637 121950 1958
68655 112.6 482704 3813 2552 123366 1959
69564 114.2 502601 3931 2514 125368 1960
69331 115.7 518173 4806 2572 127852 1961
70551 116.9 554894 4007 2827 130081 1962
"""


def longley_rows() -> list[list[str]]:
    return [line.split() for line in LONGLEY.strip().splitlines()]


def table_from(con: duckdb.DuckDBPyConnection, frame: pd.DataFrame, name: str = "data") -> None:
    con.register("frame_view", frame)
    con.execute(f'CREATE OR REPLACE TABLE "{name}" AS SELECT * FROM frame_view')
    con.unregister("frame_view")


@pytest.fixture
def con():
    connection = duckdb.connect()
    yield connection
    connection.close()


@pytest.fixture
def longley(con):
    values = ", ".join("(" + ", ".join(row) + ")" for row in longley_rows())
    cols = ", ".join(f"{c} DOUBLE" for c in LONGLEY_COLUMNS)
    con.execute(f"CREATE TABLE data ({cols})")
    con.execute(f"INSERT INTO data VALUES {values}")
    return con


# --------------------------------------------------------------------------- exact references


def decimal_sqrt(x: Fraction) -> Decimal:
    with localcontext() as ctx:
        ctx.prec = 60
        return (Decimal(x.numerator) / Decimal(x.denominator)).sqrt()


def exact_central(values: list[Fraction]) -> tuple[int, Fraction, Fraction, Fraction]:
    """n and the central moments m2, m3, m4 (divided by n), exactly."""
    n = len(values)
    mean = sum(values, Fraction(0)) / n
    d = [v - mean for v in values]
    return n, *(sum((x**p for x in d), Fraction(0)) / n for p in (2, 3, 4))


def exact_correlation(a: list[Fraction], b: list[Fraction]) -> float:
    n = len(a)
    ma, mb = sum(a, Fraction(0)) / n, sum(b, Fraction(0)) / n
    sab = sum(((x - ma) * (y - mb) for x, y in zip(a, b, strict=True)), Fraction(0))
    saa = sum(((x - ma) ** 2 for x in a), Fraction(0))
    sbb = sum(((y - mb) ** 2 for y in b), Fraction(0))
    magnitude = decimal_sqrt(sab * sab / (saa * sbb))
    return float(magnitude if sab >= 0 else -magnitude)


def exact_skewness(values: list[Fraction]) -> float:
    """G1 = sqrt(n(n-1))/(n-2) · m3 / m2^1.5, via its exact square."""
    n, m2, m3, _ = exact_central(values)
    square = Fraction(n * (n - 1), (n - 2) ** 2) * m3 * m3 / m2**3
    magnitude = decimal_sqrt(square)
    return float(magnitude if m3 >= 0 else -magnitude)


def exact_kurtosis(values: list[Fraction]) -> float:
    """G2 = ((n²-1) m4/m2² - 3(n-1)²) / ((n-2)(n-3)), a rational number."""
    n, m2, _, m4 = exact_central(values)
    return float(((n * n - 1) * m4 / m2**2 - 3 * (n - 1) ** 2) / ((n - 2) * (n - 3)))


def lre(value: float, reference: float) -> float:
    """Correct significant digits (NIST's log relative error), capped at 15."""
    if value == reference:
        return 15.0
    return min(15.0, -math.log10(abs(value - reference) / abs(reference)))


# --------------------------------------------------------------------------- correlation


def test_longley_correlations_match_exact_arithmetic_to_nine_digits(longley):
    result = correlation_matrix(longley)
    columns = [[Fraction(row[j]) for row in longley_rows()] for j in range(7)]
    assert result.columns == LONGLEY_COLUMNS
    for i in range(7):
        assert result.matrix[i][i] == 1.0
        for j in range(i + 1, 7):
            reference = exact_correlation(columns[i], columns[j])
            assert lre(result.matrix[i][j], reference) >= 9, (i, j)
            assert result.matrix[i][j] == result.matrix[j][i]
            assert result.n[i][j] == 16


def test_longley_moments_match_exact_arithmetic_to_nine_digits(longley):
    numeric = distributions(longley).numeric
    for j, name in enumerate(LONGLEY_COLUMNS):
        values = [Fraction(row[j]) for row in longley_rows()]
        assert lre(numeric[name].skewness, exact_skewness(values)) >= 9, name
        assert lre(numeric[name].kurtosis, exact_kurtosis(values)) >= 9, name


def test_data_far_from_zero_keeps_its_digits(con):
    """Centring is what keeps these exact: raw power sums (DuckDB's own `corr`,
    `skewness`) lose about six digits here, and so does a mean rounded to 1e9's ulp."""
    rng = np.random.default_rng(7)
    a = np.round(rng.normal(0, 1, 3000), 6) + 1e9
    b = np.round(a - 1e9 + rng.gamma(2.0, 1.0, 3000), 6) + 1e9
    table_from(con, pd.DataFrame({"a": a, "b": b}))
    fa, fb = [Fraction(float(v)) for v in a], [Fraction(float(v)) for v in b]
    result = statistics(con, threshold=0.0)
    assert lre(result.correlation.matrix[0][1], exact_correlation(fa, fb)) >= 11
    for name, values in (("a", fa), ("b", fb)):
        dist = result.distributions.numeric[name]
        assert lre(dist.skewness, exact_skewness(values)) >= 9
        assert lre(dist.kurtosis, exact_kurtosis(values)) >= 9


def messy_frame(n: int = 4000, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    base = rng.normal(size=n)
    frame = pd.DataFrame(
        {
            "a": base * 3 + 100,
            "b": base + rng.normal(scale=0.5, size=n),
            "c": rng.gamma(2.0, 2.0, size=n),
            "d": -base + rng.normal(scale=2.0, size=n),
            "i": rng.integers(0, 50, size=n),
        }
    )
    frame.loc[rng.random(n) < 0.1, "b"] = np.nan
    frame.loc[rng.random(n) < 0.2, "c"] = np.nan
    frame.loc[:5, "d"] = [np.inf, -np.inf, np.nan, np.nan, np.nan, np.nan]
    frame["i"] = frame["i"].astype("Int64")
    frame.loc[rng.random(n) < 0.05, "i"] = pd.NA
    return frame


def complete_pairs(frame: pd.DataFrame, x: str, y: str) -> tuple[np.ndarray, np.ndarray]:
    values = frame[[x, y]].astype(float).replace([np.inf, -np.inf], np.nan).dropna()
    return values[x].to_numpy(), values[y].to_numpy()


@pytest.mark.parametrize("pattern_bits", [0, 1, 8])
def test_pearson_equals_numpy_on_complete_cases(con, monkeypatch, pattern_bits):
    """Whether the scan groups rows by which columns are missing (8 bits: every incomplete
    column here), by some of them (1) or not at all (0), the pairs are the same."""
    from steps.statistics import sql

    monkeypatch.setattr(sql, "PATTERN_BITS", pattern_bits)
    frame = messy_frame()
    table_from(con, frame)
    result = correlation_matrix(con)
    assert result.exact and result.sample_rows is None
    names = result.columns
    assert names == ("a", "b", "c", "d", "i")
    for i, x in enumerate(names):
        for j, y in enumerate(names):
            xs, ys = complete_pairs(frame, x, y)
            assert result.n[i][j] == len(xs)
            expected = np.corrcoef(xs, ys)[0, 1] if i != j else 1.0
            assert result.matrix[i][j] == pytest.approx(expected, rel=1e-12, abs=1e-15)


def test_constant_and_empty_columns_give_null_without_warnings(con):
    frame = pd.DataFrame(
        {
            "x": np.arange(10.0),
            "const": np.full(10, 0.1),
            "empty": np.full(10, np.nan),
            "y": np.arange(10.0) ** 2,
        }
    )
    table_from(con, frame)
    result = correlation_matrix(con)
    k = {name: i for i, name in enumerate(result.columns)}
    for bad in ("const", "empty"):
        assert result.matrix[k[bad]][k[bad]] is None
        assert all(result.matrix[k[bad]][j] is None for j in range(4))
    assert result.n[k["empty"]][k["x"]] == 0
    assert result.matrix[k["x"]][k["y"]] == pytest.approx(np.corrcoef(frame.x, frame.y)[0, 1])
    payload = result.to_dict()
    json.dumps(payload, allow_nan=False)
    assert payload["matrix"][k["const"]][k["x"]] is None


def test_spearman_is_exact_when_missing_values_coincide(con):
    rng = np.random.default_rng(11)
    frame = pd.DataFrame(
        {"u": rng.integers(0, 20, 3000), "v": rng.integers(0, 7, 3000), "w": rng.normal(size=3000)}
    )
    frame["v"] = frame["v"] + frame["u"] // 4
    frame = frame.astype(float)
    frame.loc[::9, ["u", "v", "w"]] = np.nan  # same rows missing everywhere
    table_from(con, frame)
    result = correlation_matrix(con, method="spearman")
    assert result.method == "spearman" and result.exact and result.sample_rows is None
    assert "all 3,000 rows" in result.basis
    expected = stats.spearmanr(frame.dropna()).statistic
    np.testing.assert_allclose(np.array(result.matrix, dtype=float), expected, rtol=1e-12)


def test_spearman_reranks_per_pair_when_missing_values_differ(con):
    frame = messy_frame(n=2000)
    table_from(con, frame)
    result = correlation_matrix(con, method="spearman", columns=["a", "b", "c"])
    assert result.exact and result.sample_rows is None
    for i, x in enumerate(result.columns):
        for j, y in enumerate(result.columns):
            if i != j:
                xs, ys = complete_pairs(frame, x, y)
                expected = stats.spearmanr(xs, ys).statistic
                assert result.matrix[i][j] == pytest.approx(expected, rel=1e-10)
                assert result.n[i][j] == len(xs)


def test_spearman_on_a_large_table_with_uneven_gaps_says_it_is_a_sample(con):
    con.execute(
        "CREATE TABLE data AS SELECT i::DOUBLE AS a, "
        "CASE WHEN i % 3 = 0 THEN NULL ELSE (i % 1000)::DOUBLE END AS b "
        "FROM range(120000) t(i)"
    )
    result = correlation_matrix(con, method="spearman")
    assert not result.exact
    assert abs(result.sample_rows - 100_000) < 1_500
    assert f"sample of {result.sample_rows:,} of 120,000 rows" in result.basis
    assert result.n[0][1] < result.sample_rows
    again = correlation_matrix(con, method="spearman")
    assert again == result


def test_correlation_refuses_bad_input_with_one_sentence(con):
    table_from(con, pd.DataFrame({"a": [1.0, 2.0], "s": ["x", "y"]}))
    with pytest.raises(StatisticsError, match="no column named 'zz'"):
        correlation_matrix(con, columns=["a", "zz"])
    with pytest.raises(StatisticsError, match="not numeric"):
        correlation_matrix(con, columns=["s"])
    with pytest.raises(StatisticsError, match="pearson or spearman"):
        correlation_matrix(con, method="kendall")


# --------------------------------------------------------------------------- strong pairs


def test_strong_correlations_filter_sort_and_p_values(con):
    frame = messy_frame()
    table_from(con, frame)
    matrix = correlation_matrix(con)
    for threshold in (0.0, 0.3, 0.5, 0.7, 0.95, 1.0):
        pairs = strong_correlations(matrix, threshold)
        expected = {
            (x, y)
            for i, x in enumerate(matrix.columns)
            for j, y in enumerate(matrix.columns)
            if i < j
            and matrix.matrix[i][j] is not None
            and abs(np.corrcoef(*complete_pairs(frame, x, y))[0, 1]) >= threshold
        }
        assert {(p.a, p.b) for p in pairs} == expected
        strengths = [abs(p.r) for p in pairs]
        assert strengths == sorted(strengths, reverse=True)
    for pair in strong_correlations(matrix, 0.0):
        xs, ys = complete_pairs(frame, pair.a, pair.b)
        reference = stats.pearsonr(xs, ys)
        assert pair.n == len(xs)
        assert pair.p_value == pytest.approx(reference.pvalue, rel=1e-6, abs=1e-300)


def test_p_values_handle_perfect_and_tiny_samples():
    result = p_values(np.array([1.0, -1.0, 0.5, 0.5]), np.array([10, 10, 2, 30]))
    assert result[0] == 0.0 and result[1] == 0.0
    assert math.isnan(result[2])
    assert result[3] == pytest.approx(stats.pearsonr(*perfect_r(0.5, 30)).pvalue, rel=1e-9)


def perfect_r(r: float, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Two samples of size n whose correlation is exactly r (up to rounding)."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=n)
    e = rng.normal(size=n)
    x = (x - x.mean()) / x.std()
    e = e - e.mean() - (e @ x) / (x @ x) * x
    e = e / e.std()
    return x, r * x + math.sqrt(1 - r * r) * e


def test_threshold_outside_zero_to_one_is_refused(longley):
    matrix = correlation_matrix(longley)
    for bad in (-0.1, 1.5, float("nan")):
        with pytest.raises(StatisticsError, match="between 0 and 1"):
            strong_correlations(matrix, bad)


# --------------------------------------------------------------------------- distributions


def test_skewness_kurtosis_histogram_and_normality_equal_scipy_and_numpy(con):
    rng = np.random.default_rng(5)
    n = 5000
    frame = pd.DataFrame(
        {
            "gamma": rng.gamma(1.5, 3.0, n),
            "normal": rng.normal(50, 4, n),
            "ints": rng.integers(0, 12, n).astype(float),
            "with_nan": np.where(rng.random(n) < 0.3, np.nan, rng.lognormal(0, 0.6, n)),
        }
    )
    table_from(con, frame)
    numeric = distributions(con, bins=12).numeric
    for name in frame.columns:
        values = frame[name].dropna().to_numpy()
        dist = numeric[name]
        assert dist.n == len(values) and dist.missing == n - len(values)
        assert dist.skewness == pytest.approx(stats.skew(values, bias=False), rel=1e-9)
        assert dist.kurtosis == pytest.approx(stats.kurtosis(values, bias=False), rel=1e-9)
        assert dist.mean == pytest.approx(values.mean(), rel=1e-13)
        assert dist.std == pytest.approx(values.std(ddof=1), rel=1e-12)
        counts, edges = np.histogram(values, bins=12)
        assert dist.histogram.counts == tuple(counts)
        np.testing.assert_array_equal(dist.histogram.edges, edges)
        reference = stats.normaltest(values)
        assert dist.normality.statistic == pytest.approx(reference.statistic, rel=1e-7)
        assert dist.normality.p_value == pytest.approx(reference.pvalue, rel=1e-6, abs=1e-300)
        assert dist.normality.sample_based is False
        assert dist.normality.test == "D'Agostino-Pearson K²"


def test_histogram_counts_values_on_bin_edges_as_numpy_does(con):
    """Values exactly on edges, where truncation alone puts some one bin too low or high."""
    for lo, hi in ((0.1, 0.7), (-3.3, 2.9), (0.0, 1.0)):
        for bins in (3, 7, 10):
            values = np.concatenate([np.linspace(lo, hi, bins + 1), [0.3, 0.6, 0.7]])
            values = values[(values >= lo) & (values <= hi)]
            table_from(con, pd.DataFrame({"v": values}))
            hist = distributions(con, bins=bins).numeric["v"].histogram
            counts, edges = np.histogram(values, bins=bins)
            assert hist.counts == tuple(counts), (lo, hi, bins)
            np.testing.assert_array_equal(hist.edges, edges)


def test_undefined_moments_are_null_and_warning_free(con):
    frame = pd.DataFrame(
        {
            "const": [0.1] * 6,
            "nan_only": [np.nan] * 6,
            "two": [1.0, 2.0] + [np.nan] * 4,
            "three": [1.0, 2.0, 7.0] + [np.nan] * 3,
            "four": [1.0, 2.0, 7.0, 3.0, np.nan, np.nan],
        }
    )
    table_from(con, frame)
    numeric = distributions(con).numeric
    assert numeric["const"].skewness is None and numeric["const"].kurtosis is None
    assert numeric["const"].std == 0.0
    assert numeric["const"].histogram.counts == tuple(np.histogram(frame["const"], bins=30)[0])
    assert numeric["nan_only"].n == 0 and numeric["nan_only"].skewness is None
    assert numeric["nan_only"].histogram.counts == ()
    assert numeric["two"].skewness is None and numeric["two"].kurtosis is None
    three = frame["three"].dropna()
    assert numeric["three"].skewness == pytest.approx(stats.skew(three, bias=False))
    assert numeric["three"].kurtosis is None
    four = frame["four"].dropna()
    assert numeric["four"].kurtosis == pytest.approx(stats.kurtosis(four, bias=False))
    assert numeric["four"].normality.p_value is None
    json.dumps(distributions(con).to_dict(), allow_nan=False)


def test_categorical_top_k_and_cardinality_match_pandas(con):
    rng = np.random.default_rng(2)
    words = np.array(["apple", "pear", "fig", "kiwi", "lime", "plum", "date"])
    frame = pd.DataFrame(
        {
            "fruit": pd.Series(rng.choice(words, 3000, p=[0.3, 0.2, 0.2, 0.1, 0.1, 0.05, 0.05])),
            "flag": pd.Series(rng.random(3000) < 0.3),
            "x": rng.normal(size=3000),
        }
    )
    frame.loc[::10, "fruit"] = None
    table_from(con, frame)
    categorical = distributions(con, top_k=3).categorical
    assert set(categorical) == {"fruit", "flag"}
    fruit = categorical["fruit"]
    counts = frame["fruit"].value_counts()
    assert fruit.cardinality == frame["fruit"].nunique()
    assert fruit.missing == frame["fruit"].isna().sum()
    expected = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:3]
    assert fruit.top == tuple((k, int(v)) for k, v in expected)
    flag = categorical["flag"]
    assert dict(flag.top) == {
        str(k).lower(): int(v) for k, v in frame["flag"].value_counts().items()
    }


@pytest.mark.parametrize("top_k", [3, 10, 12])
def test_top_values_read_from_step_one_equal_those_counted_again(con, top_k):
    """Step 3 reads text and boolean top values from Step 1's counts (`counted`): the same
    figures as its own count, ties at the cut included; ENUM columns (ties ordered by the
    enum, not the text) and a `top_k` past what Step 1 counted are counted again."""
    rng = np.random.default_rng(5)
    n = 4000
    # 14 words, pairs of them equally frequent, so ties straddle every cut.
    words = np.repeat([f"w{i:02d}" for i in range(14)], [300] * 4 + [200] * 6 + [100] * 4)
    frame = pd.DataFrame(
        {
            "word": pd.Series(rng.permutation(np.resize(words, n))),
            "flag": rng.random(n) < 0.5,
            "x": rng.normal(size=n),
        }
    )
    frame.loc[::7, "word"] = None
    table_from(con, frame)
    con.execute("CREATE TYPE mood AS ENUM ('zeta', 'alpha', 'mid')")
    con.execute(
        "CREATE OR REPLACE TABLE data AS SELECT *, "
        "(['mid', 'zeta', 'alpha'])[(rowid % 3) + 1]::mood AS mood FROM data"
    )
    step1 = overview(con)
    counted = step1.value_counts
    assert len(counted["word"].top) == 10 and "value_counts" not in step1.to_dict()
    assert [v for v, _ in step1.column("word").top_values] == [
        v for v, _ in counted["word"].top[:5]
    ]
    fresh = distributions(con, top_k=top_k).categorical
    assert distributions(con, top_k=top_k, counted=counted).categorical == fresh
    assert statistics(con, counted=counted).to_dict() == statistics(con).to_dict()
    words_seen = frame["word"].value_counts()
    expected = sorted(words_seen.items(), key=lambda kv: (-kv[1], kv[0]))[:top_k]
    assert fresh["word"].top == tuple((k, int(v)) for k, v in expected)
    # zeta comes before alpha in the enum, after it in the text.
    assert fresh["mood"].top == (("mid", 1334), ("alpha", 1333), ("zeta", 1333))[:top_k]


# --------------------------------------------------------------------------- step 3 as a whole


def test_statistics_report_keys_and_json_safety(con):
    frame = messy_frame()
    frame["const"] = 1.0
    frame["label"] = np.where(frame["a"] > 100, "high", "low")
    table_from(con, frame)
    result = statistics(con, threshold=0.5)
    payload = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    corr = payload["correlation"]
    assert corr["method"] == "pearson"
    assert corr["columns"] == ["a", "b", "c", "d", "i", "const"]
    assert isinstance(corr["matrix"], list) and isinstance(corr["matrix"][0], list)
    assert corr["matrix"][5][0] is None
    assert payload["threshold"] == 0.5
    for pair in payload["strong_correlations"]:
        assert set(pair) >= {"a", "b", "r", "n", "p_value"} and abs(pair["r"]) >= 0.5
    dists = payload["distributions"]
    assert {"skewness", "kurtosis", "histogram"} <= set(dists["numeric"]["a"])
    assert dists["numeric"]["const"]["skewness"] is None
    assert {"cardinality", "top"} <= set(dists["categorical"]["label"])
    assert dists["n_rows"] == len(frame)
    assert payload["scatter_pairs"] == payload["strong_correlations"][:4]
    assert result.correlation == correlation_matrix(con)
    assert result.distributions == distributions(con)


def test_statistics_is_identical_run_after_run(con):
    """Approvals are bound to a digest of the result, so threads must not change the bits."""
    con.execute(
        "CREATE TABLE data AS SELECT random() * 1000 + 1e6 AS a, "
        "random() * i AS b, (i % 97)::DOUBLE AS c FROM range(600000) t(i)"
    )
    first = json.dumps(statistics(con).to_dict())
    assert all(json.dumps(statistics(con).to_dict()) == first for _ in range(3))


def test_empty_table_gives_a_result_not_an_error(con):
    con.execute("CREATE TABLE data (a DOUBLE, b INTEGER, s VARCHAR)")
    result = statistics(con)
    assert result.n_rows == 0
    assert result.correlation.matrix == ((None, None), (None, None))
    assert result.strong_correlations == ()
    assert result.distributions.numeric["a"].n == 0
    assert result.distributions.categorical["s"].cardinality == 0
    json.dumps(result.to_dict(), allow_nan=False)
    spearman = correlation_matrix(con, method="spearman")
    assert spearman.matrix == ((None, None), (None, None)) and spearman.n == ((0, 0), (0, 0))


def test_awkward_column_names_are_quoted(con):
    frame = pd.DataFrame({'we"ird name': [1.0, 2.0, 4.0, 8.0], "select": [1, 3, 2, 5]})
    table_from(con, frame, name="odd table")
    result = statistics(con, "odd table", threshold=0.0)
    assert result.correlation.columns == ('we"ird name', "select")
    assert result.correlation.matrix[0][1] == pytest.approx(
        np.corrcoef(frame.iloc[:, 0], frame.iloc[:, 1])[0, 1]
    )


def test_bins_refuse_nonsense():
    with pytest.raises(StatisticsError, match="at least 1"):
        Bins.over(0.0, 1.0, 0)


# --------------------------------------------------------------------------- scatter


def test_scatter_sample_is_bounded_seeded_and_real(con):
    con.execute(
        "CREATE TABLE data AS SELECT i::DOUBLE AS x, CASE WHEN i % 5 = 0 THEN NULL "
        "ELSE (i * 2 + 1)::DOUBLE END AS y FROM range(50000) t(i)"
    )
    sample = scatter_sample(con, "data", "x", "y", max_points=500, seed=1)
    assert sample.sampled and sample.n_total == 40000 and len(sample.points) == 500
    assert all(y == 2 * x + 1 and x % 5 != 0 for x, y in sample.points)
    assert len(set(sample.points)) == 500
    assert scatter_sample(con, "data", "x", "y", max_points=500, seed=1) == sample
    other = scatter_sample(con, "data", "x", "y", max_points=500, seed=2)
    assert set(other.points) != set(sample.points)
    whole = scatter_sample(con, "data", "x", "y", max_points=100_000)
    assert not whole.sampled and len(whole.points) == 40000


def test_with_threshold_equals_a_fresh_computation_at_that_threshold() -> None:
    rng = np.random.default_rng(5)
    base = rng.normal(size=500)
    frame = pd.DataFrame(
        {
            "a": base,
            "b": base * 0.9 + rng.normal(scale=0.3, size=500),
            "c": base * 0.5 + rng.normal(size=500),
            "d": rng.normal(size=500),
        }
    )
    con = duckdb.connect()
    con.register("frame", frame)
    con.execute("CREATE TABLE data AS SELECT * FROM frame")
    cached = statistics(con, "data", threshold=0.7)
    for threshold in (0.5, 0.6, 0.9, 1.0):
        fresh = statistics(con, "data", threshold=threshold)
        moved = with_threshold(cached, threshold)
        assert moved.to_dict() == fresh.to_dict()


def test_a_table_without_numeric_columns_has_an_empty_matrix_and_its_row_count() -> None:
    con = duckdb.connect()
    con.execute("CREATE TABLE data AS SELECT 'a' || i AS s FROM range(5) t(i)")
    stats = statistics(con, "data")
    assert stats.n_rows == 5
    assert stats.correlation.columns == ()
    assert stats.strong_correlations == ()
    assert stats.distributions.categorical["s"].cardinality == 5


def test_scipy_is_imported_in_the_background_before_step_three_needs_it() -> None:
    code = (
        "import sys\n"
        "from steps.statistics import import_scipy_in_background\n"
        "assert 'scipy.stats' not in sys.modules, 'imported already by Steps 1-2 modules'\n"
        "import threading, time\n"
        "import_scipy_in_background()\n"
        "deadline = time.monotonic() + 120\n"
        "while threading.active_count() > 1 and time.monotonic() < deadline:\n"
        "    time.sleep(0.05)\n"
        "print('scipy.stats._stats' in sys.modules)\n"
    )
    root = Path(__file__).resolve().parent.parent
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "True"
