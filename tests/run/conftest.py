"""``hub run`` as a real subprocess on a free port, in a temp folder, with only the environment a test gives it."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from run_helpers import HubRun, hub_env


@pytest.fixture
def hub_run(project_dir: Path) -> Iterator[Callable[..., HubRun]]:
    """Make `hub run` processes in ``project_dir`` (their cwd: the embedded data folder lands there); killed at the
    end, with any embedded server they left running."""
    made: list[HubRun] = []

    def make(env: dict[str, str] | None = None, args: list[str] | None = None) -> HubRun:
        run = HubRun(project_dir, env if env is not None else hub_env(), args or [])
        made.append(run)
        return run

    yield make
    for run in made:
        run.kill()


@pytest.fixture
def redis_namespace(redis_url: str) -> Iterator[str]:
    """A Redis key prefix of this test on ``HUB_TEST_REDIS_URL``; its keys are deleted after (never FLUSHDB)."""
    import redis

    namespace = f"hub-run-{secrets.token_hex(4)}"
    yield namespace
    client = redis.Redis.from_url(redis_url)
    try:
        keys = list(client.scan_iter(match=f"{namespace}*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()
