"""Label changes as a user makes them: one image (by id or path), many at once, undo and redo, and
an image's history. One call = one transaction. The GUI keys its writes on label versions, so the
functions it uses hand back the versions they left behind.

Writes are tried again when they failed without writing anything (a lost connection to a
PostgreSQL server, a deadlock, a lock timeout: core.store.server.retrying); they are conditional on
the versions the user saw, so a repeat can never apply a change twice. What still fails reaches the
caller as one line (the GUI's status bar says it; the tile keeps what the database holds, so
pressing the key again is the retry)."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from core.retry import retrying

if TYPE_CHECKING:
    from core.store.project import Project
    from core.store.records import GroupResult, ImageRecord, LabelEventRecord, LabelState


@dataclass(frozen=True, slots=True)
class LabelWrite:
    image: ImageRecord  # as it was before the write
    state: LabelState  # after it; `.group_id` None when nothing changed


@dataclass(frozen=True, slots=True)
class GroupWrite:
    result: GroupResult | None  # None: nothing to undo or redo
    versions: dict[int, int] = field(default_factory=dict)  # image id -> label version after the write


def set_image_label(project: Project, image: int | str, label: str | None, *, user: str | None = None,
                    expected_version: int | None = None) -> LabelWrite:
    """One image, named by id or by path relative to its dataset root."""
    from core.store.labels import set_label
    from core.store.queries import get_image

    def write() -> LabelWrite:
        with project.session(write=True) as s:
            record = get_image(s, image)
            return LabelWrite(record, set_label(s, record.id, label, user=user, expected_version=expected_version))
    return retrying(write)


def label_one(project: Project, image_id: int, label: str | None, *, user: str | None = None,
              expected_version: int | None = None) -> LabelState:
    """The keyboard's path: one read, then the writes (see core.store.labels.set_label); the state
    returned carries the event, so the caller needs no further query."""
    from core.store.labels import set_label

    def write() -> LabelState:
        with project.session() as s:
            return set_label(s, image_id, label, user=user, source="manual", expected_version=expected_version)
    return retrying(write)


def label_many(project: Project, expected_versions: Mapping[int, int], label: str | None, *,
               user: str | None = None) -> GroupWrite:
    """Give the images (image id -> the label version the caller saw) one label, as one undo step."""
    from core.store.labels import bulk_set_labels, label_versions

    def write() -> GroupWrite:
        with project.session() as s:
            r = bulk_set_labels(s, list(expected_versions), label, user=user, expected_versions=expected_versions)
            return GroupWrite(r, label_versions(s, r.changed))
    return retrying(write)


def undo_last(project: Project, *, user: str | None = None) -> GroupWrite:
    return _step(project, "undo", user)


def redo_last(project: Project, *, user: str | None = None) -> GroupWrite:
    return _step(project, "redo", user)


def image_history(project: Project, image: int | str) -> tuple[ImageRecord, list[LabelEventRecord]]:
    """An image (by id or path) and its label events, oldest first, from one consistent view."""
    from core.store.labels import history
    from core.store.queries import get_image

    with project.session(snapshot=True) as s:
        record = get_image(s, image)
        return record, history(s, record.id)


def label_events(project: Project, image_id: int) -> list[LabelEventRecord]:
    """The label events of one image, oldest first (one query: what the GUI shows per image)."""
    from core.store.labels import history

    with project.session() as s:
        return history(s, image_id)


def _step(project: Project, action: str, user: str | None) -> GroupWrite:
    from core.store import labels

    def write() -> GroupWrite:
        with project.session() as s:
            r = (labels.undo if action == "undo" else labels.redo)(s, user=user)
            return GroupWrite(r, labels.label_versions(s, r.changed) if r is not None else {})
    return retrying(write)


def describe_images(project: Project, image_ids: list[int], limit: int = 3) -> list[tuple[int, str, str | None]]:
    """(id, path, current label) of the first `limit` images: what an undo or redo message names."""
    from core.store.queries import get_image

    with project.session() as s:
        return [(r.id, r.rel_path, r.label) for r in (get_image(s, i) for i in image_ids[:limit])]
