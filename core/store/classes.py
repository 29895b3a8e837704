"""Classes (label names) of a project, kept in a stable order (`index`) that training and models use.

A class merged into another (core.store.class_merge) keeps its row, since the label history names
it, but is not listed while no image carries it, and its name resolves to the target for imports."""
from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import exists, func, insert, or_, select
from sqlalchemy.orm import Session

from core.errors import InspectorError, UnknownClass
from core.store.schema import Image, ImageClass


def class_names(session: Session) -> list[str]:
    in_use = exists(select(Image.id).where(Image.class_id == ImageClass.id))
    return list(session.scalars(select(ImageClass.name).where(or_(ImageClass.merged_into_id.is_(None), in_use))
                                .order_by(ImageClass.index)))


def class_ids(session: Session) -> dict[str, int]:
    """name -> id; a merged class's name -> the id of the class it was merged into (listed after the others)."""
    rows = session.execute(select(ImageClass.name, ImageClass.id, ImageClass.merged_into_id)).all()
    out = {name: cid for name, cid, into in rows if into is None}
    out.update({name: into for name, _cid, into in rows if into is not None})
    return out


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
