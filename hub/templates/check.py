"""Campaign checks against the template registry: content_variables must fit the template's placeholders.

The registry lives in the database, which CI and a fresh checkout may not have: it is read only when it is
there (the embedded server's data folder exists, or a PostgreSQL server answers within a few seconds). Without
it the checks are skipped; ``hub check`` must not create a database as a side effect.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping

from hub.campaigns.files import display_path
from hub.campaigns.spec import CampaignSpec
from hub.config import Settings
from hub.errors import CampaignError
from hub.store.embedded import data_folder
from hub.store.templates import TemplateRecord
from hub.templates.approval import approval_warning
from hub.templates.variables import content_variable_problems

log = logging.getLogger(__name__)

#: Seconds to wait for a database before checking without the registry.
REGISTRY_TIMEOUT_S = 5.0


def template_findings(
    spec: CampaignSpec, registry: Mapping[str, TemplateRecord], file: str
) -> tuple[list[CampaignError], list[str]]:
    """Errors and warnings for one campaign's template (pure).

    Args:
        spec: the campaign.
        registry: known templates by content sid.
        file: the campaign file as the user would type it.

    Returns:
        ``(errors, warnings)``: variables that do not fit the template's declared placeholders (count, keys
        ``"1".."n"``, empty values) are errors; a template that is not approved (or not in the registry) is a
        warning line ``file: content_sid: warning: ...``.
    """
    errors: list[CampaignError] = []
    warnings: list[str] = []
    for at, message in spec.messages():
        sid = message.content_sid
        if not sid:
            continue
        prefix = f"{at}." if at else ""
        record = registry.get(sid)
        warning = approval_warning(record.approval_status if record else None)
        if warning:
            warnings.append(f"{file}: {prefix}content_sid: warning: {warning}")
        if record is None:
            continue
        label = f"template {record.friendly_name!r} ({sid})"
        errors.extend(
            CampaignError(file, f"{prefix}content_variables", f"{label}: {problem}")
            for problem in content_variable_problems(record.declared, message.content_variables)
        )
    return errors, warnings


def registry_available(settings: Settings) -> bool:
    """False when reading the registry would have to create a database (no embedded data folder yet)."""
    if settings.database.is_embedded:
        return (data_folder(settings) / "PG_VERSION").is_file()
    return True


def load_registry(settings: Settings) -> dict[str, TemplateRecord] | None:
    """Every registered template by sid, or None when the database is absent, unreachable or not migrated."""
    if not registry_available(settings):
        return None
    from hub.store import db, queries

    async def read() -> list[TemplateRecord]:
        await db.connect(settings)
        return await queries.list_templates()

    try:
        records = db.run_sync(asyncio.wait_for(read(), REGISTRY_TIMEOUT_S))
    except Exception as exc:  # any failure means "check without the registry", never a crash of `hub check`
        log.info("template registry not read (%s); template variables are not checked", type(exc).__name__)
        return None
    return {record.content_sid: record for record in records}


def registry_findings(specs: Iterable[CampaignSpec], settings: Settings) -> tuple[list[CampaignError], list[str]]:
    """:func:`template_findings` for every campaign that sends a template, when the registry can be read."""
    with_templates = [spec for spec in specs if any(message.content_sid for _, message in spec.messages())]
    if not with_templates:
        return [], []
    registry = load_registry(settings)
    if registry is None:
        return [], []
    errors: list[CampaignError] = []
    warnings: list[str] = []
    for spec in with_templates:
        found, noted = template_findings(spec, registry, display_path(spec.source, settings))
        errors.extend(found)
        warnings.extend(noted)
    return errors, warnings


__all__ = ["REGISTRY_TIMEOUT_S", "load_registry", "registry_available", "registry_findings", "template_findings"]
