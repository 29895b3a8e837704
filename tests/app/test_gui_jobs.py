"""Fine-tune from the GUI: the dialog shows the command before submission; the job runs on the local
CPU backend, the panel follows it, and on success predicts with the new model and compares."""
from __future__ import annotations

import pytest


def test_finetune_dialog_renders_command(qtbot, window):
    dialog = window.window_actions.open_finetune_dialog()
    qtbot.addWidget(dialog)
    dialog.profile.setCurrentIndex(dialog.profile.findData("local-cpu"))
    assert "torch.distributed.run" in dialog.preview.toPlainText()
    slurm = dialog.profile.findData("slurm-gpu")
    dialog.profile.setCurrentIndex(slurm)
    text = dialog.preview.toPlainText()
    assert "#SBATCH --gpus-per-node=8" in text and "training.finetune" in text
    dialog.partition.setText("a100")
    assert "--partition=a100" in dialog.preview.toPlainText()
    assert "#SBATCH --nodes=1" in dialog.preview.toPlainText()
    dialog.nodes.setValue(4)  # one torchrun per node, meeting at the first node
    text = dialog.preview.toPlainText()
    assert "#SBATCH --nodes=4" in text and "--rdzv_backend c10d" in text and dialog.request().nodes == 4
    dialog.profile.setCurrentIndex(dialog.profile.findData("local-cpu"))
    assert not dialog.nodes.isEnabled() and dialog.nodes.value() == 1 and dialog.request().nodes is None
    dialog.reject()


def test_finetune_dialog_offers_the_shipped_start_and_random_weights_apart(qtbot, window):
    """"aan_s" alone trains from the shipped start; random weights are their own, explicit choice."""
    dialog = window.window_actions.open_finetune_dialog()
    qtbot.addWidget(dialog)
    labels = [dialog.base.itemText(i) for i in range(dialog.base.count())]
    start = next(i for i, t in enumerate(labels) if "shipped start" in t)
    scratch = next(i for i, t in enumerate(labels) if "from scratch" in t)
    dialog.base.setCurrentIndex(start)
    assert (dialog.request().base, dialog.request().from_scratch, dialog.request().epochs) == ("aan_s", False, 30)
    dialog.base.setCurrentIndex(scratch)  # random weights learn slower: more epochs by default
    assert (dialog.request().base, dialog.request().from_scratch, dialog.request().epochs) == ("aan_s", True, 120)
    dialog.base.setCurrentIndex(0)  # the project's model versions come first, as checkpoints
    assert dialog.request().base == window.state.model_version.path and not dialog.request().from_scratch
    assert dialog.request().epochs == 30
    dialog.epochs.setValue(45)  # a number the user typed stays whatever the base
    dialog.base.setCurrentIndex(scratch)
    assert dialog.request().epochs == 45
    from training.defaults import default_epochs

    from app.jobs.qt_finetune_dialog import DEFAULT_EPOCHS

    assert DEFAULT_EPOCHS == {s: default_epochs(s) for s in (False, True)}
    dialog.reject()


def test_finetune_dialog_picks_a_profile_this_machine_can_run(qtbot, window):
    from PySide6.QtWidgets import QDialogButtonBox

    from training.profiles import local_gpu_count

    if local_gpu_count():
        pytest.skip("this machine has a GPU: the CPU default is for machines without one")
    dialog = window.window_actions.open_finetune_dialog()
    qtbot.addWidget(dialog)
    submit = dialog.buttons.button(QDialogButtonBox.StandardButton.Ok)
    assert dialog.profile.currentData() == "local-cpu" and submit.isEnabled() and not dialog.problem.text()
    dialog.profile.setCurrentIndex(dialog.profile.findData("local-8gpu"))
    assert not submit.isEnabled()
    assert dialog.problem.text().startswith("local-8gpu asks for 8 GPUs, this machine has none")
    dialog.gpus.setValue(0)  # the same profile on the CPU can run
    assert submit.isEnabled() and not dialog.problem.text()
    dialog.profile.setCurrentIndex(dialog.profile.findData("slurm-gpu"))  # GPUs on the cluster, not here
    assert submit.isEnabled() and "not measured on this CPU" in dialog.estimate.text()
    dialog.profile.setCurrentIndex(dialog.profile.findData("local-cpu"))
    try:
        qtbot.waitUntil(lambda: "images/s on this CPU" in dialog.estimate.text(), timeout=60000)
    except Exception:
        raise AssertionError(f"{dialog.estimate.text()!r}; errors {window.task_status.errors}") from None
    assert dialog.estimate.text().startswith("About ") and "for 30 epochs of" in dialog.estimate.text()
    dialog.lr.setValue(0.0005)
    dialog.batch.setValue(16)
    req = dialog.request()
    assert req.lr == 0.0005 and req.batch_size == 16 and req.profile == "local-cpu"
    from training.config import OptimConfig

    from app.jobs.qt_finetune_dialog import DEFAULT_LR

    assert DEFAULT_LR == OptimConfig().lr
    dialog.reject()


@pytest.mark.slow
def test_local_job_to_comparison(qtbot, window, idle, monkeypatch, tmp_path):
    from app.jobs.qt_finetune_dialog import FinetuneRequest

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))  # built-in profiles only
    win = window
    panel = win.jobs_panel
    base_id = win.state.model_version_id
    panel.submit(FinetuneRequest(base=win.state.model_version.path, profile="local-cpu", epochs=1, nproc=1))
    qtbot.waitUntil(lambda: any(v.job.state in ("running", "succeeded", "failed") for v in panel.views), timeout=30000)
    try:
        qtbot.waitUntil(lambda: panel.views and panel.views[-1].job.finished, timeout=420000)
    except Exception:
        pytest.fail("job did not finish: " + "; ".join(f"{v.job.state} {v.progress_line} {v.job.error}" for v in panel.views)
                    + "\n" + (panel.views[-1].job.log_tail or "" if panel.views else ""))
    job = panel.views[-1].job
    assert job.state == "succeeded", f"job {job.state}: {job.error}\n{job.log_tail}"
    assert panel.offer_button.isVisible()
    assert panel.loss_curve.getData()[0] is not None and len(panel.loss_curve.getData()[0]) > 0
    panel.offer_button.click()
    qtbot.waitUntil(lambda: "predictions changed" in win.versions_panel.compare_view.summary.text(), timeout=120000)
    assert win.versions_panel.selected_id == job.result_model_id
    idle(win)
