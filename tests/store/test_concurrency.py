"""Concurrency across processes and statement limits: the ledger under real contention."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest
from helpers_store import phones

from hub.config import Settings
from hub.store import db
from hub.store import queries as q

pytestmark = pytest.mark.anyio

# One process: connect, try to claim every id (in the given order), print how many it won.
_CLAIMER = textwrap.dedent(
    """
    import asyncio, json, sys
    from pathlib import Path
    from hub.config import load_settings
    from hub.store import db, queries as q

    async def main(config, ids):
        await db.connect(load_settings(Path(config), env={}))
        won = [i for i in ids if await q.claim_for_send(i) is not None]
        print(json.dumps(won))

    asyncio.run(main(sys.argv[1], json.loads(sys.argv[2])))
    """
)


def test_two_processes_claim_each_row_once(pg_settings: Settings) -> None:
    # Given 200 owed rows
    run, _ = db.run_sync(q.create_run())
    ids = db.run_sync(q.insert_messages(run.id, [q.NewMessage(recipient=p, body="x") for p in phones(200)]))
    config = str(pg_settings.root / "config.yaml")

    # When two processes each try to claim all 200 (in opposite orders, so they collide everywhere)
    orders = [ids, list(reversed(ids))]
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _CLAIMER, config, json.dumps(order)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for order in orders
    ]
    outputs = [proc.communicate(timeout=60) for proc in procs]

    # Then no process failed and every row was claimed exactly once
    assert [proc.returncode for proc in procs] == [0, 0], [err for _, err in outputs]
    won = [json.loads(out) for out, _ in outputs]
    assert sorted(won[0] + won[1]) == ids


async def test_five_thousand_rows_insert_in_chunks_on_postgres(pg_settings: Settings) -> None:
    run, _ = await q.create_run()
    rows = [q.NewMessage(recipient=p, body="hello", content_variables={"1": p}) for p in phones(5000)]

    ids = await q.insert_messages(run.id, rows)
    again = await q.insert_messages(run.id, rows)

    assert (len(ids), again) == (5000, [])
    assert await q.run_counts(run.id) == {"pending": 5000}
