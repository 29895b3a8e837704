"""Zoomable, pannable image with an attention overlay, a mask outline and a query marker.

Three ImageItems stacked by z-value in one ViewBox with locked aspect: the image (z 0), the
overlay (z 10, colormap + opacity, its ColorBarItem lives beside the view) and the ground-truth
mask outline (z 20). The overlay is stretched over exactly the image's rectangle, so the two line up
by construction whatever the overlay's resolution.
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Signal
from PySide6.QtWidgets import QVBoxLayout, QWidget

OVERLAY_CMAP = "inferno"


class QtImageView(QWidget):
    clicked = Signal(float, float)  # (x, y) in image pixels, only for clicks inside the image

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setBackground("#1e1e1e")
        self.view: pg.ViewBox = self.graphics.addViewBox(row=0, col=0, lockAspect=True, invertY=True, enableMenu=False)
        self.image_item = pg.ImageItem(axisOrder="row-major")
        self.overlay_item = pg.ImageItem(axisOrder="row-major")
        self.mask_item = pg.ImageItem(axisOrder="row-major")
        self.overlay_item.setZValue(10)
        self.mask_item.setZValue(20)
        self.marker = pg.ScatterPlotItem(size=14, symbol="+", pen=pg.mkPen("#00e5ff", width=2), brush=None)
        self.marker.setZValue(30)
        for item in (self.image_item, self.overlay_item, self.mask_item, self.marker):
            self.view.addItem(item)
        self.colorbar = pg.ColorBarItem(values=(0.0, 1.0), colorMap=pg.colormap.get(OVERLAY_CMAP),
                                        interactive=False, width=12, label="attention")
        self.colorbar.setImageItem(self.overlay_item)
        self.graphics.addItem(self.colorbar, row=0, col=1)
        self._shape: tuple[int, int] | None = None
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.graphics)
        self.graphics.scene().sigMouseClicked.connect(self._on_scene_clicked)
        self.set_overlay_opacity(0.5)

    @property
    def image_shape(self) -> tuple[int, int] | None:
        return self._shape

    def set_image(self, image: np.ndarray | None, outline: np.ndarray | None = None) -> None:
        """image: uint8 (H, W) or (H, W, 3); outline: RGBA (H, W, 4) from `mask_outline_rgba`
        (made in a worker: on a camera-size image it is not free). Resets zoom when the size changes."""
        self.clear_overlay()
        self.marker.setData([])
        if image is None:
            self.image_item.clear()
            self.mask_item.clear()
            self._shape = None
            return
        shape = image.shape[:2]
        resized, self._shape = shape != self._shape, shape
        self.image_item.setImage(image, levels=(0, 255), autoLevels=False)
        self.set_outline(outline)
        if resized:
            self.view.autoRange(padding=0.01)

    def set_outline(self, outline: np.ndarray | None) -> None:
        if outline is None or self._shape is None or outline.shape[:2] != self._shape:
            self.mask_item.clear()
            return
        self.mask_item.setImage(outline, autoLevels=False, levels=(0, 255))

    def set_overlay_label(self, text: str) -> None:
        """What the colour bar measures (attention, relevance)."""
        self.colorbar.getAxis("left").setLabel(text)  # where ColorBarItem puts its label (vertical bar)

    def set_overlay(self, heat: np.ndarray | None, levels: tuple[float, float] | None = None) -> None:
        """heat: float (h, w), the image's size or a scaled-down copy of the same aspect; it is
        stretched over exactly the image's rectangle, so it lines up whatever its resolution."""
        if heat is None or self._shape is None:
            self.clear_overlay()
            return
        H, W = self._shape
        if abs(heat.shape[0] / heat.shape[1] - H / W) > 0.02:
            raise ValueError(f"overlay {heat.shape} does not have the aspect of image {self._shape}")
        lo, hi = levels if levels else (float(heat.min()), float(heat.max()))
        if hi <= lo:
            hi = lo + 1e-6
        self.overlay_item.setImage(heat.astype(np.float32), autoLevels=False)
        self.overlay_item.setRect(QRectF(0, 0, W, H))
        self.colorbar.setLevels((lo, hi))
        self.colorbar.setOpacity(1.0)
        self.overlay_item.show()

    @property
    def colorbar_shown(self) -> bool:
        return self.colorbar.opacity() > 0

    def clear_overlay(self) -> None:
        """No overlay, and no colour scale for it: a bar with nothing to measure would mislead.
        (Made transparent, not hidden: a hidden layout item gives its column away, and the image
        would jump sideways every time an overlay comes and goes.)"""
        self.overlay_item.clear()
        self.colorbar.setOpacity(0.0)

    def set_overlay_opacity(self, opacity: float) -> None:
        self.overlay_item.setOpacity(float(opacity))

    def set_query_point(self, xy: tuple[float, float] | None) -> None:
        self.marker.setData([] if xy is None else [{"pos": xy}])

    def fit(self) -> None:
        """Whole image in view (after zooming in with the wheel)."""
        if self._shape is not None:
            self.view.autoRange(padding=0.01)

    def _on_scene_clicked(self, ev) -> None:
        if self._shape is None or ev.button() != pg.QtCore.Qt.MouseButton.LeftButton:
            return
        if ev.double():
            self.fit()
            return
        p = self.view.mapSceneToView(ev.scenePos())
        h, w = self._shape
        if 0 <= p.x() < w and 0 <= p.y() < h and self.view.sceneBoundingRect().contains(ev.scenePos()):
            self.clicked.emit(float(p.x()), float(p.y()))


def mask_outline_rgba(mask: np.ndarray, color: tuple[int, int, int] = (0, 255, 120)) -> np.ndarray:
    """One-pixel outline of a boolean mask as an RGBA image (transparent elsewhere)."""
    m = mask.astype(bool)
    inner = m.copy()
    inner[1:, :] &= m[:-1, :]
    inner[:-1, :] &= m[1:, :]
    inner[:, 1:] &= m[:, :-1]
    inner[:, :-1] &= m[:, 1:]
    edge = m & ~inner
    rgba = np.zeros((*m.shape, 4), np.uint8)
    rgba[edge] = (*color, 255)
    return rgba
