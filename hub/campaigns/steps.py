"""Turn the `steps`, `entry` and `exit_when` of a campaign file into a validated Journey (SPEC §10)."""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any, Literal

from hub.campaigns.duration import parse_duration
from hub.campaigns.fields import FieldReader, describe
from hub.campaigns.graph import graph_problems
from hub.campaigns.journey import END, EXIT_EVENTS, WAIT_EVENTS, BranchArm, EntrySpec, Journey, Step, StepKind, Wait
from hub.campaigns.message import MessageSpec
from hub.campaigns.rules import parse_clock
from hub.yamlfile import PathPart

__all__ = ["JOURNEY_KEYS", "check_event", "parse_journey"]

#: Top-level keys of a journey; `steps` makes a campaign a journey.
JOURNEY_KEYS = frozenset({"steps", "entry", "exit_when"})
_STEP_KEYS = frozenset({"id", "if", "next", "send", "wait", "wait_for", "timeout", "on", "branch", "split"})
_ACTIONS: tuple[StepKind, ...] = ("send", "wait_for", "branch", "split")
_SEND_KEYS = frozenset({"template", "body", "content_sid", "content_variables", "media_url"})
_STEP_ID = re.compile(r"[a-z0-9][a-z0-9_-]*")
_CUSTOM_EVENT = re.compile(r"[a-z0-9_-]+(\.[a-z0-9_-]+)+")

#: Parses a message mapping found at a field path (the campaign parser's own message rule).
MessageParser = Callable[[dict[str, Any], list[PathPart]], MessageSpec]


def check_event(name: Any, builtin: Sequence[str]) -> str:
    """An event name: one of ``builtin``, or a custom type written as a dotted name (``cart.abandoned``)."""
    if isinstance(name, str) and (name in builtin or _CUSTOM_EVENT.fullmatch(name)):
        return name
    message = (
        f"expected one of {', '.join(builtin)} or a custom event type such as cart.abandoned, found {describe(name)}"
    )
    if isinstance(name, str):
        close = difflib.get_close_matches(name, list(builtin), n=1)
        if close:
            message += f" (did you mean {close[0]}?)"
    raise ValueError(message)


def parse_journey(
    top: dict[str, Any], reader: FieldReader, message: MessageParser, variables: dict[str, Any]
) -> Journey:
    """Validate a journey: each step, the entry, exit_when, then the graph.

    Args:
        top: the campaign file's top-level mapping (it has `steps`).
        reader: raises located errors for this file.
        message: parses a send step's message.
        variables: the campaign's `vars`, given to every send step.

    Raises:
        CampaignError: a problem that stops the reading of the steps; the others are reported to ``reader``.
    """
    raw = top["steps"]
    if not isinstance(raw, list) or not raw:
        reader.fail(
            ["steps"],
            f"expected a list of steps (each with an id), found {describe(raw) if raw != [] else 'an empty list'}",
        )
    steps: list[Step] = []
    first_use: dict[str, int] = {}
    complete = True
    for index, data in enumerate(raw):
        step = reader.attempt(lambda: _step(data, index, reader, message, variables), None)  # noqa: B023
        if step is None:
            complete = False
            continue
        if step.id in first_use:
            where = f"steps[{first_use[step.id]}]"
            reader.report(
                ["steps", index, "id"], f"expected a unique step id, found {step.id!r}, already used by {where}"
            )
            complete = False
        first_use.setdefault(step.id, index)
        steps.append(step)
    journey = Journey(
        steps=tuple(steps),
        entry=reader.attempt(lambda: _entry(top.get("entry"), reader), EntrySpec()),
        exit_when=reader.attempt(lambda: _events(top.get("exit_when"), ["exit_when"], EXIT_EVENTS, reader), ()),
        vars=variables,
    )
    if complete:  # a step that failed to parse would make its targets look unknown
        for path, problem in graph_problems(journey):
            reader.report(path, problem)
    return journey


def _check(rule: Callable[[Any], Any], value: Any, path: list[PathPart], reader: FieldReader) -> Any:
    try:
        return rule(value)
    except ValueError as exc:
        reader.fail(path, str(exc))


def _step(data: Any, index: int, reader: FieldReader, message: MessageParser, variables: dict[str, Any]) -> Step:
    at: list[PathPart] = ["steps", index]
    if not isinstance(data, dict):
        reader.fail(
            at, f"expected a step mapping (id, then send, wait, wait_for, branch or split), found {describe(data)}"
        )
    # YAML 1.1 reads the key `on` as the boolean true; the format's `on:` is meant.
    data = {"on" if key is True else key: value for key, value in data.items()}
    reader.mapping(data, at, _STEP_KEYS)
    if "id" not in data:
        reader.fail(at, "expected an id, found none")
    step_id = reader.string(data["id"], [*at, "id"], "a step id")
    if not _STEP_ID.fullmatch(step_id) or step_id == END:
        reader.fail([*at, "id"], f"expected lowercase letters, digits, - and _ (and not `end`), found {step_id!r}")
    kind = _kind(data, at, reader)
    if kind == "wait_for":
        if data.get("timeout") is None:
            reader.fail([*at, "wait_for"], "expected a timeout (such as 24h) with wait_for, found none")
    else:
        for key in ("timeout", "on"):
            if key in data:
                reader.fail([*at, key], f"only allowed with wait_for, found in a {kind} step")
    if kind in ("branch", "split") and "next" in data:
        reader.fail([*at, "next"], f"a {kind} step chooses where to go; next is not used here")
    events = _events(data.get("wait_for"), [*at, "wait_for"], WAIT_EVENTS, reader)
    send = None
    if kind == "send":
        reader.mapping(data["send"], [*at, "send"], _SEND_KEYS)
        found = message(data["send"], [*at, "send"])
        send = MessageSpec(**{**_fields(found), "vars": variables})
    return Step(
        id=step_id,
        kind=kind,
        index=index,
        guard=_expression(data.get("if"), [*at, "if"], reader),
        next=_target(data.get("next"), [*at, "next"], reader),
        wait=_wait(data["wait"], [*at, "wait"], reader) if data.get("wait") is not None else None,
        send=send,
        events=events,
        timeout=_duration(data.get("timeout"), [*at, "timeout"], reader),
        on=_on(data.get("on"), events, [*at, "on"], reader),
        branch=_branch(data["branch"], [*at, "branch"], reader) if kind == "branch" else (),
        split=_split(data["split"], [*at, "split"], reader) if kind == "split" else (),
    )


def _fields(spec: MessageSpec) -> dict[str, Any]:
    return {name: getattr(spec, name) for name in spec.__struct_fields__}


def _kind(data: dict[str, Any], at: list[PathPart], reader: FieldReader) -> StepKind:
    actions = [name for name in _ACTIONS if data.get(name) is not None]
    if len(actions) > 1:
        reader.fail([*at, actions[1]], f"a step does one thing; found {' and '.join(actions)} (split it into steps)")
    if actions and actions[0] != "send" and data.get("wait") is not None:
        reader.fail([*at, "wait"], f"a wait may come only before a send, found one with {actions[0]} (make it a step)")
    if actions:
        return actions[0]
    if data.get("wait") is not None:
        return "wait"
    reader.fail(at, "expected one of send, wait, wait_for, branch or split, found none")


def _expression(value: Any, path: list[PathPart], reader: FieldReader) -> str | None:
    if value is None:
        return None
    # Its syntax is checked with the messages' templates (hub.journeys.check), in the same sandbox.
    return reader.string(value, path, "a Jinja expression (a string)")


def _target(value: Any, path: list[PathPart], reader: FieldReader) -> str | None:
    return None if value is None else reader.string(value, path, "a step id or `end`")


def _duration(value: Any, path: list[PathPart], reader: FieldReader) -> timedelta | None:
    if value is None:
        return None
    result: timedelta = _check(parse_duration, reader.string(value, path, "a duration such as 24h"), path, reader)
    return result


def _wait(value: Any, path: list[PathPart], reader: FieldReader) -> Wait:
    if isinstance(value, str):
        return Wait(duration=_duration(value, path, reader))
    data = reader.mapping(value, path, {"until"})
    if "until" not in data:
        reader.fail(path, 'expected a duration such as 2h or {until: "10:00"}, found an empty mapping')
    return Wait(until=_check(parse_clock, data["until"], [*path, "until"], reader))


def _events(value: Any, path: list[PathPart], builtin: Sequence[str], reader: FieldReader) -> tuple[str, ...]:
    if value is None:
        return ()
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items:
        reader.fail(
            path, f"expected an event or a list of events ({', '.join(builtin)}, or custom), found {describe(value)}"
        )
    names = tuple(
        _check(lambda name: check_event(name, builtin), item, [*path, i], reader) for i, item in enumerate(items)
    )
    if len(set(names)) != len(names):
        reader.fail(path, f"expected each event once, found {', '.join(names)}")
    return names


def _on(value: Any, events: tuple[str, ...], path: list[PathPart], reader: FieldReader) -> dict[str, str]:
    data = reader.mapping(value, path, {*events, "timeout"})
    return {event: reader.string(target, [*path, event], "a step id or `end`") for event, target in data.items()}


def _branch(value: Any, path: list[PathPart], reader: FieldReader) -> tuple[BranchArm, ...]:
    if not isinstance(value, list) or not value:
        reader.fail(
            path, f"expected a list of arms such as [{{if: EXPR, goto: ID}}, {{else: ID}}], found {describe(value)}"
        )
    arms: list[BranchArm] = []
    for number, arm in enumerate(value):
        at: list[PathPart] = [*path, number]
        data = reader.mapping(arm, at, {"if", "goto", "else"})
        if "else" in data:
            if set(data) != {"else"} or number != len(value) - 1:
                reader.fail([*at, "else"], "expected {else: ID} alone, as the last arm")
            arms.append(
                BranchArm(condition=None, goto=reader.string(data["else"], [*at, "else"], "a step id or `end`"))
            )
            continue
        for key in ("if", "goto"):
            if key not in data:
                reader.fail(at, f"expected {{if: EXPR, goto: ID}}, found no {key}")
        condition = _expression(data["if"], [*at, "if"], reader)
        assert condition is not None
        arms.append(
            BranchArm(condition=condition, goto=reader.string(data["goto"], [*at, "goto"], "a step id or `end`"))
        )
    return tuple(arms)


def _split(value: Any, path: list[PathPart], reader: FieldReader) -> tuple[tuple[str, int], ...]:
    if not isinstance(value, dict) or not value:
        reader.fail(
            path,
            f"expected a mapping of step ids to weights such as {{offer-a: 50, offer-b: 50}}, found {describe(value)}",
        )
    arms: list[tuple[str, int]] = []
    for target, weight in value.items():
        if isinstance(weight, bool) or not isinstance(weight, int) or weight <= 0:
            reader.fail([*path, str(target)], f"expected a whole positive weight, found {describe(weight)}")
        arms.append((str(target), weight))
    return tuple(arms)


def _entry(value: Any, reader: FieldReader) -> EntrySpec:
    data = reader.mapping(value, ["entry"], {"event", "key", "reentry"})
    event = None
    if data.get("event") is not None:
        event = _check(lambda name: check_event(name, ()), data["event"], ["entry", "event"], reader)
    key = None
    if data.get("key") is not None:
        key = reader.string(data["key"], ["entry", "key"], 'a Jinja template such as "{{ event.cart_id }}"')
    return EntrySpec(event=event, key=key, reentry=_reentry(data.get("reentry"), reader))


def _reentry(value: Any, reader: FieldReader) -> timedelta | Literal["never"] | None:
    if value is None or value == "never":
        return value
    try:
        return parse_duration(value) if isinstance(value, str) else parse_duration("")
    except ValueError:
        reader.fail(["entry", "reentry"], f"expected never or a duration such as 7d, found {describe(value)}")
