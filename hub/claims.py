"""The lease of a send claim (pure): how long a worker owns a ``sending`` row, and until when it may still send.

A claim is fenced by its instant (``claimed_at``, stored on the row): every later write of the worker is
conditional on it, so a worker whose row was taken and claimed again writes nothing. Twilio cannot check a
fencing token, so the send itself is fenced by time: nobody takes a ``sending`` row before :func:`claim_lease`
has passed since its claim (the sweeper's rule), and the claiming worker starts no HTTP call later than
:func:`send_deadline` after it asked for the claim, measured on its own monotonic clock (which keeps counting
while the process is stopped or stalled).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

#: Room the lease leaves for clocks that disagree between the worker that stamps a claim and the sweeper.
CLOCK_SKEW = timedelta(seconds=30)
#: Grace beyond the two HTTP timeouts a create may take (the worker's, and a retry by the HTTP client).
_LEASE_GRACE = timedelta(seconds=60)


def claim_lease(twilio_timeout_s: float) -> timedelta:
    """How old a ``sending`` claim is before it may be taken from its worker (the sweeper marks it ``unknown``)."""
    return 2 * timedelta(seconds=twilio_timeout_s) + _LEASE_GRACE


def send_deadline(twilio_timeout_s: float) -> timedelta:
    """How long after asking for its claim a worker may still start the HTTP call.

    The call may take the whole timeout and the clocks may disagree by :data:`CLOCK_SKEW`; both fit in the lease,
    so a call started in time is under way before anyone can take the row.
    """
    return claim_lease(twilio_timeout_s) - timedelta(seconds=twilio_timeout_s) - CLOCK_SKEW


@dataclass(frozen=True, slots=True)
class Claim:
    """One worker's hold on one ledger row.

    Attributes:
        message_id: the row.
        token: the claim instant stored on the row (``claimed_at``); every write of the worker names it.
        asked_at: the worker's monotonic clock (seconds) just before it sent the claim statement.
        deadline_s: :func:`send_deadline` in seconds.
    """

    message_id: int
    token: datetime
    asked_at: float
    deadline_s: float

    def may_send(self, now: float) -> bool:
        """Whether the worker may start the HTTP call at monotonic ``now`` (its lease is not running out)."""
        return now - self.asked_at < self.deadline_s


__all__ = ["CLOCK_SKEW", "Claim", "claim_lease", "send_deadline"]
