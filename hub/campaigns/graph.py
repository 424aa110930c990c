"""Checks of a journey's step graph (pure): every target exists, every step is reachable, every loop waits."""

from __future__ import annotations

from collections.abc import Iterator

from hub.campaigns.journey import END, Journey, Step
from hub.yamlfile import PathPart

__all__ = ["GraphProblem", "graph_problems", "targets"]

#: ``(field path, message)``: where the problem was written and what is wrong.
GraphProblem = tuple[list[PathPart], str]


def targets(journey: Journey, step: Step) -> Iterator[tuple[list[PathPart], str]]:
    """Every step a step may lead to, each with the field that names it (the default next step has ``next``)."""
    if step.guard is not None:
        yield ["steps", step.index, "if"], journey.following(step)  # a false guard skips it, on to its `next`
    if step.kind == "branch":
        for number, arm in enumerate(step.branch):
            yield ["steps", step.index, "branch", number, "else" if arm.condition is None else "goto"], arm.goto
        if all(arm.condition is not None for arm in step.branch):
            yield ["steps", step.index, "branch"], journey.after(step)  # no arm true and no else
        return
    if step.kind == "split":
        for target, _ in step.split:
            yield ["steps", step.index, "split", target], target
        return
    if step.kind == "wait_for":
        for event, target in step.on.items():
            yield ["steps", step.index, "on", event], target
        if any(event not in step.on for event in (*step.events, "timeout")):
            yield ["steps", step.index, "next"], journey.following(step)
        return
    yield ["steps", step.index, "next"], journey.following(step)


def graph_problems(journey: Journey) -> list[GraphProblem]:
    """Unknown targets, unreachable steps, and loops that never wait, in the order they were written."""
    ids = {step.id for step in journey.steps}
    problems: list[GraphProblem] = []
    for step in journey.steps:
        for path, target in targets(journey, step):
            if target != END and target not in ids:
                problems.append((path, _unknown(target, ids)))
    if problems:
        return problems
    reached = _reachable(journey)
    for step in journey.steps:
        if step.id not in reached:
            problems.append((["steps", step.index, "id"], f"step {step.id!r} is unreachable: no step leads to it"))
    loop = _loop_without_wait(journey)
    if loop:
        first = journey.step(loop[0])
        cycle = " -> ".join([*loop, loop[0]])
        problems.append(
            (
                ["steps", first.index, "id"],
                f"expected a wait or wait_for in every loop, found a loop without one: {cycle}",
            )
        )
    return problems


def _unknown(target: str, ids: set[str]) -> str:
    return f"expected a step id or `end`, found {target!r}; the steps are {', '.join(sorted(ids))}"


def _reachable(journey: Journey) -> set[str]:
    seen: set[str] = set()
    todo = [journey.steps[0].id] if journey.steps else []
    while todo:
        current = todo.pop()
        if current == END or current in seen:
            continue
        seen.add(current)
        todo.extend(target for _, target in targets(journey, journey.step(current)))
    return seen


def _waits(step: Step) -> bool:
    return step.wait is not None or step.kind == "wait_for"


def _loop_without_wait(journey: Journey) -> list[str]:
    """A cycle among steps that neither wait nor wait_for (such a loop would spin at once), or []."""
    edges = {
        step.id: [t for _, t in targets(journey, step) if t != END and not _waits(journey.step(t))]
        for step in journey.steps
        if not _waits(step)
    }
    state: dict[str, int] = {}  # 1 on the current path, 2 done
    path: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        path.append(node)
        for nxt in edges[node]:
            if state.get(nxt) == 1:
                return path[path.index(nxt) :]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        state[node] = 2
        path.pop()
        return []

    for node in edges:
        if node not in state:
            found = visit(node)
            if found:
                return found
    return []
