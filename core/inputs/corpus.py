"""Load a user's corpus (CSV, TSV, TXT, XLSX, Parquet) safely and pull texts and labels out of it.

Uploaded files are untrusted: the size is checked before a single byte is parsed, rows are capped
(XLSX and Parquet rows are streamed and reading stops at the cap), tables wider than 1,000 columns,
zip bombs, binary junk and unknown formats are refused, every failure is a ``ValueError`` with a
clear message (the UI shows it as is), and text is kept verbatim (HTML-looking strings included:
escaping is the UI's job).
"""

from __future__ import annotations

import csv
import io
import math
import re
import unicodedata
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from core.errors import Message, UserError, word
from core.inputs.text import clean_text
from core.limits import KIB, MIB

__all__ = [
    "FORMATS",
    "LoadedCorpus",
    "embedding_columns",
    "extract_embeddings",
    "extract_texts",
    "label_candidates",
    "load_sample",
    "load_table",
    "text_columns",
]

SAMPLE_PATH = Path(__file__).resolve().parents[2] / "assets" / "sample_corpus.csv"

FORMATS = ("csv", "tsv", "txt", "xlsx", "parquet")
_EXTENSIONS = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".txt": "txt",
    ".text": "txt",
    ".xlsx": "xlsx",
    ".xlsm": "xlsx",
    ".parquet": "parquet",
    ".pq": "parquet",
}
_NOT_SUPPORTED = "not a CSV/TSV/TXT/XLSX/Parquet file"
# A corpus is a few text columns plus labels and ids; wider tables are exports of something else,
# and a 200,000-name header (1.3 MB) would otherwise build that many pandas columns.
_MAX_COLUMNS = 1_000
# An XLSX is a zip; a tiny upload could inflate to gigabytes (zip bomb). Refuse archives whose
# content is far bigger than any honest spreadsheet of the allowed size. The sizes come from the zip
# directory, and zipfile never inflates a member past its listed size (a longer stream fails its CRC),
# so they are a hard bound on what parsing can see.
_MAX_XLSX_INFLATION = 40
# openpyxl streams worksheet rows, but reads every other part whole even in read-only mode: shared
# strings, styles, workbook.xml, relationships, chart sheets. Russian text in sharedStrings.xml deflates
# 3.5-3.9x (measured on sentences from the sample corpus; sequential ids like "предложение номер 17"
# reach 22x), so an honest text-heavy workbook at the upload limit stays well under 10x; one string
# repeated deflates 500-1000x.
_MAX_WHOLE_PARTS_INFLATION = 10
# Bytes alone do not bound the time: openpyxl spends ~8 us on each shared string, however short
# (measured: 200,000 "<si/>", 1 MB, took 1.6 s on a busy 2-core machine; real strings take ~4 us a
# tag). 500,000 tags is at most ~4 s there; an honest workbook needs that many only past ~125,000
# distinct strings, 25 times the rows a corpus keeps.
_MAX_WHOLE_PARTS_TAGS = 500_000
# openpyxl builds a whole row in memory before handing it over: a single row of 50 million "<c/>"
# (200 MB of XML, a 0.2 MB zip) would be gigabytes of objects. 16 MB holds over 200 cells of Excel's
# longest text (32,767 Cyrillic characters, 64 KB), 200,000 tags 1,000 columns of rich text with ~50
# formatting runs each (4 tags a run); an honest row is far smaller.
_MAX_ROW_XML_BYTES = 16_000_000
_MAX_ROW_TAGS = 200_000
# Excel writes a row element for every formatted row, so a table can end with blank rows; looking a
# little past the row cap tells a cut table from trailing formatting without reading the rest.
_BLANK_ROWS_AFTER_CAP = 1_000
# A worksheet part in the standard layout; everything else in the zip may be read whole by openpyxl.
_WORKSHEET_PREFIX = "xl/worksheets/"
_UNSAFE = "the XLSX cannot be read safely"
# openpyxl.cell.cell.ERROR_CODES: with values_only a formula error (#N/A) comes as this text, which
# read_excel made a missing value
_ERROR_CODES = frozenset(("#NULL!", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#N/A"))


@dataclass
class LoadedCorpus:
    """A loaded table plus human-readable warnings (truncation, encoding fallback, format guess)."""

    frame: pd.DataFrame
    warnings: list[str] = field(default_factory=list)
    format: str = ""


def _size_text(n_bytes: int) -> Message:
    # In binary units, as the limit is set (core.limits.MIB) and as Gradio's own upload check words it
    # ("maximum allowed size of 5.0 Mb" is 5 MiB): a 5,000,000-byte limit read "4.8 Mb" there (issue 26).
    if n_bytes >= MIB:
        return Message("size_mb", size=n_bytes / MIB, bytes=n_bytes)
    if n_bytes >= KIB:
        return Message("size_kb", size=n_bytes / KIB, bytes=n_bytes)
    return Message("size_bytes", bytes=n_bytes)


def _sniff_binary(head: bytes) -> str | None:
    """Format named by magic bytes, or None for (probably) text."""
    if head.startswith(b"PAR1"):
        return "parquet"
    if head.startswith(b"PK\x03\x04"):
        return "xlsx"
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        return "xls"
    return None


def _looks_binary(data: bytes) -> bool:
    # Text files (UTF-8 or cp1251) never contain NUL (looked for everywhere: one memchr over at most
    # max_bytes) and rarely control bytes other than \t \r \n.
    if b"\x00" in data:
        return True
    sample = data[:65536]
    controls = sum(1 for b in sample if b < 32 and b not in (9, 10, 13, 12))
    return controls > max(2, len(sample) // 100)


def _decode(data: bytes) -> tuple[str, list[str]]:
    """UTF-8 (BOM stripped) first, Windows-1251 (old Russian Excel exports) as the fallback.

    UTF-16 is accepted only with its BOM: that is what Excel's "Unicode text" export writes.
    """
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16"), []
        except UnicodeDecodeError as exc:
            raise UserError("file_broken_utf16") from exc
    try:
        return data.decode("utf-8-sig"), []
    except UnicodeDecodeError:
        pass
    try:
        text = data.decode("cp1251")
    except UnicodeDecodeError as exc:
        raise UserError("file_not_utf8_or_cp1251") from exc
    return text, [Message("file_read_as_cp1251")]


def _error_text(exc: BaseException) -> str:
    """An exception's own words for the user, quotes kept as written."""
    if isinstance(exc, KeyError) and len(exc.args) == 1 and isinstance(exc.args[0], str):
        return exc.args[0]  # str(KeyError(...)) would wrap the message in a second pair of quotes
    return str(exc).strip() or type(exc).__name__


def _header_fields(header: str, delimiter: str) -> list[str]:
    try:
        return next(csv.reader([header], delimiter=delimiter), [])
    except csv.Error:
        # a field over csv's 128 KB limit: with this delimiter the line is not a header (an
        # unterminated quote, or a long line of text without this delimiter)
        return []


def _guess_delimiter(text: str) -> tuple[str | None, int]:
    """The delimiter that splits the header line most (None when none does) and the column count."""
    header = next(iter(text.splitlines()), "")
    counts = {d: len(_header_fields(header, d)) for d in ("\t", ";", ",")}
    best = max(counts, key=lambda d: counts[d])
    return (best, counts[best]) if counts[best] > 1 else (None, 1)


def _one_column_name(header: str) -> str:
    """The header of a one-column file, unquoted as CSV does (quotes inside a name are kept)."""
    try:
        fields = next(csv.reader([header]), [])
    except csv.Error as exc:
        raise ValueError(f"could not parse the CSV header: {_error_text(exc)}") from exc
    return fields[0].strip() if fields else ""


def _read_delimited(text: str, delimiter: str, fmt: str) -> pd.DataFrame:
    try:
        with warnings.catch_warnings():
            # Rows wider than the header would otherwise be shifted silently (pandas makes the
            # extra fields an index, or with index_col=False drops them with only a warning).
            warnings.simplefilter("error", pd.errors.ParserWarning)
            # keep_default_na=False: a sentence like "None" or "NA" is text, not a missing value;
            # only truly empty cells become NaN.
            return pd.read_csv(
                io.StringIO(text),
                sep=delimiter,
                index_col=False,
                keep_default_na=False,
                na_values=[""],
                on_bad_lines="error",
            )
    except pd.errors.EmptyDataError as exc:
        raise UserError("file_no_rows") from exc
    except pd.errors.ParserWarning as exc:
        raise UserError("file_extra_fields", format=fmt.upper()) from exc
    except (pd.errors.ParserError, csv.Error, ValueError) as exc:
        raise UserError("file_unparsable", format=fmt.upper(), reason=_error_text(exc)) from exc


def _parses_as_one_column(text: str) -> bool:
    try:
        return all(len(row) <= 1 for row in csv.reader(io.StringIO(text)))
    except csv.Error:
        return False


def _read_txt(text: str, column: str = "text") -> pd.DataFrame:
    lines = [line for line in text.splitlines() if line.strip()]
    return pd.DataFrame({column: lines})


class _Refused(Exception):
    """A workbook refused while openpyxl parses it, with the whole message for the user.

    Not a ValueError on purpose: openpyxl rewraps those in a generic "invalid XML" message, and its
    own ValueErrors must not pass as ours. _read_xlsx turns it into a ValueError.
    """


@dataclass
class _Meter:
    """Counts the XML bytes and tags openpyxl reads, against limits that depend on the phase."""

    max_bytes: int
    max_tags: int
    what: str  # the end of the refusal message: why the limit is there
    n_bytes: int = 0
    n_tags: int = 0

    def restart(self) -> None:
        self.n_bytes = self.n_tags = 0

    def expect(self, n_bytes: int, name: str) -> None:
        """Refuse before reading a part whose listed size alone is over the limit."""
        if self.n_bytes + n_bytes > self.max_bytes:
            raise _Refused(f"{_UNSAFE}: {name} unpacks to {_size_text(n_bytes)}; {self.what}")

    def take(self, chunk: bytes, name: str) -> None:
        self.n_bytes += len(chunk)
        self.n_tags += chunk.count(b"<")
        if self.n_bytes > self.max_bytes:
            raise _Refused(f"{_UNSAFE}: more than {_size_text(self.max_bytes)} of XML at {name}; {self.what}")
        if self.n_tags > self.max_tags:
            raise _Refused(f"{_UNSAFE}: more than {self.max_tags:,} XML tags at {name}; {self.what}")


class _MeteredStream:
    """A zip member as openpyxl reads it: metered, and refused if it holds a DTD or is UTF-16.

    A DTD's entities can expand a few bytes into megabytes (billion laughs); OOXML never has one, and
    defusedxml, which openpyxl would use to refuse them, is not installed. UTF-16 XML would hide
    "<!DOCTYPE" from the byte scan below; Excel and every other writer use UTF-8.
    """

    _DTD_MARKS = (b"<!DOCTYPE", b"<!ENTITY")

    def __init__(self, raw: Any, meter: _Meter, name: str, unsized_limit: int | None = None) -> None:
        self._raw = raw
        self._meter = meter
        self._name = name
        self._unsized_limit = unsized_limit  # for a worksheet while the workbook is being opened
        self._n_bytes = 0
        self._tail = b""  # the end of the previous chunk: a mark may straddle two reads
        self._first = True

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:  # read whole in chunks so the meter can stop it early
            return b"".join(iter(lambda: self.read(1 << 16), b""))
        chunk = self._raw.read(size)
        if self._first and chunk.lstrip(b"\xef\xbb\xbf").startswith(
            (b"\xff\xfe", b"\xfe\xff", b"<\x00", b"\x00<")
        ):
            raise _Refused(f"{_UNSAFE}: {self._name} is UTF-16 XML, which this app does not read")
        self._first = False
        window = self._tail + chunk
        if any(mark in window for mark in self._DTD_MARKS):
            raise _Refused(
                f"{_UNSAFE}: {self._name} declares XML entities (a DTD), which a workbook never has"
            )
        self._tail = window[-(len(self._DTD_MARKS[0]) - 1) :]
        self._n_bytes += len(chunk)
        if self._unsized_limit is not None and self._n_bytes > self._unsized_limit:
            raise _Refused(
                f"{_UNSAFE}: opening the workbook would parse all of {self._name}, more than "
                f"{_size_text(self._unsized_limit)}. A worksheet is parsed whole only when it has no "
                "<dimension> record; saving the file again in Excel or LibreOffice adds one"
            )
        self._meter.take(chunk, self._name)
        return chunk

    def close(self) -> None:
        self._raw.close()

    def __enter__(self) -> _MeteredStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _MeteredArchive:
    """The zip as openpyxl sees it: every member it reads or opens goes through a _MeteredStream."""

    def __init__(self, archive: zipfile.ZipFile, meter: _Meter, unsized_sheet_limit: int | None) -> None:
        self._archive = archive
        self.meter = meter
        # Opening a read-only workbook reads each worksheet only up to its <dimension> record, a few
        # hundred bytes in; without one openpyxl parses the whole sheet (150 MB: 3 s). None once the
        # workbook is open and rows are streamed.
        self.unsized_sheet_limit = unsized_sheet_limit

    def __getattr__(self, name: str) -> Any:  # namelist, filename, close, ...
        return getattr(self._archive, name)

    def open(self, name: str, mode: Literal["r", "w"] = "r", *args: Any, **kwargs: Any) -> _MeteredStream:
        raw = self._archive.open(name, mode, *args, **kwargs)
        limit = self.unsized_sheet_limit if _is_worksheet(name) else None
        return _MeteredStream(raw, self.meter, name, limit)

    def read(self, name: str, *args: Any) -> bytes:
        self.meter.expect(self._archive.getinfo(name).file_size, name)
        with self.open(name) as stream:
            return stream.read()


def _check_zip_directory(data: bytes, max_bytes: int) -> None:
    """Refuse damaged, foreign and bomb-like archives from the zip directory alone, before parsing."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, ValueError) as exc:
        raise UserError("file_damaged_xlsx") from exc
    if not any(info.filename.startswith("xl/") for info in infos):
        raise UserError("file_zip_not_xlsx")
    inflated = sum(info.file_size for info in infos)
    if inflated > _MAX_XLSX_INFLATION * max_bytes:
        raise ValueError(
            f"the XLSX unpacks to {_size_text(inflated)}, too large to read safely "
            f"(limit {_size_text(_MAX_XLSX_INFLATION * max_bytes)})"
        )
    # Parts outside xl/worksheets/ are what openpyxl reads whole; _MeteredArchive also catches a
    # workbook that points openpyxl at a big part stored elsewhere.
    whole = [info for info in infos if not _is_worksheet(info.filename)]
    whole_size = sum(info.file_size for info in whole)
    if whole_size > _MAX_WHOLE_PARTS_INFLATION * max_bytes:
        biggest = max(whole, key=lambda info: info.file_size)
        raise ValueError(
            f"the XLSX's shared strings, styles and other parts that are read whole unpack to "
            f"{_size_text(whole_size)} ({biggest.filename}: {_size_text(biggest.file_size)}), too large "
            f"to read safely (limit {_size_text(_MAX_WHOLE_PARTS_INFLATION * max_bytes)})"
        )


def _is_worksheet(name: str) -> bool:
    return name.startswith(_WORKSHEET_PREFIX) and name.endswith(".xml")


def _open_workbook(data: bytes, max_bytes: int) -> tuple[Any, _MeteredArchive]:
    """openpyxl's ``load_workbook(read_only=True, data_only=True)``, reading through a _MeteredArchive.

    load_workbook is ExcelReader(...).read(); building the reader ourselves is the one way to meter
    what it reads. Read-only openpyxl streams rows later, but opening the workbook reads every part
    but the rows whole (_MAX_WHOLE_PARTS_*), and a worksheet without a <dimension> record too (limited
    to the upload size: ~0.1 s of parsing at the 5 MB default).
    """
    from openpyxl.reader.excel import ExcelReader

    meter = _Meter(
        _MAX_WHOLE_PARTS_INFLATION * max_bytes,
        _MAX_WHOLE_PARTS_TAGS,
        "the parts of a workbook that are read whole (shared strings, styles, the workbook) "
        "cannot be that large safely; save the rows you need as CSV",
    )
    # keep_links=False: pandas' choice too; links to other workbooks are never needed here
    reader = ExcelReader(io.BytesIO(data), read_only=True, data_only=True, keep_links=False)
    archive = _MeteredArchive(reader.archive, meter, unsized_sheet_limit=max_bytes)
    # Duck-typed: openpyxl only opens, reads and lists members of its archive.
    reader.archive = archive  # type: ignore[assignment]
    reader.read()
    # from now on openpyxl only streams rows: limits per row instead
    archive.unsized_sheet_limit = None
    meter.max_bytes, meter.max_tags = _MAX_ROW_XML_BYTES, _MAX_ROW_TAGS
    meter.what = "rows that big are not supported"
    return reader.wb, archive


def _cell_value(value: Any) -> Any:
    """A cell as pandas' read_excel converts it: empty is "", 3.0 is 3, an error (#N/A) is missing."""
    if value is None:
        return ""
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value in _ERROR_CODES:
        return math.nan
    return value


def _sheet_rows(sheet: Any, max_rows: int, meter: _Meter) -> tuple[list[list[Any]], bool]:
    """The header and up to ``max_rows`` rows, streamed; True when the sheet has more rows.

    Blank rows count (read_excel keeps them) and trailing ones are dropped, as read_excel does.
    """
    sheet.reset_dimensions()  # read to the real end, not a declared (possibly wrong) <dimension>
    rows: list[list[Any]] = []
    last_filled = -1
    blank_after_cap = 0
    more = False
    values_iter = sheet.iter_rows(values_only=True)
    try:
        meter.restart()
        for values in values_iter:
            meter.restart()  # the row limits hold per row
            row = [_cell_value(v) for v in values]
            while row and row[-1] == "":
                row.pop()
            if len(row) > _MAX_COLUMNS:
                raise _Refused(_too_many_columns(len(row)))
            if len(rows) > max_rows:  # the header and max_rows rows are in: only look for more data
                blank_after_cap += 1
                if row or blank_after_cap > _BLANK_ROWS_AFTER_CAP:
                    more = True
                    break
                continue
            if row:
                last_filled = len(rows)
            rows.append(row)
    finally:
        values_iter.close()  # closes the worksheet stream when we stopped early
    return rows[: last_filled + 1], more


def _rows_to_frame(rows: list[list[Any]]) -> pd.DataFrame:
    """The first row is the header; the same parser as read_excel (names, dtypes, "" is missing)."""
    # pandas-stubs leave out TextParser, which pandas' own read_excel uses.
    from pandas.io.parsers import TextParser  # type: ignore[attr-defined]

    if not rows:
        return pd.DataFrame()
    width = max(len(row) for row in rows)
    rows = [row + [""] * (width - len(row)) for row in rows]
    try:
        return TextParser(
            rows, header=0, keep_default_na=False, na_values=[""], skip_blank_lines=False
        ).read()
    except pd.errors.EmptyDataError:
        return pd.DataFrame()


def _read_xlsx(data: bytes, max_bytes: int, max_rows: int) -> tuple[pd.DataFrame, list[str], bool]:
    """The first worksheet, at most ``max_rows`` rows, streamed; True when rows were left unread."""
    _check_zip_directory(data, max_bytes)
    notes: list[str] = []
    try:
        book, archive = _open_workbook(data, max_bytes)
        try:
            sheets = book.worksheets
            if not sheets:
                raise _Refused(Message("file_no_sheets"))
            rows, more = _sheet_rows(sheets[0], max_rows, archive.meter)
        finally:
            book.close()
        frame = _rows_to_frame(rows)
    except _Refused as exc:
        raise UserError(exc.args[0]) if isinstance(exc.args[0], Message) else ValueError(str(exc)) from exc
    except Exception as exc:  # openpyxl and zipfile raise many types for malformed workbooks
        # openpyxl wraps a parse error in "Unable to read workbook: could not read strings from None";
        # the parser's own words say more
        cause = exc.__cause__ if isinstance(exc, ValueError) and exc.__cause__ is not None else exc
        raise UserError("file_unreadable_xlsx", reason=_error_text(cause)) from exc
    if len(sheets) > 1:
        notes.append(Message("file_first_sheet_only", count=len(sheets), sheet=sheets[0].title))
    return frame, notes, more


def _read_parquet(data: bytes, max_rows: int) -> tuple[pd.DataFrame, int]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(io.BytesIO(data))
        total = parquet.metadata.num_rows
        n_columns = parquet.metadata.num_columns
    except Exception as exc:  # pyarrow raises ArrowInvalid, OSError, ... for broken files
        raise UserError("file_unreadable_parquet", reason=_error_text(exc)) from exc
    if n_columns > _MAX_COLUMNS:
        raise UserError("file_too_many_columns", count=n_columns, limit=_MAX_COLUMNS)
    try:
        # Read batch by batch and stop after max_rows (+1 to know we truncated): a small, highly
        # compressed file cannot make us materialise millions of rows.
        batches = []
        have = 0
        for batch in parquet.iter_batches(batch_size=min(max(max_rows, 1), 65536) + 1):
            batches.append(batch)
            have += batch.num_rows
            if have > max_rows:
                break
        table = pa.Table.from_batches(batches, schema=parquet.schema_arrow)
        frame = _plain_columns(table.to_pandas())
    except Exception as exc:
        raise UserError("file_unreadable_parquet", reason=_error_text(exc)) from exc
    return frame, int(total)


def _plain_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """Categorical (dictionary-encoded) and Arrow-typed columns as plain values, so texts read as texts.

    Parquet writers often dictionary-encode repeated strings; pandas reads those as categoricals, whose
    values cannot be measured as strings (``Categorical.mean`` fails) or mixed with other values.
    """
    for name in frame.columns:
        dtype = frame[name].dtype
        if isinstance(dtype, pd.CategoricalDtype | pd.ArrowDtype):
            frame[name] = frame[name].astype(object).where(frame[name].notna(), None)
    return frame


def _too_many_columns(n_columns: int) -> Message:
    return Message("file_too_many_columns", count=n_columns, limit=_MAX_COLUMNS)


def _read_any(
    data: bytes, fmt: str, by_extension: str | None, name: str, max_bytes: int, max_rows: int
) -> tuple[pd.DataFrame, str, int | None, list[str]]:
    """The table in ``data``, its final format, its row count (None: more than ``max_rows``, the rest
    unread) and warnings."""
    if fmt == "xlsx":
        frame, notes, cut = _read_xlsx(data, max_bytes, max_rows)
        return frame, fmt, None if cut else len(frame), notes
    if fmt == "parquet":
        frame, total = _read_parquet(data, max_rows)
        return frame, fmt, total, []
    frame, fmt, notes = _read_text(data, fmt, by_extension, name)
    return frame, fmt, len(frame), notes


def _read_text(
    data: bytes, fmt: str, by_extension: str | None, name: str
) -> tuple[pd.DataFrame, str, list[str]]:
    text, notes = _decode(data)
    delimiter, n_columns = _guess_delimiter(text)
    if fmt != "txt" and delimiter is not None:
        # the header's delimiter decides: a .tsv holding commas (or the reverse) is common
        fmt = "tsv" if delimiter == "\t" else "csv"
    elif fmt == "text":
        fmt = "txt"
    if by_extension is not None and by_extension != fmt:
        notes.append(Message("file_read_as_other", name=name, expected=by_extension.upper(), format=fmt.upper()))
    if fmt == "txt":
        return _read_txt(text), fmt, notes
    # checked on the header line alone, before pandas builds a column for every name
    if n_columns > _MAX_COLUMNS:
        raise UserError("file_too_many_columns", count=n_columns, limit=_MAX_COLUMNS)
    if delimiter is None and fmt == "csv" and not _parses_as_one_column(text):
        # A header with one name over lines holding unquoted commas: a list of sentences
        # saved as .csv by hand. Reading it line by line keeps every sentence whole.
        header, _, body = text.partition("\n")
        notes.append(Message("file_lines_as_texts"))
        return _read_txt(body, _one_column_name(header.strip()) or "text"), fmt, notes
    # a one-column file has no delimiter in its header; the extension's default is harmless
    return _read_delimited(text, delimiter or ("\t" if fmt == "tsv" else ","), fmt), fmt, notes


def load_table(path: str | Path, *, max_bytes: int = 5_000_000, max_rows: int = 5_000) -> LoadedCorpus:
    """Read a corpus file into a DataFrame, refusing what is too big, empty, binary or unknown.

    The format comes from the extension, checked against the content's magic bytes: a workbook
    saved as ``.csv`` or a CSV named ``.dat`` is still read (with a warning). More than
    ``max_rows`` rows keeps the first ``max_rows`` and says so in ``warnings``.
    """
    path = Path(path)
    if not path.is_file():
        raise UserError("file_not_found", name=path.name)
    if max_bytes < 1 or max_rows < 1:
        raise ValueError("max_bytes and max_rows must be positive")
    # Size first, from the file system: an oversized upload must not be read into memory at all.
    size = path.stat().st_size
    if size > max_bytes:
        raise UserError("file_too_large", name=path.name, size=_size_text(size), limit=_size_text(max_bytes))
    if size == 0:
        raise UserError("file_empty", name=path.name)
    data = path.read_bytes()

    notes: list[str] = []
    by_extension = _EXTENSIONS.get(path.suffix.lower())
    by_content = _sniff_binary(data[:8])
    if by_content == "xls":
        raise UserError("file_old_xls")
    utf16 = data.startswith((b"\xff\xfe", b"\xfe\xff"))  # NUL bytes are normal there
    if by_content is None and not utf16 and _looks_binary(data):
        raise UserError("file_binary", name=path.name)

    if by_content is not None:
        fmt = by_content
    elif by_extension in ("csv", "tsv", "txt"):
        fmt = by_extension
    else:
        fmt = "text"  # text content with a wrong or unknown extension: guess the layout below
    if by_extension is not None and by_extension != fmt and fmt != "text":
        notes.append(Message("file_wrong_extension", name=path.name, extension=by_extension, format=fmt.upper()))

    try:
        frame, fmt, total, more = _read_any(data, fmt, by_extension, path.name, max_bytes, max_rows)
    except ValueError:
        raise
    except Exception as exc:  # RecursionError, OverflowError, MemoryError, a parser's own type, ...
        # Every reader turns the failures it knows into a clear ValueError; this is the net for the
        # rest, so that a hostile upload never reaches the client as a traceback.
        raise UserError("file_unreadable", name=path.name, format=fmt.upper(), reason=_error_text(exc)) from exc
    notes += more

    frame.columns = [str(c).strip() for c in frame.columns]
    if frame.shape[1] == 0 or len(frame) == 0:
        raise UserError("file_no_data_rows", name=path.name)
    if total is None or total > max_rows:
        frame = frame.iloc[:max_rows].reset_index(drop=True)
        notes.append(Message("file_rows_cut", kept=max_rows) if total is None
                     else Message("file_rows_cut_of", kept=max_rows, total=total))
    if not text_columns(frame):
        raise UserError("file_no_text_column", name=path.name, columns=", ".join(map(str, frame.columns)))
    return LoadedCorpus(frame=frame, warnings=notes, format=fmt)


def _is_textual(series: pd.Series) -> bool:
    return pd.api.types.is_object_dtype(series) or pd.api.types.is_string_dtype(series)


# A vector written as text: numbers separated by spaces or commas, optionally in brackets, as this app's
# CSV export ("0.01 -0.2 ...") and json.dumps ("[0.01, -0.2, ...]") write them. Two numbers at least, so
# a column of single numbers stored as text is not taken for one.
_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_VECTOR_TEXT = re.compile(rf"\s*\[?\s*{_NUMBER}(?:\s*[,\s]\s*{_NUMBER})+\s*,?\s*\]?\s*")
# Enough leading values to tell a column's kind without walking 50,000 rows.
_KIND_SAMPLE = 50


def _is_vector(value: Any) -> bool:
    if isinstance(value, np.ndarray | list | tuple):
        return len(value) > 0 and all(isinstance(v, int | float | np.number) and not isinstance(v, bool)
                                      for v in value[:8])
    return isinstance(value, str) and _VECTOR_TEXT.fullmatch(value[:20_000]) is not None


def embedding_columns(frame: pd.DataFrame) -> list[str]:
    """Columns of precomputed embeddings: most non-empty values are numeric vectors (a Parquet list
    column, or text such as ``"0.1 0.2 ..."`` or ``"[0.1, 0.2, ...]"``). Named ``embedding`` first."""
    found = []
    for name in frame.columns:
        series = frame[name]
        if not pd.api.types.is_object_dtype(series) and not pd.api.types.is_string_dtype(series):
            continue
        values = [v for v in series.iloc[: _KIND_SAMPLE * 4].tolist() if _filled(v)][:_KIND_SAMPLE]
        if values and sum(map(_is_vector, values)) > 0.5 * len(values):
            found.append(str(name))
    return sorted(found, key=lambda c: (c.lower() not in ("embedding", "embeddings"), found.index(c)))


def _filled(value: Any) -> bool:
    if isinstance(value, np.ndarray | list | tuple):
        return True
    return not (value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))
                or (isinstance(value, str) and not value.strip()))


def _vector(value: Any) -> np.ndarray:
    if isinstance(value, str):
        text = value.strip().strip("[]").replace(",", " ")
        return np.array(text.split(), dtype=np.float64)
    return np.asarray(value, dtype=np.float64).reshape(-1)


def extract_embeddings(
    frame: pd.DataFrame, column: str, text_column: str, dim: int
) -> np.ndarray:
    """The precomputed vectors of the rows :func:`extract_texts` keeps (those with a text), float32.

    Every kept row must hold ``dim`` finite numbers, not all zero; otherwise a ``ValueError`` names
    the row (counted from 1 among the file's data rows, as a spreadsheet shows them after its header)
    and the expected and actual dimension.
    """
    columns = [str(c) for c in frame.columns]
    for role, name in (("embedding", column), ("text", text_column)):
        if name not in columns:
            raise UserError("column_not_found", role=word("role", role), name=name, columns=", ".join(columns))
    if isinstance(dim, bool) or not isinstance(dim, int) or dim < 1:
        raise ValueError(f"dim must be a positive whole number, got {dim!r}")
    keep = [i for i, text in enumerate(frame[text_column].tolist()) if _clean_text(text)]
    raw = frame[column].tolist()
    out = np.empty((len(keep), dim), dtype=np.float32)
    for position, row in enumerate(keep):
        value = raw[row]
        if not _filled(value):
            raise UserError("embedding_missing", row=row + 1, column=column, dim=dim)
        try:
            vector = _vector(value)
        except (TypeError, ValueError):
            raise UserError("embedding_not_numbers", row=row + 1, column=column, value=str(value)[:60]) from None
        if vector.size != dim:
            raise UserError("embedding_wrong_size", row=row + 1, column=column, size=vector.size, dim=dim)
        if not np.isfinite(vector).all() or np.abs(vector).max() > 1e30:
            raise UserError("embedding_not_finite", row=row + 1, column=column)
        if not vector.any():
            raise UserError("embedding_zero", row=row + 1, column=column)
        out[position] = vector
    return out


def text_columns(frame: pd.DataFrame) -> list[str]:
    """Columns that hold text (mostly non-numeric strings), longest mean length first."""
    scored = []
    for name in frame.columns:
        series = frame[name]
        if not _is_textual(series):
            continue
        values = series.dropna()
        strings = values[values.map(lambda v: isinstance(v, str) and v.strip() != "")]
        # a column of numbers stored as text (ids, codes) is not a corpus, nor one of vectors as text
        if len(strings) == 0 or pd.to_numeric(strings, errors="coerce").notna().mean() > 0.5:
            continue
        head = strings.iloc[:_KIND_SAMPLE]
        if head.map(_is_vector).mean() > 0.5:
            continue
        if len(strings) < 0.5 * len(values):
            continue
        scored.append((-float(strings.str.len().mean()), list(frame.columns).index(name), str(name)))
    return [name for _, _, name in sorted(scored)]


def label_candidates(frame: pd.DataFrame, max_labels: int = 100) -> list[str]:
    """Columns that look like class labels: 2..max_labels distinct values, repeated across rows.

    Float columns are skipped (continuous scores, not classes); columns keep the table's order.
    """
    n_rows = len(frame)
    out = []
    for name in frame.columns:
        series = frame[name]
        if pd.api.types.is_float_dtype(series):
            continue
        if series.map(lambda v: isinstance(v, np.ndarray | list | tuple | dict)).any():
            continue  # vectors (a Parquet list column) are not classes, and cannot be counted as values
        n_unique = series.dropna().nunique()
        # labels repeat: if (almost) every row has its own value it is an id or the text itself
        if 2 <= n_unique <= max_labels and n_unique <= max(2, n_rows // 2):
            out.append(str(name))
    return out


def _clean_text(value: Any) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)) or value is pd.NA:
        return ""
    return clean_text(str(value))


def _label_text(value: Any) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)) or value is pd.NA:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # integer labels read as float because of gaps: "3", not "3.0"
    return unicodedata.normalize("NFC", str(value)).strip()


def extract_texts(
    frame: pd.DataFrame, text_column: str, label_column: str | None = None
) -> tuple[list[str], list[str] | None, int]:
    """Texts (str, stripped, NFC) and their labels; rows with an empty text are dropped and counted.

    Returns ``(texts, labels or None, skipped_count)``. A missing label becomes ``""``.
    """
    columns = [str(c) for c in frame.columns]
    for role, name in (("text", text_column), ("label", label_column)):
        if name is not None and name not in columns:
            raise UserError("column_not_found", role=word("role", role), name=name, columns=", ".join(columns))
    texts_raw = frame[text_column].tolist()
    labels_raw = frame[label_column].tolist() if label_column is not None else None
    texts: list[str] = []
    labels: list[str] | None = [] if labels_raw is not None else None
    skipped = 0
    for i, value in enumerate(texts_raw):
        text = _clean_text(value)
        if not text:
            skipped += 1
            continue
        texts.append(text)
        if labels is not None and labels_raw is not None:
            labels.append(_label_text(labels_raw[i]))
    return texts, labels, skipped


def load_sample() -> pd.DataFrame:
    """The bundled demo corpus: Russian sentences with a ``topic`` label (assets/sample_corpus.csv)."""
    return pd.read_csv(SAMPLE_PATH, keep_default_na=False, na_values=[""])
