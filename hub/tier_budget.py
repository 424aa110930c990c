"""The daily tier budget, shared by every worker: a Redis sorted set of recipients, checked and added atomically.

Redis may forget (a restart, the embedded Redis of ``hub run``, a flush): the set is then rebuilt from the
ledger before its first use, so the budget survives restarts.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import redis

from hub.budget import BUDGET_WINDOW, daily_budget_decision
from hub.planning import as_utc

__all__ = [
    "DEFAULT_KEY",
    "SEEDING_WAIT",
    "RecentRecipients",
    "TierBudget",
    "budget_key",
    "budget_usage",
]

#: The key of the default namespace (``hub``).
DEFAULT_KEY = "hub:tier-budget"
#: ``since -> [(recipient, last send)]``: who the ledger says was sent to since then (rebuilds the set).
RecentRecipients = Callable[[datetime], Awaitable[Sequence[tuple[str, datetime]]]]
#: How long a recipient waits while another worker rebuilds the set from the ledger.
SEEDING_WAIT = timedelta(seconds=2)
#: How long one worker may take to rebuild before another may try.
_SEEDING_LEASE_MS = 60_000
#: Recipients written per seeding call.
_SEED_CHUNK = 1000
_NEEDS_SEED = -1

# KEYS[1] the set (member = recipient, score = last business-initiated send, ms); KEYS[2] the marker saying
# the set holds the ledger's last 24 h (absent after Redis lost it: the reply asks for a rebuild).
# ARGV: now_ms, window_ms, cap, recipient. Returns {allowed, count, counted, score_of_entry_that_frees_a_slot}.
# Check and add in one script, so two workers cannot both take the last slot.
_ACQUIRE = """
local key = KEYS[1]
if redis.call('EXISTS', KEYS[2]) == 0 then
  return {-1, 0, 0, -1}
end
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

# KEYS[1] the set, KEYS[2] the marker. ARGV: window_ms, done (1 on the last chunk), then score, member pairs.
# Keeps the larger score of a recipient already there (a send since the ledger was read).
_SEED = """
local key = KEYS[1]
for i = 3, #ARGV, 2 do
  local score = tonumber(ARGV[i])
  local current = redis.call('ZSCORE', key, ARGV[i + 1])
  if (not current) or tonumber(current) < score then
    redis.call('ZADD', key, score, ARGV[i + 1])
  end
end
if ARGV[2] == '1' then
  redis.call('PEXPIRE', key, ARGV[1])
  redis.call('SET', KEYS[2], '1', 'PX', ARGV[1])
end
return 1
"""


def _ms(moment: datetime) -> int:
    return int(as_utc(moment).timestamp() * 1000)


def _from_ms(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def budget_key(namespace: str) -> str:
    """The sorted set of a deployment's Redis namespace (the actors' ``namespace``, ``hub`` by default)."""
    return f"{namespace}:tier-budget"


def _seed_calls(recent: Sequence[tuple[str, datetime]], window_ms: int) -> Iterator[list[Any]]:
    """The ARGV of each seeding call: a chunk of (score, recipient) pairs; the last call sets the marker."""
    pairs = [(_ms(at), recipient) for recipient, at in recent]
    chunks = [pairs[start : start + _SEED_CHUNK] for start in range(0, len(pairs), _SEED_CHUNK)] or [[]]
    for index, chunk in enumerate(chunks):
        done = 1 if index == len(chunks) - 1 else 0
        yield [window_ms, done, *(item for pair in chunk for item in pair)]


async def _ledger_recent(since: datetime) -> Sequence[tuple[str, datetime]]:
    from hub.store.queries import recipients_sent_since

    return await recipients_sent_since(since)


def _marker(key: str) -> str:
    return f"{key}:from-ledger"


def _lease(key: str) -> str:
    return f"{key}:rebuilding"


def _decide(reply: Any, cap: int, now: datetime) -> tuple[bool, datetime | None]:
    allowed, count, counted, freeing_ms = (int(value) for value in reply)
    if allowed == _NEEDS_SEED:  # lost again while being rebuilt: look again shortly
        return False, as_utc(now) + SEEDING_WAIT
    if allowed:
        return True, None
    oldest = _from_ms(int(freeing_ms)) if int(freeing_ms) >= 0 else None
    return daily_budget_decision(int(count), cap, bool(counted), oldest, now)


class TierBudget:
    """``rate_limits.daily_unique_recipients``: unique business-initiated recipients per rolling 24 h.

    Meta counts the limit per business portfolio, so every worker sending for one portfolio must share
    one key. Call :meth:`acquire` only for business-initiated messages (outside a customer-service window).
    It runs on the worker's event loop; ``hub status`` and the dashboard read the same key with
    :func:`budget_usage`.

    Args:
        client: a ``redis.asyncio.Redis`` (or ``fakeredis.FakeAsyncRedis``) on the running loop.
        cap: the tier; None means unlimited (no Redis calls).
        key: the sorted set's key (:func:`budget_key`).
        recent: rebuilds the set when Redis lost it; defaults to the ledger.
    """

    def __init__(
        self,
        client: Any,
        *,
        cap: int | None,
        key: str = DEFAULT_KEY,
        recent: RecentRecipients = _ledger_recent,
    ) -> None:
        self.cap = cap
        self.key = key
        self._client = client
        self._recent = recent
        self._acquire = client.register_script(_ACQUIRE)
        self._seed = client.register_script(_SEED)
        self._window_ms = int(BUDGET_WINDOW.total_seconds() * 1000)

    async def acquire(self, recipient: str, now: datetime) -> tuple[bool, datetime | None]:
        """Count ``recipient`` if the budget allows, atomically.

        Args:
            recipient: E.164 number.
            now: the current instant (injected; workers' clocks should agree within seconds).

        Returns:
            ``(True, None)``: send now (the recipient is counted). ``(False, wait_until)``: wait until then;
            None when the cap is 0. While another worker rebuilds the set from the ledger: wait
            :data:`SEEDING_WAIT`.
        """
        if self.cap is None:
            return True, None
        keys = [self.key, _marker(self.key)]
        args: list[int | str] = [_ms(now), self._window_ms, self.cap, recipient]
        reply = await self._acquire(keys=keys, args=args)
        if int(reply[0]) == _NEEDS_SEED:
            if not await self._client.set(_lease(self.key), "1", nx=True, px=_SEEDING_LEASE_MS):
                return False, as_utc(now) + SEEDING_WAIT
            try:
                for call in _seed_calls(await self._recent(as_utc(now) - BUDGET_WINDOW), self._window_ms):
                    await self._seed(keys=keys, args=call)
            finally:
                await self._client.delete(_lease(self.key))
            reply = await self._acquire(keys=keys, args=args)
        return _decide(reply, self.cap, now)


def budget_usage(client: redis.Redis, *, cap: int | None, key: str, now: datetime) -> tuple[int, datetime | None]:
    """How much of the budget the last 24 h used (a sync read, for ``hub status`` and the dashboard).

    Returns:
        ``(unique_recipients, next_slot_at)``: ``next_slot_at`` is when a new recipient may be sent to,
        None when one may be now (or there is no cap).
    """
    window_ms = int(BUDGET_WINDOW.total_seconds() * 1000)
    floor = _ms(now) - window_ms
    count = int(client.zcount(key, f"({floor}", "+inf"))
    if cap is None or count < cap or cap <= 0:
        return count, None
    entries = client.zrangebyscore(key, f"({floor}", "+inf", start=count - cap, num=1, withscores=True)
    oldest = _from_ms(int(entries[0][1])) if entries else None
    return count, daily_budget_decision(count, cap, False, oldest, now)[1]
