"""In a real browser: judge (through the API, as the same logged-in user), train, read the before/after
table, load the version, and compare it with the base model in the Similarity tab."""

from __future__ import annotations

import contextlib
import re

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from tests.test_browser import (
    BROWSER_MARKS,
    chromium_page,
    error_toasts,
    open_tab,
    screenshot,
)
from tests.test_browser_phone import assert_words_whole

pytestmark = [*BROWSER_MARKS, pytest.mark.slow]
LOGIN = ("alice", "secret-password")


@pytest.fixture(scope="module")
def train_app(tiny_model_dir, tmp_path_factory):
    from gradio_client import Client

    from tests.app_server import start_app, stop_app

    live = start_app(tiny_model_dir, tmp_path_factory.mktemp("train-browser-data"), warm_projection=False,
                     auth=[LOGIN])
    client = Client(live.url, verbose=False, auth=LOGIN)
    for i in range(30):
        client.predict("score", f"фраза {i} о погоде", f"вторая фраза {i}", "", float(i % 6), "", "", "query: ",
                       "query: ", "api", "", api_name="/flag")
    yield live
    stop_app(live)


@pytest.fixture(scope="module")
def train_page(train_app):
    with chromium_page(train_app.url, login=LOGIN) as page:
        yield page


def test_train_load_and_compare_in_the_browser(train_page, train_app):
    page = train_page
    open_tab(page, "Train")
    page.wait_for_function("(document.querySelector('#train-advice')?.innerText || '').includes('30 of your')")
    assert page.locator("#train-kinds input[type=checkbox]:checked").count() == 1  # the ready kind is ticked
    assert "Scores and verdicts (30 rows)" in page.inner_text("#train-kinds")
    assert "Labels" in page.inner_text("#train-advice")

    page.click("#train-start")
    page.wait_for_function("(document.querySelector('#train-status')?.innerText || '').includes('finished')",
                           timeout=300_000)
    metrics = page.inner_text("#train-metrics")
    assert "scores: Spearman" in metrics and "ParaPhraser Spearman" in metrics
    verdict = page.inner_text("#train-verdict")
    assert "romoted" in verdict  # "Promoted" or "Not promoted", with its reason
    version = train_app.studio.training.current().report.version
    page.wait_for_function(f"document.querySelector('#train-versions').innerText.includes('{version}')")
    screenshot(page, "7-train")
    assert_words_whole(page, "#train-versions th", "saved versions' headers")
    assert re.search(r"\b0\.\d{4}\b", page.inner_text("#train-metrics"))  # four places, 0.2060 not 0.206

    page.fill("#train-version input", version)
    page.keyboard.press("Enter")
    page.check("#train-anyway input")
    page.click("#train-use")
    page.wait_for_function("(document.querySelector('#train-used')?.innerText || '').includes('Loaded')")

    open_tab(page, "Similarity")
    page.wait_for_selector("#sim-other", state="visible")
    page.fill("#sim-queries textarea", "Какая погода?\nКак варить борщ?")
    page.fill("#sim-passages textarea", "Дождь и ветер.\nБорщ варят со свёклой.")
    page.fill("#sim-other input", version)  # replaces "(none)"
    page.keyboard.press("Enter")
    page.click("#sim-run")
    page.wait_for_selector("#sim-changes", state="visible", timeout=60_000)
    changes = page.inner_text("#sim-changes")
    assert version in changes and "change" in changes
    assert error_toasts(page) == []


def test_before_and_after_figures_are_on_a_phone_screen(train_page, train_app):
    """Issue 26, point 7: on a phone the table's before/after columns sit beyond the screen's edge; the
    same figures, one metric per line above the verdict, are on screen."""
    from tests.test_browser_phone import DESKTOP, ON_SCREEN, PHONE

    page = train_page
    open_tab(page, "Train")
    job = train_app.studio.training.current()
    if job is None or job.report is None:  # run on its own: train first (the test above normally has)
        page.wait_for_function("document.querySelectorAll('#train-kinds input[type=checkbox]:checked').length")
        page.click("#train-start")
    page.wait_for_function("document.querySelectorAll('#train-verdict .train-change').length >= 2",
                           timeout=300_000)
    page.set_viewport_size(PHONE)
    try:
        lines = page.locator("#train-verdict .train-change")
        for i in range(lines.count()):
            lines.nth(i).scroll_into_view_if_needed()
            # Gradio's loading spinner of the chain's next step may still cover the verdict for a moment
            # (seen once on a loaded CI run: "covered by <svg ...>"): let it go, then check.
            with contextlib.suppress(PlaywrightTimeoutError):
                page.wait_for_function(f"el => ({ON_SCREEN})(el) === ''", arg=lines.nth(i).element_handle(),
                                       timeout=30_000)
            assert lines.nth(i).evaluate(ON_SCREEN) == "", lines.nth(i).inner_text()
            assert re.search(r"\d\.\d{4} → \d\.\d{4} \([+-]\d\.\d{4}\)", lines.nth(i).inner_text())
        assert "**" not in page.inner_text("#train-verdict")  # the verdict after them is still Markdown
        screenshot(page, "7-train-phone")
    finally:
        page.set_viewport_size(DESKTOP)
