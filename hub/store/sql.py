"""The store's hand-written SQL: named statements with named parameters, kept in ``hub/store/sql/*.sql``.

Each file is read once by aiosql (its asyncpg flavour turns ``:name`` into ``$n``); the statements run through the
engine (:meth:`hub.store.engines.LoopPoolPostgresEngine.fetch`), so they join the caller's transaction and keep
the pool's limits. A statement is written once; a single row is a batch of one.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import aiosql
import msgspec

from hub.store.db import current_engine

__all__ = ["Statement", "fetch", "statements"]

_FOLDER = Path(__file__).resolve().parent / "sql"


class Statement(msgspec.Struct, frozen=True):
    """One named statement: its text with ``$n`` placeholders and the parameter names in ``$n`` order."""

    name: str
    text: str
    params: tuple[str, ...]

    def args(self, values: Mapping[str, Any]) -> list[Any]:
        """The positional arguments for ``values`` (by parameter name).

        Raises:
            TypeError: a parameter of the statement is missing from ``values``, or ``values`` has an unknown one.
        """
        unknown = set(values) - set(self.params)
        missing = [name for name in self.params if name not in values]
        if missing or unknown:
            raise TypeError(f"{self.name}: missing {sorted(missing)}, unknown {sorted(unknown)}")
        return [values[name] for name in self.params]


@functools.cache
def statements(file: str) -> dict[str, Statement]:
    """The statements of ``hub/store/sql/<file>.sql`` by name."""
    queries = aiosql.from_path(_FOLDER / f"{file}.sql", "asyncpg")
    order = queries.driver_adapter.var_sorted
    return {
        name: Statement(name, getattr(queries, name).sql, tuple(order[name]))
        for name in queries.available_queries
        if not name.endswith("_cursor")  # aiosql's cursor twin of each statement
    }


async def fetch(statement: Statement, values: Mapping[str, Any], *, at_least_s: float | None = None) -> list[Any]:
    """Run ``statement`` with ``values`` (by parameter name); its rows as dicts.

    Args:
        at_least_s: allow it this many seconds when the pool's statement limit is shorter (big batches).
    """
    return await current_engine().fetch(statement.text, statement.args(values), at_least_s=at_least_s)
