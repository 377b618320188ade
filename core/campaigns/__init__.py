"""Annotation campaigns: many people judge the same items, with overlap, leases and agreement.

Pure Python and SQLite (no UI): campaigns live in the judgments' own file, and each campaign
judgment is an ordinary :class:`core.judgments.Judgment` linked to its campaign item.

    model.py      Campaign, Item, settings and how a table of items is read and checked
    store.py      CampaignStore: create, hand out (leases), submit, skip, undo, progress, consensus
    agreement.py  Krippendorff's alpha, per-annotator agreement, disputed items
    uncertain.py  items the model is least sure about (boundary pairs, tied queries, border texts)
    cli.py        python -m core.campaigns create | list | progress | agreement | export | consensus
"""

from core.campaigns.agreement import (
    AgreementReport,
    AnnotatorAgreement,
    DisputedItem,
    agreement_report,
    item_agreement,
    krippendorff_alpha,
)
from core.campaigns.model import (
    JUDGMENTS,
    KINDS_OF,
    LABEL,
    MAX_ITEMS,
    MAX_LABELS,
    MAX_OVERLAP,
    PREFIXES_OF,
    RELEVANCE,
    SCORE,
    Campaign,
    Item,
    ItemTable,
    items_from_rows,
    items_from_table,
    parse_labels,
)
from core.campaigns.store import LEASE_S, AnnotatorProgress, CampaignStore, Consensus

__all__ = [
    "JUDGMENTS", "KINDS_OF", "LABEL", "LEASE_S", "MAX_ITEMS", "MAX_LABELS", "MAX_OVERLAP", "PREFIXES_OF", "RELEVANCE", "SCORE",
    "AgreementReport", "AnnotatorAgreement", "Campaign", "CampaignStore", "Consensus", "DisputedItem", "Item",
    "ItemTable", "AnnotatorProgress", "agreement_report", "item_agreement", "items_from_rows", "items_from_table",
    "krippendorff_alpha", "parse_labels",
]
