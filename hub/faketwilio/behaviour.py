"""What the fake Twilio answers to one create: validation like Twilio's, magic recipients, random failures (pure).

Magic recipients: a ``To`` of ``whatsapp:`` + :data:`MAGIC_PREFIX` + 4 digits (``+1500555`` is Twilio's own
test-number range, never a real phone, so benchmark audiences do not hit it by accident):

======  =======================================================================================
 last   behaviour
======  =======================================================================================
 0001   400, code 21211 (invalid To)
 0002   400, code 21610 (recipient unsubscribed)
 0003   429, code 20429 with ``Retry-After: 1`` on the first create for the number, then success
 0004   500, code 20500 on the first create for the number, then success
 0005   accepted and recorded (callbacks follow), but the answer hangs past any client timeout
 0006   accepted; callback ``failed`` with 63016 (outside the 24 h window)
 0007   accepted; callbacks ``sent`` then ``undelivered`` with 63024 (not on WhatsApp)
 0008   accepted and recorded, then the connection is dropped without an answer
 0009   503, code 20503, every time
======  =======================================================================================

``rate_limit_per_second`` (``hub fake-twilio --rate-limit``) holds the account to that many creates a second, as
Twilio does: the creates beyond it answer 429 / 20429.
"""

from __future__ import annotations

import json
import random
import re
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

MAGIC_PREFIX = "+1500555"
MORE_INFO = "https://www.twilio.com/docs/errors/{code}"

_TO = re.compile(r"^whatsapp:\+[1-9]\d{6,14}$")
_CONTENT_SID = re.compile(r"^HX[0-9a-fA-F]{32}$")
MAX_BODY = 1600

Step = tuple[str, int | None]

#: Callback messages for the error codes the fake posts.
CALLBACK_ERRORS: dict[int, str] = {
    63016: "Failed to send freeform message because you are outside the allowed window.",
    63024: "Invalid message recipient",
}


@dataclass
class FakeConfig:
    """Runtime knobs of the fake server (``POST /_fake/config`` changes them while it runs).

    Attributes:
        latency_ms: time every create takes before answering, ms.
        fail_rate: share (0..1) of creates answered with a transient error (half 429/20429, half 503/20503).
        auth_token: required Basic-auth password and callback signing key; None accepts any password and signs
            each message's callbacks with the password its create used.
        account_sid: the only account accepted; None accepts any ``AC...`` whose Basic-auth user matches the path.
        callbacks: post status callbacks to ``StatusCallback``.
        callback_delay_ms: time between one status callback and the next, ms.
        hang_s: how long a magic ``0005`` create hangs before answering, seconds.
        rate_limit_per_second: the account's own limit, as Twilio holds it: a create beyond this many in the last
            second is answered 429 / 20429 (a rate limit that persists while the sender goes faster); None: none.
        content_latency_ms: time every Content API read (a content, its approval) takes before answering, ms.
    """

    latency_ms: float = 0.0
    fail_rate: float = 0.0
    auth_token: str | None = None
    account_sid: str | None = None
    callbacks: bool = True
    callback_delay_ms: float = 50.0
    hang_s: float = 30.0
    rate_limit_per_second: float | None = None
    content_latency_ms: float = 0.0

    def update(self, changes: Mapping[str, object]) -> None:
        """Apply a partial update (from JSON); unknown keys raise ``KeyError``."""
        for key, value in changes.items():
            if key not in self.__dataclass_fields__:
                raise KeyError(key)
            setattr(self, key, value)


@dataclass(frozen=True)
class Decision:
    """The fake's answer to one create.

    ``kind``: ``ok`` (201 + message, then ``steps`` as callbacks), ``error`` (an HTTP error, nothing created),
    ``hang`` (created, the answer comes after ``hang_s``), ``drop`` (created, the connection is cut).
    """

    kind: Literal["ok", "error", "hang", "drop"]
    http_status: int = 201
    code: int | None = None
    message: str = ""
    retry_after_s: int | None = None
    steps: tuple[Step, ...] = field(default=())

    @property
    def created(self) -> bool:
        return self.kind != "error"


RATE_LIMITED = Decision("error", 429, 20429, "Too Many Requests")


def over_rate_limit(taken: deque[float], now_s: float, per_second: float | None) -> bool:
    """Whether a create at ``now_s`` goes beyond ``per_second`` creates in the last second; ``taken`` holds the
    times of the creates let through (older ones are dropped from it, and this one is added when it goes)."""
    if per_second is None:
        return False
    while taken and taken[0] <= now_s - 1.0:
        taken.popleft()
    if len(taken) >= per_second:
        return True
    taken.append(now_s)
    return False


def error(http_status: int, code: int, message: str, retry_after_s: int | None = None) -> Decision:
    return Decision("error", http_status, code, message, retry_after_s)


def error_body(http_status: int, code: int, message: str) -> dict[str, object]:
    """Twilio's JSON error shape."""
    return {"code": code, "message": message, "more_info": MORE_INFO.format(code=code), "status": http_status}


def validate(form: Mapping[str, Sequence[str]]) -> Decision | None:
    """Check a create's form parameters like Twilio does; the error, or None when valid.

    Args:
        form: every parameter with all its values (``MediaUrl`` repeats).
    """

    def one(key: str) -> str | None:
        values = form.get(key) or []
        return values[-1] if values else None

    to, body, content_sid, variables = one("To"), one("Body"), one("ContentSid"), one("ContentVariables")
    media = list(form.get("MediaUrl") or [])
    if not to:
        return error(400, 21604, "A 'To' phone number is required.")
    if not _TO.match(to):
        return error(400, 21211, f"Invalid 'To' Phone Number: {to}")
    if not one("From") and not one("MessagingServiceSid"):
        return error(400, 21603, "A 'From' phone number is required.")
    if body is not None and content_sid is not None:
        return error(400, 21619, "Body and ContentSid cannot be combined")
    if body is None and content_sid is None and not media:
        return error(400, 21619, "A text message body or media urls must be specified.")
    if body is not None and len(body) > MAX_BODY:
        return error(400, 21617, "The concatenated message body exceeds the 1600 character limit.")
    if variables is not None and content_sid is None:
        return error(400, 21654, "ContentSid Required")
    if content_sid is not None and not _CONTENT_SID.match(content_sid):
        return error(400, 21655, "The ContentSid is Invalid")
    if variables is not None and not _valid_variables(variables):
        return error(400, 21656, "The ContentVariables Parameter is invalid")
    if len(media) > 10:
        return error(400, 21623, "Number of media files exceeds allowed limit")
    return None


def _valid_variables(raw: str) -> bool:
    try:
        parsed = json.loads(raw)
    except ValueError:
        return False
    return isinstance(parsed, dict) and all(isinstance(v, str | int | float) and str(v) != "" for v in parsed.values())


def normal_steps(with_service: bool) -> tuple[Step, ...]:
    """Callbacks for a message that goes through (``queued`` is posted only after ``accepted``)."""
    head: tuple[Step, ...] = (("queued", None),) if with_service else ()
    return (*head, ("sent", None), ("delivered", None), ("read", None))


def decide(
    form: Mapping[str, Sequence[str]],
    *,
    config: FakeConfig,
    previous_creates: int,
    rng: random.Random | None = None,
) -> Decision:
    """The answer to one create.

    Args:
        form: the create's form parameters.
        config: current knobs.
        previous_creates: creates already seen for this ``To`` (drives the "once, then success" magic).
        rng: random source for ``fail_rate``.
    """
    invalid = validate(form)
    if invalid is not None:
        return invalid
    to = form["To"][-1].removeprefix("whatsapp:")
    with_service = bool(form.get("MessagingServiceSid"))
    steps = normal_steps(with_service)
    if to.startswith(MAGIC_PREFIX) and len(to) == len(MAGIC_PREFIX) + 4:
        magic = to[-4:]
        if magic == "0001":
            return error(400, 21211, f"Invalid 'To' Phone Number: {to}")
        if magic == "0002":
            return error(400, 21610, "Attempt to send to unsubscribed recipient")
        if magic == "0003" and previous_creates == 0:
            return error(429, 20429, "Too Many Requests", retry_after_s=1)
        if magic == "0004" and previous_creates == 0:
            return error(500, 20500, "Internal Server Error")
        if magic == "0005":
            return Decision("hang", steps=steps)
        if magic == "0006":
            return Decision("ok", steps=(("failed", 63016),))
        if magic == "0007":
            return Decision("ok", steps=(("sent", None), ("undelivered", 63024)))
        if magic == "0008":
            return Decision("drop", steps=steps)
        if magic == "0009":
            return error(503, 20503, "Service Unavailable")
    if config.fail_rate > 0 and (rng or random).random() < config.fail_rate:
        if (rng or random).random() < 0.5:
            return error(429, 20429, "Too Many Requests")
        return error(503, 20503, "Service Unavailable")
    return Decision("ok", steps=steps)


__all__ = [
    "MAGIC_PREFIX",
    "RATE_LIMITED",
    "Decision",
    "FakeConfig",
    "decide",
    "error_body",
    "normal_steps",
    "over_rate_limit",
    "validate",
]
