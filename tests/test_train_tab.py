"""The Train tab and its API: counts, one job at a time, privacy, promotion, loading a version.

Trains the tiny random DeBERTa (tests/model_factory.py), so a run takes seconds; that the loop
improves a real model is shown in tests/test_training_quality.py.
"""

from __future__ import annotations

import json
import re
import shutil
import time
from pathlib import Path

import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError

from core.encoding.encoder import Encoder
from core.identity import Identity
from core.judgments import Judgment, JudgmentStore
from core.studio import Studio
from core.training.jobs import DONE
from ui import common, train_tab

ALICE = Identity(user="anon:alice000001", is_admin=False, token="t")
MALLORY = Identity(user="anon:mallory0001", is_admin=False, token="t")
ADMIN = Identity(user="auth:admin", is_admin=True, token=None)


def score_judgments(n: int, user: str) -> list[Judgment]:
    return [Judgment(kind="score", anchor=f"предложение {user} {i}", positive=f"пара {i}", score=float(i % 6),
                     user=user, query_prefix="query: ", passage_prefix="query: ") for i in range(n)]


@pytest.fixture
def studio(tiny_model_dir, tmp_path) -> Studio:
    store = JudgmentStore(tmp_path / "feedback.sqlite")
    for judgment in score_judgments(40, ALICE.user):
        store.add(judgment)
    store.add(Judgment(kind="relevant", anchor="чужой вопрос", positive="чужой ответ", user=MALLORY.user))
    return Studio(Encoder(str(tiny_model_dir), device="cpu", dtype="float32"), store=store)


def wait_done(studio: Studio, timeout: float = 180.0):
    job = studio.training.wait(timeout)
    assert job is not None and not job.running
    return job


def test_readiness_counts_rows_and_says_what_each_kind_lacks(studio):
    choices, ready, note = train_tab.readiness(studio, ALICE, train_tab.MINE)
    assert choices[0] == ("Scores and verdicts (40 rows)", "graded") and ready == ["graded"]
    assert "**40** of your judgments" in note and "CoSENTLoss" in note and "Labels" in note
    _, ready, note = train_tab.readiness(studio, MALLORY, train_tab.MINE)
    assert ready == [] and "at least 10" in note  # one judgment of her own; Alice's are not counted
    with pytest.raises(PermissionError, match="only admins"):
        train_tab.readiness(studio, MALLORY, train_tab.EVERYONE)
    assert "**41** of everyone's judgments" in train_tab.readiness(studio, ADMIN, train_tab.EVERYONE)[2]


def test_bad_requests_are_refused_before_anything_starts(studio):
    base = ""
    with pytest.raises(ValueError, match="at least one"):
        train_tab.start(studio, ALICE, train_tab.MINE, base, [], 1, 2e-5, 16, True, 0)
    with pytest.raises(ValueError, match="whole number"):
        train_tab.start(studio, ALICE, train_tab.MINE, base, ["graded"], 1.5, 2e-5, 16, True, 0)
    with pytest.raises(ValueError, match="not loaded"):
        train_tab.start(studio, ALICE, train_tab.MINE, "nope", ["graded"], 1, 2e-5, 16, True, 0)
    with pytest.raises(ValueError, match="at least 10"):
        train_tab.start(studio, MALLORY, train_tab.MINE, base, ["graded"], 1, 2e-5, 16, True, 0)
    assert studio.training.current() is None


@pytest.mark.slow
def test_a_job_is_private_to_its_owner_and_its_version_can_be_loaded(studio):
    job = train_tab.start(studio, ALICE, train_tab.MINE, "", ["graded"], 1, 2e-5, 8, True, 0)
    with pytest.raises(ValueError, match="still running"):
        train_tab.start(studio, MALLORY, train_tab.MINE, "", ["graded"], 1, 2e-5, 8, True, 0)
    with pytest.raises(PermissionError):
        train_tab.cancel(studio, MALLORY)
    line, _, _, running = train_tab.status(studio, MALLORY)
    # The whole line: no model name, owner or progress of someone else's job (it started a moment ago).
    assert running and line == "Someone else's training job is running; one runs at a time. Started 0 min ago."
    assert wait_done(studio).state == DONE

    line, table, verdict, running = train_tab.status(studio, ALICE)
    report = job.report
    verdict_word = "promoted" if report.promoted else "not promoted"
    assert not running and re.fullmatch(
        rf"\*\*tiny-user0\*\* · finished in \d+ s: {re.escape(report.version)}, {verdict_word} \(.+\)", line), line
    assert list(table["metric"]) == ["scores: Spearman", "ParaPhraser Spearman"]
    assert ("Promoted" in verdict) is job.report.promoted
    assert train_tab.status(studio, MALLORY)[0] == "No training job of yours yet."
    name = job.report.version
    assert list(train_tab.versions(studio, ALICE)["version"]) == [name]
    assert train_tab.versions(studio, MALLORY).empty and list(train_tab.versions(studio, ADMIN)["version"]) == [name]

    with pytest.raises(ValueError, match="among yours"):
        train_tab.use_version(studio, MALLORY, name, anyway=True)
    if not job.report.promoted:
        with pytest.raises(ValueError, match="load it anyway"):
            train_tab.use_version(studio, ALICE, name)
    message = train_tab.use_version(studio, ALICE, name, anyway=True)
    assert message == (f"Loaded `{name}` next to the base model. In the Similarity tab pick it as the model or "
                       "'side by side with' to see both models' scores and the change (32-d). Only you and "
                       "admins can use it; tick 'For everyone' and load it again to share it.")
    assert len(studio.encoders) == 2 and studio.model(name, ALICE.user).dim == 32
    # Loading another version replaces the tuned one instead of piling models up.
    train_tab.use_version(studio, ALICE, name, anyway=True)
    assert len(studio.encoders) == 2


def saved_version(studio: Studio, owner: str) -> str:
    """A version ``owner`` trained, saved without training (a stand-in model)."""
    from tests.test_training import FakeModel, report_with

    report = report_with(0.02, 0.0)
    report.trained_by = owner
    return studio.registry.save(FakeModel(), report).name


def test_another_users_version_is_refused_as_a_missing_one_and_their_names_stay_hidden(studio):
    alices = [saved_version(studio, ALICE.user) for _ in range(2)]
    mine = saved_version(studio, MALLORY.user)
    for _ in range(3):  # mallory's runs keep her newest three and leave alice's versions alone
        saved_version(studio, MALLORY.user)
    assert list(train_tab.versions(studio, ALICE)["version"]) == alices[::-1]
    assert mine not in set(train_tab.versions(studio, MALLORY)["version"])
    answers = []
    for name in (alices[0], "m-tuned-9999"):
        with pytest.raises(ValueError) as refused:
            train_tab.use_version(studio, MALLORY, name, anyway=True)
        answers.append(str(refused.value).replace(repr(name), "NAME"))
    assert answers[0] == answers[1]
    assert not any(alice in answers[0] for alice in alices) and "your saved versions: m-tuned-" in answers[0]
    assert studio.tuned is None


@pytest.fixture
def tuned_dir(tiny_model_dir, tmp_path) -> Path:
    """A second copy of the tiny model, standing for a saved version (its own folder: its own model id)."""
    return Path(shutil.copytree(tiny_model_dir, tmp_path / "tiny-user0-tuned-0001"))


def test_a_loaded_tuned_model_serves_its_owner_and_admins_until_loaded_for_everyone(studio, tuned_dir):
    name, queries, passages = tuned_dir.name, ["погода"], ["дождь", "солнце"]
    studio.load_tuned(tuned_dir, owner=ALICE.user)
    assert studio.similarity(queries, passages, model=name, user=ALICE.user).model_id == str(tuned_dir)
    assert studio.similarity(queries, passages, model=name, user=ADMIN.user, is_admin=True).model_id == str(tuned_dir)
    for user in (MALLORY.user, None):  # another user, and a caller the server cannot identify
        assert list(studio.models_for(user)) == [studio.encoder.model_id]
        answers = []
        for model in (name, "tiny-user0-tuned-0002"):
            with pytest.raises(ValueError) as refused:
                studio.similarity(queries, passages, model=model, user=user)
            answers.append(str(refused.value).replace(repr(model), "NAME"))
            with pytest.raises(ValueError, match="not loaded"):
                studio.encode_ahead(passages, model=model, user=user)
        assert answers[0] == answers[1] and name not in answers[0]
        with pytest.raises(ValueError, match="not loaded"):
            train_tab.start(studio, MALLORY, train_tab.MINE, name, ["graded"], 1, 2e-5, 16, True, 0)
    assert name not in common.model_header(studio)  # the page header is everyone's

    studio.load_tuned(tuned_dir, owner=ALICE.user, for_everyone=True)
    assert studio.similarity(queries, passages, model=name, user=MALLORY.user).model_id == str(tuned_dir)
    assert studio.similarity(queries, passages, model=name).model_id == str(tuned_dir)
    assert name in common.model_header(studio)


def test_the_similarity_and_evaluate_tabs_offer_and_use_a_private_tuned_model_for_its_owner_only(studio, tuned_dir):
    from ui import evaluate_tab, similarity_tab

    name = tuned_dir.name
    studio.load_tuned(tuned_dir, owner=ALICE.user)
    assert name in similarity_tab.model_choices(studio, ALICE)[0]["choices"]
    assert name not in similarity_tab.model_choices(studio, MALLORY)[0]["choices"]
    assert name not in evaluate_tab.model_pickers(studio, None, None, None, MALLORY)[0]["choices"]
    assert list(evaluate_tab.select_encoders(studio, None, MALLORY)) == [studio.encoder.model_id]
    assert len(evaluate_tab.select_encoders(studio, None, ADMIN)) == 2
    status = similarity_tab.run_similarity(studio, "погода", "дождь\nсолнце", model=name, identity=ALICE)[3]
    assert status.endswith(f"model `{name}`")
    with pytest.raises(ValueError, match="not loaded"):
        similarity_tab.run_similarity(studio, "погода", "дождь", model=name, identity=MALLORY)
    with pytest.raises(ValueError, match="not loaded"):
        similarity_tab.run_side_by_side(studio, "погода", "дождь", "query", "passage", "", name, MALLORY)
    with pytest.raises(ValueError, match="not loaded"):
        evaluate_tab.run_search(studio, "погода", None, 10, model=name, identity=MALLORY)


# -- the API on a real server -----------------------------------------------------------------------
@pytest.fixture(scope="module")
def live(tiny_model_dir, tmp_path_factory):
    from tests.app_server import start_app, stop_app

    app = start_app(tiny_model_dir, tmp_path_factory.mktemp("train-data"), warm_projection=False)
    yield app
    stop_app(app)


# What /similarity says for one query and two passages with the default prefixes and top k (5 > 2).
SIMILARITY_STATUS = "1 queries × 2 passages, prefixes `query: ` / `passage: ` · ranking: every passage"


def flag_scores(client: Client, n: int, token: str = "") -> tuple[str, str]:
    """Flag ``n`` scores as one anonymous user; that user's (token, user id)."""
    for i in range(n):
        answer = client.predict("score", f"фраза {i} о погоде", f"вторая фраза {i}", "", float(i % 6), "", "",
                                "query: ", "query: ", "api", token, api_name="/flag")
        token, user = answer["token"], answer["user"]
    return token, user


@pytest.mark.slow
def test_training_through_the_api_while_the_app_keeps_answering(live):
    client = Client(live.url, verbose=False)
    alice, alice_user = flag_scores(client, 30)
    mallory, _ = flag_scores(client, 1)

    with pytest.raises(AppError, match="at least 10"):
        client.predict("graded", "", 1, False, mallory, api_name="/train")
    with pytest.raises(AppError, match="only admins"):
        client.predict("graded", "", 1, True, alice, api_name="/train")
    started = client.predict("graded", "", 3, False, alice, api_name="/train")
    assert started["state"] == "running" and started["kinds"] == ["graded"]
    assert started["base_model"] == "tiny-user0"  # a folder by its name, never its server path

    # Meanwhile: other users are answered, cannot see, cancel or start a job.
    answered_while_running = False
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        status = client.predict(alice, api_name="/training_status")
        if status["state"] != "running":
            break
        if not answered_while_running:  # the child process is loading, scoring or training
            result = client.predict("погода", "дождь\nсолнце", "query", "passage", "", api_name="/similarity")
            assert result[3] == SIMILARITY_STATUS
            answered_while_running = client.predict(alice, api_name="/training_status")["state"] == "running"
            assert client.predict(mallory, api_name="/training_status") == {"state": "busy"}
            with pytest.raises(AppError, match="only the person"):
                client.predict(mallory, api_name="/cancel_training")
            with pytest.raises(AppError, match="someone else"):
                client.predict("graded", "", 1, False, mallory, api_name="/train")
        time.sleep(0.5)
    assert answered_while_running, "the job ended before the app could be asked anything meanwhile"
    assert status["state"] == DONE, status
    report = status["report"]
    assert [m["split"] for m in report["metrics"]] == ["held-out", "regression"]
    assert report["judgments"] == 30 and report["trained_by"] == alice_user and alice_user.startswith("anon:")
    text = json.dumps(status)
    assert str(live.data_dir) not in text and "model_dir" not in text

    version = report["version"]
    # mallory, who has no versions, learns nothing from alice's name: the answer a missing name gets.
    refusals = []
    for name in (version, "tiny-user0-tuned-9999"):
        with pytest.raises(AppError) as refused:
            client.predict(name, True, mallory, api_name="/use_model")
        refusals.append(str(refused.value).replace(repr(name), "NAME"))
    assert refusals[0] == refusals[1] and "among yours" in refusals[0] and "tuned-0" not in refusals[0]
    with pytest.raises(AppError, match="no tuned model named"):
        client.predict("../feedback.sqlite", True, alice, api_name="/use_model")
    loaded = client.predict(version, True, alice, api_name="/use_model")
    assert loaded["model"] == version and "Only you and admins" in loaded["message"]
    tuned = client.predict("погода", "дождь\nсолнце", "query", "passage", version, 5, alice, api_name="/similarity")
    assert tuned[3] == f"{SIMILARITY_STATUS} · model `{version}`"
    # Loaded for alice: mallory's and an anonymous /similarity are refused as for a model not loaded.
    for token in (mallory, ""):
        answers = []
        for name in (version, "tiny-user0-tuned-9999"):
            with pytest.raises(AppError) as refused:
                client.predict("погода", "дождь", "query", "passage", name, 5, token, api_name="/similarity")
            answers.append(str(refused.value).replace(repr(name), "NAME"))
        assert answers[0] == answers[1] and version not in answers[0]
    client.predict(version, True, alice, True, api_name="/use_model")  # for everyone
    shared = client.predict("погода", "дождь\nсолнце", "query", "passage", version, 5, mallory,
                            api_name="/similarity")
    assert shared[3] == tuned[3]
    assert client.predict(mallory, api_name="/training_status") == {"state": "none"}


@pytest.mark.slow
def test_a_campaigns_consensus_trains_for_its_creator_only(studio):
    from tests.test_campaigns import pair_table

    pairs = [(f"фраза {i} кампании", f"другая фраза {i}") for i in range(20)]
    campaign = studio.campaigns.create(ALICE.user, pair_table(pairs), "score", overlap=2).id
    for user in ("anon:annotator01", "anon:annotator02"):
        while (item := studio.campaigns.next_item(campaign, user)) is not None:
            studio.campaigns.submit(campaign, item.item_id, Judgment("score", "", score=item.item_id % 6, user=user))

    # 16 training rows are one step of the default batch 16, which the warm-up runs at learning rate 0.
    assert "one step of batch 16" in train_tab.readiness(studio, ALICE, train_tab.CAMPAIGN, campaign)[2]
    choices, ready, note = train_tab.readiness(studio, ALICE, train_tab.CAMPAIGN, campaign, batch_size=8)
    assert ready == ["graded"] and "**20** of the campaign's consensus" in note, note
    with pytest.raises(PermissionError):
        train_tab.readiness(studio, MALLORY, train_tab.CAMPAIGN, campaign)
    with pytest.raises(PermissionError):
        train_tab.start(studio, MALLORY, train_tab.CAMPAIGN, "", ["graded"], 1, 2e-5, 8, True, 0, 0.0, campaign)
    assert studio.training.current() is None

    job = train_tab.start(studio, ALICE, train_tab.CAMPAIGN, "", ["graded"], 1, 2e-5, 8, True, 0, 0.0, campaign)
    argv = studio.training.argv(job)
    assert argv[argv.index("--campaign") + 1] == campaign and "--user" not in argv
    done = wait_done(studio)
    assert done.state == DONE, done.error
    assert done.report.judgments == 20  # one row per item, not the 40 individual judgments


# -- readiness before a run, Russian wording (issue 26) ---------------------------------------------
BOB = Identity(user="anon:bob00000001", is_admin=False, token="t")


def russian(monkeypatch) -> None:
    """Handlers answer as for a Russian page (the language a request's page set)."""
    import ui.i18n

    monkeypatch.setattr(ui.i18n, "current", lambda: "ru")


def test_a_kind_that_cannot_show_a_gain_is_not_ticked_and_cannot_be_started(studio, monkeypatch):
    # Issue 26's first training: 25 relevance verdicts and 28 labels of one topic, all "(ready)".
    for i in range(28):
        studio.store.add(Judgment(kind="label", anchor=f"текст о картах {i}", label="карты", user=BOB.user))
    for i in range(25):
        # A relevant passage identical to its query (cosine 1 under any model): the held-out part is perfect.
        text = f"вопрос {i} о вкладах"
        studio.store.add(Judgment(kind="relevant" if i % 2 else "not_relevant", anchor=text,
                                  positive=text if i % 2 else f"другой ответ {i}", user=BOB.user,
                                  query_prefix="query: ", passage_prefix="query: "))
    choices, ready, note = train_tab.readiness(studio, BOB, train_tab.MINE)
    assert ready == [] and ("Labels (28 rows)", "labels") in choices
    assert "**Scores and verdicts**: already perfect: the current model's verdicts: average precision on the 5 " \
           "held-out rows is 1.000" in note and "boundary campaign" in note
    assert "all 28 labelled texts have one label ('карты')" in note
    for kinds, match in ((["graded"], "already perfect"), (["labels"], "one label"),
                         (["graded", "labels"], "one label")):
        with pytest.raises(ValueError, match=match):  # an API caller who starts it anyway
            train_tab.start(studio, BOB, train_tab.MINE, "", kinds, 1, 2e-5, 16, True, 0)
    assert studio.training.current() is None
    russian(monkeypatch)
    note = train_tab.readiness(studio, BOB, train_tab.MINE)[2]
    assert "уже безошибочно: вердикты: средняя точность текущей модели на 5 отложенных строках — 1.000" in note
    assert "already" not in note and "labelled" not in note


def test_readiness_shows_the_held_out_size_and_current_score_of_a_ready_kind(studio):
    note = train_tab.readiness(studio, ALICE, train_tab.MINE)[2]
    kind = train_tab.assess_kinds(studio, ALICE, studio.store.judgments(user=ALICE.user), ["graded"])[0]
    assert kind.ready and kind.held_out_rows == 8 and kind.metric == "scores: Spearman"
    assert (f"**Scores and verdicts**: 40 rows, trains with CoSENTLoss; held out: 8 rows, where the current "
            f"model's scores: Spearman is {kind.score:.3f} (ready)") in note
    # Batch 32 makes one step of 32 rows, which the warm-up runs at learning rate 0: nothing would change.
    _, ready, note = train_tab.readiness(studio, ALICE, train_tab.MINE, batch_size=32)
    assert ready == [] and "set the batch size to 11 under Settings (3 steps)" in note
    with pytest.raises(ValueError, match="one step of batch 32"):
        train_tab.start(studio, ALICE, train_tab.MINE, "", ["graded"], 1, 2e-5, 32, True, 0)


def first_batch(shared_data: Path) -> list[Judgment]:
    """Issue 26's realistic first batch: 40 relevance verdicts on 5 questions, half "not relevant", the
    passages judged being a shared pool (each question is ranked against the same passages), from the
    question-answering intents of the shared Russian data."""
    import csv

    by_intent: dict[str, list[str]] = {}
    with open(shared_data / "intents_ru.csv", encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            if row["scenario"] == "qa":
                by_intent.setdefault(row["intent"], []).append(row["text"])
    intents = sorted(name for name, texts in by_intent.items() if len(texts) >= 7)[:5]
    questions, pools = [by_intent[n][0] for n in intents], [by_intent[n][1:7] for n in intents]
    out = []
    for q, question in enumerate(questions):
        judged = [("relevant", text) for text in pools[q][:4]]
        judged += [("not_relevant", text) for text in pools[(q + 1) % 5][:2] + pools[(q + 2) % 5][2:4]]
        out += [Judgment(kind=kind, anchor=question, positive=text, user=BOB.user, query_prefix="query: ",
                         passage_prefix="passage: ") for kind, text in judged]
    return out


def test_a_realistic_first_batch_is_refused_in_advance_with_its_reason(studio, shared_data, monkeypatch):
    batch = first_batch(shared_data)
    assert len(batch) == 40 and sum(j.kind == "not_relevant" for j in batch) == 20
    for judgment in batch:
        studio.store.add(judgment)
    kinds = {seed: train_tab.assess_kinds(studio, BOB, batch, ["graded"], "",
                                          train_tab.TrainingConfig("m", ("graded",), seed=seed))[0]
             for seed in (0, 2)}
    # The passages are shared, so the hold-out goes by text and leaves out what straddles both sides.
    assert [(k.train_rows, k.held_out_rows) for k in kinds.values()] == [(27, 3), (18, 2)]
    assert kinds[2].dropped == 20 and "20 judgments have texts on both sides and are left out of both" in kinds[2].reason
    _, ready, note = train_tab.readiness(studio, BOB, train_tab.MINE)
    # Seed 0: three held-out rows that the model already ranks perfectly (multilingual-e5-small too: 1.000).
    assert "graded" not in ready and "average precision on the 3 held-out rows is 1.000" in note
    with pytest.raises(ValueError, match="Cannot train to a measurable result"):
        train_tab.start(studio, BOB, train_tab.MINE, "", ["graded"], 1, 2e-5, 16, True, 0)
    with pytest.raises(ValueError, match="too few to measure: the held-out part"):
        train_tab.start(studio, BOB, train_tab.MINE, "", ["graded"], 1, 2e-5, 16, True, 2)
    assert studio.training.current() is None


# The app's own English words that a Russian Train tab showed (issue 26, point 4).
TRAIN_ENGLISH = ("held-out", "regression", "Spearman is", "scores: Spearman", "promoted", "finished", "fell by",
                 "forgot", "improve")


def test_status_versions_and_reasons_read_in_russian_and_older_reports_still_show(studio, monkeypatch):
    from core.training.jobs import TrainingJob
    from core.training.trainer import TrainingConfig, TrainingReport, promotion
    from tests.test_training import FakeModel, report_with

    report = report_with(0.02, -0.02)
    report.promoted, report.reason = promotion(report)
    report.trained_by, report.seconds = ALICE.user, 12.0
    path = studio.registry.save(FakeModel(), report)
    # What the app reads back: the job's report from the child's JSON, the version's from its file.
    job = TrainingJob("j1", ALICE.user, TrainingConfig("tiny-user0", ("graded",)), [ALICE.user], state=DONE,
                      report=TrainingReport.from_dict(json.loads(json.dumps(report.to_dict()))))
    monkeypatch.setattr(studio.training, "_job", job)
    english_line = train_tab.status(studio, ALICE)[0]
    assert "finished in 12 s" in english_line and "the regression set fell by 0.0200" in english_line
    russian(monkeypatch)
    line, table, verdict, _ = train_tab.status(studio, ALICE)
    versions = train_tab.versions(studio, ALICE)
    assert "готово за 12 с" in line and "не принята (на регрессионном наборе падение 0.0200" in line
    assert list(table["metric"]) == ["оценки: Спирмен", "Спирмен на ParaPhraser"]
    assert list(table["set"]) == ["отложенные", "регрессия"]
    assert "оценки: Спирмен (отложенные, строк: 40): 0.5000 → 0.5200 (+0.0200)" in verdict
    assert list(versions["promoted"]) == ["нет"] and versions["reason"][0].startswith("на регрессионном наборе")
    shown = " ".join([line, verdict, *map(str, table.to_numpy().ravel()), *map(str, versions.to_numpy().ravel())])
    assert [word for word in TRAIN_ENGLISH if word in shown] == []
    from ui.i18n import translate_error

    monkeypatch.setattr(job, "state", "running")  # cancelling is worded by key too
    assert translate_error(train_tab.cancel(studio, ALICE)) == "отмена: обучение остановится на следующем шаге"
    # A report saved before reasons had keys still shows, in the English it was saved in.
    stored = json.loads((path / "user_studio.json").read_text(encoding="utf-8"))
    del stored["reason_message"]
    (path / "user_studio.json").write_text(json.dumps(stored), encoding="utf-8")
    assert train_tab.versions(studio, ALICE)["reason"][0].startswith("the regression set fell by 0.0200")
