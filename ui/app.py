"""The gr.Blocks app: a header, a banner when running on the fallback model, the tabs, and the API."""

from __future__ import annotations

import os
from pathlib import Path

import gradio as gr

from core.judgments import Judgment
from core.studio import Studio
from ui import (
    annotate_tab,
    cluster_tab,
    common,
    evaluate_tab,
    models_panel,
    prefix_tab,
    review_tab,
    similarity_tab,
    train_tab,
)
from ui.i18n import PAGE_LANGUAGE_JS, SWITCH_JS, i18n, remember, t
from ui.sessions import SessionJanitor

CSS = (Path(__file__).with_name("style.css")).read_text(encoding="utf-8")


# Unless told how often, Gradio's queue recomputes its monitoring summary (a pandas group-by over up to
# 10,000 past events) after every event: 40% of the server's CPU in tests/test_security.py's sweep of
# about 500 events (py-spy, 2026-12-07), and more the longer a server runs. Monitoring is off here
# (app.launch_settings), so the summary is never used: never recompute it. Read when the queue is made.
GRADIO_ANALYTICS_NEVER = str(10**12)


def health_routes(studio: Studio) -> list:
    """``GET /health`` for a load balancer: 200 with ``{"status": "ok", "database": "ok"|"unavailable"|"none"}``
    while the process serves. No login and no queue: a replica whose database is away still serves
    what needs none (exploring), so it stays in rotation and says so."""
    import anyio
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def health(_request: Request) -> JSONResponse:
        database = await anyio.to_thread.run_sync(studio.database_status)
        return JSONResponse({"status": "ok", "database": database}, headers={"Cache-Control": "no-store"})

    return [Route("/health", health, methods=["GET", "HEAD"])]


def build_app(studio: Studio, *, login: bool = False, janitor: SessionJanitor | None = None) -> gr.Blocks:
    os.environ.setdefault("GRADIO_ANALYTICS_CACHE_FREQUENCY", GRADIO_ANALYTICS_NEVER)
    files_ttl = int(studio.files.ttl_s)
    # Gradio copies every file it serves into its cache; delete_cache removes those copies once they
    # are as old as our own exports' TTL, checked every minute (or every TTL, if shorter).
    with gr.Blocks(title="USER Studio", delete_cache=(max(1, min(60, files_ttl)), files_ttl)) as app:
        token = identity_token(studio)
        with gr.Row(elem_id="header-row"):
            header = gr.Markdown(common.model_header(studio), elem_id="header")
            # The app's own switch: Gradio's settings panel (with its language menu) is hidden.
            language = gr.Radio([("RU", "ru"), ("EN", "en")], value=None, label=i18n("app_language"),
                                show_label=False, container=False, scale=0, min_width=160, elem_id="lang-switch")
            if login:
                gr.LoginButton(scale=0)
        banner_text = common.fallback_banner(studio)
        banner = gr.Markdown(banner_text, elem_id="banner", visible=bool(banner_text))
        models = models_panel.build(studio, token)
        with gr.Tabs():
            similarity_tab.build(studio, token, models.changed)
            cluster_tab.build(studio, token)
            prefix_tab.build(studio, token)
            evaluate_tab.build(studio, token, models.changed)
            if studio.store is not None:
                view, inputs, outputs, whoami = review_tab.build(studio, token)
                train_tab.build(studio, token)
                annotate_tab.build(studio, token)

        @common.user_errors
        def page_language(lang: str, request: gr.Request):
            """The page says which language it shows; this session's handlers answer in it from now on."""
            lang = remember(request, lang)
            banner_value = common.fallback_banner(studio, lang)
            return lang, common.model_header(studio, lang), gr.update(value=banner_value, visible=bool(banner_value))

        # js: the language the page chose before Gradio started (ui/i18n/page.py), sent instead of the radio's value.
        loaded = app.load(page_language, language, [language, header, banner], js=PAGE_LANGUAGE_JS,
                          api_visibility="private")
        language.input(None, language, None, js=SWITCH_JS, api_visibility="private")
        # A model loaded or unloaded (here, or in another session before this page opened): the header's
        # list follows, and the tabs' model pickers listen to the same state.
        loaded.then(models_panel.on_page_load(studio), token, [models.note, models.unload_choice, models.changed],
                    api_visibility="private")
        models.changed.change(common.user_errors(lambda: common.model_header(studio)), None, header,
                              api_visibility="private")

        if studio.store is not None:
            @common.user_errors
            def start_session(user_token: str, request: gr.Request, profile: gr.OAuthProfile | None):
                """A browser without a valid identity token gets one from the server."""
                user_token = common.ensure_token(studio, user_token, request, profile)
                identity = common.identify(studio, request, profile, user_token)
                return user_token, t("you_are_admin" if identity.is_admin else "you_are", user=identity.user)

            loaded.then(start_session, token, [token, whoami], api_visibility="private").then(
                view, inputs, outputs, api_visibility="private")
            add_api(studio)
            train_tab.add_api(studio)
            annotate_tab.add_api(studio)
        evaluate_tab.add_api(studio)
        models_panel.add_api(studio)
        (janitor or SessionJanitor(interval_s=min(30.0, max(1.0, files_ttl / 2)))).attach(app, files=studio.files)
    return app


def identity_token(studio: Studio) -> gr.BrowserState:
    """The anonymous identity's secret, kept in the browser's local storage across reloads.

    BrowserState's own encryption key is sent to the page, so it hides nothing from the page's
    owner; what makes the token unforgeable is the server's signature inside it. The key is fixed
    (derived from the server's identity key) so that a restart can still read stored tokens.
    """
    secret = studio.identities.browser_state_secret() if studio.identities is not None else None
    return gr.BrowserState("", storage_key=common.IDENTITY_STORAGE_KEY, secret=secret)


def add_api(studio: Studio) -> None:
    """/flag and /delete_judgment: the API's way to judge and to take a judgment back."""

    @common.user_errors
    def flag(kind: str, anchor: str, positive: str = "", negative: str = "", score: float | None = None,
             label: str = "", comment: str = "", query_prefix: str = "", passage_prefix: str = "",
             tab: str = "api", token: str = "", campaign: str = "", item_id: float | None = None,
             request: gr.Request = None, profile: gr.OAuthProfile | None = None) -> dict:
        """Store one judgment. kind: relevant, not_relevant, score (0-5), similar, dissimilar, misplaced,
        label or prefer (label = query, passage or none). Without a token (and not logged in) you get a
        new anonymous identity: keep the returned token and pass it to judge and delete as the same user.
        With campaign and item_id (from /next_item) it answers that campaign item; anchor may be empty."""
        identity = common.identify(studio, request, profile, token, issue=True)
        judgment = Judgment(
            kind=kind, anchor=anchor, positive=positive or None, negative=negative or None, score=score,
            label=label or None, comment=comment or None, tab=tab or "api",
            query_prefix=query_prefix or None, passage_prefix=passage_prefix or None)
        if campaign or item_id not in (None, ""):
            record = annotate_tab.flag_item(studio, identity, campaign, item_id, judgment)
        else:
            record = common.flag(studio, identity, judgment)
        return {"id": record, "user": identity.user, "token": common.token_for_reply(studio, identity, token),
                "count": studio.store.count(user=identity.user)}

    @common.user_errors
    def delete_judgment(record_id: float, token: str = "", request: gr.Request = None,
                        profile: gr.OAuthProfile | None = None) -> dict:
        """Delete one of your judgments by id (pass the token /flag returned, unless logged in)."""
        identity = common.identify(studio, request, profile, token)
        message = common.delete_judgment(studio, identity, record_id)
        return {"deleted": int(record_id), "user": identity.user, "message": message}

    gr.api(flag, api_name="flag")
    gr.api(delete_judgment, api_name="delete_judgment")
