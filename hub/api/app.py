"""The Litestar application: routes, dependencies, lifespan and the one error mapper, wired from settings."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Mapping
from typing import Any

from litestar import Litestar, Request, Response, Router
from litestar.datastructures import State
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme
from litestar.routes import HTTPRoute

from hub.api.auth import api_key_guard, warn_if_open
from hub.api.bulk import BulkSendController, LegacyBulkSendController, SendMessageController
from hub.api.campaigns import CampaignController
from hub.api.contacts import ContactController
from hub.api.enqueue import ActorEnqueuer, Enqueuer
from hub.api.errors import handle_exception
from hub.api.health import HealthController, Probe, default_probes
from hub.api.journeys import EntryController, EventController
from hub.api.messages import MessageController
from hub.api.metrics import AppMetrics, MetricsController, http_metrics_middleware, snapshot_for
from hub.api.openapi import StrictStructSchemaPlugin, document_errors, render_plugins
from hub.api.render import RenderController
from hub.api.runs import RunController
from hub.api.templates import TemplateController
from hub.api.wake import JourneyWake
from hub.api.webhooks import TwilioWebhookController
from hub.config import Settings, load_settings
from hub.gcfreeze import freeze_startup_objects
from hub.ui import template_config, ui_handlers

__all__ = ["MAX_BODY_BYTES", "app_factory", "create_app"]

log = logging.getLogger(__name__)

#: Largest request body accepted, in bytes (about 100,000 recipients in one bulk send); above it: 413.
MAX_BODY_BYTES = 10 * 1024 * 1024


async def answer_options(request: Request[Any, Any, Any]) -> Response[None] | None:
    """``OPTIONS`` answered with every method of the path: Litestar's own answer lists only the methods of the
    first handler registered on a path (``/v1/messages`` would say POST, not GET).

    Async although it awaits nothing: Litestar runs a sync ``before_request`` in a worker thread, a thread hop on
    every request (a fifth of the API's CPU at thousands of callbacks per second)."""
    if request.method != "OPTIONS":
        return None
    template = request.scope.get("path_template")
    for route in request.app.routes:
        if isinstance(route, HTTPRoute) and route.path_format == template:
            return Response(None, status_code=204, headers={"Allow": ", ".join(sorted(route.methods))})
    return None


def create_app(
    settings: Settings,
    *,
    enqueuer: Enqueuer | None = None,
    probes: Mapping[str, Probe] | None = None,
    connect_store: bool = True,
    freeze_gc: bool = False,
) -> Litestar:
    """Build the API and webhook application.

    Args:
        settings: the loaded settings.
        enqueuer: where sends and fan-outs are queued; defaults to the Dramatiq actors (imported on first use).
        probes: readiness checks for ``/readyz``; defaults to the database and Redis.
        connect_store: connect the database on start-up (tests that connected it already may pass False).
        freeze_gc: once started, exempt start-up objects from garbage collection (:mod:`hub.gcfreeze`); for a
            serving process (``app_factory``), not for tests that build many apps in one process.
    """
    queue = enqueuer if enqueuer is not None else ActorEnqueuer(settings)

    @contextlib.asynccontextmanager
    async def lifespan(_: Litestar) -> AsyncIterator[None]:
        from hub.store import db

        warn_if_open(settings)
        if connect_store:
            # On the app's own loop: a PostgreSQL pool belongs to the loop that made it; short statement limits.
            await db.connect(settings, interactive=True)
        if freeze_gc:
            freeze_startup_objects()
        try:
            yield
        finally:
            if connect_store:
                await db.disconnect()

    v1 = Router(
        path="/v1",
        guards=[api_key_guard],
        security=[{"bearer": []}],
        route_handlers=[
            SendMessageController,
            BulkSendController,
            MessageController,
            CampaignController,
            RunController,
            RenderController,
            TemplateController,
            EventController,
            EntryController,
            ContactController,
        ],
    )
    legacy = Router(
        path="/", guards=[api_key_guard], security=[{"bearer": []}], route_handlers=[LegacyBulkSendController]
    )
    api_keys = tuple(key.reveal() for key in settings.api.keys)
    state = State(
        {
            "settings": settings,
            "api_keys": api_keys,
            "metrics": AppMetrics(snapshot_for(settings)),
            "probes": dict(probes) if probes is not None else default_probes(settings),
            "journey_wake": JourneyWake(queue.enqueue_advance),
        }
    )
    app = Litestar(
        route_handlers=[
            v1,
            legacy,
            TwilioWebhookController,
            HealthController,
            MetricsController,
            *ui_handlers(api_keys),
        ],
        dependencies={
            "settings": Provide(lambda: settings, use_cache=True, sync_to_thread=False),
            "enqueuer": Provide(lambda: queue, use_cache=True, sync_to_thread=False),
        },
        exception_handlers={Exception: handle_exception},
        before_request=answer_options,
        middleware=[http_metrics_middleware],
        lifespan=[lifespan],
        state=state,
        # Logging is the process's (hub.logs, one set-up for every command), not reconfigured by each app built.
        logging_config=None,
        request_max_body_size=MAX_BODY_BYTES,
        template_config=template_config(),
        openapi_config=OpenAPIConfig(
            title="WhatsApp Hub",
            version="1",
            path="/schema",
            render_plugins=render_plugins(),
            components=Components(
                security_schemes={"bearer": SecurityScheme(type="http", scheme="bearer", description="API key")}
            ),
        ),
        signature_namespace={"Settings": Settings, "Enqueuer": Enqueuer},
        plugins=[StrictStructSchemaPlugin()],
    )
    document_errors(app)
    return app


def app_factory() -> Litestar:
    """``uvicorn --factory hub.api.app:app_factory``: settings from ``config.yaml`` / ``HUB_CONFIG`` and the env."""
    return create_app(load_settings(), freeze_gc=True)
