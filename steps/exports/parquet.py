"""The Parquet export: the data the report describes (the cleaned view once a plan applies)."""

from __future__ import annotations

import io

import duckdb

from steps.engine import quote_ident

PARQUET_BATCH_ROWS = 65_536


def parquet_bytes(
    con: duckdb.DuckDBPyConnection, table_or_view: str, *, batch_rows: int = PARQUET_BATCH_ROWS
) -> bytes:
    """The table or view as Parquet, streamed batch by batch from DuckDB through Arrow.

    Not `COPY ... TO`: hosted mode turns DuckDB's external access off, and this path never
    touches the file system, so it works there too. Memory holds one batch plus the output.
    pyarrow is imported here: a run that writes no Parquet never needs it (~30 MB).
    """
    import pyarrow.parquet as pq

    reader = con.sql(f"SELECT * FROM {quote_ident(table_or_view)}").to_arrow_reader(batch_rows)
    buffer = io.BytesIO()
    # Closing the reader, even on failure, frees the connection for the next query.
    with reader, pq.ParquetWriter(buffer, reader.schema, compression="zstd") as writer:
        for batch in reader:
            writer.write_batch(batch)
    return buffer.getvalue()
