"""Shown when no project is open: open a dataset folder, open a project file, or make the demo."""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel, QPushButton, QVBoxLayout, QWidget


class QtWelcome(QWidget):
    open_dataset = Signal()
    open_project = Signal()
    create_demo = Signal()
    open_recent = Signal(str)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        title = QLabel("Inspector")
        title.setStyleSheet("font-size: 28px; font-weight: bold;")
        sub = QLabel("Predict · inspect attention · correct labels · fine-tune · compare")
        sub.setStyleSheet("color: #aaaaaa;")
        self.dataset_button = QPushButton("Open a dataset folder…")
        self.dataset_button.setToolTip("Scan an ImageFolder, MVTec or CSV dataset and import it into a new project file")
        self.project_button = QPushButton("Open a project file…")
        self.demo_button = QPushButton("Create the demo project")
        self.demo_button.setToolTip("Synthetic industrial images with defects and masks, a small trained model and its predictions")
        self.recent_button = QPushButton()
        self.recent_button.hide()
        self.status = QLabel("")
        self.status.setStyleSheet("color: #aaaaaa;")
        lay = QVBoxLayout(self)
        lay.addStretch(2)
        for w in (title, sub):
            lay.addWidget(w, 0, Qt.AlignmentFlag.AlignHCenter)
        lay.addSpacing(24)
        for b in (self.recent_button, self.dataset_button, self.project_button, self.demo_button):
            b.setMinimumWidth(320)
            b.setMinimumHeight(36)
            lay.addWidget(b, 0, Qt.AlignmentFlag.AlignHCenter)
        lay.addSpacing(12)
        lay.addWidget(self.status, 0, Qt.AlignmentFlag.AlignHCenter)
        lay.addStretch(3)
        self.dataset_button.clicked.connect(self.open_dataset)
        self.project_button.clicked.connect(self.open_project)
        self.demo_button.clicked.connect(self.create_demo)
        self.recent_button.clicked.connect(lambda: self.open_recent.emit(self.recent_button.property("path")))

    def set_recent(self, path: str | None) -> None:
        self.recent_button.setVisible(bool(path))
        if path:
            self.recent_button.setText(f"Open {path}")
            self.recent_button.setProperty("path", path)

    def set_busy(self, text: str) -> None:
        self.status.setText(text)
        for b in (self.dataset_button, self.project_button, self.demo_button, self.recent_button):
            b.setEnabled(not text)
