"""The step graph checks accept what can run and name what cannot (the refusals are in campaigns/malformed)."""

from __future__ import annotations

from journey_support import journey

from hub.campaigns.graph import graph_problems


def test_a_loop_that_waits_is_accepted() -> None:
    j = journey("""
steps:
  - id: ask
    send: {body: "Ready?"}
  - id: wait
    wait_for: replied
    timeout: 1d
    on: {timeout: ask}
""")
    assert graph_problems(j) == []


def test_a_step_reached_only_through_on_or_branch_is_reachable() -> None:
    j = journey("""
steps:
  - id: wait
    wait_for: [replied, read]
    timeout: 1d
    on: {replied: agreed, read: maybe, timeout: end}
  - id: agreed
    branch: [{if: "true", goto: end}, {else: declined}]
  - id: declined
    send: {body: "Declined"}
    next: end
  - id: maybe
    split: {end: 1}
""")
    assert graph_problems(j) == []


def test_a_step_reached_only_by_a_false_guard_is_reachable() -> None:
    j = journey("""
steps:
  - id: vip
    if: "vip"
    send: {body: "VIP"}
    next: end
  - id: rest
    send: {body: "Hi"}
""")
    assert graph_problems(j) == []


def test_a_branch_without_else_may_fall_through_to_the_following_step() -> None:
    j = journey("""
steps:
  - id: pick
    branch: [{if: "vip", goto: end}]
  - id: rest
    send: {body: "Hi"}
""")
    assert graph_problems(j) == []
