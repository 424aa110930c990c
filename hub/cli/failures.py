"""Expected failures of a command (database or Redis unreachable, no schema yet) as one line saying what to fix."""

from __future__ import annotations

from collections.abc import Iterator

from hub.config import Settings, redact_url
from hub.errors import HubError
from hub.store.embedded import describe

__all__ = ["explain"]


def explain(exc: BaseException, settings: Settings | None) -> str | None:
    """The one line to print for an expected failure, or None for a bug (which keeps its traceback).

    Args:
        exc: what the command raised (its causes are looked at too).
        settings: the command's settings when they were loaded (for the URLs, shown without passwords).
    """
    for error in _chain(exc):
        line = _database(error, settings) or _redis(error, settings)
        if line is not None:
            return line
    if isinstance(exc, HubError):
        return str(exc)
    return None


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _database(error: BaseException, settings: Settings | None) -> str | None:
    import asyncpg

    url = describe(settings) if settings is not None else "the configured database"
    fix = "check DATABASE_URL (or database.url in config.yaml)"
    if isinstance(error, asyncpg.UndefinedTableError):
        return f"the database at {url} has no hub tables yet: run `hub db migrate` (or start `hub run`, which does)"
    if isinstance(error, asyncpg.InvalidCatalogNameError):
        return f"{error} (at {url}): create it (e.g. `createdb`) or {fix}"
    if isinstance(error, asyncpg.InvalidAuthorizationSpecificationError | asyncpg.InvalidPasswordError):
        return f"the database at {url} refused the login: {error}; {fix}"
    if isinstance(error, asyncpg.CannotConnectNowError):
        return f"the database at {url} is not accepting connections yet ({error}); try again, or {fix}"
    if isinstance(error, OSError | TimeoutError) and _from_module(error, "asyncpg"):
        return f"cannot reach the database at {url}: {_reason(error)}; is it running? {fix}"
    return None


def _redis(error: BaseException, settings: Settings | None) -> str | None:
    import redis

    if not isinstance(error, redis.ConnectionError | redis.TimeoutError):
        return None
    url = redact_url(settings.redis.url) if settings is not None else "the configured Redis"
    return f"cannot reach Redis at {url}: {_reason(error)}; is it running? check REDIS_URL (or redis.url)"


def _from_module(error: BaseException, module: str) -> bool:
    """Whether the error was raised while ``module`` was connecting (asyncpg raises plain OSErrors)."""
    tb = error.__traceback__
    while tb is not None:
        if tb.tb_frame.f_globals.get("__name__", "").startswith(module):
            return True
        tb = tb.tb_next
    return False


def _reason(error: BaseException) -> str:
    if isinstance(error, ConnectionRefusedError):
        return "connection refused"
    if isinstance(error, TimeoutError):
        return "timed out"
    return str(error) or type(error).__name__
