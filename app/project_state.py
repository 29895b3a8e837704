"""The open project as the window sees it, with events that the panels subscribe to.

One object, written by the controllers (project, labels) and the browser (selection); panels read
it in their handlers instead of having context pushed into them. Its values are plain data that
workers may take along: a worker captures `state.project` and `state.user` when it starts, never
the state itself.

    project_changed    another project, its classes, or the user name (everything may differ)
    model_changed      the model version browsed, the list of versions or their predictions
    labels_changed     LabelChange: labels written by this window (with the states written)
    selection_changed  Tile | None: the image under inspection
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal

if TYPE_CHECKING:
    from app.browser.tile import Tile
    from core.store.location import Location
    from core.store.project import Project
    from core.store.records import LabelState, ModelVersionRecord
    from usecases.project_overview import ProjectOverview


@dataclass(frozen=True, slots=True)
class LabelChange:
    action: str  # "set", "bulk", "undo", "redo"
    changed: list[int]  # image ids whose label changed
    skipped: list[tuple[int, str]] = field(default_factory=list)  # (image id, why) left alone
    label: str | None = None
    nothing: bool = False  # undo/redo with an empty stack
    states: list[LabelState] = field(default_factory=list)  # "set": what set_label wrote, event included
    described: list[tuple[int, str, str | None]] = field(default_factory=list)  # undo/redo: (id, path, label now), first few


class ProjectState(QObject):
    project_changed = Signal()
    model_changed = Signal()
    labels_changed = Signal(object)  # LabelChange
    selection_changed = Signal(object)  # Tile | None

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.overview: ProjectOverview | None = None
        self.user = ""  # who labels; set when a project opens (reading the default costs SQLAlchemy at start-up)
        self.tile: Tile | None = None
        self._written: dict[int, LabelState] = {}  # image id -> what this window last wrote for it

    @property
    def is_open(self) -> bool:
        return self.overview is not None

    @property
    def project(self) -> Project | None:
        return self.overview.project if self.overview else None

    @property
    def path(self) -> Path | None:
        """The SQLite file (None when closed, or for a project on a PostgreSQL server)."""
        return self.overview.path if self.overview else None

    @property
    def location(self) -> Location | None:
        return self.overview.location if self.overview else None

    @property
    def class_names(self) -> list[str]:
        return list(self.overview.class_names) if self.overview else []

    @property
    def model_versions(self) -> list[ModelVersionRecord]:
        return list(self.overview.model_versions) if self.overview else []

    @property
    def model_version(self) -> ModelVersionRecord | None:
        return self.overview.model_version if self.overview else None

    @property
    def model_version_id(self) -> int | None:
        return self.overview.model_version_id if self.overview else None

    @property
    def thumbnail_dir(self) -> Path | None:
        return self.location.sidecar(".thumbs") if self.location else None

    def set_overview(self, overview: ProjectOverview, user: str | None = None) -> None:
        """A freshly read overview: of another project (the previous one is closed), or of this one
        after versions, predictions or classes changed."""
        old = self.overview
        self.user = user if user is not None else self.user
        self.overview = overview
        if old is None or old.project is not overview.project or old.class_names != overview.class_names:
            if old is not None and old.project is not overview.project:
                old.project.close()
            self.tile = None
            self._written.clear()
            self.project_changed.emit()
        else:
            self.model_changed.emit()

    def set_user(self, user: str) -> None:
        self.user = user
        if self.overview is not None:
            self.project_changed.emit()

    def select(self, tile: Tile | None) -> None:
        self.tile = tile
        self.selection_changed.emit(tile)

    def labels_written(self, change: LabelChange) -> None:
        self._written.update((st.image_id, st) for st in change.states)
        self.labels_changed.emit(change)

    def written_label(self, image_id: int) -> LabelState | None:
        """The state this window's latest single-label write left, event included (or None)."""
        return self._written.get(image_id)

    def close(self) -> None:
        if self.overview is not None:
            self.overview.project.close()
