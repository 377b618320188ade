"""Where USER Studio keeps its data, and the clock judgments are stamped with."""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path

DATA_DIR_ENV = "USER_STUDIO_DATA_DIR"
SPACE_VOLUME = Path("/data")
STORE_FILENAME = "feedback.sqlite"
STORE_ENV = "USER_STUDIO_STORE"  # the same name as core.storage.STORE_ENV (this module imports no database code)


def default_data_dir(env: Mapping[str, str] | None = None) -> Path:
    """Where USER Studio keeps its data.

    ``$USER_STUDIO_DATA_DIR`` if set; else ``/data/user-studio`` when ``/data`` exists and is writable
    (the persistent volume of a Hugging Face Space survives restarts, the app folder does not);
    else ``./data``.
    """
    env = os.environ if env is None else env
    if env.get(DATA_DIR_ENV):
        return Path(env[DATA_DIR_ENV]).expanduser()
    if SPACE_VOLUME.is_dir() and os.access(SPACE_VOLUME, os.W_OK | os.X_OK):
        return SPACE_VOLUME / "user-studio"
    return Path("data")


def default_store_path(env: Mapping[str, str] | None = None) -> Path:
    """``<default_data_dir()>/feedback.sqlite``."""
    return default_data_dir(env) / STORE_FILENAME


def default_store_location(env: Mapping[str, str] | None = None) -> str:
    """``$USER_STUDIO_STORE`` (a database URL or a file) if set, else :func:`default_store_path`."""
    env = os.environ if env is None else env
    return env.get(STORE_ENV) or str(default_store_path(env))


def utc_now() -> str:
    """The current UTC time as ISO 8601 with milliseconds, e.g. ``2025-01-31T12:00:00.123+00:00``."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")
