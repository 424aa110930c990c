"""What ``hub run`` prints once it is serving: where the API and its docs are, and what it runs on."""

from __future__ import annotations

from hub.config import Settings, redact_url
from hub.store.embedded import describe

__all__ = ["banner", "browsable_host"]


def browsable_host(host: str) -> str:
    """The host to put in a URL for ``host`` (pure): a wildcard bind is reached on loopback; IPv6 in brackets."""
    if host in ("0.0.0.0", "", "::"):
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host


def _transport(settings: Settings) -> str:
    if settings.effective_transport == "twilio":
        base = settings.twilio.api_base_url or "api.twilio.com"
        return f"twilio ({base}; status callbacks to {settings.public_url})"
    sim = settings.simulator
    why = "no Twilio credentials" if settings.transport == "auto" else "transport: simulator"
    mix = f", failed {sim.failure_rate:.0%}, undelivered {sim.undelivered_rate:.0%}"
    return f"simulator ({why}; a status every {sim.step_delay_ms} ms{mix}); nothing leaves this machine"


def _redis(settings: Settings) -> str:
    if settings.redis.is_embedded:
        return "embedded (in-process; the queue does not outlive the process, the ledger does)"
    return redact_url(settings.redis.url)


def banner(settings: Settings, *, host: str, port: int, threads: int) -> list[str]:
    """The lines ``hub run`` prints at start (pure). URLs are redacted: no password reaches the terminal.

    Args:
        settings: the hub settings.
        host: the interface the API listens on.
        port: its TCP port.
        threads: worker threads.
    """
    base = f"http://{browsable_host(host)}:{port}"
    keys = f"{len(settings.api.keys)} API key(s)" if settings.api.keys else "open to loopback only (no api.keys)"
    return [
        f"WhatsApp Hub is running: API, scheduler and {threads} worker thread(s) in one process",
        f"  API        {base}  (/v1: {keys})",
        f"  docs       {base}/schema",
        f"  database   {describe(settings)}",
        f"  redis      {_redis(settings)}",
        f"  transport  {_transport(settings)}",
        "  Ctrl-C stops cleanly: in-flight sends finish, whatever is owed is sent after the next start",
    ]
