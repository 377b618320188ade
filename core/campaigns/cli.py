"""``python -m core.campaigns``: create campaigns and read their progress, agreement and training data.

    python -m core.campaigns create --db PATH --file TABLE --judgment relevance|score|label [--overlap 2]
                                    [--labels "a,b"] [--instructions TEXT] [--name NAME] [--show-model-score]
    python -m core.campaigns list --db PATH
    python -m core.campaigns progress --db PATH --campaign ID
    python -m core.campaigns agreement --db PATH --campaign ID [--top 10]
    python -m core.campaigns export --db PATH --campaign ID --kind scores --format jsonl --out FILE
                                    [--min-agreement 0.6] [--prefixes apply|columns]
    python -m core.campaigns consensus --db PATH --campaign ID --out STORE [--min-agreement 0.6]

Whoever runs the command holds the store file, so it acts as an admin. ``consensus`` writes one
judgment per item (mean score, majority verdict or label) into a judgments store of its own, which
``python -m core.training --store`` trains from.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from core.campaigns.model import JUDGMENTS, MAX_ITEMS, check_export_kind, items_from_table
from core.campaigns.store import CampaignStore
from core.judgments import (
    EXPORT_FORMATS,
    EXPORT_KINDS,
    PREFIX_MODES,
    JudgmentStore,
    default_store_location,
    default_store_path,
    export,
)

CLI_USER = "cli"
# The app's own upload cap (Limits.upload_bytes) is for visitors; the operator may load more.
CLI_MAX_BYTES = 50_000_000


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m core.campaigns",
                                     description="Annotation campaigns of USER Studio.")
    sub = parser.add_subparsers(dest="command", required=True)
    db_help = "the feedback store: a SQLite file or a sqlite:///... or postgresql+psycopg://... URL (default: " \
              f"$USER_STUDIO_STORE, else {default_store_path()})"

    def command(name: str, help_text: str, campaign: bool = True) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text)
        # str, not Path: Path would fold a URL's "//" and turn postgresql+psycopg://host/db into a bad path.
        p.add_argument("--db", default=None, help=db_help)
        if campaign:
            p.add_argument("--campaign", required=True, help="the campaign id")
        return p

    p = command("create", "a campaign from a table of items", campaign=False)
    p.add_argument("--file", type=Path, required=True,
                   help="CSV/TSV/TXT/XLSX/Parquet with query,passage or sentence1,sentence2 or text columns")
    p.add_argument("--judgment", choices=JUDGMENTS, required=True)
    p.add_argument("--overlap", type=int, default=2, help="distinct people per item (default 2)")
    p.add_argument("--labels", default="", help="label campaigns: the labels, comma-separated")
    p.add_argument("--instructions", default="")
    p.add_argument("--name", default="")
    p.add_argument("--show-model-score", action="store_true", help="show annotators the model's score (off: "
                   "it anchors people)")
    p.add_argument("--creator", default=CLI_USER, help="recorded as the campaign's creator (default: cli)")
    command("list", "campaigns, as JSON", campaign=False)
    command("progress", "judgments so far")
    p = command("agreement", "Krippendorff's alpha, annotators, disputed items")
    p.add_argument("--top", type=int, default=10)
    p = command("export", "a training dataset from the campaign's consensus")
    p.add_argument("--kind", choices=EXPORT_KINDS, required=True)
    p.add_argument("--format", dest="fmt", choices=EXPORT_FORMATS, default="jsonl")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--prefixes", choices=PREFIX_MODES, default="apply")
    p.add_argument("--min-agreement", type=float, default=None, help="leave out items agreeing less (0-1)")
    p = command("consensus", "the consensus judgments into a store of their own (for core.training)")
    p.add_argument("--out", required=True, help="a judgments store to write (a SQLite file or a database URL)")
    p.add_argument("--min-agreement", type=float, default=None)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m core.campaigns``; returns the exit status."""
    args = _parser().parse_args(argv)
    try:
        # Only `create` may make a new store: elsewhere a typo in --db must be an error, not an empty file.
        store = JudgmentStore(args.db or default_store_location(), create=args.command == "create")
        with store:
            campaigns = CampaignStore(store)
            print(json.dumps(_run(campaigns, args), ensure_ascii=False, indent=2, default=str))
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def _run(campaigns: CampaignStore, args: argparse.Namespace) -> object:
    if args.command == "create":
        table = items_from_table(str(args.file), args.judgment, max_bytes=CLI_MAX_BYTES, max_items=MAX_ITEMS)
        campaign = campaigns.create(args.creator, table, args.judgment, overlap=args.overlap,
                                    labels=args.labels or None, instructions=args.instructions, name=args.name,
                                    show_model_score=args.show_model_score, is_admin=True)
        return {**campaign.public(), "notes": table.notes}
    if args.command == "list":
        return [{**c.public(), "creator": c.creator, "created_at": c.created_at}
                for c in campaigns.visible(CLI_USER, is_admin=True)]
    if args.command == "progress":
        return campaigns.progress(args.campaign, CLI_USER).as_dict()
    if args.command == "agreement":
        return dataclasses.asdict(campaigns.agreement(args.campaign, CLI_USER, True, top=args.top))
    consensus = campaigns.consensus(args.campaign, CLI_USER, True, min_agreement=args.min_agreement)
    if args.command == "export":
        check_export_kind(campaigns.get(args.campaign).judgment, args.kind)  # the kinds its consensus fills
        rows = export(consensus.judgments, args.fmt, args.out, kind=args.kind, prefixes=args.prefixes)
        return {"rows": rows, "out": str(args.out), "items": consensus.summary()}
    with JudgmentStore(args.out) as target:
        result = target.import_records(consensus.judgments)
    return {"added": result.added, "duplicates": result.duplicates, "out": str(args.out),
            "items": consensus.summary()}
