"""Tab 4: every stored judgment, counts, deletion of one's own records, and training exports."""

import tempfile
from pathlib import Path

import gradio as gr
import pandas as pd

from core.feedback import EXPORT_FORMATS, EXPORT_KINDS, KINDS, PREFIX_MODES, export
from core.studio import Studio
from ui import common

ALL = "(all)"
SHOWN = ["id", "created_at", "user", "tab", "kind", "anchor", "positive", "score", "label", "comment",
         "query_prefix", "passage_prefix", "model_id"]


def review(studio: Studio, kind: str = ALL, user: str = "", tab: str = ALL, limit: int = 500):
    store = studio.store
    # On page load an empty Textbox can arrive as None.
    frame = store.records(kind=None if kind in (ALL, None) else kind, user=(user or "").strip() or None,
                          tab=None if tab in (ALL, None) else tab, limit=int(limit or 0) or None,
                          newest_first=True)
    counts = store.counts()

    def table(name: str) -> pd.DataFrame:
        return pd.DataFrame(sorted(counts[name].items(), key=lambda kv: -kv[1]), columns=[name[3:], "records"])

    summary = f"**{counts['total']:,} judgments** stored in `{store.path}`"
    return frame[[c for c in SHOWN if c in frame]], table("by_kind"), table("by_user"), table("by_tab"), summary


def export_file(studio: Studio, kind: str, fmt: str, prefixes: str) -> str:
    folder = Path(tempfile.mkdtemp(prefix="user-studio-export-"))
    out = folder / f"user-studio-{kind}.{fmt}"
    export(studio.store, fmt, out, kind=kind, prefixes=prefixes)
    return str(out)


def build(studio: Studio) -> None:
    with gr.Tab("Review judgments", id="review"):
        gr.Markdown("What people have judged so far, and the data it makes for fine-tuning "
                    "(pairs and triplets for MultipleNegativesRankingLoss, scores for CoSENTLoss).")
        with gr.Row():
            kind = gr.Dropdown([ALL, *KINDS], value=ALL, label="Kind")
            user = gr.Textbox(label="User (exact id)", lines=1)
            tab = gr.Dropdown([ALL, "similarity", "clustering", "prefixes", "api"], value=ALL, label="Tab")
            limit = gr.Number(500, label="Rows", precision=0, minimum=1, maximum=100_000)
            refresh = gr.Button("Refresh", variant="primary", elem_id="rv-refresh")
        summary = gr.Markdown(elem_id="rv-summary")
        records = gr.Dataframe(interactive=False, wrap=True, max_height=420, elem_id="rv-records",
                               column_widths=["60px", "150px", "120px", "90px", "100px", "22%", "22%", "60px",
                                              "100px", "140px", "90px", "90px", "140px"])
        with gr.Row():
            by_kind = gr.Dataframe(label="By kind", interactive=False)
            by_user = gr.Dataframe(label="By user", interactive=False)
            by_tab = gr.Dataframe(label="By tab", interactive=False)
        with gr.Accordion("Export training data", open=True):
            with gr.Row():
                export_kind = gr.Dropdown(list(EXPORT_KINDS), value="pairs", label="Dataset")
                export_format = gr.Dropdown(list(EXPORT_FORMATS), value="jsonl", label="Format")
                prefix_mode = gr.Radio(list(PREFIX_MODES), value="apply",
                                       label="Prefixes: applied to texts, or kept as columns for `prompts`")
                make_export = gr.Button("Export", elem_id="rv-export")
            export_out = gr.File(label="Download")
        with gr.Accordion("Delete my judgments", open=False):
            whoami = gr.Markdown()
            with gr.Row():
                record_id = gr.Number(label="Record id", precision=0)
                delete_one = gr.Button("Delete this record", size="sm")
                delete_all = gr.Button("Delete all my records", size="sm", variant="stop")
            delete_status = gr.Markdown()

        inputs = [kind, user, tab, limit]
        outputs = [records, by_kind, by_user, by_tab, summary]
        view = common.user_errors(lambda *args: review(studio, *args))
        refresh.click(view, inputs, outputs, api_visibility="private")
        make_export.click(common.user_errors(lambda *args: export_file(studio, *args)),
                          [export_kind, export_format, prefix_mode], export_out, api_visibility="private")

        def who(request: gr.Request, profile: gr.OAuthProfile | None):
            return f"You are `{common.current_user(request, profile)}`."

        @common.user_errors
        def delete(rid: float | None, request: gr.Request, profile: gr.OAuthProfile | None):
            if not rid:
                raise ValueError("enter the id of one of your records")
            if not studio.store.delete(int(rid), common.current_user(request, profile)):
                raise ValueError(f"there is no record #{int(rid)}")
            return f"Record #{int(rid)} deleted."

        @common.user_errors
        def delete_mine(request: gr.Request, profile: gr.OAuthProfile | None):
            n = studio.store.delete_user(common.current_user(request, profile))
            return f"Deleted {n} of your records."

        delete_one.click(delete, record_id, delete_status, api_visibility="private").then(
            view, inputs, outputs, api_visibility="private")
        delete_all.click(delete_mine, None, delete_status, api_visibility="private").then(
            view, inputs, outputs, api_visibility="private")
        return who, view, inputs, outputs, whoami
