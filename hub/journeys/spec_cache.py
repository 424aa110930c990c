"""Each run's pinned journey, parsed and compiled once per process (a run's pinned text never changes)."""

from __future__ import annotations

from typing import Any

from hub.campaigns.spec import CampaignSpec
from hub.config import Settings
from hub.journeys.pinned import pinned_spec
from hub.journeys.variables import JourneyRenderer

__all__ = ["SpecCache"]

#: Runs kept; a worker rarely advances more journeys at once.
MAX_RUNS = 256


class SpecCache:
    """Pinned specs and their renderers by run id."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._specs: dict[int, CampaignSpec] = {}
        self._renderers: dict[int, JourneyRenderer] = {}

    def missing(self, run_ids: list[int]) -> list[int]:
        """Those of ``run_ids`` whose spec is not cached (their meta must be read for :meth:`spec_for`)."""
        return [run_id for run_id in run_ids if run_id not in self._specs]

    def spec_for(self, run_id: int, run_meta: dict[str, Any]) -> CampaignSpec:
        """The run's pinned journey (raises CampaignError when it cannot be read)."""
        spec = self._specs.get(run_id)
        if spec is None:
            if len(self._specs) >= MAX_RUNS:
                self._specs.clear()
                self._renderers.clear()
            spec = self._specs[run_id] = pinned_spec(run_meta.get("journey") or {}, self.settings)
        return spec

    def renderer_for(self, run_id: int, spec: CampaignSpec) -> JourneyRenderer:
        """The run's compiled messages and conditions."""
        renderer = self._renderers.get(run_id)
        if renderer is None:
            renderer = self._renderers[run_id] = JourneyRenderer(spec, self.settings)
        return renderer
