"""The dashboard in a real browser (Playwright + the system Chromium) against a real server and ledger."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from browser_support import launched_browser, require_browser, screenshot, serving
from ledger_support import FAILURE, make_run, reply, send
from ui_support import API_KEY

from hub.api.app import create_app
from hub.api.enqueue import RecordingEnqueuer
from hub.config import Settings

pytestmark = pytest.mark.slow

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


async def _ok() -> None:
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    require_browser()
    with launched_browser() as launched:
        yield launched


@pytest.fixture
def hub_url(ui_settings: Callable[..., Settings], enqueuer: RecordingEnqueuer) -> Iterator[str]:
    """The app, with an API key set, served on loopback; sends are recorded, not queued."""
    app = create_app(ui_settings([API_KEY]), enqueuer=enqueuer, probes={"database": _ok, "redis": _ok})
    with serving(app) as url:
        yield url


@pytest.fixture
def open_page(browser: Any, hub_url: str) -> Iterator[Callable[..., Any]]:
    contexts: list[Any] = []

    def make(viewport: dict[str, int] = DESKTOP) -> Any:
        context = browser.new_context(base_url=hub_url, viewport=viewport)
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def page(open_page: Callable[..., Any]) -> Any:
    return open_page()


def log_in(page: Any) -> None:
    from playwright.sync_api import expect

    page.goto("/ui/")
    expect(page).to_have_url(re.compile(r"/ui/login\?next=/ui/$"))
    page.get_by_label("API key").fill(API_KEY)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Runs", exact=True)).to_be_visible()


def api_state(hub_url: str, run_id: int) -> str:
    response = httpx.get(f"{hub_url}/v1/runs/{run_id}", headers={"Authorization": f"Bearer {API_KEY}"})
    assert response.status_code == 200
    return str(response.json()["state"])


def test_log_in_and_watch_a_run_progress_live(page: Any) -> None:
    from playwright.sync_api import expect

    run_id = make_run(40)
    log_in(page)
    page.get_by_role("link", name=f"#{run_id}", exact=True).click()
    progress = page.get_by_role("progressbar", name=f"Progress of run {run_id}")
    expect(progress).to_have_attribute("aria-valuenow", "0.0")
    page.evaluate("window.stillTheSamePage = true")

    send(run_id, 10)

    expect(progress).to_have_attribute("aria-valuenow", "25.0")
    expect(page.get_by_role("link", name="10 messages sent: search them")).to_be_visible()
    assert page.evaluate("window.stillTheSamePage") is True  # updated in place by polling, not reloaded


def test_polling_stops_once_the_run_is_no_longer_running(page: Any) -> None:
    from playwright.sync_api import expect

    run_id = make_run(4)
    log_in(page)
    page.goto(f"/ui/runs/{run_id}")
    expect(page.locator("#run-live")).to_have_attribute("hx-trigger", "every 2s")

    page.get_by_role("button", name=f"Pause run {run_id}").click()

    expect(page.get_by_test_id("run-state")).to_have_text("paused")
    expect(page.locator("#run-live")).not_to_have_attribute("hx-trigger", re.compile(".*"))


def test_open_a_runs_failures_and_the_messages_behind_them(page: Any) -> None:
    from playwright.sync_api import expect

    run_id = make_run(12)
    send(run_id, 3, then="failed", error=FAILURE)
    send(run_id, 5)
    log_in(page)
    page.goto(f"/ui/runs/{run_id}")

    failures = page.locator("#failures")
    expect(failures).to_contain_text("outside the allowed window")
    docs = failures.get_by_role("link", name="Twilio error 63016 documentation")
    expect(docs).to_have_attribute("href", "https://www.twilio.com/docs/api/errors/63016")
    failures.get_by_role("link", name="Search the 3 failed messages with error 63016").click()

    expect(page).to_have_url(re.compile(r"/ui/messages\?"))
    expect(page.locator("table.results tbody tr")).to_have_count(3)
    expect(page.locator("table.results")).to_contain_text("63016")


def test_a_funnel_number_opens_the_matching_search(page: Any) -> None:
    from playwright.sync_api import expect

    run_id = make_run(10)
    send(run_id, 4, then="read")
    send(run_id, 2)
    log_in(page)
    page.goto(f"/ui/runs/{run_id}")

    page.get_by_role("link", name="6 messages delivered: search them").click()

    expect(page.locator("table.results tbody tr")).to_have_count(6)


def test_the_replied_number_opens_exactly_the_recipients_who_replied(page: Any) -> None:
    from playwright.sync_api import expect

    run_id = make_run(10)
    send(run_id, 5)  # +14155550000..0004
    reply("+14155550001")
    reply("+14155550003")
    reply("+14155550007")  # never sent: not a reply
    log_in(page)
    page.goto(f"/ui/runs/{run_id}")

    page.get_by_role("link", name="2 recipients replied: search them").click()

    expect(page).to_have_url(re.compile(r"/ui/messages\?.*replied=true"))
    rows = page.locator("table.results tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.filter(has_text="+14155550001")).to_have_count(1)
    expect(rows.filter(has_text="+14155550003")).to_have_count(1)
    expect(page.get_by_label("Reply")).to_have_value("true")


def test_search_a_message_and_read_its_history(page: Any) -> None:
    from playwright.sync_api import expect

    run_id = make_run(3)
    (message_id,) = send(run_id, 1, then="read")
    log_in(page)
    page.get_by_role("link", name="Messages").click()

    page.get_by_label("Phone").fill("+1 415 555 0000")
    page.get_by_role("button", name="Search").click()
    expect(page.locator("table.results tbody tr")).to_have_count(1)
    page.get_by_role("link", name=f"Message {message_id}", exact=True).click()

    expect(page.get_by_test_id("message-status")).to_have_text("read")
    expect(page.get_by_test_id("message-body")).to_have_text("Hi friend 0, spring sale: 20% off")
    history = page.get_by_test_id("history")
    expect(history).to_contain_text("sent")
    expect(history).to_contain_text("read")


def test_pause_and_resume_a_run_and_the_api_agrees(page: Any, hub_url: str) -> None:
    from playwright.sync_api import expect

    run_id = make_run(10)
    log_in(page)

    page.get_by_role("button", name=f"Pause run {run_id}").click()
    expect(page.get_by_role("row").filter(has_text=f"#{run_id}")).to_contain_text("paused")
    assert api_state(hub_url, run_id) == "paused"

    page.get_by_role("button", name=f"Resume run {run_id}").click()
    expect(page.get_by_role("row").filter(has_text=f"#{run_id}")).to_contain_text("running")
    assert api_state(hub_url, run_id) == "running"


@pytest.mark.parametrize(("device", "viewport"), [("desktop", DESKTOP), ("phone", PHONE)])
def test_every_page_renders_and_is_captured(
    open_page: Callable[..., Any], device: str, viewport: dict[str, int]
) -> None:
    from playwright.sync_api import expect

    page = open_page(viewport)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    run_id = make_run(60)
    send(run_id, 30)
    send(run_id, 12, then="read")
    send(run_id, 4, then="failed", error=FAILURE)
    send(run_id, 2, then="undelivered", error=(63024, "Invalid message recipient."))
    reply("+14155550031")
    make_run(25, campaign="welcome")

    page.goto("/ui/")
    screenshot(page, f"{device}-login")
    log_in(page)
    screenshot(page, f"{device}-runs")
    page.goto(f"/ui/runs/{run_id}")
    expect(page.locator(".uplot")).to_be_visible()
    screenshot(page, f"{device}-run")
    page.goto(f"/ui/messages?run={run_id}")
    expect(page.locator("table.results tbody tr").first).to_be_visible()
    screenshot(page, f"{device}-messages")
    page.locator("table.results tbody tr").filter(has_text="63016").first.get_by_role("link").first.click()
    expect(page.get_by_test_id("history")).to_be_visible()
    screenshot(page, f"{device}-message")
    page.goto("/ui/campaigns")
    page.get_by_text("Preview the first 20 messages").click()
    expect(page.locator(".preview-table")).to_contain_text("Hi Ada, use HELLO24")
    screenshot(page, f"{device}-campaigns")
    page.goto("/ui/health")
    expect(page.get_by_role("heading", name="Sender pace")).to_be_visible()
    screenshot(page, f"{device}-health")
    assert errors == []
