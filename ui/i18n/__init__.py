"""The interface in English and Russian: every string the app shows, in one place.

Two ways a string reaches the page:

- Component properties (labels, buttons, static Markdown) are ``i18n("key")``: Gradio sends the key and
  the browser picks the text in its locale, the same locale as Gradio's own strings ("Drop File Here").
  Such texts go through ICU MessageFormat on the page, so they hold no ``{...}``.
- Text built by a handler (a status line, a table's headers, an error) is ``t("key", **values)`` in
  Python, in the language of the page that asked (see ``current``); API callers get English unless
  their Accept-Language asks for Russian.

The package splits along those seams: ``en`` and ``ru`` hold the texts, ``errors`` the Russian of the
messages core raises by key (core.errors), ``page`` the script and middleware that fix a page's
language before Gradio starts (how a page picks its language is told there).
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from typing import Any

import gradio as gr

from ui.i18n.en import EN
from ui.i18n.errors import translated
from ui.i18n.page import (
    LANGUAGE_SCRIPT,
    PAGE_LANGUAGE_JS,
    STORAGE_KEY,
    SWITCH_JS,
    LanguageScript,
    launch_options,
)
from ui.i18n.ru import RU

__all__ = [
    "COLUMN_KEYS", "DEFAULT", "EN", "I18N", "LANGUAGES", "LANGUAGE_SCRIPT", "PAGE_LANGUAGE_JS", "RU", "STORAGE_KEY",
    "SWITCH_JS", "TRANSLATIONS", "LanguageScript", "accept_language", "current", "i18n", "lang_of",
    "launch_options", "localized", "normalize", "remember", "t", "translate_error",
]

LANGUAGES = ("en", "ru")
DEFAULT = "en"
MAX_SESSIONS = 20_000  # remembered page languages; the oldest go first (each is a few dozen bytes)


TRANSLATIONS: dict[str, dict[str, str]] = {"en": EN, "ru": RU}
I18N = gr.I18n(**TRANSLATIONS)

# Table headers as the page shows them (tables built in Python); the API's tables keep the English names.
COLUMN_KEYS: dict[str, str] = {
    "query #": "colh_query_no",
    "rank": "colh_rank",
    "score": "colh_score",
    "yours": "colh_yours",
    "passage #": "colh_passage_no",
    "passage": "colh_passage",
    "query": "colh_query",
    "change": "colh_change",
    "role": "colh_role",
    "#": "colh_num",
    "input": "colh_input",
    "tokens": "colh_tokens",
    "truncated": "colh_truncated",
    "id": "colh_id",
    "created_at": "colh_created_at",
    "created (UTC)": "colh_created_utc",
    "user": "colh_user",
    "tab": "colh_tab",
    "kind": "colh_kind",
    "label": "colh_label",
    "comment": "colh_comment",
    "query_prefix": "colh_query_prefix",
    "passage_prefix": "colh_passage_prefix",
    "model_id": "colh_model_id",
    "positive": "colh_positive",
    "metric": "colh_metric",
    "set": "colh_set",
    "before": "colh_before",
    "after": "colh_after",
    "rows": "colh_rows",
    "version": "colh_version",
    "base model": "colh_base_model",
    "created": "colh_created",
    "held-out change": "colh_held_out_change",
    "regression change": "colh_regression_change",
    "promoted": "colh_promoted",
    "reason": "colh_reason",
    "annotator": "colh_annotator",
    "judgments": "colh_judgments",
    "items shared": "colh_items_shared",
    "agreement with others": "colh_agreement_with_others",
    "alpha without them": "colh_alpha_without_them",
    "item": "colh_item",
    "agreement": "colh_agreement",
    "values": "colh_values",
    "texts": "colh_texts",
    "model": "colh_model",
    "comparison": "colh_comparison",
    "difference": "colh_difference",
    "95% interval": "colh_interval95",
    "verdict": "colh_verdict",
    "ranked first": "colh_ranked_first",
    "relevant at rank": "colh_relevant_at_rank",
    "relevant passage": "colh_relevant_passage",
    "note": "colh_note",
    "threshold (cos×100)": "colh_threshold",
    "precision": "colh_precision",
    "recall": "colh_recall",
    "relevant pairs": "colh_relevant_pairs",
    "not relevant pairs": "colh_not_relevant_pairs",
    "cluster": "colh_cluster",
    "size": "colh_size",
    "keywords": "colh_keywords",
    "examples": "colh_examples",
    "name": "colh_name",
    "main label": "colh_main_label",
    "text": "colh_text",
    "point": "colh_point",
    "query vs none": "colh_query_vs_none",
    "passage vs none": "colh_passage_vs_none",
    "query vs passage": "colh_query_vs_passage",
    "variant": "colh_variant",
    "neighbour #": "colh_neighbour_no",
    "neighbour": "colh_neighbour",
    "cosine": "colh_cosine",
    "rank without prefix": "colh_rank_without_prefix",
    "shift": "colh_shift",
    "pair": "colh_pair",
    "mean overlap@k": "colh_mean_overlap",
    "same top-k": "colh_same_top_k",
}



def i18n(key: str) -> Any:
    """A component property translated in the browser (label, button, static Markdown); no placeholders."""
    if key not in EN:
        raise KeyError(f"no translation for {key!r}")
    return I18N(key)


def t(key: str, lang: str | None = None, /, **values: object) -> str:
    """``key`` in ``lang`` (default: the language of the page being answered), with ``values`` filled in."""
    text = TRANSLATIONS.get(lang or current(), EN).get(key) or EN[key]
    return text.format(**values) if values else text


_sessions: OrderedDict[str, str] = OrderedDict()
_lock = threading.Lock()


def normalize(value: object) -> str:
    """A language tag or choice as one of LANGUAGES: Russian for anything starting with "ru"."""
    return "ru" if str(value or "").strip().lower().startswith("ru") else DEFAULT


def remember(request: gr.Request | None, lang: object) -> str:
    """The page behind ``request`` shows ``lang``: later handlers of its session answer in it."""
    lang = normalize(lang)
    session = getattr(request, "session_hash", None) if request is not None else None
    if session:
        with _lock:
            _sessions[session] = lang
            _sessions.move_to_end(session)
            while len(_sessions) > MAX_SESSIONS:
                _sessions.popitem(last=False)
    return lang


def accept_language(header: str | None) -> str:
    """The first of LANGUAGES an Accept-Language header prefers (q values honoured), else English."""
    best, best_q = DEFAULT, -1.0
    for item in (header or "").split(","):
        tag, _, params = item.strip().partition(";")
        q = 1.0
        match = re.search(r"q\s*=\s*([0-9.]+)", params)
        if match:
            try:
                q = float(match.group(1))
            except ValueError:
                continue
        tag = tag.strip().lower()
        primary = tag.split("-")[0]
        if primary in LANGUAGES and q > best_q and q > 0:
            best, best_q = primary, q
    return best


def lang_of(request: gr.Request | None) -> str:
    """The language to answer ``request`` in: its page's (set at load), else its Accept-Language, else English."""
    if request is None:
        return DEFAULT
    session = getattr(request, "session_hash", None)
    if session:
        with _lock:
            remembered = _sessions.get(session)
        if remembered:
            return remembered
    headers = getattr(request, "headers", None) or {}
    try:
        header = headers.get("accept-language")
    except Exception:  # a header mapping we do not know: English
        header = None
    return accept_language(header)


def current() -> str:
    """The language of the request a handler is answering now (Gradio keeps it in a context variable)."""
    from gradio.context import LocalContext

    return lang_of(LocalContext.request.get(None))


def translate_error(message: str, lang: str | None = None) -> str:
    """An error, warning or progress text in ``lang`` (default: the current page's).

    A message core or ui raised with a key (core.errors.Message) is translated by its key; any other
    text, and a key with no text in ``lang``, stays in English.
    """
    return translated(message, lang or current())


def localized(frame: Any, lang: str | None = None) -> Any:
    """A table (pandas DataFrame) with its known English headers in ``lang`` (default: the page's language).

    For display only: a handler that reads the table again by column name reads it before this.
    """
    if frame is None or not hasattr(frame, "rename") or (lang or current()) == DEFAULT:
        return frame
    return frame.rename(columns={c: t(COLUMN_KEYS[c], lang) for c in frame.columns if c in COLUMN_KEYS})
