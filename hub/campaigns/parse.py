"""Turn the plain data of one campaign file (SPEC §5) into a validated CampaignSpec."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from hub.campaigns import rules
from hub.campaigns.duration import parse_duration
from hub.campaigns.fields import FieldReader, describe
from hub.campaigns.files import display_path, project_path, read_csv_header, template_path
from hub.campaigns.journey import Journey
from hub.campaigns.spec import (
    AudienceSpec,
    CampaignSpec,
    ContactsSource,
    MessageSpec,
    RateLimit,
    Schedule,
    SendWindow,
)
from hub.campaigns.steps import JOURNEY_KEYS, parse_journey
from hub.config import Settings
from hub.yamlfile import PathPart

__all__ = ["MESSAGE_KINDS", "TOP_LEVEL_KEYS", "parse_campaign", "parse_message"]

T = TypeVar("T")

#: The three ways to say what a message is; a campaign has exactly one.
MESSAGE_KINDS = ("template", "body", "content_sid")
_MESSAGE_KEYS = frozenset(MessageSpec.__struct_fields__)
TOP_LEVEL_KEYS = frozenset(
    {"name", "description", "enabled", "audience", "schedule", "rate_limit", "expires_after", "valid_until"}
    | _MESSAGE_KEYS
    | JOURNEY_KEYS
)


def parse_campaign(data: Any, reader: FieldReader, source: Path, settings: Settings) -> CampaignSpec:
    """Validate one campaign file's data, reporting every problem of the file, not only the first.

    Args:
        data: what the YAML parser returned.
        reader: locates problems in this file (and may already hold some, such as repeated keys).
        source: the file (the default name is its stem).
        settings: where templates and CSV files live; the default time zone; the sender's rate cap.

    Raises:
        CampaignErrors: every problem found, each naming the file, the field and the line.
    """
    if data is None:
        reader.fail([], "expected a mapping of campaign fields, found an empty file")
    if not isinstance(data, dict):
        reader.fail([], f"expected a mapping of campaign fields (name, body, audience...), found {describe(data)}")
    top = reader.mapping(data, [], TOP_LEVEL_KEYS)
    field = reader.attempt
    name = field(lambda: _name(top, reader, source), source.stem)
    journey: Journey | None = None
    message: MessageSpec | None = None
    if top.get("steps") is not None:
        _no_message_fields(top, reader)
        variables: dict[str, Any] = field(lambda: reader.variables(top.get("vars"), ["vars"]), {})
        journey = field(
            lambda: parse_journey(top, reader, lambda part, at: parse_message(part, reader, settings, at), variables),
            None,
        )
    else:
        for key in sorted(JOURNEY_KEYS & top.keys()):
            reader.report([key], "only allowed in a journey (a campaign with steps), found without steps")
        message = field(lambda: parse_message(top, reader, settings), MessageSpec(body=""))
    description = field(lambda: reader.string(top.get("description", ""), ["description"], empty=True), "")
    enabled = field(lambda: _bool(top.get("enabled", True), ["enabled"], reader), True)
    schedule = field(
        lambda: _schedule(top["schedule"], reader, settings) if top.get("schedule") is not None else None, None
    )
    optional = _enters_by_event(journey, top.get("schedule"))
    audience = field(lambda: _audience(top.get("audience"), reader, settings, optional=optional), AudienceSpec())
    rate_limit = field(
        lambda: _rate_limit(top["rate_limit"], reader, settings) if top.get("rate_limit") is not None else None, None
    )
    expires_after = field(
        lambda: _optional(parse_duration, _text(top, "expires_after", reader), ["expires_after"], reader), None
    )
    valid_until = field(lambda: _optional(rules.parse_datetime, top.get("valid_until"), ["valid_until"], reader), None)
    reader.finish()
    return CampaignSpec(
        name=name,
        source=source,
        message=message,
        description=description,
        enabled=enabled,
        audience=audience,
        schedule=schedule,
        rate_limit=rate_limit,
        expires_after=expires_after,
        valid_until=valid_until,
        journey=journey,
    )


def _no_message_fields(top: dict[str, Any], reader: FieldReader) -> None:
    for key in (*MESSAGE_KINDS, "content_variables", "media_url"):
        if key in top:
            reader.report([key], "a journey's messages belong to its send steps; found one at the top level")


def _enters_by_event(journey: Journey | None, schedule: Any) -> bool:
    """A journey entered by events may have no audience (unless a schedule would enter it)."""
    return journey is not None and journey.entry.event is not None and schedule is None


def _check(rule: Callable[[Any], T], value: Any, path: list[PathPart], reader: FieldReader) -> T:
    """Apply a pure rule, turning its ValueError into a CampaignError located at ``path``."""
    try:
        return rule(value)
    except ValueError as exc:
        reader.fail(path, str(exc))


def _optional(rule: Callable[[Any], T], value: Any, path: list[PathPart], reader: FieldReader) -> T | None:
    return None if value is None else _check(rule, value, path, reader)


def _text(data: dict[str, Any], key: str, reader: FieldReader) -> str | None:
    value = data.get(key)
    return None if value is None else reader.string(value, [key])


def _bool(value: Any, path: list[PathPart], reader: FieldReader) -> bool:
    if not isinstance(value, bool):
        reader.fail(path, f"expected true or false, found {describe(value)}")
    return value


def _name(data: dict[str, Any], reader: FieldReader, source: Path) -> str:
    if "name" in data:
        name = reader.string(data["name"], ["name"])
        return _check(rules.check_name, name, ["name"], reader)
    try:
        return rules.check_name(source.stem)
    except ValueError:
        reader.fail(
            ["name"], f"the file name {source.stem!r} is not a campaign name ([a-z0-9-]+): rename it or set name"
        )


def parse_message(
    data: dict[str, Any], reader: FieldReader, settings: Settings, at: list[PathPart] | None = None
) -> MessageSpec:
    """Validate the message fields of ``data`` (a campaign's top level, or a journey's ``send``) found at ``at``."""
    at = at or []
    kinds = [kind for kind in MESSAGE_KINDS if data.get(kind) is not None]
    if not kinds:
        reader.fail(
            [*at, "template/body/content_sid"], "expected exactly one of template, body or content_sid, found none"
        )
    if len(kinds) > 1:
        reader.fail(
            [*at, kinds[1]], f"expected exactly one of template, body or content_sid, found {' and '.join(kinds)}"
        )
    kind = kinds[0]
    value = reader.string(data[kind], [*at, kind])
    content_variables = None
    if kind == "template":
        try:
            found = template_path(settings, value)
        except ValueError as exc:
            reader.fail([*at, "template"], str(exc))
        if not found.is_file():
            reader.fail(
                [*at, "template"], f"expected an existing template file, found no file {display_path(found, settings)}"
            )
    elif kind == "content_sid":
        reader.attempt(lambda: _check(rules.check_content_sid, value, [*at, "content_sid"], reader), None)
        content_variables = reader.attempt(lambda: _content_variables(data.get("content_variables"), reader, at), None)
    if kind != "content_sid" and data.get("content_variables") is not None:
        reader.report(
            [*at, "content_variables"], f"only allowed with content_sid (an approved template), found with {kind}"
        )
    return MessageSpec(
        template=value if kind == "template" else None,
        body=value if kind == "body" else None,
        content_sid=value if kind == "content_sid" else None,
        content_variables=content_variables,
        media_url=reader.attempt(lambda: reader.string_list(data.get("media_url"), [*at, "media_url"], "a URL"), []),
        vars=reader.attempt(lambda: reader.variables(data.get("vars"), ["vars"]), {}),
    )


def _content_variables(value: Any, reader: FieldReader, at: list[PathPart]) -> dict[str, str] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        reader.fail(
            [*at, "content_variables"],
            f'expected a mapping such as {{"1": "{{{{ first_name }}}}"}}, found {describe(value)}',
        )
    out: dict[str, str] = {}
    for key, template in value.items():
        path: list[PathPart] = [*at, "content_variables", str(key)]

        def entry(key: Any = key, template: Any = template, path: list[PathPart] = path) -> None:
            name = _check(rules.check_content_variable_key, key, path, reader)
            out[name] = reader.string(template, path, "a string (Jinja allowed)")

        reader.attempt(entry, None)
    return out


def _audience(value: Any, reader: FieldReader, settings: Settings, *, optional: bool = False) -> AudienceSpec:
    data = reader.mapping(value, ["audience"], {"recipients", "csv", "contacts"})
    recipients = data.get("recipients") or []
    if not isinstance(recipients, list):
        reader.fail(["audience", "recipients"], f"expected a list of recipients, found {describe(recipients)}")
    for index, recipient in enumerate(recipients):
        reader.attempt(lambda: _recipient(recipient, ["audience", "recipients", index], reader), None)  # noqa: B023
    csv = reader.attempt(lambda: _text(data, "csv", reader), None) if "csv" in data else None
    if csv is not None:
        reader.attempt(lambda: _csv(csv, reader, settings), None)
    contacts = reader.attempt(lambda: _contacts(data["contacts"], reader), None) if "contacts" in data else None
    if not recipients and "csv" not in data and "contacts" not in data and not optional:
        reader.fail(["audience"], "expected at least one source (recipients, csv or contacts), found none")
    return AudienceSpec(recipients=recipients, csv=csv, contacts=contacts)


def _contacts(value: Any, reader: FieldReader) -> ContactsSource:
    data = reader.mapping(value, ["audience", "contacts"], {"tags", "attributes"})
    tags = reader.string_list(data.get("tags", []), ["audience", "contacts", "tags"], "a tag")
    attributes = reader.variables(data.get("attributes", {}), ["audience", "contacts", "attributes"])
    return ContactsSource(tags=tags, attributes=attributes)


def _recipient(value: Any, path: list[PathPart], reader: FieldReader) -> None:
    if not isinstance(value, dict):
        reader.fail(
            path, f'expected a mapping with a phone, such as {{phone: "+14155550100"}}, found {describe(value)}'
        )
    if "phone" not in value:
        reader.fail(path, "expected a phone key, found none")
    phone = value["phone"]
    if isinstance(phone, int) and not isinstance(phone, bool):
        # An unquoted +14155550100 is an int to YAML; a national 0151... would lose its zero.
        reader.fail([*path, "phone"], f'expected the number in quotes ("+{phone}"), found {describe(phone)}')
    reader.string(phone, [*path, "phone"], "a phone number (a string)")
    for key in value:
        if not isinstance(key, str):
            reader.report([*path, str(key)], f"expected a variable name (a string), found {describe(key)}")


def _csv(written: str, reader: FieldReader, settings: Settings) -> None:
    path = project_path(settings, written)
    field = ["audience", "csv"]
    if not path.is_file():
        reader.fail(field, f"expected an existing CSV file (relative to the project root), found no file {written}")
    try:
        header = read_csv_header(path)
    except (OSError, ValueError) as exc:
        reader.fail(field, f"{written}: {exc}")
    if "phone" not in header:
        reader.fail(field, f"{written}: expected a header row with a `phone` column, found columns {', '.join(header)}")
    named = [column for column in header if column]
    duplicates = sorted({column for column in named if named.count(column) > 1})
    if duplicates:
        reader.fail(field, f"{written}: expected distinct column names, found {', '.join(duplicates)} more than once")


def _schedule(value: Any, reader: FieldReader, settings: Settings) -> Schedule:
    data = reader.mapping(value, ["schedule"], {"at", "cron", "timezone", "send_window"})
    timezone = reader.attempt(
        lambda: _optional(rules.check_timezone, _text(data, "timezone", reader), ["schedule", "timezone"], reader),
        None,
    )
    timezone = timezone or settings.timezone
    has_at, has_cron = data.get("at") is not None, data.get("cron") is not None
    if has_at == has_cron:
        found = "both" if has_at else "neither"
        reader.report(["schedule"], f"expected exactly one of at (once) or cron (recurring), found {found}")
    cron = None
    if has_cron:
        cron = reader.attempt(lambda: _cron(data["cron"], timezone, reader), None)
    at = reader.attempt(lambda: _optional(rules.parse_datetime, data.get("at"), ["schedule", "at"], reader), None)
    window = data.get("send_window")
    return Schedule(
        at=at,
        cron=cron,
        timezone=timezone,
        send_window=reader.attempt(lambda: _send_window(window, reader), None) if window is not None else None,
    )


def _cron(value: Any, timezone: str, reader: FieldReader) -> str:
    cron = reader.string(value, ["schedule", "cron"], 'a cron expression such as "0 9 * * MON"')
    return _check(lambda expr: rules.check_cron(expr, timezone), cron, ["schedule", "cron"], reader)


def _send_window(value: Any, reader: FieldReader) -> SendWindow | None:
    path: list[PathPart] = ["schedule", "send_window"]
    data = reader.mapping(value, path, {"start", "end"})
    bounds: dict[str, str | None] = {}
    for key in ("start", "end"):
        if key not in data:
            reader.report([*path, key], 'expected a time of day such as "09:00", found none')
            bounds[key] = None
        else:
            bounds[key] = reader.attempt(lambda: _check(rules.parse_clock, data[key], [*path, key], reader), None)  # noqa: B023
    start, end = bounds["start"], bounds["end"]
    if start is None or end is None:
        return None  # already reported
    if start == end:
        reader.fail([*path, "end"], f"expected an end different from the start, found both {start}")
    return SendWindow(start=start, end=end)


def _rate_limit(value: Any, reader: FieldReader, settings: Settings) -> RateLimit:
    data = reader.mapping(value, ["rate_limit"], {"per_second"})
    rate = data.get("per_second")
    path: list[PathPart] = ["rate_limit", "per_second"]
    if isinstance(rate, bool) or not isinstance(rate, int | float):
        reader.fail(path, f"expected a number of messages per second, found {describe(rate)}")
    if not rate > 0:
        reader.fail(path, f"expected a rate above 0 messages per second, found {rate}")
    cap = settings.rate_limits.per_second
    if rate > cap:
        reader.fail(
            path,
            f"expected at most the sender cap (rate_limits.per_second: {cap:g}), found {rate:g}",
        )
    return RateLimit(per_second=float(rate))
