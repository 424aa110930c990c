"""The send path's ledger checks applied to a dry run: opted-out contacts, the 24 h window, template approval,
and when the campaign's send window lets each message go.

The ledger is read when it is there (as the template registry is: never created as a side effect, a few seconds'
patience); without it the dry run says what it could not check.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Any

from hub.config import Settings
from hub.store.records import ContactRecord

__all__ = ["CHUNK", "Ledger", "contact_reader", "open_ledger"]

#: Recipients per contacts lookup.
CHUNK = 1000
#: Seconds to wait for the database before dry-running without it.
LEDGER_TIMEOUT_S = 5.0


class Ledger:
    """The ledger as a dry run reads it: contacts in batches, and the template guard."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def contacts(self, phones: list[str]) -> Mapping[str, ContactRecord]:
        from hub.store import db, queries

        return db.run_sync(queries.get_contacts(phones))

    def attributes(self, phones: list[str]) -> Mapping[str, dict[str, Any]]:
        """The contact attributes of those of ``phones`` that have any (``contact.*``)."""
        from hub.store import db, queries

        return db.run_sync(queries.contact_attributes(phones))

    def template_refusal(self, content_sid: str | None) -> str | None:
        """Why the send would hold this template (rejected, paused, disabled), or None."""
        from hub.store import db
        from hub.templates.guard import TemplateNotSendable, assert_sendable

        try:
            db.run_sync(assert_sendable(content_sid))
        except TemplateNotSendable as exc:
            return exc.reason
        return None


def open_ledger(settings: Settings) -> tuple[Ledger | None, str | None]:
    """The ledger, or None and why it cannot be read (unreachable, not migrated).

    No database at all means nothing is known of any contact yet: ``(None, None)``, nothing to check.
    """
    from hub.cli.failures import explain
    from hub.store import db, queries
    from hub.templates.check import registry_available

    if not registry_available(settings):
        return None, None

    async def probe() -> None:
        await db.connect(settings)
        await queries.get_contacts([])

    try:
        db.run_sync(asyncio.wait_for(probe(), LEDGER_TIMEOUT_S))
    except Exception as exc:  # any failure means "dry-run without the ledger", said on stderr
        return None, explain(exc, settings) or f"{type(exc).__name__}: {exc}"
    return Ledger(settings), None


#: The contact attributes of a list of phones, by phone.
Attributes = Callable[[list[str]], Mapping[str, dict[str, Any]]]


def contact_reader(ledger: Ledger | None, why_not: str | None) -> Attributes:
    """How a dry run reads contacts' attributes: from the ledger, or none, said once on stderr."""
    if ledger is not None:
        return ledger.attributes

    def none(phones: list[str]) -> Mapping[str, dict[str, Any]]:
        return {}

    import click

    reason = f" ({why_not})" if why_not else " (no ledger)"
    click.echo(f"note: contact attributes not read{reason}: `contact` is empty", err=True)
    return none
