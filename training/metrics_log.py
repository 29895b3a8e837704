"""metrics.jsonl: one JSON object per line, appended and flushed at once (rank 0 only).

Appending (not rewriting) means a resumed run continues the same file and a reader polling it
from another process always sees whole lines; `read_metrics` skips a torn last line.
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

METRICS_FILE = "metrics.jsonl"


class MetricsWriter:
    def __init__(self, path: Path, *, echo: bool = True):
        path.parent.mkdir(parents=True, exist_ok=True)
        self._f = open(path, "a", encoding="utf-8")
        self._echo = echo

    def write(self, kind: str, **fields: Any) -> None:
        record = {"kind": kind, "time": round(time.time(), 3), **fields}
        self._f.write(json.dumps(record) + "\n")
        self._f.flush()
        if self._echo:  # the same, readable, in the job's log (what `inspector job logs` shows)
            print(f"[{kind}] " + " ".join(f"{k}={_short(v)}" for k, v in fields.items() if k != "alphas"), flush=True)

    def close(self) -> None:
        self._f.close()


def _short(v: Any) -> str:
    return f"{v:.5g}" if isinstance(v, float) else json.dumps(v) if isinstance(v, (dict, list)) else str(v)


def read_metrics(path: Path) -> list[dict[str, Any]]:
    records = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return records
    for line in lines:
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records
