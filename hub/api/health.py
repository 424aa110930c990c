"""Liveness and readiness: ``/healthz`` answers while serving; ``/readyz`` checks the database and Redis."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping

from litestar import Controller, Response, get
from litestar.datastructures import State
from litestar.openapi.datastructures import ResponseSpec

from hub.api.schemas import Health, Readiness
from hub.config import Settings

__all__ = ["HealthController", "Probe", "default_probes", "run_probes"]

log = logging.getLogger(__name__)

#: A readiness check: returns when the dependency answers, raises otherwise.
Probe = Callable[[], Awaitable[None]]

_PROBE_TIMEOUT_S = 2.0


def _redis_probe(settings: Settings) -> Probe:
    async def probe() -> None:
        if settings.redis.is_embedded:
            return  # in-process: up whenever this process is
        import redis.asyncio as aioredis

        client = aioredis.from_url(settings.redis.url, socket_connect_timeout=1, socket_timeout=1)
        try:
            await client.ping()
        finally:
            await client.aclose()

    return probe


async def _database_probe() -> None:
    from hub.store import queries

    await queries.get_run(0)  # one indexed read through the store: proves connection and schema


def default_probes(settings: Settings) -> dict[str, Probe]:
    """The checks ``/readyz`` runs: the database and Redis."""
    return {"database": _database_probe, "redis": _redis_probe(settings)}


async def run_probes(probes: Mapping[str, Probe], timeout_s: float = _PROBE_TIMEOUT_S) -> dict[str, str]:
    """Run every probe concurrently, each bounded by ``timeout_s`` seconds.

    Returns:
        name -> ``"ok"`` or a short reason (the exception type; never its text, which may hold a URL).
    """

    async def one(name: str, probe: Probe) -> tuple[str, str]:
        try:
            await asyncio.wait_for(probe(), timeout_s)
        except Exception as exc:  # any failure means "not ready"; the type is enough to act on
            log.warning("readiness: %s unavailable (%s)", name, type(exc).__name__)
            return name, f"unavailable: {type(exc).__name__}"
        return name, "ok"

    results = await asyncio.gather(*(one(name, probe) for name, probe in probes.items()))
    return dict(results)


class HealthController(Controller):
    """Probes for load balancers and orchestrators; not behind the API key."""

    tags = ["operations"]
    opt = {"store": False}  # no database or Redis behind the handler itself: no 503 to document but readyz's own

    @get("/healthz", operation_id="healthz", summary="Liveness: 200 while the process serves")
    async def healthz(self) -> Health:
        return Health(status="ok")

    @get(
        "/readyz",
        operation_id="readyz",
        summary="Readiness: database and Redis reachable",
        responses={503: ResponseSpec(Readiness, description="A dependency is unavailable", generate_examples=False)},
    )
    async def readyz(self, state: State) -> Response[Readiness]:
        checks = await run_probes(state.probes)
        ready = all(value == "ok" for value in checks.values())
        body = Readiness(status="ok" if ready else "unavailable", checks=checks)
        return Response(body, status_code=200 if ready else 503)
