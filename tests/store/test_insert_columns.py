"""insert_messages in bulk: mixed rows read back exactly, any row count, the checkpoint."""

from __future__ import annotations

import pytest
from helpers_store import T0, at, phones

from hub.config import Settings
from hub.status import MessageStatus as S
from hub.store import queries as q
from hub.store.records import MessageRecord

pytestmark = pytest.mark.anyio


async def _rows_of(run_id: int) -> dict[str, MessageRecord]:
    items, _ = await q.list_messages(run_id=run_id, limit=1000)
    return {message.recipient: message for message in items}


async def test_rows_that_differ_column_by_column_each_read_back_as_given(db_settings: Settings) -> None:
    # Given one chunk where each optional column is set on one row only (the rest keep their defaults)
    run, _ = await q.create_run()
    a, b, c, d, e = phones(5)
    rows = [
        q.NewMessage(recipient=a, body="plain", meta={"source": "x.csv:row 2"}),
        q.NewMessage(recipient=b, content_sid="HX1", content_variables={"1": "Ada"}),
        q.NewMessage(recipient=c, body="img", media_url=["https://example.com/a.png"], step=3, send_at=at(60)),
        q.NewMessage(recipient=d, status=S.REJECTED, error_code=21211, error_message="invalid"),
        q.NewMessage(recipient=e, body="plain"),
    ]

    ids = await q.insert_messages(run.id, rows, now=T0)

    got = await _rows_of(run.id)
    assert ids == sorted(got[p].id for p in (a, b, c, e))
    assert (got[a].body, got[a].meta, got[a].media_url, got[a].step) == ("plain", {"source": "x.csv:row 2"}, [], 0)
    assert (got[b].body, got[b].content_sid, got[b].content_variables) == (None, "HX1", {"1": "Ada"})
    assert (got[c].media_url, got[c].step, got[c].send_at) == (["https://example.com/a.png"], 3, at(60))
    assert (got[d].status, got[d].error_code, got[d].error_message, got[d].finished_at) == (
        S.REJECTED,
        21211,
        "invalid",
        T0,
    )
    assert (got[e].status, got[e].meta, got[e].content_variables, got[e].send_at, got[e].finished_at) == (
        S.PENDING,
        {},
        None,
        None,
        None,
    )


async def test_rows_all_rejected_are_stored_and_none_is_returned_to_send(db_settings: Settings) -> None:
    run, _ = await q.create_run()
    rows = [q.NewMessage(recipient=p, status=S.SKIPPED, error_message="duplicate") for p in phones(3)]

    assert await q.insert_messages(run.id, rows, now=T0) == []
    assert await q.run_counts(run.id) == {"skipped": 3}


async def test_one_call_takes_more_rows_than_a_statement_has_bind_parameters(db_settings: Settings) -> None:
    # 3,000 rows x 16 columns is past the 32,767 parameters of one VALUES statement
    run, _ = await q.create_run()
    rows = [q.NewMessage(recipient=f"+1202555{i:04d}", body="hi") for i in range(3000)]

    ids = await q.insert_messages(run.id, rows, now=T0)

    assert len(ids) == 3000
    assert ids == sorted(ids)


async def test_checkpoint_is_recorded_with_the_rows(db_settings: Settings) -> None:
    run, _ = await q.create_run()

    await q.insert_messages(run.id, [q.NewMessage(recipient=p, body="hi") for p in phones(2)], checkpoint=7)

    after = await q.get_run(run.id)
    assert after is not None and after.checkpoint == 7


async def test_rerun_of_written_rows_returns_nothing_and_still_moves_the_checkpoint(db_settings: Settings) -> None:
    run, _ = await q.create_run()
    rows = [q.NewMessage(recipient=p, body="hi") for p in phones(2)]
    await q.insert_messages(run.id, rows, checkpoint=2)

    again = await q.insert_messages(run.id, rows, checkpoint=4)

    after = await q.get_run(run.id)
    assert again == []
    assert after is not None and after.checkpoint == 4
    assert await q.run_counts(run.id) == {"pending": 2}
