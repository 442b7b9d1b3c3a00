"""Gate 1's "modify": a cleaning plan, applied as a new relation beside the original.

The plan is part of an approval's identity (its `digest()`), so it is canonical: column
lists are sorted and de-duplicated, and equal plans give equal digests.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import duckdb

from steps.engine import columns, quote_ident
from steps.errors import CleaningError
from steps.overview import fresh_name, value_expr
from steps.results import ToDict
from steps.text import json_sha256


def _canonical(names: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted(set(names)))


@dataclass(frozen=True)
class CleaningPlan(ToDict):
    """What the reviewer asked to remove before Step 2 is re-evaluated.

    Applied in this order: rows missing a value in any of `drop_rows_missing`, then the
    columns in `drop_columns`, then repeated rows (judged on the columns that remain,
    keeping each row's first occurrence).
    """

    drop_duplicates: bool = False
    drop_columns: tuple[str, ...] = ()
    drop_rows_missing: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for field in ("drop_columns", "drop_rows_missing"):
            value = getattr(self, field)
            if isinstance(value, str) or not all(isinstance(v, str) for v in value):
                raise CleaningError(f"The plan's {field} must be a list of column names.")
            object.__setattr__(self, field, _canonical(value))
        object.__setattr__(self, "drop_duplicates", bool(self.drop_duplicates))

    @classmethod
    def from_mapping(cls, fields: Mapping[str, Any]) -> CleaningPlan:
        """A plan from its JSON form or a form's answer; absent or empty fields mean none."""
        return cls(
            drop_duplicates=bool(fields.get("drop_duplicates")),
            drop_columns=tuple(fields.get("drop_columns") or ()),
            drop_rows_missing=tuple(fields.get("drop_rows_missing") or ()),
        )

    def is_empty(self) -> bool:
        return not (self.drop_duplicates or self.drop_columns or self.drop_rows_missing)

    def check(self, names: Sequence[str]) -> None:
        """Refuse, in one sentence, a plan that names columns the data lacks or would drop
        every column: checked before a decision records it, and again when applied."""
        unknown = [n for n in (*self.drop_columns, *self.drop_rows_missing) if n not in names]
        if unknown:
            raise CleaningError(
                f"The cleaning plan names columns that are not in the data: "
                f"{_quoted_list(dict.fromkeys(unknown))}."
            )
        if set(self.drop_columns) >= set(names):
            raise CleaningError("The cleaning plan would drop every column; keep at least one.")

    def digest(self) -> str:
        """SHA-256 of the plan's canonical JSON (sorted keys, no spaces, UTF-8)."""
        return json_sha256(self.to_dict())


def _quoted_list(names: Iterable[str]) -> str:
    return ", ".join(repr(n) for n in names)


def _check(plan: CleaningPlan, names: list[str], source: str, target: str) -> None:
    plan.check(names)
    if target == source:
        raise CleaningError("The cleaned data needs a name other than the original's.")


def _drop_existing(con: duckdb.DuckDBPyConnection, name: str) -> None:
    """Remove a previous result under `name`, whether it was a view or a table."""
    kinds = con.execute(
        "SELECT 'VIEW' FROM duckdb_views() WHERE view_name = $1 AND NOT internal "
        "UNION ALL SELECT 'TABLE' FROM duckdb_tables() WHERE table_name = $1",
        [name],
    ).fetchall()
    for (kind,) in kinds:
        con.execute(f"DROP {kind} IF EXISTS {quote_ident(name)}")


def plan_sql(con: duckdb.DuckDBPyConnection, plan: CleaningPlan, source: str) -> str:
    """The SELECT that produces the cleaned rows, in the original order."""
    cols = columns(con, source)
    by_name = {c.name: c for c in cols}
    keep = ", ".join(quote_ident(c.name) for c in cols if c.name not in plan.drop_columns)
    present = [f"{value_expr(by_name[n])} IS NOT NULL" for n in plan.drop_rows_missing]
    where = f" WHERE {' AND '.join(present)}" if present else ""
    if not plan.drop_duplicates:
        return f"SELECT {keep} FROM {quote_ident(source)}{where}"
    pos = quote_ident(fresh_name(list(by_name), "signoff_position"))
    return (
        f"SELECT {keep} FROM (SELECT {keep}, row_number() OVER () AS {pos} "
        f"FROM {quote_ident(source)}{where}) "
        f"QUALIFY row_number() OVER (PARTITION BY {keep} ORDER BY {pos}) = 1 ORDER BY {pos}"
    )


def apply_plan(
    con: duckdb.DuckDBPyConnection,
    plan: CleaningPlan,
    *,
    source: str = "data",
    target: str = "cleaned",
) -> str:
    """Create `target` from `source` by `plan`, leaving `source` untouched; returns `target`.

    Filters and column drops are a VIEW (free to create, always current); dropping
    duplicates is materialised once as a TABLE, so later steps do not re-run the
    de-duplication on every query and see a stable row order.
    """
    _check(plan, [c.name for c in columns(con, source)], source, target)
    body = plan_sql(con, plan, source)
    _drop_existing(con, target)
    kind = "TABLE" if plan.drop_duplicates else "VIEW"
    con.execute(f"CREATE {kind} {quote_ident(target)} AS {body}")
    return target
