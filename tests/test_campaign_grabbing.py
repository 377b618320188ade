"""Campaigns cannot be grabbed (issue 25, point 2), without the app: the limit on new anonymous identities
per address (MintLimiter), leases per address and campaign, and the creator ending someone's leases."""

from __future__ import annotations

import sqlite3
import threading

import pytest

from core.campaigns import CampaignStore
from core.campaigns.model import items_from_rows
from core.errors import UserError
from core.identity import IdentityIssuer, MintLimiter
from core.judgments import Judgment, JudgmentStore, NotOwnerError

PAIRS = [(f"вопрос {i}", f"ответ {i}") for i in range(1, 6)]  # 5 items
KEY = b"k" * 32


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


# -- the limit on new identities ----------------------------------------------------------------------


def test_an_address_gets_its_share_of_new_identities_per_window_then_again_after_it():
    clock = Clock()
    limiter = MintLimiter(per_window=3, window_s=3600, clock=clock)
    assert [limiter.allow("10.0.0.1") for _ in range(5)] == [True, True, True, False, False]
    assert limiter.allow("10.0.0.2")  # another address has its own share
    clock.now += 1800
    assert not limiter.allow("10.0.0.1")  # still within the hour of the first three
    clock.now += 1801
    assert [limiter.allow("10.0.0.1") for _ in range(4)] == [True, True, True, False]


def test_the_window_slides_one_mint_at_a_time():
    clock = Clock()
    limiter = MintLimiter(per_window=2, window_s=100, clock=clock)
    assert limiter.allow("a")
    clock.now += 60
    assert limiter.allow("a") and not limiter.allow("a")
    clock.now += 41  # the first mint left the window, the second did not
    assert limiter.allow("a") and not limiter.allow("a")


def test_callers_without_an_address_are_not_limited_and_zero_means_none():
    limiter = MintLimiter(per_window=1)
    assert all(limiter.allow(None) for _ in range(10)) and len(limiter) == 0
    assert not MintLimiter(per_window=0).allow("10.0.0.1")
    with pytest.raises(ValueError):
        MintLimiter(per_window=-1)


def test_memory_is_bounded_the_longest_idle_address_is_forgotten():
    clock = Clock()
    limiter = MintLimiter(per_window=1, max_addresses=100, clock=clock)
    for i in range(1_000):
        assert limiter.allow(f"10.0.{i // 256}.{i % 256}")
        clock.now += 1
    assert len(limiter) == 100
    assert not limiter.allow("10.0.3.231")  # the newest is remembered


def test_the_limiter_counts_exactly_under_threads():
    limiter = MintLimiter(per_window=50)
    allowed = []
    lock = threading.Lock()

    def mint_many():
        mine = sum(limiter.allow("10.0.0.9") for _ in range(100))
        with lock:
            allowed.append(mine)

    threads = [threading.Thread(target=mint_many) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(allowed) == 50


def test_identify_refuses_a_new_identity_past_the_limit_with_a_keyed_message_and_tokens_still_work():
    issuer = IdentityIssuer(KEY, mint_limiter=MintLimiter(per_window=2))
    first = issuer.identify(issue=True, address="10.0.0.1")
    issuer.identify(issue=True, address="10.0.0.1")
    with pytest.raises(UserError) as refused:
        issuer.identify(issue=True, address="10.0.0.1")
    assert refused.value.message.key == "identity_mint_limit" and "reuse the token" in str(refused.value)
    # the caller's own token, and logged-in users, are not limited
    assert issuer.identify(token=first.token, address="10.0.0.1").user == first.user
    assert issuer.identify(auth_username="ann", issue=True, address="10.0.0.1").user == "auth:ann"
    assert issuer.identify(issue=True, address="10.0.0.2").token


def test_the_default_issuer_is_limited():
    issuer = IdentityIssuer(KEY)
    for _ in range(issuer.mint_limiter.per_window):
        issuer.identify(issue=True, address="10.0.0.1")
    with pytest.raises(UserError):
        issuer.identify(issue=True, address="10.0.0.1")


# -- leases -------------------------------------------------------------------------------------------


@pytest.fixture
def stores(store_location):
    """Once on SQLite and once on PostgreSQL (tests/pg_fixtures.py)."""
    store = JudgmentStore(store_location)
    clock = Clock()
    campaigns = CampaignStore(store, lease_s=300, leases_per_address=2, clock=clock)
    cid = campaigns.create("anon:creator", items_from_rows(PAIRS, ("query", "passage")), "relevance",
                           overlap=2).id
    yield store, campaigns, clock, cid
    store.close()


def test_one_address_holds_at_most_its_share_of_leases_however_many_identities_it_has(stores):
    _, campaigns, _, cid = stores
    attacker = [f"anon:fresh{i}" for i in range(10)]
    held = []
    for user in attacker:
        try:
            held.append(campaigns.next_item(cid, user, address="203.0.113.5"))
        except UserError as refused:
            assert refused.message.key == "campaign_address_leases"
    assert len(held) == 2
    # an identity that holds an item keeps it (renewal is not a new lease)
    assert campaigns.next_item(cid, attacker[0], address="203.0.113.5") == held[0]
    # the creator, an annotator elsewhere and a logged-in user at the attacker's address all get items
    assert campaigns.next_item(cid, "anon:creator", address="203.0.113.5") is not None
    assert campaigns.next_item(cid, "anon:invited", address="198.51.100.7") is not None
    assert campaigns.next_item(cid, "auth:colleague", address=None) is not None


def test_an_address_gets_a_lease_again_when_one_of_its_leases_ends(stores):
    _, campaigns, clock, cid = stores
    first = campaigns.next_item(cid, "anon:a", address="203.0.113.5")
    campaigns.next_item(cid, "anon:b", address="203.0.113.5")
    with pytest.raises(UserError):
        campaigns.next_item(cid, "anon:c", address="203.0.113.5")
    campaigns.submit(cid, first.item_id, Judgment("relevant", "", user="anon:a"))
    assert campaigns.next_item(cid, "anon:c", address="203.0.113.5") is not None
    clock.now += 301  # every lease ran out
    assert campaigns.next_item(cid, "anon:d", address="203.0.113.5") is not None


def test_undo_does_not_take_an_address_past_its_share(stores):
    _, campaigns, _, cid = stores
    item = campaigns.next_item(cid, "anon:a", address="203.0.113.5")
    campaigns.submit(cid, item.item_id, Judgment("relevant", "", user="anon:a"))
    campaigns.next_item(cid, "anon:b", address="203.0.113.5")
    campaigns.next_item(cid, "anon:c", address="203.0.113.5")
    assert campaigns.undo(cid, "anon:a", address="203.0.113.5") is None  # judgment gone, item not held
    holders = {h["user"] for h in campaigns.lease_holders(cid, "anon:creator")}
    assert holders == {"anon:b", "anon:c"}


def test_the_creator_ends_a_persons_leases_and_the_items_go_to_others(stores):
    _, campaigns, _, cid = stores
    overlap_2_on_5_items = 10
    grabbers = [f"auth:grabber{i}" for i in range(overlap_2_on_5_items)]
    for user in grabbers:
        assert campaigns.next_item(cid, user) is not None
    assert campaigns.next_item(cid, "anon:invited", address="198.51.100.7") is None  # all held
    assert campaigns.release_leases(cid, "auth:grabber0", by="anon:creator") == 1
    assert campaigns.release_leases(cid, "auth:grabber0", by="anon:creator") == 0
    assert campaigns.next_item(cid, "anon:invited", address="198.51.100.7") is not None
    assert "auth:grabber0" not in {h["user"] for h in campaigns.lease_holders(cid, "anon:creator")}
    assert campaigns.release_leases(cid, "auth:grabber1", by="auth:admin", is_admin=True) == 1
    with pytest.raises(UserError) as whom:
        campaigns.release_leases(cid, "  ", by="anon:creator")
    assert whom.value.message.key == "campaign_release_whom"


def test_nobody_else_ends_someones_leases_or_sees_who_holds_items(stores):
    _, campaigns, _, cid = stores
    campaigns.next_item(cid, "anon:invited", address="198.51.100.7")
    for attempt in (lambda: campaigns.release_leases(cid, "anon:invited", by="anon:attacker"),
                    lambda: campaigns.release_leases(cid, "anon:invited", by="anon:invited2"),
                    lambda: campaigns.lease_holders(cid, "anon:attacker")):
        with pytest.raises(NotOwnerError):
            attempt()
    assert [h["user"] for h in campaigns.lease_holders(cid, "anon:creator")] == ["anon:invited"]


@pytest.mark.sqlite_only  # a SQLite file as an older app left it, edited by hand
def test_a_sqlite_store_from_before_addresses_gets_the_column(tmp_path):
    path = tmp_path / "feedback.sqlite"
    store = JudgmentStore(path)
    store.close()
    with sqlite3.connect(path) as conn:  # as a store from before Alembic and lease addresses had it
        conn.execute("DROP TABLE campaign_leases")
        conn.execute("DROP TABLE alembic_version")
        conn.execute("CREATE TABLE campaign_leases (campaign_id TEXT NOT NULL, item_id INTEGER NOT NULL,"
                     " user TEXT NOT NULL, expires_at REAL NOT NULL, PRIMARY KEY (campaign_id, item_id, user))")
    store = JudgmentStore(path)
    try:
        campaigns = CampaignStore(store)
        cid = campaigns.create("anon:c", items_from_rows(PAIRS, ("query", "passage")), "relevance").id
        assert campaigns.next_item(cid, "anon:x", address="10.0.0.1") is not None
        CampaignStore(store)  # opening again changes nothing
    finally:
        store.close()
