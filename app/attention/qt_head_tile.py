"""One head's attention map in the small-multiples grid: the map, a caption, an on/off box."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPen
from PySide6.QtWidgets import QCheckBox, QFrame, QLabel, QSizePolicy, QVBoxLayout, QWidget

_LUT = pg.colormap.get("inferno").getLookupTable(0.0, 1.0, 256, alpha=False).astype(np.uint8)


def heat_to_qimage(m: np.ndarray) -> QImage:
    lo, hi = float(m.min()), float(m.max())
    idx = ((m - lo) / (hi - lo if hi > lo else 1.0) * 255).astype(np.uint8)
    rgb = np.ascontiguousarray(_LUT[idx])
    h, w = idx.shape
    return QImage(rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()


class _MapCanvas(QWidget):
    clicked = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.image: QImage | None = None
        self.selected = False
        self.enabled_head = True
        self.setMinimumSize(72, 72)
        self.setMaximumHeight(128)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)

    def sizeHint(self) -> QSize:
        return QSize(112, 112)

    def hasHeightForWidth(self) -> bool:
        return True

    def heightForWidth(self, w: int) -> int:
        return min(w, 128)

    def paintEvent(self, _ev) -> None:
        p = QPainter(self)
        side = min(self.width(), self.height()) - 4
        r = QRectF((self.width() - side) / 2, (self.height() - side) / 2, side, side)
        if self.image is not None:
            p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)
            p.setOpacity(1.0 if self.enabled_head else 0.3)
            p.drawImage(r, self.image)
            p.setOpacity(1.0)
        p.setPen(QPen(QColor("#00e5ff") if self.selected else QColor("#555555"), 3 if self.selected else 1))
        p.drawRect(r.adjusted(-1, -1, 1, 1))
        p.end()

    def mousePressEvent(self, ev) -> None:
        if ev.button() == Qt.MouseButton.LeftButton:
            self.clicked.emit()


class QtHeadTile(QFrame):
    selected = Signal(int)  # head
    toggled = Signal(int, bool)  # head, on

    def __init__(self, head: int, parent: QWidget | None = None):
        super().__init__(parent)
        self.head = head
        self.canvas = _MapCanvas()
        self.caption = QLabel()
        self.caption.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.caption.setStyleSheet("font-size: 10px;")
        self.checkbox = QCheckBox(f"head {head}")
        self.checkbox.setChecked(True)
        self.checkbox.setToolTip("Untick to switch this head off (alpha = 0) and see how the prediction changes")
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.setSpacing(1)
        lay.addWidget(self.canvas, 1)
        lay.addWidget(self.caption)
        lay.addWidget(self.checkbox, 0, Qt.AlignmentFlag.AlignHCenter)
        self.canvas.clicked.connect(lambda: self.selected.emit(self.head))
        self.checkbox.toggled.connect(self._on_checkbox_toggled)

    def set_map(self, m: np.ndarray, alpha: float, contribution: float, alignment: float | None) -> None:
        self.canvas.image = heat_to_qimage(m)
        text = f"α={alpha:+.2f} · {contribution:.0%}"
        if alignment is not None and np.isfinite(alignment):
            text += f"\ndefect {alignment:.2f}"
        self.caption.setText(text)
        self.caption.setToolTip(
            f"alpha_{self.head} = {alpha:.4f}\nshare of the layer output: {contribution:.1%}"
            + (f"\ndefect alignment (attention mass inside the mask): {alignment:.3f}" if alignment is not None else "")
        )
        self.canvas.update()

    def set_selected(self, on: bool) -> None:
        self.canvas.selected = on
        self.canvas.update()

    def _on_checkbox_toggled(self, on: bool) -> None:
        self.canvas.enabled_head = on
        self.canvas.update()
        self.toggled.emit(self.head, on)
