"""The thumbnail grid: a QListView in icon mode over `ImageListModel`, with keyboard navigation."""
from __future__ import annotations

from PySide6.QtCore import QItemSelectionModel, QSize, Signal
from PySide6.QtWidgets import QAbstractItemView, QListView

from app.browser.image_list_model import ImageListModel, TileRole
from app.browser.tile import Tile
from app.browser.tile_delegate import TILE, TileDelegate


class QtThumbnailGrid(QListView):
    current_tile_changed = Signal(object)  # Tile or None

    def __init__(self, model: ImageListModel, parent=None):
        super().__init__(parent)
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setMovement(QListView.Movement.Static)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setFlow(QListView.Flow.LeftToRight)
        self.setWrapping(True)
        self.setUniformItemSizes(True)  # layout in O(1) per row: no sizeHint per item
        self.setLayoutMode(QListView.LayoutMode.Batched)
        self.setBatchSize(2000)
        self.setGridSize(QSize(TILE.width() + 4, TILE.height() + 4))
        self.setSpacing(0)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.verticalScrollBar().setSingleStep(40)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setDragEnabled(False)
        self.setItemDelegate(TileDelegate(self))
        self.setStyleSheet("QListView { background: #1e1e1e; }")
        self.setModel(model)
        self._model = model
        self.selectionModel().currentChanged.connect(self._on_current_changed)
        model.dataChanged.connect(self._on_data_changed)
        model.modelReset.connect(lambda: self.current_tile_changed.emit(None))

    def sizeHint(self) -> QSize:
        # Two columns by default: the image keeps most of the width; the splitter gives more.
        return QSize(2 * self.gridSize().width() + self.verticalScrollBar().sizeHint().width() + 8, 600)

    def current_tile(self) -> Tile | None:
        idx = self.currentIndex()
        return idx.data(TileRole) if idx.isValid() else None

    def selected_tiles(self) -> list[Tile]:
        return [t for t in (i.data(TileRole) for i in self.selectionModel().selectedIndexes()) if t is not None]

    def select_row(self, row: int) -> None:
        if not 0 <= row < self._model.rowCount():
            return
        idx = self._model.index(row)
        self.selectionModel().setCurrentIndex(idx, QItemSelectionModel.SelectionFlag.ClearAndSelect)
        self.scrollTo(idx)

    def step(self, delta: int) -> None:
        """Next / previous image in the current filter order."""
        row = self.currentIndex().row() if self.currentIndex().isValid() else -1
        self.select_row(max(0, min(row + delta, self._model.rowCount() - 1)))

    def _on_current_changed(self, current, _previous) -> None:
        self.current_tile_changed.emit(current.data(TileRole) if current.isValid() else None)

    def _on_data_changed(self, top, bottom, roles=()) -> None:
        # The current row's page may arrive after it became current (placeholder first).
        idx = self.currentIndex()
        if idx.isValid() and top.row() <= idx.row() <= bottom.row() and (not roles or TileRole in roles):
            self.current_tile_changed.emit(idx.data(TileRole))
