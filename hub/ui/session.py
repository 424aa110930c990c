"""The dashboard's session: an API key proven once at ``/ui/login``, then an expiring token signed with that key."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

__all__ = ["SESSION_COOKIE", "SESSION_TTL_S", "csrf_secret", "issue_session", "session_is_valid"]

#: Name of the HttpOnly, SameSite=Strict cookie that carries the session.
SESSION_COOKIE = "hub_session"
#: How long a login lasts, in seconds.
SESSION_TTL_S = 12 * 3600


def _signature(key: str, issued_s: str) -> str:
    return hmac.new(key.encode(), f"hub-ui-session:{issued_s}".encode(), hashlib.sha256).hexdigest()


def issue_session(key: str, now_s: float) -> str:
    """A session token for ``key`` (which already passed the API's key check), issued at ``now_s`` (epoch s).

    The token is signed with the key itself: removing the key from ``api.keys`` ends its sessions, and every
    API process can check a token without shared state.
    """
    issued = str(int(now_s))
    return f"{issued}.{_signature(key, issued)}"


def session_is_valid(token: str | None, keys: Sequence[str], now_s: float, ttl_s: float = SESSION_TTL_S) -> bool:
    """Whether ``token`` was issued by :func:`issue_session` for one of ``keys`` less than ``ttl_s`` ago (pure)."""
    if not token or not keys:
        return False
    issued, _, signature = token.partition(".")
    if not issued.isdigit() or not 0 <= now_s - int(issued) < ttl_s:
        return False
    matched = False
    for key in keys:  # every key, without stopping early: timing does not tell which one matched
        matched |= hmac.compare_digest(signature, _signature(key, issued))
    return matched


def csrf_secret(keys: Sequence[str]) -> str:
    """The secret CSRF tokens are signed with: derived from the API keys, so every API process agrees on it.

    Without keys the dashboard answers loopback clients only and the tokens are still random per browser; the
    double-submit check (cookie = form field) is what refuses a cross-site post.
    """
    material = "\0".join(sorted(keys)) or "loopback"
    return hashlib.sha256(f"hub-ui-csrf\0{material}".encode()).hexdigest()
