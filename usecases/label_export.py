"""Current labels out of a project: a CSV manifest and/or an ImageFolder tree of symlinks."""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

from core.errors import InspectorError

if TYPE_CHECKING:
    from core.store.export import ExportReport
    from core.store.project import Project


@dataclass(frozen=True, slots=True)
class LabelExport:
    csv: ExportReport | None
    imagefolder: ExportReport | None


def export_labels(project: Project, *, csv: str | os.PathLike | None = None,
                  imagefolder: str | os.PathLike | None = None) -> LabelExport:
    """Both from one consistent view of the labels."""
    from core.store.export import export_csv, export_imagefolder

    if not csv and not imagefolder:
        raise InspectorError("export: give --out FILE.csv, --imagefolder DIR, or both")
    with project.session(snapshot=True) as s:
        return LabelExport(export_csv(s, csv) if csv else None,
                           export_imagefolder(s, imagefolder) if imagefolder else None)
