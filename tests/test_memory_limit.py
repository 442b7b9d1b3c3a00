"""The default DuckDB memory limit (engine + loader) and the hash-filtered duplicate count."""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pytest

from steps.engine import (
    MEMORY_FLOOR_BYTES,
    QUANTILE_BYTES_PER_VALUE,
    QUANTILE_HEADROOM_BYTES,
    WIDTH_BYTES_PER_COLUMN,
    columns,
    connect,
    memory_limit_for,
)
from steps.load import load
from steps.quality import duplicates
from steps.settings import Settings

MIB = 1024 * 1024


def limit_bytes(con: duckdb.DuckDBPyConnection) -> float:
    [(text,)] = con.execute("SELECT current_setting('memory_limit')").fetchall()
    number, unit = text.split()
    return float(number) * {"KiB": 2**10, "MiB": 2**20, "GiB": 2**30}[unit]


def test_small_data_gets_the_floor():
    assert memory_limit_for(1000) == f"{MEMORY_FLOOR_BYTES // MIB}MiB"


def test_large_data_gets_twice_its_size_rounded_up_to_a_mebibyte():
    size = 700 * MIB + 1
    assert memory_limit_for(size) == "1401MiB"


def test_quantiles_of_many_numbers_raise_the_limit():
    rows, numeric = 10_000_000, 6
    needed = QUANTILE_BYTES_PER_VALUE * rows * numeric + QUANTILE_HEADROOM_BYTES
    expected = -(-needed // MIB)
    assert expected * MIB > 400 * MIB
    assert memory_limit_for(200 * MIB, rows=rows, numeric_columns=numeric) == f"{expected}MiB"


def test_a_configured_limit_wins():
    assert memory_limit_for(10**9, rows=10**8, numeric_columns=50, configured="3GB") == "3GB"


def test_load_opens_a_connection_with_the_fitted_limit(tmp_path):
    path = tmp_path / "numbers.csv"
    path.write_text("a,b\n" + "".join(f"{i},{i * 0.5}\n" for i in range(1000)))
    loaded = load(path)
    expected = MEMORY_FLOOR_BYTES + 2 * WIDTH_BYTES_PER_COLUMN
    assert limit_bytes(loaded.con) == pytest.approx(expected)
    [(spill,)] = loaded.con.execute("SELECT current_setting('temp_directory')").fetchall()
    assert "signoff-duckdb-" in spill


def test_load_leaves_a_given_connection_alone(tmp_path):
    path = tmp_path / "numbers.csv"
    path.write_text("a\n1\n2\n")
    con = connect(memory_limit="300MB")
    load(path, con=con)
    assert limit_bytes(con) == pytest.approx(300e6, rel=0.01)


def test_load_honours_the_configured_limit(tmp_path):
    path = tmp_path / "numbers.csv"
    path.write_text("a\n1\n2\n")
    limit = Settings.from_env({"SIGNOFF_DUCKDB_MEMORY": "300MB"}).duckdb_memory
    assert limit_bytes(load(path, memory_limit=limit).con) == pytest.approx(300e6, rel=0.01)


def test_duplicates_treat_signed_zero_nan_and_missing_as_pandas_does():
    rng = np.random.default_rng(3)
    base = pd.DataFrame(
        {
            "x": rng.choice([0.0, -0.0, np.nan, 1.5, None], size=400),
            "s": rng.choice(["a", "b", None], size=400),
            "k": rng.integers(0, 4, size=400),
        }
    )
    con = duckdb.connect()
    con.register("frame", base)
    con.execute("CREATE TABLE t AS SELECT * FROM frame")
    cols = columns(con, "t")
    count, examples = duplicates(con, "t", cols, 3)
    assert count == int(base.duplicated().sum())
    sizes = base.groupby(list(base.columns), dropna=False).size()
    assert [e.copies for e in examples] == sorted(sizes[sizes > 1].to_numpy(), reverse=True)[:3]


def test_a_wide_table_gets_room_per_column():
    narrow = memory_limit_for(1000, width=2)
    wide = memory_limit_for(1000, width=10_000)
    mib = 1024 * 1024
    assert (
        int(wide.removesuffix("MiB")) * mib >= MEMORY_FLOOR_BYTES + 10_000 * WIDTH_BYTES_PER_COLUMN
    )
    assert int(narrow.removesuffix("MiB")) < int(wide.removesuffix("MiB"))
