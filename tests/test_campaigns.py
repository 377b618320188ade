"""core.campaigns without the app: tables, settings, handing out with overlap and leases, skip and undo,
progress, who may see agreement, consensus for training, model-chosen items, the CLI."""

from __future__ import annotations

import json
import math
import random

import numpy as np
import pytest

from core.campaigns import (
    MAX_ITEMS,
    MAX_LABELS,
    MAX_OVERLAP,
    CampaignStore,
    ItemTable,
    agreement_report,
    item_agreement,
    items_from_rows,
    items_from_table,
    krippendorff_alpha,
)
from core.campaigns.cli import main as cli_main
from core.campaigns.model import Item
from core.campaigns.uncertain import ClusterBorders, border_texts, boundary_pairs, tied_queries
from core.judgments import Judgment, JudgmentStore, NotOwnerError, export
from tests.pg_fixtures import REFUSED_BEFORE_ANY_STATEMENT

PAIRS = [("Где добывают нефть?", "Нефть добывают в Удмуртии."), ("Как варить борщ?", "Борщ варят со свёклой."),
         ("Кто написал «Онегина»?", "Пушкин написал роман в стихах."), ("Какая погода?", "Завтра дождь.")]


class Clock:
    """A clock the test moves by hand, so lease expiry needs no sleeping."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def stores(store_location):
    """A judgments store and its campaigns, once on SQLite and once on PostgreSQL (tests/pg_fixtures.py)."""
    store = JudgmentStore(store_location)
    clock = Clock()
    campaigns = CampaignStore(store, lease_s=60, clock=clock)
    yield store, campaigns, clock
    store.close()


def pair_table(pairs=PAIRS) -> ItemTable:
    return items_from_rows(pairs, ("query", "passage"))


def judge(campaigns, cid, user, kind="relevant", **extra):
    item = campaigns.next_item(cid, user)
    assert item is not None
    return item, campaigns.submit(cid, item.item_id, Judgment(kind, "", user=user, **extra))


# -- Krippendorff's alpha ------------------------------------------------------------------------------


def test_alpha_by_hand_nominal():
    """Three items, two people: (a, a), (a, b), (b, b).

    Coincidences o_aa = 2, o_ab = o_ba = 1, o_bb = 2; n_a = n_b = 3, n = 6.
    D_o = (1 + 1) / 6 = 1/3; D_e = (3*3 + 3*3) / (6*5) = 0.6; alpha = 1 - (1/3)/0.6 = 4/9.
    """
    assert krippendorff_alpha([["a", "a"], ["a", "b"], ["b", "b"]], "nominal") == pytest.approx(4 / 9)


def test_alpha_by_hand_interval():
    """(1, 2), (3, 3), (5, 4): D_o = (1+1+0+0+1+1)/6 = 2/3; over all 30 ordered pairs of the six
    values sum (v_i - v_j)^2 = 2*6*64 - 2*18^2 = 120, so D_e = 120/30 = 4; alpha = 1 - (2/3)/4 = 5/6."""
    assert krippendorff_alpha([[1, 2], [3, 3], [5, 4]], "interval") == pytest.approx(5 / 6)


def test_alpha_on_krippendorffs_own_example():
    """Krippendorff (2011), 'Computing Krippendorff's Alpha-Reliability', section C: 4 observers, 12 units
    with missing values; nominal alpha = 0.743, interval alpha = 0.849."""
    data = [[1, 2, 3, 3, 2, 1, 4, 1, 2, None, None, None], [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, None, 3],
            [None, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, None], [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, None]]
    units = [[row[u] for row in data if row[u] is not None] for u in range(12)]
    assert krippendorff_alpha(units, "nominal") == pytest.approx(0.743, abs=5e-4)
    assert krippendorff_alpha(units, "interval") == pytest.approx(0.849, abs=5e-4)


@pytest.mark.parametrize("level", ["nominal", "interval"])
def test_alpha_matches_the_krippendorff_package(level):
    krippendorff = pytest.importorskip("krippendorff", reason="the krippendorff package (requirements-dev) is absent")
    rng = random.Random(7)
    for trial in range(20):
        coders, units = rng.randint(2, 6), rng.randint(3, 40)
        values = [0, 1] if level == "nominal" and trial % 2 else [0, 1, 2, 3, 4, 5]
        data = np.full((coders, units), np.nan)
        for c in range(coders):
            for u in range(units):
                if rng.random() < 0.8:
                    data[c, u] = rng.choice(values)
        ours = krippendorff_alpha([[v for v in data[:, u] if not math.isnan(v)] for u in range(units)], level)
        try:
            theirs = krippendorff.alpha(reliability_data=data, level_of_measurement=level)
        except (ValueError, ZeroDivisionError):
            theirs = float("nan")
        if ours is None:
            assert theirs != theirs or not math.isfinite(theirs)
        else:
            assert ours == pytest.approx(theirs, abs=1e-9), f"trial {trial}"


def test_alpha_undefined_and_perfect():
    assert krippendorff_alpha([], "nominal") is None
    assert krippendorff_alpha([["a"], ["b"]], "nominal") is None  # nothing pairable
    assert krippendorff_alpha([["a", "a"], ["a", "a"]], "nominal") is None  # no variation at all
    assert krippendorff_alpha([["a", "a"], ["b", "b"]], "nominal") == 1.0
    with pytest.raises(ValueError, match="level must be one of"):
        krippendorff_alpha([[1, 2]], "ordinal")


def test_agreement_report_per_annotator_and_disputed():
    ratings = {1: {"ann": 5, "bob": 5, "eve": 0}, 2: {"ann": 1, "bob": 1, "eve": 5}, 3: {"ann": 3, "bob": 3},
               4: {"ann": 2}}
    report = agreement_report(ratings, "interval", top=2)
    assert report.items == 3 and report.judgments == 8 and report.all_items == 4 and report.all_judgments == 9
    people = {a.annotator: a for a in report.annotators}
    assert people["ann"].agreement > people["eve"].agreement
    assert people["eve"].agreement == pytest.approx((0 + 0 + 0.2 + 0.2) / 4)
    # leaving out the odd one raises alpha; leaving out a consistent one lowers it
    assert people["eve"].alpha_without > report.alpha > people["ann"].alpha_without
    assert [d.item for d in report.disputed] == [1, 2]
    assert item_agreement([4, 4], "interval") == 1.0 and item_agreement([4], "interval") is None


# -- tables and settings -------------------------------------------------------------------------------


def test_items_from_table_finds_pair_and_single_columns(tmp_path):
    path = tmp_path / "items.csv"
    path.write_text("Sentence1,sentence2,score\nа,б,1\nа,б,2\n,в,3\nг,д,4\n", encoding="utf-8")
    table = items_from_table(str(path), "score", max_bytes=10_000)
    assert table.columns == ("Sentence1", "sentence2") and [i.text1 for i in table.items] == ["а", "г"]
    assert any("empty" in n for n in table.notes) and any("repeated" in n for n in table.notes)
    single = tmp_path / "texts.csv"
    single.write_text("id,text\n1,первый\n2,второй\n", encoding="utf-8")
    assert [i.text1 for i in items_from_table(str(single), "label", max_bytes=10_000).items] == ["первый", "второй"]


@pytest.mark.parametrize("content, judgment, message", [
    ("a,b\nx,y\n", "relevance", "needs columns 'query' and 'passage' or 'sentence1' and 'sentence2'; the table has: a, b"),
    ("query,passage\nx,y\n", "label", "needs columns 'text'; the table has: query, passage"),
    ("query,passage\n,x\n,y\n", "relevance", "the table has no items"),
    ("query,passage\n", "relevance", "no data rows"),
    ("", "relevance", "is empty"),
])
def test_bad_tables_are_refused_with_the_reason(tmp_path, content, judgment, message):
    path = tmp_path / "bad.csv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        items_from_table(str(path), judgment, max_bytes=10_000)


def test_table_caps_at_the_edges(tmp_path):
    path = tmp_path / "rows.csv"
    path.write_text("text\n" + "".join(f"текст {i}\n" for i in range(3)), encoding="utf-8")
    assert len(items_from_table(str(path), "label", max_bytes=10_000, max_items=3).items) == 3
    with pytest.raises(ValueError, match="more than 2 rows, the limit per campaign"):
        items_from_table(str(path), "label", max_bytes=10_000, max_items=2)
    with pytest.raises(ValueError, match="the limit is 10 bytes"):
        items_from_table(str(path), "label", max_bytes=10)
    long = tmp_path / "long.csv"
    long.write_text("text\nкоротко\n" + "я" * 101 + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match="row 2: text has 101 characters, more than the limit of 100"):
        items_from_table(str(long), "label", max_bytes=10_000, max_chars=100)
    assert MAX_ITEMS == 5_000


def test_real_files_at_and_over_the_cap(shared_data):
    # intents_ru.csv holds exactly 5,000 rows: the cap itself is accepted, one row less is not
    at_cap = items_from_table(str(shared_data / "intents_ru.csv"), "label", max_bytes=5_000_000)
    assert len(at_cap.items) + sum(int(n.split()[0].replace(",", "")) for n in at_cap.notes) == MAX_ITEMS
    with pytest.raises(ValueError, match="more than 4,999 rows"):
        items_from_table(str(shared_data / "intents_ru.csv"), "label", max_bytes=5_000_000, max_items=4_999)
    table = items_from_table(str(shared_data / "stsb_dev.csv"), "score", max_bytes=5_000_000)
    assert table.columns == ("sentence1", "sentence2") and 1_000 < len(table.items) <= 1_500


@pytest.mark.parametrize("overlap, labels, judgment, message", [
    (0, None, "relevance", "from 1 to 10"),
    (MAX_OVERLAP + 1, None, "relevance", "from 1 to 10"),
    (1.5, None, "relevance", "whole number"),
    ("два", None, "relevance", "whole number"),
    (2, "один", "label", "at least two labels"),
    (2, ",".join(str(i) for i in range(MAX_LABELS + 1)), "label", "10 labels is more than 9"),
    (2, "а,б,а", "label", "given twice"),
    (2, "а,б", "relevance", "labels are for label campaigns"),
    (2, None, "vibes", "the judgment must be one of relevance, score, label; got .vibes."),
])
@REFUSED_BEFORE_ANY_STATEMENT
def test_bad_settings_are_refused(stores, overlap, labels, judgment, message):
    _, campaigns, _ = stores
    table = pair_table() if judgment != "label" else items_from_rows([("т",)], ("text",))
    with pytest.raises(ValueError, match=message):
        campaigns.create("auth:ann", table, judgment, overlap=overlap, labels=labels)


def test_edge_settings_are_accepted(stores):
    _, campaigns, _ = stores
    for overlap in (1, MAX_OVERLAP):
        assert campaigns.create("auth:ann", pair_table(), "score", overlap=overlap).overlap == overlap
    labels = ",".join(f"метка {i}" for i in range(MAX_LABELS))
    made = campaigns.create("auth:ann", items_from_rows([("т",)], ("text",)), "label", labels=labels)
    assert len(made.labels) == MAX_LABELS
    with pytest.raises(ValueError, match="a label campaign judges single texts"):
        campaigns.create("auth:ann", pair_table(), "label", labels="а,б")


# -- handing out ----------------------------------------------------------------------------------------


def test_overlap_is_met_and_nobody_gets_an_item_twice(stores):
    store, campaigns, _ = stores
    cid = campaigns.create("auth:ann", pair_table(), "relevance", overlap=2, instructions="Отвечает ли?").id
    seen: dict[str, list[int]] = {}
    for user in ("u1", "u2", "u3"):
        while (item := campaigns.next_item(cid, user)) is not None:
            seen.setdefault(user, []).append(item.item_id)
            campaigns.submit(cid, item.item_id, Judgment("relevant", "", user=user))
    assert all(len(v) == len(set(v)) for v in seen.values())
    judged = [i for v in seen.values() for i in v]
    assert sorted(judged) == sorted([1, 2, 3, 4] * 2)
    assert campaigns.next_item(cid, "u4") is None  # every item has its overlap
    progress = campaigns.progress(cid, "u1")
    assert progress.left == 0 and progress.judgments == 8 == progress.needed
    rows = store.rows(user="u1")
    assert all(r["tab"] == "annotate" and r["kind"] == "relevant" for r in rows)
    assert {(r["anchor"], r["positive"]) for r in rows} <= set(PAIRS)


def test_the_last_slot_goes_to_one_person_and_comes_back_when_the_lease_expires(stores):
    _, campaigns, clock = stores
    cid = campaigns.create("auth:ann", pair_table(PAIRS[:1]), "relevance", overlap=1).id
    first = campaigns.next_item(cid, "u1")
    assert first is not None and campaigns.next_item(cid, "u2") is None
    assert campaigns.next_item(cid, "u1").item_id == first.item_id  # asking again keeps the same item
    with pytest.raises(ValueError, match="already has the 1 judgment"):
        campaigns.submit(cid, first.item_id, Judgment("relevant", "", user="u2"))  # held by u1
    clock.now += 61  # u1 left: the hold expires
    assert campaigns.next_item(cid, "u2").item_id == first.item_id
    with pytest.raises(ValueError, match="your hold on it had expired"):
        campaigns.submit(cid, first.item_id, Judgment("relevant", "", user="u1"))
    campaigns.submit(cid, first.item_id, Judgment("not_relevant", "", user="u2"))
    assert campaigns.progress(cid, "u2").line() == ("1 judged by you, 0 left for you; 1 of 1 items complete "
                                                    "(1 of 1 judgments)")


def test_skip_and_undo(stores):
    store, campaigns, clock = stores
    cid = campaigns.create("auth:ann", pair_table(), "score", overlap=1).id
    one, rid = judge(campaigns, cid, "u1", kind="score", score=4)
    clock.now += 1
    two = campaigns.next_item(cid, "u1")
    campaigns.skip(cid, two.item_id, "u1")
    clock.now += 1
    three = campaigns.next_item(cid, "u1")
    assert three.item_id not in (one.item_id, two.item_id)
    assert campaigns.next_item(cid, "u2").item_id == two.item_id  # skipped, so free for others
    assert campaigns.undo(cid, "u1") is None  # the skip is taken back, but u2 holds the only slot now
    assert campaigns.undo(cid, "u1").item_id == one.item_id  # then the judgment: deleted and held again
    assert store.get(rid) is None and campaigns.progress(cid, "u1").done == 0
    assert campaigns.next_item(cid, "u1").item_id == one.item_id
    assert campaigns.undo(cid, "u1") is None  # nothing left to undo


def test_submit_checks_kind_texts_labels_and_repeats(stores):
    _, campaigns, _ = stores
    cid = campaigns.create("auth:ann", pair_table(), "relevance", overlap=2).id
    item = campaigns.next_item(cid, "u1")
    with pytest.raises(ValueError, match="asks for relevant or not_relevant, not 'score'"):
        campaigns.submit(cid, item.item_id, Judgment("score", "", score=3, user="u1"))
    with pytest.raises(ValueError, match="anchor text is not item 1's text"):
        campaigns.submit(cid, item.item_id, Judgment("relevant", "другой текст", user="u1"))
    campaigns.submit(cid, item.item_id, Judgment("relevant", PAIRS[0][0], PAIRS[0][1], user="u1"))
    with pytest.raises(ValueError, match="judged item 1 of this campaign already"):
        campaigns.submit(cid, item.item_id, Judgment("not_relevant", "", user="u1"))
    for bad, message in ((0, "item_id is a whole number from 1"), (99, "has no item 99"),
                         (1.5, "whole number"), ("x", "whole number"), (2**70, "whole number from 1")):
        with pytest.raises(ValueError, match=message):
            campaigns.submit(cid, bad, Judgment("relevant", "", user="u1"))
    for bad in ("", "nope", "ffffffffffffffff", "a" * 500):
        with pytest.raises(ValueError, match="campaign"):
            campaigns.next_item(bad, "u1")
    labels = campaigns.create("auth:ann", items_from_rows([("т",)], ("text",)), "label", labels="спорт,кино").id
    with pytest.raises(ValueError, match="not one of this campaign's labels: спорт, кино"):
        campaigns.submit(labels, 1, Judgment("label", "", label="погода", user="u1"))
    campaigns.submit(labels, 1, Judgment("label", "", label="кино", user="u1"))


def test_who_sees_agreement_and_training_data(stores):
    _, campaigns, _ = stores
    cid = campaigns.create("auth:ann", pair_table(), "relevance", overlap=2).id
    judge(campaigns, cid, "auth:bob")
    assert campaigns.agreement(cid, "auth:ann").all_judgments == 1
    assert campaigns.agreement(cid, "auth:root", is_admin=True).all_judgments == 1
    for call in (lambda: campaigns.agreement(cid, "auth:bob"), lambda: campaigns.consensus(cid, "auth:bob")):
        with pytest.raises(NotOwnerError, match="only the campaign's creator and admins"):
            call()
    # a campaign is listed to its creator, to those who took part, and to admins
    assert [c.id for c in campaigns.visible("auth:ann")] == [cid]
    assert [c.id for c in campaigns.visible("auth:bob")] == [cid]
    assert campaigns.visible("auth:eve") == [] and len(campaigns.visible("auth:eve", is_admin=True)) == 1


def test_consensus_mean_majority_and_agreement_level(stores, tmp_path):
    _, campaigns, _ = stores
    cid = campaigns.create("auth:ann", pair_table(), "score", overlap=3).id
    scores = {"u1": [5, 0, 3, 2], "u2": [5, 5, 3], "u3": [4, 0]}
    for user, values in scores.items():
        for value in values:
            judge(campaigns, cid, user, kind="score", score=value)
    ratings = campaigns.ratings(cid)
    assert {i: len(v) for i, v in ratings.items()} == {1: 3, 2: 3, 3: 2, 4: 1}
    everything = campaigns.consensus(cid, "auth:ann")
    assert [j.score for j in everything.judgments] == pytest.approx([14 / 3, 5 / 3, 3.0, 2.0])
    strict = campaigns.consensus(cid, "auth:ann", min_agreement=0.85)  # item 1: (1 + 0.8 + 0.8) / 3
    assert [j.score for j in strict.judgments] == pytest.approx([14 / 3, 3.0])  # item 2 disputed, item 4 single
    assert strict.below_agreement == 2
    out = tmp_path / "scores.jsonl"
    assert export(strict.judgments, "jsonl", out, kind="scores") == 2
    assert json.loads(out.read_text().splitlines()[0])["score"] == pytest.approx(14 / 15)
    with pytest.raises(ValueError, match="from 0 to 1"):
        campaigns.consensus(cid, "auth:ann", min_agreement=2)

    rel = campaigns.create("auth:ann", pair_table(PAIRS[:2]), "relevance", overlap=2).id
    for user, kinds in (("u1", ["relevant", "relevant"]), ("u2", ["relevant", "not_relevant"])):
        for kind in kinds:
            judge(campaigns, rel, user, kind=kind)
    majority = campaigns.consensus(rel, "auth:ann")
    assert [j.kind for j in majority.judgments] == ["relevant"] and majority.ties == 1


def test_deleting_a_judgment_frees_its_slot(stores):
    store, campaigns, _ = stores
    cid = campaigns.create("auth:ann", pair_table(PAIRS[:1]), "relevance", overlap=1).id
    judge(campaigns, cid, "u1")
    assert campaigns.next_item(cid, "u2") is None
    assert store.delete_user("u1") == 1  # "delete all my judgments" also takes them out of campaigns
    assert campaigns.next_item(cid, "u2") is not None and campaigns.ratings(cid) == {}


def test_an_older_store_gains_campaigns_and_keeps_its_judgments(store_location):
    path = store_location
    with JudgmentStore(path) as old:
        rid = old.add(Judgment("similar", "кошка", "кот", user="auth:ann"))
    store = JudgmentStore(path)
    campaigns = CampaignStore(store)
    CampaignStore(store)  # opening twice changes nothing
    assert store.get(rid)["anchor"] == "кошка" and store.count() == 1
    assert campaigns.visible("auth:ann") == []
    assert store.integrity_check() == "ok"
    store.close()


# -- the model chooses ------------------------------------------------------------------------------


def fake_encoder(texts, prefix):
    """Deterministic unit vectors from each text's hash: scores spread like a real model's, no model needed."""
    out = np.stack([np.random.default_rng(abs(hash((t, prefix == "passage"))) % 2**32).normal(size=16)
                    for t in texts])
    return out / np.linalg.norm(out, axis=1, keepdims=True)


def test_boundary_pairs_are_nearest_the_stated_boundary():
    queries, passages = [f"запрос {i}" for i in range(6)], [f"ответ {i}" for i in range(10)]
    choice = boundary_pairs(queries, passages, fake_encoder, n=7, threshold=10.0)
    distances = [abs(i.model_score - 10.0) for i in choice.table.items]
    assert len(choice.table.items) == 7 and distances == sorted(distances)
    scores = (fake_encoder(queries, "query") @ fake_encoder(passages, "passage").T * 100).ravel()
    assert max(distances) <= np.sort(np.abs(scores - 10.0))[6] + 1e-9
    assert "boundary 10.0, as given" in choice.rule and choice.judgment == "relevance"
    assert "midway" in boundary_pairs(queries, passages, fake_encoder, n=3).rule


def test_tied_queries_give_both_pairs_of_the_closest_queries():
    queries, passages = [f"запрос {i}" for i in range(8)], [f"ответ {i}" for i in range(5)]
    choice = tied_queries(queries, passages, fake_encoder, n=4)
    items = choice.table.items
    assert len(items) == 4 and items[0].text1 == items[1].text1 and items[0].text2 != items[1].text2
    scores = fake_encoder(queries, "query") @ fake_encoder(passages, "passage").T * 100
    top = np.sort(scores, axis=1)[:, ::-1]
    closest = queries[int(np.argmin(top[:, 0] - top[:, 1]))]
    assert items[0].text1 == closest and "nearly tied" in items[0].reason
    with pytest.raises(ValueError, match="at least 2 different passages"):
        tied_queries(queries, ["один"], fake_encoder)


def test_border_texts_become_a_label_campaign(stores):
    _, campaigns, _ = stores
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(3, 16))
    texts = [f"тема {c} текст {i}" for c in range(3) for i in range(10)]
    vectors = {t: centres[int(t.split()[1])] + 0.3 * rng.normal(size=16) for t in texts}

    def encode(batch, prefix):
        out = np.stack([vectors[t] for t in batch])
        return out / np.linalg.norm(out, axis=1, keepdims=True)

    choice = border_texts(texts, encode, n=5, k=3)
    assert choice.judgment == "label" and len(choice.labels) == 3 and len(choice.table.items) == 5
    gaps = [i.model_score for i in choice.table.items]
    assert gaps == sorted(gaps) and "between" in choice.table.items[0].reason
    made = campaigns.create("auth:ann", choice.table, choice.judgment, labels=choice.labels, rule=choice.rule)
    assert made.rule.startswith("border: the 5 of 30 texts") and made.labels == choice.labels
    with pytest.raises(ValueError, match="k \\(clusters\\) must be from 2 to 9"):
        border_texts(texts, encode, k=12)


def _clustered(n_clusters: int, per: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_clusters, 16))
    texts = [f"тема {c} текст {i}" for c in range(n_clusters) for i in range(per)]
    clusters = np.repeat(np.arange(n_clusters), per)
    vectors = centres[clusters] + 0.3 * rng.normal(size=(len(texts), 16))
    return texts, vectors / np.linalg.norm(vectors, axis=1, keepdims=True), clusters


def test_borders_of_the_last_clustering_keep_its_clusters_and_names():
    texts, vectors, clusters = _clustered(3, 10)
    clusters[0] = -1  # noise is a candidate, not a label
    borders = ClusterBorders.measure(texts, vectors, clusters, what="3 clusters of the last clustering")
    choice = borders.choice(texts, {0: "погода", 1: "деньги", 2: "еда"}, n=4)
    assert choice.judgment == "label" and choice.labels == ("1: погода", "2: деньги", "3: еда")
    assert [i.text1 for i in choice.table.items] == [texts[r] for r in borders.rows[:4]]
    gaps = [i.model_score for i in choice.table.items]
    assert gaps == sorted(gaps) and len(borders.rows) == 30
    assert choice.rule.startswith("border: the 4 of 30 texts nearest the border between two of 3 clusters of the last")
    # The names are read when the campaign is made, so a cluster renamed after clustering counts.
    assert borders.choice(texts, {0: "климат"}, n=1).labels[0] == "1: климат"
    assert borders.choice(texts, None, n=1).labels[1] == "2: cluster 1"


def test_borders_past_nine_clusters_keep_the_largest_and_say_so():
    texts, vectors, clusters = _clustered(12, 6)
    clusters[:5] = 0  # cluster 0 has 6, others too: make sizes differ so the cut is well defined
    sizes = {c: int((clusters == c).sum()) for c in set(clusters.tolist())}
    borders = ClusterBorders.measure(texts, vectors, clusters)
    kept = sorted(sorted(sizes, key=lambda c: (-sizes[c], c))[:9])
    assert borders.clusters == tuple(kept)
    assert set(borders.nearest.tolist()) | set(borders.second.tolist()) <= set(kept)
    assert all(clusters[r] in kept for r in borders.rows)
    choice = borders.choice(texts, n=100)
    assert len(choice.labels) == 9 and "the 9 largest: a label campaign has at most 9 labels" in choice.rule
    assert len(choice.table.items) == len(borders.rows)


@pytest.mark.parametrize("size", [0, 1, 2, 3])
def test_borders_at_edge_sizes(size):
    texts = [f"текст {i}" for i in range(size)]
    vectors = np.eye(4)[:size] if size else np.zeros((0, 4))
    clusters = list(range(size))
    if size < 2:
        with pytest.raises(ValueError, match="fewer than two clusters"):
            ClusterBorders.measure(texts, vectors, clusters)
        return
    choice = ClusterBorders.measure(texts, vectors, clusters).choice(texts, n=5)
    assert len(choice.table.items) == size and len(choice.labels) == size


def test_borders_refuse_mismatched_inputs_and_hand_out_a_text_once():
    texts, vectors, clusters = _clustered(2, 4)
    with pytest.raises(ValueError, match="8 texts, 7 vectors and 8 cluster labels"):
        ClusterBorders.measure(texts, vectors[:7], clusters)
    doubled = texts + texts[:2] + ["  "]
    borders = ClusterBorders.measure(doubled, np.vstack([vectors, vectors[:2], vectors[:1]]),
                                     np.concatenate([clusters, clusters[:2], [0]]))
    assert sorted(borders.rows.tolist()) == list(range(8))
    with pytest.raises(ValueError, match="whole number from 1"):
        borders.choice(texts, n=0)


def test_item_dict_uses_the_table_column_names(stores):
    _, campaigns, _ = stores
    made = campaigns.create("auth:ann", ItemTable(("sentence1", "sentence2"), [Item(1, "а", "б", model_score=61.234)]),
                            "score", show_model_score=True)
    item = campaigns.next_item(made.id, "u1")
    assert item.as_dict(made) == {"item_id": 1, "sentence1": "а", "sentence2": "б", "model_score": 61.23}
    assert "model_score" not in item.as_dict(made, with_score=False)


# -- command line ---------------------------------------------------------------------------------


def test_cli_round_trip(tmp_path, capsys, store_location):
    db, table = store_location, tmp_path / "pairs.csv"
    table.write_text("query,passage\n" + "".join(f"вопрос {i},ответ {i}\n" for i in range(3)), encoding="utf-8")
    assert cli_main(["create", "--db", str(db), "--file", str(table), "--judgment", "relevance", "--overlap", "2",
                     "--name", "проба", "--instructions", "Отвечает ли текст на вопрос?"]) == 0
    made = json.loads(capsys.readouterr().out)
    assert made["items"] == 3 and made["overlap"] == 2 and made["name"] == "проба"
    with JudgmentStore(db) as store:
        campaigns = CampaignStore(store)
        for user in ("u1", "u2"):
            while (item := campaigns.next_item(made["campaign"], user)) is not None:
                campaigns.submit(made["campaign"], item.item_id,
                                 Judgment("relevant" if user == "u1" or item.item_id != 2 else "not_relevant", "",
                                          user=user))
    assert cli_main(["agreement", "--db", str(db), "--campaign", made["campaign"]]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["items"] == 3 and report["judgments"] == 6 and report["disputed"][0]["item"] == 2
    assert cli_main(["progress", "--db", str(db), "--campaign", made["campaign"]]) == 0
    assert json.loads(capsys.readouterr().out)["left"] == 0
    out = tmp_path / "pairs.jsonl"
    assert cli_main(["export", "--db", str(db), "--campaign", made["campaign"], "--kind", "pairs", "--out", str(out),
                     "--min-agreement", "1"]) == 0
    assert json.loads(capsys.readouterr().out)["rows"] == 2 and len(out.read_text().splitlines()) == 2
    assert cli_main(["export", "--db", str(db), "--campaign", made["campaign"], "--kind", "scores", "--out",
                     str(tmp_path / "scores.jsonl")]) == 1  # a relevance consensus holds no scores: said so
    assert "consensus exports as pairs, triplets, not as scores" in capsys.readouterr().err
    consensus = tmp_path / "consensus.sqlite"
    assert cli_main(["consensus", "--db", str(db), "--campaign", made["campaign"], "--out", str(consensus)]) == 0
    assert json.loads(capsys.readouterr().out)["added"] == 2  # item 2 is a tie
    assert cli_main(["list", "--db", str(db)]) == 0 and len(json.loads(capsys.readouterr().out)) == 1
    assert cli_main(["progress", "--db", str(tmp_path / "missing.sqlite"), "--campaign", "ab"]) == 1
    assert "no feedback store" in capsys.readouterr().err
    assert cli_main(["create", "--db", str(db), "--file", str(table), "--judgment", "label", "--labels", "а,б"]) == 1
    assert "needs columns 'text'" in capsys.readouterr().err


def test_consensus_trains_with_the_recipe(stores):
    """The fine-tuning recipe takes a campaign's consensus as it takes any judgments (scores -> CoSENT)."""
    from core.training.recipe import GRADED, Prompts, build_sets

    _, campaigns, _ = stores
    pairs = [(f"фраза {i}", f"другая фраза {i}") for i in range(12)]
    cid = campaigns.create("auth:ann", pair_table(pairs), "score", overlap=2).id
    for user in ("u1", "u2"):
        while (item := campaigns.next_item(cid, user)) is not None:
            campaigns.submit(cid, item.item_id, Judgment("score", "", score=item.item_id % 6, user=user))
    consensus = campaigns.consensus(cid, "auth:ann", min_agreement=0.5)
    sets = build_sets(consensus.judgments, [GRADED], Prompts())
    assert len(sets[GRADED]) == 12 and sets[GRADED].kind.loss == "CoSENTLoss"
