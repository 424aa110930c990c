"""Shared plumbing of the benchmarks: machine facts, fresh databases, child processes, and RESULTS.md.

Every benchmark runs against real servers on loopback (PostgreSQL, Redis) and isolates itself: a fresh database
``hub_bench_<ts>`` dropped at the end, and a Redis database index nobody else is using, whose keys it deletes.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import platform
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import redis

from hub.store.scratch import scratch_database

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
PYTHON = ROOT / ".venv" / "bin" / "python"
HUB = ROOT / ".venv" / "bin" / "hub"
RESULTS = BENCH / "RESULTS.md"
PG_ADMIN_URL = os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_BASE_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379")
ACCOUNT_SID = "AC" + "0" * 31 + "1"
AUTH_TOKEN = "bench-auth-token"
FROM = "whatsapp:+14155238886"
#: Valid mobile ranges in phonenumbers' metadata (unique numbers: prefix + 8 digits).
PREFIXES = ("+49151", "+49176", "+4478", "+336")
#: Redis database indexes the benchmarks may claim (0 is the default others use, 15 is the test suite's).
REDIS_DBS = range(1, 15)


def phone(i: int) -> str:
    """The ``i``-th unique valid E.164 number."""
    return f"{PREFIXES[i % len(PREFIXES)]}{i // len(PREFIXES):08d}"


def machine() -> str:
    """CPUs, memory, Python and kernel, for the results file."""
    with open("/proc/meminfo", encoding="utf-8") as handle:
        total_kib = int(handle.readline().split()[1])
    return (
        f"{os.cpu_count()} CPUs ({platform.machine()}), {total_kib / 1024 / 1024:.1f} GiB RAM, "
        f"Python {platform.python_version()}, {platform.system()} {platform.release()}"
    )


def load_average() -> str:
    """The 1/5/15-minute load averages, as ``uptime`` shows them."""
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f}, {five:.2f}, {fifteen:.2f}"


def code_version() -> str:
    """The commit measured, and the files others had changed in the shared tree but not committed yet."""

    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)
        return done.stdout.rstrip("\n")  # porcelain lines start with a space: keep it

    dirty = [line[3:] for line in git("status", "--porcelain", "--untracked-files=no").splitlines()]
    head = git("rev-parse", "--short", "HEAD").strip() or "unknown"
    return f"commit {head}" + (f" + uncommitted changes in {', '.join(dirty)}" if dirty else "")


def command_line() -> str:
    """The command that ran this benchmark, relative to the repository root."""
    script = Path(sys.argv[0]).resolve()
    with contextlib.suppress(ValueError):
        script = script.relative_to(ROOT)
    return shlex.join([".venv/bin/python", str(script), *sys.argv[1:]])


def record(title: str, lines: Sequence[str], *, results: Path = RESULTS, notes: Sequence[str] = ()) -> None:
    """Print ``lines`` and append a dated section (machine, load, command, figures) to ``results``."""
    print("\n".join(lines))
    section = [
        "",
        f"## {title} ({dt.datetime.now().strftime('%Y-%m-%d %H:%M')})",
        "",
        f"Machine: {machine()}. Load average at the end: {load_average()}. Code: {code_version()}.",
        "",
        f"Command: `{command_line()}`",
        "",
        *lines,
    ]
    if notes:
        section += ["", *notes]
    with results.open("a", encoding="utf-8") as out:
        out.write("\n".join(section) + "\n")


def _proc_stats() -> dict[int, tuple[int, float]]:
    """Every process: pid -> (parent pid, CPU seconds so far: user + system)."""
    tick = os.sysconf("SC_CLK_TCK")
    out: dict[int, tuple[int, float]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended meanwhile
            continue
        out[int(entry.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / tick)
    return out


def cpu_seconds(pids: dict[str, int]) -> dict[str, float]:
    """CPU seconds used so far by each named process and its live descendants (from /proc)."""
    stats = _proc_stats()
    children: dict[int, list[int]] = {}
    for pid, (parent, _) in stats.items():
        children.setdefault(parent, []).append(pid)
    totals: dict[str, float] = {}
    for name, root in pids.items():
        total, todo = 0.0, [root]
        while todo:
            pid = todo.pop()
            total += stats.get(pid, (0, 0.0))[1]
            todo.extend(children.get(pid, []))
        totals[name] = total
    return totals


async def database_backends(database_url: str) -> list[int]:
    """Pids of the server backends connected to the database of ``database_url`` (this query's own left out)."""
    import asyncpg

    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    finally:
        await conn.close()
    return [row["pid"] for row in rows]


def process_cpu_s(pids: list[int]) -> dict[int, float]:
    """CPU seconds (user + system) each live process of ``pids`` has used so far; ended ones are left out."""
    tick = os.sysconf("SC_CLK_TCK")
    out = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        out[pid] = (int(fields[11]) + int(fields[12])) / tick
    return out


def postmaster_pid(database_url: str) -> int:
    """The pid of the PostgreSQL server holding ``database_url`` (its backends are its children), from its
    ``postmaster.pid``: other servers (tests' embedded ones) and their backends may run on the machine."""
    import asyncpg

    async def data_directory() -> str:
        conn = await asyncpg.connect(database_url)
        try:
            return str(await conn.fetchval("SHOW data_directory"))
        finally:
            await conn.close()

    return int((Path(asyncio.run(data_directory())) / "postmaster.pid").read_text().split()[0])


def redis_pid(redis_url: str) -> int:
    """The pid of the Redis server of ``redis_url`` (tests may run private ``redis-server`` processes too)."""
    import redis

    client = redis.Redis.from_url(redis_url)
    try:
        return int(client.info("server")["process_id"])
    finally:
        client.close()


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


# --- servers ---------------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_port(port: int, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout_s} s")


@contextlib.contextmanager
def fresh_database() -> Iterator[str]:
    """A new PostgreSQL database ``hub_bench_<random>`` on the local server; dropped afterwards. Yields its URL."""
    with scratch_database(PG_ADMIN_URL, "hub_bench") as url:
        yield url


@contextlib.contextmanager
def redis_database() -> Iterator[str]:
    """A Redis database index with no keys (claimed with a marker key); its keys are deleted afterwards."""
    marker = f"hub-bench-claim:{os.getpid()}"
    for index in REDIS_DBS:
        client = redis.Redis.from_url(f"{REDIS_BASE_URL}/{index}")
        if client.dbsize() == 0 and client.set(marker, "1", nx=True, ex=86_400):
            if client.dbsize() == 1:
                break
            client.delete(marker)
        client.close()
    else:
        raise RuntimeError("no empty Redis database index in 1..14 for the benchmark")
    try:
        yield f"{REDIS_BASE_URL}/{index}"
    finally:
        # Only this run's keys live here (the index was empty); delete them one by one, never FLUSHDB.
        for key in client.scan_iter(count=1000):
            client.delete(key)
        client.close()


def write_config(folder: Path, **sections: Any) -> Path:
    """Write ``folder/config.yaml`` from ``sections`` (nested dicts) and return its path."""
    import yaml

    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(sections, sort_keys=False), encoding="utf-8")
    return path


def hub_settings(database_url: str, redis_url: str, *, fake_url: str, api_url: str, per_second: float) -> dict:
    """The config sections of a hub talking to the fake Twilio with the real twilio client."""
    return {
        "database": {"url": database_url},
        "redis": {"url": redis_url},
        "twilio": {"account_sid": ACCOUNT_SID, "auth_token": AUTH_TOKEN, "from": FROM, "api_base_url": fake_url},
        "transport": "twilio",
        "public_url": api_url,
        "rate_limits": {"per_second": per_second},
    }


class Children:
    """Child processes started by a benchmark; all are stopped (SIGINT, then SIGKILL) on exit."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.procs: list[tuple[str, subprocess.Popen[bytes]]] = []

    def start(self, name: str, command: Sequence[str], *, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        log = (self.logs / f"{name}.log").open("wb")
        proc = subprocess.Popen(
            list(command), stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}, cwd=ROOT
        )
        self.procs.append((name, proc))
        return proc

    def stop(self, proc: subprocess.Popen[bytes], timeout_s: float = 15.0) -> None:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def check(self) -> None:
        """Raise if a child died (its log tail says why)."""
        for name, proc in self.procs:
            if proc.poll() is not None:
                tail = (self.logs / f"{name}.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"{name} exited with {proc.returncode}:\n{tail}")

    def __enter__(self) -> Children:
        return self

    def __exit__(self, *_exc: object) -> None:
        for _, proc in reversed(self.procs):
            self.stop(proc)


@contextlib.contextmanager
def workdir(prefix: str) -> Iterator[Path]:
    """A temp folder for config and logs (kept when ``BENCH_KEEP=1``, for post-mortems)."""
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield folder
    finally:
        if os.environ.get("BENCH_KEEP") != "1":
            import shutil

            shutil.rmtree(folder, ignore_errors=True)
        else:
            print(f"(kept {folder})", file=sys.stderr)


def migrate(config: Path) -> None:
    subprocess.run([str(HUB), "--config", str(config), "db", "migrate"], check=True, capture_output=True, cwd=ROOT)


def steady_rate(series: Sequence[tuple[float, int]], total: int, lo: float = 0.1, hi: float = 0.9) -> float:
    """Items/s between the moments ``lo`` and ``hi`` of ``total`` were done, from (time s, done) samples (pure).

    When the samples are too coarse to tell those moments apart, the overall rate (last sample) instead; 0.0 when
    ``total`` was never reached.
    """
    t_lo = next((t for t, n in series if n >= total * lo), None)
    t_hi = next((t for t, n in series if n >= total * hi), None)
    if t_lo is None or t_hi is None:
        return 0.0
    if t_hi <= t_lo:
        last_t, last_n = series[-1]
        return last_n / last_t if last_t > 0 else 0.0
    return total * (hi - lo) / (t_hi - t_lo)
