"""The verdict of a chaos scenario: the ledger against the fake Twilio's creates (pure over what both recorded).

Rules (SPEC §8-§9): every expected recipient has a row; no row is still owed (``pending``/``sending``) once
the sweeper has settled; a row Twilio has (``accepted`` ... ``read``) matches exactly one accepted create; an
``unknown`` row carries a reason and at most one create; no recipient has two accepted creates; attempts stay
within ``max_retries + 1``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

OWED = frozenset({"pending", "sending"})
#: Twilio took the create and answered (the row holds its sid).
ANSWERED = frozenset({"accepted", "scheduled", "queued", "sent", "delivered", "read", "undelivered"})


@dataclass
class Verdict:
    """What was counted; ``problems`` lists every broken rule (empty when the guarantees held)."""

    recipients: int = 0
    rows: int = 0
    creates: int = 0
    duplicates: int = 0
    lost: int = 0
    unknown: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    max_attempts: int = 0
    problems: list[str] = field(default_factory=list)

    def line(self) -> str:
        states = ", ".join(f"{k}: {v}" for k, v in sorted(self.statuses.items()))
        return (
            f"recipients: {self.recipients}, rows: {self.rows}, creates: {self.creates}, "
            f"duplicates: {self.duplicates}, lost: {self.lost}, unknown: {self.unknown}, "
            f"max attempts: {self.max_attempts} ({states})"
        )


def judge(
    expected: Iterable[str],
    rows: Iterable[Mapping[str, Any]],
    accepted: Mapping[str, int],
    *,
    max_retries: int,
    failed_after_create: frozenset[str] = frozenset(),
) -> Verdict:
    """Check the guarantees.

    Args:
        expected: every recipient (E.164) that was accepted into the run.
        rows: ledger rows with ``recipient``, ``status``, ``attempts``, ``sid``, ``error_message``.
        accepted: creates the fake Twilio accepted, per ``whatsapp:+...`` number.
        max_retries: ``retries.max_retries``.
        failed_after_create: recipients whose ``failed`` comes from Twilio after it accepted the create (a
            callback), so they have one create; other ``failed`` rows must have none.
    """
    verdict = Verdict()
    wanted = set(expected)
    verdict.recipients = len(wanted)
    per_recipient: Counter[str] = Counter()
    statuses: Counter[str] = Counter()
    for row in rows:
        recipient, status = str(row["recipient"]), str(row["status"])
        per_recipient[recipient] += 1
        statuses[status] += 1
        verdict.rows += 1
        verdict.max_attempts = max(verdict.max_attempts, int(row["attempts"] or 0))
        creates = accepted.get(f"whatsapp:{recipient}", 0)
        if status in OWED:
            verdict.lost += 1
            verdict.problems.append(f"{recipient}: still {status} after the sweeper settled")
        elif status == "unknown":
            verdict.unknown += 1
            if not row.get("error_message"):
                verdict.problems.append(f"{recipient}: unknown without a recorded reason")
            if creates > 1:
                verdict.problems.append(f"{recipient}: unknown with {creates} creates")
        elif status in ANSWERED and creates != 1:
            verdict.problems.append(f"{recipient}: {status} but {creates} creates at Twilio")
        elif status == "failed" and creates != (1 if recipient in failed_after_create else 0):
            verdict.problems.append(f"{recipient}: failed with {creates} creates at Twilio")
        if int(row["attempts"] or 0) > max_retries + 1:
            verdict.problems.append(f"{recipient}: {row['attempts']} attempts > max_retries + 1")
    missing = wanted - set(per_recipient)
    verdict.lost += len(missing)
    verdict.problems += [f"{r}: no ledger row" for r in sorted(missing)[:20]]
    verdict.problems += [f"{r}: {n} ledger rows" for r, n in per_recipient.items() if n > 1]
    verdict.creates = sum(accepted.get(f"whatsapp:{r}", 0) for r in wanted)
    doubled = [r for r in wanted if accepted.get(f"whatsapp:{r}", 0) > 1]
    verdict.duplicates = len(doubled)
    verdict.problems += [f"{r}: {accepted[f'whatsapp:{r}']} creates at Twilio" for r in sorted(doubled)[:20]]
    verdict.statuses = dict(statuses)
    return verdict


__all__ = ["ANSWERED", "OWED", "Verdict", "judge"]
