"""The daily tier budget, shared by every worker: a Redis sorted set of recipients, checked and added atomically."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import redis

from scheduler.budget import BUDGET_WINDOW, daily_budget_decision
from scheduler.plan import as_utc

__all__ = ["DEFAULT_KEY", "AsyncTierBudget", "TierBudget", "budget_key"]

#: The key of the default namespace (``hub``).
DEFAULT_KEY = "hub:tier-budget"

# KEYS[1] the set (member = recipient, score = last business-initiated send, ms).
# ARGV: now_ms, window_ms, cap, recipient. Returns {allowed, count, counted, score_of_entry_that_frees_a_slot}.
# Check and add in one script, so two workers cannot both take the last slot.
_ACQUIRE = """
local key = KEYS[1]
local now_ms = tonumber(ARGV[1])
local window_ms = tonumber(ARGV[2])
local cap = tonumber(ARGV[3])
local member = ARGV[4]
redis.call('ZREMRANGEBYSCORE', key, '-inf', now_ms - window_ms)
local count = redis.call('ZCARD', key)
local score = redis.call('ZSCORE', key, member)
if (not score) and count >= cap then
  local freeing = -1
  if cap > 0 then
    local entry = redis.call('ZRANGE', key, count - cap, count - cap, 'WITHSCORES')
    freeing = tonumber(entry[2])
  end
  return {0, count, 0, freeing}
end
-- The latest send keeps a recipient counted for the next 24 h: keep the larger score.
if (not score) or tonumber(score) < now_ms then
  redis.call('ZADD', key, now_ms, member)
end
redis.call('PEXPIRE', key, window_ms)
return {1, count, score and 1 or 0, -1}
"""


def _ms(moment: datetime) -> int:
    return int(as_utc(moment).timestamp() * 1000)


def _from_ms(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def budget_key(namespace: str) -> str:
    """The sorted set of a deployment's Redis namespace (the actors' ``namespace``, ``hub`` by default)."""
    return f"{namespace}:tier-budget"


def _decide(reply: Any, cap: int, now: datetime) -> tuple[bool, datetime | None]:
    allowed, count, counted, freeing_ms = reply
    if allowed:
        return True, None
    oldest = _from_ms(int(freeing_ms)) if int(freeing_ms) >= 0 else None
    return daily_budget_decision(int(count), cap, bool(counted), oldest, now)


class TierBudget:
    """``rate_limits.daily_unique_recipients``: unique business-initiated recipients per rolling 24 h.

    Meta counts the limit per business portfolio, so every worker sending for one portfolio must share
    one key. Call :meth:`acquire` only for business-initiated messages (outside a customer-service window).

    Args:
        client: a redis-py client (a fakeredis one in tests).
        cap: the tier (e.g. 2000); None means unlimited (no Redis calls).
        key: the sorted set's key, one per portfolio.
    """

    def __init__(self, client: redis.Redis, *, cap: int | None, key: str = DEFAULT_KEY) -> None:
        self.cap = cap
        self.key = key
        self._client = client
        self._acquire = client.register_script(_ACQUIRE)
        self._window_ms = int(BUDGET_WINDOW.total_seconds() * 1000)

    def acquire(self, recipient: str, now: datetime) -> tuple[bool, datetime | None]:
        """Count ``recipient`` if the budget allows, atomically.

        Args:
            recipient: E.164 number.
            now: the current instant (injected; workers' clocks should agree within seconds).

        Returns:
            ``(True, None)``: send now (the recipient is counted). ``(False, wait_until)``: wait until then;
            None when the cap is 0.
        """
        if self.cap is None:
            return True, None
        reply = self._acquire(keys=[self.key], args=[_ms(now), self._window_ms, self.cap, recipient])
        return _decide(reply, self.cap, now)

    def usage(self, now: datetime) -> tuple[int, datetime | None]:
        """How much of the budget the last 24 h used, for ``hub status``.

        Returns:
            ``(unique_recipients, next_slot_at)``: ``next_slot_at`` is when a new recipient may be sent to,
            None when one may be now (or there is no cap).
        """
        now_ms = _ms(now)
        floor = now_ms - self._window_ms
        count = int(self._client.zcount(self.key, f"({floor}", "+inf"))
        if self.cap is None or count < self.cap or self.cap <= 0:
            return count, None
        entries = self._client.zrangebyscore(
            self.key, f"({floor}", "+inf", start=count - self.cap, num=1, withscores=True
        )
        oldest = _from_ms(int(entries[0][1])) if entries else None
        return count, daily_budget_decision(count, self.cap, False, oldest, now)[1]


class AsyncTierBudget:
    """:meth:`TierBudget.acquire` on an asyncio Redis client (the send actor runs on the worker's event loop).

    Same script and key as :class:`TierBudget`, so ``hub status`` reads what the workers write.

    Args:
        client: a ``redis.asyncio.Redis`` (or ``fakeredis.FakeAsyncRedis``) on the running loop.
        cap: the tier; None means unlimited (no Redis calls).
        key: the sorted set's key (:func:`budget_key`).
    """

    def __init__(self, client: Any, *, cap: int | None, key: str = DEFAULT_KEY) -> None:
        self.cap = cap
        self.key = key
        self._acquire = client.register_script(_ACQUIRE)
        self._window_ms = int(BUDGET_WINDOW.total_seconds() * 1000)

    async def acquire(self, recipient: str, now: datetime) -> tuple[bool, datetime | None]:
        """Count ``recipient`` if the budget allows, atomically; see :meth:`TierBudget.acquire`."""
        if self.cap is None:
            return True, None
        reply = await self._acquire(keys=[self.key], args=[_ms(now), self._window_ms, self.cap, recipient])
        return _decide(reply, self.cap, now)
