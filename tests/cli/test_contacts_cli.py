"""``hub contacts import FILE`` (ledger on PostgreSQL)."""

from __future__ import annotations

from cli_project import Project

from hub.config import Settings
from hub.store import db, queries
from hub.store.db import run_sync


def test_contacts_import_writes_each_row_and_lists_the_refused(project: Project, pg_settings: Settings) -> None:
    project.write("config.yaml", f"phones: {{default_region: DE}}\ndatabase: {{url: '{pg_settings.database.url}'}}\n")
    path = project.write("audiences/contacts.csv", "phone,tags,tier\n015112345678,vip,gold\nnope,,\n")

    result = project.hub("contacts", "import", str(path))

    assert (result.exit_code, result.stdout) == (1, "imported 1, refused 1\n")
    assert "contacts.csv:3: nope:" in result.stderr
    run_sync(db.connect(pg_settings))  # the command's connection ended with it
    found = run_sync(queries.read_contact("+4915112345678"))
    assert found is not None and (found.attributes, found.tags) == ({"tier": "gold"}, ["vip"])
