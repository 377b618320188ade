"""``python -m core.training``: train a model on stored judgments, measure it, save a version.

    python -m core.training --store data/feedback.sqlite --model multilingual-e5-small \
        --kinds graded --report report.json

does what the app's Train tab does: a seeded 20 % hold-out with no text on both sides, scores before
and after (held-out judgments and the ParaPhraser regression set), a versioned fp16 save under
``<data-dir>/models`` with a model card, and promotion only when the held-out metric rose and the
regression set fell by at most 0.01. ``--progress json`` prints one JSON object per line instead of
text (the app's background job reads that).

Exit codes: 0 trained, 2 bad request or refused (the message says why), 3 cancelled, 1 unexpected.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from core.encoding import ModelLoadError
from core.errors import Message, message_of, message_to_json
from core.judgments import JudgmentStore, default_data_dir, default_store_path
from core.storage import STORE_ENV, store_url
from core.training.recipe import TRAINING_KINDS, TrainingRefused
from core.training.registry import DEFAULT_KEEP, ModelRegistry
from core.training.sourcing import source_judgments
from core.training.trainer import (
    TrainingCancelled,
    TrainingConfig,
    TrainingProgress,
    TrainingReport,
    run_training,
)

EXIT_OK, EXIT_UNEXPECTED, EXIT_REFUSED, EXIT_CANCELLED = 0, 1, 2, 3
log = logging.getLogger("user_studio.training")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m core.training",
                                     description="Fine-tune a model on USER Studio judgments and measure it")
    parser.add_argument("--store", default=None,
                        help=f"the judgments store: a SQLite file or a database URL (default: ${STORE_ENV}, "
                             "else <data dir>/feedback.sqlite)")
    parser.add_argument("--model", required=True,
                        help="base model: multilingual-e5-small, a hub id, or a local folder")
    parser.add_argument("--kinds", default="graded",
                        help=f"comma-separated, from: {', '.join(TRAINING_KINDS)} (default: graded)")
    parser.add_argument("--user", action="append", help="train on this user's judgments (repeatable; default all)")
    parser.add_argument("--campaign", help="train on this annotation campaign's consensus (one row per item)")
    parser.add_argument("--min-agreement", type=float,
                        help="with --campaign: leave out items whose annotators agree less (0-1)")
    parser.add_argument("--models-dir", help="where versions are saved (default: models/ beside the store)")
    parser.add_argument("--keep", type=int, default=DEFAULT_KEEP, help="versions to keep (default %(default)s)")
    parser.add_argument("--report", help="also write the report as JSON to this file")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--learning-rate", type=float, default=2e-5)
    parser.add_argument("--max-steps", type=int)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--hold-out", type=float, default=0.2)
    parser.add_argument("--blend", type=float, default=0.0,
                        help="share of the base model's weights mixed back after training, 0 to <1 (e.g. 0.5)")
    parser.add_argument("--train-embeddings", action="store_true",
                        help="also train the word-embedding matrix (frozen by default)")
    parser.add_argument("--progress", choices=("text", "json"), default="text")
    parser.add_argument("--owner", help="who is recorded as having trained it (the app passes the user)")
    parser.add_argument("--nice", type=int, default=0, help=argparse.SUPPRESS)  # the app lowers its job's priority
    return parser.parse_args(argv)


def config_of(args: argparse.Namespace) -> TrainingConfig:
    kinds = tuple(k.strip() for k in str(args.kinds).split(",") if k.strip())
    return TrainingConfig(base_model=args.model, kinds=kinds, epochs=args.epochs, batch_size=args.batch_size,
                          learning_rate=args.learning_rate, max_steps=args.max_steps, seed=args.seed,
                          hold_out=args.hold_out, freeze_embeddings=not args.train_embeddings,
                          blend=args.blend).validate()


def report_table(report: TrainingReport) -> str:
    """The before/after table as plain text."""
    lines = [f"{'metric':<28} {'set':<10} {'before':>8} {'after':>8} {'change':>8} {'rows':>6}"]
    for m in report.metrics:
        lines.append(f"{m.name:<28} {m.split:<10} {m.before:8.4f} {m.after:8.4f} {m.change:+8.4f} {m.rows:6d}")
    return "\n".join(lines)


class Output:
    """Progress and results as text for people, or as JSON lines for the app."""

    def __init__(self, mode: str) -> None:
        self.mode = mode

    def _json(self, **values: Any) -> None:
        print(json.dumps(values, ensure_ascii=False), flush=True)

    def progress(self, progress: TrainingProgress) -> None:
        if self.mode == "json":
            self._json(progress=progress.to_dict())
        elif progress.phase == "training":
            if progress.step == 1 or progress.step == progress.total or progress.step % 10 == 0:
                eta = f", ~{progress.eta_s:.0f} s left" if progress.eta_s is not None else ""
                loss = f", loss {progress.loss:.4f}" if progress.loss is not None else ""
                print(f"step {progress.step}/{progress.total}{loss}{eta}", flush=True)
        else:
            print(f"{progress.phase}…", flush=True)

    def report(self, report: TrainingReport) -> None:
        if self.mode == "json":
            self._json(report=report.to_dict())
            return
        print(report_table(report))
        verdict = "promoted" if report.promoted else "NOT promoted"
        print(f"{verdict}: {report.reason}\nsaved as {report.version} in {report.model_dir}")

    def error(self, message: str, code: int) -> int:
        if self.mode == "json":  # the key too, so that the app can show the message in its page's language
            self._json(error=message, code=code, message=message_to_json(message))
        print(f"error: {message}", file=sys.stderr, flush=True)
        return code


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.nice:
        os.nice(args.nice)  # before torch starts its threads, so they inherit it
    out = Output(args.progress)
    cancel = threading.Event()
    # The app cancels a job with SIGTERM: stop at the next step, save nothing, exit 3.
    signal.signal(signal.SIGTERM, lambda *_: cancel.set())
    try:
        config = config_of(args)
        location = args.store or os.environ.get(STORE_ENV) or str(default_store_path())
        url = store_url(location)
        sqlite_file = Path(url.database or "") if url.get_backend_name() == "sqlite" else None
        if sqlite_file is not None and not sqlite_file.is_file():
            raise ValueError(f"no judgments store at {sqlite_file}")
        store = JudgmentStore(url, create=False)
        try:
            judgments = source_judgments(store, campaign=args.campaign, min_agreement=args.min_agreement,
                                          users=args.user)
        finally:
            store.close()
        if not judgments:
            if args.user:
                raise TrainingRefused("training_no_judgments_by", users=", ".join(args.user))
            raise TrainingRefused("training_no_judgments")
        registry = ModelRegistry(args.models_dir or (sqlite_file.parent if sqlite_file else default_data_dir()) / "models",
                                 keep=args.keep, db=store.db)  # closed above, usable again: records the version
        report = run_training(judgments, config, registry.save, progress=out.progress, cancel=cancel,
                              trained_by=args.owner)
    except TrainingCancelled as error:
        return out.error(str(error), EXIT_CANCELLED)
    except (ValueError, OSError, ModelLoadError) as error:  # TrainingRefused among them: says what to do
        return out.error(message_of(error), EXIT_REFUSED)
    except Exception as error:
        log.exception("training failed")
        return out.error(Message("training_failed_unexpectedly", error=type(error).__name__), EXIT_UNEXPECTED)
    if args.report:
        Path(args.report).write_text(json.dumps(report.to_dict(), ensure_ascii=False, indent=2) + "\n",
                                     encoding="utf-8")
    out.report(report)
    return EXIT_OK
