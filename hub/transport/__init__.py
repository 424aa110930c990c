"""Transports: how a rendered message leaves the hub. A tiny Protocol plus one module per implementation."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import msgspec

if TYPE_CHECKING:
    from hub.config import Settings
    from hub.rendering import OutboundMessage
    from hub.webhooks import StatusCallback


class Receipt(msgspec.Struct, frozen=True):
    """What the provider said when it took a message: its sid and first status (``queued``/``accepted``)."""

    sid: str
    status: str


#: Where status updates produced outside the webhook (the simulator) go; same struct the webhook parses.
ApplyStatus = Callable[["StatusCallback"], Awaitable[Any]]


@runtime_checkable
class Transport(Protocol):
    """Sends one message; raises a classified ``SendError`` (transient / permanent / ambiguous) when it fails.

    Implementations are safe to call concurrently from many tasks on one event loop.
    """

    name: str

    async def send(self, msg: OutboundMessage, *, status_callback: str | None = None) -> Receipt:
        """Hand ``msg`` to the provider.

        Args:
            msg: the rendered message (``to`` in E.164).
            status_callback: URL for status callbacks; None means the transport's default
                (``public_url`` + ``/webhooks/twilio/status``).

        Raises:
            TransientSendError | PermanentSendError | AmbiguousSendError: see ``hub.policy``.
        """
        ...

    async def close(self) -> None:
        """Release connections and background tasks."""
        ...


def build_transport(settings: Settings, *, on_status: ApplyStatus | None = None) -> Transport:
    """The transport ``settings.effective_transport`` names.

    Args:
        settings: the hub settings.
        on_status: for the simulator, where its simulated status callbacks are applied (normally the same store
            function the status webhook calls). Without it the simulator only issues sids.
    """
    if settings.effective_transport == "twilio":
        from hub.transport.twilio import TwilioTransport

        return TwilioTransport(settings)
    from hub.transport.simulator import SimulatorTransport

    return SimulatorTransport(settings, on_status)


__all__ = ["ApplyStatus", "Receipt", "Transport", "build_transport"]
