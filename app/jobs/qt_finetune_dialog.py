"""The "Fine-tune" dialog: base model, epochs, learning rate, batch, backend profile, GPUs,
partition, a time estimate for local CPU jobs from a short timing probe, and the exact command or
batch script that will be submitted, rendered live before anything runs."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from PySide6.QtCore import QTimer
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QSpinBox,
    QVBoxLayout,
)

from training.defaults import PEAK_LR, default_epochs
from training.profiles import Profile, cannot_run_here, fitting_profile, load_profiles, local_gpu_count
from usecases.finetune_jobs import choose_profile, render_preview

# The recipe's, from its torch-free module (training.config would load torch while the dialog opens).
DEFAULT_LR = PEAK_LR
DEFAULT_EPOCHS = {from_scratch: default_epochs(from_scratch) for from_scratch in (False, True)}

if TYPE_CHECKING:
    from core.store.project import Project
    from core.store.records import ModelVersionRecord


@dataclass(frozen=True, slots=True)
class FinetuneRequest:
    """What the dialog asks for; the jobs panel submits it."""
    base: str  # checkpoint path, or an architecture name (its shipped start, or random weights: from_scratch)
    profile: str
    epochs: int
    gpus: int | None = None
    nproc: int | None = None
    partition: str | None = None
    nodes: int | None = None  # None: the profile's
    lr: float | None = None  # None: the recipe's
    batch_size: int | None = None  # None: the profile's default (32 on CPU, 64 on GPUs)
    from_scratch: bool = False  # an architecture's random weights instead of its shipped start

    def chosen_profile(self) -> Profile:
        return choose_profile(self.profile, gpus=self.gpus, nproc=self.nproc, partition=self.partition,
                              nodes=self.nodes)


class QtFinetuneDialog(QDialog):
    def __init__(self, project: Project, versions: list[ModelVersionRecord], current_model_id: int | None,
                 parent=None, workers=None):
        super().__init__(parent)
        self._workers = workers  # for the timing probe; None: no estimate

        self.setWindowTitle("Fine-tune")
        self.resize(720, 560)
        self.project = project
        self.profiles = load_profiles()
        self.gpus_here = local_gpu_count()
        self.base = QComboBox()
        # Item data: (base, from_scratch). An architecture name starts from its shipped start.
        for m in reversed(versions):
            self.base.addItem(f"{m.name} (id {m.id}, {m.arch})", (m.path, False))
            if m.id == current_model_id:
                self.base.setCurrentIndex(self.base.count() - 1)
        self.base.addItem("aan_s from its shipped start (pretrained on generated images)", ("aan_s", False))
        self.base.addItem("aan_s from scratch (random weights)", ("aan_s", True))
        self.epochs = QSpinBox()
        self.epochs.setRange(1, 1000)
        self.epochs.setValue(DEFAULT_EPOCHS[self.base.currentData()[1]])
        self.profile = QComboBox()
        for name, p in sorted(self.profiles.items()):
            self.profile.addItem(f"{name}  ({p.backend}, {p.gpus} GPU)", name)
        # A profile this machine can run: no GPU here means the CPU one, never an 8-GPU default.
        self.profile.setCurrentIndex(self.profile.findData(fitting_profile(self.profiles, self.gpus_here)))
        self.lr = QDoubleSpinBox()
        self.lr.setDecimals(5)
        self.lr.setRange(1e-5, 1e-1)
        self.lr.setSingleStep(1e-4)
        self.lr.setValue(DEFAULT_LR)
        self.lr.setToolTip("Peak learning rate at a batch of 32 (AdamW; scaled by the square root of the real "
                           "global batch). The recipe's 0.001 suits fine-tuning from the shipped start.")
        self.batch = QSpinBox()
        self.batch.setRange(1, 1024)
        self.batch.setToolTip("Images per step and process")
        self.estimate = QLabel("")
        self.estimate.setWordWrap(True)
        self.estimate.setStyleSheet("color: #aaaaaa;")
        self.gpus = QSpinBox()
        self.gpus.setRange(0, 64)
        self.gpus.setToolTip("GPUs per node; 0 trains on CPU (gloo)")
        self.nodes = QSpinBox()
        self.nodes.setRange(1, 256)
        self.nodes.setToolTip("SLURM nodes, each running one torchrun with the GPUs above (c10d rendezvous)")
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
        self.epochs.setToolTip(f"Default: {DEFAULT_EPOCHS[False]} from a start or a model version, "
                               f"{DEFAULT_EPOCHS[True]} from scratch (random weights learn slower)")
        form.addRow("Epochs", self.epochs)
        form.addRow("Learning rate", self.lr)
        form.addRow("Batch", self.batch)
        form.addRow("Backend profile", self.profile)
        form.addRow("GPUs", self.gpus)
        form.addRow("Nodes (SLURM)", self.nodes)
        form.addRow("Partition (SLURM)", self.partition)
        lay = QVBoxLayout(self)
        lay.addLayout(form)
        lay.addWidget(self.estimate)
        lay.addWidget(QLabel("Will run (the job folder number is assigned on submission):"))
        lay.addWidget(self.preview, 1)
        lay.addWidget(self.problem)
        lay.addWidget(self.buttons)

        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self.profile.currentIndexChanged.connect(self._on_profile_changed)
        self.base.currentIndexChanged.connect(self._on_base_changed)
        self._epochs_default = self.epochs.value()
        for sig in (self.base.currentIndexChanged, self.epochs.valueChanged, self.gpus.valueChanged, self.nodes.valueChanged,
                    self.partition.textChanged, self.lr.valueChanged, self.batch.valueChanged):
            sig.connect(self._on_edited)
        self._probe_timer = QTimer(self)
        self._probe_timer.setSingleShot(True)
        self._probe_timer.setInterval(400)  # after the user stops typing
        self._probe_timer.timeout.connect(self._probe)
        self._probed: dict[tuple, object] = {}  # (base, batch) -> TimeEstimate
        self._on_profile_changed()

    def request(self) -> FinetuneRequest:
        p = self.profiles[self.profile.currentData()]
        base, from_scratch = self.base.currentData()
        return FinetuneRequest(base=base, from_scratch=from_scratch, profile=p.name, epochs=self.epochs.value(),
                               gpus=self.gpus.value() if self.gpus.value() != p.gpus else None,
                               partition=self.partition.text().strip() or None,
                               nodes=self.nodes.value() if self.nodes.value() != p.nodes else None,
                               lr=self.lr.value() if abs(self.lr.value() - DEFAULT_LR) > 1e-12 else None,
                               batch_size=self.batch.value())

    def _on_base_changed(self, *_args) -> None:
        """Random weights need more epochs than a start: follow the base's default, unless the user
        has typed a number of their own."""
        default = DEFAULT_EPOCHS[self.base.currentData()[1]]
        if self.epochs.value() == self._epochs_default:
            self.epochs.setValue(default)
        self._epochs_default = default

    def _on_profile_changed(self, *_args) -> None:
        p = self.profiles[self.profile.currentData()]
        self.gpus.blockSignals(True)
        self.gpus.setValue(p.gpus)
        self.gpus.blockSignals(False)
        self.batch.blockSignals(True)
        self.batch.setValue(64 if p.gpus else 32)  # as submit_finetune defaults it
        self.batch.blockSignals(False)
        self.nodes.blockSignals(True)
        self.nodes.setValue(p.nodes)
        self.nodes.blockSignals(False)
        self.partition.setEnabled(p.backend == "slurm")
        self.nodes.setEnabled(p.backend == "slurm")
        self._on_edited()

    def _show_estimate(self, chosen: Profile) -> None:
        """Local CPU jobs: how long, from a timing probe on this machine (in a worker)."""
        if chosen.backend != "local" or chosen.gpus:
            self.estimate.setText("No estimate: it runs on GPUs" + (" of the cluster" if chosen.backend == "slurm" else "")
                                  + ", not measured on this CPU.")
            return
        key = (self.base.currentData(), self.batch.value())
        known = self._probed.get(key)
        if known is not None:
            self.estimate.setText(_sentence(known.line(self.epochs.value())))
        elif self._workers is not None:
            self.estimate.setText("Timing a few training steps on this CPU…")
            self._probe_timer.start()

    def _probe(self) -> None:
        from usecases.finetune_jobs import estimate_cpu_time

        key = (self.base.currentData(), self.batch.value())
        project, epochs = self.project, self.epochs.value()

        def shown(estimate) -> None:
            self._probed[key] = estimate
            if (self.base.currentData(), self.batch.value()) == key:
                self.estimate.setText(_sentence(estimate.line(self.epochs.value())))

        # Same architecture and cost from its start or from scratch: the base alone is timed.
        self._workers.start(lambda _c: estimate_cpu_time(project, base=key[0][0], epochs=epochs, batch_size=key[1]),
                            name="Time estimate", on_result=shown)

    def _on_edited(self, *_args) -> None:
        try:
            chosen = self.request().chosen_profile()
            self.preview.setPlainText(render_preview(self.project, chosen))
            why = cannot_run_here(chosen, self.gpus_here)
            self.problem.setText(why or "")
            ok = why is None
            self._show_estimate(chosen)
        except Exception as e:  # noqa: BLE001 - an invalid combination is shown, not raised
            self.preview.setPlainText("")
            self.problem.setText(str(e))
            ok = False
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(ok)


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:] + "."
