"""Who gets the dashboard: a session from an API key when keys are set, loopback only without; CSRF on actions."""

from __future__ import annotations

import re
from collections.abc import Callable

import httpx
import pytest
from litestar import Litestar
from litestar.testing import TestClient
from ui_support import API_KEY

from hub.status import RunState
from hub.store import db, queries
from hub.ui.session import SESSION_COOKIE, issue_session, session_is_valid

Make = Callable[..., TestClient[Litestar]]


def csrf_of(page: str) -> str:
    match = re.search(r'name="_csrf_token" value="([^"]+)"', page)
    assert match, "the page has no CSRF field"
    return match.group(1)


def log_in(client: TestClient[Litestar], key: str = API_KEY) -> httpx.Response:
    token = csrf_of(client.get("/ui/login").text)
    return client.post("/ui/login", data={"key": key, "next": "/ui/", "_csrf_token": token}, follow_redirects=False)


def a_run(state: RunState = RunState.RUNNING) -> int:
    run, _ = db.run_sync(queries.create_run(kind="bulk", state=state))
    return run.id


def state_of(run_id: int) -> str:
    run = db.run_sync(queries.get_run(run_id))
    assert run is not None
    return str(run.state)


# --- the session token (pure) ---------------------------------------------------------------------------------


def test_a_session_is_valid_for_its_key_until_it_expires() -> None:
    token = issue_session("k1", now_s=1000)
    assert session_is_valid(token, ["k0", "k1"], now_s=1000 + 60)
    assert not session_is_valid(token, ["k1"], now_s=1000 + 12 * 3600)


@pytest.mark.parametrize("token", [None, "", "1000", "1000.", "abc.def", "1000.deadbeef"])
def test_a_malformed_or_forged_session_is_refused(token: str | None) -> None:
    assert not session_is_valid(token, ["k1"], now_s=1001)


def test_removing_a_key_ends_its_sessions() -> None:
    token = issue_session("old", now_s=1000)
    assert not session_is_valid(token, ["new"], now_s=1001)


# --- with keys: login ---------------------------------------------------------------------------------------------


def test_a_page_without_a_session_redirects_to_login(make_client: Make) -> None:
    client = make_client(keys=[API_KEY])
    response = client.get("/ui/messages", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/ui/login?next=/ui/messages"


def test_an_htmx_poll_without_a_session_is_told_to_reload_the_login_page(make_client: Make) -> None:
    client = make_client(keys=[API_KEY])
    response = client.get("/ui/runs/table", headers={"HX-Request": "true"}, follow_redirects=False)
    assert response.headers["hx-redirect"].startswith("/ui/login")


def test_logging_in_with_an_api_key_sets_a_strict_httponly_cookie(make_client: Make) -> None:
    client = make_client(keys=[API_KEY])
    response = log_in(client)
    assert (response.status_code, response.headers["location"]) == (303, "/ui/")
    cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith(f"{SESSION_COOKIE}="))
    assert "httponly" in cookie.lower()
    assert "samesite=strict" in cookie.lower()
    assert client.get("/ui/", follow_redirects=False).status_code == 200


def test_a_wrong_key_is_refused_and_sets_no_session(make_client: Make) -> None:
    client = make_client(keys=[API_KEY])
    response = log_in(client, key="not-the-key")
    assert response.status_code == 401
    assert "not one of the configured API keys" in response.text
    assert SESSION_COOKIE not in client.cookies
    assert client.get("/ui/", follow_redirects=False).status_code == 303


def test_login_refuses_a_post_without_the_csrf_token(make_client: Make) -> None:
    client = make_client(keys=[API_KEY])
    client.get("/ui/login")
    response = client.post("/ui/login", data={"key": API_KEY}, follow_redirects=False)
    assert response.status_code == 403
    assert SESSION_COOKIE not in client.cookies


def test_login_never_sends_the_browser_to_another_site(make_client: Make) -> None:
    client = make_client(keys=[API_KEY])
    token = csrf_of(client.get("/ui/login").text)
    data = {"key": API_KEY, "next": "//evil.example/ui/", "_csrf_token": token}
    response = client.post("/ui/login", data=data, follow_redirects=False)
    assert response.headers["location"] == "/ui/"


def test_logout_ends_the_session(make_client: Make) -> None:
    client = make_client(keys=[API_KEY])
    log_in(client)
    token = csrf_of(client.get("/ui/").text)
    client.post("/ui/logout", data={"_csrf_token": token}, follow_redirects=False)
    assert client.get("/ui/", follow_redirects=False).status_code == 303


def test_a_bearer_key_alone_does_not_open_the_dashboard(make_client: Make) -> None:
    client = make_client(keys=[API_KEY])
    response = client.get("/ui/", headers={"Authorization": f"Bearer {API_KEY}"}, follow_redirects=False)
    assert response.status_code == 303


# --- CSRF on actions --------------------------------------------------------------------------------------------


def test_an_action_without_the_csrf_token_is_refused_and_changes_nothing(make_client: Make) -> None:
    client = make_client(keys=[API_KEY])
    log_in(client)
    run_id = a_run()
    response = client.post(f"/ui/runs/{run_id}/pause", data={"next": "/ui/"}, follow_redirects=False)
    assert response.status_code == 403
    assert state_of(run_id) == "running"


def test_an_action_with_another_browsers_token_is_refused(make_client: Make) -> None:
    mine, theirs = make_client(keys=[API_KEY]), make_client(keys=[API_KEY])
    log_in(mine)
    log_in(theirs)
    run_id = a_run()
    foreign = csrf_of(theirs.get("/ui/").text)
    mine.get("/ui/")
    response = mine.post(f"/ui/runs/{run_id}/pause", data={"_csrf_token": foreign}, follow_redirects=False)
    assert response.status_code == 403
    assert state_of(run_id) == "running"


def test_an_action_with_the_token_pauses_through_run_control(make_client: Make) -> None:
    client = make_client(keys=[API_KEY])
    log_in(client)
    run_id = a_run()
    token = csrf_of(client.get("/ui/").text)
    data = {"_csrf_token": token, "next": f"/ui/runs/{run_id}"}
    response = client.post(f"/ui/runs/{run_id}/pause", data=data, follow_redirects=False)
    assert (response.status_code, response.headers["location"]) == (303, f"/ui/runs/{run_id}")
    assert state_of(run_id) == "paused"


def test_an_action_the_run_state_forbids_shows_why(make_client: Make) -> None:
    client = make_client(keys=[API_KEY])
    log_in(client)
    run_id = a_run(RunState.FINISHED)
    token = csrf_of(client.get("/ui/").text)
    response = client.post(f"/ui/runs/{run_id}/resume", data={"_csrf_token": token})
    assert response.status_code == 409
    assert f"cannot resume run {run_id}: it is finished" in response.text


# --- without keys: loopback only -----------------------------------------------------------------------------------


def test_without_keys_a_loopback_browser_needs_no_login(make_client: Make) -> None:
    client = make_client()
    transport = httpx.ASGITransport(app=client.app, client=("127.0.0.1", 40000))  # type: ignore[arg-type]
    response = httpx_get(transport, "/ui/")
    assert response.status_code == 200
    assert "Log out" not in response.text


@pytest.mark.parametrize("peer", ["10.0.0.7", "192.168.1.20", "2001:db8::1"])
def test_without_keys_other_clients_are_refused(make_client: Make, peer: str) -> None:
    client = make_client()
    response = httpx_get(httpx.ASGITransport(app=client.app, client=(peer, 40000)), "/ui/")  # type: ignore[arg-type]
    assert response.status_code == 401
    assert "loopback clients only" in response.text


def httpx_get(transport: httpx.ASGITransport, path: str) -> httpx.Response:
    import anyio

    async def get() -> httpx.Response:
        async with httpx.AsyncClient(transport=transport, base_url="http://hub") as client:
            return await client.get(path)

    return anyio.run(get)


# --- the rest of the app --------------------------------------------------------------------------------------------


def test_root_redirects_to_the_dashboard(make_client: Make) -> None:
    response = make_client(keys=[API_KEY]).get("/", follow_redirects=False)
    assert (response.status_code, response.headers["location"]) == (302, "/ui/")


def test_the_dashboard_is_not_in_the_openapi_schema(make_client: Make) -> None:
    paths = make_client(keys=[API_KEY]).get("/schema/openapi.json").json()["paths"]
    assert not [path for path in paths if path == "/" or path.startswith("/ui")]


def test_the_api_keeps_its_bearer_keys_and_no_csrf(make_client: Make) -> None:
    client = make_client(keys=[API_KEY])
    run_id = a_run()
    response = client.post(f"/v1/runs/{run_id}/pause", headers={"Authorization": f"Bearer {API_KEY}"})
    assert (response.status_code, response.json()["state"]) == (200, "paused")


def test_the_vendored_scripts_are_served(make_client: Make) -> None:
    client = make_client(keys=[API_KEY])
    assert client.get("/ui/static/vendor/htmx-2.0.11.min.js").status_code == 200
    assert client.get("/ui/static/vendor/uPlot-1.6.32.iife.min.js").status_code == 200


def test_dashboard_pages_refuse_to_be_framed(make_client: Make) -> None:
    client = make_client(keys=[API_KEY])
    login_page = client.get("/ui/login")
    log_in(client)
    for response in (login_page, client.get("/ui/"), client.get("/ui/health")):
        assert response.status_code == 200
        assert response.headers["x-frame-options"] == "DENY"
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
