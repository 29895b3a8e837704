"""Files an import could not use, queryable after the import: `inspector errors`, the GUI's summary.

Two kinds: *unreadable* files are images the project knows (a row flagged unreadable, with the
decoder's reason: truncated, empty, not an image, too many pixels...); *skipped* files were never
opened and are not images of the project (FIFOs, devices, symlinks out of the root, folders that
could not be listed; see core.data.file_checks). The skipped list of a dataset is the one of its
latest import: each import replaces it. A problem's root is this workstation's folder for the
dataset (core.store.root_map).
"""
from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from core.store.clock import utcnow
from core.store.records import FileProblem
from core.store.root_map import root_map
from core.store.schema import Dataset, Image, SkippedFile

UNREADABLE, SKIPPED = "unreadable", "skipped"


def replace_skipped(session: Session, dataset_id: int, skipped: Iterable[tuple[str, str]]) -> None:
    """The dataset's skipped files are now exactly `skipped` [(rel_path, reason)]."""
    session.execute(delete(SkippedFile).where(SkippedFile.dataset_id == dataset_id))
    now = utcnow()
    rows = [{"dataset_id": dataset_id, "rel_path": p, "reason": r, "seen": now} for p, r in dict(skipped).items()]
    if rows:
        session.execute(insert(SkippedFile), rows)


def file_problems(session: Session, *, dataset_id: int | None = None, kinds: Iterable[str] = (UNREADABLE, SKIPPED),
                  include_missing: bool = False) -> list[FileProblem]:
    """Unreadable and skipped files, by dataset then path. Images flagged missing are left out unless asked for."""
    kinds = set(kinds)
    roots = root_map(session)
    out: list[FileProblem] = []
    if UNREADABLE in kinds:
        q = (select(Image.dataset_id, Dataset.root, Image.rel_path, Image.error)
             .join(Dataset, Dataset.id == Image.dataset_id).where(Image.readable.is_(False)))
        if not include_missing:
            q = q.where(Image.missing.is_(False))
        if dataset_id is not None:
            q = q.where(Image.dataset_id == dataset_id)
        out += [FileProblem(d, roots.get(root, root), p, UNREADABLE, err or "unreadable")
                for d, root, p, err in session.execute(q)]
    if SKIPPED in kinds:
        q = select(SkippedFile.dataset_id, Dataset.root, SkippedFile.rel_path, SkippedFile.reason).join(
            Dataset, Dataset.id == SkippedFile.dataset_id)
        if dataset_id is not None:
            q = q.where(SkippedFile.dataset_id == dataset_id)
        out += [FileProblem(d, roots.get(root, root), p, SKIPPED, r) for d, root, p, r in session.execute(q)]
    out.sort(key=lambda f: (f.dataset_id, f.rel_path, f.kind))
    return out
