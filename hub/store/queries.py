"""The store: every database read and write the rest of the hub may make (async; returns plain records).

Call :func:`hub.store.db.connect` first (or :func:`hub.store.db.run_sync` from sync code).
"""

from __future__ import annotations

from hub.store.attempts import defer_owed, pause_run
from hub.store.callbacks import Outcome, apply_status
from hub.store.contacts import (
    audience_contacts,
    change_contact,
    contact_attributes,
    contact_pages,
    get_contact,
    get_contacts,
    import_contacts,
    list_contacts,
    opted_out,
    read_contact,
    record_inbound,
    set_opt_in,
    set_opt_out,
)
from hub.store.events import history
from hub.store.idempotency import claim_idempotent, complete_idempotent, get_idempotent
from hub.store.ledger import (
    claim_batch_for_send,
    claim_for_send,
    insert_messages,
    mark_final,
    mark_submitted,
    owed_of_run,
    pending_of,
    release_for_retry,
)
from hub.store.reads import get_message, list_messages, message_totals, run_counts, run_progress, runs_progress
from hub.store.recipients import recipients_sent_since
from hub.store.records import (
    ContactChange,
    ContactProfile,
    ContactRecord,
    IdempotencyRecord,
    InboundRecord,
    MessageRecord,
    NewMessage,
    RunProgress,
    RunRecord,
    StatusEventRecord,
    StatusUpdate,
)
from hub.store.reports import (
    FailureGroup,
    WaitGroup,
    export_page,
    iter_run_messages,
    run_failures,
    run_waits,
    runs_page,
)
from hub.store.runs import (
    cancel_run,
    create_run,
    finish_if_done,
    finish_if_settled,
    get_run,
    list_runs,
    set_run_state,
    update_checkpoint,
)
from hub.store.schedules import note_schedule
from hub.store.sweeps import due_message_ids, expire_messages, stale_sending
from hub.store.templates import *  # noqa: F403  (content template registry; its __all__ is the surface)

__all__ = [
    "ContactChange",
    "ContactProfile",
    "ContactRecord",
    "FailureGroup",
    "IdempotencyRecord",
    "InboundRecord",
    "MessageRecord",
    "NewMessage",
    "Outcome",
    "RunProgress",
    "RunRecord",
    "StatusEventRecord",
    "StatusUpdate",
    "WaitGroup",
    "apply_status",
    "audience_contacts",
    "cancel_run",
    "change_contact",
    "claim_batch_for_send",
    "claim_for_send",
    "claim_idempotent",
    "complete_idempotent",
    "contact_attributes",
    "contact_pages",
    "create_run",
    "defer_owed",
    "due_message_ids",
    "expire_messages",
    "export_page",
    "finish_if_done",
    "finish_if_settled",
    "get_contact",
    "get_contacts",
    "get_idempotent",
    "get_message",
    "get_run",
    "history",
    "import_contacts",
    "insert_messages",
    "iter_run_messages",
    "list_contacts",
    "list_messages",
    "list_runs",
    "mark_final",
    "mark_submitted",
    "message_totals",
    "note_schedule",
    "opted_out",
    "owed_of_run",
    "pause_run",
    "pending_of",
    "read_contact",
    "recipients_sent_since",
    "record_inbound",
    "release_for_retry",
    "run_counts",
    "run_failures",
    "run_progress",
    "run_waits",
    "runs_page",
    "runs_progress",
    "set_opt_in",
    "set_opt_out",
    "set_run_state",
    "stale_sending",
    "update_checkpoint",
]
