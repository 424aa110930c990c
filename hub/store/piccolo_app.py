"""The Piccolo app of the ledger: its tables and migrations folder."""

from __future__ import annotations

from pathlib import Path

from piccolo.conf.apps import AppConfig

from hub.store.tables import TABLES

APP_NAME = "hub"

APP_CONFIG = AppConfig(
    app_name=APP_NAME,
    migrations_folder_path=str(Path(__file__).resolve().parent / "piccolo_migrations"),
    table_classes=list(TABLES),
    migration_dependencies=[],
    commands=[],
)
