"""A `hub worker` frozen with SIGSTOP between its claim and its send, past its lease: another worker takes the row
and sends it; once let go (SIGCONT), the frozen worker sends nothing and writes nothing (SPEC §9, hub.claims).

The worker is stopped while it holds a claimed row it has not sent (at one send a second, a row waits about a
second for its slot after its claim). The freeze lasts longer than :func:`hub.claims.send_deadline` in real time
(about 31 s with a 1 s Twilio timeout): the worker's clocks keep counting while it is stopped. The sweeper's side
of the takeover (the claim given up after :func:`hub.claims.claim_lease`, the reconcile quarantine) runs with the
harness's shifted clock instead of waiting a minute more. Whichever check the frozen worker meets first once let
go (its slot missed past the pacer's block limit, its lease over), every write it tries names its old claim.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from hub.claims import send_deadline
from tests.chaos import harness as h
from tests.chaos.ledger_check import OWED, Verdict, judge
from tests.chaos.stack import STALE_SHIFT, Stack, stack

pytestmark = [pytest.mark.integration, pytest.mark.slow]

TIMEOUT_S = 1.0
RECIPIENTS = 8
#: A row of the run due in an hour: the run stays ``running`` while the frozen worker is let go, so nothing but its
#: lost claim stops it (a finished run would hold the row before the lease check is reached).
LATER = "+14155550199"
#: One send a second: each wave's row is claimed about a second before its slot, the window this test freezes in.
PER_SECOND = 1.0


def _tree(s: Stack, name: str) -> list[int]:
    pid = s.procs.procs[name].pid
    return [pid, *h.descendants(pid)]


def _signal(pids: list[int], signum: signal.Signals) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signum)


@contextlib.contextmanager
def _frozen(pids: list[int]) -> Iterator[None]:
    _signal(pids, signal.SIGSTOP)
    try:
        yield
    finally:
        _signal(pids, signal.SIGCONT)  # never leave a stopped process behind, whatever failed


def _claimed_unsent(s: Stack) -> list[dict[str, Any]]:
    """Rows held ``sending`` whose recipient has no create at the fake Twilio."""
    accepted = s.fake.stats()["accepted_per_recipient"]
    rows = h.fetch(s.database_url, "SELECT id, recipient, claimed_at FROM message WHERE status = 'sending'")
    return [r for r in rows if not accepted.get(f"whatsapp:{r['recipient']}")]


def _freeze_between_claim_and_send(s: Stack, name: str) -> list[int]:
    """SIGSTOP worker ``name`` (and its Dramatiq processes) while it holds a claimed row it has not sent yet.

    Polls the ledger for a ``sending`` row and stops the worker at once; a create already on the wire reaches
    the fake within moments, so when every claimed row has one after 0.5 s the worker is let go and the poll goes on.

    Returns:
        The pids that are stopped (the caller sends SIGCONT).
    """
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if h.fetch(s.database_url, "SELECT 1 FROM message WHERE status = 'sending' LIMIT 1"):
            pids = _tree(s, name)
            _signal(pids, signal.SIGSTOP)
            time.sleep(0.5)
            if _claimed_unsent(s):
                return pids
            _signal(pids, signal.SIGCONT)
        time.sleep(0.01)
    raise AssertionError("the worker never held a claimed row that it had not sent")


def _start_run(s: Stack, phones: list[str]) -> None:
    from hub.store import db
    from hub.store import queries as q

    run_id, _ = s.create_run(phones)
    later = q.NewMessage(recipient=LATER, body="later", send_at=datetime.now(UTC) + timedelta(hours=1))
    db.run_sync(q.insert_messages(run_id, [later]))


def _settled(s: Stack) -> bool:
    """Every row due now is settled (sweeping as the sweeper would, lost rows queued again)."""
    s.sweep()
    rows = h.fetch(s.database_url, "SELECT status FROM message WHERE recipient <> $1", LATER)
    return not any(r["status"] in OWED for r in rows)


def _verdict(s: Stack, phones: list[str]) -> Verdict:
    rows = h.fetch(
        s.database_url,
        "SELECT recipient, status, attempts, sid, error_message FROM message WHERE recipient <> $1",
        LATER,
    )
    accepted = s.fake.stats()["accepted_per_recipient"]
    return judge(phones, rows, accepted, max_retries=s.settings.retries.max_retries)


def _history(s: Stack, ids: list[int]) -> list[dict[str, Any]]:
    return h.fetch(
        s.database_url,
        "SELECT m.id, m.status, m.sid, m.claimed_at, m.attempts, m.error_message, m.updated_at,"
        " (SELECT count(*) FROM status_event e WHERE e.message = m.id) AS events"
        " FROM message m WHERE m.id = ANY($1::bigint[]) ORDER BY m.id",
        ids,
    )


def test_a_worker_stopped_between_claim_and_send_sends_nothing_and_writes_nothing_after_it_lost_the_row(
    chaos_servers: str, report: Callable[[str], None]
) -> None:
    phones = [h.phone(i) for i in range(RECIPIENTS)]
    config: dict[str, Any] = {
        "twilio": {"timeout_seconds": TIMEOUT_S, "reconcile_quarantine_seconds": 5.0},
        "rate_limits": {"per_second": PER_SECOND},
    }
    with stack(chaos_servers, **config) as s:
        s.start_worker("frozen", threads=2)
        s.wait_consumers(1)
        _start_run(s, phones)
        # Given a worker stopped while it holds a claimed row it has not sent
        pids = _freeze_between_claim_and_send(s, "frozen")
        with _frozen(pids):
            stopped_at = datetime.now(UTC)
            # ... for longer than it may still start a send after its claim
            held = _claimed_unsent(s)
            ids = [int(r["id"]) for r in held]
            latest_claim = max(r["claimed_at"] for r in held)
            lease_over = latest_claim + send_deadline(TIMEOUT_S) + timedelta(seconds=1)
            time.sleep(max(0.0, (lease_over - datetime.now(UTC)).total_seconds()))
            # When the sweeper gives its claims up and reconciliation finds nothing at Twilio (shifted clock),
            h.wait_for(
                lambda: s.sweep(STALE_SHIFT) is not None and {r["status"] for r in _history(s, ids)} == {"pending"},
                60,
                "the frozen claims released",
            )
            # and another worker takes the rows and sends them, with the rest of the run
            s.start_worker("other", threads=2)
            s.wait_consumers(1)
            h.wait_for(lambda: _settled(s), 120, "every due row settled")
            taken = _history(s, ids)
            assert {r["status"] for r in taken} == {"queued"}, taken
            assert all(r["claimed_at"] > latest_claim for r in taken), taken
        # Then the frozen worker, let go, runs again (both workers beat) and finishes what it had in hand
        s.wait_consumers(2)
        frozen = s.procs.procs["frozen"]
        frozen.send_signal(signal.SIGTERM)
        frozen.wait(60)  # a clean stop: every send it had started is settled before it exits
        gave_up = s.procs.log("frozen").count("claim lease ran out before the send")
        # ... and writes nothing: the rows are exactly as the other worker left them
        assert _history(s, ids) == taken
        verdict = _verdict(s, phones)
        report(
            f"worker stopped {(datetime.now(UTC) - stopped_at).total_seconds():.0f} s holding {len(ids)} claimed"
            f" row(s), {gave_up} given up on its lease check once let go; {verdict.line()}"
        )
        assert verdict.problems == []
        assert (verdict.lost, verdict.duplicates) == (0, 0)
        accepted = s.fake.stats()["accepted_per_recipient"]
        assert all(accepted.get(f"whatsapp:{r['recipient']}") == 1 for r in held)
