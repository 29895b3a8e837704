"""Classes (label names) of a project, kept in a stable order (`index`) that training and models use."""
from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from core.errors import InspectorError, UnknownClass
from core.store.schema import ImageClass


def class_names(session: Session) -> list[str]:
    return list(session.scalars(select(ImageClass.name).order_by(ImageClass.index)))


def class_ids(session: Session) -> dict[str, int]:
    return {name: cid for name, cid in session.execute(select(ImageClass.name, ImageClass.id))}


def class_id(session: Session, name: str | None) -> int | None:
    """The id of a class by name; None stands for "unlabeled". Unknown names raise UnknownClass."""
    if name is None:
        return None
    cid = session.scalar(select(ImageClass.id).where(ImageClass.name == name))
    if cid is None:
        raise UnknownClass(name, class_names(session))
    return cid


def ensure_classes(session: Session, names: Iterable[str]) -> list[str]:
    """Add the classes not yet known, after the existing ones, in the given order. Returns the added names."""
    known = class_ids(session)
    added = []
    for name in names:
        if name is None or name in known or name in added:
            continue
        if not isinstance(name, str) or not name.strip():
            raise InspectorError(f"invalid class name {name!r}")
        added.append(name)
    if added:
        start = (session.scalar(select(func.max(ImageClass.index))) or -1) + 1
        session.execute(insert(ImageClass), [{"name": n, "index": start + i} for i, n in enumerate(added)])
    return added
