"""The two languages stay complete and consistent, and no interface text bypasses them."""

from __future__ import annotations

import ast
import re
import string
from pathlib import Path

import pytest

from core.errors import Message, UserError
from ui import i18n
from ui.i18n import EN, RU, accept_language, lang_of, remember, t, translate_error

UI = Path(__file__).resolve().parents[1] / "ui"
# Component properties a person reads; a literal there would show in one language only.
TEXT_PROPS = {"label", "info", "placeholder"}
# Components whose first argument is read too (a button's text, a tab's title, a Markdown block).
TEXT_FIRST_ARG = {"Button", "Tab", "Accordion", "Markdown", "DownloadButton", "UploadButton"}
# Literals that are the same in every language: names and symbols, not words (UMAP's parameter names,
# k, the A/B picks before any pick).
ALLOWED = {"RU", "EN", "USER Studio", "", "k", "n_neighbors", "min_dist", "metric", "A: – · B: –"}
EMOJI = re.compile("[\U0001F300-\U0001FAFF\u2600-\u27BF\u2B00-\u2BFF\uFE0F\u21A9\u23E9-\u23FF]")


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


def test_both_languages_have_the_same_keys_and_placeholders():
    assert EN.keys() == RU.keys(), (sorted(EN.keys() - RU.keys()), sorted(RU.keys() - EN.keys()))
    for key in EN:
        assert EN[key].strip() and RU[key].strip(), key
        assert placeholders(EN[key]) == placeholders(RU[key]), key


def ui_sources() -> dict[str, str]:
    return {path.name: path.read_text(encoding="utf-8") for path in sorted(UI.glob("*.py"))}


def used_keys(function: str) -> set[tuple[str, str]]:
    found = set()
    for name, source in ui_sources().items():
        for node in ast.walk(ast.parse(source)):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == function
                    and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
                found.add((name, node.args[0].value))
    return found


def test_every_key_the_interface_uses_exists():
    missing = [(f, k) for f, k in used_keys("t") | used_keys("i18n") if k not in EN]
    assert not missing


def test_texts_translated_in_the_browser_have_no_placeholders():
    # The browser formats them as ICU messages, where {name} is a variable nobody fills in and <b> a tag.
    for _, key in used_keys("i18n"):
        for text in (EN[key], RU[key]):
            assert not set("{}<>") & set(text), key


def literal_text(node: ast.AST) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value for v in node.values if isinstance(v, ast.Constant)) or "f-string"
    return None


def test_no_interface_literal_bypasses_the_translations():
    stray = []
    for name, source in ui_sources().items():
        for node in ast.walk(ast.parse(source)):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and isinstance(node.func.value, ast.Name) and node.func.value.id == "gr"):
                continue
            texts = [literal_text(k.value) for k in node.keywords if k.arg in TEXT_PROPS]
            if node.func.attr in TEXT_FIRST_ARG and node.args:
                texts.append(literal_text(node.args[0]))
            stray += [f"{name}:{node.lineno} gr.{node.func.attr}: {text!r}" for text in texts
                      if text is not None and text.strip() not in ALLOWED]
    assert not stray, "\n".join(stray)


def test_buttons_need_no_emoji_font():
    for key in EN:
        if key.startswith("btn_") or "_btn_" in key:
            assert not EMOJI.search(EN[key]) and not EMOJI.search(RU[key]), key
    for name, source in ui_sources().items():
        for node in ast.walk(ast.parse(source)):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "Button"
                    and node.args and literal_text(node.args[0])):
                assert not EMOJI.search(literal_text(node.args[0]) or ""), f"{name}:{node.lineno}"


def test_t_formats_in_the_language_asked_for_and_falls_back_to_english():
    assert t("saved_judgment", "en", id=3, what="relevant").startswith("Saved judgment #3: relevant.")
    assert t("saved_judgment", "ru", id=3, what="релевантно").startswith("Оценка №3 сохранена: релевантно.")
    assert t("sim_compare", "de") == "Compare"
    assert t("sim_compare") == "Compare"  # outside a request: English, the API's language


@pytest.mark.parametrize(("header", "lang"), [
    (None, "en"), ("", "en"), ("ru-RU,ru;q=0.9,en;q=0.8", "ru"), ("en-US,en;q=0.9,ru;q=0.8", "en"),
    ("de-DE,de;q=0.9", "en"), ("de-DE,ru;q=0.5", "ru"), ("en;q=0.2, ru;q=0.7", "ru"), ("ru;q=0", "en"),
    ("ru;q=1.2.3", "en"),
])
def test_accept_language_picks_russian_or_english(header, lang):
    assert accept_language(header) == lang


class FakeRequest:
    def __init__(self, session_hash: str | None, accept: str | None = None) -> None:
        self.session_hash = session_hash
        self.headers = {"accept-language": accept} if accept else {}


def test_a_page_language_is_remembered_for_its_session_and_bounded(monkeypatch):
    monkeypatch.setattr(i18n, "MAX_SESSIONS", 3)
    monkeypatch.setattr(i18n, "_sessions", type(i18n._sessions)())
    assert lang_of(None) == "en"
    assert lang_of(FakeRequest("a", "ru-RU")) == "ru"  # not told yet: the browser's header
    assert remember(FakeRequest("a"), "en-GB") == "en"
    assert lang_of(FakeRequest("a", "ru-RU")) == "en"  # the switch said English
    for session in "bcd":
        remember(FakeRequest(session), "ru")
    assert lang_of(FakeRequest("d")) == "ru" and len(i18n._sessions) == 3
    assert lang_of(FakeRequest("a")) == "en"  # forgotten (oldest): back to the default


def test_messages_are_translated_by_key_and_other_texts_kept():
    message = Message("no_such_judgment", id=12)
    assert message == "there is no judgment #12"
    assert translate_error(message, "ru") == "оценки №12 нет"
    assert translate_error(message, "en") == "there is no judgment #12"
    assert translate_error("something new", "ru") == "something new"  # not raised with a key: English


def test_the_page_script_goes_first_into_html_pages_only():
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.responses import HTMLResponse, JSONResponse
    from starlette.routing import Route
    from starlette.testclient import TestClient

    page = "<!doctype html><html><head><title>x</title></head><body>é</body></html>"
    app = Starlette(routes=[Route("/", lambda request: HTMLResponse(page)),
                            Route("/config", lambda request: JSONResponse({"head": "<head>"})),
                            Route("/gradio_api/file=/tmp/x.html", lambda request: HTMLResponse(page))],
                    middleware=[Middleware(i18n.LanguageScript)])
    client = TestClient(app)
    html = client.get("/").text
    assert html.startswith("<!doctype html><html><head><script>") and "user-studio-lang" in html
    assert html.endswith("<title>x</title></head><body>é</body></html>")
    assert client.get("/config").json() == {"head": "<head>"}
    assert client.get("/gradio_api/file=/tmp/x.html").text == page  # an uploaded HTML file is served as it is


def test_table_headers_are_shown_in_the_page_language_and_kept_in_english():
    import pandas as pd

    from ui.i18n import COLUMN_KEYS, localized

    for header, key in COLUMN_KEYS.items():
        assert EN[key] == header, key  # English pages (and API callers) see the names as they are
    frame = pd.DataFrame({"rank": [1], "score": [50.0], "passage": ["p"], "recall@1": [1.0]})
    assert list(localized(frame, "en").columns) == ["rank", "score", "passage", "recall@1"]
    assert list(localized(frame, "ru").columns) == ["место", "балл", "фрагмент", "recall@1"]
    assert localized(None, "ru") is None


def test_errors_whose_words_change_form_read_as_russian():
    from core.studio import Limits

    with pytest.raises(UserError) as no_queries:
        Limits().check_texts([], 5, "queries")
    assert translate_error(no_queries.value.message, "ru") == "нет запросов: введите хотя бы одну непустую строку"
    with pytest.raises(UserError) as too_many:
        Limits().check_texts(["x"] * 1200, 1000, "passages")
    assert str(too_many.value) == "1,200 passages is more than the limit of 1,000; send fewer"
    # numbers grouped the Russian way, with a no-break space
    assert translate_error(too_many.value.message, "ru") == (
        "фрагментов: 1\u00a0200 — больше предела 1\u00a0000; отправьте меньше")
