"""The browser as a whole: filters, the virtual list of tiles and its grid, thumbnails, all kept in
step with the project state. It runs a query when the project, the model version browsed or the
filters change; it applies label changes in place (the state `set_label` returned, or a reload of
just those rows); it makes the current tile the state's selection."""
from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Callable

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from app.browser.filter_state import FilterState
from app.browser.image_list_model import ImageListModel
from app.browser.qt_filter_panel import QtFilterPanel
from app.browser.qt_thumbnail_grid import QtThumbnailGrid
from app.browser.store_source import StoreTileSource, TileQuery
from app.browser.thumbnail_provider import ThumbnailProvider
from app.browser.tile import Tile
from app.browser.tile_delegate import legend_html
from app.project_state import LabelChange, ProjectState
from app.workers import Workers

if TYPE_CHECKING:
    from core.store.project import Project


class Browsing(QObject):
    def __init__(self, state: ProjectState, workers: Workers, parent: QObject | None = None):
        super().__init__(parent)
        self._state = state
        self._workers = workers
        self.thumbs = ThumbnailProvider(workers, None, parent=self)
        self.image_model = ImageListModel(workers, None, self.thumbs, parent=self)
        self.grid = QtThumbnailGrid(self.image_model)
        self.filters = QtFilterPanel()
        self.view = _grid_with_legend(self.grid)
        self._after_query: list[Callable[[], None]] = []
        self._project: Project | None = None  # the project the tiles come from
        state.project_changed.connect(self._on_project_changed)
        state.model_changed.connect(self.refresh)
        state.labels_changed.connect(self._on_labels_changed)
        self.filters.changed.connect(lambda _f: self.refresh())
        self.image_model.query_finished.connect(self._on_query_finished)
        self.grid.current_tile_changed.connect(state.select)

    @property
    def busy(self) -> bool:
        return not self.thumbs.idle or self.image_model.querying or bool(self.image_model.pending_pages)

    def refresh(self) -> None:
        """Run the query again: same filters, the state's model version and user."""
        if self._state.is_open:
            self.image_model.set_query(TileQuery(self.filters.state(), self._state.model_version_id, self._state.user))

    def after_next_query(self, fn: Callable[[], None]) -> None:
        self._after_query.append(fn)

    def apply_filter(self, state: FilterState) -> None:
        self.filters.set_state(state)

    def show_confusion_cell(self, label: str, predicted: str, split: str | None = None) -> None:
        """The images of one confusion-matrix cell (of the metrics' split), in the order the user chose."""
        self.apply_filter(FilterState(labels=(label,), predicted=(predicted,), sort=self.filters.state().sort,
                                      split=split))

    def targets(self) -> list[Tile]:
        """What a label applies to: the selection when it holds several tiles, else the current one."""
        tiles = self.grid.selected_tiles()
        if len(tiles) > 1:
            return tiles
        current = self.grid.current_tile()
        return [current] if current is not None else []

    def next_tile(self) -> Tile | None:
        """The tile after the current one, if its page is loaded (to decode ahead)."""
        row = self.grid.currentIndex().row()
        return self.image_model.tile(row + 1, request=False) if self.grid.current_tile() is not None and row >= 0 else None

    def _on_project_changed(self) -> None:
        s = self._state
        if s.project is not self._project:  # not merely another user name
            self._project = s.project
            self.image_model.source = StoreTileSource(s.project)
            self.thumbs.set_cache_dir(s.thumbnail_dir)
        self.filters.set_classes(s.class_names)
        self.refresh()

    def _on_query_finished(self, total: int) -> None:
        self.filters.set_count(total)
        self._count_filters()
        if total and not self.grid.currentIndex().isValid():
            self.grid.select_row(0)
        done, self._after_query = self._after_query, []
        for fn in done:
            fn()

    def _count_filters(self) -> None:
        from usecases.project_overview import filter_counts

        project, model_id, user = self._state.project, self._state.model_version_id, self._state.user
        if project is not None:
            self._workers.start(lambda _c: filter_counts(project, model_id, user), name="Count filters",
                                on_result=self.filters.set_counts)

    def _on_labels_changed(self, change: LabelChange) -> None:
        if change.action != "set":  # a key press stays at its one read: its counts follow the next query
            self._count_filters()
        # The rows stay where they are even if they no longer match the filter (see invalidate_rows).
        if not change.states:  # bulk, undo, redo: reload just those rows
            self.image_model.invalidate_rows(change.changed)
            return
        m, fresh = self.image_model, []
        for st in change.states:  # what set_label wrote: no query
            row = m.row_of(st.image_id)
            tile = m.tile(row, request=False) if row is not None else None
            if tile is not None:
                fresh.append(replace(tile, label=st.label, label_version=st.version))
        m.replace_tiles(fresh)


def _grid_with_legend(grid: QtThumbnailGrid) -> QWidget:
    """The grid above a one-line key to its tile marks."""
    view = QWidget()
    lay = QVBoxLayout(view)
    lay.setContentsMargins(0, 0, 0, 0)
    lay.setSpacing(2)
    lay.addWidget(grid, 1)
    key = QLabel(legend_html())
    key.setWordWrap(True)
    key.setStyleSheet("font-size: 11px; color: #bbbbbb; padding: 2px 4px;")
    lay.addWidget(key)
    return view
