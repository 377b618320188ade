"""Corpus loading: every format, limits, encodings, sniffing, hostile and broken files, extraction."""

from __future__ import annotations

import time
import unicodedata
import zipfile
from collections.abc import Iterable
from pathlib import Path

import pandas as pd
import pytest

from core.inputs.corpus import (
    LoadedCorpus,
    embedding_columns,
    extract_embeddings,
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


def test_parquet_with_dictionary_encoded_and_large_string_text_reads_them_as_text(tmp_path):
    """pandas reads dictionary-encoded strings as categoricals; a column with one distinct value then
    failed every upload ("Categorical does not support operation 'mean'")."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from core.inputs.corpus import extract_texts, label_candidates, text_columns

    path = tmp_path / "categorical.parquet"
    texts = ["Погода на завтра", "Курс рубля к доллару", None, "Погода на завтра"]
    pq.write_table(pa.table({"text": pa.array(texts).dictionary_encode(),
                             "source": pa.array(["сайт"] * 4).dictionary_encode(),
                             "topic": pa.array(["погода", "финансы", "финансы", "погода"], pa.large_string())}),
                   path)
    loaded = load_table(path)
    assert text_columns(loaded.frame) == ["text", "topic", "source"]
    assert label_candidates(loaded.frame) == ["text", "topic"]
    read, labels, skipped = extract_texts(loaded.frame, "text", "topic")
    assert read == ["Погода на завтра", "Курс рубля к доллару", "Погода на завтра"] and skipped == 1
    assert labels == ["погода", "финансы", "погода"]


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
    with pytest.raises(ValueError, match=rf"big\.csv is .*{size:,} bytes.*limit is 1\.0 KiB \(1,024 bytes\)"):
        load_table(path, max_bytes=1_024)


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
    path = tmp_path / "photos.xlsx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("photo.txt", "not a workbook")
    with pytest.raises(ValueError, match="not an Excel XLSX workbook"):
        load_table(path)


# A minimal XLSX written part by part, so that a test can shape each part (and stream a huge sheet).
_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_CT = "application/vnd.openxmlformats-officedocument.spreadsheetml"
_RELS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG_RELS = "http://schemas.openxmlformats.org/package/2006/relationships"


def _write_xlsx(
    path: Path,
    sheet_xml: Iterable[str],
    *,
    shared_strings: str | None = None,
    strings_part: str = "xl/sharedStrings.xml",
    workbook_head: str = "",
) -> Path:
    """A one-sheet workbook; ``sheet_xml`` is the worksheet in pieces, streamed into the zip."""
    overrides = f'<Override PartName="/xl/workbook.xml" ContentType="{_CT}.sheet.main+xml"/>'
    overrides += f'<Override PartName="/xl/worksheets/sheet1.xml" ContentType="{_CT}.worksheet+xml"/>'
    if shared_strings is not None:
        overrides += f'<Override PartName="/{strings_part}" ContentType="{_CT}.sharedStrings+xml"/>'
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr(
            "[Content_Types].xml",
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            f'<Default Extension="xml" ContentType="application/xml"/>{overrides}</Types>',
        )
        archive.writestr(
            "_rels/.rels",
            f'<Relationships xmlns="{_PKG_RELS}"><Relationship Id="rId1" '
            f'Type="{_RELS}/officeDocument" Target="xl/workbook.xml"/></Relationships>',
        )
        archive.writestr(
            "xl/workbook.xml",
            f'{workbook_head}<workbook xmlns="{_MAIN}" xmlns:r="{_RELS}">'
            '<sheets><sheet name="данные" sheetId="1" r:id="rId1"/></sheets></workbook>',
        )
        archive.writestr(
            "xl/_rels/workbook.xml.rels",
            f'<Relationships xmlns="{_PKG_RELS}"><Relationship Id="rId1" '
            f'Type="{_RELS}/worksheet" Target="worksheets/sheet1.xml"/></Relationships>',
        )
        if shared_strings is not None:
            archive.writestr(strings_part, shared_strings)
        with archive.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as sheet:
            for piece in sheet_xml:
                sheet.write(piece.encode())
    return path


def _sheet(rows: Iterable[str], dimension: str | None = "A1") -> Iterable[str]:
    yield f'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="{_MAIN}">'
    if dimension is not None:
        yield f'<dimension ref="{dimension}"/>'
    yield "<sheetData>"
    yield from rows
    yield "</sheetData></worksheet>"


def _text_row(text: str) -> str:
    # no r="..." attributes (they are optional): identical rows make the zip tiny
    return f'<row><c t="inlineStr"><is><t>{text}</t></is></c></row>'


def _repeated_rows(text: str, n_rows: int, chunk: int = 2_000) -> Iterable[str]:
    yield _text_row("text")
    block = _text_row(text) * chunk
    for _ in range(n_rows // chunk):
        yield block


@pytest.fixture(scope="module", params=["with <dimension>", "without <dimension>"])
def xlsx_bomb(request, tmp_path_factory) -> tuple[Path, bool]:
    """~150 MB of sheet XML (300,000 rows of 250 characters) in a ~0.5 MB zip."""
    sized = request.param == "with <dimension>"
    path = tmp_path_factory.mktemp("bomb") / "bomb.xlsx"
    sentence = "Длинное предложение, повторённое много раз. " * 6
    _write_xlsx(path, _sheet(_repeated_rows(sentence, 300_000), "A1:A300001" if sized else None))
    return path, sized


def test_xlsx_bomb_is_streamed_to_the_row_cap_or_refused_fast(xlsx_bomb):
    path, sized = xlsx_bomb
    with zipfile.ZipFile(path) as archive:
        inflated = sum(info.file_size for info in archive.infolist())
    assert path.stat().st_size < 1_000_000 and inflated > 140_000_000  # the shape of the reported bomb
    start = time.perf_counter()
    try:
        loaded = load_table(path)  # the app's limits: 5 MB, 5,000 rows
        outcome = f"capped at {len(loaded.frame):,} rows"
    except ValueError as exc:
        loaded, outcome = None, f"refused: {exc}"
    seconds = time.perf_counter() - start
    print(f"\n{path.stat().st_size:,}-byte XLSX of {inflated:,} bytes: {outcome} in {seconds:.2f} s")
    # reading it whole took 84 s; streaming stops after 5,000 rows (0.1-0.5 s measured), a sheet with
    # no <dimension> record is refused after 5 MB of XML (~0.4 s); 5 s leaves room for a busy machine
    assert seconds < 5, f"{outcome} took {seconds:.1f} s"
    if sized:
        assert loaded is not None and len(loaded.frame) == 5_000
        assert loaded.frame["text"].iloc[-1].startswith("Длинное предложение")
        assert "kept the first 5,000; the rest was not read" in loaded.warnings[0]
    else:
        assert loaded is None and "would parse all of xl/worksheets/sheet1.xml" in outcome


def test_small_xlsx_without_dimension_is_read(tmp_path):
    path = _write_xlsx(tmp_path / "plain.xlsx", _sheet(_repeated_rows("Привет, мир", 4_000), None))
    loaded = load_table(path, max_rows=10_000)
    assert len(loaded.frame) == 4_000 and loaded.warnings == []


def test_xlsx_cut_at_the_row_cap_only_when_more_data_follows(tmp_path):
    rows = [_text_row(f"строка {i}") for i in range(100)] + ["<row/>"] * 50  # trailing formatted rows
    path = _write_xlsx(tmp_path / "exact.xlsx", _sheet([_text_row("text"), *rows]))
    loaded = load_table(path, max_rows=100)
    assert len(loaded.frame) == 100 and loaded.warnings == []
    path = _write_xlsx(tmp_path / "more.xlsx", _sheet([_text_row("text"), *rows, _text_row("ещё")]))
    loaded = load_table(path, max_rows=100)
    assert loaded.frame["text"].iloc[-1] == "строка 99"
    assert loaded.warnings == ["The file has too many rows: kept the first 100; the rest was not read."]


def test_honest_workbook_over_the_row_cap_is_not_refused(tmp_path):
    # repetitive but honest: numbered sentences and three labels deflate ~14x; the limits scale with
    # max_bytes, so setting it to the file's own size is the tightest honest case
    path = tmp_path / "big.xlsx"
    texts = [f"Предложение номер {i} о погоде, работе и выходных днях." for i in range(6_000)]
    frame = pd.DataFrame({"text": texts, "topic": ["погода", "работа", "отдых"] * 2_000, "n": range(6_000)})
    frame.to_excel(path, index=False)
    loaded = load_table(path, max_bytes=path.stat().st_size)
    assert len(loaded.frame) == 5_000 and loaded.frame["text"].iloc[-1] == texts[4_999]
    assert loaded.frame["n"].tolist() == list(range(5_000))


def test_xlsx_with_shared_strings(tmp_path):
    strings = f'<sst xmlns="{_MAIN}"><si><t>text</t></si><si><t>Привет, "мир"</t></si></sst>'
    header = '<row><c t="s"><v>0</v></c><c t="inlineStr"><is><t>n</t></is></c></row>'
    rows = [f'<row><c t="s"><v>1</v></c><c><v>{i}</v></c></row>' for i in range(3)]
    loaded = load_table(
        _write_xlsx(tmp_path / "shared.xlsx", _sheet([header, *rows]), shared_strings=strings)
    )
    assert loaded.frame["text"].tolist() == ['Привет, "мир"'] * 3 and loaded.frame["n"].tolist() == [0, 1, 2]


def test_xlsx_shared_strings_too_big_are_refused_from_the_zip_directory(tmp_path, monkeypatch):
    strings = f'<sst xmlns="{_MAIN}">' + "<si><t>a</t></si>" * 200_000 + "</sst>"  # 3.4 MB, 10 KB zipped
    path = _write_xlsx(tmp_path / "strings.xlsx", _sheet([_text_row("text")]), shared_strings=strings)

    def no_parsing(*args, **kwargs):
        raise AssertionError("openpyxl was started although the zip directory is enough to refuse")

    monkeypatch.setattr("openpyxl.reader.excel.ExcelReader.read", no_parsing)
    with pytest.raises(ValueError, match=r"xl/sharedStrings\.xml: 3\.2 MiB .*limit 2\.0 MiB"):
        load_table(path, max_bytes=200 * 2**10)  # 10x the upload limit may be read whole


def test_xlsx_big_part_read_whole_under_another_name_is_stopped(tmp_path):
    # the content types send openpyxl's shared strings to a name the directory check lets through
    strings = f'<sst xmlns="{_MAIN}">' + "<si><t>a</t></si>" * 200_000 + "</sst>"
    path = _write_xlsx(
        tmp_path / "sneaky.xlsx",
        _sheet([_text_row("text")]),
        shared_strings=strings,
        strings_part="xl/worksheets/strings.xml",
    )
    with pytest.raises(
        ValueError, match=r"would parse all of xl/worksheets/strings\.xml, more than 200\.0 KiB"
    ):
        load_table(path, max_bytes=200 * 2**10)


def test_xlsx_parts_read_whole_are_limited_in_tags_too(tmp_path, monkeypatch):
    # 1 MB of "<si/>" is 200,000 strings for openpyxl to build (1.6 s); the real limit, 500,000 tags,
    # would make this test slow, so it runs at 10,000
    monkeypatch.setattr("core.inputs.corpus._MAX_WHOLE_PARTS_TAGS", 10_000)
    strings = f'<sst xmlns="{_MAIN}">' + "<si/>" * 200_000 + "</sst>"
    path = _write_xlsx(tmp_path / "tags.xlsx", _sheet([_text_row("text")]), shared_strings=strings)
    with pytest.raises(
        ValueError, match=r"more than 10,000 XML tags at xl/sharedStrings\.xml; .*save the rows"
    ):
        load_table(path)


def test_xlsx_with_a_dtd_is_refused(tmp_path):
    dtd = '<?xml version="1.0"?><!DOCTYPE workbook [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;">]>'
    path = _write_xlsx(tmp_path / "laughs.xlsx", _sheet([_text_row("text")]), workbook_head=dtd)
    with pytest.raises(ValueError, match=r"xl/workbook\.xml declares XML entities \(a DTD\)"):
        load_table(path)


def test_xlsx_row_of_countless_cells_is_refused_before_it_is_built(tmp_path):
    # 300,000 empty cells in one row: openpyxl would build them all before handing the row over
    path = _write_xlsx(
        tmp_path / "cells.xlsx", _sheet([_text_row("text"), "<row>" + "<c/>" * 300_000 + "</row>"])
    )
    with pytest.raises(
        ValueError, match=r"more than 200,000 XML tags at xl/worksheets/sheet1\.xml; rows that big"
    ):
        load_table(path)


def test_xlsx_too_many_columns(tmp_path):
    header = "<row>" + "".join(f'<c t="inlineStr"><is><t>c{i}</t></is></c>' for i in range(2_000)) + "</row>"
    path = _write_xlsx(tmp_path / "wide.xlsx", _sheet([header, _text_row("x")]))
    with pytest.raises(ValueError, match="the file has 2,000 columns; at most 1,000 are supported"):
        load_table(path)


def _junk_files(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    """Hostile or broken uploads and the words their error must contain."""
    junk: dict[str, tuple[bytes, str]] = {
        "wide.csv": (
            ",".join(f"c{i}" for i in range(200_000)).encode() + b"\n" + b"x,y\n",
            "200,000 columns",
        ),
        "wide.tsv": ("\t".join(f"c{i}" for i in range(200_000)).encode() + b"\nx\n", "200,000 columns"),
        "quoted_header.csv": (
            ('"' + "слово, " * 100_000 + "\nещё\n").encode(),
            "could not parse the CSV header",
        ),
        "open_quote.csv": (('text,topic\n"' + "слово, " * 100_000 + "\nещё,b\n").encode(), "could not parse"),
        "nul.csv": (b"text\n" + "привет\n".encode() * 20_000 + b"\x00\n", "binary data"),
        "damaged.xlsx": (b"PK\x03\x04" + b"\x14\x00" * 40, "damaged XLSX"),
    }
    good = tmp_path / "good.parquet"
    _frame().to_parquet(good, index=False)
    parquet = good.read_bytes()
    junk["head.parquet"] = (b"PAR2" + parquet[4:], "binary data")
    junk["tail.parquet"] = (parquet[:-4] + b"PAR2", "could not read the Parquet file")
    good_xlsx = tmp_path / "good.xlsx"
    _frame().to_excel(good_xlsx, index=False)
    junk["truncated.xlsx"] = (good_xlsx.read_bytes()[:-100], "damaged XLSX")
    out = {}
    for name, (payload, words) in junk.items():
        (tmp_path / name).write_bytes(payload)
        out[name] = (tmp_path / name, words)
    return out


def test_junk_uploads_raise_only_value_errors_with_readable_messages(tmp_path):
    for name, (path, words) in _junk_files(tmp_path).items():
        try:
            load_table(path)
        except ValueError as exc:
            message = str(exc)
        except Exception as exc:  # what this test exists to catch
            pytest.fail(f"{name}: {type(exc).__name__} escaped load_table: {exc}")
        else:
            pytest.fail(f"{name} was loaded")
        assert words in message, (name, message)
        assert "\n" not in message and len(message) < 300, (name, message)  # a sentence, not a dump


@pytest.mark.parametrize("error", [RecursionError("maximum recursion depth exceeded"), OverflowError()])
def test_unexpected_parser_failures_become_value_errors(tmp_path, monkeypatch, error):
    def broken(*args, **kwargs):
        raise error

    monkeypatch.setattr("core.inputs.corpus._read_delimited", broken)
    path = tmp_path / "corpus.csv"
    _frame().to_csv(path, index=False)
    with pytest.raises(
        ValueError, match=rf"could not read corpus\.csv as CSV: {str(error) or 'OverflowError'}"
    ):
        load_table(path)


def test_txt_with_a_very_long_first_line(tmp_path):
    path = tmp_path / "book.txt"
    path.write_text(
        "слово " * 50_000 + "\nВторая строка\n", encoding="utf-8"
    )  # over csv's 128 KB field limit
    assert load_table(path).frame["text"].tolist()[1] == "Вторая строка"


def test_error_messages_keep_their_quotes(tmp_path):
    path = tmp_path / "parts.xlsx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("xl/workbook.xml", "<workbook/>")
    with pytest.raises(ValueError) as caught:
        load_table(path)
    # str(KeyError) would have wrapped this in a second pair of quotes
    assert str(caught.value) == (
        "could not read the XLSX workbook: There is no item named '[Content_Types].xml' in the archive"
    )
    path = tmp_path / "quotes.csv"
    path.write_text('Он сказал "да"\nПривет, мир\n"Пока", сказал он\n', encoding="utf-8")
    loaded = load_table(path)
    assert list(loaded.frame.columns) == ['Он сказал "да"']
    assert loaded.frame.iloc[:, 0].tolist() == ["Привет, мир", '"Пока", сказал он']


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
    from core.inputs.corpus import SAMPLE_PATH

    loaded = load_table(SAMPLE_PATH)
    assert loaded.warnings == [] and loaded.format == "csv"
    assert loaded.frame.equals(load_sample())


# ------------------------------------------------------------------------------------------------
# precomputed embeddings (a Parquet list column, or vectors written as text in a CSV)


def _vectors(n: int, dim: int, seed: int = 0):
    import numpy as np

    return np.random.default_rng(seed).standard_normal((n, dim)).astype("float32")


def test_a_parquet_list_column_is_found_and_read_in_text_order(tmp_path):
    import numpy as np

    vectors = _vectors(4, 8)
    frame = pd.DataFrame({"text": ["а", "", "в", "г"], "topic": ["x", "y", "x", "y"],
                          "embedding": list(vectors)})
    frame.to_parquet(tmp_path / "c.parquet", index=False)
    loaded = load_table(tmp_path / "c.parquet").frame
    assert embedding_columns(loaded) == ["embedding"]
    assert text_columns(loaded) == ["text", "topic"] and label_candidates(loaded) == ["topic"]
    got = extract_embeddings(loaded, "embedding", "text", 8)
    texts, _, skipped = extract_texts(loaded, "text")
    assert got.dtype == np.float32 and len(got) == len(texts) == 3 and skipped == 1  # the empty text's row goes too
    np.testing.assert_allclose(got, vectors[[0, 2, 3]])


@pytest.mark.parametrize("write", [lambda v: " ".join(f"{x:.6f}" for x in v),  # this app's CSV export
                                   lambda v: "[" + ", ".join(f"{x:.6f}" for x in v) + "]"])  # json.dumps
def test_vectors_written_as_text_in_a_csv_are_read_and_not_taken_for_texts(tmp_path, write):
    import numpy as np

    vectors = _vectors(3, 5)
    pd.DataFrame({"text": ["один", "два", "три"], "vec": [write(v) for v in vectors]}).to_csv(
        tmp_path / "c.csv", index=False)
    loaded = load_table(tmp_path / "c.csv").frame
    assert embedding_columns(loaded) == ["vec"] and text_columns(loaded) == ["text"]
    np.testing.assert_allclose(extract_embeddings(loaded, "vec", "text", 5), vectors, atol=1e-6)


def test_a_table_without_vectors_has_no_embedding_column():
    frame = pd.DataFrame({"text": ["а б", "в"], "code": ["1", "2"], "pair": ["1 2", "3 4"], "n": [1, 2]})
    assert embedding_columns(frame) == ["pair"]  # two numbers in text do look like a (2-d) vector
    assert embedding_columns(frame[["text", "code", "n"]]) == []
    assert embedding_columns(pd.DataFrame({"text": []}, dtype=object)) == []


@pytest.mark.parametrize("cell, match", [
    ([1.0, 2.0], "row 2 of column 'embedding' has 2 numbers, but the model's embeddings have 3 dimensions"),
    ([1.0, 2.0, 3.0, 4.0], "row 2 .* has 4 numbers, but .* have 3 dimensions"),
    (None, "row 2 .* has no embedding"), ([0.0, 0.0, 0.0], "row 2 .* all zeros"),
    ([1.0, float("nan"), 0.0], "row 2 .* NaN or infinite"), ("1 два 3", "row 2 .* not a list of numbers"),
])
def test_a_bad_vector_is_refused_naming_the_row_and_the_dimensions(cell, match):
    frame = pd.DataFrame({"text": ["а", "б", "в"], "embedding": [[1.0, 0.0, 0.0], cell, [0.0, 1.0, 0.0]]})
    with pytest.raises(ValueError, match=match):
        extract_embeddings(frame, "embedding", "text", 3)


@pytest.mark.parametrize("n", [0, 1, 2, 3])
def test_embeddings_of_edge_sizes(n):
    frame = pd.DataFrame({"text": [f"т{i}" for i in range(n)], "embedding": [[1.0, float(i)] for i in range(n)]},
                         dtype=object)
    assert extract_embeddings(frame, "embedding", "text", 2).shape == (n, 2)


def test_extract_embeddings_checks_its_arguments():
    frame = pd.DataFrame({"text": ["а"], "embedding": [[1.0]]})
    with pytest.raises(ValueError, match="embedding column 'vec' not found"):
        extract_embeddings(frame, "vec", "text", 1)
    with pytest.raises(ValueError, match="dim must be"):
        extract_embeddings(frame, "embedding", "text", 0)
