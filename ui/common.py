"""Pieces every tab shares: who the user is, turning errors into messages, the judgment panel."""

import html
from collections.abc import Callable
from functools import wraps

import gradio as gr

from core.studio import Studio

PREFIX_CHOICES = [("query: ", "query"), ("passage: ", "passage"), ("no prefix", "none")]


def current_user(request: gr.Request | None, profile: gr.OAuthProfile | None = None) -> str:
    """The HF login on a Space with "Sign in with HF", else the --auth user, else an anonymous session id."""
    if profile is not None and getattr(profile, "username", None):
        return f"hf:{profile.username}"
    username = getattr(request, "username", None) if request is not None else None
    if username:
        return f"auth:{username}"
    session = getattr(request, "session_hash", None) if request is not None else None
    return f"anon:{(session or 'api')[:12]}"


def user_errors(fn: Callable) -> Callable:
    """Bad input becomes a clear message in the UI and an error for API clients, never a traceback."""

    @wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except (ValueError, KeyError, PermissionError, RuntimeError) as error:
            # Escape markup (the UI renders error HTML) but keep quotes readable for API clients.
            raise gr.Error(html.escape(str(error).strip("'\""), quote=False), print_exception=False) from None
        except MemoryError:
            raise gr.Error("out of memory: send fewer or shorter texts", print_exception=False) from None

    return wrapper


def model_header(studio: Studio) -> str:
    info = studio.encoder.info()
    revision = f" @ `{str(info['revision'])[:10]}`" if info.get("revision") else ""
    limit = info["max_tokens"] or "no"
    return (
        f"### USER Studio · `{html.escape(str(info['model']))}`{revision}\n"
        f"**{info['dim']}-d** · **{info['device']}** · **{info['dtype']}** · {limit} token limit · "
        f"{html.escape(str(info['backend']))}"
    )


def fallback_banner(studio: Studio) -> str:
    if not studio.fallback_reason:
        return ""
    return (
        f"⚠️ **Running on `{html.escape(studio.encoder.model_id)}`, not deepvk/USER-base.** "
        f"{html.escape(studio.fallback_reason)} Prefixes do not apply to this fallback model."
    )


def judgment_status(record_id: int, what: str) -> str:
    return f"✅ Saved judgment #{record_id}: {html.escape(what)}. Use **Undo** to take it back."


def flag(studio: Studio, request: gr.Request | None, profile: gr.OAuthProfile | None, *, kind: str, anchor: str,
         positive: str | None = None, negative: str | None = None, score: float | None = None,
         label: str | None = None, comment: str | None = None, tab: str, query_prefix: str | None = None,
         passage_prefix: str | None = None) -> int:
    """Store one judgment with everything needed to train on it later."""
    if studio.store is None:
        raise ValueError("judgments are switched off: the app has no feedback store")
    return studio.store.add(
        kind, anchor, positive=positive or None, negative=negative or None, score=score, label=label or None,
        user=current_user(request, profile), comment=(comment or "").strip() or None, tab=tab,
        query_prefix=query_prefix, passage_prefix=passage_prefix, model_id=studio.encoder.model_id,
        model_revision=studio.encoder.revision,
    )


def undo_handler(studio: Studio) -> Callable:
    """An event handler that deletes the user's last judgment in this tab."""

    @user_errors
    def undo(record_id: int | None, request: gr.Request, profile: gr.OAuthProfile | None) -> tuple[str, None]:
        if not record_id:
            return "Nothing to undo.", None
        deleted = studio.store.delete(int(record_id), current_user(request, profile))
        return (f"↩️ Judgment #{record_id} removed." if deleted else f"Judgment #{record_id} was already gone."), None

    return undo
