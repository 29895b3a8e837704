"""CSV manifests: one row per image with a path, a label and optionally a split.

Rules (the header is row 1, the first image is row 2, as a spreadsheet shows them):

- A header row is required. The delimiter is one of , ; TAB | : csv.Sniffer proposes one and the
  header decides (the delimiter under which the header holds the path column and every sampled row
  has the header's width wins), because the Sniffer alone is easily fooled by paths and labels.
- Columns are matched case-insensitively. Defaults: path/file/filename/image..., label/class/target,
  split/subset. `label_column=""` imports the images unlabeled.
- Labels are kept as written ("3" stays "3"); an empty label means unlabeled.
- Paths are relative to the manifest's folder, or to `root` when given. Absolute paths must lie
  inside the root; `..` may not leave it and neither may a symlink.
- Any malformed row stops the import with ManifestError naming the row: a half-imported manifest
  is harder to fix than a refused one.
"""
from __future__ import annotations

import csv
import io
import os
from pathlib import Path

from core.data.decode import is_image_name
from core.data.file_checks import FileReadError, kind_of, read_regular_file
from core.data.scan_records import Candidate, SPLIT_ALIASES, normalise_split
from core.errors import ManifestError

__all__ = ["LABEL_COLUMNS", "ManifestError", "PATH_COLUMNS", "SPLIT_COLUMNS", "read_manifest"]

MANIFEST_SUFFIXES = frozenset({".csv", ".tsv", ".txt"})
DELIMITERS = (",", ";", "\t", "|")
PATH_COLUMNS = ("path", "file", "filename", "file_name", "filepath", "file_path", "image", "image_path", "img")
LABEL_COLUMNS = ("label", "class", "target", "class_name", "label_name")
SPLIT_COLUMNS = ("split", "subset")

_SAMPLE_ROWS = 50


def manifest_root(manifest: Path, root: Path | None) -> Path:
    """The folder a manifest's paths are relative to: `root`, else the manifest's own folder."""
    base = Path(os.path.abspath(root if root is not None else manifest.parent))
    if not base.is_dir():
        raise ManifestError(f"{manifest.name}: root folder {base} does not exist")
    return base


def read_manifest(
    manifest: Path,
    *,
    root: Path | None = None,
    path_column: str | None = None,
    label_column: str | None = None,
    split_column: str | None = None,
) -> tuple[Path, list[Candidate]]:
    """Parse `manifest` and resolve its paths. Returns (root, candidates in file order)."""
    name = manifest.name
    base = manifest_root(manifest, root)
    text = read_text(manifest)
    if not text.strip():
        raise ManifestError(f"{name} row 1: the manifest is empty; expected a header row naming the columns")

    delimiter = _choose_delimiter(text, path_column)
    try:
        rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=False))
    except csv.Error as e:
        raise ManifestError(f"{name}: unreadable CSV ({e})") from None
    header = [h.strip() for h in rows[0]]
    body = [(i + 2, r) for i, r in enumerate(rows[1:]) if any(c.strip() for c in r)]
    if not body:
        raise ManifestError(f"{name}: has a header (row 1) but no data rows")

    pi = _column(name, header, path_column, PATH_COLUMNS, "path", "--path-column")
    li = None if label_column == "" else _column(name, header, label_column, LABEL_COLUMNS, "label", "--label-column")
    si = _column(name, header, split_column, SPLIT_COLUMNS, "split", "--split-column", required=split_column is not None)

    resolver = Resolver(base)
    seen: dict[str, int] = {}
    out: list[Candidate] = []
    for rowno, row in body:
        where = f"{name} row {rowno}"
        if len(row) < len(header) or any(c.strip() for c in row[len(header):]):
            raise ManifestError(f"{where}: has {len(row)} fields, the header has {len(header)}")
        raw = row[pi].strip()
        if not raw:
            raise ManifestError(f"{where}: empty path in column '{header[pi]}'")
        try:
            rel = resolver.rel_path(raw)
        except ValueError as e:
            raise ManifestError(f"{where}: {e}") from None
        if rel in seen:
            raise ManifestError(f"{where}: '{raw}' is already listed in row {seen[rel]}")
        seen[rel] = rowno
        label = (row[li].strip() or None) if li is not None else None
        split = None
        if si is not None and row[si].strip():
            split = normalise_split(row[si])
            if split is None:
                raise ManifestError(f"{where}: unknown split '{row[si].strip()}' "
                                    f"(use one of: {', '.join(sorted(set(SPLIT_ALIASES)))})")
        out.append(Candidate(rel, label, split))
    return base, out


def read_text(manifest: Path) -> str:
    try:
        data = read_regular_file(manifest)
    except FileReadError as e:
        raise ManifestError(f"{manifest.name}: {str(e).removeprefix(f'{manifest}: ')}") from None
    # Excel's "Unicode text" export is UTF-16 with a BOM; everything else should be UTF-8.
    encoding = "utf-16" if data[:2] in (b"\xff\xfe", b"\xfe\xff") else "utf-8-sig"
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as e:
        row = data[: e.start].count(b"\n") + 1
        raise ManifestError(f"{manifest.name} row {row}: not valid {encoding.upper()} text; save the file as UTF-8") from None
    if "\x00" in text:
        raise ManifestError(f"{manifest.name}: contains NUL bytes; this is not a text file")
    return text


def _choose_delimiter(text: str, path_column: str | None) -> str:
    sample_rows = _sample(text)
    try:
        sniffed = csv.Sniffer().sniff(sample_rows, delimiters="".join(DELIMITERS)).delimiter
    except csv.Error:
        sniffed = None
    wanted = {path_column.strip().lower()} if path_column else set(PATH_COLUMNS)

    def score(d: str) -> tuple:
        try:
            rows = [r for r in csv.reader(io.StringIO(sample_rows, newline=""), delimiter=d) if r]
        except csv.Error:
            return (False, False, False, False)
        if not rows:
            return (False, False, False, False)
        header = [h.strip().lower() for h in rows[0]]
        width = len(header)
        consistent = all(len(r) == width for r in rows[1:])
        return (bool(wanted & set(header)), consistent, width > 1, d == sniffed)

    return max(DELIMITERS, key=score)


def _sample(text: str) -> str:
    """The first rows of the file, cut at a line end (a quoted field may span lines)."""
    lines = io.StringIO(text, newline="").readlines()
    return "".join(lines[: _SAMPLE_ROWS * 2])


def _column(name: str, header: list[str], wanted: str | None, defaults: tuple[str, ...], what: str,
            option: str, *, required: bool = True) -> int | None:
    lowered = [h.lower() for h in header]
    if wanted is not None:
        key = wanted.strip().lower()
        if key in lowered:
            return lowered.index(key)
        raise ManifestError(f"{name} row 1: no column '{wanted}'; the columns are: {', '.join(header)}")
    for key in defaults:
        if key in lowered:
            return lowered.index(key)
    if not required:
        return None
    if wanted is None and what == "path" and _looks_headerless(header):
        raise ManifestError(
            f"{name} row 1: '{' '.join(header)}' looks like an image line, not a header; for a list without a "
            f"header (path, then label, separated by spaces or tabs) use --format txt (--path-column 1 "
            f"--label-column 2 by default), or add a first line 'path,label' to read it as CSV")
    hint = f"; name it with {option}" + (" (an empty name imports unlabeled)" if what == "label" else "")
    raise ManifestError(f"{name} row 1: no {what} column (looked for {', '.join(defaults)}); "
                        f"the columns are: {', '.join(header)}{hint}")


def _looks_headerless(header: list[str]) -> bool:
    """A first row naming an image file (or a path, then a label, split at spaces) is data, not a header."""
    cells = [c for h in header for c in h.split()]
    return any(is_image_name(c) or "/" in c for c in cells)


class Resolver:
    """Turns a manifest path into a POSIX path relative to the root, refusing ways out of it."""

    def __init__(self, base: Path):
        self.base = base
        self.real = base.resolve()

    def rel_path(self, raw: str) -> str:
        path = self._existing_spelling(raw)
        lexical = Path(os.path.normpath(os.path.join(self.base, path)))
        inside = next((b for b in (self.base, self.real) if lexical.is_relative_to(b)), None)
        if inside is None:
            if os.path.isabs(path):
                raise ValueError(f"absolute path '{raw}' is outside the root {self.base}")
            raise ValueError(f"path '{raw}' escapes the root with '..'")
        if not os.path.lexists(lexical):
            raise ValueError(f"file not found: '{raw}' (looked in {self.base})")
        try:
            real = lexical.resolve()
        except (OSError, RuntimeError):
            raise ValueError(f"'{raw}' is a symlink loop") from None
        if not real.is_relative_to(self.real):
            raise ValueError(f"'{raw}' is a symlink that leads outside the root {self.base}")
        if not lexical.is_file():
            raise ValueError(f"'{raw}' is not a file: it is {kind_of(os.stat(real).st_mode)}")
        return lexical.relative_to(inside).as_posix()

    def _existing_spelling(self, raw: str) -> str:
        # Manifests written on Windows use backslashes; on POSIX a backslash is a legal file-name
        # character, so only reinterpret it when the literal name does not exist.
        if "\\" in raw and not os.path.lexists(os.path.join(self.base, raw)):
            return raw.replace("\\", "/")
        return raw
