"""``CampaignStore``: campaigns, items, leases and the link from each item to its judgments, in the
judgments' own database (a SQLite file, or PostgreSQL shared by app replicas).

A campaign judgment is an ordinary :class:`~core.judgments.Judgment` in the ``feedback`` table (kind,
texts, score or label, user, prefixes, model); ``campaign_judgments`` says which campaign item it
answers. The link is written in the same transaction as the judgment (``JudgmentStore.add(within=)``),
and the judgment store deletes it with its judgment (undo, "delete all mine"), so the two never
disagree, even after ``kill -9``. Nothing is added to the ``feedback`` table itself: exports, hub
sync and every existing store keep working unchanged. The tables are in ``core/storage/schema.py``.

Handing out items: every decision is taken inside one write transaction that first locks the
campaign's row (``SELECT ... FOR UPDATE`` on PostgreSQL, the file's ``BEGIN IMMEDIATE`` lock on
SQLite), which serialises the decisions on one campaign across threads, processes and replicas;
other campaigns go on meanwhile on PostgreSQL. An item is handed to a person only while its
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
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, and_, delete, exists, func, insert, literal, or_, select, union_all
from sqlalchemy import exc as sa_exc
from sqlalchemy.sql import Select

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
from core.judgments import Judgment, JudgmentStore, NotOwnerError, utc_now
from core.storage.schema import (
    campaign_items,
    campaign_judgments,
    campaign_leases,
    campaign_skips,
    campaigns,
    feedback,
)

# Long enough to read a pair and think (judging takes seconds), short enough that a slot held by
# someone who closed the tab is handed out again within minutes.
LEASE_S = 300.0
# A bound on what one person can make the server store (5,000 items each); admins are not bound.
MAX_CAMPAIGNS_PER_USER = 100
# Open leases per campaign for anonymous identities from one client address: as many as the address may
# mint identities in an hour, so identities it minted on earlier hours add nothing.
LEASES_PER_ADDRESS = MINTS_PER_WINDOW
TAB = "annotate"

# Short names for the columns of the tables every query here joins.
J, L, S, IT = campaign_judgments.c, campaign_leases.c, campaign_skips.c, campaign_items.c


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
    """Campaigns beside the judgments, in the same database and through the same connection pool."""

    def __init__(self, store: JudgmentStore, *, lease_s: float = LEASE_S,
                 leases_per_address: int = LEASES_PER_ADDRESS, clock: Callable[[], float] = time.time) -> None:
        if lease_s <= 0:
            raise ValueError("lease_s must be positive")
        if leases_per_address < 1:
            raise ValueError("leases_per_address must be at least 1")
        self.store = store
        self.db = store.db  # the tables exist: the judgment store migrated the database when it opened
        self.lease_s = float(lease_s)
        self.leases_per_address = int(leases_per_address)
        self.clock = clock

    def __repr__(self) -> str:
        return f"CampaignStore({self.store.name!r})"

    # -- helpers ---------------------------------------------------------------------------------

    def _read(self, query: Any) -> list[Any]:
        try:
            with self.db.reading() as conn:
                return list(conn.execute(query).mappings())
        except sa_exc.SQLAlchemyError as exc:
            raise self.db.error(exc, "read campaigns in") from exc

    @contextmanager
    def _deciding(self, campaign: Campaign, doing: str = "write to") -> Iterator[Connection]:
        """A write transaction that holds the campaign's row lock: every decision on who gets which item
        is taken by one transaction at a time, whichever process or replica asks."""
        try:
            with self.db.transaction() as conn:
                self.db.lock_row(conn, campaigns, id=campaign.id)
                yield conn
        except sa_exc.SQLAlchemyError as exc:
            raise self.db.error(exc, doing) from exc

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
        rows = self._read(select(campaigns).where(campaigns.c.id == cid))
        if not rows:
            raise UserError("campaign_not_found", campaign=cid)
        return Campaign.from_row(rows[0])

    def item(self, campaign_id: Any, item_id: Any) -> Item:
        campaign = self.get(campaign_id)
        number = _item_number(item_id)
        rows = self._read(select(campaign_items).where(IT.campaign_id == campaign.id, IT.item_id == number))
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
            with self.db.transaction() as conn:
                if not is_admin:
                    mine = conn.execute(select(func.count()).select_from(campaigns)
                                        .where(campaigns.c.creator == creator)).scalar_one()
                    if mine >= MAX_CAMPAIGNS_PER_USER:
                        raise UserError("campaign_limit", count=mine, limit=MAX_CAMPAIGNS_PER_USER)
                conn.execute(insert(campaigns).values(
                    id=campaign.id, name=campaign.name, created_at=campaign.created_at, creator=creator,
                    judgment=judgment, overlap=overlap_n, columns=json.dumps(list(campaign.columns), ensure_ascii=False),
                    instructions=text, labels=json.dumps(list(label_list), ensure_ascii=False),
                    show_model_score=int(campaign.show_model_score), rule=rule, n_items=campaign.n_items,
                    query_prefix=query_prefix, passage_prefix=passage_prefix, model_id=model_id))
                conn.execute(insert(campaign_items), [
                    {"campaign_id": campaign.id, "item_id": i, "text1": item.text1,
                     "text2": item.text2 if pair else None, "model_score": item.model_score, "reason": item.reason}
                    for i, item in enumerate(table.items, start=1)])
        except sa_exc.SQLAlchemyError as exc:
            raise self.db.error(exc, "write a campaign to") from exc
        return campaign

    def visible(self, user: str, is_admin: bool = False) -> list[Campaign]:
        """Campaigns the user created or took part in (an admin: all), newest first."""
        query = select(campaigns).order_by(campaigns.c.created_at.desc(), campaigns.c.id)
        if not is_admin:
            query = query.where(or_(
                campaigns.c.creator == user,
                *(campaigns.c.id.in_(select(t.c.campaign_id).where(t.c.user == user))
                  for t in (campaign_judgments, campaign_leases, campaign_skips))))
        return [Campaign.from_row(r) for r in self._read(query)]

    # -- handing out -----------------------------------------------------------------------------

    def next_item(self, campaign_id: Any, user: str, *, address: str | None = None) -> Item | None:
        """The user's next item (the one they hold, else a new one, leased), or None when nothing is left.

        ``address``: the client address of an anonymous identity (None for a logged-in user). A new lease
        is refused while that address already holds ``leases_per_address`` in the campaign for others.
        """
        campaign = self.get(campaign_id)
        address = _counted_address(campaign, user, address)
        now = self.clock()
        with self._deciding(campaign, "hand out an item from") as conn:
            conn.execute(delete(campaign_leases).where(L.campaign_id == campaign.id, L.expires_at <= now))
            held = conn.execute(
                select(campaign_items).join(campaign_leases, and_(IT.campaign_id == L.campaign_id,
                                                                  IT.item_id == L.item_id))
                .where(L.campaign_id == campaign.id, L.user == user)
                .order_by(L.expires_at.desc()).limit(1)).mappings().first()
            if held is None:
                self._check_address(conn, campaign, user, address)
            row = held if held is not None else _free_item(conn, campaign, user, now)
            if row is None:
                return None
            # One lease per person and campaign: a renewed hold replaces any other.
            self._lease(conn, campaign.id, int(row["item_id"]), user, address, now)
            return _item(row)

    def _address_full(self, conn: Connection, campaign: Campaign, user: str, address: str | None) -> bool:
        """Whether other anonymous identities from ``address`` hold its share of the campaign's open leases."""
        if not address:
            return False
        others = conn.execute(select(func.count()).select_from(campaign_leases).where(
            L.campaign_id == campaign.id, L.address == address, L.user != user)).scalar_one()
        return bool(others >= self.leases_per_address)

    def _check_address(self, conn: Connection, campaign: Campaign, user: str, address: str | None) -> None:
        """Refuse a new lease to an anonymous identity whose address holds its share of the campaign already."""
        if self._address_full(conn, campaign, user, address):
            raise UserError("campaign_address_leases", limit=self.leases_per_address,
                            minutes=max(1, round(self.lease_s / 60)))

    def _lease(self, conn: Connection, campaign_id: str, item_id: int, user: str, address: str | None,
               now: float) -> None:
        conn.execute(delete(campaign_leases).where(L.campaign_id == campaign_id, L.user == user))
        conn.execute(insert(campaign_leases).values(campaign_id=campaign_id, item_id=item_id, user=user,
                                                    expires_at=now + self.lease_s, address=address))

    def lease_holders(self, campaign_id: Any, viewer: str, is_admin: bool = False) -> list[dict[str, Any]]:
        """Who holds which item now and for how many more seconds (the creator and admins only); no addresses."""
        campaign = self.get(campaign_id)
        self._require_manager(campaign, viewer, is_admin, "seen_lease_holders")
        now = self.clock()
        rows = self._read(select(L.user, L.item_id, L.expires_at)
                          .where(L.campaign_id == campaign.id, L.expires_at > now).order_by(L.user, L.item_id))
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
        with self._deciding(campaign) as conn:
            return int(conn.execute(delete(campaign_leases).where(L.campaign_id == campaign.id,
                                                                  L.user == who)).rowcount)

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

        def link(conn: Connection, judgment_id: int, stored: Judgment) -> None:
            self.db.lock_row(conn, campaigns, id=campaign.id)  # decided alone, as next_item decides
            mine = (J.campaign_id == campaign.id, J.item_id == item.item_id, J.user == stored.user)
            if conn.execute(select(literal(1)).where(*mine)).first():
                raise UserError("campaign_already_judged", item=item.item_id)
            if _taken(conn, campaign.id, item.item_id, user, now) >= campaign.overlap:
                raise UserError("campaign_item_full", item=item.item_id, overlap=campaign.overlap)
            conn.execute(insert(campaign_judgments).values(campaign_id=campaign.id, item_id=item.item_id,
                                                           user=stored.user, judgment_id=judgment_id, at=now))
            for table in (campaign_leases, campaign_skips):
                conn.execute(delete(table).where(table.c.campaign_id == campaign.id,
                                                 table.c.item_id == item.item_id, table.c.user == stored.user))

        return self.store.add(record, within=link)

    def skip(self, campaign_id: Any, item_id: Any, user: str) -> None:
        """The user passes on an item: it is not offered to them again, and their hold goes to others."""
        campaign = self.get(campaign_id)
        item = self.item(campaign.id, item_id)
        with self._deciding(campaign) as conn:
            key = (S.campaign_id == campaign.id, S.item_id == item.item_id, S.user == user)
            conn.execute(delete(campaign_leases).where(L.campaign_id == campaign.id, L.item_id == item.item_id,
                                                       L.user == user))
            conn.execute(delete(campaign_skips).where(*key))
            conn.execute(insert(campaign_skips).values(campaign_id=campaign.id, item_id=item.item_id, user=user,
                                                       at=self.clock()))

    def undo(self, campaign_id: Any, user: str, *, address: str | None = None) -> Item | None:
        """Take back the user's last judgment or skip in the campaign; returns that item, held for them again
        (None when there was nothing to undo). The judgment is deleted as its owner deletes it."""
        campaign = self.get(campaign_id)
        judged = select(literal("judgment").label("what"), J.item_id, J.judgment_id, J.at) \
            .where(J.campaign_id == campaign.id, J.user == user)
        skipped = select(literal("skip").label("what"), S.item_id, literal(None).label("judgment_id"), S.at) \
            .where(S.campaign_id == campaign.id, S.user == user)
        both = union_all(judged, skipped).subquery()
        last = self._read(select(both).order_by(both.c.at.desc()).limit(1))
        if not last:
            return None
        what, item_id, judgment_id = last[0]["what"], int(last[0]["item_id"]), last[0]["judgment_id"]
        address = _counted_address(campaign, user, address)
        if what == "judgment":
            self.store.delete(int(judgment_id), user)  # checks ownership; the link goes with the judgment
        now = self.clock()
        with self._deciding(campaign) as conn:
            conn.execute(delete(campaign_skips).where(S.campaign_id == campaign.id, S.item_id == item_id,
                                                      S.user == user))
            if _taken(conn, campaign.id, item_id, user, now) >= campaign.overlap:
                return None  # someone took the slot back in the meantime: the next item will do
            conn.execute(delete(campaign_leases).where(L.campaign_id == campaign.id, L.user == user,
                                                       L.item_id != item_id))
            if self._address_full(conn, campaign, user, address):
                return None  # the address holds its share: the next item says so
            self._lease(conn, campaign.id, item_id, user, address, now)
        return self.item(campaign.id, item_id)

    # -- reporting -------------------------------------------------------------------------------

    def progress(self, campaign_id: Any, user: str) -> AnnotatorProgress:
        campaign = self.get(campaign_id)
        now = self.clock()
        done = self._read(select(func.count().label("n")).select_from(campaign_judgments)
                          .where(J.campaign_id == campaign.id, J.user == user))[0]["n"]
        per_item = self._read(select(J.item_id, func.count().label("n")).where(J.campaign_id == campaign.id)
                              .group_by(J.item_id))
        judged = {int(r["item_id"]): int(r["n"]) for r in per_item}
        complete = sum(1 for n in judged.values() if n >= campaign.overlap)
        open_to_user = _open_items(campaign, user).where(_held_by_others(user, now) < campaign.overlap)
        available = self._read(select(func.count().label("n")).select_from(open_to_user.subquery()))[0]["n"]
        return AnnotatorProgress(done=int(done), items=campaign.n_items, left=campaign.n_items - complete,
                                 judgments=sum(judged.values()), needed=campaign.n_items * campaign.overlap,
                                 available=int(available))

    def has_judged(self, campaign_id: Any, item_id: Any, user: str) -> bool:
        """Whether ``user`` has a judgment on this item (a key pressed twice must not judge twice)."""
        campaign = self.get(campaign_id)
        return bool(self._read(select(literal(1).label("one")).where(
            J.campaign_id == campaign.id, J.item_id == _item_number(item_id), J.user == user)))

    def ratings(self, campaign_id: Any) -> dict[int, dict[str, Any]]:
        """item -> annotator -> value (the verdict's kind, the score, or the label), for agreement."""
        campaign = self.get(campaign_id)
        out: dict[int, dict[str, Any]] = defaultdict(dict)
        query = select(J.item_id, J.user, feedback.c.kind, feedback.c.score, feedback.c.label) \
            .join(feedback, feedback.c.id == J.judgment_id).where(J.campaign_id == campaign.id)
        for row in self._read(query):
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
            select(campaign_items).where(IT.campaign_id == campaign.id).order_by(IT.item_id))}
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


def _item(row: Any) -> Item:
    return Item(item_id=int(row["item_id"]), text1=row["text1"], text2=row["text2"],
                model_score=row["model_score"], reason=row["reason"])


def _judgments_of_item() -> Any:
    """How many judgments the outer query's item has (a correlated count)."""
    return select(func.count()).where(J.campaign_id == IT.campaign_id, J.item_id == IT.item_id).scalar_subquery()


def _leases_of_item(now: float, *, except_user: str | None = None) -> Any:
    """How many unexpired leases (of people other than ``except_user``) the outer query's item has."""
    where = [L.campaign_id == IT.campaign_id, L.item_id == IT.item_id, L.expires_at > now]
    if except_user is not None:
        where.append(L.user != except_user)
    return select(func.count()).where(*where).scalar_subquery()


def _held_by_others(user: str, now: float) -> Any:
    return _judgments_of_item() + _leases_of_item(now, except_user=user)


def _open_items(campaign: Campaign, user: str) -> Select:
    """The campaign's items the user has neither judged nor skipped."""
    return select(campaign_items).where(
        IT.campaign_id == campaign.id,
        ~exists().where(J.campaign_id == IT.campaign_id, J.item_id == IT.item_id, J.user == user),
        ~exists().where(S.campaign_id == IT.campaign_id, S.item_id == IT.item_id, S.user == user))


def _taken(conn: Connection, campaign_id: str, item_id: int, user: str, now: float) -> int:
    """An item's judgments plus the unexpired leases of people other than ``user``."""
    judged = conn.execute(select(func.count()).select_from(campaign_judgments)
                          .where(J.campaign_id == campaign_id, J.item_id == item_id)).scalar_one()
    held = conn.execute(select(func.count()).select_from(campaign_leases).where(
        L.campaign_id == campaign_id, L.item_id == item_id, L.user != user, L.expires_at > now)).scalar_one()
    return int(judged) + int(held)


def _free_item(conn: Connection, campaign: Campaign, user: str, now: float) -> Any:
    """An item the user has neither judged nor skipped whose judgments plus others' holds are below the
    overlap; items closest to complete first (so agreement can be measured early), then in table order
    (a model-chosen campaign lists its most uncertain items first)."""
    candidates = _open_items(campaign, user).add_columns(
        (_judgments_of_item() + _leases_of_item(now)).label("taken")).subquery()
    return conn.execute(select(candidates).where(candidates.c.taken < campaign.overlap)
                        .order_by(candidates.c.taken.desc(), candidates.c.item_id).limit(1)).mappings().first()


def _value(campaign: Campaign, row: Any) -> Any:
    if campaign.judgment == SCORE:
        return float(row["score"])
    if campaign.judgment == LABEL:
        return row["label"]
    return row["kind"]
