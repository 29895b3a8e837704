"""Paints one grid tile: thumbnail, label, prediction, and a colour for agreement / confidence.

Colour key (also in the legend under the grid):
  red      label and prediction disagree
  magenta  suspected label error (confident-learning score)
  green    agree, confident (>= 90 %)
  amber    agree, unsure
  grey     no prediction yet
"""
from __future__ import annotations

from PySide6.QtCore import QRect, QSize, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPen
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem

from app.browser.image_list_model import ThumbRole, TileRole
from app.browser.tile import Tile

THUMB = 128
TILE = QSize(THUMB + 16, THUMB + 50)
CONFIDENT = 0.9

COLORS = {
    "disagree": QColor("#d9534f"),
    "suspect": QColor("#c13bd6"),
    "confident": QColor("#5cb85c"),
    "unsure": QColor("#f0ad4e"),
    "none": QColor("#777777"),
}
LEGEND = [
    ("disagree", "label ≠ prediction"),
    ("suspect", "suspected label error"),
    ("confident", "agree, ≥ 90 %"),
    ("unsure", "agree, unsure"),
    ("none", "no prediction"),
]


def tile_status(t: Tile) -> str:
    if t.predicted is None:
        return "none"
    if t.review_reason == "label_issue":  # what the "suspected label errors" filter shows, exactly
        return "suspect"
    if t.disagrees:
        return "disagree"
    return "confident" if (t.confidence or 0.0) >= CONFIDENT else "unsure"


class TileDelegate(QStyledItemDelegate):
    def sizeHint(self, option, index) -> QSize:
        return TILE

    def paint(self, p: QPainter, option: QStyleOptionViewItem, index) -> None:
        r = option.rect.adjusted(3, 3, -3, -3)
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        current = bool(option.state & QStyle.StateFlag.State_HasFocus)
        tile: Tile | None = index.data(TileRole)
        p.save()
        p.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        p.fillRect(r, QColor("#2b4a6f") if selected else QColor("#2a2a2a"))
        thumb_rect = QRect(r.left() + (r.width() - THUMB) // 2, r.top() + 4, THUMB, THUMB)
        if tile is None:
            p.fillRect(thumb_rect, QColor("#333333"))
            p.restore()
            return
        color = COLORS[tile_status(tile)]
        img = index.data(ThumbRole)
        if img is None:
            p.fillRect(thumb_rect, QColor("#3a3a3a"))
        else:
            s = img.size().scaled(thumb_rect.size(), Qt.AspectRatioMode.KeepAspectRatio)
            target = QRect(thumb_rect.left() + (THUMB - s.width()) // 2, thumb_rect.top() + (THUMB - s.height()) // 2,
                           s.width(), s.height())
            p.drawImage(target, img)
        p.fillRect(QRect(r.left(), r.top(), 5, THUMB + 8), color)  # status stripe, readable at a glance
        font = QFont(option.font)
        font.setPointSizeF(max(font.pointSizeF() - 1, 7))
        p.setFont(font)
        fm = p.fontMetrics()
        y = thumb_rect.bottom() + 4
        line = QRect(r.left() + 4, y, r.width() - 8, fm.height())
        p.setPen(QColor("#eeeeee"))
        p.drawText(line, Qt.AlignmentFlag.AlignLeft, fm.elidedText(tile.label or "(unlabeled)", Qt.TextElideMode.ElideRight, line.width()))
        line.translate(0, fm.height())
        if tile.predicted is not None:
            p.setPen(color)
            text = f"→ {tile.predicted} {tile.confidence:.0%}"
            p.drawText(line, Qt.AlignmentFlag.AlignLeft, fm.elidedText(text, Qt.TextElideMode.ElideRight, line.width()))
        if selected or current:
            p.setPen(QPen(QColor("#00e5ff"), 2))
            p.drawRect(r.adjusted(1, 1, -1, -1))
        p.restore()


def legend_html() -> str:
    """The colour key as one line of rich text, for a label under the grid."""
    return "&nbsp;&nbsp;".join(
        f'<span style="color:{COLORS[key].name()}">■</span>&nbsp;{text}' for key, text in LEGEND)
