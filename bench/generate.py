"""Write a seeded messy CSV of a given size for the benchmarks (not a test).

    uv run python bench/generate.py --mb 20 --out bench/data/messy_20mb.csv
    uv run python bench/generate.py --mb 200 --out bench/data/messy_200mb.csv

22 columns: an id, ints, floats with outliers, categories, dates and timestamps, booleans,
free text (some quoted fields with commas, a few with quoted newlines), an e-mail column,
numeric text written `1,234.56`, missing values as `NA`, `N/A` or empty, and ~1 % exact
duplicate rows. Rows are built column-wise in chunks of `CHUNK_ROWS` with numpy and streamed to
the file, so memory stays bounded whatever the size; each chunk has its own generator seeded
from (seed, chunk number), so the same seed and size give the same bytes.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

SEED = 7
CHUNK_ROWS = 20_000
DUPLICATE_SHARE = 0.01
MISSING_MARKERS = np.array(["", "NA", "N/A"], dtype=object)

HEADER = (
    "id",
    "customer_id",
    "order_date",
    "shipped_at",
    "region",
    "segment",
    "product",
    "quantity",
    "unit_price",
    "discount",
    "revenue_text",
    "cost",
    "margin_pct",
    "rating",
    "score",
    "latency_ms",
    "is_member",
    "returned",
    "channel",
    "comment",
    "email",
    "temperature",
)
REGIONS = np.array(
    ["North", "South", "East", "West", "Central", "North-East", "South-West", "Islands"],
    dtype=object,
)
SEGMENTS = np.array(["consumer", "corporate", "home office"], dtype=object)
PRODUCTS = np.array([f"P-{k:03d}" for k in range(50)], dtype=object)
CHANNELS = np.array(["web", "store", "phone", "partner"], dtype=object)
BOOLS = np.array(["false", "true"], dtype=object)
COMMENTS = (
    "great service",
    "late, but fine",
    'customer said "ok"',
    "box damaged, refund requested",
    "repeat order",
    "gift",
    "address changed twice, see ticket",
    "fragile",
)
MULTILINE_COMMENT = "first line\nsecond line, with a comma"
DAY0 = np.datetime64("2022-01-01")


def csv_field(text: str) -> str:
    """A field as CSV writes it: quoted, quotes doubled, when it holds a comma, quote or newline."""
    if any(ch in text for ch in ',"\n\r'):
        return '"' + text.replace('"', '""') + '"'
    return text


ENCODED_COMMENTS = np.array([csv_field(c) for c in COMMENTS], dtype=object)
ENCODED_MULTILINE = csv_field(MULTILINE_COMMENT)


def _text(values: np.ndarray) -> np.ndarray:
    """Numbers or dates as an object array of their shortest text form (numpy, no Python loop)."""
    return values.astype(str).astype(object)


def _with_missing(rng: np.random.Generator, column: np.ndarray, share: float) -> np.ndarray:
    """The column with a `share` of its cells replaced by `NA`, `N/A` or empty."""
    hit = rng.random(len(column)) < share
    column[hit] = MISSING_MARKERS[rng.integers(0, len(MISSING_MARKERS), int(hit.sum()))]
    return column


def _outliers(rng: np.random.Generator, values: np.ndarray, share: float, factor: float) -> None:
    """Multiply a `share` of values by `factor` in place: far-out points for the outlier checks."""
    values[rng.random(len(values)) < share] *= factor


def _comments(rng: np.random.Generator, n: int) -> np.ndarray:
    """Mostly empty; otherwise a comment, a few of them with a comma or a quoted newline."""
    column = np.full(n, "", dtype=object)
    said = rng.random(n) < 0.25
    column[said] = ENCODED_COMMENTS[rng.integers(0, len(COMMENTS), int(said.sum()))]
    column[rng.random(n) < 0.0005] = ENCODED_MULTILINE
    return column


def chunk_columns(rng: np.random.Generator, first_id: int, n: int) -> list[np.ndarray]:
    """The 22 columns of `n` rows, each as an object array of CSV-ready text."""
    ids = np.arange(first_id, first_id + n)
    customers = rng.integers(1, 200_000, n)
    quantity = rng.integers(1, 20, n)
    price = np.round(rng.lognormal(3.0, 0.6, n), 2)
    _outliers(rng, price, 0.002, 1000.0)
    discount = np.round(rng.choice([0.0, 0.05, 0.1, 0.2, 0.5], n), 2)
    revenue = quantity * price * (1 - discount)
    cost = np.round(revenue * rng.uniform(0.4, 0.9, n), 2)
    margin = np.round(100 * (revenue - cost) / np.maximum(revenue, 0.01), 2)
    _outliers(rng, margin, 0.001, -50.0)
    latency = np.round(rng.lognormal(4.0, 1.0, n), 1)
    order_day = DAY0 + rng.integers(0, 1095, n).astype("timedelta64[D]")
    shipped = order_day.astype("datetime64[s]") + rng.integers(3_600, 14 * 86_400, n).astype(
        "timedelta64[s]"
    )
    return [
        _text(ids),
        np.array([f"C{c:06d}" for c in customers.tolist()], dtype=object),
        _with_missing(rng, _text(order_day), 0.01),
        _text(shipped),
        _with_missing(rng, REGIONS[rng.integers(0, len(REGIONS), n)], 0.03),
        SEGMENTS[rng.integers(0, len(SEGMENTS), n)],
        PRODUCTS[rng.integers(0, len(PRODUCTS), n)],
        _with_missing(rng, _text(quantity), 0.02),
        _with_missing(rng, _text(price), 0.02),
        _text(discount),
        np.array([csv_field(f"{v:,.2f}") for v in revenue.tolist()], dtype=object),
        _with_missing(rng, _text(cost), 0.05),
        _text(margin),
        _with_missing(rng, _text(rng.integers(1, 6, n)), 0.10),
        _text(np.round(rng.normal(50.0, 10.0, n), 3)),
        _text(latency),
        BOOLS[rng.integers(0, 2, n)],
        _with_missing(rng, BOOLS[(rng.random(n) < 0.08).astype(int)], 0.05),
        CHANNELS[rng.integers(0, len(CHANNELS), n)],
        _comments(rng, n),
        np.array([f"user{c}@example.com" for c in customers.tolist()], dtype=object),
        _with_missing(rng, _text(np.round(rng.normal(18.0, 6.0, n), 1)), 0.04),
    ]


def chunk_lines(seed: int, chunk: int) -> list[str]:
    """One chunk of rows as CSV lines, ~1 % of them exact copies of an earlier row."""
    rng = np.random.default_rng([seed, chunk])
    rows = list(zip(*chunk_columns(rng, chunk * CHUNK_ROWS + 1, CHUNK_ROWS), strict=True))
    copies = np.flatnonzero(rng.random(CHUNK_ROWS) < DUPLICATE_SHARE)
    copies = copies[copies > 0]
    for target, source in zip(copies.tolist(), rng.integers(0, copies), strict=True):
        rows[target] = rows[int(source)]
    return [",".join(row) + "\n" for row in rows]


def csv_chunks(target_bytes: int, seed: int = SEED) -> Iterator[bytes]:
    """The header, then whole rows, until the file is at least `target_bytes` long."""
    header = (",".join(HEADER) + "\n").encode()
    written = len(header)
    yield header
    chunk = 0
    while written < target_bytes:
        lines = chunk_lines(seed, chunk)
        data = "".join(lines).encode()
        if written + len(data) > target_bytes:
            ends = np.cumsum([len(line.encode()) for line in lines])
            keep = int(np.searchsorted(ends, target_bytes - written)) + 1
            data = "".join(lines[:keep]).encode()
        written += len(data)
        yield data
        chunk += 1


def write_csv(out: Path, megabytes: float, seed: int = SEED) -> int:
    """Write the file (MB = 10⁶ bytes) and return its size in bytes."""
    out.parent.mkdir(parents=True, exist_ok=True)
    size = 0
    with out.open("wb") as handle:
        for data in csv_chunks(int(megabytes * 1_000_000), seed):
            handle.write(data)
            size += len(data)
    return size


def size_arguments(description: str) -> argparse.Namespace:
    """`--mb`, `--out` and `--seed`, as every generator of the benchmark files takes them."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--mb", type=float, required=True, help="target size in MB (10^6 bytes)")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args()
    if args.mb <= 0:
        sys.exit("error: --mb must be a positive number.")
    return args


def main() -> None:
    args = size_arguments("Write a seeded messy CSV for the benchmarks.")
    start = time.perf_counter()
    size = write_csv(args.out, args.mb, args.seed)
    print(f"wrote {args.out}: {size / 1e6:.1f} MB in {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
