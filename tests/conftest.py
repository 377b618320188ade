from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"

os.environ.setdefault("NUMBA_CACHE_DIR", str(ROOT / ".cache" / "numba"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data beside the repo (real Russian labelled data); absent on a user's fresh clone."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data folder {SHARED_DATA} is absent (it exists only beside the project's CI checkout)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """A tiny random DeBERTa-v1 with USER-base's flags and prompts, in sentence-transformers layout."""
    from tests.model_factory import build_deberta

    return build_deberta(tmp_path_factory.mktemp("tiny-user"), sentence_transformers_layout=True)
