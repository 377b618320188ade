"""``CampaignStore``: campaigns, items, leases and the link from each item to its judgments, in the
judgments' own SQLite file.

A campaign judgment is an ordinary :class:`~core.judgments.Judgment` in the ``feedback`` table (kind,
texts, score or label, user, prefixes, model); ``campaign_judgments`` says which campaign item it
answers. The link is written in the same transaction as the judgment (``JudgmentStore.add(within=)``),
and a trigger drops it when the judgment is deleted (undo, "delete all mine"), so the two never
disagree, even after ``kill -9``. Nothing is added to the ``feedback`` table itself: exports, hub
sync and every existing store keep working unchanged, and opening an older store only adds tables.

Handing out items: every decision is taken inside one ``BEGIN IMMEDIATE`` transaction, which
serialises writers across threads and processes. An item is handed to a person only while its
judgments plus the unexpired leases of other people are below the overlap; a lease lasts
``lease_s`` (5 minutes by default) and is renewed when its holder asks again, so two people asking
at once never both take the last slot, and a slot held by someone who left comes back by itself.

Grabbing: a lease records the client address an anonymous identity asked from, and one address holds at
most ``leases_per_address`` open leases per campaign (the campaign's creator not counted), however many
identities it mints; with the limit on new identities per address (core/identity.py, MintLimiter) one
caller cannot hold a campaign. Logged-in users are held to one lease each by their account. The creator
and admins can end anyone's leases (:meth:`CampaignStore.release_leases`).
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from core.campaigns.agreement import AgreementReport, agreement_report, item_agreement
from core.campaigns.model import (
    ID_BYTES,
    KINDS_OF,
    LABEL,
    PAIR,
    RELEVANCE,
    SCORE,
    Campaign,
    Item,
    ItemTable,
    check_score,
    check_settings,
)
from core.errors import Message, UserError
from core.identity import MINTS_PER_WINDOW
from core.inputs.text import clean_text
from core.judgments import Judgment, JudgmentStore, JudgmentStoreError, NotOwnerError, utc_now

# Long enough to read a pair and think (judging takes seconds), short enough that a slot held by
# someone who closed the tab is handed out again within minutes.
LEASE_S = 300.0
# A bound on what one person can make the server store (5,000 items each); admins are not bound.
MAX_CAMPAIGNS_PER_USER = 100
# Open leases per campaign for anonymous identities from one client address: as many as the address may
# mint identities in an hour, so identities it minted on earlier hours add nothing.
LEASES_PER_ADDRESS = MINTS_PER_WINDOW
TAB = "annotate"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS campaigns (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    created_at TEXT NOT NULL,
    creator TEXT NOT NULL,
    judgment TEXT NOT NULL,
    overlap INTEGER NOT NULL,
    columns TEXT NOT NULL,
    instructions TEXT NOT NULL,
    labels TEXT NOT NULL,
    show_model_score INTEGER NOT NULL,
    rule TEXT,
    n_items INTEGER NOT NULL,
    query_prefix TEXT,
    passage_prefix TEXT,
    model_id TEXT
);
CREATE INDEX IF NOT EXISTS campaigns_creator ON campaigns(creator);
CREATE TABLE IF NOT EXISTS campaign_items (
    campaign_id TEXT NOT NULL,
    item_id INTEGER NOT NULL,
    text1 TEXT NOT NULL,
    text2 TEXT,
    model_score REAL,
    reason TEXT,
    PRIMARY KEY (campaign_id, item_id)
);
CREATE TABLE IF NOT EXISTS campaign_judgments (
    campaign_id TEXT NOT NULL,
    item_id INTEGER NOT NULL,
    user TEXT NOT NULL,
    judgment_id INTEGER NOT NULL,
    at REAL NOT NULL,
    PRIMARY KEY (campaign_id, item_id, user)
);
CREATE INDEX IF NOT EXISTS campaign_judgments_user ON campaign_judgments(user, campaign_id);
CREATE INDEX IF NOT EXISTS campaign_judgments_judgment ON campaign_judgments(judgment_id);
CREATE TABLE IF NOT EXISTS campaign_leases (
    campaign_id TEXT NOT NULL,
    item_id INTEGER NOT NULL,
    user TEXT NOT NULL,
    expires_at REAL NOT NULL,
    address TEXT,
    PRIMARY KEY (campaign_id, item_id, user)
);
CREATE INDEX IF NOT EXISTS campaign_leases_user ON campaign_leases(user, campaign_id);
CREATE TABLE IF NOT EXISTS campaign_skips (
    campaign_id TEXT NOT NULL,
    item_id INTEGER NOT NULL,
    user TEXT NOT NULL,
    at REAL NOT NULL,
    PRIMARY KEY (campaign_id, item_id, user)
);
CREATE TRIGGER IF NOT EXISTS campaign_judgment_gone AFTER DELETE ON feedback BEGIN DELETE FROM campaign_judgments WHERE judgment_id = OLD.id; END
"""

_VALUE_SQL = """
SELECT l.item_id, l.user, f.kind, f.score, f.label FROM campaign_judgments l
JOIN feedback f ON f.id = l.judgment_id WHERE l.campaign_id = ?
"""


@dataclass(frozen=True)
class AnnotatorProgress:
    """Where a person and the whole campaign stand."""

    done: int  # items this person judged
    items: int
    left: int  # items that still need judgments from someone
    judgments: int  # judgments in the campaign
    needed: int  # items x overlap
    available: int  # items this person could still be given

    @property
    def complete(self) -> int:
        """Items with every judgment they need (overlap of them)."""
        return self.items - self.left

    def line(self) -> str:
        # Says whose count is whose: "8 of 8 done; 8 left in the campaign" read as a contradiction to a
        # person who had judged everything while the others' judgments were still missing (issue 26).
        return (f"{self.done:,} judged by you, {self.available:,} left for you; {self.complete:,} of {self.items:,} "
                f"items complete ({self.judgments:,} of {self.needed:,} judgments)")

    def as_dict(self) -> dict[str, int]:
        return {"done": self.done, "items": self.items, "left": self.left, "judgments": self.judgments,
                "needed": self.needed, "available": self.available}


@dataclass(frozen=True)
class Consensus:
    """Training judgments from a campaign (one per item) and what was left out and why."""

    judgments: list[Judgment]
    items: int  # items with at least one judgment
    below_agreement: int
    ties: int

    def summary(self) -> str:
        return Message("campaign_consensus", judged=len(self.judgments), items=self.items,
                       below=self.below_agreement, ties=self.ties)


class CampaignStore:
    """Campaigns beside the judgments, in the same SQLite file and through the same connection pool."""

    def __init__(self, store: JudgmentStore, *, lease_s: float = LEASE_S,
                 leases_per_address: int = LEASES_PER_ADDRESS, clock: Callable[[], float] = time.time) -> None:
        if lease_s <= 0:
            raise ValueError("lease_s must be positive")
        if leases_per_address < 1:
            raise ValueError("leases_per_address must be at least 1")
        self.store = store
        self.lease_s = float(lease_s)
        self.leases_per_address = int(leases_per_address)
        self.clock = clock
        try:
            with store.transaction() as conn:
                for statement in _SCHEMA.split(";\n"):
                    if statement.strip():
                        conn.execute(statement)
                # A store from before leases recorded addresses gets the column (old leases: no address).
                if "address" not in {r[1] for r in conn.execute("PRAGMA table_info(campaign_leases)")}:
                    conn.execute("ALTER TABLE campaign_leases ADD COLUMN address TEXT")
        except sqlite3.Error as exc:
            raise JudgmentStoreError(f"cannot add campaigns to {store.path}: {exc}") from exc

    def __repr__(self) -> str:
        return f"CampaignStore({str(self.store.path)!r})"

    # -- helpers ---------------------------------------------------------------------------------

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        try:
            with self.store.reading() as conn:
                return conn.execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise JudgmentStoreError(f"could not read campaigns in {self.store.path}: {exc}") from exc

    @staticmethod
    def _campaign_id(value: Any) -> str:
        text = str(value or "").strip()
        if not text:
            raise UserError("campaign_choose")
        # Ids are hex; anything else cannot name a campaign, and is not echoed back at length.
        if len(text) > 2 * ID_BYTES or any(c not in "0123456789abcdef" for c in text):
            raise UserError("campaign_no_such_id")
        return text

    def get(self, campaign_id: Any) -> Campaign:
        """A campaign by id, or a ValueError (the same for one that never existed)."""
        cid = self._campaign_id(campaign_id)
        rows = self._read("SELECT * FROM campaigns WHERE id = ?", (cid,))
        if not rows:
            raise UserError("campaign_not_found", campaign=cid)
        return Campaign.from_row(rows[0])

    def item(self, campaign_id: Any, item_id: Any) -> Item:
        campaign = self.get(campaign_id)
        number = _item_number(item_id)
        rows = self._read("SELECT * FROM campaign_items WHERE campaign_id = ? AND item_id = ?", (campaign.id, number))
        if not rows:
            raise UserError("campaign_no_item", campaign=campaign.id, item=number, count=campaign.n_items)
        return _item(rows[0])

    @staticmethod
    def may_manage(campaign: Campaign, user: str, is_admin: bool) -> bool:
        """The creator and admins see agreement per annotator and export; annotators see their progress."""
        return is_admin or campaign.creator == user

    def _require_manager(self, campaign: Campaign, user: str, is_admin: bool, what: str) -> None:
        if not self.may_manage(campaign, user, is_admin):
            raise NotOwnerError(Message("campaign_managers_only", what=Message(what)))

    # -- creating --------------------------------------------------------------------------------

    def create(self, creator: str, table: ItemTable, judgment: str, *, overlap: Any = 2, labels: Any = None,
               instructions: str | None = "", name: str | None = "", show_model_score: bool = False,
               rule: str | None = None, query_prefix: str | None = None, passage_prefix: str | None = None,
               model_id: str | None = None, is_admin: bool = False) -> Campaign:
        """A new campaign of ``table``'s items, created by ``creator`` (a server-established user)."""
        judgment, overlap_n, label_list, text, title = check_settings(judgment, overlap, labels, instructions, name)
        if not creator:
            raise ValueError("a campaign needs its creator")
        pair = len(table.columns) == 2
        if pair != (judgment in (RELEVANCE, SCORE)):
            wants = Message("campaign_judges_pairs" if judgment in (RELEVANCE, SCORE) else "campaign_judges_singles")
            raise UserError("campaign_wrong_layout", judgment=judgment, wants=wants, count=len(table.columns),
                            columns=", ".join(table.columns))
        if not table.items:
            raise UserError("campaign_empty")
        campaign = Campaign(id=secrets.token_hex(ID_BYTES), name=title or f"{judgment} campaign", creator=creator,
                            judgment=judgment, overlap=overlap_n, columns=tuple(table.columns), instructions=text,
                            labels=label_list, show_model_score=bool(show_model_score), rule=rule,
                            created_at=utc_now(), n_items=len(table.items), query_prefix=query_prefix,
                            passage_prefix=passage_prefix, model_id=model_id)
        try:
            with self.store.transaction() as conn:
                if not is_admin:
                    mine = conn.execute("SELECT COUNT(*) FROM campaigns WHERE creator = ?", (creator,)).fetchone()[0]
                    if mine >= MAX_CAMPAIGNS_PER_USER:
                        raise UserError("campaign_limit", count=mine, limit=MAX_CAMPAIGNS_PER_USER)
                conn.execute(
                    "INSERT INTO campaigns (id, name, created_at, creator, judgment, overlap, columns, instructions,"
                    " labels, show_model_score, rule, n_items, query_prefix, passage_prefix, model_id)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (campaign.id, campaign.name, campaign.created_at, creator, judgment, overlap_n,
                     json.dumps(list(campaign.columns), ensure_ascii=False), text,
                     json.dumps(list(label_list), ensure_ascii=False), int(campaign.show_model_score), rule,
                     campaign.n_items, query_prefix, passage_prefix, model_id))
                conn.executemany(
                    "INSERT INTO campaign_items (campaign_id, item_id, text1, text2, model_score, reason)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    [(campaign.id, i, item.text1, item.text2 if pair else None, item.model_score, item.reason)
                     for i, item in enumerate(table.items, start=1)])
        except sqlite3.Error as exc:
            raise JudgmentStoreError(f"could not write campaign to {self.store.path}: {exc}") from exc
        return campaign

    def visible(self, user: str, is_admin: bool = False) -> list[Campaign]:
        """Campaigns the user created or took part in (an admin: all), newest first."""
        if is_admin:
            rows = self._read("SELECT * FROM campaigns ORDER BY created_at DESC, id")
        else:
            rows = self._read(
                "SELECT * FROM campaigns WHERE creator = ?"
                " OR id IN (SELECT campaign_id FROM campaign_judgments WHERE user = ?)"
                " OR id IN (SELECT campaign_id FROM campaign_leases WHERE user = ?)"
                " OR id IN (SELECT campaign_id FROM campaign_skips WHERE user = ?)"
                " ORDER BY created_at DESC, id", (user, user, user, user))
        return [Campaign.from_row(r) for r in rows]

    # -- handing out -----------------------------------------------------------------------------

    def next_item(self, campaign_id: Any, user: str, *, address: str | None = None) -> Item | None:
        """The user's next item (the one they hold, else a new one, leased), or None when nothing is left.

        ``address``: the client address of an anonymous identity (None for a logged-in user). A new lease
        is refused while that address already holds ``leases_per_address`` in the campaign for others.
        """
        campaign = self.get(campaign_id)
        address = _counted_address(campaign, user, address)
        now = self.clock()
        try:
            with self.store.transaction() as conn:
                conn.execute("DELETE FROM campaign_leases WHERE campaign_id = ? AND expires_at <= ?",
                             (campaign.id, now))
                held = conn.execute(
                    "SELECT i.* FROM campaign_leases l JOIN campaign_items i"
                    " ON i.campaign_id = l.campaign_id AND i.item_id = l.item_id"
                    " WHERE l.campaign_id = ? AND l.user = ? ORDER BY l.expires_at DESC LIMIT 1",
                    (campaign.id, user)).fetchone()
                if held is None:
                    self._check_address(conn, campaign, user, address)
                row = held if held is not None else _free_item(conn, campaign, user, now)
                if row is None:
                    return None
                # One lease per person and campaign: a renewed hold replaces any other.
                self._lease(conn, campaign.id, int(row["item_id"]), user, address, now)
                return _item(row)
        except sqlite3.Error as exc:
            raise JudgmentStoreError(f"could not hand out an item from {self.store.path}: {exc}") from exc

    def _address_full(self, conn: sqlite3.Connection, campaign: Campaign, user: str, address: str | None) -> bool:
        """Whether other anonymous identities from ``address`` hold its share of the campaign's open leases."""
        if not address:
            return False
        others = conn.execute("SELECT COUNT(*) FROM campaign_leases WHERE campaign_id = ? AND address = ? AND user != ?",
                              (campaign.id, address, user)).fetchone()[0]
        return bool(others >= self.leases_per_address)

    def _check_address(self, conn: sqlite3.Connection, campaign: Campaign, user: str, address: str | None) -> None:
        """Refuse a new lease to an anonymous identity whose address holds its share of the campaign already."""
        if self._address_full(conn, campaign, user, address):
            raise UserError("campaign_address_leases", limit=self.leases_per_address,
                            minutes=max(1, round(self.lease_s / 60)))

    def _lease(self, conn: sqlite3.Connection, campaign_id: str, item_id: int, user: str, address: str | None,
               now: float) -> None:
        conn.execute("DELETE FROM campaign_leases WHERE campaign_id = ? AND user = ?", (campaign_id, user))
        conn.execute("INSERT INTO campaign_leases (campaign_id, item_id, user, expires_at, address)"
                     " VALUES (?, ?, ?, ?, ?)", (campaign_id, item_id, user, now + self.lease_s, address))

    def lease_holders(self, campaign_id: Any, viewer: str, is_admin: bool = False) -> list[dict[str, Any]]:
        """Who holds which item now and for how many more seconds (the creator and admins only); no addresses."""
        campaign = self.get(campaign_id)
        self._require_manager(campaign, viewer, is_admin, "seen_lease_holders")
        now = self.clock()
        rows = self._read("SELECT user, item_id, expires_at FROM campaign_leases WHERE campaign_id = ?"
                          " AND expires_at > ? ORDER BY user, item_id", (campaign.id, now))
        return [{"user": r["user"], "item_id": int(r["item_id"]), "expires_in_s": round(r["expires_at"] - now)}
                for r in rows]

    def release_leases(self, campaign_id: Any, user: str, *, by: str, is_admin: bool = False) -> int:
        """End every lease ``user`` holds in the campaign, so their items go to others now (the creator and
        admins only, e.g. against someone holding items they do not judge). Returns how many ended; their
        judgments stay. The person may ask for an item again, within the usual limits."""
        campaign = self.get(campaign_id)
        if not self.may_manage(campaign, by, is_admin):
            raise NotOwnerError(Message("campaign_release_managers_only"))
        who = str(user or "").strip()
        if not who:
            raise UserError("campaign_release_whom")
        try:
            with self.store.transaction() as conn:
                return conn.execute("DELETE FROM campaign_leases WHERE campaign_id = ? AND user = ?",
                                    (campaign.id, who)).rowcount
        except sqlite3.Error as exc:
            raise JudgmentStoreError(f"could not write to {self.store.path}: {exc}") from exc

    def submit(self, campaign_id: Any, item_id: Any, judgment: Judgment) -> int:
        """Store ``judgment`` (its user set by the caller from a trusted identity) as the answer to an item.

        The item's own texts are used; texts given in ``judgment`` must match them. Refused when the
        person judged the item already, or when it got all its judgments while their hold had expired.
        """
        campaign = self.get(campaign_id)
        item = self.item(campaign.id, item_id)
        user = judgment.user
        if not user:
            raise ValueError("a campaign judgment needs its user")
        allowed = KINDS_OF[campaign.judgment]
        if judgment.kind not in allowed:
            raise UserError("campaign_wrong_kind", campaign=campaign.name, allowed=" or ".join(allowed), kind=judgment.kind)
        for name, given, own in (("anchor", judgment.anchor, item.text1), ("positive", judgment.positive, item.text2)):
            if given not in (None, "") and clean_text(str(given)) != own:
                raise UserError("campaign_text_mismatch", field=name, item=item.item_id)
        score, label = None, None
        if campaign.judgment == SCORE:
            score = check_score(judgment.score)
        elif campaign.judgment == LABEL:
            label = clean_text(judgment.label or "")
            if label not in campaign.labels:
                raise UserError("campaign_unknown_label", label=label, labels=", ".join(campaign.labels))
        record = judgment.replace(
            anchor=item.text1, positive=item.text2 if campaign.layout == PAIR else None, negative=None,
            score=score, label=label, tab=judgment.tab or TAB,
            query_prefix=campaign.query_prefix if judgment.query_prefix is None else judgment.query_prefix,
            passage_prefix=campaign.passage_prefix if judgment.passage_prefix is None else judgment.passage_prefix,
            model_id=judgment.model_id or campaign.model_id)
        now = self.clock()

        def link(conn: sqlite3.Connection, judgment_id: int, stored: Judgment) -> None:
            key = (campaign.id, item.item_id)
            if conn.execute("SELECT 1 FROM campaign_judgments WHERE campaign_id = ? AND item_id = ? AND user = ?",
                            (*key, stored.user)).fetchone():
                raise UserError("campaign_already_judged", item=item.item_id)
            judged = conn.execute("SELECT COUNT(*) FROM campaign_judgments WHERE campaign_id = ? AND item_id = ?",
                                  key).fetchone()[0]
            held = conn.execute("SELECT COUNT(*) FROM campaign_leases WHERE campaign_id = ? AND item_id = ?"
                                " AND user != ? AND expires_at > ?", (*key, stored.user, now)).fetchone()[0]
            if judged + held >= campaign.overlap:
                raise UserError("campaign_item_full", item=item.item_id, overlap=campaign.overlap)
            conn.execute("INSERT INTO campaign_judgments (campaign_id, item_id, user, judgment_id, at)"
                         " VALUES (?, ?, ?, ?, ?)", (*key, stored.user, judgment_id, now))
            conn.execute("DELETE FROM campaign_leases WHERE campaign_id = ? AND item_id = ? AND user = ?",
                         (*key, stored.user))
            conn.execute("DELETE FROM campaign_skips WHERE campaign_id = ? AND item_id = ? AND user = ?",
                         (*key, stored.user))

        return self.store.add(record, within=link)

    def skip(self, campaign_id: Any, item_id: Any, user: str) -> None:
        """The user passes on an item: it is not offered to them again, and their hold goes to others."""
        campaign = self.get(campaign_id)
        item = self.item(campaign.id, item_id)
        try:
            with self.store.transaction() as conn:
                conn.execute("DELETE FROM campaign_leases WHERE campaign_id = ? AND item_id = ? AND user = ?",
                             (campaign.id, item.item_id, user))
                conn.execute("INSERT OR REPLACE INTO campaign_skips (campaign_id, item_id, user, at)"
                             " VALUES (?, ?, ?, ?)", (campaign.id, item.item_id, user, self.clock()))
        except sqlite3.Error as exc:
            raise JudgmentStoreError(f"could not write to {self.store.path}: {exc}") from exc

    def undo(self, campaign_id: Any, user: str, *, address: str | None = None) -> Item | None:
        """Take back the user's last judgment or skip in the campaign; returns that item, held for them again
        (None when there was nothing to undo). The judgment is deleted as its owner deletes it."""
        campaign = self.get(campaign_id)
        last = self._read(
            "SELECT 'judgment' AS what, item_id, judgment_id, at FROM campaign_judgments"
            " WHERE campaign_id = ? AND user = ?"
            " UNION ALL SELECT 'skip', item_id, NULL, at FROM campaign_skips WHERE campaign_id = ? AND user = ?"
            " ORDER BY at DESC LIMIT 1", (campaign.id, user, campaign.id, user))
        if not last:
            return None
        what, item_id, judgment_id = last[0]["what"], int(last[0]["item_id"]), last[0]["judgment_id"]
        address = _counted_address(campaign, user, address)
        if what == "judgment":
            self.store.delete(int(judgment_id), user)  # checks ownership; the trigger drops the link
        now = self.clock()
        with self.store.transaction() as conn:
            conn.execute("DELETE FROM campaign_skips WHERE campaign_id = ? AND item_id = ? AND user = ?",
                         (campaign.id, item_id, user))
            judged = conn.execute("SELECT COUNT(*) FROM campaign_judgments WHERE campaign_id = ? AND item_id = ?",
                                  (campaign.id, item_id)).fetchone()[0]
            held = conn.execute("SELECT COUNT(*) FROM campaign_leases WHERE campaign_id = ? AND item_id = ?"
                                " AND user != ? AND expires_at > ?", (campaign.id, item_id, user, now)).fetchone()[0]
            if judged + held >= campaign.overlap:
                return None  # someone took the slot back in the meantime: the next item will do
            conn.execute("DELETE FROM campaign_leases WHERE campaign_id = ? AND user = ? AND item_id != ?",
                         (campaign.id, user, item_id))
            if self._address_full(conn, campaign, user, address):
                return None  # the address holds its share: the next item says so
            self._lease(conn, campaign.id, item_id, user, address, now)
        return self.item(campaign.id, item_id)

    # -- reporting -------------------------------------------------------------------------------

    def progress(self, campaign_id: Any, user: str) -> AnnotatorProgress:
        campaign = self.get(campaign_id)
        now = self.clock()
        done = self._read("SELECT COUNT(*) FROM campaign_judgments WHERE campaign_id = ? AND user = ?",
                          (campaign.id, user))[0][0]
        per_item = self._read("SELECT item_id, COUNT(*) FROM campaign_judgments WHERE campaign_id = ? GROUP BY item_id",
                              (campaign.id,))
        judged = {int(r[0]): int(r[1]) for r in per_item}
        complete = sum(1 for n in judged.values() if n >= campaign.overlap)
        available = self._read(
            "SELECT COUNT(*) FROM campaign_items i WHERE i.campaign_id = ?"
            " AND NOT EXISTS (SELECT 1 FROM campaign_judgments j WHERE j.campaign_id = i.campaign_id"
            "   AND j.item_id = i.item_id AND j.user = ?)"
            " AND NOT EXISTS (SELECT 1 FROM campaign_skips s WHERE s.campaign_id = i.campaign_id"
            "   AND s.item_id = i.item_id AND s.user = ?)"
            " AND (SELECT COUNT(*) FROM campaign_judgments j WHERE j.campaign_id = i.campaign_id"
            "   AND j.item_id = i.item_id)"
            "   + (SELECT COUNT(*) FROM campaign_leases l WHERE l.campaign_id = i.campaign_id AND l.item_id = i.item_id"
            "   AND l.user != ? AND l.expires_at > ?) < ?",
            (campaign.id, user, user, user, now, campaign.overlap))[0][0]
        return AnnotatorProgress(done=int(done), items=campaign.n_items, left=campaign.n_items - complete,
                        judgments=sum(judged.values()), needed=campaign.n_items * campaign.overlap,
                        available=int(available))

    def has_judged(self, campaign_id: Any, item_id: Any, user: str) -> bool:
        """Whether ``user`` has a judgment on this item (a key pressed twice must not judge twice)."""
        campaign = self.get(campaign_id)
        return bool(self._read("SELECT 1 FROM campaign_judgments WHERE campaign_id = ? AND item_id = ? AND user = ?",
                               (campaign.id, _item_number(item_id), user)))

    def ratings(self, campaign_id: Any) -> dict[int, dict[str, Any]]:
        """item -> annotator -> value (the verdict's kind, the score, or the label), for agreement."""
        campaign = self.get(campaign_id)
        out: dict[int, dict[str, Any]] = defaultdict(dict)
        for row in self._read(_VALUE_SQL, (campaign.id,)):
            out[int(row["item_id"])][row["user"]] = _value(campaign, row)
        return dict(out)

    def agreement(self, campaign_id: Any, viewer: str, is_admin: bool = False, *, top: int = 10) -> AgreementReport:
        """Krippendorff's alpha, each annotator against the others, the most disputed items (creator/admins)."""
        campaign = self.get(campaign_id)
        self._require_manager(campaign, viewer, is_admin, "seen_agreement_per_annotator")
        return agreement_report(self.ratings(campaign.id), campaign.level, top=top)

    def consensus(self, campaign_id: Any, viewer: str, is_admin: bool = False, *,
                  min_agreement: float | None = None) -> Consensus:
        """One training judgment per judged item: the mean score or the majority verdict or label.

        Items whose agreement (mean over pairs of their judgments, 0-1) is below ``min_agreement`` are
        left out, and so are items judged once when a level is set (their agreement is unknown), and
        ties (no majority).
        """
        campaign = self.get(campaign_id)
        self._require_manager(campaign, viewer, is_admin, "seen_training_data")
        if min_agreement is not None and not 0.0 <= float(min_agreement) <= 1.0:
            raise UserError("campaign_agreement_level", value=min_agreement)
        level = float(min_agreement) if min_agreement else None
        ratings = self.ratings(campaign.id)
        items = {int(r["item_id"]): _item(r) for r in self._read(
            "SELECT * FROM campaign_items WHERE campaign_id = ? ORDER BY item_id", (campaign.id,))}
        out: list[Judgment] = []
        below = ties = 0
        for item_id, by_user in sorted(ratings.items()):
            values = list(by_user.values())
            agreement = item_agreement(values, campaign.level)
            if level is not None and (agreement is None or agreement < level):
                below += 1
                continue
            item = items[item_id]
            base = Judgment(kind="score", anchor=item.text1, positive=item.text2, user=f"campaign:{campaign.id}",
                            tab=TAB, query_prefix=campaign.query_prefix, passage_prefix=campaign.passage_prefix,
                            model_id=campaign.model_id,
                            comment=f"item {item_id}: {len(values)} judgment(s)"
                                    + (f", agreement {agreement:.2f}" if agreement is not None else ""))
            if campaign.judgment == SCORE:
                out.append(base.replace(score=sum(values) / len(values)))
                continue
            top = Counter(values).most_common(2)
            if len(top) > 1 and top[0][1] == top[1][1]:
                ties += 1
                continue
            if campaign.judgment == RELEVANCE:
                out.append(base.replace(kind=top[0][0]))
            else:
                out.append(base.replace(kind="label", label=top[0][0], positive=None))
        return Consensus(judgments=out, items=len(ratings), below_agreement=below, ties=ties)


def _item_number(value: Any) -> int:
    if isinstance(value, bool):
        raise UserError("campaign_item_id", value=value)
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise UserError("campaign_item_id", value=value) from None
    # SQLite integers are 64-bit; anything past that cannot name an item.
    if not number.is_integer() or not 1 <= number < 2**63:
        raise UserError("campaign_item_id_from_1", value=value)
    return int(number)


def _counted_address(campaign: Campaign, user: str, address: str | None) -> str | None:
    """The address a lease counts against: none for the campaign's creator, who is one known person
    (their items neither take from nor are refused by their address's share)."""
    return None if user == campaign.creator else address


def _item(row: sqlite3.Row) -> Item:
    return Item(item_id=int(row["item_id"]), text1=row["text1"], text2=row["text2"],
                model_score=row["model_score"], reason=row["reason"])


def _free_item(conn: sqlite3.Connection, campaign: Campaign, user: str, now: float) -> sqlite3.Row | None:
    """An item the user has neither judged nor skipped whose judgments plus others' holds are below the
    overlap; items closest to complete first (so agreement can be measured early), then in table order
    (a model-chosen campaign lists its most uncertain items first)."""
    return conn.execute(
        "SELECT * FROM (SELECT i.*,"
        " (SELECT COUNT(*) FROM campaign_judgments j WHERE j.campaign_id = i.campaign_id AND j.item_id = i.item_id)"
        " + (SELECT COUNT(*) FROM campaign_leases l WHERE l.campaign_id = i.campaign_id AND l.item_id = i.item_id"
        "    AND l.expires_at > ?) AS taken"
        " FROM campaign_items i WHERE i.campaign_id = ?"
        " AND NOT EXISTS (SELECT 1 FROM campaign_judgments j WHERE j.campaign_id = i.campaign_id"
        "   AND j.item_id = i.item_id AND j.user = ?)"
        " AND NOT EXISTS (SELECT 1 FROM campaign_skips s WHERE s.campaign_id = i.campaign_id"
        "   AND s.item_id = i.item_id AND s.user = ?))"
        " WHERE taken < ? ORDER BY taken DESC, item_id LIMIT 1",
        (now, campaign.id, user, user, campaign.overlap)).fetchone()


def _value(campaign: Campaign, row: sqlite3.Row) -> Any:
    if campaign.judgment == SCORE:
        return float(row["score"])
    if campaign.judgment == LABEL:
        return row["label"]
    return row["kind"]
