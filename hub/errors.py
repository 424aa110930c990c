"""The exception vocabulary: one root, split by what the caller should do next."""

from __future__ import annotations


class HubError(Exception):
    """Root of every error this package raises on purpose."""


class ConfigError(HubError):
    """The configuration file or environment is invalid.

    The message always names the file (or variable) and the key.
    """


class Problem(HubError):
    """One located problem in a user-authored file.

    Rendered as ``FILE:LINE: field.path: message`` (line omitted when unknown).

    Args:
        file: path of the file as the user would type it.
        field: dotted field path inside the file (``schedule.cron``), or "" for the whole file.
        message: what was expected and what was found.
        line: 1-based line in the file, when known.
    """

    def __init__(self, file: str, field: str, message: str, line: int | None = None) -> None:
        self.file = file
        self.field = field
        self.message = message
        self.line = line
        super().__init__(str(self))

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"


class CampaignError(Problem):
    """A campaign file (or something it references) is invalid."""


class CampaignErrors(CampaignError):
    """Every problem found in one campaign file. Reads as the first (its fields) and prints one line per problem.

    Args:
        problems: at least one, in the order to show them.
    """

    def __init__(self, problems: list[CampaignError]) -> None:
        if not problems:
            raise ValueError("CampaignErrors needs at least one problem")
        first = problems[0]
        self.problems = problems
        super().__init__(first.file, first.field, first.message, first.line)

    def __str__(self) -> str:
        return "\n".join(Problem.__str__(problem) for problem in self.problems)


class RenderError(HubError):
    """A message could not be rendered for one recipient (missing variable, too long, sandbox refusal)."""


class InvalidPhoneError(HubError):
    """A phone number could not be parsed or is not a valid number."""


class SendError(HubError):
    """Sending through a transport failed.

    Args:
        message: human-readable reason (Twilio's message when there is one).
        code: Twilio error code when known (e.g. 21211), else None.
        http_status: HTTP status of the failed call when known.
        retry_after_ms: server-requested wait (``Retry-After``) in milliseconds, when given.
    """

    def __init__(
        self,
        message: str,
        *,
        code: int | None = None,
        http_status: int | None = None,
        retry_after_ms: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.http_status = http_status
        self.retry_after_ms = retry_after_ms


class TransientSendError(SendError):
    """Twilio did not take the message and said so; safe to retry with backoff."""


class PermanentSendError(SendError):
    """Retrying cannot help (bad number, opted out, outside the window...)."""


class AmbiguousSendError(SendError):
    """The request may have reached Twilio (timeout after sending): the outcome is unknown, never re-send blindly."""


class AmbiguousTemplate(HubError):
    """Several registered templates share a friendly name and none is the one approved: name it by sid."""
