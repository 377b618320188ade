"""c-TF-IDF keywords: Russian tokenisation, stop words, distinctive words per cluster."""

from __future__ import annotations

import pytest

from core.exploration.keywords import RUSSIAN_STOP_WORDS, class_tfidf, tokenize, top_keywords


def test_tokenize_lowercases_keeps_yo_and_drops_short_words_and_digits():
    assert tokenize("Ёжик и ЁЛКА в 2024 году, ок?") == ["ёжик", "ёлка", "году"]


def test_tokenize_keeps_hyphenated_words_and_latin():
    assert tokenize("Онлайн-курс по Python: что-то новое") == ["онлайн-курс", "python", "новое"]


def test_tokenize_removes_stop_words_unless_disabled():
    text = "Это было очень для меня query passage"
    assert tokenize(text) == []
    assert tokenize(text, stop_words=None) == ["это", "было", "очень", "для", "меня", "query", "passage"]


def test_stop_word_list_is_substantial_and_lowercase():
    assert len(RUSSIAN_STOP_WORDS) >= 150
    assert {"и", "в", "не", "на", "что", "как", "это", "для", "по", "query", "passage"} <= RUSSIAN_STOP_WORDS
    assert all(w == w.lower() for w in RUSSIAN_STOP_WORDS)


SPORT = [
    "Это был очень важный матч для команды, и вратарь спас команду",
    "Команда выиграла матч, вратарь отбил пенальти",
    "Для команды этот матч был решающим",
]
WEATHER = [
    "Это был очень холодный день, снег шёл с утра",
    "Снег и мороз будут и завтра, это точно",
    "Для прогулки снег не помеха, мороз несильный",
]


def test_distinctive_words_win_and_stop_words_never_appear():
    kw = top_keywords(SPORT + WEATHER, [0] * 3 + [1] * 3, n=3)
    assert set(kw) == {0, 1}
    # Lemmas: "команды" and "команда" count together, so the team now leads.
    assert kw[0] == ["команда", "матч", "вратарь"]
    assert kw[1][:2] == ["снег", "мороз"]
    assert not set(kw[0] + kw[1]) & RUSSIAN_STOP_WORDS


def test_words_shared_by_all_clusters_rank_below_distinctive_ones():
    texts = ["погода вратарь вратарь", "погода вратарь", "погода ипотека ипотека", "погода ипотека"]
    kw = top_keywords(texts, [0, 0, 1, 1], n=2)
    assert kw == {0: ["вратарь", "погода"], 1: ["ипотека", "погода"]}


def test_n_limits_and_noise_label_is_kept():
    kw = top_keywords(["альфа бета гамма дельта", "шум помеха"], [5, -1], n=2)
    assert set(kw) == {-1, 5}
    assert len(kw[5]) == 2 and kw[-1] == ["помеха", "шум"]  # ties broken alphabetically


def test_cluster_without_usable_words_gets_empty_list():
    assert top_keywords(["и в на", "матч гол"], [0, 1]) == {0: [], 1: ["гол", "матч"]}


def test_empty_input_and_errors():
    assert top_keywords([], []) == {}
    with pytest.raises(ValueError, match="labels has 1"):
        top_keywords(["а", "б"], [0])
    with pytest.raises(ValueError, match="n must be"):
        top_keywords(["матч"], [0], n=0)


def test_class_tfidf_formula():
    from collections import Counter
    from math import isclose, log

    scores = class_tfidf({0: Counter({"гол": 2, "день": 2}), 1: Counter({"день": 4})})
    avg = 8 / 2
    assert isclose(scores[0]["гол"], 0.5 * log(1 + avg / 2))
    assert isclose(scores[1]["день"], 1.0 * log(1 + avg / 6))
    assert class_tfidf({0: Counter()}) == {0: {}}


def test_keywords_are_lemmas_so_a_cluster_reads_in_dictionary_forms():
    texts = ["Что вы делаете вечерами?", "Вечера мы делаем дома", "Вечер: делают уроки",
             "Погода завтра хорошая", "Какая погода будет завтра", "Завтра погоды не будет"]
    kw = top_keywords(texts, [0, 0, 0, 1, 1, 1], n=2)
    assert kw == {0: ["вечер", "делать"], 1: ["завтра", "погода"]}
    inflected = top_keywords(texts, [0, 0, 0, 1, 1, 1], n=2, lemmatize=False)
    assert "вечер" not in inflected[0] or "делать" not in inflected[0]


def test_lemmas_that_are_stop_words_never_appear_and_latin_words_stay():
    kw = top_keywords(["Были бы мы там", "Была хорошая погода", "iPhone погода", "iPhone дождь"], [0, 0, 1, 1])
    assert "быть" not in kw[0] and "iphone" in kw[1]
