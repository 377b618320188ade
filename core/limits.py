"""Server-side caps on what one request may ask for, whatever the client is.

They are checked on the server because the API bypasses the browser. Only the standard library is
imported, so any layer (evaluation, campaigns, the UI) can check a limit without loading the app.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass
class Limits:
    """Server-side caps: per request, whatever the client is."""

    max_queries: int = 100
    max_passages: int = 1_000
    max_corpus: int = 5_000
    # Texts one clustering maps (the other tabs keep max_corpus): 50,000 draw in about 10 s (core/exploration/projection.py).
    max_cluster_texts: int = 50_000
    max_chars: int = 20_000
    upload_bytes: int = 5_000_000

    def check_texts(self, texts: Sequence[str], cap: int, what: str) -> None:
        if not texts:
            raise ValueError(f"no {what}: enter at least one non-empty line")
        if len(texts) > cap:
            raise ValueError(f"{len(texts):,} {what} is more than the limit of {cap:,}; send fewer")
        for i, text in enumerate(texts):
            if len(text) > self.max_chars:
                raise ValueError(
                    f"line {i + 1} of the {what} has {len(text):,} characters, more than the limit of "
                    f"{self.max_chars:,}"
                )
