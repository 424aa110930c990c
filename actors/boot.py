"""Entry module of ``dramatiq actors.boot`` (what ``hub worker`` runs): the actors on the configured broker."""

from __future__ import annotations

import asyncio
import os

from dramatiq.middleware.prometheus import DB_PATH, Prometheus

# prometheus_client picks where counters live when it is first imported: in the folder Dramatiq's exposition
# server reads, so every worker process's metrics (actors.metrics, and Dramatiq's own) are served together.
os.environ["PROMETHEUS_MULTIPROC_DIR"] = DB_PATH

import actors
from hub.config import load_settings
from hub.gcfreeze import freeze_startup_objects

try:
    import uvloop
except ImportError:  # pragma: no cover - uvloop ships with uvicorn[standard]
    pass
else:
    # Dramatiq's AsyncIO middleware makes the worker's loop with asyncio.new_event_loop(): on uvloop the send
    # path (asyncpg, aiohttp, redis) costs less CPU per message (bench/profile_send.py: 163 -> 229 sends/s).
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())

broker = actors.setup(load_settings())
# Dramatiq's per-actor counts, and the exposition server (dramatiq_prom_host / dramatiq_prom_port, 0.0.0.0:9191).
broker.add_middleware(Prometheus())

# Every actor module and the broker are loaded: exempt them from full collections (hub.gcfreeze says why).
freeze_startup_objects()
