"""Server-side caps on what one request may ask for, whatever the client is.

They are checked on the server because the API bypasses the browser. Nothing heavy is imported, so any
layer (evaluation, campaigns, the UI) can check a limit without loading the app.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from core.errors import UserError, word


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
        """``what`` names the texts for the message: a ``what_*`` key of core.errors.MESSAGES, less "what_"."""
        if not texts:
            raise UserError("no_texts", what=word("what", what))
        if len(texts) > cap:
            raise UserError("too_many_texts", count=len(texts), what=word("what", what), limit=cap)
        for i, text in enumerate(texts):
            if len(text) > self.max_chars:
                raise UserError("line_too_long", line=i + 1, what=word("what", what), length=len(text),
                                limit=self.max_chars)
