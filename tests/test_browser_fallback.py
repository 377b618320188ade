"""In a real browser, the app as `make run` starts it without the hub: on multilingual-e5-small, with the
banner saying why, and the Prefixes tab giving a result (the tab USER Studio exists for)."""

from __future__ import annotations

import pytest

from tests.test_browser import (
    BROWSER_MARKS,
    chromium_page,
    error_toasts,
    open_tab,
    screenshot,
    wait_for_trace,
)

pytestmark = [*BROWSER_MARKS, pytest.mark.slow]

REASON = "Could not load 'deepvk/USER-base': it is not in the local Hugging Face cache and the hub cannot be reached."


@pytest.fixture(scope="module")
def fallback_app(e5_converted, tmp_path_factory):
    from tests.app_server import start_app, stop_app

    live = start_app("multilingual-e5-small", tmp_path_factory.mktemp("fallback-data"), fallback_reason=REASON)
    yield live
    stop_app(live)


@pytest.fixture(scope="module")
def fallback_page(fallback_app):
    with chromium_page(fallback_app.url) as page:
        yield page


def test_prefixes_tab_gives_a_result_on_the_fallback_model(fallback_page, fallback_app):
    page = fallback_page
    assert fallback_app.studio.encoder.model_id == "multilingual-e5-small"
    banner = page.inner_text("#banner")
    assert "multilingual-e5-small" in banner and "not deepvk/USER-base" in banner
    assert "384-d" in page.inner_text("#header")

    open_tab(page, "Prefixes")
    assert page.locator("#px-not-applicable").count() == 0  # e5 takes prefixes: no note, an active button
    page.click("#px-run")
    wait_for_trace(page, "px-map", "scattergl")
    page.wait_for_function("document.querySelector('#px-summary').innerText.includes('top-')")
    assert page.locator("#px-cosines [role=gridcell]").count() > 0
    assert error_toasts(page) == []
    assert page.locator("text=Error").count() == 0  # no error badges on the outputs
    screenshot(page, "6-prefixes-on-multilingual-e5-small")


def test_similarity_and_clustering_work_on_the_fallback_model_too(fallback_page, fallback_app):
    page = fallback_page
    open_tab(page, "Similarity")
    page.click("#sim-example")
    wait_for_trace(page, "sim-plot", "heatmap")
    page.wait_for_function("document.querySelector('#sim-status').innerText.includes('2 queries × 2 passages')")
    # The card's example: each query's own passage ranks first on e5 as on USER-base.
    ranking = page.inner_text("#sim-ranking")
    assert "Спокойный" in ranking and "Удмурти" in ranking

    open_tab(page, "Clustering")
    page.click("#cl-run")
    page.wait_for_function("document.querySelector('#cl-summary').innerText.includes('clusters')", timeout=120_000)
    summary = page.inner_text("#cl-summary")
    assert "360 texts" in summary and "NMI" in summary
    wait_for_trace(page, "cl-plot", "scattergl")
    assert error_toasts(page) == []
