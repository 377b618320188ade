"""Corpus loading: every format, limits, encodings, sniffing, hostile and broken files, extraction."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pandas as pd
import pytest

from core.corpus import (
    LoadedCorpus,
    extract_texts,
    label_candidates,
    load_sample,
    load_table,
    text_columns,
)

TEXTS = [
    "Мама мыла раму, а папа читал газету.",
    'Он сказал: "привет" и ушёл',
    "Ёлка стоит в углу",
    "<img src=x onerror=alert(1)>",
]
TOPICS = ["быт", "быт", "праздник", "веб"]


def _frame() -> pd.DataFrame:
    return pd.DataFrame({"id": [1, 2, 3, 4], "text": TEXTS, "topic": TOPICS})


def _check(loaded: LoadedCorpus, fmt: str) -> None:
    assert isinstance(loaded, LoadedCorpus)
    assert loaded.format == fmt
    assert loaded.frame["text"].tolist() == TEXTS
    assert text_columns(loaded.frame)[0] == "text"


# ------------------------------------------------------------------------------------------------
# formats


def test_csv(tmp_path):
    path = tmp_path / "corpus.csv"
    _frame().to_csv(path, index=False)
    loaded = load_table(path)
    _check(loaded, "csv")
    assert loaded.warnings == []
    assert loaded.frame["topic"].tolist() == TOPICS


def test_csv_with_bom_and_semicolons(tmp_path):
    path = tmp_path / "excel.csv"
    _frame().to_csv(path, index=False, sep=";", encoding="utf-8-sig")
    loaded = load_table(path)
    _check(loaded, "csv")
    assert list(loaded.frame.columns) == ["id", "text", "topic"]  # no "\ufeffid"


def test_tsv(tmp_path):
    path = tmp_path / "corpus.tsv"
    _frame().to_csv(path, index=False, sep="\t")
    _check(load_table(path), "tsv")


def test_txt_one_text_per_line_skips_blank_lines(tmp_path):
    path = tmp_path / "lines.txt"
    path.write_text("\n".join(TEXTS[:1] + ["", "   "] + TEXTS[1:]) + "\n\n", encoding="utf-8")
    loaded = load_table(path)
    _check(loaded, "txt")
    assert list(loaded.frame.columns) == ["text"]


def test_xlsx(tmp_path):
    path = tmp_path / "book.xlsx"
    with pd.ExcelWriter(path, engine="openpyxl") as writer:
        _frame().to_excel(writer, sheet_name="данные", index=False)
        pd.DataFrame({"x": [1]}).to_excel(writer, sheet_name="other", index=False)
    loaded = load_table(path)
    _check(loaded, "xlsx")
    assert any("only the first, 'данные'" in w for w in loaded.warnings)


def test_parquet(tmp_path):
    path = tmp_path / "corpus.parquet"
    _frame().to_parquet(path, engine="pyarrow", index=False)
    loaded = load_table(path)
    _check(loaded, "parquet")
    assert loaded.frame["id"].tolist() == [1, 2, 3, 4]


def test_cp1251_csv_is_decoded_with_a_warning(tmp_path):
    path = tmp_path / "legacy.csv"
    path.write_bytes("text,topic\nПривет, мир,x\n".replace("Привет, мир", '"Привет, мир"').encode("cp1251"))
    loaded = load_table(path)
    assert loaded.frame["text"].tolist() == ["Привет, мир"]
    assert any("Windows-1251" in w for w in loaded.warnings)


def test_utf16_tab_export_from_excel(tmp_path):
    path = tmp_path / "unicode.txt"
    path.write_bytes("text\ttopic\nПривет\tx\nПока\ty\n".encode("utf-16"))
    loaded = load_table(path)
    # the .txt extension wins: one text per line, tabs kept verbatim
    assert loaded.frame["text"].tolist()[1] == "Привет\tx"


def test_words_like_na_and_none_stay_text(tmp_path):
    path = tmp_path / "na.csv"
    path.write_text("text\nNA\nNone\nnull\n\n", encoding="utf-8")
    assert load_table(path).frame["text"].tolist() == ["NA", "None", "null"]


def test_crlf_line_endings(tmp_path):
    path = tmp_path / "windows.csv"
    path.write_bytes("text,topic\r\nПервый,a\r\nВторой,b\r\n".encode())
    loaded = load_table(path)
    assert loaded.frame["text"].tolist() == ["Первый", "Второй"]
    assert loaded.frame["topic"].tolist() == ["a", "b"]


def test_one_column_csv_with_unquoted_commas_reads_whole_lines(tmp_path):
    path = tmp_path / "sentences.csv"
    path.write_text("предложение\nПривет, мир\nКак дела\n", encoding="utf-8")
    loaded = load_table(path)
    assert loaded.frame["предложение"].tolist() == ["Привет, мир", "Как дела"]
    assert any("unquoted commas" in w for w in loaded.warnings)


def test_rows_wider_than_the_header_are_refused_not_shifted(tmp_path):
    path = tmp_path / "shifted.csv"
    path.write_text("text,topic\nПривет, мир,a\nПока,b\n", encoding="utf-8")
    with pytest.raises(ValueError, match="more fields than the header"):
        load_table(path)


# ------------------------------------------------------------------------------------------------
# wrong extensions: content wins


def test_tsv_extension_holding_commas(tmp_path):
    path = tmp_path / "mislabelled.tsv"
    _frame().to_csv(path, index=False)
    loaded = load_table(path)
    _check(loaded, "csv")
    assert any("is not TSV" in w for w in loaded.warnings)


def test_xlsx_saved_as_csv_is_read_as_xlsx(tmp_path):
    path = tmp_path / "really_a_workbook.csv"
    _frame().to_excel(path, index=False, engine="openpyxl")
    loaded = load_table(path)
    _check(loaded, "xlsx")
    assert any(".csv extension but is a XLSX file" in w for w in loaded.warnings)


def test_parquet_with_unknown_extension(tmp_path):
    path = tmp_path / "export.bin"
    _frame().to_parquet(path, index=False)
    _check(load_table(path), "parquet")


def test_csv_with_unknown_extension_is_sniffed(tmp_path):
    path = tmp_path / "export.dat"
    _frame().to_csv(path, index=False)
    _check(load_table(path), "csv")


def test_text_named_xlsx_is_read_as_text_with_a_warning(tmp_path):
    path = tmp_path / "notes.xlsx"
    path.write_text("Первая строка текста\nВторая строка текста\n", encoding="utf-8")
    loaded = load_table(path)
    assert loaded.format == "txt"
    assert loaded.frame["text"].tolist() == ["Первая строка текста", "Вторая строка текста"]
    assert any("not XLSX" in w for w in loaded.warnings)


# ------------------------------------------------------------------------------------------------
# limits


def test_oversize_file_is_refused_before_reading(tmp_path, monkeypatch):
    path = tmp_path / "big.csv"
    path.write_text("text\n" + "слово " * 2000, encoding="utf-8")
    size = path.stat().st_size

    def no_read(self):
        raise AssertionError("the file was read although it is over the limit")

    monkeypatch.setattr(Path, "read_bytes", no_read)
    with pytest.raises(ValueError, match=rf"big\.csv is .*{size:,} bytes.*limit is 1\.0 KB \(1,000 bytes\)"):
        load_table(path, max_bytes=1_000)


def test_too_many_rows_keeps_the_first_with_a_warning(tmp_path):
    path = tmp_path / "many.csv"
    pd.DataFrame({"text": [f"предложение номер {i}" for i in range(12_345)]}).to_csv(path, index=False)
    loaded = load_table(path)
    assert len(loaded.frame) == 5_000
    assert loaded.frame["text"].iloc[-1] == "предложение номер 4999"
    assert any("kept the first 5,000 of 12,345 rows" in w for w in loaded.warnings)


def test_too_many_rows_in_parquet(tmp_path):
    path = tmp_path / "many.parquet"
    pd.DataFrame({"text": [f"строка {i}" for i in range(250)]}).to_parquet(path, index=False)
    loaded = load_table(path, max_rows=100)
    assert len(loaded.frame) == 100
    assert any("kept the first 100 of 250 rows" in w for w in loaded.warnings)


# ------------------------------------------------------------------------------------------------
# broken and hostile files


def test_empty_file(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    with pytest.raises(ValueError, match="empty"):
        load_table(path)


def test_header_only_csv(tmp_path):
    path = tmp_path / "header.csv"
    path.write_text("text,topic\n", encoding="utf-8")
    with pytest.raises(ValueError, match="no data rows"):
        load_table(path)


def test_garbage_binary_file(tmp_path):
    path = tmp_path / "garbage.csv"
    path.write_bytes(bytes(range(256)) * 8)
    with pytest.raises(ValueError, match="not a CSV/TSV/TXT/XLSX/Parquet file"):
        load_table(path)


@pytest.mark.parametrize(
    "name, payload, message",
    [
        ("old.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 64, "old Excel .xls"),
        ("archive.csv", b"PK\x03\x04" + b"\x00" * 64, "damaged XLSX"),
        ("broken.parquet", b"PAR1" + b"\x01" * 64, "could not read the Parquet file"),
    ],
)
def test_fake_magic_bytes(tmp_path, name, payload, message):
    path = tmp_path / name
    path.write_bytes(payload)
    with pytest.raises(ValueError, match=message):
        load_table(path)


def test_zip_that_is_not_a_workbook(tmp_path):
    import zipfile

    path = tmp_path / "photos.xlsx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("photo.txt", "not a workbook")
    with pytest.raises(ValueError, match="not an Excel XLSX workbook"):
        load_table(path)


def test_file_without_a_text_column(tmp_path):
    path = tmp_path / "numbers.csv"
    path.write_text("a,b\n1,2\n3,4\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"no text column \(columns: a, b\)"):
        load_table(path)


def test_malformed_csv(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text('text,topic\n"unterminated,x\nok,y\n', encoding="utf-8")
    with pytest.raises(ValueError, match="could not parse the file as CSV"):
        load_table(path)


def test_missing_file(tmp_path):
    with pytest.raises(ValueError, match="file not found"):
        load_table(tmp_path / "nope.csv")


def test_hostile_content_is_kept_verbatim(tmp_path):
    hostile = ["<img src=x onerror=alert(1)>", '=HYPERLINK("http://evil")', "<script>alert('x')</script>"]
    path = tmp_path / "hostile.csv"
    pd.DataFrame({"text": hostile}).to_csv(path, index=False)
    texts, _, skipped = extract_texts(load_table(path).frame, "text")
    assert texts == hostile and skipped == 0


# ------------------------------------------------------------------------------------------------
# columns and extraction


def test_text_columns_longest_first_and_label_candidates():
    frame = pd.DataFrame(
        {
            "id": range(6),
            "short": ["да", "нет", "да", "нет", "да", "нет"],
            "long": ["длинное предложение номер один"] * 3 + ["и ещё одно длинное предложение"] * 3,
            "code": ["1", "2", "3", "4", "5", "6"],
            "score": [0.1, 0.2, 0.3, 0.4, 0.5, 0.6],
        }
    )
    assert text_columns(frame) == ["long", "short"]
    assert label_candidates(frame) == ["short", "long"]


def test_extract_texts_cleans_and_counts_skipped():
    decomposed = unicodedata.normalize("NFD", "Йогурт")
    frame = pd.DataFrame(
        {
            "text": ["  привет  ", None, "", "   ", float("nan"), decomposed, 42],
            "label": ["a", "b", "c", "d", "e", 3.0, None],
        }
    )
    texts, labels, skipped = extract_texts(frame, "text", "label")
    assert texts == ["привет", "Йогурт", "42"]
    assert texts[1] == unicodedata.normalize("NFC", "Йогурт") and len(texts[1]) == 6
    assert labels == ["a", "3", ""]
    assert skipped == 4
    assert extract_texts(frame, "text")[1] is None


def test_extract_texts_wrong_column_names():
    with pytest.raises(ValueError, match=r"text column 'txt' not found; the columns are: text, topic"):
        extract_texts(_frame()[["text", "topic"]], "txt")
    with pytest.raises(ValueError, match="label column 'label' not found"):
        extract_texts(_frame(), "text", "label")


# ------------------------------------------------------------------------------------------------
# the bundled sample


def test_sample_corpus():
    frame = load_sample()
    assert list(frame.columns) == ["text", "topic"]
    assert len(frame) >= 300
    counts = frame["topic"].value_counts()
    assert len(counts) >= 8 and counts.min() >= 30
    texts, labels, skipped = extract_texts(frame, "text", "topic")
    assert skipped == 0 and len(set(texts)) == len(texts)
    words = frame["text"].str.split().str.len()
    assert words.min() >= 6 and words.max() <= 25
    assert text_columns(frame)[0] == "text" and label_candidates(frame) == ["topic"]


def test_sample_corpus_loads_through_load_table():
    from core.corpus import SAMPLE_PATH

    loaded = load_table(SAMPLE_PATH)
    assert loaded.warnings == [] and loaded.format == "csv"
    assert loaded.frame.equals(load_sample())
