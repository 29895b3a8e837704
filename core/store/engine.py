"""The engine of one project, with the connection settings every connection must carry: SQLite
(one file, the embedded default) or PostgreSQL (a team's server). Same sessions, same semantics.

SQLite:

- WAL: readers (GUI, workers) never block the one writer, and a killed process loses nothing that
  committed: the WAL is replayed on the next open.
- synchronous=NORMAL (default): in WAL mode a commit is written to the WAL before COMMIT returns,
  so a process that is killed (or crashes) right after loses nothing that committed; the database
  stays consistent even on power loss, but the last commits before an OS crash or power cut may be
  rolled back, since the WAL is only fsynced at checkpoints. FULL also fsyncs every commit: proof
  against power loss, at the price of one fsync per label write (5 ms median, 12 ms p95 on the
  virtual disks we measured, above the 5 ms budget for a label click). Projects on machines without
  a UPS or on flaky storage can ask for it: open_project(path, synchronous="FULL").
- foreign_keys=ON: SQLite's default is off.
- busy_timeout: a writer waits up to 5 s for another process's write to finish instead of failing.
- Transactions: a plain session reads in autocommit (each statement sees the latest commit) and the
  driver opens the transaction at the first write, so the write lock is taken by a statement that
  has read nothing yet, which lets SQLite's busy handler wait for a competing writer. (A transaction
  that has read and then writes cannot wait: SQLite refuses it at once with SQLITE_BUSY.)
  `sqlite_begin="IMMEDIATE"` sessions take the write lock at BEGIN, for work that must read and
  write one consistent state; `"DEFERRED"` gives a read-only session one consistent snapshot.

PostgreSQL, the counterparts:
- READ COMMITTED: each statement sees the latest commit, as SQLite's plain sessions do. Label writes
  are conditional on the version read (core.store.labels), and PostgreSQL re-checks such an UPDATE
  after waiting for the row, so writers on different images never wait for each other and writers
  on the same image get a conflict, never a lost write.
- write sessions (`sqlite_begin="IMMEDIATE"`) take one transaction-scoped advisory lock at BEGIN:
  the read-then-write work SQLite serialises with its write lock is serialised the same way.
  Snapshot sessions run REPEATABLE READ, READ ONLY: one consistent state throughout.
- lock_timeout = busy_timeout (5 s): a writer waits that long for a row, then gets "busy".
  idle_in_transaction_session_timeout frees rows a crashed client held open.
- A pool with pre-ping: a connection the server or network dropped while idle is replaced before
  use instead of failing the next click; connect_timeout bounds a server that is unreachable.
- Durability: synchronous_commit=on on every connection (whatever the server's default), so a
  commit is on disk when it returns, like SQLite with synchronous=FULL.
"""
from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, create_engine, event

from core.store.location import SQLITE, Location

BUSY_TIMEOUT_MS = 5000
CONNECT_TIMEOUT_S = 10
WRITE_LOCK_KEY = 0x494E5350  # "INSP": the advisory lock of write sessions on PostgreSQL
SYNCHRONOUS = "NORMAL"
SYNCHRONOUS_MODES = ("NORMAL", "FULL")


def make_engine(where: "Path | Location", *, synchronous: str = SYNCHRONOUS) -> Engine:
    if isinstance(where, Location) and where.kind != SQLITE:
        return _postgresql_engine(where)
    path = where.path if isinstance(where, Location) else where
    if synchronous.upper() not in SYNCHRONOUS_MODES:
        raise ValueError(f"synchronous must be one of {SYNCHRONOUS_MODES}, not {synchronous!r}")
    synchronous = synchronous.upper()
    engine = create_engine(f"sqlite:///{path}")

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA synchronous={synchronous}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA cache_size=-65536")  # 64 MiB page cache: index scans over 1M rows stay in memory
        cur.execute("PRAGMA temp_store=MEMORY")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        mode = conn.get_execution_options().get("sqlite_begin")
        if mode:  # else the driver begins at the first write, see module docstring
            conn.exec_driver_sql(f"BEGIN {mode}")

    return engine


def _postgresql_engine(location: Location) -> Engine:
    options = (f"-c lock_timeout={BUSY_TIMEOUT_MS} -c idle_in_transaction_session_timeout=60000"
               " -c synchronous_commit=on")  # durable whatever the server's default
    engine = create_engine(
        location.url, pool_pre_ping=True, pool_size=4, max_overflow=4, pool_recycle=3600,
        isolation_level="READ COMMITTED",
        connect_args={"connect_timeout": CONNECT_TIMEOUT_S, "application_name": "inspector", "options": options},
    )

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        if conn.get_execution_options().get("sqlite_begin") == "IMMEDIATE":
            conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({WRITE_LOCK_KEY})")

    return engine
