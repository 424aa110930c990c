"""What to do with an ``unknown`` row once the provider said what it holds for the recipient (pure).

An ``unknown`` row's create may or may not have reached Twilio (SPEC §8: reconciled, never blindly re-sent).
The provider's list for the recipient settles it:

- exactly one message it holds that no other row owns, created after our claim and with our content, and no
  other unsettled row of that recipient that could own it: it is ours, attach its sid;
- nothing at all, and the claim is older than the quarantine (``twilio.reconcile_quarantine_seconds``: long
  enough that a create Twilio is still processing cannot land any more): it never arrived, the row is owed again;
- anything else (several candidates, a rival row, a young claim, a provider that cannot answer): leave it.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from hub.status import MessageStatus, from_twilio
from hub.transport.lookup import RemoteMessage

#: Clock difference allowed between our claim time and Twilio's ``date_created``.
SKEW = timedelta(seconds=60)


class Action(StrEnum):
    """The verdict on one row."""

    ATTACH = "attach"  # the provider has it: store the sid and its status
    RELEASE = "release"  # the provider never got it: owed again (sent once more)
    WAIT = "wait"  # nothing found yet, but a slow create could still land
    AMBIGUOUS = "ambiguous"  # more than one row or message could match: an operator decides
    UNANSWERABLE = "unanswerable"  # the provider cannot give a complete answer


@dataclass(frozen=True)
class Unsettled:
    """What reconciliation needs of an ``unknown`` row (no sid)."""

    id: int
    recipient: str
    body: str | None
    content_sid: str | None
    claimed_at: datetime | None


@dataclass(frozen=True)
class Verdict:
    """The decision for one row; ``message`` is set for :attr:`Action.ATTACH`."""

    action: Action
    reason: str
    message: RemoteMessage | None = None


def same_content(row: Unsettled, message: RemoteMessage) -> bool:
    """Could ``message`` be the create of ``row``? (pure)

    A free-form body must be equal (whitespace at the ends aside). A template row matches any body: Twilio
    stores the rendered template, not the ContentSid, so there is nothing to compare.
    """
    if row.content_sid or row.body is None:
        return True
    return (message.body or "").strip() == row.body.strip()


def decide(
    row: Unsettled,
    found: Sequence[RemoteMessage] | None,
    *,
    known_sids: Collection[str],
    rivals: int,
    now: datetime,
    quarantine: timedelta,
    skew: timedelta = SKEW,
) -> Verdict:
    """Decide what happens to one ``unknown`` row (pure).

    Args:
        row: the row.
        found: what the provider holds for ``row.recipient`` since the claim (minus ``skew``); None when it
            could not answer completely.
        known_sids: sids among ``found`` that rows of the ledger already own.
        rivals: other rows of the recipient without a sid still ``sending`` or ``unknown`` (one of them
            could own a match).
        now: the current time (UTC).
        quarantine: how long after the claim a create could still land at the provider.
        skew: allowed clock difference between us and the provider.
    """
    if found is None:
        return Verdict(Action.UNANSWERABLE, "the provider cannot list what it holds for this recipient")
    if row.claimed_at is None:
        return Verdict(Action.UNANSWERABLE, "no claim time to search from")
    since = row.claimed_at - skew
    candidates = [
        m
        for m in found
        if m.sid not in known_sids
        and m.direction.startswith("outbound")
        and m.created_at >= since
        and same_content(row, m)
    ]
    if len(candidates) > 1:
        return Verdict(Action.AMBIGUOUS, f"{len(candidates)} messages at the provider could be this one")
    if candidates:
        if rivals:
            return Verdict(Action.AMBIGUOUS, f"{rivals} other unsettled row(s) of the recipient could own it")
        return Verdict(Action.ATTACH, "the provider holds it", candidates[0])
    if now - row.claimed_at < quarantine:
        return Verdict(Action.WAIT, "not at the provider yet; a slow create could still land")
    return Verdict(Action.RELEASE, "reconciled: not at Twilio (the create never arrived); owed again")


#: What a create can answer: the status a row takes when its sid is stored.
_CREATE_ANSWERS = frozenset({MessageStatus.ACCEPTED, MessageStatus.QUEUED, MessageStatus.SCHEDULED})


def attach_steps(status: str) -> tuple[str, str | None]:
    """How a row takes the status Twilio lists for the message it holds (pure).

    Returns:
        (the status the sid is stored with, the status then applied as a status callback would, or None).
        A status a create could have answered is stored with the sid; a later one (``sent``, ``delivered``,
        ``failed``...) follows as a report, so it brings what a callback brings: ``delivered_at``, and the
        error code and message of a failure.
    """
    reported = from_twilio(status)
    if reported is None or reported in _CREATE_ANSWERS:
        return status, None
    return MessageStatus.ACCEPTED.value, status


__all__ = ["SKEW", "Action", "Unsettled", "Verdict", "attach_steps", "decide", "same_content"]
