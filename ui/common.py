"""Pieces every tab shares: who the user is, turning errors into messages, the judgment panel."""

from __future__ import annotations

import csv
import html
import inspect
import logging
import secrets
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from functools import partial, wraps
from pathlib import Path, PurePath
from typing import Any, NoReturn

import anyio
import gradio as gr
import pandas as pd

from core.errors import Message, UserError, message_of
from core.identity import Identity
from core.judgments import Judgment, NotOwnerError
from core.storage import StoreUnavailableError
from core.studio import Studio
from ui.i18n import DEFAULT, current, i18n, t, translate_error

log = logging.getLogger("user_studio.ui")

PREFIX_CHOICES = [("query: ", "query"), ("passage: ", "passage"), (i18n("prefix_none"), "none")]
# Where a browser keeps its anonymous identity token (gr.BrowserState, i.e. localStorage).
IDENTITY_STORAGE_KEY = "user-studio-identity"


def identify(studio: Studio, request: gr.Request | None, profile: gr.OAuthProfile | None, token: str | None,
             *, issue: bool = False) -> Identity:
    """The caller as the server knows it: HF login, else --auth login, else the anonymous token.

    The HF profile and the --auth username come from the server's own session; the client-chosen
    session hash is never used. ``issue`` gives a caller without a token a new identity (its token
    is in the result), as the API's first /flag does.
    """
    if studio.identities is None:
        raise UserError("judgments_off")
    hf_username = getattr(profile, "username", None) if profile is not None else None
    auth_username = getattr(request, "username", None) if request is not None else None
    return studio.identities.identify(hf_username=hf_username, auth_username=auth_username,
                                      token=(token or "").strip() or None, issue=issue,
                                      address=client_address(request))


def client_address(request: gr.Request | None) -> str | None:
    """The address the request came from, as the server saw it (None without an HTTP client).

    Only for limits (new identities per address, leases per address): behind a proxy every caller may
    share the proxy's address, and an address is never an identity.
    """
    client = getattr(request, "client", None) if request is not None else None
    host = getattr(client, "host", None)
    return str(host) if host else None


def admitted(studio: Studio, identity: Identity | None, request: gr.Request | None) -> AbstractAsyncContextManager:
    """A turn for a heavy call in ``studio.gate`` (core.limits.CallGate): in the user's own line, else in
    their address's, which everyone at that address shares, so it may hold more waiting calls."""
    if identity is not None:
        return studio.gate.admit(f"user {identity.user}")
    return studio.gate.admit(f"address {client_address(request) or 'unknown'}",
                             waiting=studio.limits.calls_waiting_per_address)


async def in_thread(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``fn(*args, **kwargs)`` in a worker thread, awaited (the request's context, its language too, goes along)."""
    return await anyio.to_thread.run_sync(partial(fn, *args, **kwargs))


def anonymous_address(identity: Identity, request: gr.Request | None) -> str | None:
    """The client address that limits an anonymous identity's campaign leases; None for a logged-in user,
    whom an account, not an address, makes one person."""
    return client_address(request) if identity.kind == "anon" else None


def caller(studio: Studio, request: gr.Request | None, profile: gr.OAuthProfile | None,
           token: str | None) -> Identity | None:
    """Who asks, when the server can tell (a login or a valid token); None for an anonymous call, which
    may still use every model but someone's private tuned one."""
    if studio.identities is None:
        return None
    try:
        return identify(studio, request, profile, token)
    except ValueError:
        return None


def access(identity: Identity | None) -> tuple[str | None, bool]:
    """``(user, is_admin)`` for Studio's model pickers; nobody for an anonymous caller."""
    return (identity.user, identity.is_admin) if identity is not None else (None, False)


def token_for_reply(studio: Studio, identity: Identity, token: str | None) -> str | None:
    """The token an API reply may carry: a newly issued one, or the caller's own if this server issued it.

    A logged-in caller is identified by the login, so a token they also sent is never checked on the way
    in; sending it back unchecked would echo whatever they wrote (an invalid or foreign string).
    """
    if identity.token:
        return identity.token
    if token and studio.identities is not None and studio.identities.is_valid(token):
        return token
    return None


def ensure_token(studio: Studio, token: str | None, request: gr.Request | None = None,
                 profile: gr.OAuthProfile | None = None) -> str:
    """The browser's token if this server issued it, else a new one (first visit, or a new server key),
    within the address's share of new identities (a logged-in visitor is identified by the login and
    gets a token without counting against it)."""
    if studio.identities is None:
        return ""
    if studio.identities.is_valid(token):
        return str(token)
    if profile is not None or (request is not None and getattr(request, "username", None)):
        return studio.identities.issue_token()
    return studio.identities.mint(client_address(request))


def user_errors(fn: Callable) -> Callable:
    """Every exception becomes a clear message for the user and a logged traceback, never a client traceback.

    Bad input (ValueError and friends) is shown as it is, markup escaped and quotes kept; anything
    unexpected is logged with a reference the user can quote, and the user sees only that reference.
    Messages are in the language of the page that asked (translated by their key, see ui/i18n/errors.py).
    """

    if inspect.iscoroutinefunction(fn):
        @wraps(fn)
        async def waiting_wrapper(*args, **kwargs):
            try:
                return await fn(*args, **kwargs)
            except Exception as error:
                _as_user_error(fn, error)

        waiting_wrapper.handles_errors = True  # type: ignore[attr-defined]
        return waiting_wrapper

    @wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except Exception as error:
            _as_user_error(fn, error)

    wrapper.handles_errors = True  # tests check that every event handler is wrapped
    return wrapper


def _as_user_error(fn: Callable, error: Exception) -> NoReturn:
    """Raise ``error`` again as the gr.Error its user should read (see ``user_errors``)."""
    if isinstance(error, gr.Error):
        if error.title == "Error":  # Gradio's default title, in English: the toast's title follows the page
            error.title = t("err_title")
        raise error
    if isinstance(error, (ValueError, PermissionError, OverflowError, csv.Error, NotOwnerError)):
        message = message_of(error)
    elif isinstance(error, KeyError):
        # str(KeyError("x")) is "'x'": the message is the argument itself.
        message = t("err_missing", name=error.args[0]) if error.args else t("err_missing_bare")
    elif isinstance(error, MemoryError):
        log.exception("%s ran out of memory", fn.__name__, exc_info=error)
        raise gr.Error(t("err_memory"), title=t("err_title"), print_exception=False) from None
    else:
        reference = secrets.token_hex(4)
        log.error("%s failed (reference %s)", fn.__name__, reference, exc_info=error)
        raise gr.Error(t("err_server", reference=reference), title=t("err_title"),
                       print_exception=False) from None
    # A database that is away was logged (with its cause, once per outage) where it was met
    # (core.storage.Database.error): every user's retry adds one line here, not another traceback.
    log.info("%s refused: %s", fn.__name__, message,
             exc_info=None if isinstance(error, StoreUnavailableError) else error)
    raise gr.Error(html.escape(translate_error(message), quote=False), title=t("err_title"),
                   print_exception=False) from None


def whole_number(value: object, name: str) -> int:
    """A number box's value as an int (3 and 3.0 alike), or a ValueError naming the field."""
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise UserError("whole_number", name=name, value=value) from None
    if not number.is_integer():
        raise UserError("whole_number", name=name, value=value)
    return int(number)


def display_model(model_id: object) -> str:
    """A model as visitors may see it: a hub id as it is, a local folder by its name only (no server path)."""
    text = str(model_id or "")
    if text.startswith(("/", "./", "../", "~")) or "\\" in text or text.count("/") > 1:
        return PurePath(text.rstrip("/\\")).name or text
    return text


def model_header(studio: Studio, lang: str | None = None) -> str:
    info = studio.encoder.info()
    revision = f" @ `{str(info['revision'])[:10]}`" if info.get("revision") else ""
    limit = t("hdr_token_limit", lang, limit=info["max_tokens"]) if info["max_tokens"] else t("hdr_no_limit", lang)
    header = (
        f"### USER Studio · `{html.escape(display_model(info['model']))}`{revision}\n"
        f"**{info['dim']}-d** · **{info['device']}** · **{info['dtype']}** · {limit} · "
        f"{html.escape(str(info['backend']))}"
    )
    # The page header is the same for everyone: a tuned model private to someone is not named in it.
    shared = studio.models_for()
    if len(shared) > 1:
        loaded = " · ".join(f"`{html.escape(display_model(model_id))}` ({encoder.dim}-d)"
                            for model_id, encoder in shared.items())
        header += "\n\n" + t("hdr_models_loaded", lang, models=loaded)
    return header


def fallback_banner(studio: Studio, lang: str | None = None) -> str:
    if not studio.fallback_reason:
        return ""
    prefixes = t("banner_prefixes_apply" if studio.encoder.uses_prefixes else "banner_prefixes_off", lang)
    # The loader's reason is a translatable message when it knows why (no cache, no hub); any other reason is
    # an English error text, which a page in another language replaces by a sentence of its own.
    lang = lang or current()
    reason = translate_error(studio.fallback_reason, lang)
    if lang != DEFAULT and not isinstance(studio.fallback_reason, Message):
        reason = t("banner_reason_other", lang)
    return (f"{t('banner_running_on', lang, model=html.escape(display_model(studio.encoder.model_id)))} "
            f"{html.escape(reason)} {prefixes}")


def judgment_status(record_id: int, what: str) -> str:
    return t("saved_judgment", id=record_id, what=html.escape(what))


def flag(studio: Studio, identity: Identity, judgment: Judgment) -> int:
    """Store one judgment as ``identity``, with the model that produced what was judged."""
    if studio.store is None:
        raise UserError("judgments_off")
    return studio.store.add(judgment.replace(
        user=identity.user, model_id=judgment.model_id or studio.encoder.model_id,
        model_revision=judgment.model_revision or studio.encoder.revision))


def delete_judgment(studio: Studio, identity: Identity, record_id: object) -> str:
    """Delete one of the caller's judgments, or say clearly why not."""
    if studio.store is None:
        raise UserError("judgments_off")
    if record_id in (None, ""):
        raise UserError("enter_own_judgment_id")
    deleted = studio.store.delete(record_id, identity.user)
    if not deleted:
        raise UserError("no_such_judgment", id=record_id)
    forget_exports(studio, identity.user)
    return t("judgment_deleted", id=record_id)


def undo_handler(studio: Studio, batch_message: str = "batch_removed") -> Callable:
    """An event handler that takes back the caller's last judgment in a tab, or its last batch (a list of
    ids, as a selection or a cluster's labels make), deleting only what is the caller's own."""

    @user_errors
    def undo(record: int | list[int] | None, token: str, request: gr.Request,
             profile: gr.OAuthProfile | None) -> tuple[str, None]:
        if not record:
            return t("nothing_to_undo"), None
        identity = identify(studio, request, profile, token)
        ids = record if isinstance(record, list) else [record]
        removed = sum(studio.store.delete(rid, identity.user) for rid in ids)
        if removed:
            forget_exports(studio, identity.user)
        if len(ids) == 1:
            return t("judgment_removed" if removed else "judgment_already_gone", id=ids[0]), None
        return t(batch_message, n=removed), None

    return undo


# Exports of everyone's judgments (an admin's) are tracked under this owner: anyone's deletion ends them.
EVERYONE_EXPORTS = "*"


def track_export(studio: Studio, identity: Identity, path: str) -> None:
    """Remember an export of judgments, and the copy Gradio will serve it from, as the caller's data.

    Gradio serves a returned file from its own cache, under a folder named for the file's content hash;
    the copy is made here, with Gradio's own function, so that its path is known and can be deleted
    when the judgments in it are (a link to deleted data must stop working, not live out the TTL).
    """
    from gradio.processing_utils import save_file_to_cache
    from gradio.utils import get_upload_folder

    served = save_file_to_cache(path, get_upload_folder())
    owner = EVERYONE_EXPORTS if identity.is_admin else identity.user
    studio.files.track(owner, PurePath(path).parent, served)


def forget_exports(studio: Studio, user: str) -> None:
    """Judgments of ``user`` were deleted: their exports, and every all-users export, stop being served."""
    studio.files.forget(user)
    studio.files.forget(EVERYONE_EXPORTS)


# Past this many rows a table is sent as plain numbers: pandas' Styler costs ~25 ms per 1,000 rows
# (measured here, 3 columns), 210 ms at 5,000.
FIXED_DECIMALS_MAX_ROWS = 1_000


def fixed_decimals(frame: pd.DataFrame | None, decimals: int) -> pd.DataFrame | object | None:
    """The table with every float column shown to ``decimals`` places (46.40, not 46.4; 38.00, not 38).

    Display only: Gradio sends the numbers themselves as the table's data (what API callers read) and the
    formatted text as its display values. Apply it last, after ``localized``.
    """
    if frame is None or frame.empty or len(frame) > FIXED_DECIMALS_MAX_ROWS:
        return frame
    floats = [c for c in frame.columns if pd.api.types.is_float_dtype(frame[c])]
    if not floats or frame.columns.has_duplicates:
        return frame
    return frame.style.format(f"{{:.{decimals}f}}", subset=floats, na_rep="")


def uploaded_path(value: Any) -> str | None:
    """The local path of an uploaded file, from a gr.File value or an API caller's FileData / string.

    /evaluate is a gr.api endpoint, whose arguments Gradio does not check: a caller could name any
    file on the server. Only files in Gradio's upload folder (where uploads land) are read.
    """
    if value in (None, "", {}):
        return None
    path = value.get("path") if isinstance(value, dict) else getattr(value, "path", value)
    if not isinstance(path, str) or not path:
        raise ValueError("file must be an uploaded file (gradio_client.handle_file(path))")
    from gradio.utils import get_upload_folder, is_in_or_equal

    if not is_in_or_equal(path, get_upload_folder()) or not Path(path).is_file():
        raise ValueError("file must be an uploaded file (gradio_client.handle_file(path)); "
                         "paths on the server are not read")
    return path
