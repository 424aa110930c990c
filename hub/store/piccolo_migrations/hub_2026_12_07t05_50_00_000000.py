from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import BigSerial, Timestamptz, Varchar
from piccolo.columns.indexes import IndexMethod

ID = "2026-12-07T05:50:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "campaign schedules: since when each schedule has been seen"


def _params(**overrides: object) -> dict[str, object]:
    params: dict[str, object] = {
        "null": False,
        "primary_key": False,
        "unique": False,
        "index": False,
        "index_method": IndexMethod.btree,
        "choices": None,
        "db_column_name": None,
        "secret": False,
    }
    params.update(overrides)
    return params


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="hub", description=DESCRIPTION)
    table = {"table_class_name": "CampaignSchedule", "tablename": "campaign_schedule", "schema": None}
    manager.add_table(class_name="CampaignSchedule", tablename="campaign_schedule", schema=None, columns=None)
    manager.add_column(
        **table,
        column_name="id",
        db_column_name="id",
        column_class_name="BigSerial",
        column_class=BigSerial,
        params=_params(primary_key=True),
    )
    manager.add_column(
        **table,
        column_name="campaign",
        db_column_name="campaign",
        column_class_name="Varchar",
        column_class=Varchar,
        params=_params(length=100, default="", unique=True),
    )
    manager.add_column(
        **table,
        column_name="fingerprint",
        db_column_name="fingerprint",
        column_class_name="Varchar",
        column_class=Varchar,
        params=_params(length=64, default=""),
    )
    manager.add_column(
        **table,
        column_name="seen_since",
        db_column_name="seen_since",
        column_class_name="Timestamptz",
        column_class=Timestamptz,
        params=_params(default=None),
    )
    return manager
