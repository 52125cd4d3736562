"""Many rows in one statement: each column sent as one array parameter and ``unnest``-ed.

One statement per table per batch, whatever its size, and its text never changes, so the
server prepares it once per connection. psycopg sends a list as an array of one element type,
so values are coerced to the column's type first (an int among floats would be refused). Arrays
go in binary (``%b``): measured three times faster to send than in text.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from cloud.store.postgres.db import Conn

Row = Sequence[object]


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def _same(value: Any) -> Any:
    return value


_COERCE: dict[str, Callable[[Any], Any]] = {"float8": _float, "int8": _int}


@dataclass(frozen=True, slots=True)
class Insert:
    """``INSERT INTO table (columns) SELECT * FROM unnest(arrays) tail`` for rows of tuples."""

    table: str
    columns: tuple[tuple[str, str], ...]  # (name, PostgreSQL type)
    tail: str = ""

    @property
    def sql(self) -> str:
        """The statement's text: fixed names and types only, every value is a parameter."""
        names = ", ".join(name for name, _ in self.columns)
        arrays = ", ".join(f"%b::{kind}[]" for _, kind in self.columns)
        # Only the fixed names and types above reach the text.
        return f"INSERT INTO {self.table} ({names}) SELECT * FROM unnest({arrays}) {self.tail}"  # noqa: S608

    async def run(self, conn: Conn, rows: Sequence[Row]) -> list[tuple[Any, ...]]:
        """Insert ``rows`` (tuples in column order); the rows a RETURNING tail gives."""
        if not rows:
            return []
        cursor = await conn.execute(self.sql, self.arrays(rows))
        return await cursor.fetchall() if cursor.description is not None else []

    def arrays(self, rows: Sequence[Row]) -> list[list[Any]]:
        """One list per column, each value coerced to its column's type."""
        out: list[list[Any]] = []
        for index, (_, kind) in enumerate(self.columns):
            coerce = _COERCE.get(kind, _same)
            out.append([coerce(row[index]) for row in rows])
        return out


def rounds(rows: Sequence[Row], key: Callable[[Row], object]) -> list[list[Row]]:
    """``rows`` split so no key repeats within a part, order kept within each key.

    One ``INSERT ... ON CONFLICT DO UPDATE`` may not touch a row twice; rows with the same key
    go to successive statements instead, so they are merged one after another as in SQLite.
    """
    parts: list[list[Row]] = []
    seen: dict[object, int] = {}
    for row in rows:
        k = key(row)
        n = seen.get(k, 0)
        seen[k] = n + 1
        if n == len(parts):
            parts.append([])
        parts[n].append(row)
    return parts
