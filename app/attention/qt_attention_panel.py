"""The attention panel: every head of a layer as small multiples, alpha per head, overlays, ablation.

Passive: it shows an `AttentionResult` and says what the user asked for through signals; the main
window runs the workers (attention for a query point, ablated forward passes) and feeds it back.
"""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSlider,
    QVBoxLayout,
    QWidget,
)
from superqt.utils import signals_blocked

from app.attention.qt_alpha_bars import QtAlphaBars
from app.attention.qt_head_tile import QtHeadTile
from app.attention.attention_results import AttentionResult, LayerMaps
from core.inference.upsample import upsample_bilinear

OVERLAY_MODES = ("Relevance", "Rollout", "Layer mean", "Selected head", "Off")
# Class-specific and the most faithful map on the demo (`inspector explain-eval`, bench/explanations.py):
# removing its top 10 % hurts the decision more than a random 10 % on most images.
DEFAULT_MODE = "Relevance"
MODE_TIPS = {
    "Relevance": "Gradient-weighted attention relevance for the class chosen beside it (Chefer et al. 2021): "
                 "what the decision for that class rests on",
    "Rollout": "Attention rollout, heads weighted by their alpha: where information flows from, for any class",
    "Layer mean": "This layer's attention, mean over heads",
    "Selected head": "The selected head's attention",
    "Off": "No overlay",
}
COLUMNS = 4
MAX_OVERLAY_SIDE = 1024


def overlay_size(image_size: tuple[int, int], max_side: int = MAX_OVERLAY_SIDE) -> tuple[int, int]:
    """Pixel size of the overlay: the image's own up to `max_side`, else scaled down keeping the
    aspect (a 20 MP camera image would cost 80 MB and a visible pause per head switch). The view
    stretches it over the full image either way, so it stays aligned."""
    H, W = image_size
    scale = min(1.0, max_side / max(H, W))
    return max(1, round(H * scale)), max(1, round(W * scale))


class QtAttentionPanel(QWidget):
    overlay_changed = Signal(object)  # np.ndarray (H, W) at image size, or None
    opacity_changed = Signal(float)
    ablation_changed = Signal(object)  # frozenset[(layer, head)] switched off
    query_cleared = Signal()
    relevance_class_changed = Signal(object)  # int class index, or None = the predicted class

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.result: AttentionResult | None = None
        self.layer = -1  # -1 = last layer once a result arrives
        self.head = 0
        self.off: set[tuple[int, int]] = set()
        self.tiles: list[QtHeadTile] = []
        self._mode_before_query: str | None = None  # the whole-image overlay a click on the image replaced

        self.layer_combo = QComboBox()
        self.layer_combo.setToolTip("Attention layer: earlier layers see a finer token grid, later ones a coarser one "
                                    "(each entry names its grid)")
        self.mode_combo = QComboBox()
        self.mode_combo.addItems(OVERLAY_MODES)
        self.mode_combo.setCurrentText(DEFAULT_MODE)
        self.mode_combo.setToolTip("What is drawn over the image")
        for i, mode in enumerate(OVERLAY_MODES):
            self.mode_combo.setItemData(i, MODE_TIPS[mode], Qt.ItemDataRole.ToolTipRole)
        self.class_combo = QComboBox()
        self.class_combo.setToolTip("The class the relevance map explains")
        self.trust_label = QLabel("")
        self.trust_label.setWordWrap(True)
        self.trust_label.setStyleSheet("color: #f0ad4e;")
        self.trust_label.hide()
        self.opacity = QSlider(Qt.Orientation.Horizontal)
        self.opacity.setRange(0, 100)
        self.opacity.setValue(50)
        self.opacity.setFixedWidth(110)
        self.opacity.setToolTip("Overlay opacity")
        self.alpha_bars = QtAlphaBars()
        self.alpha_bars.setMinimumHeight(110)
        self.alpha_bars.setMaximumHeight(150)
        self.grid = QGridLayout()
        self.grid.setSpacing(4)
        self.query_label = QLabel("query: every token (click the image to pick one)")
        self.query_label.setStyleSheet("color: #aaaaaa;")
        self.clear_query = QPushButton("All tokens")
        self.clear_query.setToolTip("Average the attention over every query token again")
        self.reset_heads = QPushButton("All heads on")
        self.ablation_label = QLabel("")
        self.ablation_label.setWordWrap(True)
        self.ablation_label.setStyleSheet("color: #f0ad4e;")
        self.ablation_label.hide()
        self.placeholder = QLabel("Select an image with a model's predictions to inspect its attention.")
        self.placeholder.setWordWrap(True)
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)

        top = QGridLayout()
        top.addWidget(QLabel("Layer"), 0, 0)
        top.addWidget(self.layer_combo, 0, 1, 1, 3)
        top.addWidget(QLabel("Overlay"), 1, 0)
        top.addWidget(self.mode_combo, 1, 1)
        top.addWidget(QLabel("Opacity"), 1, 2, Qt.AlignmentFlag.AlignRight)
        top.addWidget(self.opacity, 1, 3)
        top.addWidget(QLabel("Class"), 2, 0)
        top.addWidget(self.class_combo, 2, 1, 1, 3)
        top.setColumnStretch(1, 1)
        bottom = QHBoxLayout()
        bottom.addWidget(self.query_label, 1)
        bottom.addWidget(self.clear_query)
        bottom.addWidget(self.reset_heads)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addLayout(top)
        lay.addWidget(self.trust_label)
        lay.addWidget(self.alpha_bars)
        lay.addLayout(self.grid)
        lay.addWidget(self.ablation_label)
        lay.addWidget(self.placeholder, 1)
        lay.addStretch(1)  # spare height below the tiles, not between their parts
        lay.addLayout(bottom)

        self.layer_combo.currentIndexChanged.connect(self._on_layer_changed)
        self.mode_combo.currentIndexChanged.connect(lambda _i: self._emit_overlay())
        self.class_combo.activated.connect(lambda _i: self.relevance_class_changed.emit(self.class_combo.currentData()))
        self.opacity.valueChanged.connect(lambda v: self.opacity_changed.emit(v / 100.0))
        self.alpha_bars.head_clicked.connect(self._on_head_selected)
        self.reset_heads.clicked.connect(self._on_reset_heads)
        self.clear_query.clicked.connect(self.query_cleared)
        self._set_enabled(False)

    # -- what the main window calls

    @property
    def mode(self) -> str:
        return self.mode_combo.currentText()

    @property
    def current_layer(self) -> LayerMaps | None:
        if self.result is None or not self.result.layers:
            return None
        return self.result.layers[self.layer]

    def set_result(self, result: AttentionResult | None) -> None:
        new_image = result is None or self.result is None or result.image_id != self.result.image_id
        self.result = result
        if result is None or not result.layers:
            self.placeholder.setText("Select an image with a model's predictions to inspect its attention.")
            with signals_blocked(self.layer_combo), signals_blocked(self.class_combo):
                self.layer_combo.clear()  # nothing left from the previous model or image
                self.class_combo.clear()
            self.alpha_bars.set_alphas([], 0, set())
            self._set_enabled(False)
            self.overlay_changed.emit(None)
            return
        if new_image and self.off:
            self.off.clear()
            self.ablation_changed.emit(frozenset())
        with signals_blocked(self.layer_combo):
            names = [f"layer {l.layer}  ·  {l.grid[0]}×{l.grid[1]} tokens  ·  {l.num_heads} heads" for l in result.layers]
            if [self.layer_combo.itemText(i) for i in range(self.layer_combo.count())] != names:
                self.layer_combo.clear()
                self.layer_combo.addItems(names)
            if not 0 <= self.layer < len(result.layers):
                self.layer = len(result.layers) - 1
            self.layer_combo.setCurrentIndex(self.layer)
        q = result.query
        self.query_label.setText("query: every token (click the image to pick one)" if q is None
                                 else f"query: pixel ({q[0]:.0f}, {q[1]:.0f})")
        self.clear_query.setEnabled(q is not None)
        self._show_classes(result)
        self._set_enabled(True)
        self._show_layer()

    def follow_query(self, on: bool) -> None:
        """A click on the image asks where that spot looks: the whole-image maps (relevance, rollout)
        cannot say, so the overlay shows the chosen layer's query map until the query is cleared."""
        if on and self.mode in ("Relevance", "Rollout"):
            self._mode_before_query = self.mode
            self.mode_combo.setCurrentText("Layer mean")
        elif not on and self._mode_before_query:
            self.mode_combo.setCurrentText(self._mode_before_query)
            self._mode_before_query = None

    def set_trust_warning(self, text: str | None) -> None:
        """Plain words when this model's maps measured no better than chance (None: hide)."""
        self.trust_label.setText(text or "")
        self.trust_label.setVisible(bool(text))

    def _show_classes(self, result: AttentionResult) -> None:
        names = result.class_names
        pred = int(np.argmax(result.probs)) if len(result.probs) else 0
        items = [(f"predicted: {names[pred]}" if names else "predicted", None)] + [(n, i) for i, n in enumerate(names)]
        with signals_blocked(self.class_combo):
            if [self.class_combo.itemText(i) for i in range(self.class_combo.count())] != [t for t, _ in items]:
                self.class_combo.clear()
                for text, data in items:
                    self.class_combo.addItem(text, data)
            chosen = result.relevance_class
            index = 0 if chosen is None or chosen == pred else self.class_combo.findData(chosen)
            self.class_combo.setCurrentIndex(max(index, 0))

    def set_pending(self, text: str) -> None:
        """Work for a new image is under way: say so instead of showing the previous image's maps."""
        if self.result is None:
            self.placeholder.setText(text)

    def set_ablation_summary(self, text: str) -> None:
        self.ablation_label.setText(text)
        self.ablation_label.setVisible(bool(text))

    def select_layer(self, layer: int) -> None:
        self.layer_combo.setCurrentIndex(layer)

    def select_head(self, head: int) -> None:
        self._on_head_selected(head)

    def set_head_enabled(self, head: int, on: bool) -> None:
        if 0 <= head < len(self.tiles):
            self.tiles[head].checkbox.setChecked(on)

    def overlay_map(self) -> np.ndarray | None:
        """The map drawn over the image: the image's size (capped for huge images, see overlay_size)."""
        r, lm = self.result, self.current_layer
        if r is None or lm is None or self.mode == "Off":
            return None
        if self.mode == "Relevance" and r.relevance is not None:
            m = r.relevance
        elif self.mode in ("Rollout", "Relevance"):
            m = r.rollout
        elif self.mode == "Layer mean":
            m = lm.mean_map()
        else:
            m = lm.maps[min(self.head, lm.num_heads - 1)]
        return upsample_bilinear(m, overlay_size(r.image_size))

    # -- handlers

    def _on_layer_changed(self, index: int) -> None:
        if index < 0 or self.result is None:
            return
        self.layer = index
        self._show_layer()

    def _on_head_selected(self, head: int) -> None:
        lm = self.current_layer
        if lm is None or not 0 <= head < lm.num_heads:
            return
        self.head = head
        if self.mode_combo.currentText() != "Selected head":
            with signals_blocked(self.mode_combo):
                self.mode_combo.setCurrentText("Selected head")
        self._refresh_selection()
        self._emit_overlay()

    def _on_head_toggled(self, head: int, on: bool) -> None:
        key = (self.layer, head)
        if on:
            self.off.discard(key)
        else:
            self.off.add(key)
        self._refresh_selection()
        self.ablation_changed.emit(frozenset(self.off))

    def _on_reset_heads(self) -> None:
        if not self.off:
            return
        self.off.clear()
        for t in self.tiles:
            with signals_blocked(t.checkbox):
                t.checkbox.setChecked(True)
            t.canvas.enabled_head = True
            t.canvas.update()
        self._refresh_selection()
        self.ablation_changed.emit(frozenset())

    # -- drawing

    def _show_layer(self) -> None:
        lm = self.current_layer
        if lm is None:
            return
        if len(self.tiles) != lm.num_heads:
            for t in self.tiles:
                # Out of the layout and off screen now; deleteLater alone leaves them painted
                # until the event loop comes round.
                self.grid.removeWidget(t)
                t.hide()
                t.setParent(None)
                t.deleteLater()
            self.tiles = []
            for h in range(lm.num_heads):
                t = QtHeadTile(h)
                t.selected.connect(self._on_head_selected)
                t.toggled.connect(self._on_head_toggled)
                self.grid.addWidget(t, h // COLUMNS, h % COLUMNS)
                t.setVisible(self.result is not None)
                self.tiles.append(t)
        self.head = min(self.head, lm.num_heads - 1)
        for h, t in enumerate(self.tiles):
            align = None if lm.alignment is None else float(lm.alignment[h])
            t.set_map(lm.maps[h], float(lm.alphas[h]), float(lm.contributions[h]), align)
            with signals_blocked(t.checkbox):
                t.checkbox.setChecked((self.layer, h) not in self.off)
            t.canvas.enabled_head = (self.layer, h) not in self.off
        self._refresh_selection()
        self._emit_overlay()

    def _refresh_selection(self) -> None:
        lm = self.current_layer
        if lm is None:
            return
        for h, t in enumerate(self.tiles):
            t.set_selected(h == self.head and self.mode == "Selected head")
        self.alpha_bars.set_alphas(lm.alphas, self.head, {h for (l, h) in self.off if l == self.layer})

    def _emit_overlay(self) -> None:
        self._refresh_selection()
        self.overlay_changed.emit(self.overlay_map())

    def _set_enabled(self, on: bool) -> None:
        for w in (self.layer_combo, self.mode_combo, self.class_combo, self.opacity, self.alpha_bars, self.reset_heads,
                  self.clear_query):
            w.setEnabled(on)
        self.alpha_bars.setVisible(on)  # empty axes say nothing
        self.placeholder.setVisible(not on)
        for t in self.tiles:
            t.setVisible(on)
