"""The open project as the GUI sees it: plain data, safe to hand between threads.

`open_context` runs in a worker (opening migrates the file, which may take a moment on a big one).
Every worker opens its own session from `ctx.project`; the GUI thread never queries.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path


@dataclass(frozen=True)
class ProjectContext:
    project: object  # core.store.project.Project (thread-safe: an engine + sessionmakers)
    path: Path
    user: str
    class_names: list[str]
    models: list = field(default_factory=list)  # core.store.records.ModelVersionRecord, oldest first
    model: object | None = None  # the model whose predictions the browser shows

    @property
    def model_id(self) -> int | None:
        return getattr(self.model, "id", None)

    @property
    def thumbnail_dir(self) -> Path:
        return self.path.with_name(self.path.stem + ".thumbs")

    def with_model(self, model) -> "ProjectContext":
        return replace(self, model=model)

    def with_user(self, user: str) -> "ProjectContext":
        return replace(self, user=user)


def open_context(path: str | Path, user: str, model_id: int | None = None) -> ProjectContext:
    from core.store import queries
    from core.store.model_versions import list_model_versions
    from core.store.project import open_project

    project = open_project(path, create=False)
    with project.session() as s:
        names = queries.class_names(s)
        models = list_model_versions(s)
        chosen = _choose_model(s, models, model_id)
    return ProjectContext(project=project, path=Path(project.path), user=user, class_names=names,
                          models=models, model=chosen)


def reload_models(ctx: ProjectContext, model_id: int | None = None) -> ProjectContext:
    from core.store import queries
    from core.store.model_versions import list_model_versions

    with ctx.project.session() as s:
        models = list_model_versions(s)
        chosen = _choose_model(s, models, model_id if model_id is not None else ctx.model_id)
        names = queries.class_names(s)
    return replace(ctx, models=models, model=chosen, class_names=names)


def _choose_model(session, models: list, model_id: int | None):
    """The asked-for model, else the newest one that has predictions, else the newest."""
    from core.store.predictions import predicted_image_ids

    by_id = {m.id: m for m in models}
    if model_id in by_id:
        return by_id[model_id]
    for m in reversed(models):
        if predicted_image_ids(session, m.id):
            return m
    return models[-1] if models else None
