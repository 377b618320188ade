"""The Train tab and its API: counts, one job at a time, privacy, promotion, loading a version.

Trains the tiny random DeBERTa (tests/model_factory.py), so a run takes seconds; that the loop
improves a real model is shown in tests/test_training_quality.py.
"""

from __future__ import annotations

import json
import re
import time

import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError

from core.encoding.encoder import Encoder
from core.identity import Identity
from core.judgments import Judgment, JudgmentStore
from core.studio import Studio
from core.training.jobs import DONE
from ui import train_tab

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
                       "'side by side with' to see both models' scores and the change (32-d).")
    assert len(studio.encoders) == 2 and studio.model(name).dim == 32
    # Loading another version replaces the tuned one instead of piling models up.
    train_tab.use_version(studio, ALICE, name, anyway=True)
    assert len(studio.encoders) == 2


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
    with pytest.raises(AppError, match="among yours"):
        client.predict(version, True, mallory, api_name="/use_model")
    with pytest.raises(AppError, match="no tuned model named"):
        client.predict("../feedback.sqlite", True, alice, api_name="/use_model")
    loaded = client.predict(version, True, alice, api_name="/use_model")
    assert loaded["model"] == version
    tuned = client.predict("погода", "дождь\nсолнце", "query", "passage", version, api_name="/similarity")
    assert tuned[3] == f"{SIMILARITY_STATUS} · model `{version}`"
    assert client.predict(mallory, api_name="/training_status") == {"state": "none"}


@pytest.mark.slow
def test_a_campaigns_consensus_trains_for_its_creator_only(studio):
    from tests.test_campaigns import pair_table

    pairs = [(f"фраза {i} кампании", f"другая фраза {i}") for i in range(15)]
    campaign = studio.campaigns.create(ALICE.user, pair_table(pairs), "score", overlap=2).id
    for user in ("anon:annotator01", "anon:annotator02"):
        while (item := studio.campaigns.next_item(campaign, user)) is not None:
            studio.campaigns.submit(campaign, item.item_id, Judgment("score", "", score=item.item_id % 6, user=user))

    choices, ready, note = train_tab.readiness(studio, ALICE, train_tab.CAMPAIGN, campaign)
    assert ready == ["graded"] and "**15** of the campaign's consensus" in note
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
    assert done.report.judgments == 15  # one row per item, not the 30 individual judgments
