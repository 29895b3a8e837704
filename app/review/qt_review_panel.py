"""The ranked review list: which images a person should look at first, and why.

Two sources: the browsed model's stored predictions (confident learning, `inspector review`), or a
label scan (a short training on the current labels, `inspector label-scan`, run as a task with
progress). While the list has the keyboard focus, J/K (and the arrows) walk it and the digits label
the image shown, like in the grid: the image and its attention are shown as for a grid tile.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.project_state import LabelChange, ProjectState
from app.workers import Workers

if TYPE_CHECKING:
    from app.browser.tile import Tile
    from core.inference.review import ReviewItem

REASONS = {"label_issue": "suspected label error", "disagreement": "label ≠ prediction",
           "low_confidence": "unsure prediction"}


class QtReviewPanel(QWidget):
    tile_chosen = Signal(object)  # Tile of the current row (shown like a grid tile)

    def __init__(self, state: ProjectState, workers: Workers, parent: QWidget | None = None):
        super().__init__(parent)
        self._state = state
        self._workers = workers
        self.items: list[ReviewItem] = []
        self.current_tile: Tile | None = None
        self.review_button = QPushButton("Rank with the browsed model")
        self.review_button.setToolTip("Confident learning on the browsed model's predictions (inspector review)")
        self.scan_button = QPushButton("Label scan…")
        self.scan_button.setToolTip("A short training on the current labels, ranked before wrong labels are learnt "
                                    "(inspector label-scan; about a minute on a CPU for a few hundred images)")
        self.summary = QLabel("Rank the images to review: with the browsed model, or with a label scan.")
        self.summary.setWordWrap(True)
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(["#", "score", "image", "label", "predicted", "conf", "why"])
        self.tree.setRootIsDecorated(False)
        self.tree.setUniformRowHeights(True)
        self.tree.header().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.tree.setToolTip("J/K or the arrows walk the list; 1-9 label the image shown")
        top = QHBoxLayout()
        top.addWidget(self.review_button)
        top.addWidget(self.scan_button)
        top.addStretch(1)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.addLayout(top)
        lay.addWidget(self.summary)
        lay.addWidget(self.tree, 1)
        self.review_button.clicked.connect(self.rank_with_model)
        self.scan_button.clicked.connect(self.label_scan)
        self.tree.currentItemChanged.connect(self._on_current_changed)
        state.labels_changed.connect(self._on_labels_changed)
        state.project_changed.connect(lambda: self.set_items([], ""))

    # -- what the window calls

    def has_focus(self) -> bool:
        return self.tree.hasFocus()

    def step(self, delta: int) -> None:
        row = self.tree.indexOfTopLevelItem(self.tree.currentItem()) if self.tree.currentItem() else -1
        row = min(max(row + delta, 0), self.tree.topLevelItemCount() - 1)
        if row >= 0:
            self.tree.setCurrentItem(self.tree.topLevelItem(row))

    def rank_with_model(self):
        from usecases.label_review import review

        project, model_id = self._state.project, self._state.model_version_id
        if project is None or model_id is None:
            self.summary.setText("No model is browsed: predict with one first (Model ▸ Predict).")
            return None
        name = self._state.model_version.name
        return self._workers.start(lambda _c: review(project, model_id)[1], name="Review", user_visible=True,
                                   on_result=lambda items: self.set_items(items, f"model {name}"))

    def label_scan(self):
        from usecases.label_error_scan import label_scan

        project = self._state.project
        if project is None:
            return None
        self.summary.setText("Label scan: training on the current labels…")
        return self._workers.start(lambda ctx: label_scan(project, progress=ctx), name="Label scan", pool="long",
                                   user_visible=True,
                                   on_result=lambda scan: self.set_items(scan.items, f"a label scan ({scan.epochs} epochs)"))

    def set_items(self, items: list[ReviewItem], source: str) -> None:
        self.items = list(items)
        self.tree.clear()
        for i in self.items:
            it = QTreeWidgetItem([str(i.rank), f"{i.score:.3f}", i.rel_path, i.label or "(unlabeled)", i.predicted,
                                  f"{i.confidence:.0%}", REASONS.get(i.reason, i.reason)])
            it.setToolTip(6, i.message)
            it.setData(0, Qt.ItemDataRole.UserRole, i.image_id)
            self.tree.addTopLevelItem(it)
        issues = sum(i.reason == "label_issue" for i in self.items)
        self.summary.setText(f"{len(self.items)} images to review from {source}, {issues} suspected label errors first. "
                             "J/K walks the list, 1-9 label." if source else
                             "Rank the images to review: with the browsed model, or with a label scan.")

    # -- handlers

    def _on_current_changed(self, item: QTreeWidgetItem | None, _previous) -> None:
        if item is None or self._state.project is None:
            return

        def chosen(tiles: list[Tile]) -> None:
            if tiles and self.tree.currentItem() is item:
                self.current_tile = tiles[0]
                self.tile_chosen.emit(tiles[0])

        self._fetch([item.data(0, Qt.ItemDataRole.UserRole)], chosen)

    def _fetch(self, image_ids: list[int], on_result) -> None:
        """The images' current tiles, read in a worker (as the grid would show them)."""
        from app.browser.filter_state import FilterState
        from app.browser.store_source import StoreTileSource, TileQuery

        source = StoreTileSource(self._state.project)
        q = TileQuery(FilterState(), self._state.model_version_id, self._state.user)
        self._workers.start(lambda _c: source.tiles(q, image_ids), name="Review images", on_result=on_result)

    def _on_labels_changed(self, change: LabelChange) -> None:
        """The label column follows writes; the shown image gets its new version for the next key."""
        if not change.states and change.changed:  # bulk, undo, redo: read those images again
            self._reload(change.changed)
            return
        by_id = {st.image_id: st for st in change.states}
        for row in range(self.tree.topLevelItemCount()):
            it = self.tree.topLevelItem(row)
            st = by_id.get(it.data(0, Qt.ItemDataRole.UserRole))
            if st is not None:
                it.setText(3, st.label or "(unlabeled)")
        cur = self.current_tile
        if cur is not None and cur.image_id in by_id:
            from dataclasses import replace

            st = by_id[cur.image_id]
            self.current_tile = replace(cur, label=st.label, label_version=st.version)

    def _reload(self, image_ids: list[int]) -> None:
        listed = {self.tree.topLevelItem(r).data(0, Qt.ItemDataRole.UserRole) for r in range(self.tree.topLevelItemCount())}
        ids = [i for i in image_ids if i in listed]
        if not ids or self._state.project is None:
            return

        def fresh(tiles: list[Tile]) -> None:
            by_id = {t.image_id: t for t in tiles}
            for row in range(self.tree.topLevelItemCount()):
                it = self.tree.topLevelItem(row)
                t = by_id.get(it.data(0, Qt.ItemDataRole.UserRole))
                if t is not None:
                    it.setText(3, t.label or "(unlabeled)")
            if self.current_tile is not None and self.current_tile.image_id in by_id:
                self.current_tile = by_id[self.current_tile.image_id]  # its new version: the next key is no conflict

        self._fetch(ids, fresh)
