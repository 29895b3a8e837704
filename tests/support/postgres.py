"""A real PostgreSQL server for the tests (scripts/pg/start_cluster.sh: one throw-away cluster per
session, stopped at the end) and a fresh database per test. Imported as fixtures by the conftest
files that run the store on both backends.

INSPECTOR_TEST_PG_URL (with PGPASSFILE) points the tests at a server someone else runs instead.
Without PostgreSQL's server binaries the PostgreSQL cases skip, saying why, except under CI (env CI
set), where they must run."""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

import pytest

from support.services import free_ports, unavailable

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts" / "pg"
BACKENDS = ("sqlite", "postgresql")


@pytest.fixture(scope="session")
def pg_server():
    """The URL of the server's maintenance database (password through PGPASSFILE, set in os.environ)."""
    given = os.environ.get("INSPECTOR_TEST_PG_URL")
    if given:
        yield given
        return
    if not list(Path("/usr/lib/postgresql").glob("*/bin/initdb")) and shutil.which("initdb") is None:
        unavailable("PostgreSQL server binaries not found (apt-get install postgresql)", "PostgreSQL")
    folder = tempfile.mkdtemp(prefix="inspector-pg-")  # not under pytest's 0700 tmp: the server user reads it
    start = subprocess.run(["bash", str(SCRIPTS / "start_cluster.sh"), folder, str(free_ports())],
                           env=dict(os.environ, DURABLE="0"), capture_output=True, text=True, timeout=120)
    if start.returncode != 0:
        subprocess.run(["bash", str(SCRIPTS / "stop_cluster.sh"), folder], capture_output=True, timeout=60)
        pytest.fail(f"could not start the PostgreSQL test cluster: {start.stderr.strip()[-2000:]}", pytrace=False)
    old = os.environ.get("PGPASSFILE")
    os.environ["PGPASSFILE"] = os.path.join(folder, "pgpass")
    try:
        yield start.stdout.strip().splitlines()[-1]
    finally:
        subprocess.run(["bash", str(SCRIPTS / "stop_cluster.sh"), folder], capture_output=True, timeout=120)
        if old is None:
            os.environ.pop("PGPASSFILE", None)
        else:
            os.environ["PGPASSFILE"] = old


def new_database(server_url: str) -> str:
    """A fresh, empty database on the server; returns its URL."""
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    admin.dispose()
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def drop_database(server_url: str, url: str) -> None:
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)')
    admin.dispose()


@pytest.fixture(params=BACKENDS)
def db_location(request, tmp_path):
    """Where a test's project lives: an SQLite file in tmp_path, or a fresh PostgreSQL database (URL).
    Either may not exist yet: open_project creates it."""
    if request.param == "sqlite":
        yield str(tmp_path / "project.db")
        return
    server = request.getfixturevalue("pg_server")
    url = new_database(server)
    try:
        yield url
    finally:
        drop_database(server, url)


@pytest.fixture
def pg_database(pg_server):
    """A fresh PostgreSQL database's URL, for tests about the server backend only."""
    url = new_database(pg_server)
    try:
        yield url
    finally:
        drop_database(pg_server, url)
