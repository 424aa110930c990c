"""SimulatorTransport plays status callbacks back through the apply function; FakeTransport fails on cue."""

from __future__ import annotations

import asyncio
import random
import re

import pytest

from hub.config import Settings, SimulatorSettings, TwilioSettings
from hub.errors import PermanentSendError, TransientSendError
from hub.rendering import OutboundMessage
from hub.transport.fake import FakeTransport
from hub.transport.simulator import SimulatorTransport, plan_statuses
from hub.webhooks import StatusCallback

MSG = OutboundMessage(to="+14155550100", body="hi")


def sim_settings(failure_rate: float = 0.0, undelivered_rate: float = 0.0, **twilio: str) -> Settings:
    return Settings(
        simulator=SimulatorSettings(failure_rate=failure_rate, undelivered_rate=undelivered_rate, step_delay_ms=0),
        twilio=TwilioSettings(**twilio),
    )


async def simulate(settings: Settings, count: int = 1, seed: int = 1) -> tuple[list[str], list[StatusCallback]]:
    applied: list[StatusCallback] = []

    async def apply(cb: StatusCallback) -> None:
        applied.append(cb)

    transport = SimulatorTransport(settings, apply, rng=random.Random(seed))
    receipts = [await transport.send(MSG) for _ in range(count)]
    await transport.drain()
    await transport.close()
    return [r.sid for r in receipts], applied


def test_simulator_issues_twilio_shaped_sids_and_queued() -> None:
    async def go() -> tuple[str, str]:
        transport = SimulatorTransport(sim_settings(), None)
        receipt = await transport.send(MSG)
        await transport.close()
        return receipt.sid, receipt.status

    sid, status = asyncio.run(go())
    assert re.fullmatch(r"SM[0-9a-f]{32}", sid) and status == "queued"


def test_simulator_with_a_messaging_service_answers_accepted() -> None:
    async def go() -> str:
        transport = SimulatorTransport(sim_settings(messaging_service_sid="MG" + "0" * 32), None)
        return (await transport.send(MSG)).status

    assert asyncio.run(go()) == "accepted"


def test_simulator_drives_a_message_to_read() -> None:
    (sid,), applied = asyncio.run(simulate(sim_settings()))
    assert [(cb.sid, cb.status) for cb in applied] == [(sid, "sent"), (sid, "delivered"), (sid, "read")]
    assert applied[-1].event_type == "READ" and applied[0].to == "whatsapp:+14155550100"


def test_simulated_callbacks_carry_distinct_dedupe_keys() -> None:
    _, applied = asyncio.run(simulate(sim_settings()))
    assert len({cb.dedupe_key for cb in applied}) == 3


def test_simulator_failure_rate_produces_failed_with_a_code() -> None:
    _, applied = asyncio.run(simulate(sim_settings(failure_rate=1.0)))
    assert [(cb.status, cb.error_code in {63016, 63003}) for cb in applied] == [("failed", True)]


def test_simulator_undelivered_rate_produces_sent_then_undelivered() -> None:
    _, applied = asyncio.run(simulate(sim_settings(undelivered_rate=1.0)))
    assert [cb.status for cb in applied] == ["sent", "undelivered"]
    assert applied[-1].error_code in {63032, 63024} and applied[-1].error_message


@pytest.mark.parametrize(
    ("draw", "expected"),
    [(0.05, "failed"), (0.15, "undelivered"), (0.5, "read")],
)
def test_plan_statuses_splits_by_rates(draw: float, expected: str) -> None:
    class Fixed(random.Random):
        def random(self) -> float:
            return draw

    assert plan_statuses(Fixed(), 0.1, 0.1)[-1][0] == expected


def test_a_failing_apply_does_not_stop_later_steps() -> None:
    seen: list[str] = []

    async def apply(cb: StatusCallback) -> None:
        seen.append(cb.status)
        raise RuntimeError("store down")

    async def go() -> None:
        transport = SimulatorTransport(sim_settings(), apply)
        await transport.send(MSG)
        await transport.drain()

    asyncio.run(go())
    assert seen == ["sent", "delivered", "read"]


def test_close_cancels_pending_steps() -> None:
    applied: list[StatusCallback] = []

    async def apply(cb: StatusCallback) -> None:
        applied.append(cb)

    async def go() -> int:
        settings = Settings(simulator=SimulatorSettings(step_delay_ms=60_000))
        transport = SimulatorTransport(settings, apply)
        await transport.send(MSG)
        pending = transport.pending
        await transport.close()
        return pending

    assert asyncio.run(go()) == 1
    assert applied == []


def test_fake_transport_records_and_fails_on_cue() -> None:
    async def go() -> FakeTransport:
        fake = FakeTransport()
        fake.fail_next(TransientSendError("busy", code=20429), None)
        fake.fail_for("+15550000002", PermanentSendError("bad", code=21211), times=1)
        outcomes = []
        for to in ["+15550000001", "+15550000001", "+15550000002", "+15550000002"]:
            try:
                outcomes.append((await fake.send(OutboundMessage(to=to, body="x"))).sid)
            except Exception as exc:
                outcomes.append(type(exc).__name__)
        assert outcomes[0] == "TransientSendError" and outcomes[2] == "PermanentSendError"
        return fake

    fake = asyncio.run(go())
    assert [c.sid is not None for c in fake.calls] == [False, True, False, True]
    assert (fake.sends_to("+15550000002"), len(fake.sent)) == (2, 2)
