"""A project on a PostgreSQL server: opening it (create the database if asked, refuse another
program's, migrate) and its errors in words. SQLite's counterparts are in core.store.project and
core.store.identity; the engine settings are in core.store.engine.

A lost connection (server restarted, network gone, idle connection dropped) rolls back the one
transaction it was in, so nothing half-written stays; it is reported as RetryableStoreError and the
pool re-connects on the next try (pre-ping), which is what core.retry.retrying does for label writes."""
from __future__ import annotations

from sqlalchemy.exc import DBAPIError, OperationalError

from core.errors import NotAProjectYet, RetryableStoreError, StoreError
from core.store.location import Location

# SQLSTATE classes and codes (PostgreSQL appendix A)
_RETRY = {"40001": "a concurrent write got in the way", "40P01": "a deadlock between two writers was broken",
          "55P03": "another user's write held the rows for more than 5 s"}
_LOST = ("08",)  # connection exceptions
_ADMIN = {"57P01", "57P02", "57P03"}  # server shut down, crashed or starting up
_DAMAGE = {"42P01": "a table is missing", "42703": "a column is missing"}
_READ_ONLY = {"25006", "42501"}  # read-only transaction / insufficient privilege
_LOST_WORDS = ("server closed the connection", "connection refused", "could not connect", "connection timeout",
               "timeout expired", "consuming input failed", "terminating connection", "no connection to the server",
               "the connection is closed", "connection is lost", "could not receive data", "could not send data",
               "connection failed", "ssl syscall error", "server conn crashed")


def server_error(location: Location, e: DBAPIError) -> StoreError | None:
    """One line for a failed statement on the server; None for our own constraint bugs."""
    where = location.display
    orig = getattr(e, "orig", None)
    state = getattr(orig, "sqlstate", None) or ""
    text = str(orig or e).strip().splitlines()[0] if str(orig or e).strip() else type(e).__name__
    if state in _RETRY:
        return RetryableStoreError(f"{location.name}: the project is busy ({_RETRY[state]}); nothing was saved, try again")
    if state.startswith(_LOST) or state in _ADMIN or e.connection_invalidated or (
            isinstance(e, OperationalError) and any(w in text.lower() for w in _LOST_WORDS)):
        return RetryableStoreError(f"{where}: lost the connection to the database server ({text}); "
                                   "nothing was saved by the last action, try again")
    if state in _DAMAGE:
        return StoreError(f"{where}: the project database is damaged ({_DAMAGE[state]}: {text})")
    if state in _READ_ONLY:
        return StoreError(f"{where}: cannot write the project ({text})")
    if isinstance(e, OperationalError):
        return StoreError(f"{where}: {text}")
    return None


def connect_error(location: Location, e: Exception) -> StoreError:
    """Why a connection could not be made at all, with the way to fix it."""
    text = str(getattr(e, "orig", None) or e).strip()
    low = text.lower()
    user = location.url.username or "(your login name)"
    if "password authentication failed" in low or "no password supplied" in low:
        return StoreError(f"{location.display}: the server refused user {user} (password). Put the password in "
                          "~/.pgpass or the file PGPASSFILE names (host:port:dbname:user:password, mode 600); "
                          "Inspector never stores it")
    if "does not exist" in low and "database" in low:
        return NotAProjectYet(f"{location.display}: database {location.url.database!r} does not exist on the server; "
                          "`inspector import DATASET --db URL` creates it (with the right to create databases), "
                          "or ask the server's administrator")
    if "role" in low and "does not exist" in low:
        return StoreError(f"{location.display}: the server has no user {user}")
    first = text.splitlines()[0] if text else type(e).__name__
    return StoreError(f"{location.display}: cannot reach the database server ({first})")


def prepare_server_database(location: Location, engine, *, create: bool) -> None:
    """Before migrating: reach the server (creating the database if asked and missing) and refuse an
    empty database where a project is expected, or another program's database."""
    from core.store.identity import EMPTY, check_database

    try:
        with engine.connect() as conn:
            kind = check_database(conn, location.display)
    except OperationalError as e:
        if not (create and "does not exist" in str(e.orig).lower() and "database" in str(e.orig).lower()):
            raise connect_error(location, e) from None
        _create_database(location)
        with engine.connect() as conn:
            kind = check_database(conn, location.display)
    if kind == EMPTY and not create:
        raise NotAProjectYet(f"{location.display}: an empty database, not an Inspector project yet; "
                             f"`inspector import DATASET --db URL` makes it one")


def _create_database(location: Location) -> None:
    """CREATE DATABASE through the server's maintenance database (outside a transaction, as it must be)."""
    from sqlalchemy import create_engine
    from sqlalchemy.exc import DBAPIError as _DBAPIError

    admin = create_engine(location.url.set(database="postgres"), isolation_level="AUTOCOMMIT",
                          connect_args={"connect_timeout": 10, "application_name": "inspector"})
    name = location.url.database.replace('"', '""')
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    except _DBAPIError as e:
        if getattr(e.orig, "sqlstate", None) != "42P04":  # created meanwhile by another workstation: fine
            raise StoreError(f"{location.display}: cannot create the database ({str(e.orig).strip().splitlines()[0]})") from None
    finally:
        admin.dispose()
