"""Import a dataset folder, CSV manifest or header-less txt list into a project (created if missing,
once the scan has worked)."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from core.progress import Reporter, silent

if TYPE_CHECKING:
    from core.store.records import ImportReport


@dataclass(frozen=True, slots=True)
class ImportOutcome:
    format: str  # the layout the scan found: imagefolder, mvtec, csv or txt
    report: ImportReport


def import_dataset(db: str | os.PathLike, source: str | os.PathLike, *, format: str = "auto",
                   path_column: str | None = None, label_column: str | None = None, split_column: str | None = None,
                   root: str | os.PathLike | None = None, user: str | None = None,
                   progress: Reporter | None = None) -> ImportOutcome:
    """Scan `source`, then write it into the project `db` in one transaction (idempotent: see
    core.store.ingest). `progress` sees the scan, then the writing, each from 0 to its total.

    A bad `db` (a folder, another program's file, a damaged project) fails before a long scan, and a
    new project file is only made once the scan has worked."""
    from core.data.scan import scan_dataset
    from core.errors import NotAProjectYet
    from core.store.identity import PROJECT, check_project_file
    from core.store.ingest import import_scan
    from core.store.location import is_url
    from core.store.project import open_project

    progress = progress or silent()
    if is_url(str(db)):  # a server: reach it (and refuse a foreign database) now, create it after the scan
        try:
            project = open_project(db, create=False)
        except NotAProjectYet:
            project = None
    else:
        existing = check_project_file(Path(db).expanduser().absolute(), create=True) == PROJECT
        project = open_project(db) if existing else None
    try:
        scan = scan_dataset(source, format, path_column=path_column, label_column=label_column,
                            split_column=split_column, root=root, progress=progress)
        progress.check()
        project = project or open_project(db)
        with project.session(write=True) as s:
            return ImportOutcome(scan.format, import_scan(s, scan, user=user, progress=progress))
    finally:
        if project is not None:
            project.close()
