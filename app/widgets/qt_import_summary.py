"""After an import: what came in, and every file that did not, with the reason.

A non-modal box: the summary lines (counts, duplicates, look-alike class names) as its text, every
unreadable and skipped file with its reason in the details. Shown only when there is something to
say beyond the counts; the status bar has the first line in any case.
"""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox, QWidget


def needs_summary(report) -> bool:
    return bool(report.unreadable_files or report.skipped or report.similar_classes or report.conflicting_duplicates)


def import_summary_box(parent: QWidget | None, report, db: str | None = None) -> QMessageBox:
    problems = report.problem_lines(limit=None)
    box = QMessageBox(QMessageBox.Icon.Warning if problems or report.similar_classes else QMessageBox.Icon.Information,
                      "Import finished", "\n".join(report.summary_lines(db=db)), QMessageBox.StandardButton.Ok, parent)
    if problems:
        box.setInformativeText(f"{problems[0].rstrip(':')}. The details list each file and why; "
                               "`inspector errors --db` lists them again later.")
        box.setDetailedText("\n".join(line.strip() for line in problems[1:]))
    box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    box.setWindowModality(Qt.WindowModality.NonModal)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    return box
