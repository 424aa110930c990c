"""An expected failure ends a command with one line saying what to fix, never a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from cli_project import Project


def _one_line(stderr: str) -> str:
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    return lines[0]


def test_status_before_the_schema_exists_says_to_migrate(
    project: Project, empty_database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", empty_database_url)
    result = project.hub("status")
    assert result.exit_code == 1
    assert _one_line(result.stderr).endswith(
        "has no hub tables yet: run `hub db migrate` (or start `hub run`, which does)"
    )


def test_status_with_an_unreachable_database_names_it_and_what_to_check(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://hub:secret@127.0.0.1:1/hub")
    result = project.hub("status")
    assert result.exit_code == 1
    assert _one_line(result.stderr) == (
        "error: cannot reach the database at postgresql://hub:***@127.0.0.1:1/hub: connection refused; "
        "is it running? check DATABASE_URL (or database.url in config.yaml)"
    )


def test_a_database_that_does_not_exist_says_to_create_it(
    project: Project, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", urlunsplit(urlsplit(postgres_url)._replace(path="/hub_no_such_db")))
    result = project.hub("status")
    assert result.exit_code == 1
    assert 'database "hub_no_such_db" does not exist' in _one_line(result.stderr)


@pytest.mark.parametrize(
    ("region", "written", "e164"),
    [("US", "415-555-0101", "+14155550101"), ("DE", "0176 1234-5678", "+4917612345678")],
)
def test_render_to_a_national_number_uses_the_default_region(
    project: Project, region: str, written: str, e164: str
) -> None:
    project.write("config.yaml", f"phones: {{default_region: {region}}}\n")
    project.write(
        "campaigns/hi.yaml", f"body: 'Hi {{{{ n }}}}'\naudience: {{recipients: [{{phone: '{e164}', n: A}}]}}\n"
    )
    result = project.hub("render", "hi", "--to", written)
    assert (result.exit_code, result.stdout.splitlines()[0]) == (0, f"to {e164}")


def test_render_to_a_national_number_without_a_default_region_says_what_to_set(project: Project) -> None:
    project.write("config.yaml", "{}\n")
    project.write("campaigns/hi.yaml", "body: 'Hi {{ n }}'\naudience: {recipients: [{phone: '+14155550101', n: A}]}\n")
    result = project.hub("render", "hi", "--to", "415-555-0101")
    assert result.exit_code == 2
    assert "no country code: write +CC or set phones.default_region" in result.stderr


@pytest.mark.parametrize("command", [["status"], ["runs", "list"], ["export", "1"]])
def test_reading_commands_before_any_database_say_so_and_create_none(project: Project, command: list[str]) -> None:
    result = project.hub(*command)  # database.url defaults to the embedded server
    assert result.exit_code == 1
    assert _one_line(result.stderr).startswith("error: no database yet (embedded PostgreSQL in ")
    assert not (project.root / ".hub").exists()


def test_status_on_the_embedded_database_ends_without_a_traceback(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text("{}\n", encoding="utf-8")
    hub = [str(Path(sys.executable).parent / "hub"), "--config", str(tmp_path / "config.yaml")]
    migrated = subprocess.run([*hub, "db", "migrate"], capture_output=True, text=True, timeout=120, check=False)
    status = subprocess.run([*hub, "status"], capture_output=True, text=True, timeout=120, check=False)
    assert migrated.returncode == 0, migrated.stderr
    assert (status.returncode, status.stdout, status.stderr) == (0, "no runs yet\n", "")
