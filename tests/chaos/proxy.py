"""A TCP proxy that can be cut: the hub's processes reach PostgreSQL through it, so a test can take the database
away from them for a few seconds without touching the shared server."""

from __future__ import annotations

import asyncio
import contextlib
import threading


class CuttableProxy:
    """Forward ``127.0.0.1:port`` to ``target_host:target_port`` on a background loop.

    :meth:`cut` aborts every open connection and refuses new ones (they are closed at once) until :meth:`restore`.
    """

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self.up = True
        self.cuts = 0
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
        server = await asyncio.start_server(self._client, "127.0.0.1", 0)
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        async with server:
            await self._stop.wait()
        for writer in list(self._writers):
            writer.transport.abort()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self.up:
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self._writers |= {writer, up_writer}
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))
        self._writers -= {writer, up_writer}

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
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

    def restore(self) -> None:
        self._loop.call_soon_threadsafe(setattr, self, "up", True)

    def close(self) -> None:
        if self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        with contextlib.suppress(RuntimeError):
            self._thread.join(5)


__all__ = ["CuttableProxy"]
