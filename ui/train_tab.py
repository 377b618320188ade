"""Train: fine-tune a loaded model on judgments, see what changed, and use the result.

A person picks the kinds of judgments and a base model, sees how many training rows each kind
gives (and why a kind cannot train yet), starts one background job, watches its progress, and gets
a before/after table on judgments the model never trained on plus a regression set. A version that
improved without forgetting is promoted and one click loads it next to the base model; one that was
not promoted can still be loaded on purpose.

Private by default: a visitor trains on their own judgments and sees their own jobs and versions;
admins may train on everyone's. Every handler identifies the caller itself.
"""

from __future__ import annotations

import html
import time

import gradio as gr
import numpy as np
import pandas as pd

from core.encoding.encoder import Encoder
from core.errors import Message, UserError, check_choice
from core.identity import Identity
from core.inputs.text import resolve_prefix
from core.judgments import Judgment
from core.studio import Studio
from core.training.evaluation import metric_message, split_message
from core.training.jobs import TrainingJob, job_summary
from core.training.readiness import Encode, KindReadiness, assess, refuse_unready
from core.training.recipe import MIN_ROWS, TRAINING_KINDS, Prompts, build_sets, count_rows
from core.training.trainer import TrainingConfig, TrainingReport
from ui import common
from ui.i18n import EN, i18n, localized, t, translate_error

MINE, EVERYONE, CAMPAIGN = "mine", "everyone", "campaign"
METRIC_COLUMNS = ["metric", "set", "before", "after", "change", "rows"]
VERSION_COLUMNS = ["version", "base model", "created", "held-out change", "regression change", "promoted", "reason"]
POLL_S = 1.0


def _judgments(studio: Studio, identity: Identity, whose: str, campaign: str = "",
               min_agreement: float | None = None) -> tuple[list[Judgment], list[str] | None]:
    """The judgments to train on and the users they belong to (None: everyone's or a campaign's)."""
    if studio.store is None:
        raise UserError("judgments_off")
    if whose == CAMPAIGN:
        if studio.campaigns is None:
            raise UserError("campaigns_off")
        if not (campaign or "").strip():
            raise UserError("enter_campaign_id")
        # One row per item (mean score, majority verdict or label); only its creator and admins may.
        consensus = studio.campaigns.consensus(campaign.strip(), identity.user, identity.is_admin,
                                               min_agreement=min_agreement or None)
        return consensus.judgments, None
    if whose == EVERYONE:
        if not identity.is_admin:
            raise PermissionError(Message("admins_only_everyone"))
        return studio.store.judgments(), None
    if whose not in (MINE, None, ""):
        check_choice("whose judgments", whose, (MINE, EVERYONE, CAMPAIGN))
    return studio.store.judgments(user=identity.user), [identity.user]


def kind_title(name: str) -> str:
    """A training kind's title in the page's language (core.training.recipe names them in English)."""
    return t(f"tr_kind_{name}") if f"tr_kind_{name}" in EN else TRAINING_KINDS[name].title


def prompts_of(encoder: Encoder) -> Prompts:
    """The prefixes a run puts on judgments that recorded none: the model's query / passage prompts."""
    if not encoder.uses_prefixes:
        return Prompts()
    return Prompts(query=resolve_prefix("query"), passage=resolve_prefix("passage"))


def encoding_with(encoder: Encoder) -> Encode:
    """Texts (prefixes already on them) to normalised embeddings, in calls the encoder accepts."""
    def encode(texts: list[str]) -> np.ndarray:
        step = max(1, int(encoder.max_texts))
        parts = [encoder.encode(texts[i:i + step], prefix="") for i in range(0, len(texts), step)]
        return np.vstack(parts) if parts else np.zeros((0, encoder.dim), dtype=np.float32)
    return encode


def assess_kinds(studio: Studio, identity: Identity, judgments: list[Judgment], kinds: list[str], base: str = "",
                 config: TrainingConfig | None = None) -> list[KindReadiness]:
    """Whether ``kinds`` trained together on ``judgments`` with ``config``'s settings (default: the measured
    ones) can show a gain: the run's own hold-out, scored by the base model as loaded."""
    encoder = studio.model(base or None, identity.user, identity.is_admin)
    config = config or TrainingConfig(base_model=encoder.model_id, kinds=tuple(kinds))
    return assess(judgments, kinds, prompts_of(encoder), encoding_with(encoder), fraction=config.hold_out,
                  seed=config.seed, batch_size=config.batch_size, epochs=config.epochs, warmup=config.warmup)


def kind_note(kind: KindReadiness) -> str:
    """One line of the advice: ready with its held-out size and current score, or why not and what next."""
    title = kind_title(kind.kind)
    if kind.ready and kind.metric is not None and kind.score is not None:
        return t("tr_kind_ready", kind=title, n=f"{kind.rows:,}", loss=TRAINING_KINDS[kind.kind].loss,
                 held=kind.held_out_rows, metric=translate_error(metric_message(kind.metric)),
                 score=f"{kind.score:.3f}")
    return f"- **{title}**: {html.escape(translate_error(kind.reason or ''), quote=False)}"


def readiness(studio: Studio, identity: Identity, whose: str, campaign: str = "",
              min_agreement: float | None = None, base: str = "", seed: float = 0, batch_size: float = 16,
              epochs: float = 1) -> tuple[list[tuple[str, str]], list[str], str]:
    """Checkbox choices with row counts, the kinds ready to train (to a measurable result), and a note per
    kind: its held-out size and the current model's score on it, or why it cannot train and what to judge."""
    if whose == CAMPAIGN and not (campaign or "").strip():
        return ([(kind_title(name), name) for name in TRAINING_KINDS], [],
                t("tr_enter_campaign"))
    judgments, _ = _judgments(studio, identity, whose, campaign, min_agreement)
    counts = count_rows(judgments)
    choices, ready, notes = [], [], []
    for name in TRAINING_KINDS:
        choices.append((t("tr_kind_rows", kind=kind_title(name), n=f"{counts[name]:,}"), name))
        # Each kind as a run of it alone would split and score it; start() checks the chosen ones together.
        # Out-of-range settings are worded by start(); the advice uses the nearest allowed value meanwhile.
        settings = TrainingConfig(base_model=base or "-", kinds=(name,), seed=_whole(seed, 0),
                                  batch_size=min(256, max(2, _whole(batch_size, 16))),
                                  epochs=min(20, max(1, _whole(epochs, 1))))
        kind = assess_kinds(studio, identity, judgments, [name], base, settings)[0]
        if kind.ready:
            ready.append(name)
        notes.append(kind_note(kind))
    owner = t({EVERYONE: "tr_owner_everyone", CAMPAIGN: "tr_owner_campaign"}.get(whose, "tr_owner_yours"))
    head = t("tr_head", n=f"{len(judgments):,}", owner=owner, min=MIN_ROWS) + "\n\n"
    return choices, ready, head + "\n".join(notes)


def _whole(value: float | None, default: int) -> int:
    """A setting as typed, or its default while it is not a whole number (start() then says what is wrong)."""
    try:
        return int(value) if value is not None and float(value) == int(value) else default
    except (TypeError, ValueError, OverflowError):
        return default


def start(studio: Studio, identity: Identity, whose: str, base: str, kinds: list[str] | None, epochs: float,
          learning_rate: float, batch_size: float, freeze: bool, seed: float, blend: float = 0.0,
          campaign: str = "", min_agreement: float | None = None) -> TrainingJob:
    if studio.training is None:
        raise UserError("training_off")
    studio.training.check_free(identity.user)
    judgments, users = _judgments(studio, identity, whose, campaign, min_agreement)
    if not judgments:
        raise UserError("no_training_judgments")
    encoder = studio.model(base or None, identity.user, identity.is_admin)
    config = TrainingConfig(base_model=encoder.model_id, kinds=tuple(kinds or ()),
                            epochs=common.whole_number(epochs, "epochs"), learning_rate=float(learning_rate),
                            batch_size=common.whole_number(batch_size, "batch size"),
                            freeze_embeddings=bool(freeze), seed=common.whole_number(seed, "seed"),
                            blend=float(blend or 0.0)).validate()
    build_sets(judgments, config.kinds, Prompts())  # refuse now, with the reason, not in the background
    # A run that cannot show a gain (held-out part unscorable or already perfect, a single step at learning
    # rate 0) is refused too: it would train for minutes and end "not promoted (+0.0000)" (issue 26).
    refuse_unready(assess_kinds(studio, identity, judgments, list(config.kinds), base, config))
    if whose == CAMPAIGN:
        return studio.training.start(identity.user, config, None, campaign=campaign.strip(),
                                     min_agreement=min_agreement or None)
    return studio.training.start(identity.user, config, users)


def visible_job(studio: Studio, identity: Identity) -> TrainingJob | None:
    """The current job if the caller may see its details (theirs, or any for an admin)."""
    job = studio.training.current() if studio.training is not None else None
    if job is not None and (job.owner == identity.user or identity.is_admin):
        return job
    return None


def shared_status(studio: Studio, identity: Identity) -> dict | None:
    """What the database says when this replica has no running job: a job another replica runs (its
    details to its owner and admins, "busy" to others), else the caller's last job if it ran elsewhere."""
    if studio.training is None:
        return None
    elsewhere = studio.training.running_elsewhere()
    if elsewhere is not None:
        if elsewhere.owner != identity.user and not identity.is_admin:
            return {"state": "busy"}
        return _public({**elsewhere.summary, "state": "running", "elsewhere": True})
    job = studio.training.current()
    last = studio.training.last_of(identity.user)
    if last is not None and (job is None or job.owner != identity.user or last.started > job.started):
        return _public(dict(last.summary))
    return None


def status(studio: Studio, identity: Identity) -> tuple[str, pd.DataFrame, str, bool]:
    """Progress line, before/after table, verdict, and whether a job is still running."""
    job = studio.training.current() if studio.training is not None else None
    if job is None or not job.running:
        # Another replica on the same database may be training (it holds the lock): say so here too.
        elsewhere = studio.training.running_elsewhere() if studio.training is not None else None
        if elsewhere is not None:
            minutes = f"{(time.time() - elsewhere.started) / 60:.0f}"
            mine = elsewhere.owner == identity.user or identity.is_admin
            return (t("tr_job_elsewhere" if mine else "tr_other_job", minutes=minutes),
                    pd.DataFrame(columns=METRIC_COLUMNS), "", True)
    if job is None:
        return t("tr_no_job"), pd.DataFrame(columns=METRIC_COLUMNS), "", False
    if job.owner != identity.user and not identity.is_admin:
        if job.running:
            return (t("tr_other_job", minutes=f"{(time.time() - job.started) / 60:.0f}"),
                    pd.DataFrame(columns=METRIC_COLUMNS), "", True)
        return t("tr_no_job_yours"), pd.DataFrame(columns=METRIC_COLUMNS), "", False
    line = f"**{html.escape(common.display_model(job.config.base_model))}** · {html.escape(translate_error(job.describe()))}"
    if job.report is None:
        return line, pd.DataFrame(columns=METRIC_COLUMNS), "", job.running
    report = job.report
    # Metric and set names are stored in English (older reports too); the page words them by key.
    table = pd.DataFrame([{"metric": translate_error(metric_message(m.name)), "set": translate_error(split_message(m.split)),
                           "before": round(m.before, 4), "after": round(m.after, 4),
                           "change": round(m.change, 4), "rows": m.rows} for m in report.metrics],
                         columns=METRIC_COLUMNS)
    # Plain words, no emoji: many machines have no emoji font and show an empty box.
    verdict = t("tr_promoted" if report.promoted else "tr_not_promoted",
                reason=html.escape(translate_error(report.reason)), version=report.version)
    if report.dropped:
        verdict += "<br>" + t("tr_dropped", n=report.dropped)
    return line, table, before_after(report) + verdict, job.running


def before_after(report: TrainingReport) -> str:
    """The before/after figures as wrapping lines above the verdict: readable on a phone, where the
    table's later columns sit beyond the screen's edge."""
    lines = [t("tr_before_after_line", metric=html.escape(translate_error(metric_message(m.name))),
               set=html.escape(translate_error(split_message(m.split))), before=f"{m.before:.4f}",
               after=f"{m.after:.4f}", change=f"{m.change:+.4f}", rows=m.rows) for m in report.metrics]
    # A blank line ends the HTML block, so that the verdict after it is read as Markdown again.
    return "".join(f"<div class='train-change'>{line}</div>" for line in lines) + ("\n\n" if lines else "")


def versions(studio: Studio, identity: Identity) -> pd.DataFrame:
    """Saved versions the caller trained (an admin: all), newest first."""
    if studio.registry is None:
        return pd.DataFrame(columns=VERSION_COLUMNS)
    rows = []
    for version in studio.registry.versions_of(identity.user, identity.is_admin):
        report = version.report
        rows.append({"version": version.name, "base model": common.display_model(report.base_model),
                     "created": report.created_at[:16].replace("T", " "),
                     "held-out change": _signed(report.held_out_change),
                     "regression change": _signed(report.regression_change),
                     "promoted": t("tr_yes" if report.promoted else "tr_no"),
                     "reason": translate_error(report.reason)})
    return pd.DataFrame(rows, columns=VERSION_COLUMNS)


def _signed(value: float | None) -> str:
    return "—" if value is None else f"{value:+.4f}"


def use_version(studio: Studio, identity: Identity, name: str, anyway: bool = False,
                for_everyone: bool = False) -> str:
    """Load one of the caller's saved versions (an admin: anyone's) next to the base model: promoted ones
    at once, others only on purpose. It serves its owner's and admins' requests, or everyone's when
    ``for_everyone``; another user's version is refused exactly as a missing one is."""
    if studio.registry is None:
        raise UserError("training_off")
    if not name:
        raise UserError("choose_saved_version")
    version = studio.registry.get(str(name), identity.user, identity.is_admin)
    if not version.promoted and not anyway:
        raise UserError("version_not_promoted", name=version.name, reason=version.report.reason)
    # The owner is who trained it, also when an admin loads it: the admin's requests may use it anyway.
    encoder = studio.load_tuned(version.path, owner=version.report.trained_by, for_everyone=bool(for_everyone))
    message = t("tr_loaded", version=version.name, dim=encoder.dim)
    return message + " " + t("tr_loaded_for_everyone" if for_everyone else "tr_loaded_private")


def cancel(studio: Studio, identity: Identity) -> str:
    if studio.training is None:
        raise UserError("training_off")
    return studio.training.cancel(identity.user, identity.is_admin)


def build(studio: Studio, token: gr.BrowserState) -> None:
    models = [common.display_model(m) for m in studio.encoders]
    with gr.Tab(i18n("tr_tab"), id="train") as tab:
        gr.Markdown(i18n("tr_intro"))
        with gr.Row():
            whose = gr.Radio([(i18n("tr_mine"), MINE), (i18n("tr_everyone"), EVERYONE),
                              (i18n("tr_campaign"), CAMPAIGN)], value=MINE, label=i18n("tr_judgments"),
                             elem_id="train-whose")
            base = gr.Dropdown(models, value=models[0], label=i18n("tr_base"), allow_custom_value=True,
                               elem_id="train-base")
        with gr.Row(visible=False) as campaign_row:
            campaign = gr.Textbox(label=i18n("tr_campaign_id"), lines=1, elem_id="train-campaign")
            min_agreement = gr.Slider(0, 1, value=0, step=0.05, label=i18n("tr_min_agreement"), elem_id="train-min-agreement")
        kinds = gr.CheckboxGroup([(i18n(f"tr_kind_{name}"), name) for name in TRAINING_KINDS], value=[],
                                 label=i18n("tr_train_on"), elem_id="train-kinds")
        advice = gr.Markdown(elem_id="train-advice")
        with gr.Accordion(i18n("tr_settings"), open=False):
            with gr.Row():
                epochs = gr.Number(1, label=i18n("tr_epochs"), precision=0, minimum=1, maximum=20)
                learning_rate = gr.Number(2e-5, label=i18n("tr_lr"))
                batch_size = gr.Number(16, label=i18n("tr_batch"), precision=0, minimum=2, maximum=256)
                seed = gr.Number(0, label=i18n("tr_seed"), precision=0)
                freeze = gr.Checkbox(True, label=i18n("tr_freeze"))
            blend = gr.Slider(0, 0.9, value=0, step=0.1, label=i18n("tr_blend"),
                              elem_id="train-blend")
        with gr.Row():
            run = gr.Button(i18n("btn_start_training"), variant="primary", elem_id="train-start")
            stop = gr.Button(i18n("btn_cancel"), elem_id="train-cancel")
            refresh = gr.Button(i18n("btn_refresh"), size="sm")
        progress = gr.Markdown(elem_id="train-status")
        metrics = gr.Dataframe(headers=METRIC_COLUMNS, label=i18n("tr_before_after"), interactive=False,
                               elem_id="train-metrics")
        verdict = gr.Markdown(elem_id="train-verdict")
        timer = gr.Timer(POLL_S, active=False)
        with gr.Accordion(i18n("tr_saved_versions"), open=True):
            # Wide enough that "promoted" and "изменение" stay whole words.
            saved = gr.Dataframe(headers=VERSION_COLUMNS, interactive=False, wrap=True, elem_id="train-versions",
                                 column_widths=["20%", "12%", "140px", "110px", "110px", "100px", "28%"])
            with gr.Row():
                version = gr.Dropdown([], label=i18n("tr_version"), allow_custom_value=True, elem_id="train-version")
                anyway = gr.Checkbox(False, label=i18n("tr_anyway"), elem_id="train-anyway")
                for_everyone = gr.Checkbox(False, label=i18n("tr_for_everyone"), elem_id="train-for-everyone")
                use = gr.Button(i18n("btn_use_model"), elem_id="train-use")
            used = gr.Markdown(elem_id="train-used")

        def who(user_token: str, request: gr.Request, profile: gr.OAuthProfile | None) -> Identity:
            return common.identify(studio, request, profile, user_token)

        @common.user_errors
        def show_kinds(whose_value: str, campaign_id: str, level: float, base_value: str, seed_value: float,
                       batch_value: float, epochs_value: float, user_token: str, request: gr.Request,
                       profile: gr.OAuthProfile | None):
            choices, ready, note = readiness(studio, who(user_token, request, profile), whose_value, campaign_id,
                                             level, base_value, seed_value, batch_value, epochs_value)
            return gr.update(choices=choices, value=ready), note, gr.update(visible=whose_value == CAMPAIGN)

        def status_outputs(identity: Identity):
            line, table, verdict_text, running = status(studio, identity)
            table_of_versions = versions(studio, identity)
            names = list(table_of_versions["version"])
            job = visible_job(studio, identity)
            # The version a finished job just saved is the one people want to load next.
            newest = job.report.version if job is not None and job.report is not None else None
            return (line, common.fixed_decimals(localized(table), 4), verdict_text, gr.Timer(active=running),
                    localized(table_of_versions),
                    gr.update(choices=names, value=newest) if newest in names else gr.update(choices=names))

        @common.user_errors
        def show_status(user_token: str, request: gr.Request, profile: gr.OAuthProfile | None):
            return status_outputs(who(user_token, request, profile))

        @common.user_errors
        def start_job(whose_value, campaign_id, level, base_value, kinds_value, epochs_value, rate, batch,
                      freeze_value, seed_value, blend_value, user_token: str, request: gr.Request, profile: gr.OAuthProfile | None):
            identity = who(user_token, request, profile)
            start(studio, identity, whose_value, base_value, kinds_value, epochs_value, rate, batch, freeze_value,
                  seed_value, blend_value, campaign_id, level)
            return status_outputs(identity)

        @common.user_errors
        def cancel_job(user_token: str, request: gr.Request, profile: gr.OAuthProfile | None):
            return translate_error(cancel(studio, who(user_token, request, profile)))

        @common.user_errors
        def load_version(name: str, load_anyway: bool, everyone: bool, user_token: str, request: gr.Request,
                         profile: gr.OAuthProfile | None):
            return use_version(studio, who(user_token, request, profile), name, load_anyway, everyone)

        status_targets = [progress, metrics, verdict, timer, saved, version]
        source = [whose, campaign, min_agreement, base, seed, batch_size, epochs, token]
        shown = [kinds, advice, campaign_row]
        tab.select(show_kinds, source, shown, api_visibility="private").then(
            show_status, token, status_targets, api_visibility="private")
        whose.change(show_kinds, source, shown, api_visibility="private")
        # The held-out part and its score depend on the base model and the seed of the split.
        base.change(show_kinds, source, shown, api_visibility="private")
        for setting in (seed, batch_size, epochs):  # the split and the number of steps depend on them
            setting.blur(show_kinds, source, shown, api_visibility="private")
        campaign.submit(show_kinds, source, shown, api_visibility="private")
        min_agreement.release(show_kinds, source, shown, api_visibility="private")
        refresh.click(show_kinds, source, shown, api_visibility="private").then(
            show_status, token, status_targets, api_visibility="private")
        run.click(start_job, [whose, campaign, min_agreement, base, kinds, epochs, learning_rate, batch_size, freeze,
                              seed, blend, token],
                  status_targets, api_visibility="private")
        timer.tick(show_status, token, status_targets, api_visibility="private", show_progress="hidden")
        stop.click(cancel_job, token, progress, api_visibility="private")
        use.click(load_version, [version, anyway, for_everyone, token], used, api_visibility="private")


def add_api(studio: Studio) -> None:
    """/train, /training_status, /cancel_training, /use_model for scripts (pass the /flag token)."""

    def identity_of(token: str, request: gr.Request | None, profile: gr.OAuthProfile | None) -> Identity:
        return common.identify(studio, request, profile, token)

    @common.user_errors
    def train(kinds: str = "graded", base_model: str = "", epochs: int = 1, everyone: bool = False,
              token: str = "", blend: float = 0.0, campaign: str = "", min_agreement: float = 0.0, request: gr.Request = None, profile: gr.OAuthProfile | None = None) -> dict:
        """Start training on your judgments (admins: everyone's with everyone=true). kinds: comma-separated
        from graded, triplets, labels; blend: the base model's share of the weights after training (0 to <1);
        campaign: train on that campaign's consensus instead (its creator and admins), leaving out items whose
        agreement is below min_agreement. A kind that cannot train to a measurable result (its held-out part
        too small to score or already perfect, one step of the batch, labels of one topic) is refused with the
        reason and what to judge next.
        Returns the job; poll /training_status for progress and results."""
        identity = identity_of(token, request, profile)
        chosen = [k.strip() for k in str(kinds or "").split(",") if k.strip()]
        whose = CAMPAIGN if campaign else EVERYONE if everyone else MINE
        job = start(studio, identity, whose, base_model, chosen, epochs, 2e-5, 16, True, 0, blend, campaign,
                    min_agreement)
        return _public(job_summary(job))

    @common.user_errors
    def training_status(token: str = "", request: gr.Request = None,
                        profile: gr.OAuthProfile | None = None) -> dict:
        """Your current or last training job: state, progress and, when done, the before/after report."""
        identity = identity_of(token, request, profile)
        job = visible_job(studio, identity)
        if job is None or not job.running:
            shared = shared_status(studio, identity)
            if shared is not None:
                return shared
        if job is None:
            current = studio.training.current() if studio.training is not None else None
            return {"state": "busy" if current is not None and current.running else "none"}
        return _public(job_summary(job))

    @common.user_errors
    def cancel_training(token: str = "", request: gr.Request = None,
                        profile: gr.OAuthProfile | None = None) -> dict:
        """Cancel your running training job."""
        return {"message": cancel(studio, identity_of(token, request, profile))}

    @common.user_errors
    def use_model(version: str, anyway: bool = False, token: str = "", for_everyone: bool = False,
                  request: gr.Request = None, profile: gr.OAuthProfile | None = None) -> dict:
        """Load one of your saved versions next to the base model (a version that was not promoted only
        with anyway=true). Then pass its name as /similarity's model (with your token): it serves you and
        admins, or everyone with for_everyone=true. One tuned model is loaded at a time."""
        message = use_version(studio, identity_of(token, request, profile), version, anyway, for_everyone)
        return {"model": version, "message": message}

    gr.api(train, api_name="train")
    gr.api(training_status, api_name="training_status")
    gr.api(cancel_training, api_name="cancel_training")
    gr.api(use_model, api_name="use_model")


def _public(summary: dict) -> dict:
    """No server paths: a base model given as a folder is shown by its name."""
    if "base_model" in summary:
        summary["base_model"] = common.display_model(summary["base_model"])
    report = summary.get("report")
    if isinstance(report, dict):
        report["base_model"] = common.display_model(report.get("base_model"))
        config = report.get("config")
        if isinstance(config, dict):
            config["base_model"] = common.display_model(config.get("base_model"))
    return summary
