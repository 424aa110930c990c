"""``/v1/contacts`` (SPEC §13): attributes and tags round-trip, an erase keeps the opt-out, lists by tag in pages."""

from __future__ import annotations

from typing import Any

from litestar import Litestar
from litestar.testing import TestClient

Client = TestClient[Litestar]
ADA = "+4915112345678"


def _put(client: Client, phone: str, body: dict[str, Any]) -> dict[str, Any]:
    answer = client.put(f"/v1/contacts/{phone}", json=body)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def test_a_put_contact_reads_back_under_its_normalised_number(client: Client) -> None:
    _put(client, "+49 151 1234 5678", {"attributes": {"tier": "vip", "visits": 3}, "tags": ["b", "a"]})

    found = client.get(f"/v1/contacts/{ADA}").json()

    assert (found["phone"], found["attributes"], found["tags"]) == (ADA, {"tier": "vip", "visits": 3}, ["a", "b"])
    assert found["opted_out"] is False


def test_a_patch_merges_attributes_a_null_removes_one_and_tags_are_edited(client: Client) -> None:
    _put(client, ADA, {"attributes": {"tier": "vip", "city": "Berlin"}, "tags": ["a", "b"]})

    answer = client.patch(
        f"/v1/contacts/{ADA}", json={"attributes": {"city": None, "visits": 2}, "add_tags": ["c"], "remove_tags": ["a"]}
    )

    assert answer.status_code == 200
    assert (answer.json()["attributes"], answer.json()["tags"]) == ({"tier": "vip", "visits": 2}, ["b", "c"])


def test_delete_erases_attributes_and_tags_but_keeps_the_opt_out(client: Client) -> None:
    _put(client, ADA, {"attributes": {"tier": "vip"}, "tags": ["a"]})
    assert client.post(f"/v1/contacts/{ADA}/opt-out").json()["opted_out"] is True

    answer = client.delete(f"/v1/contacts/{ADA}")

    assert answer.status_code == 200
    found = client.get(f"/v1/contacts/{ADA}").json()
    assert (found["attributes"], found["tags"], found["opted_out"], found["opt_out_source"]) == ({}, [], True, "api")


def test_opt_in_clears_an_opt_out(client: Client) -> None:
    client.post(f"/v1/contacts/{ADA}/opt-out")

    answer = client.post(f"/v1/contacts/{ADA}/opt-in")

    assert answer.status_code == 200 and answer.json()["opted_out"] is False


def test_an_unknown_contact_is_404_to_read_and_to_erase(client: Client) -> None:
    assert client.get(f"/v1/contacts/{ADA}").status_code == 404
    assert client.delete(f"/v1/contacts/{ADA}").status_code == 404


def test_what_cannot_be_stored_is_422_naming_the_field(client: Client) -> None:
    bad_number = client.put("/v1/contacts/12", json={})
    bad_zone = client.put(f"/v1/contacts/{ADA}", json={"attributes": {"timezone": "Mars/Base"}})
    bad_tag = client.patch(f"/v1/contacts/{ADA}", json={"add_tags": ["a;b"]})

    assert [a.status_code for a in (bad_number, bad_zone, bad_tag)] == [422, 422, 422]
    assert [a.json()["field"] for a in (bad_number, bad_zone, bad_tag)] == ["phone", "attributes.timezone", "add_tags"]


def test_contacts_list_by_tag_and_opt_out_page_by_page(client: Client) -> None:
    for i in range(5):
        _put(client, f"+1415555010{i}", {"tags": ["vip"] if i % 2 == 0 else []})
    client.post("/v1/contacts/+14155550102/opt-out")

    first = client.get("/v1/contacts", params={"tag": "vip", "limit": 2}).json()
    rest = client.get("/v1/contacts", params={"tag": "vip", "limit": 2, "cursor": first["next_cursor"]}).json()
    out = client.get("/v1/contacts", params={"opted_out": "true"}).json()

    assert [c["phone"] for c in first["items"] + rest["items"]] == ["+14155550100", "+14155550102", "+14155550104"]
    assert rest["next_cursor"] is None
    assert [c["phone"] for c in out["items"]] == ["+14155550102"]


def test_a_csv_import_creates_contacts_and_lists_the_rows_it_refused(client: Client) -> None:
    csv = "phone,tags,tier\n+4915112345678,vip;news,gold\n12,,\n+4915112345679,,silver\n"

    answer = client.post("/v1/contacts/import", content=csv.encode(), headers={"Content-Type": "text/csv"})

    assert answer.status_code == 200, answer.text
    assert (answer.json()["imported"], answer.json()["rejected"]) == (2, 1)
    assert answer.json()["problems"][0]["line"] == 3
    found = client.get(f"/v1/contacts/{ADA}").json()
    assert (found["attributes"], found["tags"]) == ({"tier": "gold"}, ["news", "vip"])


def test_a_csv_without_a_phone_column_is_422(client: Client) -> None:
    answer = client.post("/v1/contacts/import", content=b"number\n+4915112345678\n")

    assert answer.status_code == 422


def test_a_dry_run_over_http_renders_the_contacts_attributes(client: Client) -> None:
    _put(client, ADA, {"attributes": {"tier": "vip"}})

    answer = client.post("/v1/render", json={"phone_numbers": [ADA, "+4915112345679"], "body": "Hi {{ contact.tier }}"})

    assert answer.status_code == 200, answer.text
    items = answer.json()["items"]
    assert [(i["status"], i["body"]) for i in items] == [("ok", "Hi vip"), ("rejected", None)]
    assert "tier" in items[1]["error"]


def test_an_api_send_renders_the_contacts_attributes(client: Client) -> None:
    _put(client, ADA, {"attributes": {"tier": "vip"}})

    sent = client.post("/v1/messages", json={"to": ADA, "body": "Hi {{ contact.tier }}"})
    refused = client.post("/v1/bulk-send", json={"phone_numbers": ["+4915112345679"], "body": "Hi {{ contact.tier }}"})

    assert sent.status_code == 202, sent.text
    assert client.get(f"/v1/messages/{sent.json()['id']}").json()["body"] == "Hi vip"
    assert refused.status_code == 422 and "tier" in refused.json()["detail"]


def test_a_campaign_preview_holds_a_message_in_its_contacts_zone(client: Client, settings: Any) -> None:
    (settings.paths.campaigns / "windowed.yaml").write_text(
        f"body: Hi\naudience: {{recipients: [{{phone: '{ADA}'}}]}}\n"
        "schedule: {cron: '0 9 * * *', timezone: Europe/Berlin, send_window: {start: '00:00', end: '00:01'}}\n",
        encoding="utf-8",
    )
    _put(client, ADA, {"attributes": {"timezone": "America/New_York"}})

    answer = client.post("/v1/render", json={"campaign": "windowed"})

    assert answer.status_code == 200, answer.text
    send_at = answer.json()["items"][0]["send_at"]
    assert send_at.endswith(("T05:00:00Z", "T05:00:00+00:00"))  # midnight in New York, not in Berlin
