"""The template registry queries."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from template_support import run

from hub.config import Settings
from hub.errors import AmbiguousTemplate
from hub.store import queries
from hub.store.tables import ContentTemplate
from hub.store.templates import TemplateRecord

SID_A = "HX" + "a" * 32
SID_B = "HX" + "b" * 32


@pytest.fixture
def store(db_settings: Settings) -> Settings:
    # The session's PostgreSQL database is shared by every test: start from an empty registry.
    run(ContentTemplate.delete(force=True).run())
    return db_settings


def _record(sid: str = SID_A, name: str = "order_ready", **changes: object) -> TemplateRecord:
    base = TemplateRecord(
        friendly_name=name, language="en", content_sid=sid, body="Hi {{1}}", declared=["1"], samples={"1": "Ada"}
    )
    return TemplateRecord(**{**{f: getattr(base, f) for f in base.__struct_fields__}, **changes})


def test_upsert_inserts_then_updates_by_sid(store: Settings) -> None:
    first = run(queries.upsert_template(_record()))
    assert (first.approval_status, first.declared, first.samples) == ("unsubmitted", ["1"], {"1": "Ada"})
    second = run(queries.upsert_template(_record(approval_status="approved", category="UTILITY")))
    assert (second.approval_status, second.category) == ("approved", "UTILITY")
    assert second.created_at == first.created_at
    assert len(run(queries.list_templates())) == 1


def test_get_by_sid_or_by_its_only_friendly_name(store: Settings) -> None:
    run(queries.upsert_template(_record(SID_A, "promo")))
    assert run(queries.get_template(SID_A)).content_sid == SID_A  # type: ignore[union-attr]
    assert run(queries.get_template("promo")).content_sid == SID_A  # type: ignore[union-attr]
    assert run(queries.get_template("nothing")) is None


def test_a_shared_friendly_name_means_the_approved_one(store: Settings) -> None:
    run(queries.upsert_template(_record(SID_A, "promo", approval_status="approved")))
    run(queries.upsert_template(_record(SID_B, "promo")))  # a newer copy, never submitted
    assert run(queries.get_template("promo")).content_sid == SID_A  # type: ignore[union-attr]


@pytest.mark.parametrize("statuses", [("unsubmitted", "unsubmitted"), ("approved", "approved")])
def test_a_shared_friendly_name_without_one_approved_is_ambiguous(store: Settings, statuses: tuple[str, str]) -> None:
    run(queries.upsert_template(_record(SID_A, "promo", approval_status=statuses[0])))
    run(queries.upsert_template(_record(SID_B, "promo", approval_status=statuses[1])))
    with pytest.raises(AmbiguousTemplate, match=SID_B):
        run(queries.get_template("promo"))
    assert run(queries.get_template(SID_B)).content_sid == SID_B  # type: ignore[union-attr]


def test_set_status_records_reason_and_sync_time(store: Settings) -> None:
    run(queries.upsert_template(_record(category="MARKETING")))
    at = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
    updated = run(queries.set_template_status(SID_A, "rejected", rejection_reason="too promotional", synced_at=at))
    assert updated is not None
    assert (updated.approval_status, updated.rejection_reason, updated.category) == (
        "rejected",
        "too promotional",
        "MARKETING",
    )
    assert updated.last_synced_at == at
    assert run(queries.set_template_status(SID_B, "approved")) is None


def test_statuses_of_known_sids_only(store: Settings) -> None:
    run(queries.upsert_template(_record(approval_status="paused")))
    assert run(queries.template_statuses([SID_A, SID_B])) == {SID_A: "paused"}
