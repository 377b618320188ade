"""Files the app hands out (exports): written under one folder, deleted once they are old enough.

A folder per export that nobody deletes grows without end (+23 MB for one clustering export with
embeddings). Gradio copies a returned file into its own cache before serving it, so ours only has
to live until then; the TTL leaves ample time for that and for a slow download.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import threading
import time
import uuid
from pathlib import Path

DEFAULT_TTL_S = 600.0


class TempFiles:
    """Folders for outgoing files under ``root``, each removed ``ttl_s`` seconds after it was made."""

    _default: TempFiles | None = None

    def __init__(self, root: str | os.PathLike[str] | None = None, ttl_s: float = DEFAULT_TTL_S) -> None:
        if ttl_s < 0:
            raise ValueError(f"ttl_s must be >= 0, got {ttl_s}")
        # One folder for every run (not one per process), so a restart's sweep also removes what an
        # earlier run left behind.
        self.root = Path(root) if root is not None else Path(tempfile.gettempdir()) / "user-studio-exports"
        self.ttl_s = ttl_s
        self._lock = threading.Lock()
        self._owned: dict[str, set[Path]] = {}  # owner -> files and folders holding their data

    @classmethod
    def default(cls) -> TempFiles:
        """One shared instance under the system temp folder (for callers without a Studio)."""
        if cls._default is None:
            cls._default = cls()
        return cls._default

    def new_folder(self, name: str) -> Path:
        """A fresh, empty folder for one export; old ones are swept first."""
        self.sweep()
        folder = self.root / f"{name}-{uuid.uuid4().hex[:12]}"
        folder.mkdir(parents=True)
        return folder

    def sweep(self, now: float | None = None) -> int:
        """Delete the folders older than the TTL; returns how many went."""
        now = time.time() if now is None else now
        removed = 0
        with self._lock:
            if not self.root.is_dir():
                return 0
            for folder in self.root.iterdir():
                with contextlib.suppress(FileNotFoundError):
                    if now - folder.stat().st_mtime >= self.ttl_s:
                        shutil.rmtree(folder, ignore_errors=True)
                        removed += 1
            self._prune_tracked()
        return removed

    def track(self, owner: str, *paths: str | os.PathLike[str]) -> None:
        """Remember that ``paths`` (files or folders, here or elsewhere, e.g. a web server's copy of an
        export) hold ``owner``'s data, so that :meth:`forget` can remove them before their TTL."""
        with self._lock:
            self._owned.setdefault(owner, set()).update(Path(p) for p in paths)

    def forget(self, owner: str) -> int:
        """Delete now every file and folder tracked for ``owner`` (their data was deleted: a link to an
        old export must stop working); returns how many were still there."""
        with self._lock:
            paths = self._owned.pop(owner, set())
        removed = 0
        for path in paths:
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
                removed += 1
            elif path.exists():
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
                    removed += 1
                # A served copy sits alone in a folder named for its hash: drop the folder too (only if empty).
                with contextlib.suppress(OSError):
                    path.parent.rmdir()
        return removed

    def tracked(self, owner: str) -> list[Path]:
        """The paths tracked for ``owner`` that still exist."""
        with self._lock:
            return sorted(p for p in self._owned.get(owner, ()) if p.exists())

    def _prune_tracked(self) -> None:
        # Called under the lock by sweep(): forget paths the TTL (or Gradio's own cache sweep) removed,
        # so the map stays as small as what is on disk.
        for owner in list(self._owned):
            alive = {p for p in self._owned[owner] if p.exists()}
            if alive:
                self._owned[owner] = alive
            else:
                del self._owned[owner]

    def clear(self) -> None:
        """Delete everything (the app is stopping)."""
        with self._lock:
            shutil.rmtree(self.root, ignore_errors=True)

    def size_bytes(self) -> int:
        """Bytes held now (what a health check watches)."""
        if not self.root.is_dir():
            return 0
        return sum(f.stat().st_size for f in self.root.rglob("*") if f.is_file())
