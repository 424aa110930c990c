"""Credentials rotated mid-run (issue 14, fault 3: a 401 / 20003 marked every recipient failed), through a real
`hub worker` and the real twilio client: the run pauses with the reason and its rows stay owed; once the
credentials are right again, `hub runs resume` sends the rest, each recipient once."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from tests.chaos import harness as h
from tests.chaos.stack import stack

pytestmark = [pytest.mark.integration, pytest.mark.slow]

RECIPIENTS = 200


def _run(database_url: str, run_id: int) -> dict[str, Any]:
    (row,) = h.fetch(database_url, "SELECT state, meta FROM run WHERE id = $1", run_id)
    return row


def test_a_401_mid_run_pauses_it_with_nothing_failed_and_resume_sends_the_rest_once(
    chaos_servers: str, report: Callable[[str], None]
) -> None:
    phones = [h.phone(i) for i in range(RECIPIENTS)]
    with stack(chaos_servers, rate_limits={"per_second": 40}) as s:
        s.start_worker("worker-0", threads=4)
        s.wait_consumers(1)
        run_id, _ = s.create_run(phones)
        h.wait_for(lambda: s.fake.stats()["accepted"] >= RECIPIENTS // 4, 60, "a quarter of the run sent")
        # When the auth token the hub holds stops working (rotated in the Twilio console)
        s.fake.configure(auth_token="rotated-in-the-console")
        # Then the run pauses with the reason, and once the sends in flight are settled nothing has failed
        h.wait_for(lambda: _run(s.database_url, run_id)["state"] == "paused", 60, "the run paused")
        h.wait_for(lambda: not h.status_counts(s.database_url).get("sending"), 60, "the sends in flight settled")
        paused = h.status_counts(s.database_url)
        meta = _run(s.database_url, run_id)["meta"]
        reason = (json.loads(meta) if isinstance(meta, str) else meta)["paused_reason"]
        assert "20003" in reason, reason
        assert set(paused) <= {"queued", "pending"}, paused
        refused = s.fake.stats()["auth_failures"]
        # When the credentials are right again and an operator resumes the run
        s.fake.configure(auth_token=h.AUTH_TOKEN)
        resume = s.procs.start("resume", ["runs", "resume", str(run_id)])
        assert resume.wait(60) == 0, s.procs.log("resume")
        # Then the rest is sent: every recipient once
        s.settle()
        verdict = s.verdict(phones)
        report(f"paused with {paused} after {refused} refused create(s): {reason!r}; {verdict.line()}")
        assert verdict.problems == []
        assert (verdict.lost, verdict.duplicates) == (0, 0)
        assert verdict.statuses == {"queued": RECIPIENTS}
