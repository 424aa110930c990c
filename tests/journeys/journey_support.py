"""Build journeys from YAML text, and drive the engine through a list of stimuli, for the pure tests."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml

from hub.campaigns.fields import FieldReader
from hub.campaigns.journey import Journey
from hub.campaigns.parse import parse_campaign
from hub.config import Settings
from hub.journeys.engine import Context, Decision, Stimulus, advance

START = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)
AUDIENCE = 'audience: {recipients: [{phone: "+4915112345678"}]}\n'


def journey(text: str) -> Journey:
    """The journey of a campaign file's text (an inline audience is added)."""
    spec = parse_campaign(yaml.safe_load(AUDIENCE + text), FieldReader("t.yaml", None), Path("t.yaml"), Settings())
    assert spec.journey is not None
    return spec.journey


def context(
    truths: dict[str, bool] | None = None, *, phone: str = "+4915112345678", zone: str = "Europe/Berlin"
) -> Context:
    """A recipient whose conditions are looked up in ``truths`` (an unknown one is a bug in the test)."""
    table = truths or {}
    return Context(campaign="test", phone=phone, timezone=zone, evaluate=lambda text: table[text])


def hours(n: float) -> datetime:
    return START + timedelta(hours=n)


def play(j: Journey, stimuli: Iterable[Stimulus], ctx: Context | None = None) -> list[Decision]:
    """Every decision, one per stimulus (the first one is normally ``Enter``)."""
    ctx = ctx or context()
    state = None
    out = []
    for stimulus in stimuli:
        decision = advance(j, state, stimulus, ctx)
        out.append(decision)
        state = decision.state
    return out
