"""What the dashboard shows, decided from records (pure): progress, the funnel and its links, durations, buckets."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import pytest

from hub.status import RunState
from hub.store.records import RunProgress, RunRecord
from hub.ui.login import safe_next
from hub.ui.views import bucket_seconds, funnel, human_duration, messages_link, run_view, twilio_error_url

T0 = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


def progress(state: RunState, counts: dict[str, int], total: int | None = None) -> RunProgress:
    run = RunRecord(
        id=7,
        campaign="spring-sale",
        kind="campaign",
        trigger="api",
        fire_key=None,
        state=state,
        scheduled_at=None,
        started_at=T0,
        finished_at=None,
        expires_at=None,
        fanned_out_at=None,
        created_at=T0,
        total=total,
        checkpoint=0,
        git_commit=None,
        meta={},
    )
    size = max(total or 0, sum(counts.values()))
    owed = counts.get("pending", 0) + counts.get("sending", 0)
    return RunProgress(
        run=run, counts=counts, total=size, owed=owed, rate_per_second=12.34, eta_seconds=65, window_s=60
    )


def test_progress_counts_every_row_no_longer_owed() -> None:
    view = run_view(progress(RunState.RUNNING, {"pending": 30, "sending": 10, "delivered": 50, "failed": 10}))
    assert (view.done, view.total, view.percent) == (60, 100, 60.0)
    assert (view.rate_per_second, view.eta) == (12.3, "1 min 05 s")


@pytest.mark.parametrize(
    ("state", "pause", "resume", "cancel", "active"),
    [
        (RunState.SCHEDULED, True, False, True, True),
        (RunState.RUNNING, True, False, True, True),
        (RunState.PAUSED, False, True, True, False),
        (RunState.FINISHED, False, False, False, False),
        (RunState.CANCELED, False, False, False, False),
    ],
)
def test_the_buttons_offered_follow_the_run_state(
    state: RunState, pause: bool, resume: bool, cancel: bool, active: bool
) -> None:
    view = run_view(progress(state, {"pending": 1}))
    assert (view.can_pause, view.can_resume, view.can_cancel, view.active) == (pause, resume, cancel, active)


def test_the_funnel_counts_each_stage_and_what_went_further() -> None:
    stages = funnel(7, {"sent": 10, "delivered": 50, "read": 40, "failed": 5, "pending": 3}, replied=20)
    assert [(s.name, s.count, s.percent) for s in stages] == [
        ("sent", 100, 100.0),
        ("delivered", 90, 90.0),
        ("read", 40, 40.0),
        ("replied", 20, 20.0),
    ]


def test_a_funnel_number_links_to_the_search_of_exactly_its_statuses() -> None:
    delivered = funnel(7, {"delivered": 1}, replied=0)[1]
    query = parse_qs(urlsplit(delivered.link).query)
    assert urlsplit(delivered.link).path == "/ui/messages"
    assert query == {"run": ["7"], "status": ["delivered", "read"]}


def test_the_replied_number_links_to_the_search_of_the_runs_replied_rows() -> None:
    replied = funnel(7, {"delivered": 3}, replied=2)[3]
    assert (replied.name, replied.unit) == ("replied", "recipients")
    assert parse_qs(urlsplit(replied.link).query) == {"run": ["7"], "replied": ["true"]}


def test_an_empty_funnel_has_no_percentages() -> None:
    assert [s.percent for s in funnel(7, {}, replied=0)] == [0.0, 0.0, 0.0, 0.0]


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(None, "—"), (0, "0 s"), (12.4, "12 s"), (260, "4 min 20 s"), (3 * 3600 + 300, "3 h 05 min"), (-5, "0 s")],
)
def test_human_duration(seconds: float | None, text: str) -> None:
    assert human_duration(seconds) == text


@pytest.mark.parametrize(
    ("span_s", "bucket"), [(0, 10), (600, 10), (1300, 30), (3 * 3600, 300), (30 * 86400, 21600), (60 * 86400, 86400)]
)
def test_chart_buckets_are_round_and_at_least_the_tallys(span_s: float, bucket: int) -> None:
    assert bucket_seconds(span_s) == bucket


def test_messages_link_leaves_out_unset_filters() -> None:
    assert messages_link(run=3, status=None, error_code=63016) == "/ui/messages?run=3&error_code=63016"
    assert messages_link() == "/ui/messages"


def test_twilio_error_pages() -> None:
    assert twilio_error_url(63016) == "https://www.twilio.com/docs/api/errors/63016"
    assert twilio_error_url(None) is None


@pytest.mark.parametrize(
    ("target", "safe"),
    [
        ("/ui/runs/3", "/ui/runs/3"),
        ("/ui/", "/ui/"),
        (None, "/ui/"),
        ("https://evil.example/ui/", "/ui/"),
        ("//evil.example/ui/", "/ui/"),
        ("/v1/runs", "/ui/"),
        ("/ui/\\\\evil.example", "/ui/"),
    ],
)
def test_after_login_only_dashboard_paths(target: str | None, safe: str) -> None:
    assert safe_next(target) == safe


def test_the_chart_is_framed_by_empty_buckets_around_the_run() -> None:
    from datetime import timedelta

    from hub.store.breakdown import TimelinePoint
    from hub.ui.views import chart_data

    one = TimelinePoint(at=T0 + timedelta(seconds=10), sent=5, delivered=4, read=1, failed=0)
    data = chart_data([one], T0, T0 + timedelta(seconds=18), bucket_s=10)
    assert data["t"] == [(T0 + timedelta(seconds=s)).timestamp() for s in (-10, 10, 20)]
    assert (data["sent"], data["failed"]) == ([0, 5, 0], [0, 0, 0])
    assert (
        chart_data([one], T0, T0 + timedelta(seconds=5), bucket_s=10)["t"][0]
        == (T0 - timedelta(seconds=10)).timestamp()
    )
