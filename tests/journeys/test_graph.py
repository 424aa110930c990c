"""The step graph checks accept what can run and name what cannot (the refusals are in campaigns/malformed)."""

from __future__ import annotations

import pytest
from journey_support import journey

from hub.campaigns.graph import graph_problems
from hub.errors import CampaignErrors


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


def test_a_false_guard_leads_to_the_steps_next_not_the_step_written_after() -> None:
    text = """
steps:
  - id: vip
    if: "vip"
    send: {body: "VIP"}
    next: rest
  - id: other
    send: {body: "Hi"}
  - id: rest
    send: {body: "Bye"}
"""
    # A false guard goes where the step's `next` leads (rest), so nothing leads to `other`.
    with pytest.raises(CampaignErrors, match=r"steps\[1\]\.id: step 'other' is unreachable"):
        journey(text)


def test_a_branch_without_else_may_fall_through_to_the_following_step() -> None:
    j = journey("""
steps:
  - id: pick
    branch: [{if: "vip", goto: end}]
  - id: rest
    send: {body: "Hi"}
""")
    assert graph_problems(j) == []
