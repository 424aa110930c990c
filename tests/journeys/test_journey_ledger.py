"""Journeys in the ledger (PostgreSQL): entries, timers as rows, events through triggers, sends as message rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
import pytest

from actors.journeys import advance_batch, enter_audience
from hub.campaigns.loader import load_campaign
from hub.config import Settings
from hub.journeys.spec_cache import SpecCache
from hub.status import RunState
from hub.store import journeys, queries
from hub.store.db import current_engine, run_sync, transaction
from hub.store.records import InboundRecord, NewMessage, RunRecord

REMIND = """\
name: remind
audience:
  recipients:
    - {phone: "+4915112345678", first_name: Ada}
    - {phone: "+4915112345679", first_name: Bo}
exit_when: [opted_out]
steps:
  - id: remind
    send: {body: "Hi {{ first_name }}, see you tomorrow"}
  - id: wait-reply
    wait_for: [replied, read]
    timeout: 24h
    on: {replied: confirm, read: end, timeout: nudge}
  - id: nudge
    send: {body: "Still coming, {{ first_name }}?"}
    next: end
  - id: confirm
    send: {body: "Thanks, {{ first_name }}!"}
"""
ADA, BO = "+4915112345678", "+4915112345679"


def _after_entries_are_written() -> datetime:
    """An instant after a test's entries are written: they are due from the moment they enter, by the wall clock."""
    return datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(minutes=2)


T0 = _after_entries_are_written()


@pytest.fixture(autouse=True)
def _t0_from_this_test_on() -> None:
    """T0 taken when each test starts, not when the module was imported: a long suite reaches this file minutes
    after collection, when an import-time T0 has passed and the entries are due only after it."""
    global T0
    T0 = _after_entries_are_written()


def sql(text: str, *args: object) -> list[dict]:
    return run_sync(current_engine().fetch(text, list(args)))


class Journey:
    """A running journey run on the test database, advanced by hand at chosen instants."""

    def __init__(self, settings: Settings, root: Path, text: str = REMIND) -> None:
        (root / "campaigns").mkdir(exist_ok=True)
        (root / "templates").mkdir(exist_ok=True)
        self.path = root / "campaigns" / "remind.yaml"
        self.path.write_text(text, encoding="utf-8")
        self.settings = Settings(
            database=settings.database,
            root=root,
            paths=type(settings.paths)(campaigns=root / "campaigns", templates=root / "templates"),
        )
        self.enqueued: list[int] = []
        self.cache = SpecCache(self.settings)
        run, _ = run_sync(queries.create_run(campaign="remind", state=RunState.RUNNING))
        self.run: RunRecord = run
        enter_audience(run, load_campaign(self.path, self.settings), self.settings)

    def advance(self, at: datetime) -> int:
        def enqueue(run: RunRecord, ids: list[int]) -> None:
            self.enqueued.extend(ids)

        total = 0
        while moved := advance_batch(self.settings, self.cache, at, enqueue):
            total += moved
        return total

    def bodies(self, phone: str) -> list[str]:
        rows = sql("SELECT body FROM message WHERE run = $1 AND recipient = $2 ORDER BY id", self.run.id, phone)
        return [row["body"] for row in rows]

    def entry(self, phone: str) -> dict:
        return sql("SELECT * FROM journey_entry WHERE run = $1 AND recipient = $2", self.run.id, phone)[0]

    def path_of(self, phone: str) -> list[tuple[str, str]]:
        rows = sql(
            "SELECT p.step, p.outcome FROM journey_path p JOIN journey_entry e ON e.id = p.entry"
            " WHERE e.run = $1 AND e.recipient = $2 ORDER BY p.id, p.n",
            self.run.id,
            phone,
        )
        return [(row["step"], row["outcome"]) for row in rows]

    def status(self, phone: str, body_start: str, status: str) -> None:
        sql(
            "UPDATE message SET status = $3 WHERE run = $1 AND recipient = $2 AND body LIKE $4",
            self.run.id,
            phone,
            status,
            body_start + "%",
        )

    def reply(self, phone: str, at: datetime, sid: str = "SM1") -> None:
        run_sync(queries.record_inbound(InboundRecord(sid=sid, from_phone=phone, to="+1", body="yes", received_at=at)))


@pytest.fixture
def journey(pg_settings: Settings, tmp_path: Path) -> Journey:
    return Journey(pg_settings, tmp_path)


def test_entering_takes_the_first_steps_and_hands_the_message_to_the_send_path(journey: Journey) -> None:
    journey.advance(T0)
    assert journey.bodies(ADA) == ["Hi Ada, see you tomorrow"]
    entry = journey.entry(ADA)
    assert (entry["step"], entry["phase"], entry["due_at"]) == ("wait-reply", "awaiting", T0 + timedelta(hours=24))
    owed = sql("SELECT id FROM message WHERE run = $1 AND status = 'pending' ORDER BY id", journey.run.id)
    assert sorted(journey.enqueued) == [row["id"] for row in owed] and len(owed) == 2


def test_a_reply_takes_its_branch_through_the_inbound_webhook_row(journey: Journey) -> None:
    journey.advance(T0)
    journey.reply(ADA, T0 + timedelta(hours=1))
    journey.advance(T0 + timedelta(hours=1))
    assert journey.bodies(ADA) == ["Hi Ada, see you tomorrow", "Thanks, Ada!"]
    assert journey.bodies(BO) == ["Hi Bo, see you tomorrow"]
    assert ("wait-reply", "replied") in journey.path_of(ADA)
    assert journey.entry(ADA)["active"] is False


def test_a_read_status_takes_its_branch(journey: Journey) -> None:
    journey.advance(T0)
    journey.status(ADA, "Hi Ada", "read")
    journey.advance(T0 + timedelta(hours=1))
    assert journey.bodies(ADA) == ["Hi Ada, see you tomorrow"]
    assert journey.entry(ADA)["outcome"] == "completed"
    assert ("wait-reply", "read") in journey.path_of(ADA)


def test_the_timeout_fires_once_when_due(journey: Journey) -> None:
    journey.advance(T0)
    journey.advance(T0 + timedelta(hours=23))
    assert journey.bodies(ADA) == ["Hi Ada, see you tomorrow"]
    journey.advance(T0 + timedelta(hours=24))
    journey.advance(T0 + timedelta(hours=25))
    assert journey.bodies(ADA) == ["Hi Ada, see you tomorrow", "Still coming, Ada?"]
    assert journey.entry(ADA)["due_at"] is None


def test_the_first_of_a_reply_and_its_timeout_wins(journey: Journey) -> None:
    journey.advance(T0)
    journey.reply(ADA, T0 + timedelta(hours=23, minutes=59))
    journey.advance(T0 + timedelta(hours=25))  # both are there: the timer batch runs first, then the event
    bodies = journey.bodies(ADA)
    assert bodies[0] == "Hi Ada, see you tomorrow"
    assert len(bodies) == 2 and bodies[1] in ("Still coming, Ada?", "Thanks, Ada!")


def test_exit_when_ends_the_entry_and_drops_its_timer(journey: Journey) -> None:
    journey.advance(T0)
    run_sync(queries.set_opt_out(ADA, source="keyword"))
    journey.advance(T0 + timedelta(hours=1))
    entry = journey.entry(ADA)
    assert (entry["active"], entry["due_at"], entry["outcome"]) == (False, None, "exit:opted_out")
    journey.advance(T0 + timedelta(hours=30))
    assert journey.bodies(ADA) == ["Hi Ada, see you tomorrow"]


def test_a_paused_run_keeps_its_timers_until_resumed(journey: Journey) -> None:
    journey.advance(T0)
    run_sync(queries.set_run_state(journey.run.id, RunState.PAUSED))
    journey.advance(T0 + timedelta(hours=30))
    assert journey.bodies(ADA) == ["Hi Ada, see you tomorrow"]
    run_sync(queries.set_run_state(journey.run.id, RunState.RUNNING))
    journey.advance(T0 + timedelta(hours=30))
    assert journey.bodies(ADA) == ["Hi Ada, see you tomorrow", "Still coming, Ada?"]


def test_canceling_the_run_ends_its_entries(journey: Journey) -> None:
    journey.advance(T0)
    run_sync(queries.cancel_run(journey.run.id))
    entry = journey.entry(ADA)
    assert (entry["active"], entry["due_at"], entry["outcome"]) == (False, None, "canceled")


def test_the_run_keeps_the_text_it_started_with(journey: Journey) -> None:
    journey.path.write_text(REMIND.replace("Still coming", "Edited"), encoding="utf-8")
    journey.advance(T0)
    journey.advance(T0 + timedelta(hours=25))
    assert journey.bodies(ADA)[-1] == "Still coming, Ada?"


def test_entering_again_creates_no_second_entry_while_one_is_active(journey: Journey) -> None:
    enter_audience(journey.run, load_campaign(journey.path, journey.settings), journey.settings)
    count = sql("SELECT count(*) AS n FROM journey_entry WHERE run = $1", journey.run.id)[0]["n"]
    assert count == 2


def test_the_run_finishes_only_once_every_entry_ended_and_nothing_is_owed(journey: Journey) -> None:
    journey.advance(T0)
    sql("UPDATE message SET status = 'delivered' WHERE run = $1", journey.run.id)
    assert run_sync(queries.finish_if_done(journey.run.id)) is False  # nothing owed, but both entries wait
    journey.advance(T0 + timedelta(hours=25))
    sql("UPDATE message SET status = 'delivered' WHERE run = $1", journey.run.id)
    assert run_sync(queries.finish_if_done(journey.run.id)) is True


def test_an_event_before_the_first_steps_is_applied_after_them(journey: Journey) -> None:
    run_sync(queries.set_opt_out(ADA, source="keyword"))  # queued while the entry is still entering
    journey.advance(T0)
    entry = journey.entry(ADA)
    assert (entry["active"], entry["outcome"]) == (False, "exit:opted_out")
    assert journey.path_of(ADA)[0] == ("remind", "sent")  # the send path then skips the opted-out contact


def test_a_run_whose_pinned_journey_no_longer_loads_is_paused_not_spun(journey: Journey) -> None:
    sql(
        "UPDATE run SET meta = jsonb_set(meta::jsonb, '{journey,text}', '\"steps: [\"')::json WHERE id = $1",
        journey.run.id,
    )
    journey.advance(T0)
    assert run_sync(queries.get_run(journey.run.id)).state == RunState.PAUSED
    assert journey.bodies(ADA) == []
    assert journey.entry(ADA)["phase"] == "entering"  # still owed its first steps once someone fixes it


def test_a_batch_with_an_entry_changed_since_it_was_read_writes_nothing(journey: Journey) -> None:
    async def save_with_a_stale_version() -> None:
        async with transaction():
            claimed = await journeys.claim_due(T0, 10)
            saves = [
                journeys.EntrySave(
                    entry=msgspec.structs.replace(entry, version=entry.version + (entry.recipient == BO)),
                    step="end",
                    phase="ended",
                    reached_at=T0,
                    due_at=None,
                    seen=[],
                    outcome="completed",
                    path=[("remind", T0, "sent", None)],
                    messages=[(0, NewMessage(recipient=entry.recipient, body="hi"))],
                )
                for entry in claimed
            ]
            await journeys.save_entries(saves, now=T0)

    with pytest.raises(journeys.ChangedMeanwhile):
        run_sync(save_with_a_stale_version())
    assert journey.bodies(ADA) == [] and journey.path_of(ADA) == []
    assert journey.entry(ADA)["phase"] == "entering"
    journey.advance(T0)  # claimed again, as if nothing had happened
    assert journey.bodies(ADA) == ["Hi Ada, see you tomorrow"]


def _enter_again(journey: Journey, at: datetime, **reentry: Any) -> list[int]:
    return run_sync(
        journeys.insert_entries(
            journey.run.id, "remind", "remind", [journeys.NewEntry(recipient=ADA)], now=at, **reentry
        )
    )


def _end(journey: Journey, at: datetime) -> None:
    sql("UPDATE journey_entry SET active = false, phase = 'ended', ended_at = $2 WHERE run = $1", journey.run.id, at)


def test_without_reentry_a_recipient_enters_again_once_its_entry_ended(journey: Journey) -> None:
    assert _enter_again(journey, T0) == []  # still active
    _end(journey, T0)
    assert len(_enter_again(journey, T0 + timedelta(seconds=1))) == 1


def test_reentry_never_keeps_a_recipient_out_after_its_entry_ended(journey: Journey) -> None:
    _end(journey, T0)
    assert _enter_again(journey, T0 + timedelta(days=400), never_again=True) == []


def test_reentry_after_a_duration_lets_the_recipient_in_only_once_it_passed(journey: Journey) -> None:
    _end(journey, T0)
    hour = {"reenter_after_s": 3600.0}
    assert _enter_again(journey, T0 + timedelta(minutes=59), **hour) == []
    assert len(_enter_again(journey, T0 + timedelta(minutes=61), **hour)) == 1


def test_a_reply_to_a_run_paused_for_its_broken_journey_waits_for_the_run(journey: Journey) -> None:
    journey.advance(T0)
    pinned = sql("SELECT meta::text AS meta FROM run WHERE id = $1", journey.run.id)[0]["meta"]
    sql(
        "UPDATE run SET meta = jsonb_set(meta::jsonb, '{journey,text}', '\"steps: [\"')::json WHERE id = $1",
        journey.run.id,
    )
    journey.cache = SpecCache(journey.settings)  # a worker that has not read the run yet
    journey.reply(ADA, T0 + timedelta(hours=1))
    journey.advance(T0 + timedelta(hours=1))
    assert run_sync(queries.get_run(journey.run.id)).state == RunState.PAUSED
    sql("UPDATE run SET meta = $2::json WHERE id = $1", journey.run.id, pinned)  # fixed, then resumed
    run_sync(queries.set_run_state(journey.run.id, RunState.RUNNING))
    journey.cache = SpecCache(journey.settings)
    journey.advance(T0 + timedelta(hours=1))
    assert journey.bodies(ADA) == ["Hi Ada, see you tomorrow", "Thanks, Ada!"]


def test_a_reply_to_a_paused_run_waits_with_its_timers_until_resumed(journey: Journey) -> None:
    journey.advance(T0)
    run_sync(queries.set_run_state(journey.run.id, RunState.PAUSED))
    journey.reply(ADA, T0 + timedelta(hours=1))
    journey.advance(T0 + timedelta(hours=1))
    assert journey.bodies(ADA) == ["Hi Ada, see you tomorrow"]
    run_sync(queries.set_run_state(journey.run.id, RunState.RUNNING))
    journey.advance(T0 + timedelta(hours=1))
    assert journey.bodies(ADA) == ["Hi Ada, see you tomorrow", "Thanks, Ada!"]
