"""``python -m core.judgments``: inspect and export the judgments of a store.

    python -m core.judgments export --db PATH --kind pairs --format jsonl --out FILE [--prefixes apply|columns]
    python -m core.judgments stats --db PATH
    python -m core.judgments count --db PATH [--kind KIND] [--user USER]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from core.judgments.export import EXPORT_FORMATS, EXPORT_KINDS, PREFIX_MODES, export
from core.judgments.model import KINDS
from core.judgments.paths import default_store_location, default_store_path
from core.judgments.store import JudgmentStore


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m core.judgments",
                                     description="Inspect and export USER Studio's human judgments.")
    sub = parser.add_subparsers(dest="command", required=True)
    db_help = "the feedback store: a SQLite file or a database URL (default: $USER_STUDIO_STORE, else " \
              f"{default_store_path()})"
    p_export = sub.add_parser("export", help="write a training dataset")
    p_export.add_argument("--db", default=None, help=db_help)
    p_export.add_argument("--kind", choices=EXPORT_KINDS, default="pairs")
    p_export.add_argument("--format", dest="fmt", choices=EXPORT_FORMATS, default="jsonl")
    p_export.add_argument("--out", type=Path, required=True, help="output file")
    p_export.add_argument("--prefixes", choices=PREFIX_MODES, default="apply",
                          help="prepend the recorded prefixes (apply) or keep them in columns")
    p_stats = sub.add_parser("stats", help="counts by kind, user and tab, as JSON")
    p_stats.add_argument("--db", default=None, help=db_help)
    p_count = sub.add_parser("count", help="number of records")
    p_count.add_argument("--db", default=None, help=db_help)
    p_count.add_argument("--kind", choices=KINDS, default=None)
    p_count.add_argument("--user", default=None)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m core.judgments``; returns the exit status."""
    args = _parser().parse_args(argv)
    try:
        # Never create a store from the CLI: a typo in --db should be an error, not an empty database.
        store = JudgmentStore(args.db or default_store_location(), create=False)
        with store:
            if args.command == "export":
                n = export(store, args.fmt, args.out, kind=args.kind, prefixes=args.prefixes)
                print(f"wrote {n} {args.kind} rows to {args.out}")
            elif args.command == "stats":
                print(json.dumps(store.counts(), ensure_ascii=False, indent=2))
            else:
                print(store.count(kind=args.kind, user=args.user))
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0
