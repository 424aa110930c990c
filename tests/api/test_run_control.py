"""Run control: pause holds new claims at once; resume queues what the run owes itself."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from api_support import run
from litestar import Litestar
from litestar.testing import TestClient

from hub.api.enqueue import RecordingEnqueuer
from hub.run_control import resume_target
from hub.status import RunState
from hub.store import queries
from hub.store.records import RunRecord

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
PHONES = ["+14155550100", "+14155550101"]


def bulk(client: TestClient[Litestar], **extra: object) -> int:
    response = client.post("/v1/bulk-send", json={"phone_numbers": PHONES, "body": "hi", **extra})
    assert response.status_code == 202
    return int(response.json()["run_id"])


def row_ids(run_id: int) -> list[int]:
    items, _ = run(queries.list_messages(run_id=run_id, limit=100))
    return sorted(item.id for item in items)


def test_pause_stops_the_next_claim(client: TestClient[Litestar]) -> None:
    run_id = bulk(client)
    first, _ = row_ids(run_id)

    assert client.post(f"/v1/runs/{run_id}/pause").status_code == 200

    assert run(queries.claim_for_send(first)) is None
    assert str(run(queries.get_message(first)).status) == "pending"


def test_resume_queues_the_owed_rows_with_the_run(client: TestClient[Litestar], enqueuer: RecordingEnqueuer) -> None:
    run_id = bulk(client)
    client.post(f"/v1/runs/{run_id}/pause")
    enqueuer.sends.clear()
    enqueuer.send_runs.clear()

    response = client.post(f"/v1/runs/{run_id}/resume")

    assert (response.status_code, response.json()["state"]) == (200, "running")
    assert sorted(enqueuer.sends) == row_ids(run_id)
    assert enqueuer.send_runs == [run_id]


def test_resume_leaves_rows_due_later_to_the_due_sweep(
    client: TestClient[Litestar], enqueuer: RecordingEnqueuer
) -> None:
    later = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    run_id = bulk(client, send_at=later)
    client.post(f"/v1/runs/{run_id}/pause")

    client.post(f"/v1/runs/{run_id}/resume")

    assert enqueuer.sends == []


def test_resume_skips_rows_already_sent(client: TestClient[Litestar], enqueuer: RecordingEnqueuer) -> None:
    run_id = bulk(client)
    first, second = row_ids(run_id)
    run(queries.claim_for_send(first))
    client.post(f"/v1/runs/{run_id}/pause")
    enqueuer.sends.clear()

    client.post(f"/v1/runs/{run_id}/resume")

    assert enqueuer.sends == [second]


def paused(started: bool, scheduled_in: timedelta | None) -> RunRecord:
    return RunRecord(
        id=1,
        campaign="c",
        kind="campaign",
        trigger="api",
        fire_key=None,
        state=RunState.PAUSED,
        scheduled_at=NOW + scheduled_in if scheduled_in is not None else None,
        started_at=NOW if started else None,
        finished_at=None,
        expires_at=None,
        fanned_out_at=None,
        created_at=NOW,
        total=None,
        checkpoint=0,
        git_commit=None,
        meta={},
    )


@pytest.mark.parametrize(
    ("started", "scheduled_in", "target"),
    [
        (False, timedelta(hours=1), RunState.SCHEDULED),  # never started, not due: waits for its time
        (False, -timedelta(hours=1), RunState.RUNNING),  # due already
        (False, None, RunState.RUNNING),  # started now-style run
        (True, timedelta(hours=1), RunState.RUNNING),  # already sending: carries on
    ],
)
def test_resume_target(started: bool, scheduled_in: timedelta | None, target: RunState) -> None:
    assert resume_target(paused(started, scheduled_in), NOW) == target
