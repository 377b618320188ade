"""Tab 4: your judgments, aggregate counts, deleting your own records, and training exports.

Private by default: a visitor sees their own judgments and counts that name nobody. Admins
(``--admins``) see everyone's judgments with user ids, the store's path, and export everything.
"""

from __future__ import annotations

import gradio as gr
import pandas as pd

from core.identity import Identity
from core.judgments import EXPORT_FORMATS, EXPORT_KINDS, KINDS, PREFIX_MODES, export
from core.studio import Studio
from ui import common

ALL = "(all)"
SHOWN = ["id", "created_at", "user", "tab", "kind", "anchor", "positive", "score", "label", "comment",
         "query_prefix", "passage_prefix", "model_id"]


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
    counts = store.counts(by_user=identity.is_admin)

    def table(name: str) -> pd.DataFrame:
        return pd.DataFrame(sorted(counts[name].items(), key=lambda kv: -kv[1]), columns=[name[3:], "records"])

    mine = store.count(user=identity.user)
    summary = (f"**{counts['total']:,} judgments** by {counts['users']:,} people; **{mine:,} are yours** "
               f"(you are `{identity.user}`).")
    if identity.is_admin:
        summary += f" You are an admin: every user's judgments are shown. Store: `{store.path}`"
        by_user = gr.update(value=table("by_user"), visible=True)
    else:
        by_user = gr.update(value=None, visible=False)
    return frame[[c for c in SHOWN if c in frame]], table("by_kind"), by_user, table("by_tab"), summary


def export_file(studio: Studio, identity: Identity, kind: str, fmt: str, prefixes: str) -> str:
    """A training file of the caller's judgments, or everyone's for an admin."""
    source = studio.store if identity.is_admin else studio.store.judgments(user=identity.user)
    out = studio.files.new_folder("export") / f"user-studio-{kind}.{fmt}"
    export(source, fmt, out, kind=kind, prefixes=prefixes)
    return str(out)


def build(studio: Studio, token: gr.BrowserState) -> tuple:
    with gr.Tab("Review judgments", id="review"):
        gr.Markdown("Your judgments so far, and the data they make for fine-tuning (pairs and triplets for "
                    "MultipleNegativesRankingLoss, scores for CoSENTLoss). Nobody else sees your texts; the "
                    "counts name nobody.")
        with gr.Row():
            kind = gr.Dropdown([ALL, *KINDS], value=ALL, label="Kind")
            user = gr.Textbox(label="User (admins only: exact id)", lines=1)
            tab = gr.Dropdown([ALL, "similarity", "clustering", "prefixes", "api"], value=ALL, label="Tab")
            limit = gr.Number(500, label="Rows", precision=0, minimum=1, maximum=100_000)
            refresh = gr.Button("Refresh", variant="primary", elem_id="rv-refresh")
        summary = gr.Markdown(elem_id="rv-summary")
        records = gr.Dataframe(interactive=False, wrap=True, max_height=420, elem_id="rv-records",
                               column_widths=["60px", "150px", "120px", "90px", "100px", "22%", "22%", "60px",
                                              "100px", "140px", "90px", "90px", "140px"])
        with gr.Row():
            by_kind = gr.Dataframe(label="By kind", interactive=False)
            by_user = gr.Dataframe(label="By user", interactive=False, visible=False)
            by_tab = gr.Dataframe(label="By tab", interactive=False)
        with gr.Accordion("Export training data (yours; an admin's: everyone's)", open=True):
            with gr.Row():
                export_kind = gr.Dropdown(list(EXPORT_KINDS), value="pairs", label="Dataset")
                export_format = gr.Dropdown(list(EXPORT_FORMATS), value="jsonl", label="Format")
                prefix_mode = gr.Radio(list(PREFIX_MODES), value="apply",
                                       label="Prefixes: applied to texts, or kept as columns for `prompts`")
                make_export = gr.Button("Export", elem_id="rv-export")
            export_out = gr.File(label="Download")
        with gr.Accordion("Delete my judgments", open=False):
            whoami = gr.Markdown(elem_id="rv-whoami")
            with gr.Row():
                record_id = gr.Number(label="Judgment id", precision=0, elem_id="rv-record-id")
                delete_one = gr.Button("Delete this judgment", size="sm", elem_id="rv-delete")
                delete_all = gr.Button("Delete all my judgments", size="sm", variant="stop")
            delete_status = gr.Markdown(elem_id="rv-delete-status")

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
            return common.delete_judgment(studio, common.identify(studio, request, profile, user_token), rid)

        @common.user_errors
        def delete_mine(user_token: str, request: gr.Request, profile: gr.OAuthProfile | None):
            n = studio.store.delete_user(common.identify(studio, request, profile, user_token).user)
            return f"Deleted {n} of your judgments."

        inputs = [kind, user, tab, limit, token]
        outputs = [records, by_kind, by_user, by_tab, summary]
        refresh.click(view, inputs, outputs, api_visibility="private")
        make_export.click(make_file, [export_kind, export_format, prefix_mode, token], export_out,
                          api_visibility="private")
        delete_one.click(delete, [record_id, token], delete_status, api_visibility="private").then(
            view, inputs, outputs, api_visibility="private")
        delete_all.click(delete_mine, token, delete_status, api_visibility="private").then(
            view, inputs, outputs, api_visibility="private")
        return view, inputs, outputs, whoami
