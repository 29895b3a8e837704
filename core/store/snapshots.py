"""Frozen label snapshots: what a training job trains on, so corrections made while it runs do not
leak in. A snapshot stores, per labelled readable image, its absolute path, content hash, label and
split, plus the last label event it includes (event_position), so "what changed since" is a query.
The stored path is under the project's dataset root, the same for everybody sharing the database;
`get_snapshot` gives it under this workstation's folder for that root (core.store.root_map).

When the data has no validation split, one is drawn here: stratified per class, deterministic for a
seed, recorded in the snapshot only (images' own splits are left alone).
"""
from __future__ import annotations

import csv
import json
import os
from collections import defaultdict
from pathlib import Path

import numpy as np
from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from core.atomic import atomic_path
from core.errors import InspectorError, NotFound
from core.store.classes import class_names
from core.store.clock import from_db, utcnow
from core.store.paths import join_root
from core.store.records import SnapshotRecord, SnapshotRow
from core.store.root_map import path_mapper, root_map
from core.store.schema import Dataset, Image, ImageClass, LabelEvent, Snapshot
from core.store.schema import SnapshotRow as SnapshotRowTable

CHUNK = 10_000
img = Image.__table__


def take_snapshot(session: Session, *, seed: int = 0, val_fraction: float = 0.2, note: str | None = None) -> SnapshotRecord:
    if not 0.0 < val_fraction < 1.0:
        raise InspectorError(f"val_fraction must be between 0 and 1, not {val_fraction}")
    # Write first: the transaction takes the write lock now, so the labels read below and the event
    # position are one consistent state that no other writer can move underneath us.
    snap_id = session.execute(insert(Snapshot).values(
        created=utcnow(), event_position=0, seed=seed, val_fraction=val_fraction, generated_val=False,
        class_names="[]", note=note).returning(Snapshot.id)).scalar_one()
    position = session.scalar(select(func.max(LabelEvent.id))) or 0
    rows = session.execute(
        select(img.c.id, img.c.rel_path, img.c.content_hash, img.c.split, Dataset.root, ImageClass.name)
        .join(Dataset, Dataset.id == img.c.dataset_id).join(ImageClass, ImageClass.id == img.c.class_id)
        .where(img.c.readable.is_(True), img.c.missing.is_(False)).order_by(img.c.id)
    ).all()
    if not rows:
        raise InspectorError("no labelled, readable images to snapshot")
    names = class_names(session)
    splits = {r.id: r.split or "train" for r in rows}
    generated = "val" not in splits.values()
    if generated:
        splits.update(_stratified_val(rows, names, seed, val_fraction))
    values = [{"snapshot_id": snap_id, "image_id": r.id, "abs_path": join_root(r.root, r.rel_path),
               "content_hash": r.content_hash, "label": r.name, "split": splits[r.id]} for r in rows]
    for k in range(0, len(values), CHUNK):
        session.execute(insert(SnapshotRowTable.__table__), values[k:k + CHUNK])
    session.execute(update(Snapshot).where(Snapshot.id == snap_id).values(
        event_position=position, generated_val=generated, class_names=json.dumps(names)))
    return get_snapshot(session, snap_id)


def get_snapshot(session: Session, snapshot_id: int) -> SnapshotRecord:
    snap = session.get(Snapshot, snapshot_id)
    if snap is None:
        raise NotFound(f"no snapshot with id {snapshot_id}")
    t = SnapshotRowTable.__table__
    local = path_mapper(root_map(session))
    rows = [SnapshotRow(r.image_id, local(r.abs_path), r.content_hash, r.label, r.split) for r in session.execute(
        select(t.c.image_id, t.c.abs_path, t.c.content_hash, t.c.label, t.c.split)
        .where(t.c.snapshot_id == snapshot_id).order_by(t.c.image_id))]
    return _record(snap, rows, len(rows))


def list_snapshots(session: Session) -> list[SnapshotRecord]:
    t = SnapshotRowTable.__table__
    counts = dict(session.execute(select(t.c.snapshot_id, func.count()).group_by(t.c.snapshot_id)).all())
    return [_record(s, [], counts.get(s.id, 0)) for s in session.scalars(select(Snapshot).order_by(Snapshot.id))]


def write_manifest(snapshot: SnapshotRecord, path: str | os.PathLike) -> Path:
    """The snapshot as CSV (abs_path, label, split, content_hash, image_id) for tools outside the store."""
    with atomic_path(path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["abs_path", "label", "split", "content_hash", "image_id"])
        for r in snapshot.rows:
            w.writerow([r.abs_path, r.label, r.split, r.content_hash or "", r.image_id])
    return Path(path)


def _record(s: Snapshot, rows: list[SnapshotRow], count: int) -> SnapshotRecord:
    return SnapshotRecord(id=s.id, created=from_db(s.created), event_position=s.event_position, seed=s.seed,
                          val_fraction=s.val_fraction, generated_val=s.generated_val,
                          class_names=json.loads(s.class_names), rows=rows, note=s.note, count=count)


def _stratified_val(rows, names: list[str], seed: int, fraction: float) -> dict[int, str]:
    """Per class (in class order, ids ascending, so the draw depends on the seed only), move about
    `fraction` of the non-test images to val: at least one when a class has two or more, never all."""
    by_class: dict[str, list[int]] = defaultdict(list)
    for r in rows:
        if (r.split or "train") != "test":
            by_class[r.name].append(r.id)
    rng = np.random.default_rng(seed)
    out = {}
    for name in names:
        ids = sorted(by_class.get(name, []))
        if len(ids) < 2:
            continue
        n_val = min(max(1, round(len(ids) * fraction)), len(ids) - 1)
        for i in rng.permutation(len(ids))[:n_val]:
            out[ids[int(i)]] = "val"
    return out

