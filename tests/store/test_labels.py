"""Label set / bulk / undo / redo / history, and optimistic concurrency inside one process."""
from __future__ import annotations

import pytest

from core.errors import InspectorError
from core.store import LabelConflict, UnknownClass
from core.store.labels import bulk_set_labels, history, redo, set_label, stacks, undo
from core.store.queries import get_image, query_images


def _label(project, image_id):
    with project.session() as s:
        return get_image(s, image_id).label


def test_set_label_writes_event_and_version(loaded):
    with loaded.session() as s:
        rec = get_image(s, "good/001.png")
        assert (rec.label, rec.label_version) == ("good", 1)
        state = set_label(s, rec.id, "scratch", user="ann")
    assert (state.label, state.version, state.updated_by) == ("scratch", 2, "ann")
    with loaded.session() as s:
        events = history(s, rec.id)
    assert [(e.old, e.new, e.source, e.user) for e in events] == [
        (None, "good", "import", "importer"), ("good", "scratch", "manual", "ann")]
    assert get_image_label(loaded, rec.id) == "scratch"
    # The state carries the event as history() reads it back: a GUI appends it without a query.
    assert state.event == events[-1]


def get_image_label(project, image_id):
    return _label(project, image_id)


def test_same_label_is_a_no_op(loaded):
    with loaded.session() as s:
        rec = get_image(s, "good/001.png")
        state = set_label(s, rec.id, "good", user="ann")
        assert state.version == 1 and state.group_id is None and state.event is None
        assert len(history(s, rec.id)) == 1
        assert stacks(s, user="ann") == ([], [])


def test_unknown_class_lists_known_ones(loaded):
    with pytest.raises(UnknownClass, match="known classes: good, scratch, dent"):
        with loaded.session() as s:
            set_label(s, 1, "crack", user="ann")


def test_user_defaults_to_os_user(loaded):
    import getpass
    with loaded.session() as s:
        state = set_label(s, 1, "dent")
    assert state.updated_by == getpass.getuser()


def test_unlabel_with_none(loaded):
    with loaded.session() as s:
        set_label(s, 1, None, user="ann")
        assert get_image(s, 1).label is None


def test_stale_expected_version_is_refused(loaded):
    with loaded.session() as s:
        rec = get_image(s, "scratch/002.png")
    with loaded.session() as s:
        set_label(s, rec.id, "dent", user="bob", expected_version=rec.label_version)
    with pytest.raises(LabelConflict) as info:
        with loaded.session() as s:
            set_label(s, rec.id, "good", user="ann", expected_version=rec.label_version)
    msg = str(info.value)
    assert "scratch/002.png" in msg and "bob" in msg and "dent" in msg
    assert isinstance(info.value, InspectorError)
    assert _label(loaded, rec.id) == "dent"  # the refused transaction wrote nothing


def test_bulk_set_is_one_group_and_undoes_as_one(loaded):
    with loaded.session() as s:
        ids = [get_image(s, f"good/{i:03d}.png").id for i in range(5)]
        other = get_image(s, "dent/000.png").id
        set_label(s, other, "scratch", user="ann")
        result = bulk_set_labels(s, ids, "dent", user="ann")
    assert sorted(result.changed) == sorted(ids)
    with loaded.session() as s:
        assert {get_image(s, i).label for i in ids} == {"dent"}
        undone = undo(s, user="ann")
    assert undone.target_group_id == result.group_id and sorted(undone.changed) == sorted(ids)
    with loaded.session() as s:
        assert {get_image(s, i).label for i in ids} == {"good"}
        assert get_image(s, other).label == "scratch"  # the earlier single change is not part of the group
        undo(s, user="ann")
        assert get_image(s, other).label == "dent"
        assert undo(s, user="ann") is None  # imports are not on anyone's undo stack


def test_undo_redo_are_new_events_per_user(loaded):
    with loaded.session() as s:
        a = get_image(s, "good/000.png").id
        b = get_image(s, "good/001.png").id
        set_label(s, a, "scratch", user="ann")
        set_label(s, b, "dent", user="bob")
        undo(s, user="ann")  # reverts ann's change only
        assert get_image(s, a).label == "good" and get_image(s, b).label == "dent"
        redo(s, user="ann")
        assert get_image(s, a).label == "scratch"
        assert redo(s, user="ann") is None
        events = history(s, a)
    assert [e.source for e in events] == ["import", "manual", "undo", "redo"]
    assert [e.new for e in events] == ["good", "scratch", "good", "scratch"]


def test_a_version_counts_the_events(loaded, tmp_path, small_scan):
    """Whatever wrote them (import, set, bulk, undo, redo, a re-import that relabels): the GUI
    relies on it to append its own event instead of reading the history again."""
    from dataclasses import replace

    from core.store.ingest import import_scan

    with loaded.session() as s:
        ids = [r.id for r in query_images(s, limit=100)]
        set_label(s, ids[0], "scratch", user="ann")
        set_label(s, ids[1], None, user="ann")
        bulk_set_labels(s, ids[2:6], "dent", user="bob")
        undo(s, user="bob")
        redo(s, user="bob")
    relabelled = small_scan(tmp_path / "data")
    relabelled.images[-1] = replace(relabelled.images[-1], label="good")  # the dataset now files it elsewhere
    with loaded.session() as s:
        assert import_scan(s, relabelled, user="importer").labels_set == 1
    with loaded.session() as s:
        for r in query_images(s, limit=100):
            assert r.label_version == len(history(s, r.id)), r.rel_path


def test_new_action_clears_redo_stack(loaded):
    with loaded.session() as s:
        set_label(s, 1, "scratch", user="ann")
        undo(s, user="ann")
        set_label(s, 2, "dent", user="ann")
        assert redo(s, user="ann") is None
        undo(s, user="ann")
        undo(s, user="ann")  # nothing left: the first action was undone already
        assert stacks(s, user="ann")[0] == []


def test_undo_skips_images_changed_since_by_others(loaded):
    with loaded.session() as s:
        ids = [get_image(s, f"scratch/{i:03d}.png").id for i in range(3)]
        bulk_set_labels(s, ids, "good", user="ann")
        set_label(s, ids[0], "dent", user="bob")
        result = undo(s, user="ann")
        assert sorted(result.changed) == sorted(ids[1:])
        assert result.skipped == [(ids[0], "changed since by bob")]
        assert get_image(s, ids[0]).label == "dent"


def test_bulk_with_expected_versions_refuses_all(loaded):
    with loaded.session() as s:
        recs = [get_image(s, f"dent/{i:03d}.png") for i in range(3)]
        set_label(s, recs[1].id, "good", user="bob")
    with pytest.raises(LabelConflict):
        with loaded.session() as s:
            bulk_set_labels(s, [r.id for r in recs], "scratch", user="ann",
                            expected_versions={r.id: r.label_version for r in recs})
    with loaded.session() as s:
        assert [get_image(s, r.id).label for r in recs] == ["dent", "good", "dent"]


def test_unknown_image_id(loaded):
    with pytest.raises(InspectorError, match="no image with id 9999"):
        with loaded.session() as s:
            set_label(s, 9999, "good", user="ann")


def test_one_project_shared_by_threads(loaded):
    """GUI workers share one Project: each action its own session, from any thread."""
    import threading
    with loaded.session() as s:
        ids = [r.id for r in query_images(s, limit=4)]
    errors = []

    def work(image_id):
        try:
            for k in range(10):
                with loaded.session() as s:
                    set_label(s, image_id, ("good", "scratch", "dent")[k % 3], user=f"t{image_id}")
                with loaded.session() as s:
                    get_image(s, image_id)
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with loaded.session() as s:
        assert all(len(history(s, i)) >= 10 for i in ids)


def _write_between_read_and_write(project, image_id, user="bob", label_id=3):
    """Make another connection change the label right after set_label has read it (just before
    its first write), the race the conditional UPDATE exists for. The other connection is a second
    engine on the same file or database: another process, as far as the store can tell."""
    from sqlalchemy import event, text

    from core.store.engine import make_engine

    fired = []
    other = make_engine(project.location)

    def before(conn, cursor, statement, params, context, executemany):
        if statement.startswith("INSERT INTO label_group") and not fired:
            fired.append(True)
            with other.begin() as c:
                c.execute(text("UPDATE label SET class_id = :c, version = version + 1, updated_by = :u "
                               "WHERE image_id = :i"), {"c": label_id, "u": user, "i": image_id})
                c.execute(text("UPDATE image SET class_id = :c WHERE id = :i"), {"c": label_id, "i": image_id})

    event.listen(project.engine, "before_cursor_execute", before)

    def done():
        event.remove(project.engine, "before_cursor_execute", before)
        other.dispose()
    return done


def test_race_between_read_and_write_is_caught(loaded):
    with loaded.session() as s:
        rec = get_image(s, "good/004.png")
    done = _write_between_read_and_write(loaded, rec.id)
    try:
        with pytest.raises(LabelConflict, match="changed by bob to dent"):
            with loaded.session() as s:
                set_label(s, rec.id, "scratch", user="ann", expected_version=rec.label_version)
    finally:
        done()
    with loaded.session() as s:
        assert get_image(s, rec.id).label == "dent"  # bob's write stands, ann's was refused

    rec = get_image_rec(loaded, "good/003.png")
    done = _write_between_read_and_write(loaded, rec.id)
    try:
        with loaded.session() as s:  # no expected version: last writer wins, but on top of bob's
            state = set_label(s, rec.id, "scratch", user="ann")
    finally:
        done()
    assert state.version == rec.label_version + 2
    with loaded.session() as s:
        last = history(s, rec.id)[-1]
    assert (last.old, last.new, last.user) == ("dent", "scratch", "ann")  # the event's "old" is bob's label


def get_image_rec(project, path):
    with project.session() as s:
        return get_image(s, path)
