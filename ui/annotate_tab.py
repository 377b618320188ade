"""Annotate: campaigns where several people judge the same items, one at a time, from the keyboard.

Who sees what: anyone may create a campaign (from a table, or the items the model is least sure
about); its id is the invitation, so annotators see the campaigns they created or took part in. An
annotator sees the instructions, one item at a time and their own progress. The creator and admins
also see Krippendorff's alpha, each annotator's agreement with the others, the most disputed items,
export the consensus as training data, see who holds items and end a person's holds (against someone
holding items they do not judge). Every handler identifies the caller itself; an anonymous caller's
leases count against their address's share (core/campaigns/store.py).
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

import gradio as gr
import pandas as pd

from core.campaigns import (
    JUDGMENTS,
    LABEL,
    MAX_LABELS,
    PREFIXES_OF,
    RELEVANCE,
    SCORE,
    Campaign,
    Item,
)
from core.campaigns.model import EXPORT_KINDS_OF, check_export_kind, check_settings, items_from_table
from core.campaigns.uncertain import DEFAULT_ITEMS, RULES, border_texts, boundary_pairs, tied_queries
from core.errors import UserError, check_choice
from core.identity import Identity
from core.judgments import EXPORT_FORMATS, EXPORT_KINDS, Judgment, export
from core.studio import Studio
from ui import common
from ui.i18n import EN, i18n, localized, t, translate_error

SCORES = tuple(range(6))  # 0-5, one digit key each
ANNOTATOR_COLUMNS = ["annotator", "judgments", "items shared", "agreement with others", "alpha without them"]
DISPUTED_COLUMNS = ["item", "judgments", "agreement", "values", "texts"]
ITEM_CSS = """
.ann-meta {color: #6b7280; font-size: 0.9em; margin: 4px 0;}
.ann-text {margin: 8px 0; padding: 10px 14px; border: 1px solid #d1d5db; border-radius: 8px; font-size: 1.15em;}
.ann-column {color: #6b7280; font-size: 0.7em; text-transform: uppercase; letter-spacing: 0.05em;}
"""
# Clicks the answer button for a key. Listens on the document once (the tab may be rendered again),
# ignores keys typed into inputs, and acts only while the Annotate item is on screen.
KEYBOARD_JS = """
if (!window.userStudioAnnotateKeys) {
  window.userStudioAnnotateKeys = true;
  document.addEventListener('keydown', (event) => {
    const target = event.target;
    const tag = ((target && target.tagName) || '').toLowerCase();
    if (tag === 'input' || tag === 'textarea' || tag === 'select' || (target && target.isContentEditable)) return;
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const panel = document.getElementById('ann-item');
    if (!panel || panel.offsetParent === null) return;
    const key = (event.key || '').toLowerCase();
    const named = {r: 'ann-relevant', n: 'ann-not-relevant', s: 'ann-skip', u: 'ann-undo'};
    const candidates = named[key] ? [named[key]] : (/^[0-9]$/.test(key) ? ['ann-score-' + key, 'ann-label-' + key] : []);
    for (const id of candidates) {
      const button = document.getElementById(id);
      if (button && button.offsetParent !== null && !button.disabled) {
        event.preventDefault();
        button.click();
        return;
      }
    }
  });
}
"""


def _encode(studio: Studio):
    def encode(texts: Sequence[str], prefix: str):
        return studio.encoder.encode(list(texts), prefix)

    return encode


def _with_model_scores(studio: Studio, items: list[Item], judgment: str) -> list[Item]:
    """Pairs scored by the default model (cosine x 100), for campaigns that show the score."""
    if judgment == LABEL or not items:
        return items
    query, passage = PREFIXES_OF[judgment]
    encode = _encode(studio)
    a = encode([i.text1 for i in items], query)
    b = encode([i.text2 or "" for i in items], passage)
    scores = (a * b).sum(axis=1) * 100
    return [Item(i.item_id, i.text1, i.text2, float(s), i.reason) for i, s in zip(items, scores, strict=True)]


def create_from_table(studio: Studio, identity: Identity, file: Any, judgment: str, overlap: Any = 2,
                      instructions: str = "", labels: str = "", name: str = "",
                      show_model_score: bool = False) -> tuple[Campaign, list[str]]:
    """A campaign of an uploaded table's items; returns it and notes on rows left out."""
    campaigns = studio.campaign_store()
    path = common.uploaded_path(file)
    if not path:
        raise UserError("upload_campaign_table")
    check_settings(judgment, overlap, labels or None, instructions, name)  # before reading the table
    table = items_from_table(path, judgment, max_bytes=studio.limits.upload_bytes,
                             max_items=studio.limits.max_corpus, max_chars=studio.limits.max_chars)
    if show_model_score:
        table.items = _with_model_scores(studio, table.items, judgment)
    query_prefix, passage_prefix = studio.campaign_prefixes(judgment)
    campaign = campaigns.create(identity.user, table, judgment, overlap=overlap, labels=labels or None,
                                instructions=instructions, name=name, show_model_score=bool(show_model_score),
                                query_prefix=query_prefix, passage_prefix=passage_prefix,
                                model_id=studio.encoder.model_id, is_admin=identity.is_admin)
    return campaign, table.notes


def create_by_model(studio: Studio, identity: Identity, rule: str, queries: str = "", passages: str = "",
                    n: Any = DEFAULT_ITEMS, judgment: str = RELEVANCE, overlap: Any = 2, instructions: str = "",
                    name: str = "", show_model_score: bool = False, k: Any = 0) -> Campaign:
    """A campaign of the items the model is least sure about, by ``rule`` (boundary, tied, border)."""
    studio.campaign_store()  # refuse before encoding anything when campaigns are off
    check_choice("the rule", rule, RULES)
    count = _whole(n, "number of items", 1, studio.limits.max_corpus)
    first = [t for t in (queries or "").splitlines() if t.strip()]
    second = [t for t in (passages or "").splitlines() if t.strip()]
    encode = _encode(studio)
    if rule == "border":
        studio.limits.check_texts(first, studio.limits.max_corpus, "texts")
        clusters = _whole(k or 0, "k (clusters)", 0, MAX_LABELS)
        choice = border_texts(first, encode, count, k=clusters or None)
    else:
        studio.limits.check_texts(first, studio.limits.max_queries, "queries")
        studio.limits.check_texts(second, studio.limits.max_passages, "passages")
        pick = boundary_pairs if rule == "boundary" else tied_queries
        choice = pick(first, second, encode, count, judgment=judgment)
    return studio.create_campaign_from(identity.user, choice, is_admin=identity.is_admin, overlap=overlap,
                                       instructions=instructions, name=name or f"model-chosen: {rule}",
                                       show_model_score=bool(show_model_score))


def _whole(value: Any, what: str, low: int, high: int) -> int:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise UserError("whole_number", name=what, value=value) from None
    if not number.is_integer() or not low <= number <= high:
        raise UserError("whole_number_range", name=what, low=low, high=high, value=value)
    return int(number)


def judgment_name(judgment: str) -> str:
    """A campaign's judgment (relevance, score, label) in the page's language."""
    return t(f"ann_judgment_{judgment}") if f"ann_judgment_{judgment}" in EN else judgment


def value_name(campaign: Campaign, value: Any) -> str:
    """An annotator's answer as the page says it: a verdict in words ("not relevant", not not_relevant)."""
    if campaign.judgment == RELEVANCE and f"verdict_{value}" in EN:
        return t(f"verdict_{value}")
    return f"{value:g}" if isinstance(value, float) else str(value)


def export_kind_for(studio: Studio, campaign_id: str | None) -> str | None:
    """The training dataset a campaign's consensus fills (its default export kind); None without a campaign."""
    if not campaign_id:
        return None
    try:
        campaign = studio.campaign_store().get(campaign_id)
    except (ValueError, KeyError):  # an id still being typed or pasted: nothing to follow yet
        return None
    return EXPORT_KINDS_OF[campaign.judgment][0]


def campaign_choices(studio: Studio, identity: Identity) -> list[tuple[str, str]]:
    return [(t("ann_choice", name=c.name, judgment=judgment_name(c.judgment), n=c.n_items, id=c.id), c.id)
            for c in studio.campaign_store().visible(identity.user, identity.is_admin)]


def answer(studio: Studio, identity: Identity, campaign_id: str, item_id: Any, value: Any,
           comment: str = "") -> int:
    """Store the caller's answer to an item: a verdict (relevant / not_relevant), a score, or a label."""
    campaigns = studio.campaign_store()
    campaign = campaigns.get(campaign_id)
    if campaign.judgment == RELEVANCE:
        judgment = Judgment(str(value), "", comment=comment or None)
    elif campaign.judgment == SCORE:
        judgment = Judgment("score", "", score=value, comment=comment or None)
    else:
        judgment = Judgment("label", "", label=str(value), comment=comment or None)
    return campaigns.submit(campaign.id, item_id, judgment.replace(
        user=identity.user, model_revision=studio.encoder.revision
        if campaign.model_id == studio.encoder.model_id else None))


# -- what the page shows -----------------------------------------------------------------------------


def item_html(campaign: Campaign, item: Item | None) -> str:
    if item is None:
        return f"<div class='ann-done'>{t('ann_done')}</div>"
    parts = [f"<div class='ann-meta'>{t('ann_item_of', item=item.item_id, n=campaign.n_items)}</div>"]
    for column, text in zip(campaign.columns, (item.text1, item.text2), strict=False):
        if text is not None:
            parts.append(f"<div class='ann-text'><div class='ann-column'>{html.escape(column)}</div>"
                         f"<div>{html.escape(text)}</div></div>")
    if campaign.show_model_score and item.model_score is not None:
        parts.append(f"<div class='ann-meta'>{t('ann_model_score', score=f'{item.model_score:.1f}')}</div>")
    return "\n".join(parts)


def instructions_md(campaign: Campaign) -> str:
    what = {RELEVANCE: t("ann_what_relevance"),
            SCORE: t("ann_what_score"),
            LABEL: t("ann_what_label") + ", ".join(f"**{i}** {html.escape(label)}"
                                                            for i, label in enumerate(campaign.labels, start=1))}
    text = f"### {html.escape(campaign.name)}\n{what[campaign.judgment]}"
    if campaign.instructions:
        text += f"\n\n{html.escape(campaign.instructions)}"
    if campaign.rule:
        text += "\n\n" + t("ann_chosen_by", rule=html.escape(campaign.rule))
    return text


def button_updates(campaign: Campaign | None, has_item: bool) -> list[dict]:
    """Visibility (and label text) of every answer button for this campaign."""
    judgment = campaign.judgment if campaign is not None else None
    updates = [gr.update(visible=has_item and judgment == RELEVANCE)] * 2
    updates += [gr.update(visible=has_item and judgment == SCORE)] * len(SCORES)
    for i in range(MAX_LABELS):
        labels = campaign.labels if campaign is not None else ()
        shown = has_item and judgment == LABEL and i < len(labels)
        updates.append(gr.update(visible=shown, value=f"{i + 1} · {labels[i]}" if shown else str(i + 1)))
    updates.append(gr.update(visible=has_item))  # skip
    # Undo appears with the first campaign shown (it has nothing to take back before), and stays once
    # the campaign is done, for its last answer.
    updates.append(gr.update(visible=campaign is not None))
    return updates


def show(studio: Studio, identity: Identity, campaign_id: str, item: Item | None, status: str = "") -> tuple:
    campaigns = studio.campaign_store()
    campaign = campaigns.get(campaign_id)
    progress = campaigns.progress(campaign.id, identity.user)
    line = t("ann_progress", done=f"{progress.done:,}", available=f"{progress.available:,}",
             complete=f"{progress.complete:,}", items=f"{progress.items:,}",
             judgments=f"{progress.judgments:,}", needed=f"{progress.needed:,}")
    return (instructions_md(campaign), item_html(campaign, item), line, status,
            item.item_id if item is not None else None, *button_updates(campaign, item is not None))


def agreement_view(studio: Studio, identity: Identity, campaign_id: str) -> tuple[str, pd.DataFrame, pd.DataFrame]:
    """Alpha with what it rests on, each annotator against the others, the most disputed items."""
    campaigns = studio.campaign_store()
    campaign = campaigns.get(campaign_id)
    report = campaigns.agreement(campaign.id, identity.user, identity.is_admin, top=20)
    alpha = t("ann_alpha_undefined") if report.alpha is None else f"**{report.alpha:.3f}**"
    summary = t("ann_alpha", level=t(f"ann_level_{report.level}"), alpha=alpha, items=f"{report.items:,}",
                judgments=f"{report.judgments:,}", all_judgments=f"{report.all_judgments:,}",
                all_items=f"{report.all_items:,}")
    people = pd.DataFrame([[a.annotator, a.judgments, a.items_shared, _round(a.agreement), _round(a.alpha_without)]
                           for a in report.annotators], columns=ANNOTATOR_COLUMNS)
    # "Alpha without them" leaves one annotator out: with two annotators (or none sharing items beyond a pair)
    # what remains is one person, and alpha needs two. An empty column read as a fault: say why instead.
    if people.empty or people["alpha without them"].isna().all():
        people = people.drop(columns="alpha without them")
        if len(report.annotators) >= 1:
            summary += " " + t("ann_alpha_without_needs_three")
    elif people["alpha without them"].isna().any():
        summary += " " + t("ann_alpha_without_some_empty")
    items = {}
    for d in report.disputed:
        item = campaigns.item(campaign.id, d.item)
        items[d.item] = " | ".join(t for t in (item.text1, item.text2) if t)
    disputed = pd.DataFrame([[d.item, d.judgments, _round(d.agreement),
                              ", ".join(f"{who}: {value_name(campaign, value)}" for who, value in d.values.items()),
                              items[d.item]]
                             for d in report.disputed], columns=DISPUTED_COLUMNS)
    return summary, localized(people), localized(disputed)


def release_view(studio: Studio, identity: Identity, campaign_id: str, user: str) -> str:
    """End a person's held items (creator and admins), and say who holds items now."""
    campaigns = studio.campaign_store()
    who = str(user or "").strip()
    ended = campaigns.release_leases(campaign_id, who, by=identity.user, is_admin=identity.is_admin)
    holders = campaigns.lease_holders(campaign_id, identity.user, identity.is_admin)
    listed = ", ".join(f"{html.escape(h['user'])} ({h['item_id']})" for h in holders) or t("ann_holders_none")
    return t("ann_released", n=ended, user=html.escape(who)) + "<br>" + t("ann_holders", holders=listed)


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def export_consensus(studio: Studio, identity: Identity, campaign_id: str, kind: str, fmt: str,
                     min_agreement: Any) -> tuple[str, str]:
    campaigns = studio.campaign_store()
    level = float(min_agreement) if min_agreement not in (None, "") else None
    consensus = campaigns.consensus(campaign_id, identity.user, identity.is_admin, min_agreement=level)
    check_choice("the dataset", kind, EXPORT_KINDS)
    check_export_kind(campaigns.get(campaign_id).judgment, kind)  # before an empty file's vaguer refusal
    out = studio.files.new_folder("campaign") / f"campaign-{campaigns.get(campaign_id).id}-{kind}.{fmt}"
    rows = export(consensus.judgments, fmt, out, kind=kind)
    return str(out), t("ann_export_note", rows=f"{rows:,}", kind=kind, summary=translate_error(consensus.summary()))


# -- the tab -------------------------------------------------------------------------------------------


def build(studio: Studio, token: gr.BrowserState) -> None:
    with gr.Tab(i18n("ann_tab"), id="annotate") as tab:
        gr.Markdown(i18n("ann_intro"))
        with gr.Row():
            campaign = gr.Dropdown([], label=i18n("ann_campaign"), allow_custom_value=True,
                                   elem_id="ann-campaign", scale=4)
            refresh = gr.Button(i18n("btn_refresh_list"), size="sm", elem_id="ann-refresh", scale=0)
            start = gr.Button(i18n("btn_start"), variant="primary", elem_id="ann-start", scale=0)
        instructions = gr.Markdown(elem_id="ann-instructions")
        item_view = gr.HTML(i18n("ann_pick"), elem_id="ann-item",
                            js_on_load=KEYBOARD_JS, css_template=ITEM_CSS)
        current = gr.State(None)
        with gr.Row():
            relevant = gr.Button(i18n("btn_relevant_key"), visible=False, variant="primary", elem_id="ann-relevant")
            not_relevant = gr.Button(i18n("btn_not_relevant_key"), visible=False, elem_id="ann-not-relevant")
            scores = [gr.Button(str(s), visible=False, elem_id=f"ann-score-{s}", min_width=60) for s in SCORES]
            label_buttons = [gr.Button(str(i + 1), visible=False, elem_id=f"ann-label-{i + 1}")
                             for i in range(MAX_LABELS)]
            skip = gr.Button(i18n("btn_skip_key"), visible=False, elem_id="ann-skip")
            undo = gr.Button(i18n("btn_undo_key"), visible=False, elem_id="ann-undo")
        gr.Markdown(i18n("ann_keys"))
        progress = gr.Markdown(elem_id="ann-progress")
        status = gr.Markdown(elem_id="ann-status")

        with gr.Accordion(i18n("ann_new"), open=False):
            with gr.Row():
                name = gr.Textbox(label=i18n("ann_name"), elem_id="ann-new-name")
                judgment = gr.Radio([(i18n(f"ann_judgment_{j}"), j) for j in JUDGMENTS], value=RELEVANCE,
                                    label=i18n("ann_judgment"), elem_id="ann-new-judgment")
                overlap = gr.Number(2, label=i18n("ann_overlap"), precision=0, minimum=1, maximum=10,
                                    elem_id="ann-new-overlap")
                show_score = gr.Checkbox(False, label=i18n("ann_show_score"))
            labels = gr.Textbox(label=i18n("ann_labels"),  # "2 to 9": MAX_LABELS
                                elem_id="ann-new-labels")
            guide = gr.Textbox(label=i18n("ann_instructions"), lines=2, elem_id="ann-new-instructions")
            with gr.Tab(i18n("ann_from_table")):
                file = gr.File(label=i18n("ann_items_file"),
                               file_types=[".csv", ".tsv", ".txt", ".xlsx", ".parquet"], elem_id="ann-new-file")
                create = gr.Button(i18n("btn_create_campaign"), variant="primary", elem_id="ann-create")
            with gr.Tab(i18n("ann_model_choose")):
                rule = gr.Radio([(i18n("ann_rule_boundary"), "boundary"),
                                 (i18n("ann_rule_tied"), "tied"),
                                 (i18n("ann_rule_border"), "border")],
                                value="boundary", label=i18n("ann_rule"), elem_id="ann-rule")
                with gr.Row():
                    queries = gr.Textbox(label=i18n("ann_queries"), lines=4)
                    passages = gr.Textbox(label=i18n("sim_passages"), lines=4)
                with gr.Row():
                    n_items = gr.Number(DEFAULT_ITEMS, label=i18n("ann_items"), precision=0, minimum=1)
                    k = gr.Number(0, label=i18n("ann_k"), precision=0, minimum=0,
                                  maximum=MAX_LABELS)
                choose = gr.Button(i18n("btn_create_from_model"), elem_id="ann-choose")
            created = gr.Markdown(elem_id="ann-created")

        with gr.Accordion(i18n("ann_agreement_title"), open=False):
            check = gr.Button(i18n("btn_show_agreement"), elem_id="ann-agreement-run")
            agreement = gr.Markdown(elem_id="ann-agreement")
            people = gr.Dataframe(headers=ANNOTATOR_COLUMNS, interactive=False, label=i18n("ann_annotators"),
                                  elem_id="ann-annotators")
            disputed = gr.Dataframe(headers=DISPUTED_COLUMNS, interactive=False, wrap=True,
                                    label=i18n("ann_disputed"), elem_id="ann-disputed")
            with gr.Row():
                # Follows the chosen campaign's judgment (follow_campaign below): relevance exports pairs.
                export_kind = gr.Dropdown(list(EXPORT_KINDS), value=EXPORT_KINDS_OF[RELEVANCE][0],
                                          label=i18n("rv_dataset"), elem_id="ann-export-kind")
                export_format = gr.Dropdown(list(EXPORT_FORMATS), value="jsonl", label=i18n("rv_format"))
                min_agreement = gr.Number(0, label=i18n("ann_min_agreement"), minimum=0, maximum=1)
                make_export = gr.Button(i18n("btn_export_consensus"), elem_id="ann-export")
            export_note = gr.Markdown(elem_id="ann-export-note")
            export_file = gr.File(label=i18n("rv_download"))
            with gr.Row():
                holder = gr.Textbox(label=i18n("ann_release_user"), elem_id="ann-release-user")
                release = gr.Button(i18n("btn_release_leases"), elem_id="ann-release")
            release_note = gr.Markdown(elem_id="ann-release-note")

        answer_buttons = [relevant, not_relevant, *scores, *label_buttons, skip, undo]
        view = [instructions, item_view, progress, status, current, *answer_buttons]

        def who(user_token: str, request: gr.Request, profile: gr.OAuthProfile | None) -> Identity:
            return common.identify(studio, request, profile, user_token)

        @common.user_errors
        def list_campaigns(chosen: str, user_token: str, request: gr.Request, profile: gr.OAuthProfile | None):
            choices = campaign_choices(studio, who(user_token, request, profile))
            ids = [value for _, value in choices]
            return gr.update(choices=choices, value=chosen if chosen in ids else (ids[0] if ids else None))

        @common.user_errors
        def begin(campaign_id: str, user_token: str, request: gr.Request, profile: gr.OAuthProfile | None):
            identity = who(user_token, request, profile)
            item = studio.campaign_store().next_item(campaign_id, identity.user,
                                                     address=common.anonymous_address(identity, request))
            return show(studio, identity, campaign_id, item)

        def answer_with(value: Any):
            @common.user_errors
            def handler(campaign_id: str, item_id: int | None, user_token: str, request: gr.Request,
                        profile: gr.OAuthProfile | None):
                identity = who(user_token, request, profile)
                campaigns = studio.campaign_store()
                if item_id is None:
                    raise ValueError(t("ann_press_start"))
                if campaigns.has_judged(campaign_id, item_id, identity.user):
                    # a key pressed twice while the first answer was on its way: already saved
                    message = t("ann_already_saved", item=int(item_id))
                else:
                    record = answer(studio, identity, campaign_id, item_id, value)
                    shown = value_name(campaigns.get(campaign_id), value)  # "not relevant", not not_relevant
                    message = t("ann_saved", item=int(item_id), value=html.escape(shown), record=record)
                return show(studio, identity, campaign_id, campaigns.next_item(
                    campaign_id, identity.user, address=common.anonymous_address(identity, request)), message)

            return handler

        @common.user_errors
        def pass_item(campaign_id: str, item_id: int | None, user_token: str, request: gr.Request,
                      profile: gr.OAuthProfile | None):
            identity = who(user_token, request, profile)
            campaigns = studio.campaign_store()
            if item_id is None:
                raise ValueError(t("ann_press_start"))
            campaigns.skip(campaign_id, item_id, identity.user)
            return show(studio, identity, campaign_id, campaigns.next_item(
                campaign_id, identity.user, address=common.anonymous_address(identity, request)),
                t("ann_skipped", item=int(item_id)))

        @common.user_errors
        def take_back(campaign_id: str, user_token: str, request: gr.Request, profile: gr.OAuthProfile | None):
            identity = who(user_token, request, profile)
            campaigns = studio.campaign_store()
            address = common.anonymous_address(identity, request)
            item = campaigns.undo(campaign_id, identity.user, address=address)
            if item is not None:  # a judgment may have gone: exports holding it stop being served
                common.forget_exports(studio, identity.user)
            message = (t("ann_back", item=item.item_id) if item is not None
                       else t("ann_nothing_to_undo"))
            return show(studio, identity, campaign_id,
                        item or campaigns.next_item(campaign_id, identity.user, address=address), message)

        def created_message(made: Campaign, notes: list[str]) -> str:
            text = t("ann_created", name=html.escape(made.name), n=f"{made.n_items:,}", overlap=made.overlap,
                     id=made.id)
            if made.rule:
                text += "<br>" + t("ann_rule_line", rule=html.escape(made.rule))
            return text + "".join(f"<br>{html.escape(translate_error(n))}" for n in notes)

        @common.user_errors
        def make_campaign(upload, judgment_, overlap_, labels_, guide_, name_, show_, user_token: str,
                          request: gr.Request, profile: gr.OAuthProfile | None):
            made, notes = create_from_table(studio, who(user_token, request, profile), upload, judgment_, overlap_,
                                            guide_, labels_, name_, show_)
            # the upload is cleared, ready for the next table
            return created_message(made, notes), gr.update(choices=[(made.name, made.id)], value=made.id), None

        @common.user_errors
        def choose_campaign(rule_, queries_, passages_, n_, k_, judgment_, overlap_, guide_, name_, show_,
                            user_token: str, request: gr.Request, profile: gr.OAuthProfile | None):
            pair_judgment = judgment_ if judgment_ in (RELEVANCE, SCORE) else RELEVANCE
            made = create_by_model(studio, who(user_token, request, profile), rule_, queries_, passages_, n_,
                                   pair_judgment, overlap_, guide_, name_, show_, k_)
            return created_message(made, []), gr.update(choices=[(made.name, made.id)], value=made.id)

        @common.user_errors
        def show_agreement(campaign_id: str, user_token: str, request: gr.Request, profile: gr.OAuthProfile | None):
            return agreement_view(studio, who(user_token, request, profile), campaign_id)

        @common.user_errors
        def export_campaign(campaign_id: str, kind_: str, fmt_: str, level: float | None, user_token: str,
                            request: gr.Request, profile: gr.OAuthProfile | None):
            identity = who(user_token, request, profile)
            path, note = export_consensus(studio, identity, campaign_id, kind_, fmt_, level)
            common.track_export(studio, identity, path)
            return path, note

        @common.user_errors
        def follow_campaign(campaign_id: str):
            """The export's dataset follows the campaign's judgment (reading a campaign's kind needs only its id,
            the invitation; its judgments stay behind the creator's check in export_consensus)."""
            kind = export_kind_for(studio, campaign_id)
            return gr.update(value=kind) if kind else gr.update()

        @common.user_errors
        def end_leases(campaign_id: str, user: str, user_token: str, request: gr.Request,
                       profile: gr.OAuthProfile | None):
            return release_view(studio, who(user_token, request, profile), campaign_id, user)

        private = {"api_visibility": "private"}
        tab.select(list_campaigns, [campaign, token], campaign, **private)
        refresh.click(list_campaigns, [campaign, token], campaign, **private)
        start.click(begin, [campaign, token], view, **private)
        relevant.click(answer_with("relevant"), [campaign, current, token], view, **private)
        not_relevant.click(answer_with("not_relevant"), [campaign, current, token], view, **private)
        for value, button in zip(SCORES, scores, strict=True):
            button.click(answer_with(float(value)), [campaign, current, token], view, **private)
        for i, button in enumerate(label_buttons):
            button.click(_label_handler(studio, i, answer_with), [campaign, current, token], view, **private)
        skip.click(pass_item, [campaign, current, token], view, **private)
        undo.click(take_back, [campaign, token], view, **private)
        create.click(make_campaign, [file, judgment, overlap, labels, guide, name, show_score, token],
                     [created, campaign, file], **private)
        choose.click(choose_campaign, [rule, queries, passages, n_items, k, judgment, overlap, guide, name, show_score,
                                       token], [created, campaign], **private)
        campaign.change(follow_campaign, campaign, export_kind, **private)
        check.click(show_agreement, [campaign, token], [agreement, people, disputed], **private)
        release.click(end_leases, [campaign, holder, token], release_note, **private)
        make_export.click(export_campaign, [campaign, export_kind, export_format, min_agreement, token],
                          [export_file, export_note], **private)


def _label_handler(studio: Studio, index: int, answer_with):
    """The i-th label button answers with the campaign's i-th label, looked up on the server."""

    @common.user_errors
    def handler(campaign_id: str, item_id: int | None, user_token: str, request: gr.Request,
                profile: gr.OAuthProfile | None):
        campaign = studio.campaign_store().get(campaign_id)
        if index >= len(campaign.labels):
            raise UserError("campaign_label_number", count=len(campaign.labels), number=index + 1)
        return answer_with(campaign.labels[index])(campaign_id, item_id, user_token, request, profile)

    return handler


# -- API -----------------------------------------------------------------------------------------------


def add_api(studio: Studio) -> None:
    """/create_campaign, /model_campaign, /next_item, /skip_item, /campaign_progress, /agreement, /release_leases.

    Answers go through /flag with ``campaign`` and ``item_id``. Pass the token /flag or
    /create_campaign returned, unless logged in.
    """

    def identity_of(token: str, request: gr.Request | None, profile: gr.OAuthProfile | None,
                    issue: bool = False) -> Identity:
        return common.identify(studio, request, profile, token, issue=issue)

    def created(made: Campaign, identity: Identity, token: str, notes: list[str]) -> dict:
        return {**made.public(), "notes": notes, "user": identity.user, "token": common.token_for_reply(studio, identity, token)}

    @common.user_errors
    def create_campaign(file: dict | str | None = None, judgment: str = RELEVANCE, overlap: int = 2,
                        instructions: str = "", labels: str = "", name: str = "", show_model_score: bool = False,
                        token: str = "", request: gr.Request = None, profile: gr.OAuthProfile | None = None) -> dict:
        """A campaign from a table (gradio_client.handle_file): query,passage or sentence1,sentence2 columns for
        judgment relevance or score, a text column for label (labels comma-separated). overlap: people per
        item. Returns the campaign (its id under "campaign") and, for a new caller, the token to keep."""
        identity = identity_of(token, request, profile, issue=True)
        made, notes = create_from_table(studio, identity, file, judgment, overlap, instructions, labels, name,
                                        show_model_score)
        return created(made, identity, token, notes)

    @common.user_errors
    def model_campaign(rule: str = "boundary", queries: str = "", passages: str = "", n: int = DEFAULT_ITEMS,
                       judgment: str = RELEVANCE, overlap: int = 2, instructions: str = "", name: str = "",
                       k: int = 0, token: str = "", request: gr.Request = None,
                       profile: gr.OAuthProfile | None = None) -> dict:
        """A campaign of the items the model is least sure about. rule: boundary (pairs nearest the decision
        boundary), tied (queries whose top two passages nearly tie), border (texts, given in queries, between
        two of k clusters; judged with a label per cluster). The rule used is in the answer's "rule"."""
        identity = identity_of(token, request, profile, issue=True)
        made = create_by_model(studio, identity, rule, queries, passages, n, judgment, overlap, instructions, name,
                               False, k)
        return created(made, identity, token, [])

    @common.user_errors
    def next_item(campaign: str, token: str = "", request: gr.Request = None,
                  profile: gr.OAuthProfile | None = None) -> dict | None:
        """Your next item of the campaign (held for you for 5 minutes): item_id and its texts under the table's
        column names; None when nothing is left for you. Answer with /flag(campaign=..., item_id=...). A
        caller without a token gets a new identity: its token comes with the item, keep it."""
        identity = identity_of(token, request, profile, issue=True)
        campaigns = studio.campaign_store()
        item = campaigns.next_item(campaign, identity.user, address=common.anonymous_address(identity, request))
        if item is None:
            return None
        out = item.as_dict(campaigns.get(campaign))
        if identity.token:  # newly issued: the item is held for this identity, so the caller needs it
            out["token"] = identity.token
        return out

    @common.user_errors
    def skip_item(campaign: str, item_id: int, token: str = "", request: gr.Request = None,
                  profile: gr.OAuthProfile | None = None) -> dict:
        """Pass on an item: it is not offered to you again."""
        identity = identity_of(token, request, profile)
        studio.campaign_store().skip(campaign, item_id, identity.user)
        return {"skipped": int(item_id)}

    @common.user_errors
    def campaign_progress(campaign: str, token: str = "", request: gr.Request = None,
                          profile: gr.OAuthProfile | None = None) -> dict:
        """The campaign's settings and where you and the campaign stand."""
        identity = identity_of(token, request, profile)
        campaigns = studio.campaign_store()
        made = campaigns.get(campaign)
        progress = campaigns.progress(made.id, identity.user)
        return {**made.public(), **progress.as_dict(), "line": progress.line()}

    @common.user_errors
    def campaign_agreement(campaign: str, top: int = 10, token: str = "", request: gr.Request = None,
                           profile: gr.OAuthProfile | None = None) -> dict:
        """Krippendorff's alpha, each annotator's agreement with the others and the most disputed items
        (the campaign's creator and admins only)."""
        identity = identity_of(token, request, profile)
        report = studio.campaign_store().agreement(campaign, identity.user, identity.is_admin,
                                              top=_whole(top, "top", 0, 1_000))
        return {"level": report.level, "alpha": report.alpha, "items": report.items, "judgments": report.judgments,
                "all_items": report.all_items, "all_judgments": report.all_judgments,
                "annotators": [vars(a) for a in report.annotators],
                "disputed": [{"item_id": d.item, "judgments": d.judgments, "agreement": d.agreement,
                              "values": d.values} for d in report.disputed]}

    gr.api(create_campaign, api_name="create_campaign")
    gr.api(model_campaign, api_name="model_campaign")
    gr.api(next_item, api_name="next_item")
    gr.api(skip_item, api_name="skip_item")
    gr.api(campaign_progress, api_name="campaign_progress")
    @common.user_errors
    def release_leases(campaign: str, user: str, token: str = "", request: gr.Request = None,
                       profile: gr.OAuthProfile | None = None) -> dict:
        """End every item ``user`` (an annotator's id, e.g. anon:…) holds in the campaign, so those items go to
        others now (the campaign's creator and admins only). Their judgments stay. Returns how many ended and
        who holds items now."""
        identity = identity_of(token, request, profile)
        campaigns = studio.campaign_store()
        ended = campaigns.release_leases(campaign, user, by=identity.user, is_admin=identity.is_admin)
        return {"released": ended, "user": str(user or "").strip(),
                "holders": campaigns.lease_holders(campaign, identity.user, identity.is_admin)}

    gr.api(campaign_agreement, api_name="agreement")
    gr.api(release_leases, api_name="release_leases")


def flag_item(studio: Studio, identity: Identity, campaign: str, item_id: Any, judgment: Judgment) -> int:
    """/flag with ``campaign`` and ``item_id``: the judgment answers that item (its texts come from the item)."""
    if not campaign or item_id in (None, ""):
        raise ValueError("a campaign judgment needs both campaign and item_id (from /next_item)")
    campaigns = studio.campaign_store()
    made = campaigns.get(campaign)
    revision = studio.encoder.revision if made.model_id == studio.encoder.model_id else None
    return campaigns.submit(made.id, item_id, judgment.replace(user=identity.user, tab=None,
                                                               model_revision=revision))
