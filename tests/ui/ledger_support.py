"""Moves a run's rows through the store the way the send path and Twilio's callbacks do (for dashboard tests)."""

from __future__ import annotations

from datetime import UTC, datetime

from hub.status import RunState
from hub.store import db, queries
from hub.store.records import InboundRecord, NewMessage, StatusUpdate

FAILURE = (63016, "Failed to send freeform message because you are outside the allowed window.")


def make_run(recipients: int, *, campaign: str = "spring-sale", body: str = "Hi {n}, spring sale: 20% off") -> int:
    """A running campaign run with ``recipients`` owed rows (+1415555 01xx numbers)."""
    run, _ = db.run_sync(queries.create_run(kind="campaign", campaign=campaign, state=RunState.RUNNING))
    db.run_sync(queries.set_run_state(run.id, RunState.RUNNING))
    rows = [NewMessage(recipient=f"+1415555{i:04d}", body=body.format(n=f"friend {i}")) for i in range(recipients)]
    db.run_sync(queries.insert_messages(run.id, rows))
    return run.id


def owed_ids(run_id: int) -> list[int]:
    items, _ = db.run_sync(queries.list_messages(run_id=run_id, status="pending", limit=1000))
    return sorted(item.id for item in items)


def send(run_id: int, count: int, *, then: str = "delivered", error: tuple[int, str] | None = None) -> list[int]:
    """Claim and submit ``count`` owed rows, then report ``then`` for each as a status callback would."""
    sent = []
    for message_id in owed_ids(run_id)[:count]:
        claimed = db.run_sync(queries.claim_for_send(message_id))
        assert claimed is not None, f"row {message_id} could not be claimed"
        sid = f"SM{message_id:032d}"
        db.run_sync(queries.mark_submitted(message_id, sid, "queued"))
        code, text = error if error else (None, None)
        now = datetime.now(UTC)
        for status in ("sent", then) if then != "sent" else ("sent",):
            update = StatusUpdate(
                sid=sid,
                status=status,
                at=now,
                error_code=code if status == then else None,
                error_message=text if status == then else None,
            )
            db.run_sync(queries.apply_status(update))
        sent.append(message_id)
    return sent


def reply(phone: str, text: str = "Thanks!") -> None:
    """An inbound message from ``phone`` (as the inbound webhook stores it)."""
    inbound = InboundRecord(
        sid=f"SMin{phone[1:]}", from_phone=phone, to="+14155238886", body=text, received_at=datetime.now(UTC)
    )
    db.run_sync(queries.record_inbound(inbound))
