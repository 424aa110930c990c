"""``hub run`` end to end, as a subprocess: the simulator closes the loop; a SIGTERM loses and repeats nothing."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from run_helpers import HubRun, hub_env, read_ledger, wait_for

OWED = ("pending", "sending")


@dataclass
class Infra:
    """How a test's `hub run` is configured: its environment, extra arguments, and where its ledger is."""

    env: dict[str, str]
    database: str | Path  # a URL, or the embedded server's data folder
    args: list[str] = field(default_factory=list)

    def with_env(self, **extra: str) -> dict[str, str]:
        return {**self.env, **extra}


@pytest.fixture(params=["embedded", "redis-postgres"])
def infra(request: pytest.FixtureRequest, project_dir: Path) -> Infra:
    """Nothing but defaults (embedded PostgreSQL in the cwd, embedded Redis, simulator), or real servers."""
    if request.param == "embedded":
        return Infra(env=hub_env(), database=(project_dir / ".hub" / "pgdata").resolve())
    redis_url: str = request.getfixturevalue("redis_url")
    database_url: str = request.getfixturevalue("empty_database_url")
    namespace: str = request.getfixturevalue("redis_namespace")
    return Infra(
        env=hub_env(DATABASE_URL=database_url, REDIS_URL=redis_url),
        database=database_url,
        args=["--redis-namespace", namespace],
    )


def numbers(n: int) -> list[str]:
    return [f"+1415555{100 + i:04d}" for i in range(n)]


def test_bulk_send_with_the_original_payload_reaches_read_for_every_recipient(
    infra: Infra, hub_run: Callable[..., HubRun]
) -> None:
    # Given a fresh `hub run` with no Twilio credentials (the simulator)
    hub = hub_run(infra.env, infra.args).start()
    # When a client posts the original WhatsApp Hub payload
    result = hub.post("/bulk-send", {"phone_numbers": numbers(10), "message": "Hello from the test"})
    assert result["accepted"] == 10
    run_id = result["run_id"]
    # Then every message goes queued -> sent -> delivered -> read, applied like Twilio's callbacks
    statuses = wait_for(
        lambda: (s := [m["status"] for m in hub.messages(run_id)]) and all(x == "read" for x in s) and s,
        30.0,
        "every message to be read",
    )
    assert statuses == ["read"] * 10
    assert hub.get(f"/v1/runs/{run_id}")["counts"] == {"read": 10}
    history = hub.get(f"/v1/messages/{hub.messages(run_id)[0]['id']}")["history"]
    assert [(h["status"], h["source"]) for h in history] == [
        ("queued", "worker"),
        ("sent", "simulator"),
        ("delivered", "simulator"),
        ("read", "simulator"),
    ]
    assert hub.stop() == 0


def test_sigterm_mid_run_then_restart_sends_every_recipient_exactly_once(
    infra: Infra, hub_run: Callable[..., HubRun]
) -> None:
    # Given a slow sender (10 messages/s) and a bulk send to 30 recipients
    hub = hub_run(infra.with_env(HUB_RATE_PER_SECOND="10"), infra.args).start()
    run_id = hub.post("/bulk-send", {"phone_numbers": numbers(30), "message": "Hi"})["run_id"]
    wait_for(lambda: sum(1 for m in hub.messages(run_id) if m["sid"]) >= 5, 20.0, "the first sends")

    # When the process is stopped with SIGTERM mid-run
    assert hub.stop() == 0
    stopped = read_ledger(infra.database)
    # Then a clean stop leaves no claim behind, and the rest is still owed in the ledger
    assert stopped.by_status("sending") == []
    assert stopped.by_status("pending"), "the run finished before the stop: nothing was proven"

    # When it starts again (with embedded Redis its queue is empty: only the ledger remembers)
    hub.start()
    wait_for(
        lambda: all(m["status"] not in OWED and m["sid"] for m in hub.messages(run_id)),
        30.0,
        "every owed message to be sent after the restart",
    )
    assert hub.stop() == 0

    # Then each recipient has exactly one row, handed over once, and no send the ledger does not know of
    ledger = read_ledger(infra.database)
    assert ledger.rows_per_recipient() == {n: 1 for n in numbers(30)}
    sids = [sid for _, _, sid in ledger.rows]
    assert all(sids) and len(set(sids)) == 30
    assert ledger.event_sids == set(sids)
    assert {status for _, status, _ in ledger.rows} == {"read"}


def test_configured_simulator_failure_rates_end_messages_failed_or_undelivered_with_codes(
    project_dir: Path, hub_run: Callable[..., HubRun]
) -> None:
    # Given a config (through HUB_CONFIG) whose simulator fails 30% and leaves 30% undelivered
    config = project_dir / "sim" / "config.yaml"
    config.parent.mkdir()
    config.write_text(
        "simulator: {failure_rate: 0.3, undelivered_rate: 0.3, step_delay_ms: 50}\n",
        encoding="utf-8",
    )
    hub = hub_run(hub_env(HUB_CONFIG=str(config))).start()
    run_id = hub.post("/bulk-send", {"phone_numbers": numbers(20), "message": "Hi"})["run_id"]
    # When every message has reached a final state
    final = wait_for(
        lambda: (m := hub.messages(run_id)) and all(x["status"] in ("read", "failed", "undelivered") for x in m) and m,
        30.0,
        "every message to end read, failed or undelivered",
    )
    assert hub.stop() == 0
    # Then the mix has failures, each with Twilio's error code, and the ledger sits beside the config
    failed = [m for m in final if m["status"] != "read"]
    assert failed, "with 60% failure rates, 20 messages all read is a 1-in-10^8 event"
    assert all(m["error_code"] for m in failed)
    assert (config.parent / ".hub" / "pgdata" / "PG_VERSION").is_file()
