"""advance_journeys: a backlog of due timers calls in one more advancer at once, not at the sweep's next tick."""

from __future__ import annotations

import json

import dramatiq
import pytest
from actor_harness import Harness

import actors
from actors import journeys as advancer
from hub.store.db import current_engine

JOURNEY = """\
name: backlog
steps:
  - id: remind
    wait: 1h
    send: {body: "Hi"}
"""


def _due_entries(harness: Harness, count: int) -> None:
    meta = json.dumps({"journey": {"source": "campaigns/backlog.yaml", "text": JOURNEY}})
    engine = current_engine()
    rows = harness.run(
        engine.fetch(
            "INSERT INTO run (campaign, kind, trigger, state, started_at, fanned_out_at, created_at, checkpoint, meta)"
            " VALUES ('backlog', 'campaign', 'api', 'running', now(), now(), now(), 0, $1::json) RETURNING id",
            [meta],
        )
    )
    harness.run(
        engine.fetch(
            "INSERT INTO journey_entry (run, campaign, recipient, step, phase, reached_at, due_at, started_at)"
            " SELECT $1, 'backlog', '+4915100000' || i, 'remind', 'waiting', now(), now() - interval '1 s', now()"
            " FROM generate_series(10, 9 + $2::int) AS i",
            [rows[0]["id"], count],
        )
    )


def _advancers_queued(harness: Harness) -> int:
    messages = (dramatiq.Message.decode(data) for data in harness.broker.queues["default"].queue)
    return sum(1 for message in messages if message.actor_name == "advance_journeys")


def test_a_full_first_batch_calls_in_one_more_advancer(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(advancer, "BATCH", 2)
    _due_entries(harness, 3)
    actors.advance_journeys.fn()
    assert _advancers_queued(harness) == 1  # then batches of 2 and 1: the second does not call another


def test_a_batch_that_is_not_full_calls_in_nobody(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(advancer, "BATCH", 4)
    _due_entries(harness, 3)
    actors.advance_journeys.fn()
    assert _advancers_queued(harness) == 0
