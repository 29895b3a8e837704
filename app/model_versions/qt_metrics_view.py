"""Metrics of one model version on the current labels: summary, per-class table, confusion matrix."""
from __future__ import annotations

import math
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QTableWidgetItem, QVBoxLayout, QWidget

from app.model_versions.qt_confusion_matrix import QtConfusionMatrix
from app.widgets.tables import read_only_table

if TYPE_CHECKING:
    from core.inference.metrics import Metrics


def _fmt(x: float) -> str:
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.3f}"


class QtMetricsView(QWidget):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.summary = QLabel("Select a model with predictions")
        self.summary.setWordWrap(True)
        self.table = read_only_table(["class", "precision", "recall", "F1", "support"])
        self.confusion = QtConfusionMatrix()
        self.confusion.setToolTip("Click a cell to show those images in the browser")
        self.confusion.setMinimumWidth(260)
        self.maps = QLabel("")  # how far this model's explanation maps can be trusted
        self.maps.setWordWrap(True)
        self.maps_table = read_only_table(["map (* = the panel's)", "deletion AUC ↓", "insertion AUC ↑",
                                           "top 10 % > random", "pointing"], stretch=0)
        # Not in this view's layout: the models panel shows it as its own tab ("Maps").
        left = QVBoxLayout()
        left.addWidget(self.summary)
        left.addWidget(self.maps)
        left.addWidget(self.table, 1)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addLayout(left, 3)
        lay.addWidget(self.confusion, 2)

    def set_metrics(self, name: str, m: Metrics, where: str = "all labelled images") -> None:
        """m: core.inference.metrics.Metrics; `where`: which images they count ("the test split")."""
        self.summary.setText(
            f"<b>{name}</b> on {where} (current labels): {m.n} images · accuracy <b>{m.accuracy:.1%}</b> · "
            f"balanced {m.balanced_accuracy:.1%} · ECE {m.ece:.3f}")
        self.table.setRowCount(len(m.per_class))
        for r, c in enumerate(m.per_class):
            for col, v in enumerate((c.name, _fmt(c.precision), _fmt(c.recall), _fmt(c.f1), str(c.support))):
                it = QTableWidgetItem(v)
                if col:
                    it.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(r, col, it)
        self.confusion.set_matrix(m.confusion, [c.name for c in m.per_class])

    def set_faithfulness(self, text: str, rows: list[tuple[str, ...]] | None = None) -> None:
        """The one-line verdict here, and per method its scores in `maps_table`."""
        self.maps.setText(text)
        rows = rows or []
        self.maps_table.setRowCount(len(rows))
        for r, row in enumerate(rows):
            for c, v in enumerate(row):
                it = QTableWidgetItem(v)
                if c:
                    it.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.maps_table.setItem(r, c, it)


    def clear(self, text: str) -> None:
        self.summary.setText(text)
        self.maps.setText("")
        self.table.setRowCount(0)
        self.confusion.set_matrix([], [])
