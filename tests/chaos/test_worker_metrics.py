"""A `hub worker` serves its metrics (Dramatiq's exposition server, every worker process's counters) and they count
the sends it made."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.chaos import harness as h
from tests.chaos.stack import stack

pytestmark = [pytest.mark.integration]

ACCEPTED = 'hub_worker_creates_total{code="",outcome="accepted"} 1.0'


def _scrape_once_it_counts(port: int) -> str | None:
    """The exposition text once it counts the accepted create; None before (or while the server is not up)."""
    try:
        text = httpx.get(f"http://127.0.0.1:{port}/", timeout=5).text
    except httpx.HTTPError:
        return None
    return text if ACCEPTED in text else None


def test_a_workers_metrics_are_served_and_count_a_send(chaos_servers: str, tmp_path: Path) -> None:
    port = h.free_port()
    with stack(chaos_servers) as s:
        s.procs.env.update(
            dramatiq_prom_host="127.0.0.1", dramatiq_prom_port=str(port), dramatiq_prom_db=str(tmp_path / "prom")
        )
        s.start_worker("worker-0", threads=2)
        s.wait_consumers(1)
        s.create_run([h.phone(0)])
        h.wait_for(lambda: h.status_counts(s.database_url).get("queued") == 1, 60, "the send")
        text = h.wait_for(lambda: _scrape_once_it_counts(port), 30, "the send in the metrics")
    assert "hub_worker_create_seconds_count 1.0" in text
    assert 'dramatiq_messages_total{actor_name="send_batch",queue_name="send"} 1.0' in text
