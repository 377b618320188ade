"""The Evaluate tab in a real browser (Chromium via Playwright, against the live in-process app).

One page goes through the tab as a person would: upload pairs and a corpus, evaluate, read the misses;
search a corpus with hostile text in it and judge two hits; choose a threshold from an uploaded table
and then from those two judgments. Skipped like tests/test_browser.py where Chromium is missing.
"""

from __future__ import annotations

import re

import pandas as pd
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
from tests.test_browser import wait_for_trace as wait_for_plot_trace

pytestmark = BROWSER_MARKS

PAIRS = pd.DataFrame({
    "Вопрос": ["Есть ли нефть в Удмуртии?", "Как сварить борщ?", "Какая завтра погода?"],
    "Ответ": ["Добыча нефти в Удмуртии началась в 1967 году.", "Рецепт борща: свёкла, капуста и сметана.",
              "Завтра в Москве дождь."],
})
CORPUS = ["Поезд опаздывает на час.", "Кошки спят днём.", HOSTILE, "Добыча нефти в Удмуртии началась в 1967 году."]
LABELLED = pd.DataFrame({"query": ["нефть", "нефть", "борщ", "борщ"],
                         "passage": ["Нефть добывают.", "Борщ вкусный.", "Рецепт борща.", "Погода."],
                         "label": [1, 0, 1, 0]})


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("evaluate-files")
    PAIRS.to_csv(folder / "faq.csv", index=False)
    (folder / "corpus.txt").write_text("\n".join(CORPUS), encoding="utf-8")
    LABELLED.to_csv(folder / "labelled.csv", index=False)
    return folder


@pytest.fixture(scope="module")
def page(live_app):
    if not CHROMIUM.is_file():  # only reached on CI (skipped elsewhere): fail, do not skip
        pytest.fail(f"CI=true but {CHROMIUM} is missing: the browser tests must run on CI (make browser)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
        page.set_default_timeout(TIMEOUT_MS)
        page.dialogs = []  # type: ignore[attr-defined]
        page.on("dialog", lambda dialog: (page.dialogs.append(dialog.message), dialog.dismiss()))
        page.goto(live_app.url)
        page.wait_for_selector("#header")
        open_tab(page, "Evaluate")
        yield page
        browser.close()


def wait_for_text(page, elem_id: str, text: str) -> None:
    page.wait_for_function("([id, text]) => (document.querySelector('#' + id)?.innerText || '').includes(text)",
                           arg=[elem_id, text])


def test_evaluate_pairs_against_a_corpus(page, files, live_app):
    page.set_input_files("#ev-file input[type=file]", str(files / "faq.csv"))
    wait_for_text(page, "ev-status", "query column")
    assert "Вопрос" in page.inner_text("#ev-status") and "Ответ" in page.inner_text("#ev-status")
    page.set_input_files("#ev-corpus input[type=file]", str(files / "corpus.txt"))
    page.click("#ev-run")
    wait_for_text(page, "ev-status", "queries against")
    status = page.inner_text("#ev-status")
    # 3 answers + 3 new corpus lines (one corpus line repeats an answer)
    assert "3 queries against 6 passages" in status and "1 duplicate passage" in status
    headers = page.locator("#ev-metrics thead").inner_text().lower()
    assert all(name in headers for name in ("recall@1", "recall@5", "recall@10", "mrr@10", "ndcg@10"))
    model = live_app.studio.encoder.model_id.rstrip("/").rsplit("/", 1)[-1]
    first_cell = page.locator('#ev-metrics [data-testid="cell-0-0"]')
    first_cell.wait_for()
    assert model in first_cell.inner_text()
    screenshot(page, "5-evaluate")
    assert error_toasts(page) == []


def test_search_shows_hostile_text_as_text_and_judges_hits(page, files, live_app):
    page.set_input_files("#se-corpus input[type=file]", str(files / "corpus.txt"))
    page.fill("#se-query textarea", "Где добывают нефть?")
    page.fill("#se-k input", "4")
    page.click("#se-run")
    wait_for_text(page, "se-status", "top 4 of 4 passages")
    page.locator('#se-results [data-testid="cell-3-2"]').wait_for()
    shown = [page.locator(f'#se-results [data-testid="cell-{row}-2"]').inner_text() for row in range(4)]
    assert HOSTILE in [text.strip() for text in shown]  # shown literally
    assert page.evaluate("document.querySelectorAll('img[src=\"x\"]').length") == 0 and page.dialogs == []

    saved = []
    for row, button in ((0, "#se-relevant"), (1, "#se-not-relevant")):
        page.locator(f'#se-results [data-testid="cell-{row}-2"]').click()
        wait_for_text(page, "se-selected", f"rank {row + 1}")
        previous = re.search(r"#(\d+)", page.inner_text("#se-flag-status") or "")
        page.click(button)
        page.wait_for_function(
            "prev => { const m = document.querySelector('#se-flag-status').innerText.match(/Saved judgment #(\\d+)/);"
            " return m !== null && m[1] !== prev; }", arg=previous.group(1) if previous else "")
        saved.append(int(re.search(r"Saved judgment #(\d+)", page.inner_text("#se-flag-status")).group(1)))
    records = [live_app.store.get(i) for i in saved]
    assert [r["kind"] for r in records] == ["relevant", "not_relevant"]
    assert all(r["tab"] == "search" and r["anchor"] == "Где добывают нефть?" for r in records)
    assert records[0]["user"] == records[1]["user"] and records[0]["passage_prefix"] == "passage: "
    assert error_toasts(page) == []


def test_threshold_from_a_table_then_from_my_judgments(page, files):
    page.set_input_files("#th-file input[type=file]", str(files / "labelled.csv"))
    page.click("#th-run")
    wait_for_text(page, "th-status", "from the uploaded table")
    wait_for_plot_trace(page, "th-plot", "histogram")
    assert "F1" in page.locator("#th-table thead").inner_text()
    assert "4 pairs" in page.inner_text("#th-status")

    page.get_by_role("radio", name="My judgments (relevant / not relevant)").check()
    page.click("#th-run")
    wait_for_text(page, "th-status", "from your judgments")
    # the two hits judged in the search test: this browser's own judgments, no one else's
    assert "2 pairs" in page.inner_text("#th-status") and "1 relevant, 1 not relevant" in page.inner_text("#th-status")
    screenshot(page, "5-evaluate-threshold")
    assert error_toasts(page) == []


# -- issue 26: what scores mean, and two models side by side ----------------------------------------

def plot_layout(page, elem_id: str, expression: str):
    """``expression`` of the live plotly layout (``layout``) of gr.Plot ``elem_id``."""
    return page.evaluate(f"""id => {{ const gd = document.querySelector(`#${{id}} .js-plotly-plot`);
                                      const layout = gd && gd._fullLayout; return layout ? ({expression}) : null; }}""",
                         elem_id)


def test_similarity_bars_show_my_threshold_on_a_scale_that_separates_them(page):
    # This page's user judged two search hits above, one relevant, one not: its own threshold exists.
    open_tab(page, "Similarity")
    page.fill("#sim-queries textarea", "Где добывают нефть?")
    fillers = [f"Строка {i}: поезд, кошки и погода." for i in range(22)]  # 25 passages: one query's bars
    page.fill("#sim-passages textarea", "\n".join(CORPUS[:2] + CORPUS[3:] + fillers))
    page.click("#sim-run")
    wait_for_text(page, "sim-status", "your threshold")
    page.wait_for_function("""() => { const gd = document.querySelector('#sim-plot .js-plotly-plot');
                                      return !!(gd && gd._fullLayout && gd._fullLayout.shapes.length); }""")
    low, high = plot_layout(page, "sim-plot", "layout.xaxis.range")
    line = plot_layout(page, "sim-plot", "layout.shapes[0].x0")
    scores = page.evaluate("Array.from(document.querySelector('#sim-plot .js-plotly-plot')._fullData[0].x)")
    assert 0 < low < min(scores) and max(scores) < high and low <= line <= high  # not from 0; the line on it
    assert "your threshold" in page.inner_text("#sim-plot")
    assert error_toasts(page) == []


# A tuned version's name as long as the usability test's: three subplot titles ran into each other.
SECOND_MODEL = "multilingual-e5-small-tuned-20261207-relevance"
LONG_ANSWER = ("Чтобы перевыпустить карту, откройте приложение банка, выберите карту, нажмите «Перевыпустить», "
               "подтвердите адрес доставки и дождитесь СМС: новая карта придёт через пять рабочих дней.")


@pytest.fixture
def second_model(live_app, tiny_model_dir, tmp_path_factory):
    """A second model beside the app's, as when the app starts with two --model; the app's models as they
    were afterwards (the live app is shared by the session's other browser tests). A copy of the tiny
    model on torch: no OpenVINO conversion to wait for, and the layout does not depend on the scores."""
    import shutil

    from core.encoding.encoder import Encoder

    studio = live_app.studio
    path = shutil.copytree(tiny_model_dir, tmp_path_factory.mktemp("second") / SECOND_MODEL)
    saved = studio.encoders
    studio.encoders = {**saved, str(path): Encoder(str(path), device="cpu", dtype="float32", engine="torch")}
    yield SECOND_MODEL
    studio.encoders = saved


def test_two_models_scores_and_titles_fit_a_1400_px_window(page, live_app, second_model):
    page.set_viewport_size({"width": 1400, "height": 900})
    try:
        open_tab(page, "Evaluate")
        open_tab(page, "Similarity")  # the tab lists the models loaded now
        page.wait_for_selector("#sim-other", state="visible")
        page.fill("#sim-queries textarea", "Как перевыпустить карту?\nКак закрыть вклад?")
        page.fill("#sim-passages textarea", "\n".join([LONG_ANSWER, LONG_ANSWER.replace("карту", "вклад"),
                                                       "Вклад закрывают в отделении."]))
        page.fill("#sim-other input", second_model)
        page.keyboard.press("Enter")
        page.click("#sim-run")
        # The comparison is a later step than the scores: wait for its table and its three titles.
        page.wait_for_function(f"""() => (document.querySelector('#sim-changes')?.innerText || '')
                                        .includes('{second_model}')""")
        page.wait_for_function("document.querySelectorAll('#sim-side-plot .annotation-text').length >= 3")
        first = live_app.studio.encoder.model_id.rstrip("/").rsplit("/", 1)[-1]
        width = page.evaluate("window.innerWidth")
        headers = page.evaluate("""() => Array.from(document.querySelectorAll('#sim-changes thead th')).map(th => {
            const box = th.getBoundingClientRect(); return [th.innerText.trim(), box.left, box.right]; })""")
        numbers = [h for h in headers if h[0] in (first, second_model, "change")]
        assert len(numbers) == 3, headers
        assert all(left >= 0 and right <= width for _, left, right in numbers), (width, headers)
        boxes = page.evaluate("""() => Array.from(document.querySelectorAll(
            '#sim-side-plot .annotation-text, #sim-side-plot .gtitle')).map(e => {
            const b = e.getBoundingClientRect(); return [e.textContent, b.left, b.top, b.right, b.bottom]; })""")
        assert len(boxes) == 4, boxes  # the figure's title and the three subplot titles
        for i, a in enumerate(boxes):
            for b in boxes[i + 1:]:
                apart = a[3] <= b[1] or b[3] <= a[1] or a[4] <= b[2] or b[4] <= a[2]
                assert apart, (a, b)
        # The change heatmap says its sign, the table's: the second model minus the first.
        assert any(text.startswith("change: B − A") for text, *_ in boxes), boxes
        screenshot(page, "5-similarity-two-models")
        assert error_toasts(page) == []
    finally:
        page.set_viewport_size({"width": 1280, "height": 900})
def test_a_model_loaded_from_the_models_panel_is_offered_in_evaluate(page, live_app, tmp_path, monkeypatch):
    """Issue 26: a second model is loaded from the page (a folder on the server), its memory shown first,
    and Evaluate, open all along, offers it to compare without a restart or a tab switch."""
    import shutil
    from pathlib import Path

    studio = live_app.studio
    second = shutil.copytree(Path(studio.encoder.model_id), tmp_path / "panel-second")
    monkeypatch.setattr(studio, "model_loads", "everyone")  # a loopback server nobody logs in to
    monkeypatch.setattr(studio, "memory", lambda device: (64 * 2**30, 128 * 2**30))  # whatever the machine has
    try:
        page.click("#models-panel button")  # the closed accordion's header
        page.fill("#mdl-spec input", str(second))
        page.keyboard.press("Enter")
        wait_for_text(page, "mdl-estimate", "It fits")
        assert "MiB in fp32" in page.inner_text("#mdl-estimate")
        page.click("#mdl-load")
        wait_for_text(page, "mdl-status", "Loaded")
        wait_for_text(page, "ev-models", "panel-second")
        assert Path(studio.encoder.model_id).name in page.inner_text("#ev-models")
        wait_for_text(page, "header", "panel-second")  # the header's "Models loaded" line follows
        assert error_toasts(page) == []
    finally:
        for model_id in list(studio.encoders)[1:]:
            studio.unload_model(model_id, is_admin=True)
