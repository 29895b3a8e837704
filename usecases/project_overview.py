"""What a window shows of an open project: its classes, its model versions and the one whose
predictions are browsed. Opened in a worker (opening migrates the file, which takes a moment on a
big one); the result is plain data, safe to hand between threads."""
from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from core.store.location import Location
    from core.store.project import Project
    from core.store.records import ModelVersionRecord


@dataclass(frozen=True)
class ProjectOverview:
    project: Project  # thread-safe: an engine and its sessionmakers; each worker opens its own session
    path: Path | None  # the SQLite file; None for a project on a PostgreSQL server
    class_names: list[str]
    model_versions: list[ModelVersionRecord] = field(default_factory=list)  # oldest first
    model_version: ModelVersionRecord | None = None  # whose predictions are browsed

    @property
    def model_version_id(self) -> int | None:
        return self.model_version.id if self.model_version is not None else None

    @property
    def location(self) -> Location:
        return self.project.location


def open_overview(path: str | os.PathLike, model_id: int | None = None) -> ProjectOverview:
    """Open an existing project (file or server URL); the caller closes `.project`."""
    from core.store.project import open_project

    project = open_project(path, create=False)
    try:
        return reload_overview(ProjectOverview(project, project.path, []), model_id)
    except BaseException:
        project.close()
        raise


def reload_overview(overview: ProjectOverview, model_id: int | None = None) -> ProjectOverview:
    """The same project after new predictions, versions or classes; `model_id` chooses the version
    browsed (default: the one browsed so far)."""
    from core.store.model_versions import list_model_versions
    from core.store.queries import class_names

    with overview.project.session() as s:
        versions = list_model_versions(s)
        chosen = _choose(s, versions, model_id if model_id is not None else overview.model_version_id)
        names = class_names(s)
    return replace(overview, class_names=names, model_versions=versions, model_version=chosen)


def _choose(session: Session, versions: list[ModelVersionRecord], model_id: int | None) -> ModelVersionRecord | None:
    """The asked-for version, else the newest one that has predictions, else the newest."""
    from core.store.predictions import predicted_image_ids

    by_id = {m.id: m for m in versions}
    if model_id in by_id:
        return by_id[model_id]
    for m in reversed(versions):
        if predicted_image_ids(session, m.id):
            return m
    return versions[-1] if versions else None


def filter_counts(project: Project, model_id: int | None, user: str | None) -> dict[str, int | None]:
    """How many images each "show only" filter of the browser would show, on its own (None: the
    filter needs a model and there is none)."""
    from core.store.queries import ImageFilter, count_images

    with project.session() as s:
        with_model = {} if model_id is None else {
            "disagree": count_images(s, ImageFilter(model_id=model_id, disagree=True)),
            "suspected": count_images(s, ImageFilter(model_id=model_id, suspected=True)),
        }
        return {"disagree": None, "suspected": None, **with_model,
                "unlabeled": count_images(s, ImageFilter(unlabeled=True)),
                "changed_by_me": count_images(s, ImageFilter(changed_by=user)) if user else None}
