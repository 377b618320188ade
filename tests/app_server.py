"""Start the real USER Studio app in-process, on a free port, for the API and browser tests.

The encoder is the tiny random DeBERTa from ``tests.model_factory`` (USER-base's layout and prompts,
32 dimensions), so every endpoint runs end to end in a second or two on a CPU. Judgments go to a
SQLite file in a temporary folder, never into the repository.
"""

from __future__ import annotations

import socket
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SCREENSHOTS = ROOT / "tests" / "screenshots"


def free_port() -> int:
    """A TCP port nobody listens on right now (the usual bind-to-0 trick)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LiveApp:
    """A running app: where it listens, the Studio behind it, and the gr.Blocks to close."""

    url: str
    studio: Any
    app: Any
    data_dir: Path

    @property
    def store(self):
        return self.studio.store


def wait_until_up(url: str, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + "config", timeout=5) as response:  # noqa: S310 (local URL)
                if response.status == 200:
                    return
        except urllib.error.HTTPError as error:
            if error.code == 401:  # behind --auth: it is up, and asks for a login
                return
            last = error
        except Exception as error:  # not listening yet
            last = error
        time.sleep(0.1)
    raise RuntimeError(f"the app at {url} did not answer within {timeout_s:g} s: {last}")


def start_app(model_dir: Path | str, data_dir: Path, *, warm_projection: bool = True, admins: tuple[str, ...] = (),
              auth: list[tuple[str, str]] | None = None, janitor=None, files_ttl_s: float | None = None,
              others: tuple[Path | str, ...] = (), fallback_reason: str | None = None,
              encoder_options: dict[str, Any] | None = None, store: str | None = None) -> LiveApp:
    """Build the Studio on ``model_dir`` (a folder or a model name; ``others`` load beside it) and launch
    the app exactly as ``app.main`` does. ``encoder_options`` go to the main model's Encoder (say,
    ``engine="torch"``). ``store``: the judgments database's URL (default: a SQLite file in ``data_dir``)."""
    from app import launch_settings, queue_settings
    from core.encoding.encoder import Encoder
    from core.identity import IdentityIssuer, MintLimiter, load_or_create_key
    from core.judgments import JudgmentStore
    from core.studio import Studio
    from core.tempfiles import TempFiles
    from ui.app import build_app

    if warm_projection:
        # numba compiles UMAP once (seconds; a disk cache makes later runs fast), not inside a test's timeout.
        from core.exploration.projection import warm_up

        warm_up(background=False, large=False)
    data_dir.mkdir(parents=True, exist_ok=True)
    encoder = Encoder(str(model_dir), device="cpu", dtype="float32", **(encoder_options or {}))
    files = TempFiles(data_dir / "exports", ttl_s=files_ttl_s) if files_ttl_s is not None else None
    studio = Studio(encoder, store=JudgmentStore(store or data_dir / "feedback.sqlite"), files=files,
                    # Every test client calls from 127.0.0.1: the app-wide tests mint identities freely, and
                    # the tests of the limit put a strict limiter in place for themselves.
                    identities=IdentityIssuer(load_or_create_key(data_dir), admins=admins,
                                              mint_limiter=MintLimiter(per_window=1_000_000)),
                    others=[Encoder(str(m), device="cpu", dtype="float32") for m in others],
                    fallback_reason=fallback_reason)
    app = build_app(studio, janitor=janitor)
    port = free_port()
    app.queue(**queue_settings()).launch(**launch_settings(studio.limits.upload_bytes, studio), server_name="127.0.0.1",
                                         server_port=port, prevent_thread_lock=True, quiet=True, auth=auth)
    url = f"http://127.0.0.1:{port}/"
    wait_until_up(url)
    return LiveApp(url=url, studio=studio, app=app, data_dir=data_dir)


def stop_app(live: LiveApp) -> None:
    live.app.close()
    if live.studio.store is not None:
        live.studio.store.close()
