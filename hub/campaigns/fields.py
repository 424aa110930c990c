"""Reading one YAML mapping field by field, with errors that point at the file, the field and the line."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Collection, Sequence
from datetime import date, datetime
from typing import Any, NoReturn, TypeVar

from hub.errors import CampaignError, CampaignErrors
from hub.yamlfile import Locator, PathPart, dotted

T = TypeVar("T")

__all__ = ["FieldReader", "describe"]


def describe(value: Any) -> str:
    """Name a found value for an error message: ``the string 'maybe'``, ``a list``, ``the number 1200``."""
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, int | float):
        return f"the number {value!r}"
    if isinstance(value, str):
        shown = value if len(value) <= 60 else value[:57] + "..."
        return f"the string {shown!r}"
    if isinstance(value, datetime):
        return f"the date and time {value.isoformat()}"
    if isinstance(value, date):
        return f"the date {value.isoformat()} (no time)"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return f"a {type(value).__name__}"


class FieldReader:
    """Locates problems at a field path of one file: :meth:`fail` raises one, :meth:`report` records one.

    A check that fails inside :meth:`attempt` is recorded and the reading goes on, so :meth:`finish` can
    report every problem of the file at once.

    Args:
        file: the file as shown to the user.
        locator: maps field paths to YAML lines.
    """

    def __init__(self, file: str, locator: Locator | None) -> None:
        self.file = file
        self.locator = locator
        self.problems: list[CampaignError] = []

    def error(self, path: Sequence[PathPart], message: str, line: int | None = None) -> CampaignError:
        """The error for ``path`` (``("schedule", "cron")``), at ``line`` or the line the path was written on."""
        if line is None and self.locator is not None:
            line = self.locator.line(path)
        return CampaignError(self.file, dotted(path), message, line)

    def fail(self, path: Sequence[PathPart], message: str) -> NoReturn:
        """Raise the error for ``path`` with ``message``."""
        raise self.error(path, message)

    def report(self, path: Sequence[PathPart], message: str, line: int | None = None) -> None:
        """Record a problem and keep reading."""
        self.problems.append(self.error(path, message, line))

    def attempt(self, check: Callable[[], T], fallback: T) -> T:
        """Run one field's check; when it fails, record its problem and stand ``fallback`` in for its value."""
        try:
            return check()
        except CampaignErrors as exc:
            self.problems.extend(exc.problems)
        except CampaignError as exc:
            self.problems.append(exc)
        return fallback

    def finish(self) -> None:
        """Raise every recorded problem, in line order, as one :class:`CampaignErrors`; do nothing when none."""
        if self.problems:
            raise CampaignErrors(sorted(self.problems, key=lambda problem: problem.line or 0))

    def mapping(self, value: Any, path: Sequence[PathPart], allowed: Collection[str]) -> dict[str, Any]:
        """Check that ``value`` is a mapping; each key not in ``allowed`` is reported (and then ignored)."""
        if value is None:
            value = {}
        if not isinstance(value, dict):
            self.fail(path, f"expected a mapping with keys {_list(allowed)}, found {describe(value)}")
        for key in value:
            if not isinstance(key, str) or key not in allowed:
                self.report([*path, str(key)], _unknown(key, allowed))
        return value

    def string(self, value: Any, path: Sequence[PathPart], what: str = "a string", *, empty: bool = False) -> str:
        """Check that ``value`` is a string (non-empty unless ``empty``)."""
        if not isinstance(value, str):
            self.fail(path, f"expected {what}, found {describe(value)}")
        if not empty and not value.strip():
            self.fail(path, f"expected {what}, found an empty string")
        return value

    def variables(self, value: Any, path: Sequence[PathPart]) -> dict[str, Any]:
        """Check a mapping of template variables: string keys, any values."""
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.fail(path, f"expected a mapping of variable names to values, found {describe(value)}")
        for key in value:
            if not isinstance(key, str):
                self.fail([*path, str(key)], f"expected a variable name (a string), found {describe(key)}")
        return value

    def string_list(self, value: Any, path: Sequence[PathPart], item: str) -> list[str]:
        """Check a list whose every element is a non-empty string (described as ``item``, e.g. "a URL")."""
        if value is None:
            return []
        if not isinstance(value, list):
            self.fail(path, f"expected a list (each element {item}), found {describe(value)}")
        return [self.string(element, [*path, index], item) for index, element in enumerate(value)]


def _list(names: Collection[str]) -> str:
    return ", ".join(sorted(names))


def _unknown(key: Any, allowed: Collection[str]) -> str:
    message = f"unknown key; expected one of {_list(allowed)}"
    if isinstance(key, str):
        close = difflib.get_close_matches(key, list(allowed), n=1)
        if close:
            message += f" (did you mean {close[0]}?)"
    return message
