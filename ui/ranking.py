"""A ranking of passages per query as a session keeps it: the Similarity tab's and Evaluate's search."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.errors import UserError
from core.inputs.text import add_prefix
from core.judgments import Judgment
from core.studio import SimilarityResult
from ui.i18n import localized
from ui.plots import HEATMAP_MAX, VIEW_PASSAGES, similarity_per_query

# The ranking's columns: the score and the caller's own verdict come before the long texts, so that they
# stay on screen however narrow the page is (at 1,400 px the score, last of six, was cut off).
RANKING_COLUMNS = ["query #", "rank", "score", "yours", "passage #", "passage", "query"]
# Wide enough for the Russian headers ("фрагмент №", "запрос №") at the tables' header size.
RANKING_WIDTHS = ["72px", "60px", "88px", "100px", "92px", "41%", "22%"]


def per_query_view_needed(n_queries: int, n_passages: int) -> bool:
    return n_queries > HEATMAP_MAX or n_passages > HEATMAP_MAX


@dataclass(frozen=True)
class RankedPairs:
    """What a session keeps of a similarity result: enough to judge a row, nothing more.

    The full result (tables, figure) went to the browser; keeping it per session cost about 170 MB
    for a 100 x 1,000 request, for as long as the session lived. The ranking rows are the top k per
    query only, and ``top``/``top_scores`` hold each query's best ``VIEW_PASSAGES`` for the per-query view.
    """

    queries: list[str]
    passages: list[str]
    pairs: np.ndarray  # (rows, 2) query and passage index of each ranking row
    scores: np.ndarray  # (rows,) the score shown in each ranking row
    query_prefix: str
    passage_prefix: str
    model_id: str = ""  # the model whose scores are judged
    model_revision: str | None = None
    top: np.ndarray | None = None  # (queries, n) passage indices, best first, for the per-query view
    top_scores: np.ndarray | None = None  # (queries, n) their scores
    threshold: float | None = None  # the caller's own threshold for this model and these prefixes, if any

    def pair(self, row: int) -> Judgment:
        """The pair shown in ranking row ``row``, as a judgment still to be given its verdict."""
        if not 0 <= row < len(self.pairs):
            raise UserError("no_such_ranking_row", row=row + 1)
        qi, pi = (int(i) for i in self.pairs[row])
        return Judgment(kind="relevant", anchor=self.queries[qi], positive=self.passages[pi], tab="similarity",
                        query_prefix=self.query_prefix, passage_prefix=self.passage_prefix,
                        model_id=self.model_id or None, model_revision=self.model_revision)

    @property
    def per_query(self) -> bool:
        """Too many queries or passages for a readable heatmap: one query at a time instead."""
        return per_query_view_needed(len(self.queries), len(self.passages))

    @classmethod
    def of(cls, result: SimilarityResult, top_k: int = 0, threshold: float | None = None) -> RankedPairs:
        ranking = result.ranking
        if top_k:
            ranking = ranking[ranking["rank"] <= top_k]
        pairs = np.stack([ranking["query #"].to_numpy() - 1, ranking["passage #"].to_numpy() - 1], axis=1)
        n = min(len(result.passages), max(VIEW_PASSAGES, top_k))
        order = np.argsort(-result.scores, axis=1, kind="stable")[:, :n]
        return cls(result.queries, result.passages, pairs.astype(np.int32).reshape(-1, 2),
                   ranking["score"].to_numpy(np.float32), result.query_prefix, result.passage_prefix,
                   result.model_id, result.model_revision, order.astype(np.int32),
                   np.take_along_axis(result.scores, order, axis=1).astype(np.float32), threshold)

    def table(self, marks: list[str] | None = None) -> pd.DataFrame:
        """The ranking as shown: texts as the model saw them (prefixed), the caller's verdicts in "yours"."""
        qi, pi = self.pairs[:, 0], self.pairs[:, 1]
        frame = pd.DataFrame({
            "query #": qi + 1,
            "rank": pd.Series(qi).groupby(qi).cumcount().to_numpy() + 1,
            "score": np.round(self.scores.astype(np.float64), 2),
            "yours": marks if marks is not None else [""] * len(self.pairs),
            "passage #": pi + 1,
            "passage": [add_prefix(self.passages[j], self.passage_prefix) for j in pi],
            "query": [add_prefix(self.queries[i], self.query_prefix) for i in qi],
        })
        return frame[RANKING_COLUMNS]

    def shown(self, marks: list[str] | None = None) -> pd.DataFrame:
        """The ranking as the page shows it: the table with its headers in the page's language."""
        return localized(self.table(marks))

    def figure(self, query: int = 0):
        """The heatmap's replacement at real sizes: one query's best passages as bars."""
        if self.top is None or self.top_scores is None:
            raise UserError("run_comparison_again")
        if not 0 <= query < len(self.queries):
            raise UserError("no_such_query", query=query + 1, count=len(self.queries))
        return similarity_per_query(query, self.queries[query], self.top[query], self.top_scores[query],
                                    self.passages, len(self.queries), self.threshold)
