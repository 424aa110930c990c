"""``hub worker``: Dramatiq worker processes for the send pipeline, plus the periodic recovery sweeper."""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from types import FrameType

import click

from hub.cli.app import Context, main, pass_context
from hub.config import Settings, config_path
from hub.logs import LEVELS, setup_logging

EMBEDDED_REFUSED = (
    "embedded Redis only works in `hub run` (one process); set REDIS_URL (or redis.url) to a real Redis "
    "to run workers separately"
)


def dramatiq_command(processes: int, threads: int, queues: tuple[str, ...]) -> list[str]:
    """The ``dramatiq`` command line that runs the actors (pure)."""
    command = [
        sys.executable,
        "-m",
        "dramatiq",
        "actors.boot",
        "--processes",
        str(processes),
        "--threads",
        str(threads),
    ]
    if queues:
        command += ["--queues", *queues]
    return command


def worker_env(settings: Settings, config: Path | None, base: dict[str, str]) -> dict[str, str]:
    """The environment of the worker processes: the same config file, and a short consumer wake-up (pure).

    Delayed messages (retries after a backoff, throttled re-enqueues) come back when a consumer wakes; 100 ms
    instead of Dramatiq's default 1 s keeps their timing close to what was asked.
    """
    env = dict(base)
    path = config or config_path(base)
    if path.exists():
        env["HUB_CONFIG"] = str(path.resolve())
    env.setdefault("dramatiq_worker_timeout", "100")
    return env


#: prctl option: the signal this process gets when its parent dies.
_PR_SET_PDEATHSIG = 1


def die_with_parent(parent_pid: int) -> Callable[[], None] | None:
    """A ``preexec_fn`` that makes Dramatiq stop when this process dies, however it dies (Linux).

    Dramatiq runs in its own session (see below), so a kill of this process alone would leave it running,
    orphaned, still taking messages. With ``PR_SET_PDEATHSIG`` the kernel sends it SIGTERM (a clean stop:
    in-flight sends finish) when its parent goes.
    """
    if not sys.platform.startswith("linux"):
        return None

    def arm() -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent_pid:  # the parent died before the signal was armed
            os._exit(0)

    return arm


@main.command()
@click.option(
    "--processes",
    "-p",
    type=click.IntRange(min=1),
    default=os.cpu_count() or 1,
    show_default=True,
    help="Worker processes.",
)
@click.option(
    "--threads",
    "-t",
    type=click.IntRange(min=1),
    default=8,
    show_default=True,
    help=(
        "Worker threads per process. Sends travel in batches of up to 100 ledger rows per queue message, sent"
        " concurrently on the process's event loop, so each thread holds up to 100 sends in flight: 8 give 800 per"
        " process, enough for 1,000/s against a 150 ms Twilio, with threads to spare for a fan-out and for single"
        " retries waiting for a send slot. More threads add only thread hand-off cost."
    ),
)
@click.option("--queues", "-Q", multiple=True, help="Only these queues (send, default). Default: all.")
@click.option(
    "--sweep/--no-sweep", default=True, show_default=True, help="Run the recovery sweeper every 10 s in this process."
)
@click.option("--log-level", default="info", show_default=True, type=click.Choice(LEVELS))
@pass_context
def worker(ctx: Context, processes: int, threads: int, queues: tuple[str, ...], sweep: bool, log_level: str) -> None:
    """Run the send pipeline's workers (fan-out and send actors) against Redis and the database."""
    settings = ctx.settings
    # This process (the sweeper); the Dramatiq worker processes keep Dramatiq's own log format.
    setup_logging(log_level, settings=settings)
    if settings.redis.is_embedded:
        click.echo(f"error: {EMBEDDED_REFUSED}", err=True)
        sys.exit(2)
    # Where prometheus_client keeps counters, before anything imports it: the sweeper's (reconcile verdicts) and the
    # workers' metrics go to the folder Dramatiq's exposition server serves (actors.boot).
    from dramatiq.middleware.prometheus import DB_PATH

    os.environ["PROMETHEUS_MULTIPROC_DIR"] = DB_PATH
    sweeper = None
    if sweep:
        import actors
        from actors.sweep import PeriodicSweeper
        from hub.store import db

        actors.setup(settings)
        db.run_sync(db.connect(settings))
        sweeper = PeriodicSweeper(settings).start()
    # Its own session: a group-wide signal (Ctrl-C in a terminal, honcho, systemd) reaches Dramatiq only through
    # forward(); twice (the group's and the forwarded one) would make Dramatiq kill its workers mid-send.
    child = subprocess.Popen(
        dramatiq_command(processes, threads, queues),
        env=worker_env(settings, ctx.config, dict(os.environ)),
        start_new_session=True,
        preexec_fn=die_with_parent(os.getpid()),
    )

    def forward(signum: int, _frame: FrameType | None) -> None:
        child.send_signal(signum)

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, forward)
    try:
        code = child.wait()
    finally:
        if sweeper is not None:
            sweeper.stop()
    sys.exit(code)
