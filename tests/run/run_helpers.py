"""Helpers of the `hub run` tests: a real `hub run` subprocess, its environment, polling, the ledger read directly.

A module of its own (not conftest) so test files import it by a unique name: ``from conftest import`` picks
whichever folder's conftest pytest loaded last.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

HUB = Path(sys.executable).parent / "hub"
#: Variables of the caller's environment that would change what `hub run` does; a test sets the ones it wants.
_HUB_VARS = (
    "HUB_CONFIG",
    "DATABASE_URL",
    "REDIS_URL",
    "TWILIO_ACCOUNT_SID",
    "TWILIO_AUTH_TOKEN",
    "TWILIO_WHATSAPP_FROM",
    "TWILIO_MESSAGING_SERVICE_SID",
    "TWILIO_API_BASE_URL",
    "HUB_TRANSPORT",
    "HUB_PUBLIC_URL",
    "HUB_API_KEYS",
    "HUB_RATE_PER_SECOND",
    "HUB_TIMEZONE",
)
#: Seconds a test waits for the server to answer, and for it to exit after SIGTERM.
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 30.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def embedded_server_pid(folder: Path) -> int | None:
    """The pid of the embedded PostgreSQL running on ``folder/.hub/pgdata``, or None when none runs there."""
    pid_file = folder / ".hub" / "pgdata" / "postmaster.pid"
    try:
        pid = int(pid_file.read_text().split()[0])
    except (OSError, IndexError, ValueError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    return pid


class HubRun:
    """One `hub run` process: start, wait until it answers, talk to it, stop it with a signal."""

    def __init__(self, folder: Path, env: dict[str, str], args: list[str]) -> None:
        self.folder = folder
        self.env = env
        self.args = args
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> HubRun:
        self.starts += 1
        out = (self.folder / f"stdout-{self.starts}.txt").open("wb")
        err = (self.folder / f"stderr-{self.starts}.txt").open("wb")
        self.process = subprocess.Popen(
            [str(HUB), "run", "--port", str(self.port), "--log-level", "info", *self.args],
            cwd=self.folder,
            env=self.env,
            stdout=out,
            stderr=err,
        )
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"hub run exited with {self.process.returncode}:\n{self.logs()}")
            try:
                if httpx.get(f"{self.base_url}/healthz", timeout=1.0).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"hub run did not answer within {START_TIMEOUT_S} s:\n{self.logs()}")

    def stop(self, signum: int = signal.SIGTERM) -> int:
        """Send ``signum`` and wait for the exit; returns the exit code."""
        assert self.process is not None
        self.process.send_signal(signum)
        try:
            return self.process.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError(f"hub run did not stop within {STOP_TIMEOUT_S} s:\n{self.logs()}") from None

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def logs(self) -> str:
        return (self.folder / f"stderr-{self.starts}.txt").read_text(errors="replace")[-4000:]

    def stdout(self) -> str:
        return (self.folder / f"stdout-{self.starts}.txt").read_text(errors="replace")

    def get(self, path: str, **kwargs: Any) -> Any:
        response = httpx.get(f"{self.base_url}{path}", timeout=10.0, **kwargs)
        response.raise_for_status()
        return response.json()

    def post(self, path: str, payload: dict[str, Any]) -> Any:
        response = httpx.post(f"{self.base_url}{path}", json=payload, timeout=30.0)
        assert response.status_code == 202, response.text
        return response.json()

    def messages(self, run_id: int) -> list[dict[str, Any]]:
        """Every message of ``run_id`` through ``GET /v1/messages`` (all pages)."""
        items: list[dict[str, Any]] = []
        cursor = None
        while True:
            params: dict[str, Any] = {"run_id": run_id, "limit": 200}
            if cursor:
                params["cursor"] = cursor
            page = self.get("/v1/messages", params=params)
            items += page["items"]
            cursor = page["next_cursor"]
            if not cursor:
                return items


def hub_env(**overrides: str) -> dict[str, str]:
    """The test process's environment without any hub setting, plus ``overrides``."""
    env = {k: v for k, v in os.environ.items() if k not in _HUB_VARS}
    env.update(overrides)
    return env


def wait_for(check: Callable[[], Any], timeout_s: float, what: str, interval_s: float = 0.2) -> Any:
    """Poll ``check`` until it returns something truthy; fail naming ``what`` after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval_s)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


class Ledger:
    """What the database says, read directly (not through the hub): message rows and the sids of status events."""

    def __init__(self, rows: list[tuple[str, str, str | None]], event_sids: set[str]) -> None:
        self.rows = rows
        self.event_sids = event_sids

    def by_status(self, *statuses: str) -> list[tuple[str, str, str | None]]:
        return [row for row in self.rows if row[1] in statuses]

    def rows_per_recipient(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for recipient, _, _ in self.rows:
            counts[recipient] = counts.get(recipient, 0) + 1
        return counts


_ROWS_SQL = "SELECT recipient, status, sid FROM message ORDER BY id"
_EVENTS_SQL = "SELECT DISTINCT sid FROM status_event WHERE sid IS NOT NULL"


def read_ledger(database: str | Path) -> Ledger:
    """Every message row and every sid a status event names, from a ``postgresql://`` URL or the data folder of an
    embedded server (started, or joined, by this process)."""
    import asyncio

    import asyncpg

    from hub.store.embedded import server_url

    database_url = server_url(database) if isinstance(database, Path) else database

    async def fetch() -> Ledger:
        connection = await asyncpg.connect(dsn=database_url)
        try:
            rows = [(r["recipient"], r["status"], r["sid"]) for r in await connection.fetch(_ROWS_SQL)]
            sids = {r["sid"] for r in await connection.fetch(_EVENTS_SQL)}
        finally:
            await connection.close()
        return Ledger(rows, sids)

    return asyncio.run(fetch())
