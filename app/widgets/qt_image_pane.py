"""The centre right of the window: what the current image is, the image itself, the class
probabilities under it, and the keyboard legend for labelling."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QSplitter, QVBoxLayout, QWidget

from app.widgets.qt_elided_label import QtElidedLabel
from app.widgets.qt_image_view import QtImageView
from app.widgets.qt_label_legend import QtLabelLegend
from app.widgets.qt_probability_bars import QtProbabilityBars


class QtImagePane(QWidget):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        # A long path must not push the grid narrower nor hide under the checkbox: it is elided ("…")
        # in the middle, which keeps the file name and the prediction; the tooltip has it all.
        self.title = QtElidedLabel()
        self.title.setStyleSheet("font-weight: bold; padding: 2px 4px;")
        self.view = QtImageView()
        self.bars = QtProbabilityBars()
        self.legend = QtLabelLegend()
        self.mask_toggle = QCheckBox("defect mask")
        self.mask_toggle.setChecked(True)
        self.mask_toggle.setToolTip("Show the ground-truth defect outline where the dataset has a mask")
        self.mask_toggle.toggled.connect(self.view.mask_item.setVisible)

        title_row = QHBoxLayout()
        title_row.setContentsMargins(0, 0, 4, 0)
        title_row.addWidget(self.title, 1)
        title_row.addWidget(self.mask_toggle)
        self.split = QSplitter(Qt.Orientation.Vertical)
        self.split.addWidget(self.view)
        self.split.addWidget(self.bars)
        self.split.setStretchFactor(0, 4)
        self.split.setStretchFactor(1, 1)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(2)
        lay.addLayout(title_row)
        lay.addWidget(self.split, 1)
        lay.addWidget(self.legend)

    def set_tile(self, tile) -> None:
        if tile is None:
            self.title.set_full_text("")
            self.legend.set_current(None)
            return
        pred = f" → predicted {tile.predicted} {tile.confidence:.0%}" if tile.predicted else ""
        self.title.set_full_text(f"{tile.name}   {tile.label or '(unlabeled)'}{pred}",
                                 f"{tile.abs_path}\nlabel: {tile.label or '(unlabeled)'}"
                                 + (f"\npredicted: {tile.predicted} ({tile.confidence:.1%})" if tile.predicted else ""))
        self.legend.set_current(tile.label)
