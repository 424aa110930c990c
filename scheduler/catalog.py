"""The campaigns the scheduler knows: reloaded when campaign files are added, changed or removed."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import msgspec

from hub.campaigns.files import display_path
from hub.campaigns.loader import campaign_files, load_campaigns
from hub.campaigns.spec import CampaignSpec
from hub.config import Settings
from hub.errors import CampaignError

__all__ = ["CampaignCatalog", "Changes"]

log = logging.getLogger(__name__)

Loader = Callable[[Settings], tuple[list[CampaignSpec], list[CampaignError]]]
#: What the scheduler watches per file: (modification time in ns, size in bytes).
Signature = dict[Path, tuple[int, int]]


class Changes(NamedTuple):
    """Campaign names whose schedule appeared, changed or went away in one reload."""

    added: list[str]
    changed: list[str]
    removed: list[str]

    def __bool__(self) -> bool:
        return bool(self.added or self.changed or self.removed)


def _fingerprint(spec: CampaignSpec) -> bytes:
    # Only what decides fires: whether it is on and its schedule (zone, time, window).
    return msgspec.json.encode((spec.enabled, spec.schedule))


class CampaignCatalog:
    """Loaded campaigns, keyed by name; :meth:`refresh` reloads only when the files' (mtime, size) moved.

    A file that stops loading (a broken edit) keeps its last good version, with a warning, rather than
    silently dropping its schedule; removing the file removes the campaign.

    Args:
        settings: ``paths.campaigns`` is watched.
        loader: loads every campaign (``hub.campaigns.loader.load_campaigns``); injected in tests.
    """

    def __init__(self, settings: Settings, *, loader: Loader = load_campaigns) -> None:
        self.settings = settings
        self._loader = loader
        self._signature: Signature | None = None
        self.specs: dict[str, CampaignSpec] = {}

    def _current_signature(self) -> Signature:
        files, _ = campaign_files(self.settings)
        signature: Signature = {}
        for path in files:
            try:
                stat = path.stat()
            except OSError:
                continue
            signature[path.resolve()] = (stat.st_mtime_ns, stat.st_size)
        return signature

    def refresh(self) -> Changes:
        """Reload the campaigns when any file was added, touched or removed since the last call.

        Returns:
            What changed; empty when the files did not move (nothing is parsed then).
        """
        signature = self._current_signature()
        if signature == self._signature:
            return Changes([], [], [])
        specs, errors = self._loader(self.settings)
        fresh = {spec.name: spec for spec in specs}
        broken = {error.file for error in errors}
        for error in errors:
            log.warning("campaign file not loaded: %s", error)
        for name, old in self.specs.items():
            if name not in fresh and display_path(old.source, self.settings) in broken:
                log.warning("campaign %r keeps its last valid version until its file is fixed", name)
                fresh[name] = old
        changes = Changes(
            added=sorted(set(fresh) - set(self.specs)),
            changed=sorted(
                name
                for name in set(fresh) & set(self.specs)
                if _fingerprint(fresh[name]) != _fingerprint(self.specs[name])
            ),
            removed=sorted(set(self.specs) - set(fresh)),
        )
        self.specs = fresh
        self._signature = signature
        return changes
