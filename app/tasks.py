"""Long background work of the GUI, as plain functions `fn(ctx, ...)` for `Workers.start`.

Each takes a `TaskContext` for progress and cancellation, imports core/ and torch lazily, opens its
own sessions and returns plain records. The `inspector demo` command uses the same functions.
"""
from __future__ import annotations

from pathlib import Path

DEMO_DB = "demo.db"
DEMO_DATA = "data"
DEMO_MODEL = "models/demo_aan_s.safetensors"
DEMO_NOISE = 0.06


def import_dataset(ctx, folder: str, db: str, user: str):
    """Scan a dataset folder and import it into a (new or existing) project file: ImportReport."""
    from core.data.scan import scan_dataset
    from core.store.ingest import import_scan
    from core.store.project import open_project

    def scanned(done: int, total: int) -> None:
        ctx.check()
        ctx.progress(done, total, f"scanning {done}/{total}")

    def written(done: int, total: int) -> None:
        ctx.progress(done, total, f"writing the project {done}/{total}")

    scan = scan_dataset(folder, progress=scanned)
    with open_project(db) as project, project.session() as s:
        return import_scan(s, scan, user=user, progress=written)


def make_thumbnails(ctx, project, cache_dir: str, size: int = 128, chunk: int = 256) -> int:
    """Thumbnail every image of the project ahead of browsing (cancellable between chunks)."""
    from core.data.thumbnails import ThumbnailCache

    items = [(r.content_hash, r.abs_path) for r in _readable_images(project) if r.content_hash]
    cache = ThumbnailCache(cache_dir, size=size)
    for start in range(0, len(items), chunk):
        ctx.check()
        cache.ensure(items[start:start + chunk])
        done = min(start + chunk, len(items))
        ctx.progress(done, len(items), f"{done}/{len(items)} thumbnails")
    return len(items)


def predict(ctx, project, model_id: int, device: str = "auto"):
    """Predict every image the model has not seen yet, then rank for review: PredictReport."""
    from core.inference.predict import predict_project
    from core.inference.review import review_model

    def step(done: int, total: int) -> None:
        ctx.progress(done, total, f"{done}/{total} images")

    # num_workers=0: no decoding processes forked from a GUI process that has threads running.
    report = predict_project(project, model_id, device=device, num_workers=0, progress=step,
                             cancel=lambda: ctx.cancelled)
    if not report.cancelled and report.predicted:
        ctx.progress(0, 0, "ranking suspected label errors")
        with project.session() as s:
            review_model(s, model_id, save=True)
    return report


def prepare_demo(ctx, folder: str, user: str, *, n: int | None = None, epochs: int | None = None,
                 input_size: int | None = None) -> str:
    """Make whatever of the demo is missing (data, project, model, predictions); returns the project path.

    Idempotent: a second run finds everything and returns at once.
    """
    from core.data.demo import CATEGORY, make_demo_dataset
    from core.store.project import open_project

    root = Path(folder).expanduser().absolute()
    root.mkdir(parents=True, exist_ok=True)
    data, db, ckpt = root / DEMO_DATA, root / DEMO_DB, root / DEMO_MODEL
    images = data / CATEGORY
    if not images.exists():
        def made(done: int, total: int) -> None:
            ctx.check()
            ctx.progress(done, total, f"making the demo images {done}/{total}")

        # A few planted label errors, so that the review ranking has something to find.
        make_demo_dataset(data, noise=DEMO_NOISE, progress=made, **({"n": n} if n else {}))
    ctx.check()
    with open_project(db) as project:
        if _image_count(project) == 0:
            import_dataset(ctx, str(images), str(db), user)
        ctx.check()
        model_id = _demo_model(ctx, project, ckpt, epochs, input_size)
        ctx.check()
        predict(ctx, project, model_id)
    return str(db)


def _image_count(project) -> int:
    from core.store.queries import count_images

    with project.session() as s:
        return count_images(s)


def _demo_model(ctx, project, ckpt: Path, epochs: int | None, input_size: int | None) -> int:
    from core.model.checkpoint import read_metadata
    from core.store.model_versions import find_model_version, register_model_version

    with project.session() as s:
        known = find_model_version(s, ckpt)
    if known is not None:
        return known.id
    if not ckpt.exists():
        from training.demo_train import train_demo_model

        def step(message: str, fraction: float) -> None:
            ctx.check()
            ctx.progress(int(fraction * 1000), 1000, f"training the demo model: {message}")

        # The trainer's own defaults unless asked otherwise: it knows what the demo data needs.
        options = {k: v for k, v in (("epochs", epochs), ("input_size", input_size)) if v is not None}
        train_demo_model(_labelled_items(project), ckpt, progress=step, **options)
    with project.session() as s:
        return register_model_version(s, str(ckpt), read_metadata(ckpt), name="demo")


def _labelled_items(project) -> list[tuple[str, str, str]]:
    """(path, label, split) of every labelled image, for the demo trainer."""
    return [(r.abs_path, r.label, r.split or "train") for r in _readable_images(project) if r.label is not None]


def _readable_images(project) -> list:
    from core.store.queries import ImageFilter, all_images

    with project.session() as s:
        return all_images(s, ImageFilter(readable=True))
