"""The app in a real browser: Playwright driving Debian's Chromium against the live in-process server.

Run with ``pytest -m browser``; skipped when /usr/bin/chromium is absent (``apt-get install chromium``),
except on CI (``CI=true``), where a missing browser fails the run instead of hiding the tests.
Playwright's own browser download is not used. With USER_STUDIO_SCREENSHOTS=1 a screenshot of each tab lands in
tests/screenshots/.
The tests share one page and run in file order, like a person going through the tabs.
"""

from __future__ import annotations

import contextlib
import os
import re
from pathlib import Path

import pytest

from tests.app_server import SCREENSHOTS

CHROMIUM = Path(os.environ.get("USER_STUDIO_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
HOSTILE = "<img src=x onerror=alert(1)>"
TIMEOUT_MS = 30_000

ON_CI = os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")

# Every browser test module's marks: skipped where Chromium is missing, except on CI, where it must run.
BROWSER_MARKS = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.is_file() and not ON_CI, reason=f"{CHROMIUM} is missing: apt-get install chromium"),
]
pytestmark = BROWSER_MARKS


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.is_file():  # only reached on CI (skipped elsewhere): fail, do not skip
        pytest.fail(f"CI=true but {CHROMIUM} is missing: the browser tests must run on CI (make browser)")
    if ON_CI:
        from playwright import sync_api
    else:
        sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def page(browser, live_app):
    """One tab on the app; every dialog (alert, confirm...) it opens is recorded and dismissed."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.dialogs = []  # type: ignore[attr-defined]

    def on_dialog(dialog):
        page.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    page.on("dialog", on_dialog)
    page.errors = []  # type: ignore[attr-defined]
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    page.goto(live_app.url)
    page.wait_for_selector("#header")
    yield page
    context.close()


# Full-page screenshots are for a person looking at the pages (USER_STUDIO_SCREENSHOTS=1 make test): each is
# a full-page render and PNG encode, CPU that the suite's 10 minutes on 2 cores do not have to spare.
TAKE_SCREENSHOTS = os.environ.get("USER_STUDIO_SCREENSHOTS", "").strip().lower() in ("1", "true", "yes")


def screenshot(page, name: str) -> None:
    if not TAKE_SCREENSHOTS:
        return
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def plot_traces(page, elem_id: str) -> list[dict]:
    """The plotly traces drawn in gr.Plot ``elem_id`` (type, text, hovertext), read from the live graph div."""
    return page.evaluate(
        """id => {
            const gd = document.querySelector(`#${id} .js-plotly-plot`);
            if (!gd || !gd.data) return [];
            // gd.data may keep plotly's base64 arrays; _fullData holds them decoded.
            return (gd._fullData || gd.data).map(t => ({type: t.type, n: t.x ? t.x.length : 0,
                                                        hovertext: t.hovertext ? Array.from(t.hovertext) : null}));
        }""",
        elem_id,
    )


def wait_for_trace(page, elem_id: str, trace_type: str) -> None:
    """Until the plot holds a trace of ``trace_type`` (the placeholder figure before a run has none)."""
    page.wait_for_function(
        """([id, type]) => {
            const gd = document.querySelector(`#${id} .js-plotly-plot`);
            return !!(gd && gd.data && gd.data.some(t => t.type === type));
        }""",
        arg=[elem_id, trace_type],
    )


@contextlib.contextmanager
def chromium_page(url: str, login: tuple[str, str] | None = None):
    """A fresh Chromium on ``url`` (logged in through Gradio's form when ``login`` is given), for modules
    that start an app of their own."""
    if not CHROMIUM.is_file():  # only reached on CI (skipped elsewhere): fail, do not skip
        pytest.fail(f"CI=true but {CHROMIUM} is missing: the browser tests must run on CI (make browser)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
        page.set_default_timeout(TIMEOUT_MS)
        page.goto(url)
        if login is not None:
            page.fill("input[type=text]", login[0])
            page.fill("input[type=password]", login[1])
            page.keyboard.press("Enter")
        page.wait_for_selector("#header")
        try:
            yield page
        finally:
            browser.close()


def error_toasts(page) -> list[str]:
    return page.locator("[data-testid='toast-text']").all_inner_texts()


def open_tab(page, name: str) -> None:
    page.get_by_role("tab", name=name).click()


def test_header_shows_the_model(page, live_app):
    header = page.inner_text("#header")
    model_folder = Path(live_app.studio.encoder.model_id)
    assert "USER Studio" in header and model_folder.name in header and str(model_folder.parent) not in header
    assert "32-d" in header and "cpu" in header and "float32" in header
    assert not page.locator("#banner").is_visible()  # no fallback banner on the requested model
    page.wait_for_timeout(500)  # the review table loads with the page: that must not fail
    assert error_toasts(page) == []
    # Before a result, no table shows Gradio's placeholder headers "1 2 3".
    assert page.locator("#sim-ranking .table-container").count() == 1
    assert not page.locator("#sim-ranking .table-container").is_visible()


def test_similarity_example_heatmap_and_judgment(page, live_app):
    open_tab(page, "Similarity")
    page.click("#sim-example")
    wait_for_trace(page, "sim-plot", "heatmap")
    page.wait_for_selector("#sim-plot .main-svg")
    assert page.input_value("#sim-queries textarea").startswith("Когда был спущен")
    labels = page.evaluate("Array.from(document.querySelectorAll('#sim-plot .main-svg text'), e => e.textContent)")
    cells = [t for t in labels if re.fullmatch(r"-?\d+\.\d\d", t.strip())]
    assert len(cells) == 4 and all(-100 <= float(t) <= 100 for t in cells)  # 2 queries x 2 passages
    assert "2 queries × 2 passages" in page.inner_text("#sim-status")

    before = live_app.store.count()
    page.locator('#sim-ranking [data-testid="cell-0-1"]').click()
    page.wait_for_function("document.querySelector('#sim-selected').innerText.includes('Judging')")
    assert "q1 → p" in page.inner_text("#sim-selected")

    page.click("#sim-relevant")
    page.wait_for_function("document.querySelector('#sim-flag-status').innerText.includes('Saved judgment')")
    saved = page.inner_text("#sim-flag-status")
    assert "relevant" in saved and live_app.store.count() == before + 1
    record_id = int(re.search(r"#(\d+)", saved).group(1))
    record = live_app.store.get(record_id)
    assert record["tab"] == "similarity" and record["query_prefix"] == "query: "
    assert record["anchor"].startswith("Когда был спущен") and record["user"].startswith("anon:")

    page.click("#sim-undo")
    page.wait_for_function("document.querySelector('#sim-flag-status').innerText.includes('removed')")
    assert live_app.store.count() == before and live_app.store.get(record_id) is None

    # Leave one judgment for the review tab.
    page.click("#sim-not-relevant")
    page.wait_for_function("document.querySelector('#sim-flag-status').innerText.includes('not relevant')")
    assert live_app.store.count() == before + 1
    screenshot(page, "1-similarity")
    assert error_toasts(page) == []


def test_passages_are_encoded_when_their_box_loses_focus(page, live_app):
    """Typing the query after the passages: Compare then sends only the query through the model."""
    import time

    open_tab(page, "Similarity")
    encoder = live_app.studio.encoder
    seen: list[str] = []
    original = encoder.backend.embed
    encoder.backend.embed = lambda ids, texts: seen.extend(texts) or original(ids, texts)
    try:
        passages = ["Байкал — самое глубокое озеро мира.", "Волга впадает в Каспийское море."]
        page.fill("#sim-passages textarea", "\n".join(passages))
        page.click("#sim-queries textarea")  # the passages box loses focus
        deadline = time.monotonic() + TIMEOUT_MS / 1000
        while len(seen) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert sorted(seen) == sorted("passage: " + p for p in passages)
        page.fill("#sim-queries textarea", "Какое озеро самое глубокое?")
        page.click("#sim-run")
        page.wait_for_function("document.querySelector('#sim-status').innerText.includes('1 queries × 2 passages')")
        assert seen[2:] == ["query: Какое озеро самое глубокое?"]
    finally:
        encoder.backend.embed = original
    assert error_toasts(page) == []


def test_clustering_sample_corpus(page):
    open_tab(page, "Clustering")
    # Watch for the progress bar (gr.Progress: "encoding: i of n texts", "clustering"...); a fast run may
    # finish between two frames, so it is reported, not required.
    page.evaluate(
        """() => {
            window.progressSeen = [];
            window.progressWatch = new MutationObserver(() => {
                for (const el of document.querySelectorAll('.progress-level-inner, .progress-text, .eta-bar')) {
                    const text = el.textContent.trim();
                    if (text && !window.progressSeen.includes(text)) window.progressSeen.push(text);
                }
            });
            window.progressWatch.observe(document.body, {subtree: true, childList: true, characterData: true});
        }"""
    )
    page.click("#cl-run")
    page.wait_for_function("document.querySelector('#cl-summary').innerText.includes('clusters')")
    progress = page.evaluate("window.progressWatch.disconnect() || window.progressSeen")
    print(f"progress seen while clustering: {progress}")
    wait_for_trace(page, "cl-plot", "scattergl")
    assert page.locator("#cl-plot canvas").count() > 0  # WebGL scatter
    summary = page.inner_text("#cl-summary")
    assert "360 texts" in summary and "ARI" in summary and "NMI" in summary
    traces = plot_traces(page, "cl-plot")
    assert sum(t["n"] for t in traces) == 360
    assert page.locator("#cl-table [role=gridcell]").count() > 0
    assert page.locator("#cl-table [data-testid='cell-1-0']").count() == 1  # at least two clusters
    screenshot(page, "2-clustering")
    assert error_toasts(page) == []


def test_typing_pasted_texts_makes_them_the_corpus(page):
    """Issue 26: lines typed into "Pasted texts" are what Run clusters; nobody has to switch the source."""
    open_tab(page, "Clustering")
    assert page.locator("#cl-source input[value='sample']").is_checked()
    lines = [f"{topic} номер {i}" for topic in ("погода в Москве", "курс рубля", "рецепт борща") for i in range(4)]
    page.fill("#cl-pasted textarea", "\n".join(lines))  # as a paste: the whole text at once
    page.wait_for_function("document.querySelector(\"#cl-source input[value='paste']\").checked")
    page.click("#cl-run")
    page.wait_for_function("document.querySelector('#cl-summary').innerText.includes('12 texts')")
    wait_for_clustering_to_settle(page)
    assert sum(t["n"] for t in plot_traces(page, "cl-plot")) == 12
    assert error_toasts(page) == []


def wait_for_clustering_to_settle(page) -> None:
    """Wait for the step after a clustering (names, the name picker, cleared picks): it is a second event,
    so a click on the points table before it lands has its pick cleared (CI lost one that way)."""
    page.wait_for_function("document.querySelector('#cl-name-cluster input').value !== ''")


def saved_record(page, live_app, status_id: str, click: str) -> dict:
    """Click a judgment button, wait for a new confirmation, and return the stored record."""
    # Compare record ids, not whole texts: while a request runs, Gradio adds a timer to the old text.
    previous = re.search(r"Saved judgment #(\d+)", page.inner_text(f"#{status_id}"))
    previous_id = previous.group(1) if previous else ""
    page.click(click)
    page.wait_for_function(
        "([id, previous]) => { const m = document.querySelector('#' + id).innerText"
        ".match(/Saved judgment #(\\d+)/); return m !== null && m[1] !== previous; }", arg=[status_id, previous_id])
    record_id = int(re.search(r"Saved judgment #(\d+)", page.inner_text(f"#{status_id}")).group(1))
    return live_app.store.get(record_id)


def test_clustering_judgments(page, live_app):
    wait_for_clustering_to_settle(page)
    page.locator("#cl-points [data-testid='cell-0-0']").click()
    page.wait_for_function("document.querySelector('#cl-picked').innerText.includes('#1')")
    page.locator("#cl-points [data-testid='cell-1-0']").click()
    page.wait_for_function("document.querySelector('#cl-picked').innerText.includes('#2')")
    first = page.inner_text("#cl-points [data-testid='cell-0-0']").strip()
    second = page.inner_text("#cl-points [data-testid='cell-1-0']").strip()

    record = saved_record(page, live_app, "cl-flag-status", "#cl-similar")
    assert (record["kind"], record["anchor"], record["positive"]) == ("similar", first, second)
    assert record["tab"] == "clustering" and record["query_prefix"] == record["passage_prefix"] == "query: "

    record = saved_record(page, live_app, "cl-flag-status", "#cl-misplaced")
    assert record["kind"] == "misplaced" and record["anchor"] == first and record["label"].startswith("cluster ")

    # Bad input in the UI: a clear message, nothing stored.
    count = live_app.store.count()
    page.fill("#cl-topic textarea", "   ")
    page.click("#cl-save-topic")
    page.wait_for_selector("[data-testid='toast-text']")
    assert any("type a topic label first" in t for t in error_toasts(page))
    assert live_app.store.count() == count
    page.locator("[data-testid='toast-close']").first.click()
    page.wait_for_function("document.querySelectorAll(\"[data-testid='toast-text']\").length === 0")

    page.fill("#cl-topic textarea", "финансы")
    record = saved_record(page, live_app, "cl-flag-status", "#cl-save-topic")
    assert (record["kind"], record["label"]) == ("label", "финансы")

    page.click("#cl-undo")
    page.wait_for_function("document.querySelector('#cl-flag-status').innerText.includes('removed')")
    assert live_app.store.get(record["id"]) is None
    assert error_toasts(page) == []


def test_prefix_comparison(page, live_app):
    open_tab(page, "Prefixes")
    page.click("#px-run")
    page.wait_for_function("document.querySelector('#px-summary').innerText.includes('texts')")
    wait_for_trace(page, "px-matrices", "heatmap")
    wait_for_trace(page, "px-map", "scattergl")
    assert len([t for t in plot_traces(page, "px-matrices") if t["type"] == "heatmap"]) >= 3
    assert page.locator("#px-cosines [role=gridcell]").count() > 0
    screenshot(page, "3-prefixes")
    assert error_toasts(page) == []

    page.get_by_role("radio", name="passage: is better").check()
    record = saved_record(page, live_app, "px-flag-status", "#px-save")
    assert (record["kind"], record["label"], record["tab"]) == ("prefer", "passage", "prefixes")
    assert record["anchor"] == page.input_value("#px-texts textarea").splitlines()[0]


def test_review_shows_my_judgments_only_and_my_identity_survives_a_reload(page, live_app):
    from core.judgments import Judgment

    store = live_app.store
    someone_else = store.add(Judgment("relevant", "чужой секретный вопрос", "чужой ответ", user="anon:someoneelse"))
    their_row = store.get(someone_else)
    open_tab(page, "Review judgments")
    page.click("#rv-refresh")
    total = store.count()
    page.wait_for_function(f"document.querySelector('#rv-summary').innerText.includes('{total:,} judgments')")
    summary = page.inner_text("#rv-summary")
    me = re.search(r"you are (anon:[0-9a-f]{12})", summary).group(1)
    mine = store.count(user=me)  # the earlier tests of this file judged as this browser
    assert f"{mine:,} are yours" in summary
    if store.count(kind="not_relevant", user=me):  # left by the similarity test
        # The tab's own refresh on opening may still be drawing the table (Gradio shows "processing").
        page.wait_for_function("document.querySelector('#rv-records').innerText.includes('Когда был спущен')")
        records = page.inner_text("#rv-records")
        assert "not relevant" in records and "Similarity" in records  # the tab by its name on the page
    records = page.inner_text("#rv-records")
    assert "чужой секретный вопрос" not in records and "anon:someoneelse" not in page.content()
    assert str(live_app.data_dir) not in summary  # server paths are for admins
    screenshot(page, "4-review")
    assert error_toasts(page) == []

    # Someone else's record cannot be deleted from here, and the message says why.
    page.get_by_text("Delete my judgments").click()
    page.fill("#rv-record-id input", str(someone_else))
    page.click("#rv-delete")
    page.wait_for_function("Array.from(document.querySelectorAll(\"[data-testid='toast-text']\"))"
                           ".some(e => e.innerText.includes('is not yours'))")
    assert store.get(someone_else) == their_row

    # A reload keeps the identity (the server-issued token lives in the browser's local storage).
    page.reload()
    page.wait_for_selector("#header")
    open_tab(page, "Review judgments")
    page.get_by_text("Delete my judgments").click()
    # The accordion renders its content when it opens: wait for the element, not just for its text.
    page.wait_for_function(f"(document.querySelector('#rv-whoami')?.innerText || '').includes('{me}')")
    if not mine:  # run alone, this browser has judged nothing to delete
        return
    my_latest = store.rows(user=me, newest_first=True, limit=1)[0]["id"]
    page.fill("#rv-record-id input", str(my_latest))
    page.click("#rv-delete")
    page.wait_for_function(
        f"(document.querySelector('#rv-delete-status')?.innerText || '').includes('#{my_latest} deleted')")
    assert store.get(my_latest) is None and store.count(user=me) == mine - 1
def test_hostile_text_is_never_rendered_as_markup(page):
    open_tab(page, "Clustering")
    page.get_by_role("radio", name="Pasted texts").check()
    texts = ["Есть ли нефть в Удмуртии?", "Добыча нефти началась в 1967 году.", "Как приготовить борщ?",
             "Рецепт борща со сметаной.", "Какая погода завтра?", HOSTILE, "Завтра дождь."]
    page.fill("#cl-pasted textarea", "\n".join(texts))
    page.click("#cl-run")
    page.wait_for_function("document.querySelector('#cl-summary').innerText.includes('7 texts')")
    wait_for_trace(page, "cl-plot", "scattergl")
    wait_for_clustering_to_settle(page)  # a later redraw would take the hover label away under the test

    hovers = " ".join(" ".join(t["hovertext"] or []) for t in plot_traces(page, "cl-plot"))
    assert "&lt;img src=x onerror=alert(1)&gt;" in hovers and "<img" not in hovers

    # Hover the hostile point itself: plotly draws its label, which must show the markup as text.
    page.evaluate("document.querySelector('#cl-plot').scrollIntoView({block: 'center'})")
    point = page.evaluate(
        """() => {
            const gd = document.querySelector('#cl-plot .js-plotly-plot');
            const layout = gd._fullLayout, box = gd.getBoundingClientRect();
            for (const t of gd._fullData) {
                const i = Array.from(t.hovertext || []).findIndex(h => h.includes('&lt;img'));
                if (i < 0) continue;
                const xa = layout.xaxis, ya = layout.yaxis;
                return {x: box.left + xa._offset + xa.l2p(t.x[i]), y: box.top + ya._offset + ya.l2p(t.y[i])};
            }
            return null;
        }"""
    )
    assert point is not None
    page.mouse.move(point["x"] + 1, point["y"])
    page.mouse.move(point["x"], point["y"])
    # Read the label in the same step that finds it: plotly may redraw its hover layer in between.
    label = page.wait_for_function("document.querySelector('#cl-plot .hoverlayer .hovertext')?.textContent",
                                   timeout=5_000).json_value()
    assert HOSTILE in label  # shown literally, as text
    assert page.locator("#cl-plot .hoverlayer img").count() == 0
    assert page.evaluate("document.querySelectorAll('img[src=\"x\"]').length") == 0
    assert page.dialogs == []
    assert not [e for e in page.errors if "alert" in e]
    # The pasted text is shown as text in the judging table, not as an image.
    assert HOSTILE in page.inner_text("#cl-points")
    screenshot(page, "5-clustering-pasted")


def test_silhouettes_next_best_k_is_one_click(page):
    """Issue 26, point 5: with no label column and k = 0 the summary says that silhouette chose k, and its best
    k are choices on the page: one click sets k and clusters again with it."""
    open_tab(page, "Clustering")
    lines = [f"{topic} номер {i}" for topic in ("погода в Москве", "курс рубля", "рецепт борща", "футбол") for i in range(4)]
    page.fill("#cl-pasted textarea", "\n".join(lines))
    # The new texts clear the map on screen (a change event of its own, which must land before the run's
    # results: it also hides the choices of k).
    page.wait_for_function("!document.querySelector('#cl-plot .js-plotly-plot')?.data?.some(t => t.type === 'scattergl')")
    page.fill("#cl-k input", "0")
    page.click("#cl-run")
    page.wait_for_function("document.querySelector('#cl-summary').innerText.includes('16 texts')")
    page.wait_for_selector("#cl-k-candidates input[type=radio]:checked")
    chosen = page.eval_on_selector("#cl-k-candidates input[type=radio]:checked", "e => e.value")
    other = page.eval_on_selector_all("#cl-k-candidates input[type=radio]:not(:checked)", "els => els.map(e => e.value)")
    assert other, "silhouette's next best k are offered"
    assert f"k = {chosen} chosen by silhouette" in page.inner_text("#cl-summary")
    page.locator(f"#cl-k-candidates input[value='{other[0]}']").check()
    page.wait_for_function("k => document.querySelector('#cl-summary').innerText.includes(`k = ${k}, as you set it`)",
                           arg=other[0])
    assert page.input_value("#cl-k input") == other[0]
    assert f"{other[0]} clusters" in page.inner_text("#cl-summary")
    wait_for_clustering_to_settle(page)
    assert error_toasts(page) == []
