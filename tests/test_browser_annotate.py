"""In a real browser: create a campaign from an uploaded table, annotate it with the keyboard only
(scores, skip, undo; relevant / not relevant), and read the agreement as its creator."""

from __future__ import annotations

import pytest

from tests.test_browser import (
    BROWSER_MARKS,
    CHROMIUM,
    CHROMIUM_ARGS,
    HOSTILE,
    TIMEOUT_MS,
    error_toasts,
    open_tab,
    screenshot,
)

pytestmark = BROWSER_MARKS
LOGIN = ("ann", "annotate-password")
PAIRS = [("Где добывают нефть?", "Нефть добывают в Удмуртии."), ("Как варить борщ?", "Борщ варят со свёклой."),
         ("Кто написал «Онегина»?", f"Пушкин. {HOSTILE}"), ("Какая погода завтра?", "Завтра дождь.")]


@pytest.fixture(scope="module")
def annotate_app(tiny_model_dir, tmp_path_factory):
    from tests.app_server import start_app, stop_app

    live = start_app(tiny_model_dir, tmp_path_factory.mktemp("annotate-browser-data"), warm_projection=False,
                     auth=[LOGIN])
    yield live
    stop_app(live)


@pytest.fixture(scope="module")
def annotate_page(annotate_app):
    if not CHROMIUM.is_file():
        pytest.fail(f"CI=true but {CHROMIUM} is missing: the browser tests must run on CI (make browser)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_context(viewport={"width": 1280, "height": 1000}).new_page()
        page.set_default_timeout(TIMEOUT_MS)
        page.dialogs = []  # type: ignore[attr-defined]
        page.on("dialog", lambda dialog: (page.dialogs.append(dialog.message), dialog.dismiss()))
        page.goto(annotate_app.url)
        page.fill("input[type=text]", LOGIN[0])
        page.fill("input[type=password]", LOGIN[1])
        page.keyboard.press("Enter")
        page.wait_for_selector("#header")
        yield page
        browser.close()


def wait_text(page, elem_id: str, text: str) -> None:
    page.wait_for_function("([id, text]) => (document.querySelector('#' + id)?.innerText || '').includes(text)",
                           arg=[elem_id, text])


def press(page, key: str, expect: str) -> None:
    """One key, with nothing focused (keys typed into a text box are text), then the item it leads to."""
    page.evaluate("document.activeElement && document.activeElement.blur()")
    page.keyboard.press(key)
    wait_text(page, "ann-item", expect)


def test_create_annotate_with_the_keyboard_and_read_agreement(annotate_page, annotate_app, tmp_path):
    page = annotate_page
    table = tmp_path / "pairs.csv"
    table.write_text("query,passage\n" + "".join(f'"{a}","{b}"\n' for a, b in PAIRS), encoding="utf-8")
    open_tab(page, "Annotate")
    assert not page.locator("#ann-undo").is_visible()  # nothing to take back before a campaign starts
    page.get_by_text("New campaign").click()
    page.fill("#ann-new-name textarea, #ann-new-name input", "Похожесть")
    page.get_by_label("score", exact=True).check()
    page.fill("#ann-new-instructions textarea", "Оцените от 0 до 5.")
    page.set_input_files("#ann-new-file input[type=file]", str(table))
    page.wait_for_timeout(500)
    page.click("#ann-create")
    wait_text(page, "ann-created", "created: 4 items")
    page.click("#ann-start")
    wait_text(page, "ann-item", "Item 1 of 4")
    assert "Оцените от 0 до 5." in page.inner_text("#ann-instructions")
    assert page.locator("#ann-undo").is_visible()
    assert "You: 0 judged, 4 left for you" in page.inner_text("#ann-progress")

    press(page, "4", "Item 2 of 4")
    press(page, "s", "Item 3 of 4")  # skip item 2
    press(page, "u", "Item 2 of 4")  # undo the skip: item 2 is back
    press(page, "0", "Item 3 of 4")
    assert HOSTILE in page.inner_text("#ann-item")  # shown as text, not run
    press(page, "5", "Item 4 of 4")
    wait_text(page, "ann-progress", "You: 3 judged")
    screenshot(page, "8-annotate")
    press(page, "2", "Nothing left for you")
    # overlap 2: the others' judgments are still needed, and the line says so instead of "4 left"
    wait_text(page, "ann-progress", "You: 4 judged, 0 left for you · the campaign: 0 of 4 items have all their judgments")

    rows = [r for r in annotate_app.store.rows(user="auth:ann") if r["tab"] == "annotate"]
    assert {(r["anchor"], r["score"]) for r in rows} == {(PAIRS[0][0], 4.0), (PAIRS[1][0], 0.0), (PAIRS[2][0], 5.0),
                                                          (PAIRS[3][0], 2.0)}

    page.get_by_text("Agreement and training data").click()
    page.click("#ann-agreement-run")
    wait_text(page, "ann-agreement", "Krippendorff's alpha (interval scale)")
    assert "4 judgments on 4 items" in page.inner_text("#ann-agreement")
    # the export's dataset follows the campaign: a score campaign's consensus is scores
    page.wait_for_function("(document.querySelector('#ann-export-kind input')?.value || '') === 'scores'")
    assert page.dialogs == [] and error_toasts(page) == []  # type: ignore[attr-defined]


def test_relevance_keys(annotate_page, annotate_app, tmp_path):
    page = annotate_page
    table = tmp_path / "relevance.csv"
    table.write_text("query,passage\n" + "".join(f'"{a}","{b}"\n' for a, b in PAIRS[:2]), encoding="utf-8")
    page.get_by_label("relevance", exact=True).check()
    page.fill("#ann-new-name textarea, #ann-new-name input", "Релевантность")
    page.set_input_files("#ann-new-file input[type=file]", str(table))
    page.wait_for_timeout(500)
    page.click("#ann-create")
    wait_text(page, "ann-created", "Релевантность")
    page.click("#ann-start")
    wait_text(page, "ann-item", "Item 1 of 2")
    press(page, "r", "Item 2 of 2")
    press(page, "n", "Nothing left for you")
    kinds = {r["anchor"]: r["kind"] for r in annotate_app.store.rows(user="auth:ann", kind=["relevant", "not_relevant"])}
    assert kinds == {PAIRS[0][0]: "relevant", PAIRS[1][0]: "not_relevant"}
    assert "not_relevant" not in page.inner_text("#ann-status")  # the verdict in words
    # the export's dataset follows the new campaign: a relevance consensus exports as pairs, not scores
    page.wait_for_function("(document.querySelector('#ann-export-kind input')?.value || '') === 'pairs'")
    assert error_toasts(page) == []
