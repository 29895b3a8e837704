"""Where a project lives: an SQLite file (the embedded default) or a PostgreSQL database (a team).

`--db` takes either: a path (`line3.db`) or a SQLAlchemy URL (`postgresql+psycopg://anna@db.local/line3`).
A URL never carries its password past this module: `display` and everything stored (recent projects,
job files, logs) use the URL without it. The password comes from libpq's own sources (PGPASSFILE or
~/.pgpass, PGPASSWORD), or from a URL typed on the command line, which is used to connect and dropped.

Files that belong to a project but not in its database (job folders, thumbnails) sit next to an
SQLite file, as before; for a server database they go to this workstation's data folder
(INSPECTOR_DATA_DIR, default ~/.local/share/inspector), one folder per server and database.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from core.db_url import is_url
from core.errors import StoreError

SQLITE, POSTGRESQL = "sqlite", "postgresql"
DRIVER = "postgresql+psycopg"  # psycopg 3: the maintained driver (psycopg2 is in maintenance only)


@dataclass(frozen=True, slots=True)
class Location:
    kind: str  # SQLITE or POSTGRESQL
    path: Path | None = None  # the SQLite file
    url: object | None = None  # sqlalchemy.engine.URL with the driver set; may hold a typed password

    @property
    def display(self) -> str:
        """What a person sees and what is stored: the file, or the URL without its password."""
        return str(self.path) if self.kind == SQLITE else without_password(self.url)

    @property
    def name(self) -> str:
        """Short name: the file's name, or the database's."""
        return self.path.name if self.kind == SQLITE else (self.url.database or "postgres")

    @property
    def stem(self) -> str:
        return self.path.stem if self.kind == SQLITE else _safe(self.url.database or "postgres")

    def sidecar(self, suffix: str) -> Path:
        """A folder or file of this project outside the database, e.g. sidecar(".jobs")."""
        if self.kind == SQLITE:
            return self.path.with_name(self.path.stem + suffix)
        u = self.url
        place = _safe(f"{u.host or 'localhost'}-{u.port or 5432}-{u.database or 'postgres'}")
        return data_dir() / "servers" / (place + suffix)

    def __str__(self) -> str:
        return self.display


def parse_location(text: "str | os.PathLike | Location") -> Location:
    """A path or URL as typed. Raises StoreError for a URL Inspector cannot use."""
    if isinstance(text, Location):
        return text
    if not is_url(text):
        return Location(SQLITE, path=Path(text).expanduser().absolute())
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        url = make_url(str(text))
    except ArgumentError:
        raise StoreError(f"{_hide(str(text))}: not a database URL (expected postgresql://user@host/dbname)") from None
    backend = url.get_backend_name()
    if backend == SQLITE:
        if not url.database or url.database == ":memory:":
            raise StoreError("sqlite URL without a file: give the project file's path")
        return Location(SQLITE, path=Path(url.database).expanduser().absolute())
    if backend != POSTGRESQL:
        raise StoreError(f"{_hide(str(text))}: Inspector stores projects in SQLite files or PostgreSQL, not {backend}")
    url = url.set(drivername=DRIVER)  # one driver, whatever the URL named (postgresql://, +psycopg2)
    if not url.database:
        raise StoreError(f"{_hide(str(text))}: the URL names no database (postgresql://user@host/DBNAME)")
    return Location(POSTGRESQL, url=url)


def without_password(url) -> str:
    """A URL as text without its password (URL.set(password=None) keeps the password: build it anew)."""
    from sqlalchemy.engine import URL

    return URL.create(url.drivername, url.username, None, url.host, url.port, url.database, url.query).render_as_string()


def data_dir() -> Path:
    return Path(os.environ.get("INSPECTOR_DATA_DIR") or Path.home() / ".local" / "share" / "inspector")


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text)


def _hide(text: str) -> str:
    """A URL as typed, with any password masked (for error messages)."""
    return re.sub(r"(://[^:/@]*):[^@/]*@", r"\1:***@", text)
