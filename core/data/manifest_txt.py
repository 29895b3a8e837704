"""Header-less label lists (`--format txt`): one image per line, columns by position.

    images/0001.png 0
    images/0002.png 1 train

Public defect datasets often ship labels like this. Rules:

- Fields are separated by runs of whitespace, or by tabs when every line has a tab (then a path
  may contain spaces). Blank lines and lines starting with '#' are ignored.
- Columns are numbered from 1: path 1 and label 2 by default (no label column when lines hold only
  a path); `--path-column`, `--label-column`, `--split-column` take numbers; `--label-column ""`
  imports unlabeled. A first line whose path field is a column name (path, file, image...) rather
  than a file is taken as a header and skipped.
- Every line must have the same number of fields; paths follow the CSV manifests' rules (relative
  to the list's folder or `root`, never out of it). Any malformed line stops the import, naming it.
"""
from __future__ import annotations

import os
from pathlib import Path

from core.data.manifest import PATH_COLUMNS, Resolver, manifest_root, read_text
from core.data.scan_records import SPLIT_ALIASES, Candidate, normalise_split
from core.errors import ManifestError


def read_txt_list(
    manifest: Path,
    *,
    root: Path | None = None,
    path_column: str | None = None,
    label_column: str | None = None,
    split_column: str | None = None,
) -> tuple[Path, list[Candidate]]:
    name = manifest.name
    base = manifest_root(manifest, root)
    lines = [(i + 1, line) for i, line in enumerate(read_text(manifest).splitlines())
             if line.strip() and not line.lstrip().startswith("#")]
    if not lines:
        raise ManifestError(f"{name}: no lines with an image path")
    tabbed = all("\t" in line for _, line in lines)
    rows = [(n, [f.strip() for f in line.split("\t")] if tabbed else line.split()) for n, line in lines]

    pi = _position(path_column, "--path-column", 1)
    first_no, first = rows[0]
    if pi < len(first) and first[pi].lower() in PATH_COLUMNS and not os.path.lexists(base / first[pi]):
        rows = rows[1:]  # a header line
        if not rows:
            raise ManifestError(f"{name}: has a header (line {first_no}) but no image lines")
        first_no, first = rows[0]
    width = len(first)
    li = None if label_column == "" else _position(label_column, "--label-column", 2 if width >= 2 else None)
    si = _position(split_column, "--split-column", None)
    for option, index in (("--path-column", pi), ("--label-column", li), ("--split-column", si)):
        if index is not None and index >= width:
            raise ManifestError(f"{name} line {first_no}: {option} {index + 1}, but the lines have {width} field(s)")

    resolver = Resolver(base)
    seen: dict[str, int] = {}
    out: list[Candidate] = []
    for lineno, fields in rows:
        where = f"{name} line {lineno}"
        if len(fields) != width:
            raise ManifestError(f"{where}: has {len(fields)} fields, line {first_no} has {width} "
                                "(a path with spaces needs tabs between the columns, or a CSV manifest)")
        raw = fields[pi]
        try:
            rel = resolver.rel_path(raw)
        except ValueError as e:
            raise ManifestError(f"{where}: {e}") from None
        if rel in seen:
            raise ManifestError(f"{where}: '{raw}' is already listed on line {seen[rel]}")
        seen[rel] = lineno
        label = (fields[li] or None) if li is not None else None
        split = None
        if si is not None:
            split = normalise_split(fields[si])
            if split is None:
                raise ManifestError(f"{where}: unknown split '{fields[si]}' "
                                    f"(use one of: {', '.join(sorted(set(SPLIT_ALIASES)))})")
        out.append(Candidate(rel, label, split))
    return base, out


def _position(value: str | None, option: str, default: int | None) -> int | None:
    """0-based index from a 1-based column number given on the command line."""
    if value is None:
        return None if default is None else default - 1
    text = str(value).strip()
    if not text.isascii() or not text.isdigit() or int(text) < 1:
        raise ManifestError(f"{option} for --format txt is a column number (1 = the first), not '{value}'")
    return int(text) - 1
