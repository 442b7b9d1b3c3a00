"""Step 3 rules: strong pairs (and near-perfect ones, which suggest leakage), and columns
whose shape makes means and z-scores mislead."""

from __future__ import annotations

from ai.rules.base import Action, Observation, evidence, observe
from steps.alerts import time_columns
from steps.insights import Facts
from steps.statistics import NumericDistribution, StrongPair
from steps.text import number_text

LEAKAGE_ABS_R = 0.98
SKEW_HEAVY = 1.0
EXCESS_KURTOSIS_HEAVY = 3.0
SIGNIFICANCE = 0.05


def statistics_observations(facts: Facts) -> list[Observation]:
    s = facts.statistics
    if s is None:
        return []
    dated = time_columns(facts.overview, facts.alerts)
    out = [
        _trend(pair) if {pair.a, pair.b} & dated else _pair(pair, s.threshold)
        for pair in s.strong_correlations
    ]
    for name, dist in sorted(s.distributions.numeric.items()):
        if shape := _shape(name, dist):
            out.append(shape)
    return out


def _trend(pair: StrongPair) -> Observation:
    a, b, r = pair.a, pair.b, pair.r
    path = f"statistics.strong_correlations[{a},{b}]"
    direction = "rises" if r > 0 else "falls"
    return observe(
        "statistics",
        f"trend:{a}|{b}",
        f"A trend over time: {a} and {b}",
        f"One of {a} and {b} is a date, and the other {direction} with it "
        f"(r = {number_text(r)}): a trend, not leakage.",
        "info",
        (evidence(f"{path}.r", r), evidence(f"{path}.n", pair.n)),
        insight=f"{a} and {b} follow a trend over time (r = {number_text(r)}).",
    )


def _pair(pair: StrongPair, threshold: float) -> Observation:
    a, b, r, n = pair.a, pair.b, pair.r, number_text(pair.n)
    path = f"statistics.strong_correlations[{a},{b}]"
    ev = (
        evidence(f"{path}.r", r),
        evidence(f"{path}.n", pair.n),
        *((evidence(f"{path}.p_value", pair.p_value),) if pair.p_value is not None else ()),
        evidence("statistics.threshold", threshold),
    )
    direction = "together" if r > 0 else "in opposite directions"
    if abs(r) >= LEAKAGE_ABS_R:
        return observe(
            "statistics",
            f"leakage:{a}|{b}",
            f"Possible leakage: {a} and {b}",
            f"{a} and {b} are almost perfectly correlated (r = {number_text(r)}); one may be "
            "derived from the other or duplicate it.",
            "critical",
            ev,
            Action(
                f"Check whether {a} is derived from {b} before using either as a predictor",
                "A near-perfect correlation usually means leakage or a duplicated measure.",
                5,
                2,
            ),
        )
    if pair.p_value is not None and pair.p_value >= SIGNIFICANCE:
        return observe(
            "statistics",
            f"pair:{a}|{b}",
            f"{a} and {b}: strong but not significant",
            f"{a} and {b} have r = {number_text(r)}, but with n = {n} the p-value is "
            f"{number_text(pair.p_value)} (p ≥ {SIGNIFICANCE}).",
            "warning",
            ev,
            Action(
                f"Confirm the {a}–{b} relationship on more data",
                "The correlation could be chance at this sample size.",
                2,
                3,
            ),
        )
    return observe(
        "statistics",
        f"pair:{a}|{b}",
        f"{a} and {b} are strongly correlated",
        f"{a} and {b} move {direction} (r = {number_text(r)}, n = {n}).",
        "info",
        ev,
        Action(
            f"Use only one of {a} and {b} in linear models",
            "Strongly correlated predictors make coefficients unstable.",
            2,
            1,
        ),
        insight=f"{a} and {b} move {direction} (r = {number_text(r)}).",
    )


def _shape(name: str, dist: NumericDistribution) -> Observation | None:
    skew, kurt = dist.skewness, dist.kurtosis
    heavy_skew = skew is not None and abs(skew) >= SKEW_HEAVY
    heavy_tails = kurt is not None and kurt >= EXCESS_KURTOSIS_HEAVY
    if not (heavy_skew or heavy_tails):
        return None
    words, said = [], []
    if skew is not None and heavy_skew:
        side = "right" if skew > 0 else "left"
        words.append(f"{side}-skewed")
        said.append(f"{side}-skewed (skewness {number_text(skew)})")
    if kurt is not None and heavy_tails:
        words.append("heavy-tailed")
        said.append(f"heavy-tailed (excess kurtosis {number_text(kurt)})")
    path = f"statistics.distributions[{name}]"
    return observe(
        "statistics",
        f"shape:{name}",
        f"{name} is {' and '.join(words)}",
        f"{name} is {' and '.join(said)}: its mean and standard deviation describe it poorly.",
        "warning" if heavy_skew and heavy_tails else "info",
        tuple(
            evidence(f"{path}.{key}", value)
            for key, value in (("skewness", skew), ("kurtosis", kurt))
            if value is not None
        ),
        Action(
            f"Summarise {name} with medians and quantiles"
            + (" or a log transform" if skew is not None and heavy_skew and skew > 0 else ""),
            "Means and z-scores mislead on skewed or heavy-tailed data.",
            2,
            1,
        ),
    )
