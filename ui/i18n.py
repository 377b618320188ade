"""The interface in English and Russian: every string the app shows, in one place.

Two ways a string reaches the page:

- Component properties (labels, buttons, static Markdown) are ``i18n("key")``: Gradio sends the key and
  the browser picks the text in its locale, the same locale as Gradio's own strings ("Drop File Here").
  Such texts go through ICU MessageFormat on the page, so they hold no ``{...}``.
- Text built by a handler (a status line, a table's headers, an error) is ``t("key", **values)`` in
  Python, in the language of the page that asked (see ``current``); API callers get English unless
  their Accept-Language asks for Russian.

Which language a page uses is decided in the browser before Gradio starts (``LANGUAGE_SCRIPT``, put
at the top of the page by ``LanguageScript``): ``?lang=ru`` or ``?lang=en`` in the address, else the
switch's last choice (localStorage), else the browser's language (Russian if it starts with "ru",
English otherwise). Gradio has no public way to change its locale later without stale strings (its
upload area keeps the old language), so the switch stores the choice and reloads the page. The page
then tells the server its language in a private load step, kept per session for the handlers.
"""

from __future__ import annotations

import json
import re
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import gradio as gr

LANGUAGES = ("en", "ru")
DEFAULT = "en"
STORAGE_KEY = "user-studio-lang"  # localStorage: the switch's last choice
MAX_SESSIONS = 20_000  # remembered page languages; the oldest go first (each is a few dozen bytes)

EN: dict[str, str] = {
    # The header and the switch.
    "app_language": "Language",
    "hdr_token_limit": "{limit} token limit",
    "hdr_no_limit": "no token limit",
    "hdr_models_loaded": "Models loaded: {models}; the first is the default.",
    "banner_running_on": "**Running on `{model}`, not deepvk/USER-base.**",
    "banner_prefixes_apply": "It was trained with the same `query: ` / `passage: ` prefixes, so every tab applies.",
    "banner_prefixes_off": "Prefixes do not apply to this fallback model.",
    "you_are": "You are `{user}`.",
    "you_are_admin": "You are `{user}` (admin).",
    # Shared pieces.
    "prefix_none": "no prefix",
    "warning": "Warning:",
    "saved_judgment": "Saved judgment #{id}: {what}. Use **Undo** to take it back.",
    "nothing_to_undo": "Nothing to undo.",
    "judgment_removed": "Judgment #{id} removed.",
    "judgment_already_gone": "Judgment #{id} was already gone.",
    "judgment_deleted": "Judgment #{id} deleted.",
    "err_server": ("Something went wrong on the server (reference {reference}); it has been logged. "
                   "Try again, or with fewer or shorter texts."),
    "err_title": "Error",
    "err_memory": "out of memory: send fewer or shorter texts",
    "err_missing": "missing value: {name}",
    "err_missing_bare": "missing value",
    "verdict_relevant": "relevant",
    "verdict_not_relevant": "not relevant",
    "verdict_score": "score {score}",
    # Judgment kinds as the review tab names them (the store and the API keep the codes).
    "kind_relevant": "relevant",
    "kind_not_relevant": "not relevant",
    "kind_score": "score",
    "kind_similar": "similar",
    "kind_dissimilar": "not similar",
    "kind_misplaced": "not in its cluster",
    "kind_label": "topic label",
    "kind_prefer": "better prefix",
    "btn_relevant": "Relevant",
    "btn_not_relevant": "Not relevant",
    "btn_undo": "Undo",
    "btn_save_score": "Save score",
    "comment_optional": "Comment (optional)",
    # Similarity.
    "sim_tab": "Similarity",
    "sim_intro": ("Score every query against every passage. USER-base expects `query: ` on questions and "
                  "`passage: ` on the documents searched; the card's example is one click away."),
    "sim_queries": "Queries, one per line",
    "sim_passages": "Passages, one per line",
    "query_prefix": "Query prefix",
    "passage_prefix": "Passage prefix",
    "sim_upload": "…or upload a table: pick its query and passage columns",
    "col_found": "found by itself",
    "col_none": "(none)",
    "query_column": "Query column",
    "passage_column": "Passage column",
    "model": "Model",
    "sim_other": "Side by side with",
    "sim_top_k": "Top k passages per query (0 = all)",
    "sim_example": "Model card example",
    "sim_compare": "Compare",
    "sim_query_to_show": "Query to show",
    "sim_changes": "Both models' scores per pair, largest change first",
    "sim_ranking": "Best passages per query (select a row to judge it; \"yours\": your verdicts)",
    "sim_tokens": "Tokens per text",
    "sim_score": "Similarity score 0–5",
    "sim_no_result": "Enter queries and passages, then Compare",
    "sim_no_pair": "**Judge a pair:** select a row of the ranking.",
    "sim_judging": "**Judging:** q{q} → p{p} (score {score})",
    "sim_status": "{queries} queries × {passages} passages, prefixes `{qp}` / `{pp}`",
    "sim_shown_top": "ranking: top {k} per query",
    "sim_shown_all": "ranking: every passage",
    "sim_per_query": "more than {n} queries or passages: one query at a time (pick it above the chart)",
    "sim_model": "model `{model}`",
    "sim_side_summary": ("**{a}** vs **{b}**: mean |difference| {mean}, largest {largest} (cosine × 100); "
                         "the top passage agrees for {agree} of {n} queries."),
    "sim_table_rows": "{rows} rows · queries from {query} · passages from {passage}",
    "sim_select_row": "select a row of the ranking first",
    # Ranking and score-change column headers (API callers read the English ones).
    "colh_query_no": "query #",
    "colh_rank": "rank",
    "colh_score": "score",
    "colh_yours": "yours",
    "colh_passage_no": "passage #",
    "colh_passage": "passage",
    "colh_query": "query",
    "colh_change": "change",
    "colh_role": "role",
    "colh_num": "#",
    "colh_input": "input",
    "colh_tokens": "tokens",
    "colh_truncated": "truncated",
    "colh_id": "id",
    "colh_created_at": "created_at",
    "colh_created_utc": "created (UTC)",
    "colh_user": "user",
    "colh_tab": "tab",
    "colh_kind": "kind",
    "colh_label": "label",
    "colh_comment": "comment",
    "colh_query_prefix": "query_prefix",
    "colh_passage_prefix": "passage_prefix",
    "colh_model_id": "model_id",
    "colh_positive": "positive",
    "colh_metric": "metric",
    "colh_set": "set",
    "colh_before": "before",
    "colh_after": "after",
    "colh_rows": "rows",
    "colh_version": "version",
    "colh_base_model": "base model",
    "colh_created": "created",
    "colh_held_out_change": "held-out change",
    "colh_regression_change": "regression change",
    "colh_promoted": "promoted",
    "colh_reason": "reason",
    "colh_annotator": "annotator",
    "colh_judgments": "judgments",
    "colh_items_shared": "items shared",
    "colh_agreement_with_others": "agreement with others",
    "colh_alpha_without_them": "alpha without them",
    "colh_item": "item",
    "colh_agreement": "agreement",
    "colh_values": "values",
    "colh_texts": "texts",
    "colh_model": "model",
    "colh_comparison": "comparison",
    "colh_difference": "difference",
    "colh_interval95": "95% interval",
    "colh_verdict": "verdict",
    "colh_ranked_first": "ranked first",
    "colh_relevant_at_rank": "relevant at rank",
    "colh_relevant_passage": "relevant passage",
    "colh_threshold": "threshold (cos×100)",
    "colh_precision": "precision",
    "colh_recall": "recall",
    "colh_relevant_pairs": "relevant pairs",
    "colh_not_relevant_pairs": "not relevant pairs",
    "colh_cluster": "cluster",
    "colh_size": "size",
    "colh_keywords": "keywords",
    "colh_examples": "examples",
    "colh_name": "name",
    "colh_main_label": "main label",
    "colh_text": "text",
    "colh_point": "point",
    "colh_query_vs_none": "query vs none",
    "colh_passage_vs_none": "passage vs none",
    "colh_query_vs_passage": "query vs passage",
    "colh_variant": "variant",
    "colh_neighbour_no": "neighbour #",
    "colh_neighbour": "neighbour",
    "colh_cosine": "cosine",
    "colh_rank_without_prefix": "rank without prefix",
    "colh_shift": "shift",
    "colh_pair": "pair",
    "colh_mean_overlap": "mean overlap@k",
    "colh_same_top_k": "same top-k",
    "plot_passage": "passage {n}",
    "plot_cosine": "cosine × 100",
    "plot_per_query_title": "q{q} of {n}: {query} · top {top} of {passages} passages",
    "plot_heatmap_title": "Query–passage similarity (cosine × 100)",
    "plot_side_title": "The same pairs, two models (cosine × 100)",
    "plot_noise": "noise",
    "plot_prefix_map_title": "Where each text moves when a prefix is added",
    # Review.
    "rv_tab": "Review judgments",
    "rv_intro": (
        "Your judgments so far, and the data they make for fine-tuning (pairs and triplets for "
        "MultipleNegativesRankingLoss, scores for CoSENTLoss). Nobody else sees your texts; the counts name "
        "nobody."
    ),
    "rv_kind": "Kind",
    "rv_user": "User (admins only: exact id)",
    "rv_tab_filter": "Tab",
    "rv_rows": "Rows",
    "btn_refresh": "Refresh",
    "rv_by_kind": "By kind",
    "rv_by_user": "By user",
    "rv_by_tab": "By tab",
    "rv_export_title": "Export training data (yours; an admin's: everyone's)",
    "rv_dataset": "Dataset",
    "rv_format": "Format",
    "rv_prefix_mode": "Prefixes: applied to texts, or kept as columns for `prompts`",
    "btn_export": "Export",
    "rv_download": "Download",
    "rv_delete_title": "Delete my judgments",
    "rv_judgment_id": "Judgment id",
    "btn_delete_one": "Delete this judgment",
    "btn_delete_all": "Delete all my judgments…",
    "btn_confirm_delete": "Yes, delete all",
    "btn_confirm_delete_n": "Yes, delete all {n}",
    "btn_cancel": "Cancel",
    "btn_restore": "Undo: restore my deleted judgments",
    "rv_summary": "**{total} judgments** by {users} people; **{mine} are yours** (you are `{user}`).",
    "rv_admin": " You are an admin: every user's judgments are shown. Store: `{path}`",
    "rv_records": "records",
    "rv_none_to_delete": "You have no judgments to delete.",
    "rv_ask_delete": (
        "**Delete all {n} of your judgments?** They leave the store and your exports stop working; you can "
        "restore them from this page for an hour."
    ),
    "rv_deleted": "Deleted {n} of your judgments{late}. **Undo** restores them.",
    "rv_deleted_late": " ({n} made while deleting cannot be restored)",
    "rv_nothing_to_restore": "Nothing to restore: no deletion of yours in the last hour.",
    "rv_restored": "Restored {n} of your judgments.",
    "rv_nothing_deleted": "Nothing was deleted.",
    "rvh_query": "query",
    "rvh_relevant": "relevant passage",
    "rvh_not_relevant": "not-relevant passage",
    "rvh_text": "text",
    "rvh_scored_against": "scored against",
    "rvh_similar": "similar text",
    "rvh_dissimilar": "dissimilar text",
    "rvh_misplaced": "misplaced text",
    "rvh_labelled": "labelled text",
    "rvh_against": "judged against (see kind)",
    # Train.
    "tr_tab": "Train",
    "tr_intro": (
        "Fine-tune a loaded model on judgments. 20 % of them are held out (no text on both sides) and "
        "scored before and after, with a ParaPhraser regression set that catches forgetting. A version is "
        "promoted only when the held-out score rose and the regression set fell by at most 0.01."
    ),
    "tr_mine": "My judgments",
    "tr_everyone": "Everyone's (admins)",
    "tr_campaign": "A campaign's consensus",
    "tr_judgments": "Judgments",
    "tr_base": "Base model",
    "tr_campaign_id": "Campaign id (one you created; admins: any)",
    "tr_min_agreement": "Leave out items whose annotators agree less than (0: keep all)",
    "tr_train_on": "Train on",
    "tr_settings": "Settings (the measured defaults)",
    "tr_epochs": "Epochs",
    "tr_lr": "Learning rate",
    "tr_batch": "Batch size",
    "tr_seed": "Seed",
    "tr_freeze": "Freeze word embeddings (same quality, ~45 % faster)",
    "tr_blend": (
        "Blend with the base model (its share of the weights; 0.5 kept ~70 % of the gain and halved the "
        "forgetting when measured)"
    ),
    "btn_start_training": "Start training",
    "tr_before_after": "Before and after",
    "tr_saved_versions": "Saved versions",
    "tr_version": "Version",
    "tr_anyway": "Load it anyway (not promoted)",
    "btn_use_model": "Use this model",
    "tr_no_job": "No training job yet.",
    "tr_other_job": "Someone else's training job is running; one runs at a time. Started {minutes} min ago.",
    "tr_no_job_yours": "No training job of yours yet.",
    "tr_promoted": (
        "**Promoted**: {reason}. Load `{version}` below to compare it with the base model in the Similarity "
        "tab."
    ),
    "tr_not_promoted": (
        "**Not promoted**: {reason}. `{version}` is kept and can still be loaded on purpose below."
    ),
    "tr_dropped": (
        "{n} judgment(s) shared a text with the hold-out and were left out of both sides, so no text is "
        "scored that was trained on."
    ),
    "tr_loaded": (
        "Loaded `{version}` next to the base model. In the Similarity tab pick it as the model or 'side by "
        "side with' to see both models' scores and the change ({dim}-d)."
    ),
    "tr_enter_campaign": "Enter a campaign's id: its consensus (one row per item) is what trains.",
    "tr_kind_rows": "{kind} ({n} rows)",
    "tr_kind_ready": "- **{kind}**: {n} rows, trains with {loss} (ready)",
    "tr_head": "**{n}** of {owner} judgments. Each kind needs at least {min} rows.",
    "tr_owner_everyone": "everyone's",
    "tr_owner_campaign": "the campaign's consensus",
    "tr_owner_yours": "your",
    # Annotate.
    "ann_tab": "Annotate",
    "ann_intro": (
        "Judge the items of a campaign one at a time, from the keyboard. Several people judge each item; a "
        "campaign's id is its invitation. Its creator sees how much people agree."
    ),
    "ann_campaign": "Campaign (pick one, or paste its id)",
    "btn_refresh_list": "Refresh list",
    "btn_start": "Start",
    "ann_pick": "Pick a campaign and press Start.",
    "btn_relevant_key": "Relevant (R)",
    "btn_not_relevant_key": "Not relevant (N)",
    "btn_skip_key": "Skip (S)",
    "btn_undo_key": "Undo (U)",
    "ann_keys": (
        "**Keys**: `R` relevant · `N` not relevant · `0`–`5` score · `1`–`9` label · `S` skip · `U` undo "
        "(when no text box has the focus)"
    ),
    "ann_new": "New campaign",
    "ann_name": "Name",
    "ann_judgment": "Judgment",
    "ann_overlap": "People per item (overlap)",
    "ann_show_score": "Show the model's score (off: it anchors people)",
    "ann_labels": "Labels (label campaigns: 2 to 9, comma-separated)",
    "ann_instructions": "Instructions",
    "ann_from_table": "From a table",
    "ann_items_file": "Items: query,passage or sentence1,sentence2 (pairs), or text (labels)",
    "btn_create_campaign": "Create campaign",
    "ann_model_choose": "Let the model choose",
    "ann_rule_boundary": "Pairs near the decision boundary",
    "ann_rule_tied": "Queries whose top two passages are nearly tied",
    "ann_rule_border": "Texts on the border between two clusters (labels)",
    "ann_rule": "Rule",
    "ann_queries": "Queries (or the texts to cluster), one per line",
    "ann_items": "Items",
    "ann_k": "Clusters (border; 0: by silhouette)",
    "btn_create_from_model": "Create from the model's choice",
    "ann_agreement_title": "Agreement and training data (the campaign's creator and admins)",
    "btn_show_agreement": "Show agreement",
    "ann_annotators": "Each annotator against the others",
    "ann_disputed": "Most disputed items",
    "ann_min_agreement": "Leave out items agreeing less than (0-1)",
    "btn_export_consensus": "Export consensus",
    "ann_done": (
        "<b>Nothing left for you in this campaign.</b> Every item has its judgments, or you have judged or "
        "skipped the rest. Thank you!"
    ),
    "ann_item_of": "Item {item} of {n}",
    "ann_model_score": "model score: {score}",
    "ann_what_relevance": "Does the passage answer the query? **R** relevant, **N** not relevant.",
    "ann_what_score": "How similar are the two texts, from **0** (unrelated) to **5** (same meaning)?",
    "ann_what_label": "Which label fits the text? ",
    "ann_chosen_by": "*Items chosen by the model: {rule}.*",
    "ann_progress": "**{done} of {items} done; {left} left in the campaign** · {judgments} of {needed} judgments",
    "ann_press_start": "press Start to get an item first",
    "ann_already_saved": "Item {item} was already saved.",
    "ann_saved": "Saved item {item}: {value} (judgment #{record}).",
    "ann_skipped": "Skipped item {item}.",
    "ann_back": "Item {item} is back: answer it again.",
    "ann_nothing_to_undo": "Nothing to undo in this campaign.",
    "ann_created": (
        "Campaign **{name}** created: {n} items, {overlap} per item. Its id, to share with annotators: "
        "`{id}`"
    ),
    "ann_rule_line": "Rule: {rule}",
    "ann_alpha_undefined": "not defined yet (it needs items judged by two people, and some variation)",
    "ann_alpha": (
        "Krippendorff's alpha ({level}): {alpha}, from {items} items with two or more judgments "
        "({judgments} judgments); {all_judgments} judgments on {all_items} items in all."
    ),
    # Evaluate.
    "ev_tab": "Evaluate",
    "ev_intro": (
        "Measure retrieval on your own data: a table with one row per query and its right passage (every "
        "passage is a candidate for every query), optionally a corpus of further passages. Then choose a "
        "threshold from relevant / not-relevant pairs, and search a corpus."
    ),
    "ev_source_upload": "Uploaded table (query, passage, label)",
    "ev_source_judgments": "My judgments (relevant / not relevant)",
    "ev_models": "Models",
    "ev_retrieval": "### Retrieval on your pairs",
    "ev_pairs_file": "Pairs: query and passage columns, one row per relevant pair",
    "ev_corpus_file": "Corpus of further passages (optional: a table or a .txt, one per line)",
    "ev_query_column": "Query column (empty: found by itself)",
    "ev_passage_column": "Passage column (empty: found by itself)",
    "btn_evaluate": "Evaluate",
    "ev_metrics": "Models side by side (Recall@k: share of queries with a relevant passage in the top k)",
    "ev_differences": "Difference between models, 95% paired bootstrap interval over queries",
    "ev_missed": "Missed queries: what each model ranked first, and where the answer was",
    "ev_threshold": "### Threshold",
    "ev_pairs_verdict": "Pairs with a verdict",
    "ev_labelled_file": "Table with query, passage and label (1 relevant / 0 not) columns",
    "btn_find_threshold": "Find the threshold",
    "ev_threshold_empty": "Upload labelled pairs or use your judgments, then Find the threshold",
    "ev_search": "### Search",
    "ev_search_corpus": "Corpus to search (a table or a .txt, one passage per line)",
    "ev_query": "Query",
    "ev_top_k": "Top k",
    "btn_search": "Search",
    "ev_hits": "Best passages (select a row to judge it)",
    "ev_no_hit": "**Judge a passage:** select a row of the results.",
    "ev_judging": "**Judging:** rank {rank} (score {score})",
    "ev_select_row": "select a row of the results first",
    "ev_summary_head": (
        "**{queries} queries** against **{passages} passages** ({table} from the table{corpus})"
    ),
    "ev_summary_corpus": ", {n} more from the corpus",
    "ev_prefixes": "prefixes `{qp}` / `{pp}`",
    "ev_duplicates": "{n} duplicate passage(s) counted once",
    "ev_missed_n": "{n} queries missed at rank 1",
    "ev_worst_shown": " (the worst {n} shown)",
    "ev_load_second": "load a second model (`--model`) to compare two models with a confidence interval",
    "ev_th_summary": "**{n} pairs** from {source}: {relevant} relevant, {not_relevant} not relevant",
    "ev_th_source_judgments": "your judgments",
    "ev_th_source_table": "the uploaded table",
    "ev_th_note": (
        "a pair counts as relevant when its score is at or above the threshold; chosen on these pairs, so "
        "expect a little less on new ones"
    ),
    "ev_search_status": "top {k} of {n} passages",
    "ev_search_column": " (column `{column}`)",
    "ev_table_note": "{rows} rows · query column `{query}`, passage column `{passage}`",
    "ev_pick_columns": "{error}: pick the columns",
    "ev_hist_title": "Scores of relevant and not-relevant pairs",
    "ev_hist_pairs": "pairs",
    "ev_hist_threshold": "threshold {threshold} · F1 {f1}",
    # Prefixes.
    "px_tab": "Prefixes",
    "px_help": (
        "**Why prefixes?** USER-base (like multilingual-e5-small, whose recipe it follows) was trained with "
        "an instruction at the start of every text. Use `query: ` and `passage: ` for asymmetric tasks such "
        "as passage retrieval (questions get `query: `, the documents searched get `passage: `). Use "
        "`query: ` for symmetric tasks (semantic similarity, paraphrase search, bitext mining) and when "
        "embeddings serve as features (clustering, classification). Without a prefix the model works, but "
        "worse: that is what the prefix tab shows."
    ),
    "px_not_applicable": (
        "The loaded model was trained without prefixes, so this comparison does not apply to it. Start the "
        "app on a model with prefixes (deepvk/USER-base, multilingual-e5-small) to use this tab."
    ),
    "px_better_query": "query: is better",
    "px_better_passage": "passage: is better",
    "px_better_none": "no prefix is better",
    "px_texts": "Texts, one per line",
    "px_k": "Neighbours k",
    "btn_compare_prefixes": "Compare prefixes",
    "px_cosines": "Cosine between variants of the same text",
    "px_run_first": "Run the comparison",
    "px_overlap": "Mean overlap@k between variants",
    "px_neighbours": ("Top-k neighbours per variant; shift = rank without prefix − rank (above 0: the "
                      "prefix brought the neighbour closer)"),
    "px_selected_title": "Selected on the map",
    "px_select_help": "Lasso, box or click points on the map to select texts; click empty space to clear.",
    "px_judge": "**Judge:** which variant gives this text the better neighbours?",
    "px_text": "Text",
    "px_better_with": "Better neighbours with",
    "btn_save": "Save",
    "btn_save_selected": "Save for each selected",
    "px_summary": "{n} texts, top-{k} neighbours under each variant",
    "px_saved_batch": (
        "Saved {n} judgment(s): {better} gives better neighbours. **Undo** takes the batch back."
    ),
    "px_better_what": "{better} gives better neighbours",
    "nothing_selected": "Nothing selected.",
    "px_compare_first": "Compare prefixes first.",
    "n_selected": "**{n} text(s) selected.**",
    "batch_removed": "{n} judgment(s) of the batch removed.",
    # Clustering.
    "cl_tab": "Clustering",
    "cl_intro": (
        "Cluster a corpus with the `query: ` prefix (the card's advice for clustering), then read the map, "
        "the clusters' keywords and, with a label column, how well they match it."
    ),
    "cl_source_sample": "Sample corpus (360 sentences, 9 topics)",
    "cl_source_upload": "Uploaded file",
    "cl_source_paste": "Pasted texts",
    "cl_corpus": "Corpus",
    "cl_file": "CSV, TSV, TXT, XLSX or Parquet (5 MB at most)",
    "cl_pasted": "Pasted texts, one per line",
    "cl_text_column": "Text column",
    "cl_label_column": "Label column (optional)",
    "cl_method": "Clustering",
    "cl_k": "k clusters (0 = choose by silhouette)",
    "cl_min_size": "HDBSCAN min cluster size",
    "cl_map_settings": "Map (PCA → UMAP)",
    "cl_seed": "seed (empty = faster, not reproducible)",
    "cl_colour_cluster": "cluster",
    "cl_colour_label": "label",
    "cl_colour_by": "Colour by",
    "cl_with_embeddings": "Include embeddings in the export",
    "btn_cluster": "Cluster",
    "btn_each_misplaced": "Each is not in its cluster",
    "cl_sel_label": "Topic label for all selected",
    "btn_save_label_each": "Save label for each",
    "btn_two_similar": "The two are similar",
    "btn_two_dissimilar": "The two are not similar",
    "cl_find": "Highlight texts containing",
    "btn_find": "Find",
    "cl_meaning": "…or nearest by meaning to",
    "cl_clusters": "Clusters",
    "cl_name_title": "Name the clusters",
    "cl_name_help": (
        "Each cluster starts with a name from its keywords. Edit it, then save it as a topic label for "
        "every text of the cluster (label judgments, yours; **Undo** takes the batch back)."
    ),
    "cl_cluster": "Cluster",
    "btn_rename": "Rename",
    "btn_save_as_labels": "Save as labels for its texts",
    "cl_agreement": "Clusters × labels: texts per label (agreement: share of the main label)",
    "cl_campaign_title": "Campaign: let annotators label the texts on cluster borders",
    "cl_campaign_help": (
        "The texts nearest the border between two clusters of this clustering (smallest gap between the "
        "cosine to the nearest and to the second-nearest cluster centre), to label with one of the "
        "clusters' names in the Annotate tab."
    ),
    "cl_annotators": "Annotators per item",
    "cl_campaign_name": "Campaign name",
    "btn_make_campaign": "Make the campaign",
    "cl_export_csv": "Export CSV",
    "cl_export_parquet": "Export Parquet",
    "cl_judge_title": "Judge texts",
    "cl_judge_help": "Select a row: it becomes text A, the next selection text B.",
    "btn_a_misplaced": "A does not belong to its cluster",
    "btn_ab_similar": "A and B are similar",
    "btn_ab_dissimilar": "A and B are not similar",
    "cl_topic": "Topic label for A",
    "btn_save_label": "Save label",
    "cl_empty_map": "Pick a corpus, then Cluster",
    "cl_summary": "**{n} clusters** from {texts} texts",
    "cl_table_capped": "the judging table lists the first {shown} of {total} texts: find any other with the "
                       "search or select it on the map (the exports hold every row)",
    "cl_against": "against `{column}`: **ARI {ari}**, **NMI {nmi}**",
    "cl_saved_label": (
        "Saved label **{label}** for {n} text(s) of cluster {cluster}{already}. **Undo** takes the batch "
        "back."
    ),
    "cl_already": "; {n} already had it from you",
    "cl_in_cluster": "{n} in cluster {cluster}",
    "cl_more_clusters": " and {n} more clusters",
    "cl_selected": "**{n} text(s) selected**: {spread}{more}.",
    "cl_saved_selection": "Saved {n} judgment(s): {what}. **Undo** takes the batch back.",
    "cl_not_in_cluster": "not in its cluster",
    "cl_label_what": "label “{label}”",
    "cl_campaign_made": (
        "Campaign **{name}** made: {n} texts, {overlap} annotator(s) each, labels {labels}. Open the "
        "Annotate tab to label them; its id, to share: `{id}`"
    ),
    "cl_label_batch_removed": "{n} label judgment(s) of the batch removed.",
    "cl_map_title": "{n} texts · {k} clusters ({method}{chosen})",
    "cl_map_chosen": ", k={k} by silhouette",
    "cl_map_coloured": "{n} texts coloured by {by}",
    "cl_map_highlight": "{n} texts; {what}",
    "cl_containing": "containing “{text}”",
    "cl_nearest": "nearest to “{query}”",
    # Choices and notes.
    "cl_columns_note": "{rows} rows, columns: {columns}",
    "cl_choice": "{cluster} · {name} ({n} texts)",
    "cl_cluster_first": "Cluster a corpus first.",
    "ann_choice": "{name} · {judgment} · {n} items ({id})",
    "ann_export_note": "{rows} {kind} rows from {summary}.",
    "tr_kind_graded": "Scores and verdicts",
    "tr_kind_triplets": "Triplets",
    "tr_kind_labels": "Labels",
    "tr_kind_positives": "Positive pairs only",
    "rvh_score": "score",
    "rv_prefix_apply": "apply",
    "rv_prefix_columns": "columns",
}

RU: dict[str, str] = {
    "app_language": "Язык",
    "hdr_token_limit": "предел {limit} токенов",
    "hdr_no_limit": "без предела токенов",
    "hdr_models_loaded": "Загружены модели: {models}; первая используется по умолчанию.",
    "banner_running_on": "**Работает `{model}`, а не deepvk/USER-base.**",
    "banner_prefixes_apply": "Она обучена с теми же префиксами `query: ` / `passage: `, так что все вкладки работают.",
    "banner_prefixes_off": "К этой запасной модели префиксы не применяются.",
    "you_are": "Вы — `{user}`.",
    "you_are_admin": "Вы — `{user}` (администратор).",
    "prefix_none": "без префикса",
    "warning": "Внимание:",
    "saved_judgment": "Оценка №{id} сохранена: {what}. Кнопка **Отменить** её уберёт.",
    "nothing_to_undo": "Отменять нечего.",
    "judgment_removed": "Оценка №{id} удалена.",
    "judgment_already_gone": "Оценки №{id} уже нет.",
    "judgment_deleted": "Оценка №{id} удалена.",
    "err_server": ("На сервере что-то пошло не так (код {reference}); ошибка записана в журнал. "
                   "Попробуйте ещё раз или с меньшим числом текстов покороче."),
    "err_title": "Ошибка",
    "err_memory": "не хватило памяти: отправьте меньше текстов или тексты покороче",
    "err_missing": "не хватает значения: {name}",
    "err_missing_bare": "не хватает значения",
    "verdict_relevant": "релевантно",
    "verdict_not_relevant": "не релевантно",
    "verdict_score": "оценка {score}",
    "kind_relevant": "релевантно",
    "kind_not_relevant": "не релевантно",
    "kind_score": "оценка",
    "kind_similar": "похоже",
    "kind_dissimilar": "не похоже",
    "kind_misplaced": "не в своём кластере",
    "kind_label": "метка темы",
    "kind_prefer": "лучший префикс",
    "btn_relevant": "Релевантно",
    "btn_not_relevant": "Не релевантно",
    "btn_undo": "Отменить",
    "btn_save_score": "Сохранить оценку",
    "comment_optional": "Комментарий (необязательно)",
    "sim_tab": "Сходство",
    "sim_intro": ("Каждый запрос сравнивается с каждым фрагментом. USER-base ждёт `query: ` перед вопросами и "
                  "`passage: ` перед документами, в которых ищут; пример из карточки модели — в один клик."),
    "sim_queries": "Запросы, по одному в строке",
    "sim_passages": "Фрагменты, по одному в строке",
    "query_prefix": "Префикс запросов",
    "passage_prefix": "Префикс фрагментов",
    "sim_upload": "…или загрузите таблицу и выберите столбцы запросов и фрагментов",
    "col_found": "найти автоматически",
    "col_none": "(нет)",
    "query_column": "Столбец запросов",
    "passage_column": "Столбец фрагментов",
    "model": "Модель",
    "sim_other": "Сравнить с моделью",
    "sim_top_k": "Лучших фрагментов на запрос (0 = все)",
    "sim_example": "Пример из карточки модели",
    "sim_compare": "Сравнить",
    "sim_query_to_show": "Показать запрос",
    "sim_changes": "Оценки обеих моделей для каждой пары, сначала наибольшие изменения",
    "sim_ranking": "Лучшие фрагменты для каждого запроса (выберите строку, чтобы оценить её; «ваше» — ваши оценки)",
    "sim_tokens": "Токены в каждом тексте",
    "sim_score": "Оценка сходства 0–5",
    "sim_no_result": "Введите запросы и фрагменты и нажмите «Сравнить»",
    "sim_no_pair": "**Оценить пару:** выберите строку ранжирования.",
    "sim_judging": "**Оценка пары:** q{q} → p{p} (сходство {score})",
    "sim_status": "запросов: {queries} × фрагментов: {passages}, префиксы `{qp}` / `{pp}`",
    "sim_shown_top": "ранжирование: {k} лучших на запрос",
    "sim_shown_all": "ранжирование: все фрагменты",
    "sim_per_query": "больше {n} запросов или фрагментов: по одному запросу (выберите его над графиком)",
    "sim_model": "модель `{model}`",
    "sim_side_summary": ("**{a}** и **{b}**: средняя |разница| {mean}, наибольшая {largest} (косинус × 100); "
                         "лучший фрагмент совпадает для {agree} из {n} запросов."),
    "sim_table_rows": "строк: {rows} · запросы из {query} · фрагменты из {passage}",
    "sim_select_row": "сначала выберите строку ранжирования",
    "colh_query_no": "запрос №",
    "colh_rank": "место",
    "colh_score": "балл",
    "colh_yours": "ваше",
    "colh_passage_no": "фрагмент №",
    "colh_passage": "фрагмент",
    "colh_query": "запрос",
    "colh_change": "изменение",
    "colh_role": "роль",
    "colh_num": "№",
    "colh_input": "вход",
    "colh_tokens": "токенов",
    "colh_truncated": "обрезан",
    "colh_id": "№",
    "colh_created_at": "создано",
    "colh_created_utc": "создано (UTC)",
    "colh_user": "пользователь",
    "colh_tab": "вкладка",
    "colh_kind": "вид",
    "colh_label": "метка",
    "colh_comment": "комментарий",
    "colh_query_prefix": "префикс запроса",
    "colh_passage_prefix": "префикс фрагмента",
    "colh_model_id": "модель",
    "colh_positive": "второй текст",
    "colh_metric": "метрика",
    "colh_set": "набор",
    "colh_before": "до",
    "colh_after": "после",
    "colh_rows": "строк",
    "colh_version": "версия",
    "colh_base_model": "базовая модель",
    "colh_created": "создана",
    "colh_held_out_change": "изменение на отложенных",
    "colh_regression_change": "изменение на регрессии",
    "colh_promoted": "удачная",
    "colh_reason": "причина",
    "colh_annotator": "разметчик",
    "colh_judgments": "оценок",
    "colh_items_shared": "общих элементов",
    "colh_agreement_with_others": "согласие с остальными",
    "colh_alpha_without_them": "альфа без него",
    "colh_item": "элемент",
    "colh_agreement": "согласие",
    "colh_values": "ответы",
    "colh_texts": "тексты",
    "colh_model": "модель",
    "colh_comparison": "сравнение",
    "colh_difference": "разница",
    "colh_interval95": "95% интервал",
    "colh_verdict": "вывод",
    "colh_ranked_first": "на первом месте",
    "colh_relevant_at_rank": "место релевантного",
    "colh_relevant_passage": "релевантный фрагмент",
    "colh_threshold": "порог (cos×100)",
    "colh_precision": "точность",
    "colh_recall": "полнота",
    "colh_relevant_pairs": "релевантных пар",
    "colh_not_relevant_pairs": "нерелевантных пар",
    "colh_cluster": "кластер",
    "colh_size": "размер",
    "colh_keywords": "ключевые слова",
    "colh_examples": "примеры",
    "colh_name": "название",
    "colh_main_label": "главная метка",
    "colh_text": "текст",
    "colh_point": "точка",
    "colh_query_vs_none": "query и без префикса",
    "colh_passage_vs_none": "passage и без префикса",
    "colh_query_vs_passage": "query и passage",
    "colh_variant": "вариант",
    "colh_neighbour_no": "сосед №",
    "colh_neighbour": "сосед",
    "colh_cosine": "косинус",
    "colh_rank_without_prefix": "место без префикса",
    "colh_shift": "сдвиг",
    "colh_pair": "пара",
    "colh_mean_overlap": "среднее пересечение@k",
    "colh_same_top_k": "тот же top-k",
    "plot_passage": "фрагмент {n}",
    "plot_cosine": "косинус × 100",
    "plot_per_query_title": "q{q} из {n}: {query} · {top} лучших из {passages} фрагментов",
    "plot_heatmap_title": "Сходство запросов и фрагментов (косинус × 100)",
    "plot_side_title": "Те же пары, две модели (косинус × 100)",
    "plot_noise": "шум",
    "plot_prefix_map_title": "Куда смещается каждый текст, если добавить префикс",
    # Review.
    "rv_tab": "Мои оценки",
    "rv_intro": (
        "Ваши оценки и данные, которые из них получаются для дообучения (пары и тройки для "
        "MultipleNegativesRankingLoss, оценки для CoSENTLoss). Ваших текстов не видит никто, в счётчиках "
        "нет имён."
    ),
    "rv_kind": "Вид",
    "rv_user": "Пользователь (только для администраторов: точный id)",
    "rv_tab_filter": "Вкладка",
    "rv_rows": "Строк",
    "btn_refresh": "Обновить",
    "rv_by_kind": "По видам",
    "rv_by_user": "По пользователям",
    "rv_by_tab": "По вкладкам",
    "rv_export_title": "Выгрузить данные для обучения (ваши; у администратора — всех)",
    "rv_dataset": "Набор",
    "rv_format": "Формат",
    "rv_prefix_mode": "Префиксы: добавить к текстам или оставить столбцами для `prompts`",
    "btn_export": "Выгрузить",
    "rv_download": "Скачать",
    "rv_delete_title": "Удалить мои оценки",
    "rv_judgment_id": "Номер оценки",
    "btn_delete_one": "Удалить эту оценку",
    "btn_delete_all": "Удалить все мои оценки…",
    "btn_confirm_delete": "Да, удалить все",
    "btn_confirm_delete_n": "Да, удалить все {n}",
    "btn_cancel": "Отмена",
    "btn_restore": "Отменить: вернуть удалённые оценки",
    "rv_summary": "**Оценок: {total}** (людей: {users}); **ваших: {mine}** (вы — `{user}`).",
    "rv_admin": " Вы администратор: показаны оценки всех пользователей. Хранилище: `{path}`",
    "rv_records": "оценок",
    "rv_none_to_delete": "У вас нет оценок, которые можно удалить.",
    "rv_ask_delete": (
        "**Удалить все ваши оценки ({n})?** Они уйдут из хранилища, а ваши выгрузки перестанут открываться; "
        "вернуть их можно на этой странице в течение часа."
    ),
    "rv_deleted": "Удалено ваших оценок: {n}{late}. Кнопка **Отменить** их вернёт.",
    "rv_deleted_late": " ({n} сделанных во время удаления вернуть нельзя)",
    "rv_nothing_to_restore": "Возвращать нечего: за последний час вы ничего не удаляли.",
    "rv_restored": "Возвращено ваших оценок: {n}.",
    "rv_nothing_deleted": "Ничего не удалено.",
    "rvh_query": "запрос",
    "rvh_relevant": "релевантный фрагмент",
    "rvh_not_relevant": "нерелевантный фрагмент",
    "rvh_text": "текст",
    "rvh_scored_against": "оценён в паре с",
    "rvh_similar": "похожий текст",
    "rvh_dissimilar": "непохожий текст",
    "rvh_misplaced": "текст не на своём месте",
    "rvh_labelled": "размеченный текст",
    "rvh_against": "в паре с (см. вид)",
    # Train.
    "tr_tab": "Обучение",
    "tr_intro": (
        "Дообучение загруженной модели на оценках. 20 % из них откладываются (ни один текст не попадает в "
        "обе части) и проверяются до и после обучения, а регрессионный набор ParaPhraser ловит забывание. "
        "Версия признаётся удачной, только если результат на отложенных оценках вырос, а на регрессионном "
        "наборе упал не больше чем на 0,01."
    ),
    "tr_mine": "Мои оценки",
    "tr_everyone": "Оценки всех (для администраторов)",
    "tr_campaign": "Итог кампании разметки",
    "tr_judgments": "Оценки",
    "tr_base": "Базовая модель",
    "tr_campaign_id": "Id кампании (созданной вами; администраторам — любой)",
    "tr_min_agreement": "Не брать элементы, где согласие разметчиков ниже (0 — брать все)",
    "tr_train_on": "Обучать на",
    "tr_settings": "Настройки (проверенные значения по умолчанию)",
    "tr_epochs": "Эпохи",
    "tr_lr": "Скорость обучения",
    "tr_batch": "Размер батча",
    "tr_seed": "Seed",
    "tr_freeze": "Заморозить эмбеддинги слов (качество то же, на ~45 % быстрее)",
    "tr_blend": (
        "Смешать с базовой моделью (её доля в весах; 0,5 в замерах сохраняло ~70 % прироста и вдвое снижало "
        "забывание)"
    ),
    "btn_start_training": "Начать обучение",
    "tr_before_after": "До и после",
    "tr_saved_versions": "Сохранённые версии",
    "tr_version": "Версия",
    "tr_anyway": "Загрузить всё равно (неудачная версия)",
    "btn_use_model": "Использовать эту модель",
    "tr_no_job": "Обучение ещё не запускалось.",
    "tr_other_job": "Идёт чужое обучение; одновременно может идти только одно. Началось {minutes} мин назад.",
    "tr_no_job_yours": "Вы ещё не запускали обучение.",
    "tr_promoted": (
        "**Удачная версия**: {reason}. Загрузите `{version}` ниже, чтобы сравнить её с базовой моделью на "
        "вкладке «Сходство»."
    ),
    "tr_not_promoted": (
        "**Неудачная версия**: {reason}. `{version}` сохранена, и её можно намеренно загрузить ниже."
    ),
    "tr_dropped": (
        "Оценок с общим текстом с отложенной частью: {n}; они исключены из обеих частей, так что ни один "
        "текст из обучения не проверяется."
    ),
    "tr_loaded": (
        "`{version}` загружена рядом с базовой моделью. На вкладке «Сходство» выберите её как модель или в "
        "поле «Сравнить с моделью», чтобы увидеть оценки обеих моделей и изменение ({dim}-d)."
    ),
    "tr_enter_campaign": "Введите id кампании: обучение идёт на её итоге (одна строка на элемент).",
    "tr_kind_rows": "{kind} (строк: {n})",
    "tr_kind_ready": "- **{kind}**: строк: {n}, обучается с {loss} (готово)",
    "tr_head": "Оценок ({owner}): **{n}**. Для каждого вида нужно не меньше {min} строк.",
    "tr_owner_everyone": "всех",
    "tr_owner_campaign": "итог кампании",
    "tr_owner_yours": "ваших",
    # Annotate.
    "ann_tab": "Разметка",
    "ann_intro": (
        "Оценивайте элементы кампании по одному, с клавиатуры. Каждый элемент оценивают несколько человек; "
        "id кампании — это приглашение в неё. Её создатель видит, насколько оценки согласуются."
    ),
    "ann_campaign": "Кампания (выберите или вставьте её id)",
    "btn_refresh_list": "Обновить список",
    "btn_start": "Начать",
    "ann_pick": "Выберите кампанию и нажмите «Начать».",
    "btn_relevant_key": "Релевантно (R)",
    "btn_not_relevant_key": "Не релевантно (N)",
    "btn_skip_key": "Пропустить (S)",
    "btn_undo_key": "Отменить (U)",
    "ann_keys": (
        "**Клавиши**: `R` релевантно · `N` не релевантно · `0`–`5` оценка · `1`–`9` метка · `S` пропустить "
        "· `U` отменить (когда курсор не в текстовом поле)"
    ),
    "ann_new": "Новая кампания",
    "ann_name": "Название",
    "ann_judgment": "Что оценивать",
    "ann_overlap": "Человек на элемент (перекрытие)",
    "ann_show_score": "Показывать оценку модели (выключено: она влияет на людей)",
    "ann_labels": "Метки (для кампаний с метками: от 2 до 9, через запятую)",
    "ann_instructions": "Инструкция",
    "ann_from_table": "Из таблицы",
    "ann_items_file": "Элементы: query,passage или sentence1,sentence2 (пары) либо text (метки)",
    "btn_create_campaign": "Создать кампанию",
    "ann_model_choose": "Пусть выберет модель",
    "ann_rule_boundary": "Пары у границы решения",
    "ann_rule_tied": "Запросы, у которых два лучших фрагмента почти равны",
    "ann_rule_border": "Тексты на границе двух кластеров (метки)",
    "ann_rule": "Правило",
    "ann_queries": "Запросы (или тексты для кластеризации), по одному в строке",
    "ann_items": "Элементов",
    "ann_k": "Кластеров (для границы; 0 — по силуэту)",
    "btn_create_from_model": "Создать из выбора модели",
    "ann_agreement_title": "Согласие и данные для обучения (создателю кампании и администраторам)",
    "btn_show_agreement": "Показать согласие",
    "ann_annotators": "Каждый разметчик в сравнении с остальными",
    "ann_disputed": "Самые спорные элементы",
    "ann_min_agreement": "Не брать элементы с согласием ниже (0–1)",
    "btn_export_consensus": "Выгрузить итог",
    "ann_done": (
        "<b>В этой кампании для вас больше ничего нет.</b> Все элементы оценены, или остальные вы уже "
        "оценили либо пропустили. Спасибо!"
    ),
    "ann_item_of": "Элемент {item} из {n}",
    "ann_model_score": "оценка модели: {score}",
    "ann_what_relevance": "Отвечает ли фрагмент на запрос? **R** — релевантно, **N** — не релевантно.",
    "ann_what_score": "Насколько похожи два текста, от **0** (не связаны) до **5** (один смысл)?",
    "ann_what_label": "Какая метка подходит тексту? ",
    "ann_chosen_by": "*Элементы выбрала модель: {rule}.*",
    "ann_progress": "**Готово {done} из {items}; в кампании осталось {left}** · оценок: {judgments} из {needed}",
    "ann_press_start": "сначала нажмите «Начать», чтобы получить элемент",
    "ann_already_saved": "Элемент {item} уже сохранён.",
    "ann_saved": "Элемент {item} сохранён: {value} (оценка №{record}).",
    "ann_skipped": "Элемент {item} пропущен.",
    "ann_back": "Элемент {item} вернулся: ответьте на него снова.",
    "ann_nothing_to_undo": "В этой кампании отменять нечего.",
    "ann_created": (
        "Кампания **{name}** создана: элементов: {n}, оценок на элемент: {overlap}. Её id, чтобы поделиться "
        "с разметчиками: `{id}`"
    ),
    "ann_rule_line": "Правило: {rule}",
    "ann_alpha_undefined": "пока не определена (нужны элементы, оценённые двумя людьми, и какой-то разброс)",
    "ann_alpha": (
        "Альфа Криппендорфа ({level}): {alpha}, по элементам с двумя и более оценками: {items} (оценок: "
        "{judgments}); всего оценок: {all_judgments} на элементах: {all_items}."
    ),
    # Evaluate.
    "ev_tab": "Проверка",
    "ev_intro": (
        "Измерьте качество поиска на своих данных: таблица, где в каждой строке запрос и правильный "
        "фрагмент (каждый фрагмент — кандидат для каждого запроса), и при желании корпус дополнительных "
        "фрагментов. Затем подберите порог по релевантным и нерелевантным парам и поищите по корпусу."
    ),
    "ev_source_upload": "Загруженная таблица (query, passage, label)",
    "ev_source_judgments": "Мои оценки (релевантно / не релевантно)",
    "ev_models": "Модели",
    "ev_retrieval": "### Поиск на ваших парах",
    "ev_pairs_file": "Пары: запрос и верный фрагмент, по паре в строке",
    "ev_corpus_file": "Ещё фрагменты (необязательно): таблица или .txt",
    "ev_query_column": "Столбец запросов (пусто — найти автоматически)",
    "ev_passage_column": "Столбец фрагментов (пусто — найти автоматически)",
    "btn_evaluate": "Проверить",
    "ev_metrics": "Модели рядом (Recall@k — доля запросов, у которых релевантный фрагмент в первых k)",
    "ev_differences": "Разница между моделями, 95% парный бутстрэп-интервал по запросам",
    "ev_missed": "Промахи: что каждая модель поставила первым и где был ответ",
    "ev_threshold": "### Порог",
    "ev_pairs_verdict": "Пары с оценкой",
    "ev_labelled_file": "Таблица со столбцами query, passage и label (1 — релевантно, 0 — нет)",
    "btn_find_threshold": "Подобрать порог",
    "ev_threshold_empty": "Загрузите размеченные пары или возьмите свои оценки и нажмите «Подобрать порог»",
    "ev_search": "### Поиск",
    "ev_search_corpus": "Корпус для поиска (таблица или .txt, по фрагменту в строке)",
    "ev_query": "Запрос",
    "ev_top_k": "Первых k",
    "btn_search": "Найти",
    "ev_hits": "Лучшие фрагменты (выберите строку, чтобы оценить её)",
    "ev_no_hit": "**Оценить фрагмент:** выберите строку результатов.",
    "ev_judging": "**Оценка:** место {rank} (сходство {score})",
    "ev_select_row": "сначала выберите строку результатов",
    "ev_summary_head": "**Запросов: {queries}**, **фрагментов: {passages}** (из таблицы: {table}{corpus})",
    "ev_summary_corpus": ", ещё {n} из корпуса",
    "ev_prefixes": "префиксы `{qp}` / `{pp}`",
    "ev_duplicates": "повторов фрагментов: {n}, каждый учтён один раз",
    "ev_missed_n": "промахов на первом месте: {n}",
    "ev_worst_shown": " (показаны {n} худших)",
    "ev_load_second": (
        "загрузите вторую модель (`--model`), чтобы сравнить две модели с доверительным интервалом"
    ),
    "ev_th_summary": "**Пар: {n}** ({source}): релевантных: {relevant}, нерелевантных: {not_relevant}",
    "ev_th_source_judgments": "ваши оценки",
    "ev_th_source_table": "загруженная таблица",
    "ev_th_note": (
        "пара считается релевантной, если её сходство не ниже порога; порог подобран на этих же парах, так "
        "что на новых ждите чуть меньше"
    ),
    "ev_search_status": "{k} лучших из {n} фрагментов",
    "ev_search_column": " (столбец `{column}`)",
    "ev_table_note": "строк: {rows} · столбец запросов `{query}`, столбец фрагментов `{passage}`",
    "ev_pick_columns": "{error}: выберите столбцы",
    "ev_hist_title": "Сходство релевантных и нерелевантных пар",
    "ev_hist_pairs": "пар",
    "ev_hist_threshold": "порог {threshold} · F1 {f1}",
    # Prefixes.
    "px_tab": "Префиксы",
    "px_help": (
        "**Зачем префиксы?** USER-base (как и multilingual-e5-small, по рецепту которой она сделана) "
        "обучалась с инструкцией в начале каждого текста. Для асимметричных задач вроде поиска фрагментов "
        "ставьте `query: ` и `passage: ` (вопросам — `query: `, документам, в которых ищут, — `passage: `). "
        "Для симметричных задач (семантическое сходство, поиск парафраз, поиск параллельных предложений) и "
        "когда эмбеддинги служат признаками (кластеризация, классификация), ставьте `query: `. Без префикса "
        "модель работает, но хуже — это и показывает вкладка префиксов."
    ),
    "px_not_applicable": (
        "Загруженная модель обучалась без префиксов, так что это сравнение к ней не относится. Чтобы "
        "пользоваться вкладкой, запустите приложение с моделью, у которой есть префиксы (deepvk/USER-base, "
        "multilingual-e5-small)."
    ),
    "px_better_query": "лучше с query:",
    "px_better_passage": "лучше с passage:",
    "px_better_none": "лучше без префикса",
    "px_texts": "Тексты, по одному в строке",
    "px_k": "Соседей k",
    "btn_compare_prefixes": "Сравнить префиксы",
    "px_cosines": "Косинус между вариантами одного текста",
    "px_run_first": "Запустите сравнение",
    "px_overlap": "Среднее пересечение@k между вариантами",
    "px_neighbours": ("Первые k соседей для каждого варианта; сдвиг = место без префикса − место "
                      "(больше 0: префикс приблизил соседа)"),
    "px_selected_title": "Выбрано на карте",
    "px_select_help": (
        "Обведите, выделите рамкой или щёлкните точки на карте, чтобы выбрать тексты; щелчок по пустому "
        "месту снимает выбор."
    ),
    "px_judge": "**Оценка:** с каким вариантом у этого текста соседи лучше?",
    "px_text": "Текст",
    "px_better_with": "Соседи лучше с",
    "btn_save": "Сохранить",
    "btn_save_selected": "Сохранить для каждого выбранного",
    "px_summary": "текстов: {n}, первые {k} соседей (top-{k}) для каждого варианта",
    "px_saved_batch": (
        "Сохранено оценок: {n}: соседи лучше с вариантом {better}. Кнопка **Отменить** уберёт всю пачку."
    ),
    "px_better_what": "соседи лучше с вариантом {better}",
    "nothing_selected": "Ничего не выбрано.",
    "px_compare_first": "Сначала сравните префиксы.",
    "n_selected": "**Выбрано текстов: {n}.**",
    "batch_removed": "Оценок из пачки удалено: {n}.",
    # Clustering.
    "cl_tab": "Кластеризация",
    "cl_intro": (
        "Кластеризуйте корпус с префиксом `query: ` (так советует карточка модели для кластеризации), затем "
        "изучите карту, ключевые слова кластеров и, если есть столбец меток, насколько кластеры с ним "
        "совпадают."
    ),
    "cl_source_sample": "Пример корпуса (360 предложений, 9 тем)",
    "cl_source_upload": "Загруженный файл",
    "cl_source_paste": "Вставленные тексты",
    "cl_corpus": "Корпус",
    "cl_file": "CSV, TSV, TXT, XLSX или Parquet (не больше 5 МБ)",
    "cl_pasted": "Тексты, по одному в строке",
    "cl_text_column": "Столбец текстов",
    "cl_label_column": "Столбец меток (необязательно)",
    "cl_method": "Метод кластеризации",
    "cl_k": "Кластеров k (0 — выбрать по силуэту)",
    "cl_min_size": "Минимальный размер кластера HDBSCAN",
    "cl_map_settings": "Карта (PCA → UMAP)",
    "cl_seed": "seed (пусто — быстрее, но не воспроизводимо)",
    "cl_colour_cluster": "кластер",
    "cl_colour_label": "метка",
    "cl_colour_by": "Цвет по",
    "cl_with_embeddings": "Добавить эмбеддинги в выгрузку",
    "btn_cluster": "Кластеризовать",
    "btn_each_misplaced": "Каждый не в своём кластере",
    "cl_sel_label": "Тема для всех выбранных",
    "btn_save_label_each": "Сохранить метку для каждого",
    "btn_two_similar": "Эти два похожи",
    "btn_two_dissimilar": "Эти два не похожи",
    "cl_find": "Выделить тексты, содержащие",
    "btn_find": "Найти",
    "cl_meaning": "…или ближайшие по смыслу к",
    "cl_clusters": "Кластеры",
    "cl_name_title": "Названия кластеров",
    "cl_name_help": (
        "У каждого кластера сначала название из его ключевых слов. Исправьте его и сохраните как тему для "
        "каждого текста кластера (ваши оценки-метки; **Отменить** уберёт всю пачку)."
    ),
    "cl_cluster": "Кластер",
    "btn_rename": "Переименовать",
    "btn_save_as_labels": "Сохранить как метки его текстов",
    "cl_agreement": "Кластеры × метки: текстов на метку (согласие — доля главной метки)",
    "cl_campaign_title": "Кампания: пусть разметчики разметят тексты на границах кластеров",
    "cl_campaign_help": (
        "Тексты ближе всего к границе двух кластеров этой кластеризации (наименьшая разница косинусов до "
        "ближайшего и второго по близости центра), чтобы на вкладке «Разметка» отнести их к одному из "
        "кластеров по названию."
    ),
    "cl_annotators": "Разметчиков на элемент",
    "cl_campaign_name": "Название кампании",
    "btn_make_campaign": "Создать кампанию",
    "cl_export_csv": "Выгрузка CSV",
    "cl_export_parquet": "Выгрузка Parquet",
    "cl_judge_title": "Оценить тексты",
    "cl_judge_help": "Выберите строку: она станет текстом A, следующая — текстом B.",
    "btn_a_misplaced": "A не из своего кластера",
    "btn_ab_similar": "A и B похожи",
    "btn_ab_dissimilar": "A и B не похожи",
    "cl_topic": "Тема для A",
    "btn_save_label": "Сохранить метку",
    "cl_empty_map": "Выберите корпус и нажмите «Кластеризовать»",
    "cl_summary": "**Кластеров: {n}** из текстов: {texts}",
    "cl_table_capped": "в таблице для оценки первые {shown} из {total} текстов: остальные найдите поиском "
                       "или выделите на карте (в выгрузках есть все строки)",
    "cl_against": "в сравнении с `{column}`: **ARI {ari}**, **NMI {nmi}**",
    "cl_saved_label": (
        "Метка **{label}** сохранена для текстов кластера {cluster}: {n}{already}. Кнопка **Отменить** "
        "уберёт всю пачку."
    ),
    "cl_already": "; у {n} она уже была от вас",
    "cl_in_cluster": "{n} в кластере {cluster}",
    "cl_more_clusters": " и ещё кластеров: {n}",
    "cl_selected": "**Выбрано текстов: {n}**: {spread}{more}.",
    "cl_saved_selection": "Сохранено оценок: {n}: {what}. Кнопка **Отменить** уберёт всю пачку.",
    "cl_not_in_cluster": "не в своём кластере",
    "cl_label_what": "метка «{label}»",
    "cl_campaign_made": (
        "Кампания **{name}** создана: текстов: {n}, разметчиков на текст: {overlap}, метки: {labels}. "
        "Размечайте на вкладке «Разметка»; её id, чтобы поделиться: `{id}`"
    ),
    "cl_label_batch_removed": "Оценок-меток из пачки удалено: {n}.",
    "cl_map_title": "текстов: {n} · кластеров: {k} ({method}{chosen})",
    "cl_map_chosen": ", k={k} по силуэту",
    "cl_map_coloured": "текстов: {n}, цвет по: {by}",
    "cl_map_highlight": "текстов: {n}; {what}",
    "cl_containing": "с «{text}»",
    "cl_nearest": "ближайших к «{query}»",
    # Choices and notes.
    "cl_columns_note": "строк: {rows}, столбцы: {columns}",
    "cl_choice": "{cluster} · {name} (текстов: {n})",
    "cl_cluster_first": "Сначала кластеризуйте корпус.",
    "ann_choice": "{name} · {judgment} · элементов: {n} ({id})",
    "ann_export_note": "строк {kind}: {rows}; источник: {summary}.",
    "tr_kind_graded": "Оценки и вердикты",
    "tr_kind_triplets": "Тройки",
    "tr_kind_labels": "Метки",
    "tr_kind_positives": "Только положительные пары",
    "rvh_score": "оценка",
    "rv_prefix_apply": "добавить",
    "rv_prefix_columns": "столбцами",
}

TRANSLATIONS: dict[str, dict[str, str]] = {"en": EN, "ru": RU}
I18N = gr.I18n(**TRANSLATIONS)

# Table headers as the page shows them (tables built in Python); the API's tables keep the English names.
COLUMN_KEYS: dict[str, str] = {
    "query #": "colh_query_no",
    "rank": "colh_rank",
    "score": "colh_score",
    "yours": "colh_yours",
    "passage #": "colh_passage_no",
    "passage": "colh_passage",
    "query": "colh_query",
    "change": "colh_change",
    "role": "colh_role",
    "#": "colh_num",
    "input": "colh_input",
    "tokens": "colh_tokens",
    "truncated": "colh_truncated",
    "id": "colh_id",
    "created_at": "colh_created_at",
    "created (UTC)": "colh_created_utc",
    "user": "colh_user",
    "tab": "colh_tab",
    "kind": "colh_kind",
    "label": "colh_label",
    "comment": "colh_comment",
    "query_prefix": "colh_query_prefix",
    "passage_prefix": "colh_passage_prefix",
    "model_id": "colh_model_id",
    "positive": "colh_positive",
    "metric": "colh_metric",
    "set": "colh_set",
    "before": "colh_before",
    "after": "colh_after",
    "rows": "colh_rows",
    "version": "colh_version",
    "base model": "colh_base_model",
    "created": "colh_created",
    "held-out change": "colh_held_out_change",
    "regression change": "colh_regression_change",
    "promoted": "colh_promoted",
    "reason": "colh_reason",
    "annotator": "colh_annotator",
    "judgments": "colh_judgments",
    "items shared": "colh_items_shared",
    "agreement with others": "colh_agreement_with_others",
    "alpha without them": "colh_alpha_without_them",
    "item": "colh_item",
    "agreement": "colh_agreement",
    "values": "colh_values",
    "texts": "colh_texts",
    "model": "colh_model",
    "comparison": "colh_comparison",
    "difference": "colh_difference",
    "95% interval": "colh_interval95",
    "verdict": "colh_verdict",
    "ranked first": "colh_ranked_first",
    "relevant at rank": "colh_relevant_at_rank",
    "relevant passage": "colh_relevant_passage",
    "threshold (cos×100)": "colh_threshold",
    "precision": "colh_precision",
    "recall": "colh_recall",
    "relevant pairs": "colh_relevant_pairs",
    "not relevant pairs": "colh_not_relevant_pairs",
    "cluster": "colh_cluster",
    "size": "colh_size",
    "keywords": "colh_keywords",
    "examples": "colh_examples",
    "name": "colh_name",
    "main label": "colh_main_label",
    "text": "colh_text",
    "point": "colh_point",
    "query vs none": "colh_query_vs_none",
    "passage vs none": "colh_passage_vs_none",
    "query vs passage": "colh_query_vs_passage",
    "variant": "colh_variant",
    "neighbour #": "colh_neighbour_no",
    "neighbour": "colh_neighbour",
    "cosine": "colh_cosine",
    "rank without prefix": "colh_rank_without_prefix",
    "shift": "colh_shift",
    "pair": "colh_pair",
    "mean overlap@k": "colh_mean_overlap",
    "same top-k": "colh_same_top_k",
}

# Messages raised as ValueError by core/ and ui/ (English, the API's language), shown in Russian on a
# Russian page. Each pattern matches a whole message; its groups fill the Russian text (a template, or a
# function of the match where a word must change its form).
_PLURAL_RU = {"queries": "запросов", "passages": "фрагментов", "texts": "текстов"}  # genitive plural
def _ru_number(digits: str) -> str:
    """English thousands ("4,000") as Russian writes them ("4 000", with a no-break space)."""
    return digits.replace(",", "\u00a0")


_GIVE_RU = {  # core.training.recipe's TrainingKind.judgments: what to judge for a kind
    "0–5 scores, similar / dissimilar and relevant / not relevant":
        "нужны оценки 0–5, «похоже / не похоже» и «релевантно / не релевантно»",
    "a relevant and a not-relevant text for the same query": "нужны релевантный и нерелевантный текст к одному запросу",
    "topic labels, at least two texts per label": "нужны темы, хотя бы два текста на тему",
}
ERRORS_RU: list[tuple[re.Pattern[str], str | Callable[[re.Match[str]], str]]] = [
    (re.compile(p, re.S), ru) for p, ru in [
        (r"select a row of the ranking first", "сначала выберите строку ранжирования"),
        (r"judgments are switched off: the app has no feedback store",
         "оценки отключены: у приложения нет хранилища оценок"),
        (r"enter the id of one of your judgments", "введите номер одной из ваших оценок"),
        (r"there is no judgment #(.+)", r"оценки №\1 нет"),
        (r"pick a second model other than the first", "выберите вторую модель, отличную от первой"),
        (r"(.+) must be a whole number, got (.+)", r"\1: нужно целое число, получено \2"),
        (r"top k must be a whole number \(0 = every passage\), got (.+)",
         r"число лучших фрагментов должно быть целым (0 = все), получено \1"),
        (r"the query and passage columns must differ; both are (.+)",
         r"столбцы запросов и фрагментов должны различаться; оба — \1"),
        (r"pick a query column or a passage column; the table's columns are: (.+)",
         r"выберите столбец запросов или фрагментов; столбцы таблицы: \1"),
        (r"(query|passage) column (.+) is not in the table; its columns are: (.+)",
         r"столбца \2 нет в таблице; её столбцы: \3"),
        (r"enter at least one query", "введите хотя бы один запрос"),
        (r"enter at least one passage", "введите хотя бы один фрагмент"),
        (r"enter at least one text", "введите хотя бы один текст"),
        (r"no text to encode", "нет текста для кодирования"),
        # core: texts and limits
        (r"no (queries|passages|texts): enter at least one non-empty line",
         lambda m: f"нет {_PLURAL_RU[m[1]]}: введите хотя бы одну непустую строку"),
        (r"(.+) (queries|passages|texts) is more than the limit of (.+); send fewer",
         lambda m: f"{_PLURAL_RU[m[2]]}: {m[1]} — больше предела {m[3]}; отправьте меньше"),
        (r"line (\d+) of the (queries|passages|texts) has (.+) characters, more than the limit of (.+)",
         lambda m: f"строка {m[1]} ({_PLURAL_RU[m[2]]}): символов {m[3]} — больше предела {m[4]}"),
        (r"model (.+) is not loaded; loaded: (.+)", r"модель \1 не загружена; загружены: \2"),
        (r"(.+) takes no prefixes, so there is nothing to compare", r"\1 не использует префиксы, сравнивать нечего"),
        # core: files
        (r"file not found: (.+)", r"файл не найден: \1"),
        (r"(.+) is (.+); the limit is (.+)\. Upload a smaller file or a sample of it\.",
         r"\1 весит \2; предел \3. Загрузите файл поменьше или его часть."),
        (r"(.+) is empty", r"\1 пуст"),
        (r"(.+) has no data rows", r"в \1 нет строк с данными"),
        (r"the file has no rows", "в файле нет строк"),
        (r"(.+) has no text column \(columns: (.*)\); a corpus needs one column of sentences",
         r"в \1 нет столбца с текстом (столбцы: \2); корпусу нужен столбец с предложениями"),
        (r"(query|passage|text|label) column (.+) not found; the columns are: (.*)",
         r"столбец \2 не найден; столбцы: \3"),
        (r"could not read (.+) as (.+?): (.+)", r"не удалось прочитать \1 как \2: \3"),
        (r"the table needs a query column and a passage column \(two columns of text\); it has: (.*)",
         r"в таблице нужны столбец запросов и столбец фрагментов (два текстовых столбца); в ней: \1"),
        (r"the table needs a (query|passage) column beside the (query|passage) column (.+); it has: (.*)",
         r"в таблице нужен ещё один текстовый столбец рядом со столбцом \3; в ней: \4"),
        (r"the table needs a label column \(1 = relevant, 0 = not relevant\) named label, relevant or class; "
         r"it has: (.*)",
         r"в таблице нужен столбец меток (1 — релевантно, 0 — нет) с именем label, relevant или class; в ней: \1"),
        (r"the corpus has no text column \(columns: (.*)\)", r"в корпусе нет столбца с текстом (столбцы: \1)"),
        (r"no \(query, passage\) pair with both texts filled in", "нет ни одной пары (запрос, фрагмент) с обоими текстами"),
        (r"a threshold needs pairs of both classes; there is no (.+) pair among (\d+)",
         r"для порога нужны пары обоих классов; среди \2 нет ни одной пары «\1»"),
        # warnings shown beside results
        (r"(\d+) (query|passage) text\(s\) were longer than (\d+) tokens and were cut",
         lambda m: f"{'запросов' if m[2] == 'query' else 'фрагментов'} длиннее {m[3]} токенов: {m[1]}; они обрезаны"),
        (r"(\d+) text\(s\) were longer than (\d+) tokens and were cut",
         r"текстов длиннее \2 токенов: \1; они обрезаны"),
        (r"The file is not UTF-8; it was read as Windows-1251 \(cp1251\)\.",
         "Файл не в UTF-8; он прочитан как Windows-1251 (cp1251)."),
        (r"The workbook has (\d+) sheets; only the first, (.+), was read\.",
         r"В книге листов: \1; прочитан только первый, \2."),
        (r"skipped (\d+) empty row\(s\)", r"пропущено пустых строк: \1"),
        (r"skipped (\d+) row\(s\) with an empty query or passage", r"пропущено строк с пустым запросом или фрагментом: \1"),
        (r"used the file's embeddings \(column “(.+)”, (\d+)-d\) instead of encoding the texts",
         r"взяты эмбеддинги из файла (столбец «\1», \2-d), тексты не кодировались"),
        # core.studio's progress steps
        (r"encoding: ([\d,]+) of ([\d,]+) texts",
         lambda m: f"кодирование: {_ru_number(m[1])} из {_ru_number(m[2])} текстов"),
        (r"clustering", "кластеризация"),
        (r"drawing the map", "рисуем карту"),
        # core.training: why a kind cannot train yet
        (r"(\d+) training row\(s\), at least (\d+) are needed \(give (.+)\)\.?",
         lambda m: f"строк для обучения: {m[1]}, нужно не меньше {m[2]} ({_GIVE_RU.get(m[3], m[3])})"),
        (r"all (\d+) judgments are (relevant/similar|the same score)\. Training on positive pairs alone needs about "
         r"(.+) of them \(195 made the model worse when measured\); add not-relevant or dissimilar judgments, or "
         r"0–5 scores, and they train with CoSENT\.?",
         lambda m: (f"все {m[1]} оценок — {'«релевантно/похоже»' if m[2] == 'relevant/similar' else 'одна и та же оценка'}. "
                    f"Для обучения только на положительных парах их нужно около {m[3]} (на 195 модель в замерах "
                    "стала хуже); добавьте оценки «не релевантно» или «не похоже» либо оценки 0–5 — тогда обучение "
                    "пойдёт с CoSENT")),
        (r"(\d+) same-label pair\(s\); label at least two texts per label, (\d+) texts in all\.?",
         r"пар с одной меткой: \1; разметьте хотя бы два текста на метку, всего \2 текстов"),
        # ui
        (r"upload a CSV, TSV, TXT, XLSX or Parquet file first", "сначала загрузите файл CSV, TSV, TXT, XLSX или Parquet"),
        (r"upload (.+) first \(CSV, TSV, TXT, XLSX or Parquet\)", r"сначала загрузите файл (CSV, TSV, TXT, XLSX или Parquet)"),
        (r"paste at least one text, one per line", "вставьте хотя бы один текст, по одному в строке"),
        (r"cluster a corpus first", "сначала кластеризуйте корпус"),
        (r"cluster a corpus first: the campaign is made from the clustering on screen",
         "сначала кластеризуйте корпус: кампания строится по кластеризации на экране"),
        (r"pick a cluster to name", "выберите кластер, которому дать название"),
        (r"type a name for the cluster", "введите название кластера"),
        (r"give cluster (.+) a name first", r"сначала дайте название кластеру \1"),
        (r"noise is not a topic: pick a cluster", "шум — не тема: выберите кластер"),
        (r"select texts on the map first \(lasso, box or click\)",
         "сначала выберите тексты на карте (обводкой, рамкой или щелчком)"),
        (r"select exactly two texts to call them (.+); (\d+) are selected",
         r"выберите ровно два текста; сейчас выбрано: \2"),
        (r"type a topic label for the selected texts", "введите тему для выбранных текстов"),
        (r"type a topic label first", "сначала введите тему"),
        (r"select a text in the table first", "сначала выберите текст в таблице"),
        (r"select a second, different text as B", "выберите второй, другой текст как B"),
        (r"type a query to search by meaning", "введите запрос для поиска по смыслу"),
        (r"compare prefixes first, then select texts on the map", "сначала сравните префиксы, затем выберите тексты на карте"),
        (r"compare prefixes first, then pick a text", "сначала сравните префиксы, затем выберите текст"),
        (r"select a row of the results first", "сначала выберите строку результатов"),
        (r"tick at least one model", "отметьте хотя бы одну модель"),
        (r"you have no relevant / not-relevant judgments yet: judge pairs in Similarity or Search",
         "у вас ещё нет оценок «релевантно / не релевантно»: оцените пары на вкладке «Сходство» или в поиске"),
        (r"k must be a whole number from 1 to (\d+), got (.+)", r"k должно быть целым числом от 1 до \1, получено \2"),
        (r"there are no judgments to train on yet: judge some results in the other tabs",
         "пока нет оценок для обучения: оцените результаты на других вкладках"),
        (r"choose a saved version first", "сначала выберите сохранённую версию"),
        (r"only admins may train on everyone's judgments; choose your own",
         "обучать на оценках всех могут только администраторы; выберите свои"),
        (r"enter the id of a campaign you created \(or any campaign, as an admin\)",
         "введите id созданной вами кампании (администратор — любой)"),
        (r"choose a campaign \(its id\)", "выберите кампанию (её id)"),
        (r"there is no campaign with that id", "кампании с таким id нет"),
        (r"there is no campaign (.+)", r"кампании \1 нет"),
        (r"a label campaign needs at least two labels \(comma- or newline-separated\)",
         "кампании с метками нужны хотя бы две метки (через запятую или с новой строки)"),
        (r"(.+) of (.+) judged items; (.+) below the agreement level, (.+) tied",
         r"оценено элементов: \1 из \2; ниже уровня согласия: \3, с равенством голосов: \4"),
        (r"only the campaign's creator and admins see (.+)", r"\1 видят только создатель кампании и администраторы"),
    ]
]


def i18n(key: str) -> Any:
    """A component property translated in the browser (label, button, static Markdown); no placeholders."""
    if key not in EN:
        raise KeyError(f"no translation for {key!r}")
    return I18N(key)


def t(key: str, lang: str | None = None, /, **values: object) -> str:
    """``key`` in ``lang`` (default: the language of the page being answered), with ``values`` filled in."""
    text = TRANSLATIONS.get(lang or current(), EN).get(key) or EN[key]
    return text.format(**values) if values else text


_sessions: OrderedDict[str, str] = OrderedDict()
_lock = threading.Lock()


def normalize(value: object) -> str:
    """A language tag or choice as one of LANGUAGES: Russian for anything starting with "ru"."""
    return "ru" if str(value or "").strip().lower().startswith("ru") else DEFAULT


def remember(request: gr.Request | None, lang: object) -> str:
    """The page behind ``request`` shows ``lang``: later handlers of its session answer in it."""
    lang = normalize(lang)
    session = getattr(request, "session_hash", None) if request is not None else None
    if session:
        with _lock:
            _sessions[session] = lang
            _sessions.move_to_end(session)
            while len(_sessions) > MAX_SESSIONS:
                _sessions.popitem(last=False)
    return lang


def accept_language(header: str | None) -> str:
    """The first of LANGUAGES an Accept-Language header prefers (q values honoured), else English."""
    best, best_q = DEFAULT, -1.0
    for item in (header or "").split(","):
        tag, _, params = item.strip().partition(";")
        q = 1.0
        match = re.search(r"q\s*=\s*([0-9.]+)", params)
        if match:
            try:
                q = float(match.group(1))
            except ValueError:
                continue
        tag = tag.strip().lower()
        primary = tag.split("-")[0]
        if primary in LANGUAGES and q > best_q and q > 0:
            best, best_q = primary, q
    return best


def lang_of(request: gr.Request | None) -> str:
    """The language to answer ``request`` in: its page's (set at load), else its Accept-Language, else English."""
    if request is None:
        return DEFAULT
    session = getattr(request, "session_hash", None)
    if session:
        with _lock:
            remembered = _sessions.get(session)
        if remembered:
            return remembered
    headers = getattr(request, "headers", None) or {}
    try:
        header = headers.get("accept-language")
    except Exception:  # a header mapping we do not know: English
        header = None
    return accept_language(header)


def current() -> str:
    """The language of the request a handler is answering now (Gradio keeps it in a context variable)."""
    from gradio.context import LocalContext

    return lang_of(LocalContext.request.get(None))


def translate_error(message: str, lang: str | None = None) -> str:
    """A known English error or warning in ``lang`` (default: the current page's); others stay as they are."""
    if (lang or current()) != "ru":
        return message
    for pattern, russian in ERRORS_RU:
        match = pattern.fullmatch(message)
        if match:
            return russian(match) if callable(russian) else match.expand(russian)
    return message


def localized(frame: Any, lang: str | None = None) -> Any:
    """A table (pandas DataFrame) with its known English headers in ``lang`` (default: the page's language).

    For display only: a handler that reads the table again by column name reads it before this.
    """
    if frame is None or not hasattr(frame, "rename") or (lang or current()) == DEFAULT:
        return frame
    return frame.rename(columns={c: t(COLUMN_KEYS[c], lang) for c in frame.columns if c in COLUMN_KEYS})


# Runs first in the page, before Gradio reads navigator.language to pick its locale (and with it the
# app's I18n texts): the language is fixed to the one this app speaks, so Gradio never shows a third.
LANGUAGE_SCRIPT = """<script>(function () {
  try {
    var key = __KEY__, param = null, stored = null;
    try { param = new URLSearchParams(window.location.search).get("lang"); } catch (e) {}
    try { stored = window.localStorage.getItem(key); } catch (e) {}
    var browser = (navigator.languages && navigator.languages[0]) || navigator.language || "en";
    var lang = String(param || stored || browser).toLowerCase().indexOf("ru") === 0 ? "ru" : "en";
    Object.defineProperty(navigator, "language", {get: function () { return lang; }, configurable: true});
    Object.defineProperty(navigator, "languages", {get: function () { return [lang]; }, configurable: true});
    document.documentElement.setAttribute("lang", lang);
    window.__userStudioLang = lang;
  } catch (e) {}
})();</script>""".replace("__KEY__", json.dumps(STORAGE_KEY))

# The load step's js: the page's language, as decided above, for the server to remember.
PAGE_LANGUAGE_JS = "() => window.__userStudioLang || 'en'"
# The switch: keep the choice and reload, so that Gradio's own strings are built in it from the start.
SWITCH_JS = """(lang) => {
  try { window.localStorage.setItem(__KEY__, lang); } catch (e) {}
  const url = new URL(window.location.href);
  url.searchParams.delete("lang");
  window.location.replace(url.href);
  return lang;
}""".replace("__KEY__", json.dumps(STORAGE_KEY))


# Files the server hands out as they are (uploads, exports, Gradio's assets): never rewritten, even HTML.
SERVED_FILES = ("/gradio_api/", "/file=", "/assets/", "/static/")


class LanguageScript:
    """ASGI middleware: puts LANGUAGE_SCRIPT at the top of every HTML page the app serves.

    Gradio's own ``head`` option is applied by its JavaScript after it has chosen the locale, too late;
    the script has to be in the page before Gradio's module runs. Only uncompressed text/html responses
    are touched (the page is small), and never a served file; everything else streams through as it is.
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        path = str(scope.get("path", ""))
        if (scope.get("type") != "http" or scope.get("method") != "GET"
                or any(part in path for part in SERVED_FILES)):
            await self.app(scope, receive, send)
            return
        start: dict | None = None
        body: list[bytes] = []

        async def capture(message: dict) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                headers = {k.lower(): v for k, v in message.get("headers", [])}
                if (headers.get(b"content-type", b"").startswith(b"text/html")
                        and b"content-encoding" not in headers):
                    start = message
                    return
                await send(message)
            elif message["type"] == "http.response.body" and start is not None:
                body.append(message.get("body", b""))
                if message.get("more_body"):
                    return
                page = b"".join(body)
                script = LANGUAGE_SCRIPT.encode()
                if b"<head>" in page:
                    page = page.replace(b"<head>", b"<head>" + script, 1)
                headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
                headers.append((b"content-length", str(len(page)).encode()))
                await send({**start, "headers": headers})
                await send({"type": "http.response.body", "body": page, "more_body": False})
            else:
                await send(message)

        await self.app(scope, receive, capture)


def launch_options() -> dict[str, Any]:
    """What ``launch()`` needs for the two languages: the translations and the page script."""
    from starlette.middleware import Middleware

    return {"i18n": I18N, "app_kwargs": {"middleware": [Middleware(LanguageScript)]}}
