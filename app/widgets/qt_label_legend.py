"""The keyboard legend: which digit assigns which class; the buttons assign too."""
from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QGridLayout, QLabel, QPushButton, QVBoxLayout, QWidget

COLUMNS = 3


class QtLabelLegend(QWidget):
    class_chosen = Signal(str)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.hint = QLabel("Keys: 1-9 label (the selection, or the current image) · J/K or ←/→ next/previous · Ctrl+Z undo · Ctrl+Shift+Z redo · F fit · wheel zoom, drag pan, click = where that spot looks (overlay: its layer's map)")
        self.hint.setWordWrap(True)
        self.hint.setStyleSheet("color: #aaaaaa; font-size: 11px;")
        self.grid = QGridLayout()
        self.grid.setSpacing(3)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 2, 4, 2)
        lay.addLayout(self.grid)
        lay.addWidget(self.hint)
        self.buttons: list[QPushButton] = []

    def set_classes(self, names: list[str]) -> None:
        for b in self.buttons:
            self.grid.removeWidget(b)
            b.deleteLater()
        self.buttons = []
        for i, name in enumerate(names[:9]):
            b = QPushButton(f"{i + 1}  {name}")
            b.setToolTip(f"Press {i + 1} to label the selected image(s) {name}")
            b.setStyleSheet("text-align: left; padding: 2px 6px;")
            b.clicked.connect(lambda _=False, n=name: self.class_chosen.emit(n))
            self.grid.addWidget(b, i // COLUMNS, i % COLUMNS)
            self.buttons.append(b)

    def set_current(self, label: str | None) -> None:
        for b in self.buttons:
            name = b.text().split("  ", 1)[1]
            b.setStyleSheet("text-align: left; padding: 2px 6px;" + (" background: #2b6f3a; font-weight: bold;" if name == label else ""))
