"""``hub run`` on embedded Redis: the API reads the queue its in-process workers consume (/metrics, /ui/health)."""

from __future__ import annotations

import re
from collections.abc import Callable

import httpx
from run_helpers import HubRun, hub_env, wait_for


def depth(text: str, pattern: str) -> int:
    match = re.search(pattern, text)
    return int(float(match.group(1).replace(",", ""))) if match else 0


def test_hub_run_reports_the_embedded_queue_depth(hub_run: Callable[..., HubRun], empty_database_url: str) -> None:
    # Given `hub run` on embedded Redis with one worker thread, sending 2 messages/s in batches of 5
    env = hub_env(DATABASE_URL=empty_database_url, HUB_RATE_PER_SECOND="2", HUB_SEND_BATCH_SIZE="5")
    hub = hub_run(env, ["--workers", "1"]).start()
    # When four runs' batches come due faster than the one thread sends them (each run's at the sender's pace)
    for run in range(4):
        hub.post("/bulk-send", {"phone_numbers": [f"+1415555{run}{i:03d}" for i in range(40)], "message": "hi"})

    # Then the batches waiting in the send queue show in /metrics and on the health page
    in_metrics = wait_for(
        lambda: depth(httpx.get(f"{hub.base_url}/metrics").text, r'hub_queue_depth\{queue="send"\} (\S+)'),
        60.0,
        "/metrics to count waiting batches",
    )
    on_page = wait_for(
        lambda: depth(httpx.get(f"{hub.base_url}/ui/health").text, r"<dt>send</dt><dd>([\d,]+)</dd>"),
        60.0,
        "the health page to count waiting batches",
    )
    assert 1 <= in_metrics <= 32 and 1 <= on_page <= 32  # 4 runs x 8 batches at most
    assert hub.stop() == 0
