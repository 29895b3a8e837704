"""Label changes: set, bulk set, undo, redo, history.

Every change writes the current label (table `label`, with a version counter), its mirror
`image.class_id`, and one append-only `label_event`, all under one `label_group` (one user action).
Undo and redo are new groups of new events, never deletions; they work per user like an editor's
stack, replayed from that user's groups, so any process sees the same stack.

This module is the only writer of `label`, `label_event` and `label_group`: the import
(core.store.ingest) writes its labels through `begin_group`, `add_initial_labels`,
`apply_changes` and `finish_group` too. So a label's version is the number of its events (every
change adds one of each), which lets a reader tell whether the history it holds is complete.

Transactions start at the first write (see core.store.engine). `set_label` reads first and then
writes conditionally on the version it read; the bulk functions and undo/redo insert their
label_group row first, so everything they read afterwards is read under the write lock.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from sqlalchemy import bindparam, delete, insert, select, text, update
from sqlalchemy.orm import Session, aliased

from core.errors import InspectorError, LabelConflict, NotFound, UnknownClass
from core.store.classes import class_id as _class_id
from core.store.classes import class_names
from core.store.clock import from_db, utcnow
from core.store.records import GroupResult, LabelEventRecord, LabelState
from core.store.schema import Image, ImageClass, Label, LabelEvent, LabelGroup, Prediction
from core.store.users import resolve_user

UNDOABLE = ("manual", "bulk")
CHUNK = 500  # rows per IN (...) list: well under SQLite's variable limit
BULK_CHUNK = 10_000  # rows per executemany insert

# set_label's statements, built once: constructing them per call was about a fifth of a label
# write's client CPU (what bounds concurrent writers on a shared server). Bound per call.
_current_class = aliased(ImageClass)
_READ_FOR_SET = (
    select(Label.class_id, Label.version, Label.updated_by, Label.updated_at,
           select(ImageClass.id).where(ImageClass.name == bindparam("label")).scalar_subquery(),
           _current_class.name, Image.rel_path)
    .join(Image, Image.id == Label.image_id)
    .outerjoin(_current_class, _current_class.id == Label.class_id)
    .where(Label.image_id == bindparam("image_id"))
)
_MOVE_LABEL = (
    update(Label.__table__)
    .where(Label.__table__.c.image_id == bindparam("b_image"), Label.__table__.c.version == bindparam("b_version"))
    .values(class_id=bindparam("b_class"), version=bindparam("b_next"), source=bindparam("b_source"),
            updated_by=bindparam("b_user"), updated_at=bindparam("b_now"))
)
_MIRROR_IMAGE = update(Image.__table__).where(Image.__table__.c.id == bindparam("b_image")).values(class_id=bindparam("b_class"))
_MIRROR_PREDICTION = (update(Prediction.__table__).where(Prediction.__table__.c.image_id == bindparam("b_image"))
                      .values(label_class_id=bindparam("b_class")))
_ADD_EVENT = insert(LabelEvent.__table__).returning(LabelEvent.__table__.c.id)
_ADD_GROUP = insert(LabelGroup.__table__).returning(LabelGroup.__table__.c.id)


def set_label(session: Session, image_id: int, label: str | None, *, user: str | None = None,
              source: str = "manual", expected_version: int | None = None) -> LabelState:
    """Set one image's label (None = unlabeled). With `expected_version`, refuse with LabelConflict if
    anyone changed the label since the caller read that version.

    The hot path of labelling (one statement to read, five to write): read the current row, then
    write conditionally on the version read. The returned state carries the event written, so a
    caller showing the history appends it instead of reading the history again. If another process wrote in between, the conditional
    UPDATE matches no row: with `expected_version` that is a conflict; without, we re-read (now
    inside our write transaction, so nobody can move it again) and write on top."""
    if source not in ("manual", "bulk", "import"):
        raise InspectorError(f"label source must be manual, bulk or import, not {source!r}")
    user = resolve_user(user)
    group_id = None
    for _attempt in range(2):
        row = session.execute(_READ_FOR_SET, {"label": label, "image_id": image_id}).first()
        if row is None:
            raise NotFound(f"no image with id {image_id}")
        cur_id, version, by, at, new_id, cur_name, rel_path = row
        if label is not None and new_id is None:
            raise UnknownClass(label, class_names(session))
        if expected_version is not None and version != expected_version:
            raise _conflict(session, image_id, expected_version)
        if cur_id == new_id:
            if group_id is not None:
                finish_group(session, group_id, 0)
            return LabelState(image_id, label, version, by, from_db(at))
        if group_id is None:
            group_id = begin_group(session, user, source, size=1)  # first write: the transaction starts here
        now = utcnow()
        moved = session.execute(_MOVE_LABEL, {"b_image": image_id, "b_version": version, "b_class": new_id,
                                              "b_next": version + 1, "b_source": source, "b_user": user,
                                              "b_now": now}).rowcount == 0
        if not moved:
            break
        if expected_version is not None:
            raise _conflict(session, image_id, expected_version)
    else:  # unreachable on SQLite: the second read happens under our write lock
        raise _conflict(session, image_id, version)
    session.execute(_MIRROR_IMAGE, {"b_image": image_id, "b_class": new_id})
    session.execute(_MIRROR_PREDICTION, {"b_image": image_id, "b_class": new_id})
    event_id = session.execute(_ADD_EVENT, {"image_id": image_id, "group_id": group_id, "old_class_id": cur_id,
                                            "new_class_id": new_id, "user": user, "time": now, "source": source}
                               ).scalar_one()
    event = LabelEventRecord(id=event_id, image_id=image_id, rel_path=rel_path, old=cur_name, new=label, user=user,
                             time=from_db(now), source=source, group_id=group_id)
    return LabelState(image_id, label, version + 1, user, from_db(now), group_id, event)


def bulk_set_labels(session: Session, image_ids: Iterable[int], label: str | None, *, user: str | None = None,
                    expected_versions: Mapping[int, int] | None = None, source: str = "bulk") -> GroupResult:
    """Give many images one label as one action (undone as one). Images already carrying it are left
    alone. `expected_versions` (image id -> version) makes the whole action refuse on any conflict."""
    if source not in ("manual", "bulk", "import"):
        raise InspectorError(f"label source must be manual, bulk or import, not {source!r}")
    user = resolve_user(user)
    new_id = _class_id(session, label)
    group_id = begin_group(session, user, source)
    changes = {int(i): new_id for i in image_ids}
    changed = apply_changes(session, changes, user=user, source=source, group_id=group_id, expected=expected_versions)
    finish_group(session, group_id, len(changed))
    return GroupResult(group_id if changed else None, source, None, changed)


def undo(session: Session, *, user: str | None = None) -> GroupResult | None:
    """Revert this user's latest not-yet-undone action. Images someone changed since are skipped
    (listed in the result). None when there is nothing to undo."""
    return _step(session, resolve_user(user), "undo")


def redo(session: Session, *, user: str | None = None) -> GroupResult | None:
    """Re-apply this user's latest undone action, unless a new action came after the undo."""
    return _step(session, resolve_user(user), "redo")


def _step(session: Session, user: str, source: str) -> GroupResult | None:
    # Insert our group first: the stack is then read under the write lock, so the same user undoing
    # in two windows (two processes) cannot revert one action twice. A server has no file-wide write
    # lock: there one advisory lock per user's stack does the same (other users never wait).
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(2, hashtext(:user))"), {"user": user})
    group_id = begin_group(session, user, source)
    undo_stack, redo_stack = stacks(session, user=user)
    stack = undo_stack if source == "undo" else redo_stack
    if not stack:
        session.execute(delete(LabelGroup).where(LabelGroup.id == group_id))
        return None
    target = stack[-1]
    session.execute(update(LabelGroup).where(LabelGroup.id == group_id).values(target_group_id=target))
    return _revert(session, group_id, target, user=user, source=source)


def stacks(session: Session, *, user: str | None = None) -> tuple[list[int], list[int]]:
    """(undo stack, redo stack) of original group ids for `user`, newest last, replayed from the log."""
    user = resolve_user(user)
    rows = session.execute(
        select(LabelGroup.id, LabelGroup.source, LabelGroup.target_group_id)
        .where(LabelGroup.user == user, LabelGroup.source.in_(UNDOABLE + ("undo", "redo")))
        .order_by(LabelGroup.id)
    )
    undo_stack: list[int] = []
    redo_stack: list[int] = []
    for gid, source, target in rows:
        if source in UNDOABLE:
            undo_stack.append(gid)
            redo_stack.clear()  # a new action forks history, as in an editor
        elif source == "undo" and target in undo_stack:
            undo_stack.remove(target)
            redo_stack.append(target)
        elif source == "redo" and target in redo_stack:
            redo_stack.remove(target)
            undo_stack.append(target)
    return undo_stack, redo_stack


def history(session: Session, image_id: int) -> list[LabelEventRecord]:
    """Every label event of one image, oldest first."""
    old, new = aliased(ImageClass), aliased(ImageClass)
    rows = session.execute(
        select(LabelEvent, Image.rel_path, old.name, new.name)
        .join(Image, Image.id == LabelEvent.image_id)
        .outerjoin(old, old.id == LabelEvent.old_class_id)
        .outerjoin(new, new.id == LabelEvent.new_class_id)
        .where(LabelEvent.image_id == image_id)
        .order_by(LabelEvent.id)
    )
    return [
        LabelEventRecord(id=e.id, image_id=e.image_id, rel_path=path, old=o, new=n, user=e.user,
                         time=from_db(e.time), source=e.source, group_id=e.group_id)
        for e, path, o, n in rows
    ]


def label_versions(session: Session, image_ids: Iterable[int]) -> dict[int, int]:
    """image id -> current label version (images that do not exist are left out)."""
    return {iid: version for iid, (_cid, version, _by) in _current(session, list(image_ids)).items()}


def label_state(session: Session, image_id: int) -> LabelState:
    row = session.execute(
        select(Label.class_id, Label.version, Label.updated_by, Label.updated_at, ImageClass.name)
        .outerjoin(ImageClass, ImageClass.id == Label.class_id)
        .where(Label.image_id == image_id)
    ).first()
    if row is None:
        raise NotFound(f"no image with id {image_id}")
    return LabelState(image_id, row.name, row.version, row.updated_by, from_db(row.updated_at))


# -- the steps of one action, for the other writer of labels (the import) ----------------------

def begin_group(session: Session, user: str, source: str, target: int | None = None, size: int = 0) -> int:
    """Open one user action (the unit undo reverts); every event written under it names its id."""
    return session.execute(_ADD_GROUP, {"user": user, "source": source, "target_group_id": target,
                                        "created": utcnow(), "size": size}).scalar_one()


def finish_group(session: Session, group_id: int, size: int, *, keep_empty: bool = False) -> None:
    """Record how many labels the action changed; an action that changed nothing is dropped."""
    if size or keep_empty:
        session.execute(update(LabelGroup).where(LabelGroup.id == group_id).values(size=size))
    else:  # nothing changed: no action to undo
        session.execute(delete(LabelGroup).where(LabelGroup.id == group_id))


def add_initial_labels(session: Session, labels: Mapping[int, int | None], *, group_id: int, user: str,
                       now: datetime, source: str = "import") -> int:
    """The first label row of newly added images (image id -> class id, None = unlabeled), with an
    event for each labelled one. Returns how many were labelled."""
    rows, events = [], []
    for iid, cid in labels.items():
        labelled = cid is not None
        rows.append({"image_id": iid, "class_id": cid, "version": int(labelled), "source": source if labelled else None,
                     "updated_by": user if labelled else None, "updated_at": now if labelled else None})
        if labelled:
            events.append({"image_id": iid, "group_id": group_id, "old_class_id": None, "new_class_id": cid,
                           "user": user, "time": now, "source": source})
    for i in range(0, len(rows), BULK_CHUNK):
        session.execute(insert(Label.__table__), rows[i:i + BULK_CHUNK])
    for i in range(0, len(events), BULK_CHUNK):
        session.execute(insert(LabelEvent.__table__), events[i:i + BULK_CHUNK])
    return len(events)


def apply_changes(session: Session, changes: Mapping[int, int | None], *, user: str, source: str, group_id: int,
                  expected: Mapping[int, int] | None = None) -> list[int]:
    """Write new class ids for images (image id -> class id) under an open group; returns the ids
    that actually changed. With `expected` (image id -> version), refuse on any conflict."""
    ids = list(changes)
    current = _current(session, ids)
    unknown = [i for i in ids if i not in current]
    if unknown:
        raise NotFound(f"no image with id {unknown[0]}" + (f" (and {len(unknown) - 1} more)" if len(unknown) > 1 else ""))
    if expected:
        for iid, ver in expected.items():
            if iid in current and current[iid][1] != ver:
                raise _conflict(session, iid, ver)
    now = utcnow()
    todo = [(iid, changes[iid], current[iid]) for iid in ids if current[iid][0] != changes[iid]]
    if not todo:
        return []
    # Conditional on the version we read: if anything moved it (another writer on a non-SQLite
    # backend, or a bug), rowcount tells and nobody's write is silently lost.
    result = session.execute(
        update(Label.__table__)
        .where(Label.__table__.c.image_id == bindparam("iid"), Label.__table__.c.version == bindparam("ver"))
        .values(class_id=bindparam("cid"), version=Label.__table__.c.version + 1, source=source,
                updated_by=user, updated_at=now),
        [{"iid": iid, "ver": cur[1], "cid": cid} for iid, cid, cur in todo],
    )
    if result.rowcount != len(todo):
        after = _current(session, [t[0] for t in todo])
        for iid, _, cur in todo:
            if after[iid][1] != cur[1] + 1:
                raise _conflict(session, iid, (expected or {}).get(iid, cur[1]))
    mirror = [{"iid": iid, "cid": cid} for iid, cid, _ in todo]
    session.execute(
        update(Image.__table__).where(Image.__table__.c.id == bindparam("iid")).values(class_id=bindparam("cid")),
        mirror)
    pred = Prediction.__table__
    session.execute(
        update(pred).where(pred.c.image_id == bindparam("iid")).values(label_class_id=bindparam("cid")), mirror)
    session.execute(insert(LabelEvent), [
        {"image_id": iid, "group_id": group_id, "old_class_id": cur[0], "new_class_id": cid,
         "user": user, "time": now, "source": source}
        for iid, cid, cur in todo
    ])
    return [t[0] for t in todo]


# -- internals ---------------------------------------------------------------------------------

def _current(session: Session, image_ids: list[int]) -> dict[int, tuple[int | None, int, str | None]]:
    """image id -> (class id, version, updated_by) for the given images."""
    out = {}
    for i in range(0, len(image_ids), CHUNK):
        chunk = image_ids[i:i + CHUNK]
        for iid, cid, ver, by in session.execute(
            select(Label.image_id, Label.class_id, Label.version, Label.updated_by).where(Label.image_id.in_(chunk))
        ):
            out[iid] = (cid, ver, by)
    return out


def _conflict(session: Session, image_id: int, expected: int) -> LabelConflict:
    row = session.execute(
        select(Image.rel_path, Label.version, Label.updated_by, ImageClass.name)
        .join(Label, Label.image_id == Image.id)
        .outerjoin(ImageClass, ImageClass.id == Label.class_id)
        .where(Image.id == image_id)
    ).one()
    return LabelConflict(image=f"{row.rel_path} (id {image_id})", expected_version=expected,
                         version=row.version, user=row.updated_by, label=row.name)


def _revert(session: Session, group_id: int, target: int, *, user: str, source: str) -> GroupResult:
    events = session.execute(
        select(LabelEvent.image_id, LabelEvent.old_class_id, LabelEvent.new_class_id)
        .where(LabelEvent.group_id == target).order_by(LabelEvent.id)
    ).all()
    # undo: expect the target's "new", restore its "old"; redo: the other way round.
    wanted = {iid: (new, old) if source == "undo" else (old, new) for iid, old, new in events}
    current = _current(session, list(wanted))
    changes, skipped = {}, []
    for iid, (expect_now, restore) in wanted.items():
        cur = current.get(iid)
        if cur is None:
            skipped.append((iid, "image no longer exists"))
        elif cur[0] != expect_now:
            skipped.append((iid, f"changed since by {cur[2] or 'unknown'}"))
        else:
            changes[iid] = restore
    changed = apply_changes(session, changes, user=user, source=source, group_id=group_id, expected=None)
    # Keep the group even when everything was skipped, so the stack moves on past it.
    finish_group(session, group_id, len(changed), keep_empty=True)
    return GroupResult(group_id, source, target, changed, skipped)
