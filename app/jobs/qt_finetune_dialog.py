"""The "Fine-tune" dialog: base model, epochs, backend profile, GPUs, partition, and the exact
command or batch script that will be submitted, rendered live before anything runs."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QSpinBox,
    QVBoxLayout,
)

from training.profiles import Profile, cannot_run_here, fitting_profile, load_profiles, local_gpu_count
from usecases.finetune_jobs import choose_profile, render_preview

if TYPE_CHECKING:
    from core.store.project import Project
    from core.store.records import ModelVersionRecord


@dataclass(frozen=True, slots=True)
class FinetuneRequest:
    """What the dialog asks for; the jobs panel submits it."""
    base: str  # checkpoint path, or an architecture name to train from scratch
    profile: str
    epochs: int
    gpus: int | None = None
    nproc: int | None = None
    partition: str | None = None

    def chosen_profile(self) -> Profile:
        return choose_profile(self.profile, gpus=self.gpus, nproc=self.nproc, partition=self.partition)


class QtFinetuneDialog(QDialog):
    def __init__(self, project: Project, versions: list[ModelVersionRecord], current_model_id: int | None,
                 parent=None):
        super().__init__(parent)

        self.setWindowTitle("Fine-tune")
        self.resize(720, 560)
        self.project = project
        self.profiles = load_profiles()
        self.gpus_here = local_gpu_count()
        self.base = QComboBox()
        for m in reversed(versions):
            self.base.addItem(f"{m.name} (id {m.id}, {m.arch})", m.path)
            if m.id == current_model_id:
                self.base.setCurrentIndex(self.base.count() - 1)
        self.base.addItem("aan_s from scratch", "aan_s")
        self.epochs = QSpinBox()
        self.epochs.setRange(1, 1000)
        self.epochs.setValue(10)
        self.profile = QComboBox()
        for name, p in sorted(self.profiles.items()):
            self.profile.addItem(f"{name}  ({p.backend}, {p.gpus} GPU)", name)
        # A profile this machine can run: no GPU here means the CPU one, never an 8-GPU default.
        self.profile.setCurrentIndex(self.profile.findData(fitting_profile(self.profiles, self.gpus_here)))
        self.gpus = QSpinBox()
        self.gpus.setRange(0, 64)
        self.gpus.setToolTip("GPUs per node; 0 trains on CPU (gloo)")
        self.partition = QLineEdit()
        self.partition.setPlaceholderText("profile default")
        self.preview = QPlainTextEdit()
        self.preview.setReadOnly(True)
        self.preview.setFont(QFont("monospace"))
        self.problem = QLabel("")
        self.problem.setStyleSheet("color: #d9534f;")
        self.problem.setWordWrap(True)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Submit")

        form = QFormLayout()
        form.addRow("Base model", self.base)
        form.addRow("Epochs", self.epochs)
        form.addRow("Backend profile", self.profile)
        form.addRow("GPUs", self.gpus)
        form.addRow("Partition (SLURM)", self.partition)
        lay = QVBoxLayout(self)
        lay.addLayout(form)
        lay.addWidget(QLabel("Will run (the job folder number is assigned on submission):"))
        lay.addWidget(self.preview, 1)
        lay.addWidget(self.problem)
        lay.addWidget(self.buttons)

        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self.profile.currentIndexChanged.connect(self._on_profile_changed)
        for sig in (self.base.currentIndexChanged, self.epochs.valueChanged, self.gpus.valueChanged,
                    self.partition.textChanged):
            sig.connect(self._on_edited)
        self._on_profile_changed()

    def request(self) -> FinetuneRequest:
        p = self.profiles[self.profile.currentData()]
        return FinetuneRequest(base=self.base.currentData(), profile=p.name, epochs=self.epochs.value(),
                               gpus=self.gpus.value() if self.gpus.value() != p.gpus else None,
                               partition=self.partition.text().strip() or None)

    def _on_profile_changed(self, *_args) -> None:
        p = self.profiles[self.profile.currentData()]
        self.gpus.blockSignals(True)
        self.gpus.setValue(p.gpus)
        self.gpus.blockSignals(False)
        self.partition.setEnabled(p.backend == "slurm")
        self._on_edited()

    def _on_edited(self, *_args) -> None:
        try:
            chosen = self.request().chosen_profile()
            self.preview.setPlainText(render_preview(self.project, chosen))
            why = cannot_run_here(chosen, self.gpus_here)
            self.problem.setText(why or "")
            ok = why is None
        except Exception as e:  # noqa: BLE001 - an invalid combination is shown, not raised
            self.preview.setPlainText("")
            self.problem.setText(str(e))
            ok = False
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(ok)
