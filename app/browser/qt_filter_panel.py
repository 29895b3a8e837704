"""Filter and sort controls for the browser. Emits `changed(FilterState)`, debounced, so that a
dragged slider or fast clicking runs one query, not twenty."""
from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)
from superqt import QLabeledDoubleRangeSlider
from superqt.utils import signals_blocked

from app.browser.filter_state import SORTS, FilterState

DEBOUNCE_MS = 200


class _ClassList(QWidget):
    """A check box per class; nothing checked means 'any'."""

    itemChanged = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._lay = QVBoxLayout(self)
        self._lay.setContentsMargins(0, 0, 0, 0)
        self._lay.setSpacing(1)
        self.boxes: list[QCheckBox] = []

    def set_classes(self, names: list[str]) -> None:
        checked = set(self.checked())
        for b in self.boxes:
            self._lay.removeWidget(b)
            b.deleteLater()
        self.boxes = []
        for n in names:
            b = QCheckBox(n)
            b.setChecked(n in checked)
            b.toggled.connect(lambda _on: self.itemChanged.emit())
            self._lay.addWidget(b)
            self.boxes.append(b)

    def checked(self) -> tuple[str, ...]:
        return tuple(b.text() for b in self.boxes if b.isChecked())

    def set_checked(self, names: tuple[str, ...]) -> None:
        for b in self.boxes:
            with signals_blocked(b):
                b.setChecked(b.text() in names)


FILTER_TEXTS = {"disagree": "label ≠ prediction", "suspected": "suspected label errors",
                "unlabeled": "unlabeled only", "changed_by_me": "changed by me"}


class QtFilterPanel(QWidget):
    changed = Signal(object)  # FilterState

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(DEBOUNCE_MS)
        self._timer.timeout.connect(lambda: self.changed.emit(self.state()))

        self.sort = QComboBox()
        for key, text in SORTS.items():
            self.sort.addItem(text, key)
        self.labels = _ClassList()
        self.predicted = _ClassList()
        self.confidence = QLabeledDoubleRangeSlider(Qt.Orientation.Horizontal)
        self.confidence.setRange(0.0, 1.0)
        self.confidence.setValue((0.0, 1.0))
        self.confidence.setDecimals(2)
        self.confidence.setSingleStep(0.01)
        self.disagreement = QCheckBox(FILTER_TEXTS["disagree"])
        self.disagreement.setToolTip("The model's top class differs from the label")
        self.suspected = QCheckBox(FILTER_TEXTS["suspected"])
        self.suspected.setToolTip("Confident learning's label issues: the model is confidently sure of another class "
                                  "(the tiles marked in magenta); see `inspector review`")
        self.unlabeled = QCheckBox(FILTER_TEXTS["unlabeled"])
        self.changed_by_me = QCheckBox(FILTER_TEXTS["changed_by_me"])
        self.show_only = {"disagree": self.disagreement, "suspected": self.suspected, "unlabeled": self.unlabeled,
                          "changed_by_me": self.changed_by_me}  # the "show only" filters, by FILTER_TEXTS key
        self.split = QComboBox()
        self.split.addItem("any", None)
        for s in ("train", "val", "test"):
            self.split.addItem(s, s)
        self.reset = QPushButton("Clear filters")
        self.count_label = QLabel("")
        self.count_label.setStyleSheet("color: #aaaaaa;")

        form = QFormLayout()
        form.addRow("Sort", self.sort)
        form.addRow("Split", self.split)
        box_l = QGroupBox("Label")
        QVBoxLayout(box_l).addWidget(self.labels)
        box_p = QGroupBox("Predicted class")
        QVBoxLayout(box_p).addWidget(self.predicted)
        box_c = QGroupBox("Confidence")
        QVBoxLayout(box_c).addWidget(self.confidence)
        box_f = QGroupBox("Show only")
        fl = QVBoxLayout(box_f)
        for cb in self.show_only.values():
            fl.addWidget(cb)
        bottom = QHBoxLayout()
        bottom.addWidget(self.count_label, 1)
        bottom.addWidget(self.reset)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addLayout(form)
        lay.addWidget(box_l)
        lay.addWidget(box_p)
        lay.addWidget(box_c)
        lay.addWidget(box_f)
        lay.addStretch(1)
        lay.addLayout(bottom)

        for sig in (self.sort.currentIndexChanged, self.split.currentIndexChanged,
                    self.labels.itemChanged, self.predicted.itemChanged, self.confidence.valueChanged):
            sig.connect(self._on_edited)
        for cb in self.show_only.values():
            cb.toggled.connect(self._on_edited)
        self.reset.clicked.connect(self._on_reset_clicked)

    def set_counts(self, counts: dict[str, int | None]) -> None:
        """Each "show only" filter with how many images it holds on its own."""
        for key, cb in self.show_only.items():
            base = FILTER_TEXTS[key]
            n = counts.get(key)
            cb.setText(base if n is None else f"{base} ({n:,})")

    def set_classes(self, names: list[str]) -> None:
        self.labels.set_classes(names)
        self.predicted.set_classes(names)

    def set_count(self, n: int) -> None:
        self.count_label.setText(f"{n:,} images")

    def state(self) -> FilterState:
        lo, hi = self.confidence.value()
        return FilterState(
            labels=self.labels.checked(),
            predicted=self.predicted.checked(),
            confidence=(round(float(lo), 4), round(float(hi), 4)),
            disagreement=self.disagreement.isChecked(),
            suspected=self.suspected.isChecked(),
            unlabeled=self.unlabeled.isChecked(),
            split=self.split.currentData(),
            changed_by_me=self.changed_by_me.isChecked(),
            sort=self.sort.currentData(),
        )

    def set_state(self, s: FilterState, emit: bool = True) -> None:
        """Apply a filter from elsewhere (a confusion-matrix cell), one query at the end."""
        widgets = (self.sort, self.split, self.labels, self.predicted, self.confidence, *self.show_only.values())
        for w in widgets:
            w.blockSignals(True)
        try:
            self.sort.setCurrentIndex(max(self.sort.findData(s.sort), 0))
            self.split.setCurrentIndex(max(self.split.findData(s.split), 0))
            self.labels.set_checked(s.labels)
            self.predicted.set_checked(s.predicted)
            self.confidence.setValue(s.confidence)
            self.disagreement.setChecked(s.disagreement)
            self.suspected.setChecked(s.suspected)
            self.unlabeled.setChecked(s.unlabeled)
            self.changed_by_me.setChecked(s.changed_by_me)
        finally:
            for w in widgets:
                w.blockSignals(False)
        if emit:
            self._timer.stop()
            self.changed.emit(self.state())

    def _on_edited(self, *_args) -> None:
        self._timer.start()

    def _on_reset_clicked(self) -> None:
        self.set_state(FilterState(sort=self.sort.currentData()))
