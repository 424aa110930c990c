"""How Twilio-aware retries fit Dramatiq's ``Retries`` middleware: who retries what, and why.

There are two retry budgets, and they never mix:

1. **Send attempts live in the ledger.** A classified Twilio failure is settled by the send actor itself after
   its claim: a transient error puts the row back to ``pending`` with ``next_attempt_at`` (exponential backoff
   with jitter, ``Retry-After`` wins) and re-enqueues the message with exactly that delay, while the row's
   ``attempts`` are within ``retries.max_retries``; past it, the row ends ``failed``. The budget is the row's,
   so it survives a lost Dramatiq message or a sweeper re-enqueue, and Dramatiq's counter stays at 0. (Raising
   ``dramatiq.Retry`` instead would count in Dramatiq's budget, live in Redis only, and leave the row claimed.)
   Permanent and ambiguous failures end the row (``failed`` / ``unknown``) and return normally.
2. **Dramatiq's ``Retries`` covers the infrastructure before a claim.** A database or Redis outage raises out
   of the actor before anything reached Twilio; Dramatiq retries the message with its own exponential backoff
   (``min_backoff_ms`` .. ``max_backoff_ms``). When that budget runs out the row is still ``pending`` in the
   ledger, and the sweeper re-enqueues it later: nothing is lost.

Some exceptions must never be retried by Dramatiq, whatever the budget: :class:`ClaimAbandoned` (an unexpected
error after the claim: Twilio may have the message, so the row stays ``sending`` until the sweeper marks it
``unknown``), and the classified errors that mean "retrying cannot help" (:data:`NEVER_RETRY`).
:func:`should_retry` is the one predicate, wired as ``Retries(retry_when=...)``.

Pacing never raises (see :mod:`actors.pacing`), so it never spends either budget.
"""

from __future__ import annotations

import functools

from dramatiq.middleware import Retries

from hub.config import RetrySettings
from hub.errors import AmbiguousSendError, CampaignError, ConfigError, HubError, PermanentSendError, RenderError


class ClaimAbandoned(HubError):
    """An unexpected error after the send actor claimed its row: the Twilio call may have happened.

    Never retried: re-sending could message the recipient twice. The sweeper turns the stale ``sending`` row
    into ``unknown``.
    """


#: Errors for which another try cannot help (or could send twice).
NEVER_RETRY: tuple[type[BaseException], ...] = (
    ClaimAbandoned,
    PermanentSendError,
    AmbiguousSendError,
    RenderError,
    CampaignError,
    ConfigError,
)


def should_retry(retries: int, exc: BaseException, *, max_retries: int) -> bool:
    """Whether Dramatiq should run a failed message again (pure).

    Args:
        retries: how many times the message was already retried (0 on its first failure).
        exc: what the actor raised.
        max_retries: Dramatiq's budget for infrastructure failures.
    """
    if isinstance(exc, NEVER_RETRY):
        return False
    return retries < max_retries


def build_retries(settings: RetrySettings) -> Retries:
    """Dramatiq's ``Retries`` configured for infrastructure failures, with :func:`should_retry` as the policy.

    Args:
        settings: ``retries.*``: the same budget and backoff bounds (ms) as send attempts.
    """
    return Retries(
        max_retries=settings.max_retries,
        min_backoff=settings.min_backoff_ms,
        max_backoff=settings.max_backoff_ms,
        retry_when=functools.partial(should_retry, max_retries=settings.max_retries),
    )


__all__ = ["NEVER_RETRY", "ClaimAbandoned", "build_retries", "should_retry"]
