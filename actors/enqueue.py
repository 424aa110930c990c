"""Enqueueing owed ledger rows: as send actor messages of ``sending.batch_size`` ids, each with its run and the
run's cap, pipelined on Redis."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import dramatiq

from actors import runtime
from actors.batch import batch_kwargs
from actors.broker import HubRedisBroker
from actors.middleware.inflight import batched, inflight_of
from actors.send import send_batch
from hub.run_share import room, window_rows

if TYPE_CHECKING:
    from hub.config import Settings
    from hub.store.records import RunRecord

#: Messages per Redis round trip in a batch enqueue.
BATCH_SIZE = 1000
#: Seconds a campaign's ``rate_limit`` read from its file is trusted before it is read again.
CAMPAIGN_RATE_TTL_S = 60.0


def run_rate(meta: dict[str, Any]) -> float | None:
    """The run's own cap (messages/second) from its meta (``rate_limit: {per_second: N}``), or None."""
    limit = meta.get("rate_limit")
    if isinstance(limit, dict):
        value = limit.get("per_second")
        if isinstance(value, int | float) and value > 0:
            return float(value)
    return None


def send_options(run_id: int, meta: dict[str, Any]) -> dict[str, Any]:
    """The send actor's keyword arguments for rows of run ``run_id``: the run, and its own cap when it has one."""
    return batch_kwargs(run_rate(meta), run_id)


def campaign_rate(settings: Settings, name: str) -> float | None:
    """The ``rate_limit.per_second`` of campaign ``name`` as its file says now (cached for a minute), or None.

    For runs whose meta does not carry the cap (runs started by the API): every re-enqueue of their rows must
    keep it, and reading every campaign file per message would cost more than the send.
    """
    from hub.campaigns.loader import find_campaign
    from hub.errors import CampaignError

    now = time.monotonic()
    cache = _campaign_rates()
    cached = cache.get(name)
    if cached is not None and now - cached[0] < CAMPAIGN_RATE_TTL_S:
        return cached[1]
    try:
        spec = find_campaign(settings, name)
    except CampaignError:
        rate = None  # removed or broken: the sender cap still applies
    else:
        rate = float(spec.rate_limit.per_second) if spec.rate_limit is not None else None
    cache[name] = (now, rate)
    return rate


def _campaign_rates() -> dict[str, tuple[float, float | None]]:
    """The process runtime's cache of campaign caps (an empty one, not kept, where the actors are not set up)."""
    try:
        return runtime.current().campaign_rates
    except RuntimeError:
        return {}


def run_send_options(run: RunRecord, settings: Settings) -> dict[str, Any]:
    """:func:`send_options` for ``run``: its own cap from its meta, else from its campaign file."""
    meta = dict(run.meta)
    if run_rate(meta) is None and run.campaign:
        rate = campaign_rate(settings, run.campaign)
        if rate is not None:
            meta["rate_limit"] = {"per_second": rate}
    return send_options(run.id, meta)


def enqueue_many(actor: dramatiq.Actor[Any, Any], message_ids: Iterable[int], *, options: dict[str, Any]) -> int:
    """Enqueue one ``actor(message_id)`` per id, pipelined on Redis (one round trip per :data:`BATCH_SIZE`).

    On Redis through :meth:`actors.broker.HubRedisBroker.enqueue_many`; any other broker gets plain enqueues.

    Returns:
        How many messages were enqueued.
    """
    messages = [actor.message_with_options(args=(message_id,), **options) for message_id in message_ids]
    _enqueue_all(actor.broker, messages)
    return len(messages)


def enqueue_rows(message_ids: Iterable[int], *, options: dict[str, Any]) -> int:
    """Enqueue the sends of owed ledger rows (fan-out, API, sweeper, due sweep, recovery): send actor messages
    of ``sending.batch_size`` ids (1: a batch of one per row).

    The size is the settings the process's actors were set up with (:func:`actors.setup`), the same that chose
    the broker these messages go to.

    Args:
        message_ids: owed rows, best of one run.
        options: :func:`send_options` of their run (empty when they have none in common).

    Returns:
        How many ids were enqueued.
    """
    size = runtime.current().settings.sending.batch_size
    return enqueue_batches(send_batch, message_ids, options=options, size=size)


def enqueue_sends(message_ids: list[int], *, run_id: int | None = None, meta: dict[str, Any] | None = None) -> int:
    """Enqueue the sends of ``message_ids``, pipelined (the API's and start-up recovery's entry point).

    Args:
        message_ids: ledger row ids (owed rows).
        run_id: their run, when they share one and it may carry its own rate cap.
        meta: that run's meta (``rate_limit.per_second``).

    Returns:
        How many ids were enqueued.
    """
    options = send_options(run_id, meta or {}) if run_id is not None else {}
    return enqueue_rows(message_ids, options=options)


def enqueue_batches(
    actor: dramatiq.Actor[Any, Any], message_ids: Iterable[int], *, options: dict[str, Any], size: int
) -> int:
    """Enqueue ``actor(ids, run_rate=..., run_id=...)`` (the send actor) per ``size`` ids, pipelined like
    :func:`enqueue_many`; of a run's ids, only as many as its window has room for (:mod:`hub.run_share`).

    Args:
        actor: the send actor.
        message_ids: ledger row ids, best of one run (its id and cap travel with each batch).
        options: :func:`send_options` of their run: the messages' keyword arguments.
        size: ids per message.

    Returns:
        How many ids were enqueued.
    """
    ids = list(message_ids)
    rate, run_id = options.get("run_rate"), options.get("run_id")
    inflight = inflight_of(actor.broker)
    if run_id is not None and inflight is not None:
        # Only the run's window: the rest stay owed in the ledger, queued as the run's batches end (hub.run_share).
        window = window_rows(rate, runtime.current().settings.rate_limits.per_second, size)
        ids = ids[: room(window, inflight.run_rows(run_id))]
        inflight.note_queued(run_id, ids)
    kwargs = batch_kwargs(rate, run_id)
    chunks = [ids[start : start + size] for start in range(0, len(ids), size)]
    _enqueue_all(actor.broker, [actor.message_with_options(args=(chunk,), kwargs=kwargs) for chunk in chunks])
    return len(ids)


def _enqueue_all(
    broker: dramatiq.Broker, messages: Sequence[dramatiq.Message[Any]], delays: Sequence[int | None] | None = None
) -> None:
    """Enqueue ``messages`` (each after its delay in ms, None for none): on Redis one pipelined round trip per
    :data:`BATCH_SIZE`, elsewhere one by one."""
    delays = list(delays) if delays is not None else [None] * len(messages)
    if not isinstance(broker, HubRedisBroker):
        for message, delay in zip(messages, delays, strict=True):
            broker.enqueue(message, delay=delay)
        return
    inflight = inflight_of(broker)

    def count(pipe: Any, ready: list[Any]) -> None:
        # Counted in the same round trip; the enqueue hooks then must not count them again (batched()).
        if inflight is not None:
            inflight.adjust([delta for m in ready for delta in inflight.deltas_of(m)], client=pipe)

    for start in range(0, len(messages), BATCH_SIZE):
        with batched():
            broker.enqueue_many(
                messages[start : start + BATCH_SIZE], delays=delays[start : start + BATCH_SIZE], also=count
            )


__all__ = [
    "BATCH_SIZE",
    "campaign_rate",
    "enqueue_batches",
    "enqueue_many",
    "enqueue_rows",
    "enqueue_sends",
    "run_rate",
    "run_send_options",
    "send_options",
]
