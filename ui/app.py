"""The gr.Blocks app: a header, a banner when running on the fallback model, four tabs, and /flag."""

import gradio as gr

from core.studio import Studio
from ui import cluster_tab, common, prefix_tab, review_tab, similarity_tab

CSS = """
#banner {background: #fff4e5; border: 1px solid #f0b429; border-radius: 8px; padding: 4px 12px;}
#header h3 {margin-bottom: 0;}
"""


def build_app(studio: Studio, *, login: bool = False) -> gr.Blocks:
    with gr.Blocks(title="USER Studio") as app:
        with gr.Row():
            gr.Markdown(common.model_header(studio), elem_id="header")
            if login:
                gr.LoginButton(scale=0)
        banner = common.fallback_banner(studio)
        gr.Markdown(banner, elem_id="banner", visible=bool(banner))
        with gr.Tabs():
            similarity_tab.build(studio)
            cluster_tab.build(studio)
            prefix_tab.build(studio)
            if studio.store is not None:
                who, view, inputs, outputs, whoami = review_tab.build(studio)
                app.load(who, None, whoami, api_visibility="private")
                app.load(common.user_errors(view), inputs, outputs, api_visibility="private")

        @common.user_errors
        def flag(kind: str, anchor: str, positive: str = "", negative: str = "", score: float | None = None,
                 label: str = "", comment: str = "", query_prefix: str = "", passage_prefix: str = "",
                 tab: str = "api", request: gr.Request = None, profile: gr.OAuthProfile | None = None) -> dict:
            """Store one judgment. kind: relevant, not_relevant, score (0-5), similar, dissimilar,
            misplaced, label or prefer (label = query, passage or none). Returns the record id."""
            record = common.flag(studio, request, profile, kind=kind, anchor=anchor, positive=positive,
                                 negative=negative, score=score, label=label, comment=comment, tab=tab or "api",
                                 query_prefix=query_prefix or None, passage_prefix=passage_prefix or None)
            return {"id": record, "user": common.current_user(request, profile), "count": studio.store.count()}

        gr.api(flag, api_name="flag")
    return app
