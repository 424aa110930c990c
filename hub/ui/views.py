"""What the dashboard shows, decided from store records (pure): progress, the funnel, durations, chart buckets."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from urllib.parse import urlencode

import msgspec

from hub.status import MessageStatus, RunState
from hub.store.breakdown import TimelinePoint
from hub.store.records import RunProgress

__all__ = [
    "ACTIVE_STATES",
    "FUNNEL",
    "FunnelStage",
    "RunView",
    "bucket_seconds",
    "chart_data",
    "funnel",
    "human_duration",
    "messages_link",
    "run_view",
    "twilio_error_url",
]

S = MessageStatus
R = RunState

#: Runs whose page refreshes itself (htmx polling stops once none is in these states).
ACTIVE_STATES = frozenset({R.RUNNING, R.SCHEDULED})

#: The funnel's stages: each counts the rows that reached it or a later one.
FUNNEL: tuple[tuple[str, tuple[MessageStatus, ...]], ...] = (
    ("sent", (S.SENT, S.DELIVERED, S.READ)),
    ("delivered", (S.DELIVERED, S.READ)),
    ("read", (S.READ,)),
)
_DONE_EXCLUDES = (S.PENDING, S.SENDING)


class FunnelStage(msgspec.Struct, frozen=True, kw_only=True):
    """One step of the funnel: its count (of ``unit``), its share of the first stage (0..100), and the search behind
    it."""

    name: str
    count: int
    percent: float
    link: str
    unit: str


class RunView(msgspec.Struct, frozen=True, kw_only=True):
    """One run as a row of the runs table and the head of its page."""

    id: int
    campaign: str
    kind: str
    state: str
    total: int
    done: int
    percent: float
    rate_per_second: float
    eta: str
    active: bool
    can_pause: bool
    can_resume: bool
    can_cancel: bool
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


def messages_link(**params: object) -> str:
    """The dashboard's message search for these filters (None values left out; lists repeat the key)."""
    pairs: list[tuple[str, str]] = []
    for key, value in params.items():
        if value is None:
            continue
        values = value if isinstance(value, list | tuple) else [value]
        pairs.extend((key, str(item)) for item in values)
    return "/ui/messages" + (f"?{urlencode(pairs)}" if pairs else "")


def human_duration(seconds: float | None) -> str:
    """``3 h 05 min``, ``4 min 20 s``, ``12 s``; an em dash when unknown."""
    if seconds is None:
        return "—"
    total = max(0, round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    if minutes:
        return f"{minutes} min {secs:02d} s"
    return f"{secs} s"


def run_view(progress: RunProgress) -> RunView:
    """The runs table's row for one run (pure)."""
    run = progress.run
    done = progress.total - sum(progress.counts.get(s.value, 0) for s in _DONE_EXCLUDES)
    done = max(0, min(done, progress.total))
    percent = 100.0 * done / progress.total if progress.total else (100.0 if run.finished_at else 0.0)
    return RunView(
        id=run.id,
        campaign=run.campaign or f"({run.kind} send)",
        kind=run.kind,
        state=str(run.state),
        total=progress.total,
        done=done,
        percent=round(percent, 1),
        rate_per_second=round(progress.rate_per_second, 1),
        eta=human_duration(progress.eta_seconds),
        active=run.state in ACTIVE_STATES,
        can_pause=run.state in (R.RUNNING, R.SCHEDULED),
        can_resume=run.state is R.PAUSED,
        can_cancel=run.state in (R.SCHEDULED, R.RUNNING, R.PAUSED),
        created_at=run.created_at,
        started_at=run.started_at,
        finished_at=run.finished_at,
    )


def funnel(run_id: int, counts: Mapping[str, int], replied: int) -> list[FunnelStage]:
    """sent → delivered → read → replied; each number links to the message search behind it (pure).

    The first three count rows by status; replied counts recipients who wrote after a row to them was sent, and
    its search lists those rows (``replied=true``: the same rule, one row per recipient unless a journey sent
    them several before the reply).
    """
    stages = [
        (
            name,
            sum(counts.get(s.value, 0) for s in statuses),
            messages_link(run=run_id, status=[s.value for s in statuses]),
            "messages",
        )
        for name, statuses in FUNNEL
    ]
    stages.append(("replied", replied, messages_link(run=run_id, replied="true"), "recipients"))
    first = stages[0][1]
    return [
        FunnelStage(
            name=name,
            count=count,
            percent=round(100.0 * count / first, 1) if first else 0.0,
            link=link,
            unit=unit,
        )
        for name, count, link, unit in stages
    ]


def twilio_error_url(code: int | None) -> str | None:
    """Twilio's page for an error code."""
    return f"https://www.twilio.com/docs/api/errors/{code}" if code is not None else None


_NICE_BUCKETS_S = (10, 30, 60, 300, 600, 1800, 3600, 3 * 3600, 6 * 3600, 86400)


def bucket_seconds(span_s: float, points: int = 120) -> int:
    """The smallest round bucket (10 s at least: the activity tally's) that cuts ``span_s`` seconds into at most
    ``points`` buckets (pure)."""
    for bucket in _NICE_BUCKETS_S:
        if span_s / bucket <= points:
            return bucket
    return _NICE_BUCKETS_S[-1]


def chart_data(
    points: Sequence[TimelinePoint], start: datetime | None = None, end: datetime | None = None, bucket_s: int = 10
) -> dict[str, list[float]]:
    """uPlot's columns: epoch seconds, then one series per milestone (pure).

    Empty buckets one before ``start`` and one after ``end`` frame the run, so the time axis spans it even when
    every send fell in one bucket (uPlot would stretch a single point over years).
    """
    if start is not None and end is not None:
        # Buckets start at ``start`` (the activity read bins from there).
        first = start.timestamp() - bucket_s
        last = start.timestamp() + ((end - start).total_seconds() // bucket_s + 1) * bucket_s
        edges = [
            TimelinePoint(at=datetime.fromtimestamp(t, tz=start.tzinfo), sent=0, delivered=0, read=0, failed=0)
            for t in (first, last)
            if all(abs(p.at.timestamp() - t) >= 1 for p in points)
        ]
        points = sorted([*points, *edges], key=lambda p: p.at)
    return {
        "t": [p.at.timestamp() for p in points],
        "sent": [p.sent for p in points],
        "delivered": [p.delivered for p in points],
        "read": [p.read for p in points],
        "failed": [p.failed for p in points],
    }
