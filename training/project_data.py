"""A project's current labels as training data for the in-process runs (demo model, label scan)."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from core.errors import InspectorError
from core.progress import Reporter
from training.data import MemorySource, Sample
from training.trainer import TrainData


@dataclass
class ProjectData:
    data: TrainData
    records: list  # ImageRecord per training image, in the order of data.train (unreadable ones left out)
    test: MemorySource | None  # the held-out split, decoded, when asked for


def labelled_images(session, splits: Sequence[str] | None = None) -> list:
    """ImageRecords of every readable, labelled image (in the given splits), by id."""
    from core.store.queries import ImageFilter, all_images

    flt = ImageFilter(readable=True, splits=list(splits) if splits else None)
    return [r for r in all_images(session, flt) if r.label is not None]


def load_project_data(project, *, input_size: int, in_chans: int, splits: Sequence[str] | None = None,
                      hold_out: str | None = None, reporter: Reporter) -> ProjectData:
    """Decode the labelled images once. `hold_out` (e.g. "test") keeps that split out of training and
    returns it decoded for a final score; `splits` restricts which images count at all."""
    with project.session() as session:
        records = labelled_images(session, splits)
    train = [r for r in records if hold_out is None or r.split != hold_out]
    held = [r for r in records if hold_out is not None and r.split == hold_out]
    class_names = sorted({r.label for r in train})
    if len(class_names) < 2:
        raise InspectorError("training needs labelled images of at least two classes")
    index = {c: i for i, c in enumerate(class_names)}
    samples = [Sample(r.abs_path, index[r.label]) for r in train]
    source = MemorySource.decode(samples, in_chans, input_size, reporter=reporter.sub(0.0, 0.05 if held else 0.1))
    kept = [train[i] for i in source.kept]  # files unreadable since import are left out
    test = None
    if held:
        held = [r for r in held if r.label in index]
        if held:
            test = MemorySource.decode([Sample(r.abs_path, index[r.label]) for r in held], in_chans, input_size,
                                       reporter=reporter.sub(0.05, 0.1))
    return ProjectData(TrainData(train=source, class_names=class_names), kept, test)
