"""The process-level chaos scenarios, sized by their arguments (CI sizes in the tests, large ones in
``python -m tests.chaos --large``). Each returns its :class:`Verdict` and reports one line of what it did."""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import yaml

from tests.chaos import harness as h
from tests.chaos.ledger_check import Verdict
from tests.chaos.stack import Stack, stack

Report = Callable[[str], None]


def _pace(recipients: int, duration_s: float) -> float:
    """A send cap that spreads ``recipients`` over about ``duration_s`` (so the faults land mid-run)."""
    return max(20.0, recipients / max(duration_s, 1.0))


def _start_workers(s: Stack, workers: int, threads: int) -> None:
    for index in range(workers):
        s.start_worker(f"worker-{index}", threads=threads)
    s.wait_consumers(workers)


def worker_kills(
    admin_url: str,
    report: Report,
    *,
    recipients: int,
    duration_s: float,
    kill_every_s: float = 2.0,
    workers: int = 3,
    threads: int = 8,
    seed: int = 9,
) -> Verdict:
    """kill -9 a random `hub worker` (with its Dramatiq processes) every ``kill_every_s`` for ``duration_s``,
    restarting it each time, while a run of ``recipients`` is sent; then sweep until settled."""
    rng = random.Random(seed)
    phones = [h.phone(i) for i in range(recipients)]
    with stack(admin_url, rate_limits={"per_second": _pace(recipients, duration_s)}) as s:
        _start_workers(s, workers, threads)
        started = time.monotonic()
        s.create_run(phones)
        kills = 0
        while time.monotonic() - started < duration_s:
            time.sleep(kill_every_s)
            s.kill_random_worker(rng)
            kills += 1
        s.wait_consumers(workers)
        s.settle()
        verdict = s.verdict(phones)
        report(f"kills: {kills} (every {kill_every_s} s for {duration_s} s, {workers} workers), {verdict.line()}")
        return verdict


def redis_loss(
    admin_url: str,
    report: Report,
    *,
    recipients: int,
    duration_s: float,
    workers: int = 2,
    threads: int = 8,
) -> Verdict:
    """Mid-run, FLUSHALL the scenario's own Redis, then later kill -9 and restart it (data gone both times);
    workers reconnect, the sweeper re-enqueues what the ledger still owes."""
    phones = [h.phone(i) for i in range(recipients)]
    with stack(admin_url, rate_limits={"per_second": _pace(recipients, duration_s)}) as s:
        _start_workers(s, workers, threads)
        s.create_run(phones)
        time.sleep(duration_s / 3)
        client = s.redis.client()
        client.flushall()  # this scenario's private redis-server: no one else's keys live there
        client.close()
        flushed_at = h.status_counts(s.database_url)
        time.sleep(duration_s / 3)
        s.redis.restart(down_s=2.0)
        restarted_at = h.status_counts(s.database_url)
        s.settle()
        verdict = s.verdict(phones)
        report(
            f"flushall at {flushed_at.get('pending', 0)} pending, restart (2 s down) at "
            f"{restarted_at.get('pending', 0)} pending; {verdict.line()}"
        )
        return verdict


#: Magic recipients of the fake Twilio (hub/faketwilio/behaviour.py) -> (status, creates, fewest and most attempts)
#: SPEC §8 prescribes, with ``retries.max_retries`` 5. After its first answer 0003 also meets the random fail rate,
#: so it may take more tries; 0009 answers 503 every time: retried until the budget is spent.
MAGIC_OUTCOMES: dict[str, tuple[str, int, int, int]] = {
    "+15005550001": ("failed", 0, 1, 1),  # 400 21211: permanent, one call
    "+15005550002": ("failed", 0, 1, 1),  # 400 21610: permanent (and an opt-out)
    "+15005550003": ("queued", 1, 1, 6),  # 429 once (a rate limit spends no attempt), then accepted
    "+15005550004": ("unknown", 0, 1, 1),  # 500: Twilio may have it; released only after the reconcile quarantine
    "+15005550005": ("unknown", 1, 1, 1),  # accepted, answer past the client timeout: ambiguous, never resent
    "+15005550006": ("queued", 1, 1, 1),
    "+15005550007": ("queued", 1, 1, 1),
    "+15005550008": ("unknown", 1, 1, 1),  # accepted, connection dropped: ambiguous, never resent
    "+15005550009": ("failed", 0, 6, 6),  # 503 every time: transient until the retries run out
}


def twilio_faults(
    admin_url: str,
    report: Report,
    *,
    recipients: int,
    fail_rate: float = 0.25,
    slow_s: float = 1.5,
    workers: int = 2,
    threads: int = 8,
) -> tuple[Verdict, dict[str, tuple[str, int, int]]]:
    """A run of ``recipients`` ordinary numbers plus every magic one while the fake answers ``fail_rate`` of
    creates with 429/503, and for ``slow_s`` mid-run answers past the client timeout (2 s).

    Returns:
        The verdict, and each magic recipient's (status, creates, attempts).
    """
    ordinary = [h.phone(i) for i in range(recipients)]
    phones = ordinary + list(MAGIC_OUTCOMES)
    with stack(admin_url, rate_limits={"per_second": _pace(recipients, 6.0)}, hang_s=4.0) as s:
        s.fake.configure(fail_rate=fail_rate)
        _start_workers(s, workers, threads)
        s.create_run(ordinary)
        time.sleep(2.0)
        s.fake.configure(latency_ms=2500)
        time.sleep(slow_s)
        s.fake.configure(latency_ms=0)
        # The magic numbers' outcomes assume answers in time: their run starts once Twilio is fast again (the
        # batches of one run share its pace, so its last rows are not necessarily sent last).
        s.create_run(list(MAGIC_OUTCOMES))
        h.wait_for(lambda: not h.status_counts(s.database_url).get("pending"), 60, "the run's sends")
        s.settle()
        accepted = s.fake.stats()["accepted_per_recipient"]
        failed_by_twilio = frozenset(p for p, (_, creates, _, _) in MAGIC_OUTCOMES.items() if creates)
        verdict = s.verdict(phones, failed_after_create=failed_by_twilio)
        rows = h.fetch(
            s.database_url,
            "SELECT recipient, status, attempts FROM message WHERE recipient = ANY($1)",
            list(MAGIC_OUTCOMES),
        )
        magic = {
            r["recipient"]: (r["status"], accepted.get(f"whatsapp:{r['recipient']}", 0), r["attempts"]) for r in rows
        }
        stats = s.fake.stats()
        report(
            f"fail rate: {fail_rate}, slow answers for {slow_s} s, requests: {stats['requests']}, "
            f"errors: {stats['errors']}; {verdict.line()}"
        )
        return verdict, magic


API_KEY = "chaos-api-key"


def _probe(api_url: str, run_id: int) -> tuple[dict[str, int], dict[str, float]]:
    """One request to each kind of route while the database is away: route -> HTTP status, and route -> seconds."""
    auth = {"Authorization": f"Bearer {API_KEY}"}
    body = {"to": h.phone(999_999), "body": "during the outage"}
    requests = {
        "GET /readyz": ("GET", "/readyz", {}),
        "GET /v1/runs/{id}": ("GET", f"/v1/runs/{run_id}", {"headers": auth}),
        "GET /v1/messages": ("GET", "/v1/messages", {"headers": auth}),
        "POST /v1/messages": ("POST", "/v1/messages", {"headers": auth, "json": body}),
    }
    statuses: dict[str, int] = {}
    seconds: dict[str, float] = {}
    with httpx.Client(base_url=api_url, timeout=15) as client:
        for name, (method, path, extra) in requests.items():
            started = time.monotonic()
            statuses[name] = client.request(method, path, **extra).status_code
            seconds[name] = round(time.monotonic() - started, 2)
    return statuses, seconds


def database_outage(
    admin_url: str,
    report: Report,
    *,
    recipients: int,
    duration_s: float,
    outage_s: float = 4.0,
    workers: int = 2,
    threads: int = 8,
    stall: bool = False,
) -> tuple[Verdict, dict[str, int]]:
    """Workers and `hub api` reach PostgreSQL through a proxy that is cut (or, with ``stall``, stops relaying
    without closing or refusing anything) for ``outage_s`` mid-run.

    Returns:
        The verdict, and the API's answers during the outage (route -> status).
    """
    phones = [h.phone(i) for i in range(recipients)]
    config = {"rate_limits": {"per_second": _pace(recipients, duration_s)}, "api": {"keys": [API_KEY]}}
    with stack(admin_url, proxy=True, **config) as s:
        assert s.proxy is not None
        api_port = h.free_port()
        s.procs.start("api", ["api", "--port", str(api_port), "--log-level", "warning"])
        _start_workers(s, workers, threads)
        h.wait_port(api_port)
        run_id, _ = s.create_run(phones)
        time.sleep(duration_s / 3)
        before = h.status_counts(s.database_url)
        started = time.monotonic()
        if stall:
            s.proxy.stall()
        else:
            s.proxy.cut()
        time.sleep(0.5)
        answers, seconds = _probe(f"http://127.0.0.1:{api_port}", run_id)
        time.sleep(max(0.0, outage_s - (time.monotonic() - started)))
        s.proxy.restore()
        s.settle()
        verdict = s.verdict(phones)
        kind = "stall" if stall else "outage"
        report(
            f"{kind}: {outage_s} s at {before.get('pending', 0)} pending, API during it: {answers}"
            f" (seconds: {seconds}); {verdict.line()}"
        )
        return verdict, answers


def pace_through_a_stall(
    admin_url: str,
    report: Report,
    *,
    what: str,
    per_second: float = 40.0,
    seconds: float = 14.0,
    stall_s: float = 4.0,
    workers: int = 2,
    threads: int = 8,
) -> tuple[Verdict, dict[int, int], float]:
    """A run paced at ``per_second`` while ``what`` (``database``: every byte held by the proxy; ``redis``: the
    server SIGSTOPped) stalls for ``stall_s`` a third of the way in.

    Returns:
        The verdict; the creates Twilio took in each 1-s window (by the fake's clock, on this machine's) from the
        first create on; and when the stall ended, in seconds after the first create.
    """
    recipients = int(per_second * seconds)
    phones = [h.phone(i) for i in range(recipients)]
    with stack(admin_url, proxy=True, rate_limits={"per_second": per_second}) as s:
        assert s.proxy is not None
        _start_workers(s, workers, threads)
        s.create_run(phones)
        time.sleep(seconds / 3)
        if what == "database":
            s.proxy.stall()
            time.sleep(stall_s)
            s.proxy.restore()
        else:
            s.redis.pause(stall_s)
        ended = time.time()
        s.settle()
        verdict = s.verdict(phones)
        times = sorted(float(m["at"]) for m in s.fake.messages())
        windows = Counter(int(t - times[0]) for t in times)
        report(
            f"{what} stalled {stall_s} s at {per_second}/s, until {ended - times[0]:.1f} s; creates per second: "
            f"{dict(sorted(windows.items()))}; {verdict.line()}"
        )
        return verdict, dict(windows), ended - times[0]


def _write_campaigns(folder: Path, count: int, per_campaign: int, fire_at: datetime, spread_s: int) -> list[str]:
    """``count`` one-shot campaigns of ``per_campaign`` recipients, due between ``fire_at`` and ``+spread_s``;
    returns every recipient."""
    campaigns = folder / "campaigns"
    campaigns.mkdir(exist_ok=True)
    (folder / "templates").mkdir(exist_ok=True)
    phones: list[str] = []
    for index in range(count):
        mine = [h.phone(10_000 + index * per_campaign + k) for k in range(per_campaign)]
        phones += mine
        at = (fire_at + timedelta(seconds=index % (spread_s + 1))).replace(tzinfo=None, microsecond=0)
        spec = {
            "body": "race {{ campaign }} to {{ phone }}",
            "audience": {"recipients": [{"phone": p} for p in mine]},
            "schedule": {"at": at.isoformat(), "timezone": "UTC"},
        }
        (campaigns / f"race-{index:02d}.yaml").write_text(yaml.safe_dump(spec), encoding="utf-8")
    return phones


def scheduler_race(
    admin_url: str,
    report: Report,
    *,
    campaigns: int = 50,
    schedulers: int = 3,
    per_campaign: int = 2,
    lead_s: float = 12.0,
    spread_s: int = 3,
) -> tuple[Verdict, int]:
    """``schedulers`` `hub scheduler` processes and ``campaigns`` one-shot campaigns due within ``spread_s``
    seconds; one scheduler is killed (-9) and restarted while they fire.

    Returns:
        The verdict over every recipient, and the number of scheduled runs created.
    """
    with stack(admin_url, paths={"campaigns": "campaigns", "templates": "templates"}) as s:
        fire_at = datetime.now(UTC) + timedelta(seconds=lead_s)
        phones = _write_campaigns(s.folder, campaigns, per_campaign, fire_at, spread_s)
        _start_workers(s, 1, 8)
        for index in range(schedulers):
            s.procs.start(f"scheduler-{index}", ["scheduler", "--log-level", "warning"])
        time.sleep(max(0.0, (fire_at - datetime.now(UTC)).total_seconds()) + spread_s / 2)
        s.procs.kill("scheduler-0")
        s.procs.start("scheduler-0", ["scheduler", "--log-level", "warning"])
        count_sql = "SELECT count(*) AS n FROM run WHERE trigger = 'schedule'"
        h.wait_for(lambda: h.fetch(s.database_url, count_sql)[0]["n"] >= campaigns, 60, f"{campaigns} runs")
        time.sleep(5.0)  # the restarted scheduler's catch-up, and every other scheduler's next pass
        runs = int(h.fetch(s.database_url, count_sql)[0]["n"])
        h.wait_for(
            lambda: h.fetch(s.database_url, "SELECT count(*) AS n FROM message")[0]["n"] >= len(phones),
            60,
            "every fan-out",
        )
        s.settle()
        verdict = s.verdict(phones)
        report(
            f"schedulers: {schedulers} (one killed and restarted at fire time), campaigns: {campaigns}, "
            f"runs: {runs}; {verdict.line()}"
        )
        return verdict, runs


__all__ = [
    "MAGIC_OUTCOMES",
    "database_outage",
    "pace_through_a_stall",
    "redis_loss",
    "scheduler_race",
    "twilio_faults",
    "worker_kills",
]
