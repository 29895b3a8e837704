"""Alembic migrations of the project file; `core.store.migrate` runs them without an alembic.ini."""
