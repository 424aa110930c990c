"""A `hub worker` frozen with SIGSTOP between its claim and its send, past its lease: another worker takes the row
and sends it; once let go (SIGCONT), the frozen worker sends nothing and writes nothing (SPEC §9, hub.claims).

The worker is stopped while it holds a claimed row it has not sent, at two points: waiting for its send slot (at
one send a second, a row waits about a second for its slot after its claim), and right after its claim, in the
send path's first check (its content template looked up at Twilio, which the fake answers slowly). The freeze
lasts longer than :func:`hub.claims.send_deadline` in real time
(about 31 s with a 1 s Twilio timeout): the worker's clocks keep counting while it is stopped. The sweeper's side
of the takeover (the claim given up after :func:`hub.claims.claim_lease`, the reconcile quarantine) runs with the
harness's shifted clock instead of waiting a minute more. Once let go, the worker waiting for its slot finds the
slot missed past the pacer's block limit and gives the row back; the one stopped in its first check reaches the
last check before the HTTP call, finds its lease over and sends nothing. Every write either tries names its old
claim, so neither changes the row.
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

# The freeze alone lasts past the send deadline (about 31 s of real time): more than the suite's 120 s per test
# leaves on a loaded machine once the stack is built and the run settled.
pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(300)]

TIMEOUT_S = 1.0
RECIPIENTS = 8
#: A row of the run due in an hour: the run stays ``running`` while the frozen worker is let go, so nothing but its
#: lost claim stops it (a finished run would hold the row before the lease check is reached).
LATER = "+14155550199"
#: How long the fake Twilio takes to answer each Content API read while the worker is being stopped, ms (below the
#: client's timeout: the lookup succeeds once the worker goes on).
LOOKUP_MS = 400.0
#: What a worker logs when its lease ran out before the send (actors.row).
LEASE_OVER = "claim lease ran out before the send"
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


def _approved_template(s: Stack) -> str:
    """A template at the fake Twilio, approved; the registry does not know it, so the send path looks it up."""
    import httpx

    from hub.transport.content import ContentClient

    client = ContentClient(s.settings)
    try:
        sid = client.create(friendly_name="notice", language="en", body="Hi {{1}}", variables={"1": "Ada"}).sid
    finally:
        client.close()
    httpx.post(f"{s.fake.url}/_fake/content/{sid}/approval", json={"status": "approved"}, timeout=10).raise_for_status()
    return sid


def _start_run(s: Stack, phones: list[str], content_sid: str | None) -> None:
    from actors.enqueue import enqueue_sends
    from hub.status import RunState
    from hub.store import db
    from hub.store import queries as q

    async def make() -> tuple[int, list[int]]:
        run, _ = await q.create_run(kind="bulk", state=RunState.RUNNING, total=len(phones) + 1)
        if content_sid is None:
            rows = [q.NewMessage(recipient=p, body=f"stopped {i}") for i, p in enumerate(phones)]
        else:
            rows = [q.NewMessage(recipient=p, content_sid=content_sid, content_variables={"1": p}) for p in phones]
        later = q.NewMessage(recipient=LATER, body="later", send_at=datetime.now(UTC) + timedelta(hours=1))
        return run.id, await q.insert_messages(run.id, [*rows, later])

    run_id, ids = db.run_sync(make())
    enqueue_sends(ids[:-1], run_id=run_id, meta={})


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


def _lease_over(s: Stack, name: str) -> int:
    """How many claims worker ``name`` has given up on its last check (its whole log: ``Processes.log`` is a tail)."""
    return (s.folder / f"{name}.log").read_text(errors="replace").count(LEASE_OVER)


def _batch_ended_in_error(s: Stack, name: str) -> bool:
    """Whether worker ``name``'s batch raised (Dramatiq logs it and retries the message)."""
    return "Failed to process message send_batch" in (s.folder / f"{name}.log").read_text(errors="replace")


def _history(s: Stack, ids: list[int]) -> list[dict[str, Any]]:
    return h.fetch(
        s.database_url,
        "SELECT m.id, m.status, m.sid, m.claimed_at, m.attempts, m.error_message, m.updated_at,"
        " (SELECT count(*) FROM status_event e WHERE e.message = m.id) AS events"
        " FROM message m WHERE m.id = ANY($1::bigint[]) ORDER BY m.id",
        ids,
    )


@pytest.mark.parametrize("stopped", ["waiting-for-its-slot", "right-after-its-claim"])
def test_a_worker_stopped_between_claim_and_send_sends_nothing_and_writes_nothing_after_it_lost_the_row(
    stopped: str, chaos_servers: str, report: Callable[[str], None]
) -> None:
    phones = [h.phone(i) for i in range(RECIPIENTS)]
    config: dict[str, Any] = {
        "twilio": {"timeout_seconds": TIMEOUT_S, "reconcile_quarantine_seconds": 5.0},
        "rate_limits": {"per_second": PER_SECOND},
    }
    with stack(chaos_servers, **config) as s:
        content_sid = None
        if stopped == "right-after-its-claim":
            content_sid = _approved_template(s)
            s.fake.configure(content_latency_ms=LOOKUP_MS)  # each row's first check takes this long
        s.start_worker("frozen", threads=2)
        s.wait_consumers(1)
        _start_run(s, phones, content_sid)
        # Given a worker stopped while it holds a claimed row it has not sent
        pids = _freeze_between_claim_and_send(s, "frozen")
        with _frozen(pids):
            s.fake.configure(content_latency_ms=0)
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
        # Then the frozen worker, let go, runs again and finishes what it had in hand
        s.wait_consumers(2)
        if stopped == "right-after-its-claim":  # it goes on to its last check: the lease is what stops it
            # ... unless a read it had in flight when stopped times out on waking (its clocks ran on), which ends
            # the batch before that check: the same guarantee, checked below (tests/actors/test_fenced_claims.py
            # reaches the lease check every time).
            h.wait_for(
                lambda: _lease_over(s, "frozen") >= len(ids) or _batch_ended_in_error(s, "frozen"),
                60,
                "the frozen worker's lease check",
            )
        frozen = s.procs.procs["frozen"]
        frozen.send_signal(signal.SIGTERM)
        frozen.wait(60)  # a clean stop: every send it had started is settled before it exits
        gave_up = _lease_over(s, "frozen")
        # ... and writes nothing: the rows are exactly as the other worker left them
        assert _history(s, ids) == taken
        verdict = _verdict(s, phones)
        report(
            f"worker stopped {stopped}, {(datetime.now(UTC) - stopped_at).total_seconds():.0f} s, holding {len(ids)}"
            f" claimed row(s), {gave_up} given up on its lease check once let go"
            f"{' (its batch ended in error first)' if _batch_ended_in_error(s, 'frozen') else ''}; {verdict.line()}"
        )

        assert verdict.problems == []
        assert (verdict.lost, verdict.duplicates) == (0, 0)
        accepted = s.fake.stats()["accepted_per_recipient"]
        assert all(accepted.get(f"whatsapp:{r['recipient']}") == 1 for r in held)
