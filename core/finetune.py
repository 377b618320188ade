"""Fine-tune a sentence-transformers model on exported human judgments.

Heavy libraries (torch, datasets, sentence-transformers) are imported inside the functions, so the
app pays for them only when someone actually trains.
"""

from __future__ import annotations

import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.judgments import (
    EXPORT_COLUMNS,
    EXPORT_KINDS,
    PASSAGE_PREFIX_COLUMN,
    PROMPT_COLUMNS,
    QUERY_PREFIX_COLUMN,
    JudgmentStore,
    export,
    training_prompts,
)
from core.text import add_prefix

# The loss each export kind is made for.
LOSSES: dict[str, str] = {
    "pairs": "MultipleNegativesRankingLoss",
    "triplets": "MultipleNegativesRankingLoss",
    "scores": "CoSENTLoss",
    "labels": "BatchAllTripletLoss",
}
_LOADERS = {".jsonl": "json", ".json": "json", ".parquet": "parquet", ".csv": "csv"}


@dataclass(frozen=True)
class FineTuneResult:
    """Where the model went and what training did."""

    out_dir: Path
    rows: int
    steps: int
    training_loss: float
    prompts: dict[str, str]


def load_export(path: str | os.PathLike[str]):
    """A ``datasets.Dataset`` from a JSONL, Parquet or CSV export (offline: local files only)."""
    from datasets import load_dataset

    path = Path(path)
    builder = _LOADERS.get(path.suffix.lower())
    if builder is None:
        raise ValueError(f"cannot tell the format of {path}: use a .jsonl, .parquet or .csv file")
    if not path.is_file():
        raise ValueError(f"no export file at {path}")
    return load_dataset(builder, data_files=str(path), split="train")


def prepare_dataset(dataset: Any, kind: str) -> tuple[Any, dict[str, str]]:
    """Check the columns, move ``prefixes="columns"`` prefixes into trainer prompts, order columns.

    When the prefix columns are not uniform, each row's prefixes are applied to its texts instead.

    The trainer reads columns positionally (anchor, positive, negative...) and would tokenize any
    extra column as text, so the dataset keeps exactly the kind's columns, in order.
    """
    if kind not in EXPORT_KINDS:
        raise ValueError(f"unknown kind {kind!r}; valid kinds: {', '.join(EXPORT_KINDS)}")
    wanted = list(EXPORT_COLUMNS[kind])
    missing = [c for c in wanted if c not in dataset.column_names]
    if missing:
        raise ValueError(f"a {kind} dataset needs columns {wanted}, this one lacks {missing}")
    prompts: dict[str, str] = {}
    if QUERY_PREFIX_COLUMN in dataset.column_names or PASSAGE_PREFIX_COLUMN in dataset.column_names:
        try:
            prompts = training_prompts(dataset, kind)
        except ValueError:
            # Rows judged under different prefixes: the trainer's per-column prompts cannot express
            # that, so bake each row's own prefixes into its texts instead.
            dataset = dataset.map(lambda row: _apply_row_prefixes(row, kind))
    dataset = dataset.select_columns(wanted)
    if kind == "labels":
        # In-batch triplet losses want integer classes.
        names = sorted(set(dataset["label"]))
        index = {name: i for i, name in enumerate(names)}
        dataset = dataset.map(lambda row: {"label": index[row["label"]]})
    if len(dataset) == 0:
        raise ValueError(f"the {kind} dataset is empty")
    return dataset, prompts


def _apply_row_prefixes(row: dict[str, Any], kind: str) -> dict[str, Any]:
    return {column: add_prefix(row[column], row.get(prefix_column) or "")
            for column, prefix_column in PROMPT_COLUMNS[kind].items()}


def make_loss(model: Any, kind: str) -> Any:
    """The loss :data:`LOSSES` names for ``kind``."""
    from sentence_transformers.sentence_transformer import losses

    return getattr(losses, LOSSES[kind])(model)


def fine_tune(export_path: str | os.PathLike[str] | JudgmentStore, model_path: str | os.PathLike[str],
              out_dir: str | os.PathLike[str], kind: str, epochs: int = 1, *, batch_size: int = 16,
              learning_rate: float = 2e-5, max_steps: int | None = None, warmup: float = 0.1,
              seed: int = 0, prefixes: str = "apply", use_cpu: bool | None = None) -> FineTuneResult:
    """Train ``model_path`` on an export (or straight from a store) and save the result to ``out_dir``.

    ``kind`` is the export's kind (pairs, triplets, scores, labels); the loss is :data:`LOSSES`'s.
    Given a :class:`JudgmentStore`, the judgments are exported to a temporary JSONL first with
    ``prefixes``. ``max_steps`` caps training (handy for a quick check); ``use_cpu`` defaults to
    True when no CUDA device is present.
    """
    if kind not in EXPORT_KINDS:
        raise ValueError(f"unknown kind {kind!r}; valid kinds: {', '.join(EXPORT_KINDS)}")
    if epochs < 1:
        raise ValueError(f"epochs must be at least 1, got {epochs}")
    if batch_size < 2 and LOSSES[kind] == "MultipleNegativesRankingLoss":
        raise ValueError("MultipleNegativesRankingLoss needs batch_size >= 2 (in-batch negatives)")
    out_dir = Path(out_dir)
    with tempfile.TemporaryDirectory(prefix="user-studio-finetune-") as tmp:
        if isinstance(export_path, JudgmentStore):
            path = Path(tmp) / f"{kind}.jsonl"
            export(export_path, "jsonl", path, kind=kind, prefixes=prefixes)
        else:
            path = Path(export_path)
        dataset, prompts = prepare_dataset(load_export(path), kind)
        return _train(dataset, prompts, model_path, out_dir, kind, epochs, batch_size, learning_rate,
                      max_steps, warmup, seed, use_cpu, Path(tmp))


def _model_folder(spec: Any) -> str:
    """A folder sentence-transformers can open; the bundled e5 is converted (or found) first."""
    from core.loading import E5_SMALL, locate

    return str(locate(E5_SMALL).path) if str(spec) == E5_SMALL else str(spec)


def _train(dataset: Any, prompts: dict[str, str], model_path: Any, out_dir: Path, kind: str, epochs: int,
           batch_size: int, learning_rate: float, max_steps: int | None, warmup: float, seed: int,
           use_cpu: bool | None, tmp: Path) -> FineTuneResult:
    import torch
    from sentence_transformers import (
        SentenceTransformer,
        SentenceTransformerTrainer,
        SentenceTransformerTrainingArguments,
    )
    from sentence_transformers.base.sampler import BatchSamplers

    if use_cpu is None:
        use_cpu = not torch.cuda.is_available()
    model = SentenceTransformer(_model_folder(model_path), device="cpu" if use_cpu else None)
    in_batch_negatives = LOSSES[kind] == "MultipleNegativesRankingLoss"
    args = SentenceTransformerTrainingArguments(
        output_dir=str(tmp / "trainer"),
        num_train_epochs=epochs,
        max_steps=max_steps if max_steps else -1,
        per_device_train_batch_size=batch_size,
        learning_rate=learning_rate,
        warmup_steps=warmup,
        seed=seed,
        report_to=[],
        save_strategy="no",
        logging_strategy="no",
        disable_tqdm=True,
        use_cpu=use_cpu,
        prompts=prompts or None,
        # A duplicate text in a batch would be scored as its own negative.
        batch_sampler=BatchSamplers.NO_DUPLICATES if in_batch_negatives else BatchSamplers.BATCH_SAMPLER,
    )
    trainer = SentenceTransformerTrainer(model=model, args=args, train_dataset=dataset,
                                         loss=make_loss(model, kind))
    output = trainer.train()
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save(str(out_dir))
    return FineTuneResult(out_dir=out_dir, rows=len(dataset), steps=int(output.global_step),
                          training_loss=float(output.training_loss), prompts=prompts)


def main(argv: list[str] | None = None) -> int:
    """``python -m core.finetune --data FILE_OR_DB --model PATH --kind pairs --out DIR``."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m core.finetune",
                                     description="Fine-tune a sentence-transformers model on USER Studio judgments")
    parser.add_argument("--data", required=True, help="an export (JSONL, Parquet, CSV) or a feedback.sqlite store")
    parser.add_argument("--model", required=True, help="a local model folder or a hub id")
    parser.add_argument("--kind", required=True, choices=EXPORT_KINDS)
    parser.add_argument("--out", required=True, help="folder for the fine-tuned model")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--learning-rate", type=float, default=2e-5)
    parser.add_argument("--max-steps", type=int)
    args = parser.parse_args(argv)
    data: Any = JudgmentStore(args.data, create=False) if str(args.data).endswith(".sqlite") else args.data
    try:
        result = fine_tune(data, args.model, args.out, args.kind, args.epochs, batch_size=args.batch_size,
                           learning_rate=args.learning_rate, max_steps=args.max_steps)
    except (ValueError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"trained on {result.rows} rows for {result.steps} steps (loss {result.training_loss:.4f}); "
          f"saved to {result.out_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
