"""``/v1/contacts``: a contact's attributes and tags (read, replace, patch, erase), its opt-out, and lists by tag."""

from __future__ import annotations

import io
import tempfile
from typing import Annotated, Any

from litestar import Controller, Request, delete, get, patch, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, QueryParameter

from hub import contacts
from hub.api.errors import NotFound, Unprocessable
from hub.api.openapi import error_responses
from hub.api.params import id_cursor, phone_param
from hub.api.schemas import (
    CONTACT_PATCH_EXAMPLES,
    CONTACT_PUT_EXAMPLES,
    ContactList,
    ContactPatch,
    ContactPut,
    ContactRead,
    json_body,
)
from hub.config import Settings
from hub.contact_import import ImportResult, import_csv
from hub.store import queries
from hub.store.records import ContactProfile

__all__ = ["ContactController", "contact_read"]

#: Largest page of contacts.
MAX_CONTACTS = 500
#: Largest CSV an import takes (it is spooled to disk past 1 MiB, and read a batch at a time).
MAX_IMPORT_BYTES = 1 << 30
_SPOOL_BYTES = 1 << 20


def contact_read(profile: ContactProfile) -> ContactRead:
    """The API shape of a contact (pure)."""
    return ContactRead(
        phone=profile.phone,
        attributes=profile.attributes,
        tags=profile.tags,
        opted_out=profile.opted_out_at is not None,
        opted_out_at=profile.opted_out_at,
        opt_out_source=profile.opt_out_source,
        last_inbound_at=profile.last_inbound_at,
        updated_at=profile.updated_at,
    )


def _phone(value: str, settings: Settings) -> str:
    return phone_param(value, settings, "phone")


async def _found(phone: str) -> ContactRead:
    profile = await queries.read_contact(phone)
    if profile is None:
        raise NotFound(f"no contact {phone}")
    return contact_read(profile)


class ContactController(Controller):
    path = "/contacts"
    tags = ["contacts"]

    @get("/{phone:str}", operation_id="get_contact", summary="One contact: attributes, tags, opt-out, 24 h window")
    async def get_contact(self, phone: FromPath[str], settings: NamedDependency[Settings]) -> ContactRead:
        return await _found(_phone(phone, settings))

    @put("/{phone:str}", operation_id="put_contact", summary="Set a contact's attributes and tags (created if new)")
    async def put_contact(
        self,
        phone: FromPath[str],
        data: Annotated[ContactPut, json_body(*CONTACT_PUT_EXAMPLES)],
        settings: NamedDependency[Settings],
    ) -> ContactRead:
        number = _phone(phone, settings)
        profile = await queries.change_contact(number, contacts.replace(data.attributes, data.tags))
        assert profile is not None  # created when new
        return contact_read(profile)

    @patch("/{phone:str}", operation_id="patch_contact", summary="Change some of a contact's attributes and tags")
    async def patch_contact(
        self,
        phone: FromPath[str],
        data: Annotated[ContactPatch, json_body(*CONTACT_PATCH_EXAMPLES)],
        settings: NamedDependency[Settings],
    ) -> ContactRead:
        number = _phone(phone, settings)
        change = contacts.patch(data.attributes, tags=data.tags, add_tags=data.add_tags, remove_tags=data.remove_tags)
        profile = await queries.change_contact(number, change)
        assert profile is not None  # created when new
        return contact_read(profile)

    @delete(
        "/{phone:str}",
        operation_id="delete_contact",
        summary="Erase a contact's attributes and tags (an opt-out is kept)",
        status_code=200,
    )
    async def delete_contact(self, phone: FromPath[str], settings: NamedDependency[Settings]) -> ContactRead:
        number = _phone(phone, settings)
        profile = await queries.change_contact(number, contacts.erase(), create=False)
        if profile is None:
            raise NotFound(f"no contact {number}")
        return contact_read(profile)

    @post("/{phone:str}/opt-out", operation_id="opt_out_contact", summary="Opt a contact out", status_code=200)
    async def opt_out(self, phone: FromPath[str], settings: NamedDependency[Settings]) -> ContactRead:
        number = _phone(phone, settings)
        current = await queries.read_contact(number)
        if current is None or current.opted_out_at is None:  # an earlier opt-out keeps its time and source
            await queries.set_opt_out(number, "api")
        return await _found(number)

    @post("/{phone:str}/opt-in", operation_id="opt_in_contact", summary="Clear a contact's opt-out", status_code=200)
    async def opt_in(self, phone: FromPath[str], settings: NamedDependency[Settings]) -> ContactRead:
        number = _phone(phone, settings)
        await queries.set_opt_in(number)
        return await _found(number)

    @post(
        "/import",
        operation_id="import_contacts",
        summary="Import contacts from a CSV body: phone, tags separated by ';', other columns become attributes",
        description="Each row's attributes are merged over the contact's and its tags added; rows are written a "
        "thousand at a time as the body streams in. Answers how many were imported, and the rows refused with why.",
        status_code=200,
        request_max_body_size=MAX_IMPORT_BYTES,
        responses=error_responses(413, 422),  # the body is read from the stream, not a parameter Litestar sees
    )
    async def import_contacts(
        self, request: Request[Any, Any, Any], settings: NamedDependency[Settings]
    ) -> ImportResult:
        with tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES) as spool:
            async for chunk in request.stream():
                spool.write(chunk)
            spool.seek(0)
            text = io.TextIOWrapper(spool, encoding="utf-8-sig", newline="")
            try:
                return await import_csv(text, settings.phones.default_region, queries.import_contacts)
            except UnicodeDecodeError:
                raise Unprocessable("the CSV must be UTF-8 text", field="body") from None
            finally:
                text.detach()

    @get("/", operation_id="list_contacts", summary="Contacts in the order they were first known; cursor-paginated")
    async def list_contacts(
        self,
        request: Request[Any, Any, Any],
        tag: FromQuery[str | None] = None,
        opted_out: Annotated[bool | None, QueryParameter(description="only opted-out (true) or others (false)")] = None,
        cursor: FromQuery[str | None] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=MAX_CONTACTS)] = 100,
    ) -> ContactList:
        if opted_out is None and "opted_out" in request.query_params:
            # Litestar reads ``opted_out=null`` as absent; a filter the client wrote must not be dropped silently.
            raise Unprocessable("opted_out must be true or false", field="opted_out")
        after = id_cursor(cursor)
        found = await queries.list_contacts(tag=tag, opted_out=opted_out, after_id=after, limit=limit)
        next_cursor = str(found[-1].id) if len(found) == limit else None
        return ContactList(items=[contact_read(item) for item in found], next_cursor=next_cursor)
