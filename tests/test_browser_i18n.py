"""The interface in Russian and in English, in a real browser: the main flow (Similarity: queries and
passages, Compare, the ranking, one judgment) in a ru-RU and in an en-US Chromium, with the app's texts
and Gradio's own (the upload area, the error toast) in the same language, and the RU/EN switch
changing both, kept across a reload.
"""

from __future__ import annotations

import re
from pathlib import Path

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


# -- No English on a Russian page (issue 26) -------------------------------------------------------------------

# Latin words that are no sign of an untranslated string: names, formats and terms the Russian texts keep too
# are found by english_words() itself (any word a Russian text holds); these are the few it cannot know.
NOT_ENGLISH = frozenset({"user", "studio", "deberta", "debertamodel", "openvino", "sdpa", "float32", "cpu"})


def english_words() -> frozenset[str]:
    """The app's own English, as words: those of ui.i18n.en.EN's texts that are not in their Russian.

    Placeholders ({n}), code (`query: `), markup and words any Russian text holds as well (model and format
    names, "query", "Parquet") are left out, so a word found on a Russian page is an English string shown
    untranslated. Words of three letters or more: "no" and "on" are also parts of names.
    """
    from ui.i18n import EN, RU

    def words(text: str) -> set[str]:
        text = re.sub(r"\{[^}]*\}|`[^`]*`|<[^>]*>|https?://\S+", " ", text)
        return {w.lower() for w in re.findall(r"[A-Za-z][A-Za-z'’]*[A-Za-z]", text) if len(w) >= 3}

    in_russian = set().union(*(words(text) for text in RU.values()))
    english: set[str] = set()
    for key, text in EN.items():
        if RU.get(key) != text:
            english |= words(text) - words(RU.get(key, ""))
    return frozenset(english - in_russian - NOT_ENGLISH)


# The page's visible text (innerText leaves out what is hidden and input values), word by word, with the line
# each word stands in, so that a report says where it was. A word after "-" is part of a name or a flag
# (--model, tiny-user0), not prose.
VISIBLE_WORDS = """() => {
    const found = [];
    // plots draw their titles and legends as SVG text, which innerText leaves out
    const svg = Array.from(document.querySelectorAll('svg text'))
        .filter(t => t.getBoundingClientRect().width > 0 && getComputedStyle(t).visibility !== 'hidden')
        .map(t => t.textContent);
    // download links show the file's name ("clusters" + ".csv"): a name, not a sentence of the page
    const files = new Set(Array.from(document.querySelectorAll('.file-preview'))
        .flatMap(e => e.innerText.split('\\n').map(s => s.trim())));
    for (const line of [...document.body.innerText.split('\\n'), ...svg]) {
        if (files.has(line.trim())) continue;
        for (const m of line.matchAll(/(?<![-\\w])[A-Za-z][A-Za-z'’]*[A-Za-z]/g)) found.push([m[0].toLowerCase(), line.trim().slice(0, 300)]);
    }
    return found;
}"""


def english_on_page(page, vocabulary: frozenset[str] = frozenset()) -> dict[str, str]:
    """Words of the app's own English (``english_words``) the page shows now, each with a line it is in."""
    vocabulary = vocabulary or english_words()
    return {word: line for word, line in page.evaluate(VISIBLE_WORDS) if word in vocabulary}


@pytest.fixture(scope="module")
def russian_page(browser, i18n_app):
    """One Russian page for every tab's check (a page takes seconds to build on a busy machine)."""
    context, page = open_page(browser, i18n_app.url, "ru-RU")
    yield page
    context.close()


def page_user(page) -> str:
    """The page's anonymous identity, as Review's summary names it ("вы — `anon:…`"); back to ``tab`` after."""
    tab = page.evaluate("document.querySelector('button[role=tab][aria-selected=true]').dataset.tabId")
    open_russian_tab(page, "review")
    page.wait_for_function("(document.querySelector('#rv-summary code')?.textContent || '').includes(':')")
    user = page.evaluate("document.querySelector('#rv-summary code').textContent").strip()
    open_russian_tab(page, tab)
    return user


def open_russian_tab(page, tab_id: str) -> None:
    page.click(f'button[role=tab][data-tab-id="{tab_id}"]')
    page.wait_for_function("id => document.querySelector(`button[role=tab][data-tab-id=\"${id}\"]`)"
                           ".getAttribute('aria-selected') === 'true'", arg=tab_id)


def similarity_action(page, live) -> None:
    page.click("#sim-example")
    page.wait_for_selector('#sim-ranking [data-testid="cell-0-1"]')
    wait_text(page, "#sim-status", "запрос")


def clustering_action(page, live) -> None:
    """Twelve pasted lines, not the 360-text sample (10-16 s on a busy 2-core machine): the same map, legend,
    summary and tables."""
    lines = [f"{topic} номер {i}" for topic in ("погода в Москве", "курс рубля", "рецепт борща") for i in range(4)]
    page.fill("#cl-pasted textarea", "\n".join(lines))
    page.wait_for_function("document.querySelector(\"#cl-source input[value='paste']\").checked")
    page.click("#cl-run")
    # The name picker is filled by the step after the run: the whole result is on the page then.
    page.wait_for_function("document.querySelector('#cl-name-cluster input').value !== ''")


def prefixes_action(page, live) -> None:
    page.click("#px-run")
    page.wait_for_selector('#px-cosines [data-testid="cell-0-0"]')


def evaluate_action(page, live) -> None:
    table = live.data_dir / "faq-ru.csv"
    table.write_text("query,passage\nКак сварить борщ?,Борщ варят из свёклы.\nСколько стоит билет?,Билет стоит сто "
                     "рублей.\nГде спит кошка?,Кошка спит на диване.\n", encoding="utf-8")
    page.set_input_files("#ev-file input[type=file]", str(table))
    wait_text(page, "#ev-status", "query")  # the table's columns are read before Evaluate runs
    page.click("#ev-run")
    page.wait_for_selector('#ev-metrics [data-testid="cell-0-0"]')


def review_action(page, live) -> None:
    from core.judgments import Judgment

    live.store.add(Judgment("not_relevant", "Как сварить борщ?", positive="Билет стоит сто рублей.",
                            user=page_user(page), tab="similarity"))
    page.click("#rv-refresh")
    wait_text(page, "#rv-records", "Как сварить борщ?")


def train_action(page, live) -> None:
    from core.judgments import Judgment

    user = page_user(page)
    for i in range(3):
        live.store.add(Judgment("relevant", f"вопрос {i}", positive=f"ответ {i}", user=user, tab="similarity"))
    open_russian_tab(page, "review")  # Train reads the judgments when it is opened
    open_russian_tab(page, "train")
    page.wait_for_function("(document.querySelector('#train-advice')?.innerText || '').trim().length > 0")


def annotate_action(page, live) -> None:
    from core.campaigns import items_from_rows

    items = items_from_rows([("Как сварить борщ?", "Борщ варят из свёклы."), ("Сколько стоит билет?", "Сто рублей.")],
                            ("query", "passage"))
    made = live.studio.campaign_store().create(page_user(page), items, "relevance", overlap=2, name="Проверка")
    page.click("#ann-refresh")
    page.wait_for_function("id => (document.querySelector('#ann-campaign input')?.value || '').includes('Проверка')",
                           arg=made.id)
    page.click("#ann-start")
    wait_text(page, "#ann-item", "Как сварить борщ?")
    page.click("#ann-not-relevant")
    wait_text(page, "#ann-status", "№")
    page.get_by_text("Согласие и данные для обучения").click()
    page.click("#ann-agreement-run")
    wait_text(page, "#ann-agreement", "Криппендорфа")


# Tab -> the cheapest action that shows its results.
ACTIONS = {"similarity": similarity_action, "clustering": clustering_action, "prefixes": prefixes_action,
           "evaluate": evaluate_action, "review": review_action, "train": train_action, "annotate": annotate_action}


@pytest.mark.parametrize("tab", list(ACTIONS))
def test_a_russian_page_shows_none_of_the_apps_english(russian_page, i18n_app, tab):
    """Each tab as it opens, and after its cheapest action, shows no word of the app's own English."""
    page = russian_page
    model_words = set(re.findall(r"[a-z]+", Path(i18n_app.studio.encoder.model_id).name.lower()))
    vocabulary = english_words() - model_words
    open_russian_tab(page, tab)
    page.wait_for_timeout(300)  # a tab's select event may still be filling it: the check is of what it shows
    found = english_on_page(page, vocabulary)
    action = ACTIONS[tab]
    if action is not None:
        action(page, i18n_app)
        found |= english_on_page(page, vocabulary)
    assert found == {}, f"English on the Russian page's {tab} tab: {found}"
    assert error_toasts(page) == []
