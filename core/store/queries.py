"""Finding images: filters, sort orders, pagination. Returns `ImageRecord`s.

Two steps: first the ids of one page (only the tables the filter and the order need, so SQLite
drives the query from one index and stops after `offset + limit` rows), then the details of those
few ids. Every order ends with the image id, so pages are stable.

Absolute paths are under this workstation's folder for each dataset root (core.store.root_map).
"""
from __future__ import annotations

import posixpath
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import Select, and_, false, func, or_, select, true, tuple_
from sqlalchemy.orm import Session

from core.errors import InspectorError, NotFound, UnknownClass
from core.store.classes import class_ids, class_names
from core.store.clock import to_db
from core.store.paths import join_root
from core.store.records import ImageRecord
from core.store.root_map import root_map
from core.store.schema import Dataset, Image, ImageClass, Label, LabelEvent, Prediction, ReviewScore

BIG_FETCH = 5000  # above this many ids, details come from one joined query rather than IN (...) chunks
SORTS = ("name", "-name", "confidence", "-confidence", "score", "-score", "id", "-id")
__all__ = ["ImageFilter", "SORTS", "all_images", "class_names", "count_images", "get_image", "query_images", "image_records"]

img = Image.__table__
_RECORD_COLUMNS = ("id", "rel_path", "split", "mask_rel_path", "content_hash", "width", "height", "channels",
                   "readable", "error", "category", "missing", "dataset_id", "size_bytes")
pred = Prediction.__table__
rev = ReviewScore.__table__
ev = LabelEvent.__table__


@dataclass(kw_only=True, slots=True)
class ImageFilter:
    """All given criteria must hold. Lists mean "any of". Class names, not ids."""
    labels: Sequence[str] | None = None
    unlabeled: bool = False  # alone: only unlabeled images; with `labels`: those labels or unlabeled
    splits: Sequence[str] | None = None
    model_id: int | None = None  # needed by the prediction criteria below, and fills predicted/confidence/score
    predicted: Sequence[str] | None = None
    min_confidence: float | None = None
    max_confidence: float | None = None
    disagree: bool = False  # label differs from the model's top class (labelled images only)
    suspected: bool = False  # a suspected label error (confident learning's label issue) for the model
    changed_by: str | None = None  # someone's manual/bulk/undo/redo changes, ever
    changed_since: datetime | None = None  # any label event at or after this time
    category: str | None = None
    dataset_id: int | None = None
    readable: bool | None = None
    include_missing: bool = False  # images gone from disk since the last import
    lacks: str | None = None  # "score" / "prediction": only images without one from `model_id`


def query_images(session: Session, flt: ImageFilter | None = None, *, sort: str = "name", offset: int = 0,
                 limit: int = 200, after: ImageRecord | None = None) -> list[ImageRecord]:
    """One page of images matching `flt`, in `sort` order (ties broken by id).

    Sorting by confidence (or score) lists only images that have a prediction (or a review score)
    from `flt.model_id`.

    Pages by `offset`, or, cheaper deep into a large result, by `after`: the last record of the
    previous page (keyset pagination: the page starts right after it in the index, whatever the
    offset; for confidence/score orders the record must come from a query naming the same model)."""
    flt = flt or ImageFilter()
    if sort not in SORTS:
        raise InspectorError(f"unknown sort {sort!r}; choose one of {', '.join(SORTS)}")
    if offset < 0 or limit < 0:
        raise InspectorError("offset and limit must not be negative")
    stmt, (col, tie) = _ordered(_id_select(session, flt, sort), flt, sort)
    if after is not None:
        stmt = stmt.where(_after(col, tie, sort, after))
    stmt = stmt.offset(offset).limit(limit)
    ids = list(session.scalars(stmt))
    if len(ids) <= BIG_FETCH:
        return image_records(session, ids, model_id=flt.model_id)
    # Whole-dataset fetches (training lists, predict everything): one details query over the same
    # selection instead of thousands of IN (...) chunks, then back into the page's order.
    rows = {r[0]: r for r in session.execute(_details(flt.model_id).where(img.c.id.in_(stmt.scalar_subquery())))}
    roots = root_map(session)
    return [_record(rows[i], roots) for i in ids if i in rows]


def all_images(session: Session, flt: ImageFilter | None = None) -> list[ImageRecord]:
    """Every image matching `flt`, by id (training lists, predict everything, scans)."""
    n = count_images(session, flt)
    return query_images(session, flt, sort="id", limit=n) if n else []


def count_images(session: Session, flt: ImageFilter | None = None) -> int:
    flt = flt or ImageFilter()
    inner = _id_select(session, flt, None).subquery()
    return session.scalar(select(func.count()).select_from(inner))


def get_image(session: Session, id_or_path: int | str, *, model_id: int | None = None) -> ImageRecord:
    """An image by id, by path relative to its dataset root, or by absolute path under a root."""
    image_id = _resolve(session, id_or_path)
    return image_records(session, [image_id], model_id=model_id)[0]


def image_records(session: Session, ids: Sequence[int], *, model_id: int | None = None) -> list[ImageRecord]:
    """Full records for the given ids, in the given order (ids that do not exist are left out)."""
    if not ids:
        return []
    stmt = _details(model_id)
    rows = {}
    for i in range(0, len(ids), 500):
        for r in session.execute(stmt.where(img.c.id.in_(list(ids[i:i + 500])))):
            rows[r[0]] = r
    roots = root_map(session)
    return [_record(rows[i], roots) for i in ids if i in rows]


# -- internals ---------------------------------------------------------------------------------

def _details(model_id: int | None) -> Select:
    # Core tables and only what ImageRecord needs: the ORM result path and unused columns (such as
    # the `added` timestamp, parsed per row) cost more than the query itself on a 200-row page.
    ds, lab, cls = Dataset.__table__, Label.__table__, ImageClass.__table__
    cols = [img.c[c] for c in _RECORD_COLUMNS] + [ds.c.root, lab.c.version, cls.c.name]
    stmt = (select(*cols).join(ds, ds.c.id == img.c.dataset_id)
            .outerjoin(lab, lab.c.image_id == img.c.id)
            .outerjoin(cls, cls.c.id == img.c.class_id))
    if model_id is not None:
        pcls = cls.alias("pcls")
        stmt = (stmt.add_columns(pcls.c.name, pred.c.confidence, rev.c.score, rev.c.reason)
                .outerjoin(pred, and_(pred.c.model_id == model_id, pred.c.image_id == img.c.id))
                .outerjoin(pcls, pcls.c.id == pred.c.class_id)
                .outerjoin(rev, and_(rev.c.model_id == model_id, rev.c.image_id == img.c.id)))
    return stmt


def _record(r, roots: dict[str, str]) -> ImageRecord:
    (iid, rel, split, mask, chash, w, h, ch, readable, error, category, missing, ds_id, size,
     root, version, label, *model) = r
    predicted, confidence, score, reason = model or (None, None, None, None)
    root = roots.get(root, root)
    return ImageRecord(
        id=iid, rel_path=rel, abs_path=join_root(root, rel), label=label, label_version=version or 0,
        split=split, mask_path=join_root(root, mask) if mask else None, content_hash=chash, width=w, height=h,
        channels=ch, readable=bool(readable), error=error, category=category, missing=bool(missing),
        dataset_id=ds_id, size_bytes=size, predicted=predicted, confidence=confidence, score=score, reason=reason,
    )


def _ids_of(session: Session, names: Sequence[str]) -> list[int]:
    known = class_ids(session)
    for n in names:
        if n not in known:
            raise UnknownClass(n, class_names(session))
    return [known[n] for n in names]


def _id_select(session: Session, flt: ImageFilter, sort: str | None) -> Select:
    """SELECT of the matching image ids (no order yet); `sort` None = any order (counting)."""
    key = sort.lstrip("-") if sort else None
    img_conds = []
    if flt.labels is not None or flt.unlabeled:
        either = []
        if flt.labels:
            either.append(img.c.class_id.in_(_ids_of(session, flt.labels)))
        if flt.unlabeled:
            either.append(img.c.class_id.is_(None))
        img_conds.append(or_(*either) if either else img.c.class_id.in_([]))
    if flt.splits is not None:
        img_conds.append(img.c.split.in_(list(flt.splits)))
    if flt.readable is not None:
        img_conds.append(img.c.readable.is_(flt.readable))
    if flt.category is not None:
        img_conds.append(img.c.category == flt.category)
    if flt.dataset_id is not None:
        img_conds.append(img.c.dataset_id == flt.dataset_id)

    needs_pred = (flt.predicted is not None or flt.min_confidence is not None or flt.max_confidence is not None
                  or flt.disagree or key == "confidence")
    needs_rev = flt.suspected or key == "score"
    if (needs_pred or needs_rev) and flt.model_id is None:
        raise InspectorError("filtering or sorting by prediction, confidence or score needs a model")
    pred_ordered = key == "confidence" or (key == "name" and _name_from_prediction(flt))
    # A prediction- or score-driven query without image conditions can skip the image table: its
    # row lookups, one per candidate, are most of the cost of counts and deep pages. Possible when
    # the order needs no image column and no image is flagged missing (so none must be excluded).
    image_free = ((needs_pred or needs_rev) and not img_conds and (key is None or pred_ordered or key == "score")
                  and (flt.include_missing or not _any_missing(session)))
    conds = []
    if image_free:
        driver = pred if needs_pred else rev
        id_col = driver.c.image_id
        stmt = select(id_col).select_from(driver)
        conds.append(driver.c.model_id == flt.model_id)
        if needs_pred and needs_rev:
            stmt = stmt.join(rev, and_(rev.c.model_id == flt.model_id, rev.c.image_id == pred.c.image_id))
    else:
        id_col = img.c.id
        stmt = select(id_col)
        conds += img_conds
        if not flt.include_missing:
            conds.append(img.c.missing == false())  # "= 0", which the (..., missing, rel_path) indexes serve
        if needs_pred:
            stmt = stmt.join(pred, and_(pred.c.model_id == flt.model_id, pred.c.image_id == img.c.id))
        if needs_rev:
            stmt = stmt.join(rev, and_(rev.c.model_id == flt.model_id, rev.c.image_id == img.c.id))
    if flt.suspected:  # exactly the label issues, the tiles marked as such; not doubt or disagreement
        conds.append(rev.c.reason == "label_issue")
    if needs_pred:
        if flt.predicted is not None:
            conds.append(pred.c.class_id.in_(_ids_of(session, flt.predicted)))
        if flt.min_confidence is not None:
            conds.append(pred.c.confidence >= flt.min_confidence)
        if flt.max_confidence is not None:
            conds.append(pred.c.confidence <= flt.max_confidence)
        if flt.disagree:
            # The same terms as schema.DISAGREES, the WHERE of the partial indexes: SQLite uses a
            # partial index only when the query repeats its condition.
            conds.append(pred.c.label_class_id.is_not(None))
            conds.append(pred.c.class_id.is_distinct_from(pred.c.label_class_id))  # SQLite: IS NOT
    if flt.lacks is not None:
        if flt.model_id is None or flt.lacks not in ("score", "prediction"):
            raise InspectorError("`lacks` is \"score\" or \"prediction\", with a model")
        table = rev if flt.lacks == "score" else pred
        conds.append(id_col.not_in(select(table.c.image_id).where(table.c.model_id == flt.model_id)))
    if flt.changed_by is not None:
        conds.append(id_col.in_(select(ev.c.image_id).where(ev.c.user == flt.changed_by, ev.c.source != "import")))
    if flt.changed_since is not None:
        conds.append(id_col.in_(select(ev.c.image_id).where(ev.c.time >= to_db(flt.changed_since))))
    return stmt.where(*conds)


def _name_from_prediction(flt: ImageFilter) -> bool:
    """Sort by name on prediction's copy of rel_path, which its class and disagreement indexes serve."""
    return flt.model_id is not None and (flt.predicted is not None or flt.disagree)


def _any_missing(session: Session) -> bool:
    return session.scalar(select(img.c.id).where(img.c.missing == true()).limit(1)) is not None


def _ordered(stmt: Select, flt: ImageFilter, sort: str):
    """(ordered statement, (sort column, tie-breaker column))."""
    desc = sort.startswith("-")
    key = sort.lstrip("-")
    col = {"name": img.c.rel_path, "id": img.c.id, "confidence": pred.c.confidence, "score": rev.c.score}[key]
    tie = pred.c.image_id if key == "confidence" else rev.c.image_id if key == "score" else img.c.id
    if key == "name" and _name_from_prediction(flt):
        col, tie = pred.c.rel_path, pred.c.image_id
    if key == "id":
        return stmt.order_by(col.desc() if desc else col), (col, None)
    order = (col.desc(), tie.desc()) if desc else (col, tie)
    return stmt.order_by(*order), (col, tie)


def _after(col, tie, sort: str, rec: ImageRecord):
    key = sort.lstrip("-")
    value = {"name": rec.rel_path, "id": rec.id, "confidence": rec.confidence, "score": rec.score}[key]
    if value is None:
        raise InspectorError(f"`after` record has no {key}: take it from a query with the same model")
    if tie is None:
        return col < value if sort.startswith("-") else col > value
    # Row-value comparison: (col, tie) > (value, id) is one index seek on SQLite.
    return tuple_(col, tie) < tuple_(value, rec.id) if sort.startswith("-") else tuple_(col, tie) > tuple_(value, rec.id)


def _resolve(session: Session, id_or_path: int | str) -> int:
    # ASCII digits only: str.isdigit() also accepts "²", which int() then refuses.
    if isinstance(id_or_path, int) or (isinstance(id_or_path, str) and id_or_path.strip().isascii()
                                       and id_or_path.strip().isdigit()):
        image_id = int(id_or_path)
        if session.get(Image, image_id) is None:
            raise NotFound(f"no image with id {image_id}")
        return image_id
    text = str(id_or_path)
    rel = posixpath.normpath(text.replace("\\", "/"))
    candidates = list(session.scalars(select(img.c.id).where(img.c.rel_path == rel)))
    if not candidates and Path(text).is_absolute():
        roots = root_map(session)
        for ds_id, root in session.execute(select(Dataset.id, Dataset.root)):
            for folder in dict.fromkeys((roots.get(root, root), root)):  # this workstation's folder, or the stored root
                try:
                    inside = Path(text).relative_to(folder).as_posix()
                except ValueError:
                    continue
                candidates += list(session.scalars(
                    select(img.c.id).where(img.c.dataset_id == ds_id, img.c.rel_path == inside)))
                break
    if not candidates:
        raise NotFound(f"no image {text!r} in this project (give an id or a path relative to the dataset root)")
    if len(candidates) > 1:
        raise InspectorError(f"{text!r} names {len(candidates)} images in different datasets; give an id")
    return candidates[0]
