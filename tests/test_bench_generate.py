"""The benchmark generator: deterministic bytes, 22 columns on every row, the planted mess."""

from __future__ import annotations

import csv
import hashlib
import importlib.util
import subprocess
import sys
from collections import Counter
from pathlib import Path
from types import ModuleType

import pandas as pd
import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "bench" / "generate.py"


@pytest.fixture(scope="module")
def generate() -> ModuleType:
    """bench/ is a folder of scripts, not a package: load the script as a module."""
    spec = importlib.util.spec_from_file_location("bench_generate", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def one_mb(generate: ModuleType, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("bench") / "messy_1mb.csv"
    generate.write_csv(path, 1)
    return path


def rows_of(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle, strict=True))


def test_same_seed_same_bytes_other_seed_other_bytes(
    generate: ModuleType, one_mb: Path, tmp_path: Path
) -> None:
    again = tmp_path / "again.csv"
    other = tmp_path / "other.csv"
    generate.write_csv(again, 1)
    generate.write_csv(other, 1, seed=generate.SEED + 1)
    digest = hashlib.sha256(one_mb.read_bytes()).hexdigest()
    assert hashlib.sha256(again.read_bytes()).hexdigest() == digest
    assert other.read_bytes() != one_mb.read_bytes()


def test_size_is_the_target_rounded_up_to_a_whole_row(one_mb: Path) -> None:
    size = one_mb.stat().st_size
    lines = one_mb.read_bytes().split(b"\n")
    assert 1_000_000 <= size < 1_000_000 + 2 * max(map(len, lines))
    assert one_mb.read_bytes().endswith(b"\n")


def test_every_row_parses_to_22_columns(generate: ModuleType, one_mb: Path) -> None:
    rows = rows_of(one_mb)
    assert rows[0] == list(generate.HEADER)
    assert len(generate.HEADER) == 22
    assert Counter(len(row) for row in rows) == {22: len(rows)}
    assert len(rows) > 4000


def test_the_planted_mess_is_there(one_mb: Path) -> None:
    rows = rows_of(one_mb)
    header, body = rows[0], rows[1:]
    frame = pd.DataFrame(body, columns=header)
    share = frame.duplicated().mean()
    assert 0.005 < share < 0.02  # ~1 % exact duplicate rows
    cells = Counter(cell for row in body for cell in row)
    assert cells["NA"] > 100 and cells["N/A"] > 100 and cells[""] > 100
    revenue = frame["revenue_text"]
    assert revenue.str.fullmatch(r"\d{1,3}(,\d{3})+\.\d{2}").sum() > 20
    numbers = pd.to_numeric(revenue.str.replace(",", ""), errors="coerce")
    assert numbers.notna().all()
    comments = frame["comment"]
    assert comments.str.contains(",").sum() > 50
    assert comments.str.contains("\n").sum() >= 1  # quoted newlines survive the round trip
    assert frame["id"].str.fullmatch(r"\d+").all()
    price = pd.to_numeric(frame["unit_price"], errors="coerce").dropna()
    q1, q3 = price.quantile([0.25, 0.75])
    assert (price > q3 + 10 * (q3 - q1)).sum() >= 1  # planted outliers
    dates = frame["order_date"]
    assert dates.str.fullmatch(r"\d{4}-\d{2}-\d{2}").mean() > 0.95
    assert set(frame["is_member"]) == {"true", "false"}


def test_cli_writes_the_same_file(one_mb: Path, tmp_path: Path) -> None:
    out = tmp_path / "data" / "cli.csv"
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--mb", "1", "--out", str(out)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "wrote" in done.stdout
    assert out.read_bytes() == one_mb.read_bytes()
    bad = subprocess.run(
        [sys.executable, str(SCRIPT), "--mb", "0", "--out", str(out)],
        capture_output=True,
        text=True,
    )
    assert bad.returncode != 0 and "error:" in bad.stderr
