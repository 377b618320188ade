"""In a real browser: 50,000 points on the clustering map, from an uploaded Parquet with an embedding column
(nothing is encoded), a box drawn over part of it, and the selection reaching Python and listed."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from tests.test_browser import (
    BROWSER_MARKS,
    chromium_page,
    error_toasts,
    open_tab,
    screenshot,
    wait_for_trace,
)
from tests.test_browser_map import wait_text

pytestmark = [*BROWSER_MARKS, pytest.mark.slow]
N = 50_000
# 50,000 texts with 32-d float32 vectors are about 8 MB of Parquet, past the app's default 5 MB.
UPLOAD_BYTES = 40_000_000


@pytest.fixture(scope="module")
def large_app(tiny_model_dir, tmp_path_factory):
    from core.exploration.projection import warm_up
    from tests.app_server import start_app, stop_app

    warm_up(background=False, large=True)  # as the app does at start (in the background there)
    live = start_app(tiny_model_dir, tmp_path_factory.mktemp("large-map-data"))
    # A larger upload, before the page reads the config (Gradio computed it at launch, with the 5 MB default).
    live.studio.limits.upload_bytes = live.app.max_file_size = live.app.config["max_file_size"] = UPLOAD_BYTES
    yield live
    stop_app(live)


@pytest.fixture(scope="module")
def corpus(large_app, tmp_path_factory):
    """30 topics in the tiny model's 32 dimensions, one text per row, as this tab's export writes them."""
    rng = np.random.default_rng(0)
    dim = large_app.studio.encoder.dim
    topics = rng.integers(0, 30, N)
    vectors = (rng.standard_normal((30, dim)) * 3)[topics] + rng.standard_normal((N, dim))
    path = tmp_path_factory.mktemp("large-corpus") / "corpus-50000.parquet"
    pd.DataFrame({"text": [f"текст {i} о теме {t}" for i, t in enumerate(topics)],
                  "embedding": list(vectors.astype(np.float32))}).to_parquet(path, index=False)
    return path


def test_50000_points_are_drawn_and_a_box_selects_some(large_app, corpus):
    with chromium_page(large_app.url) as page:
        open_tab(page, "Clustering")
        page.locator("#cl-file input[type=file]").set_input_files(str(corpus))
        wait_text(page, "#cl-summary", "50,000", timeout=120_000)
        page.fill("#cl-k input", "30")  # k given: no silhouette search over 50,000 texts
        page.click("#cl-run")
        wait_text(page, "#cl-summary", "32-d", timeout=300_000)  # the note: the file's embeddings were used
        page.set_default_timeout(120_000)
        wait_for_trace(page, "cl-plot", "scattergl")
        # _fullData: the traces as drawn, binary arrays decoded (gd.data keeps them as sent).
        drawn = page.evaluate("""() => (document.querySelector('#cl-plot .js-plotly-plot')._fullData || [])
            .filter(t => t.type === 'scattergl').reduce((n, t) => n + (t._length || 0), 0)""")
        assert drawn == N
        # Hover texts stay on the server for a map this size.
        assert page.evaluate("document.querySelector('#cl-plot .js-plotly-plot').layout.meta.hover_key")

        page.evaluate("Plotly.relayout(document.querySelector('#cl-plot .js-plotly-plot'), {dragmode: 'select'})")
        # A small box around one drawn point, so it holds some points but far fewer than the selection cap.
        # The page may still be laying out what came with the result (tables below the map) when the box is
        # drawn, which can move the map under the pointer: the box is drawn again, at the point's new place,
        # until the selection arrives (once in three full runs, the first box selected nothing).
        for attempt in range(3):
            page.locator("#cl-plot").scroll_into_view_if_needed()
            area = page.locator("#cl-plot .nsewdrag").first.bounding_box()
            px, py = page.evaluate("""() => {
                const gd = document.querySelector('#cl-plot .js-plotly-plot'), L = gd._fullLayout;
                const t = gd._fullData.find(t => t.type === 'scattergl' && t._length > 0);
                return [L.xaxis.l2p(t.x[0]), L.yaxis.l2p(t.y[0])];
            }""")
            x0, y0 = area["x"] + px - 12, area["y"] + py - 12
            page.mouse.move(x0, y0)
            page.mouse.down()
            page.mouse.move(x0 + 24, y0 + 24, steps=8)
            page.mouse.up()
            try:
                wait_text(page, "#cl-selection", "text(s) selected", timeout=40_000)  # not "Nothing selected"
                break
            except PlaywrightTimeoutError:
                if attempt == 2:
                    raise
        count = int(re.search(r"([\d,]+) text\(s\) selected", page.inner_text("#cl-selection")).group(1).replace(",", ""))
        assert 0 < count < N
        assert page.locator("#cl-selection-table [role=gridcell]").count() > 0
        screenshot(page, "9-map-50000-points")
        assert error_toasts(page) == []
