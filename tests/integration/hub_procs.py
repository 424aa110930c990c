"""Integration harness: `hub` commands as subprocesses on the real Redis and PostgreSQL, with the fake Twilio."""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis
import yaml

import actors
from hub.config import Settings, load_settings
from hub.faketwilio import FakeTwilioHandle
from hub.status import MessageStatus, RunState
from hub.store import db
from hub.store import queries as q

HUB = str(Path(sys.executable).parent / "hub")
#: Environment variables that would override the test's config file in a child process.
_OVERRIDES = ("DATABASE_URL", "REDIS_URL", "HUB_", "TWILIO_")


def wait_for(condition: Callable[[], bool], *, timeout_s: float, what: str | Callable[[], str]) -> None:
    """Poll ``condition`` every 50 ms until it holds; fail naming ``what`` after ``timeout_s`` (a callable is
    read then, so the processes' logs it shows are those of the failure)."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(
                f"timed out after {timeout_s} s waiting for {what if isinstance(what, str) else what()}"
            )
        time.sleep(0.05)


@dataclass
class Deployment:
    """A project folder (config.yaml, campaigns/) whose `hub` processes share this test's database and Redis.

    Attributes:
        root: the project folder.
        settings: the same settings the children load (with a unique ``redis.namespace``).
        fake: the fake Twilio every child sends to.
    """

    root: Path
    settings: Settings
    fake: FakeTwilioHandle
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def config(self) -> Path:
        return self.root / "config.yaml"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(_OVERRIDES)}
        env["TWILIO_AUTH_TOKEN"] = self.fake.auth_token  # secrets come from the environment
        return env

    def start(self, *args: str) -> subprocess.Popen[bytes]:
        """Start ``hub --config CONFIG ARGS...`` in its own process group (so a kill reaches its children)."""
        log = open(self.root / f"{args[0]}-{len(self.procs)}.log", "wb")  # noqa: SIM115 (closed with the process)
        proc = subprocess.Popen(
            [HUB, "--config", str(self.config), *args],
            cwd=self.root,
            env=self.env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.procs.append(proc)
        return proc

    def run(self, *args: str, timeout_s: float = 20) -> str:
        """Run a `hub` command to completion; its output (fails the test on a non-zero exit)."""
        done = subprocess.run(
            [HUB, "--config", str(self.config), *args],
            cwd=self.root,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=timeout_s,
        )
        assert done.returncode == 0, f"hub {' '.join(args)} failed: {done.stdout}{done.stderr}"
        return done.stdout + done.stderr

    def kill(self, proc: subprocess.Popen[bytes]) -> float:
        """SIGKILL the process and every process under it (a machine losing power, for the worker).

        `hub worker` runs Dramatiq in a session of its own that stops cleanly (SIGTERM) when its parent dies, so
        a kill of the worker's group alone would let Dramatiq finish its sends and give back its claims: every
        process of the tree is stopped first (none reacts to another's death), then killed.

        Returns:
            The epoch time (seconds) by which every one of them was dead: nothing they sent is later than that.
        """
        tree = [proc.pid, *_descendants(proc.pid)]
        for sig in (signal.SIGSTOP, signal.SIGKILL):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, sig)
            for pid in tree:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, sig)
        proc.wait(timeout=10)
        deadline = time.monotonic() + 10
        while any(_alive(pid) for pid in tree[1:]):
            if time.monotonic() > deadline:
                raise AssertionError(f"processes under {proc.pid} survived SIGKILL")
            time.sleep(0.01)
        return time.time()

    def stop_all(self) -> None:
        """Kill every process still running (a clean shutdown proves nothing here and costs seconds)."""
        for proc in self.procs:
            if proc.poll() is None:
                self.kill(proc)

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}" for p in self.root.glob("*.log"))

    # The ledger, read and written from the test process.

    def owed_run(self, phones: list[str], **run: Any) -> tuple[int, list[int]]:
        """A running run with one owed row per phone; its sends enqueued on the deployment's broker."""

        async def make() -> tuple[int, list[int]]:
            record, _ = await q.create_run(state=RunState.RUNNING, **run)
            ids = await q.insert_messages(record.id, [q.NewMessage(recipient=p, body="hello") for p in phones])
            return record.id, ids

        run_id, ids = db.run_sync(make())
        actors.enqueue_sends(ids, run_id=run_id, meta=run.get("meta"))
        return run_id, ids

    def rows(self, run_id: int) -> list[q.MessageRecord]:
        items, cursor = db.run_sync(q.list_messages(run_id=run_id, limit=1000))
        assert cursor is None
        return items

    def count(self, run_id: int, *statuses: MessageStatus) -> int:
        return sum(1 for row in self.rows(run_id) if row.status in statuses)

    def creates(self) -> list[dict[str, Any]]:
        """Creates the fake answered with a message, in arrival order (``at``: epoch seconds)."""
        return [m for m in self.fake.messages() if m["outcome"] != "error"]

    def creates_per_phone(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for create in self.creates():
            phone = create["to"].removeprefix("whatsapp:")
            counts[phone] = counts.get(phone, 0) + 1
        return counts


def _parent_of(stat: str) -> int:
    return int(stat.rsplit(")", 1)[1].split()[1])


def _descendants(pid: int) -> list[int]:
    """Every live process under ``pid`` (from /proc), parents before their children."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, ValueError, IndexError):
                children.setdefault(_parent_of((entry / "stat").read_text()), []).append(int(entry.name))
    found: list[int] = []
    pending = [pid]
    while pending:
        for child in children.get(pending.pop(), []):
            found.append(child)
            pending.append(child)
    return found


def _alive(pid: int) -> bool:
    """Whether ``pid`` still runs (a zombie has only its exit status left to be read)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def deployment(
    tmp_path: Path, pg_settings: Settings, redis_url: str, fake: FakeTwilioHandle, *, per_second: float
) -> Iterator[Deployment]:
    """Write the project folder, set the actors up on it in this process, and clean up Redis afterwards."""
    namespace = f"hubit-{secrets.token_hex(4)}"
    config = {
        "database": {"url": pg_settings.database.url},
        "redis": {"url": redis_url, "namespace": namespace},
        "transport": "twilio",
        "twilio": {
            "account_sid": fake.account_sid,
            "from": "whatsapp:+14155238886",
            "api_base_url": fake.base_url,
            "timeout_seconds": 2,
        },
        "rate_limits": {"per_second": per_second},
        "retries": {"min_backoff_ms": 50, "max_backoff_ms": 200},
        "timezone": "UTC",
    }
    (tmp_path / "campaigns").mkdir()
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    settings = load_settings(tmp_path / "config.yaml", env={"TWILIO_AUTH_TOKEN": fake.auth_token})
    actors.setup(settings)
    deploy = Deployment(tmp_path, settings, fake)
    try:
        yield deploy
    finally:
        deploy.stop_all()
        client = redis.Redis.from_url(redis_url)
        keys = list(client.scan_iter(match=f"{namespace}:*", count=1000))
        if keys:
            client.delete(*keys)


__all__ = ["Deployment", "deployment", "wait_for"]
