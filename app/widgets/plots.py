"""One look for the app's small charts: dark background, fixed view (no mouse pan/zoom, no menu)."""
from __future__ import annotations

import pyqtgraph as pg

BACKGROUND = "#1e1e1e"


def static_plot() -> pg.PlotWidget:
    plot = pg.PlotWidget(background=BACKGROUND)
    plot.setMouseEnabled(False, False)
    plot.hideButtons()
    plot.setMenuEnabled(False)
    return plot
