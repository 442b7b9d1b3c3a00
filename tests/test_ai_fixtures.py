"""A small customer table with planted problems, and its step results computed here.

The other `test_ai_*` modules import these builders. The figures are computed with
pandas/numpy/scipy directly (independently of `steps/`), in the shapes of the report
contract, including the cell values a prompt must never carry (top values, text min/max,
examples), so the privacy tests have something to catch.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from steps.results import json_safe

N_CLEAN = 40
DUPLICATED = 3
REGIONS = ("Nordvik", "Sudholm", "Ostbrook")
STRONG = 0.7


def customer_frame() -> pd.DataFrame:
    """40 customers plus 3 exact duplicate rows; income skewed with a planted outlier and
    gaps, visits tracking tenure, spend_copy leaking spend, a constant column, a mostly
    missing notes column, and zip codes stored as text with a junk marker."""
    rng = np.random.default_rng(7)
    income = np.round(rng.lognormal(mean=10.5, sigma=0.6, size=N_CLEAN), 2)
    income[5] = 912345.67
    spend = np.round(income * 0.3 + rng.normal(0, 2500, N_CLEAN), 2)
    spend[5] = 9100.0
    tenure = rng.integers(0, 20, N_CLEAN).astype(float)
    frame = pd.DataFrame(
        {
            "customer_id": [f"CUST-{i:05d}-X" for i in range(N_CLEAN)],
            "region": [REGIONS[i % 3] for i in range(N_CLEAN)],
            "income": income,
            "spend": spend,
            "spend_copy": spend * 1.0 + np.round(rng.normal(0, 0.01, N_CLEAN), 4),
            "tenure_years": tenure,
            "visits": np.round(tenure * 3 + rng.normal(0, 9, N_CLEAN)),
            "country": ["Freedonia"] * N_CLEAN,
            "notes": [f"zebra-note-{i}" if i % 4 == 0 else None for i in range(N_CLEAN)],
            "zip": [f"{10000 + 37 * i}" if i % 9 else "ZIP?unknown" for i in range(N_CLEAN)],
        }
    )
    frame.loc[[3, 11, 17, 23, 29, 33], "income"] = np.nan
    return pd.concat([frame, frame.iloc[[2, 8, 14]]], ignore_index=True)


KINDS = {
    "customer_id": "identifier",
    "region": "categorical",
    "income": "numeric",
    "spend": "numeric",
    "spend_copy": "numeric",
    "tenure_years": "numeric",
    "visits": "numeric",
    "country": "categorical",
    "notes": "text",
    "zip": "categorical",
}


def _column(frame: pd.DataFrame, name: str, kind: str) -> dict:
    s = frame[name]
    numeric = kind == "numeric"
    q = s.quantile([0.25, 0.5, 0.75]) if numeric else None
    present = s.dropna()
    return {
        "name": name,
        "kind": kind,
        "n_missing": int(s.isna().sum()),
        "n_distinct": int(s.nunique()),
        "mean": float(s.mean()) if numeric else None,
        "std": float(s.std(ddof=1)) if numeric else None,
        "min": present.min() if len(present) else None,
        "q1": float(q.iloc[0]) if numeric else None,
        "median": float(q.iloc[1]) if numeric else None,
        "q3": float(q.iloc[2]) if numeric else None,
        "max": present.max() if len(present) else None,
        "top_values": [{"value": v, "count": int(c)} for v, c in s.value_counts().head(3).items()],
    }


def overview_dict(frame: pd.DataFrame, kinds: dict[str, str] = KINDS) -> dict:
    return json_safe(
        {
            "n_rows": len(frame),
            "n_columns": frame.shape[1],
            "columns": [_column(frame, c, kinds[c]) for c in frame.columns],
            "memory_bytes": int(frame.memory_usage(deep=True).sum()),
        }
    )


def _outliers(s: pd.Series) -> dict:
    x = s.dropna().to_numpy()
    q1, q3 = np.percentile(x, [25, 75])
    iqr = q3 - q1
    z = (x - x.mean()) / x.std(ddof=1)
    return {
        "iqr": int(((x < q1 - 1.5 * iqr) | (x > q3 + 1.5 * iqr)).sum()),
        "zscore": int((np.abs(z) > 3).sum()),
    }


def quality_dict(frame: pd.DataFrame, kinds: dict[str, str] = KINDS) -> dict:
    numeric = [c for c, k in kinds.items() if k == "numeric"]
    missing = frame.isna().sum()
    cells = frame.size
    dupes = int(frame.duplicated().sum())
    junk_zip = frame["zip"][~frame["zip"].str.fullmatch(r"\d+")] if "zip" in frame else []
    score = 100 * (1 - missing.sum() / cells) * (1 - dupes / len(frame))
    return json_safe(
        {
            "n_rows": len(frame),
            "duplicate_rows": dupes,
            "duplicate_examples": frame[frame.duplicated()].head(2).to_dict("records"),
            "missing_cells": int(missing.sum()),
            "missing_by_column": {c: int(n) for c, n in missing.items()},
            "quality_score": score,
            "outliers": {c: _outliers(frame[c]) for c in numeric},
            "type_issues": [
                {
                    "column": "zip",
                    "issue": "non-numeric values in a numeric-looking column",
                    "count": len(junk_zip),
                    "examples": sorted(set(junk_zip)),
                }
            ]
            if len(junk_zip)
            else [],
        }
    )


def statistics_dict(frame: pd.DataFrame, kinds: dict[str, str] = KINDS) -> dict:
    numeric = [c for c, k in kinds.items() if k == "numeric"]
    corr = frame[numeric].corr()
    pairs = []
    for i, a in enumerate(numeric):
        for b in numeric[i + 1 :]:
            both = frame[[a, b]].dropna()
            r, p = stats.pearsonr(both[a], both[b])
            if abs(r) >= STRONG:
                pairs.append({"a": a, "b": b, "r": r, "n": len(both), "p_value": p})
    return json_safe(
        {
            "correlation": {"method": "pearson", "columns": numeric, "matrix": corr.to_numpy()},
            "strong_correlations": pairs,
            "threshold": STRONG,
            "distributions": {
                c: {
                    "skewness": stats.skew(frame[c].dropna(), bias=False),
                    "kurtosis": stats.kurtosis(frame[c].dropna(), bias=False),
                }
                for c in numeric
            },
        }
    )


def step_results(
    frame: pd.DataFrame | None = None, kinds: dict[str, str] = KINDS
) -> dict[str, dict]:
    frame = customer_frame() if frame is None else frame
    return {
        "overview": overview_dict(frame, kinds),
        "quality": quality_dict(frame, kinds),
        "statistics": statistics_dict(frame, kinds),
    }


def clean_frame() -> pd.DataFrame:
    """200 rows of two independent uniform columns (no value beyond the IQR fences) and a
    balanced category: nothing wrong."""
    rng = np.random.default_rng(11)
    return pd.DataFrame(
        {
            "height": np.round(rng.uniform(150, 190, 200), 1),
            "weight": np.round(rng.uniform(50, 90, 200), 1),
            "group": [("a", "b", "c", "d")[i % 4] for i in range(200)],
        }
    )


CLEAN_KINDS = {"height": "numeric", "weight": "numeric", "group": "categorical"}


def cell_strings() -> set[str]:
    """Every distinct text cell of the table: none may reach a prompt without opt-in."""
    frame = customer_frame()
    text = frame.select_dtypes(exclude="number")
    return {str(v) for col in text for v in text[col].dropna().unique()}


def test_planted_problems_are_in_the_figures() -> None:
    results = step_results()
    q, s = results["quality"], results["statistics"]
    assert q["duplicate_rows"] == DUPLICATED
    assert q["missing_by_column"]["income"] == 6  # the duplicated rows have an income
    assert q["missing_by_column"]["notes"] == len(customer_frame()) - 11
    assert q["outliers"]["income"]["iqr"] >= 1
    leak = [p for p in s["strong_correlations"] if {p["a"], p["b"]} == {"spend", "spend_copy"}]
    assert leak and leak[0]["r"] > 0.999
    assert s["distributions"]["income"]["skewness"] > 3


def test_fixture_figures_agree_with_an_independent_computation() -> None:
    """numpy's own moments and Pearson r, against the pandas/scipy figures above."""
    frame = customer_frame()
    ov, s = overview_dict(frame), statistics_dict(frame)
    spend = frame["spend"].to_numpy()
    col = next(c for c in ov["columns"] if c["name"] == "spend")
    assert col["mean"] == pytest.approx(math.fsum(spend) / len(spend), rel=1e-12)
    assert col["std"] == pytest.approx(np.std(spend, ddof=1), rel=1e-12)
    x, y = frame["spend"].to_numpy(), frame["spend_copy"].to_numpy()
    r = np.corrcoef(x, y)[0, 1]
    pair = next(p for p in s["strong_correlations"] if p["b"] == "spend_copy")
    assert pair["r"] == pytest.approx(r, rel=1e-12)
