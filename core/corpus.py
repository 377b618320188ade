"""Load a user's corpus (CSV, TSV, TXT, XLSX, Parquet) safely and pull texts and labels out of it.

Uploaded files are untrusted: the size is checked before a single byte is parsed, rows are capped,
binary junk and unknown formats are refused with a clear ``ValueError`` (the UI shows its message
as is), and text is kept verbatim (HTML-looking strings included: escaping is the UI's job).
"""

from __future__ import annotations

import csv
import io
import unicodedata
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from core.text import clean_text

__all__ = [
    "FORMATS",
    "LoadedCorpus",
    "extract_texts",
    "label_candidates",
    "load_sample",
    "load_table",
    "text_columns",
]

SAMPLE_PATH = Path(__file__).resolve().parents[1] / "assets" / "sample_corpus.csv"

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
# An XLSX is a zip; a tiny upload could inflate to gigabytes (zip bomb). Refuse archives whose
# content is far bigger than any honest spreadsheet of the allowed size.
_MAX_XLSX_INFLATION = 40


@dataclass
class LoadedCorpus:
    """A loaded table plus human-readable warnings (truncation, encoding fallback, format guess)."""

    frame: pd.DataFrame
    warnings: list[str] = field(default_factory=list)
    format: str = ""


def _size_text(n_bytes: int) -> str:
    if n_bytes >= 1_000_000:
        return f"{n_bytes / 1_000_000:.1f} MB ({n_bytes:,} bytes)"
    if n_bytes >= 1_000:
        return f"{n_bytes / 1_000:.1f} KB ({n_bytes:,} bytes)"
    return f"{n_bytes:,} bytes"


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
    # Text files (UTF-8 or cp1251) never contain NUL and rarely control bytes other than \t \r \n.
    sample = data[:65536]
    if b"\x00" in sample:
        return True
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
            raise ValueError(f"{_NOT_SUPPORTED}: broken UTF-16 text") from exc
    try:
        return data.decode("utf-8-sig"), []
    except UnicodeDecodeError:
        pass
    try:
        text = data.decode("cp1251")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{_NOT_SUPPORTED}: the text is neither UTF-8 nor Windows-1251") from exc
    return text, ["The file is not UTF-8; it was read as Windows-1251 (cp1251)."]


def _guess_delimiter(text: str) -> str | None:
    """The delimiter that splits the header line most, or None when the header has none."""
    header = next(iter(text.splitlines()), "")
    counts = {d: len(next(csv.reader([header], delimiter=d), [])) - 1 for d in ("\t", ";", ",")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] > 0 else None


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
        raise ValueError("the file has no rows") from exc
    except pd.errors.ParserWarning as exc:
        raise ValueError(
            f"could not parse the file as {fmt.upper()}: some rows have more fields than the header "
            "(unquoted delimiters inside a text?)"
        ) from exc
    except (pd.errors.ParserError, csv.Error, ValueError) as exc:
        raise ValueError(f"could not parse the file as {fmt.upper()}: {exc}") from exc


def _parses_as_one_column(text: str) -> bool:
    try:
        return all(len(row) <= 1 for row in csv.reader(io.StringIO(text)))
    except csv.Error:
        return False


def _read_txt(text: str, column: str = "text") -> pd.DataFrame:
    lines = [line for line in text.splitlines() if line.strip()]
    return pd.DataFrame({column: lines})


def _read_xlsx(data: bytes, max_bytes: int) -> tuple[pd.DataFrame, list[str]]:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            inflated = sum(info.file_size for info in archive.infolist())
            names = archive.namelist()
    except zipfile.BadZipFile as exc:
        raise ValueError(f"{_NOT_SUPPORTED}: it looks like a damaged XLSX (zip) archive") from exc
    if not any(name.startswith("xl/") for name in names):
        raise ValueError(f"{_NOT_SUPPORTED}: it is a zip archive but not an Excel XLSX workbook")
    if inflated > _MAX_XLSX_INFLATION * max(max_bytes, 1):
        raise ValueError(
            f"the XLSX unpacks to {_size_text(inflated)}, too large to read safely "
            f"(limit {_size_text(_MAX_XLSX_INFLATION * max_bytes)})"
        )
    notes: list[str] = []
    try:
        with pd.ExcelFile(io.BytesIO(data), engine="openpyxl") as book:
            sheets = book.sheet_names
            if not sheets:
                raise ValueError("the workbook has no sheets")
            frame = book.parse(sheets[0], keep_default_na=False, na_values=[""])
    except ValueError:
        raise
    except Exception as exc:  # openpyxl raises many types for malformed workbooks
        raise ValueError(f"could not read the XLSX workbook: {exc}") from exc
    if len(sheets) > 1:
        notes.append(f"The workbook has {len(sheets)} sheets; only the first, {sheets[0]!r}, was read.")
    return frame, notes


def _read_parquet(data: bytes, max_rows: int) -> tuple[pd.DataFrame, int]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(io.BytesIO(data))
        total = parquet.metadata.num_rows
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
        frame = table.to_pandas()
    except Exception as exc:  # pyarrow raises ArrowInvalid, OSError, ... for broken files
        raise ValueError(f"could not read the Parquet file: {exc}") from exc
    return frame, int(total)


def load_table(path: str | Path, *, max_bytes: int = 5_000_000, max_rows: int = 5_000) -> LoadedCorpus:
    """Read a corpus file into a DataFrame, refusing what is too big, empty, binary or unknown.

    The format comes from the extension, checked against the content's magic bytes: a workbook
    saved as ``.csv`` or a CSV named ``.dat`` is still read (with a warning). More than
    ``max_rows`` rows keeps the first ``max_rows`` and says so in ``warnings``.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"file not found: {path.name}")
    if max_bytes < 1 or max_rows < 1:
        raise ValueError("max_bytes and max_rows must be positive")
    # Size first, from the file system: an oversized upload must not be read into memory at all.
    size = path.stat().st_size
    if size > max_bytes:
        raise ValueError(
            f"{path.name} is {_size_text(size)}; the limit is {_size_text(max_bytes)}. "
            "Upload a smaller file or a sample of it."
        )
    if size == 0:
        raise ValueError(f"{path.name} is empty")
    data = path.read_bytes()

    notes: list[str] = []
    by_extension = _EXTENSIONS.get(path.suffix.lower())
    by_content = _sniff_binary(data[:8])
    if by_content == "xls":
        raise ValueError(f"{_NOT_SUPPORTED}: it is an old Excel .xls workbook; save it as .xlsx or .csv")
    utf16 = data.startswith((b"\xff\xfe", b"\xfe\xff"))  # NUL bytes are normal there
    if by_content is None and not utf16 and _looks_binary(data):
        raise ValueError(f"{path.name} is {_NOT_SUPPORTED} (it looks like binary data)")

    if by_content is not None:
        fmt = by_content
    elif by_extension in ("csv", "tsv", "txt"):
        fmt = by_extension
    else:
        fmt = "text"  # text content with a wrong or unknown extension: guess the layout below
    if by_extension is not None and by_extension != fmt and fmt != "text":
        notes.append(
            f"{path.name} has a .{by_extension} extension but is a {fmt.upper()} file; read it as {fmt.upper()}."
        )

    total: int | None = None
    if fmt == "xlsx":
        frame, more = _read_xlsx(data, max_bytes)
        notes += more
    elif fmt == "parquet":
        frame, total = _read_parquet(data, max_rows)
    else:
        text, more = _decode(data)
        notes += more
        delimiter = _guess_delimiter(text)
        if fmt != "txt" and delimiter is not None:
            # the header's delimiter decides: a .tsv holding commas (or the reverse) is common
            fmt = "tsv" if delimiter == "\t" else "csv"
        elif fmt == "text":
            fmt = "txt"
        if by_extension is not None and by_extension != fmt:
            notes.append(f"{path.name} is not {by_extension.upper()}; it was read as {fmt.upper()}.")
        if fmt == "txt":
            frame = _read_txt(text)
        elif delimiter is None and fmt == "csv" and not _parses_as_one_column(text):
            # A header with one name over lines holding unquoted commas: a list of sentences
            # saved as .csv by hand. Reading it line by line keeps every sentence whole.
            header, _, body = text.partition("\n")
            frame = _read_txt(body, header.strip().strip('"') or "text")
            notes.append("The file has one column but unquoted commas; each line was read as one text.")
        else:
            # a one-column file has no delimiter in its header; the extension's default is harmless
            frame = _read_delimited(text, delimiter or ("\t" if fmt == "tsv" else ","), fmt)

    frame.columns = [str(c).strip() for c in frame.columns]
    if frame.shape[1] == 0 or len(frame) == 0:
        raise ValueError(f"{path.name} has no data rows")
    total = len(frame) if total is None else total
    if total > max_rows:
        frame = frame.iloc[:max_rows].reset_index(drop=True)
        notes.append(f"The file has too many rows: kept the first {max_rows:,} of {total:,} rows.")
    if not text_columns(frame):
        raise ValueError(
            f"{path.name} has no text column (columns: {', '.join(map(str, frame.columns))}); "
            "a corpus needs one column of sentences"
        )
    return LoadedCorpus(frame=frame, warnings=notes, format=fmt)


def _is_textual(series: pd.Series) -> bool:
    return pd.api.types.is_object_dtype(series) or pd.api.types.is_string_dtype(series)


def text_columns(frame: pd.DataFrame) -> list[str]:
    """Columns that hold text (mostly non-numeric strings), longest mean length first."""
    scored = []
    for name in frame.columns:
        series = frame[name]
        if not _is_textual(series):
            continue
        values = series.dropna()
        strings = values[values.map(lambda v: isinstance(v, str) and v.strip() != "")]
        # a column of numbers stored as text (ids, codes) is not a corpus
        if len(strings) == 0 or pd.to_numeric(strings, errors="coerce").notna().mean() > 0.5:
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
            raise ValueError(f"{role} column {name!r} not found; the columns are: {', '.join(columns)}")
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
