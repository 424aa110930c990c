"""A `hub worker` that dies, however it dies, takes its Dramatiq processes with it (none left orphaned)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml

HUB = str(Path(sys.executable).parent / "hub")


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(stat[1]) == pid:
            found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_killing_hub_worker_stops_its_dramatiq_processes(tmp_path: Path, redis_url: str, pg_url: str) -> None:
    # Given a running `hub worker` on the real Redis
    config = tmp_path / "config.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "database": {"url": pg_url},
                "redis": {"url": redis_url, "namespace": f"orphans-{os.getpid()}"},
            }
        ),
        encoding="utf-8",
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "REDIS_URL", "HUB_", "TWILIO_"))}
    worker = subprocess.Popen(
        [HUB, "--config", str(config), "worker", "--processes", "1", "--threads", "1", "--no-sweep"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    dramatiq: list[int] = []
    try:
        deadline = time.monotonic() + 30
        while not dramatiq and time.monotonic() < deadline:
            time.sleep(0.2)
            dramatiq = _children(worker.pid)
        assert dramatiq, "hub worker started no Dramatiq process"
        # When the worker is killed outright (no chance to forward a signal)
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
        # Then its Dramatiq master stops too, instead of running on orphaned
        deadline = time.monotonic() + 30
        while any(_alive(pid) for pid in dramatiq) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not any(_alive(pid) for pid in dramatiq)
    finally:
        for pid in [*dramatiq, *_children(worker.pid), worker.pid]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
