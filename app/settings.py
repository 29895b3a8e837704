"""Persistent user settings (QSettings, INI format): last project, user name, window layout.

Tests point everything at a temporary folder with `use_settings_dir` so they never touch the real
user configuration.
"""
from __future__ import annotations

import os

from PySide6.QtCore import QByteArray, QSettings

ORGANIZATION = "Inspector"
APPLICATION = "Inspector"


def use_settings_dir(path: str | os.PathLike) -> None:
    """Store settings under `path` instead of the user's configuration folder."""
    for scope in (QSettings.Scope.UserScope, QSettings.Scope.SystemScope):
        QSettings.setPath(QSettings.Format.IniFormat, scope, str(path))


def settings_file() -> str:
    """Where the settings live (for Help ▸ About)."""
    return QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, ORGANIZATION, APPLICATION).fileName()


class Settings:
    def __init__(self) -> None:
        self._s = QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, ORGANIZATION, APPLICATION)

    @property
    def user(self) -> str:
        from core.store.users import default_user  # lazily: core.store pulls in SQLAlchemy

        return str(self._s.value("user/name", "") or default_user())

    @user.setter
    def user(self, name: str) -> None:
        self._s.setValue("user/name", name.strip())

    @property
    def last_project(self) -> str | None:
        v = self._s.value("project/last", "")
        return str(v) if v else None

    @last_project.setter
    def last_project(self, path: str | None) -> None:
        self._s.setValue("project/last", str(path or ""))

    def browsed_model(self, project: str | os.PathLike) -> int | None:
        """The model version last browsed in this project (by its absolute path), or None."""
        v = self._s.value(_project_key(project, "model"), "")
        return int(v) if str(v).isdigit() else None

    def set_browsed_model(self, project: str | os.PathLike, model_id: int | None) -> None:
        self._s.setValue(_project_key(project, "model"), "" if model_id is None else str(model_id))

    def window_state(self) -> tuple[QByteArray | None, QByteArray | None, QByteArray | None]:
        """(geometry, dock state, grid/image split) as saved at the last close."""
        return self._s.value("window/geometry"), self._s.value("window/state"), self._s.value("window/split")

    def save_window_state(self, geometry: QByteArray, state: QByteArray, split: QByteArray | None = None) -> None:
        self._s.setValue("window/geometry", geometry)
        self._s.setValue("window/state", state)
        if split is not None:
            self._s.setValue("window/split", split)

    def sync(self) -> None:
        self._s.sync()


def _project_key(project: str | os.PathLike, name: str) -> str:
    """A settings key per project file: its absolute path hashed (paths hold characters an INI key cannot)."""
    import hashlib
    from pathlib import Path

    from core.db_url import is_url

    # A server project's key is its URL as shown (never with a password: core.store.location).
    text = str(project) if is_url(str(project)) else str(Path(project).expanduser().absolute())
    digest = hashlib.sha1(text.encode("utf-8", "surrogateescape")).hexdigest()
    return f"projects/{digest[:16]}/{name}"
