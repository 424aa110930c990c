"""A serving API process exempts its start-up objects from full garbage collections (hub.gcfreeze)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest
from litestar.testing import TestClient

from hub.api.app import create_app
from hub.config import Settings


@pytest.fixture
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()


def test_a_serving_app_freezes_its_start_up_objects(unfrozen: None) -> None:
    app = create_app(Settings(), connect_store=False, freeze_gc=True)
    with TestClient(app):
        assert gc.get_freeze_count() > 0


def test_an_app_built_for_tests_leaves_the_collector_alone(unfrozen: None) -> None:
    app = create_app(Settings(), connect_store=False)
    with TestClient(app):
        assert gc.get_freeze_count() == 0
