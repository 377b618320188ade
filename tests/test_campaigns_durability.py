"""Campaigns under concurrency and kill -9: every item gets exactly its overlap, nothing acknowledged is lost."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import select

from core.campaigns import CampaignStore, items_from_rows
from core.judgments import Judgment, JudgmentStore
from core.storage import schema
from tests.conftest import ROOT

# A child annotator: for each line on its stdin it asks for an item and judges it, printing each
# acknowledged judgment. The parent paces it, so a kill lands after a chosen number of judgments however
# fast the machine is (unpaced, a quick machine finished the whole campaign before the first kill).
# Only core.campaigns and core.judgments are imported (stdlib + SQLAlchemy), so it starts in a second.
ANNOTATOR = """
import sys
from core.campaigns import CampaignStore
from core.judgments import Judgment, JudgmentStore
store = JudgmentStore(sys.argv[1])
campaigns = CampaignStore(store, lease_s=float(sys.argv[4]))
cid, user = sys.argv[2], sys.argv[3]
while sys.stdin.readline() and (item := campaigns.next_item(cid, user)) is not None:
    rid = campaigns.submit(cid, item.item_id, Judgment("score", "", score=item.item_id % 6, user=user))
    sys.stdout.write(f"{rid} {item.item_id}\\n")
    sys.stdout.flush()
"""


def check_campaign(store: JudgmentStore, campaigns: CampaignStore, cid: str, overlap: int) -> Counter:
    """The invariants: links point at existing judgments of the same user, nobody twice, never over overlap."""
    assert store.integrity_check() == "ok"
    links_table, judgments = schema.campaign_judgments, schema.feedback
    query = (select(links_table.c.item_id, links_table.c.user, judgments.c.user.label("owner"), judgments.c.id)
             .select_from(links_table.outerjoin(judgments, judgments.c.id == links_table.c.judgment_id))
             .where(links_table.c.campaign_id == cid))
    with store.reading() as conn:
        links = list(conn.execute(query).mappings())
    assert all(row["id"] is not None and row["owner"] == row["user"] for row in links)
    assert len({(row["item_id"], row["user"]) for row in links}) == len(links)
    per_item = Counter(row["item_id"] for row in links)
    assert max(per_item.values(), default=0) <= overlap
    return per_item


@pytest.mark.slow
def test_many_threads_asking_at_once_give_every_item_exactly_its_overlap(store_location):
    threads, n_items, overlap = 12, 40, 3
    store = JudgmentStore(store_location)
    campaigns = CampaignStore(store)
    cid = campaigns.create("auth:ann", items_from_rows([(f"вопрос {i}", f"ответ {i}") for i in range(n_items)],
                                                       ("query", "passage")), "relevance", overlap=overlap).id
    barrier = threading.Barrier(threads)

    def annotate(t: int) -> list[int]:
        barrier.wait()
        done = []
        while (item := campaigns.next_item(cid, f"u{t}")) is not None:
            campaigns.submit(cid, item.item_id, Judgment("relevant" if t % 2 else "not_relevant", "", user=f"u{t}"))
            done.append(item.item_id)
        return done

    began = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        results = list(pool.map(annotate, range(threads)))  # re-raises any error
    print(f"\n[campaign threads] {threads} annotators, {n_items} items x {overlap}: "
          f"{sum(map(len, results))} judgments in {time.perf_counter() - began:.1f} s")
    assert all(len(r) == len(set(r)) for r in results)
    per_item = check_campaign(store, campaigns, cid, overlap)
    assert per_item == Counter({i: overlap for i in range(1, n_items + 1)})
    assert store.count() == n_items * overlap
    store.close()


@pytest.mark.slow
def test_kill_9_mid_campaign_loses_nothing_and_the_campaign_still_completes(store_location):
    # PostgreSQL: the same kills on fewer trials and items (its child processes start slower); the
    # 3-replica cluster test kills a whole app on PostgreSQL with the full 60-item campaign.
    trials, n_items, overlap, lease_s = (12, 60, 3, 0.5) if "://" not in store_location else (3, 15, 3, 0.5)
    db = store_location
    with JudgmentStore(db) as store:
        cid = CampaignStore(store).create(
            "auth:ann", items_from_rows([(f"фраза {i}", f"другая фраза {i}") for i in range(n_items)],
                                        ("sentence1", "sentence2")), "score", overlap=overlap).id
    rng = random.Random(11)
    acked_total = 0
    for trial in range(trials):
        child = subprocess.Popen([sys.executable, "-c", ANNOTATOR, str(db), cid, f"u{trial}", str(lease_s)],
                                 cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        output = b""
        for _ in range(rng.randint(1, 4)):  # judgments acknowledged before the kill
            child.stdin.write(b"go\n")
            child.stdin.flush()
            line = child.stdout.readline()
            assert line, child.stderr.read().decode()
            output += line
        child.stdin.write(b"go\n")  # one more item under way (leased, maybe half-written) when the kill lands
        child.stdin.flush()
        time.sleep(rng.uniform(0.0, 0.005))
        os.kill(child.pid, signal.SIGKILL)
        output += child.stdout.read()
        child.wait()
        acked = [tuple(map(int, line.split())) for line in output.split(b"\n")[:-1]]
        acked_total += len(acked)
        with JudgmentStore(db) as store:
            campaigns = CampaignStore(store)
            check_campaign(store, campaigns, cid, overlap)
            mine = {int(i): v for i, v in campaigns.ratings(cid).items() if f"u{trial}" in v}
            for rid, item_id in acked:
                assert store.get(rid) is not None, f"trial {trial}: acknowledged judgment {rid} is missing"
                assert item_id in mine, f"trial {trial}: judgment {rid} lost its campaign item {item_id}"
    # The killed annotators' holds expire; fresh annotators finish the campaign: exactly the overlap each.
    time.sleep(lease_s + 0.1)
    with JudgmentStore(db) as store:
        campaigns = CampaignStore(store)
        for user in ("late1", "late2", "late3"):
            while (item := campaigns.next_item(cid, user)) is not None:
                campaigns.submit(cid, item.item_id, Judgment("score", "", score=1, user=user))
        per_item = check_campaign(store, campaigns, cid, overlap)
        print(f"\n[campaign kill -9] {trials} annotators killed mid-campaign, {acked_total} acknowledged "
              f"judgments kept; completed with {sum(per_item.values())} judgments")
        assert per_item == Counter({i: overlap for i in range(1, n_items + 1)})
