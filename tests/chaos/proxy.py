"""A TCP proxy that can be cut or stalled: the hub's processes reach PostgreSQL through it, so a test can take the
database away from them for a few seconds without touching the shared server.

Cut: connections are aborted and refused (the database is gone). Stall: nothing is relayed either way and new
connections are accepted but never answered, as when packets are dropped rather than refused; what was held is
delivered when it flows again.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit


class CuttableProxy:
    """Forward ``127.0.0.1:port`` to ``target_host:target_port`` (or the Unix socket ``unix_path``) on a background
    loop.

    :meth:`cut` aborts every open connection and refuses new ones (they are closed at once) until :meth:`restore`;
    :meth:`stall` holds every byte and every new connection until :meth:`restore`.
    """

    def __init__(self, target_host: str, target_port: int, unix_path: str | None = None) -> None:
        self.target = (target_host, target_port)
        self.unix_path = unix_path
        self.port = 0
        self.up = True
        self.cuts = 0
        self._flowing: asyncio.Event | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._main, name="chaos-proxy", daemon=True)

    def start(self) -> CuttableProxy:
        self._thread.start()
        self._ready.wait(10)
        return self

    def _main(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._serve())

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        self._flowing = asyncio.Event()
        self._flowing.set()
        server = await asyncio.start_server(self._client, "127.0.0.1", 0)
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        async with server:
            await self._stop.wait()
        for writer in list(self._writers):
            writer.transport.abort()
        # Connections held by a stall are still waiting: end them before the loop closes.
        pending = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self.up:
            writer.transport.abort()
            return
        assert self._flowing is not None
        await self._flowing.wait()
        try:
            if self.unix_path is not None:
                up_reader, up_writer = await asyncio.open_unix_connection(self.unix_path)
            else:
                up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self._writers |= {writer, up_writer}
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))
        self._writers -= {writer, up_writer}

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            assert self._flowing is not None
            while data := await reader.read(65536):
                await self._flowing.wait()
                writer.write(data)
                await writer.drain()
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.transport.abort()

    def cut(self) -> None:
        """Refuse new connections and abort every open one."""

        def run() -> None:
            self.up = False
            self.cuts += 1
            for writer in list(self._writers):
                writer.transport.abort()

        self._loop.call_soon_threadsafe(run)

    def stall(self) -> None:
        """Relay nothing and answer no new connection until :meth:`restore` (nothing is closed or refused)."""
        assert self._flowing is not None
        self._loop.call_soon_threadsafe(self._flowing.clear)

    def restore(self) -> None:
        """Accept and relay again (after a cut or a stall)."""

        def run() -> None:
            self.up = True
            assert self._flowing is not None
            self._flowing.set()

        self._loop.call_soon_threadsafe(run)

    def close(self) -> None:
        if self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        with contextlib.suppress(RuntimeError):
            self._thread.join(5)


def proxy_for(database_url: str) -> CuttableProxy:
    """A started proxy to the server of ``database_url`` (TCP, or the Unix socket of an embedded server)."""
    parts = urlsplit(database_url)
    socket_dir = dict(parse_qsl(parts.query)).get("host")
    port = parts.port or 5432
    unix_path = f"{socket_dir}/.s.PGSQL.{port}" if socket_dir and socket_dir.startswith("/") else None
    return CuttableProxy(parts.hostname or "127.0.0.1", port, unix_path).start()


def through(database_url: str, proxy: CuttableProxy) -> str:
    """``database_url`` reaching its server through ``proxy`` (``127.0.0.1:PORT``, no socket folder)."""
    parts = urlsplit(database_url)
    user = parts.netloc.rpartition("@")[0]
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query) if k != "host"])
    netloc = f"{user}@127.0.0.1:{proxy.port}" if user else f"127.0.0.1:{proxy.port}"
    return urlunsplit(parts._replace(netloc=netloc, query=query))


__all__ = ["CuttableProxy", "proxy_for", "through"]
