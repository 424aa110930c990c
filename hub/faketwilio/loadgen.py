"""Measure creates/s through the real twilio client (TwilioTransport) against a Twilio-compatible server.

``python -m hub.faketwilio.loadgen --url http://127.0.0.1:8099 --concurrency 200 --total 20000``
"""

from __future__ import annotations

import argparse
import asyncio
import time

from hub.config import Secret, Settings, TwilioSettings
from hub.rendering import OutboundMessage
from hub.transport.twilio import TwilioTransport


async def load(url: str, *, concurrency: int, total: int, account_sid: str, auth_token: str) -> tuple[int, int, float]:
    """Send ``total`` creates with ``concurrency`` in flight; returns (ok, failed, seconds)."""
    settings = Settings(
        twilio=TwilioSettings(
            account_sid=account_sid,
            auth_token=Secret(auth_token),
            from_="whatsapp:+14155238886",
            api_base_url=url,
            timeout_seconds=30,
        )
    )
    transport = TwilioTransport(settings, max_connections=concurrency)
    counter = iter(range(total))
    ok = failed = 0

    async def worker() -> None:
        nonlocal ok, failed
        for i in counter:
            try:
                await transport.send(OutboundMessage(to=f"+1202{i:07d}", body="load test"))
                ok += 1
            except Exception:
                failed += 1

    # Warm the pool so connection set-up is not measured.
    await asyncio.gather(*(transport.send(OutboundMessage(to="+12020000000", body="warm")) for _ in range(concurrency)))
    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    await transport.close()
    return ok, failed, elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--concurrency", type=int, default=200)
    parser.add_argument("--total", type=int, default=20_000)
    parser.add_argument("--account-sid", default="AC" + "0" * 31 + "1")
    parser.add_argument("--auth-token", default="fake-auth-token")
    parser.add_argument("--uvloop", action="store_true", help="run the client on uvloop")
    args = parser.parse_args()
    coro = load(
        args.url,
        concurrency=args.concurrency,
        total=args.total,
        account_sid=args.account_sid,
        auth_token=args.auth_token,
    )
    if args.uvloop:
        import uvloop

        ok, failed, elapsed = uvloop.run(coro)
    else:
        ok, failed, elapsed = asyncio.run(coro)
    print(f"{ok} ok, {failed} failed in {elapsed:.2f}s: {ok / elapsed:,.0f} creates/s (concurrency {args.concurrency})")


if __name__ == "__main__":
    main()
