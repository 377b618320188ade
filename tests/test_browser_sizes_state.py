"""In Chromium, on an app of its own: Similarity at FAQ size (top k, per-query view, the score column on
screen at 1,400 px and narrower, verdicts marked, slider reset, a refused file leaves the field), the
Review tab without stale state (fresh when opened, headings per kind, delete all with its count and
undo), and named clusters (proposed, renamed, saved as labels, undone; a new upload clears the map)."""

from __future__ import annotations

import pytest

from tests.test_browser import (
    BROWSER_MARKS,
    CHROMIUM,
    CHROMIUM_ARGS,
    TIMEOUT_MS,
    error_toasts,
    open_tab,
    plot_traces,
    screenshot,
    wait_for_trace,
)

pytestmark = BROWSER_MARKS

QUERIES = ["Есть ли нефть в Удмуртии?", "Как варить борщ?"]
PASSAGES = [f"Абзац {j}: нефть добывают в Удмуртии с 1967 года, скважина {j}." for j in range(25)]


@pytest.fixture(scope="module")
def state_app(tiny_model_dir, tmp_path_factory):
    from tests.app_server import start_app, stop_app

    live = start_app(tiny_model_dir, tmp_path_factory.mktemp("state-browser-data"), warm_projection=False)
    yield live
    stop_app(live)


@pytest.fixture(scope="module")
def page(state_app):
    if not CHROMIUM.is_file():
        pytest.fail(f"CI=true but {CHROMIUM} is missing: the browser tests must run on CI (make browser)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
        page.set_default_timeout(TIMEOUT_MS)
        page.goto(state_app.url)
        page.wait_for_selector("#header")
        yield page
        browser.close()


def text_of(page, selector: str) -> str:
    return page.evaluate(f"document.querySelector({selector!r})?.innerText || ''")


def wait_text(page, selector: str, needle: str, timeout: int = TIMEOUT_MS) -> None:
    page.wait_for_function(f"(document.querySelector({selector!r})?.innerText || '').includes({needle!r})",
                           timeout=timeout)


def header_index(page, elem_id: str, name: str) -> int:
    headers = page.locator(f"#{elem_id} thead th").all_inner_texts()
    return next(i for i, h in enumerate(headers) if h.strip() == name)


def cell_box(page, elem_id: str, row: int, column: int) -> dict:
    cell = page.locator(f'#{elem_id} [data-testid="cell-{row}-{column}"]')
    cell.scroll_into_view_if_needed()
    return cell.bounding_box()


def test_similarity_at_faq_size(page, state_app):
    page.fill("#sim-queries textarea", "\n".join(QUERIES))
    page.fill("#sim-passages textarea", "\n".join(PASSAGES))
    page.click("#sim-run")
    wait_text(page, "#sim-status", "top 5 per query")
    wait_for_trace(page, "sim-plot", "bar")  # 2 x 25: one query at a time, not a heatmap
    assert [t["type"] for t in plot_traces(page, "sim-plot")] == ["bar"]
    page.wait_for_selector("#sim-view-query", state="visible")  # set by the step after the scores
    assert page.locator('#sim-ranking [data-testid="cell-9-0"]').count() == 1  # 2 queries x top 5
    assert page.locator('#sim-ranking [data-testid="cell-10-0"]').count() == 0

    # The second query's bars, picked above the chart.
    page.locator("#sim-view-query input").click()
    page.get_by_role("option", name="q2: Как варить борщ?").click()
    page.wait_for_function("(document.querySelector('#sim-plot .gtitle')?.textContent || '').includes('q2 of 2')")

    # The score column stays on screen at 1,400 px and narrower, without scrolling the table sideways.
    score = header_index(page, "sim-ranking", "score")
    for width in (1400, 1000, 390):
        page.set_viewport_size({"width": width, "height": 900})
        page.wait_for_timeout(300)
        box = cell_box(page, "sim-ranking", 0, score)
        assert box is not None and box["width"] > 20 and box["x"] >= 0 and box["x"] + box["width"] <= width, width
        screenshot(page, f"sizes-similarity-{width}")
    page.set_viewport_size({"width": 1400, "height": 900})

    # The slider starts again at 3 for each new pair; a verdict is marked in the row at once.
    page.locator('#sim-ranking [data-testid="cell-0-0"]').click()
    wait_text(page, "#sim-selected", "Judging")
    page.locator("#sim-score input[type=number]").fill("5")
    page.locator("#sim-score input[type=number]").press("Enter")
    page.locator('#sim-ranking [data-testid="cell-1-0"]').click()
    page.wait_for_function("document.querySelector('#sim-score input[type=number]')?.value === '3'")
    page.click("#sim-relevant")
    wait_text(page, "#sim-flag-status", "Saved judgment")
    yours = header_index(page, "sim-ranking", "yours")
    page.wait_for_function(
        f"""(document.querySelector('#sim-ranking [data-testid="cell-1-{yours}"]')?.innerText || '')
            .includes('relevant')""")
    assert "relevant" not in page.inner_text(f'#sim-ranking [data-testid="cell-0-{yours}"]')
    assert error_toasts(page) == []


def test_a_refused_similarity_upload_leaves_the_field(page, tmp_path):
    bad = tmp_path / "broken.parquet"
    bad.write_bytes(b"PAR1 this is not parquet")
    page.locator("#sim-file input[type=file]").set_input_files(str(bad))
    page.wait_for_function("Array.from(document.querySelectorAll(\"[data-testid='toast-text']\")).length > 0")
    page.wait_for_function("!(document.querySelector('#sim-file')?.innerText || '').includes('broken.parquet')")
    page.wait_for_function("!document.querySelector('#sim-plot .js-plotly-plot')?.data?.some(t => t.type === 'bar')")
    for close in page.locator("[data-testid='toast-close']").all():
        close.click()

    good = tmp_path / "faq.csv"
    good.write_text("вопрос,ответ\nГде нефть?,Нефть в Удмуртии.\nГде газ?,Газ на Ямале.\n", encoding="utf-8")
    page.locator("#sim-file input[type=file]").set_input_files(str(good))
    page.wait_for_function("document.querySelector('#sim-queries textarea')?.value === 'Где нефть?\\nГде газ?'")
    assert page.input_value("#sim-passages textarea") == "Нефть в Удмуртии.\nГаз на Ямале."
    assert page.input_value("#sim-query-column input") == "вопрос"


def test_review_is_fresh_when_opened_and_delete_all_can_be_undone(page, state_app):
    store = state_app.store
    open_tab(page, "Review judgments")  # no Refresh: opening shows the judgment made above
    wait_text(page, "#rv-summary", "1 are yours")
    headers = page.locator("#rv-records thead th").all_inner_texts()
    assert "query" in [h.strip() for h in headers] and "relevant passage" in [h.strip() for h in headers]
    assert "positive" not in [h.strip() for h in headers]

    page.get_by_text("Delete my judgments").click()
    page.click("#rv-delete-all")
    wait_text(page, "#rv-delete-status", "Delete all 1 of your judgments?")
    assert store.count(kind="relevant") == 1  # asking deleted nothing
    page.click("#rv-confirm-delete-all")
    wait_text(page, "#rv-delete-status", "Deleted 1 of your judgments")
    wait_text(page, "#rv-summary", "0 are yours")
    assert store.count() == 0
    page.click("#rv-restore")
    wait_text(page, "#rv-delete-status", "Restored 1 of your judgments")
    wait_text(page, "#rv-summary", "1 are yours")
    assert store.count() == 1
    screenshot(page, "sizes-review")
    assert error_toasts(page) == []


def test_clusters_are_named_saved_as_labels_and_a_new_upload_clears_the_map(page, state_app, tmp_path):
    store = state_app.store
    open_tab(page, "Clustering")
    page.locator("#cl-run").click()
    wait_text(page, "#cl-summary", "clusters", timeout=300_000)  # the first map compiles UMAP's code
    wait_for_trace(page, "cl-plot", "scattergl")
    page.wait_for_function("(document.querySelector('#cl-name textarea, #cl-name input')?.value || '') !== ''")
    assert page.locator("#cl-agreement").is_visible()  # the sample has a topic column
    assert "agreement" in page.inner_text("#cl-agreement")

    box = page.locator("#cl-name textarea, #cl-name input").first
    box.fill("Моя тема")
    page.click("#cl-rename")
    wait_text(page, "#cl-table", "Моя тема")
    before = store.count(kind="label")
    page.click("#cl-save-labels")
    wait_text(page, "#cl-flag-status", "Saved label")
    saved = store.count(kind="label") - before
    assert saved > 1 and {r["label"] for r in store.rows(kind="label")} == {"Моя тема"}
    page.click("#cl-undo")
    wait_text(page, "#cl-flag-status", f"{saved} label judgment(s) of the batch removed")
    assert store.count(kind="label") == before
    screenshot(page, "sizes-clusters-named")

    corpus = tmp_path / "corpus.csv"
    corpus.write_text("text\n" + "\n".join(f"Новый текст номер {i}." for i in range(6)) + "\n", encoding="utf-8")
    page.locator("#cl-plot").scroll_into_view_if_needed()
    page.locator("#cl-file input[type=file]").set_input_files(str(corpus))
    page.wait_for_function(
        "!document.querySelector('#cl-plot .js-plotly-plot')?.data?.some(t => t.type === 'scattergl')")
    assert page.locator("#cl-table [role=gridcell]").count() == 0
    assert error_toasts(page) == []
