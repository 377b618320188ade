"""Readable on a phone (issue 13, point 7), in Chromium on an app of its own: each tab's results at
1,400 × 900 and at 390 × 844. The page never scrolls sideways; in the Similarity tab the score column and
the passage text are on screen (scrolled into view, not clipped by the table) at both sizes, and on the
phone the heatmap gives way to the ranking list; table cells do not break words mid-word.

Columns are found by what they hold, not by their headers, so the checks hold in either language.
With USER_STUDIO_SCREENSHOTS=1, screenshots (full page, both sizes) land in tests/screenshots/phone-*.png.
"""

from __future__ import annotations

import re
from contextlib import contextmanager

import pandas as pd
import pytest

from tests.test_browser import (
    BROWSER_MARKS,
    CHROMIUM,
    CHROMIUM_ARGS,
    TIMEOUT_MS,
    error_toasts,
    screenshot,
    wait_for_trace,
)

pytestmark = [*BROWSER_MARKS, pytest.mark.slow]

DESKTOP = {"width": 1400, "height": 900}
PHONE = {"width": 390, "height": 844}
SIZES = (DESKTOP, PHONE)
QUERIES = ["Есть ли нефть в Удмуртии?", "Как варить борщ?"]
PASSAGES = [f"Абзац {j}: нефть добывают в Удмуртии с 1967 года, скважина номер {j}." for j in range(25)]
FAQ = pd.DataFrame({
    "Вопрос": ["Есть ли нефть в Удмуртии?", "Как сварить борщ?", "Какая завтра погода?"],
    "Ответ": ["Добыча нефти в Удмуртии началась в 1967 году.", "Рецепт борща: свёкла, капуста и сметана.",
              "Завтра в Москве дождь."],
})
SLOW_MS = 120_000  # a results table under load on 2 cores

# Whether the element is fully on screen: inside the viewport and inside every ancestor that clips it (a
# table that scrolls inside itself), and the topmost element at its centre (no sticky header over it).
ON_SCREEN = """el => {
    const r = el.getBoundingClientRect();
    if (r.width < 1 || r.height < 1) return 'empty box';
    if (r.left < -1 || r.top < -1 || r.right > window.innerWidth + 1 || r.bottom > window.innerHeight + 1)
        return `outside the viewport: ${JSON.stringify(r)}`;
    for (let a = el.parentElement; a && a !== document.body; a = a.parentElement) {
        const s = getComputedStyle(a);
        if (!/(auto|scroll|hidden|clip)/.test(s.overflowX + s.overflowY)) continue;
        const b = a.getBoundingClientRect();
        if (r.left < b.left - 1 || r.right > b.right + 1 || r.top < b.top - 1 || r.bottom > b.bottom + 1)
            return `clipped by ${a.tagName}.${a.className}: ${JSON.stringify(r)} in ${JSON.stringify(b)}`;
    }
    const top = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
    if (!top || !(el === top || el.contains(top) || top.contains(el))) return `covered by ${top && top.outerHTML.slice(0, 80)}`;
    return '';
}"""

# Words split over two lines inside the element (a column too narrow for them), as "word" strings.
BROKEN_WORDS = """el => {
    const broken = [];
    const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
        for (const m of node.textContent.matchAll(/\\S+/g)) {
            const range = document.createRange();
            range.setStart(node, m.index);
            range.setEnd(node, m.index + m[0].length);
            const tops = new Set(Array.from(range.getClientRects(), r => Math.round(r.top)));
            if (tops.size > 1) broken.push(m[0]);
        }
    }
    return broken;
}"""


@pytest.fixture(scope="module")
def phone_app(tiny_model_dir, tmp_path_factory):
    from tests.app_server import start_app, stop_app

    live = start_app(tiny_model_dir, tmp_path_factory.mktemp("phone-browser-data"))
    yield live
    stop_app(live)


@pytest.fixture(scope="module")
def browser(phone_app):
    if not CHROMIUM.is_file():
        pytest.fail(f"CI=true but {CHROMIUM} is missing: the browser tests must run on CI (make browser)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@contextmanager
def browser_page(browser, url: str, locale: str = "en-US"):
    context = browser.new_context(viewport=DESKTOP, locale=locale)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(url)
    page.wait_for_selector("#header")
    yield page
    context.close()


@pytest.fixture(scope="module")
def page(browser, phone_app):
    with browser_page(browser, phone_app.url) as page:
        yield page


def resize(page, size: dict) -> None:
    page.set_viewport_size(size)
    page.wait_for_timeout(600)  # tables measure their rows again


def open_tab(page, tab_id: str) -> None:
    """By the tab's id (its name depends on the language); at desktop width every tab button is shown."""
    resize(page, DESKTOP)
    page.click(f'button[role=tab][data-tab-id="{tab_id}"]')


def assert_no_sideways_scroll(page, where: str) -> None:
    widths = page.evaluate("[document.documentElement.scrollWidth, document.body.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[2] and widths[1] <= widths[2], f"{where}: the page scrolls sideways {widths}"


def assert_on_screen(page, locator, what: str) -> None:
    locator.scroll_into_view_if_needed()
    page.wait_for_timeout(100)
    problem = locator.evaluate(ON_SCREEN)
    assert problem == "", f"{what}: {problem}"


def column_of(page, elem_id: str, pattern: str) -> int:
    """The first column whose first row matches ``pattern``."""
    cells = page.locator(f'#{elem_id} [data-row="0"][role=gridcell]').all_inner_texts()
    for index, text in enumerate(cells):
        if re.search(pattern, text.strip()):
            return index
    raise AssertionError(f"no column of #{elem_id} matches {pattern!r}: {cells}")


def cell(page, elem_id: str, row: int, column: int):
    return page.locator(f'#{elem_id} [data-testid="cell-{row}-{column}"]')


def assert_words_whole(page, selector: str, what: str) -> None:
    for element in page.locator(selector).all():
        broken = element.evaluate(BROKEN_WORDS)
        where = element.evaluate("e => `${e.tagName} ${e.dataset.testid || e.dataset.heading} ${e.offsetWidth}px "
                                 "in ${e.parentElement.offsetWidth}px: ${Array.from(e.parentElement.children, "
                                 "c => c.offsetWidth + ':' + getComputedStyle(c).flex)}`")
        assert broken == [], f"{what}: words broken over two lines in {where}: {broken}"


def test_similarity_score_and_passage_on_screen_at_both_sizes(page):
    check_similarity(page, "")


def test_similarity_reads_whole_in_russian_at_both_sizes(browser, phone_app):
    """Russian headers are longer ("фрагмент №"): the same checks on a page in Russian."""
    with browser_page(browser, phone_app.url, locale="ru-RU") as page:
        assert page.evaluate("document.documentElement.lang || navigator.language").startswith("ru")
        check_similarity(page, "-ru")


def check_similarity(page, suffix: str) -> None:
    # The card's example: a 2 x 2 heatmap on a desktop, the ranking list in its place on a phone.
    page.click("#sim-example")
    wait_for_trace(page, "sim-plot", "heatmap")
    page.wait_for_selector('#sim-ranking [data-testid="cell-0-0"]')
    resize(page, PHONE)
    assert not page.locator("#sim-plot").is_visible()  # the heatmap becomes the list below
    assert page.locator("#sim-ranking").is_visible()
    assert_no_sideways_scroll(page, "similarity, the example, 390 px")
    resize(page, DESKTOP)
    assert page.locator("#sim-plot").is_visible()

    # FAQ size: 2 queries x 25 passages, top 5 each.
    page.fill("#sim-queries textarea", "\n".join(QUERIES))
    page.fill("#sim-passages textarea", "\n".join(PASSAGES))
    page.click("#sim-run")
    wait_for_trace(page, "sim-plot", "bar")  # past 20 x 20: one query at a time, then a list on the phone
    page.wait_for_function("document.querySelector('#sim-ranking [data-testid=\"cell-9-0\"]')?.innerText.trim()")
    score = column_of(page, "sim-ranking", r"^-?\d+\.\d+$")
    passage = column_of(page, "sim-ranking", r"Абзац \d+: нефть")
    for size in SIZES:
        resize(page, size)
        where = f"similarity at {size['width']} px"
        for row in (0, 4, 9):
            assert_on_screen(page, cell(page, "sim-ranking", row, passage), f"{where}: passage of row {row}")
            # and its score on screen beside it: the row reads without scrolling the table sideways
            problem = cell(page, "sim-ranking", row, score).evaluate(ON_SCREEN)
            assert problem == "", f"{where}: score of row {row}: {problem}"
        text = cell(page, "sim-ranking", 9, passage).inner_text()
        assert "Абзац" in text and "скважина номер" in text
        assert_words_whole(page, "#sim-ranking [role=gridcell], #sim-ranking th", where)
        assert_no_sideways_scroll(page, where)
        assert page.locator("#sim-plot").is_visible() == (size is DESKTOP), where
        page.evaluate("window.scrollTo(0, 0)")
        screenshot(page, f"phone-similarity{suffix}-{size['width']}")
    resize(page, DESKTOP)
    assert error_toasts(page) == []


def test_clusters_table_keeps_words_whole_on_a_phone(page):
    open_tab(page, "clustering")
    page.click("#cl-run")
    page.wait_for_selector('#cl-table [data-testid="cell-0-0"]', timeout=300_000)  # the first map compiles UMAP
    for size in SIZES:
        resize(page, size)
        where = f"clustering at {size['width']} px"
        assert_no_sideways_scroll(page, where)
        keywords = column_of(page, "cl-table", r"\w+, \w+")
        assert_on_screen(page, cell(page, "cl-table", 0, keywords), f"{where}: keywords")
        assert_words_whole(page, "#cl-table th, #cl-table [role=gridcell], #cl-agreement th", where)
        screenshot(page, f"phone-clustering-{size['width']}")
    assert error_toasts(page) == []


def test_prefixes_fit_a_phone(page):
    open_tab(page, "prefixes")
    page.click("#px-run")
    page.wait_for_selector('#px-cosines [data-testid="cell-0-0"]', timeout=SLOW_MS)
    headers = "#px-cosines th, #px-overlap th, #px-neighbours th"
    assert_words_whole(page, headers, "prefix table headers at 1400 px")
    resize(page, PHONE)
    assert_no_sideways_scroll(page, "prefixes at 390 px")
    assert_words_whole(page, headers, "prefix table headers at 390 px")
    screenshot(page, "phone-prefixes-390")
    assert error_toasts(page) == []


def test_evaluate_and_search_fit_a_phone(page, tmp_path):
    faq = tmp_path / "faq.csv"
    FAQ.to_csv(faq, index=False)
    open_tab(page, "evaluate")
    page.set_input_files("#ev-file input[type=file]", str(faq))
    page.wait_for_function("(document.querySelector('#ev-status')?.innerText || '').includes('Вопрос')")
    page.click("#ev-run")
    page.wait_for_selector('#ev-metrics [data-testid="cell-0-0"]', timeout=SLOW_MS)
    page.set_input_files("#se-corpus input[type=file]", str(faq))
    page.fill("#se-query textarea", "Где добывают нефть?")
    page.wait_for_timeout(500)
    page.click("#se-run")
    page.wait_for_selector('#se-results [data-testid="cell-0-0"]', timeout=SLOW_MS)
    score = column_of(page, "se-results", r"^-?\d+\.\d+$")
    passage = column_of(page, "se-results", r"[а-яё]{4,}")
    for size in SIZES:
        resize(page, size)
        where = f"evaluate at {size['width']} px"
        assert_no_sideways_scroll(page, where)
        assert_on_screen(page, cell(page, "se-results", 0, score), f"{where}: search score")
        assert_on_screen(page, cell(page, "se-results", 0, passage), f"{where}: search passage")
        page.evaluate("window.scrollTo(0, 0)")
        screenshot(page, f"phone-evaluate-{size['width']}")
    assert error_toasts(page) == []


def test_review_train_and_annotate_fit_a_phone(page):
    # One judgment, so that the Review tab has a row to show.
    open_tab(page, "similarity")
    cell(page, "sim-ranking", 0, 0).click()
    page.wait_for_timeout(500)
    page.click("#sim-relevant")
    page.wait_for_function("(document.querySelector('#sim-flag-status')?.innerText || '').includes('#')")
    open_tab(page, "review")
    page.wait_for_selector('#rv-records [data-testid="cell-0-0"]', timeout=SLOW_MS)
    resize(page, PHONE)
    assert_no_sideways_scroll(page, "review at 390 px")
    assert_words_whole(page, "#rv-records th", "review headers at 390 px")
    screenshot(page, "phone-review-390")
    for tab_id in ("train", "annotate"):
        open_tab(page, tab_id)
        resize(page, PHONE)
        assert_no_sideways_scroll(page, f"{tab_id} at 390 px")
        screenshot(page, f"phone-{tab_id}-390")
    assert error_toasts(page) == []


def test_the_first_screen_of_a_phone_reaches_the_first_tabs_inputs(browser, phone_app):
    """Issue 26: on the fallback model, in Russian, the header and the banner alone filled a phone's first
    screen. Compact, they leave the first tab's first input box whole on that screen."""
    from core.errors import Message

    phone_app.studio.fallback_reason = Message("model_offline", model="deepvk/USER-base")  # the banner shows
    context = browser.new_context(viewport=PHONE, locale="ru-RU")
    try:
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        page.goto(phone_app.url)
        page.wait_for_function("(document.querySelector('#banner')?.innerText || '').includes('deepvk/USER-base')")
        boxes = page.evaluate("""() => Object.fromEntries(['#header', '#banner', '#lang-switch', '#sim-queries textarea']
            .map(s => [s, document.querySelector(s).getBoundingClientRect().toJSON()]))""")
        screenshot(page, "phone-first-screen-ru-390")
        # measured: 357 px of 844 before (the header squeezed beside the switch), 186 px after
        assert boxes["#banner"]["bottom"] <= 0.3 * PHONE["height"], boxes
        assert boxes["#sim-queries textarea"]["bottom"] <= PHONE["height"], boxes
        assert page.locator("#lang-switch").evaluate(ON_SCREEN) == ""  # in the header's corner, not covered
        switch, header = boxes["#lang-switch"], boxes["#header"]
        assert switch["bottom"] <= header["bottom"] and switch["right"] <= PHONE["width"], boxes
        assert_no_sideways_scroll(page, "the first screen at 390 px")
    finally:
        context.close()
        phone_app.studio.fallback_reason = None
# The cluster map's plot area, title, toolbar and legend, as boxes on the page.
MAP_BOXES = """() => {
    const box = sel => { const e = document.querySelector('#cl-plot ' + sel); if (!e) return null;
                         const r = e.getBoundingClientRect(); return {left: r.left, right: r.right, top: r.top,
                                                                     bottom: r.bottom, width: r.width}; };
    return {plot: box('.nsewdrag'), title: box('.gtitle'), toolbar: box('.modebar'), legend: box('.legend'),
            screen: window.innerWidth};
}"""


def test_the_cluster_map_fills_a_phone_and_its_title_clears_the_toolbar(page):
    """Issue 26, point 7: at 390 px the legend squeezed the map into a ~100 px strip and the title ran under
    the toolbar; now the legend goes below the map (at least 80 % of the screen wide) and the title below the
    toolbar. The desktop keeps its legend beside the map."""
    open_tab(page, "clustering")
    if not page.evaluate("!!document.querySelector('#cl-plot .js-plotly-plot')?.data?.some(t => t.type === 'scattergl')"):
        page.click("#cl-run")
        wait_for_trace(page, "cl-plot", "scattergl")
    resize(page, PHONE)
    page.wait_for_function("document.querySelector('#cl-plot .js-plotly-plot')?.layout?.legend?.orientation === 'h'")
    page.locator("#cl-plot").scroll_into_view_if_needed()
    boxes = page.evaluate(MAP_BOXES)
    assert boxes["plot"]["width"] >= 0.8 * boxes["screen"], boxes
    title, toolbar = boxes["title"], boxes["toolbar"]
    overlap = (min(title["right"], toolbar["right"]) > max(title["left"], toolbar["left"])
               and min(title["bottom"], toolbar["bottom"]) > max(title["top"], toolbar["top"]))
    assert not overlap, f"the map's title runs over its toolbar: {boxes}"
    assert title["right"] <= boxes["screen"] + 1 and title["bottom"] <= boxes["plot"]["top"] + 1, boxes
    assert boxes["legend"]["top"] >= boxes["plot"]["bottom"] - 1, boxes  # below the map, not beside it
    screenshot(page, "phone-cluster-map-390")
    resize(page, DESKTOP)
    page.wait_for_function("document.querySelector('#cl-plot .js-plotly-plot')?.layout?.legend?.orientation !== 'h'")
    assert error_toasts(page) == []
