"""The message search form: filters the operator got wrong are named on the page, nothing is searched."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from litestar import Litestar
from litestar.testing import TestClient
from ui_support import API_KEY

Make = Callable[..., TestClient[Litestar]]


@pytest.fixture
def logged_in(make_client: Make) -> TestClient[Litestar]:
    import re

    client = make_client([API_KEY])
    token = re.search(r'name="_csrf_token" value="([^"]+)"', client.get("/ui/login").text)
    assert token is not None
    client.post("/ui/login", data={"key": API_KEY, "next": "/ui/", "_csrf_token": token.group(1)})
    return client


@pytest.mark.parametrize(
    ("query", "problem"),
    [
        ("replied=true", "replied: choose a run (replies are matched within a run)"),
        ("run=3&replied=maybe", "replied: expected true or false, got &#39;maybe&#39;"),
    ],
)
def test_a_reply_filter_the_search_cannot_run_is_named(
    logged_in: TestClient[Litestar], query: str, problem: str
) -> None:
    page = logged_in.get(f"/ui/messages?{query}")

    assert page.status_code == 200
    assert problem in page.text
