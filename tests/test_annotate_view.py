"""What the Annotate tab, the banner, Review and uploads say, without a server or a model (issue 26, points 4
and 8): the consensus export follows the campaign's kind, verdicts read as words, an "alpha without them"
that cannot exist is explained, the progress line says whose count is whose, the banner's reason and
Review's tab names follow the page's language, and the upload limit reads the same everywhere."""

from __future__ import annotations

import html
import re
from contextlib import contextmanager
from types import SimpleNamespace

import pytest

from core.campaigns import items_from_rows
from core.errors import Message, UserError
from core.identity import Identity
from core.judgments import Judgment, JudgmentStore
from core.studio import Studio

PAIRS = [(f"вопрос {i}", f"ответ {i}") for i in range(8)]
CREATOR = Identity("auth:ann")


class Request:
    """A request from a page in ``lang`` (what ui.i18n.current reads)."""

    session_hash = None

    def __init__(self, lang: str) -> None:
        self.headers = {"accept-language": lang}


@contextmanager
def page_in(lang: str):
    from gradio.context import LocalContext

    token = LocalContext.request.set(Request(lang))
    try:
        yield
    finally:
        LocalContext.request.reset(token)


@pytest.fixture
def studio(tmp_path) -> Studio:
    # A stand-in for the model: nothing here encodes, and Studio reads only these fields.
    encoder = SimpleNamespace(model_id="multilingual-e5-small", uses_prefixes=True, revision=None)
    store = JudgmentStore(tmp_path / "feedback.sqlite")
    yield Studio(encoder, store=store)  # type: ignore[arg-type]
    store.close()


def campaign(studio: Studio, judgment: str = "relevance", overlap: int = 2, pairs=PAIRS) -> str:
    return studio.campaign_store().create(CREATOR.user, items_from_rows(pairs, ("query", "passage")), judgment,
                                          overlap=overlap).id


def judge_all(studio: Studio, cid: str, user: str, kinds) -> None:
    campaigns = studio.campaign_store()
    for kind in kinds:
        item = campaigns.next_item(cid, user)
        extra = {"score": 3.0} if kind == "score" else {}
        campaigns.submit(cid, item.item_id, Judgment(kind, "", user=user, **extra))


def test_the_consensus_export_follows_the_campaigns_kind_and_refuses_a_mismatch_clearly(studio):
    from ui.annotate_tab import export_consensus, export_kind_for

    relevance, score = campaign(studio), campaign(studio, "score")
    assert export_kind_for(studio, relevance) == "pairs" and export_kind_for(studio, score) == "scores"
    assert export_kind_for(studio, None) is None and export_kind_for(studio, "not-an-id") is None
    judge_all(studio, relevance, "anon:a", ["relevant", "not_relevant"])
    with pytest.raises(UserError, match="a relevance campaign's consensus exports as pairs, triplets, not as scores"):
        export_consensus(studio, CREATOR, relevance, "scores", "csv", 0)
    path, note = export_consensus(studio, CREATOR, relevance, "pairs", "csv", 0)
    assert "1 pairs rows" in note
    with pytest.raises(UserError) as caught:
        export_consensus(studio, CREATOR, score, "labels", "csv", 0)
    from ui.i18n import translate_error

    assert translate_error(caught.value.message, "ru") == (
        "консенсус кампании «score» выгружается как scores, а не как labels; выберите scores")


def test_agreement_names_verdicts_in_words_and_explains_a_missing_alpha_without_them(studio):
    from ui.annotate_tab import agreement_view

    cid = campaign(studio, overlap=3, pairs=PAIRS[:2])
    judge_all(studio, cid, "anon:a", ["relevant", "relevant"])
    judge_all(studio, cid, "anon:b", ["not_relevant", "relevant"])
    summary, people, disputed = agreement_view(studio, CREATOR, cid)
    assert "alpha without them" not in people.columns  # two annotators: one left out leaves one person
    assert "leaving one of two annotators out leaves one person" in summary and "(categories)" in summary
    assert "not relevant" in disputed["values"][0] and "not_relevant" not in disputed["values"][0]
    with page_in("ru"):
        summary, people, disputed = agreement_view(studio, CREATOR, cid)
    assert "альфа без него" not in people.columns and "останется один человек" in summary
    assert "не релевантно" in disputed["ответы"][0] and "not_relevant" not in disputed["ответы"][0]

    judge_all(studio, cid, "anon:c", ["relevant", "relevant"])  # three: each one left out leaves two
    summary, people, _ = agreement_view(studio, CREATOR, cid)
    shown = dict(zip(people["annotator"], people["alpha without them"], strict=True))
    assert shown["anon:a"] == shown["anon:c"] == 0.0 and shown["anon:b"] != shown["anon:b"]  # NaN: a, c always agree
    assert "without that annotator alpha is not defined" in summary


def test_the_progress_line_says_whose_count_is_whose(studio):
    from ui.annotate_tab import show

    cid = campaign(studio)
    judge_all(studio, cid, "auth:ann", ["relevant"] * 8)  # everything of theirs; overlap 2 needs 8 more
    line = show(studio, CREATOR, cid, None)[2]
    assert line == ("**You: 8 judged, 0 left for you** · the campaign: 0 of 8 items have all their judgments "
                    "(8 of 16 judgments)")
    with page_in("ru"):
        line = show(studio, CREATOR, cid, None)[2]
    assert "Вы оценили 8, для вас осталось 0" in line and "все оценки есть у 0 из 8" in line
    assert studio.campaign_store().progress(cid, "auth:ann").line() == (
        "8 judged by you, 0 left for you; 0 of 8 items complete (8 of 16 judgments)")


def test_the_fallback_banner_gives_its_reason_in_the_pages_language(studio):
    from ui.common import fallback_banner

    studio.fallback_reason = Message("model_offline", model="deepvk/USER-base")  # as app.load_encoder gives it
    english = html.unescape(fallback_banner(studio, "en"))
    assert "Could not load 'deepvk/USER-base': it is not in the local Hugging Face cache" in english
    russian = fallback_banner(studio, "ru")
    assert "её нет в локальном кэше Hugging Face, а хаб недоступен" in russian
    studio.fallback_reason = "could not load 'deepvk/USER-base' from /x: some library's English error"
    assert "some library" in fallback_banner(studio, "en")
    russian = fallback_banner(studio, "ru")
    assert "some library" not in russian and "журнале сервера" in russian
    # whatever the reason, the Russian banner's words outside code and model names are Russian
    assert not re.findall(r"\b[a-z]{4,}\b", re.sub(r"`[^`]*`|deepvk/USER-base|Hugging Face", "", russian))


def test_review_names_the_apps_tabs_as_the_page_does(studio):
    from ui.review_tab import review

    studio.store.add(Judgment("similar", "кошка", positive="кот", user="anon:k", tab="clustering"))
    with page_in("ru"):
        records, _, _, by_tab, _ = review(studio, Identity("anon:k"), "(all)", "", "(all)", 10)
    assert list(by_tab.iloc[:, 0]) == ["Кластеризация"] and list(records["вкладка"]) == ["Кластеризация"]


def test_the_upload_limit_reads_the_same_in_the_labels_the_errors_and_gradios_check(tmp_path):
    from core.inputs.corpus import load_table
    from core.limits import Limits
    from ui.i18n import EN, RU, translate_error

    limit = Limits().upload_bytes
    # Gradio's browser check words its limit in binary units ("maximum allowed size of 5.0 Mb"):
    # the limit is a whole number of them, and the labels name that number.
    assert limit == 5 * 2**20
    assert "5 MiB at most" in EN["cl_file"] and "не больше 5 МиБ" in RU["cl_file"]
    path = tmp_path / "big.csv"
    path.write_text("text\n" + "слово слово\n" * 500_000, encoding="utf-8")  # about 10 MB
    with pytest.raises(UserError) as caught:
        load_table(path, max_bytes=limit)
    assert "; the limit is 5.0 MiB (5,242,880 bytes)." in str(caught.value)
    assert "предел 5.0 МиБ" in translate_error(caught.value.message, "ru")
