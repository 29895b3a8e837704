"""Real processes on one project file: a two-writer label conflict, and a SIGKILL during committed
bulk relabels. Children are `python -c` programs (argument lists, nothing pickled)."""
from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from core.store.labels import history
from core.store.queries import get_image

REPO = Path(__file__).resolve().parents[2]

WRITER = r"""
import sys, time
from pathlib import Path
from core.store import LabelConflict, open_project
from core.store.labels import set_label
from core.store.queries import get_image
db, image, label, user, sync = sys.argv[1:6]
sync = Path(sync)
project = open_project(db, create=False)
with project.session() as s:
    version = get_image(s, image).label_version
# Written then renamed: the parent polls for the name and must never read a half-written file.
(sync / f"ready-{user}.part").write_text(str(version))
(sync / f"ready-{user}.part").rename(sync / f"ready-{user}")
deadline = time.monotonic() + 30
while not (sync / "go").exists():
    if time.monotonic() > deadline:
        sys.exit("no go signal")
    time.sleep(0.005)
try:
    with project.session() as s:
        set_label(s, get_image(s, image).id, label, user=user, expected_version=version)
    print("won")
except LabelConflict as e:
    print("conflict:", e)
"""

RELABELER = r"""
import os, sys
from core.store import open_project
from core.store.labels import bulk_set_labels
from core.store.queries import ImageFilter, query_images
db, log_path = sys.argv[1:3]
project = open_project(db, create=False)
with project.session() as s:
    ids = [r.id for r in query_images(s, ImageFilter(), limit=1000)]
classes = ["scratch", "dent", "good"]  # never the imported label first: every action changes all
with open(log_path, "a") as log:
    for n in range(100000):
        label = classes[n % 3]
        with project.session() as s:
            result = bulk_set_labels(s, ids, label, user="crash")
        # Committed: only now tell the parent.
        log.write(f"{result.group_id} {label}\n")
        log.flush()
"""


def _env():
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
    return env


def test_two_processes_cannot_both_win(loaded, tmp_path):
    sync = tmp_path / "sync"
    sync.mkdir()
    db = loaded.location.display
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, db, "good/002.png", label, user, str(sync)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(), cwd=REPO)
             for label, user in (("scratch", "ann"), ("dent", "bob"))]
    try:
        deadline = time.monotonic() + 60
        while not all((sync / f"ready-{u}").exists() for u in ("ann", "bob")):
            assert time.monotonic() < deadline, "writers did not start"
            assert all(p.poll() is None for p in procs), [p.communicate() for p in procs]
            time.sleep(0.01)
        assert {(sync / f"ready-{u}").read_text() for u in ("ann", "bob")} == {"1"}  # both read version 1
        (sync / "go").write_text("")
        outs = [p.communicate(timeout=60) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    assert all(p.returncode == 0 for p in procs), outs
    results = [out.strip() for out, _ in outs]
    assert sorted(r.split(":")[0] for r in results) == ["conflict", "won"], results
    winner = ("scratch", "ann") if results[0] == "won" else ("dent", "bob")
    loser_msg = next(r for r in results if r.startswith("conflict"))
    assert "good/002.png" in loser_msg and winner[1] in loser_msg and winner[0] in loser_msg
    with loaded.session() as s:
        rec = get_image(s, "good/002.png")
        events = history(s, rec.id)
    assert (rec.label, rec.label_version) == (winner[0], 2)
    assert [(e.source, e.new, e.user) for e in events][1:] == [("manual", winner[0], winner[1])]


def test_sigkill_during_bulk_relabels_keeps_committed_work(project, tmp_path, make_scan, scanned):
    images = [scanned(f"good/{i:04d}.png", "good") for i in range(300)]
    from core.store.ingest import import_scan
    with project.session() as s:
        import_scan(s, make_scan(tmp_path / "data", images, ["good", "scratch", "dent"]), user="importer")
    project.close()
    log = tmp_path / "committed.log"
    log.write_text("")
    child = subprocess.Popen([sys.executable, "-c", RELABELER, project.location.display, str(log)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env(), cwd=REPO)
    try:
        deadline = time.monotonic() + 60
        while len(log.read_text().splitlines()) < 15:
            assert child.poll() is None, child.communicate()
            assert time.monotonic() < deadline, "relabeler too slow"
            time.sleep(0.01)
        time.sleep(0.037)  # land the kill at an arbitrary point of a transaction
    finally:
        child.send_signal(signal.SIGKILL)
        child.communicate()
    assert child.returncode == -signal.SIGKILL
    committed = [line.split() for line in log.read_text().splitlines() if line.endswith(("good", "scratch", "dent"))]
    assert len(committed) >= 15

    conn = _plain_connection(project)  # plain DB-API: nothing of ours in between
    try:
        if project.location.kind == "sqlite":
            assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        groups = {gid: size for gid, size in conn.execute("SELECT id, size FROM label_group WHERE \"user\"='crash'")}
        for gid, _ in committed:
            assert groups.get(int(gid)) == 300, f"committed group {gid} lost"
        last_gid = max(groups)
        # The kill may land after a commit and before its log line: at most one group more than logged.
        assert last_gid - int(committed[-1][0]) in (0, 1)
        labels = conn.execute("SELECT DISTINCT c.name FROM label l JOIN class c ON c.id = l.class_id").fetchall()
        last_label = conn.execute("SELECT DISTINCT c.name FROM label_event e JOIN class c ON c.id = e.new_class_id "
                                  f"WHERE e.group_id = {int(last_gid)}").fetchall()
        assert labels == last_label and len(labels) == 1  # every image carries the last committed label
        differs = "IS NOT" if project.location.kind == "sqlite" else "IS DISTINCT FROM"
        mirror = conn.execute("SELECT COUNT(*) FROM image i JOIN label l ON l.image_id = i.id "
                              f"WHERE i.class_id {differs} l.class_id").fetchone()[0]
        assert mirror == 0
    finally:
        conn.close()


def _plain_connection(project):
    """The driver's own connection to the project (sqlite3 or psycopg), no SQLAlchemy in between."""
    if project.location.kind == "sqlite":
        return sqlite3.connect(project.path)
    import psycopg

    url = project.location.url
    return psycopg.connect(host=url.host, port=url.port, user=url.username, dbname=url.database, autocommit=True)
