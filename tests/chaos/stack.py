"""One chaos stack: private Redis, fresh database, `hub fake-twilio`, `hub worker` processes, and this process
connected to the same ledger and queues (to create runs, sweep, and read the verdict)."""

from __future__ import annotations

import contextlib
import random
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import dramatiq

from tests.chaos import harness as h
from tests.chaos.ledger_check import Verdict, judge
from tests.chaos.proxy import CuttableProxy, proxy_for, through

#: Sweeps run this far in the future so rows idle for a moment count as lost (the sweeper's 30 s idle rule).
REQUEUE_SHIFT = timedelta(seconds=31)
#: ... and this far to give up on ``sending`` claims of dead workers (2 x Twilio timeout + 60 s, timeout 2 s).
STALE_SHIFT = timedelta(seconds=70)


class Stack:
    """Everything of one scenario; build it with :func:`stack`."""

    def __init__(
        self, folder: Path, redis: h.PrivateRedis, database_url: str, *, proxy: CuttableProxy | None, **config: Any
    ) -> None:
        import msgspec

        from hub.config import load_settings

        self.folder = folder
        self.proxy = proxy
        self.redis = redis
        self.database_url = database_url
        self.procs = h.Processes(folder, folder / "config.yaml")
        self.fake = h.FakeTwilio(self.procs, hang_s=config.pop("hang_s", 6.0))
        # The hub's processes reach the database through the proxy when there is one; this process directly.
        child_url = database_url if proxy is None else through(database_url, proxy)
        self.config_path = h.write_config(
            folder, database_url=child_url, redis_url=redis.url, fake_url=self.fake.url, **config
        )
        settings = load_settings(self.config_path, env={})
        self.settings = msgspec.structs.replace(
            settings, database=msgspec.structs.replace(settings.database, url=database_url)
        )
        self.workers: list[str] = []
        self.broker: dramatiq.Broker | None = None

    # --- this process ----------------------------------------------------------------------------------------

    def connect(self) -> None:
        """Migrate the ledger and put this process's actors on the stack's Redis (namespace ``hub``, as workers)."""
        import actors
        from hub.store import db

        db.run_sync(db.migrate(self.settings))
        db.run_sync(db.connect(self.settings))
        self.broker = actors.setup(self.settings)

    def create_run(self, phones: list[str], *, body: str = "chaos {i}") -> tuple[int, list[int]]:
        """A running bulk run with one owed row per phone, its sends enqueued; (run id, row ids)."""
        from actors.enqueue import enqueue_sends
        from hub.status import RunState
        from hub.store import db
        from hub.store import queries as q

        async def make() -> tuple[int, list[int]]:
            run, _ = await q.create_run(kind="bulk", state=RunState.RUNNING, total=len(phones))
            rows = [q.NewMessage(recipient=p, body=body.format(i=i)) for i, p in enumerate(phones)]
            return run.id, await q.insert_messages(run.id, rows)

        run_id, ids = db.run_sync(make())
        enqueue_sends(ids, run_id=run_id, meta={})
        return run_id, ids

    def sweep(self, shift: timedelta = REQUEUE_SHIFT) -> Any:
        from actors.sweep import requeue_dead_workers, sweep

        assert self.broker is not None
        # The same recovery the worker's sweeper runs, with a shorter dead-worker heartbeat (3 s, not 60 s).
        requeue_dead_workers(self.broker, heartbeat_timeout_ms=3000)
        return sweep(self.settings, datetime.now(UTC) + shift, broker=self.broker)

    def settle(self, stall_s: float = 60.0, timeout_s: float = 1800.0) -> dict[str, int]:
        """Sweep until no row is owed; ``sending`` claims quiet for 4 s are given up as ``unknown``.

        Fails when the ledger stops changing for ``stall_s`` seconds with rows still owed, or after ``timeout_s``.

        Returns:
            The ledger's counts per status at the end.
        """
        deadline = time.monotonic() + timeout_s
        last: dict[str, int] = {}
        changed = time.monotonic()
        while time.monotonic() < deadline and time.monotonic() - changed < stall_s:
            counts = h.status_counts(self.database_url)
            if not counts.get("pending") and not counts.get("sending"):
                return counts
            if counts != last:
                last, changed = counts, time.monotonic()
            quiet = time.monotonic() - changed > 4.0
            self.sweep(STALE_SHIFT if quiet and counts.get("sending") else REQUEUE_SHIFT)
            time.sleep(0.5)
        raise AssertionError(f"ledger not settled (no change for {stall_s} s, or {timeout_s} s in all): {last}")

    def verdict(self, phones: list[str], **kwargs: Any) -> Verdict:
        rows = h.fetch(self.database_url, "SELECT recipient, status, attempts, sid, error_message FROM message")
        accepted = self.fake.stats()["accepted_per_recipient"]
        return judge(phones, rows, accepted, max_retries=self.settings.retries.max_retries, **kwargs)

    # --- workers ---------------------------------------------------------------------------------------------

    def start_worker(self, name: str, *, threads: int = 8) -> None:
        self.procs.start(name, ["worker", "-p", "1", "-t", str(threads), "--no-sweep", "--log-level", "warning"])
        if name not in self.workers:
            self.workers.append(name)

    def wait_consumers(self, count: int, timeout_s: float = 60.0) -> None:
        """Until ``count`` worker processes beat on the queues (Dramatiq's heartbeats)."""
        client = self.redis.client()
        try:
            h.wait_for(
                lambda: client.zcount("hub:__heartbeats__", (time.time() - 2) * 1000, "+inf") >= count,
                timeout_s,
                f"{count} worker heartbeats",
            )
        finally:
            client.close()

    def kill_random_worker(self, rng: random.Random) -> str:
        """kill -9 one `hub worker` (and its Dramatiq processes) and start it again; returns its name."""
        name = rng.choice(self.workers)
        self.procs.kill(name)
        self.start_worker(name)
        return name

    def close(self) -> None:
        self.procs.close()


def restore_actors() -> None:
    """Put the actors back on an unconnected broker and forget the ledger binding (other tests set up their own)."""
    import actors
    from actors.broker import placeholder_broker
    from hub.store import db

    broker = placeholder_broker()
    for actor in actors.ACTORS:
        actor.broker = broker
        broker.declare_actor(actor)
    dramatiq.set_broker(broker)
    with contextlib.suppress(Exception):
        db.reset()


@contextlib.contextmanager
def stack(admin_url: str, *, proxy: bool = False, **config: Any) -> Iterator[Stack]:
    """A connected :class:`Stack` on a fresh database of ``admin_url``'s server; everything stopped after.

    Args:
        admin_url: PostgreSQL URL of a database to connect to for CREATE/DROP DATABASE.
        proxy: the hub's processes reach PostgreSQL through a :class:`CuttableProxy` (``Stack.proxy``).
        **config: config.yaml sections merged over :func:`harness.write_config`'s, and ``hang_s`` for the fake.
    """
    folder = Path(tempfile.mkdtemp(prefix="hub-chaos-"))
    redis = h.PrivateRedis(folder).start()
    cuttable = proxy_for(admin_url) if proxy else None
    try:
        with h.fresh_database(admin_url) as database_url:
            built = Stack(folder, redis, database_url, proxy=cuttable, **config)
            try:
                built.connect()
                yield built
            finally:
                built.close()
                restore_actors()
    finally:
        redis.crash()
        if cuttable is not None:
            cuttable.close()


__all__ = ["REQUEUE_SHIFT", "STALE_SHIFT", "Stack", "restore_actors", "stack"]
