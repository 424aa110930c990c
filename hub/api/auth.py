"""The ``/v1`` guard: a bearer key compared in constant time, or loopback only when no key is configured."""

from __future__ import annotations

import hmac
import ipaddress
import logging
from collections.abc import Sequence

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException
from litestar.handlers import BaseRouteHandler

from hub.config import Settings

__all__ = ["api_key_guard", "bearer_token", "is_authorized", "is_loopback", "warn_if_open"]

log = logging.getLogger(__name__)

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="hub"'}


def is_loopback(host: str | None) -> bool:
    """True for 127.0.0.0/8 and ::1 (also IPv4-mapped); False for names and anything unparsable."""
    if not host:
        return False
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


def bearer_token(header: str | None) -> str | None:
    """The token of an ``Authorization: Bearer TOKEN`` header (pure), or None."""
    if not header:
        return None
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def is_authorized(authorization: str | None, client_host: str | None, keys: Sequence[str]) -> bool:
    """Decide whether a ``/v1`` request may pass (pure).

    Args:
        authorization: the ``Authorization`` header, if any.
        client_host: the peer address as the server saw it.
        keys: the configured API keys (revealed); empty means "loopback only".

    Returns:
        True when a configured key matches, or when none is configured and the peer is loopback.
    """
    if not keys:
        return is_loopback(client_host)
    token = bearer_token(authorization)
    if token is None:
        return False
    supplied = token.encode()
    # Compare against every key, without stopping early, so timing does not tell which key (or how much) matched.
    matched = False
    for key in keys:
        matched |= hmac.compare_digest(supplied, key.encode())
    return matched


def api_key_guard(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    """Litestar guard for ``/v1`` (and the legacy ``/bulk-send``): 401 unless :func:`is_authorized`."""
    keys: tuple[str, ...] = connection.app.state.api_keys
    client = connection.client.host if connection.client else None
    if not is_authorized(connection.headers.get("authorization"), client, keys):
        detail = "missing or wrong API key" if keys else "no API key configured: only loopback clients are allowed"
        raise NotAuthorizedException(detail=detail, headers=_CHALLENGE)


def warn_if_open(settings: Settings) -> None:
    """Say at start-up that ``/v1`` has no key (it then answers loopback clients only)."""
    if not settings.api.keys:
        log.warning("api.keys is empty: /v1 answers only loopback clients; set HUB_API_KEYS to open it to others")
