"""`scan_dataset`: read a dataset's layout, then hash and decode every image in parallel.

The result is plain records (ScanResult / ScannedImage) that `core.store.ingest.import_scan`
turns into rows. A bad image (corrupt, truncated, empty, not an image) does not stop a scan: it is
recorded with `error` set, so the user sees every broken file at once. What may not be opened at
all (FIFOs, devices, symlinks out of the root, see core.data.file_checks) or vanished while the scan
ran is listed in `ScanResult.skipped` with the reason. A malformed layout or manifest does stop it,
with ScanError / ManifestError.
"""
from __future__ import annotations

import os
import stat
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

from core.data.decode import DEFAULT_MAX_PIXELS, IMAGE_EXTENSIONS, probe_image
from core.data.file_checks import kind_of
from core.data.imagefolder import read_imagefolder
from core.data.manifest import MANIFEST_SUFFIXES, read_manifest
from core.data.manifest_txt import read_txt_list
from core.data.mvtec import category_dirs, read_mvtec
from core.data.scan_records import Candidate, ScannedImage, ScanResult, SkippedFile
from core.data.walk import TreeWalk
from core.errors import ManifestError, ScanError
from core.progress import Reporter, silent

__all__ = ["FORMATS", "ManifestError", "ScanError", "ScanResult", "ScannedImage", "detect_format", "scan_dataset"]

FORMATS = ("auto", "imagefolder", "mvtec", "csv", "txt")
GONE = "disappeared during the scan (deleted or moved while it was being imported)"


def scan_dataset(
    path: str | os.PathLike,
    format: str = "auto",
    *,
    path_column: str | None = None,
    label_column: str | None = None,
    split_column: str | None = None,
    root: str | os.PathLike | None = None,
    progress: Reporter | None = None,
    workers: int | None = None,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
) -> ScanResult:
    """Scan a folder (ImageFolder or MVTec layout) or a CSV manifest.

    `root` is the folder rel_paths are relative to: by default the scanned folder, or the
    manifest's folder. `progress` hears from the calling thread after each image; a cancel stops the scan.
    Images come back sorted by rel_path; class_names sorted.
    """
    src = Path(path)
    if format not in FORMATS:
        raise ScanError(f"unknown format '{format}' (choose from {', '.join(FORMATS)})")
    if not os.path.lexists(src):
        raise ScanError(f"{src}: no such file or folder")
    try:
        mode = os.stat(src).st_mode
    except OSError as e:
        raise ScanError(f"{src}: cannot be examined ({e.strerror or e})") from None
    if not (stat.S_ISDIR(mode) or stat.S_ISREG(mode)):
        raise ScanError(f"{src}: {kind_of(mode)}, not a dataset folder or a manifest file")
    fmt = detect_format(src) if format == "auto" else format

    skipped: list[SkippedFile] = []
    if fmt in ("csv", "txt"):
        if not src.is_file():
            raise ScanError(f"{src}: format {fmt} needs a manifest file, this is a folder")
        reader = read_manifest if fmt == "csv" else read_txt_list
        base, candidates = reader(src, root=Path(root) if root is not None else None,
                                  path_column=path_column, label_column=label_column, split_column=split_column)
    else:
        if not src.is_dir():
            raise ScanError(f"{src}: format {fmt} needs a folder, this is a file")
        base = Path(os.path.abspath(root if root is not None else src))
        folder = Path(os.path.abspath(src))
        if not folder.is_relative_to(base):
            raise ScanError(f"{src} is not inside the root {base}")
        walk = TreeWalk(base, folder)
        if fmt == "mvtec":
            if not category_dirs(folder):
                raise ScanError(f"{src}: not an MVTec-style folder (expected <category>/train/good/ "
                                f"or train/ + test/ + ground_truth/)")
            candidates = read_mvtec(folder, base, walk)
        else:
            candidates = read_imagefolder(folder, base, walk)
        skipped = walk.skipped
        if not candidates:
            found = f"; skipped {len(skipped)}, first: {skipped[0].rel_path}: {skipped[0].reason}" if skipped else ""
            raise ScanError(f"{src}: no images found (looked for {', '.join(sorted(IMAGE_EXTENSIONS))} "
                            f"in class folders){found}")

    images, gone = _probe_all(base, candidates, progress=progress, workers=workers, max_pixels=max_pixels)
    if gone:
        skipped = sorted([*skipped, *(SkippedFile(c.rel_path, GONE) for c in gone)], key=lambda s: s.rel_path)
    class_names = sorted({im.label for im in images if im.label is not None})
    return ScanResult(root=base, format=fmt, class_names=class_names, images=images, skipped=skipped)


def detect_format(path: Path) -> str:
    if path.is_file():
        if path.suffix.lower() in MANIFEST_SUFFIXES:
            return "csv"
        raise ScanError(f"{path}: not a dataset folder or a manifest (.csv, .tsv, .txt; "
                        f"--format txt for a list without a header)")
    if not path.is_dir():
        raise ScanError(f"{path}: not a file or folder")
    if category_dirs(path):
        return "mvtec"
    return "imagefolder"


def _probe_all(base: Path, candidates: list[Candidate], *, progress: Reporter | None,
               workers: int | None, max_pixels: int | None) -> tuple[list[ScannedImage], list[Candidate]]:
    """(images, candidates that disappeared before they could be read)."""
    total = len(candidates)
    progress = progress or silent()
    progress.progress(0, total, f"scanning 0/{total}")
    # Threads, not processes: Pillow's decoders and hashlib release the GIL, and threads need
    # no pickling of arguments or results.
    workers = workers or min(8, (os.cpu_count() or 2))
    results: list[ScannedImage] = []
    gone: list[Candidate] = []
    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="scan") as pool:
        futures = {pool.submit(probe_image, base / c.rel_path, max_pixels=max_pixels): c for c in candidates}
        try:
            for done, fut in enumerate(as_completed(futures), 1):
                c, p = futures[fut], fut.result()
                if p.gone:
                    gone.append(c)
                else:
                    results.append(ScannedImage(
                        rel_path=c.rel_path, label=c.label, split=c.split, mask_rel_path=c.mask_rel_path,
                        category=c.category, content_hash=p.content_hash, size_bytes=p.size_bytes,
                        width=p.width, height=p.height, channels=p.channels, error=p.error))
                progress.progress(done, total, f"scanning {done}/{total}")
                progress.check()
        except BaseException:
            # Ctrl-C or a cancel: do not decode the rest before giving up.
            for f in futures:
                f.cancel()
            raise
    results.sort(key=lambda im: im.rel_path)
    return results, gone
