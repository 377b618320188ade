"""Messages carry keys: every key raised anywhere has its text in English and Russian."""

from __future__ import annotations

import ast
import copy
import json
import pickle
import string
from pathlib import Path

import pytest

from core.errors import MESSAGES, Message, UserError, check_choice, message_of
from ui.i18n import translate_error
from ui.i18n.errors import MESSAGES_RU

ROOT = Path(__file__).resolve().parents[1]
NBSP = "\u00a0"


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


def test_every_message_has_russian_text_with_the_same_placeholders():
    assert MESSAGES.keys() == MESSAGES_RU.keys(), (sorted(MESSAGES.keys() - MESSAGES_RU.keys()),
                                                   sorted(MESSAGES_RU.keys() - MESSAGES.keys()))
    for key, english in MESSAGES.items():
        assert english.strip() and MESSAGES_RU[key].strip(), key
        assert placeholders(english) == placeholders(MESSAGES_RU[key]), key


def literal_keys() -> list[tuple[str, int, str]]:
    """Keys written as the first argument of Message(...), UserError(...) and its subclasses in core/ and ui/.

    A key built from a word (``Message(f"job_state_{state}")``, ``word("what", what)``) counts by its
    fixed beginning, "job_state_*": test_keys_built_from_words_exist_for_every_word_used names the words.
    """
    makers = {"Message", "UserError", "TrainingRefused", "word"}
    found = []
    for folder in ("core", "ui"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in makers
                        and node.args):
                    continue
                first = node.args[0]
                if node.func.id == "word":  # word("what", what): a key what_<something>
                    if isinstance(first, ast.Constant):
                        found.append((str(path.relative_to(ROOT)), node.lineno, f"{first.value}_*"))
                    continue
                if isinstance(first, ast.Constant) and isinstance(first.value, str):
                    found.append((str(path.relative_to(ROOT)), node.lineno, first.value))
                elif isinstance(first, ast.JoinedStr):  # Message(f"what_{what}"): its fixed beginning
                    prefix = "".join(v.value for v in first.values if isinstance(v, ast.Constant))
                    found.append((str(path.relative_to(ROOT)), node.lineno, prefix + "*"))
    return found


def test_every_key_raised_anywhere_has_text_in_both_languages():
    keys = literal_keys()
    assert len(keys) > 150  # the scan sees the raises (a refactoring that hides them would pass silently)
    missing = []
    for where, line, key in keys:
        if key.endswith("*"):
            ok = any(k.startswith(key[:-1]) for k in MESSAGES) and any(k.startswith(key[:-1]) for k in MESSAGES_RU)
        else:
            ok = key in MESSAGES and key in MESSAGES_RU
        if not ok:
            missing.append(f"{where}:{line} {key}")
    assert not missing, "\n".join(missing)


def test_keys_built_from_words_exist_for_every_word_used():
    # Message(f"what_{what}"), Message(f"role_{role}") and friends: the words the code passes.
    for word in ("queries", "passages", "texts", "query", "pairs", "corpus_passages", "passages_deduplicated"):
        assert f"what_{word}" in MESSAGES, word
    for role in ("query", "passage", "text", "label", "embedding"):
        assert f"role_{role}" in MESSAGES, role
    for kind in ("similar", "dissimilar"):
        assert f"call_{kind}" in MESSAGES, kind


def test_a_word_the_catalogue_does_not_know_reads_as_it_is():
    from core.errors import word

    assert word("what", "queries").key == "what_queries"
    assert word("what", "sentences") == "sentences" and not isinstance(word("what", "sentences"), Message)


def test_a_message_is_its_english_text_and_keeps_its_key():
    message = Message("too_many_texts", count=1200, what=Message("what_passages"), limit=1000)
    assert message == "1,200 passages is more than the limit of 1,000; send fewer"
    assert isinstance(message, str) and message.key == "too_many_texts" and message.values["count"] == 1200
    for copied in (copy.deepcopy(message), pickle.loads(pickle.dumps(message))):
        assert copied == message and copied.key == message.key
    error = UserError("too_many_texts", count=3, what=Message("what_queries"), limit=2)
    assert isinstance(error, ValueError) and str(error) == "3 queries is more than the limit of 2; send fewer"
    assert message_of(error) is error.message
    copied_error = pickle.loads(pickle.dumps(error))  # as a worker process hands an error back
    assert str(copied_error) == str(error) and copied_error.message.key == "too_many_texts"
    assert message_of(PermissionError(Message("admins_only_everyone"))).key == "admins_only_everyone"
    assert message_of(ValueError("plain")) == "plain"
    with pytest.raises(KeyError):
        Message("no such key")


def test_the_one_of_helper_has_one_wording():
    check_choice("metric", "cosine", ("cosine", "euclidean"))
    with pytest.raises(UserError) as caught:
        check_choice("metric", "manhattan", ("cosine", "euclidean"))
    assert str(caught.value) == "metric must be one of cosine, euclidean; got 'manhattan'"
    assert translate_error(caught.value.message, "ru") == (
        "metric: допустимо одно из cosine, euclidean; получено 'manhattan'")


def test_one_of_checks_are_not_hand_written_any_more():
    stray = []
    for folder in ("core", "ui"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
                if any(words in line for words in ("use one of", "choose one of", "valid kinds:", "choose from")):
                    stray.append(f"{path.relative_to(ROOT)}:{number}")
    assert not stray, stray


# Real code paths: what a Russian page shows.

def test_a_limit_reads_as_russian():
    from core.studio import Limits

    with pytest.raises(UserError) as caught:
        Limits(max_chars=10).check_texts(["короткий", "x" * 4000], 100, "texts")
    assert str(caught.value) == "line 2 of the texts has 4,000 characters, more than the limit of 10"
    assert translate_error(caught.value.message, "ru") == (
        f"строка 2 (текстов): символов 4{NBSP}000 — больше предела 10")


def test_an_upload_error_reads_as_russian(tmp_path):
    from core.inputs.corpus import load_table

    path = tmp_path / "big.csv"
    path.write_text("text\n" + "строка\n" * 400, encoding="utf-8")
    with pytest.raises(UserError) as caught:
        load_table(path, max_bytes=1_024)
    # binary units, as the limit is set and as Gradio's own check words it (5 MiB reads "5.0 Mb" there)
    assert str(caught.value).startswith("big.csv is 5.1 KiB (5,205 bytes); the limit is 1.0 KiB (1,024 bytes).")
    assert translate_error(caught.value.message, "ru") == (
        f"big.csv весит 5.1 КиБ (5{NBSP}205 байт); предел 1.0 КиБ (1{NBSP}024 байт). "
        "Загрузите файл поменьше или его часть.")
    cp1251 = tmp_path / "old.txt"
    cp1251.write_bytes("первая\nвторая\n".encode("cp1251"))
    notes = load_table(cp1251).warnings
    assert [translate_error(note, "ru") for note in notes] == ["Файл не в UTF-8; он прочитан как Windows-1251 (cp1251)."]


def test_a_one_of_check_from_real_code_reads_as_russian():
    from core.exploration.clustering import make_clusterer

    with pytest.raises(ValueError) as caught:
        make_clusterer("dbscan")
    russian = translate_error(message_of(caught.value), "ru")
    assert russian.startswith("clusterer: допустимо одно из k-means, HDBSCAN") and russian.endswith("получено 'dbscan'")


def test_a_training_refusal_reads_as_russian_whole_and_per_kind():
    from core.training.recipe import Prompts, TrainingRefused, build_sets

    with pytest.raises(TrainingRefused) as caught:
        build_sets([], ["labels"], Prompts())
    refusal = caught.value
    assert pickle.loads(pickle.dumps(refusal)).message.key == "training_nothing"
    assert str(refusal).startswith("Nothing to train on. Labels: 0 training row(s), at least ")
    assert translate_error(refusal.message, "ru").startswith("Обучать не на чем. Метки: строк для обучения: 0")
    assert translate_error(refusal.refusals["labels"], "ru").endswith("(нужны темы, хотя бы два текста на тему)")


def test_progress_steps_read_as_russian():
    assert translate_error(Message("progress_encoding", done=4000, total=12000), "ru") == (
        f"кодирование: 4{NBSP}000 из 12{NBSP}000 текстов")
    assert translate_error(Message("progress_drawing_map"), "ru") == "рисуем карту"


def test_a_message_survives_the_training_process_json():
    from core.errors import message_from_json, message_to_json
    from core.training.recipe import Prompts, TrainingRefused, build_sets

    with pytest.raises(TrainingRefused) as caught:
        build_sets([], ["graded", "labels"], Prompts())
    sent = json.loads(json.dumps({"error": str(caught.value), "message": message_to_json(caught.value.message)}))
    back = message_from_json(sent["message"], sent["error"])
    assert back == str(caught.value) and translate_error(back, "ru").startswith("Обучать не на чем. Оценки и вердикты")
    assert message_from_json({"key": "a key from another version", "values": {}}, "as it was") == "as it was"
    assert message_from_json(None, "as it was") == "as it was"


def test_the_training_status_line_reads_as_russian():
    from core.training.jobs import REFUSED, RUNNING, TrainingJob
    from core.training.trainer import TrainingConfig, TrainingProgress

    job = TrainingJob("j", "me", TrainingConfig(base_model="m", kinds=("graded",)), None, None, None)
    job.state, job.progress = RUNNING, TrainingProgress("training", 5, 40, 0.12345, 10.0, 33.0)
    assert job.describe() == "training: step 5 of 40, loss 0.1235, about 33 s left"
    assert translate_error(job.describe(), "ru") == "обучение: шаг 5 из 40, потери 0.1235, осталось около 33 с"
    job.state, job.error = REFUSED, UserError("hold_out_too_few", count=1).message
    assert job.describe() == "refused: a hold-out needs at least 2 judgments, got 1"
    assert translate_error(job.describe(), "ru") == "отказ: для отложенной части нужны хотя бы 2 оценки, получено 1"
