"""Convert once, atomically, into the user cache; later starts only check a hash and load the folder.

A converted model lives in ``<cache>/models/multilingual-e5-small-<first 16 hex of the source's
sha256>``, where ``<cache>`` is ``$USER_STUDIO_CACHE_DIR``, else ``$XDG_CACHE_HOME/user-studio``, else
``~/.cache/user-studio``. Deleting the folder is safe: the next use converts again.

Why it cannot be left broken: the conversion writes into a temporary sibling folder (every file
fsynced), writes ``conversion.json`` (the source's full sha256, the converter version and each file's
size) last, and only then renames the folder into place. A folder is used only when that record
matches the current source and converter and every listed file has its recorded size; anything else
is moved aside and converted afresh. Two processes converting at once each use their own temporary
folder; the loser of the rename discards its copy and uses the winner's.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from core.encoding.e5.convert import convert, write_json

MODEL_NAME = "multilingual-e5-small"
CACHE_ENV = "USER_STUDIO_CACHE_DIR"
RECORD = "conversion.json"
# Bump when the converted folder's contents change, so old caches are converted again.
CONVERTER_VERSION = 1
STALE_TEMP_S = 3600.0


@dataclass(frozen=True)
class ConvertedModel:
    """A ready sentence-transformers folder and where it came from."""

    path: Path
    sha256: str
    converted_now: bool  # False when an earlier conversion was reused


def cache_root() -> Path:
    """USER Studio's cache folder (not the Hugging Face cache: these files are ours)."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser() / "user-studio"


def models_dir(cache_dir: Path | None = None) -> Path:
    return (cache_dir if cache_dir is not None else cache_root()) / "models"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(1 << 22):
            digest.update(block)
    return digest.hexdigest()


def folder_for(sha256: str, cache_dir: Path | None = None) -> Path:
    """Where the conversion of the source with this hash lives."""
    return models_dir(cache_dir) / f"{MODEL_NAME}-{sha256[:16]}"


def is_complete(folder: Path, sha256: str) -> bool:
    """True when ``folder`` holds a finished conversion of the source with this hash."""
    try:
        record = json.loads((folder / RECORD).read_text())
    except (OSError, ValueError):
        return False
    if record.get("source_sha256") != sha256 or record.get("converter_version") != CONVERTER_VERSION:
        return False
    files = record.get("files")
    if not isinstance(files, dict) or not files:
        return False
    for relative, size in files.items():
        try:
            if (folder / relative).stat().st_size != size:
                return False
        except OSError:
            return False
    return True


Converter = Callable[[Path, Path, str], list[str]]


def _default_converter(source: Path, folder: Path, sha256: str) -> list[str]:
    return convert(source, folder, sha256=sha256, write=write_json)


def ensure_converted(
    source: str | Path,
    cache_dir: str | Path | None = None,
    *,
    converter: Converter = _default_converter,
) -> ConvertedModel:
    """The converted folder for ``source``, converting it first when no valid one exists."""
    source = Path(source)
    if not source.is_file():
        raise FileNotFoundError(f"E5S1 model file {source} does not exist")
    sha256 = sha256_file(source)
    final = folder_for(sha256, Path(cache_dir) if cache_dir is not None else None)
    root = final.parent
    if is_complete(final, sha256):
        return ConvertedModel(final, sha256, converted_now=False)
    root.mkdir(parents=True, exist_ok=True)
    if final.exists():
        if is_complete(final, sha256):  # another process finished it a moment ago
            return ConvertedModel(final, sha256, converted_now=False)
        _discard(final)  # a mismatched or damaged folder is never used
    _remove_stale_temporaries(root)
    temporary = _new_sibling(final, "tmp")
    try:
        files = converter(source, temporary, sha256)
        sizes = {relative: (temporary / relative).stat().st_size for relative in files}
        write_json(temporary / RECORD, {
            "model": MODEL_NAME,
            "source": str(source),
            "source_sha256": sha256,
            "converter_version": CONVERTER_VERSION,
            "converted_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "files": sizes,
        })
        try:
            os.rename(temporary, final)
        except OSError:
            if not is_complete(final, sha256):  # not a concurrent conversion that finished first
                raise
            shutil.rmtree(temporary, ignore_errors=True)
            return ConvertedModel(final, sha256, converted_now=False)
        _fsync_dir(root)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    return ConvertedModel(final, sha256, converted_now=True)


def _discard(folder: Path) -> None:
    """Move a folder out of the way first (one atomic step), then delete it."""
    aside = _new_sibling(folder, "old")
    with contextlib.suppress(FileNotFoundError):  # another process discarded it first
        os.rename(folder, aside / folder.name)
    shutil.rmtree(aside, ignore_errors=True)


def _new_sibling(folder: Path, kind: str) -> Path:
    """A fresh hidden folder beside ``folder`` (same file system, so renames are atomic); os.mkdir
    rather than mkdtemp so the converted folder gets the user's usual permissions."""
    while True:
        candidate = folder.parent / f".{folder.name}.{kind}-{os.getpid()}-{secrets.token_hex(4)}"
        try:
            candidate.mkdir()
            return candidate
        except FileExistsError:
            continue


def _remove_stale_temporaries(root: Path) -> None:
    """Leftovers of a killed conversion (an exception cleans up after itself; SIGKILL cannot)."""
    now = time.time()
    for entry in root.glob(f".{MODEL_NAME}-*"):
        try:
            if entry.is_dir() and now - entry.stat().st_mtime > STALE_TEMP_S:
                shutil.rmtree(entry, ignore_errors=True)
        except OSError:
            pass


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
