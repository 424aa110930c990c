"""Runs: create (exactly once per campaign fire), read, move through their lifecycle, checkpoint, cancel."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from hub.status import MessageStatus, RunState
from hub.store.db import current_engine, transaction
from hub.store.records import RunRecord
from hub.store.rows import run_record, utc, when
from hub.store.tables import Message, Run, RunKind, RunTrigger
from hub.store.tallies import status_counts

#: States after which a run changes no more.
FINAL_RUN_STATES = frozenset({RunState.FINISHED, RunState.CANCELED, RunState.MISSED})
#: Message states a run still owes (it cannot finish while a row is in one).
_OWED = (MessageStatus.PENDING, MessageStatus.SENDING)
#: Runs whose owed messages must not be claimed.
HELD_RUN_STATES = (RunState.PAUSED.value, RunState.CANCELED.value)


async def create_run(
    *,
    kind: str = RunKind.CAMPAIGN.value,
    trigger: str = RunTrigger.API.value,
    campaign: str | None = None,
    fire_key: str | None = None,
    state: RunState = RunState.SCHEDULED,
    scheduled_at: datetime | None = None,
    expires_at: datetime | None = None,
    total: int | None = None,
    git_commit: str | None = None,
    meta: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> tuple[RunRecord, bool]:
    """Create a run, or return the one already created for the same ``(campaign, fire_key)``.

    Args:
        kind: ``campaign``, ``bulk`` or ``single``.
        trigger: ``schedule``, ``api`` or ``cli``.
        campaign: campaign name; None for API sends.
        fire_key: the scheduled fire time as a string (e.g. ISO 8601 UTC); with ``campaign`` the
            exactly-once key. None never collides.
        state: initial state (``missed`` records a fire that was too late).
        scheduled_at: when the run is meant to start (UTC).
        expires_at: owed messages still unsent at this instant end as ``expired``. When None and
            ``meta["expires_at"]`` holds an ISO 8601 time, that is used.
        total: audience size when known.
        git_commit: commit of the campaign files.
        meta: message spec, rate limit, send window and other fan-out settings (JSON-serialisable).
        now: creation time (UTC); defaults to now.

    Returns:
        ``(run, created)``: ``created`` is False when the fire already had a run.
    """
    meta = dict(meta or {})
    if expires_at is None and isinstance(meta.get("expires_at"), str):
        expires_at = datetime.fromisoformat(meta["expires_at"])
    at = when(now)
    row = Run(
        kind=kind,
        trigger=trigger,
        campaign=campaign,
        fire_key=fire_key,
        state=RunState(state).value,
        scheduled_at=utc(scheduled_at),
        expires_at=utc(expires_at),
        finished_at=at if state in FINAL_RUN_STATES else None,
        created_at=at,
        total=total,
        checkpoint=0,
        git_commit=git_commit,
        meta=meta,
    )
    inserted = (
        await Run.insert(row)
        .on_conflict(target=(Run.campaign, Run.fire_key), action="DO NOTHING")
        .returning(*Run.all_columns())
    )
    if inserted:
        return run_record(inserted[0]), True
    existing = await Run.select().where((Run.campaign == campaign) & (Run.fire_key == fire_key)).first()
    if existing is None:  # only possible if the winner was deleted in between
        raise RuntimeError(f"run for {campaign!r} at {fire_key!r} conflicted but cannot be found")
    return run_record(existing), False


async def get_run(run_id: int) -> RunRecord | None:
    """One run, or None."""
    row = await Run.select().where(Run.id == run_id).first()
    return run_record(row) if row else None


async def list_runs(
    *, campaign: str | None = None, states: Iterable[RunState] | None = None, limit: int = 50
) -> list[RunRecord]:
    """Runs, newest first, optionally of one campaign and/or in some states."""
    query = Run.select().order_by(Run.id, ascending=False).limit(limit)
    if campaign is not None:
        query = query.where(Run.campaign == campaign)
    if states is not None:
        values = [RunState(s).value for s in states]
        if values:
            query = query.where(Run.state.is_in(values))
    return [run_record(row) for row in await query]


async def set_run_state(
    run_id: int,
    state: RunState,
    *,
    from_states: Iterable[RunState] | None = None,
    now: datetime | None = None,
) -> RunRecord | None:
    """Move a run to ``state`` (compare-and-set when ``from_states`` is given).

    ``finished``/``canceled``/``missed`` stamp ``finished_at``. ``started_at`` is not this call's: a run starts
    when its first row is claimed (``sql/send.sql``: claim).

    Returns:
        The updated run, or None when the run does not exist or was not in ``from_states``.
    """
    at = when(now)
    values: dict[Any, Any] = {Run.state: RunState(state).value}
    if state in FINAL_RUN_STATES:
        values[Run.finished_at] = at
    where: Any = Run.id == run_id
    if from_states is not None:
        allowed = [RunState(s).value for s in from_states]
        if not allowed:
            return None
        where = where & Run.state.is_in(allowed)
    rows = await Run.update(values).where(where).returning(*Run.all_columns())
    if not rows:
        return None
    return run_record(rows[0])


async def update_checkpoint(
    run_id: int,
    checkpoint: int,
    *,
    total: int | None = None,
    fanned_out: bool = False,
    now: datetime | None = None,
) -> None:
    """Record fan-out progress: the audience position written up to, the total when known, and completion.

    Args:
        run_id: the run.
        checkpoint: audience position reached (rows up to here are in the ledger).
        total: audience size, when now known.
        fanned_out: True once the last ledger row is written; stamps ``fanned_out_at``.
        now: time of the update (UTC).
    """
    values: dict[Any, Any] = {Run.checkpoint: checkpoint}
    if total is not None:
        values[Run.total] = total
    if fanned_out:
        values[Run.fanned_out_at] = when(now)
    await Run.update(values).where(Run.id == run_id)


async def lock_run(run_id: int) -> RunState | None:
    """Hold the run's row lock until the enclosing transaction ends (a write that changes nothing); its state.

    :func:`finish_if_done` and :func:`reopen_run`'s callers take it first, so counting a run's owed rows and
    making one of its rows owed again never interleave.
    """
    rows = await Run.update({Run.state: Run.state}).where(Run.id == run_id).returning(Run.state)
    return RunState(rows[0]["state"]) if rows else None


async def finish_if_done(run_id: int, *, now: datetime | None = None) -> bool:
    """Mark a running run ``finished`` when fan-out is complete and nothing is owed (pending/sending); one that
    never had a row claimed gets ``started_at`` too, the same instant.

    One transaction behind the run's lock (:func:`lock_run`): a row released back to ``pending`` meanwhile is
    either counted here or finds the run finished and reopens it.

    Returns:
        True when this call finished the run.
    """
    async with transaction():
        if await lock_run(run_id) != RunState.RUNNING:
            return False
        # A journey's entries first: an index probe, where counting its owed rows while entries are still on their
        # way (every advancer batch that ended one asks) read every row of a large run.
        if await _journey_active(run_id):
            return False
        owed = await Message.count().where((Message.run == run_id) & Message.status.is_in([s.value for s in _OWED]))
        if owed:
            return False
        at = when(now)
        rows = (
            await Run.update({Run.state: RunState.FINISHED.value, Run.finished_at: at})
            .where((Run.id == run_id) & (Run.state == RunState.RUNNING.value) & Run.fanned_out_at.is_not_null())
            .returning(Run.id, Run.started_at)
        )
        if rows and rows[0]["started_at"] is None:  # no row was ever claimed (all rejected or skipped)
            await Run.update({Run.started_at: at}).where(Run.id == run_id)
    return bool(rows)


async def finish_if_settled(run_id: int, *, now: datetime | None = None) -> bool:
    """:func:`finish_if_done` for a writer that has just settled rows of the run (the send path, after a batch).

    The run's tally answers first (a read of a few rows, no lock), so a batch of a run that still owes rows costs
    one cheap read; only when the tally shows nothing owed does :func:`finish_if_done` lock and count. Called after
    the settling writes committed: of two batches settling a run's last rows at once, the later one sees both.

    Returns:
        True when this call finished the run.
    """
    counts = (await status_counts([run_id]))[run_id]
    if any(counts.get(status.value) for status in _OWED):
        return False
    return await finish_if_done(run_id, now=now)


async def _journey_active(run_id: int) -> bool:
    """A journey run is not done while one of its entries is still on its way."""
    rows = await current_engine().fetch(
        "SELECT EXISTS (SELECT 1 FROM journey_entry WHERE run = $1 AND active) AS active", [run_id]
    )
    return bool(rows and rows[0]["active"])


async def reopen_run(run_id: int) -> bool:
    """Put a ``finished`` run back to ``running``: one of its rows is owed again (reconciliation released it).

    Call it in the transaction that made the row owed, after :func:`lock_run`; :func:`finish_if_done` finishes
    the run again once the row settles. Any other state is left alone (a canceled run stays canceled).

    Returns:
        True when the run was reopened.
    """
    rows = (
        await Run.update({Run.state: RunState.RUNNING.value, Run.finished_at: None})
        .where((Run.id == run_id) & (Run.state == RunState.FINISHED.value))
        .returning(Run.id)
    )
    return bool(rows)


async def cancel_run(run_id: int, *, now: datetime | None = None) -> int:
    """Cancel a run: the run becomes ``canceled`` and every message not yet claimed becomes ``canceled``.

    Messages already claimed (``sending``) or handed to Twilio are left to finish.

    Returns:
        The number of messages canceled.
    """
    at = when(now)
    # The run first, so no worker can claim a row between the two statements.
    await set_run_state(
        run_id,
        RunState.CANCELED,
        from_states=(RunState.SCHEDULED, RunState.RUNNING, RunState.PAUSED),
        now=at,
    )
    rows = (
        await Message.update(
            {
                Message.status: MessageStatus.CANCELED.value,
                Message.finished_at: at,
                Message.updated_at: at,
                Message.error_message: "run canceled",
            }
        )
        .where((Message.run == run_id) & (Message.status == MessageStatus.PENDING.value))
        .returning(Message.id)
    )
    return len(rows)
