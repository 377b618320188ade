"""Tab 4: your judgments, aggregate counts, deleting your own records, and training exports.

Private by default: a visitor sees their own judgments and counts that name nobody. Admins
(``--admins``) see everyone's judgments with user ids, the store's path, and export everything.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import gradio as gr
import pandas as pd

from core.identity import Identity
from core.judgments import APP_TABS, EXPORT_FORMATS, EXPORT_KINDS, KINDS, PREFIX_MODES, export
from core.studio import Studio
from ui import common
from ui.i18n import EN, i18n, localized, t

ALL = "(all)"
SHOWN = ["id", "created_at", "user", "tab", "kind", "anchor", "positive", "score", "label", "comment",
         "query_prefix", "passage_prefix", "model_id"]
# The two text columns are headed for what the judgment says about them: a passage judged not relevant
# must never appear under "positive" (the store's field name, which holds the second text of every kind).
# (Translation keys: the page's language names them.)
TEXT_HEADINGS: dict[str, tuple[str, str | None]] = {
    "relevant": ("rvh_query", "rvh_relevant"),
    "not_relevant": ("rvh_query", "rvh_not_relevant"),
    "score": ("rvh_text", "rvh_scored_against"),
    "similar": ("rvh_text", "rvh_similar"),
    "dissimilar": ("rvh_text", "rvh_dissimilar"),
    "misplaced": ("rvh_misplaced", None),
    "label": ("rvh_labelled", None),
    "prefer": ("rvh_text", None),
}
MIXED_HEADINGS = ("rvh_text", "rvh_against")
# Deleted judgments a user can still restore, and for how long (the janitor forgets a session idle
# for an hour, so "within the session" is at most that).
RESTORE_TTL_S = 3_600.0
RESTORE_MAX_USERS = 200


def headed(frame: pd.DataFrame, kind: str | None) -> pd.DataFrame:
    """The records with their text columns named for ``kind`` (None: several kinds, neutral names)."""
    first, second = TEXT_HEADINGS.get(kind, MIXED_HEADINGS) if kind else MIXED_HEADINGS
    out = frame.rename(columns={"anchor": t(first), "positive": t(second) if second else "positive"})
    if second is None and "positive" in out:
        out = out.drop(columns="positive")  # this kind has no second text
    return out


class DeletedJudgments:
    """What "delete all my judgments" took, per user, so that the same user can put it back for a while.

    Kept in the server's memory, never sent to the browser, keyed by the identity the server checked;
    bounded in time and in users.
    """

    def __init__(self, ttl_s: float = RESTORE_TTL_S, max_users: int = RESTORE_MAX_USERS) -> None:
        self.ttl_s = ttl_s
        self.max_users = max_users
        self._batches: dict[str, tuple[float, list[dict[str, Any]]]] = {}
        self._lock = threading.Lock()

    def _expire(self, now: float) -> None:
        for user in [u for u, (at, _) in self._batches.items() if now - at > self.ttl_s]:
            del self._batches[user]
        while len(self._batches) > self.max_users:
            del self._batches[min(self._batches, key=lambda u: self._batches[u][0])]

    def keep(self, user: str, rows: list[dict[str, Any]]) -> None:
        now = time.monotonic()
        with self._lock:
            earlier = self._batches.pop(user, (now, []))[1]
            self._batches[user] = (now, earlier + rows)  # a second delete-all adds to what can come back
            self._expire(now)

    def count(self, user: str) -> int:
        with self._lock:
            self._expire(time.monotonic())
            return len(self._batches.get(user, (0, []))[1])

    def take(self, user: str) -> list[dict[str, Any]]:
        with self._lock:
            self._expire(time.monotonic())
            return self._batches.pop(user, (0, []))[1]


def kind_name(kind: object) -> object:
    """A judgment kind in words in the page's language ("not relevant" for not_relevant); others as they are."""
    return t(f"kind_{kind}") if isinstance(kind, str) and f"kind_{kind}" in EN else kind


def tab_name(tab: object) -> object:
    """One of the app's tabs by the name the page shows it under ("Сходство" for similarity); others as stored."""
    return t(f"rv_tab_{tab}") if isinstance(tab, str) and tab in APP_TABS else tab


def readable_times(frame: pd.DataFrame) -> pd.DataFrame:
    """``created_at`` (ISO 8601 in UTC, to the millisecond) as "2026-11-28 00:05:39" under "created (UTC)",
    which fits its column on one line; a value that does not parse is shown as stored."""
    if "created_at" not in frame:
        return frame
    parsed = pd.to_datetime(frame["created_at"], utc=True, errors="coerce", format="ISO8601")
    shown = parsed.dt.strftime("%Y-%m-%d %H:%M:%S").where(parsed.notna(), frame["created_at"])
    return frame.assign(created_at=shown).rename(columns={"created_at": "created (UTC)"})


def _choice(value: str | None) -> str | None:
    return None if value in (ALL, None, "") else value


def review(studio: Studio, identity: Identity, kind: str = ALL, user: str = "", tab: str = ALL,
           limit: float | None = 500):
    """The caller's judgments (an admin's: anyone's, filtered by ``user``) and counts."""
    store = studio.store
    # Only an admin may look at another user's records; everyone else sees their own.
    who = ((user or "").strip() or None) if identity.is_admin else identity.user
    rows = int(limit or 0)
    if rows < 0:
        raise ValueError(f"rows must be at least 1, got {rows}")
    frame = store.records(kind=_choice(kind), user=who, tab=_choice(tab), limit=rows or None, newest_first=True)
    if not identity.is_admin:
        frame["model_id"] = frame["model_id"].map(common.display_model)
    kinds = set(frame["kind"]) if len(frame) else {_choice(kind)}
    frame = headed(frame[[c for c in SHOWN if c in frame]], next(iter(kinds)) if len(kinds) == 1 else None)
    frame = frame.rename(columns={"score": t("rvh_score")})  # the person's 0–5 score, not the model's similarity
    frame = readable_times(frame)
    frame["kind"] = frame["kind"].map(kind_name)
    if "tab" in frame:
        frame["tab"] = frame["tab"].map(tab_name)
    # "By kind" and "By tab" count the judgments the list is drawn from (yours; an admin's pick), not everyone's.
    counts = store.counts(by_user=identity.is_admin, user=who)

    def table(name: str) -> pd.DataFrame:
        # A judgment sent without a tab (the API's /flag may leave it out) is counted under "(none)". Tab
        # names are anyone's free text through the API: only an admin sees names outside the app's own.
        counted: dict[str, int] = {}
        for key, n in counts[name].items():
            if name == "by_tab" and key and key not in APP_TABS and not identity.is_admin:
                key = t("col_other")
            counted[key or t("col_none")] = counted.get(key or t("col_none"), 0) + n
        rows = sorted(counted.items(), key=lambda kv: -kv[1])
        if name == "by_kind":
            rows = [(kind_name(key), n) for key, n in rows]
        elif name == "by_tab":
            rows = [(tab_name(key), n) for key, n in rows]
        return pd.DataFrame(rows, columns=[name[3:], t("rv_records")])

    mine = store.count(user=identity.user)
    summary = t("rv_summary", total=f"{counts['total']:,}", users=f"{counts['users']:,}", mine=f"{mine:,}",
                user=identity.user)
    if identity.is_admin:
        summary += t("rv_admin", path=store.name)
        by_user = gr.update(value=localized(table("by_user")), visible=True)
    else:
        by_user = gr.update(value=None, visible=False)
    return localized(frame), localized(table("by_kind")), by_user, localized(table("by_tab")), summary


def export_file(studio: Studio, identity: Identity, kind: str, fmt: str, prefixes: str) -> str:
    """A training file of the caller's judgments, or everyone's for an admin (tracked, so that deleting
    the judgments also ends the file's link)."""
    source = studio.store if identity.is_admin else studio.store.judgments(user=identity.user)
    out = studio.files.new_folder("export") / f"user-studio-{kind}.{fmt}"
    export(source, fmt, out, kind=kind, prefixes=prefixes)
    common.track_export(studio, identity, str(out))
    return str(out)


def ask_delete_all(studio: Studio, identity: Identity):
    """The confirmation: how many judgments would go. Nothing is deleted here."""
    n = studio.store.count(user=identity.user)
    if not n:
        return t("rv_none_to_delete"), gr.update(visible=False), gr.update()
    return (t("rv_ask_delete", n=f"{n:,}"), gr.update(visible=True),
            gr.update(value=t("btn_confirm_delete_n", n=f"{n:,}")))


def delete_all(studio: Studio, identity: Identity, deleted: DeletedJudgments) -> str:
    """Delete every judgment of the caller, keeping them for :func:`restore_all`."""
    rows = studio.store.rows(user=identity.user)
    n = studio.store.delete_user(identity.user)
    deleted.keep(identity.user, rows)
    common.forget_exports(studio, identity.user)
    late = t("rv_deleted_late", n=n - len(rows)) if n > len(rows) else ""
    return t("rv_deleted", n=f"{n:,}", late=late)


def restore_all(studio: Studio, identity: Identity, deleted: DeletedJudgments) -> str:
    """Put back what the caller's "delete all" took (their own rows only: the batch is keyed by who they are)."""
    rows = [r for r in deleted.take(identity.user) if r.get("user") == identity.user]
    if not rows:
        return t("rv_nothing_to_restore")
    result = studio.store.import_records(rows, notify=True)
    return t("rv_restored", n=f"{result.added:,}")


def build(studio: Studio, token: gr.BrowserState) -> tuple:
    deleted = DeletedJudgments()
    with gr.Tab(i18n("rv_tab"), id="review") as tab:
        gr.Markdown(i18n("rv_intro"))
        with gr.Row():
            kind = gr.Dropdown([(i18n("rv_all"), ALL), *[(i18n(f"kind_{k}"), k) for k in KINDS]], value=ALL,
                               label=i18n("rv_kind"), elem_id="rv-kind")
            user = gr.Textbox(label=i18n("rv_user"), lines=1)
            # Shown by the names the tabs have on the page; the value stays the stored name (custom ones too).
            tab_filter = gr.Dropdown([(i18n("rv_all"), ALL), *[(i18n(f"rv_tab_{tab}"), tab) for tab in APP_TABS]],
                                     value=ALL, label=i18n("rv_tab_filter"), allow_custom_value=True,
                                     elem_id="rv-tab-filter")
            limit = gr.Number(500, label=i18n("rv_rows"), precision=0, minimum=1, maximum=100_000)
            refresh = gr.Button(i18n("btn_refresh"), variant="primary", elem_id="rv-refresh")
        summary = gr.Markdown(elem_id="rv-summary")
        records = gr.Dataframe(interactive=False, wrap=True, max_height=420, elem_id="rv-records",
                               column_widths=["60px", "150px", "120px", "90px", "100px", "22%", "22%", "60px",
                                              "100px", "140px", "90px", "90px", "140px"])
        with gr.Row():
            by_kind = gr.Dataframe(label=i18n("rv_by_kind"), interactive=False)
            by_user = gr.Dataframe(label=i18n("rv_by_user"), interactive=False, visible=False)
            by_tab = gr.Dataframe(label=i18n("rv_by_tab"), interactive=False)
        with gr.Accordion(i18n("rv_export_title"), open=True):
            with gr.Row():
                export_kind = gr.Dropdown(list(EXPORT_KINDS), value="pairs", label=i18n("rv_dataset"))
                export_format = gr.Dropdown(list(EXPORT_FORMATS), value="jsonl", label=i18n("rv_format"))
                # The modes' names are what the export and the CLI take; the page shows them in words.
                prefix_mode = gr.Radio([(i18n(f"rv_prefix_{mode}"), mode) if f"rv_prefix_{mode}" in EN else mode
                                        for mode in PREFIX_MODES], value="apply",
                                       label=i18n("rv_prefix_mode"))
                make_export = gr.Button(i18n("btn_export"), elem_id="rv-export")
            export_out = gr.File(label=i18n("rv_download"), elem_id="rv-export-file")
        with gr.Accordion(i18n("rv_delete_title"), open=False):
            whoami = gr.Markdown(elem_id="rv-whoami")
            with gr.Row():
                record_id = gr.Number(label=i18n("rv_judgment_id"), precision=0, elem_id="rv-record-id")
                delete_one = gr.Button(i18n("btn_delete_one"), size="sm", elem_id="rv-delete")
                delete_all_button = gr.Button(i18n("btn_delete_all"), size="sm", variant="stop",
                                              elem_id="rv-delete-all")
            with gr.Row(visible=False) as confirm_row:
                confirm = gr.Button(i18n("btn_confirm_delete"), size="sm", variant="stop", elem_id="rv-confirm-delete-all")
                cancel = gr.Button(i18n("btn_cancel"), size="sm", elem_id="rv-cancel-delete-all")
            delete_status = gr.Markdown(elem_id="rv-delete-status")
            restore = gr.Button(i18n("btn_restore"), size="sm", visible=False,
                                elem_id="rv-restore")

        # Every handler below that reads or changes judgments finds out who is asking by itself.
        @common.user_errors
        def view(kind_: str, user_: str, tab_: str, limit_: float | None, user_token: str, request: gr.Request,
                 profile: gr.OAuthProfile | None):
            return review(studio, common.identify(studio, request, profile, user_token), kind_, user_, tab_, limit_)

        @common.user_errors
        def make_file(kind_: str, fmt: str, prefixes: str, user_token: str, request: gr.Request,
                      profile: gr.OAuthProfile | None):
            return export_file(studio, common.identify(studio, request, profile, user_token), kind_, fmt, prefixes)

        @common.user_errors
        def delete(rid: float | None, user_token: str, request: gr.Request, profile: gr.OAuthProfile | None):
            return common.delete_judgment(studio, common.identify(studio, request, profile, user_token), rid), None

        @common.user_errors
        def ask(user_token: str, request: gr.Request, profile: gr.OAuthProfile | None):
            return ask_delete_all(studio, common.identify(studio, request, profile, user_token))

        @common.user_errors
        def delete_mine(user_token: str, request: gr.Request, profile: gr.OAuthProfile | None):
            identity = common.identify(studio, request, profile, user_token)
            message = delete_all(studio, identity, deleted)
            return message, gr.update(visible=False), gr.update(visible=deleted.count(identity.user) > 0), None

        @common.user_errors
        def restore_mine(user_token: str, request: gr.Request, profile: gr.OAuthProfile | None):
            return restore_all(studio, common.identify(studio, request, profile, user_token), deleted), \
                gr.update(visible=False)

        inputs = [kind, user, tab_filter, limit, token]
        outputs = [records, by_kind, by_user, by_tab, summary]
        refresh.click(view, inputs, outputs, api_visibility="private")
        # Opened, the tab shows the judgments as they are now (made in other tabs since the page loaded).
        tab.select(view, inputs, outputs, api_visibility="private")
        make_export.click(make_file, [export_kind, export_format, prefix_mode, token], export_out,
                          api_visibility="private")
        # After a deletion the download field empties: its file no longer exists.
        delete_one.click(delete, [record_id, token], [delete_status, export_out], api_visibility="private").then(
            view, inputs, outputs, api_visibility="private")
        delete_all_button.click(ask, token, [delete_status, confirm_row, confirm], api_visibility="private")
        cancel.click(common.user_errors(lambda: (t("rv_nothing_deleted"), gr.update(visible=False))), None,
                     [delete_status, confirm_row], api_visibility="private")
        confirm.click(delete_mine, token, [delete_status, confirm_row, restore, export_out],
                      api_visibility="private").then(view, inputs, outputs, api_visibility="private")
        restore.click(restore_mine, token, [delete_status, restore], api_visibility="private").then(
            view, inputs, outputs, api_visibility="private")
        return view, inputs, outputs, whoami
