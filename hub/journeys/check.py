"""`hub check` for a journey: every send step's templates and every condition compile, each naming its line."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from hub.campaigns.files import display_path
from hub.campaigns.spec import CampaignSpec
from hub.config import Settings
from hub.errors import CampaignError
from hub.rendering import compile_expression, compile_message, compile_text
from hub.yamlfile import Locator, PathPart, dotted, load_yaml

__all__ = ["compile_campaign", "journey_problems"]


def journey_problems(spec: CampaignSpec, settings: Settings) -> Iterator[CampaignError]:
    """Template and expression problems of a journey that loading alone does not find.

    Args:
        spec: a journey the loader accepted.
        settings: for the templates folder.

    Yields:
        One error per problem, located at its field (``steps[2].send.body``, ``steps[1].if``) and line.
    """
    journey = spec.journey
    if journey is None:
        return
    file = display_path(spec.source, settings)
    locator = _locator(spec, file)
    for step in journey.steps:
        at: list[PathPart] = ["steps", step.index]
        if step.send is not None:
            try:
                compile_message(step.send, settings, name=spec.name, source=file)
            except CampaignError as exc:
                yield _located(file, locator, [*at, "send", *_parts(exc.field)], exc.message)
        if step.guard is not None:
            yield from _syntax(compile_expression, step.guard, file, locator, [*at, "if"])
        for number, arm in enumerate(step.branch):
            if arm.condition is not None:
                yield from _syntax(compile_expression, arm.condition, file, locator, [*at, "branch", number, "if"])
    if journey.entry.key is not None:
        yield from _syntax(compile_text, journey.entry.key, file, locator, ["entry", "key"])


def _syntax(
    compile_: Callable[[str], Any], text: str, file: str, locator: Locator | None, path: list[PathPart]
) -> Iterator[CampaignError]:
    try:
        compile_(text)
    except ValueError as exc:
        yield _located(file, locator, path, str(exc))


def _locator(spec: CampaignSpec, file: str) -> Locator | None:
    try:
        return load_yaml(spec.source, display=file, error=CampaignError)[1]
    except CampaignError:
        return None


def _parts(field: str) -> list[PathPart]:
    """``content_variables.1`` or ``media_url[0]`` as path parts."""
    parts: list[PathPart] = []
    for piece in field.replace("[", ".[").split("."):
        if piece.startswith("["):
            parts.append(int(piece.strip("[]")))
        elif piece:
            parts.append(piece)
    return parts


def _located(file: str, locator: Locator | None, path: list[PathPart], message: str) -> CampaignError:
    return CampaignError(file, dotted(path), message, locator.line(path) if locator else None)


def compile_campaign(spec: CampaignSpec, settings: Settings) -> None:
    """Compile every message a campaign may send (its one message, or each send step's), before a run starts.

    Raises:
        CampaignError: a template does not compile; the field names the step (``steps[2].send.body``).
    """
    file = display_path(spec.source, settings)
    for at, message in spec.messages():
        try:
            compile_message(message, settings, name=spec.name, source=file)
        except CampaignError as exc:
            field = f"{at}.{exc.field}" if at and exc.field else exc.field or at
            raise CampaignError(file, field, exc.message, exc.line) from None
