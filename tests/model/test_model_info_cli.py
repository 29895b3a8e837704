import json
import subprocess
import sys

import pytest
import torch

from app.cli import main
from core.model import create_model
from core.model.checkpoint import CheckpointMeta, save_checkpoint


def test_model_info_json(tmp_path, capsys):
    m = create_model("aan_s", 1000)
    save_checkpoint(tmp_path / "s.safetensors", m, CheckpointMeta(arch="aan_s", class_names=[f"c{i}" for i in range(1000)]))
    assert main(["model-info", str(tmp_path / "s.safetensors"), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["arch"] == "aan_s" and len(info["classes"]) == 1000
    assert abs(info["params"] - 4.2e6) / 4.2e6 < 0.02
    assert info["gmacs"] <= 0.31 * 1.03  # attention products included (complexity.py)
    assert info["alphas"] == [[1.0] * 3] * 2 + [[1.0] * 8] * 5


def test_model_info_table_and_bad_file_message(tmp_path):
    torch.manual_seed(0)
    m = create_model("aan_t", 2, in_chans=1)
    save_checkpoint(tmp_path / "t.safetensors", m, CheckpointMeta(arch="aan_t", class_names=["ok", "ng"], in_chans=1,
                                                                  input_size=64, mean=(0.5,), std=(0.5,)))
    run = subprocess.run([sys.executable, "-m", "app", "model-info", str(tmp_path / "t.safetensors")],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert "aan_t" in run.stdout and "ok, ng" in run.stdout and "layer  0" in run.stdout
    (tmp_path / "junk.safetensors").write_text("junk")
    run = subprocess.run([sys.executable, "-m", "app", "model-info", str(tmp_path / "junk.safetensors")],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 2
    assert run.stderr.count("\n") == 1 and "not a" in run.stderr and "Traceback" not in run.stderr


def test_model_info_table_shortens_a_thousand_classes(tmp_path, capsys):
    m = create_model("aan_t", 1000)
    names = [f"formula-{i:04d}" for i in range(1000)]
    save_checkpoint(tmp_path / "p.safetensors", m, CheckpointMeta(arch="aan_t", class_names=names))
    assert main(["model-info", str(tmp_path / "p.safetensors")]) == 0
    line = next(ln for ln in capsys.readouterr().out.splitlines() if ln.strip().startswith("classes"))
    assert line.split()[1] == "1000:" and "formula-0011" in line and "formula-0012" not in line
    assert "988 more" in line


def test_model_info_prints_a_nested_provenance_one_entry_per_line(tmp_path, capsys):
    """A start built on a start: its chained command one command per line, its curriculum one stage
    per line with the stage's held-out figure, and the earlier start's whole record left to --json."""
    m = create_model("aan_t", 2)
    inner = {"command": "make A", "curriculum": [{"epochs": 20, "held_out": {"accuracy": 0.905}}]}
    provenance = {"command": "make A && make B", "role": "starting point",
                  "curriculum": [{"epochs": 20, "held_out": {"accuracy": 0.905}},
                                 {"epochs": 3, "held_out": {"accuracy": 0.847}}],
                  "start": {"file": "from.safetensors", "provenance": {**inner, "notes": "x" * 80}}}
    save_checkpoint(tmp_path / "s.safetensors", m, CheckpointMeta(arch="aan_t", class_names=["a", "b"],
                                                                  provenance=provenance))
    assert main(["model-info", str(tmp_path / "s.safetensors")]) == 0
    out = capsys.readouterr().out.splitlines()
    block = out[out.index("  provenance") + 1:out.index("  alpha per head")]
    assert [line.split()[0] for line in block] == ["command", "&&", "curriculum", "2.", "role", "start"]
    assert block[0].endswith("make A") and block[1].strip() == "&& make B"
    assert block[2].endswith("1. epochs 20, held_out {accuracy 0.905}")
    assert block[3].strip() == "2. epochs 3, held_out {accuracy 0.847}"
    assert block[5].split(None, 1)[1] == "file from.safetensors, provenance {...}"
    assert main(["model-info", str(tmp_path / "s.safetensors"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["provenance"] == provenance
