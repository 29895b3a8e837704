"""Label history of the current image: who, when, old -> new, source (newest first)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtWidgets import QHeaderView, QLabel, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget

if TYPE_CHECKING:
    from core.store.records import LabelEventRecord


class QtHistoryPanel(QWidget):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.title = QLabel("No image selected")
        self.title.setStyleSheet("color: #aaaaaa;")
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(["When", "Who", "Change", "Source"])
        self.tree.setRootIsDecorated(False)
        self.tree.setAlternatingRowColors(True)
        self.tree.header().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.tree.header().setStretchLastSection(True)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addWidget(self.title)
        lay.addWidget(self.tree)
        self.events: list[LabelEventRecord] = []

    def set_events(self, name: str | None, events: list[LabelEventRecord]) -> None:
        """events oldest first (shown newest first)."""
        self.events = list(events)
        self.title.setText(f"{name}: {len(events)} label events" if name else "No image selected")
        self.tree.clear()
        for e in reversed(self.events):
            when = e.time.astimezone().strftime("%Y-%m-%d %H:%M:%S") if e.time else ""
            change = f"{e.old or '(none)'} → {e.new or '(none)'}"
            self.tree.addTopLevelItem(QTreeWidgetItem([when, e.user, change, e.source]))

    def rows(self) -> list[tuple[str, str, str, str]]:
        return [tuple(self.tree.topLevelItem(i).text(c) for c in range(4)) for i in range(self.tree.topLevelItemCount())]
