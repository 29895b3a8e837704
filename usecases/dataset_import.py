"""Import a dataset folder or CSV manifest into a project (created if missing)."""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

from core.progress import Reporter, silent

if TYPE_CHECKING:
    from core.store.records import ImportReport


@dataclass(frozen=True, slots=True)
class ImportOutcome:
    format: str  # the layout the scan found: imagefolder, mvtec or csv
    report: ImportReport


def import_dataset(db: str | os.PathLike, source: str | os.PathLike, *, format: str = "auto",
                   path_column: str | None = None, label_column: str | None = None, split_column: str | None = None,
                   root: str | os.PathLike | None = None, user: str | None = None,
                   progress: Reporter | None = None) -> ImportOutcome:
    """Scan `source`, then write it into the project `db` in one transaction (idempotent: see
    core.store.ingest). `progress` sees the scan, then the writing, each from 0 to its total."""
    from core.data.scan import scan_dataset
    from core.store.ingest import import_scan
    from core.store.project import open_project

    progress = progress or silent()
    with open_project(db) as project:  # first: a bad project path fails before a long scan
        scan = scan_dataset(source, format, path_column=path_column, label_column=label_column,
                            split_column=split_column, root=root, progress=progress)
        progress.check()
        with project.session(write=True) as s:
            return ImportOutcome(scan.format, import_scan(s, scan, user=user, progress=progress))
