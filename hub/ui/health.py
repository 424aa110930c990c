"""``/ui/health``: the sender's pace and tier budget, paused runs and why, queue depth, callback lag."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import anyio.to_thread
from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.response import Template

from hub.api.metrics import QUEUES
from hub.config import Settings
from hub.status import MessageStatus, RunState
from hub.store import breakdown, queries, signals
from hub.ui.views import human_duration

__all__ = ["HealthPage"]

#: Paused runs listed, newest first.
PAUSED_SHOWN = 20


def _tier_budget(settings: Settings, now: datetime) -> dict[str, Any] | None:
    """How much of the daily tier budget the last 24 h used (the workers' Redis set: ``redis.url``, or this
    process's embedded Redis under ``hub run``), or None without a tier."""
    cap = settings.rate_limits.daily_unique_recipients
    if cap is None:
        return None
    import redis

    from hub.embedded_redis import sync_client
    from hub.tier_budget import budget_key, budget_usage

    client = sync_client(settings)
    try:
        used, next_slot = budget_usage(client, cap=cap, key=budget_key(settings.redis.namespace), now=now)
    except redis.RedisError as exc:
        return {"cap": cap, "used": None, "note": f"Redis unavailable ({type(exc).__name__})"}
    finally:
        client.close()
    return {"cap": cap, "used": used, "percent": round(100.0 * used / cap, 1) if cap else 0.0, "next_slot": next_slot}


async def _queue_depth(settings: Settings) -> dict[str, int] | str:
    """Messages waiting per queue, from ``redis.url`` or, under ``hub run``, the embedded Redis its workers use."""
    from hub.api.metrics import queue_depths

    try:
        depths = await queue_depths(settings)
    except Exception as exc:  # Redis down is something to show, not a broken page
        return f"Redis unavailable ({type(exc).__name__})"
    return {name: int(depths.get(name, 0)) for name in (n for q in QUEUES for n in (q, f"{q}.DQ"))}


async def _paused() -> list[dict[str, Any]]:
    out = []
    for run in await queries.list_runs(states=[RunState.PAUSED], limit=PAUSED_SHOWN):
        reasons = await breakdown.reason_groups(run.id, (MessageStatus.PENDING,), sample=1000, limit=3)
        why = [group.reason for group in reasons if group.reason and group.reason != "run paused"]
        out.append({"run": run, "why": why[0] if why else "paused by an operator"})
    return out


class HealthPage(Controller):
    path = "/health"

    @get("/", name="ui-health")
    async def health(self, settings: NamedDependency[Settings]) -> Template:
        now = datetime.now(UTC)
        lag = await signals.callback_lag(now)
        context = {
            "page": "health",
            "cap": settings.rate_limits.per_second,
            "pace": await signals.send_rate(now),
            "budget": await anyio.to_thread.run_sync(_tier_budget, settings, now),
            "paused": await _paused(),
            "queues": await _queue_depth(settings),
            "lag": lag,
            "lag_text": human_duration(lag.oldest_waiting_s) if lag.oldest_waiting_s is not None else None,
            "transport": settings.effective_transport,
        }
        return Template(template_name="health.html", context=context)
