"""Input hygiene and USER-base's prefix rules, shared by the encoder, the UI and the API."""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable, Sequence

from core.errors import UserError

# USER-base was trained with these instructions (model card): "query: " and "passage: " for
# asymmetric retrieval, "query: " on both sides for symmetric tasks, clustering and features.
PREFIXES = {"query": "query: ", "passage": "passage: ", "none": "", "": ""}

PREFIX_HELP = (
    "USER-base (like multilingual-e5-small, whose recipe it follows) was trained with an instruction at "
    "the start of every text. "
    "Use `query: ` and `passage: ` for asymmetric tasks such as passage retrieval (questions get "
    "`query: `, the documents searched get `passage: `). Use `query: ` for symmetric tasks "
    "(semantic similarity, paraphrase search, bitext mining) and when embeddings serve as features "
    "(clustering, classification). Without a prefix the model works, but worse: that is what the "
    "prefix tab shows."
)

DEFAULT_MAX_TEXTS = 10_000
DEFAULT_MAX_CHARS = 100_000

# Control characters (Unicode category Cc) except newline and tab; they carry no meaning for the
# model and some (NUL) break storage and rendering downstream.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# Characters that draw nothing: zero-width space/joiners, word joiner and invisible operators,
# directional marks and isolates, the BOM, the soft hyphen, the Mongolian vowel separator. They stay
# inside a text (a joiner can matter), but a text made only of them and spaces is empty.
_INVISIBLE = re.compile("[\u00ad\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")


def resolve_prefix(prefix: str | None) -> str:
    """Map "query" / "passage" / "" / None / "none" to the literal prefix; any other string is literal."""
    if prefix is None:
        return ""
    if not isinstance(prefix, str):
        raise ValueError(f"prefix must be a string such as 'query', 'passage' or '', got {type(prefix).__name__}")
    key = prefix.strip().lower()
    return PREFIXES.get(key, prefix)


def add_prefix(text: str, prefix: str) -> str:
    """Prepend the literal ``prefix`` unless the text already starts with it (no doubling)."""
    if not prefix or text.startswith(prefix):
        return text
    # "query:Москва" or "Query: Москва" already carry the instruction in another spelling.
    bare = prefix.strip().lower()
    if bare and text[: len(bare)].lower() == bare:
        return text
    return prefix + text


def is_blank(text: str) -> bool:
    """True when nothing visible is left once spaces and invisible characters are removed."""
    return not _INVISIBLE.sub("", text).strip()


def clean_text(text: str) -> str:
    """NFC-normalise and drop control characters other than newline and tab, then strip.

    A text with nothing visible (only spaces and zero-width characters) cleans to "".
    """
    cleaned = _CONTROL.sub("", unicodedata.normalize("NFC", text)).strip()
    return "" if is_blank(cleaned) else cleaned


def clean_texts(
    texts: Iterable[object],
    *,
    max_texts: int = DEFAULT_MAX_TEXTS,
    max_chars: int = DEFAULT_MAX_CHARS,
) -> list[str]:
    """Validate and clean a batch of texts; raise ``ValueError`` naming the first bad position."""
    if isinstance(texts, str):
        raise UserError("api_texts_not_list")
    if texts is None:
        raise UserError("api_texts_none")
    items = list(texts) if not isinstance(texts, Sequence) else texts
    if len(items) > max_texts:
        raise UserError("api_too_many_texts", count=len(items), limit=max_texts)
    cleaned = []
    for i, text in enumerate(items):
        if text is None:
            raise UserError("api_text_none", position=i)
        if isinstance(text, float) and math.isnan(text):
            raise UserError("api_text_nan", position=i)
        if not isinstance(text, str):
            raise UserError("api_text_not_str", position=i, type=type(text).__name__)
        if len(text) > max_chars:
            raise UserError("api_text_too_long", position=i, length=len(text), limit=max_chars)
        text = clean_text(text)
        if not text:
            raise UserError("api_text_empty", position=i)
        cleaned.append(text)
    return cleaned


def split_lines(block: str | None) -> list[str]:
    """Non-empty lines of a text box, in order."""
    return [line.strip() for line in (block or "").splitlines() if line.strip()]
