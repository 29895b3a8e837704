"""Alembic revisions, oldest first by down_revision. Make a package so setuptools ships these files."""
