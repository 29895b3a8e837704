"""scripts/gpu_check.py without a GPU: the step runner (time limits, a failing step never stops the
next, the report after every step) and the whole dry run, on a Python that cannot import Qt (the
GPU machine's image has none)."""
from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

NO_QT = '''
import sys
class _NoQt:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("PySide6", "shiboken6", "pyqtgraph", "superqt"):
            raise ImportError(f"{name}: not on the GPU machine's image")
        return None
sys.meta_path.insert(0, _NoQt())
'''


def load_gpu_check():
    spec = importlib.util.spec_from_file_location("gpu_check_script", REPO / "scripts" / "gpu_check.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_steps_are_time_boxed_and_a_failure_stops_nothing(tmp_path, monkeypatch):
    gc = load_gpu_check()
    seen = {}

    def crash(c, r, timeout):
        raise RuntimeError("a bug in the step")

    def hang(c, r, timeout):
        p = c.run([sys.executable, "-c", "import time; time.sleep(60)"], "hang.log", timeout)
        r.status = "timed out" if p.timed_out else "passed"
        seen["hang_timeout"] = timeout

    def ok(c, r, timeout):
        seen["ok_timeout"] = timeout
        time.sleep(2.5)
        r.status, r.summary = "passed", "fine"

    monkeypatch.setattr(gc, "REPORT_RESERVE_S", 0.0)
    monkeypatch.setattr(gc, "MIN_STEP_S", 1.0)
    monkeypatch.setattr(gc, "STEPS", [
        gc.StepSpec("crash", "raises", 30, 0, 30, crash),
        gc.StepSpec("hang", "runs past its limit", 30, 0, 3, hang),
        gc.StepSpec("ok", "passes", 30, 1, 30, ok),
        gc.StepSpec("late", "gets too little time", 30, 0, 30, ok),
    ])
    t0 = time.monotonic()
    rc = gc.main(["--device", "cpu", "--out", str(tmp_path / "out"), "--bundle", str(tmp_path / "bundle"),
                  "--budget", "6"])
    assert rc == 1 and time.monotonic() - t0 < 15
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    states = {s["name"]: s for s in summary["steps"]}
    assert states["crash"]["status"] == "failed" and "a bug in the step" in states["crash"]["problems"][0]
    assert states["hang"]["status"] == "timed out" and seen["hang_timeout"] == 3  # its cap, not the budget
    assert states["ok"]["status"] == "passed" and seen["ok_timeout"] < 3.5  # what the budget had left
    assert states["late"]["status"] == "skipped" and "no time left" in states["late"]["summary"]
    report = next((tmp_path / "bundle").glob("gpu-*-dry-run.md")).read_text()
    assert "| crash: raises | FAILED |" in report and "a bug in the step" in report
    assert sorted(p.name for p in (tmp_path / "bundle").iterdir()) == [
        next((tmp_path / "bundle").glob("*.md")).name, "gpu-check-logs.tar.gz", "summary.json"]


@pytest.mark.slow
def test_dry_run_passes_every_step_without_qt(tmp_path):
    """The whole check on the CPU (toy sizes, gloo instead of NCCL, no CUDA graphs, compile through
    Dynamo only): every step's plumbing, the benchmarks' JSON, the report and the bundle."""
    (tmp_path / "noqt").mkdir()
    (tmp_path / "noqt" / "sitecustomize.py").write_text(NO_QT)
    # The check's own pytest (its cuda-tests step) keeps its temporary files in this test's folder: in the
    # default place it would remove the oldest of the earlier runs' folders on exit, past the step's time
    # limit when that folder holds 50,000 files on a disk that discards each freed block (seen: 300 s).
    addopts = f"{os.environ.get('PYTEST_ADDOPTS', '')} --basetemp={tmp_path / 'cuda-tests-tmp'}".strip()
    env = dict(os.environ, PYTHONPATH=str(tmp_path / "noqt"), PYTEST_ADDOPTS=addopts)
    env.pop("INSPECTOR_CUDA_TESTS_ON_CPU", None)
    out, bundle = tmp_path / "out", tmp_path / "bundle"
    proc = subprocess.run(["bash", str(REPO / "scripts" / "gpu_check.sh"), "--device", "cpu", "--out", str(out),
                           "--bundle", str(bundle)], capture_output=True, text=True, env=env, timeout=960)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    summary = json.loads((bundle / "summary.json").read_text())
    assert [(s["name"], s["status"]) for s in summary["steps"]] == [
        (name, "passed") for name in ("env", "cuda-tests", "speed", "train", "finetune", "compile")]
    steps = {s["name"]: s for s in summary["steps"]}
    assert steps["cuda-tests"]["details"]["counts"]["passed"] >= 7
    ft = steps["finetune"]["details"]
    assert ft["job_a"]["model"] and ft["job_a"]["steps"] > 0
    assert ft["job_b"]["cancel_exit"] == 75 and ft["job_b"]["final_state"] == "succeeded"
    assert [s["resumed"] for s in ft["job_b"]["starts"]] == [False, True]
    speed = json.loads((out / "speed.json").read_text())
    assert {r["model"] for r in speed["rows"]} == {"aan_s", "mobilenet_v3_large", "efficientnet_b0"}
    assert [t["verdict"] for t in speed["targets"]][:2] != ["NOT MEASURED"] * 2
    train = json.loads((out / "train.json").read_text())
    assert train["imagenet_epoch"]["seconds"] > 0 and train["target"]["measured"] is not None
    report = (bundle / "gpu-" f"{summary['started'][:10]}-dry-run.md").read_text()
    for heading in ("## Steps", "## Targets (issue 14)", "## ImageNet-1K epoch on 8 GPUs", "## Fine-tuning through",
                    "## CUDA tests", "## Model speed", "## Training throughput", "## nvidia-smi"):
        assert heading in report
    with tarfile.open(bundle / "gpu-check-logs.tar.gz") as tar:
        names = tar.getnames()
    assert not [n for n in names if n.endswith((".safetensors", ".pt", ".png", ".db"))]
    assert any(n.endswith("speed.log") for n in names) and any(n.endswith("-train.log") for n in names)
    assert not (REPO / "bench" / "results" / f"gpu-{summary['started'][:10]}-dry-run.md").exists()
