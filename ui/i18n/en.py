"""The interface's texts in English (keys shared with ru.py; tests keep the two complete)."""

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
    "col_other": "(other)",
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
    "sim_side_summary": ("**A: {a}** vs **B: {b}**: mean |difference| {mean}, largest {largest} (cosine × 100); "
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
    "tr_for_everyone": "For everyone (otherwise only you and admins can use it)",
    "tr_loaded_private": "Only you and admins can use it; tick 'For everyone' and load it again to share it.",
    "tr_loaded_for_everyone": "Everyone can use it now.",
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
    "tr_kind_ready": "- **{kind}**: {n} rows, trains with {loss}; held out: {held} rows, where the current model's {metric} is {score} (ready)",
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
    "ann_release_user": "Annotator whose held items to release (user id, e.g. anon:…)",
    "btn_release_leases": "Release their held items",
    "ann_released": "Released {n} held item(s) of {user}; their judgments stay.",
    "ann_holders": "Holding items now: {holders}",
    "ann_holders_none": "nobody",
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
    "ann_progress": ("**You: {done} judged, {available} left for you** · the campaign: {complete} of {items} items "
                     "have all their judgments ({judgments} of {needed} judgments)"),
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
    "cl_file": "CSV, TSV, TXT, XLSX or Parquet (5 MiB at most)",
    "cl_pasted": "Pasted texts, one per line",
    "cl_text_column": "Text column",
    "cl_label_column": "Label column (optional)",
    "cl_method": "Clustering",
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
    # Issue 26, Evaluate and Similarity: what the figures mean, the caller's own threshold, model vs model.
    "ev_reading": (
        "**{model}**: the right passage is first for **{share} %** of your queries ({first} of {n}, 95 % "
        "interval {low}–{high} %) and in the top 10 for {top10} %; {misses} missed{duplicates}."
    ),
    "ev_reading_duplicates": ", {n} of them an exact duplicate of the query",
    "ev_next": "**Next:** {steps}",
    "ev_next_duplicates": (
        "remove from the corpus the passages that repeat a query (marked “same text as the query” among the "
        "misses): there the model found the query itself, not a wrong answer"
    ),
    "ev_next_perfect": (
        "every query finds its passage first, so this set cannot show a gain from training: add harder "
        "queries (paraphrases, the words users really type) before comparing models"
    ),
    "ev_next_near_misses": (
        "most misses have the right passage in the top 10: judge those passages in Search below (relevant / "
        "not relevant) and train on them in the Train tab"
    ),
    "ev_next_far_misses": (
        "most misses have the right passage below rank 10: check that those pairs are right (does the passage "
        "answer the query?) and that the prefixes suit your texts"
    ),
    "ev_next_more_queries": (
        "with {n} queries the figure is uncertain by about ±{half} points: add pairs (about 40 queries bring it "
        "under ±10) before trusting a difference"
    ),
    "ev_same_as_query": "same text as the query",
    "colh_note": "note",
    "ev_no_clear_difference": "no clear difference",
    "ev_better": "{model} better",
    "sim_threshold": (
        "your threshold **{threshold}** (F1-best on your {n} relevance judgments with this model, F1 {f1}): "
        "{above} of {pairs} pairs at or above it"
    ),
    "sim_threshold_one_class": (
        "your {n} relevance judgments are all “{kind}”: judge a pair of the other kind to see your threshold here"
    ),
    "plot_threshold": "your threshold {threshold}",
    "ev_th_in_similarity": "the Similarity tab marks this threshold on its scores (same model and prefixes)",
    "plot_threshold_bold": "bold: at or above your threshold {threshold}",
    "plot_side_change": "change: {b} − {a}",
    # The Models panel under the header (ui/models_panel.py, issue 26).
    "mdl_title": "Models: load another to compare",
    "mdl_spec": "Model to load",
    "mdl_spec_info": "a built-in name, a model folder on the server, or a hub id (only when the hub is reachable)",
    "mdl_load": "Load",
    "mdl_unload_which": "Loaded model to unload",
    "mdl_unload": "Unload",
    "mdl_loaded": "Loaded: {models} (the first is the default).",
    "mdl_you_may_load": "You may load another; Similarity and Evaluate then offer it.",
    "mdl_admins_only": "Only admins may load or unload models on this server.",
    "mdl_estimate": (
        "**{model}**: {params} M parameters ({source}): {fp32} MiB in fp32, {fp16} MiB in fp16. Here it "
        "would run in {dtype} on {device} ({engine}) and take about **{need} MiB** with its cache; "
        "free: {free} MiB, of which {reserve} MiB stay free for the models' work."
    ),
    "mdl_fits": "**It fits.**",
    "mdl_does_not_fit": "**It does not fit: loading it will be refused.**",
    "mdl_source_safetensors": "counted from its weights",
    "mdl_source_weights": "from the size of its weight files",
    "mdl_source_config": "estimated from its config",
    "mdl_source_package": "from its package",
    "mdl_loaded_now": "Loaded **{model}** in {seconds} s: pick it in Similarity and Evaluate.",
    "mdl_unloaded": "Unloaded **{model}**.",
    # Annotate, uploads, the banner and Review on a Russian page (issue 26: annotate helper's keys).
    "ann_judgment_relevance": "relevance",
    "ann_judgment_score": "score",
    "ann_judgment_label": "label",
    "ann_level_nominal": "categories",
    "ann_level_interval": "interval scale",
    "ann_alpha_without_needs_three": (
        "“Alpha without them” is left out: leaving one of two annotators out leaves one person, and alpha "
        "compares at least two."
    ),
    "ann_alpha_without_some_empty": (
        "An empty “alpha without them”: without that annotator alpha is not defined (the others share no "
        "item, or give every item the same answer)."
    ),
    "banner_reason_other": "It could not be loaded (the server's log says why).",
    "rv_all": "(all)",
    "rv_tab_similarity": "Similarity",
    "rv_tab_clustering": "Clustering",
    "rv_tab_prefixes": "Prefixes",
    "rv_tab_search": "Evaluate: search",
    "rv_tab_annotate": "Annotate",
    "rv_tab_api": "API",
    # Train: readiness, before/after lines, versions (issue 26)
    "tr_before_after_line": "{metric} ({set}, {rows} rows): {before} → {after} ({change})",
    "tr_yes": "yes",
    "tr_no": "no",
    # -- issue 26: Clustering's k, its map and Prefixes' variants (i26-cluster) --
    "cl_k_auto": "k clusters (0 = the label column's number of classes, else by silhouette)",
    "cl_k_given": "k = {k}, as you set it",
    "cl_k_labels": "k = {k}: the number of classes in the label column `{column}` (set k yourself, or choose "
                   "(none) as the label column, to let silhouette choose)",
    "cl_k_silhouette": "k = {k} chosen by silhouette ({score}: how well the clusters stand apart) among k = "
                       "{low}–{high}. Silhouette tends to prefer a few broad clusters: try the next best below",
    "cl_k_silhouette_one": "one cluster: too few different texts to split",
    "cl_k_too_many": "the label column `{column}` has {classes} classes, too many to be the number of topics",
    "cl_k_density": "HDBSCAN found {k} clusters by density (no k to choose)",
    "cl_k_candidates": "Silhouette's best k: click one to cluster again with it",
    "cl_k_candidate": "k = {k} (silhouette {score})",
    "cl_map_chosen_labels": ", k={k} from the labels",
    "cl_pick_line": "#{i} (cluster {cluster}) {text}",
    "plot_legend_cluster": "cluster",
    "plot_legend_label": "label",
    "px_variant_query": "query:",
    "px_variant_passage": "passage:",
    "px_variant_none": "no prefix",
    "px_variant_diff": "{a} − {b}",
    # -- training across replicas (issue 22) --
    "tr_job_elsewhere": "Your training job is running on another server of this app (started {minutes} min ago); one runs at a time.",
}
