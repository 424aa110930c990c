"""Chaos for journeys: entries waiting on timers and replies while workers are killed, Redis is flushed and
restarted, and two schedulers race (one killed and restarted). The verdict reads the ledger and the fake Twilio.

Guarantees checked (SPEC §10): every entry ends; each step ran once per entry (its path line once, its message
row once); the `wait` timer fired once; the reply-or-timeout wait took exactly one branch, and the thank-you was
sent exactly when the reply branch was taken; no send is owed once settled, and no recipient has more creates at
Twilio than it has rows (none twice).
"""

from __future__ import annotations

import json
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from tests.chaos import harness as h
from tests.chaos.stack import stack

Report = Callable[[str], None]

NAME = "chaos-journey"
JOURNEY = """\
name: chaos-journey
entry: {event: chaos.entered}
steps:
  - id: hold
    wait: 2s
  - id: remind
    send: {body: "Reminder for {{ first_name }}"}
  - id: wait-reply
    wait_for: [replied]
    timeout: 3s
    on: {replied: thanks, timeout: end}
  - id: thanks
    send: {body: "Thanks, {{ first_name }}!"}
"""
#: chaos harness phone(i) in SQL.
PHONE_SQL = "(ARRAY['+49151','+49176','+4478','+336'])[i % 4 + 1] || lpad((i / 4)::text, 8, '0')"


@dataclass
class JourneyVerdict:
    entries: int = 0
    ended: int = 0
    replied: int = 0
    timed_out: int = 0
    rows: int = 0
    creates: int = 0
    unknown: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def line(self) -> str:
        states = ", ".join(f"{k}: {v}" for k, v in sorted(self.statuses.items()))
        return (
            f"entries: {self.entries}, ended: {self.ended}, replied: {self.replied}, timed out: {self.timed_out}, "
            f"message rows: {self.rows}, creates: {self.creates}, unknown: {self.unknown} ({states})"
        )


def judge_journey(
    entries: list[dict], paths: list[dict], messages: list[dict], accepted: dict[str, int]
) -> JourneyVerdict:
    """The guarantees over what the ledger and the fake Twilio recorded (pure)."""
    verdict = JourneyVerdict(entries=len(entries))
    lines: dict[int, Counter[tuple[str, str]]] = {entry["id"]: Counter() for entry in entries}
    for line in paths:
        lines[line["entry"]][(line["step"], line["outcome"])] += 1
    rows: dict[int, Counter[int]] = {entry["id"]: Counter() for entry in entries}
    per_recipient: Counter[str] = Counter()
    statuses: Counter[str] = Counter()
    for row in messages:
        rows[row["entry"]][row["step"]] += 1
        per_recipient[row["recipient"]] += 1
        statuses[row["status"]] += 1
        if row["status"] in ("pending", "sending"):
            verdict.problems.append(f"message {row['id']}: still {row['status']} after settling")
        if row["status"] == "unknown":
            verdict.unknown += 1
    for entry in entries:
        seen, sent, who = lines[entry["id"]], rows[entry["id"]], f"entry {entry['id']}"
        if entry["active"] or entry["outcome"] != "completed":
            verdict.problems.append(f"{who}: active={entry['active']} outcome={entry['outcome']!r}")
        else:
            verdict.ended += 1
        for key in (("hold", "waiting"), ("hold", "waited"), ("remind", "sent"), ("wait-reply", "awaiting")):
            if seen[key] != 1:
                verdict.problems.append(f"{who}: path {key} {seen[key]} times")
        replied, timed_out = seen[("wait-reply", "replied")], seen[("wait-reply", "timeout")]
        verdict.replied += replied
        verdict.timed_out += timed_out
        if replied + timed_out != 1:
            verdict.problems.append(f"{who}: reply branch {replied} times, timeout {timed_out} times")
        if seen[("thanks", "sent")] != replied:
            verdict.problems.append(f"{who}: thanks sent {seen[('thanks', 'sent')]} times, replied {replied}")
        if sent[1] != 1 or sent[3] != replied or sum(sent.values()) != 1 + replied:
            verdict.problems.append(f"{who}: message rows by step {dict(sent)} (replied {replied})")
    for recipient, count in per_recipient.items():
        creates = accepted.get(f"whatsapp:{recipient}", 0)
        verdict.creates += creates
        if creates > count:
            verdict.problems.append(f"{recipient}: {creates} creates at Twilio for {count} rows")
    answered = {"accepted", "scheduled", "queued", "sent", "delivered", "read", "undelivered"}
    by_recipient: Counter[str] = Counter(r["recipient"] for r in messages if r["status"] in answered)
    for recipient, count in by_recipient.items():
        if accepted.get(f"whatsapp:{recipient}", 0) < count:
            verdict.problems.append(f"{recipient}: {count} rows answered by Twilio, fewer creates")
    verdict.rows = len(messages)
    verdict.statuses = dict(statuses)
    verdict.problems = verdict.problems[:40]
    return verdict


def journey_chaos(
    admin_url: str,
    report: Report,
    *,
    entries: int,
    kill_every_s: float = 2.0,
    workers: int = 2,
    threads: int = 4,
    seed: int = 17,
    timeout_s: float = 180.0,
) -> JourneyVerdict:
    """``entries`` entries enter at once; while they wait, kill -9 a worker every ``kill_every_s`` (restarted),
    FLUSHALL Redis, kill and restart one of two schedulers, insert replies from a quarter of the recipients (racing
    their timeouts), and restart Redis (2 s down). Then sweep the sends until settled and judge."""
    rng = random.Random(seed)
    with stack(admin_url, rate_limits={"per_second": 1000}) as s:
        meta = json.dumps({"journey": {"source": f"campaigns/{NAME}.yaml", "text": JOURNEY}})
        run_id = h.fetch(
            s.database_url,
            "INSERT INTO run (campaign, kind, trigger, state, started_at, fanned_out_at, created_at, checkpoint,"
            " meta) VALUES ($1, 'campaign', 'api', 'running', now(), now(), now(), 0, $2::json) RETURNING id",
            NAME,
            meta,
        )[0]["id"]
        for index in range(workers):
            s.start_worker(f"worker-{index}", threads=threads)
        s.wait_consumers(workers)
        for index in range(2):
            s.procs.start(f"scheduler-{index}", ["scheduler", "--log-level", "warning"])
        h.fetch(
            s.database_url,
            "INSERT INTO journey_entry (run, campaign, recipient, key, step, phase, reached_at, due_at, vars,"
            f" started_at) SELECT $1, $2, {PHONE_SQL}, '', 'hold', 'entering', now(), now(),"
            " jsonb_build_object('first_name', 'P' || i), now() FROM generate_series(0, $3::int - 1) AS i",
            run_id,
            NAME,
            entries,
        )
        started = time.monotonic()

        def at_step(step: str) -> int:
            rows = h.fetch(
                s.database_url, "SELECT count(*) AS n FROM journey_entry WHERE run = $1 AND step = $2", run_id, step
            )
            return int(rows[0]["n"])

        def still_active() -> int:
            rows = h.fetch(s.database_url, "SELECT count(*) AS n FROM journey_entry WHERE run = $1 AND active", run_id)
            return int(rows[0]["n"])

        events: list[str] = []
        kills = 0

        def restart_scheduler() -> None:
            s.procs.kill("scheduler-0")
            s.procs.start("scheduler-0", ["scheduler", "--log-level", "warning"])

        def flush() -> None:
            client = s.redis.client()
            client.flushall()  # this scenario's private redis-server: no one else's keys live there
            client.close()

        # Each fault lands once entries stand where it should hit: timers firing, then replies racing timeouts.
        firing = lambda: entries - at_step("hold") >= entries // 10  # noqa: E731
        awaiting = lambda: at_step("wait-reply") >= entries // 4  # noqa: E731
        plan: list[tuple[str, Callable[[], object], Callable[[], bool]]] = [
            ("flush", flush, firing),
            ("scheduler kill", restart_scheduler, firing),
            ("replies", lambda: _replies(s.database_url, entries), awaiting),
            ("redis restart", lambda: s.redis.restart(down_s=2.0), lambda: True),
        ]
        next_kill = time.monotonic() + kill_every_s
        while plan or still_active():
            if time.monotonic() - started > timeout_s:
                break
            if time.monotonic() >= next_kill and time.monotonic() - started < 25:
                s.kill_random_worker(rng)
                kills += 1
                next_kill = time.monotonic() + kill_every_s
            if plan and plan[0][2]():
                name, act, _ = plan.pop(0)
                act()
                events.append(f"{name} at {time.monotonic() - started:.1f} s")
            time.sleep(1.0)
        s.wait_consumers(workers)
        s.settle()
        accepted = s.fake.stats()["accepted_per_recipient"]
        entry_rows = h.fetch(s.database_url, "SELECT id, active, outcome FROM journey_entry WHERE run = $1", run_id)
        paths = h.fetch(s.database_url, "SELECT entry, step, outcome FROM journey_path WHERE run = $1", run_id)
        messages = h.fetch(
            s.database_url, "SELECT id, entry, step, recipient, status FROM message WHERE run = $1", run_id
        )
        verdict = judge_journey(entry_rows, paths, messages, accepted)
        report(
            f"{entries} entries, {kills} worker kills, {', '.join(events)}; {time.monotonic() - started:.0f} s; "
            f"{verdict.line()}"
        )
        return verdict


def _replies(database_url: str, entries: int) -> None:
    """A reply from every fourth recipient, as the inbound webhook stores it (the trigger queues the events)."""
    h.fetch(
        database_url,
        'INSERT INTO inbound_message (sid, from_phone, "to", body, payload, received_at)'
        f" SELECT 'SMchaos' || i, {PHONE_SQL}, 'whatsapp:+14155238886', 'yes', '{{}}', now()"
        " FROM generate_series(0, $1::int - 1, 4) AS i",
        entries,
    )


__all__ = ["JourneyVerdict", "journey_chaos", "judge_journey"]
