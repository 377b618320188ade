"""The interface in Russian and in English, in a real browser: the main flow (Similarity: queries and
passages, Compare, the ranking, one judgment) in a ru-RU and in an en-US Chromium, with the app's texts
and Gradio's own (the upload area, the error toast) in the same language, and the RU/EN switch
changing both, kept across a reload.
"""

from __future__ import annotations

import re

import pytest

from tests.test_browser import BROWSER_MARKS, CHROMIUM, CHROMIUM_ARGS, error_toasts, screenshot

pytestmark = [*BROWSER_MARKS, pytest.mark.slow]

TIMEOUT_MS = 60_000  # generous: the CPU is shared with other work
QUERIES = "Как сварить борщ?\nСколько стоит билет?"
PASSAGES = "Борщ варят из свёклы и капусты.\nБилет стоит сто рублей.\nКошка спит на диване."
# Emoji a button must not rely on (they are empty boxes where no emoji font is installed).
EMOJI = re.compile("[\U0001F300-\U0001FAFF\u2600-\u27BF\u2B00-\u2BFF\uFE0F\u21A9\u23E9-\u23FF]")

TEXTS = {
    "ru": {"tab": "Сходство", "compare": "Сравнить", "relevant": "Релевантно", "drop": "Перетащите файл сюда",
           "status": "запросов: 2 × фрагментов: 3", "header": "балл", "judging": "Оценка пары",
           "saved": "Оценка №", "error": "сначала выберите строку ранжирования", "limit": "токенов",
           "toast": "Ошибка"},
    "en": {"tab": "Similarity", "compare": "Compare", "relevant": "Relevant", "drop": "Drop File Here",
           "status": "2 queries × 3 passages", "header": "score", "judging": "Judging",
           "saved": "Saved judgment #", "error": "select a row of the ranking first", "limit": "token limit",
           "toast": "Error"},
}


@pytest.fixture(scope="module")
def i18n_app(tiny_model_dir, tmp_path_factory):
    from tests.app_server import start_app, stop_app

    live = start_app(tiny_model_dir, tmp_path_factory.mktemp("i18n-data"), warm_projection=False)
    yield live
    stop_app(live)


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.is_file():  # only reached on CI (skipped elsewhere): fail, do not skip
        pytest.fail(f"CI=true but {CHROMIUM} is missing: the browser tests must run on CI (make browser)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def open_page(browser, url: str, locale: str):
    context = browser.new_context(locale=locale, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(url)
    wait_ready(page)
    return context, page


def wait_ready(page) -> None:
    """The page is built and the server knows its language (the load step rewrote the header)."""
    page.wait_for_selector("#sim-run")
    page.wait_for_function("document.querySelector('#lang-switch input:checked') !== null")


def wait_text(page, selector: str, text: str) -> None:
    page.wait_for_function("([s, t]) => { const e = document.querySelector(s); return !!e && e.innerText.includes(t); }",
                           arg=[selector, text])


def check_language(page, lang: str) -> None:
    """The app's and Gradio's own strings are both in ``lang``."""
    texts = TEXTS[lang]
    assert page.evaluate("document.documentElement.lang") == lang
    assert page.get_by_role("tab", name=texts["tab"]).count() == 1
    assert page.inner_text("#sim-run").strip() == texts["compare"]
    assert page.inner_text("#sim-relevant").strip() == texts["relevant"]
    assert texts["drop"] in page.inner_text("#sim-file")  # Gradio's own upload area
    wait_text(page, "#header", texts["limit"])  # built in Python, in the page's language
    assert page.locator("#lang-switch input:checked").get_attribute("value") == lang
    buttons = page.locator("button").all_inner_texts()
    assert not [b for b in buttons if EMOJI.search(b)], buttons


def main_flow(page, live, lang: str, row: int = 0) -> None:
    """Similarity: enter queries and passages, Compare, read the ranking, judge the pair in ``row``."""
    texts = TEXTS[lang]
    page.fill("#sim-queries textarea", QUERIES)
    page.fill("#sim-passages textarea", PASSAGES)
    page.click("#sim-run")
    wait_text(page, "#sim-status", texts["status"])
    page.wait_for_selector('#sim-ranking [data-testid="cell-0-1"]')
    headers = page.locator("#sim-ranking thead").inner_text().lower()
    assert texts["header"] in headers

    # No row selected yet: the error toast is in the page's language too.
    page.click("#sim-save-score")
    page.wait_for_function("t => Array.from(document.querySelectorAll(\"[data-testid='toast-text']\"))"
                           ".some(e => e.innerText.includes(t))", arg=texts["error"])
    # Gradio's own error badge on the event's outputs follows the same locale ("Ошибка" / "Error"). (The
    # toast's title is Gradio's English "Error" in every locale: it is the message type, not translated.)
    wait_text(page, "#sim-flag-status", texts["toast"])
    page.locator("[data-testid='toast-close']").first.click()

    before = live.store.count()
    page.locator(f'#sim-ranking [data-testid="cell-{row}-1"]').click()
    wait_text(page, "#sim-selected", texts["judging"])
    page.click("#sim-relevant")
    wait_text(page, "#sim-flag-status", texts["saved"])
    assert live.store.count() == before + 1
    wait_text(page, "#sim-ranking", "релевантно" if lang == "ru" else "relevant")  # "yours" marks the verdict


@pytest.mark.parametrize(("locale", "lang", "other"), [("ru-RU", "ru", "en"), ("en-US", "en", "ru")])
def test_main_flow_follows_the_browser_language_and_the_switch(browser, i18n_app, locale, lang, other):
    context, page = open_page(browser, i18n_app.url, locale)
    try:
        check_language(page, lang)
        main_flow(page, i18n_app, lang)
        screenshot(page, f"i18n-{lang}")

        # The switch: the other language for the app's texts and Gradio's, kept across a reload.
        page.locator("#lang-switch label").filter(has_text=other.upper()).click()
        page.wait_for_function("l => document.documentElement.lang === l", arg=other)
        wait_ready(page)
        check_language(page, other)
        page.reload()
        wait_ready(page)
        check_language(page, other)
        main_flow(page, i18n_app, other, row=1)  # another pair: the same verdict again is not a new one
        assert error_toasts(page) == []
    finally:
        context.close()


def test_lang_parameter_in_the_address_wins(browser, i18n_app):
    context, page = open_page(browser, i18n_app.url + "?lang=ru", "en-US")
    try:
        check_language(page, "ru")
    finally:
        context.close()
