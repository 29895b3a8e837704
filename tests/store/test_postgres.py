"""The PostgreSQL backend against a real server (tests/support/postgres.py): its connection
settings, migrations from every earlier revision (on both backends), foreign and missing databases,
passwords kept out of everything shown, a lost connection mid-write, and concurrent writers."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import make_url

from core.errors import RetryableStoreError, StoreError
from core.store import open_project
from core.store.engine import make_engine
from core.store.labels import history
from core.store.location import parse_location
from core.store.migrate import REVISIONS, alembic_config, head_revision
from core.store.queries import get_image
from usecases.labelling import label_one

REPO = Path(__file__).resolve().parents[2]


def _admin(url: str):
    return create_engine(make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT")


def test_connections_carry_the_counterparts_of_the_sqlite_pragmas(pg_database):
    with open_project(pg_database) as project:
        with project.session() as s:
            show = lambda name: s.execute(text(f"SHOW {name}")).scalar()  # noqa: E731
            assert show("lock_timeout") == "5s"  # = SQLite's busy_timeout
            assert show("transaction_isolation") == "read committed"
            assert show("application_name") == "inspector"
            assert show("synchronous_commit") == "on"  # durable when the commit returns
        with project.session(snapshot=True) as s:
            assert s.execute(text("SHOW transaction_isolation")).scalar() == "repeatable read"
            assert s.execute(text("SHOW transaction_read_only")).scalar() == "on"
        with project.session(write=True) as s:
            s.execute(text("SELECT 1"))
            held = s.execute(text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                                  "AND pid = pg_backend_pid() AND granted")).scalar()
            assert held == 1  # the write lock SQLite's BEGIN IMMEDIATE takes
        assert project.engine.pool._pre_ping


@pytest.mark.parametrize("start", REVISIONS[:-1])
def test_upgrade_from_every_earlier_revision_keeps_the_data(db_location, start):
    location = parse_location(db_location)
    if location.kind == "sqlite":
        Path(location.path).parent.mkdir(parents=True, exist_ok=True)
    engine = make_engine(location)
    cfg = alembic_config()
    with engine.connect() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, start)
        for sql in (
            "INSERT INTO dataset (id, root, format, created) VALUES (1, '/data/line3', 'imagefolder', '2026-01-01 00:00:00')",
            'INSERT INTO class (id, name, "index") VALUES (1, \'good\', 0), (2, \'scratch\', 1)',
            "INSERT INTO image (id, dataset_id, rel_path, content_hash, readable, missing, class_id, added, split) "
            "VALUES (1, 1, 'scratch/b.png', 'h2', true, false, 2, '2026-01-01 00:00:00', 'val')",
            "INSERT INTO label (image_id, class_id, version, source, updated_by, updated_at) "
            "VALUES (1, 2, 2, 'manual', 'ann', '2026-01-02 00:00:00')",
        ):
            conn.execute(text(sql))
        conn.commit()
    engine.dispose()
    with open_project(db_location, create=False) as project, project.session() as s:
        rec = get_image(s, "scratch/b.png")
        assert (rec.label, rec.label_version, rec.split) == ("scratch", 2, "val")
        assert s.execute(text("SELECT version_num FROM alembic_version")).scalar() == head_revision()


def test_another_programs_database_is_refused_and_left_alone(pg_database):
    engine = create_engine(pg_database)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE invoices (id integer primary key)"))
    with pytest.raises(StoreError, match="not an Inspector project .*tables invoices.*not changed"):
        open_project(pg_database)
    with engine.connect() as conn:
        tables = conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")).scalars().all()
    engine.dispose()
    assert tables == ["invoices"]


def test_empty_and_missing_databases(pg_database, pg_server):
    with pytest.raises(StoreError, match="empty database, not an Inspector project yet"):
        open_project(pg_database, create=False)
    missing = make_url(pg_database).set(database=make_url(pg_database).database + "_new")
    url = missing.render_as_string(hide_password=False)
    with pytest.raises(StoreError, match="does not exist on the server"):
        open_project(url, create=False)
    try:
        with open_project(url) as project:  # what `inspector import --db URL` does: creates it
            assert project.location.name == missing.database
    finally:
        with _admin(pg_server).connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{missing.database}" WITH (FORCE)')


def test_a_typed_password_is_used_but_never_shown(pg_database, monkeypatch):
    password = next(line.strip().rsplit(":", 1)[1] for line in open(os.environ["PGPASSFILE"]))
    url = make_url(pg_database).set(password=password).render_as_string(hide_password=False)
    assert password in url
    monkeypatch.setenv("PGPASSFILE", os.devnull)  # only the typed password can get it in
    with open_project(url) as project:
        assert password not in project.location.display and password not in repr(project)
        assert str(project.location.sidecar(".jobs")).count(password) == 0
    wrong = make_url(pg_database).set(password="not-" + password).render_as_string(hide_password=False)
    with pytest.raises(StoreError) as refused:
        open_project(wrong)
    assert "pgpass" in str(refused.value) and password not in str(refused.value)


def test_an_unreachable_server_is_one_clear_line():
    with pytest.raises(StoreError, match="cannot reach the database server"):
        open_project("postgresql://nobody@127.0.0.1:1/line3")


def _terminate_others(project):
    """Kill every other server connection to the project's database, as a restart or network cut would."""
    with _admin(project.location.display).connect() as conn:
        return conn.execute(text("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                                 "WHERE datname = :d AND pid <> pg_backend_pid()"),
                            {"d": project.location.url.database}).scalar()


def test_a_lost_connection_loses_no_label(loaded_pg):
    project = loaded_pg
    with project.session() as s:
        rec = get_image(s, "good/001.png")
    assert _terminate_others(project) >= 1  # the pool's idle connection dies
    state = label_one(project, rec.id, "scratch", user="ann", expected_version=rec.label_version)
    assert state.label == "scratch"  # pre-ping replaced the dead connection: the user saw nothing

    # The connection dies inside the write: the transaction is gone, the write is tried again once.
    fired = []

    def cut(conn, cursor, statement, params, context, executemany):
        if statement.startswith("INSERT INTO label_group") and not fired:
            fired.append(True)
            _terminate_others(project)

    event.listen(project.engine, "before_cursor_execute", cut)
    try:
        state = label_one(project, rec.id, "dent", user="ann", expected_version=state.version)
    finally:
        event.remove(project.engine, "before_cursor_execute", cut)
    assert fired and state.label == "dent"
    with project.session() as s:
        assert [(e.old, e.new) for e in history(s, rec.id)][-2:] == [("good", "scratch"), ("scratch", "dent")]

    # Without the retry the user gets one line, and nothing was written.
    fired.clear()
    event.listen(project.engine, "before_cursor_execute", cut)
    try:
        with pytest.raises(RetryableStoreError, match="lost the connection to the database server.*nothing was saved"):
            with project.session() as s:
                from core.store.labels import set_label
                set_label(s, rec.id, "good", user="ann")
    finally:
        event.remove(project.engine, "before_cursor_execute", cut)
    with project.session() as s:
        assert get_image(s, rec.id).label == "dent"


WRITERS = r"""
import sys, time
from core.store import open_project
from core.store.queries import all_images
from usecases.labelling import label_one
db, worker, n_workers, seconds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
project = open_project(db, create=False)
with project.session() as s:
    mine = [r.id for r in all_images(s) if r.id % n_workers == worker]
changed, n, end = 0, 0, time.monotonic() + seconds
while time.monotonic() < end:
    state = label_one(project, mine[n % len(mine)], ("scratch", "dent")[(n // len(mine)) % 2], user=f"w{worker}")
    changed += state.event is not None
    n += 1
print(changed)
"""


def test_concurrent_writers_on_different_images_lose_nothing(loaded, tmp_path):
    """Four processes label their own images as fast as they can: every write is in the audit log,
    nobody saw an error (no deadlock, no busy error surfaces)."""
    env = dict(os.environ, PYTHONPATH=str(REPO))
    procs = [subprocess.Popen([sys.executable, "-c", WRITERS, loaded.location.display, str(w), "4", "3"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=REPO)
             for w in range(4)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1][-2000:] for o in outs]
    written = sum(int(o[0]) for o in outs)
    with loaded.session() as s:
        events = s.execute(text("SELECT count(*) FROM label_event WHERE \"user\" LIKE 'w%'")).scalar()
    assert written > 0 and events == written


@pytest.fixture
def loaded_pg(pg_database, tmp_path, small_scan):
    from core.store.ingest import import_scan

    project = open_project(pg_database)
    with project.session() as s:
        import_scan(s, small_scan(tmp_path / "data"), user="importer")
    yield project
    project.close()
