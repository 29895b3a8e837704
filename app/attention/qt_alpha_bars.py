"""Bar chart of alpha per head for one layer; clicking a bar selects that head."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QVBoxLayout, QWidget

from app.widgets.plots import static_plot

ON = "#4c9be8"
OFF = "#555555"
SELECTED = "#00e5ff"


class QtAlphaBars(QWidget):
    head_clicked = Signal(int)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.plot = static_plot()
        self.plot.getAxis("left").setLabel("α")
        self.plot.getAxis("bottom").setLabel("head")
        self.bars = pg.BarGraphItem(x=[], height=[], width=0.7, brushes=[])
        self.plot.addItem(self.bars)
        self.plot.addLine(y=0, pen=pg.mkPen("#888888"))
        self.alphas = np.zeros(0)
        self.selected = 0
        self.off: set[int] = set()
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.plot)
        self.plot.scene().sigMouseClicked.connect(self._on_clicked)

    def set_alphas(self, alphas: np.ndarray, selected: int, off: set[int]) -> None:
        self.alphas = np.asarray(alphas, float)
        self.selected, self.off = selected, set(off)
        n = len(self.alphas)
        brushes = [pg.mkBrush(SELECTED if i == selected else OFF if i in off else ON) for i in range(n)]
        self.bars.setOpts(x=np.arange(n), height=self.alphas, brushes=brushes)
        self.plot.getAxis("bottom").setTicks([[(i, str(i)) for i in range(n)]])
        lo = min(0.0, float(self.alphas.min(initial=0.0)))
        hi = max(0.0, float(self.alphas.max(initial=1.0)))
        self.plot.setYRange(lo - 0.05 * (hi - lo + 1e-6), hi * 1.08 + 1e-6, padding=0)
        self.plot.setXRange(-0.6, max(n, 1) - 0.4, padding=0)

    def _on_clicked(self, ev) -> None:
        vb = self.plot.getViewBox()
        if not vb.sceneBoundingRect().contains(ev.scenePos()):
            return
        x = vb.mapSceneToView(ev.scenePos()).x()
        head = int(round(x))
        if 0 <= head < len(self.alphas) and abs(x - head) <= 0.4:
            self.head_clicked.emit(head)
