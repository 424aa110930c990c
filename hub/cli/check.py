"""``hub check``: validate campaign files and their templates, as CI runs it on every pull request."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from hub.campaigns.files import display_path, project_path, read_csv_header
from hub.campaigns.loader import load_campaigns
from hub.campaigns.spec import CampaignSpec
from hub.cli.app import Context, main, pass_context
from hub.cli.templates import registry_problems
from hub.config import Settings
from hub.errors import CampaignError, InvalidPhoneError, RenderError
from hub.journeys.check import journey_problems
from hub.phones import normalize_phone
from hub.planning import past_at
from hub.rendering import CompiledMessage, compile_message, render_message
from hub.yamlfile import load_yaml


class _Inline:
    """An inline recipient, shaped as rendering expects (``RecipientLike``)."""

    __slots__ = ("phone", "source", "vars")

    def __init__(self, phone: str, variables: dict[str, Any], source: str) -> None:
        self.phone = phone
        self.vars = variables
        self.source = source


def check_campaign(spec: CampaignSpec, settings: Settings) -> Iterator[CampaignError]:
    """Every problem of one loaded campaign that loading alone does not find.

    Compiles each template (syntax), validates each inline recipient's phone number and renders the message for
    each inline recipient (missing variables, limits). CSV audiences are not read row by row here.

    Args:
        spec: a campaign the loader accepted.
        settings: for the templates folder and the default phone region.

    Yields:
        One located error per problem.
    """
    file = display_path(spec.source, settings)
    if spec.journey is not None:
        # A journey's messages draw on its entering event and contact too: checked by compiling, not rendering.
        yield from journey_problems(spec, settings)
        for index, entry in enumerate(spec.audience.recipients):
            found = _check_phone(entry, settings, file, f"audience.recipients[{index}]")
            if isinstance(found, CampaignError):
                yield found
        return
    try:
        compiled = compile_message(spec.one_message(), settings, name=spec.name, source=file)
    except CampaignError as exc:
        yield exc
        return
    for index, entry in enumerate(spec.audience.recipients):
        field = f"audience.recipients[{index}]"
        error = _check_inline(compiled, entry, settings, file, field)
        if error is not None:
            yield error
    if spec.audience.csv is not None:
        error = _check_csv_columns(compiled, spec.audience.csv, settings, file)
        if error is not None:
            yield error


def schedule_warnings(spec: CampaignSpec, settings: Settings, now: datetime) -> list[str]:
    """What is valid but will not do what its author likely meant: an ``at`` already in the past.

    Returns:
        One ``file:line: field: warning: ...`` line per finding.
    """
    if spec.schedule is None or not spec.enabled:
        return []
    moment = past_at(spec.schedule, settings.timezone, now)
    if moment is None:
        return []
    file = display_path(spec.source, settings)
    try:
        line = load_yaml(spec.source, display=file, error=CampaignError)[1].line(["schedule", "at"])
    except CampaignError:
        line = None
    where = f"{file}:{line}" if line else file
    return [
        f"{where}: schedule.at: warning: {moment.isoformat()} is in the past; the scheduler never fires a time "
        "from before it first saw the schedule (start a run with `hub send`)"
    ]


def _check_csv_columns(compiled: CompiledMessage, csv: str, settings: Settings, file: str) -> CampaignError | None:
    """Every variable the templates need from a recipient must be a column (or have a default in ``vars``)."""
    try:
        columns = set(read_csv_header(project_path(settings, csv)))
    except (OSError, ValueError):
        return None  # the loader has already reported an unreadable file
    missing = sorted(compiled.recipient_variables - columns)
    if not missing:
        return None
    names = ", ".join(repr(name) for name in missing)
    return CampaignError(
        file,
        "audience.csv",
        f"expected a column for each variable the message uses; {csv} has none for {names} "
        "(add the column, a default in `vars`, or `| default(...)` in the template)",
    )


def _check_inline(
    compiled: CompiledMessage, entry: dict[str, Any], settings: Settings, file: str, field: str
) -> CampaignError | None:
    phone = _check_phone(entry, settings, file, field)
    if isinstance(phone, CampaignError):
        return phone
    variables = {key: value for key, value in entry.items() if key != "phone"}
    try:
        render_message(compiled, _Inline(phone, variables, f"{file}:{field}"))
    except RenderError as exc:
        return CampaignError(file, field, str(exc))
    return None


def _check_phone(entry: dict[str, Any], settings: Settings, file: str, field: str) -> str | CampaignError:
    """The inline recipient's number in E.164, or the error saying why it is invalid."""
    raw = entry.get("phone")
    try:
        return normalize_phone(str(raw), settings.phones.default_region)
    except InvalidPhoneError as exc:
        return CampaignError(file, f"{field}.phone", f"invalid phone number {raw!r}: {exc}")


@main.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@pass_context
def check(ctx: Context, paths: tuple[Path, ...]) -> None:
    """Validate campaigns and their message templates; send nothing.

    PATHS are campaign files or folders (default: every *.yaml under paths.campaigns). Checks each file's
    fields, that names are unique, that every template compiles, and that each inline recipient has a valid
    phone number and renders. CSV audiences are checked by their header only (a `phone` column, and a column
    for every variable the message needs); run `hub render CAMPAIGN` to check every row.

    Prints one line per problem (`file:line: field: message`) and exits 1 when there is any.
    """
    settings = ctx.settings
    specs, errors = load_campaigns(settings, list(paths) or None)
    problems = list(errors)
    for spec in specs:
        problems.extend(check_campaign(spec, settings))
    problems.extend(registry_problems(specs, settings))  # content_variables vs registered templates
    now = datetime.now(UTC)
    for spec in specs:
        for warning in schedule_warnings(spec, settings, now):
            click.echo(warning, err=True)
    # Loading and compiling find problems in two passes; a reader wants them file by file.
    problems.sort(key=lambda problem: problem.file)
    for problem in problems:
        click.echo(str(problem))
    if problems:
        click.echo(f"{len(problems)} problem{'s' if len(problems) != 1 else ''} found", err=True)
        sys.exit(1)
    click.echo(f"{len(specs)} campaign{'s' if len(specs) != 1 else ''} OK")
