"""Scenario 5: Twilio answers 429, 503, drops, hangs and permanent codes; every row ends as SPEC §8 says."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.chaos.scenarios import MAGIC_OUTCOMES, twilio_faults

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_twilio_faults_end_in_the_prescribed_states_with_bounded_retries(
    chaos_servers: str, report: Callable[[str], None]
) -> None:
    verdict, magic = twilio_faults(chaos_servers, report, recipients=400)
    assert verdict.problems == []
    assert (verdict.lost, verdict.duplicates) == (0, 0)
    for phone, (status, creates, fewest, most) in MAGIC_OUTCOMES.items():
        got_status, got_creates, attempts = magic[phone]
        reconciled = status == "unknown" and got_status in {"accepted", "queued"}  # a sweep found its one create
        assert (status if reconciled else got_status, got_creates) == (status, creates), phone
        assert fewest <= attempts <= most, phone
