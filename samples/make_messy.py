"""Generate `samples/messy_orders.csv`: a seeded order table with every common data problem.

    uv run python samples/make_messy.py            # rewrites samples/messy_orders.csv
    uv run python samples/make_messy.py --out x.csv

The same seed gives the same bytes (tests regenerate it and compare). What is planted, so the
steps have something true to find:

- 40 exact duplicate rows (copies of other rows, placed at random positions);
- outliers: a few `unit_price` values ~100× the rest, a few `delivery_days` of 180+;
- missing values as empty cells and as the markers `NA`, `N/A`, `-`, `?`;
- `quantity` mixes integers with junk (`?`, `-`, `N/A`) and words (`two`);
- `revenue` is numeric text written with thousands separators (`1,234.50`);
- `order_date` mixes ISO, day/month/year and `Mon D, YYYY` formats;
- `currency` is constant, `order_id` is an identifier;
- `notes` is free text and holds a hostile value (`<img src=x onerror=alert(1)>`);
- `shipping_score` is exactly 2 × `delivery_days` (the target): a leak;
- `list_price` is a near-duplicate of `unit_price` (r > 0.99, not identical).
"""

from __future__ import annotations

import argparse
import csv
import io
from pathlib import Path

import numpy as np

SEED = 20240607
UNIQUE_ROWS = 1960
DUPLICATE_ROWS = 40
HOSTILE = "<img src=x onerror=alert(1)>"
DEFAULT_OUT = Path(__file__).resolve().parent / "messy_orders.csv"

COLUMNS = (
    "order_id",
    "order_date",
    "region",
    "category",
    "quantity",
    "unit_price",
    "list_price",
    "revenue",
    "discount_pct",
    "currency",
    "returned",
    "notes",
    "delivery_days",
    "shipping_score",
)
REGIONS = ("North", "South", "East", "West")
CATEGORIES = ("Books", "Electronics", "Garden", "Toys", "Kitchen")
BASE_PRICE = {"Books": 14.0, "Electronics": 180.0, "Garden": 35.0, "Toys": 22.0, "Kitchen": 48.0}
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
JUNK = ("NA", "N/A", "-", "?", "")
WORDS = {1: "one", 2: "two", 3: "three", 4: "four"}
NOTES = (
    "left at door",
    "gift wrap, please",
    "call before delivery",
    'customer said "urgent"',
    "fragile",
    "second attempt",
)
DAYS_IN_MONTH = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _date_text(rng: np.random.Generator) -> str:
    """One order date in 2023, written in one of three formats (mostly ISO)."""
    month = int(rng.integers(1, 13))
    day = int(rng.integers(1, DAYS_IN_MONTH[month - 1] + 1))
    style = rng.choice(3, p=[0.7, 0.2, 0.1])
    if style == 0:
        return f"2023-{month:02d}-{day:02d}"
    if style == 1:
        return f"{day:02d}/{month:02d}/2023"
    return f"{MONTHS[month - 1]} {day}, 2023"


def _maybe_missing(rng: np.random.Generator, text: str, share: float) -> str:
    """The value, or (with probability `share`) one of the missing-value markers."""
    if rng.random() < share:
        return str(rng.choice(JUNK))
    return text


def _quantity_text(rng: np.random.Generator, quantity: int) -> str:
    if rng.random() < 0.02 and quantity in WORDS:
        return WORDS[quantity]
    return _maybe_missing(rng, str(quantity), 0.04)


def _order_row(rng: np.random.Generator, i: int) -> list[str]:
    """One unique order; every random draw happens in a fixed order, so bytes are stable."""
    category = str(rng.choice(CATEGORIES))
    quantity = int(rng.integers(1, 9))
    price = BASE_PRICE[category] * float(rng.lognormal(0.0, 0.25))
    if rng.random() < 0.006:
        price *= 100  # a planted outlier
    list_price = price * (1 + float(rng.normal(0.0, 0.004)))
    discount = float(rng.choice([0.0, 5.0, 10.0, 15.0, 20.0]))
    revenue = quantity * price * (1 - discount / 100)
    days = int(rng.poisson(4)) + 1
    if rng.random() < 0.004:
        days += int(rng.integers(180, 365))  # a planted outlier
    days_missing = rng.random() < 0.03
    note = HOSTILE if i == 1234 else (str(rng.choice(NOTES)) if rng.random() < 0.3 else "")
    return [
        f"ORD-{i:06d}",
        _maybe_missing(rng, _date_text(rng), 0.02),
        _maybe_missing(rng, str(rng.choice(REGIONS)), 0.05),
        category,
        _quantity_text(rng, quantity),
        _maybe_missing(rng, f"{price:.2f}", 0.03),
        f"{list_price:.2f}",
        f"{revenue:,.2f}",
        _maybe_missing(rng, f"{discount:.1f}", 0.08),
        "EUR",
        str(bool(rng.random() < 0.07)).lower(),
        note,
        "" if days_missing else str(days),
        "" if days_missing else str(2 * days),
    ]


def messy_rows(seed: int = SEED) -> list[list[str]]:
    """The unique orders with the duplicates inserted at seeded positions."""
    rng = np.random.default_rng(seed)
    rows = [_order_row(rng, i) for i in range(1, UNIQUE_ROWS + 1)]
    sources = rng.choice(UNIQUE_ROWS, size=DUPLICATE_ROWS, replace=False)
    targets = rng.choice(UNIQUE_ROWS + DUPLICATE_ROWS, size=DUPLICATE_ROWS, replace=False)
    copies = [list(rows[int(s)]) for s in sources]
    for position, copy in sorted(zip(targets.tolist(), copies, strict=True)):
        rows.insert(position, copy)
    return rows


def messy_csv(seed: int = SEED) -> bytes:
    """The whole file as bytes: header plus rows, `\\n` line ends, minimal quoting."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerows(messy_rows(seed))
    return buffer.getvalue().encode("utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description="Write the seeded messy orders sample.")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args()
    args.out.write_bytes(messy_csv(args.seed))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
