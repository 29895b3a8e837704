"""Bring a project file to the newest schema with Alembic, configured in code (no alembic.ini on disk,
so it works from any working directory and from an installed wheel).

Opening an up-to-date project does not import Alembic at all (about 0.1 s of start-up): the stored
revision is read with one SELECT and compared with HEAD, which a test keeps equal to the newest
revision file.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, inspect, text

from core.errors import StoreError

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
REVISIONS = ("0001_initial", "0002_review_snapshots_jobs", "0003_identity_skips_merges")  # oldest first (checked by a test)
HEAD = REVISIONS[-1]  # the newest file in migrations/versions
# Tables each revision adds: a file is checked for those of its own revision before it is migrated,
# so a damaged project is refused rather than migrated (written to) half-way.
TABLES_ADDED = {
    "0001_initial": ("dataset", "class", "image", "label", "label_group", "label_event", "model", "prediction"),
    "0002_review_snapshots_jobs": ("snapshot", "snapshot_row", "review_score", "job"),
    "0003_identity_skips_merges": ("skipped_file",),
}


def alembic_config(url: str | None = None) -> "Config":
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url:
        cfg.set_main_option("sqlalchemy.url", url)
    return cfg


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(conn: Connection) -> str | None:
    has_table = inspect(conn).has_table("alembic_version")
    return conn.execute(text("SELECT version_num FROM alembic_version")).scalar() if has_table else None


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Migrate to `revision` (default newest). Refuses files from a newer Inspector."""
    if engine.dialect.name != "sqlite":
        return _upgrade_server(engine, revision)
    with engine.connect() as conn:
        current = current_revision(conn)
        conn.rollback()
        if revision == "head" and current == HEAD:
            return
        from alembic import command

        cfg = alembic_config()
        if not _needs_upgrade(cfg, current, revision):
            return
        lost = _lost_tables(conn, current)
        conn.rollback()
        if lost:
            from core.store.identity import damaged

            raise damaged(Path(engine.url.database), f"table {lost[0]} is missing" +
                          (f", and {len(lost) - 1} more" if len(lost) > 1 else ""))
        # Batch migrations rebuild tables (copy, drop, rename). With foreign keys on, dropping a parent
        # table would cascade-delete its children, so turn them off (only possible outside a
        # transaction) and check them once the migration is done.
        raw = conn.connection.dbapi_connection  # outside SQLAlchemy's transaction: PRAGMA is a no-op inside one
        raw.execute("PRAGMA foreign_keys=OFF")
        try:
            cfg.attributes["connection"] = conn
            conn.exec_driver_sql("BEGIN IMMEDIATE")  # all revisions or none: SQLite DDL is transactional
            command.upgrade(cfg, revision)
            conn.commit()
            broken = conn.execute(text("PRAGMA foreign_key_check")).fetchall()
            conn.rollback()
            if broken:
                raise StoreError(f"migration left {len(broken)} broken references (first: {tuple(broken[0])})")
        finally:
            conn.rollback()
            raw.execute("PRAGMA foreign_keys=ON")


MIGRATION_LOCK_KEY = 0x494E5351  # one migrator at a time on a server database (two workstations opening at once)


def _needs_upgrade(cfg: "Config", current: str | None, revision: str) -> bool:
    """False when the schema is at `revision` already; refuses a schema from a newer Inspector."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(cfg)
    if current is not None and current not in {s.revision for s in script.walk_revisions()}:
        raise StoreError(f"project schema {current!r} is newer than this Inspector understands; update Inspector")
    return current != (script.get_current_head() if revision == "head" else revision)


def _lost_tables(conn: Connection, current: str | None) -> list[str]:
    """Tables the revisions up to `current` added that the database lacks (damage: never migrate it)."""
    if current is None:
        return []
    tables = set(inspect(conn).get_table_names())
    return [t for r in REVISIONS[: REVISIONS.index(current) + 1] for t in TABLES_ADDED[r] if t not in tables]


def _upgrade_server(engine: Engine, revision: str) -> None:
    """PostgreSQL: the same revisions, in one transaction (its DDL is transactional too), under an
    advisory lock so that two inspectors opening a new project at once do not both create it."""
    from alembic import command

    cfg = alembic_config()
    with engine.connect() as conn:
        current = current_revision(conn)
        conn.rollback()
        if revision == "head" and current == HEAD:
            return
        conn.execute(text(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK_KEY})"))
        current = current_revision(conn)  # again, under the lock: another process may have migrated
        if not _needs_upgrade(cfg, current, revision):
            conn.rollback()
            return
        lost = _lost_tables(conn, current)
        if lost:
            raise StoreError(f"{engine.url.render_as_string(hide_password=True)}: the project database is "
                             f"damaged (table {lost[0]} is missing); it was not migrated")
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
        conn.commit()
