"""Read user-authored YAML, keeping line numbers so errors can point at the line."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

import msgspec
import yaml

from hub.errors import Problem

T = TypeVar("T")

PathPart = str | int


class Locator:
    """Maps a field path (``("schedule", "cron")``) to the 1-based line it was written on."""

    def __init__(self, root: yaml.Node | None) -> None:
        self._root = root

    def line(self, path: Sequence[PathPart]) -> int | None:
        """Return the line of the deepest node of ``path`` that exists, or None."""
        node = self._root
        best = node.start_mark.line + 1 if node is not None else None
        for part in path:
            child = _child(node, part)
            if child is None:
                break
            node = child
            best = node.start_mark.line + 1
        return best

    def duplicates(self) -> list[tuple[list[PathPart], int, int]]:
        """Every key written twice in one mapping (YAML keeps the last silently), in line order.

        Returns:
            ``(field path, line of the repeat, line of the first occurrence)`` per repeated key (lines 1-based).
        """
        return _duplicate_keys(self._root)


def _child(node: yaml.Node | None, part: PathPart) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode) and key.value == str(part):
                return value
    elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
        return node.value[part]
    return None


class BadTimestamp(str):
    """A scalar that YAML reads as a timestamp but that names no real instant (``2027-02-30T09:00:00``).

    Kept as its text, with the reason, so the field that holds it reports a located error instead of the parser
    aborting the whole file.
    """

    reason: str

    def __new__(cls, text: str, reason: str) -> BadTimestamp:
        made = super().__new__(cls, text)
        made.reason = reason
        return made


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader, but an impossible timestamp becomes a :class:`BadTimestamp` instead of a ValueError."""

    def construct_yaml_timestamp(self, node: yaml.ScalarNode) -> Any:
        try:
            return super().construct_yaml_timestamp(node)
        except ValueError as exc:
            return BadTimestamp(str(node.value), str(exc))


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _Loader.construct_yaml_timestamp)


def _duplicate_keys(root: yaml.Node | None) -> list[tuple[list[PathPart], int, int]]:
    found: list[tuple[list[PathPart], int, int]] = []
    stack: list[tuple[yaml.Node, list[PathPart]]] = [(root, [])] if root is not None else []
    seen: set[int] = set()  # an alias shares its anchor's node, and may even contain it
    while stack:
        node, path = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            first: dict[str, int] = {}
            for key, value in node.value:
                name = str(key.value) if isinstance(key, yaml.ScalarNode) else None
                if name is not None and name in first:
                    found.append(([*path, name], key.start_mark.line + 1, first[name]))
                elif name is not None:
                    first[name] = key.start_mark.line + 1
                stack.append((value, [*path, name if name is not None else "?"]))
        elif isinstance(node, yaml.SequenceNode):
            stack.extend((child, [*path, index]) for index, child in enumerate(node.value))
    return sorted(found, key=lambda item: item[1])


def load_yaml(path: Path, *, display: str | None = None, error: type[Problem] = Problem) -> tuple[Any, Locator]:
    """Parse one YAML file.

    Args:
        path: the file.
        display: how to name the file in errors (defaults to ``str(path)``).
        error: the Problem subclass to raise.

    Returns:
        The data and a :class:`Locator` over the same document. An impossible timestamp is a
        :class:`BadTimestamp`; a repeated key keeps its last value (see :meth:`Locator.duplicates`).

    Raises:
        Problem: the file cannot be read or is not valid YAML (with the line of the syntax error).
    """
    name = display or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise error(name, "", "file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise error(name, "", f"cannot read file: {exc}") from None
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = mark.line + 1 if mark is not None else None
        raise error(name, "", f"invalid YAML: {exc.problem}", line) from None
    except (yaml.YAMLError, ValueError, RecursionError) as exc:
        raise error(name, "", f"invalid YAML: {exc}") from None
    finally:
        loader.dispose()
    return data, Locator(node)


_AT = re.compile(r"^(?P<msg>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.S)
_PART = re.compile(r"\.([^.\[]+)|\[(\d+)\]")


def split_msgspec_error(exc: msgspec.ValidationError) -> tuple[str, list[PathPart]]:
    """Split msgspec's ``"Expected `int`, got `str` - at `$.a.b[0]`"`` into a message and a path."""
    match = _AT.match(str(exc))
    assert match is not None
    message = match.group("msg")
    parts: list[PathPart] = []
    for key, index in _PART.findall(match.group("path") or ""):
        parts.append(int(index) if index else key)
    # msgspec reports an unknown field at its parent; name the field itself.
    unknown = re.match(r"Object contains unknown field `([^`]+)`", message)
    if unknown:
        parts.append(unknown.group(1))
        message = "unknown key"
    return message, parts


def dotted(parts: Sequence[PathPart]) -> str:
    """Render a path as ``audience.recipients[0].phone``."""
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def convert(
    data: Any,
    type_: type[T],
    *,
    file: str,
    locator: Locator | None = None,
    error: type[Problem] = Problem,
    prefix: Sequence[PathPart] = (),
) -> T:
    """Validate plain YAML data into a msgspec Struct, raising a located Problem on the first error."""
    try:
        return msgspec.convert(data, type_, strict=False)
    except msgspec.ValidationError as exc:
        message, parts = split_msgspec_error(exc)
        full = [*prefix, *parts]
        line = locator.line(full) if locator else None
        raise error(file, dotted(full), message, line) from None
