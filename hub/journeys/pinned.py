"""The campaign a journey run pinned when it started: its YAML text, read again as the run's own campaign."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from hub.campaigns.fields import FieldReader
from hub.campaigns.files import display_path
from hub.campaigns.parse import parse_campaign
from hub.campaigns.spec import CampaignSpec
from hub.config import Settings
from hub.errors import CampaignError

__all__ = ["pinned_spec", "pinning"]


def pinning(spec: CampaignSpec, settings: Settings) -> tuple[str, str]:
    """``(source, text)`` to pin for a run of ``spec``: its file (as the user names it) and its text now."""
    return display_path(spec.source, settings), spec.source.read_text(encoding="utf-8")


def pinned_spec(pinned: dict[str, Any], settings: Settings) -> CampaignSpec:
    """The campaign as pinned (``{"source", "text"}``); edits to its file since do not reach the run.

    Raises:
        CampaignError: the pinned text is missing or no longer valid (a template file it names was removed).
    """
    source, text = pinned.get("source"), pinned.get("text")
    if not isinstance(source, str) or not isinstance(text, str):
        raise CampaignError(str(source or "?"), "", "the run has no pinned journey text")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise CampaignError(source, "", f"pinned text is not valid YAML: {exc}") from None
    spec = parse_campaign(data, FieldReader(source, None), settings.root / Path(source), settings)
    if spec.journey is None:
        raise CampaignError(source, "steps", "the pinned campaign is not a journey")
    return spec
