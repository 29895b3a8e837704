"""Import a scanned dataset into a project: idempotent, and safe for inspectors' corrections.

Re-importing the same folder finds what is new, changed (content hash), unchanged, gone (flagged
missing, never deleted: their labels and history stay) and unreadable. Labels from the import are
label events with source "import"; a label whose last change came from a person (manual, bulk,
undo, redo) is kept even if the dataset files it elsewhere, and reported. Files the scan skipped
without opening them are recorded per dataset (core.store.file_problems); the report names every
unreadable and skipped file, and warns about class names that differ only in case or spacing.

Written for 100k+ images: one SELECT of what the project knows, a diff in Python, then executemany
inserts/updates in chunks; rows that did not change are not written at all.
"""
from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session

from core.store.class_merge import similar_classes
from core.store.classes import class_ids, ensure_classes
from core.progress import Reporter, silent
from core.store.clock import utcnow
from core.store.file_problems import replace_skipped
from core.store.labels import add_initial_labels, apply_changes, begin_group, finish_group
from core.store.records import ImportReport
from core.store.schema import Dataset, Image, Label
from core.store.users import resolve_user

CHUNK = 10_000
META = ("content_hash", "size_bytes", "width", "height", "channels", "mask_rel_path", "category")

img = Image.__table__


class ScanLike(Protocol):  # core.data.scan_records.ScanResult; structural so the store need not import core.data
    root: Any
    format: str
    class_names: list[str]
    images: list[Any]


def import_scan(session: Session, scan: ScanLike, *, user: str | None = None,
                progress: Reporter | None = None) -> ImportReport:
    user = resolve_user(user)
    progress = progress or silent()
    root = str(Path(scan.root).expanduser().resolve())
    # Group first: the import's first statement is a write, so all it reads below is read under the lock.
    group_id = begin_group(session, user, "import")
    roots = dict(session.execute(select(Dataset.root, Dataset.id)).all())
    # A shared dataset this workstation reads from its own mount (inspector roots set): the folder
    # imported again is that dataset, under its stored root, not a second one.
    from core.store.root_map import root_map

    root = next((stored for stored, local in root_map(session).items()
                 if str(Path(local).expanduser().resolve()) == root and stored in roots), root)
    dataset_id = roots.get(root)
    if dataset_id is None:
        dataset_id = session.execute(
            insert(Dataset).values(root=root, format=scan.format or "auto", created=utcnow()).returning(Dataset.id)
        ).scalar_one()
    report = ImportReport(dataset_id=dataset_id, root=root, new_dataset=root not in roots,
                          other_datasets=len(roots) - (root in roots))

    report.classes_added = ensure_classes(session, list(scan.class_names) + sorted(
        {im.label for im in scan.images if im.label is not None} - set(scan.class_names)))
    cids = class_ids(session)

    known = {r.rel_path: r for r in session.execute(
        select(img, Label.class_id.label("label_class"), Label.source.label("label_source"))
        .outerjoin(Label, Label.image_id == img.c.id).where(img.c.dataset_id == dataset_id))}
    now = utcnow()
    new_rows: list[dict] = []
    new_labels: dict[str, int | None] = {}
    updates: list[dict] = []
    relabel: dict[int, int | None] = {}
    seen: set[str] = set()
    total = len(scan.images)
    for n, im in enumerate(scan.images, 1):
        seen.add(im.rel_path)
        readable = im.error is None
        report.unreadable += not readable
        cid = cids.get(im.label) if im.label is not None else None
        old = known.get(im.rel_path)
        if old is None:
            report.new += 1
            new_rows.append({"dataset_id": dataset_id, "rel_path": im.rel_path, "split": im.split,
                             "readable": readable, "error": im.error, "missing": False, "class_id": cid,
                             "added": now, **{k: getattr(im, k) for k in META}})
            new_labels[im.rel_path] = cid
        else:
            if old.content_hash != im.content_hash:
                report.changed += 1
            else:
                report.unchanged += 1
            report.restored += bool(old.missing)
            row = {"iid": old.id, "readable": readable, "error": im.error, "missing": False,
                   "split": im.split if im.split is not None else old.split, **{k: getattr(im, k) for k in META}}
            if any(row[k] != getattr(old, k) for k in row if k != "iid"):
                updates.append(row)
            if cid is not None and cid != old.label_class:
                if old.label_source in (None, "import"):
                    relabel[old.id] = cid
                else:
                    report.kept.append((im.rel_path, _name(cids, old.label_class), im.label))
        if n % CHUNK == 0:
            progress.progress(n, total, f"writing the project {n}/{total}")

    gone = [r for p, r in known.items() if p not in seen]
    report.missing = len(gone)
    report.labels_set = _write_new(session, dataset_id, new_rows, new_labels, group_id=group_id, user=user, now=now)
    for i in range(0, len(updates), CHUNK):
        session.execute(update(img).where(img.c.id == bindparam("iid")).values(
            {k: bindparam(k) for k in updates[0] if k != "iid"}), updates[i:i + CHUNK])
    flag = [{"iid": r.id} for r in gone if not r.missing]
    if flag:
        session.execute(update(img).where(img.c.id == bindparam("iid")).values(missing=True), flag)
    if relabel:
        report.labels_set += len(apply_changes(session, relabel, user=user, source="import", group_id=group_id))
    finish_group(session, group_id, report.labels_set)
    _duplicates(scan, report)
    report.unreadable_files = [(im.rel_path, im.error) for im in scan.images if im.error is not None]
    report.skipped = [(s.rel_path, s.reason) for s in getattr(scan, "skipped", ())]
    replace_skipped(session, dataset_id, report.skipped)
    report.similar_classes = similar_classes(session)
    progress.progress(total, total, f"writing the project {total}/{total}")
    return report


def _name(cids: dict[str, int], cid: int | None) -> str | None:
    return next((n for n, i in cids.items() if i == cid), None)


def _write_new(session: Session, dataset_id: int, rows: list[dict], labels: dict[str, int | None], *,
               group_id: int, user: str, now) -> int:
    """Insert the new images, then their labels through core.store.labels; returns labels set."""
    for i in range(0, len(rows), CHUNK):
        session.execute(insert(img), rows[i:i + CHUNK])
    if not rows:
        return 0
    ids = dict(session.execute(select(img.c.rel_path, img.c.id).where(img.c.dataset_id == dataset_id)).all())
    return add_initial_labels(session, {ids[path]: cid for path, cid in labels.items()}, group_id=group_id,
                              user=user, now=now)


def _duplicates(scan: ScanLike, report: ImportReport) -> None:
    by_hash: dict[str, list[Any]] = defaultdict(list)
    for im in scan.images:
        if im.content_hash:
            by_hash[im.content_hash].append(im)
    for group in by_hash.values():
        if len(group) > 1:
            report.duplicates.append(sorted(im.rel_path for im in group))
            if len({im.label for im in group}) > 1:
                report.conflicting_duplicates.append(sorted((im.rel_path, im.label) for im in group))
