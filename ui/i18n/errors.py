"""Errors, warnings and progress texts in Russian, by the key they were raised with (core.errors).

Core words every message in English (:data:`core.errors.MESSAGES`) and keeps its key and values;
here each key has its Russian template with the same placeholders. A value that is itself a message
(a word such as "queries", a training kind's title) is translated too, and numbers grouped by
thousands are written the Russian way ("4 000", with a no-break space).
"""

from __future__ import annotations

from core.errors import Message, render

# Thousands as Russian writes them: "4 000", a no-break space so that a number never breaks.
RUSSIAN_THOUSANDS = "\u00a0"

MESSAGES_RU: dict[str, str] = {
    # texts and limits
    "no_texts": "нет {what}: введите хотя бы одну непустую строку",
    "too_many_texts": "{what}: {count:,} — больше предела {limit:,}; отправьте меньше",
    "line_too_long": "строка {line} ({what}): символов {length:,} — больше предела {limit:,}",
    "what_queries": "запросов",
    "what_passages": "фрагментов",
    "what_texts": "текстов",
    "what_query": "запроса",
    "what_pairs": "пар",
    "what_corpus_passages": "фрагментов корпуса",
    "what_passages_deduplicated": "фрагментов (таблицы и корпуса, без повторов)",
    "api_too_many_texts": "текстов: {count:,} — больше предела {limit:,} на один вызов",
    "api_texts_not_list": "texts должен быть списком строк, а не одной строкой",
    "api_texts_none": "texts должен быть списком строк, получено None",
    "api_text_none": "текст на позиции {position} — None",
    "api_text_nan": "текст на позиции {position} — NaN (пустая ячейка?)",
    "api_text_not_str": "текст на позиции {position} — {type}, а не строка",
    "api_text_too_long": "текст на позиции {position}: символов {length:,} — больше предела {limit:,}",
    "api_text_empty": "текст на позиции {position} пуст (только пробелы или невидимые символы)",
    "whole_number": "{name}: нужно целое число, получено {value!r}",
    "whole_number_range": "{name}: нужно целое число от {low:,} до {high:,}, получено {value!r}",
    "whole_number_min": "{name}: нужно целое число не меньше {low:,}, получено {value!r}",
    "one_of": "{name}: допустимо одно из {choices}; получено {value!r}",
    # models
    "model_not_loaded": "модель {name!r} не загружена; загружены: {loaded}",
    "model_no_prefixes": "{model} не использует префиксы, сравнивать нечего",
    # progress and warnings beside results
    "progress_encoding": "кодирование: {done:,} из {total:,} текстов",
    "progress_clustering": "кластеризация",
    "progress_drawing_map": "рисуем карту",
    "truncated_role": "текстов ({role}) длиннее {limit} токенов: {count}; они обрезаны",
    "role_query": "запросы",
    "role_passage": "фрагменты",
    "truncated": "текстов длиннее {limit} токенов: {count}; они обрезаны",
    # uploads
    "file_broken_utf16": "это не файл CSV/TSV/TXT/XLSX/Parquet: повреждённый текст UTF-16",
    "file_not_utf8_or_cp1251": "это не файл CSV/TSV/TXT/XLSX/Parquet: текст не в UTF-8 и не в Windows-1251",
    "file_read_as_cp1251": "Файл не в UTF-8; он прочитан как Windows-1251 (cp1251).",
    "file_extra_fields": ("не удалось разобрать файл как {format}: в некоторых строках больше полей, чем в "
                          "заголовке (разделители внутри текста без кавычек?)"),
    "file_unparsable": "не удалось разобрать файл как {format}: {reason}",
    "file_no_rows": "в файле нет строк",
    "file_damaged_xlsx": "это не файл CSV/TSV/TXT/XLSX/Parquet: похоже на повреждённый архив XLSX (zip)",
    "file_zip_not_xlsx": "это не файл CSV/TSV/TXT/XLSX/Parquet: это zip-архив, но не книга Excel XLSX",
    "size_mb": "{size:.1f} МБ ({bytes:,} байт)",
    "size_kb": "{size:.1f} КБ ({bytes:,} байт)",
    "size_bytes": "{bytes:,} байт",
    "file_too_many_columns": "в файле столбцов: {count:,}; поддерживается не больше {limit:,}",
    "file_unreadable_xlsx": "не удалось прочитать книгу XLSX: {reason}",
    "file_first_sheet_only": "В книге листов: {count}; прочитан только первый, {sheet!r}.",
    "file_unreadable_parquet": "не удалось прочитать файл Parquet: {reason}",
    "file_read_as_other": "{name} — не {expected}; он прочитан как {format}.",
    "file_lines_as_texts": "В файле один столбец, но есть запятые без кавычек; каждая строка прочитана как один текст.",
    "file_not_found": "файл не найден: {name}",
    "file_too_large": "{name} весит {size}; предел {limit}. Загрузите файл поменьше или его часть.",
    "file_empty": "{name} пуст",
    "file_old_xls": ("это не файл CSV/TSV/TXT/XLSX/Parquet: это старая книга Excel .xls; сохраните её как .xlsx "
                     "или .csv"),
    "file_binary": "{name} — не файл CSV/TSV/TXT/XLSX/Parquet (похоже на двоичные данные)",
    "file_wrong_extension": "у {name} расширение .{extension}, но это файл {format}; он прочитан как {format}.",
    "file_unreadable": "не удалось прочитать {name} как {format}: {reason}",
    "file_no_data_rows": "в {name} нет строк с данными",
    "file_rows_cut": "В файле слишком много строк: оставлены первые {kept:,}; остальные не прочитаны.",
    "file_rows_cut_of": "В файле слишком много строк: оставлены первые {kept:,} из {total:,}.",
    "file_no_text_column": "в {name} нет столбца с текстом (столбцы: {columns}); корпусу нужен столбец с предложениями",
    "file_no_sheets": "в книге нет листов",
    "column_not_found": "столбец {name!r} ({role}) не найден; столбцы: {columns}",
    "role_text": "тексты",
    "role_label": "метки",
    "role_embedding": "эмбеддинги",
    "embedding_missing": "в строке {row} столбца {column!r} нет эмбеддинга; он нужен каждому тексту ({dim} чисел)",
    "embedding_not_numbers": "строка {row} столбца {column!r} — не список чисел: {value!r}",
    "embedding_wrong_size": ("в строке {row} столбца {column!r} чисел: {size}, а у эмбеддингов модели размерность "
                             "{dim}; нужен эмбеддинг той же модели"),
    "embedding_not_finite": "в строке {row} столбца {column!r} есть NaN или бесконечность",
    "embedding_zero": "строка {row} столбца {column!r} — одни нули, это не эмбеддинг",
    # evaluation
    "table_needs_two_text_columns": ("в таблице нужны столбец запросов и столбец фрагментов (два текстовых "
                                     "столбца); в ней: {columns}"),
    "table_needs_second_text_column": ("в таблице нужен столбец ({missing}) рядом со столбцом ({other}) {found!r}; "
                                       "в ней: {columns}"),
    "columns_must_differ": "столбцы запросов и фрагментов должны различаться; оба — {column!r}",
    "table_needs_label_column": ("в таблице нужен столбец меток (1 — релевантно, 0 — нет) с именем label, relevant "
                                 "или class; в ней: {columns}"),
    "corpus_no_text_column": "в корпусе нет столбца с текстом (столбцы: {columns})",
    "pair_malformed": "пара {pair_number} — не пара (запрос, фрагмент): {pair!r}",
    "pair_text_not_str": "в паре {pair_number} {role}: {type}, а не текст",
    "no_complete_pair": "нет ни одной пары (запрос, фрагмент) с обоими текстами",
    "corpus_passage_not_str": "фрагмент корпуса {position} — {type}, а не текст",
    "verdict_empty": "строка {row}: {what} — пустая ячейка; используйте 1 / 0 (или relevant / not_relevant, yes / no, да / нет)",
    "verdict_unknown": ("строка {row}: {what} — {value!r}; используйте 1 / 0 (или relevant / not_relevant, "
                        "yes / no, да / нет)"),
    "class_relevant": "«релевантно»",
    "class_not_relevant": "«не релевантно»",
    "threshold_needs_both_classes": "для порога нужны пары обоих классов; среди {count} нет ни одной пары {missing}",
    # campaigns
    "field_overlap": "перекрытие (людей на элемент)",
    "campaign_needs_labels": "кампании с метками нужны хотя бы две метки (через запятую или с новой строки)",
    "campaign_labels_unwanted": "метки нужны только кампаниям с метками; кампании {judgment} они не нужны",
    "campaign_instructions_too_long": "инструкция слишком длинная: символов {length:,}, предел {limit:,}",
    "campaign_name_too_long": "название слишком длинное: символов {length:,}, предел {limit}",
    "campaign_label_too_long": "метка {label!r}... слишком длинная: предел {limit} символов",
    "campaign_label_twice": "метка {label!r} указана дважды",
    "campaign_too_many_labels": "меток: {count} — больше {limit} (у каждой своя цифра); объедините некоторые",
    "campaign_needs_columns": "кампании {judgment} нужны столбцы {wanted}; в таблице: {columns}",
    "campaign_cell_too_long": "строка {row}: в {column} символов {length:,} — больше предела {limit:,}",
    "campaign_no_items": "в таблице нет элементов: в каждой строке пуст {columns}",
    "campaign_too_many_items": ("элементов: {count:,} — больше предела {limit:,} на кампанию; разделите таблицу на "
                                "несколько кампаний"),
    "campaign_too_many_rows": ("в таблице больше {limit:,} строк — предела на кампанию; разделите её на несколько "
                               "кампаний"),
    "campaign_consensus": ("оценено элементов: {judged:,} из {items:,}; ниже уровня согласия: {below:,}, "
                           "с равенством голосов: {ties:,}"),
    "campaign_choose": "выберите кампанию (её id)",
    "campaign_no_such_id": "кампании с таким id нет",
    "campaign_not_found": "кампании {campaign!r} нет",
    "campaign_no_item": "в кампании {campaign!r} нет элемента {item} (элементы с 1 по {count})",
    "campaign_managers_only": "{what} видят только создатель кампании и администраторы",
    "seen_agreement_per_annotator": "согласие по разметчикам",
    "seen_training_data": "данные кампании для обучения",
    "campaign_judges_pairs": "пары текстов",
    "campaign_judges_singles": "отдельные тексты",
    "campaign_wrong_layout": "кампания {judgment} оценивает {wants}; текстовых столбцов в таблице: {count} ({columns})",
    "campaign_empty": "в кампании нет элементов",
    "campaign_limit": "у вас кампаний: {count}, предел {limit}",
    "campaign_wrong_kind": "кампания {campaign!r} ждёт {allowed}, а не {kind!r}",
    "campaign_text_mismatch": "текст {field} — не текст элемента {item}; оставьте его пустым, чтобы оценить элемент",
    "campaign_unknown_label": "метки {label!r} нет среди меток этой кампании: {labels}",
    "campaign_already_judged": "вы уже оценили элемент {item} этой кампании; отмените оценку, чтобы изменить ответ",
    "campaign_item_full": ("у элемента {item} уже есть нужные оценки ({overlap}): ваше время на него истекло; "
                           "возьмите следующий"),
    "campaign_agreement_level": "уровень согласия — от 0 до 1, получено {value!r}",
    "campaign_item_id": "item_id — целое число, получено {value!r}",
    "campaign_item_id_from_1": "item_id — целое число от 1, получено {value!r}",
    "items_number": "число элементов должно быть целым, от 1; получено {value!r}",
    "give_distinct": "нужно хотя бы {minimum} разных {what}, получено {count}",
    "uncertain_k_range": "k (кластеров) должно быть от 2 до {limit}: каждый кластер становится меткой со своей цифрой",
    "uncertain_single_cluster": "тексты образуют один кластер, и ни один не лежит на границе; дайте более разные тексты",
    "uncertain_few_clusters": ("в кластеризации меньше двух кластеров, и ни один текст не лежит на границе; "
                               "кластеризуйте заново на большее число кластеров"),
    # judgments
    "record_id_whole": "номер записи — целое число, получено {value!r}",
    "record_id_range": "записи №{id} нет: номера — целые числа от 1 до {limit}",
    "judgment_needs_text": "для вида {kind!r} нужен текст {field}",
    "field_not_str": "{name} должно быть строкой, получено {type}",
    "judgment_text_too_long": "текст {field} слишком длинный: символов {length:,}, предел {limit:,}",
    "judgment_text_empty": ("текст {field} пуст (ничего не остаётся после удаления пробелов, управляющих и "
                            "невидимых символов)"),
    "judgment_needs_score": "для вида 'score' нужна оценка от {low:g} до {high:g}",
    "judgment_score_not_number": "оценка должна быть числом от {low:g} до {high:g}, получено {value!r}",
    "judgment_score_not_finite": "оценка должна быть конечным числом от {low:g} до {high:g}, получено {value}",
    "judgment_score_range": "оценка должна быть от {low:g} до {high:g}, получено {value:g}",
    "judgment_prefer_label": ("для вида 'prefer' нужна метка из {labels} (какой префикс дал лучших соседей), "
                              "получено {value!r}"),
    "judgment_needs_label": "для вида 'label' нужна непустая метка",
    "field_too_long": "{name} слишком длинное: символов {length:,}, предел {limit:,}",
    "field_control_character": "в {name} есть управляющий символ; уберите его",
    "judgment_not_yours": "оценка №{id} не ваша, удалить её нельзя",
    # training
    "training_kind_graded": "Оценки и вердикты",
    "training_kind_triplets": "Тройки",
    "training_kind_labels": "Метки",
    "training_kind_positives": "Только положительные пары",
    "training_gives_graded": "нужны оценки 0–5, «похоже / не похоже» и «релевантно / не релевантно»",
    "training_gives_triplets": "нужны релевантный и нерелевантный текст к одному запросу",
    "training_gives_labels": "нужны темы, хотя бы два текста на тему",
    "training_gives_positives": "пары «релевантно / похоже» без отрицательных оценок",
    "training_no_kind": "выберите хотя бы один вид оценок для обучения",
    "training_few_rows": "строк для обучения: {count}, нужно не меньше {minimum} ({needs})",
    "training_all_positive": "«релевантно/похоже»",
    "training_all_same": "одна и та же оценка",
    "training_one_sided": ("все {count} оценок — {verdict}. Для обучения только на положительных парах их нужно "
                           "около {needed:,} (на 195 модель в замерах стала хуже); добавьте оценки «не релевантно» "
                           "или «не похоже» либо оценки 0–5 — тогда обучение пойдёт с CoSENT"),
    "training_few_label_pairs": "пар с одной меткой: {count}; разметьте хотя бы два текста на метку, всего {minimum} текстов",
    "training_kind_reason": "{kind}: {reason}",
    "training_nothing": "Обучать не на чем. {reasons}.",
    "training_leave_out": "Уберите или дополните: {reasons}.",
    "training_no_judgments": "нет оценок для обучения",
    "training_no_base_model": "выберите базовую модель для обучения",
    "training_epochs": "число эпох должно быть от 1 до 20, получено {value}",
    "training_batch_size": "размер батча должен быть от 2 до 256 (отрицательным примерам внутри батча нужно 2), получено {value}",
    "training_learning_rate": "скорость обучения должна быть больше 0 и не больше 0.001, получено {value}",
    "training_warmup": "разогрев — доля шагов, от 0 и меньше 1, получено {value}",
    "training_max_tokens": "предел токенов должен быть от 8 до 512, получено {value}",
    "training_hold_out": "отложенная доля должна быть от 0.05 до 0.5, получено {value}",
    "training_blend": "смешивание — доля базовой модели, от 0 и меньше 1, получено {value}",
    "training_max_steps": "число шагов должно быть не меньше 1, получено {value}",
    "training_no_judgments_by": "нет оценок для обучения от {users}",
    # raised by the interface (ui/)
    "judgments_off": "оценки отключены: у приложения нет хранилища оценок",
    "campaigns_off": "кампании отключены: у приложения нет хранилища оценок",
    "training_off": "обучение отключено: у приложения нет хранилища оценок",
    "enter_own_judgment_id": "введите номер одной из ваших оценок",
    "no_such_judgment": "оценки №{id} нет",
    "upload_campaign_table": ("загрузите таблицу элементов: столбцы query и passage (или sentence1 и sentence2) "
                              "для релевантности и оценок, столбец текста для меток"),
    "campaign_label_number": "у этой кампании меток: {count}, а не {number}",
    "paste_texts": "вставьте хотя бы один текст, по одному в строке",
    "upload_first": "сначала загрузите файл CSV, TSV, TXT, XLSX или Parquet",
    "skipped_empty_rows": "пропущено пустых строк: {count}",
    "used_file_embeddings": "взяты эмбеддинги из файла (столбец «{column}», {dim}-d), тексты не кодировались",
    "no_such_cluster": "в этой кластеризации нет кластера {cluster}",
    "noise_not_topic": "шум — не тема: выберите кластер",
    "name_cluster_first": "сначала дайте название кластеру {cluster}",
    "cluster_first": "сначала кластеризуйте корпус",
    "pick_cluster_to_name": "выберите кластер, которому дать название",
    "pick_cluster_from_list": "выберите кластер из списка, получено {value!r}",
    "select_on_map_first": "сначала выберите тексты на карте (обводкой, рамкой или щелчком)",
    "select_exactly_two": "чтобы назвать тексты {kind}, выберите ровно два; сейчас выбрано: {count}",
    "call_similar": "похожими",
    "call_dissimilar": "непохожими",
    "type_topic_label_selected": "введите тему для выбранных текстов",
    "cluster_first_campaign": "сначала кластеризуйте корпус: кампания строится по кластеризации на экране",
    "clustering_few_clusters": ("в этой кластеризации меньше двух кластеров, и ни один текст не лежит на границе; "
                                "кластеризуйте заново на большее число кластеров"),
    "type_cluster_name": "введите название кластера",
    "cluster_name_too_long": "в названии кластера не больше {limit} символов, получено {length}",
    "select_text_in_table": "сначала выберите текст в таблице",
    "select_second_text": "выберите второй, другой текст как B",
    "type_topic_label": "сначала введите тему",
    "type_query_to_search": "введите запрос для поиска по смыслу",
    "upload_what_first": "сначала загрузите {what} (CSV, TSV, TXT, XLSX или Parquet)",
    "upload_what_corpus": "корпус",
    "upload_what_pairs": "таблицу со столбцами запросов и фрагментов",
    "upload_what_labelled_pairs": "таблицу со столбцами запросов, фрагментов и меток",
    "upload_what_table": "таблицу",
    "corpus_column_empty": "в столбце корпуса {column!r} нет текста",
    "tick_a_model": "отметьте хотя бы одну модель",
    "skipped_incomplete_rows": "пропущено строк с пустым запросом или фрагментом: {count}",
    "no_relevance_judgments": ("у вас ещё нет оценок «релевантно / не релевантно»: оцените пары на вкладке "
                               "«Сходство» или в поиске"),
    "compare_prefixes_then_select": "сначала сравните префиксы, затем выберите тексты на карте",
    "pick_better_variant": "выберите, какой вариант лучше; получено {value!r}",
    "compare_prefixes_then_pick": "сначала сравните префиксы, затем выберите текст",
    "pick_compared_text": "выберите один из {count} сравнённых текстов",
    "no_such_ranking_row": "в ранжировании нет строки {row}",
    "run_comparison_again": "запустите сравнение снова: у этого результата нет вида по запросам",
    "no_such_query": "запроса {query} нет; всего запросов: {count}",
    "top_k_whole": "число лучших фрагментов должно быть целым (0 = все), получено {value!r}",
    "second_model_differs": "выберите вторую модель, отличную от первой",
    "column_not_in_table": "столбца {name!r} ({role}) нет в таблице; её столбцы: {columns}",
    "pick_query_or_passage_column": "выберите столбец запросов или фрагментов; столбцы таблицы: {columns}",
    "enter_campaign_id": "введите id созданной вами кампании (администратор — любой)",
    "admins_only_everyone": "обучать на оценках всех могут только администраторы; выберите свои",
    "no_training_judgments": "пока нет оценок для обучения: оцените результаты на других вкладках",
    "choose_saved_version": "сначала выберите сохранённую версию",
    "no_tuned_model": "среди ваших нет дообученной модели {name!r}",
    "version_not_promoted": ("{name} не принята ({reason}); отметьте «загрузить всё равно», чтобы загрузить её "
                             "намеренно"),
    # more
    "training_started_by_you": "вами",
    "training_started_by_other": "кем-то другим",
    "training_busy": "обучение, запущенное {who} {minutes} мин назад, ещё идёт; обучение идёт по одному, попробуйте, когда оно закончится",
    "training_none_running": "обучение сейчас не идёт",
    "training_not_yours": "отменить обучение может только тот, кто его запустил",
    "no_saved_versions": "дообученной модели {name!r} нет; сохранённых версий пока нет",
    "no_such_version": "дообученной модели {name!r} нет; сохранённые версии: {known}",
    "identity_foreign_token": "этот токен личности выдан не этим сервером; перезагрузите страницу, чтобы получить новый",
    "identity_missing": "личность не определена: перезагрузите страницу (в браузере) или передайте токен, который вернул /flag (API)",
    "export_needs_pairs": "оценки «релевантно» или «похоже»",
    "export_needs_triplets": "оценки «релевантно/похоже» и «не релевантно/не похоже» к одному и тому же тексту",
    "export_needs_scores": "оценки 0–5, «похоже» или «не похоже»",
    "export_needs_labels": "оценки-метки",
    "export_nothing": "нечего выгрузить как {kind}: нужны {needs}",
    "clusterer_too_many_texts": "{name} берёт не больше {limit:,} текстов (хранит все попарные расстояния: для {count:,} текстов нужно {gigabytes} ГБ или больше); для {count:,} текстов используйте k-means",
    "campaign_needs_score": "кампании с оценками нужна оценка от {low:g} до {high:g}, получено {value!r}",
    "campaign_score_range": "оценка должна быть от {low:g} до {high:g}, получено {value!r}",
    "selection_not_point": "элемент выбора {item} — не номер точки: {value!r}",
    "selection_no_such_point": "элемент выбора {item} указывает на точку {point}, а на карте точек: {count}",
    "selection_too_big": "в выборе не больше {limit:,} текстов; выберите меньше",
    "find_nothing_typed": "введите текст для поиска",
    "find_too_long": "искать можно не больше {limit} символов, получено {length}",
    "search_no_texts": "искать не в чем: текстов нет",
}

TEMPLATES: dict[str, dict[str, str]] = {"ru": MESSAGES_RU}


def translated(message: str, lang: str) -> str:
    """``message`` in ``lang``: a :class:`~core.errors.Message` by its key, any other text as it is.

    English, and a key with no text in ``lang``, give the English text the message already holds.
    """
    templates = TEMPLATES.get(lang)
    if not isinstance(message, Message) or templates is None or message.key not in templates:
        return str(message)
    return render(templates[message.key], message.values, templates, RUSSIAN_THOUSANDS)
