"""Confusion matrix (rows = current label, columns = prediction) drawn with pyqtgraph; clicking a
cell asks the browser to show exactly those images."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QVBoxLayout, QWidget

from app.widgets.plots import static_plot


class QtConfusionMatrix(QWidget):
    cell_clicked = Signal(str, str)  # label, predicted

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.plot = static_plot()
        self.plot.getViewBox().invertY(True)
        self.plot.getAxis("left").setLabel("label")
        self.plot.getAxis("left").setStyle(hideOverlappingLabels=False)
        self.plot.getAxis("bottom").setLabel("predicted")
        self.image = pg.ImageItem(axisOrder="row-major")
        self.image.setColorMap(pg.colormap.get("viridis"))
        self.plot.addItem(self.image)
        self.texts: list[pg.TextItem] = []
        self.names: list[str] = []
        self.matrix = np.zeros((0, 0), int)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.plot)
        self.plot.scene().sigMouseClicked.connect(self._on_clicked)

    def set_matrix(self, matrix: np.ndarray, names: list[str]) -> None:
        for t in self.texts:
            self.plot.removeItem(t)
        self.texts = []
        self.matrix, self.names = np.asarray(matrix), list(names)
        k = len(names)
        self.plot.setVisible(k > 0)  # empty axes say nothing
        if k == 0:
            self.image.clear()
            return
        # Colour by row share, so a rare class's errors are as visible as a common class's.
        rows = self.matrix.sum(axis=1, keepdims=True)
        self.image.setImage(self.matrix / np.maximum(rows, 1), levels=(0, 1), autoLevels=False)
        self.plot.getAxis("left").setTicks([[(i + 0.5, n) for i, n in enumerate(names)]])
        # Columns are narrow: short names below, the full name in the tooltip of the axis.
        self.plot.getAxis("bottom").setTicks([[(i + 0.5, n if len(n) <= 8 else n[:7] + "…") for i, n in enumerate(names)]])
        self.plot.getAxis("bottom").setToolTip(", ".join(names))
        for r in range(k):
            for c in range(k):
                share = self.matrix[r, c] / max(rows[r, 0], 1)
                t = pg.TextItem(str(int(self.matrix[r, c])), color="#000000" if share > 0.6 else "#ffffff", anchor=(0.5, 0.5))
                t.setPos(c + 0.5, r + 0.5)
                self.plot.addItem(t)
                self.texts.append(t)
        self.plot.setRange(xRange=(0, k), yRange=(0, k), padding=0.04)

    def _on_clicked(self, ev) -> None:
        vb = self.plot.getViewBox()
        if not self.names or not vb.sceneBoundingRect().contains(ev.scenePos()):
            return
        p = vb.mapSceneToView(ev.scenePos())
        r, c = int(np.floor(p.y())), int(np.floor(p.x()))
        if 0 <= r < len(self.names) and 0 <= c < len(self.names):
            self.cell_clicked.emit(self.names[r], self.names[c])
