"""The send path's memory of template statuses: per runtime, each entry trusted for STATUS_CACHE_S."""

from __future__ import annotations

from hub.templates.status_cache import STATUS_CACHE_S, TemplateStatusCache

SID = "HX" + "ab" * 16


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_status_is_trusted_until_it_is_older_than_the_cache_time() -> None:
    clock = Clock()
    cache = TemplateStatusCache(clock)
    cache.remember(SID, "approved", None, "Hi {{1}}")
    clock.now += STATUS_CACHE_S - 0.01
    assert (cache.cached(SID), cache.cached_body(SID)) == (("approved", None), "Hi {{1}}")
    clock.now += 0.01
    assert (cache.cached(SID), cache.cached_body(SID)) == (None, None)


def test_two_runtimes_caches_share_nothing() -> None:
    first, second = TemplateStatusCache(), TemplateStatusCache()
    first.remember(SID, "paused", "paused by WhatsApp")
    assert (first.cached(SID), second.cached(SID)) == (("paused", "paused by WhatsApp"), None)
