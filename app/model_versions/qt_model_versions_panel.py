"""Model versions as a lineage tree, with their metrics on the current labels and comparisons."""
from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSplitter,
    QTabWidget,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.model_versions.qt_compare_view import QtCompareView
from app.model_versions.qt_metrics_view import QtMetricsView
from app.project_state import ProjectState
from app.widgets.tables import current_id
from app.workers import Workers
from usecases.explanation_eval import faithfulness_line, faithfulness_rows
from usecases.version_comparison import (
    SPLITS,
    VersionComparison,
    VersionRow,
    available_split,
    compare_versions,
    version_metrics,
    version_rows,
)

if TYPE_CHECKING:
    from core.inference.metrics import Metrics


class QtModelVersionsPanel(QWidget):
    use_model = Signal(int)  # browse with this model's predictions
    predict_requested = Signal(int)
    filter_requested = Signal(str, str)  # label, predicted (from a confusion-matrix cell)

    def __init__(self, state: ProjectState, workers: Workers, parent: QWidget | None = None):
        super().__init__(parent)
        self._state = state
        self._workers = workers
        self.rows: list[VersionRow] = []
        self._pending_compare: tuple[int, int] | None = None
        self._select_after_refresh: int | None = None  # a model just added
        self.metrics_split = "all"  # the split the metrics shown were computed on
        self._metrics_stale = False
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(["model", "id", "arch", "created", "predictions"])
        header = self.tree.header()  # every column as wide as its text: nothing cut, the name takes the rest
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setStretchLastSection(False)
        self.use_button = QPushButton("Browse with it")
        self.use_button.setToolTip("Show this model's predictions, confidences and label-error scores in the browser")
        self.predict_button = QPushButton("Predict")
        self.predict_button.setToolTip("Predict every image this model has not seen yet")
        self.explain_button = QPushButton("Measure maps")
        self.explain_button.setToolTip("How far this model's attention maps can be trusted: remove what each map "
                                       "points at and watch the decision (inspector explain-eval; about a second "
                                       "per image on a CPU)")
        self.add_button = QPushButton("Add model…")
        self.add_button.setToolTip("Add a model file to the project: an Inspector checkpoint (.safetensors) "
                                   "or its ONNX export (.onnx, predictions only)")
        self.split = QComboBox()
        for key in SPLITS:
            self.split.addItem({"all": "all labelled images"}.get(key, f"{key} split"), key)
        self.split.setToolTip("Which images the metrics and comparisons count: the held-out test split by default "
                              "(a model's accuracy on its own training images says little)")
        self.compare_with = QComboBox()
        self.compare_button = QPushButton("Compare")
        self.compare_button.setToolTip("Compare the selected model (after) with the one chosen here (before)")
        self.metrics = QtMetricsView()
        self.compare_view = QtCompareView()
        self.tabs = QTabWidget()
        self.tabs.addTab(self.metrics, "Metrics")
        self.tabs.addTab(self.compare_view, "Compare")
        self.tabs.addTab(self.metrics.maps_table, "Maps")  # how far each attention map can be trusted

        buttons = QHBoxLayout()
        buttons.addWidget(self.use_button)
        buttons.addWidget(self.predict_button)
        buttons.addWidget(self.explain_button)
        buttons.addStretch(1)
        buttons.addWidget(self.add_button)
        on = QHBoxLayout()
        on.addWidget(QLabel("on"))
        on.addWidget(self.split, 1)
        cmp = QHBoxLayout()
        cmp.addWidget(QLabel("vs"))
        cmp.addWidget(self.compare_with, 1)
        cmp.addWidget(self.compare_button)
        left = QWidget()
        ll = QVBoxLayout(left)
        ll.setContentsMargins(0, 0, 0, 0)
        ll.addWidget(self.tree, 1)
        ll.addLayout(buttons)
        ll.addLayout(on)
        ll.addLayout(cmp)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(left)
        split.addWidget(self.tabs)
        split.setStretchFactor(1, 3)
        split.setSizes([460, 780])
        lay = QVBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.addWidget(split)

        self.tree.currentItemChanged.connect(self._on_selection_changed)
        self.use_button.clicked.connect(lambda: self.selected_id is not None and self.use_model.emit(self.selected_id))
        self.predict_button.clicked.connect(lambda: self.selected_id is not None and self.predict_requested.emit(self.selected_id))
        self.compare_button.clicked.connect(self._on_compare_clicked)
        self.add_button.clicked.connect(self._on_add_clicked)
        self.split.currentIndexChanged.connect(lambda _i: self._on_selection_changed())
        self.explain_button.clicked.connect(lambda: self.selected_id is not None and self.measure_maps(self.selected_id))
        self.metrics.confusion.cell_clicked.connect(self.filter_requested)
        state.project_changed.connect(self.refresh)
        state.model_changed.connect(self.refresh)

    @property
    def selected_id(self) -> int | None:
        return current_id(self.tree)

    def refresh(self) -> None:
        project = self._state.project
        if project is not None:
            self._workers.start(lambda _c: version_rows(project), name="List models", on_result=self._on_rows)

    def add_model_file(self, path: str) -> None:
        """Register a checkpoint or ONNX file (in a worker: an ONNX file is parsed to be checked),
        then list and select it. A file that is not a model is one line in the status bar."""
        from usecases.prediction import register_checkpoint

        project = self._state.project
        if project is None:
            return

        def added(model_id: int) -> None:
            self._select_after_refresh = model_id
            self.refresh()

        self._workers.start(lambda _c: register_checkpoint(project, path), name="Add model", pool="write",
                            user_visible=True, on_result=added)

    def measure_maps(self, model_id: int, n: int | None = None):
        """Run the explanation evaluation as a task with progress; the metrics show it when done."""
        from usecases.explanation_eval import DEFAULT_IMAGES, evaluate_model_explanations

        project = self._state.project
        if project is None:
            return None
        count = n or DEFAULT_IMAGES
        return self._workers.start(lambda ctx: evaluate_model_explanations(project, model_id, n=count, progress=ctx),
                                   name="Measure maps", pool="long", user_visible=True,
                                   on_result=lambda _r: self.refresh())

    def _on_add_clicked(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Add a model file", "",
                                              "Inspector models (*.safetensors *.onnx);;All files (*)")
        if path:
            self.add_model_file(path)

    def select_model(self, model_id: int) -> None:
        for it in self._items():
            if it.data(0, Qt.ItemDataRole.UserRole) == model_id:
                self.tree.setCurrentItem(it)

    def compare(self, before: int, after: int) -> None:
        """Select `after` and compare it with `before`, once the list knows both (it may be new)."""
        self._pending_compare = (before, after)
        self.refresh()

    def _run_pending_compare(self) -> None:
        before, after = self._pending_compare
        self._pending_compare = None
        self.select_model(after)
        self.compare_with.setCurrentIndex(max(self.compare_with.findData(before), 0))
        if self.selected_id == after:
            self._on_compare_clicked()

    def _items(self) -> list[QTreeWidgetItem]:
        out, stack = [], [self.tree.topLevelItem(i) for i in range(self.tree.topLevelItemCount())]
        while stack:
            it = stack.pop()
            out.append(it)
            stack.extend(it.child(i) for i in range(it.childCount()))
        return out

    def _on_rows(self, rows: list[VersionRow]) -> None:
        current = self._state.model_version_id
        keep = self.selected_id if self.selected_id is not None else current
        if self._select_after_refresh is not None:
            keep, self._select_after_refresh = self._select_after_refresh, None
        self.rows = rows
        self.tree.clear()
        items: dict[int, QTreeWidgetItem] = {}
        for row in sorted(rows, key=lambda r: r.record.id):
            m = row.record
            text = m.name + ("  (browsing)" if m.id == current else "")
            onnx = (m.meta.get("provenance") or {}).get("onnx")
            arch = f"{m.arch} · ONNX {onnx.get('precision', '')}".rstrip() if onnx else m.arch
            it = QTreeWidgetItem([text, str(m.id), arch, m.created.strftime("%Y-%m-%d %H:%M"), str(row.predictions)])
            it.setToolTip(0, m.path)
            it.setData(0, Qt.ItemDataRole.UserRole, m.id)
            parent = items.get(m.parent_id)
            (parent.addChild(it) if parent is not None else self.tree.addTopLevelItem(it))
            items[m.id] = it
        self.tree.expandAll()
        self.compare_with.clear()
        for row in rows:
            self.compare_with.addItem(f"{row.record.name} (id {row.record.id})", row.record.id)
        if keep in items:
            self.tree.setCurrentItem(items[keep])
        elif items:
            self.tree.setCurrentItem(items[max(items)])
        else:
            self._on_selection_changed()
            self.metrics.clear("No model in this project yet: Model ▸ Fine-tune… trains one "
                               "(base “aan_s from its shipped start”), or `inspector train-demo` / `inspector predict`.")
        self.compare_button.setEnabled(len(rows) > 1)
        if self._pending_compare is not None:
            self._run_pending_compare()

    def showEvent(self, ev) -> None:
        super().showEvent(ev)
        if self._metrics_stale:
            self._on_selection_changed()

    def _on_selection_changed(self, *_args) -> None:
        mid = self.selected_id
        row = next((r for r in self.rows if r.record.id == mid), None)
        self.predict_button.setEnabled(row is not None)
        self.explain_button.setEnabled(row is not None)
        self.use_button.setEnabled(row is not None and row.predictions > 0)
        # Metrics scan all of the model's predictions (in SQLite, ~70 ms at 100k): only while someone looks.
        self._metrics_stale = not self.isVisible()
        if self._metrics_stale:
            return
        if row is None or row.predictions == 0:
            self.metrics.clear("No predictions from this model yet: press Predict." if row else "")
            return
        project, wanted = self._state.project, self.split.currentData()

        def compute(_c):
            split = available_split(project, wanted)
            return mid, split, version_metrics(project, mid, split)

        self._workers.start(compute, name="Model metrics", on_result=self._on_metrics)

    def _on_metrics(self, r: tuple[int, str, Metrics]) -> None:
        model_id, split, m = r
        if model_id != self.selected_id:
            return
        self.metrics_split = split  # what a confusion-matrix cell then filters the browser on
        row = next((x for x in self.rows if x.record.id == model_id), None)
        wanted = self.split.currentData()
        where = ("all labelled images" + (f" (no {wanted} split in this project)" if wanted != "all" else "")
                 if split == "all" else f"the {split} split")
        self.metrics.set_metrics(row.record.name if row else str(model_id), m, where)
        self.metrics.set_faithfulness(faithfulness_line(row.record) if row else "",
                                      faithfulness_rows(row.record) if row else [])

    def _on_compare_clicked(self) -> None:
        after, before, project = self.selected_id, self.compare_with.currentData(), self._state.project
        if after is None or before is None or project is None:
            return
        names = {r.record.id: r.record.name for r in self.rows}

        def show(result: tuple[str, VersionComparison]) -> None:
            split, r = result
            where = "labelled images" if split == "all" else f"{split}-split images"
            self.compare_view.set_comparison(names.get(before, str(before)), names.get(after, str(after)),
                                             r.comparison, r.paths, where)

        self.compare_view.summary.setText("Comparing…")
        self.tabs.setCurrentWidget(self.compare_view)
        wanted = self.split.currentData()
        def run(_c) -> tuple[str, VersionComparison]:
            split = available_split(project, wanted)
            return split, compare_versions(project, before, after, split)

        self._workers.start(run, name="Compare models", on_result=show)
