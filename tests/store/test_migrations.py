"""Alembic: a project made by the first schema revision is upgraded on open with its data kept; the
migrations and the ORM schema agree; foreign or newer files are refused with one clear line."""
from __future__ import annotations

import sqlite3

import numpy as np
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from core.store import StoreError, open_project
from core.store.engine import make_engine
from core.store.migrate import alembic_config, head_revision
from core.store.model_versions import get_model_version
from core.store.predictions import load_predictions
from core.store.queries import get_image
from core.store.schema import Base

FIRST = "0001_initial"


def _make_rev1_project(path):
    engine = make_engine(path)
    cfg = alembic_config()
    with engine.connect() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, FIRST)
        conn.commit()
    engine.dispose()
    probs = np.array([0.7, 0.2, 0.1], dtype="<f4").tobytes()
    conn = sqlite3.connect(path)
    with conn:
        conn.executescript(f"""
            INSERT INTO dataset (id, root, format, created) VALUES (1, '/data/line3', 'imagefolder', '2026-01-01 00:00:00');
            INSERT INTO class (id, name, "index") VALUES (1, 'good', 0), (2, 'scratch', 1), (3, 'dent', 2);
            INSERT INTO image (id, dataset_id, rel_path, content_hash, readable, missing, class_id, added, split)
                VALUES (1, 1, 'good/a.png', 'h1', 1, 0, 1, '2026-01-01 00:00:00', 'train'),
                       (2, 1, 'scratch/b.png', 'h2', 1, 0, 2, '2026-01-01 00:00:00', 'val');
            INSERT INTO label (image_id, class_id, version, source, updated_by, updated_at)
                VALUES (1, 1, 1, 'import', 'old', '2026-01-01 00:00:00'), (2, 2, 2, 'manual', 'ann', '2026-01-02 00:00:00');
            INSERT INTO label_group (id, user, source, created, size) VALUES (1, 'old', 'import', '2026-01-01 00:00:00', 2);
            INSERT INTO label_event (image_id, group_id, old_class_id, new_class_id, user, time, source)
                VALUES (1, 1, NULL, 1, 'old', '2026-01-01 00:00:00', 'import'),
                       (2, 1, NULL, 1, 'old', '2026-01-01 00:00:00', 'import');
            INSERT INTO model (id, name, path, arch, class_names, created, meta)
                VALUES (1, 'v1', '/models/v1.safetensors', 'aan_s', '["good", "scratch", "dent"]', '2026-01-03 00:00:00', '{{}}');
        """)
        conn.execute("INSERT INTO prediction VALUES (1, 1, 0, 1, 'good/a.png', 1, 0.7, 0.5, 0.8, ?)", (probs,))
    conn.close()


def _revision(path):
    conn = sqlite3.connect(path)
    try:
        return conn.execute("SELECT version_num FROM alembic_version").fetchone()[0]
    finally:
        conn.close()


def test_first_revision_project_is_upgraded_on_open_with_data_kept(tmp_path, monkeypatch):
    path = tmp_path / "old.db"
    _make_rev1_project(path)
    assert _revision(path) == FIRST
    assert "review_score" not in {r[0] for r in sqlite3.connect(path).execute("SELECT name FROM sqlite_master")}
    monkeypatch.chdir(tmp_path)  # no alembic.ini anywhere near: the config is built in code
    assert sqlite3.connect(path).execute("PRAGMA application_id").fetchone() == (0,)  # from before identity
    with open_project(path) as project:
        assert _revision(path) == head_revision() != FIRST
        from core.store.identity import APPLICATION_ID
        with project.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA application_id").scalar() == APPLICATION_ID  # stamped by 0003
        with project.session() as s:
            rec = get_image(s, "scratch/b.png")
            assert (rec.label, rec.label_version, rec.split) == ("scratch", 2, "val")
            assert get_model_version(s, 1).snapshot_id is None  # column added by the second revision
            ids, probs = load_predictions(s, 1)  # the model table was rebuilt: its predictions survived
            assert ids.tolist() == [1] and probs[0].tolist() == pytest.approx([0.7, 0.2, 0.1])
        with project.session() as s:  # the new tables work
            from core.store.snapshots import take_snapshot
            snap = take_snapshot(s)
        assert snap.count == 2 and snap.event_position == 2
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    conn.close()


def test_head_constant_is_the_newest_revision():
    from core.store.migrate import HEAD
    assert HEAD == head_revision()


def test_opening_a_current_project_does_not_import_alembic(tmp_path):
    import subprocess
    import sys
    open_project(tmp_path / "p.db").close()
    code = ("import sys; from core.store import open_project; open_project(sys.argv[1]).close(); "
            "print(any(m == 'alembic' or m.startswith('alembic.') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "p.db")], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "False"


def test_migrations_match_the_orm_schema(project):
    with project.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_every_revision_downgrades_and_upgrades_again(db_location):
    from core.store.location import parse_location

    engine = make_engine(parse_location(db_location))
    cfg = alembic_config()
    with engine.connect() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
        command.downgrade(cfg, "base")
        command.upgrade(cfg, "head")
        conn.commit()
        assert MigrationContext.configure(conn).get_current_revision() == head_revision()
    engine.dispose()


def test_pragmas_are_set_on_every_connection(project):
    if project.location.kind != "sqlite":
        pytest.skip("SQLite's pragmas; PostgreSQL's counterparts: tests/store/test_postgres.py")
    with project.engine.connect() as conn:
        pragma = lambda name: conn.exec_driver_sql(f"PRAGMA {name}").scalar()  # noqa: E731
        assert pragma("journal_mode") == "wal"
        assert pragma("foreign_keys") == 1
        assert pragma("busy_timeout") == 5000
        assert pragma("synchronous") == 1  # NORMAL: survives a process kill (see engine.py)


def test_full_synchronous_on_request(tmp_path):
    with open_project(tmp_path / "p.db", synchronous="full") as project, project.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2


def test_newer_schema_is_refused(tmp_path):
    path = tmp_path / "new.db"
    open_project(path).close()
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("UPDATE alembic_version SET version_num = '9999_from_the_future'")
    conn.close()
    with pytest.raises(StoreError, match="newer than this Inspector"):
        open_project(path)


def test_foreign_files_are_refused(tmp_path):
    junk = tmp_path / "notes.db"
    junk.write_text("this is not a database")
    with pytest.raises(StoreError, match="not an Inspector project"):
        open_project(junk)
    with pytest.raises(StoreError, match="no such project file"):
        open_project(tmp_path / "absent.db", create=False)
    with pytest.raises(StoreError, match="is a folder"):
        open_project(tmp_path)


def test_migration_files_ship_as_package_data():
    from pathlib import Path
    import core.store.migrations.versions as versions
    folder = Path(versions.__file__).parent
    assert {p.name for p in folder.glob("0*.py")} == {"0001_initial.py", "0002_review_snapshots_jobs.py",
                                                      "0003_identity_skips_merges.py"}
    assert (folder.parent / "script.py.mako").exists() and (folder.parent / "env.py").exists()


def test_revision_list_matches_the_migration_files():
    from alembic.script import ScriptDirectory

    from core.store.identity import APPLICATION_ID
    from core.store.migrate import REVISIONS, TABLES_ADDED

    script = ScriptDirectory.from_config(alembic_config())
    assert list(REVISIONS) == [s.revision for s in reversed(list(script.walk_revisions()))]
    assert set(TABLES_ADDED) == set(REVISIONS)
    assert sorted(t for ts in TABLES_ADDED.values() for t in ts) == sorted(Base.metadata.tables)
    import importlib
    head = importlib.import_module("core.store.migrations.versions." + REVISIONS[-1])
    assert head.APPLICATION_ID == APPLICATION_ID
