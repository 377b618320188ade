"""The "Models" panel under the header: load a second model (a built-in name, a folder on the server, a
hub id), see the memory it will take first, and unload it, without restarting the app; and /load_model,
/unload_model and /model_memory for the API, with the same authorisation.

Who may load: admins, or everyone on a server that only its own machine can reach (``Studio.model_loads``,
decided in app.py). A model takes the whole server's memory for as long as it stays loaded, and anonymous
identities cost nothing to make (core.identity.MintLimiter allows 5 an hour per address), so no per-person
quota would stop one visitor from filling the memory; an admin is someone the operator named.

The tabs that pick a model (Similarity, Evaluate) listen to :attr:`ModelsPanel.changed`: it holds a
digest of the loaded models' ids, and is set after a load, an unload and each page load, so their pickers follow.
"""

from __future__ import annotations

import hashlib
import html
from dataclasses import dataclass

import gradio as gr

from core.encoding.footprint import MemoryCheck
from core.encoding.loading import BUILT_IN_MODELS
from core.errors import message_of
from core.studio import Studio
from ui import common
from ui.i18n import i18n, t, translate_error


@dataclass
class ModelsPanel:
    """The panel's components that ui/app.py wires to the rest of the page."""

    changed: gr.State  # a digest of the loaded models' ids: its change refreshes the model pickers
    note: gr.Markdown
    unload_choice: gr.Dropdown


def loaded_ids(studio: Studio) -> str:
    """What :attr:`ModelsPanel.changed` holds: a digest of every loaded model's id, in order (a digest, as
    a folder's id is its server path, which the page must never see)."""
    return hashlib.sha256("\n".join(studio.encoders).encode()).hexdigest()[:16]


def may_load(studio: Studio, is_admin: bool) -> bool:
    return studio.may_load_models(is_admin)


def loaded_note(studio: Studio, is_admin: bool) -> str:
    """The models everyone may use now, the default first, and whether this caller may load more."""
    models = " · ".join(f"`{html.escape(common.display_model(m))}`" for m in studio.models_for())
    rule = t("mdl_you_may_load" if may_load(studio, is_admin) else "mdl_admins_only")
    return f"{t('mdl_loaded', models=models)} {rule}"


def unload_choices(studio: Studio) -> list[str]:
    """The models that may be unloaded: every shared one but the default, by display name."""
    return [common.display_model(m) for m in studio.models_for() if m != studio.encoder.model_id]


def estimate_text(check: MemoryCheck) -> str:
    """The memory a model will take, in fp32 and fp16, against the memory free here."""
    footprint = check.footprint
    verdict = "mdl_fits" if check.fits else "mdl_does_not_fit"
    return t("mdl_estimate", model=html.escape(common.display_model(footprint.model)),
             params=f"{footprint.parameters / 1e6:.1f}", source=t(f"mdl_source_{footprint.source}"),
             fp32=mib(footprint.bytes_at("float32")), fp16=mib(footprint.bytes_at("float16")),
             dtype=check.dtype, device=check.device, engine=check.engine, need=mib(check.need_bytes),
             free=mib(check.free_bytes), reserve=mib(check.reserve_bytes)) + " " + t(verdict)


def mib(size: int) -> str:
    """Bytes as MiB: a tenth for a small model (a tiny test model is 0.2 MiB, not 0), whole ones above 10."""
    value = size / 2**20
    return f"{value:.1f}" if value < 10 else f"{value:.0f}"


def preview(studio: Studio, spec: str, is_admin: bool) -> str:
    """The estimate for ``spec``, or why it cannot be loaded, as text beside the picker (never a toast:
    the person is still choosing)."""
    if not str(spec or "").strip():
        return ""
    try:
        return estimate_text(studio.memory_check(spec, is_admin=is_admin))
    except ValueError as error:
        return "**" + html.escape(translate_error(message_of(error)), quote=False) + "**"


def _is_admin(studio: Studio, request: gr.Request | None, profile: gr.OAuthProfile | None, token: str) -> bool:
    identity = common.caller(studio, request, profile, token)
    return identity is not None and identity.is_admin


def build(studio: Studio, token: gr.BrowserState) -> ModelsPanel:
    """The panel, closed by default (most visits never load a model)."""
    with gr.Accordion(i18n("mdl_title"), open=False, elem_id="models-panel"):
        note = gr.Markdown(elem_id="mdl-note")
        with gr.Row():
            spec = gr.Dropdown(list(BUILT_IN_MODELS), value=None, label=i18n("mdl_spec"), allow_custom_value=True,
                               info=i18n("mdl_spec_info"), elem_id="mdl-spec", scale=3)
            load = gr.Button(i18n("mdl_load"), variant="primary", elem_id="mdl-load", scale=1)
        estimate = gr.Markdown(elem_id="mdl-estimate")
        with gr.Row():
            unload_choice = gr.Dropdown(unload_choices(studio), value=None, label=i18n("mdl_unload_which"),
                                        elem_id="mdl-unload-choice", scale=3)
            unload = gr.Button(i18n("mdl_unload"), elem_id="mdl-unload", scale=1)
        status = gr.Markdown(elem_id="mdl-status")
    changed = gr.State(loaded_ids(studio))

    @common.user_errors
    def show_estimate(chosen: str, user_token: str, request: gr.Request, profile: gr.OAuthProfile | None):
        return preview(studio, chosen, _is_admin(studio, request, profile, user_token))

    spec.change(show_estimate, [spec, token], estimate, api_visibility="private", trigger_mode="always_last")

    @common.user_errors
    def load_in_panel(chosen: str, user_token: str, request: gr.Request, profile: gr.OAuthProfile | None,
                      progress=gr.Progress()):  # noqa: B008 (gradio injects it)
        admin = _is_admin(studio, request, profile, user_token)
        loaded = studio.load_model(chosen, is_admin=admin,
                                   progress=lambda fraction, desc: progress(fraction, desc=translate_error(desc)))
        done = t("mdl_loaded_now", model=html.escape(common.display_model(loaded.model_id)),
                 seconds=f"{loaded.seconds:.1f}")
        return (done, loaded_note(studio, admin), gr.update(choices=unload_choices(studio), value=None),
                loaded_ids(studio), None, "")

    # The progress bar on the status line only: the panel stays readable while a model loads.
    load.click(load_in_panel, [spec, token], [status, note, unload_choice, changed, spec, estimate],
               api_visibility="private", show_progress_on=[status])

    @common.user_errors
    def unload_in_panel(name: str, user_token: str, request: gr.Request, profile: gr.OAuthProfile | None):
        admin = _is_admin(studio, request, profile, user_token)
        model_id = studio.unload_model(name, is_admin=admin)
        return (t("mdl_unloaded", model=html.escape(common.display_model(model_id))), loaded_note(studio, admin),
                gr.update(choices=unload_choices(studio), value=None), loaded_ids(studio))

    unload.click(unload_in_panel, [unload_choice, token], [status, note, unload_choice, changed],
                 api_visibility="private")
    return ModelsPanel(changed=changed, note=note, unload_choice=unload_choice)


def on_page_load(studio: Studio):
    """The handler ui/app.py runs when a page opens: the panel as it is now, and the pickers' trigger
    (another session may have loaded or unloaded a model since the page's components were built)."""

    @common.user_errors
    def refresh(user_token: str, request: gr.Request, profile: gr.OAuthProfile | None):
        admin = _is_admin(studio, request, profile, user_token)
        return loaded_note(studio, admin), gr.update(choices=unload_choices(studio)), loaded_ids(studio)

    return refresh


def add_api(studio: Studio) -> None:
    """/model_memory, /load_model and /unload_model: the panel's actions for API callers, same rules."""

    @common.user_errors
    def model_memory(model: str, token: str = "", request: gr.Request = None,
                     profile: gr.OAuthProfile | None = None) -> dict:
        """The memory ``model`` (a built-in name, a folder on the server or a hub id) would take here, in
        bytes, against the free memory; admins only (or everyone on a server only its machine reaches)."""
        check = studio.memory_check(model, is_admin=_is_admin(studio, request, profile, token))
        return memory_reply(check)

    @common.user_errors
    def load_model(model: str, token: str = "", request: gr.Request = None,
                   profile: gr.OAuthProfile | None = None) -> dict:
        """Load ``model`` beside the others for everyone to use (Similarity's and Evaluate's ``model``
        parameters then take its name); refused when it would not fit in memory. Same rules as /model_memory."""
        loaded = studio.load_model(model, is_admin=_is_admin(studio, request, profile, token))
        return {"model": common.display_model(loaded.model_id), "seconds": round(loaded.seconds, 2),
                **memory_reply(loaded.check), "loaded": [common.display_model(m) for m in studio.models_for()]}

    @common.user_errors
    def unload_model(model: str, token: str = "", request: gr.Request = None,
                     profile: gr.OAuthProfile | None = None) -> dict:
        """Unload a model loaded beside the default (the default stays). Same rules as /load_model."""
        model_id = studio.unload_model(model, is_admin=_is_admin(studio, request, profile, token))
        return {"unloaded": common.display_model(model_id),
                "loaded": [common.display_model(m) for m in studio.models_for()]}

    gr.api(model_memory, api_name="model_memory")
    gr.api(load_model, api_name="load_model")
    gr.api(unload_model, api_name="unload_model")


def memory_reply(check: MemoryCheck) -> dict:
    footprint = check.footprint
    return {"parameters": footprint.parameters, "fp32_bytes": footprint.bytes_at("float32"),
            "fp16_bytes": footprint.bytes_at("float16"), "dtype": check.dtype, "device": check.device,
            "need_bytes": check.need_bytes, "free_bytes": check.free_bytes, "reserve_bytes": check.reserve_bytes,
            "fits": check.fits}
