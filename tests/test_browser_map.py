"""In a real browser: cluster the sample, drag a box over part of the map, label the selection, and find
one label judgment per selected text in the store; clicking empty space clears; Undo takes the batch."""

from __future__ import annotations

import re

import pytest

from tests.test_browser import (
    BROWSER_MARKS,
    chromium_page,
    error_toasts,
    open_tab,
    screenshot,
    wait_for_trace,
)

pytestmark = BROWSER_MARKS
LABEL = "тема с карты"


@pytest.fixture(scope="module")
def map_app(tiny_model_dir, tmp_path_factory):
    from tests.app_server import start_app, stop_app

    live = start_app(tiny_model_dir, tmp_path_factory.mktemp("map-data"))
    yield live
    stop_app(live)


@pytest.fixture(scope="module")
def map_page(map_app):
    with chromium_page(map_app.url) as page:
        yield page


def wait_text(page, selector: str, text: str, timeout: int = 30_000) -> None:
    page.wait_for_function("([s, t]) => (document.querySelector(s)?.innerText || '').includes(t)",
                           arg=[selector, text], timeout=timeout)


def test_box_select_on_the_map_and_label_the_selection(map_page, map_app):
    page, store = map_page, map_app.store
    open_tab(page, "Clustering")
    page.click("#cl-run")
    wait_text(page, "#cl-summary", "clusters", timeout=120_000)
    wait_for_trace(page, "cl-plot", "scattergl")
    page.locator("#cl-plot").scroll_into_view_if_needed()
    # The toolbar's "Box Select" (the map starts in lasso mode).
    page.evaluate("Plotly.relayout(document.querySelector('#cl-plot .js-plotly-plot'), {dragmode: 'select'})")
    area = page.locator("#cl-plot .nsewdrag").first.bounding_box()
    x0, y0 = area["x"] + area["width"] * 0.2, area["y"] + area["height"] * 0.2
    page.mouse.move(x0, y0)
    page.mouse.down()
    page.mouse.move(x0 + area["width"] * 0.45, y0 + area["height"] * 0.6, steps=12)
    page.mouse.up()
    wait_text(page, "#cl-selection", "selected")
    count = int(re.search(r"(\d+) text\(s\) selected", page.inner_text("#cl-selection")).group(1))
    assert 0 < count < 360
    assert page.locator("#cl-selection-table [role=gridcell]").count() > 0  # the selected texts, listed

    page.fill("#cl-sel-label textarea", LABEL)
    page.click("#cl-sel-save-label")
    wait_text(page, "#cl-flag-status", "Saved")
    rows = store.rows(kind="label")
    labelled = [r for r in rows if r["label"] == LABEL]
    assert 0 < len(labelled) <= count  # one per distinct selected text
    assert len({r["anchor"] for r in labelled}) == len(labelled) and {r["tab"] for r in labelled} == {"clustering"}
    screenshot(page, "8-map-selection")

    # Clicking empty space (a corner, away from the points) clears the selection.
    page.locator("#cl-plot").scroll_into_view_if_needed()
    area = page.locator("#cl-plot .nsewdrag").first.bounding_box()  # where the map is now
    page.mouse.click(area["x"] + area["width"] * 0.97, area["y"] + area["height"] * 0.03)
    wait_text(page, "#cl-selection", "Nothing selected")

    page.click("#cl-undo")
    wait_text(page, "#cl-flag-status", "removed")
    assert [r for r in store.rows(kind="label") if r["label"] == LABEL] == []

    # Highlight by a string: the matches are listed beside the map and ringed on it.
    page.fill("#cl-find textarea", "погод")
    page.click("#cl-find-run")
    page.wait_for_function(
        "(document.querySelector('#cl-plot .js-plotly-plot')?.data || []).some(t => (t.name || '').includes('containing'))")
    assert "погод" in page.inner_text("#cl-found").lower()
    assert error_toasts(page) == []


def test_box_select_on_the_prefix_map_and_judge_each_selected_text(map_page, map_app):
    page, store = map_page, map_app.store
    open_tab(page, "Prefixes")
    page.click("#px-run")
    wait_text(page, "#px-summary", "texts", timeout=120_000)
    wait_for_trace(page, "px-map", "scattergl")
    page.locator("#px-map").scroll_into_view_if_needed()
    page.evaluate("Plotly.relayout(document.querySelector('#px-map .js-plotly-plot'), {dragmode: 'select'})")
    area = page.locator("#px-map .nsewdrag").first.bounding_box()
    x0, y0 = area["x"] + area["width"] * 0.1, area["y"] + area["height"] * 0.1
    page.mouse.move(x0, y0)
    page.mouse.down()
    page.mouse.move(x0 + area["width"] * 0.8, y0 + area["height"] * 0.8, steps=12)
    page.mouse.up()
    wait_text(page, "#px-selection", "text(s) selected")  # not "Nothing selected", which the run shows
    n_texts = int(re.search(r"(\d+) text\(s\) selected", page.inner_text("#px-selection")).group(1))
    # Any of a text's three points selects the text, once.
    assert 0 < n_texts <= len(page.input_value("#px-texts textarea").splitlines())
    assert page.locator("#px-selection-table [role=gridcell]").count() > 0

    page.get_by_role("radio", name="no prefix is better").check()
    page.click("#px-save-selected")
    wait_text(page, "#px-flag-status", "Saved")
    rows = [r for r in store.rows(kind="prefer") if r["tab"] == "prefixes" and r["label"] == "none"]
    assert len(rows) == n_texts and len({r["anchor"] for r in rows}) == n_texts

    page.click("#px-undo")
    wait_text(page, "#px-flag-status", "removed")
    assert [r for r in store.rows(kind="prefer") if r["label"] == "none"] == []

    # Clicking empty space clears the selection: the corner of the plot area farthest from every point.
    area = page.locator("#px-map .nsewdrag").first.bounding_box()
    cx, cy = page.evaluate("""() => {
        const gd = document.querySelector('#px-map .js-plotly-plot'), L = gd._fullLayout;
        const w = L._size.w, h = L._size.h, pts = [];
        for (const t of gd.data) if (t.mode === 'markers')
            for (let i = 0; i < t.x.length; i++) pts.push([L.xaxis.l2p(t.x[i]), L.yaxis.l2p(t.y[i])]);
        const corners = [[0.05 * w, 0.95 * h], [0.95 * w, 0.95 * h], [0.05 * w, 0.1 * h], [0.5 * w, 0.95 * h]];
        const gap = c => Math.min(...pts.map(p => Math.hypot(p[0] - c[0], p[1] - c[1])));
        return corners.reduce((a, b) => gap(a) >= gap(b) ? a : b);
    }""")
    page.mouse.click(area["x"] + cx, area["y"] + cy)
    wait_text(page, "#px-selection", "Nothing selected")
    assert error_toasts(page) == []
