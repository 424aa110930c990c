"""The API answers what its OpenAPI document says: `schemathesis run --checks all` over a served hub finds nothing.

Every phase runs against the app served by uvicorn on PostgreSQL, with the project's ``schemathesis.toml``: the
examples, coverage and fuzzing phases in one run, then the stateful phase alone at its own size (chains of calls
that follow the document's links, :mod:`hub.api.links`: a created message into its read, a run into its read and
control). The sizes here fit the suite; the larger profile is the same command by hand (docs/API.md, "Checking
the document against the API").
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import uvicorn
from api_support import API_KEY, CAMPAIGN

from hub.api.app import create_app
from hub.api.enqueue import RecordingEnqueuer
from hub.config import Settings

ROOT = Path(__file__).resolve().parents[2]
#: Cases per operation and phase: the suite's size by default; the larger profile by hand sets more (docs/API.md).
EXAMPLES = int(os.environ.get("HUB_SCHEMA_EXAMPLES", "8"))
#: The phases of the first run; the stateful phase runs alone, at its own size.
PHASES = "examples,coverage,fuzzing"
#: Scenarios of the stateful phase (each a chain of calls following the document's links).
STATEFUL_EXAMPLES = int(os.environ.get("HUB_SCHEMA_STATEFUL_EXAMPLES", "100"))
#: Seconds the run may take: the suite's takes ~20 s alone, several times that on a busy machine.
TIME_LIMIT = max(600, 30 * EXAMPLES)
#: A seed makes a random run repeatable; without one the suite's run is deterministic (the same cases each time).
SEED = os.environ.get("HUB_SCHEMA_SEED")


async def _ok() -> None:
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def served(pg_settings: Settings, make_settings: Callable[..., Settings], tmp_path: Path) -> Iterator[str]:
    """The hub's API on a free loopback port, on this session's PostgreSQL database, with one campaign."""
    (tmp_path / "campaigns").mkdir()
    (tmp_path / "templates" / "messages").mkdir(parents=True)
    (tmp_path / "campaigns" / "hello.yaml").write_text(CAMPAIGN, encoding="utf-8")
    settings = make_settings({"database": {"url": pg_settings.database.url}, "api": {"keys": [API_KEY]}})
    app = create_app(settings, enqueuer=RecordingEnqueuer(), probes={"database": _ok, "redis": _ok})
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the API did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def schemathesis_command(base_url: str, examples: int, seed: str | None, phases: str = PHASES) -> list[str]:
    """The command the suite runs (docs/API.md gives it for a served hub)."""
    generation = ["--seed", seed] if seed else ["--generation-deterministic"]
    return [
        str(Path(sys.executable).parent / "schemathesis"),
        "--config-file",
        str(ROOT / "schemathesis.toml"),
        "run",
        f"{base_url}/schema/openapi.json",
        "--header",
        f"Authorization: Bearer {API_KEY}",
        "--checks",
        "all",
        "--phases",
        phases,
        "--max-examples",
        str(examples),
        *generation,
        "--no-color",
    ]


@pytest.mark.timeout(TIME_LIMIT + 60)
def test_schemathesis_finds_no_failure_of_any_check(served: str, tmp_path: Path) -> None:
    result = subprocess.run(
        schemathesis_command(served, EXAMPLES, SEED),
        capture_output=True,
        text=True,
        timeout=TIME_LIMIT,
        check=False,
        cwd=tmp_path,  # schemathesis writes its .schemathesis/ folder where it runs
    )
    report = result.stdout + result.stderr
    assert result.returncode == 0, report[-20000:]
    print(report)  # shown with pytest -rP


@pytest.mark.timeout(TIME_LIMIT + 60)
def test_schemathesis_stateful_sequences_find_no_failure_of_any_check(served: str, tmp_path: Path) -> None:
    result = subprocess.run(
        schemathesis_command(served, STATEFUL_EXAMPLES, SEED, phases="stateful"),
        capture_output=True,
        text=True,
        timeout=TIME_LIMIT,
        check=False,
        cwd=tmp_path,
    )
    report = result.stdout + result.stderr
    assert result.returncode == 0, report[-20000:]
    print(report)  # shown with pytest -rP
