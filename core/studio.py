"""The app's actions as plain functions over an ``Encoder``: what the tabs and the API both call.

Every limit is checked here, on the server, because the API bypasses the browser. Results are
plain data (numpy arrays and pandas frames); figures and components are the UI's business.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from core.campaigns import LEASE_S, PREFIXES_OF, Campaign, CampaignStore
from core.campaigns.uncertain import Choice
from core.encoding import Encoder, Encoding
from core.encoding.footprint import MemoryCheck, check_memory, estimate, free_memory
from core.encoding.loading import ModelLoadError
from core.errors import Message, UserError, word
from core.exploration.cluster_view import ClusterResult
from core.identity import IdentityIssuer, identity_key
from core.inputs.text import clean_texts, resolve_prefix
from core.judgments import JudgmentStore
from core.limits import CallGate, Limits
from core.tempfiles import TempFiles
from core.training.jobs import TrainingJobs
from core.training.registry import ModelRegistry

StepProgress = Callable[[float, str], None]


def token_report(encoding: Encoding, role: str, limit: int | None) -> pd.DataFrame:
    """One row per text: its role, the input as the model saw it, tokens, and whether it was cut."""
    return pd.DataFrame({
        "role": role,
        "#": range(1, len(encoding.inputs) + 1),
        "input": encoding.inputs,
        "tokens": encoding.token_counts,
        "truncated": [f"cut at {limit}" if cut else "" for cut in encoding.truncated],
    })


@dataclass
class SimilarityResult:
    queries: list[str]
    passages: list[str]
    scores: np.ndarray  # (Q, P) cosine x 100, as in the model card
    ranking: pd.DataFrame  # per query, passages by score
    tokens: pd.DataFrame
    warnings: list[str] = field(default_factory=list)
    query_prefix: str = ""
    passage_prefix: str = ""
    model_id: str = ""  # the model that produced the scores (judgments record it)
    model_revision: str | None = None


@dataclass(frozen=True)
class TunedAccess:
    """Who may use the tuned model loaded now: its owner (who trained it) and admins; everyone once
    the owner (or an admin) loads it "for everyone". A version without an owner is the operator's:
    admins only, unless loaded for everyone."""

    model_id: str
    owner: str | None
    for_everyone: bool = False

    def allows(self, user: str | None, is_admin: bool = False) -> bool:
        return self.for_everyone or is_admin or (user is not None and user == self.owner)


# Who may load and unload models from the page and the API: "admins", or "everyone" (a server only its
# own machine can reach, whose user could start it with any --model anyway; app.py decides).
MODEL_LOADS = ("admins", "everyone")


@dataclass(frozen=True)
class LoadedModel:
    """A model loaded on request: its id, the memory check it passed, and how long the load took."""

    model_id: str
    check: MemoryCheck
    seconds: float


@dataclass
class PrefixComparison:
    texts: list[str]
    variants: dict[str, np.ndarray]
    cosines: pd.DataFrame
    matrices: dict[str, np.ndarray]
    neighbours: pd.DataFrame
    overlap: pd.DataFrame
    map_points: pd.DataFrame
    k: int


class Studio:
    """The encoder, limits, and (optional) judgment store and identities behind every tab and endpoint."""

    def __init__(self, encoder: Encoder, *, limits: Limits | None = None, store: JudgmentStore | None = None,
                 identities: IdentityIssuer | None = None, fallback_reason: str | None = None,
                 files: TempFiles | None = None, others: Sequence[Encoder] = (),
                 training: TrainingJobs | None = None, registry: ModelRegistry | None = None,
                 model_loads: str = "admins", memory: Callable[[str], tuple[int, int]] = free_memory,
                 campaign_lease_s: float = LEASE_S):
        if store is not None and identities is None:
            # Anonymous identities are signed with a key every replica on the store shares (core/identity.py).
            identities = IdentityIssuer(identity_key(store.db, store.path.parent if store.path else None))
        self.encoder = encoder  # the default model
        # Every loaded model by id, the default first; a tab or an API call may pick one by id.
        self.encoders: dict[str, Encoder] = {}
        for extra in (encoder, *others):
            if extra.model_id in self.encoders:
                raise ValueError(f"model {extra.model_id!r} is loaded twice; give each model once")
            self.encoders[extra.model_id] = extra
        self.limits = limits or Limits()
        self.store = store
        self.identities = identities
        self.fallback_reason = fallback_reason
        self.files = files or TempFiles.default()  # exports, deleted after a TTL
        # Training reads the judgments' store; versions go to <data-dir>/models unless told otherwise.
        if store is not None and training is None:
            training = TrainingJobs(store)
        if training is not None and registry is None:
            registry = ModelRegistry(training.models_dir, keep=training.keep, db=training.db)
        self.training = training
        self.registry = registry
        # Annotation campaigns live in the judgments' own database (core/campaigns).
        # campaign_lease_s: how long a handed-out item stays held (app.py --campaign-lease-s); CampaignStore
        # refuses a non-positive one.
        self.campaigns: CampaignStore | None = (CampaignStore(store, lease_s=campaign_lease_s)
                                                if store is not None else None)
        # The tuned version loaded now, if any, and who may use it (a request names it as its model).
        self.tuned: TunedAccess | None = None
        self._tuned_ids: frozenset[str] = frozenset()  # every model id loaded as a tuned version so far
        self._models_lock = threading.Lock()
        if model_loads not in MODEL_LOADS:
            raise ValueError(f"model_loads must be one of {MODEL_LOADS}, got {model_loads!r}")
        self.model_loads = model_loads
        self.memory = memory  # (free, total) bytes on a device; tests pass their own
        # Loads under way, by what was asked for, with the bytes each was promised (held under _models_lock):
        # a second load of the same model is refused, and two loads at once are checked against memory together.
        self._loading: dict[str, int] = {}
        # Heavy calls per caller (the UI's async handlers wait here, see core.limits.CallGate).
        self.gate = CallGate(self.limits.calls_running_per_user, self.limits.calls_waiting_per_user)

    def database_status(self) -> str:
        """``"ok"`` when the judgments' database answers, ``"unavailable"`` when not, ``"none"`` without one."""
        if self.store is None:
            return "none"
        return "ok" if self.store.db.answers() else "unavailable"

    def campaign_store(self) -> CampaignStore:
        """The campaigns, or a clear refusal when the app runs without a feedback store."""
        if self.campaigns is None:
            raise UserError("campaigns_off")
        return self.campaigns

    def campaign_prefixes(self, judgment: str) -> tuple[str, str]:
        """The prefixes the default model sees for a campaign's judgment ("" for a model without them)."""
        if not self.encoder.uses_prefixes:
            return "", ""
        query, passage = PREFIXES_OF[judgment]
        return resolve_prefix(query), resolve_prefix(passage)

    def create_campaign_from(self, user: str, choice: Choice, *, is_admin: bool = False, overlap: object = 2,
                             instructions: str = "", name: str = "", show_model_score: bool = False) -> Campaign:
        """A campaign of the items a rule chose (the model's least sure items, or a clustering's border texts)."""
        campaigns = self.campaign_store()
        query_prefix, passage_prefix = self.campaign_prefixes(choice.judgment)
        return campaigns.create(user, choice.table, choice.judgment, overlap=overlap,
                                labels=choice.labels or None, instructions=instructions,
                                name=name or "model-chosen", show_model_score=bool(show_model_score),
                                rule=choice.rule, query_prefix=query_prefix, passage_prefix=passage_prefix,
                                model_id=self.encoder.model_id, is_admin=is_admin)

    @property
    def tuned_model(self) -> str | None:
        """The model id of the tuned version loaded, if any."""
        tuned = self.tuned
        return tuned.model_id if tuned is not None else None

    def models_for(self, user: str | None = None, is_admin: bool = False) -> dict[str, Encoder]:
        """The loaded models a caller may use, by id, the default first: all but a tuned model that is
        private to someone else. ``user`` None (no caller) sees a tuned model only once it is for everyone."""
        encoders, tuned = self.encoders, self.tuned
        usable = tuned.model_id if tuned is not None and tuned.allows(user, is_admin) else None
        return {k: v for k, v in encoders.items() if k not in self._tuned_ids or k == usable}

    def model(self, name: str | None = None, user: str | None = None, is_admin: bool = False) -> Encoder:
        """A loaded model ``user`` may use, by id (or the name of its folder); None or "" is the default model.

        Someone else's private tuned model gets the answer a model that is not loaded gets, naming only
        the models the caller may use: it is served to its owner and admins, or to all once it is for everyone.
        """
        if not name:
            return self.encoder
        usable = self.models_for(user, is_admin)
        if name in usable:
            return usable[name]
        by_folder = [e for model_id, e in usable.items() if Path(model_id).name == name]
        if len(by_folder) == 1:
            return by_folder[0]
        loaded = ", ".join(Path(m).name if m.startswith(("/", ".", "~")) else m for m in usable)
        raise UserError("model_not_loaded", name=name, loaded=loaded)

    def load_tuned(self, path: str | Path, owner: str | None = None, for_everyone: bool = False) -> Encoder:
        """Load a tuned model next to the others, with the default model's device and engine, for
        ``owner`` (who trained it) and admins, or for everyone.

        One tuned model is kept loaded at a time (each costs as much memory as its base): loading
        another replaces it. The dict is replaced, never changed in place, so a request that is
        iterating over the models never sees it half-changed.
        """
        if self.encoder.engine in ("torch", "openvino"):
            encoder = Encoder(str(path), device=self.encoder.device, engine=self.encoder.engine)
        else:
            encoder = Encoder(str(path))
        with self._models_lock:
            models = {k: v for k, v in self.encoders.items() if k != self.tuned_model}
            models[encoder.model_id] = encoder
            # In this order, a request between two writes finds no tuned model whose id and access
            # disagree: models_for hides every id ever loaded as tuned unless it is the current one.
            self._tuned_ids = self._tuned_ids | {encoder.model_id}
            self.tuned = TunedAccess(encoder.model_id, owner, bool(for_everyone))
            self.encoders = models
        return encoder

    # -- models loaded on request ----------------------------------------------------------------
    def may_load_models(self, is_admin: bool) -> bool:
        """Whether a caller may load and unload models (each costs the whole server its memory)."""
        return is_admin or self.model_loads == "everyone"

    def _authorise_loads(self, is_admin: bool) -> None:
        if not self.may_load_models(is_admin):
            raise UserError("models_admins_only")

    def _loaded_as(self, spec: str) -> str | None:
        """The id of a loaded model that ``spec`` names (its id, or its folder's name or path), if any."""
        for model_id in self.encoders:
            if spec == model_id or Path(spec).expanduser().resolve() == Path(model_id).expanduser().resolve():
                return model_id
        return None

    def memory_check(self, spec: str, *, is_admin: bool = False) -> MemoryCheck:
        """How much memory ``spec`` would take next to what is loaded and being loaded, without loading it."""
        self._authorise_loads(is_admin)
        spec = self._model_spec(spec)
        footprint = self._footprint(spec)
        with self._models_lock:  # another thread may be adding or removing a load under way
            pending = sum(self._loading.values())
        return self._check(footprint, pending)

    def _check(self, footprint, pending: int) -> MemoryCheck:
        encoder = self.encoder
        engine = encoder.engine
        return check_memory(footprint, encoder.device, encoder.dtype, engine, encoder.cache_limit, pending,
                            self.memory(encoder.device))

    def _model_spec(self, spec: object) -> str:
        text = str(spec or "").strip()
        if not text:
            raise UserError("model_spec_empty")
        if len(text) > 300 or any(ord(c) < 32 for c in text):
            raise UserError("model_spec_bad", length=len(text))
        if self._loaded_as(text) is not None:
            raise UserError("model_already_loaded", model=text)
        return text

    @staticmethod
    def _footprint(spec: str):
        try:
            return estimate(spec)
        except ModelLoadError as error:
            raise _load_refusal(spec, error) from None

    def load_model(self, spec: str, *, is_admin: bool = False, progress: StepProgress | None = None) -> LoadedModel:
        """Load ``spec`` (a built-in name, a local folder, a hub id) beside the others, on the default model's
        device, dtype and engine, for everyone to use; or a clear refusal.

        Refused: callers who may not load (``model_loads``), a model loaded or being loaded already, more than
        ``Limits.max_extra_models`` beside the default, and a model that would not fit in free memory with
        ``core.encoding.footprint``'s reserve (loads under way count as taken). The registry changes only once
        the load has succeeded, by replacing the dict, so a request iterating over the models, or encoding
        with one, never sees it half-changed; a failed load leaves nothing behind.
        """
        self._authorise_loads(is_admin)
        report = progress or (lambda fraction, text: None)
        spec = self._model_spec(spec)
        report(0.05, Message("progress_model_size"))
        footprint = self._footprint(spec)
        with self._models_lock:
            if spec in self._loading:
                raise UserError("model_loading_now", model=spec)
            extra = len(self.encoders) - 1 + len(self._loading)
            if extra >= self.limits.max_extra_models:
                raise UserError("too_many_models", limit=self.limits.max_extra_models)
            check = self._check(footprint, sum(self._loading.values()))
            if not check.fits:
                raise check.refusal()
            self._loading[spec] = check.need_bytes
        started = time.monotonic()
        try:
            report(0.2, Message("progress_model_loading", need=f"{check.need_bytes / 2**20:.0f}"))
            try:
                encoder = self._new_encoder(spec)
            except ModelLoadError as error:
                raise _load_refusal(spec, error) from None
            with self._models_lock:
                if encoder.model_id in self.encoders:  # the same model under another name, loaded meanwhile
                    raise UserError("model_already_loaded", model=spec)
                self.encoders = {**self.encoders, encoder.model_id: encoder}
        finally:
            with self._models_lock:
                self._loading.pop(spec, None)
        report(1.0, Message("progress_model_ready"))
        return LoadedModel(encoder.model_id, check, time.monotonic() - started)

    def _new_encoder(self, spec: str) -> Encoder:
        default = self.encoder
        if default.engine in ("torch", "openvino"):
            return Encoder(spec, device=default.device, dtype=default.dtype, engine=default.engine,
                           cpu_weights=default.cpu_weights, cache_bytes=default.cache_limit)
        return Encoder(spec, cache_bytes=default.cache_limit)

    def unload_model(self, name: str, *, is_admin: bool = False) -> str:
        """Take a loaded model (not the default) out of the registry; its memory is freed once the
        requests still using it finish. Returns its id."""
        self._authorise_loads(is_admin)
        # By the models the caller may use: someone's private tuned model only by an admin.
        encoder = self.model(str(name or "").strip() or None, None, is_admin)
        if encoder is self.encoder:
            raise UserError("model_default_stays", model=encoder.model_id)
        with self._models_lock:
            self.encoders = {k: v for k, v in self.encoders.items() if k != encoder.model_id}
            if self.tuned_model == encoder.model_id:
                self.tuned = None
        return encoder.model_id

    # -- tab 1 ---------------------------------------------------------------------------------
    def encode_ahead(self, passages: Sequence[str], passage_prefix: str = "passage", model: str | None = None,
                     *, user: str | None = None, is_admin: bool = False) -> int:
        """Encode the Similarity tab's passages before Compare is pressed (the page calls this when
        their box loses focus, usually while the query is still being typed), so that Compare finds
        them cached or in flight and encodes only the query. Checked as ``similarity`` checks them;
        returns how many texts were encoded (0 when the model keeps no cache: nothing to gain)."""
        encoder = self.model(model, user, is_admin)
        self.limits.check_texts(passages, self.limits.max_passages, "passages")
        if not encoder.caching:
            return 0
        passages = clean_texts(passages)
        encoder.encode(passages, passage_prefix)
        return len(passages)

    def similarity(self, queries: Sequence[str], passages: Sequence[str], query_prefix: str = "query",
                   passage_prefix: str = "passage", model: str | None = None, *, user: str | None = None,
                   is_admin: bool = False) -> SimilarityResult:
        """Cosine scores of every query against every passage with ``model`` (one ``user`` may use)."""
        encoder = self.model(model, user, is_admin)
        self.limits.check_texts(queries, self.limits.max_queries, "queries")
        self.limits.check_texts(passages, self.limits.max_passages, "passages")
        # Cleaned once here, so judgments store exactly the texts the model saw.
        queries, passages = clean_texts(queries), clean_texts(passages)
        q, p = encoder.encode_groups([(queries, query_prefix), (passages, passage_prefix)])
        scores = (q.embeddings @ p.embeddings.T) * 100
        rows = []
        for qi, query in enumerate(q.inputs):
            order = np.argsort(-scores[qi], kind="stable")
            for rank, pi in enumerate(order, start=1):
                rows.append({"query #": qi + 1, "query": query, "rank": rank, "passage #": int(pi) + 1,
                             "passage": p.inputs[pi], "score": round(float(scores[qi, pi]), 2)})
        limit = encoder.max_tokens
        tokens = pd.concat([token_report(q, "query", limit), token_report(p, "passage", limit)], ignore_index=True)
        warnings: list[str] = [Message("truncated_role", count=enc.n_truncated, role=word("role", role), limit=limit)
                    for enc, role in ((q, "query"), (p, "passage")) if enc.n_truncated]
        return SimilarityResult(
            queries=list(queries), passages=list(passages), scores=scores, ranking=pd.DataFrame(rows),
            tokens=tokens, warnings=warnings, query_prefix=self._literal(query_prefix, encoder),
            passage_prefix=self._literal(passage_prefix, encoder), model_id=encoder.model_id,
            model_revision=encoder.revision,
        )

    # -- tab 2 ---------------------------------------------------------------------------------
    def cluster(
        self,
        texts: Sequence[str],
        labels: Sequence[str] | None = None,
        *,
        method: str = "k-means",
        k: int | None = None,
        min_cluster_size: int = 5,
        n_neighbors: int = 15,
        min_dist: float = 0.1,
        metric: str = "cosine",
        seed: int | None = 42,
        prefix: str = "query",
        progress: StepProgress | None = None,
        embeddings: np.ndarray | None = None,
    ) -> ClusterResult:
        from core.exploration.clustering import (
            choose_k,
            cluster_metrics,
            cluster_table,
            make_clusterer,
            top_candidates,
        )
        from core.exploration.projection import project_2d

        self.limits.check_texts(texts, self.limits.max_cluster_texts, "texts")
        if labels is not None and len(labels) != len(texts):
            raise ValueError(f"{len(labels)} labels for {len(texts)} texts")
        # k as the person expects it: theirs, else their label column's classes, else by silhouette.
        choice = choose_k(method, k or None, labels, len(texts))
        params = {"min_cluster_size": min_cluster_size} if method == "HDBSCAN" else {"k": choice.k}
        clusterer = make_clusterer(method, **params)

        def encoding_progress(done: int, total: int) -> None:
            if progress is not None and total:
                progress(0.8 * done / total, Message("progress_encoding", done=done, total=total))

        if embeddings is not None:
            # Precomputed (an uploaded embedding column): nothing to encode, so nothing was truncated.
            vectors = self._precomputed(embeddings, len(texts))
            encoding = None
        else:
            encoding = self._encode_in_slices(texts, prefix, encoding_progress)
            vectors = encoding.embeddings
        if progress is not None:
            progress(0.82, Message("progress_clustering"))
        clusters = np.asarray(clusterer.fit_predict(vectors))
        if progress is not None:
            progress(0.88, Message("progress_drawing_map"))
        coords = project_2d(vectors, n_neighbors=n_neighbors, min_dist=min_dist, metric=metric, seed=seed)
        table = cluster_table(list(texts), clusters, embeddings=vectors)
        metrics = None
        if labels is not None and any(str(x).strip() for x in labels):
            metrics = cluster_metrics(labels, clusters)
        warnings: list[str] = []
        if encoding is not None and encoding.n_truncated:
            warnings.append(Message("truncated", count=encoding.n_truncated, limit=self.encoder.max_tokens))
        return ClusterResult(
            texts=list(texts), labels=list(labels) if labels is not None else None, clusters=clusters,
            coords=coords, table=table, metrics=metrics, embeddings=vectors, method=method,
            chosen_k=getattr(clusterer, "k_", None), warnings=warnings, k_choice=choice,
            k_candidates=top_candidates(getattr(clusterer, "silhouette_scores_", {})),
        )

    def _encode_in_slices(self, texts: Sequence[str], prefix: str,
                          progress: Callable[[int, int], None]) -> Encoding:
        """All of ``texts``, in slices of the encoder's per-call cap: a clustering may map more texts
        (``Limits.max_cluster_texts``) than one encoder call takes."""
        step = self.encoder.max_texts
        if len(texts) <= step:
            return self.encoder.encode_detailed(texts, prefix, progress=progress)
        parts = []
        for start in range(0, len(texts), step):
            def sliced(done: int, total: int, start: int = start) -> None:
                progress(start + done, len(texts))

            parts.append(self.encoder.encode_detailed(texts[start:start + step], prefix, progress=sliced))
        return Encoding(embeddings=np.concatenate([p.embeddings for p in parts]),
                        inputs=[t for p in parts for t in p.inputs],
                        token_counts=[c for p in parts for c in p.token_counts],
                        truncated=[c for p in parts for c in p.truncated])

    # -- tab 3 ---------------------------------------------------------------------------------
    def compare_prefixes(self, texts: Sequence[str], k: int = 5, *, n_neighbors: int = 15,
                         seed: int | None = 42) -> PrefixComparison:
        from core.exploration import prefix_compare as pc

        self.limits.check_texts(texts, self.limits.max_passages, "texts")
        if len(texts) < 2:  # one text has no neighbours: nothing to compare but its three vectors
            raise UserError("prefixes_need_two", count=len(texts))
        if not self.encoder.uses_prefixes:
            raise UserError("model_no_prefixes", model=self.encoder.model_id)
        variants = {name: self.encoder.encode(texts, name) for name in ("query", "passage", "none")}
        matrices = pc.similarity_matrices(variants)
        return PrefixComparison(
            texts=list(texts),
            variants=variants,
            cosines=pc.variant_cosines(variants, texts=list(texts)).reset_index(),
            matrices={**matrices, **pc.similarity_differences(matrices, reference="none")},
            neighbours=pc.neighbour_shifts(variants, list(texts), k=k, reference="none"),
            overlap=pc.overlap_summary(variants, k, reference="none"),
            map_points=pc.paired_map(variants, reference="none", n_neighbors=n_neighbors, seed=seed),
            k=min(k, max(len(texts) - 1, 0)),
        )

    def _precomputed(self, embeddings: np.ndarray, n_texts: int) -> np.ndarray:
        """Uploaded vectors as the encoder's own would be: (n_texts, dim) float32, unit length."""
        vectors = np.asarray(embeddings, dtype=np.float32)
        dim = self.encoder.dim
        if vectors.ndim != 2 or vectors.shape[0] != n_texts or vectors.shape[1] != dim:
            raise ValueError(f"embeddings of shape {vectors.shape} for {n_texts} texts; expected ({n_texts}, {dim}), "
                             f"{dim} being the dimension of {self.encoder.model_id}")
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        bad = ~np.isfinite(norms[:, 0]) | (norms[:, 0] == 0)
        if bad.any():
            raise ValueError(f"embedding {int(np.flatnonzero(bad)[0]) + 1} is zero or not finite")
        return vectors / norms

    @staticmethod
    def _literal(prefix: str, encoder: Encoder) -> str:
        return resolve_prefix(prefix) if encoder.uses_prefixes else ""


def _load_refusal(spec: str, error: ModelLoadError) -> UserError:
    """A loader's failure as a message with a key (the loader words its reasons in English for the CLI)."""
    if error.kind == "no_folder":
        return UserError("model_folder_missing", model=spec)
    if error.kind == "offline":
        return UserError("model_hub_unreachable", model=spec)
    return UserError("model_load_failed", model=spec, reason=str(error))
