"""This workstation's folders for a project's dataset roots, when a team shares one database.

A dataset's stored root (`dataset.root`) is the project's one name for it. Each workstation mounts
the shared image storage where it likes (/mnt/share/line3 here, /Volumes/line3 there), so each keeps
its own mapping, stored root -> local folder, in a per-user settings file:

    $INSPECTOR_CONFIG_DIR/roots.json      (default $XDG_CONFIG_HOME/inspector, else ~/.config/inspector)
    {"version": 1, "projects": {"<project key>": {"<stored root>": "<local folder>"}}}

The project key is what names the database on this workstation: for a SQLite project its file's
absolute path, for a server database its URL without the password (`url_key`). It comes from the
engine, so a session alone finds its project's mappings.

The one hook: `root_map(session)`; every store function that forms absolute image paths (queries,
snapshots, export, file problems) maps roots through it. The file is read again only when it changed
(one stat per call), so a mapping set from the command line applies to a GUI that is already open.
Writes go to a temp file renamed over the old one (core.atomic): a reader never sees half a file.
"""
from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import URL

from core.atomic import write_text_atomic
from core.errors import InspectorError

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from core.store.project import Project

CONFIG_ENV = "INSPECTOR_CONFIG_DIR"
ROOTS_FILE = "roots.json"
VERSION = 1

_lock = threading.Lock()  # the cache below is shared by the GUI's worker threads
_cache: dict[Path, tuple[tuple[int, int, int], dict[str, dict[str, str]]]] = {}


# -- where, and for which project

def config_dir() -> Path:
    """Inspector's per-user settings folder (core's; the GUI's Qt settings live elsewhere)."""
    explicit = os.environ.get(CONFIG_ENV)
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "inspector"


def roots_file() -> Path:
    return config_dir() / ROOTS_FILE


def url_key(url: URL) -> str:
    """The key of a project's mappings: a SQLite file's path, or a server URL without its password."""
    from core.store.location import without_password

    return (url.database or "") if url.get_backend_name() == "sqlite" else without_password(url)


def project_key(project: Project) -> str:
    """The project's key (what `--db` names once opened: the file's absolute path, the URL sans password)."""
    return url_key(project.engine.url)


def session_key(session: Session) -> str:
    bind = session.get_bind()
    return url_key(getattr(bind, "url", None) or bind.engine.url)


# -- the hook: stored root -> this workstation's folder

def root_map(session: Session) -> dict[str, str]:
    """Stored root -> local folder for the session's project on this workstation ({} when none is
    mapped: the stored roots are used as they are). Do not modify the dict returned."""
    return load_projects().get(session_key(session), {})


def path_mapper(roots: Mapping[str, str]) -> Callable[[str], str]:
    """A function that moves an absolute path formed from a stored root (a snapshot row's) under this
    workstation's folder for that root; other paths come back as they are."""
    if not roots:
        return _same
    # Longest root first: /data/line3 is matched before /data, should both be datasets.
    prefixes = [(stored.rstrip("/" + os.sep), local) for stored, local in sorted(roots.items(), key=lambda kv: -len(kv[0]))]

    def mapped(abs_path: str) -> str:
        for stored, local in prefixes:
            if abs_path.startswith(stored) and abs_path[len(stored):len(stored) + 1] in (os.sep, "/"):
                return local.rstrip("/" + os.sep) + abs_path[len(stored):]
        return abs_path

    return mapped


def _same(path: str) -> str:
    return path


# -- the settings file

def load_projects() -> dict[str, dict[str, str]]:
    """Every project's mappings in the settings file ({} when there is no file yet)."""
    path = roots_file()
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return {}
    except OSError as e:
        raise InspectorError(f"{path}: cannot read the dataset roots settings ({e.strerror or e})") from None
    signature = (st.st_mtime_ns, st.st_size, st.st_ino)  # an atomic rewrite is a new inode
    with _lock:
        cached = _cache.get(path)
    if cached is not None and cached[0] == signature:
        return cached[1]
    projects = _parse(path)
    with _lock:
        _cache[path] = (signature, projects)
    return projects


def save_mapping(key: str, root: str, local: str) -> Path:
    """Map `root` of project `key` to `local` on this workstation; returns the settings file."""
    projects = {k: dict(v) for k, v in load_projects().items()}
    projects.setdefault(key, {})[root] = local
    return _write(projects)


def remove_mapping(key: str, root: str) -> bool:
    """Forget this workstation's folder for `root` of project `key`; False when there was none."""
    projects = {k: dict(v) for k, v in load_projects().items()}
    if root not in projects.get(key, {}):
        return False
    del projects[key][root]
    if not projects[key]:
        del projects[key]
    _write(projects)
    return True


def _write(projects: dict[str, dict[str, str]]) -> Path:
    path = roots_file()
    text = json.dumps({"version": VERSION, "projects": projects}, indent=2, sort_keys=True, ensure_ascii=False)
    try:
        return write_text_atomic(path, text + "\n")
    except OSError as e:
        raise InspectorError(f"{path}: cannot write the dataset roots settings ({e.strerror or e})") from None


def _parse(path: Path) -> dict[str, dict[str, str]]:
    try:
        data: Any = json.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise InspectorError(f"{path}: cannot read the dataset roots settings ({e.strerror or e})") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise _damaged(path, str(e)) from None
    if not isinstance(data, dict) or not isinstance(data.get("projects"), dict):
        raise _damaged(path, 'expected {"version": 1, "projects": {...}}')
    if data.get("version") != VERSION:
        raise _damaged(path, f"version {data.get('version')!r}, this Inspector reads version {VERSION}")
    for key, roots in data["projects"].items():
        if not isinstance(roots, dict) or not all(isinstance(v, str) for v in roots.values()):
            raise _damaged(path, f"the entry of {key!r} is not a map of stored root to folder")
    return data["projects"]


def _damaged(path: Path, why: str) -> InspectorError:
    return InspectorError(f"{path}: damaged dataset roots settings ({why}); fix or delete the file "
                          "(it only holds this workstation's folders for shared dataset roots: "
                          "`inspector roots set` makes them again)")


# -- is a folder this dataset?

def copy_problem(folder: str, sample: list[tuple[str, str]]) -> str | None:
    """The first of `sample` [(rel_path, content hash)] that `folder` lacks or holds different bytes
    of, in words ("a/b.png differs from the project's copy"); None when all match. Files are hashed
    by the importer's own function, so a match means the same bytes."""
    from core.data.decode import probe_image
    from core.data.file_checks import printable
    from core.store.paths import join_root

    for rel, expected in sample:
        probe = probe_image(join_root(folder, rel))
        if probe.content_hash is None:
            return f"{printable(rel)} is missing" if probe.gone else f"{printable(rel)} cannot be read ({probe.error})"
        if probe.content_hash != expected:
            return f"{printable(rel)} differs from the project's copy"
    return None
