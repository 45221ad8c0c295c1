"""The email's action pages in a real browser: headless Chromium (Debian's ``chromium`` and
``chromium-driver``) driven by Selenium, against ``serve``'s real HTTP server on 127.0.0.1.

The executive opens the link (GET: a confirmation page, nothing changes), clicks the button (the
form's POST: the action, once), and an expired, altered or already-used link shows a clear page
and changes nothing. Most cases run with JavaScript *disabled* in the browser (the pages must not
need it, and a test checks that it really is off); the main flow also runs with it on.

Selenium is handed the Debian binaries (``binary_location``, ``Service(executable_path=…)``), so
Selenium Manager never downloads anything. Without ``/usr/bin/chromium`` the tests skip with the
reason — unless ``EXEC_ASSISTANT_REQUIRE_BROWSER=1`` (set by ``.ci/run``, which installs
Chromium), and then a missing browser is a failure.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from pydantic import SecretStr

from exec_assistant.config import Settings
from exec_assistant.models import AckAction, Channel, Meeting, MeetingStatus, User
from exec_assistant.runtime import Runtime
from tests.fakes.slack_api import FakeSlackAPI
from tests.slack.conftest import Clock, bot_settings
from tests.slack.test_acknowledgements import notify, standing
from tests.slack.test_action_links import _tampered, links, snapshot

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver
    from selenium.webdriver.remote.webelement import WebElement

    from exec_assistant.interfaces.local_server import LocalSlackServer

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
#: Set by .ci/run: the browser must be there, a missing one fails instead of skipping.
REQUIRE_BROWSER = "EXEC_ASSISTANT_REQUIRE_BROWSER"
#: This machine's network is closed: without the background-networking flags Chromium's own
#: connections are refused and slow it down; a fresh profile per browser.
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
LINK_KEY = "link-signing-key-0123456789abcdef0123456789"
PUBLIC = "https://hooks.example.test"


def browser_missing() -> str | None:
    """Why the browser tests cannot run here, or None."""
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    if not missing:
        return None
    return (
        f"{' and '.join(missing)} not installed (apt-get install chromium chromium-driver); "
        f"{REQUIRE_BROWSER}=1 makes this a failure"
    )


def _chrome(profile: Path, *, javascript: bool) -> WebDriver:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (*FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    if not javascript:
        options.add_experimental_option(
            "prefs", {"profile.managed_default_content_settings.javascript": 2}
        )
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(30)
    return driver


def ensure_browser() -> None:
    """Skip with the reason when the browser is missing, or fail when it is required."""
    reason = browser_missing()
    if reason is not None:
        if os.environ.get(REQUIRE_BROWSER) == "1":
            pytest.fail(f"the browser is required here ({REQUIRE_BROWSER}=1): {reason}")
        pytest.skip(reason)


def _browser(tmp_path_factory: pytest.TempPathFactory, *, javascript: bool) -> Iterator[WebDriver]:
    ensure_browser()
    driver = _chrome(tmp_path_factory.mktemp("chromium-profile"), javascript=javascript)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebDriver]:
    """Chromium with JavaScript disabled."""
    yield from _browser(tmp_path_factory, javascript=False)


@pytest.fixture(scope="module")
def browser_js(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebDriver]:
    yield from _browser(tmp_path_factory, javascript=True)


@pytest.fixture
def settings(fake_slack: FakeSlackAPI, tmp_path: Any) -> Settings:
    return bot_settings(
        fake_slack, tmp_path, action_link_secret=SecretStr(LINK_KEY), public_base_url=PUBLIC
    )


@pytest.fixture
def server(runtime: Runtime) -> Iterator[LocalSlackServer]:
    """``serve``'s server (cheroot, the answer routes on its router) on a free loopback port."""
    from exec_assistant.interfaces.local_server import start_slack_server

    started = start_slack_server(runtime, host="127.0.0.1", port=0)
    try:
        yield started
    finally:
        started.stop()


@dataclass
class Scene:
    """A delivered prep notification, its email's links, and ``serve`` answering them."""

    server: LocalSlackServer
    runtime: Runtime
    meeting: Meeting
    fake_slack: FakeSlackAPI
    tokens: dict[AckAction, str]

    def open(self, driver: WebDriver, token: str) -> None:
        driver.get(f"{self.server.origin}/actions/{token}")

    def state(self) -> tuple[Any, ...]:
        """The meeting, its ledger and the pending schedules: what an answer changes."""
        return snapshot(self.runtime, self.meeting)


@pytest.fixture
def scene(
    server: LocalSlackServer,
    runtime: Runtime,
    owner: User,
    meeting: Meeting,
    fake_slack: FakeSlackAPI,
) -> Scene:
    notify(runtime, meeting)
    tokens = links(runtime, meeting, owner)
    fake_slack.reset()
    return Scene(server, runtime, meeting, fake_slack, tokens)


def _heading(driver: WebDriver) -> str:
    from selenium.webdriver.common.by import By

    return str(driver.find_element(By.TAG_NAME, "h1").text)


def _message(driver: WebDriver) -> str:
    from selenium.webdriver.common.by import By

    return str(driver.find_element(By.ID, "message").text)


def _click_confirm(driver: WebDriver) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    button = driver.find_element(By.ID, "confirm")
    button.click()
    # Wait until the page the button belonged to is gone. While Chromium swaps documents,
    # chromedriver may answer "Node with given id does not belong to the document" (an unknown
    # error, not a stale-element one) to selenium's staleness_of: both mean the same here.
    WebDriverWait(driver, 30).until(lambda _: _detached(button))


def _detached(element: WebElement) -> bool:
    from selenium.common.exceptions import WebDriverException

    try:
        element.is_enabled()
    except WebDriverException:  # StaleElementReferenceException is one
        return True
    return False


def _buttons(driver: WebDriver) -> int:
    from selenium.webdriver.common.by import By

    return len(driver.find_elements(By.TAG_NAME, "button"))


def test_javascript_is_really_off_in_the_no_script_browser(browser: WebDriver) -> None:
    page = "data:text/html,<title>static</title><script>document.title='scripted'</script>"
    browser.get(page)
    assert browser.title == "static"


def test_javascript_is_on_in_the_other_browser(browser_js: WebDriver) -> None:
    page = "data:text/html,<title>static</title><script>document.title='scripted'</script>"
    browser_js.get(page)
    assert browser_js.title == "scripted"


@pytest.mark.parametrize("javascript", [False, True], ids=["no-js", "js"])
def test_confirm_page_then_the_click_acts_once(
    request: pytest.FixtureRequest, javascript: bool, scene: Scene
) -> None:
    driver: WebDriver = request.getfixturevalue("browser_js" if javascript else "browser")
    before = scene.state()

    scene.open(driver, scene.tokens[AckAction.START_PREP])
    assert driver.title == "Start prep?"
    assert "Q1 board review" in _message(driver)
    assert "15:00" in _message(driver)  # the meeting's time in the executive's zone
    assert _buttons(driver) == 1
    assert scene.state() == before  # opening the link (a GET) changes nothing
    assert scene.fake_slack.calls == []

    _click_confirm(driver)
    assert _heading(driver) == "Done"
    assert "Prep started from email" in _message(driver)
    ack = standing(scene.runtime, scene.meeting)
    assert (ack.channel, ack.action) == (Channel.EMAIL, AckAction.START_PREP)
    stored = scene.runtime.store.get_meeting(scene.meeting.meeting_id)
    assert stored is not None and stored.status == MeetingStatus.PREP_IN_PROGRESS
    assert len(scene.fake_slack.calls_to("chat.update")) == 1  # the DM says what happened, once
    assert _buttons(driver) == 0


def test_a_used_link_shows_a_clear_page_and_changes_nothing(
    browser: WebDriver, scene: Scene
) -> None:
    start_prep = scene.tokens[AckAction.START_PREP]
    scene.open(browser, start_prep)
    _click_confirm(browser)
    assert "Prep started from email" in _message(browser)
    scene.fake_slack.reset()
    after = scene.state()

    # the same link again (a second click from the email, or the browser's back button)
    for how in ("link", "back"):
        if how == "link":
            scene.open(browser, start_prep)
        else:
            browser.back()
        _click_confirm(browser)
        assert _heading(browser) == "Link already used"
    # the other link of the same email: the answer already given stands
    scene.open(browser, scene.tokens[AckAction.REMIND_LATER])
    _click_confirm(browser)
    assert _heading(browser) == "Already handled"
    assert scene.state() == after
    assert scene.fake_slack.calls == []


def test_altered_links_show_a_clear_page_and_change_nothing(
    browser: WebDriver, scene: Scene
) -> None:
    before = scene.state()
    for bad in _tampered(scene.tokens[AckAction.START_PREP]):
        scene.open(browser, bad)
        assert _heading(browser) == "Link not recognised"
        assert "Nothing was done" in _message(browser)
        assert _buttons(browser) == 0  # nothing to click
    assert scene.state() == before
    assert scene.fake_slack.calls == []


def test_an_expired_link_shows_a_clear_page_and_changes_nothing(
    browser: WebDriver, scene: Scene, clock: Clock
) -> None:
    token = scene.tokens[AckAction.START_PREP]
    scene.open(browser, token)  # the page was opened in time…
    assert _buttons(browser) == 1
    before = scene.state()
    clock.advance(timedelta(hours=5))  # …but clicked once the meeting (and the link) started
    _click_confirm(browser)
    assert _heading(browser) == "Link expired"
    assert "Nothing was done" in _message(browser)
    scene.open(browser, token)
    assert _heading(browser) == "Link expired"
    assert _buttons(browser) == 0
    assert scene.state() == before
    assert scene.fake_slack.calls == []


def test_a_missing_browser_skips_with_the_reason_or_fails_when_required(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(sys.modules[__name__], "CHROMIUM", tmp_path / "no-chromium")
    monkeypatch.delenv(REQUIRE_BROWSER, raising=False)
    with pytest.raises(pytest.skip.Exception, match="no-chromium not installed"):
        ensure_browser()
    monkeypatch.setenv(REQUIRE_BROWSER, "1")
    with pytest.raises(pytest.fail.Exception, match="required"):
        ensure_browser()
