"""Sweeper: re-enqueue owed rows and fan-outs whose queue message is gone, settle stuck claims, finish runs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from actor_harness import Harness

import actors
from actors.sweep import enqueue_owed, fan_outs_to_resume, sweep
from hub.status import MessageStatus, RunState
from hub.store import queries as q
from hub.store.records import RunRecord

PHONES = ["+14155550100", "+14155550101", "+14155550102"]


def _later() -> datetime:
    return datetime.now(UTC) + timedelta(minutes=5)


def test_lost_messages_are_requeued_and_each_sent_once(harness: Harness) -> None:
    # Given owed rows whose Dramatiq messages were lost (enqueued, then the queue was flushed)
    _, ids = harness.new_run(PHONES)
    actors.enqueue_sends(ids)
    harness.broker.flush_all()
    harness.redis.delete(f"{harness.namespace}:inflight")  # a Redis flush loses the counters with the queue
    # When the sweeper runs, and the queues are processed
    report = sweep(harness.settings, _later())
    harness.drain()
    # Then every row was re-enqueued once and sent once
    assert report.requeued == 3
    assert sorted(c.msg.to for c in harness.transport.calls) == PHONES


def test_rows_with_a_live_queue_message_are_not_enqueued_again(harness: Harness) -> None:
    # Given owed rows whose messages still wait in the queue
    _, ids = harness.new_run(PHONES)
    actors.enqueue_sends(ids)
    # When the sweeper runs
    report = sweep(harness.settings, _later())
    # Then it adds nothing to the queue
    assert report.requeued == 0
    assert sorted(i for i, _ in harness.queued_sends()) == sorted(ids)


def test_rows_of_a_paused_run_are_left_alone(harness: Harness) -> None:
    run, _ = harness.new_run(PHONES)
    harness.run(q.set_run_state(run.id, RunState.PAUSED))
    assert sweep(harness.settings, _later()).requeued == 0


def test_stale_sending_row_becomes_unknown_and_is_not_resent(harness: Harness) -> None:
    # Given a row claimed by a worker that died mid-call long ago
    _, (message_id,) = harness.new_run(PHONES[:1])
    claimed_at = datetime.now(UTC) - timedelta(hours=1)
    assert harness.run(q.claim_for_send(message_id, claimed_at)) is not None
    # When the sweeper runs
    report = sweep(harness.settings)
    harness.drain()
    # Then the row is unknown and nothing was sent
    assert report.stale == 1
    assert harness.message(message_id).status == MessageStatus.UNKNOWN
    assert harness.transport.calls == []


def test_recent_claim_is_not_touched(harness: Harness) -> None:
    _, (message_id,) = harness.new_run(PHONES[:1])
    assert harness.run(q.claim_for_send(message_id, datetime.now(UTC))) is not None
    assert sweep(harness.settings).stale == 0
    assert harness.message(message_id).status == MessageStatus.SENDING


def test_the_sweeper_finishes_a_run_its_sends_could_not(harness: Harness) -> None:
    # Given a run whose sends all went out before its fan-out was recorded complete (the sends could not finish it)
    run, ids = harness.new_run(PHONES)
    actors.enqueue_sends(ids)
    harness.drain()
    harness.run(q.update_checkpoint(run.id, len(ids), total=len(ids), fanned_out=True))
    assert harness.run(q.get_run(run.id)).state == RunState.RUNNING
    # When the sweeper runs, then the run is finished
    assert sweep(harness.settings).finished == 1
    finished = harness.run(q.get_run(run.id))
    assert finished is not None and finished.state == RunState.FINISHED


CAMPAIGN = """\
name: promo
body: "Hi {{ first_name }}"
audience:
  recipients:
    - {phone: "+14155550100", first_name: Ada}
    - {phone: "+14155550101", first_name: Bob}
    - {phone: "+14155550102", first_name: Cy}
"""


def _campaign_run(harness: Harness) -> int:
    folder = Path(harness.settings.paths.campaigns)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "promo.yaml").write_text(CAMPAIGN, encoding="utf-8")
    run, _ = harness.run(q.create_run(campaign="promo", state=RunState.RUNNING))
    return run.id


def test_running_run_whose_fan_out_was_lost_is_fanned_out_again(harness: Harness) -> None:
    # Given a running campaign run whose fan_out_run message never reached Redis (crash after create_run)
    run_id = _campaign_run(harness)
    # When the sweeper runs, the queues are processed, and the sweeper runs again
    report = sweep(harness.settings, _later())
    harness.drain()
    sweep(harness.settings, _later())
    # Then the fan-out was enqueued once, each recipient sent once, and the run finished
    assert report.fan_outs == 1
    assert sorted(c.msg.to for c in harness.transport.calls) == PHONES
    run = harness.run(q.get_run(run_id))
    assert run is not None and run.state == RunState.FINISHED


def test_fan_out_with_a_live_queue_message_is_not_enqueued_again(harness: Harness) -> None:
    run_id = _campaign_run(harness)
    actors.fan_out_run.send(run_id)
    assert sweep(harness.settings, _later()).fan_outs == 0
    assert harness.pending_messages("default") == 1


def test_just_started_run_is_given_time_to_enqueue_its_fan_out(harness: Harness) -> None:
    _campaign_run(harness)
    assert sweep(harness.settings, datetime.now(UTC)).fan_outs == 0


def test_duplicate_fan_outs_send_each_recipient_once(harness: Harness) -> None:
    # Given a run whose fan-out is queued twice besides the one the sweeper adds (after a Redis flush)
    run_id = _campaign_run(harness)
    actors.fan_out_run.send(run_id)
    actors.fan_out_run.send(run_id)
    harness.redis.delete(f"{harness.namespace}:inflight")
    assert sweep(harness.settings, _later()).fan_outs == 1
    # When all three are processed
    harness.drain()
    # Then each recipient has one row and one send
    items, _ = harness.run(q.list_messages(run_id=run_id, limit=10))
    assert len(items) == 3
    assert sorted(c.msg.to for c in harness.transport.calls) == PHONES


def test_fan_out_of_a_campaign_that_no_longer_loads_pauses_the_run(harness: Harness) -> None:
    # Given a running run whose campaign file was removed
    run_id = _campaign_run(harness)
    (Path(harness.settings.paths.campaigns) / "promo.yaml").unlink()
    # When its fan-out runs
    actors.fan_out_run.send(run_id)
    harness.drain()
    # Then the run is paused (not retried in a loop by the sweeper), nothing sent
    run = harness.run(q.get_run(run_id))
    assert run is not None and run.state == RunState.PAUSED
    assert sweep(harness.settings, _later()).fan_outs == 0
    assert harness.transport.calls == []


T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def _run(**changes: object) -> RunRecord:
    base: dict[str, object] = {
        "id": 1,
        "campaign": "promo",
        "kind": "campaign",
        "trigger": "cli",
        "fire_key": None,
        "state": RunState.RUNNING,
        "scheduled_at": None,
        "started_at": T0,
        "finished_at": None,
        "expires_at": None,
        "fanned_out_at": None,
        "created_at": T0,
        "total": None,
        "checkpoint": 0,
        "git_commit": None,
        "meta": {},
    }
    base.update(changes)
    return RunRecord(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("run", "live", "expected"),
    [
        (_run(), set(), [1]),
        (_run(), {1}, []),
        (_run(fanned_out_at=T0), set(), []),
        (_run(state=RunState.PAUSED), set(), []),
        (_run(kind="bulk", campaign=None), set(), []),
        (_run(started_at=T0 + timedelta(minutes=1)), set(), []),
        (_run(started_at=None, created_at=T0 - timedelta(minutes=1)), set(), [1]),
    ],
    ids=["lost", "live", "complete", "paused", "api-send", "too-recent", "never-started"],
)
def test_fan_outs_to_resume(run: RunRecord, live: set[int], expected: list[int]) -> None:
    assert fan_outs_to_resume([run], live, idle_before=T0 + timedelta(seconds=30)) == expected


def _queued_options(harness: Harness) -> list[dict[str, object]]:
    return [message.options | message.kwargs for _, message in harness.queued_sends()]


def test_swept_rows_keep_their_run_rate_cap(harness: Harness) -> None:
    # Given lost messages of a run with its own cap
    run, _ = harness.new_run(PHONES, meta={"rate_limit": {"per_second": 3}})
    # When the sweeper re-enqueues them
    assert sweep(harness.settings, _later()).requeued == 3
    # Then each message carries the run and its cap to the throttle
    assert [(o["run_id"], o["run_rate"]) for o in _queued_options(harness)] == [(run.id, 3)] * 3


def test_swept_rows_of_a_campaign_run_take_the_cap_from_the_campaign_file(harness: Harness) -> None:
    # Given a campaign run started without the cap in its meta (as the API starts one), fanned out, then lost
    folder = Path(harness.settings.paths.campaigns)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "capped.yaml").write_text(CAMPAIGN.replace("promo", "capped") + "rate_limit: {per_second: 4}\n")
    run, _ = harness.new_run(PHONES, campaign="capped")
    # When the sweeper re-enqueues them, then they carry the campaign's cap
    sweep(harness.settings, _later())
    assert {(o["run_id"], o["run_rate"]) for o in _queued_options(harness)} == {(run.id, 4)}


def test_resume_enqueues_the_rows_whose_sends_met_the_pause(harness: Harness) -> None:
    # Given a paused run whose queued sends were processed (and dropped) during the pause
    run, ids = harness.new_run(PHONES)
    harness.run(q.set_run_state(run.id, RunState.PAUSED))
    actors.enqueue_sends(ids)
    harness.drain()
    # When it is resumed and its owed rows enqueued again
    harness.run(q.set_run_state(run.id, RunState.RUNNING))
    queued = enqueue_owed(run.id, harness.settings)
    harness.drain()
    # Then each recipient is sent once
    assert queued == 3
    assert sorted(c.msg.to for c in harness.transport.calls) == PHONES


def test_api_run_with_nothing_owed_is_finished(harness: Harness) -> None:
    # Given an API bulk send (rows written with the run, no fan-out) whose sends all went out
    run, ids = harness.new_run(PHONES, kind="bulk")
    actors.enqueue_sends(ids)
    harness.drain()
    # When the sweeper runs past the creating request, then the run is finished
    assert sweep(harness.settings, _later()).finished == 1
    finished = harness.run(q.get_run(run.id))
    assert finished is not None and finished.state == RunState.FINISHED
