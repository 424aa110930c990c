"""Template placeholders (``{{1}}``, ``{{2}}``...): what a body declares, and whether given values fit it (pure).

Rules from TWILIO.md §2.3: placeholders are numbered ``1..n`` without gaps; a body must not start or end with a
placeholder, nor have two side by side, without sample values; sample values are required for WhatsApp approval;
at most 100 placeholders. Twilio fails a send whose ``ContentVariables`` has a null or empty value (21656) or
the wrong count (63028).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

#: ``{{1}}``, ``{{ 2 }}``: Twilio's numbered placeholders (named ones are not used by WhatsApp templates).
PLACEHOLDER = re.compile(r"\{\{\s*([0-9]+)\s*\}\}")
#: WhatsApp's limit on placeholders in one template.
MAX_VARIABLES = 100


def declared_variables(body: str) -> list[str]:
    """The distinct placeholder keys of ``body`` in numeric order (``"Hi {{2}} {{1}}"`` -> ``["1", "2"]``)."""
    keys = {str(int(match.group(1))) for match in PLACEHOLDER.finditer(body)}
    return sorted(keys, key=int)


def sequence_problems(keys: list[str] | tuple[str, ...] | set[str]) -> list[str]:
    """Problems with a set of placeholder keys: each must be a number, and together ``1..n`` without gaps."""
    numbers: list[int] = []
    problems: list[str] = []
    for key in keys:
        if not str(key).isdigit():
            problems.append(f"key {key!r} is not a placeholder number (expected '1', '2', ...)")
            continue
        numbers.append(int(key))
    if problems:
        return problems
    expected = list(range(1, len(numbers) + 1))
    if sorted(numbers) != expected:
        wanted = ", ".join(repr(str(n)) for n in expected) or "none"
        found = ", ".join(repr(str(n)) for n in sorted(numbers))
        problems.append(f"keys must run 1..n without gaps ({wanted}); found {found}")
    if len(numbers) > MAX_VARIABLES:
        problems.append(f"at most {MAX_VARIABLES} placeholders are allowed; found {len(numbers)}")
    return problems


def body_problems(body: str, samples: Mapping[str, str]) -> list[str]:
    """What Twilio or WhatsApp would refuse in a template body and its sample values.

    Args:
        body: the ``twilio/text`` body.
        samples: sample value per placeholder key.

    Returns:
        One sentence per problem; empty when the template can be submitted.
    """
    if not body.strip():
        return ["the body is empty"]
    declared = declared_variables(body)
    problems = [f"placeholders: {p}" for p in sequence_problems(declared)]
    missing = [key for key in declared if not str(samples.get(key, "")).strip()]
    if missing:
        problems.append("a sample value is required for every placeholder; missing for " + _keys(missing))
    extra = sorted(set(samples) - set(declared), key=lambda k: (not k.isdigit(), int(k) if k.isdigit() else 0, k))
    if extra:
        problems.append("sample values for placeholders the body does not have: " + _keys(extra))
    return problems


def content_variable_problems(declared: list[str], given: Mapping[str, object] | None) -> list[str]:
    """Whether a message's ``content_variables`` fit a template that declares ``declared``.

    Checks the count, that the keys are exactly ``"1".."n"`` as declared, and that no value is empty.
    Values may still be Jinja sources (a campaign file) or rendered strings (a message); both are checked
    for emptiness only.

    Returns:
        One sentence per problem; empty when they fit.
    """
    values = dict(given or {})
    problems: list[str] = []
    if len(values) != len(declared):
        problems.append(f"the template declares {len(declared)} variable(s) ({_keys(declared)}); got {len(values)}")
    problems.extend(sequence_problems(list(values)))
    missing = [key for key in declared if key not in values]
    unknown = [key for key in values if key not in declared]
    if missing:
        problems.append("missing " + _keys(missing))
    if unknown:
        problems.append("not declared by the template: " + _keys(unknown))
    empty = [key for key, value in values.items() if value is None or not str(value).strip()]
    if empty:
        problems.append("empty value for " + _keys(empty) + " (Twilio refuses empty variables: 21656)")
    return problems


def _keys(keys: list[str]) -> str:
    return ", ".join(repr(k) for k in keys) if keys else "none"


__all__ = [
    "MAX_VARIABLES",
    "PLACEHOLDER",
    "body_problems",
    "content_variable_problems",
    "declared_variables",
    "sequence_problems",
]
