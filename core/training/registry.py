"""Tuned models under the data folder: versioned, fp16, with a model card, the last N kept per owner.

A version belongs to the user who trained it (``trained_by`` in its report; an admin's run on
everyone's judgments is that admin's). Keeping the last N counts each owner's versions apart, so one
person's runs never delete another's; a version without an owner (saved by the operator's command
line, or before owners were recorded) is the operator's and only an ownerless run prunes it.

    <data-dir>/models/<base>-tuned-0003/
        model.safetensors ...      sentence-transformers layout, fp16 weights
        README.md                  model card: base model, judgments (count, hash), metrics, date
        user_studio.json           the full TrainingReport, read back by :meth:`ModelRegistry.versions`

The folders are the source of the weights and of the list: every replica that shares the models folder
lists and loads every version in it, those saved before the database kept records included. Given the
app's Database, a save also writes the version's ``model_versions`` row (and a prune deletes it), so the
registry's records sit next to the judgments, on SQLite or PostgreSQL alike.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import delete, exc

from core.errors import UserError
from core.judgments import utc_now
from core.storage import Database
from core.storage.schema import model_versions
from core.training.trainer import TrainingReport, model_prompts_saved

log = logging.getLogger(__name__)

REPORT_FILE = "user_studio.json"
DEFAULT_KEEP = 3  # a save is ~235 MB for e5-small in fp16, ~350 MB for USER-base
_VERSION = re.compile(r"^(?P<base>[a-z0-9][a-z0-9._-]*)-tuned-(?P<number>\d{4})$")


def slug(model_id: str) -> str:
    """A folder-safe short name for a base model ("deepvk/USER-base" -> "user-base")."""
    name = Path(model_id.rstrip("/")).name.lower()
    name = re.sub(r"-tuned-\d{4}$", "", name)
    name = re.sub(r"[^a-z0-9._-]+", "-", name).strip("-.") or "model"
    return name[:60]


@dataclass(frozen=True)
class TunedModel:
    """One saved version and what its report says."""

    name: str
    path: Path
    report: TrainingReport

    @property
    def promoted(self) -> bool:
        return self.report.promoted


class ModelRegistry:
    """Saves tuned models as numbered versions and keeps each owner's newest ``keep`` of them."""

    def __init__(self, root: str | os.PathLike[str], keep: int = DEFAULT_KEEP, db: Database | None = None) -> None:
        if keep < 1:
            raise ValueError(f"keep must be at least 1, got {keep}")
        self.root = Path(root)
        self.keep = keep
        self.db = db  # where the versions' records go (model_versions); None: the folders only

    def _numbers(self) -> list[tuple[int, Path]]:
        if not self.root.is_dir():
            return []
        found = []
        for child in self.root.iterdir():
            match = _VERSION.match(child.name)
            if match and child.is_dir():
                found.append((int(match["number"]), child))
        return sorted(found)

    def save(self, model: Any, report: TrainingReport) -> Path:
        """Write ``model`` in fp16 with its card and report as the next version; prune old ones."""
        self.root.mkdir(parents=True, exist_ok=True)
        numbers = self._numbers()
        number = (numbers[-1][0] + 1) if numbers else 1
        name = f"{slug(report.base_model)}-tuned-{number:04d}"
        final = self.root / name
        partial = self.root / f".{name}.partial"
        shutil.rmtree(partial, ignore_errors=True)
        report.version, report.created_at = name, utc_now()
        report.model_dir = str(final)
        model.prompts, model.default_prompt_name = model_prompts_saved(model)
        # Half the disk of fp32; the app loads it back in fp32 (DeBERTa cannot load in fp16).
        model.half()
        model.save(str(partial), safe_serialization=True)
        (partial / REPORT_FILE).write_text(json.dumps(report.to_dict(), ensure_ascii=False, indent=2) + "\n",
                                           encoding="utf-8")
        (partial / "README.md").write_text(model_card(report), encoding="utf-8")
        os.replace(partial, final)  # a reader never sees half a model
        self._record(report, final)
        self.prune(report.trained_by)
        return final

    def _record(self, report: TrainingReport, path: Path) -> None:
        """The version's row in ``model_versions`` (replaced if a pruned name comes back)."""
        if self.db is None:
            return
        values = {"owner": report.trained_by, "base_model": report.base_model, "created_at": report.created_at,
                  "promoted": int(report.promoted), "path": path.name,  # relative to the shared models folder
                  "report": json.dumps(report.to_dict(), ensure_ascii=False)}
        try:
            with self.db.transaction() as conn:
                conn.execute(self.db.insert(model_versions).values(name=path.name, **values)
                             .on_conflict_do_update(index_elements=["name"], set_=values))
        except exc.SQLAlchemyError as error:
            raise self.db.error(error, "record a tuned version in") from error

    def _forget(self, names: list[str]) -> None:
        if self.db is None or not names:
            return
        try:
            with self.db.transaction() as conn:
                conn.execute(delete(model_versions).where(model_versions.c.name.in_(names)))
        except exc.SQLAlchemyError as error:
            raise self.db.error(error, "delete tuned versions' records in") from error

    def prune(self, owner: str | None = None) -> list[str]:
        """Delete all but ``owner``'s newest ``keep`` versions (None: the operator's, those without an
        owner); other owners' versions are never touched. Returns the names deleted."""
        owned = [path for _, path in self._numbers() if self._owner(path) == owner]
        removed = []
        for path in owned[:-self.keep] if len(owned) > self.keep else []:
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path.name)
        self._forget(removed)
        return removed

    @staticmethod
    def _owner(path: Path) -> str | None:
        """Who trained the version in ``path``; an unreadable report counts as the operator's (None),
        so that no user's run deletes it."""
        try:
            owner = json.loads((path / REPORT_FILE).read_text(encoding="utf-8")).get("trained_by")
        except (OSError, ValueError, AttributeError):
            return None
        return owner if isinstance(owner, str) and owner else None

    def versions(self) -> list[TunedModel]:
        """Saved versions, newest first; a folder with an unreadable report is skipped (and logged)."""
        out = []
        for _, path in reversed(self._numbers()):
            try:
                values = json.loads((path / REPORT_FILE).read_text(encoding="utf-8"))
                out.append(TunedModel(path.name, path, TrainingReport.from_dict(values)))
            except (OSError, ValueError, KeyError, TypeError) as error:
                log.warning("skipping tuned model %s: %s", path, error)
        return out

    def versions_of(self, user: str | None, is_admin: bool = False) -> list[TunedModel]:
        """The versions ``user`` trained, newest first; an admin's: all of them."""
        return [v for v in self.versions() if is_admin or (user is not None and v.report.trained_by == user)]

    def get(self, name: str, user: str | None, is_admin: bool = False) -> TunedModel:
        """One of ``user``'s saved versions by name (an admin: anyone's); anything else (a path, '..',
        another user's version) is refused. Another user's name gets exactly the answer a missing one
        gets, naming only the caller's own versions, so nobody learns which names exist."""
        mine = self.versions_of(user, is_admin)
        for version in mine:
            if version.name == name:
                return version
        if not mine:
            raise UserError("no_saved_versions", name=name)
        raise UserError("no_such_version", name=name, known=", ".join(v.name for v in mine))


def model_card(report: TrainingReport) -> str:
    """A README.md that says where the model came from and what it measured."""
    lines = [
        "---", "library_name: sentence-transformers", f"base_model: {report.base_model}",
        "tags: [sentence-transformers, user-studio]", "---", "",
        f"# {report.version}", "",
        f"Fine-tuned from `{report.base_model}`" + (f" (revision `{report.base_revision}`)" if report.base_revision
                                                    else "") + f" by USER Studio on {report.created_at}.", "",
        "## Judgments", "",
        f"- {report.judgments} judgments, content hash `{report.judgments_hash}`",
        f"- training rows: {_kinds(report.train_rows)}; held out: {_kinds(report.held_out_rows)}"
        + (f"; {report.dropped} left out of both sides (they shared a text with the hold-out)" if report.dropped
           else ""),
        f"- losses: {_kinds(report.losses)}",
        f"- {report.steps} steps on {report.device} ({report.precision}), {report.seconds:.0f} s; settings: "
        + ", ".join(f"{k}={v}" for k, v in report.config.items() if k not in ("base_model", "kinds")), "",
        "## Before and after", "",
        "| metric | set | before | after | change | rows |", "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for m in report.metrics:
        lines.append(f"| {m.name} | {m.split} | {m.before:.4f} | {m.after:.4f} | {m.change:+.4f} | {m.rows} |")
    verdict = "promoted" if report.promoted else "not promoted"
    lines += ["", f"**{verdict}**: {report.reason}", "",
              "Weights are stored in fp16; load them in fp32 (DeBERTa does not run in fp16 on load).", ""]
    return "\n".join(lines)


def _kinds(values: dict[str, Any]) -> str:
    return ", ".join(f"{k} {v}" for k, v in values.items()) or "none"
