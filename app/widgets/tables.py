"""The read-only tables of the panels: headers, no row numbers, no editing, columns sized one way."""
from __future__ import annotations

from PySide6.QtWidgets import QHeaderView, QTableWidget, QTreeWidget


def read_only_table(headers: list[str], *, stretch: int | None = None) -> QTableWidget:
    """`stretch`: the one column that takes the spare width (the others fit their text);
    None: every column shares the width evenly."""
    t = QTableWidget(0, len(headers))
    t.setHorizontalHeaderLabels(headers)
    t.verticalHeader().hide()
    t.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
    header = t.horizontalHeader()
    if stretch is None:
        header.setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
    else:
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(stretch, QHeaderView.ResizeMode.Stretch)
    return t


def current_id(tree: QTreeWidget) -> int | None:
    """The id (UserRole data of column 0) of a tree's current row, or None."""
    from PySide6.QtCore import Qt

    it = tree.currentItem()
    return None if it is None else it.data(0, Qt.ItemDataRole.UserRole)
