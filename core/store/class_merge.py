"""Class names that differ only in case or spacing ("GOOD", "good", "good "), and merging them.

Merging A into B relabels every image labelled A as B in one bulk action (label events with the
user's name: audited like any relabel, undone as one step) and marks A merged into B: A is no
longer listed while no image carries it, and imports that still say A file their images under B.
A's row stays, because the label history names it.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from core.errors import InspectorError, UnknownClass
from core.store.classes import class_names
from core.store.labels import bulk_set_labels
from core.store.schema import Image, ImageClass
from core.store.users import resolve_user


@dataclass(frozen=True, slots=True)
class MergeResult:
    source: str
    target: str
    moved: int  # images relabelled from source to target
    group_id: int | None  # the label action (None when no image carried the source label)


def name_key(name: str) -> str:
    """What two names have in common when they differ only in case or spacing."""
    return " ".join(name.split()).casefold()


def similar_groups(names: Iterable[str]) -> list[list[str]]:
    """Groups of two or more names with the same `name_key`, each in the given order."""
    groups: dict[str, list[str]] = defaultdict(list)
    for n in names:
        groups[name_key(n)].append(n)
    return [g for g in groups.values() if len(g) > 1]


def similar_classes(session: Session, extra_counts: dict[str, int] | None = None) -> list[list[str]]:
    """Listed classes that differ only in case or spacing; each group ordered by how many images
    carry the label (plus `extra_counts`), fewest first: merging the others into the last moves least."""
    groups = similar_groups(class_names(session))
    if not groups:
        return []
    counts = dict(session.execute(select(ImageClass.name, func.count(Image.id))
                                  .join(Image, Image.class_id == ImageClass.id).group_by(ImageClass.name)).all())
    for name, n in (extra_counts or {}).items():
        counts[name] = counts.get(name, 0) + n
    return [sorted(g, key=lambda n: (counts.get(n, 0), n)) for g in groups]


def merge_classes(session: Session, source: str, target: str, *, user: str | None = None) -> MergeResult:
    """Relabel every image labelled `source` as `target` (one undoable action) and retire `source`."""
    if source == target:
        raise InspectorError(f"cannot merge class {source!r} into itself")
    rows = {name: (cid, into) for name, cid, into in
            session.execute(select(ImageClass.name, ImageClass.id, ImageClass.merged_into_id))}
    listed = class_names(session)
    for name in (source, target):
        if name not in rows:
            raise UnknownClass(name, listed)
    source_id, _ = rows[source]
    target_id, target_into = rows[target]
    if target_into is not None and target not in listed:
        into = next(n for n, (cid, _) in rows.items() if cid == target_into)
        raise InspectorError(f"class {target!r} was merged into {into!r}; merge into {into!r} instead")
    user = resolve_user(user)
    ids = list(session.scalars(select(Image.id).where(Image.class_id == source_id).order_by(Image.id)))
    result = bulk_set_labels(session, ids, target, user=user) if ids else None
    # Flat: classes merged into `source` earlier now point at `target` directly.
    session.execute(update(ImageClass).where(or_(ImageClass.id == source_id, ImageClass.merged_into_id == source_id))
                    .values(merged_into_id=target_id))
    return MergeResult(source, target, len(result.changed) if result else 0, result.group_id if result else None)
