"""Which judgments a training run learns from: a campaign's consensus, or people's own judgments."""

from __future__ import annotations

from collections.abc import Sequence

from core.campaigns import CampaignStore
from core.judgments import Judgment, JudgmentStore


def source_judgments(store: JudgmentStore, *, campaign: str | None = None, min_agreement: float | None = None,
                     users: Sequence[str] | None = None) -> list[Judgment]:
    """The judgments to train on: a campaign's consensus, else the users' (default everyone's).

    Read as the store's operator, so a campaign's consensus is read as an admin: the app checks that its
    caller may read the campaign before it starts a job.
    """
    if campaign:
        consensus = CampaignStore(store).consensus(campaign, "operator", is_admin=True, min_agreement=min_agreement)
        return list(consensus.judgments)
    everyone: list[str | None] = [None]
    return [j for user in (users or everyone) for j in store.judgments(user=user)]
