"""Chaos harness: a private Redis, a fresh PostgreSQL database, `hub` subprocesses, the fake Twilio, ledger reads.

Every scenario owns what it breaks: its own ``redis-server`` on a free port (so a restart or FLUSHALL touches no
one else), its own database on the shared PostgreSQL server (dropped afterwards), its own `hub fake-twilio`. Only
processes started here are ever signalled, by pid.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import yaml

from hub.store.scratch import scratch_database

HUB = Path(sys.executable).parent / "hub"
ACCOUNT_SID = "AC" + "0" * 31 + "7"
AUTH_TOKEN = "chaos-auth-token"
FROM = "whatsapp:+14155238886"
#: Valid mobile ranges (unique numbers: prefix + 8 digits), as the benchmarks use.
PREFIXES = ("+49151", "+49176", "+4478", "+336")
#: Variables of the caller's environment that would change what a `hub` child does.
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


def phone(i: int) -> str:
    """The ``i``-th unique valid E.164 number."""
    return f"{PREFIXES[i % len(PREFIXES)]}{i // len(PREFIXES):08d}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_port(port: int, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.05)
    raise AssertionError(f"nothing listens on 127.0.0.1:{port} after {timeout_s} s")


def wait_for(check: Callable[[], Any], timeout_s: float, what: str, interval_s: float = 0.2) -> Any:
    """Poll ``check`` until it returns something truthy; fail naming ``what`` after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval_s)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


# --- processes -------------------------------------------------------------------------------------------------


def descendants(pid: int) -> list[int]:
    """Every live descendant of ``pid`` (children first), read from ``/proc``."""
    out: list[int] = []
    stack = [pid]
    while stack:
        current = stack.pop()
        try:
            tasks = os.listdir(f"/proc/{current}/task")
        except OSError:
            continue
        for task in tasks:
            with contextlib.suppress(OSError), open(f"/proc/{current}/task/{task}/children", encoding="ascii") as fh:
                for child in fh.read().split():
                    out.append(int(child))
                    stack.append(int(child))
    return out


def kill_tree(pid: int) -> None:
    """SIGKILL ``pid`` and every descendant (the Dramatiq worker processes of a `hub worker` included)."""
    for target in [pid, *descendants(pid)]:
        with contextlib.suppress(ProcessLookupError):
            os.kill(target, signal.SIGKILL)


class Processes:
    """`hub` child processes of one scenario, logging to files in ``folder``; all killed on exit."""

    def __init__(self, folder: Path, config: Path) -> None:
        self.folder = folder
        self.config = config
        self.env = {k: v for k, v in os.environ.items() if k not in _HUB_VARS}
        self.env["HUB_CONFIG"] = str(config)
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.starts: dict[str, int] = {}

    def start(self, name: str, args: Sequence[str]) -> subprocess.Popen[bytes]:
        """Start ``hub ARGS`` as ``name`` (replacing a dead process of that name)."""
        self.starts[name] = self.starts.get(name, 0) + 1
        log = (self.folder / f"{name}.log").open("ab")
        log.write(f"\n--- start {self.starts[name]}: hub {' '.join(args)}\n".encode())
        log.flush()
        proc = subprocess.Popen([str(HUB), *args], stdout=log, stderr=subprocess.STDOUT, env=self.env, cwd=self.folder)
        self.procs[name] = proc
        return proc

    def kill(self, name: str) -> None:
        """kill -9 process ``name`` and all it started; reaped."""
        proc = self.procs[name]
        kill_tree(proc.pid)
        proc.wait(10)

    def stop(self, name: str, timeout_s: float = 15.0) -> None:
        proc = self.procs[name]
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.kill(name)

    def log(self, name: str) -> str:
        return (self.folder / f"{name}.log").read_text(errors="replace")[-3000:]

    def close(self) -> None:
        for name in list(self.procs):
            self.kill(name)


class PrivateRedis:
    """A ``redis-server`` of this scenario alone on a free port: restart (data lost) and FLUSHALL are ours."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> PrivateRedis:
        server = shutil.which("redis-server")
        assert server, "redis-server is not installed"
        log = (self.folder / "redis.log").open("ab")
        self.proc = subprocess.Popen(
            [server, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        wait_port(self.port)
        return self

    def crash(self) -> None:
        """kill -9 the server: every queue, delayed message and counter is gone."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def pause(self, seconds: float) -> None:
        """Stop the server (SIGSTOP) for ``seconds``, then let it go on: every client's call hangs meanwhile."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGSTOP)
        try:
            time.sleep(seconds)
        finally:
            self.proc.send_signal(signal.SIGCONT)

    def restart(self, down_s: float = 0.0) -> None:
        self.crash()
        time.sleep(down_s)
        self.start()

    def client(self) -> Any:
        import redis

        return redis.Redis.from_url(self.url)


def private_redis_available() -> bool:
    return shutil.which("redis-server") is not None


# --- databases -------------------------------------------------------------------------------------------------


@contextlib.contextmanager
def fresh_database(admin_url: str) -> Iterator[str]:
    """A new database ``hub_chaos_<random>`` on the server of ``admin_url``, dropped afterwards; yields its URL."""
    with scratch_database(admin_url, "hub_chaos") as url:
        yield url


def fetch(database_url: str, sql: str, *args: Any) -> list[dict[str, Any]]:
    """Rows of ``sql`` read straight from PostgreSQL (not through the hub)."""
    import asyncpg

    async def run() -> list[dict[str, Any]]:
        connection = await asyncpg.connect(dsn=database_url)
        try:
            return [dict(r) for r in await connection.fetch(sql, *args)]
        finally:
            await connection.close()

    return asyncio.run(run())


def status_counts(database_url: str) -> dict[str, int]:
    rows = fetch(database_url, "SELECT status, count(*) AS n FROM message GROUP BY status")
    return {r["status"]: int(r["n"]) for r in rows}


# --- configuration and the fake Twilio -------------------------------------------------------------------------


def write_config(folder: Path, *, database_url: str, redis_url: str, fake_url: str, **extra: Any) -> Path:
    """``folder/config.yaml`` of a hub on these servers talking to the fake Twilio with the real twilio client."""
    config: dict[str, Any] = {
        "database": {"url": database_url},
        "redis": {"url": redis_url},
        "twilio": {
            "account_sid": ACCOUNT_SID,
            "auth_token": AUTH_TOKEN,
            "from": FROM,
            "api_base_url": fake_url,
            "timeout_seconds": 2.0,
        },
        "transport": "twilio",
        "rate_limits": {"per_second": 1000},
        "retries": {"max_retries": 5, "min_backoff_ms": 50, "max_backoff_ms": 400},
    }
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(config.get(key), dict):
            config[key] = {**config[key], **value}
        else:
            config[key] = value
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


class FakeTwilio:
    """A `hub fake-twilio` child process (no callbacks unless asked): its URL, stats and runtime knobs."""

    def __init__(self, procs: Processes, *, callbacks: bool = False, hang_s: float = 6.0) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        args = ["fake-twilio", "--port", str(self.port), "--account-sid", ACCOUNT_SID, "--auth-token", AUTH_TOKEN]
        args += ["--hang-s", str(hang_s), "--callbacks" if callbacks else "--no-callbacks"]
        procs.start("fake-twilio", args)
        wait_port(self.port)

    def stats(self) -> dict[str, Any]:
        return dict(httpx.get(f"{self.url}/_fake/stats", timeout=30).json())

    def messages(self) -> list[dict[str, Any]]:
        return list(httpx.get(f"{self.url}/_fake/messages", timeout=30).json())

    def configure(self, **changes: Any) -> None:
        httpx.post(f"{self.url}/_fake/config", json=changes, timeout=10).raise_for_status()


__all__ = [
    "ACCOUNT_SID",
    "AUTH_TOKEN",
    "FakeTwilio",
    "PrivateRedis",
    "Processes",
    "descendants",
    "fetch",
    "free_port",
    "fresh_database",
    "kill_tree",
    "phone",
    "private_redis_available",
    "status_counts",
    "wait_for",
    "wait_port",
    "write_config",
]
