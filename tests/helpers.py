"""Small helpers the test modules share (imported as `from helpers import ...`)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import io
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

import duckdb
import openpyxl
import pandas as pd

from steps.engine import quote_ident

T = TypeVar("T")


def duckdb_table(frame: pd.DataFrame, name: str = "data") -> duckdb.DuckDBPyConnection:
    """A fresh connection holding `frame` as a real table, as the loader would leave it."""
    con = duckdb.connect()
    con.register("frame", frame)
    con.execute(f"CREATE TABLE {quote_ident(name)} AS SELECT * FROM frame")
    con.unregister("frame")
    return con


def xlsx_bytes(sheets: dict[str, list[list[object]]]) -> bytes:
    """A workbook of the given sheets (title -> rows), saved by openpyxl."""
    workbook = openpyxl.Workbook()
    workbook.remove(workbook.active)
    for title, rows in sheets.items():
        sheet = workbook.create_sheet(title)
        for row in rows:
            sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def run_coroutine(coroutine: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run` in a thread of its own: playwright's sync API keeps an event loop running
    in the main thread for the whole session once a browser test has run, and `asyncio.run`
    refuses to start under a running loop."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


VEGA = Path(__file__).parent / "data" / "vega"


def co2_with_integer_dates(folder: Path) -> Path:
    """The vendored co2 file with its dates written as YYYYMMDD integers (`date`, `co2`):
    the shape issue 13 saw called leakage."""
    frame = pd.read_csv(VEGA / "co2-concentration.csv")
    frame["date"] = pd.to_datetime(frame["Date"]).dt.strftime("%Y%m%d").astype(int)
    path = folder / "co2.csv"
    frame.rename(columns={"CO2": "co2"})[["date", "co2"]].to_csv(path, index=False)
    return path
