"""Plain records the store hands out (never ORM objects): safe to pass to worker threads, the GUI,
other processes, JSON."""
from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class DatasetRecord:
    id: int
    root: str
    format: str
    created: datetime


@dataclass(frozen=True, slots=True)
class ImageRecord:
    id: int
    rel_path: str
    abs_path: str
    label: str | None
    label_version: int
    split: str | None
    mask_path: str | None  # absolute, or None
    content_hash: str | None
    width: int | None
    height: int | None
    channels: int | None
    readable: bool
    error: str | None
    category: str | None
    missing: bool = False
    dataset_id: int = 0
    size_bytes: int | None = None
    # Filled only when the query named a model:
    predicted: str | None = None
    confidence: float | None = None
    score: float | None = None
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class LabelState:
    """The current label of one image after a write."""
    image_id: int
    label: str | None
    version: int
    updated_by: str | None
    updated_at: datetime | None
    group_id: int | None = None  # the action that wrote it; None when nothing changed
    event: LabelEventRecord | None = None  # the event set_label wrote; None when nothing changed


@dataclass(frozen=True, slots=True)
class LabelEventRecord:
    id: int
    image_id: int
    rel_path: str
    old: str | None
    new: str | None
    user: str
    time: datetime
    source: str
    group_id: int


@dataclass(frozen=True, slots=True)
class GroupResult:
    """Outcome of a bulk set, an undo or a redo: one label_group, the images it changed, and the
    ones it left alone because someone changed them since (image id, why)."""
    group_id: int | None
    source: str
    target_group_id: int | None
    changed: list[int] = field(default_factory=list)
    skipped: list[tuple[int, str]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class FileProblem:
    """A file an import could not use: `kind` "unreadable" (an image row flagged unreadable) or "skipped"
    (never opened, not in the project). `rel_path` relative to `root`, printable on one line."""
    dataset_id: int
    root: str
    rel_path: str
    kind: str
    reason: str

    def line(self) -> str:
        from core.data.file_checks import printable

        return f"{printable(self.rel_path)}: {self.reason}"


MORE_PROBLEMS_HINT = "`inspector errors --db PROJECT.db` lists them all"


@dataclass(slots=True)
class ImportReport:
    dataset_id: int
    root: str
    new_dataset: bool = False  # this root was not in the project before
    other_datasets: int = 0  # datasets the project already had under other roots
    new: int = 0
    changed: int = 0  # content hash differs from the last import
    unchanged: int = 0
    missing: int = 0  # known to the project, not in this scan (kept, flagged missing)
    restored: int = 0  # flagged missing before, present again
    unreadable: int = 0
    labels_set: int = 0  # labels written with source "import"
    classes_added: list[str] = field(default_factory=list)
    kept: list[tuple[str, str | None, str | None]] = field(default_factory=list)  # (rel_path, kept label, import's label)
    duplicates: list[list[str]] = field(default_factory=list)  # groups of rel_paths with one content hash
    conflicting_duplicates: list[list[tuple[str, str | None]]] = field(default_factory=list)  # same hash, different labels
    unreadable_files: list[tuple[str, str]] = field(default_factory=list)  # (rel_path, reason) of this scan
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (rel_path, reason): never opened, not imported
    similar_classes: list[list[str]] = field(default_factory=list)  # names differing only in case/spacing, most used last

    def problem_lines(self, limit: int | None = 20, *, more: str = MORE_PROBLEMS_HINT) -> list[str]:
        """Every unreadable and skipped file with its reason (the first `limit`), one line each."""
        from core.data.file_checks import printable

        if not self.unreadable_files and not self.skipped:
            return []
        rows = [("unreadable", printable(p), r) for p, r in self.unreadable_files] + \
               [("skipped", printable(p), r) for p, r in self.skipped]
        lines = [f"{len(self.unreadable_files)} unreadable (imported, flagged unreadable), "
                 f"{len(self.skipped)} skipped (not imported):"]
        shown = rows if limit is None else rows[:limit]
        lines += [f"  {kind:<10}  {path}: {reason}" for kind, path, reason in shown]
        if len(shown) < len(rows):
            lines.append(f"  ... and {len(rows) - len(shown)} more; {more}")
        return lines

    def summary_lines(self, db: str | None = None) -> list[str]:
        from core.data.file_checks import printable

        lines = [
            f"{printable(self.root)}: {self.new} new, {self.changed} changed, {self.unchanged} unchanged, "
            f"{self.missing} missing, {self.unreadable} unreadable",
            f"labels: {self.labels_set} set from the import, {len(self.kept)} manual corrections kept",
            f"duplicates: {len(self.duplicates)} groups of identical files, "
            f"{len(self.conflicting_duplicates)} filed under different labels",
        ]
        if self.new_dataset and self.other_datasets:
            lines.append(f"note: a new dataset root; the project already has {self.other_datasets} other(s). "
                         "If the data moved, relocate the dataset instead of importing it again.")
        if self.skipped:
            lines.append(f"{len(self.skipped)} files skipped, not imported (not regular image files, "
                         "or gone during the scan)")
        if self.restored:
            lines.append(f"{self.restored} images reappeared")
        if self.classes_added:
            lines.append(f"classes added: {', '.join(self.classes_added)}")
        for group in self.similar_classes:
            names = " and ".join(repr(n) for n in group)
            where = f" --db {shlex.quote(db)}" if db else ""
            merges = ", then ".join(f"inspector classes merge {shlex.quote(n)} {shlex.quote(group[-1])}{where}"
                                    for n in group[:-1])
            lines.append(f"warning: classes {names} differ only in case or spacing; to make them one: {merges}")
        for group in self.conflicting_duplicates[:5]:
            lines.append("  same file, different labels: " + ", ".join(f"{printable(p)} ({lbl})" for p, lbl in group))
        return lines


@dataclass(frozen=True, slots=True)
class ModelVersionRecord:
    id: int
    name: str
    path: str
    arch: str
    class_names: list[str]
    parent_id: int | None
    snapshot_id: int | None
    created: datetime
    meta: dict[str, Any]


@dataclass(frozen=True, slots=True)
class SnapshotRow:
    image_id: int
    abs_path: str
    content_hash: str | None
    label: str
    split: str

    @property
    def path(self) -> str:  # the manifest's name for it
        return self.abs_path


@dataclass(frozen=True, slots=True)
class SnapshotRecord:
    id: int
    created: datetime
    event_position: int
    seed: int
    val_fraction: float
    generated_val: bool
    class_names: list[str]
    rows: list[SnapshotRow]  # empty in list_snapshots(); get_snapshot() fills it
    note: str | None = None
    count: int = 0

    @property
    def split_counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for r in self.rows:
            out[r.split] = out.get(r.split, 0) + 1
        return out


@dataclass(frozen=True, slots=True)
class JobRecord:
    id: int
    backend: str
    profile: str | None
    state: str
    config: dict[str, Any]
    command: str | None
    workdir: str | None
    external_id: str | None
    snapshot_id: int | None
    base_model_id: int | None
    result_model_id: int | None
    created: datetime
    updated: datetime
    log_tail: str | None
    error: str | None
    detail: str | None = None  # the backend's last word: requeued after a node failure, stopping, ...

    @property
    def finished(self) -> bool:
        return self.state in ("succeeded", "failed", "cancelled")
