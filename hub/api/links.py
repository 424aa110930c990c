"""OpenAPI links: which answer feeds which request (a created run into its read and control, a message into its read).

Declared here, once, and written into the document by :func:`hub.api.openapi.finish_document`; schemathesis' stateful
phase follows them (create, then read or act on what was created). Each link names its target by ``operationId``
and fills the target's path parameter from the source's JSON answer (``$response.body#/pointer``).
"""

from __future__ import annotations

from typing import Any

import msgspec

__all__ = ["LINKS", "Link", "add_links"]


class Link(msgspec.Struct, frozen=True):
    """One link: from ``source``'s ``status`` answer to ``target``, its ``parameter`` taken from ``pointer``."""

    source: str
    status: int
    target: str
    parameter: str
    pointer: str

    @property
    def name(self) -> str:
        return self.target

    def openapi(self) -> dict[str, Any]:
        return {"operationId": self.target, "parameters": {self.parameter: f"$response.body#{self.pointer}"}}


#: What a run answer leads to: its read, its messages export, its control.
_RUN_TARGETS = ("get_run", "export_run_messages", "pause_run", "resume_run", "cancel_run")


def _run_links(source: str, status: int, pointer: str) -> list[Link]:
    return [Link(source, status, target, "run_id", pointer) for target in _RUN_TARGETS]


#: What a contact answer leads to: its read, its change and its opt-out state (not its erasure, which keeps the
#: contact: an opt-out outlives it).
_CONTACT_TARGETS = ("get_contact", "patch_contact", "opt_out_contact", "opt_in_contact")


def _contact_links(source: str, status: int) -> list[Link]:
    return [Link(source, status, target, "phone", "/phone") for target in _CONTACT_TARGETS]


LINKS: tuple[Link, ...] = (
    # Creates, to what they created.
    Link("send_message", 202, "get_message", "message_id", "/id"),
    *_run_links("bulk_send", 202, "/run_id"),
    *_run_links("legacy_bulk_send", 202, "/run_id"),
    *_run_links("start_campaign_run", 202, "/id"),
    Link("post_event", 202, "get_entry", "entry_id", "/entered/0/entry_id"),
    Link("post_event", 202, "get_run", "run_id", "/entered/0/run_id"),
    Link("create_template", 201, "get_template", "sid_or_name", "/content_sid"),
    Link("create_template", 201, "submit_template", "sid_or_name", "/content_sid"),
    *_contact_links("put_contact", 200),
    *_contact_links("patch_contact", 200),
    *_contact_links("opt_out_contact", 200),
    *_contact_links("opt_in_contact", 200),
    # Reads, to what they name.
    Link("get_message", 200, "get_run", "run_id", "/run_id"),
    Link("list_messages", 200, "get_message", "message_id", "/items/0/id"),
    Link("list_runs", 200, "get_run", "run_id", "/items/0/id"),
    Link("list_entries", 200, "get_entry", "entry_id", "/items/0/id"),
    Link("get_entry", 200, "get_run", "run_id", "/run_id"),
    Link("list_campaigns", 200, "get_campaign", "name", "/items/0/name"),
    Link("list_campaigns", 200, "start_campaign_run", "name", "/items/0/name"),
    Link("get_campaign", 200, "start_campaign_run", "name", "/name"),
    Link("list_templates", 200, "get_template", "sid_or_name", "/items/0/content_sid"),
    Link("list_contacts", 200, "get_contact", "phone", "/items/0/phone"),
    # Control, to the run it answers with.
    *_run_links("pause_run", 200, "/id"),
    *_run_links("resume_run", 200, "/id"),
    Link("cancel_run", 200, "get_run", "run_id", "/id"),
)


def add_links(document: dict[str, Any], links: tuple[Link, ...] = LINKS) -> dict[str, Any]:
    """Write ``links`` into the responses of ``document`` (the JSON form, in place; returned).

    Raises:
        KeyError: a link names an operation or status the document does not have (the table is out of date).
    """
    responses: dict[str, dict[str, Any]] = {}
    for item in document.get("paths", {}).values():
        for operation in item.values():
            if isinstance(operation, dict) and "operationId" in operation:
                responses[operation["operationId"]] = operation.get("responses", {})
    for link in links:
        if link.target not in responses:
            raise KeyError(f"link to unknown operation {link.target!r}")
        response = responses[link.source][str(link.status)]
        response.setdefault("links", {})[link.name] = link.openapi()
    return document
