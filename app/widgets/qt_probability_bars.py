"""Class probabilities as a horizontal bar chart; the predicted class is highlighted and, when
heads are switched off, the unablated probabilities stay visible as grey outlines for comparison."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QVBoxLayout, QWidget

from app.widgets.plots import static_plot

BAR = "#4c9be8"
TOP = "#f0ad4e"
LABEL = "#5cb85c"


class QtProbabilityBars(QWidget):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.plot = static_plot()
        self.plot.setXRange(0, 1, padding=0.02)
        self.plot.getAxis("bottom").setLabel("probability")
        self.bars = pg.BarGraphItem(x0=[], y=[], height=0.7, width=[], brushes=[])
        self.reference = pg.BarGraphItem(x0=[], y=[], height=0.7, width=[], pen=pg.mkPen("#aaaaaa", width=1,
                                         style=pg.QtCore.Qt.PenStyle.DashLine), brush=None)
        self.reference.setZValue(5)
        self.plot.addItem(self.bars)
        self.plot.addItem(self.reference)
        self.value_texts: list[pg.TextItem] = []
        self.class_names: list[str] = []
        self.probs = np.zeros(0)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.plot)

    def set_classes(self, names: list[str]) -> None:
        self.class_names = list(names)
        ticks = [(i, f"{i + 1} {n}" if i < 9 else n) for i, n in enumerate(names)]
        self.plot.getAxis("left").setTicks([ticks])
        self.plot.setYRange(-0.6, max(len(names), 1) - 0.4, padding=0)
        self.plot.getViewBox().invertY(True)
        self.setMinimumHeight(60 + 22 * len(names))  # every class name readable
        self.set_probabilities(None)

    def set_probabilities(self, probs: np.ndarray | None, reference: np.ndarray | None = None,
                          label: int | None = None) -> None:
        for t in self.value_texts:
            self.plot.removeItem(t)
        self.value_texts = []
        if probs is None or len(probs) != len(self.class_names):
            self.probs = np.zeros(0)
            self.bars.setOpts(x0=[], y=[], width=[], brushes=[])
            self.reference.setOpts(x0=[], y=[], width=[])
            return
        self.probs = np.asarray(probs, float)
        n = len(self.probs)
        top = int(np.argmax(self.probs))
        brushes = [pg.mkBrush(TOP if i == top else BAR) for i in range(n)]
        pens = [pg.mkPen(LABEL, width=2) if i == label else pg.mkPen(None) for i in range(n)]
        y = np.arange(n)
        self.bars.setOpts(x0=np.zeros(n), y=y, width=self.probs, brushes=brushes, pens=pens)
        if reference is not None and len(reference) == n:
            self.reference.setOpts(x0=np.zeros(n), y=y, width=np.asarray(reference, float))
        else:
            self.reference.setOpts(x0=[], y=[], width=[])
        for i, p in enumerate(self.probs):
            t = pg.TextItem(f"{p:.1%}", color="#dddddd", anchor=(0, 0.5))
            t.setPos(min(float(p), 0.82) + 0.01, i)
            self.plot.addItem(t)
            self.value_texts.append(t)
