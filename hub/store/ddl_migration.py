"""A migration made of raw SQL statements: run in order forwards, and the undoing ones backwards."""

from __future__ import annotations

from collections.abc import Sequence

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder


def ddl_migration(
    migration_id: str, description: str, forwards: Sequence[str], backwards: Sequence[str] = ()
) -> MigrationManager:
    """The manager of a migration that runs ``forwards`` (and, rolled back, ``backwards``) one statement at a time."""
    manager = MigrationManager(migration_id=migration_id, app_name="hub", description=description)

    async def run(statements: Sequence[str]) -> None:
        engine = engine_finder()
        assert engine is not None, "no Piccolo engine is configured"
        for ddl in statements:
            await engine.run_ddl(ddl)

    async def apply() -> None:
        await run(forwards)

    async def undo() -> None:
        await run(backwards)

    manager.add_raw(apply)
    if backwards:
        manager.add_raw_backwards(undo)
    return manager
