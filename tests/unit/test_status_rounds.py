"""batch_rounds: a batch of status reports split so each round holds a sid and a dedupe key at most once."""

from __future__ import annotations

from hub.store.status_sql import batch_rounds


def test_distinct_reports_are_one_round() -> None:
    assert batch_rounds([("SM1", "a"), ("SM2", "b"), ("SM3", "c")]) == [[0, 1, 2]]


def test_reports_of_one_sid_go_to_successive_rounds_in_arrival_order() -> None:
    assert batch_rounds([("SM1", "a"), ("SM1", "b"), ("SM2", "c"), ("SM1", "d")]) == [[0, 2], [1], [3]]


def test_a_repeated_dedupe_key_waits_for_the_round_after_its_first() -> None:
    assert batch_rounds([("SM1", "k"), ("SM2", "k"), ("SM3", "x")]) == [[0, 2], [1]]


def test_an_item_follows_the_later_of_its_sid_and_key() -> None:
    assert batch_rounds([("SM1", "a"), ("SM1", "b"), ("SM2", "b"), ("SM2", "c")]) == [[0], [1], [2], [3]]


def test_empty_batch_has_no_rounds() -> None:
    assert batch_rounds([]) == []
