"""Current labels out of the project: a CSV manifest, or an ImageFolder tree of symlinks by label.
Absolute paths are under this workstation's folder for each dataset root (core.store.root_map)."""
from __future__ import annotations

import csv
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.atomic import atomic_path
from core.errors import InspectorError
from core.store.paths import join_root
from core.store.root_map import root_map
from core.store.schema import Dataset, Image, ImageClass, Label

img = Image.__table__
COLUMNS = ["path", "label", "split", "abs_path", "content_hash", "label_version", "updated_by", "readable", "image_id"]


@dataclass(slots=True)
class ExportReport:
    written: int = 0
    unlabeled: int = 0  # not in the ImageFolder tree (it has no folder for them)
    unreadable: int = 0  # not in the ImageFolder tree (training would fail on them); in the CSV, flagged
    skipped_missing: int = 0


def export_csv(session: Session, out: str | os.PathLike) -> ExportReport:
    """One row per image known to the project (missing ones left out), label empty when unlabeled.
    Written to a temp file and renamed: a crash never leaves half a CSV."""
    report = ExportReport()
    with atomic_path(out) as tmp, open(tmp, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(COLUMNS)
        for r, abs_path in _rows(session, report):
            w.writerow([r.rel_path, r.name or "", r.split or "", abs_path, r.content_hash or "",
                        r.version or 0, r.updated_by or "", int(bool(r.readable)), r.id])
            report.written += 1
    return report


def export_imagefolder(session: Session, out_dir: str | os.PathLike) -> ExportReport:
    """out_dir/<label>/<file> symlinks to the originals. A file's name is its path relative to the
    dataset root with "/" replaced by "__", so images with the same base name do not collide."""
    out_dir = Path(out_dir)
    if out_dir.exists() and any(out_dir.iterdir()):
        raise InspectorError(f"{out_dir}: folder is not empty; give a new or empty folder")
    report = ExportReport()
    for r, abs_path in _rows(session, report):
        if r.name is None:
            report.unlabeled += 1
            continue
        if not r.readable:
            report.unreadable += 1
            continue
        target = _safe_dir(out_dir, r.name) / r.rel_path.replace("/", "__")
        target.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(abs_path, target)
        report.written += 1
    return report


def _rows(session: Session, report: ExportReport) -> Iterator:
    """(row, absolute path on this workstation) of every image not flagged missing."""
    stmt = (select(img.c.id, img.c.rel_path, img.c.split, img.c.content_hash, img.c.missing, img.c.readable,
                   Dataset.root,
                   ImageClass.name, Label.version, Label.updated_by)
            .join(Dataset, Dataset.id == img.c.dataset_id)
            .outerjoin(ImageClass, ImageClass.id == img.c.class_id)
            .outerjoin(Label, Label.image_id == img.c.id)
            .order_by(img.c.dataset_id, img.c.rel_path))
    roots = root_map(session)
    for r in session.execute(stmt.execution_options(yield_per=10_000)):
        if r.missing:
            report.skipped_missing += 1
            continue
        yield r, join_root(roots.get(r.root, r.root), r.rel_path)


def _safe_dir(out_dir: Path, label: str) -> Path:
    # A class name becomes a folder name: refuse anything that would escape out_dir.
    if label in (".", "..") or "/" in label or "\\" in label or "\x00" in label:
        raise InspectorError(f"class name {label!r} cannot be a folder name")
    return out_dir / label

