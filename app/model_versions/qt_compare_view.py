"""Two model versions on the same images: accuracy on the current labels, images whose prediction
changed, and how each head's alpha moved (layers x heads, diverging colours)."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QHBoxLayout, QLabel, QTableWidgetItem, QVBoxLayout, QWidget

from app.widgets.tables import read_only_table

if TYPE_CHECKING:
    from core.inference.compare import ModelComparison


class QtCompareView(QWidget):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.summary = QLabel("Pick two models and press Compare")
        self.summary.setWordWrap(True)
        self.changed = read_only_table(["image", "before", "after"], stretch=0)
        self.alpha_plot = pg.PlotWidget(background="#1e1e1e", title="α change per head (after − before)")
        self.alpha_plot.setMouseEnabled(False, False)
        self.alpha_plot.hideButtons()
        self.alpha_plot.getViewBox().invertY(True)
        self.alpha_plot.getAxis("left").setLabel("layer")
        self.alpha_plot.getAxis("bottom").setLabel("head")
        self.alpha_image = pg.ImageItem(axisOrder="row-major")
        self.alpha_image.setColorMap(pg.colormap.get("CET-D1"))
        self.alpha_plot.addItem(self.alpha_image)
        self.alpha_bar = pg.ColorBarItem(values=(-1, 1), colorMap=pg.colormap.get("CET-D1"), interactive=False, width=10)
        self.alpha_plot.getPlotItem().layout.addItem(self.alpha_bar, 2, 5)  # a key only: the cells are coloured here
        self.alpha_change: list[np.ndarray] | None = None
        left = QVBoxLayout()
        left.addWidget(self.summary)
        left.addWidget(self.changed, 1)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addLayout(left, 3)
        lay.addWidget(self.alpha_plot, 2)

    def set_comparison(self, name_a: str, name_b: str, c: ModelComparison, paths: dict[int, str],
                       where: str = "labelled images") -> None:
        """c: core.inference.compare.ModelComparison; `where`: which images ("test-split images")."""
        a, b = c.metrics_a.accuracy, c.metrics_b.accuracy
        verdict = ("the same accuracy" if abs(b - a) < 1e-9 else
                   f"<b>{name_b if b > a else name_a}</b> is better by {abs(b - a):.1%}")
        self.summary.setText(
            f"<b>{name_a}</b> {a:.1%} → <b>{name_b}</b> {b:.1%} accuracy on {c.n} {where}: {verdict} "
            f"· {len(c.changed)} predictions changed · {len(c.fixed)} fixed, {len(c.broken)} broken")
        rows = c.changed[:2000]
        self.changed.setRowCount(len(rows))
        for r, (image_id, pa, pb) in enumerate(rows):
            for col, v in enumerate((paths.get(image_id, str(image_id)), pa, pb)):
                self.changed.setItem(r, col, QTableWidgetItem(v))
        self.alpha_change = c.alpha_change
        if not c.alpha_change:
            self.alpha_image.clear()
            self.alpha_plot.setTitle("α change: architectures differ")
            return
        heads = max(len(x) for x in c.alpha_change)
        grid = np.full((len(c.alpha_change), heads), np.nan, np.float32)
        for i, x in enumerate(c.alpha_change):
            grid[i, : len(x)] = x
        lim = float(np.nanmax(np.abs(grid))) or 1e-3
        # Layers with fewer heads leave cells that do not exist: transparent, not "no change".
        rgba = self.alpha_bar.colorMap().map(np.clip((np.nan_to_num(grid) + lim) / (2 * lim), 0, 1), mode="byte")
        rgba[np.isnan(grid)] = 0
        self.alpha_image.setImage(rgba, autoLevels=False, levels=(0, 255))
        self.alpha_bar.setLevels((-lim, lim))
        self.alpha_plot.getAxis("bottom").setTicks([[(h + 0.5, str(h)) for h in range(heads)]])
        self.alpha_plot.getAxis("left").setTicks([[(i + 0.5, str(i)) for i in range(len(c.alpha_change))]])
        self.alpha_plot.setTitle("α change per head (after − before)")
        self.alpha_plot.setRange(xRange=(0, heads), yRange=(0, len(c.alpha_change)), padding=0.02)
